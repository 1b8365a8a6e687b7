"""The history screen: a pipeline's executions, newest first, and the stages of the chosen one.

    web-app · execution history                                    50 shown · m: load more
     Status        Execution  Trigger                    Source revision        Started  Duration
     ● In progress 3f2a9c1e   StartPipelineExecution by… 3f9e2c1 Escape user…   3m ago   3m 10s
     ✓ Succeeded   81bc07d2   PollForSourceChanges       a1b2c3d Change the…    2h ago   4m 2s
    web-app  ● In progress · V2 · SUPERSEDED
    Execution 3f2a9c1e · ● In progress · started 3m ago (14:02) · ...
    ╭─ Source ──────────╮ → ╭─ Build ───────────╮ → ╭─ Deploy ─────────╮
    │ ✓ Checkout     1s │   │ ● Compile     12s │   │ · Publish        │

The table lists the executions (ListPipelineExecutions): status, id, trigger, first source
revision, start and duration. Moving the cursor shows that execution below in the panels the
pipeline screen uses (`StagePanel`), each action as that execution ran it
(ListActionExecutions filtered by the execution, the latest attempt of each action). Enter
moves into the panels, where `l` and `o` open the focused action's log and artifacts;
escape goes back to the table, and from the table back to the previous screen.

Decisions recorded here:

- Pages: the first read asks for `PAGE_SIZE` executions; `m`, or the cursor reaching the
  last row, asks for `PAGE_SIZE` more. [I] A "more" re-reads the list from the newest with a
  larger `max_items` rather than following a page token: the client layer pages internally,
  the rows already shown get their fresh status in the same read, and an execution that
  started meanwhile cannot shift the pages under the reader.
- [I] The list is re-read every `poll.visible` seconds while the screen is shown (the next
  read is scheduled only after the last one was drawn, so reads never overlap), and soon
  after the app reports a change of this pipeline; the chosen execution's actions are
  re-read with it while that execution is active.
- The structure of the panels is the declaration of the version the execution ran: the
  pipeline's current stages when the versions agree (or the version is unknown), else
  GetPipeline of that version. Actions the runs name that the structure lacks are appended.
- [I] A stage's status in one execution is derived from its actions' latest attempts: in
  progress if one runs, failed if one failed, stopped if one was abandoned, succeeded if
  every action succeeded, not run if none ran; partly run, it is in progress while the
  execution runs, stopped if the execution was stopped, else cancelled.
- Rows are keyed by execution id and updated in place (`PipelineTable.put_row`), so the
  cursor stays on its execution when newer ones arrive above it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker

from tui.app.covering import covered
from tui.app.messages import ActionRef, OpenArtifacts, OpenLogs, ProblemOccurred
from tui.app.screens.pipeline import StageStrip, action_from_run, latest_runs
from tui.app.widgets.action_row import ActionRow
from tui.app.widgets.execution_header import ExecutionHeader, HeaderData, trigger_by
from tui.app.widgets.glyphs import Palette
from tui.app.widgets.masking import masked_if, short_id
from tui.app.widgets.pipeline_table import PipelineTable
from tui.app.widgets.stage_panel import StagePanel, TransitionMark
from tui.app.widgets.status_bar import StatusBar
from tui.aws.watch import Watcher
from tui.model.declaration import PipelineDeclaration, parse_pipeline
from tui.model.derived import (
    execution_elapsed,
    first_line,
    humanize_age,
    humanize_duration,
    short_revision,
)
from tui.model.projection import ActionView, ExecutionView, StageView
from tui.model.state import (
    ActionExecutionDetail,
    PipelineExecutionSummary,
    StageExecutionStatus,
)
from tui.model.view import PipelineView, WorkspaceView

PAGE_SIZE: Final = 50
PREVIEW_DELAY: Final = 0.15
"""Seconds the cursor rests on a row before its execution's actions are read."""
COLUMNS: Final = (
    ("status", "Status"),
    ("execution", "Execution"),
    ("trigger", "Trigger"),
    ("revision", "Source revision"),
    ("started", "Started"),
    ("duration", "Duration"),
)
FIXED_WIDTHS: Final = {"status": 13, "execution": 9, "started": 9, "duration": 9}
TRIGGER_WIDTH: Final = (14, 28)
REVISION_MIN: Final = 16
ACTIVE: Final = frozenset({"InProgress", "Stopping"})


