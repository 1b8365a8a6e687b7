"""The app's settings: defaults < config file < environment < command-line flags.

    settings = load_settings(flags={"events_queue": args.events_queue})

Layers, each overriding the one before, field by field (a table merges key by key):

1. the defaults below;
2. the config file: `$PIPETOP_CONFIG`, else `$XDG_CONFIG_HOME/pipetop/config.toml`, else
   `~/.config/pipetop/config.toml` (a missing file is no error; a broken one is);
3. the environment: `PIPETOP_<FIELD>`, nested with a double underscore:
   `PIPETOP_EVENTS_QUEUE`, `PIPETOP_POLL__INTERVAL=5`, `PIPETOP_KEYMAP__LOGS=L`;
4. the flags the command line was given (only those given).

    # ~/.config/pipetop/config.toml
    events_queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/pipetop-events"
    theme = "nord"
    [poll]
    interval = 5
    [budget]
    rate = 3            # CodePipeline requests a second, at most
    [keymap]
    logs = "L"          # binding id = key(s), comma-separated for several
    [notify]
    bell = false        # no terminal bell on an approval or a failure (app, desktop too)

Decisions recorded here:

- Written on pydantic and `tomllib` rather than pydantic-settings: four small layers do not
  need another dependency, and merging dicts keeps every layer's errors in one place.
- [I] Environment variables are read only for fields that exist (`PIPETOP_FOO` is ignored,
  other tools share the prefix); the config file is strict: an unknown key is an error naming
  the file, because a typo there would otherwise be silently ignored.
- Profiles: a `[profiles.<name>]` table holds what differs for one AWS profile (the
  `--profile`, else AWS_PROFILE): `production = true` gives the status bar a banner of its
  own colour and makes every confirmation ask for the pipeline's name typed out;
  `read_only = true` hides every control and refuses mutating calls, as `--read-only` does.

      [profiles.prod]
      production = true
      read_only = false

  [I] `for_profile(name)` folds the profile's table into the settings once, when the app is
  made; read-only is the OR of the flag, the top-level key and the profile's key, so nothing
  in a profile can lift a `--read-only` given on the command line.
- Nothing here reads a clock or the terminal: the tests build `Settings(...)` directly with
  `animations=False` and `mask_ids=True`, and inject a fixed clock into `make_app`.
- The command loads the settings before the app's first frame (a broken file must stop it
  before the terminal is taken over), so pydantic is imported on that path: about a quarter
  of a second on the development machine, the largest part of the first frame after
  Textual's own import (nothing else the first frame imports uses pydantic: `tui.app.app`).
  It stays: validating without it would mean rewriting its coercions and error messages, and
  `config_edit` checks a file with the same models.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "PIPETOP_"
CONFIG_ENV = "PIPETOP_CONFIG"


class SettingsError(Exception):
    """Settings that cannot be used; the message is one line for the user."""


class PollSettings(BaseModel):
    """How often pipetop re-reads pipelines (seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: float = Field(default=10.0, gt=0)
    """Without live events, every pipeline is re-read this often."""
    visible: float = Field(default=5.0, gt=0)
    """The pipeline on screen is re-read this often..."""
    visible_active: float = Field(default=1.0, gt=0)
    """...and this often while something in it runs."""
    round_robin: float = Field(default=3.0, gt=0)
    """With live events, one pipeline is re-read every this many seconds, the least recently
    read first: a safety net for events that never arrive..."""
    round_robin_cycle: float = Field(default=60.0, ge=0)
    """...but that safety net re-reads no pipeline more often than this (with few pipelines
    it slows down)."""
    pipelines: float = Field(default=60.0, gt=0)
    """The list of pipelines (new and deleted ones) is re-read this often."""
    max_rate: float | None = Field(default=None, gt=0)
    """At most this many pipeline reads start per second. Unset: no cap of its own; the
    `[budget]` (AWS's throttling) gates every request either way."""
    event_debounce: float = Field(default=0.3, ge=0)
    """After an event, its pipeline is re-read this long after the last event of the burst
    (the event itself shows at once)..."""
    event_debounce_max: float = Field(default=2.0, ge=0)
    """...but never later than this after the burst's first event."""


class RateBudgetSettings(BaseModel):
    """How many CodePipeline requests a second pipetop allows itself, per connection
    (`[budget]`; see `tui.aws.budget`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: float = Field(default=5.0, gt=0)
    """Requests a second, sustained. CodePipeline publishes no quota; the account's other
    users share whatever it is."""
    burst: float = Field(default=10.0, ge=1)
    """Requests that may go out at once after a quiet spell."""
    backoff_max: float = Field(default=8.0, gt=0)
    """After throttling, requests wait a random time up to a ceiling that doubles with each
    throttle in a row, never above this (seconds)."""


class NotifySettings(BaseModel):
    """Notifications of an approval now waiting or an execution that failed, in any watched
    pipeline (`[notify]`; see `tui.app.notifier`). Each channel can be turned off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app: bool = True
    """A notification inside pipetop."""
    bell: bool = True
    """The terminal bell."""
    desktop: bool = True
    """A desktop notification, where the terminal has an escape sequence for one."""
    desktop_protocol: Literal["auto", "osc9", "osc777"] = "auto"
    """Which sequence: `auto` picks from TERM_PROGRAM and TERM; `osc9` (iTerm2, WezTerm,
    Windows Terminal, ghostty) or `osc777` (rxvt-unicode, foot) forces one."""


class ProfileSettings(BaseModel):
    """What is set for one AWS profile (`[profiles.<name>]`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    production: bool = False
    """A production account: a banner of its own colour, and confirmations that ask for the
    pipeline's name typed out."""
    read_only: bool = False
    """Never send a mutating call with this profile."""


class ContextSettings(BaseModel):
    """One watched context (`[[contexts]]`): an account and region to list pipelines from
    (see `tui.app.contexts`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    """The label in the list and the status bar (default: profile/region, what is set)."""
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    events_queue: str | None = None
    """This context's queue of CodePipeline events (the top-level `events_queue` is for the
    single context only: a queue belongs to one account and region)."""
    read_only: bool = False
    """Never send a mutating call in this context (a `--read-only` flag holds for all)."""
    production: bool = False
    """A production context: marked in the status bar, confirmations ask more."""

    @field_validator("endpoint_url", "events_queue")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError(f"must be an http(s) URL, not {url!r}")
        return url or None

    @field_validator("name")
    @classmethod
    def _label(cls, name: str | None) -> str | None:
        if name is not None and not name.strip():
            raise ValueError("a context's name cannot be blank")
        return name


class Settings(BaseModel):
    """Everything about the app that a user may set (connection options are apart:
    `tui.aws.session.ConnectionSettings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events_queue: str | None = None
    """URL of the SQS queue an EventBridge rule fills with CodePipeline events (see
    `pipetop events setup`). Without it pipetop polls."""
    read_only: bool = False
    """Never send a mutating call (approve, reject, stop, retry, start, transitions, rollback)."""
    production: bool = False
    """Treat the connection as production (set per profile in `[profiles.<name>]`)."""
    profiles: dict[str, ProfileSettings] = Field(default_factory=dict)
    """Settings by AWS profile name (see the module docstring)."""
    contexts: tuple[ContextSettings, ...] = ()
    """Several accounts and regions watched at once (`[[contexts]]`; see `tui.app.contexts`).
    `--profile`/`--region` on the command line replace them."""
    poll: PollSettings = Field(default_factory=PollSettings)
    """Poll and refresh intervals."""
    budget: RateBudgetSettings = Field(default_factory=RateBudgetSettings)
    """The CodePipeline request budget (`[budget]`: rate, burst, backoff_max)."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Key overrides by binding id (`logs = "L"`; several keys comma-separated). The ids are
    listed in the help screen and the README."""
    theme: str = "textual-dark"
    """A Textual theme name (`textual-dark`, `textual-light`, `nord`, `gruvbox`, ...)."""
    notifications: bool = True
    """Show problems (throttling, expired credentials, an unreachable endpoint) as toasts; the
    status bar shows them either way."""
    notify: NotifySettings = Field(default_factory=NotifySettings)
    """Approvals now waiting and failed executions: `[notify] app, bell, desktop`."""
    animations: bool = True
    """Spinners and smooth scrolling; off for slow terminals (and for snapshot tests)."""
    mask_ids: bool = False
    """Show execution and revision ids as placeholders of the same length (screenshots and
    snapshot tests, where the ids are random)."""

    @field_validator("keymap")
    @classmethod
    def _keys_present(cls, keymap: dict[str, str]) -> dict[str, str]:
        for binding_id, keys in keymap.items():
            if not keys.strip():
                raise ValueError(f"keymap.{binding_id} has no key")
        return keymap

    def for_profile(self, name: str | None) -> Settings:
        """These settings with the table of profile `name` folded in (unchanged without one)."""
        profile = self.profiles.get(name) if name else None
        if profile is None:
            return self
        return self.model_copy(
            update={
                "production": self.production or profile.production,
                "read_only": self.read_only or profile.read_only,
            }
        )

    @field_validator("events_queue")
    @classmethod
    def _queue_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError(f"events_queue must be a queue URL (https://...), not {url!r}")
        return url or None


def default_config_path(environ: Mapping[str, str] = os.environ) -> Path:
    explicit = environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "pipetop" / "config.toml"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    fields = Settings.model_fields
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if path[0] not in fields or not all(path):
            continue
        node = layer
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = value
    return layer


def _merge(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError) -> str:
    item = error.errors()[0]
    where = ".".join(str(part) for part in item["loc"]) or "settings"
    message = str(item["msg"]).removeprefix("Value error, ")
    more = error.error_count() - 1
    return f"{where}: {message}" + (f" (and {more} more)" if more > 0 else "")


def load_settings(
    *,
    path: Path | None = None,
    environ: Mapping[str, str] = os.environ,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """The layered settings; `SettingsError` (one line, naming the culprit) when unusable."""
    config_path = path or default_config_path(environ)
    from_file = _read_file(config_path)
    try:
        Settings.model_validate(from_file)
    except ValidationError as error:
        raise SettingsError(f"{config_path}: {_describe(error)}") from None
    from_env = _from_environment(environ)
    merged = _merge(from_file, from_env)
    try:
        Settings.model_validate(merged)
    except ValidationError as error:
        raise SettingsError(f"environment {ENV_PREFIX}*: {_describe(error)}") from None
    given = {key: value for key, value in (flags or {}).items() if value is not None}
    try:
        return Settings.model_validate(_merge(merged, given))
    except ValidationError as error:
        raise SettingsError(f"command line: {_describe(error)}") from None
