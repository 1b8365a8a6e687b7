"""The rows the screens draw, derived from a `Ledger` (rules 5-7 of `tui.model.view`).

`project(ledger)` orders the executions (rule 5), picks for every stage the newest execution
that entered it (rule 6) and for every action its run in the newest execution that ran it
(rule 7), resolves each record's status from its baseline and counted events, and fills in the
details: from the snapshot while an action shows the snapshot's run (closed by a later event
if one came), from the events when it shows a run only they know.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, cast

from tui.model.declaration import ActionCategory
from tui.model.events import ActionExecutionEvent, PipelineExecutionEvent, S3Location
from tui.model.ledger import ACTIVE, Fact, Ledger, Lifecycle, RecordKey, resolve, stamp
from tui.model.state import (
    ActionExecutionStatus,
    ActionRevision,
    ActionState,
    ExecutionType,
    PipelineExecutionStatus,
    RetryStageMetadata,
    SourceRevision,
    StageConditionState,
    StageExecutionStatus,
    StageState,
    TriggerType,
)
from tui.model.state import S3Location as ApiS3Location

PipelineStatus = Literal[
    "Idle",
    "InProgress",
    "Stopping",
    "AwaitingApproval",
    "Succeeded",
    "Failed",
    "Stopped",
    "Superseded",
    "Cancelled",
    "Unknown",
]
# An execution missing from the summaries started after they were listed: late in its second.
_LATE_IN_SECOND: Final = 0.999999


@dataclass(frozen=True, slots=True)
class ArtifactView:
    name: str | None
    bucket: str | None
    key: str | None


@dataclass(frozen=True, slots=True)
class ActionView:
    """One action as a stage row shows it: its latest run (rule 7), or never run."""

    name: str
    status: ActionExecutionStatus | None = None
    # The pipeline execution this run belongs to, when known.
    execution_id: str | None = None
    action_execution_id: str | None = None
    summary: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    external_execution_id: str | None = None
    external_execution_url: str | None = None
    log_stream_arn: str | None = None
    # A pending manual approval's token (only a snapshot has it; events carry none).
    token: str | None = None
    last_updated_by: str | None = None
    percent_complete: int | None = None
    started_at: datetime | None = None
    last_change: datetime | None = None
    category: ActionCategory | None = None
    provider: str | None = None
    region: str | None = None
    run_order: int | None = None
    # The declared approval timeout (only when the declaration is known).
    timeout_in_minutes: int | None = None
    current_revision: ActionRevision | None = None
    entity_url: str | None = None
    revision_url: str | None = None
    input_artifacts: tuple[ArtifactView, ...] = ()
    output_artifacts: tuple[ArtifactView, ...] = ()

    @property
    def is_approval(self) -> bool:
        if self.category is not None:
            return self.category == "Approval"
        return self.token is not None

    @property
    def awaiting_approval(self) -> bool:
        return self.status == "InProgress" and self.is_approval


@dataclass(frozen=True, slots=True)
class TransitionView:
    enabled: bool
    disabled_reason: str | None = None
    last_changed_by: str | None = None
    last_changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboundExecutionView:
    """An execution waiting to enter a stage."""

    execution_id: str
    status: str | None = None
    type: ExecutionType | None = None


@dataclass(frozen=True, slots=True)
class StageView:
    name: str
    status: StageExecutionStatus | None = None
    # The newest execution that entered the stage (rule 6).
    execution_id: str | None = None
    execution_type: ExecutionType | None = None
    started_at: datetime | None = None
    last_change: datetime | None = None
    actions: tuple[ActionView, ...] = ()
    # None on the first stage (it has no inbound transition) and without a snapshot.
    inbound_transition: TransitionView | None = None
    # Executions waiting to enter, oldest first.
    inbound: tuple[InboundExecutionView, ...] = ()
    retry: RetryStageMetadata | None = None
    before_entry: StageConditionState | None = None
    on_success: StageConditionState | None = None
    on_failure: StageConditionState | None = None

    def action(self, name: str) -> ActionView | None:
        return next((a for a in self.actions if a.name == name), None)


@dataclass(frozen=True, slots=True)
class ExecutionView:
    execution_id: str
    status: PipelineExecutionStatus | None = None
    status_summary: str | None = None
    start_time: datetime | None = None
    last_update_time: datetime | None = None
    trigger_type: TriggerType | None = None
    trigger_detail: str | None = None
    stop_reason: str | None = None
    source_revisions: tuple[SourceRevision, ...] = ()
    execution_mode: str | None = None
    execution_type: ExecutionType | None = None
    rollback_target: str | None = None
    pipeline_version: int | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True, slots=True)
class Projection:
    status: PipelineStatus
    stages: tuple[StageView, ...]
    # Newest first (rule 5).
    executions: tuple[ExecutionView, ...]
    execution_mode: str | None
    wants_snapshot: bool


def project(ledger: Ledger) -> Projection:
    projector = _Projector(ledger)
    structure = projector.structure()
    waiting = projector.waiting([name for name, _ in structure])
    stages = [projector.stage(name, actions, waiting[name]) for name, actions in structure]
    executions = projector.executions(stages)
    return Projection(
        status=_pipeline_status(stages, executions),
        stages=tuple(stages),
        executions=executions,
        execution_mode=projector.execution_mode,
        wants_snapshot=projector.wants_snapshot,
    )


class _Projector:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.wants_snapshot = False
        self.by_execution: dict[str, list[RecordKey]] = {}
        # Executions with a record in a stage (or of one action) that can change what it shows.
        self.entrants: dict[str, set[str]] = {}
        self.runners: dict[tuple[str, str], set[str]] = {}
        for record, lifecycle in ledger.records.items():
            self.by_execution.setdefault(record[1], []).append(record)
            if record[0] == "pipeline" or not self._after_snapshot(lifecycle):
                continue
            self.entrants.setdefault(record[2], set()).add(record[1])
            if record[0] == "action":
                self.runners.setdefault((record[2], record[3]), set()).add(record[1])
        # What the declaration says of each action: its type, runOrder, approval timeout.
        self.declared: dict[tuple[str, str], dict[str, Any]] = {}
        if ledger.declaration is not None:
            for declared_stage in ledger.declaration.stages:
                for declared in declared_stage.actions:
                    self.declared[(declared_stage.name, declared.name)] = {
                        "category": declared.action_type_id.category,
                        "provider": declared.action_type_id.provider,
                        "run_order": declared.run_order,
                        "timeout_in_minutes": declared.timeout_in_minutes,
                    }
        self.execution_mode = self._mode()
        self.order = {eid: (self._start(eid), eid) for eid in self._execution_ids()}
        self.execution_status = {
            eid: resolve(
                "pipeline",
                ledger.records.get(("pipeline", eid)),
                ledger.baselines.get(("pipeline", eid)),
            )
            for eid in self.order
        }

    # Rule 5 ---------------------------------------------------------------------------
    def _execution_ids(self) -> set[str]:
        ids = set(self.ledger.executions) | set(self.by_execution)
        snapshot = self.ledger.snapshot
        if snapshot is not None:
            for stage in snapshot.stage_states:
                if stage.latest_execution is not None:
                    ids.add(stage.latest_execution.pipeline_execution_id)
                ids.update(w.pipeline_execution_id for w in stage.waiting_executions())
        return ids

    def _start(self, eid: str) -> float:
        summary = self.ledger.executions.get(eid)
        if summary is not None and summary.start_time is not None:
            return summary.start_time.timestamp()
        pipeline = self.ledger.records.get(("pipeline", eid))
        if pipeline is not None and pipeline.started is not None:
            return pipeline.started.second + _LATE_IN_SECOND
        # Its start is unknown (its STARTED is late, or was lost): it takes no stage from an
        # execution known to have started.
        return -math.inf

    def _after_snapshot(self, lifecycle: Lifecycle) -> bool:
        """Whether a record has an event certainly later than the snapshot (rule 6): only
        such a record can change which execution a stage or action shows."""
        since = self.ledger.snapshot_time
        return since is None or (
            lifecycle.last_second is not None and lifecycle.last_second > since
        )

    def newest(self, ids: Iterable[str | None]) -> str | None:
        known = [eid for eid in ids if eid is not None]
        if not known:
            return None
        return max(known, key=lambda eid: self.order.get(eid, (-math.inf, eid)))

    def _mode(self) -> str | None:
        ledger = self.ledger
        if ledger.declaration is not None and ledger.declaration.execution_mode is not None:
            return ledger.declaration.execution_mode
        if ledger.summary is not None and ledger.summary.execution_mode is not None:
            return ledger.summary.execution_mode
        for summary in ledger.executions.values():
            if summary.execution_mode is not None:
                return summary.execution_mode
        return None

    # Structure --------------------------------------------------------------------------
    def structure(self) -> list[tuple[str, list[str]]]:
        """Stage and action names in order: the newer of snapshot and declaration, then any
        stage or action only events name (all of them when no structure is known; those of a
        newer pipeline version otherwise, which also asks for a snapshot)."""
        ledger = self.ledger
        snapshot, declaration = ledger.snapshot, ledger.declaration
        stages: list[tuple[str, list[str]]] = []
        version: int | None = None
        if declaration is not None and (
            snapshot is None
            or not snapshot.stage_states
            or (snapshot.pipeline_version or 0) < declaration.version
        ):
            stages = [(s.name, [a.name for a in s.actions]) for s in declaration.stages]
            version = declaration.version
        elif snapshot is not None:
            stages = [
                (s.stage_name, [a.action_name for a in s.action_states])
                for s in snapshot.stage_states
            ]
            version = snapshot.pipeline_version
        known = bool(stages)
        extra_stages: dict[str, int] = {}
        extra_actions: dict[str, dict[str, int]] = {}
        for record, lifecycle in ledger.records.items():
            if record[0] == "pipeline" or lifecycle.first_second is None:
                continue
            newer = version is not None and (lifecycle.version or 0) > version
            if known and newer:
                self.wants_snapshot = True
            if known and not newer:
                continue
            first = lifecycle.first_second
            extra_stages[record[2]] = min(extra_stages.get(record[2], first), first)
            if record[0] == "action":
                seen = extra_actions.setdefault(record[2], {})
                seen[record[3]] = min(seen.get(record[3], first), first)
        index = {name: position for position, (name, _) in enumerate(stages)}
        for name in sorted(extra_stages, key=lambda n: (extra_stages[n], n)):
            if name not in index:
                index[name] = len(stages)
                stages.append((name, []))
            seen = extra_actions.get(name, {})
            current = stages[index[name]][1]
            new = sorted((a for a in seen if a not in current), key=lambda a: (seen[a], a))
            stages[index[name]] = (name, current + new)
        return stages

    # Rule 6: stages ---------------------------------------------------------------------
    def _snapshot_stage(self, name: str) -> StageState | None:
        snapshot = self.ledger.snapshot
        if snapshot is None:
            return None
        return next((s for s in snapshot.stage_states if s.stage_name == name), None)

    def stage(
        self, name: str, action_names: Sequence[str], inbound: tuple[InboundExecutionView, ...]
    ) -> StageView:
        ledger = self.ledger
        snap = self._snapshot_stage(name)
        snap_latest = snap.latest_execution if snap is not None else None
        snap_eid = snap_latest.pipeline_execution_id if snap_latest is not None else None
        shown = self.newest({snap_eid} | self.entrants.get(name, set()))
        actions = tuple(self.action(name, action_name, snap) for action_name in action_names)
        fields: dict[str, Any] = {
            "name": name,
            "execution_id": shown,
            "actions": actions,
            "inbound": inbound,
        }
        if snap is not None:
            fields.update(
                inbound_transition=_transition(snap),
                retry=snap.retry_stage_metadata,
                before_entry=snap.before_entry_condition_state,
                on_success=snap.on_success_condition_state,
                on_failure=snap.on_failure_condition_state,
            )
        if shown is None:
            return StageView(**fields)
        record: RecordKey = ("stage", shown, name)
        lifecycle = ledger.records.get(record)
        # Entered (its actions ran) even if its own events were not seen.
        fields["status"] = resolve("stage", lifecycle, ledger.baselines.get(record)) or "InProgress"
        if shown == snap_eid and snap_latest is not None:
            fields["execution_type"] = snap_latest.type
        else:
            summary = ledger.executions.get(shown)
            fields["execution_type"] = summary.execution_type if summary is not None else None
        started_at = None
        changes = []
        if lifecycle is not None:
            if lifecycle.last_open is not None:
                started_at = lifecycle.last_open.event.time
            if lifecycle.last_second is not None:
                changes.append(stamp(lifecycle.last_second))
        mine = [a for a in actions if a.execution_id == shown]
        if started_at is None:
            started_at = min((a.started_at for a in mine if a.started_at), default=None)
        changes.extend(a.last_change for a in mine if a.last_change is not None)
        fields["started_at"] = started_at
        fields["last_change"] = max((c for c in changes if c is not None), default=None)
        return StageView(**fields)

    # Rule 7: actions --------------------------------------------------------------------
    def action(self, stage: str, name: str, snap: StageState | None) -> ActionView:
        ledger = self.ledger
        snap_action = None
        if snap is not None:
            snap_action = next((a for a in snap.action_states if a.action_name == name), None)
        snap_run = snap_action.latest_execution if snap_action is not None else None
        if snap_run is not None and snap_run.status is None:
            snap_run = None
        owner = ledger.run_owners.get((stage, name))
        candidates = set(self.runners.get((stage, name), set()))
        if snap_run is not None and owner is not None:
            candidates.add(owner)
        fields: dict[str, Any] = dict(self.declared.get((stage, name), {}))
        fields["name"] = name
        if snap_action is not None:
            fields.update(
                current_revision=snap_action.current_revision,
                entity_url=snap_action.entity_url,
                revision_url=snap_action.revision_url,
            )
        shown = self.newest(candidates)
        if shown is None:
            if snap_action is not None and snap_run is not None:
                # A run the snapshot shows but cannot place (its stage names no execution).
                self._snapshot_run(fields, snap_action, None, None)
            return ActionView(**fields)
        record: RecordKey = ("action", shown, stage, name)
        lifecycle = ledger.records.get(record)
        baseline = ledger.baselines.get(record)
        status = resolve("action", lifecycle, baseline)
        continues_snapshot_run = (
            baseline is not None
            and (lifecycle is None or lifecycle.opens == 0)
            and (baseline.status in ACTIVE or lifecycle is None or lifecycle.closes == 0)
        )
        if continues_snapshot_run and snap_action is not None:
            self._snapshot_run(fields, snap_action, shown, status)
            if lifecycle is not None and lifecycle.last_close is not None:
                _closed_by(fields, lifecycle.last_close)
        else:
            self._event_run(fields, shown, status, lifecycle)
        return ActionView(**fields)

    def _snapshot_run(
        self,
        fields: dict[str, Any],
        snap_action: ActionState,
        execution_id: str | None,
        status: str | None,
    ) -> None:
        """The run GetPipelineState shows (with its ListActionExecutions detail if known)."""
        run = snap_action.latest_execution
        assert run is not None
        detail = self.ledger.action_details.get(run.action_execution_id or "")
        resolved = status if status is not None else run.status
        started_at = None
        if detail is not None:
            started_at = detail.start_time
            if detail.input is not None:
                type_id = detail.input.action_type_id
                fields["region"] = detail.input.region
                if type_id is not None:
                    fields.setdefault("category", type_id.category)
                    fields.setdefault("provider", type_id.provider)
                fields["input_artifacts"] = tuple(
                    _api_artifact(a.name, a.s3location) for a in detail.input.input_artifacts
                )
            if detail.output is not None:
                fields["output_artifacts"] = tuple(
                    _api_artifact(a.name, a.s3location) for a in detail.output.output_artifacts
                )
        if started_at is None and run.status == "InProgress":
            started_at = run.last_status_change
        error = run.error_details
        fields.update(
            status=resolved,
            execution_id=execution_id,
            action_execution_id=run.action_execution_id,
            summary=run.summary,
            error_code=error.code if error is not None else None,
            error_message=error.message if error is not None else None,
            external_execution_id=run.external_execution_id,
            external_execution_url=run.external_execution_url,
            log_stream_arn=run.log_stream_arn,
            token=run.token if resolved == "InProgress" else None,
            last_updated_by=run.last_updated_by,
            percent_complete=run.percent_complete,
            started_at=started_at,
            last_change=run.last_status_change,
        )

    def _event_run(
        self,
        fields: dict[str, Any],
        execution_id: str,
        status: str | None,
        lifecycle: Lifecycle | None,
    ) -> None:
        """A run only events know: a new attempt, or an execution the snapshot does not show."""
        fields["execution_id"] = execution_id
        if lifecycle is None:
            return
        running = status == "InProgress"
        fields["status"] = status
        fields["last_change"] = stamp(lifecycle.last_second)
        opened = lifecycle.last_open
        if opened is not None:
            event = opened.event
            assert isinstance(event, ActionExecutionEvent)
            fields["started_at"] = event.time
            fields["input_artifacts"] = tuple(
                _event_artifact(a.name, a.s3location) for a in event.detail.input_artifacts
            )
            _take_event_type(fields, event)
            if running:
                fields["last_change"] = event.time
                approval = fields.get("category") == "Approval"
                if approval and self.execution_mode != "PARALLEL":
                    # Only a snapshot carries the token needed to answer it.
                    self.wants_snapshot = True
        if not running and lifecycle.last_close is not None:
            _closed_by(fields, lifecycle.last_close)

    # Waiting executions -----------------------------------------------------------------
    def waiting(self, names: list[str]) -> dict[str, tuple[InboundExecutionView, ...]]:
        """Who waits in front of each stage, oldest first: the snapshot's waiting executions
        that have not entered or ended since, and executions whose events show them done with
        the stage before and not yet in this one (or started and in no stage yet)."""
        ledger = self.ledger
        waiting: dict[str, dict[str, InboundExecutionView]] = {name: {} for name in names}
        for name in names:
            snap = self._snapshot_stage(name)
            if snap is None:
                continue
            for item in snap.waiting_executions():
                eid = item.pipeline_execution_id
                status = self.execution_status.get(eid)
                entered = eid in self.entrants.get(name, set())
                if entered or (status is not None and status not in ACTIVE):
                    continue
                waiting[name][eid] = InboundExecutionView(eid, item.status, item.type)
        for eid, records in self.by_execution.items():
            if self.execution_status.get(eid) not in ACTIVE:
                continue
            furthest = -1
            for index, name in enumerate(names):
                if ("stage", eid, name) in ledger.baselines or any(
                    r[0] in ("stage", "action") and r[2] == name for r in records
                ):
                    furthest = index
            if furthest < 0:
                started = ledger.records.get(("pipeline", eid))
                if started is not None and self._after_snapshot(started) and names:
                    waiting[names[0]].setdefault(eid, InboundExecutionView(eid, "InProgress"))
                continue
            if furthest + 1 >= len(names):
                continue
            record: RecordKey = ("stage", eid, names[furthest])
            if record not in ledger.records or not self._after_snapshot(ledger.records[record]):
                continue
            if resolve("stage", ledger.records[record], ledger.baselines.get(record)) == (
                "Succeeded"
            ):
                summary = ledger.executions.get(eid)
                waiting[names[furthest + 1]].setdefault(
                    eid,
                    InboundExecutionView(
                        eid, "InProgress", summary.execution_type if summary else None
                    ),
                )
        return {
            name: tuple(
                sorted(
                    queue.values(),
                    key=lambda w: self.order.get(w.execution_id, (-math.inf, w.execution_id)),
                )
            )
            for name, queue in waiting.items()
        }

    # Executions -------------------------------------------------------------------------
    def executions(self, stages: list[StageView]) -> tuple[ExecutionView, ...]:
        ordered = sorted(self.order, key=lambda eid: self.order[eid], reverse=True)
        return tuple(self._execution(eid, stages) for eid in ordered)

    def _execution(self, eid: str, stages: list[StageView]) -> ExecutionView:
        ledger = self.ledger
        summary = ledger.executions.get(eid)
        status = self.execution_status.get(eid) or _status_from_stages(eid, stages)
        fields: dict[str, Any] = {"execution_id": eid, "status": status}
        if summary is not None:
            rollback = summary.rollback_metadata
            trigger = summary.trigger
            fields.update(
                status_summary=summary.status_summary,
                start_time=summary.start_time,
                last_update_time=summary.last_update_time,
                trigger_type=trigger.trigger_type if trigger else None,
                trigger_detail=trigger.trigger_detail if trigger else None,
                stop_reason=summary.stop_trigger.reason if summary.stop_trigger else None,
                source_revisions=summary.source_revisions,
                execution_mode=summary.execution_mode,
                execution_type=summary.execution_type,
                rollback_target=rollback.rollback_target_pipeline_execution_id
                if rollback
                else None,
            )
        else:
            fields["source_revisions"] = self._event_revisions(eid)
            if eid in self.by_execution:
                # Trigger and source revisions of a new execution: ListPipelineExecutions has them.
                self.wants_snapshot = True
        lifecycle = ledger.records.get(("pipeline", eid))
        if lifecycle is not None:
            _take_pipeline_events(fields, lifecycle, summarised=summary is not None)
        return ExecutionView(**fields)

    def _event_revisions(self, eid: str) -> tuple[SourceRevision, ...]:
        """Source revisions of an execution the summaries lack, from its source actions' events."""
        revisions = []
        for record in sorted(self.by_execution.get(eid, [])):
            if record[0] != "action":
                continue
            close = self.ledger.records[record].last_close
            if close is None or close.state != "SUCCEEDED":
                continue
            event = close.event
            assert isinstance(event, ActionExecutionEvent)
            detail = event.detail
            result = detail.execution_result
            if detail.type is None or detail.type.category != "Source" or result is None:
                continue
            revisions.append(
                SourceRevision(
                    action_name=detail.action,
                    revision_id=result.external_execution_id,
                    revision_summary=result.external_execution_summary,
                    revision_url=result.external_execution_url,
                )
            )
        return tuple(revisions)


