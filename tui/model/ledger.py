"""What a pipeline's view is derived from, and which events count (rules 1-4 and 8 of
`tui.model.view`).

A `Ledger` holds a pipeline's inputs: the latest GetPipelineState snapshot and its time,
the ListPipelineExecutions summaries and their time, ListActionExecutions details, the
declaration, the ListPipelines summary, the events that may be newer than those, and for
every *record* (an execution, a stage in one execution, an action in one execution) its
*baseline* (what the snapshot or summaries say, with the time `L` of its last change) and its
*lifecycle* (the counted events, summarised). Every operation returns a new ledger.

A lifecycle is a commutative summary of a set of events: counts of opens (STARTED,
RESUMED), closes (terminal states), STOPPING and STOPPED, and the greatest fact of each kind.
Adding the same events in any order gives the same lifecycle; duplicates never reach it (the
ledger keeps events by `event_key`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final, Literal

from tui.model.declaration import PipelineDeclaration
from tui.model.events import (
    ActionExecutionEvent,
    PipelineEvent,
    StageExecutionEvent,
    event_key,
)
from tui.model.state import (
    ActionExecutionDetail,
    PipelineExecutionSummary,
    PipelineState,
    PipelineSummary,
)

ACTIVE: Final = frozenset({"InProgress", "Stopping"})

# Event state -> API status, per level. An action CANCELED has no API status: [I] it shows
# as Abandoned (dropped, neither succeeded nor failed).
PIPELINE_STATUS: Final[Mapping[str, str]] = {
    "STARTED": "InProgress",
    "RESUMED": "InProgress",
    "STOPPING": "Stopping",
    "STOPPED": "Stopped",
    "SUCCEEDED": "Succeeded",
    "FAILED": "Failed",
    "CANCELED": "Cancelled",
    "SUPERSEDED": "Superseded",
}
STAGE_STATUS: Final[Mapping[str, str]] = {
    key: value for key, value in PIPELINE_STATUS.items() if key != "SUPERSEDED"
}
ACTION_STATUS: Final[Mapping[str, str]] = {
    "STARTED": "InProgress",
    "SUCCEEDED": "Succeeded",
    "FAILED": "Failed",
    "ABANDONED": "Abandoned",
    "CANCELED": "Abandoned",
}
# Within one second, the more final close is taken as the later one (rule 4).
_CLOSE_RANK: Final[Mapping[str, Mapping[str, int]]] = {
    "pipeline": {"STOPPED": 1, "FAILED": 2, "CANCELED": 3, "SUPERSEDED": 4, "SUCCEEDED": 5},
    "stage": {"STOPPED": 1, "FAILED": 2, "CANCELED": 3, "SUCCEEDED": 4},
    "action": {"CANCELED": 1, "ABANDONED": 2, "FAILED": 3, "SUCCEEDED": 4},
}
_STATUS_BY_LEVEL: Final[Mapping[str, Mapping[str, str]]] = {
    "pipeline": PIPELINE_STATUS,
    "stage": STAGE_STATUS,
    "action": ACTION_STATUS,
}
_OPENS: Final = frozenset({"STARTED", "RESUMED"})

# ("pipeline", execution) | ("stage", execution, stage) | ("action", execution, stage, action)
RecordKey = tuple[str, ...]


def epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def stamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class Fact:
    """One counted event of a record."""

    second: int
    rank: int
    kind: Literal["open", "close", "stopping"]
    state: str
    key: str
    event: PipelineEvent

    def order(self) -> tuple[int, int, str]:
        return (self.second, self.rank, self.key)


def _later(current: Fact | None, fact: Fact) -> Fact:
    return fact if current is None or fact.order() > current.order() else current


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The counted events of one record, summarised so that adding is order-free."""

    opens: int = 0
    closes: int = 0
    stoppings: int = 0
    stopped: int = 0
    # The first STARTED (an execution or stage starts once; RESUMED opens the later attempts).
    started: Fact | None = None
    last_open: Fact | None = None
    last_close: Fact | None = None
    last_stopping: Fact | None = None
    first_second: int | None = None
    last_second: int | None = None
    # The newest pipeline version the events name.
    version: int | None = None

    def add(self, fact: Fact) -> Lifecycle:
        event_version = fact.event.detail.version
        version = self.version
        if event_version is not None and (version is None or event_version > version):
            version = event_version
        first = self.first_second
        last = self.last_second
        opens, closes, stoppings, stopped = self.opens, self.closes, self.stoppings, self.stopped
        started, last_open = self.started, self.last_open
        last_close, last_stopping = self.last_close, self.last_stopping
        if fact.kind == "open":
            opens += 1
            last_open = _later(last_open, fact)
            if fact.state == "STARTED" and (started is None or fact.order() < started.order()):
                started = fact
        elif fact.kind == "stopping":
            stoppings += 1
            last_stopping = _later(last_stopping, fact)
        else:
            closes += 1
            stopped += fact.state == "STOPPED"
            last_close = _later(last_close, fact)
        return Lifecycle(
            opens=opens,
            closes=closes,
            stoppings=stoppings,
            stopped=stopped,
            started=started,
            last_open=last_open,
            last_close=last_close,
            last_stopping=last_stopping,
            first_second=fact.second if first is None else min(first, fact.second),
            last_second=fact.second if last is None else max(last, fact.second),
            version=version,
        )


