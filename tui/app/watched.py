"""The contexts an app watches at once, and which screen belongs to which (`WatchedContexts`).

With several contexts (`tui.app.contexts`) the app has one `Watcher` per context. The
merged pipelines list sees every context (`FleetView`, keys `context/name`); a pipeline
screen, and the logs, artifacts and history screens opened from it, belong to the context
of their pipeline: they get that context's watcher (its client, its credentials) and only
its changes and status. This class keeps that bookkeeping so the app only routes.

Decisions recorded here:

- Screens are bound to a context when the app pushes them (`bind`), in a weak map: a popped
  screen is forgotten with it. An unbound screen (the list, help) speaks for every context.
- The watchers are built at first use of `watchers` or `statuses` (the app builds them after
  its first frame: `tui.aws.watch` brings the model), from one factory per context; what the
  first frame needs (`labels`, `several`) comes from the contexts alone.
- [I] A plain pipeline name (no `/`) means a pipeline of the context in front (the bound
  screen's, else the one last opened or switched to); a key `context/name` names its context
  (`locate`). So the list and the palette hand keys, a pipeline screen hands plain names,
  and neither needs to know how many contexts there are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from tui.app.widgets.context_health import ContextHealth

if TYPE_CHECKING:
    from tui.app.contexts import WatchContext
    from tui.aws.watch import Watcher, WatchStatus
    from tui.model.fleet import FleetView


class WatchedContexts:
    """Watchers by context label, their latest statuses, and screen bindings."""

    def __init__(self, entries: Sequence[tuple[WatchContext, Callable[[], Watcher]]]) -> None:
        self.contexts: dict[str, WatchContext] = {c.label: c for c, _ in entries}
        self._factories = {c.label: factory for c, factory in entries}
        self._watchers: dict[str, Watcher] | None = None
        self._statuses: dict[str, WatchStatus] = {}
        self.focused: str | None = next(iter(self.contexts), None)
        """The context in front: the one last opened or switched to (the first at start)."""
        self.shown: str | None = None
        """The one context the list shows (None: all of them)."""
        self._screens: WeakKeyDictionary[Any, str] = WeakKeyDictionary()

    @property
    def built(self) -> bool:
        """Whether the watchers exist (see the module docstring)."""
        return self._watchers is not None

    @property
    def watchers(self) -> dict[str, Watcher]:
        """Every context's watcher by label (built at the first use)."""
        return self._watchers if self._watchers is not None else self._build()

    @property
    def statuses(self) -> dict[str, WatchStatus]:
        """Every context's latest status by label."""
        if self._watchers is None:
            self._build()
        return self._statuses

    def _build(self) -> dict[str, Watcher]:
        watchers = {label: build() for label, build in self._factories.items()}
        self._statuses = {label: each.status for label, each in watchers.items()}
        self._watchers = watchers
        return watchers

    @property
    def several(self) -> bool:
        return len(self.contexts) > 1

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.contexts)

    def fleet(self) -> FleetView:
        """Every context's workspace and where it is, as the merged list shows them."""
        from tui.model.fleet import ContextPlace, FleetView

        return FleetView.of(
            {label: watcher.workspace for label, watcher in self.watchers.items()},
            {
                label: ContextPlace(account=status.account, region=status.region)
                for label, status in self.statuses.items()
            },
        )

    def bind(self, screen: Any, label: str | None) -> None:
        if label is not None:
            self._screens[screen] = label

    def label_of(self, watcher: Watcher) -> str | None:
        """The context a watcher watches (None: not one of these)."""
        return next((label for label, each in self.watchers.items() if each is watcher), None)

    def context_of(self, screen: Any) -> str | None:
        """The context a screen belongs to (None: it speaks for every context)."""
        return self._screens.get(screen)

    def locate(self, key: str, front: Any) -> tuple[str | None, str]:
        """(context, pipeline name) of a list key or a plain name (see the module docstring)."""
        from tui.model.fleet import split_key

        located = split_key(key)
        if located is not None and located[0] in self.watchers:
            return located
        return self.context_of(front) or self.focused, key

    def health(self) -> tuple[ContextHealth, ...]:
        return tuple(
            ContextHealth(label, self.statuses[label], self.contexts[label].production)
            for label in self.watchers
        )

    def place_changed(self, label: str, status: WatchStatus) -> bool:
        """Record a status; whether the account or region the list shows for it changed."""
        before = self.statuses.get(label)
        self.statuses[label] = status
        return before is None or (before.account, before.region) != (
            status.account,
            status.region,
        )
