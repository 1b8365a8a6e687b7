"""The pipetop app: the screens, the keys, and the glue between the Watcher and the screens.

    app = make_app(load_settings(), ConnectionSettings(profile="dev"))
    app.run()

`make_app` is the one factory the CLI (`pipetop`, `pipetop demo`) and the tests use. The app
owns a `Watcher` (tui/aws/watch.py) and runs it in a worker once the first frame is painted;
the watcher's callbacks come back on the app's loop and the app hands them down:

- `on_change(names)`: every screen on the stack that has `workspace_changed(workspace,
  names)` gets it (the pipelines list, the pipeline screen, and any screen added later);
- `on_status(status)`: every `StatusBar` on the stack gets `status`; a new problem becomes a
  notification (once per problem until it clears), with the problem's title, detail and
  hint, its severity by kind.

Screens post messages (`OpenPipeline`, `OpenLogs`, `OpenArtifacts`, `OpenHistory`,
`ProblemOccurred`); the app acts on them through these hooks, which are also what the
command palette and other screens call:

- `open_pipeline(name)`: push the pipeline screen;
- `open_logs(ref)`, `open_artifacts(ref)`: push the screen registered as "logs" /
  "artifacts" with the `ActionRef` of the focused action;
- `open_history(pipeline)`: the screen registered as "history" with the pipeline's name;
- `open_help()`: the screen registered as "help" (no argument).

A screen is registered by name with a factory taking that one argument:
`PipetopApp.SCREEN_FACTORIES["logs"] = LogsScreen` (for every app) or
`app.register_screen("logs", factory)` (for one). Until one is registered its key is shown
dimmed (`check_action` returns None) and does nothing.

Several contexts (accounts and regions, `tui.app.contexts`; `make_app(settings,
contexts=[...])`): one watcher per context, all run at once, each with its own connection,
budget and health. The pipelines list gets every context's pipelines merged (a `FleetView`,
keys `context/name`) and a status bar with each context's health; opening a pipeline opens
it in its context: the pipeline screen gets that context's watcher, and `app.watcher` (what
the logs, artifacts and history screens use) becomes the watcher of the context in front.
Screens of one context get only its changes and its status (`tui.app.watched`).
`show_context(label)` (key `c` on the list, and the command palette) shows one context's
pipelines and its full status bar; `show_context(None)` all again. With one context all of
this is absent: one watcher, plain names, as before.

Decisions recorded here:

- Bindings carry ids; `Settings.keymap` remaps them (`App.set_keymap`). App-level ids:
  `quit`, `help`, `refresh`, `approvals` (`A`: every approval waiting, across pipelines).
  The screens' ids are in their modules.
- [I] A production profile (`Settings.production`) sets the class `-production` on the app:
  the status bar of every screen takes the error colour as its background, a banner no one
  mistakes for another account.
- [I] The first frame comes first. Before it the process imports Textual, this module and
  what composing the pipelines list takes (`screens.pipelines`, `widgets.status_bar`,
  `messages`, `watched`; no pydantic model, nothing of `tui.aws`): the list, empty, says it
  is loading and its status bar "connecting…". Right after it (`call_after_refresh`,
  `_start_watching`) the app builds its watchers, which imports `tui.aws.watch` and the model,
  hands their status to the status bars and runs them; aiobotocore comes later still, with
  the watchers' first call. `make_app` gives the app a factory per watcher, not a watcher;
  `watcher`, `watch_status` and `watched.watchers` build them at first use if anything asks
  before the first frame is out (the tests do, before and while the app runs). Imported when
  first needed as well: the pipeline screen (`open_pipeline`), the command palette's
  providers (`COMMANDS` holds callables that import them), the notifier (the first change).
  The settings (pydantic) are loaded before the app starts, by the command: a broken config
  file must stop it with a message before the terminal is taken over. Importing pydantic is
  then most of what the first frame waits for besides Textual (`tui.app.settings`).
  `tests/app/test_startup.py` checks what is imported by the first frame.
- [I] With several contexts a notification's title starts with its context's label, and a
  problem is notified once per context until that context's problems clear: an expired SSO
  token in one account is said once and never hides the others' state.
- [I] Notification severity: throttling, a missing resource and read-only refusals are
  warnings; everything else (unreachable endpoint, credentials, access, configuration,
  service errors) is an error. Notifications can be switched off (`notifications = false`);
  the status bar shows the problem either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen

from tui.app.collector import IdleCollector
from tui.app.messages import (
    OpenArtifacts,
    OpenHistory,
    OpenLogs,
    OpenPipeline,
    ProblemOccurred,
)
from tui.app.screens.pipelines import PipelinesScreen
from tui.app.strip_cycles import keep_strips_acyclic
from tui.app.watched import WatchedContexts
from tui.app.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    # Imported where they are used, after the first frame (see the module docstring).
    from textual.command import Provider

    from tui.app.contexts import WatchContext
    from tui.app.messages import ActionRef
    from tui.app.notifier import Notifier
    from tui.app.settings import Settings
    from tui.app.widgets.context_health import ContextHealth
    from tui.aws.budget import BudgetSettings
    from tui.aws.errors import ClientProblem
    from tui.aws.reconcile import ReconcileSettings
    from tui.aws.session import ConnectionSettings
    from tui.aws.watch import Watcher, WatchStatus
    from tui.model.fleet import FleetView
    from tui.model.view import WorkspaceView

ScreenFactory = Callable[[Any], Screen[Any]]
Clock = Callable[[], datetime]
WatcherFactory = Callable[[], "Watcher"]

NOTIFY_SECONDS = 8.0
QUIT_GRACE_SECONDS = 3.0
"""How long quitting waits for the watchers to hand back the events queue's messages."""


