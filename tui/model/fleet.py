"""Several workspaces (one per watched context) as one list: `FleetView`.

    fleet = FleetView.of({"dev": dev.workspace, "prod": prod.workspace}, places)
    fleet.pipeline("prod/web-app")          # prod's web-app
    fleet.running                           # over every context

Two contexts (two accounts, or two regions of one) may both have a pipeline called
"web-app": in the merged list a pipeline is known by its *key*, `"<context>/<name>"`
(`scoped`), and `locate(key)` gives back the context and the name.

Decisions recorded here:

- [I] The separator is `/`: CodePipeline names match `[A-Za-z0-9.@\\-_]+`, so a name never
  contains it and a key splits at its last `/`, whatever the context's label holds
  (labels such as "dev/eu-west-1" are allowed). A plain name (no `/`) is not a key.
- With one context nothing is scoped: the app hands the screens the context's own
  `WorkspaceView` and plain names, exactly as before contexts existed.
- Counts are sums of the workspaces' own counts: nothing is recounted per change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from tui.model.projection import PipelineStatus
from tui.model.view import PipelineView, WorkspaceView

KEY_SEPARATOR = "/"


def scoped(context: str, name: str) -> str:
    """The key of pipeline `name` of `context` in the merged list."""
    return f"{context}{KEY_SEPARATOR}{name}"


def split_key(key: str) -> tuple[str, str] | None:
    """(context, name) of a key; None for a plain pipeline name."""
    context, separator, name = key.rpartition(KEY_SEPARATOR)
    if not separator:
        return None
    return context, name


@dataclass(frozen=True)
class ContextPlace:
    """Where a context's pipelines live, as the list's columns show it (None: not known
    yet; the account is learnt after the first reads)."""

    account: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class FleetView:
    """Every watched context's workspace, by context label, in the order they were given."""

    workspaces: Mapping[str, WorkspaceView] = field(default_factory=dict)
    places: Mapping[str, ContextPlace] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        workspaces: Mapping[str, WorkspaceView],
        places: Mapping[str, ContextPlace] | None = None,
    ) -> FleetView:
        return cls(workspaces=dict(workspaces), places=dict(places or {}))

    @property
    def contexts(self) -> tuple[str, ...]:
        return tuple(self.workspaces)

    def pipeline(self, key: str) -> PipelineView | None:
        located = split_key(key)
        if located is None:
            return None
        workspace = self.workspaces.get(located[0])
        return workspace.pipeline(located[1]) if workspace is not None else None

    def place(self, context: str) -> ContextPlace:
        return self.places.get(context) or ContextPlace()

    def keys_of(self, context: str) -> list[str]:
        """The keys of every pipeline of one context."""
        workspace = self.workspaces.get(context)
        if workspace is None:
            return []
        return [scoped(context, name) for name in workspace.pipelines]

    @cached_property
    def pipelines(self) -> Mapping[str, PipelineView]:
        """Every pipeline by key (built on first use: the command palette's list)."""
        return {
            scoped(context, name): view
            for context, workspace in self.workspaces.items()
            for name, view in workspace.pipelines.items()
        }

    @cached_property
    def counts(self) -> Mapping[PipelineStatus, int]:
        total: dict[PipelineStatus, int] = {}
        for workspace in self.workspaces.values():
            for status, count in workspace.counts.items():
                total[status] = total.get(status, 0) + count
        return total

    @property
    def running(self) -> int:
        return self.counts.get("InProgress", 0) + self.counts.get("Stopping", 0)

    @property
    def failed(self) -> int:
        return self.counts.get("Failed", 0)

    @property
    def awaiting_approval(self) -> int:
        return self.counts.get("AwaitingApproval", 0)