@dataclass(frozen=True, slots=True)
class Baseline:
    """What a snapshot or summary says of a record, and when the record last changed."""

    status: str
    last_change: float


def resolve(level: str, lifecycle: Lifecycle | None, baseline: Baseline | None) -> str | None:
    """Rule 4: a record's API status from its baseline and its counted events."""
    if lifecycle is None:
        return baseline.status if baseline is not None else None
    base_active = baseline is not None and baseline.status in ACTIVE
    base_stopping = baseline is not None and baseline.status == "Stopping"
    if lifecycle.opens + base_active > lifecycle.closes:
        stopping = lifecycle.stoppings + base_stopping > lifecycle.stopped
        return "Stopping" if stopping else "InProgress"
    if lifecycle.last_close is not None:
        return _STATUS_BY_LEVEL[level][lifecycle.last_close.state]
    if baseline is not None:
        return baseline.status
    return "Stopping"


def record_key(event: PipelineEvent) -> RecordKey:
    detail = event.detail
    if isinstance(event, ActionExecutionEvent):
        return ("action", detail.execution_id, event.detail.stage, event.detail.action)
    if isinstance(event, StageExecutionEvent):
        return ("stage", detail.execution_id, event.detail.stage)
    return ("pipeline", detail.execution_id)


def _fact(event: PipelineEvent, key: str) -> Fact:
    state = event.detail.state
    if state in _OPENS:
        return Fact(event.second, 0, "open", state, key, event)
    if state == "STOPPING":
        return Fact(event.second, 0, "stopping", state, key, event)
    rank = _CLOSE_RANK[record_key(event)[0]][state]
    return Fact(event.second, rank, "close", state, key, event)


