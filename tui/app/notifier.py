"""Notifications of what needs a person: an approval now waiting, an execution that failed.

    notifier = Notifier(app, settings.notify)
    notifier.workspace_changed(workspace)              # after every change the app fans out
    notifier.workspace_changed(workspace, context="prod")   # one per watched context

`NoticeTracker` (pure) compares each WorkspaceView with the one before and returns the
`Notice`s that are new; `Notifier` sends each on the channels the settings leave on
(`[notify] app`, `bell`, `desktop`): a Textual notification, the terminal bell, and a
desktop-notification escape sequence.

Decisions [I]:

- What counts as new. A pipeline's baseline is its first view with a GetPipelineState
  snapshot: approvals already waiting and executions already failed then are not announced
  (they were not news when pipetop started, and the screens show them). After that: an
  approval is announced when it becomes pending (key: pipeline, stage, action, execution), so
  the next snapshot showing it still pending says nothing, and a retried stage that waits
  again is announced again; an execution is announced when it becomes Failed, if it was
  known before in another state or started after the newest execution known at the baseline
  (so loading older history, full of old failures, announces nothing). A failed stage whose
  execution the summaries do not list yet counts as that execution failing.
- The bell is written through the app's driver, as `App.bell()` writes it (`App.bell()`
  itself does nothing in headless mode, where the tests run; the bytes are the same).
- Desktop notifications are terminal escape sequences, written through the app's driver
  between frames (an OSC moves no cursor and draws nothing, so the screen is intact):
  OSC 9 (`ESC ] 9 ; text BEL`) for iTerm2 (TERM_PROGRAM=iTerm.app), WezTerm, ghostty and
  Windows Terminal (WT_SESSION set); OSC 777 (`ESC ] 777 ; notify ; title ; text BEL`) for
  rxvt-unicode and foot (TERM rxvt*, foot*). Any other terminal gets none (an unknown OSC
  may print garbage in some). Inside tmux or screen (TMUX set, TERM screen*/tmux*) none
  either: they do not pass OSC through by default. `[notify] desktop_protocol = "osc9" |
  "osc777"` forces one when the detection is wrong.
- Text in a sequence is stripped of control characters (an execution summary is free text
  and must never end the sequence early or start another), and `;` in an OSC 777 title
  becomes `,` (it separates the fields).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from textual.app import App
from textual.notifications import SeverityLevel

from tui.app.settings import NotifySettings
from tui.model.view import PipelineView, WorkspaceView

Protocol = Literal["osc9", "osc777"]
NOTICE_SECONDS = 10.0
OSC9_PROGRAMS = frozenset({"iTerm.app", "WezTerm", "ghostty"})


@dataclass(frozen=True)
class Notice:
    kind: Literal["approval", "failure"]
    pipeline: str
    title: str
    message: str
    context: str | None = None

    @property
    def severity(self) -> SeverityLevel:
        return "error" if self.kind == "failure" else "warning"


ApprovalKey = tuple[str, str, str, str | None]


@dataclass
class _Seen:
    """What one pipeline showed at the last look."""

    pending: set[ApprovalKey] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    statuses: dict[str, str | None] = field(default_factory=dict)
    newest_at_baseline: datetime | None = None


def _pending(view: PipelineView) -> dict[ApprovalKey, tuple[str, str]]:
    found = {}
    for stage in view.stages:
        for action in stage.actions:
            if action.awaiting_approval:
                execution = action.execution_id or stage.execution_id
                found[(view.name, stage.name, action.name, execution)] = (stage.name, action.name)
    return found


def _failed(view: PipelineView) -> dict[str, str | None]:
    """Failed execution id -> its summary (a failed stage's execution counts, see above)."""
    failed: dict[str, str | None] = {
        e.execution_id: e.status_summary for e in view.executions if e.status == "Failed"
    }
    listed = {e.execution_id for e in view.executions}
    for stage in view.stages:
        if stage.status == "Failed" and stage.execution_id and stage.execution_id not in listed:
            failed.setdefault(stage.execution_id, f"Stage {stage.name} failed")
    return failed


class NoticeTracker:
    """Successive workspaces in, new notices out (pure: no clock, no I/O)."""

    def __init__(self, context: str | None = None) -> None:
        self.context = context
        self._seen: dict[str, _Seen] = {}

    def observe(self, workspace: WorkspaceView, names: Iterable[str] | None = None) -> list[Notice]:
        """The notices `workspace` brings; `names`, when given, are the only pipelines that
        changed since the last look (the others are not looked at: a fill of N pipelines,
        one change each, then costs N looks, not N x N)."""
        notices: list[Notice] = []
        pipelines = workspace.pipelines
        looked_at = pipelines.keys() if names is None else names
        gone = self._seen.keys() if names is None else names
        for name in [n for n in gone if n in self._seen and n not in pipelines]:
            del self._seen[name]
        for name in looked_at:
            view = pipelines.get(name)
            if view is None:
                continue
            seen = self._seen.get(name)
            if seen is None and view.snapshot_time is None:
                continue
            pending = _pending(view)
            failed = _failed(view)
            statuses: dict[str, str | None] = {e.execution_id: e.status for e in view.executions}
            if seen is None:
                starts = [e.start_time for e in view.executions if e.start_time is not None]
                self._seen[name] = _Seen(
                    pending=set(pending),
                    failed=set(failed),
                    statuses=statuses,
                    newest_at_baseline=max(starts, default=None),
                )
                continue
            for key in pending.keys() - seen.pending:
                stage, action = pending[key]
                notices.append(
                    Notice(
                        "approval",
                        name,
                        self._title("Approval waiting"),
                        f"{name}: {action} in stage {stage} waits for approval",
                        self.context,
                    )
                )
            for execution_id in failed.keys() - seen.failed:
                if not self._news(view, seen, execution_id):
                    continue
                summary = failed[execution_id]
                detail = f": {summary}" if summary else f" (execution {execution_id[:8]})"
                notices.append(
                    Notice(
                        "failure",
                        name,
                        self._title("Execution failed"),
                        f"{name} failed{detail}",
                        self.context,
                    )
                )
            seen.pending = set(pending)
            seen.failed = set(failed)
            seen.statuses.update(statuses)
        return notices

    def _title(self, title: str) -> str:
        return title if self.context is None else f"{self.context}: {title}"

    @staticmethod
    def _news(view: PipelineView, seen: _Seen, execution_id: str) -> bool:
        if execution_id in seen.statuses:
            return True
        execution = view.execution(execution_id)
        start = execution.start_time if execution is not None else None
        return start is None or seen.newest_at_baseline is None or start > seen.newest_at_baseline


def desktop_protocol(environ: Mapping[str, str], setting: str = "auto") -> Protocol | None:
    """Which desktop-notification sequence the terminal understands, if any (see above)."""
    if setting == "osc9":
        return "osc9"
    if setting == "osc777":
        return "osc777"
    term = environ.get("TERM", "")
    if environ.get("TMUX") or term.startswith(("screen", "tmux")):
        return None
    if environ.get("TERM_PROGRAM") in OSC9_PROGRAMS or environ.get("WT_SESSION"):
        return "osc9"
    if term.startswith(("rxvt", "foot")):
        return "osc777"
    return None


def _clean(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text).strip()


def desktop_sequence(protocol: Protocol, title: str, message: str) -> str:
    if protocol == "osc9":
        return f"\x1b]9;{_clean(f'{title}: {message}')}\x07"
    return f"\x1b]777;notify;{_clean(title).replace(';', ',')};{_clean(message)}\x07"


class Notifier:
    """Sends new notices on the channels `settings` leaves on; one tracker per context."""

    def __init__(
        self,
        app: App[Any],
        settings: NotifySettings,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.protocol = desktop_protocol(
            os.environ if environ is None else environ, settings.desktop_protocol
        )
        self._trackers: dict[str | None, NoticeTracker] = {}

    def workspace_changed(
        self,
        workspace: WorkspaceView,
        names: Iterable[str] | None = None,
        *,
        context: str | None = None,
    ) -> list[Notice]:
        """Compare with the last workspace of `context` (only the pipelines `names`, when
        given: those that changed); send and return what is new."""
        tracker = self._trackers.get(context)
        if tracker is None:
            tracker = self._trackers[context] = NoticeTracker(context)
        notices = tracker.observe(workspace, names)
        for notice in notices:
            self.send(notice)
        return notices

    def send(self, notice: Notice) -> None:
        settings = self.settings
        if settings.app:
            self.app.notify(
                notice.message,
                title=notice.title,
                severity=notice.severity,
                timeout=NOTICE_SECONDS,
                markup=False,
            )
        if settings.bell:
            self._write("\x07")
        if settings.desktop and self.protocol is not None:
            self._write(desktop_sequence(self.protocol, notice.title, notice.message))

    def _write(self, data: str) -> None:
        driver = self.app._driver
        if driver is not None:
            driver.write(data)