def _transition(snap: StageState) -> TransitionView | None:
    state = snap.inbound_transition_state
    if state is None:
        return None
    return TransitionView(
        enabled=state.enabled if state.enabled is not None else True,
        disabled_reason=state.disabled_reason,
        last_changed_by=state.last_changed_by,
        last_changed_at=state.last_changed_at,
    )


def _api_artifact(name: str | None, location: ApiS3Location | None) -> ArtifactView:
    return ArtifactView(
        name, location.bucket if location else None, location.key if location else None
    )


def _event_artifact(name: str | None, location: S3Location | None) -> ArtifactView:
    return ArtifactView(
        name, location.bucket if location else None, location.key if location else None
    )


def _take_event_type(fields: dict[str, Any], event: ActionExecutionEvent) -> None:
    """Region and action type from an action event (the declaration's type wins)."""
    detail = event.detail
    if detail.region is not None:
        fields["region"] = detail.region
    if detail.type is not None:
        if fields.get("category") is None:
            fields["category"] = detail.type.category
        if fields.get("provider") is None:
            fields["provider"] = detail.type.provider


def _closed_by(fields: dict[str, Any], close: Fact) -> None:
    """What a closing event says of the run it ends."""
    event = close.event
    assert isinstance(event, ActionExecutionEvent)
    detail = event.detail
    result = detail.execution_result
    if result is not None:
        fields["summary"] = result.external_execution_summary
        fields["error_code"] = result.error_code
        if result.external_execution_id:
            fields["external_execution_id"] = result.external_execution_id
        if result.external_execution_url:
            fields["external_execution_url"] = result.external_execution_url
    else:
        fields["error_code"] = None
    fields.update(error_message=None, token=None, percent_complete=None, last_change=event.time)
    if detail.output_artifacts:
        fields["output_artifacts"] = tuple(
            _event_artifact(a.name, a.s3location) for a in detail.output_artifacts
        )
    _take_event_type(fields, event)