@dataclass(frozen=True, slots=True)
class Ledger:
    name: str
    summary: PipelineSummary | None = None
    declaration: PipelineDeclaration | None = None
    snapshot: PipelineState | None = None
    # S: every change at or before it is in the snapshot.
    snapshot_time: float | None = None
    executions: Mapping[str, PipelineExecutionSummary] = field(default_factory=dict)
    # S_x: the latest time the summaries show.
    executions_time: float | None = None
    action_details: Mapping[str, ActionExecutionDetail] = field(default_factory=dict)
    # (stage, action) -> the execution the snapshot's run of that action belongs to (rule 7).
    run_owners: Mapping[tuple[str, str], str | None] = field(default_factory=dict)
    baselines: Mapping[RecordKey, Baseline] = field(default_factory=dict)
    # Events that may be newer than the snapshot or summaries, by key; and those that count.
    events: Mapping[str, PipelineEvent] = field(default_factory=dict)
    records: Mapping[RecordKey, Lifecycle] = field(default_factory=dict)

    # Judging events ----------------------------------------------------------------------
    def counts(self, event: PipelineEvent) -> bool:
        """Rules 2 and 3: may this event be newer than what is known of its record?"""
        record = record_key(event)
        baseline = self.baselines.get(record)
        if baseline is not None:
            return event.second > baseline.last_change
        since = self.executions_time if record[0] == "pipeline" else self.snapshot_time
        return since is None or event.second + 1 > since

    def keeps(self, event: PipelineEvent) -> bool:
        """Whether an event may still matter after the current snapshot and summaries."""
        times = [t for t in (self.snapshot_time, self.executions_time) if t is not None]
        return not times or event.second + 1 > min(times)

    # Changing it -------------------------------------------------------------------------
    def with_event(self, event: PipelineEvent) -> Ledger | None:
        """The ledger with this event, or None when it changes nothing (duplicate, too old)."""
        key = event_key(event)
        if key in self.events or not self.keeps(event):
            return None
        ledger = replace(self, events={**self.events, key: event})
        if not ledger.counts(event):
            return ledger
        record = record_key(event)
        lifecycle = ledger.records.get(record, Lifecycle()).add(_fact(event, key))
        return replace(ledger, records={**ledger.records, record: lifecycle})

    def with_snapshot(
        self,
        state: PipelineState,
        executions: Sequence[PipelineExecutionSummary] | None,
        action_executions: Sequence[ActionExecutionDetail] | None,
        observed_at: datetime | None,
    ) -> Ledger | None:
        """The ledger on a new snapshot, or None when the snapshot is older than the current
        one (rule 8).

        Its time `S` is the latest of the state's own timestamps, `observed_at`, and the
        latest time the summaries passed with it show: they were read just before the state
        (`apply_snapshot`'s contract), so every change they show happened before the state was
        read. GetPipelineState times no stage change (a stop's STOPPING, a retry's RESUMED), so
        without the summaries `S` could lag such a change the state already shows, and its
        event, counted again as newer, would change the stage the snapshot shows.
        """
        known = [
            t
            for t in (
                epoch(state.latest_timestamp()),
                epoch(observed_at),
                _latest_listed(executions or ()),
            )
            if t is not None
        ]
        since = max(known) if known else None
        if self.snapshot_time is not None and since is not None and since < self.snapshot_time:
            return None
        details = {
            d.action_execution_id: d for d in action_executions or () if d.action_execution_id
        }
        ledger = replace(self, snapshot=state, snapshot_time=since, action_details=details)
        if executions is not None:
            ledger = ledger._listing(executions)
        return ledger._rebased()

    def with_executions(self, executions: Sequence[PipelineExecutionSummary]) -> Ledger:
        return self._listing(executions)._rebased()

    def with_declaration(self, declaration: PipelineDeclaration) -> Ledger:
        return replace(self, declaration=declaration)

    def with_summary(self, summary: PipelineSummary) -> Ledger:
        return replace(self, summary=summary)

    def _listing(self, executions: Sequence[PipelineExecutionSummary]) -> Ledger:
        table = dict(self.executions)
        newer: list[PipelineExecutionSummary] = []
        for summary in executions:
            previous = table.get(summary.pipeline_execution_id)
            if previous is not None and _older(summary, previous):
                continue
            table[summary.pipeline_execution_id] = summary
            newer.append(summary)
        stamps = [t for t in (_latest_listed(newer), self.executions_time) if t is not None]
        return replace(self, executions=table, executions_time=max(stamps, default=None))

    def _rebased(self) -> Ledger:
        """New baselines from the snapshot and summaries; events judged again against them."""
        baselines, owners = _baselines(self)
        ledger = replace(self, baselines=baselines, run_owners=owners)
        events = {key: event for key, event in ledger.events.items() if ledger.keeps(event)}
        records: dict[RecordKey, Lifecycle] = {}
        for key, event in events.items():
            if ledger.counts(event):
                record = record_key(event)
                records[record] = records.get(record, Lifecycle()).add(_fact(event, key))
        return replace(ledger, events=events, records=records)