def execution_view(summary: PipelineExecutionSummary) -> ExecutionView:
    """What the header and the rows show of one ListPipelineExecutions item."""
    trigger = summary.trigger
    return ExecutionView(
        execution_id=summary.pipeline_execution_id,
        status=summary.status,
        status_summary=summary.status_summary,
        start_time=summary.start_time,
        last_update_time=summary.last_update_time,
        trigger_type=trigger.trigger_type if trigger is not None else None,
        trigger_detail=trigger.trigger_detail if trigger is not None else None,
        stop_reason=summary.stop_trigger.reason if summary.stop_trigger is not None else None,
        source_revisions=summary.source_revisions,
        execution_mode=summary.execution_mode,
        execution_type=summary.execution_type,
        rollback_target=(
            summary.rollback_metadata.rollback_target_pipeline_execution_id
            if summary.rollback_metadata is not None
            else None
        ),
    )


def declared_stages(declaration: PipelineDeclaration) -> tuple[StageView, ...]:
    """The stages and actions a declaration names, none of them run."""
    return tuple(
        StageView(
            name=stage.name,
            actions=tuple(
                ActionView(
                    name=action.name,
                    category=action.action_type_id.category,
                    provider=action.action_type_id.provider,
                    region=action.region,
                    run_order=action.run_order,
                    timeout_in_minutes=action.timeout_in_minutes,
                )
                for action in stage.actions
            ),
        )
        for stage in declaration.stages
    )


def stage_status(
    actions: Sequence[ActionView], execution_status: str | None
) -> StageExecutionStatus | None:
    """A stage's status in one execution, from its actions (see the module docstring)."""
    statuses = [a.status for a in actions]
    if "InProgress" in statuses:
        return "InProgress"
    if "Failed" in statuses:
        return "Failed"
    if "Abandoned" in statuses:
        return "Stopped"
    ran = [s for s in statuses if s is not None]
    if not ran:
        return None
    if len(ran) == len(statuses):
        return "Succeeded"
    if execution_status in ACTIVE:
        return "InProgress" if execution_status == "InProgress" else "Stopping"
    if execution_status == "Stopped":
        return "Stopped"
    return "Cancelled"


def execution_stages(
    structure: Sequence[StageView],
    details: Sequence[ActionExecutionDetail],
    execution: ExecutionView,
) -> tuple[StageView, ...]:
    """Every stage as `execution` ran it: its actions' latest attempts on the structure."""
    runs = latest_runs(details)
    stages: list[StageView] = []
    named: set[tuple[str, str]] = set()
    for declared in structure:
        actions = [action_from_run(a, runs.get((declared.name, a.name))) for a in declared.actions]
        named.update((declared.name, a.name) for a in declared.actions)
        extra = sorted(
            (run for key, run in runs.items() if key[0] == declared.name and key not in named),
            key=lambda run: run.start_time or datetime.min.replace(tzinfo=UTC),
        )
        for run in extra:
            actions.append(action_from_run(ActionView(name=run.action_name or "?"), run))
            named.add((declared.name, run.action_name or "?"))
        stages.append(_stage(declared.name, actions, execution))
    unknown: dict[str, list[ActionView]] = {}
    for (stage_name, action_name), run in runs.items():
        if (stage_name, action_name) not in named:
            unknown.setdefault(stage_name, []).append(
                action_from_run(ActionView(name=action_name), run)
            )
    for stage_name, actions in unknown.items():
        stages.append(_stage(stage_name, actions, execution))
    return tuple(stages)


def focus_stage(stages: Sequence[StageView]) -> int | None:
    """The stage to bring into view: a failed one, else the furthest that is running or
    waiting, else the furthest that ran."""
    for index, stage in enumerate(stages):
        if stage.status == "Failed":
            return index
    for wanted in (("InProgress", "Stopping"), None):
        for index in range(len(stages) - 1, -1, -1):
            status = stages[index].status
            if (wanted is None and status is not None) or (wanted and status in wanted):
                return index
    return None


