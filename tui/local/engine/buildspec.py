"""CodeBuild buildspecs: the YAML read into a typed model, checked before anything runs.

A buildspec comes from the project (`source.buildspec`, inline YAML or a path) or from
`buildspec.yml` in the primary source. Every problem is a `BuildspecError`, whose text reads
like CodeBuild's (`YAML_FILE_ERROR Message: ...`) and names the key and its line.

Decisions recorded here:

- Scalars are read as the text written in the file, never as YAML 1.1 types: `version: 0.2`
  is "0.2", a variable `1.10` stays "1.10", a command `- true` is the command `true` (as
  CodeBuild reads them into strings). Anchors, aliases and `<<` merges work.
- [I] Unknown keys (top level, in `env`, in a phase, in `artifacts`) and unknown phase names
  are errors naming the key and the keys allowed there: a misspelt key would otherwise
  silently do nothing. So are duplicate keys in one mapping (YAML loaders keep the last).
- `version` is required: "0.2" runs every command in one shell session; "0.1" is accepted
  and runs every command in a fresh shell (CodeBuild's 0.1 rule). Any other is an error.
- `run-as` (global or in a phase) is an error: local builds run as the endpoint's user.
- `env.shell`: `bash` or `/bin/sh` (CodeBuild's Linux shells); Windows shells are errors.
  Absent: `None`, and the provider picks (bash when present, else sh).
- `env.exported-variables`: names must be shell variable names and must not start with
  `AWS_` (CodeBuild refuses those). Variable names everywhere must be shell names, and names
  starting with `CODEBUILD_` are refused (CodeBuild reserves them).
- `env.git-credential-helper` and `proxy` have no effect locally; `cache` is ignored (every
  local build starts from its own fresh workspace); each produces a note for the build log.
- `batch` is parsed but not run: a batch section only matters when the action asks for a
  batch build (`BatchEnabled`), which the provider refuses; CodeBuild ignores the section
  for a single build, and so does the local engine (with a note).
- `reports` is an error naming the report groups: test reports need CodeBuild report groups
  in AWS; remove the section to run the build locally.
- Phases: `install`, `pre_build`, `build`, `post_build`. `commands` is required in a declared
  phase (except `install`, which may hold only `runtime-versions`); `on-failure` is `ABORT`
  or `CONTINUE`; `runtime-versions` is allowed only in `install` and is not installed
  locally (a note says so and the build goes on with the tools on the machine's PATH).
  A command that YAML read as a mapping (an unquoted `: ` inside it) is an error that says
  to quote it.
- `artifacts.files` is required whenever `artifacts` is present (also when only
  `secondary-artifacts` are used, as CodeBuild requires); a single string is taken as a
  one-item list, as is `exclude-paths`. `discard-paths` and `enable-symlinks` take
  yes/no/true/false. `name` and `s3-prefix` have no effect under CodePipeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

SUPPORTED_VERSIONS = ("0.1", "0.2")
PHASE_NAMES = ("install", "pre_build", "build", "post_build")
LINUX_SHELLS = ("bash", "/bin/sh")
WINDOWS_SHELLS = ("powershell.exe", "cmd.exe", "pwsh.exe", "pwsh")

_TOP_KEYS = (
    "version",
    "run-as",
    "env",
    "proxy",
    "batch",
    "phases",
    "reports",
    "artifacts",
    "cache",
)
_ENV_KEYS = (
    "shell",
    "variables",
    "parameter-store",
    "secrets-manager",
    "exported-variables",
    "git-credential-helper",
)
_PHASE_KEYS = ("run-as", "on-failure", "runtime-versions", "commands", "finally")
_ARTIFACT_KEYS = (
    "files",
    "name",
    "discard-paths",
    "base-directory",
    "exclude-paths",
    "enable-symlinks",
    "s3-prefix",
    "secondary-artifacts",
)
_SECONDARY_ARTIFACT_KEYS = tuple(k for k in _ARTIFACT_KEYS if k != "secondary-artifacts")
_TRUE = frozenset({"yes", "true", "on", "y"})
_FALSE = frozenset({"no", "false", "off", "n"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


class BuildspecError(Exception):
    """The buildspec cannot run: CodeBuild's YAML_FILE_ERROR.

    `message` is the text for the phase context (it names the key and line when known);
    `str()` is the whole log form, `YAML_FILE_ERROR Message: <message>`.
    """

    status_code = "YAML_FILE_ERROR"

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None) -> None:
        text = f"{key}: {message}" if key else message
        if line is not None:
            text += f" (line {line})"
        super().__init__(f"{self.status_code} Message: {text}")
        self.message = text
        self.key = key or None
        self.line = line


@dataclass(frozen=True)
class PhaseSpec:
    """One build phase as declared (an undeclared phase has no commands)."""

    name: str
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    on_failure: Literal["ABORT", "CONTINUE"] | None = None
    runtime_versions: dict[str, str] = field(default_factory=dict)
    line: int | None = None

    @property
    def phase_type(self) -> str:
        """The BatchGetBuilds phaseType: `pre_build` -> `PRE_BUILD`."""
        return self.name.upper()


@dataclass(frozen=True)
class ArtifactSpec:
    """`artifacts` or one of its `secondary-artifacts`."""

    files: tuple[str, ...]
    name: str | None = None
    discard_paths: bool = False
    base_directory: str | None = None
    exclude_paths: tuple[str, ...] = ()
    enable_symlinks: bool = False
    s3_prefix: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class EnvSpec:
    shell: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    # Variable name -> SSM parameter name.
    parameter_store: dict[str, str] = field(default_factory=dict)
    # Variable name -> "secret-id[:json-key[:version-stage[:version-id]]]".
    secrets_manager: dict[str, str] = field(default_factory=dict)
    exported_variables: tuple[str, ...] = ()
    git_credential_helper: bool = False


@dataclass(frozen=True)
class Buildspec:
    version: str
    env: EnvSpec = field(default_factory=EnvSpec)
    # Always all four phases, in order; undeclared ones are empty.
    phases: tuple[PhaseSpec, ...] = tuple(PhaseSpec(name) for name in PHASE_NAMES)
    artifacts: ArtifactSpec | None = None
    secondary_artifacts: dict[str, ArtifactSpec] = field(default_factory=dict)
    has_batch: bool = False
    # Lines for the build log about what the local engine does not do (cache, proxy, ...).
    notes: tuple[str, ...] = ()
    # "env.parameter-store.DB_HOST" -> its line, for errors found later (a missing value).
    lines: dict[str, int] = field(default_factory=dict)

    def phase(self, name: str) -> PhaseSpec:
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(name)

    def line_of(self, key: str) -> int | None:
        return self.lines.get(key)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping (subkeys)"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "nothing"
    return "a value"


class _Reader:
    """Walks the composed YAML node tree, keeping lines for errors and notes."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self._loader = loader
        self.lines: dict[str, int] = {}

    def mapping(
        self, node: Node, key: str, allowed: tuple[str, ...] | None
    ) -> Iterator[tuple[str, Node]]:
        """(key, value node) pairs of a mapping, after merges; rejects duplicates and, with
        `allowed`, unknown keys. A null value (`key:` with nothing) is an empty mapping."""
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return
        if not isinstance(node, MappingNode):
            raise BuildspecError(
                f"expected a mapping, found {_kind(node)}", key=key, line=_line(node)
            )
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            if not isinstance(key_node, ScalarNode):
                raise BuildspecError(
                    f"expected a plain key, found {_kind(key_node)}", key=key, line=_line(key_node)
                )
            if key_node.value in seen:
                raise BuildspecError(
                    f"the key {key_node.value!r} appears twice", key=key, line=_line(key_node)
                )
            seen.add(key_node.value)
        try:
            self._loader.flatten_mapping(node)
        except yaml.YAMLError as exc:
            raise BuildspecError(f"cannot merge: {exc}", key=key, line=_line(node)) from None
        merged: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise BuildspecError(
                    f"expected a plain key, found {_kind(key_node)}", key=key, line=_line(key_node)
                )
            name = key_node.value
            if allowed is not None and name not in allowed:
                raise BuildspecError(
                    f"unknown key {name!r}; the keys allowed here are: {', '.join(allowed)}",
                    key=key,
                    line=_line(key_node),
                )
            merged[name] = value_node
            self.lines[f"{key}.{name}" if key else name] = _line(key_node)
        yield from merged.items()

    def scalar(self, node: Node, key: str, *, allow_null: bool = True) -> str:
        if isinstance(node, ScalarNode):
            if node.tag == _NULL and not allow_null:
                raise BuildspecError("a value is required", key=key, line=_line(node))
            return str(node.value)
        raise BuildspecError(f"expected a value, found {_kind(node)}", key=key, line=_line(node))

    def flag(self, node: Node, key: str) -> bool:
        text = self.scalar(node, key).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE or text == "":
            return False
        raise BuildspecError(f"expected yes or no, found {text!r}", key=key, line=_line(node))

    def strings(self, node: Node, key: str) -> tuple[str, ...]:
        """A list of values; a single value is a list of one, nothing is an empty list."""
        if isinstance(node, ScalarNode):
            return () if node.tag == _NULL else (str(node.value),)
        if not isinstance(node, SequenceNode):
            raise BuildspecError(f"expected a list, found {_kind(node)}", key=key, line=_line(node))
        return tuple(
            self.scalar(item, f"{key}[{index}]", allow_null=False)
            for index, item in enumerate(node.value)
        )

    def commands(self, node: Node, key: str) -> tuple[str, ...]:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return ()
        if not isinstance(node, SequenceNode):
            raise BuildspecError(
                f"expected a list of commands, found {_kind(node)}", key=key, line=_line(node)
            )
        commands = []
        for index, item in enumerate(node.value):
            if isinstance(item, MappingNode):
                raise BuildspecError(
                    "expected a command (a string), found a mapping: quote a command that "
                    "contains ': '",
                    key=f"{key}[{index}]",
                    line=_line(item),
                )
            text = self.scalar(item, f"{key}[{index}]", allow_null=False)
            if not text.strip():
                raise BuildspecError(
                    "the command is empty", key=f"{key}[{index}]", line=_line(item)
                )
            commands.append(text)
        return tuple(commands)