def severity_of(problem: ClientProblem) -> SeverityLevel:
    """Throttling, a missing resource and read-only refusals warn; the rest are errors."""
    from tui.aws.errors import ProblemKind

    warning = (ProblemKind.THROTTLED, ProblemKind.NOT_FOUND, ProblemKind.READ_ONLY)
    return "warning" if problem.kind in warning else "error"


def utc_now() -> datetime:
    return datetime.now(UTC)


def lazy_screen(module: str, name: str) -> ScreenFactory:
    """A factory that imports its screen's module the first time it is used: the logs,
    artifacts, history and help screens are not needed for the first frame."""

    def build(argument: Any) -> Screen[Any]:
        screen: Screen[Any] = getattr(importlib.import_module(module), name)(argument)
        return screen

    return build


def pipeline_commands() -> type[Provider]:
    """The palette's pipelines (`COMMANDS` calls this when the palette opens)."""
    from tui.app.commands import PipelineCommands

    return PipelineCommands


def context_commands() -> type[Provider]:
    """The palette's context switches (`COMMANDS` calls this when the palette opens)."""
    from tui.app.commands import ContextCommands

    return ContextCommands


class PipetopApp(App[None]):
    """Watch and control CodePipeline pipelines (see the module docstring)."""

    CSS_PATH = "pipetop.tcss"
    TITLE = "pipetop"
    COMMANDS = App.COMMANDS | {pipeline_commands, context_commands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("ctrl+r", "refresh", "Refresh", show=False, id="refresh"),
        Binding("A", "approvals", "Approvals", id="approvals"),
    ]
    SCREEN_FACTORIES: ClassVar[dict[str, ScreenFactory]] = {
        "logs": lazy_screen("tui.app.screens.logs", "LogsScreen"),
        "artifacts": lazy_screen("tui.app.screens.artifacts", "ArtifactsScreen"),
        "history": lazy_screen("tui.app.screens.history", "HistoryScreen"),
        "help": lazy_screen("tui.app.screens.help", "HelpScreen"),
    }
    """Screens by name ("logs", "artifacts", "history", "help"), for every app."""

    def __init__(
        self,
        settings: Settings,
        watcher: WatcherFactory | None = None,
        *,
        clock: Clock = utc_now,
        contexts: Sequence[tuple[WatchContext, WatcherFactory]] = (),
    ) -> None:
        """`watcher` builds the one watcher; with several `contexts`, each context's factory
        builds its watcher (and `watcher` is not used). They are called once, after the first
        frame or at the first use of `watcher` (see the module docstring)."""
        super().__init__()
        self.settings = settings
        self.clock = clock
        self.screen_factories: dict[str, ScreenFactory] = dict(self.SCREEN_FACTORIES)
        self._new_watcher = watcher
        self._watcher: Watcher | None = None
        self._watch_status: WatchStatus | None = None
        self._notified: set[tuple[str, str, str | None, str | None]] = set()
        self.watched = WatchedContexts(
            [
                (context, partial(self._context_watcher, context.label, build))
                for context, build in contexts
            ]
        )
        """The contexts watched at once (empty or one: the single-context app)."""
        if watcher is None and not self.watched.several:
            raise TypeError("PipetopApp needs a watcher factory (or several contexts)")
        self._watching_ended = asyncio.Event()
        """Set when `keep_watching` has returned (its watchers closed their feeds)."""
        self._watching = False
        keep_strips_acyclic()  # dropped strips are freed at once (`tui.app.strip_cycles`)
        self.collector = IdleCollector()
        """Full garbage collections at quiet moments (`tui.app.collector`)."""
        self._notified_in: dict[str, set[tuple[str, str, str | None, str | None]]] = {}

    @property
    def watcher(self) -> Watcher:
        """The watcher of the context in front (the only one with one context)."""
        return self._build_watchers() if self._watcher is None else self._watcher

    @watcher.setter
    def watcher(self, watcher: Watcher) -> None:
        self._watcher = watcher

    @property
    def watch_status(self) -> WatchStatus:
        """The latest status of the context in front."""
        if self._watch_status is None:
            self._build_watchers()
            assert self._watch_status is not None
        return self._watch_status

    @watch_status.setter
    def watch_status(self, status: WatchStatus) -> None:
        self._watch_status = status

    def _build_watchers(self) -> Watcher:
        """Every context's watcher, wired to the app; the one in front."""
        if self.watched.several:
            label = self.watched.focused or self.watched.labels[0]
            watcher, status = self.watched.watchers[label], self.watched.statuses[label]
        else:
            assert self._new_watcher is not None  # checked by __init__
            watcher = self._new_watcher()
            watcher.on_change = self._workspace_changed
            watcher.on_status = self._status_changed
            status = watcher.status
        self._watcher, self._watch_status = watcher, status
        return watcher

    def _context_watcher(self, label: str, build: WatcherFactory) -> Watcher:
        watcher = build()
        watcher.on_change = partial(self._context_changed, label)
        watcher.on_status = partial(self._context_status, label)
        return watcher

    @cached_property
    def notifier(self) -> Notifier:
        """Announces approvals now waiting and failed executions (`tui.app.notifier`)."""
        from tui.app.notifier import Notifier

        return Notifier(self, self.settings.notify)

    @property
    def workspace(self) -> WorkspaceView:
        """The workspace of the context in front."""
        return self.watcher.workspace

    @property
    def listing(self) -> WorkspaceView | FleetView:
        """What the pipelines list shows: every context's pipelines by key, or the workspace."""
        return self.watched.fleet() if self.watched.several else self.watcher.workspace

    # Start -------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.collector.install()
        self.set_interval(1.0, self.collector.tick)
        if not self.settings.animations:
            self.animation_level = "none"
        # A production profile: the status bar takes its own colour (pipetop.tcss).
        self.set_class(self.settings.production, "-production")
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(
                f"Unknown theme {self.settings.theme!r}; using {self.theme}.",
                title="Settings",
                severity="warning",
            )
        if self.settings.keymap:
            self.set_keymap(dict(self.settings.keymap))
        self.push_screen(
            PipelinesScreen(
                clock=self.clock,
                mask_ids=self.settings.mask_ids,
                contexts=self.watched.labels if self.watched.several else (),
            )
        )
        self.call_after_refresh(self._start_watching)

    def _start_watching(self) -> None:
        """After the first frame: build the watchers, show their status, run them."""
        status = self.watch_status
        if self.watched.several:
            self._show_statuses()
        else:
            self._show_status(status)
        self.keep_watching()

    @work(group="watch", exclusive=True, exit_on_error=False)
    async def keep_watching(self) -> None:
        """Run the watcher for the app's life (it reports problems, it does not raise); with
        several contexts, every context's at once (one failing never stops the others)."""
        self._watching = True
        try:
            if self.watched.several:
                runs = (each.run() for each in self.watched.watchers.values())
                await asyncio.gather(*runs, return_exceptions=True)
            else:
                await self.watcher.run()
        finally:
            self._watching_ended.set()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent) and not event.is_forwarded:
            self.collector.input_seen()
        await super().on_event(event)

    async def on_unmount(self) -> None:
        """Give the watchers up to `QUIT_GRACE_SECONDS` to finish closing before the app
        returns: Textual cancels the watch worker without waiting for it, and once `run()`
        returns `asyncio.run` cancels it again, which would cut off the feed's hand-back
        (applied messages deleted, unapplied ones made visible again) and leave messages in
        flight to come back as stale redeliveries on the next start."""
        self.collector.uninstall()
        if self._watching:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._watching_ended.wait(), QUIT_GRACE_SECONDS)

    # From the watcher --------------------------------------------------------------------------

    def _workspace_changed(self, names: frozenset[str]) -> None:
        workspace = self.watcher.workspace
        self.notifier.workspace_changed(workspace, names)
        for screen in self.screen_stack:
            changed = getattr(screen, "workspace_changed", None)
            if changed is not None:
                changed(workspace, names)

    def _status_changed(self, status: WatchStatus) -> None:
        self.watch_status = status
        if status.pipelines_listed:
            # What exists once the first list is in lives as long as the app (`collector`).
            self.collector.freeze_startup()
        self._show_status(status)
        if status.problem is None:
            self._notified.clear()
        else:
            self.report_problem(status.problem)

    def _show_status(self, status: WatchStatus) -> None:
        for screen in self.screen_stack:
            for bar in screen.query(StatusBar):
                bar.status = status

    def report_problem(self, problem: ClientProblem, *, context: str | None = None) -> None:
        """Show a problem as a notification, once until problems clear (per context)."""
        key = (str(problem.kind), problem.title, problem.operation, problem.code)
        notified = (
            self._notified if context is None else self._notified_in.setdefault(context, set())
        )
        if key in notified:
            return
        notified.add(key)
        if self.settings.notifications:
            self.notify(
                f"{problem.detail}\n{problem.hint}",
                title=problem.title if context is None else f"{context}: {problem.title}",
                severity=severity_of(problem),
                timeout=NOTIFY_SECONDS,
                markup=False,
            )

    # Several contexts ---------------------------------------------------------------------------

    def _context_changed(self, label: str, names: frozenset[str]) -> None:
        """One context's pipelines changed: the list gets their keys, that context's screens
        their names, other contexts' screens nothing."""
        from tui.model.fleet import scoped

        self.notifier.workspace_changed(
            self.watched.watchers[label].workspace, names, context=label
        )
        self._fan_out(label, names, frozenset(scoped(label, name) for name in names))

    def _fan_out(self, label: str, names: frozenset[str], keys: frozenset[str]) -> None:
        fleet = self.watched.fleet()
        workspace = self.watched.watchers[label].workspace
        for screen in self.screen_stack:
            changed = getattr(screen, "workspace_changed", None)
            if changed is None:
                continue
            bound = self.watched.context_of(screen)
            if bound is None:
                changed(fleet, keys)
            elif bound == label:
                changed(workspace, names)

    def _context_status(self, label: str, status: WatchStatus) -> None:
        if status.pipelines_listed:
            self.collector.freeze_startup()
        moved = self.watched.place_changed(label, status)
        if label == self.watched.focused:
            self.watch_status = status
        self._show_statuses()
        if moved:
            # The account and region columns of its rows.
            from tui.model.fleet import scoped

            workspace = self.watched.watchers[label].workspace
            names = frozenset(workspace.pipelines)
            keys = frozenset(scoped(label, name) for name in names)
            self._fan_out(label, frozenset(), keys)
        if status.problem is None:
            self._notified_in.pop(label, None)
        else:
            self.report_problem(status.problem, context=label)

    def _show_statuses(self) -> None:
        health = self.watched.health()
        for screen in self.screen_stack:
            bound = self.watched.context_of(screen)
            for bar in screen.query(StatusBar):
                if bound is not None:
                    bar.status = self.watched.statuses[bound]
                elif self.watched.shown is not None:
                    bar.contexts = ()
                    bar.status = self.watched.statuses[self.watched.shown]
                else:
                    bar.contexts = health

    def status_for(self, screen: Screen[Any]) -> WatchStatus | None:
        """What a new status bar on `screen` starts from: the status of the context in front
        (a screen's own: the app puts its context in front before pushing it); None before
        the watchers exist (the first frame)."""
        return self._watch_status

    def health_for(self, screen: Screen[Any]) -> tuple[ContextHealth, ...]:
        """What a new status bar on `screen` shows of every context (nothing: its status, or
        nothing yet before the watchers exist)."""
        if not self.watched.several or self.watched.shown is not None:
            return ()
        if not self.watched.built:
            return ()
        if self.watched.context_of(screen) is not None:
            return ()
        return self.watched.health()

    def show_context(self, label: str | None) -> None:
        """Show one context's pipelines (and its status) in the list; None: every context."""
        if label is not None and label not in self.watched.watchers:
            self.bell()
            return
        self.watched.shown = label
        if label is not None:
            self._focus(label)
        for screen in self.screen_stack:
            if isinstance(screen, PipelinesScreen):
                screen.show_context(label)
        self._show_statuses()

    def _focus(self, label: str | None) -> None:
        """Make `label` the context in front: `watcher` and `watch_status` are its."""
        if label is None or label not in self.watched.watchers:
            return
        self.watched.focused = label
        self.watcher = self.watched.watchers[label]
        self.watch_status = self.watched.statuses[label]

    def _front_context(self) -> str | None:
        return self.watched.context_of(self.screen) or self.watched.focused

    def production_of(self, watcher: Watcher) -> bool:
        """Whether the context `watcher` watches is production (its `[[contexts]]` entry or
        profile table; the settings' own with one context)."""
        label = self.watched.label_of(watcher)
        if label is None:
            return self.settings.production
        return self.settings.production or self.watched.contexts[label].production

    # Hooks -------------------------------------------------------------------------------------

    def register_screen(self, name: str, factory: ScreenFactory) -> None:
        """Make `open_<name>` push `factory(argument)` (and light up its key)."""
        self.screen_factories[name] = factory
        self.refresh_bindings()

    def rows_on_screen(self, rows: Iterable[tuple[str | None, str]]) -> None:
        """The list's rows on screen, top first, as (context, name): each watcher reads its
        own first among the pipelines due for the same reason (the first fill)."""
        shown: dict[int, tuple[Watcher, list[str]]] = {}
        for context, name in rows:
            watcher = self.watcher if context is None else self.watched.watchers.get(context)
            if watcher is not None:
                shown.setdefault(id(watcher), (watcher, []))[1].append(name)
        for watcher, names in shown.values():
            watcher.set_on_screen(names)

    def open_pipeline(self, name: str) -> None:
        """Push the pipeline screen of `name` (a list key `context/name` with several
        contexts), with its context's watcher."""
        from tui.app.screens.pipeline import PipelineScreen

        context: str | None = None
        if self.watched.several:
            context, name = self.watched.locate(name, self.screen)
            self._focus(context)
        current = self.screen
        if (
            isinstance(current, PipelineScreen)
            and current.pipeline_name == name
            and current.watcher is self.watcher
        ):
            return
        screen = PipelineScreen(
            name,
            self.watcher,
            clock=self.clock,
            animated=self.settings.animations,
            mask_ids=self.settings.mask_ids,
        )
        self.watched.bind(screen, context)
        self.push_screen(screen)

    def open_logs(self, ref: ActionRef) -> None:
        """The log of the action run `ref` names (screen "logs")."""
        self._open("logs", ref, self._front_context())

    def open_artifacts(self, ref: ActionRef) -> None:
        """The artifacts of the action run `ref` names (screen "artifacts")."""
        self._open("artifacts", ref, self._front_context())

    def open_history(self, pipeline: str) -> None:
        """The executions of `pipeline` (screen "history"; a list key with several contexts)."""
        context: str | None = None
        if self.watched.several:
            context, pipeline = self.watched.locate(pipeline, self.screen)
        self._open("history", pipeline, context)

    def open_help(self) -> None:
        """The keys and what they do (screen "help")."""
        self._open("help", None)

    def _open(self, name: str, argument: object, context: str | None = None) -> None:
        factory = self.screen_factories.get(name)
        if factory is None:
            self.bell()
            return
        if not self.watched.several:
            context = None
        # Screens take `app.watcher` when they mount: it must be their context's by then.
        self._focus(context)
        screen = factory(argument)
        self.watched.bind(screen, context)
        self.push_screen(screen)

    # Messages from screens ---------------------------------------------------------------------

    @on(OpenPipeline)
    def _open_pipeline(self, message: OpenPipeline) -> None:
        self.open_pipeline(message.pipeline)

    @on(OpenLogs)
    def _open_logs(self, message: OpenLogs) -> None:
        self.open_logs(message.ref)

    @on(OpenArtifacts)
    def _open_artifacts(self, message: OpenArtifacts) -> None:
        self.open_artifacts(message.ref)

    @on(OpenHistory)
    def _open_history(self, message: OpenHistory) -> None:
        self.open_history(message.pipeline)

    @on(ProblemOccurred)
    def _problem(self, message: ProblemOccurred) -> None:
        # A screen of one context reports a problem of that context.
        context = self.watched.context_of(self.screen) if self.watched.several else None
        self.report_problem(message.problem, context=context)

    # Keys --------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "help":
            return True if "help" in self.screen_factories else None
        return True

    def action_help(self) -> None:
        self.open_help()

    def action_approvals(self) -> None:
        """Every approval waiting, across pipelines and contexts (screens/approvals.py)."""
        from tui.app.screens.approvals import ApprovalsScreen

        if isinstance(self.screen, ApprovalsScreen):
            return
        self.push_screen(
            ApprovalsScreen(
                self.watcher,
                clock=self.clock,
                production=self.production_of(self.watcher),
                contexts=self.watched.watchers if self.watched.several else None,
                production_of=self.production_of,
            )
        )

    def action_refresh(self) -> None:
        """Re-read the list and the pipeline on screen now (every context's list)."""
        for each in self.watched.watchers.values() if self.watched.several else [self.watcher]:
            each.refresh()
            if each.visible is not None:
                each.refresh(each.visible)


