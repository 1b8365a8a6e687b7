"""The pending-approvals view (`A`): every manual approval waiting, across all pipelines.

    Pending approvals · 2
    Pipeline   Stage    Action    Execution  Waiting  Times out in
    web-app    Deploy   Release   3f2a9c1e   12m      6d 23h
    api        Prod     Sign-off  9a8b7c6d   2h 5m    4h 55m

Enter (or `a`) opens the approval dialog of the highlighted row; escape goes back. The list
follows the workspace (`workspace_changed`), longest waiting first.

With several contexts (accounts, regions: `tui.app.contexts`) the view lists the approvals
of every context, with a Context column, and answers each with its own context's watcher
(credentials, read-only, production).

Decisions recorded here:

- [I] The rows come from the workspace the watcher keeps (every pipeline's latest state, read
  in turn): an approval shows here within one round of reads, or at once with live events.
  No extra request is made to build the list.
- The time left needs the approval's declared timeout (5 minutes to 60 days; 7 days if none
  is declared), which only the pipeline's declaration says, and the watcher reads it only
  for the pipeline on screen. [I] The view reads the declaration (GetPipeline, once per
  pipeline while it is open) of each pipeline listed whose declaration is not known; until
  it is in, the time left shows "…" (a failed read: "?"), never the 7-day default as if it
  were known. The rows are sorted by how long they have waited, which the state says.
- With `Settings.mask_ids` the execution column is masked (tui/app/widgets/masking.py), as
  on the other screens; the dialog opened from a row masks its own ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui.app.screens.approval import ApprovalDialog, PendingApproval
from tui.app.widgets.masking import mask_ids_of, short_id
from tui.app.widgets.status_bar import StatusBar
from tui.aws.watch import Watcher
from tui.model.derived import (
    approval_times_out_in,
    humanize_duration,
    pending_approvals,
    waiting_for_approval_since,
)
from tui.model.view import WorkspaceView

COLUMNS = ("Pipeline", "Stage", "Action", "Execution", "Waiting", "Times out in")


def waiting_approvals(
    workspace: WorkspaceView, context: str | None = None
) -> list[PendingApproval]:
    """Every approval waiting in the workspace, longest waiting first."""
    found: list[PendingApproval] = []
    for view in workspace.pipelines.values():
        for stage, action in pending_approvals(view):
            execution_id = action.execution_id or stage.execution_id
            execution = view.execution(execution_id) if execution_id else None
            found.append(
                PendingApproval(
                    pipeline=view.name,
                    stage=stage.name,
                    action=action,
                    execution_id=execution_id,
                    execution_mode=view.execution_mode,
                    source_revisions=execution.source_revisions if execution else (),
                    context=context,
                    timeout_known=view.ledger.declaration is not None,
                )
            )
    epoch = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda a: waiting_for_approval_since(a.action) or epoch)
    return found


class ApprovalsScreen(Screen[None]):
    """The approvals waiting across pipelines (see the module docstring)."""

    CSS_PATH = "controls.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="approvals-back"),
        Binding("enter,a", "answer", "Approve / reject", id="approvals-answer"),
    ]

    def __init__(
        self,
        watcher: Watcher,
        *,
        clock: Callable[[], datetime] | None = None,
        production: bool = False,
        contexts: Mapping[str, Watcher] | None = None,
        production_of: Callable[[Watcher], bool] | None = None,
        mask_ids: bool | None = None,
    ) -> None:
        super().__init__()
        self._mask_ids = mask_ids
        self.watcher = watcher
        self.sources: dict[str | None, Watcher] = {None: watcher}
        """Where approvals are listed from: every context's watcher (one: the app's)."""
        if contexts and len(contexts) > 1:
            self.sources = {label: each for label, each in contexts.items()}
        self.clock = clock or (lambda: datetime.now(UTC))
        self.production = production
        self.production_of = production_of
        self.approvals: list[PendingApproval] = []
        self.declarations_asked: set[tuple[str | None, str]] = set()
        """(context, pipeline) whose declaration this view has asked for."""
        self.declarations_failed: set[tuple[str | None, str]] = set()

    def compose(self) -> ComposeResult:
        yield Static("Pending approvals", id="approvals-title")
        table: DataTable[str] = DataTable(id="approvals", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="approvals-empty")
        yield StatusBar()
        yield Footer()

    @property
    def several(self) -> bool:
        return len(self.sources) > 1

    @property
    def mask_ids(self) -> bool:
        """`Settings.mask_ids` (unless the screen was made with its own)."""
        if self._mask_ids is None:
            self._mask_ids = mask_ids_of(self.app)
        return self._mask_ids

    def short_id(self, execution_id: str | None) -> str:
        if execution_id is None:
            return "?"
        return short_id(execution_id, self.mask_ids)

    def on_mount(self) -> None:
        columns = ("Context", *COLUMNS) if self.several else COLUMNS
        self.query_one("#approvals", DataTable).add_columns(*columns)
        self.workspace_changed(self.watcher.workspace, frozenset())
        self.set_interval(1.0, self._tick)

    def waiting(self) -> list[PendingApproval]:
        """Every context's waiting approvals, longest waiting first."""
        found = [
            approval
            for context, watcher in self.sources.items()
            for approval in waiting_approvals(watcher.workspace, context)
        ]
        epoch = datetime.min.replace(tzinfo=UTC)
        found.sort(key=lambda a: waiting_for_approval_since(a.action) or epoch)
        return found

    def workspace_changed(self, workspace: object, names: frozenset[str] | set[str]) -> None:
        # What the app hands down is one context's workspace or the merged list's view: the
        # watchers' own workspaces are read instead, the same in both cases.
        approvals = self.waiting()
        if approvals == self.approvals and self.query_one("#approvals", DataTable).row_count:
            return
        self.approvals = approvals
        self._fill()
        self._ask_timeouts()

    def _ask_timeouts(self) -> None:
        """Read the declaration of each pipeline listed whose approval timeout is unknown."""
        for approval in self.approvals:
            key = (approval.context, approval.pipeline)
            if approval.timeout_known or key in self.declarations_asked:
                continue
            self.declarations_asked.add(key)
            self._read_declaration(self.sources.get(approval.context, self.watcher), key)

    @work(group="approvals-declarations", exit_on_error=False)
    async def _read_declaration(self, watcher: Watcher, key: tuple[str | None, str]) -> None:
        # The watcher applies it to its workspace: the app hands the change back here.
        try:
            await watcher.declaration(key[1])
        except Exception:
            self.declarations_failed.add(key)
            self._fill()

    def _fill(self) -> None:
        table: DataTable[str] = self.query_one("#approvals", DataTable)
        cursor = table.cursor_row
        table.clear()
        now = self.clock()
        for approval in self.approvals:
            context = (approval.context or "",) if self.several else ()
            table.add_row(
                *context,
                approval.pipeline,
                approval.stage,
                approval.action.name,
                self.short_id(approval.execution_id),
                *self._times(approval, now),
            )
        if self.approvals:
            table.move_cursor(row=min(cursor, len(self.approvals) - 1))
        count = len(self.approvals)
        self.query_one("#approvals-title", Static).update(f"Pending approvals · {count}")
        empty = self.query_one("#approvals-empty", Static)
        empty.update("" if count else "No approval is waiting in any pipeline.")
        empty.display = not count
        table.display = bool(count)
        self.refresh_bindings()

    def _times(self, approval: PendingApproval, now: datetime) -> tuple[str, str]:
        since = waiting_for_approval_since(approval.action)
        left = approval_times_out_in(approval.action, now)
        if not approval.timeout_known:
            failed = (approval.context, approval.pipeline) in self.declarations_failed
            shown_left = "?" if failed else "…"
        else:
            shown_left = humanize_duration(left) if left is not None else "?"
        return (humanize_duration(max(now - since, timedelta(0))) if since else "?", shown_left)

    def _tick(self) -> None:
        """The waits, cell by cell (the rows stay, and so do the cursor and the scroll)."""
        table: DataTable[str] = self.query_one("#approvals", DataTable)
        now = self.clock()
        first = 5 if self.several else 4
        for row, approval in enumerate(self.approvals[: table.row_count]):
            waited, left = self._times(approval, now)
            table.update_cell_at(Coordinate(row, first), waited)
            table.update_cell_at(Coordinate(row, first + 1), left)

    @on(DataTable.RowSelected, "#approvals")
    def _row_selected(self) -> None:
        if self.check_action("answer", ()):
            self.action_answer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "answer":
            if all(watcher.client.read_only for watcher in self.sources.values()):
                return False
            return True if self.approvals else None
        return True

    def action_back(self) -> None:
        self.dismiss()

    def action_answer(self) -> None:
        table: DataTable[str] = self.query_one("#approvals", DataTable)
        row = table.cursor_row
        if not 0 <= row < len(self.approvals):
            return
        approval = self.approvals[row]
        watcher = self.sources.get(approval.context, self.watcher)
        if watcher.client.read_only:
            self.app.bell()
            return
        production = (
            self.production_of(watcher) if self.production_of is not None else self.production
        )
        self.app.push_screen(ApprovalDialog(approval, watcher, production=production))
