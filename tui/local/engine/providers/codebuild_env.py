"""The values a CodeBuild build's environment variables take on this machine.

A variable is PLAINTEXT (its value), PARAMETER_STORE (the value names an SSM parameter) or
SECRETS_MANAGER (the value is a secret reference). There is no SSM or Secrets Manager here:
their values come from the endpoint's config file, `[parameters]` and `[secrets]`
(`tui.local.config`). A value that is not there fails the build, naming the variable and
saying where to add it.

Decisions recorded here:

- A secret reference is `secret-id[:json-key[:version-stage[:version-id]]]`, where the
  secret id may be an ARN (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`, whose
  own colons belong to it). [I] The config is searched for the whole reference, then
  `secret-id:json-key`, then `secret-id`; a value found under the first two is used as it
  is, one found under `secret-id` with a json-key must be a JSON object holding that key
  (a string is used as is, anything else as its JSON text). Version stages and ids are not
  distinguished: there is one value per name locally.
- The action's `EnvironmentVariables` configuration is a JSON array of
  `{"name", "value", "type"}` objects (type PLAINTEXT when absent). Anything else fails the
  action naming the problem; names must be shell variable names and must not start with
  `CODEBUILD_` (CodeBuild reserves them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tui.local.config import LocalConfig

VARIABLE_TYPES = ("PLAINTEXT", "PARAMETER_STORE", "SECRETS_MANAGER")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# An ARN's own parts: arn:aws:secretsmanager:<region>:<account>:secret:<name>.
_ARN_PARTS = 7


class VariableError(Exception):
    """A variable cannot be given its value; `status_code` is the phase context code."""

    def __init__(self, message: str, status_code: str = "CLIENT_ERROR") -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class Variable:
    name: str
    value: str
    type: str = "PLAINTEXT"
    # Where it was declared, for messages ("the action's EnvironmentVariables").
    origin: str = ""

    def as_shape(self) -> dict[str, str]:
        """The EnvironmentVariable shape CodeBuild reports (the reference, never a secret)."""
        return {"name": self.name, "value": self.value, "type": self.type}


def parse_action_variables(text: str | None) -> list[Variable]:
    """The action's `EnvironmentVariables` configuration value, or VariableError."""
    if text is None or not text.strip():
        return []
    origin = "the action's EnvironmentVariables"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VariableError(f"{origin} is not valid JSON: {exc}") from None
    if not isinstance(raw, list):
        raise VariableError(f"{origin} must be a JSON array of {{name, value, type}} objects")
    return [_variable(item, origin, index) for index, item in enumerate(raw)]


def project_variables(project: dict[str, Any]) -> list[Variable]:
    environment = project.get("environment") or {}
    origin = f"the project {project.get('name')}'s environment variables"
    return [
        _variable(item, origin, index)
        for index, item in enumerate(environment.get("environmentVariables") or [])
    ]


def _variable(item: object, origin: str, index: int) -> Variable:
    if not isinstance(item, dict):
        raise VariableError(f"{origin}: item {index} is not an object")
    name, value, kind = item.get("name"), item.get("value"), item.get("type", "PLAINTEXT")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise VariableError(f"{origin}: item {index} has no valid name ({name!r})")
    if not isinstance(value, str):
        raise VariableError(f"{origin}: {name} has no string value")
    if kind not in VARIABLE_TYPES:
        raise VariableError(
            f"{origin}: {name} has the type {kind!r}; the types are {', '.join(VARIABLE_TYPES)}"
        )
    if name.startswith("CODEBUILD_"):
        raise VariableError(
            f"{origin}: the name {name} is reserved: names starting with CODEBUILD_ are"
        )
    return Variable(name, value, str(kind), origin)


def _where_to_add(config: LocalConfig) -> str:
    if config.source is not None:
        return f"the endpoint's config file {config.source}"
    return (
        "the endpoint's config file (config.toml in its data dir, or the file given with --config)"
    )


def parameter_value(config: LocalConfig, name: str, variable: str, origin: str) -> str:
    value = config.parameters.get(name)
    if value is None:
        raise VariableError(
            f"{origin}: the parameter {name} for {variable} is not available locally; add "
            f'`"{name}" = "<value>"` under [parameters] in {_where_to_add(config)}',
            status_code="Decrypted Variables Error",
        )
    return value


def split_secret_reference(reference: str) -> tuple[str, str]:
    """(secret id, json key or "") of `secret-id[:json-key[:version-stage[:version-id]]]`."""
    parts = reference.split(":")
    head = _ARN_PARTS if reference.startswith("arn:") else 1
    secret_id = ":".join(parts[:head])
    rest = parts[head:]
    return secret_id, rest[0] if rest else ""


def secret_value(config: LocalConfig, reference: str, variable: str, origin: str) -> str:
    secret_id, json_key = split_secret_reference(reference)
    for candidate in dict.fromkeys([reference, f"{secret_id}:{json_key}" if json_key else ""]):
        if candidate and candidate in config.secrets:
            return config.secrets[candidate]
    whole = config.secrets.get(secret_id)
    if whole is None:
        raise VariableError(
            f"{origin}: the secret {reference} for {variable} is not available locally; add "
            f'`"{reference}" = "<value>"` (or the whole secret under "{secret_id}") under '
            f"[secrets] in {_where_to_add(config)}",
            status_code="Secrets Manager Error",
        )
    if not json_key:
        return whole
    try:
        document = json.loads(whole)
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise VariableError(
            f"{origin}: {variable} asks for the key {json_key} of the secret {secret_id}, but its "
            "local value is not a JSON object",
            status_code="Secrets Manager Error",
        )
    if json_key not in document:
        raise VariableError(
            f"{origin}: the secret {secret_id} has no key {json_key} (asked for by {variable})",
            status_code="Secrets Manager Error",
        )
    found = document[json_key]
    return found if isinstance(found, str) else json.dumps(found)


def resolve(config: LocalConfig, variable: Variable) -> str:
    """The value `variable` takes locally, or VariableError."""
    if variable.type == "PARAMETER_STORE":
        return parameter_value(config, variable.value, variable.name, variable.origin)
    if variable.type == "SECRETS_MANAGER":
        return secret_value(config, variable.value, variable.name, variable.origin)
    return variable.value
