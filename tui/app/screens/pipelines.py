"""The pipelines screen: every pipeline, one row each, live.

    12 pipelines   ● 2 running   ✗ 1 failed   ◆ 1 awaiting approval        sort: name
     Pipeline        Status              Stage     Source revision              Started  Duration
     payments-api    ✗ Failed            Test      a1b2c3d Change the greeting…  3m ago   1m 2s
     web-app         ◆ Awaiting approval Approve   3f9e2c1 Escape user input…    5m ago   4m 40s

Each row is the pipeline's latest execution: status (glyph, word, colour), the stage it runs
in (or failed in, or waits for approval in), its first source revision (short id and the
first line of its message), when it started and how long it ran (or has been running).
`/` filters as you type (every word must appear in the name, status, stage or commit message;
escape clears), `s` cycles the sort (name, status, recency), enter opens the pipeline.

Decisions recorded here:

- Rows are computed once per change of their pipeline (`_Row`: cells, search text, sort
  keys) and kept by the table whether shown or not; a filter keystroke only picks and orders
  keys over that precomputed data and installs them in one step (`PipelineTable.show`), and
  a change of one pipeline updates only its cells that differ. The rows in sort order are
  kept until a row or the sort changes, so a keystroke filters without sorting. The
  once-a-second tick recomputes only the two time columns of the rows on screen.
- [I] Status sort order: awaiting approval, failed, running, stopping, stopped, then the
  finished ones; ties by name. Recency: newest start first; never-run pipelines last.
- [I] The list shows no spinners: a still glyph per running row keeps thousands of rows
  cheap; the pipeline screen spins.
- The cursor follows its pipeline across re-sorts and filters.
- Several contexts (accounts, regions; `tui.app.contexts`): the app hands a `FleetView` and
  rows are keyed `context/name` (`tui.model.fleet.scoped`), so two pipelines called
  "web-app" are two rows. [I] Account and region columns appear only then, after the name:
  with one context they would repeat the status bar on every row. Ties in every sort are
  broken by the key, so the order is stable. `c` (binding id `context`) shows one context's
  rows, then the next, then all again; the summary counts what is shown and names the
  context; the filter also matches the context's label, account and region.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from tui.app.covering import covered
from tui.app.messages import OpenHistory, OpenPipeline
from tui.app.widgets.filter_input import FilterInput
from tui.app.widgets.glyphs import Palette, look
from tui.app.widgets.masking import masked_if
from tui.app.widgets.pipeline_table import PipelineTable
from tui.app.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from tui.model.derived import (
        current_stage,
        execution_elapsed,
        failed_stage,
        first_line,
        humanize_age,
        humanize_duration,
        pending_approvals,
        short_revision,
    )
    from tui.model.fleet import FleetView, split_key
    from tui.model.view import PipelineView, WorkspaceView
else:
    # The first frame imports this screen, not the model (pydantic): these names import it
    # at their first use, once the app's watchers have loaded it (`tui.app.deferred`).
    from tui.app.deferred import deferred

    (
        current_stage,
        execution_elapsed,
        failed_stage,
        first_line,
        humanize_age,
        humanize_duration,
        pending_approvals,
        short_revision,
    ) = deferred(
        globals(),
        "tui.model.derived",
        "current_stage",
        "execution_elapsed",
        "failed_stage",
        "first_line",
        "humanize_age",
        "humanize_duration",
        "pending_approvals",
        "short_revision",
    )
    FleetView, split_key = deferred(globals(), "tui.model.fleet", "FleetView", "split_key")
    (WorkspaceView,) = deferred(globals(), "tui.model.view", "WorkspaceView")

SortMode = Literal["name", "status", "recency"]
SORTS: Final[tuple[SortMode, ...]] = ("name", "status", "recency")
SORT_WORDS: Final[dict[SortMode, str]] = {
    "name": "name",
    "status": "status",
    "recency": "most recent",
}
COLUMNS: Final = (
    ("name", "Pipeline"),
    ("status", "Status"),
    ("stage", "Stage"),
    ("revision", "Source revision"),
    ("started", "Started"),
    ("duration", "Duration"),
)
CONTEXT_COLUMNS: Final = (("account", "Account"), ("region", "Region"))
"""Shown after the name with several contexts."""
TIME_COLUMNS: Final = ("started", "duration")
STATUS_RANK: Final[dict[str, int]] = {
    "AwaitingApproval": 0,
    "Failed": 1,
    "InProgress": 2,
    "Stopping": 3,
    "Stopped": 4,
    "Cancelled": 5,
    "Superseded": 6,
    "Succeeded": 7,
    "Idle": 8,
    "Unknown": 9,
}
# Content widths: fixed ones, and bounds of the ones that follow their content.
STATUS_WIDTH: Final = 19
TIME_WIDTH: Final = 8
NAME_BOUNDS: Final = (8, 40)
STAGE_BOUNDS: Final = (5, 20)
REVISION_MIN: Final = 8
ACCOUNT_WIDTH: Final = 12
REGION_BOUNDS: Final = (6, 14)


@dataclass
class _Row:
    name: str
    view: PipelineView
    cells: dict[str, Text]
    search: str
    status_rank: int
    started: float
    key: str = ""
    """The row's key: the name, or `context/name` with several contexts."""
    context: str | None = None


