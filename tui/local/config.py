"""The local endpoint's config file: what stands in for AWS resources on this machine.

TOML, read once at start from `--config PATH` or else `<data-dir>/config.toml` (absent is
fine: every section is optional). Relative paths are relative to the file's folder.

```toml
# Git repositories behind CodeCommit (RepositoryName) and CodeStarSourceConnection /
# CodeConnections (FullRepositoryId "owner/name") source actions. Without an entry a
# repository is looked up at <data-dir>/repos/<RepositoryName> or <data-dir>/repos/<owner>/<name>.
[repositories]
"my-app" = "/home/me/src/my-app"
"octo/web" = "../web"

# Lambda functions for Invoke/Lambda actions: the command receives the CodePipeline job
# event as JSON on stdin.
[functions.notify]
command = ["python3", "scripts/notify.py"]
timeout_seconds = 900          # optional; the action fails when it is exceeded
environment = { SLACK_URL = "https://example.invalid/hook" }   # optional

# Values that builds would read from AWS: buildspec `env.parameter-store` names and
# `env.secrets-manager` references ("secret-id" or "secret-id:json-key").
[parameters]
"/my-app/db-host" = "localhost"

[secrets]
"prod/db:password" = "hunter2"
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONFIG_NAME = "config.toml"


class ConfigError(Exception):
    """The config file cannot be used; the message names the file and the problem."""


class FunctionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: list[str] = Field(min_length=1, description="The program and its arguments.")
    timeout_seconds: float | None = Field(
        default=None, gt=0, description="Kill the function after this long."
    )
    environment: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables."
    )
    working_directory: Path | None = Field(default=None, description="Where the command runs.")


class LocalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repositories: dict[str, Path] = Field(
        default_factory=dict, description="Repository name -> git work tree or bare repository."
    )
    functions: dict[str, FunctionConfig] = Field(
        default_factory=dict, description="Lambda function name -> local command."
    )
    parameters: dict[str, str] = Field(
        default_factory=dict, description="SSM Parameter Store name -> value."
    )
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Secrets Manager reference -> value."
    )
    # Where the file was read from (None: no file); relative paths were resolved against it.
    source: Path | None = None


def load_config(data_dir: Path, path: Path | None = None) -> LocalConfig:
    """The config at `path`, or `<data-dir>/config.toml` when it exists, or an empty one."""
    explicit = path is not None
    file = path if path is not None else data_dir / CONFIG_NAME
    if not file.exists():
        if explicit:
            raise ConfigError(f"config file {file} does not exist")
        return LocalConfig()
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
        config = LocalConfig.model_validate(raw)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {file}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"config file {file}: {problems}") from None
    base = file.resolve().parent
    config.repositories = {name: (base / p).resolve() for name, p in config.repositories.items()}
    for function in config.functions.values():
        if function.working_directory is not None:
            function.working_directory = (base / function.working_directory).resolve()
    config.source = file.resolve()
    return config