def _stage(name: str, actions: Sequence[ActionView], execution: ExecutionView) -> StageView:
    starts = [a.started_at for a in actions if a.started_at is not None]
    changes = [a.last_change for a in actions if a.last_change is not None]
    status = stage_status(actions, execution.status)
    return StageView(
        name=name,
        status=status,
        execution_id=execution.execution_id if status is not None else None,
        started_at=min(starts, default=None),
        last_change=max(changes, default=None),
        actions=tuple(actions),
    )


class ExecutionTable(PipelineTable):
    """The executions, one row each; enter shows the chosen one's stages."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Stages", id="show-stages"),
    ]


class HistoryScreen(Screen[None]):
    """The executions of `pipeline` (registered as the app's "history" screen)."""

    CSS_PATH = "history.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("m", "load_more", "Load more", id="load-more"),
        Binding("l", "logs", "Logs", id="logs"),
        Binding("o", "artifacts", "Artifacts", id="artifacts"),
        Binding("down,j", "move(0, 1)", "Down", show=False, id="down"),
        Binding("up,k", "move(0, -1)", "Up", show=False, id="up"),
        Binding("left", "move(-1, 0)", "Left", show=False, id="left"),
        Binding("right", "move(1, 0)", "Right", show=False, id="right"),
    ]

    def __init__(
        self,
        pipeline: str,
        *,
        watcher: Watcher | None = None,
        clock: Callable[[], datetime] | None = None,
        page_size: int = PAGE_SIZE,
        refresh_every: float | None = None,
        mask_ids: bool | None = None,
        animated: bool | None = None,
    ) -> None:
        super().__init__()
        self.pipeline_name = pipeline
        self._watcher = watcher
        self._clock = clock
        self.page_size = page_size
        self.wanted = page_size
        """How many executions the list asks for (grows by a page with each "more")."""
        self.refresh_every = refresh_every
        self._mask_ids = mask_ids
        self._animated = animated
        self.executions: tuple[ExecutionView, ...] = ()
        self.listed = False
        self.more_possible = False
        self.chosen: str | None = None
        """The execution shown in the panels."""
        self.shown_stages: tuple[StageView, ...] = ()
        self.problem_text: str | None = None
        self.list_reads = 0
        self._loading = False
        self._next_read: Timer | None = None
        self._changed_while_covered = False
        self._structures: dict[int, tuple[StageView, ...]] = {}
        self._stage_names: list[str] = []
        self._panels: list[StagePanel] = []
        self._revealed: str | None = None
        self._widths: dict[str, int] = {}
        self.list_worker: Worker[None] | None = None
        self.runs_worker: Worker[None] | None = None

    # Dependencies ---------------------------------------------------------------------------------

    @property
    def watcher(self) -> Watcher:
        if self._watcher is None:
            watcher = getattr(self.app, "watcher", None)
            if not isinstance(watcher, Watcher):
                raise RuntimeError("the history screen needs the app's watcher")
            self._watcher = watcher
        return self._watcher

    def now(self) -> datetime:
        clock = self._clock or getattr(self.app, "clock", None)
        return clock() if clock is not None else datetime.now(UTC)

    def _setting(self, name: str, default: Any) -> Any:
        return getattr(getattr(self.app, "settings", None), name, default)

    @property
    def mask_ids(self) -> bool:
        if self._mask_ids is None:
            self._mask_ids = bool(self._setting("mask_ids", False))
        return self._mask_ids

    @property
    def animated(self) -> bool:
        if self._animated is None:
            self._animated = bool(self._setting("animations", True))
        return self._animated

    @property
    def poll_seconds(self) -> float:
        if self.refresh_every is not None:
            return self.refresh_every
        poll = self._setting("poll", None)
        return float(getattr(poll, "visible", 5.0))

    def short_id(self, value: str) -> str:
        return short_id(value, self.mask_ids)

    def short_revision(self, value: str | None) -> str:
        return masked_if(short_revision(value), self.mask_ids)

    # Layout ---------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="history-title")
        table = ExecutionTable(id="history-table")
        for key, label in COLUMNS:
            table.add_column(label, key=key, width=len(label))
        yield table
        yield ExecutionHeader(
            short_id=self.short_id, short_revision=self.short_revision, id="history-execution"
        )
        yield StageStrip(id="history-stages")
        yield StatusBar()
        yield Footer()

    @property
    def table(self) -> ExecutionTable:
        return self.query_one(ExecutionTable)

    @property
    def panels(self) -> list[StagePanel]:
        return list(self._panels)

    def on_mount(self) -> None:
        status = getattr(self.app, "watch_status", None)
        if status is not None:
            self.query_one(StatusBar).status = status
        self.query_one(ExecutionHeader).display = False
        self.set_interval(1.0, self._tick)
        self._fit_columns()
        self._show_title()
        self.table.focus()
        self.list_worker = self.read_list()

    def on_resize(self) -> None:
        self._fit_columns()
        self._show_title()

    def on_unmount(self) -> None:
        if self._next_read is not None:
            self._next_read.stop()

    # Reading --------------------------------------------------------------------------------------

    @work(exclusive=True, group="history-list", exit_on_error=False)
    async def read_list(self, delay: float = 0.0) -> None:
        """ListPipelineExecutions (newest `wanted`), then the next read is scheduled."""
        if delay:
            await asyncio.sleep(delay)
        if self._next_read is not None:
            self._next_read.stop()
            self._next_read = None
        if covered(self):
            self._changed_while_covered = True  # read again when shown (`covering`)
            return
        self._loading = True
        try:
            summaries = await self.watcher.executions(self.pipeline_name, max_items=self.wanted)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            problem = self.watcher.aws.describe(exc)
            self.problem_text = f"{problem.title}: {problem.detail}"
            self.post_message(ProblemOccurred(problem))
            self._show_title()
            self._schedule_read()
            return
        finally:
            self._loading = False
        self.list_reads += 1
        self.problem_text = None
        self.more_possible = len(summaries) >= self.wanted
        self.listed = True
        self.show_executions(tuple(execution_view(s) for s in summaries))
        chosen = self.chosen
        if chosen is None and self.executions:
            self._choose(self.executions[0].execution_id, delay=0.0)
        elif chosen is not None and self._is_active(chosen):
            self._choose(chosen, delay=0.0)
        self._schedule_read()

    def _schedule_read(self) -> None:
        if self.is_mounted:
            self._next_read = self.set_timer(self.poll_seconds, self.read_list)

    def _is_active(self, execution_id: str) -> bool:
        execution = self._execution(execution_id)
        return execution is not None and execution.status in ACTIVE

    def _execution(self, execution_id: str) -> ExecutionView | None:
        return next((e for e in self.executions if e.execution_id == execution_id), None)

    def workspace_changed(self, workspace: WorkspaceView, names: Iterable[str]) -> None:
        """The app saw this pipeline change: read the list again soon (not for the change
        this screen's own read caused); under another screen, when it comes back
        (`covering`)."""
        if self.pipeline_name in names and not self._loading and self.listed:
            if covered(self):
                self._changed_while_covered = True
                return
            self.list_worker = self.read_list(delay=0.2)

    def on_screen_resume(self) -> None:
        if self._changed_while_covered:
            self._changed_while_covered = False
            if not self._loading and self.listed:
                self.list_worker = self.read_list(delay=0.0)
        self._tick()

    def _choose(self, execution_id: str, *, delay: float) -> None:
        if execution_id != self.chosen:
            self.chosen = execution_id
            self._show_header()
        self.runs_worker = self.read_runs(execution_id, delay)

    @work(exclusive=True, group="history-runs", exit_on_error=False)
    async def read_runs(self, execution_id: str, delay: float = 0.0) -> None:
        """The chosen execution's action runs, drawn as stage panels."""
        if delay:
            await asyncio.sleep(delay)
        execution = self._execution(execution_id)
        if execution is None:
            return
        try:
            details = await self.watcher.action_executions(self.pipeline_name, execution_id)
            structure = await self._structure(details)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.post_message(ProblemOccurred(self.watcher.aws.describe(exc)))
            return
        if execution_id != self.chosen:
            return
        self.show_stages(execution_stages(structure, details, execution))

    async def _structure(self, details: Sequence[ActionExecutionDetail]) -> tuple[StageView, ...]:
        view = self.watcher.workspace.pipeline(self.pipeline_name)
        current = view.stages if view is not None else ()
        versions = {d.pipeline_version for d in details if d.pipeline_version is not None}
        if not versions:
            return current
        version = max(versions)
        if view is not None and view.version == version and current:
            return current
        known = self._structures.get(version)
        if known is None:
            response = await self.watcher.client.get_pipeline(self.pipeline_name, version)
            declaration = parse_pipeline(response.get("pipeline"))
            known = declared_stages(declaration)
            self._structures[version] = known
        return known

    # Drawing the list -----------------------------------------------------------------------------

    def _palette(self) -> Palette:
        return Palette.of(self.app.theme_variables)

    def show_executions(self, executions: tuple[ExecutionView, ...]) -> None:
        self.executions = executions
        table = self.table
        palette = self._palette()
        now = self.now()
        with self.app.batch_update():
            for execution in executions:
                table.put_row(execution.execution_id, self._cells(execution, palette, now))
            keys = [e.execution_id for e in executions]
            if keys != table.row_keys:
                table.show(keys)
            self._fit_columns()
            self._show_title()
        if self.chosen is not None:
            self._show_header()

    def _cells(self, execution: ExecutionView, palette: Palette, now: datetime) -> dict[str, Text]:
        muted = palette.style("muted")
        trigger = Text(no_wrap=True, overflow="ellipsis")
        if execution.trigger_type:
            trigger.append(execution.trigger_type)
            by = trigger_by(execution.trigger_detail)
            if by:
                trigger.append(f" by {by}", style=muted)
        revision = Text(no_wrap=True, overflow="ellipsis")
        if execution.source_revisions:
            source = execution.source_revisions[0]
            short = self.short_revision(source.revision_id)
            if short:
                revision.append(short, style="bold")
                revision.append(" ")
            revision.append(first_line(source.revision_summary))
        return {
            "status": palette.status(execution.status),
            "execution": Text(self.short_id(execution.execution_id)),
            "trigger": trigger,
            "revision": revision,
            **self._time_cells(execution, palette, now),
        }

    def _time_cells(
        self, execution: ExecutionView, palette: Palette, now: datetime
    ) -> dict[str, Text]:
        muted = palette.style("muted")
        if execution.start_time is None:
            return {"started": Text("—", style=muted), "duration": Text("—", style=muted)}
        spent = execution_elapsed(execution, now)
        return {
            "started": Text(humanize_age(execution.start_time, now)),
            "duration": Text(humanize_duration(spent) if spent is not None else "—"),
        }

    def _tick(self) -> None:
        if not self.executions or covered(self):
            return
        palette = self._palette()
        now = self.now()
        with self.app.batch_update():
            for execution in self.executions:
                self.table.put_row(
                    execution.execution_id, self._time_cells(execution, palette, now)
                )
        for row in self.query(ActionRow):
            if row.running:
                row.refresh()

    def _fit_columns(self) -> None:
        if not self.is_mounted:
            return
        table = self.table
        widths = dict(FIXED_WIDTHS)
        triggers = [
            len(e.trigger_type or "") + len(f" by {trigger_by(e.trigger_detail)}")
            for e in self.executions
        ]
        widths["trigger"] = min(max(max(triggers, default=0), TRIGGER_WIDTH[0]), TRIGGER_WIDTH[1])
        padding = 2 * table.cell_padding * len(COLUMNS)
        available = table.size.width or self.size.width
        widths["revision"] = max(REVISION_MIN, available - sum(widths.values()) - padding - 2)
        if widths != self._widths:
            self._widths = widths
            table.set_widths(widths)

    def _show_title(self) -> None:
        palette = self._palette()
        muted = palette.style("muted")
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(self.pipeline_name, style="bold")
        title.append(" · execution history", style=muted)
        right = Text(no_wrap=True)
        if self.problem_text is not None:
            right.append(self.problem_text, style=palette.style("error"))
        elif not self.listed:
            right.append("loading…", style=muted)
        elif not self.executions:
            right.append("no executions yet", style=muted)
        elif self.more_possible:
            right.append(f"newest {len(self.executions)} · ", style=muted)
            right.append(f"{self._key('load_more', 'm')}: load more", style="bold")
        else:
            count = len(self.executions)
            right.append(f"all {count} execution{'s' if count != 1 else ''}", style=muted)
        width = self.size.width or 80
        gap = max(width - title.cell_len - right.cell_len - 2, 2)
        title.append(" " * gap)
        title.append_text(right)
        self.query_one("#history-title", Static).update(title)

    def _key(self, action: str, fallback: str) -> str:
        for key, active in self.active_bindings.items():
            if active.binding.action == action:
                return self.app.get_key_display(active.binding) or key
        return fallback

    # Drawing the chosen execution -----------------------------------------------------------------

    def _show_header(self) -> None:
        header = self.query_one(ExecutionHeader)
        execution = self._execution(self.chosen) if self.chosen else None
        if execution is None:
            header.display = False
            return
        view = self.watcher.workspace.pipeline(self.pipeline_name)
        header.display = True
        header.show(
            HeaderData(view=view or PipelineView.empty(self.pipeline_name), execution=execution)
        )

    def show_stages(self, stages: tuple[StageView, ...]) -> None:
        self.shown_stages = stages
        strip = self.query_one(StageStrip)
        names = [stage.name for stage in stages]
        with self.app.batch_update():
            if names != self._stage_names:
                strip.remove_children()
                widgets: list[StagePanel | TransitionMark] = []
                self._panels = []
                for index, stage in enumerate(stages):
                    if index:
                        widgets.append(TransitionMark("→"))
                    panel = StagePanel(
                        stage, stage.actions, animated=self.animated, short_id=self.short_id
                    )
                    self._panels.append(panel)
                    widgets.append(panel)
                strip.mount_all(widgets)
                self._stage_names = names
            else:
                for panel, stage in zip(self._panels, stages, strict=True):
                    panel.update_stage(stage, stage.actions)
        if self._revealed != self.chosen:
            self._revealed = self.chosen
            self.call_after_refresh(self._reveal, focus_stage(stages))
        self.refresh_bindings()

    def _reveal(self, index: int | None) -> None:
        """Scroll the strip so the stage that tells the execution's story is in view."""
        if index is not None and index < len(self._panels):
            self.query_one(StageStrip).scroll_to_widget(self._panels[index], animate=False)

    # Focus and keys -------------------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#history-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None
        if key is None:
            return
        if key != self.chosen:
            self._choose(str(key), delay=PREVIEW_DELAY)
        if event.cursor_row >= self.table.row_count - 1 and self.more_possible:
            self.action_load_more()

    @on(DataTable.RowSelected, "#history-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value if event.row_key is not None else None
        if key is None:
            return
        if key != self.chosen or not self.shown_stages:
            self._choose(str(key), delay=0.0)
        self._focus_panels()

    def _focus_panels(self) -> None:
        rows = list(self.query(ActionRow))
        if not rows:
            return
        checks: tuple[Callable[[ActionView], bool], ...] = (
            lambda a: a.status == "Failed",
            lambda a: a.status == "InProgress",
        )
        for wanted in checks:
            for row in rows:
                if row.action is not None and wanted(row.action):
                    row.focus()
                    return
        rows[0].focus()

    @property
    def focused_row(self) -> ActionRow | None:
        focused = self.focused
        return focused if isinstance(focused, ActionRow) else None

    def focused_action(self) -> ActionRef | None:
        """The action `l` and `o` act on: the focused one, in the chosen execution."""
        row = self.focused_row
        if row is None or row.action is None or self.chosen is None:
            return None
        return ActionRef(
            pipeline=self.pipeline_name,
            stage=row.stage,
            action=row.action.name,
            execution_id=self.chosen,
            view=replace(row.action, execution_id=row.action.execution_id or self.chosen),
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        factories = getattr(self.app, "screen_factories", {})
        if action in ("logs", "artifacts"):
            if action not in factories:
                return None
            return self.focused_action() is not None
        if action == "load_more":
            return self.more_possible
        return True

    def action_back(self) -> None:
        if self.focused_row is not None:
            self.table.focus()
            return
        self.dismiss()

    def action_load_more(self) -> None:
        if not self.more_possible or self._loading:
            return
        self.wanted = len(self.executions) + self.page_size
        self.more_possible = False
        self._show_title()
        self.list_worker = self.read_list()

    def action_logs(self) -> None:
        ref = self.focused_action()
        if ref is not None:
            self.post_message(OpenLogs(ref))

    def action_artifacts(self) -> None:
        ref = self.focused_action()
        if ref is not None:
            self.post_message(OpenArtifacts(ref))

    def action_move(self, dx: int, dy: int) -> None:
        row = self.focused_row
        if row is None:
            if dy > 0:
                self.table.action_cursor_down()
            elif dy < 0:
                self.table.action_cursor_up()
            return
        panels = self.panels
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

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()