def reconcile_settings(settings: Settings) -> ReconcileSettings:
    from tui.aws.reconcile import ReconcileSettings

    poll = settings.poll
    return ReconcileSettings(
        poll_interval=poll.interval,
        visible_interval=poll.visible,
        visible_active_interval=poll.visible_active,
        round_robin_step=poll.round_robin,
        round_robin_cycle=poll.round_robin_cycle,
        max_rate=poll.max_rate,
        debounce=poll.event_debounce,
        debounce_max=poll.event_debounce_max,
    )


def budget_settings(settings: Settings) -> BudgetSettings | None:
    """The `[budget]` the user set (config file or environment), else None: the watcher then
    picks its connection's default (none on the local endpoint, `tui.aws.watch`)."""
    if "budget" not in settings.model_fields_set:
        return None
    from tui.aws.budget import BudgetSettings

    budget = settings.budget
    return BudgetSettings(rate=budget.rate, burst=budget.burst, backoff_max=budget.backoff_max)


def one_context(settings: Settings, context: WatchContext) -> tuple[ConnectionSettings, Settings]:
    """The connection and settings of the app when one context is watched (its flags folded
    into the settings, as `watch_contexts` folded the rest)."""
    update: dict[str, Any] = {}
    if context.read_only:
        update["read_only"] = True
    if context.production:
        update["production"] = True
    if context.events_queue:
        update["events_queue"] = context.events_queue
    return context.connection, settings.model_copy(update=update) if update else settings


