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

Decisions recorded here:

- Bindings carry ids; `Settings.keymap` remaps them (`App.set_keymap`). App-level ids:
  `quit`, `help`, `refresh`, `approvals` (`A`: every approval waiting, across pipelines).
  The screens' ids are in their modules.
- [I] A production profile (`Settings.production`) sets the class `-production` on the app:
  the status bar of every screen takes the error colour as its background, a banner no one
  mistakes for another account.
- The watcher starts after the first refresh (`call_after_refresh`): aiobotocore is imported
  by its first call and must not delay the first frame.
- [I] Notification severity: throttling, a missing resource and read-only refusals are
  warnings; everything else (unreachable endpoint, credentials, access, configuration,
  service errors) is an error. Notifications can be switched off (`notifications = false`);
  the status bar shows the problem either way.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen

from tui.app.commands import PipelineCommands
from tui.app.messages import (
    ActionRef,
    OpenArtifacts,
    OpenHistory,
    OpenLogs,
    OpenPipeline,
    ProblemOccurred,
)
from tui.app.notifier import Notifier
from tui.app.screens.pipeline import PipelineScreen
from tui.app.screens.pipelines import PipelinesScreen
from tui.app.settings import Settings
from tui.app.widgets.status_bar import StatusBar
from tui.aws.budget import BudgetSettings
from tui.aws.errors import ClientProblem, ProblemKind
from tui.aws.reconcile import ReconcileSettings
from tui.aws.session import ConnectionSettings
from tui.aws.watch import Watcher, WatchStatus
from tui.model.view import WorkspaceView

ScreenFactory = Callable[[Any], Screen[Any]]
Clock = Callable[[], datetime]

WARNING_KINDS = frozenset({ProblemKind.THROTTLED, ProblemKind.NOT_FOUND, ProblemKind.READ_ONLY})
NOTIFY_SECONDS = 8.0


def severity_of(problem: ClientProblem) -> SeverityLevel:
    return "warning" if problem.kind in WARNING_KINDS else "error"


def utc_now() -> datetime:
    return datetime.now(UTC)


def lazy_screen(module: str, name: str) -> ScreenFactory:
    """A factory that imports its screen's module the first time it is used: the logs,
    artifacts, history and help screens are not needed for the first frame."""

    def build(argument: Any) -> Screen[Any]:
        screen: Screen[Any] = getattr(importlib.import_module(module), name)(argument)
        return screen

    return build


