"""The pipeline screen: one pipeline's stages side by side, live.

    web-app  ◆ Awaiting approval · V2 · SUPERSEDED
    Execution 3f2a9c1e · ● In progress · started 3m ago (14:02) · elapsed 3m 10s · ...
    Source    Checkout 3f9e2c1 Escape user input in the greeting page
    ╭─ Source ──────────╮   ╭─ Build ───────────╮ 🔒 ╭─ Deploy ─────────╮
    │ ✓ Checkout     1s │ → │ ✓ Compile     12s │    │ 🔒 transition... │
    ╰──── ✓ Succeeded ──╯   ╰──── ✓ Succeeded ──╯    ╰───── · Not run ──╯

The stages are panels (`StagePanel`) in a row that scrolls sideways when they do not fit,
with the inbound transition between them (an arrow, or a lock when disabled). Above them
the execution the panels show (`ExecutionHeader`). The focused action (arrows, j/k) is
what `l` (logs) and `o` (artifacts) act on; `h` opens the history; escape goes back.

QUEUED and PARALLEL pipelines run several executions at once: GetPipelineState shows, per
stage, the newest execution that entered it. `n` cycles through the executions in
progress: the panels then show that execution's own action runs (ListActionExecutions,
re-read whenever the pipeline changes), and back to the latest state after the last one.

Controls act on the focused stage or action, each in its own dialog (tui/app/screens/:
approval, retry, stop, release, transition, rollback), confirmed before anything is sent:
`a` approve/reject (the focused pending approval, or the pipeline's only one wherever the
focus is), `r` retry a failed or stopped stage, `x` stop the execution in the focused stage
(else the one shown), `s` release a change (start an execution), `t` disable/enable the
focused stage's inbound transition, `b` roll the focused stage back. A control that does not
apply to the focus is dimmed; in read-only mode (`--read-only`, `read_only` in the config or
the profile's table) every control is hidden.

Decisions recorded here:

- [I] `x` is stop, so cycling through executions in progress is `n`.
- [I] `t` and `b` are not in the footer (the help screen lists them): with every control
  shown, quit and help would no longer fit a 120-column footer.
- [I] `h` and `l` are history and logs (the product's keys), so moving between stages is
  ←/→ (and tab); up/down and j/k move between the actions of a stage. Every key is
  remappable by binding id (`Settings.keymap`).
- Updates never recompose: the same stages are updated in place (`StagePanel.update_stage`);
  only a changed structure (another pipeline version) rebuilds the panels.
- The first time the pipeline's state is known, the focus goes to the action that most needs
  eyes: a pending approval, else a failed action, else a running one, else the first action.
- An action that has not run in the selected execution shows as not run, with what the
  declaration says of it (provider, runOrder).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import HorizontalScroll
from textual.screen import Screen
from textual.widgets import Footer

from tui.app.covering import covered
from tui.app.messages import (
    ActionRef,
    OpenArtifacts,
    OpenHistory,
    OpenLogs,
    ProblemOccurred,
)
from tui.app.widgets.action_row import ActionRow
from tui.app.widgets.execution_header import ExecutionHeader, HeaderData
from tui.app.widgets.masking import masked_if, short_id
from tui.app.widgets.stage_panel import StagePanel, TransitionMark
from tui.app.widgets.status_bar import StatusBar
from tui.aws.watch import Watcher
from tui.model.derived import short_revision
from tui.model.projection import ActionView, ArtifactView, ExecutionView, StageView
from tui.model.state import ActionExecutionDetail
from tui.model.view import PipelineView, WorkspaceView

if TYPE_CHECKING:
    from tui.app.screens.approval import PendingApproval

CONCURRENT_MODES = frozenset({"QUEUED", "PARALLEL"})
CONTROLS = frozenset({"approve", "retry", "stop", "release", "transition", "rollback"})
RETRYABLE = frozenset({"Failed", "Stopped"})
STOPPABLE = frozenset({"InProgress", "Stopping"})


class StageStrip(HorizontalScroll, can_focus=False, inherit_bindings=False):
    """The row of stage panels; scrolls sideways, keys move the focus instead."""


def _artifacts(details: Sequence[object]) -> tuple[ArtifactView, ...]:
    views = []
    for item in details:
        location = getattr(item, "s3location", None)
        views.append(
            ArtifactView(
                name=getattr(item, "name", None),
                bucket=getattr(location, "bucket", None),
                key=getattr(location, "key", None),
            )
        )
    return tuple(views)


def action_from_run(declared: ActionView, run: ActionExecutionDetail | None) -> ActionView:
    """An action as one execution ran it (ListActionExecutions), on top of what the state
    and declaration say of it (provider, runOrder, links); not run: status None."""
    base = ActionView(
        name=declared.name,
        category=declared.category,
        provider=declared.provider,
        region=declared.region,
        run_order=declared.run_order,
        timeout_in_minutes=declared.timeout_in_minutes,
        entity_url=declared.entity_url,
    )
    if run is None:
        return base
    result = run.output.execution_result if run.output is not None else None
    error = result.error_details if result is not None else None
    action_type = run.input.action_type_id if run.input is not None else None
    token = None
    if declared.is_approval and run.status == "InProgress" and result is not None:
        # PARALLEL mode: the approval token is the run's external execution id.
        token = result.external_execution_id
    return replace(
        base,
        status=run.status,
        execution_id=run.pipeline_execution_id,
        action_execution_id=run.action_execution_id,
        summary=result.external_execution_summary if result is not None else None,
        error_code=error.code if error is not None else None,
        error_message=error.message if error is not None else None,
        external_execution_id=result.external_execution_id if result is not None else None,
        external_execution_url=result.external_execution_url if result is not None else None,
        log_stream_arn=result.log_stream_arn if result is not None else None,
        token=token,
        last_updated_by=run.updated_by,
        started_at=run.start_time,
        last_change=run.last_update_time,
        category=declared.category or (action_type.category if action_type is not None else None),
        provider=declared.provider or (action_type.provider if action_type is not None else None),
        input_artifacts=_artifacts(run.input.input_artifacts if run.input else ()),
        output_artifacts=_artifacts(run.output.output_artifacts if run.output else ()),
    )


def latest_runs(
    details: Sequence[ActionExecutionDetail],
) -> dict[tuple[str, str], ActionExecutionDetail]:
    """The latest attempt of each (stage, action) among one execution's runs."""
    latest: dict[tuple[str, str], ActionExecutionDetail] = {}
    for detail in details:
        if detail.stage_name is None or detail.action_name is None:
            continue
        key = (detail.stage_name, detail.action_name)
        known = latest.get(key)
        if known is None or _start(detail) >= _start(known):
            latest[key] = detail
    return latest