def _take_pipeline_events(
    fields: dict[str, Any], lifecycle: Lifecycle, *, summarised: bool
) -> None:
    """What pipeline-level events add: start and trigger (when no summary has them), the stop
    comment, the pipeline version and the time of the latest change."""
    if lifecycle.version is not None and fields.get("pipeline_version") is None:
        fields["pipeline_version"] = lifecycle.version
    started = lifecycle.started
    if started is not None and not summarised:
        event = started.event
        assert isinstance(event, PipelineExecutionEvent)
        trigger = event.detail.execution_trigger
        fields["start_time"] = event.time
        fields["trigger_type"] = trigger.trigger_type if trigger else None
        fields["trigger_detail"] = trigger.trigger_detail if trigger else None
    stopping = lifecycle.last_stopping
    if stopping is not None and fields.get("stop_reason") is None:
        event = stopping.event
        assert isinstance(event, PipelineExecutionEvent)
        fields["stop_reason"] = event.detail.stop_execution_comments
    latest = stamp(lifecycle.last_second)
    current = fields.get("last_update_time")
    if latest is not None and (current is None or latest > current):
        fields["last_update_time"] = latest


def _status_from_stages(eid: str, stages: Sequence[StageView]) -> str | None:
    """The status of an execution known only from stages: what they say of it."""
    shown = [s for s in stages if s.execution_id == eid and s.status is not None]
    if any(s.status in ACTIVE for s in shown):
        return "InProgress"
    if any(eid == w.execution_id for s in stages for w in s.inbound):
        return "InProgress"
    for status in ("Failed", "Stopped", "Cancelled"):
        if any(s.status == status for s in shown):
            return status
    if stages and stages[-1].execution_id == eid and stages[-1].status == "Succeeded":
        return "Succeeded"
    return None


def _pipeline_status(
    stages: Sequence[StageView], executions: Sequence[ExecutionView]
) -> PipelineStatus:
    """One word for the pipeline: a pending approval first (someone must act), then the
    newest execution's status (InProgress while an older one still runs), else what the
    stages show; Idle when nothing ever ran."""
    if any(action.awaiting_approval for stage in stages for action in stage.actions):
        return "AwaitingApproval"
    known = [e for e in executions if e.status is not None]
    if known:
        latest = known[0]
        if latest.status in ACTIVE or not any(e.active for e in known):
            return cast(PipelineStatus, latest.status)
        return "InProgress"
    statuses = [s.status for s in stages if s.status is not None]
    if not statuses:
        return "Unknown" if executions else "Idle"
    if any(s in ACTIVE for s in statuses):
        return "InProgress"
    for status in ("Failed", "Stopped", "Cancelled"):
        if status in statuses:
            return cast(PipelineStatus, status)
    if all(s in ("Succeeded", "Skipped") for s in statuses):
        return "Succeeded"
    return "Unknown"