class PipetopApp(App[None]):
    """Watch and control CodePipeline pipelines (see the module docstring)."""

    CSS_PATH = "pipetop.tcss"
    TITLE = "pipetop"
    COMMANDS = App.COMMANDS | {PipelineCommands}
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

    def __init__(self, settings: Settings, watcher: Watcher, *, clock: Clock = utc_now) -> None:
        super().__init__()
        self.settings = settings
        self.watcher = watcher
        self.clock = clock
        self.notifier = Notifier(self, settings.notify)
        """Announces approvals now waiting and failed executions (`tui.app.notifier`)."""
        self.screen_factories: dict[str, ScreenFactory] = dict(self.SCREEN_FACTORIES)
        self.watch_status: WatchStatus = watcher.status
        self._notified: set[tuple[str, str, str | None, str | None]] = set()
        watcher.on_change = self._workspace_changed
        watcher.on_status = self._status_changed

    @property
    def workspace(self) -> WorkspaceView:
        return self.watcher.workspace

    # Start -------------------------------------------------------------------------------------

    def on_mount(self) -> None:
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
        self.push_screen(PipelinesScreen(clock=self.clock, mask_ids=self.settings.mask_ids))
        self.call_after_refresh(self.keep_watching)

    @work(group="watch", exclusive=True, exit_on_error=False)
    async def keep_watching(self) -> None:
        """Run the watcher for the app's life (it reports problems, it does not raise)."""
        await self.watcher.run()

    # From the watcher --------------------------------------------------------------------------

    def _workspace_changed(self, names: frozenset[str]) -> None:
        workspace = self.watcher.workspace
        self.notifier.workspace_changed(workspace)
        for screen in self.screen_stack:
            changed = getattr(screen, "workspace_changed", None)
            if changed is not None:
                changed(workspace, names)

    def _status_changed(self, status: WatchStatus) -> None:
        self.watch_status = status
        for screen in self.screen_stack:
            for bar in screen.query(StatusBar):
                bar.status = status
        if status.problem is None:
            self._notified.clear()
        else:
            self.report_problem(status.problem)

    def report_problem(self, problem: ClientProblem) -> None:
        """Show a problem as a notification, once until problems clear."""
        key = (str(problem.kind), problem.title, problem.operation, problem.code)
        if key in self._notified:
            return
        self._notified.add(key)
        if self.settings.notifications:
            self.notify(
                f"{problem.detail}\n{problem.hint}",
                title=problem.title,
                severity=severity_of(problem),
                timeout=NOTIFY_SECONDS,
                markup=False,
            )

    # Hooks -------------------------------------------------------------------------------------

    def register_screen(self, name: str, factory: ScreenFactory) -> None:
        """Make `open_<name>` push `factory(argument)` (and light up its key)."""
        self.screen_factories[name] = factory
        self.refresh_bindings()

    def open_pipeline(self, name: str) -> None:
        current = self.screen
        if isinstance(current, PipelineScreen) and current.pipeline_name == name:
            return
        self.push_screen(
            PipelineScreen(
                name,
                self.watcher,
                clock=self.clock,
                animated=self.settings.animations,
                mask_ids=self.settings.mask_ids,
            )
        )

    def open_logs(self, ref: ActionRef) -> None:
        """The log of the action run `ref` names (screen "logs")."""
        self._open("logs", ref)

    def open_artifacts(self, ref: ActionRef) -> None:
        """The artifacts of the action run `ref` names (screen "artifacts")."""
        self._open("artifacts", ref)

    def open_history(self, pipeline: str) -> None:
        """The executions of `pipeline` (screen "history")."""
        self._open("history", pipeline)

    def open_help(self) -> None:
        """The keys and what they do (screen "help")."""
        self._open("help", None)

    def _open(self, name: str, argument: object) -> None:
        factory = self.screen_factories.get(name)
        if factory is None:
            self.bell()
            return
        self.push_screen(factory(argument))

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
        self.report_problem(message.problem)

    # Keys --------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "help":
            return True if "help" in self.screen_factories else None
        return True

    def action_help(self) -> None:
        self.open_help()

    def action_approvals(self) -> None:
        """Every approval waiting, across pipelines (tui/app/screens/approvals.py)."""
        from tui.app.screens.approvals import ApprovalsScreen

        if isinstance(self.screen, ApprovalsScreen):
            return
        self.push_screen(
            ApprovalsScreen(self.watcher, clock=self.clock, production=self.settings.production)
        )

    def action_refresh(self) -> None:
        """Re-read the list and the pipeline on screen now."""
        self.watcher.refresh()
        if self.watcher.visible is not None:
            self.watcher.refresh(self.watcher.visible)


def reconcile_settings(settings: Settings) -> ReconcileSettings:
    poll = settings.poll
    return ReconcileSettings(
        poll_interval=poll.interval,
        visible_interval=poll.visible,
        visible_active_interval=poll.visible_active,
        round_robin_step=poll.round_robin,
        max_rate=poll.max_rate,
        debounce=poll.event_debounce,
        debounce_max=poll.event_debounce_max,
    )


def budget_settings(settings: Settings) -> BudgetSettings:
    budget = settings.budget
    return BudgetSettings(rate=budget.rate, burst=budget.burst, backoff_max=budget.backoff_max)


def make_app(
    settings: Settings | None = None,
    connection: ConnectionSettings | None = None,
    *,
    clock: Clock = utc_now,
) -> PipetopApp:
    """The app for the CLI and the tests: settings (layered by `load_settings`), where to
    connect, and the clock every age and elapsed time is measured with."""
    settings = settings or Settings()
    # The profile's table ([profiles.<name>]: production, read_only) applies from here on.
    profile = (connection.profile if connection else None) or os.environ.get("AWS_PROFILE")
    settings = settings.for_profile(profile or os.environ.get("AWS_DEFAULT_PROFILE"))
    watcher = Watcher(
        connection,
        events_queue=settings.events_queue,
        read_only=settings.read_only,
        reconcile=reconcile_settings(settings),
        budget=budget_settings(settings),
        list_interval=settings.poll.pipelines,
        now=clock,
    )
    return PipetopApp(settings, watcher, clock=clock)
