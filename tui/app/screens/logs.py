"""The logs screen: one action run's log, following it while it runs.

    web-app › Build › Compile   ● In progress · execution 3f2a9c1e · /aws/codebuild/web-app
    [Container] 2024/05/01 14:02:03 Running command pytest -q
    ...
    ● following · 1,234 lines                                     wrap · timestamps · “error”

The log comes from `LogTail` (tui/aws/logtail.py) in a worker: it finds the run's log
stream (a Commands action's `logStreamARN`, a CodeBuild build's stream), reads it forward in
pages and stops once the action has ended and every line is read. Each page is one batch
written to the `LogView` at once, never line by line.

Keys: `f`/End follow (jump to the newest line), `w` wrap, `t` timestamps, `/` search, `n`/`N`
next/previous match, escape back (or out of the search box). Scrolling up pauses following
and the status line counts the lines that arrived since ("56 new lines").

Decisions recorded here:

- [I] The view keeps the newest `LOG_MAX_LINES` lines (20,000): a build log longer than that
  is cut from the front, and the status line says how many lines were dropped. The whole
  log is still in CloudWatch (or the local endpoint); memory stays bounded while following
  a chatty build for hours.
- [I] The run is found through ListActionExecutions (the latest attempt of the action in
  its execution), re-read at most every `refresh_every` seconds (1 s on the local endpoint,
  5 s on AWS), so a retried action's new stream is followed rather than the old one's.
  Pages are asked for every `poll_interval` (0.5 s local, 1 s AWS) once caught up; on AWS,
  lines are still read for `drain_grace` (5 s) after the action ends, as CloudWatch ingests
  late; on the local endpoint lines are written before the action's status changes.
- The action's status in the title follows the workspace (`workspace_changed`, called by
  the app on every screen), so the title says when the run ends without another request.
- [I] Pages of at most `PAGE_LIMIT` (1,000) events: a GetLogEvents answer is parsed on the
  app's event loop, and a 10,000-event page (CloudWatch's default) holds the loop for a few
  hundred milliseconds while a chatty build is followed, delaying every pipeline event
  behind it. A thousand keeps each parse short; catching up takes more requests.
- Producers batch by time (as toolong does): pages arriving within `FLUSH_SECONDS` (0.1 s)
  of the last write are written together, so a log arriving faster than anyone reads it
  costs one write and one frame per 0.1 s, not one per page (drawing the frames is most of
  what following a 10,000-lines/s build costs); a page after a pause is written at once.
- A failure to read is shown on the status line and posted as `ProblemOccurred` (the app
  makes it a notification); the lines read so far stay on screen.
"""  # noqa: RUF002 (the title's separator is drawn as in the screen)

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from enum import Enum
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static
from textual.worker import Worker

from tui.app.messages import ActionRef, ProblemOccurred
from tui.app.widgets.glyphs import Palette
from tui.app.widgets.log_view import LogView, SearchOutcome
from tui.app.widgets.masking import mask_ids_of, short_id
from tui.app.widgets.status_bar import StatusBar
from tui.aws.errors import AccessDenied, ClientProblem
from tui.aws.logtail import ActionRun, LogBatch, LogLocation, LogTail
from tui.aws.watch import Watcher
from tui.model.view import WorkspaceView

LOG_MAX_LINES = 20_000
FLUSH_SECONDS = 0.1
"""Pages arriving within this long of the last write are written together."""
PAGE_LIMIT = 1_000
"""Events asked for per GetLogEvents page (CloudWatch's default is up to 10,000)."""
NO_LOG_PROVIDERS = frozenset({"Manual"})


class Phase(Enum):
    CONNECTING = "connecting"
    WAITING = "waiting"
    """No line yet: the action has not started writing, or its stream does not exist yet."""
    STREAMING = "streaming"
    ENDED = "ended"
    NOT_RUN = "not run"
    FAILED = "failed"


def _count(number: int, word: str) -> str:
    return f"{number:,} {word}{'' if number == 1 else 's'}"