def _variable_name(name: str, key: str, line: int | None) -> None:
    if not _NAME.fullmatch(name):
        raise BuildspecError(
            f"{name!r} is not a valid environment variable name", key=key, line=line
        )
    if name.startswith("CODEBUILD_"):
        raise BuildspecError(
            f"the name {name} is reserved: names starting with CODEBUILD_ are", key=key, line=line
        )


def _parse_env(reader: _Reader, node: Node, notes: list[str]) -> EnvSpec:
    shell: str | None = None
    variables: dict[str, str] = {}
    parameters: dict[str, str] = {}
    secrets: dict[str, str] = {}
    exported: tuple[str, ...] = ()
    helper = False
    for name, value in reader.mapping(node, "env", _ENV_KEYS):
        key = f"env.{name}"
        if name == "shell":
            shell = reader.scalar(value, key, allow_null=False).strip()
            if shell in WINDOWS_SHELLS:
                raise BuildspecError(
                    f"the Windows shell {shell} cannot run here; use bash or /bin/sh",
                    key=key,
                    line=_line(value),
                )
            if shell not in LINUX_SHELLS:
                raise BuildspecError(
                    f"unsupported shell {shell!r}; supported: {', '.join(LINUX_SHELLS)}",
                    key=key,
                    line=_line(value),
                )
        elif name in ("variables", "parameter-store", "secrets-manager"):
            target = {"variables": variables, "parameter-store": parameters}.get(name, secrets)
            for var, var_node in reader.mapping(value, key, None):
                var_key = f"{key}.{var}"
                _variable_name(var, var_key, reader.lines.get(var_key))
                target[var] = reader.scalar(var_node, var_key, allow_null=name == "variables")
                if name != "variables" and not target[var].strip():
                    raise BuildspecError(
                        "the name to look up is empty", key=var_key, line=_line(var_node)
                    )
        elif name == "exported-variables":
            exported = reader.strings(value, key)
            for index, var in enumerate(exported):
                item = f"{key}[{index}]"
                if not _NAME.fullmatch(var):
                    raise BuildspecError(
                        f"{var!r} is not a valid environment variable name",
                        key=item,
                        line=_line(value),
                    )
                if var.startswith("AWS_"):
                    raise BuildspecError(
                        f"{var} cannot be exported: names starting with AWS_ are reserved",
                        key=item,
                        line=_line(value),
                    )
        elif name == "git-credential-helper":
            helper = reader.flag(value, key)
            if helper:
                notes.append(
                    "env.git-credential-helper has no effect locally: git uses the credentials "
                    "this machine's user has"
                )
    return EnvSpec(
        shell=shell,
        variables=variables,
        parameter_store=parameters,
        secrets_manager=secrets,
        exported_variables=exported,
        git_credential_helper=helper,
    )