def new_watcher(
    settings: Settings,
    connection: ConnectionSettings | None,
    clock: Clock,
    *,
    events_queue: str | None,
    read_only: bool,
) -> Watcher:
    """A watcher with the settings' intervals and budget (what the app's factories call)."""
    from tui.aws.watch import Watcher

    return Watcher(
        connection,
        events_queue=events_queue,
        read_only=read_only,
        reconcile=reconcile_settings(settings),
        budget=budget_settings(settings),
        list_interval=settings.poll.pipelines,
        now=clock,
    )


def several_contexts_app(
    settings: Settings, contexts: Sequence[WatchContext], clock: Clock
) -> PipetopApp:
    """The app watching several contexts: one watcher each (see the module docstring)."""
    watched = [
        (
            context,
            partial(
                new_watcher,
                settings,
                context.connection,
                clock,
                events_queue=context.events_queue,
                read_only=settings.read_only or context.read_only,
            ),
        )
        for context in contexts
    ]
    return PipetopApp(settings, clock=clock, contexts=watched)


def make_app(
    settings: Settings | None = None,
    connection: ConnectionSettings | None = None,
    *,
    clock: Clock = utc_now,
    contexts: Sequence[WatchContext] = (),
) -> PipetopApp:
    """The app for the CLI and the tests: settings (layered by `load_settings`), where to
    connect (one `connection`, or the `contexts` to watch at once: `tui.app.contexts`), and
    the clock every age and elapsed time is measured with."""
    if settings is None:
        from tui.app.settings import Settings

        settings = Settings()
    if len(contexts) > 1:
        return several_contexts_app(settings, contexts, clock)
    if contexts:
        connection, settings = one_context(settings, contexts[0])
    # The profile's table ([profiles.<name>]: production, read_only) applies from here on.
    profile = (connection.profile if connection else None) or os.environ.get("AWS_PROFILE")
    settings = settings.for_profile(profile or os.environ.get("AWS_DEFAULT_PROFILE"))
    watcher = partial(
        new_watcher,
        settings,
        connection,
        clock,
        events_queue=settings.events_queue,
        read_only=settings.read_only,
    )
    return PipetopApp(settings, watcher, clock=clock)
