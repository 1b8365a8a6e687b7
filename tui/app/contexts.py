"""Which accounts and regions pipetop watches: its *contexts*, from the flags or the config.

    contexts = watch_contexts(settings, profiles=["dev", "prod"], regions=["eu-west-1"])
    app = make_app(settings, contexts=contexts)

A context is a label, where to connect (`ConnectionSettings`: profile, region, endpoint) and
two flags, read-only and production. Each one gets its own `Watcher` (its own connection,
credentials, rate budget and health); the app merges their pipelines into one list.

    # ~/.config/pipetop/config.toml
    [[contexts]]
    name = "dev"
    profile = "dev"
    region = "eu-west-1"

    [[contexts]]
    name = "prod"
    profile = "prod-readonly"
    region = "us-east-1"
    read_only = true
    production = true

Decisions recorded here:

- [I] Repeated `--profile` and `--region` make the cross product, every profile in every
  region (`--profile dev --profile prod --region eu-west-1 --region us-east-1` watches four
  contexts): accounts of one team usually share their regions. Sets that are not a product
  are written as `[[contexts]]` in the config file.
- [I] Any connection flag (`--profile`, `--region`, `--endpoint-url`) replaces the config
  file's contexts: what is typed now wins over what was written before, as for every other
  setting. `--endpoint-url` applies to every context the flags make.
- [I] A context's label is its `name`, else what is set of profile and region joined by a
  `/` ("dev/eu-west-1", "dev", "eu-west-1"), else "default". Labels must be unique: they
  tell the contexts apart in the list, the status bar and the switch command.
- Read-only is the OR of the `--read-only` flag, the top-level `read_only`, the context's
  and its profile's table (`[profiles.<name>]`); production likewise. Nothing written for a
  context can lift a `--read-only` given on the command line.
- One context (no flag repeated, no `[[contexts]]`) is the app exactly as before contexts
  existed: `make_app` gets one connection and builds one watcher.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tui.app.settings import ContextSettings, Settings, SettingsError
from tui.aws.session import ConnectionSettings

DEFAULT_LABEL = "default"


@dataclass(frozen=True)
class WatchContext:
    """One account and region to watch, under a label."""

    label: str
    connection: ConnectionSettings
    read_only: bool = False
    production: bool = False
    events_queue: str | None = None
    """The context's SQS queue of CodePipeline events (None: poll, or the demo's queue on
    the local endpoint)."""


def label_of(profile: str | None, region: str | None, name: str | None = None) -> str:
    """The label of a context (see the module docstring)."""
    if name:
        return name
    parts = [part for part in (profile, region) if part]
    return "/".join(parts) if parts else DEFAULT_LABEL


def _unique(values: Sequence[str]) -> list[str | None]:
    seen = list(dict.fromkeys(values))
    return list(seen) if seen else [None]


def _folded(settings: Settings, profile: str | None, read_only: bool, production: bool) -> Settings:
    """The settings with the context's own flags and its profile's table folded in."""
    folded = settings.for_profile(profile)
    return folded.model_copy(
        update={
            "read_only": folded.read_only or read_only,
            "production": folded.production or production,
        }
    )


def flag_contexts(
    settings: Settings,
    profiles: Sequence[str],
    regions: Sequence[str],
    endpoint_url: str | None = None,
) -> list[WatchContext]:
    """Every profile in every region (one context when neither is repeated)."""
    contexts: list[WatchContext] = []
    for profile in _unique(profiles):
        for region in _unique(regions):
            folded = _folded(settings, profile, False, False)
            contexts.append(
                WatchContext(
                    label=label_of(profile, region),
                    connection=ConnectionSettings(
                        profile=profile, region=region, endpoint_url=endpoint_url
                    ),
                    read_only=folded.read_only,
                    production=folded.production,
                )
            )
    return contexts


def config_context(settings: Settings, entry: ContextSettings) -> WatchContext:
    folded = _folded(settings, entry.profile, entry.read_only, entry.production)
    return WatchContext(
        label=label_of(entry.profile, entry.region, entry.name),
        connection=ConnectionSettings(
            profile=entry.profile, region=entry.region, endpoint_url=entry.endpoint_url
        ),
        read_only=folded.read_only,
        production=folded.production,
        events_queue=entry.events_queue,
    )


def watch_contexts(
    settings: Settings,
    *,
    profiles: Sequence[str] = (),
    regions: Sequence[str] = (),
    endpoint_url: str | None = None,
) -> list[WatchContext]:
    """The contexts to watch: the flags' if any, else the config file's, else the default
    one. `SettingsError` when two share a label."""
    if profiles or regions or endpoint_url or not settings.contexts:
        contexts = flag_contexts(settings, profiles, regions, endpoint_url)
    else:
        contexts = [config_context(settings, entry) for entry in settings.contexts]
    labels = [context.label for context in contexts]
    doubled = sorted({label for label in labels if labels.count(label) > 1})
    if doubled:
        raise SettingsError(
            "contexts: two contexts are both called "
            + ", ".join(repr(label) for label in doubled)
            + "; give each a different name"
        )
    return contexts