def _parse_phase(reader: _Reader, name: str, node: Node, notes: list[str]) -> PhaseSpec:
    key = f"phases.{name}"
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    on_failure: Literal["ABORT", "CONTINUE"] | None = None
    runtimes: dict[str, str] = {}
    has_commands = False
    for field_name, value in reader.mapping(node, key, _PHASE_KEYS):
        field_key = f"{key}.{field_name}"
        if field_name == "run-as":
            raise BuildspecError(
                "run-as is not supported locally: local builds run as the endpoint's own user; "
                "remove run-as",
                key=field_key,
                line=_line(value),
            )
        if field_name == "commands":
            has_commands = True
            commands = reader.commands(value, field_key)
        elif field_name == "finally":
            finally_commands = reader.commands(value, field_key)
        elif field_name == "on-failure":
            text = reader.scalar(value, field_key, allow_null=False).strip()
            if text == "ABORT":
                on_failure = "ABORT"
            elif text == "CONTINUE":
                on_failure = "CONTINUE"
            else:
                raise BuildspecError(
                    f"expected ABORT or CONTINUE, found {text!r}", key=field_key, line=_line(value)
                )
        elif field_name == "runtime-versions":
            if name != "install":
                raise BuildspecError(
                    "runtime-versions is allowed only in the install phase",
                    key=field_key,
                    line=_line(value),
                )
            for runtime, version_node in reader.mapping(value, field_key, None):
                runtimes[runtime] = reader.scalar(version_node, f"{field_key}.{runtime}")
    if not has_commands and not (name == "install" and runtimes):
        raise BuildspecError(
            "commands is required in a declared phase",
            key=key,
            line=reader.lines.get(key),
        )
    if runtimes:
        listed = ", ".join(f"{r} {v}".strip() for r, v in runtimes.items())
        notes.append(
            f"runtime-versions ({listed}) are not installed locally: the build uses the tools "
            "on this machine's PATH"
        )
    return PhaseSpec(
        name=name,
        commands=commands,
        finally_commands=finally_commands,
        on_failure=on_failure,
        runtime_versions=runtimes,
        line=reader.lines.get(key),
    )