def _latest_listed(summaries: Sequence[PipelineExecutionSummary]) -> float | None:
    """The latest `startTime` or `lastUpdateTime` the summaries show."""
    stamps = [
        t
        for summary in summaries
        for t in (epoch(summary.start_time), epoch(summary.last_update_time))
        if t is not None
    ]
    return max(stamps, default=None)


def _older(summary: PipelineExecutionSummary, previous: PipelineExecutionSummary) -> bool:
    """A summary older than the one already held (a late page) does not replace it."""
    before, after = epoch(previous.last_update_time), epoch(summary.last_update_time)
    return before is not None and after is not None and after < before


def _baselines(
    ledger: Ledger,
) -> tuple[dict[RecordKey, Baseline], dict[tuple[str, str], str | None]]:
    """Baselines of the records the snapshot and summaries show, and whose runs actions show."""
    baselines: dict[RecordKey, Baseline] = {}
    owners: dict[tuple[str, str], str | None] = {}
    for eid, summary in ledger.executions.items():
        if summary.status is None:
            continue
        changed = epoch(summary.last_update_time or summary.start_time)
        if changed is None:
            changed = ledger.executions_time if ledger.executions_time is not None else -math.inf
        baselines[("pipeline", eid)] = Baseline(summary.status, changed)
    snapshot = ledger.snapshot
    if snapshot is not None:
        since = ledger.snapshot_time if ledger.snapshot_time is not None else -math.inf
        for eid, status in _ended_in_snapshot(snapshot).items():
            baselines.setdefault(("pipeline", eid), Baseline(status, since))
        for stage in snapshot.stage_states:
            latest = stage.latest_execution
            if latest is not None:
                baselines[("stage", latest.pipeline_execution_id, stage.stage_name)] = Baseline(
                    latest.status, since
                )
            for action in stage.action_states:
                run = action.latest_execution
                if run is None or run.status is None:
                    continue
                detail = ledger.action_details.get(run.action_execution_id or "")
                if detail is not None and detail.pipeline_execution_id:
                    owner: str | None = detail.pipeline_execution_id
                else:
                    owner = latest.pipeline_execution_id if latest is not None else None
                owners[(stage.stage_name, action.action_name)] = owner
                if owner is not None:
                    changed = epoch(run.last_status_change)
                    baselines[("action", owner, stage.stage_name, action.action_name)] = Baseline(
                        run.status, since if changed is None else changed
                    )
    return baselines, owners


def _ended_in_snapshot(snapshot: PipelineState) -> dict[str, str]:
    """Executions the snapshot shows ended: a stage of theirs Failed, Stopped or Cancelled,
    or the last stage Succeeded. For one the summaries do not list (it started after they
    were read), this is its baseline at the snapshot time: without it, its STARTED event from
    before the snapshot, arriving late, would reopen an execution the snapshot shows ended."""
    stages = snapshot.stage_states
    ended: dict[str, str] = {}
    running: set[str] = set()
    for stage in stages:
        latest = stage.latest_execution
        if latest is None:
            continue
        if latest.status in ACTIVE:
            running.add(latest.pipeline_execution_id)
        elif latest.status in ("Failed", "Stopped", "Cancelled"):
            ended.setdefault(latest.pipeline_execution_id, latest.status)
    last = stages[-1].latest_execution if stages else None
    if last is not None and last.status == "Succeeded":
        ended.setdefault(last.pipeline_execution_id, "Succeeded")
    waiting = {w.pipeline_execution_id for stage in stages for w in stage.waiting_executions()}
    return {eid: status for eid, status in ended.items() if eid not in running | waiting}