class PipelinesScreen(Screen[None]):
    """Every pipeline, live. The app calls `workspace_changed` when pipelines change."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("s", "sort", "Sort", id="sort"),
        Binding("h", "history", "History", id="history"),
        Binding("escape", "clear_filter", "Clear filter", id="clear-filter"),
        Binding("c", "context", "Context", id="context"),
        Binding("j", "cursor_down", "Down", show=False, id="down"),
        Binding("k", "cursor_up", "Up", show=False, id="up"),
    ]

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        mask_ids: bool = False,
        name: str | None = None,
        contexts: tuple[str, ...] = (),
    ) -> None:
        super().__init__(name=name, id="pipelines-screen")
        self.clock = clock or (lambda: datetime.now(UTC))
        self.mask_ids = mask_ids
        self.contexts = contexts if len(contexts) > 1 else ()
        """The labels of the contexts watched, when there are several."""
        self.shown_context: str | None = None
        """The one context whose rows are shown (None: every context's)."""
        self.sort_mode: SortMode = "name"
        self.filter_text = ""
        self.workspace: WorkspaceView | FleetView | None = None
        """What the app last handed (None until the first list: the first frame is drawn
        before the model is imported)."""
        self.listed = False
        self._rows: dict[str, _Row] = {}
        self._order: list[str] = []
        self._sorted: list[str] | None = None
        self._lengths: dict[str, Counter[int]] = {
            column: Counter() for column in ("name", "stage", "region")
        }
        """How many rows have each length of name, stage and region (the widths' maxima)."""
        self._palette: Palette | None = None
        self._widths: dict[str, int] = {}
        self._summary: Text | None = None
        self._cursor_on_row: bool | None = None
        self._changed_while_covered: set[str] = set()

    # Layout ------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        table = PipelineTable(id="pipelines")
        columns = COLUMNS[:1] + CONTEXT_COLUMNS + COLUMNS[1:] if self.contexts else COLUMNS
        for key, label in columns:
            table.add_column(label, key=key, width=len(label))
        yield table
        yield FilterInput(placeholder="filter pipelines (escape clears)", id="filter")
        yield StatusBar()
        yield Footer()

    @property
    def table(self) -> PipelineTable:
        return self.query_one(PipelineTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    def on_mount(self) -> None:
        self.filter_input.display = False
        self._palette = Palette.of(self.app.theme_variables)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.set_interval(1.0, self._tick)
        # Scrolling brings other rows on screen: they are read first from then on.
        self.watch(self.table, "scroll_y", self._scrolled, init=False)
        self._fit_columns()
        self._show_summary()
        self.table.focus()

    def _scrolled(self, _scroll_y: float) -> None:
        self._tell_rows_on_screen()

    def _theme_changed(self, _theme: Any) -> None:
        self._palette = Palette.of(self.app.theme_variables)
        self._recompute(self._rows)

    def on_resize(self, _event: Resize) -> None:
        self._fit_columns()
        self._tell_rows_on_screen()

    # Data from the app --------------------------------------------------------------------------

    def workspace_changed(self, workspace: WorkspaceView | FleetView, names: Iterable[str]) -> None:
        """The workspace after a change of `names` (all of them when the list changed).
        Under another screen the rows wait for this one to come back (`covering`)."""
        self.workspace = workspace
        # The watcher's first change is the first answer of ListPipelines (even an empty one).
        self.listed = True
        if covered(self):
            self._changed_while_covered.update(names)
            return
        self._recompute(names)

    def on_screen_resume(self) -> None:
        if self._changed_while_covered:
            names, self._changed_while_covered = self._changed_while_covered, set()
            self._recompute(names)
        self._tick()

    def _recompute(self, names: Iterable[str]) -> None:
        """Rows of `names` again. What is worked out over every row (the sort, the column
        widths) is redone only when a changed row can change it: a change of status for one
        of 2,000 pipelines then costs that row, not the list."""
        table = self.table
        now = self.clock()
        palette = self.palette
        with self.app.batch_update():
            for name in list(names):
                view = self.workspace.pipeline(name) if self.workspace is not None else None
                old = self._rows.get(name)
                if view is None:
                    if old is not None:
                        self._forget_row(old)
                        del self._rows[name]
                        self._sorted = None
                    table.forget_row(name)
                    continue
                row = self._row(view, now, palette, name)
                if old is not None:
                    self._forget_row(old)
                if old is None or _sort_key(old, self.sort_mode) != _sort_key(row, self.sort_mode):
                    self._sorted = None
                self._rows[name] = row
                self._count_row(row)
                table.put_row(name, row.cells)
            self._fit_columns()
            self._reorder()
            self._show_summary()

    def _count_row(self, row: _Row, step: int = 1) -> None:
        """Count a row's lengths in (`step` 1) or out (-1) of the columns' widths."""
        for column, length in _lengths_of(row):
            counts = self._lengths[column]
            counts[length] += step
            if counts[length] <= 0:
                del counts[length]

    def _forget_row(self, row: _Row) -> None:
        self._count_row(row, -1)

    @property
    def palette(self) -> Palette:
        if self._palette is None:
            self._palette = Palette.of(self.app.theme_variables)
        return self._palette

    def _row(
        self, view: PipelineView, now: datetime, palette: Palette, key: str | None = None
    ) -> _Row:
        latest = view.latest_execution
        stage_text = Text()
        approvals = pending_approvals(view)
        if approvals:
            stage_text = Text(approvals[0][0].name, style=palette.style("warning"))
        elif (failed := failed_stage(view)) is not None and view.status == "Failed":
            stage_text = Text(failed.name, style=palette.style("error"))
        elif (running := current_stage(view)) is not None:
            stage_text = Text(running.name, style=palette.style("running"))
        revision = Text(no_wrap=True, overflow="ellipsis")
        message = ""
        if latest is not None and latest.source_revisions:
            source = latest.source_revisions[0]
            short = short_revision(source.revision_id)
            if short:
                revision.append(masked_if(short, self.mask_ids), style="bold")
                revision.append(" ")
            message = first_line(source.revision_summary)
            revision.append(message)
        cells = {
            "name": Text(view.name, no_wrap=True, overflow="ellipsis"),
            "status": palette.status(view.status),
            "stage": stage_text,
            "revision": revision,
            **self._time_cells(view, now, palette),
        }
        search = " ".join((view.name, look(view.status).word, stage_text.plain, message)).lower()
        context = None
        located = split_key(key) if key is not None and self.contexts else None
        if located is not None and isinstance(self.workspace, FleetView):
            context = located[0]
            place = self.workspace.place(context)
            muted = palette.style("muted")
            cells["account"] = Text(place.account or "…", style="" if place.account else muted)
            cells["region"] = Text(place.region or "…", style="" if place.region else muted)
            search = " ".join((search, context.lower(), place.account or "", place.region or ""))
        start = latest.start_time if latest is not None else None
        return _Row(
            name=view.name,
            view=view,
            cells=cells,
            search=search,
            status_rank=STATUS_RANK.get(view.status, 99),
            started=start.timestamp() if start is not None else -math.inf,
            key=key or view.name,
            context=context,
        )

    def _time_cells(self, view: PipelineView, now: datetime, palette: Palette) -> dict[str, Text]:
        latest = view.latest_execution
        muted = palette.style("muted")
        if latest is None or latest.start_time is None:
            return {"started": Text("—", style=muted), "duration": Text("—", style=muted)}
        spent = execution_elapsed(latest, now)
        return {
            "started": Text(humanize_age(latest.start_time, now)),
            "duration": Text(humanize_duration(spent) if spent is not None else "—"),
        }

    def _tick(self) -> None:
        """Ages and durations of the rows on screen (rows scrolled to or shown by a filter
        catch up at the next tick, within a second; under another screen, at its return)."""
        if covered(self):
            return
        now = self.clock()
        palette = self.palette
        table = self.table
        first = max(int(table.scroll_y) - 1, 0)
        on_screen = self._order[first : first + table.size.height + 1]
        with self.app.batch_update():
            for name in on_screen:
                row = self._rows.get(name)
                if row is None:
                    continue
                latest = row.view.latest_execution
                if latest is None or latest.start_time is None:
                    continue
                cells = self._time_cells(row.view, now, palette)
                row.cells.update(cells)
                table.put_row(row.key, cells)

    # Filter and sort ---------------------------------------------------------------------------

    def _sorted_keys(self) -> list[str]:
        """Every row's key in the current sort order, kept until a row comes or goes, a
        row's sort key changes, or the sort does (a filter keystroke then only filters, and
        a status change that moves no row sorts nothing)."""
        if self._sorted is None:
            mode = self.sort_mode
            rows = sorted(self._rows.values(), key=lambda r: _sort_key(r, mode))
            self._sorted = [r.key for r in rows]
        return self._sorted

    def _ordered(self) -> list[str]:
        words = self.filter_text.lower().split()
        keys = self._sorted_keys()
        rows = self._rows
        if self.shown_context is not None:
            shown = self.shown_context
            keys = [k for k in keys if rows[k].context == shown]
        if not words:
            return list(keys)
        if len(words) == 1:
            word = words[0]
            return [k for k in keys if word in rows[k].search]
        return [k for k in keys if all(w in rows[k].search for w in words)]

    def _reorder(self) -> None:
        order = self._ordered()
        if order != self._order:
            had_rows = bool(self._order)
            self._order = order
            self.table.show(order)
            self._tell_rows_on_screen()
            if had_rows != bool(order):
                # Keys that need a row under the cursor appear or go.
                self.refresh_bindings()

    def _tell_rows_on_screen(self) -> None:
        """The watchers read the rows on screen first (the first fill starts at the top)."""
        rows_on_screen = getattr(self.app, "rows_on_screen", None)
        if rows_on_screen is None:
            return
        table = self.table
        first = max(int(table.scroll_y) - 1, 0)
        keys = self._order[first : first + table.size.height + 1]
        rows_on_screen(
            (row.context, row.name) for key in keys if (row := self._rows.get(key)) is not None
        )

    def _fit_columns(self) -> None:
        if not self.is_mounted:
            return
        lengths = self._lengths
        widths = {
            "name": _bounded(max(lengths["name"], default=0), NAME_BOUNDS),
            "status": STATUS_WIDTH,
            "stage": _bounded(max(lengths["stage"], default=0), STAGE_BOUNDS),
            "started": TIME_WIDTH,
            "duration": TIME_WIDTH,
        }
        if self.contexts:
            widths["account"] = ACCOUNT_WIDTH
            widths["region"] = _bounded(max(lengths["region"], default=0), REGION_BOUNDS)
        padding = 2 * self.table.cell_padding * len(self.table.columns)
        # Room for the vertical scrollbar, so a long list does not push a column out.
        available = self.table.size.width or self.size.width
        rest = available - sum(widths.values()) - padding - 2
        widths["revision"] = max(REVISION_MIN, rest)
        if widths != self._widths:
            self._widths = widths
            self.table.set_widths(widths)

    def _show_summary(self) -> None:
        palette = self.palette
        workspace: WorkspaceView | FleetView | None = self.workspace
        total = len(self._rows)
        if self.shown_context is not None and isinstance(workspace, FleetView):
            workspace = workspace.workspaces.get(self.shown_context) or WorkspaceView()
            total = len(workspace.pipelines)
        summary = Text(no_wrap=True, overflow="ellipsis")
        if not self.listed or workspace is None:
            summary.append("Loading pipelines…", style=palette.style("muted"))
        else:
            summary.append(f"{total} pipeline{'s' if total != 1 else ''}", style="bold")
            for count, status, words in (
                (workspace.running, "InProgress", "running"),
                (workspace.failed, "Failed", "failed"),
                (workspace.awaiting_approval, "AwaitingApproval", "awaiting approval"),
            ):
                shown = look(status)
                style = palette.style(shown.tone) if count else palette.style("muted")
                summary.append("   ")
                summary.append(f"{shown.glyph} {count} {words}", style=style)
        right = Text(f"sort: {SORT_WORDS[self.sort_mode]}", style=palette.style("muted"))
        if self.shown_context is not None:
            right.append(f" · context: {self.shown_context}", style=palette.style("info"))
        if self.filter_text:
            right.append(
                f" · filter “{self.filter_text}”: {len(self._order)} of {total}",
                style=palette.style("warning"),
            )
        width = self.size.width or 120
        gap = max(width - summary.cell_len - right.cell_len - 2, 2)
        summary.append(" " * gap)
        summary.append_text(right)
        if summary == self._summary:
            return  # most changes of a row change no count
        self._summary = summary
        # One line whatever it says: no layout pass for it (a keystroke costs less).
        self.query_one("#summary", Static).update(summary, layout=False)

    # Actions -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "history":
            if "history" not in getattr(self.app, "screen_factories", {}):
                return None
            return self.table.cursor_key is not None
        if action == "clear_filter":
            return bool(self.filter_text) or self.filter_input.display
        if action == "context":
            return bool(self.contexts)
        return True

    def action_context(self) -> None:
        """The next context's rows alone, then all of them again (the app keeps the status
        bar in step when it offers `show_context`)."""
        cycle: list[str | None] = [None, *self.contexts]
        following = cycle[(cycle.index(self.shown_context) + 1) % len(cycle)]
        show: Callable[[str | None], None] = getattr(self.app, "show_context", self.show_context)
        show(following)

    def show_context(self, context: str | None) -> None:
        """Show only the rows of `context` (None: every context's)."""
        if context is not None and context not in self.contexts:
            return
        self.shown_context = context
        with self.app.batch_update():
            self._reorder()
            self._show_summary()

    def action_history(self) -> None:
        name = self.table.cursor_key
        if name is not None:
            self.post_message(OpenHistory(name))

    def action_filter(self) -> None:
        self.filter_input.display = True
        self.filter_input.focus()
        self.refresh_bindings()

    def action_clear_filter(self) -> None:
        self.filter_input.value = ""
        self.filter_input.display = False
        self._set_filter("")
        self.table.focus()
        self.refresh_bindings()

    def action_sort(self) -> None:
        self.sort_mode = SORTS[(SORTS.index(self.sort_mode) + 1) % len(SORTS)]
        self._sorted = None
        with self.app.batch_update():
            self._reorder()
            self._show_summary()

    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, _event: Input.Submitted) -> None:
        if not self.filter_text:
            self.filter_input.display = False
        self.table.focus()
        self.refresh_bindings()

    def _set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        with self.app.batch_update():
            self._reorder()
            self._show_summary()

    @on(DataTable.RowSelected, "#pipelines")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.post_message(OpenPipeline(str(event.row_key.value)))

    @on(DataTable.RowHighlighted, "#pipelines")
    def _row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        # Only whether a row is under the cursor changes a binding (`check_action`); the
        # footer is composed again at each refresh, and a filter keystroke moves the cursor.
        has_row = self.table.cursor_key is not None
        if has_row != self._cursor_on_row:
            self._cursor_on_row = has_row
            self.refresh_bindings()


def _bounded(value: int, bounds: tuple[int, int]) -> int:
    low, high = bounds
    return min(max(value, low), high)


def _lengths_of(row: _Row) -> Iterator[tuple[str, int]]:
    """The lengths the widths of the name, stage and region columns follow."""
    yield "name", len(row.name)
    yield "stage", row.cells["stage"].cell_len
    if row.context:
        yield "region", row.cells["region"].cell_len


def _sort_key(row: _Row, mode: SortMode) -> tuple[Any, ...]:
    if mode == "status":
        return (row.status_rank, row.name, row.key)
    if mode == "recency":
        return (-row.started, row.name, row.key)
    return (row.name, row.key)