def _parse_artifact(
    reader: _Reader, node: Node, key: str, allowed: tuple[str, ...]
) -> tuple[ArtifactSpec, Node | None]:
    """The artifact spec and the raw `secondary-artifacts` node (when allowed and given)."""
    values: dict[str, object] = {}
    secondary: Node | None = None
    files: tuple[str, ...] | None = None
    for name, value in reader.mapping(node, key, allowed):
        field_key = f"{key}.{name}"
        if name == "files":
            files = reader.strings(value, field_key)
        elif name in ("discard-paths", "enable-symlinks"):
            values[name] = reader.flag(value, field_key)
        elif name == "exclude-paths":
            values[name] = reader.strings(value, field_key)
        elif name == "secondary-artifacts":
            secondary = value
        else:
            text = reader.scalar(value, field_key).strip()
            values[name] = text or None
    if not files:
        raise BuildspecError(
            "files is required (at least one path or glob)", key=key, line=reader.lines.get(key)
        )
    spec = ArtifactSpec(
        files=files,
        name=_optional_str(values.get("name")),
        discard_paths=bool(values.get("discard-paths", False)),
        base_directory=_optional_str(values.get("base-directory")),
        exclude_paths=tuple(values.get("exclude-paths", ())),  # type: ignore[arg-type]
        enable_symlinks=bool(values.get("enable-symlinks", False)),
        s3_prefix=_optional_str(values.get("s3-prefix")),
        line=reader.lines.get(key),
    )
    return spec, secondary


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_buildspec(text: str) -> Buildspec:
    """The buildspec in `text`, or BuildspecError."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "invalid YAML"
            raise BuildspecError(
                f"the buildspec is not valid YAML: {problem}",
                line=None if mark is None else int(mark.line) + 1,
            ) from None
        except yaml.YAMLError as exc:
            raise BuildspecError(f"the buildspec is not valid YAML: {exc}") from None
        if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL):
            raise BuildspecError("the buildspec is empty")
        return _parse_root(_Reader(loader), root)
    finally:
        loader.dispose()


def _parse_root(reader: _Reader, root: Node) -> Buildspec:
    if not isinstance(root, MappingNode):
        raise BuildspecError(
            f"expected the buildspec to be a mapping, found {_kind(root)}", line=_line(root)
        )
    sections = dict(reader.mapping(root, "", _TOP_KEYS))
    notes: list[str] = []

    version_node = sections.get("version")
    if version_node is None:
        raise BuildspecError("version is required (version: 0.2)", key="version")
    version = reader.scalar(version_node, "version").strip()
    if version not in SUPPORTED_VERSIONS:
        raise BuildspecError(
            f"unsupported version {version!r}; use 0.2", key="version", line=_line(version_node)
        )
    if "run-as" in sections:
        raise BuildspecError(
            "run-as is not supported locally: local builds run as the endpoint's own user; "
            "remove run-as",
            key="run-as",
            line=reader.lines.get("run-as"),
        )
    if "reports" in sections:
        groups = [name for name, _ in reader.mapping(sections["reports"], "reports", None)]
        named = f" ({', '.join(groups)})" if groups else ""
        raise BuildspecError(
            f"test reports{named} need CodeBuild report groups in AWS and cannot be produced "
            "by the local engine; remove the reports section to build locally",
            key="reports",
            line=reader.lines.get("reports"),
        )

    env = _parse_env(reader, sections["env"], notes) if "env" in sections else EnvSpec()

    phases: dict[str, PhaseSpec] = {}
    if "phases" in sections:
        for name, node in reader.mapping(sections["phases"], "phases", PHASE_NAMES):
            phases[name] = _parse_phase(reader, name, node, notes)

    artifacts: ArtifactSpec | None = None
    secondary: dict[str, ArtifactSpec] = {}
    if "artifacts" in sections and not (
        isinstance(sections["artifacts"], ScalarNode) and sections["artifacts"].tag == _NULL
    ):
        artifacts, secondary_node = _parse_artifact(
            reader, sections["artifacts"], "artifacts", _ARTIFACT_KEYS
        )
        if secondary_node is not None:
            key = "artifacts.secondary-artifacts"
            for identifier, node in reader.mapping(secondary_node, key, None):
                spec, _ = _parse_artifact(
                    reader, node, f"{key}.{identifier}", _SECONDARY_ARTIFACT_KEYS
                )
                secondary[identifier] = spec

    if "proxy" in sections:
        notes.append("proxy has no effect locally: the build uses this machine's network")
    if "cache" in sections:
        notes.append("cache is ignored locally: every build starts in a fresh workspace")
    has_batch = "batch" in sections
    return Buildspec(
        version=version,
        env=env,
        phases=tuple(phases.get(name) or PhaseSpec(name) for name in PHASE_NAMES),
        artifacts=artifacts,
        secondary_artifacts=secondary,
        has_batch=has_batch,
        notes=tuple(notes),
        lines=dict(reader.lines),
    )
