"""Figures the screens show that are computed from the view, never stored in it.

Everything that depends on the current time takes `now` (a UTC-aware `datetime`) so the view
stays pure and tests control time. Decisions:

| Figure | Rule |
|---|---|
| elapsed of a running thing | `now - started`; of a finished one, `last change - started`; None when the start is unknown |
| approval timeout | the declared `timeoutInMinutes`, else 7 days (AWS's default), from the moment the approval started waiting |
| humanized duration | the largest unit and the next one, zeros left out: `45s`, `3m 10s`, `2h 5m`, `2h`, `3d 4h`; under a second `0s`; negative durations read as zero |
| humanized age | the largest unit: `just now` (under 5 s), `40s ago`, `3m ago`, `2h ago`, `5d ago`; a time in the future (clock skew) `in 3m` |
| short revision | a git commit id: 7 hex digits; an image digest `sha256:<hex>`: `sha256:` + 12; anything else longer than 12 characters: its first 12 |
| first line of a commit message | the first non-blank line, stripped; CodeStar connections put `{"CommitMessage": ...}` JSON in `revisionSummary`: its message is used |
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

from tui.model.projection import ActionView, ExecutionView, StageView
from tui.model.view import PipelineStatus, PipelineView

DEFAULT_APPROVAL_TIMEOUT: Final = timedelta(days=7)
_UNITS: Final = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_GIT_SHA: Final = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


# Durations --------------------------------------------------------------------------------
def elapsed(
    started: datetime | None, ended: datetime | None, now: datetime, *, running: bool
) -> timedelta | None:
    """How long something ran: until now while it runs, until it ended otherwise."""
    if started is None:
        return None
    end = now if running else ended
    if end is None:
        return None
    return max(end - started, timedelta(0))


def action_elapsed(action: ActionView, now: datetime) -> timedelta | None:
    return elapsed(
        action.started_at, action.last_change, now, running=action.status == "InProgress"
    )


def stage_elapsed(stage: StageView, now: datetime) -> timedelta | None:
    running = stage.status in ("InProgress", "Stopping")
    return elapsed(stage.started_at, stage.last_change, now, running=running)


def execution_elapsed(execution: ExecutionView, now: datetime) -> timedelta | None:
    return elapsed(execution.start_time, execution.last_update_time, now, running=execution.active)


# Approvals --------------------------------------------------------------------------------
def waiting_for_approval_since(action: ActionView) -> datetime | None:
    """When a pending approval started waiting (None unless it is waiting)."""
    if not action.awaiting_approval:
        return None
    return action.started_at or action.last_change


def approval_timeout(action: ActionView) -> timedelta:
    if action.timeout_in_minutes is not None:
        return timedelta(minutes=action.timeout_in_minutes)
    return DEFAULT_APPROVAL_TIMEOUT


def approval_expires_at(action: ActionView) -> datetime | None:
    since = waiting_for_approval_since(action)
    return None if since is None else since + approval_timeout(action)


def approval_times_out_in(action: ActionView, now: datetime) -> timedelta | None:
    """Time left to answer a pending approval (zero once it is due)."""
    expires = approval_expires_at(action)
    return None if expires is None else max(expires - now, timedelta(0))


def pending_approvals(view: PipelineView) -> list[tuple[StageView, ActionView]]:
    return [
        (stage, action)
        for stage in view.stages
        for action in stage.actions
        if action.awaiting_approval
    ]


# Where a pipeline is ------------------------------------------------------------------------
def count_by_status(views: Iterable[PipelineView]) -> Counter[PipelineStatus]:
    return Counter(view.status for view in views)


def current_stage(view: PipelineView) -> StageView | None:
    """The furthest stage the latest execution is running in (or waiting to enter), else the
    furthest stage running any execution."""
    latest = view.latest_execution
    if latest is not None:
        for stage in reversed(view.stages):
            if stage.execution_id == latest.execution_id and stage.status in (
                "InProgress",
                "Stopping",
            ):
                return stage
        for stage in view.stages:
            if any(w.execution_id == latest.execution_id for w in stage.inbound):
                return stage
    return next((s for s in reversed(view.stages) if s.status in ("InProgress", "Stopping")), None)


def failed_stage(view: PipelineView) -> StageView | None:
    """The stage where the latest execution failed (or any stage showing a failure when the
    latest execution is unknown)."""
    latest = view.latest_execution
    for stage in view.stages:
        if stage.status != "Failed":
            continue
        if latest is None or stage.execution_id == latest.execution_id:
            return stage
    return None


# Text ---------------------------------------------------------------------------------------
def humanize_duration(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    parts: list[tuple[int, str]] = []
    for unit, size in _UNITS:
        amount, seconds = divmod(seconds, size)
        if amount or parts:
            parts.append((amount, unit))
        if len(parts) == 2:
            break
    shown = [f"{amount}{unit}" for amount, unit in parts if amount]
    return " ".join(shown) if shown else "0s"


def humanize_age(then: datetime, now: datetime) -> str:
    seconds = (now - then).total_seconds()
    if abs(seconds) < 5:
        return "just now"
    largest = humanize_duration(timedelta(seconds=abs(seconds))).split(" ")[0]
    return f"{largest} ago" if seconds > 0 else f"in {largest}"


def short_revision(revision_id: str | None) -> str:
    if not revision_id:
        return ""
    if revision_id.startswith("sha256:"):
        return revision_id[: len("sha256:") + 12]
    if _GIT_SHA.fullmatch(revision_id):
        return revision_id[:7]
    return revision_id[:12]


def first_line(message: str | None) -> str:
    """The first non-blank line of a commit message (or revision summary)."""
    if not message:
        return ""
    text = message
    stripped = message.strip()
    if stripped.startswith("{"):
        try:
            decoded = json.loads(stripped)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and isinstance(decoded.get("CommitMessage"), str):
            text = decoded["CommitMessage"]
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
