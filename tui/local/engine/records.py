"""The engine's records: what it persists and what every API answer is rendered from.

Plain dataclasses serialised to JSON columns (see `store.py`). Statuses use the API's own
spellings (`InProgress`, `Succeeded`, ...) so rendering never translates them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

ExecutionStatus = Literal[
    "Cancelled", "InProgress", "Stopped", "Stopping", "Succeeded", "Superseded", "Failed"
]
StageStatus = Literal[
    "Cancelled", "InProgress", "Failed", "Stopped", "Stopping", "Succeeded", "Skipped"
]
ActionStatus = Literal["InProgress", "Abandoned", "Succeeded", "Failed"]
# Where an active execution is: waiting to enter `stage_index`, or running inside it.
Phase = Literal["waiting", "running", "done"]

ACTIVE_EXECUTION_STATUSES = ("InProgress", "Stopping")


@dataclass
class PipelineRecord:
    name: str
    arn: str
    version: int
    # The declaration as the API returns it (get-pipeline JSON of the current version).
    declaration: dict[str, Any]
    created: float
    updated: float
    tags: list[dict[str, str]] = field(default_factory=list)


@dataclass
class TransitionRecord:
    enabled: bool = True
    disabled_reason: str | None = None
    last_changed_by: str | None = None
    last_changed_at: float | None = None


@dataclass
class StageLane:
    """One stage's pipeline-wide runtime: its gate, lock, waiting line and latest runs."""

    inbound: TransitionRecord = field(default_factory=TransitionRecord)
    outbound: TransitionRecord = field(default_factory=TransitionRecord)
    # The last execution that entered the stage (GetPipelineState's stage latestExecution).
    latest_execution_id: str | None = None
    # The execution holding the stage's lock (SUPERSEDED and QUEUED modes).
    occupant: str | None = None
    # Executions waiting to enter, in arrival order (SUPERSEDED keeps at most one).
    waiting: list[str] = field(default_factory=list)
    # Action name -> its most recent action execution id, whatever the execution.
    action_latest: dict[str, str] = field(default_factory=dict)


@dataclass
class PipelineRuntime:
    name: str
    lanes: dict[str, StageLane] = field(default_factory=dict)

    def lane(self, stage: str) -> StageLane:
        return self.lanes.setdefault(stage, StageLane())


@dataclass
class StageRun:
    """One execution's passage through one stage (attempts count retries)."""

    status: StageStatus
    started: float
    updated: float
    attempt: int = 1
    type: str = "STANDARD"
    # Index into the stage's runOrder groups currently running.
    group_index: int = 0
    # Actions this attempt runs (a FAILED_ACTIONS retry leaves out the ones that succeeded).
    to_run: list[str] = field(default_factory=list)
    # Action name -> latest action execution id in this execution.
    actions: dict[str, str] = field(default_factory=dict)
    # GetPipelineState's retryStageMetadata of this passage: retries by trigger, and the last.
    auto_retry_attempts: int = 0
    manual_retry_attempts: int = 0
    latest_retry_trigger: str | None = None


@dataclass
class ArtifactRecord:
    name: str
    bucket: str
    key: str


@dataclass
class ExecutionRecord:
    id: str
    pipeline_name: str
    pipeline_version: int
    status: ExecutionStatus
    start_time: float
    last_update_time: float
    trigger_type: str
    trigger_detail: str
    execution_mode: str
    execution_type: str = "STANDARD"
    status_summary: str | None = None
    # Pipeline variables resolved at start (defaults overlaid with the caller's values).
    variables: dict[str, str] = field(default_factory=dict)
    # StartPipelineExecution sourceRevisions overrides, as sent.
    source_overrides: list[dict[str, str]] = field(default_factory=list)
    client_request_token: str | None = None
    request_digest: str | None = None
    phase: Phase = "waiting"
    stage_index: int = 0
    stages: dict[str, StageRun] = field(default_factory=dict)
    artifacts: dict[str, ArtifactRecord] = field(default_factory=dict)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    # ArtifactRevision dicts of the source actions (API shape).
    artifact_revisions: list[dict[str, Any]] = field(default_factory=list)
    source_revisions: list[dict[str, Any]] = field(default_factory=list)
    stop_requested: bool = False
    stop_abandon: bool = False
    stop_reason: str | None = None
    cancel_requested: bool = False
    rollback_target: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_EXECUTION_STATUSES


@dataclass
class ActionRun:
    id: str
    execution_id: str
    pipeline_name: str
    pipeline_version: int
    stage_name: str
    action_name: str
    attempt: int
    status: ActionStatus
    start_time: float
    last_update_time: float
    action_type_id: dict[str, str]
    configuration: dict[str, str]
    run_order: int = 1
    resolved_configuration: dict[str, str] = field(default_factory=dict)
    role_arn: str | None = None
    region: str | None = None
    namespace: str | None = None
    input_artifacts: list[ArtifactRecord] = field(default_factory=list)
    output_artifacts: list[ArtifactRecord] = field(default_factory=list)
    output_variables: dict[str, str] = field(default_factory=dict)
    summary: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    external_execution_id: str | None = None
    external_execution_url: str | None = None
    log_stream_arn: str | None = None
    updated_by: str | None = None
    # Manual approvals: the token while pending, and when an unanswered approval fails.
    token: str | None = None
    approval_expires: float | None = None
    answered: bool = False
    percent_complete: int | None = None
    # Source actions: the revision they ran on (ArtifactRevision fields, API names).
    revision: dict[str, Any] | None = None

    @property
    def is_approval(self) -> bool:
        return self.action_type_id.get("category") == "Approval"


def to_json(record: object) -> dict[str, Any]:
    return dataclasses.asdict(record)  # type: ignore[call-overload, no-any-return]


def execution_from_json(data: dict[str, Any]) -> ExecutionRecord:
    data = dict(data)
    data["stages"] = {name: StageRun(**run) for name, run in data.get("stages", {}).items()}
    data["artifacts"] = {
        name: ArtifactRecord(**artifact) for name, artifact in data.get("artifacts", {}).items()
    }
    return ExecutionRecord(**data)


def action_run_from_json(data: dict[str, Any]) -> ActionRun:
    data = dict(data)
    data["input_artifacts"] = [ArtifactRecord(**a) for a in data.get("input_artifacts", [])]
    data["output_artifacts"] = [ArtifactRecord(**a) for a in data.get("output_artifacts", [])]
    return ActionRun(**data)


_LANE_FIELDS = frozenset(f.name for f in dataclasses.fields(StageLane))


def runtime_from_json(data: dict[str, Any]) -> PipelineRuntime:
    lanes = {}
    for stage, lane in data.get("lanes", {}).items():
        # Data dirs of earlier versions kept retry counters on the lane (now on StageRun).
        lane = {k: v for k, v in lane.items() if k in _LANE_FIELDS}
        lane["inbound"] = TransitionRecord(**lane.get("inbound", {}))
        lane["outbound"] = TransitionRecord(**lane.get("outbound", {}))
        lanes[stage] = StageLane(**lane)
    return PipelineRuntime(name=data["name"], lanes=lanes)


def pipeline_from_json(data: dict[str, Any]) -> PipelineRecord:
    return PipelineRecord(**data)