def _start(detail: ActionExecutionDetail) -> float:
    return detail.start_time.timestamp() if detail.start_time is not None else 0.0


class PipelineScreen(Screen[None]):
    """One pipeline. The app calls `workspace_changed` when pipelines change."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("l", "logs", "Logs", id="logs"),
        Binding("o", "artifacts", "Artifacts", id="artifacts"),
        Binding("h", "history", "History", id="history"),
        Binding("n", "next_execution", "Next execution", id="next-execution"),
        Binding("a", "approve", "Approve", id="approve"),
        Binding("r", "retry", "Retry", id="retry"),
        Binding("x", "stop", "Stop", id="stop"),
        Binding("s", "release", "Release", id="release"),
        Binding("t", "transition", "Transition", show=False, id="transition"),
        Binding("b", "rollback", "Rollback", show=False, id="rollback"),
        Binding("up,k", "move(0, -1)", "Up", show=False, id="up"),
        Binding("down,j", "move(0, 1)", "Down", show=False, id="down"),
        Binding("left", "move(-1, 0)", "Left", show=False, id="left"),
        Binding("right", "move(1, 0)", "Right", show=False, id="right"),
    ]

    def __init__(
        self,
        pipeline: str,
        watcher: Watcher,
        *,
        clock: Callable[[], datetime] | None = None,
        animated: bool = True,
        mask_ids: bool = False,
    ) -> None:
        super().__init__(id="pipeline-screen")
        self.pipeline_name = pipeline
        self.watcher = watcher
        self.clock = clock or (lambda: datetime.now(UTC))
        self.animated = animated
        self.mask_ids = mask_ids
        self.view: PipelineView | None = None
        self.selected_execution: str | None = None
        """The execution whose runs the panels show (None: the latest state per stage)."""
        self._runs: dict[str, dict[tuple[str, str], ActionExecutionDetail]] = {}
        self._stage_names: list[str] = []
        self._panels: list[StagePanel] = []
        self._marks: list[TransitionMark] = []
        self._focused_once = False
        self._changed_while_covered = False

    # Layout ------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ExecutionHeader(
            short_id=self.short_id, short_revision=self.short_revision, id="execution"
        )
        yield StageStrip(id="stages")
        yield StatusBar()
        yield Footer()

    def short_id(self, value: str) -> str:
        return short_id(value, self.mask_ids)

    def short_revision(self, value: str | None) -> str:
        return masked_if(short_revision(value), self.mask_ids)

    @property
    def panels(self) -> list[StagePanel]:
        """The stage panels, left to right (held, see `StagePanel.rows`)."""
        return list(self._panels)

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        if self.animated:
            self.set_interval(1 / 10, self._spin)
        self.watcher.set_visible(self.pipeline_name)
        self.workspace_changed(self.watcher.workspace, frozenset({self.pipeline_name}))

    def on_screen_resume(self) -> None:
        self.watcher.set_visible(self.pipeline_name)
        if self._changed_while_covered:
            self._changed_while_covered = False
            self.workspace_changed(self.watcher.workspace, frozenset({self.pipeline_name}))
        self._tick()

    def on_unmount(self) -> None:
        if self.watcher.visible == self.pipeline_name:
            self.watcher.set_visible(None)

    # Data from the app --------------------------------------------------------------------------

    def workspace_changed(self, workspace: WorkspaceView, names: frozenset[str] | set[str]) -> None:
        if self.pipeline_name not in names and self.view is not None:
            return
        if self.view is not None and covered(self):
            # Under another screen (its logs): drawn when it comes back (`covering`).
            self._changed_while_covered = True
            return
        view = workspace.pipeline(self.pipeline_name)
        if view is None:
            return
        self.view = view
        self._redraw()
        if self.selected_execution is not None:
            self._load_runs(self.selected_execution)

    def _redraw(self) -> None:
        view = self.view
        if view is None:
            return
        execution = self._shown_execution(view)
        self.query_one(ExecutionHeader).show(
            HeaderData(view=view, execution=execution, selection=self._selection_text(view))
        )
        with self.app.batch_update():
            names = [stage.name for stage in view.stages]
            if names != self._stage_names:
                self._rebuild(view)
            else:
                for index, (panel, stage) in enumerate(zip(self._panels, view.stages, strict=True)):
                    panel.update_stage(stage, self._actions(stage))
                    if index:
                        self._marks[index - 1].show_transition(stage)
        if not self._focused_once and view.snapshot_time is not None:
            # Once the state is known (before it, nothing tells which action needs eyes);
            # the rows of freshly built panels exist after the next refresh.
            self.call_after_refresh(self._focus_first)
        self.refresh_bindings()

    def _rebuild(self, view: PipelineView) -> None:
        strip = self.query_one(StageStrip)
        strip.remove_children()
        widgets: list[StagePanel | TransitionMark] = []
        self._panels = []
        self._marks = []
        for index, stage in enumerate(view.stages):
            if index:
                mark = TransitionMark()
                mark.show_transition(stage)
                self._marks.append(mark)
                widgets.append(mark)
            panel = StagePanel(
                stage, self._actions(stage), animated=self.animated, short_id=self.short_id
            )
            self._panels.append(panel)
            widgets.append(panel)
        strip.mount_all(widgets)
        self._stage_names = [stage.name for stage in view.stages]

    def _shown_execution(self, view: PipelineView) -> ExecutionView | None:
        if self.selected_execution is not None:
            selected = view.execution(self.selected_execution)
            if selected is not None:
                return selected
        return view.latest_execution

    def _actions(self, stage: StageView) -> tuple[ActionView, ...]:
        if self.selected_execution is None:
            return stage.actions
        runs = self._runs.get(self.selected_execution, {})
        return tuple(
            action_from_run(action, runs.get((stage.name, action.name))) for action in stage.actions
        )

    def _in_progress(self, view: PipelineView) -> list[str]:
        return [e.execution_id for e in view.executions if e.active]

    def _selection_text(self, view: PipelineView) -> str | None:
        if view.execution_mode not in CONCURRENT_MODES:
            return None
        running = self._in_progress(view)
        key = self._key_for("next_execution")
        if self.selected_execution is None:
            if not running:
                return "the latest execution in each stage"
            return (
                f"the latest execution in each stage · {len(running)} in progress"
                f" · {key}: one execution at a time"
            )
        position = (
            running.index(self.selected_execution) + 1
            if self.selected_execution in running
            else None
        )
        where = f"{position} of {len(running)} in progress" if position else "not running"
        return f"execution {self.short_id(self.selected_execution)} ({where}) · {key}: next"

    def _key_for(self, action: str) -> str:
        for binding in self.active_bindings.values():
            if binding.binding.action == action:
                return binding.binding.key_display or binding.binding.key
        return "n"

    @work(exclusive=True, group="runs", exit_on_error=False)
    async def _load_runs(self, execution_id: str) -> None:
        try:
            details = await self.watcher.action_executions(self.pipeline_name, execution_id)
        except Exception as exc:
            self.post_message(ProblemOccurred(self.watcher.aws.describe(exc)))
            return
        self._runs[execution_id] = latest_runs(details)
        if execution_id == self.selected_execution:
            self._redraw()

    # Time ----------------------------------------------------------------------------------------

    def _rows(self) -> list[ActionRow]:
        return [row for panel in self._panels for row in panel.rows]

    def _tick(self) -> None:
        """Elapsed times and approval waits, redrawn only where the text changed (not under
        another screen: `covering`)."""
        if covered(self):
            return
        for row in self._rows():
            row.tick()

    def _spin(self) -> None:
        if self.is_current:
            for row in self._rows():
                if row.running:
                    row.refresh()

    # Focus ---------------------------------------------------------------------------------------

    def _focus_first(self) -> None:
        rows = [row for panel in self._panels for row in panel.rows if row.is_mounted]
        if not rows or self._focused_once:
            return
        self._focused_once = True
        wanted: list[Callable[[ActionView], bool]] = [
            lambda a: a.awaiting_approval,
            lambda a: a.status == "Failed",
            lambda a: a.status == "InProgress",
        ]
        target = next(
            (row for test in wanted for row in rows if row.action is not None and test(row.action)),
            rows[0],
        )
        target.focus()
        # Rows of panels just built may not be laid out yet: bring the whole panel into
        # view once they are.
        panel = next((p for p in self._panels if target in p.rows), None)
        if panel is not None:
            self.call_after_refresh(self._reveal, panel)

    def _reveal(self, panel: StagePanel, attempts: int = 20) -> None:
        """Scroll the strip to show `panel`, once the strip's layout includes it."""
        strip = self.query_one(StageStrip)
        laid_out = panel.region.width > 0 and strip.virtual_size.width >= sum(
            p.outer_size.width for p in self._panels
        )
        if not laid_out and attempts > 0:
            self.set_timer(0.05, partial(self._reveal, panel, attempts - 1))
            return
        strip.scroll_to_widget(panel, animate=False)

    @property
    def focused_row(self) -> ActionRow | None:
        focused = self.focused
        return focused if isinstance(focused, ActionRow) else None

    def focused_action(self) -> ActionRef | None:
        """What `l` and `o` act on: the focused action, with its execution."""
        row = self.focused_row
        if row is None or row.action is None:
            return None
        return ActionRef(
            pipeline=self.pipeline_name,
            stage=row.stage,
            action=row.action.name,
            execution_id=row.action.execution_id or self.selected_execution,
            view=row.action,
        )

    def action_move(self, dx: int, dy: int) -> None:
        panels = self.panels
        if not panels:
            return
        row = self.focused_row
        if row is None:
            self._focused_once = False
            self._focus_first()
            return
        panel_index = next((i for i, p in enumerate(panels) if row in p.rows), 0)
        rows = panels[panel_index].rows
        row_index = rows.index(row) if row in rows else 0
        if dy:
            target = rows[min(max(row_index + dy, 0), len(rows) - 1)]
        else:
            next_index = min(max(panel_index + dx, 0), len(panels) - 1)
            next_rows = panels[next_index].rows
            if not next_rows:
                return
            target = next_rows[min(row_index, len(next_rows) - 1)]
        target.focus()

    # Actions -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        factories = getattr(self.app, "screen_factories", {})
        if action in ("logs", "artifacts"):
            if action not in factories:
                return None
            return self.focused_action() is not None
        if action == "history":
            return None if "history" not in factories else True
        if action in CONTROLS:
            return self._control_available(action)
        if action == "next_execution":
            view = self.view
            if view is None or view.execution_mode not in CONCURRENT_MODES:
                return False
            return bool(self._in_progress(view)) or self.selected_execution is not None
        return True

    def action_back(self) -> None:
        self.dismiss()

    def action_logs(self) -> None:
        ref = self.focused_action()
        if ref is not None:
            self.post_message(OpenLogs(ref))

    def action_artifacts(self) -> None:
        ref = self.focused_action()
        if ref is not None:
            self.post_message(OpenArtifacts(ref))

    def action_history(self) -> None:
        self.post_message(OpenHistory(self.pipeline_name))

    def action_next_execution(self) -> None:
        view = self.view
        if view is None:
            return
        running = self._in_progress(view)
        cycle: list[str | None] = [None, *running]
        current = self.selected_execution if self.selected_execution in cycle else None
        self.selected_execution = cycle[(cycle.index(current) + 1) % len(cycle)]
        if self.selected_execution is not None:
            self._load_runs(self.selected_execution)
        self._redraw()

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

    # Controls ------------------------------------------------------------------------------------

    @property
    def read_only(self) -> bool:
        return self.watcher.client.read_only

    @property
    def production(self) -> bool:
        """The app says per context (several accounts: only some are production)."""
        production_of = getattr(self.app, "production_of", None)
        if production_of is not None:
            return bool(production_of(self.watcher))
        settings = getattr(self.app, "settings", None)
        return bool(getattr(settings, "production", False))

    def focused_stage(self) -> StageView | None:
        """The stage of the focused action, as the pipeline's state shows it."""
        row = self.focused_row
        if row is None or self.view is None:
            return None
        return self.view.stage(row.stage)

    def approval_target(self) -> PendingApproval | None:
        """What `a` answers: the focused pending approval, else the only one there is."""
        view = self.view
        if view is None:
            return None
        row = self.focused_row
        stage_view = self.focused_stage()
        if row is not None and row.action is not None and row.action.awaiting_approval:
            action = row.action
            execution_id = action.execution_id or (stage_view.execution_id if stage_view else None)
            return self._pending(view, row.stage, action, execution_id)
        pending = [
            (stage, action)
            for stage in view.stages
            for action in self._actions(stage)
            if action.awaiting_approval
        ]
        if len(pending) != 1:
            return None
        stage, action = pending[0]
        return self._pending(view, stage.name, action, action.execution_id or stage.execution_id)

    def _pending(
        self, view: PipelineView, stage: str, action: ActionView, execution_id: str | None
    ) -> PendingApproval:
        from tui.app.screens.approval import PendingApproval

        execution = view.execution(execution_id) if execution_id else None
        return PendingApproval(
            pipeline=view.name,
            stage=stage,
            action=action,
            execution_id=execution_id,
            execution_mode=view.execution_mode,
            source_revisions=execution.source_revisions if execution else (),
        )

    def stop_target(self) -> ExecutionView | None:
        """What `x` stops: the focused stage's execution while it runs, else the one shown."""
        view = self.view
        if view is None:
            return None
        candidates: list[str | None] = []
        stage = self.focused_stage()
        if stage is not None and stage.status in STOPPABLE:
            candidates.append(stage.execution_id)
        candidates.append(self.selected_execution)
        latest = view.latest_execution
        candidates.append(latest.execution_id if latest is not None else None)
        for execution_id in candidates:
            execution = view.execution(execution_id) if execution_id else None
            if execution is not None and execution.status in STOPPABLE:
                return execution
        return next((e for e in view.executions if e.status in STOPPABLE), None)

    def _control_available(self, action: str) -> bool | None:
        """Hidden (False) in read-only mode; dimmed (None) where the focus does not allow it."""
        if self.read_only:
            return False
        view = self.view
        if view is None:
            return None
        stage = self.focused_stage()
        if action == "approve":
            return True if self.approval_target() is not None else None
        if action == "release":
            return True
        if action == "stop":
            return True if self.stop_target() is not None else None
        if stage is None:
            return None
        if action == "retry":
            return True if stage.status in RETRYABLE and stage.execution_id else None
        if action == "transition":
            return True if stage.inbound_transition is not None else None
        # rollback: a V2 pipeline not in PARALLEL mode, a stage after the first, not running.
        first = bool(view.stages) and view.stages[0].name == stage.name
        possible = (
            view.pipeline_type != "V1"
            and view.execution_mode != "PARALLEL"
            and not first
            and stage.status not in STOPPABLE
        )
        return True if possible else None

    def _open_control(self, action: str, dialog: Screen[str | None] | None) -> None:
        if dialog is None or not self._control_available(action):
            self.app.bell()
            return
        self.app.push_screen(dialog)

    def action_approve(self) -> None:
        from tui.app.screens.approval import ApprovalDialog

        target = self.approval_target()
        dialog = (
            ApprovalDialog(target, self.watcher, production=self.production)
            if target is not None
            else None
        )
        self._open_control("approve", dialog)

    def action_retry(self) -> None:
        from tui.app.screens.retry import RetryDialog

        stage = self.focused_stage()
        dialog = (
            RetryDialog(self.pipeline_name, stage, self.watcher, production=self.production)
            if stage is not None
            else None
        )
        self._open_control("retry", dialog)

    def action_stop(self) -> None:
        from tui.app.screens.stop import StopDialog

        view, execution = self.view, self.stop_target()
        dialog = (
            StopDialog(
                self.pipeline_name,
                execution,
                view.stages,
                self.watcher,
                production=self.production,
            )
            if execution is not None and view is not None
            else None
        )
        self._open_control("stop", dialog)

    def action_release(self) -> None:
        from tui.app.screens.release import ReleaseDialog

        view = self.view
        dialog = (
            ReleaseDialog(view, self.watcher, production=self.production)
            if view is not None
            else None
        )
        self._open_control("release", dialog)

    def action_transition(self) -> None:
        from tui.app.screens.transition import TransitionDialog

        view, stage = self.view, self.focused_stage()
        dialog = None
        if view is not None and stage is not None:
            names = [s.name for s in view.stages]
            index = names.index(stage.name)
            previous = names[index - 1] if index > 0 else None
            dialog = TransitionDialog(
                self.pipeline_name, stage, previous, self.watcher, production=self.production
            )
        self._open_control("transition", dialog)

    def action_rollback(self) -> None:
        from tui.app.screens.rollback import RollbackDialog

        stage = self.focused_stage()
        dialog = (
            RollbackDialog(self.pipeline_name, stage, self.watcher, production=self.production)
            if stage is not None
            else None
        )
        self._open_control("rollback", dialog)