class LogsScreen(Screen[None]):
    """The log of the action run `ref` names (registered as the app's "logs" screen)."""

    CSS_PATH = "logs.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="back"),
        Binding("f,end", "follow", "Follow", id="follow"),
        Binding("w", "toggle_wrap", "Wrap", id="wrap"),
        Binding("t", "toggle_timestamps", "Timestamps", id="timestamps"),
        Binding("slash", "search", "Search", id="search"),
        Binding("n", "search_next", "Next match", id="search-next"),
        Binding("N", "search_previous", "Previous match", id="search-previous"),
        # The app's approvals key still works here; the footer has no room left for it.
        Binding("A", "app.approvals", "Approvals", show=False, id="approvals"),
    ]

    def __init__(
        self,
        ref: ActionRef,
        *,
        watcher: Watcher | None = None,
        max_lines: int = LOG_MAX_LINES,
        poll_interval: float | None = None,
        refresh_every: float | None = None,
        drain_grace: float | None = None,
        mask_ids: bool | None = None,
        page_limit: int | None = PAGE_LIMIT,
    ) -> None:
        super().__init__()
        self.ref = ref
        self.page_limit = page_limit
        self._watcher = watcher
        self.max_lines = max_lines
        self.poll_interval = poll_interval
        self.refresh_every = refresh_every
        self.drain_grace = drain_grace
        self._mask_ids = mask_ids
        self.phase = Phase.CONNECTING
        self.status = ref.view.status
        self.location: LogLocation | None = None
        self.problem: ClientProblem | None = None
        self.search_outcome: SearchOutcome | None = None
        self.batches = 0
        """Pages received from the tail."""
        self.writes = 0
        """Writes to the view (each one batch of one or more pages)."""
        self._pending: list[tuple[int, str]] = []
        self._flush_timer: Timer | None = None
        self._last_flush = 0.0
        self.tail: Worker[None] | None = None
        """The worker following the log (tests and the app may await it)."""

    # Dependencies ---------------------------------------------------------------------------------

    @property
    def watcher(self) -> Watcher:
        if self._watcher is None:
            watcher = getattr(self.app, "watcher", None)
            if not isinstance(watcher, Watcher):
                raise RuntimeError("the logs screen needs the app's watcher")
            self._watcher = watcher
        return self._watcher

    @property
    def mask_ids(self) -> bool:
        if self._mask_ids is None:
            self._mask_ids = mask_ids_of(self.app)
        return self._mask_ids

    @property
    def execution_id(self) -> str | None:
        return self.ref.execution_id or self.ref.view.execution_id

    # Layout ---------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="log-title")
        yield LogView(max_lines=self.max_lines, id="log")
        yield Input(placeholder="search the log (enter finds, escape closes)", id="log-search")
        yield Static(id="log-state")
        yield StatusBar()
        yield Footer()

    @property
    def log_view(self) -> LogView:
        return self.query_one(LogView)

    @property
    def search_input(self) -> Input:
        return self.query_one("#log-search", Input)

    def on_mount(self) -> None:
        self.search_input.display = False
        status = getattr(self.app, "watch_status", None)
        if status is not None:
            self.query_one(StatusBar).status = status
        self.log_view.focus()
        self._show_title()
        self._show_state()
        if self.ref.view.provider in NO_LOG_PROVIDERS:
            self.phase = Phase.ENDED
            self._show_state()
            return
        self.tail = self.follow_log()

    # The tail -------------------------------------------------------------------------------------

    @work(exclusive=True, group="log-tail", exit_on_error=False)
    async def follow_log(self) -> None:
        """Read the log until the action has ended and every line is shown."""
        execution_id = self.execution_id
        if execution_id is None:
            self._set_phase(Phase.NOT_RUN)
            return
        watcher = self.watcher
        try:
            local = await watcher.aws.is_local()
            run = ActionRun(
                watcher.client,
                self.ref.pipeline,
                execution_id,
                self.ref.stage,
                self.ref.action,
                refresh_every=self._or(self.refresh_every, local=1.0, remote=5.0, is_local=local),
            )
            tail = LogTail(
                watcher.aws,
                run.locate,
                ended=run.ended,
                poll_interval=self._or(self.poll_interval, local=0.5, remote=1.0, is_local=local),
                drain_grace=self._or(self.drain_grace, local=0.0, remote=5.0, is_local=local),
                page_limit=self.page_limit,
            )
            self._set_phase(Phase.WAITING)
            async for batch in tail:
                self.write_batch(batch)
            detail = await run.detail()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.problem = watcher.aws.describe(exc)
            self._set_phase(Phase.FAILED)
            self.post_message(ProblemOccurred(self.problem))
            return
        if detail is not None and detail.get("status"):
            self.status = detail["status"]
            self._show_title()
        self._set_phase(Phase.ENDED)

    @staticmethod
    def _or(value: float | None, *, local: float, remote: float, is_local: bool) -> float:
        if value is not None:
            return value
        return local if is_local else remote

    def write_batch(self, batch: LogBatch) -> None:
        """One page of the log: written to the view with the other pages that arrive within
        `FLUSH_SECONDS` of the last write (producers batch by time), never line by line."""
        if self.location != batch.location:
            self.location = batch.location
            self._show_title()
        self._pending.extend((line.timestamp_ms, line.message) for line in batch.lines)
        self.batches += 1
        due = self._last_flush + FLUSH_SECONDS - time.monotonic()
        if due <= 0:
            self.flush()
        elif self._flush_timer is None:
            self._flush_timer = self.set_timer(due, self.flush)

    def flush(self) -> None:
        """Write what arrived since the last write to the view, in one batch."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self.log_view.write_batch(pending)
        self.writes += 1
        self._last_flush = time.monotonic()
        if self.phase is not Phase.STREAMING and self.phase is not Phase.ENDED:
            self.phase = Phase.STREAMING
        self._show_state()

    def _set_phase(self, phase: Phase) -> None:
        self.flush()
        self.phase = phase
        self._show_state()
        self.refresh_bindings()

    # From the app ---------------------------------------------------------------------------------

    def workspace_changed(self, workspace: WorkspaceView, names: Iterable[str]) -> None:
        """The pipeline changed: the title follows the action's status in this execution."""
        if self.ref.pipeline not in names:
            return
        view = workspace.pipeline(self.ref.pipeline)
        stage = view.stage(self.ref.stage) if view is not None else None
        action = stage.action(self.ref.action) if stage is not None else None
        if action is None or action.execution_id != self.execution_id:
            return
        if action.status != self.status:
            self.status = action.status
            self._show_title()

    # Drawing --------------------------------------------------------------------------------------

    def _palette(self) -> Palette:
        return Palette.of(self.app.theme_variables)

    def short_id(self, value: str) -> str:
        return short_id(value, self.mask_ids)

    def _show_title(self) -> None:
        palette = self._palette()
        muted = palette.style("muted")
        ref = self.ref
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(ref.pipeline, style="bold")
        title.append(" › ", style=muted)
        title.append(ref.stage)
        title.append(" › ", style=muted)
        title.append(ref.action, style="bold")
        title.append("   ")
        title.append_text(palette.status(self.status))
        if self.execution_id:
            title.append(" · execution ", style=muted)
            title.append(self.short_id(self.execution_id))
        if self.location is not None:
            stream = self.location.stream
            if self.mask_ids:
                stream = "•" * len(stream)
            title.append(" · ", style=muted)
            title.append(f"{self.location.group} {stream}", style=muted)
        self.query_one("#log-title", Static).update(title, layout=False)

    def _key(self, action: str, fallback: str) -> str:
        for key, active in self.active_bindings.items():
            if active.binding.action == action:
                return self.app.get_key_display(active.binding) or key
        return fallback

    def state_text(self) -> Text:
        """The status line: where the tail is, following or not, what the view shows."""
        palette = self._palette()
        muted = palette.style("muted")
        view = self.log_view
        left = Text(no_wrap=True, overflow="ellipsis")
        lines = _count(view.total_written, "line")
        phase = self.phase
        if phase is Phase.CONNECTING:
            left.append("connecting…", style=muted)
        elif phase is Phase.NOT_RUN:
            left.append("this action has not run in this execution: no log", style=muted)
        elif phase is Phase.FAILED and self.problem is not None:
            left.append(
                f"✗ could not read the log: {self.problem.title}", style=palette.style("error")
            )
            if isinstance(self.problem, AccessDenied) and self.problem.iam_action:
                # Who can fix it needs the permission's name, not just "denied".
                left.append(f" (needs {self.problem.iam_action})", style=palette.style("error"))
            if view.total_written:
                left.append(f" · {lines} read", style=muted)
        elif phase is Phase.WAITING:
            left.append("◷ waiting for the log stream…", style=palette.style("running"))
        elif phase is Phase.ENDED:
            if self.ref.view.provider in NO_LOG_PROVIDERS:
                left.append("manual approvals write no log", style=muted)
            elif view.total_written == 0:
                left.append("■ action ended without writing a log", style=muted)
            else:
                left.append(f"■ action ended · {lines}", style=palette.style("info"))
        elif view.following:
            left.append(f"● following · {lines}", style=palette.style("success"))
        else:
            left.append(f"{lines}", style=muted)
        if not view.following and view.total_written:
            left.append(" · ", style=muted)
            left.append("paused", style=palette.style("warning"))
            if view.unseen:
                left.append(f" · {_count(view.unseen, 'new line')}", style="bold")
            left.append(f" · {self._key('follow', 'f')}: follow", style=muted)
        right = Text(no_wrap=True)
        flags = []
        if view.dropped:
            flags.append(f"last {view.line_count:,} of {view.total_written:,} kept")
        if view.wrap:
            flags.append("wrap")
        if view.show_timestamps:
            flags.append("timestamps")
        right.append(" · ".join(flags), style=muted)
        if view.query_text:
            if right.plain:
                right.append(" · ", style=muted)
            outcome = self.search_outcome
            if outcome is SearchOutcome.NOT_FOUND:
                right.append(f"“{view.query_text}” not found", style=palette.style("warning"))
            else:
                right.append(f"“{view.query_text}”", style="bold")
                if outcome is SearchOutcome.WRAPPED:
                    right.append(" (wrapped)", style=muted)
        width = self.size.width or 80
        gap = width - left.cell_len - right.cell_len - 2
        if gap >= 2:
            left.append(" " * gap)
            left.append_text(right)
        return left

    def _show_state(self) -> None:
        if self.is_mounted:
            # One line, its height fixed in the style sheet: no layout (Static.update asks for
            # one by default, which laid out and redrew the screen at every batch written).
            self.query_one("#log-state", Static).update(self.state_text(), layout=False)

    def on_resize(self) -> None:
        self._show_state()

    @on(LogView.FollowChanged)
    def _follow_changed(self, _message: LogView.FollowChanged) -> None:
        self._show_state()
        self.refresh_bindings()

    # Keys -----------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "follow":
            return None if self.log_view.following else True
        if action in ("search_next", "search_previous"):
            return True if self.log_view.query_text else None
        return True

    def action_back(self) -> None:
        if self.search_input.display:
            self._close_search()
            return
        self.dismiss()

    def action_follow(self) -> None:
        self.log_view.follow()
        self._show_state()

    def action_toggle_wrap(self) -> None:
        self.log_view.wrap = not self.log_view.wrap
        self._show_state()

    def action_toggle_timestamps(self) -> None:
        self.log_view.show_timestamps = not self.log_view.show_timestamps
        self._show_state()

    def action_search(self) -> None:
        field = self.search_input
        field.value = self.log_view.query_text
        field.display = True
        field.focus()

    def _close_search(self) -> None:
        self.search_input.display = False
        self.log_view.focus()

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close_search()
        self._searched(self.log_view.search(event.value.strip()))

    def action_search_next(self) -> None:
        self._searched(self.log_view.search_next())

    def action_search_previous(self) -> None:
        self._searched(self.log_view.search_previous())

    def _searched(self, outcome: SearchOutcome) -> None:
        self.search_outcome = outcome
        if outcome is SearchOutcome.NOT_FOUND:
            self.notify(f"“{self.log_view.query_text}” is not in the log.", severity="warning")
        self._show_state()
        self.refresh_bindings()
