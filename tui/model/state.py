"""What CodePipeline's read APIs return, as typed, immutable models.

One model per botocore `codepipeline` shape the screens read: GetPipelineState
(`PipelineState` down to `ActionExecution`, transitions, inbound executions, retry metadata,
conditions and rules), GetPipelineExecution (`PipelineExecution`), ListPipelineExecutions
(`PipelineExecutionSummary`), ListActionExecutions (`ActionExecutionDetail`) and
ListPipelines (`PipelineSummary`). Attributes are snake_case, the API names camelCase
aliases; enums are `Literal`s with exactly botocore's values.

`Model.from_api(data)` takes the dict botocore returns: timestamps as `datetime` objects
(botocore gives them `tzlocal()`; they are converted to UTC). Decisions:

| Topic | Decision |
|---|---|
| missing optional member, or JSON `null` | `None` (lists: empty tuple, maps: empty dict) |
| missing member the model marks required (e.g. `StageExecution.status`) | `MalformedResponse` |
| missing name or id the view needs to place an item (`pipelineName`, `stageName`, `actionName`, a summary's `pipelineExecutionId`, a pipeline summary's `name`) [I] | `MalformedResponse` (botocore marks them optional; an item without them cannot be shown) |
| unknown members (`ResponseMetadata`, members newer than our botocore) | ignored |
| an enum value botocore does not know | `MalformedResponse` (the reducer's rules depend on the set) |
| timestamps | `datetime` with any tzinfo, or epoch seconds, or ISO 8601; stored as UTC-aware; a naive `datetime` is taken as UTC [I] |
| `to_api()` | the JSON form back (camelCase, timestamps as ISO 8601); absent members and empty lists or maps are left out |

Whole responses: `PipelineState.from_api(get_pipeline_state_response)`,
`PipelineExecution.from_api(response["pipelineExecution"])`, and for the list operations
`PipelineExecutionSummary.list_from_api(response)`, `ActionExecutionDetail.list_from_api`,
`PipelineSummary.list_from_api` (one page; call once per page and concatenate).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from tui.model.declaration import ActionTypeId, ExecutionMode, PipelineType

ActionExecutionStatus = Literal["InProgress", "Abandoned", "Succeeded", "Failed"]
StageExecutionStatus = Literal[
    "Cancelled", "InProgress", "Failed", "Stopped", "Stopping", "Succeeded", "Skipped"
]
PipelineExecutionStatus = Literal[
    "Cancelled", "InProgress", "Stopped", "Stopping", "Succeeded", "Superseded", "Failed"
]
ConditionExecutionStatus = Literal[
    "InProgress", "Failed", "Errored", "Succeeded", "Cancelled", "Abandoned", "Overridden"
]
RuleExecutionStatus = Literal["InProgress", "Abandoned", "Succeeded", "Failed"]
ExecutionType = Literal["STANDARD", "ROLLBACK"]
TriggerType = Literal[
    "CreatePipeline",
    "StartPipelineExecution",
    "PollForSourceChanges",
    "Webhook",
    "CloudWatchEvent",
    "PutActionRevision",
    "WebhookV2",
    "ManualRollback",
    "AutomatedRollback",
]
RetryTrigger = Literal["AutomatedStageRetry", "ManualStageRetry"]


class MalformedResponse(ValueError):
    """A read API's answer that does not fit botocore's shape (missing required member, bad enum)."""


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


Timestamp = Annotated[datetime, AfterValidator(_utc)]


class ApiShape(BaseModel):
    """A botocore structure: camelCase in the API, snake_case here, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        # [I] Validators are built at first use, not at import: building them all costs
        # about 0.2 s, which the app would otherwise spend before its first frame.
        defer_build=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Self:
        """Parse what botocore returned for this shape; `MalformedResponse` if it does not fit."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise MalformedResponse(f"{cls.__name__}: {_describe(error)}") from error

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "<root>"
        problems.append(f"{where}: {item['msg']}")
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


class _Listing(ApiShape):
    """Shapes that arrive as a page of a list operation."""

    list_key: ClassVar[str]

    @classmethod
    def list_from_api(cls, response: Mapping[str, Any]) -> tuple[Self, ...]:
        items = response.get(cls.list_key) or []
        if not isinstance(items, list | tuple):
            raise MalformedResponse(f"{cls.list_key}: expected a list, got {type(items).__name__}")
        return tuple(cls.from_api(item) for item in items)


# GetPipelineState -----------------------------------------------------------------------
class ErrorDetails(ApiShape):
    code: str | None = None
    message: str | None = None


class ActionRevision(ApiShape):
    revision_id: str
    revision_change_id: str
    created: Timestamp


class ActionExecution(ApiShape):
    """An action's latest run as GetPipelineState shows it (whatever the pipeline execution)."""

    action_execution_id: str | None = None
    status: ActionExecutionStatus | None = None
    summary: str | None = None
    last_status_change: Timestamp | None = None
    # Only while a manual approval waits (not shown in PARALLEL mode).
    token: str | None = None
    last_updated_by: str | None = None
    external_execution_id: str | None = None
    external_execution_url: str | None = None
    percent_complete: int | None = None
    error_details: ErrorDetails | None = None
    log_stream_arn: str | None = Field(default=None, alias="logStreamARN")


class ActionState(ApiShape):
    action_name: str
    current_revision: ActionRevision | None = None
    latest_execution: ActionExecution | None = None
    entity_url: str | None = None
    revision_url: str | None = None


class StageExecution(ApiShape):
    pipeline_execution_id: str
    status: StageExecutionStatus
    type: ExecutionType | None = None


class TransitionState(ApiShape):
    enabled: bool | None = None
    last_changed_by: str | None = None
    last_changed_at: Timestamp | None = None
    disabled_reason: str | None = None


class RetryStageMetadata(ApiShape):
    auto_stage_retry_attempt: int | None = None
    manual_stage_retry_attempt: int | None = None
    latest_retry_trigger: RetryTrigger | None = None


class StageConditionsExecution(ApiShape):
    status: ConditionExecutionStatus | None = None
    summary: str | None = None


class ConditionExecution(ApiShape):
    status: ConditionExecutionStatus | None = None
    summary: str | None = None
    last_status_change: Timestamp | None = None


class RuleRevision(ApiShape):
    revision_id: str
    revision_change_id: str
    created: Timestamp


class RuleExecution(ApiShape):
    rule_execution_id: str | None = None
    status: RuleExecutionStatus | None = None
    summary: str | None = None
    last_status_change: Timestamp | None = None
    token: str | None = None
    last_updated_by: str | None = None
    external_execution_id: str | None = None
    external_execution_url: str | None = None
    error_details: ErrorDetails | None = None


class RuleState(ApiShape):
    rule_name: str | None = None
    current_revision: RuleRevision | None = None
    latest_execution: RuleExecution | None = None
    entity_url: str | None = None
    revision_url: str | None = None


class ConditionState(ApiShape):
    latest_execution: ConditionExecution | None = None
    rule_states: tuple[RuleState, ...] = ()


class StageConditionState(ApiShape):
    latest_execution: StageConditionsExecution | None = None
    condition_states: tuple[ConditionState, ...] = ()


class StageState(ApiShape):
    stage_name: str
    # The execution waiting to enter (SUPERSEDED), or the first of `inbound_executions`.
    inbound_execution: StageExecution | None = None
    inbound_executions: tuple[StageExecution, ...] = ()
    inbound_transition_state: TransitionState | None = None
    action_states: tuple[ActionState, ...] = ()
    # The last execution that entered the stage.
    latest_execution: StageExecution | None = None
    before_entry_condition_state: StageConditionState | None = None
    on_success_condition_state: StageConditionState | None = None
    on_failure_condition_state: StageConditionState | None = None
    retry_stage_metadata: RetryStageMetadata | None = None

    def waiting_executions(self) -> tuple[StageExecution, ...]:
        """Every execution waiting to enter, without repeating `inbound_execution`."""
        waiting = list(self.inbound_executions)
        if self.inbound_execution is not None and all(
            w.pipeline_execution_id != self.inbound_execution.pipeline_execution_id for w in waiting
        ):
            waiting.insert(0, self.inbound_execution)
        return tuple(waiting)


class PipelineState(ApiShape):
    """GetPipelineState's answer."""

    pipeline_name: str
    pipeline_version: int | None = None
    stage_states: tuple[StageState, ...] = ()
    created: Timestamp | None = None
    updated: Timestamp | None = None

    def latest_timestamp(self) -> datetime | None:
        """The latest time the answer shows: no change after it is hidden from it."""
        stamps = [s for s in (self.created, self.updated) if s is not None]
        for stage in self.stage_states:
            transition = stage.inbound_transition_state
            if transition is not None and transition.last_changed_at is not None:
                stamps.append(transition.last_changed_at)
            for action in stage.action_states:
                run = action.latest_execution
                if run is not None and run.last_status_change is not None:
                    stamps.append(run.last_status_change)
        return max(stamps, default=None)


# GetPipelineExecution / ListPipelineExecutions ------------------------------------------
class ArtifactRevision(ApiShape):
    name: str | None = None
    revision_id: str | None = None
    revision_change_identifier: str | None = None
    revision_summary: str | None = None
    created: Timestamp | None = None
    revision_url: str | None = None


class ResolvedPipelineVariable(ApiShape):
    name: str | None = None
    resolved_value: str | None = None


class ExecutionTrigger(ApiShape):
    trigger_type: TriggerType | None = None
    trigger_detail: str | None = None


class PipelineRollbackMetadata(ApiShape):
    rollback_target_pipeline_execution_id: str | None = None


class PipelineExecution(ApiShape):
    """GetPipelineExecution's `pipelineExecution`."""

    pipeline_name: str | None = None
    pipeline_version: int | None = None
    pipeline_execution_id: str | None = None
    status: PipelineExecutionStatus | None = None
    status_summary: str | None = None
    artifact_revisions: tuple[ArtifactRevision, ...] = ()
    variables: tuple[ResolvedPipelineVariable, ...] = ()
    trigger: ExecutionTrigger | None = None
    execution_mode: ExecutionMode | None = None
    execution_type: ExecutionType | None = None
    rollback_metadata: PipelineRollbackMetadata | None = None


class SourceRevision(ApiShape):
    action_name: str
    revision_id: str | None = None
    revision_summary: str | None = None
    revision_url: str | None = None


class StopExecutionTrigger(ApiShape):
    reason: str | None = None


class PipelineExecutionSummary(_Listing):
    """One item of ListPipelineExecutions (newest first)."""

    list_key: ClassVar[str] = "pipelineExecutionSummaries"

    pipeline_execution_id: str
    status: PipelineExecutionStatus | None = None
    status_summary: str | None = None
    start_time: Timestamp | None = None
    last_update_time: Timestamp | None = None
    source_revisions: tuple[SourceRevision, ...] = ()
    trigger: ExecutionTrigger | None = None
    stop_trigger: StopExecutionTrigger | None = None
    execution_mode: ExecutionMode | None = None
    execution_type: ExecutionType | None = None
    rollback_metadata: PipelineRollbackMetadata | None = None


# ListActionExecutions -------------------------------------------------------------------
class S3Location(ApiShape):
    bucket: str | None = None
    key: str | None = None


class ArtifactDetail(ApiShape):
    name: str | None = None
    s3location: S3Location | None = Field(default=None, alias="s3location")


class ActionExecutionInput(ApiShape):
    action_type_id: ActionTypeId | None = None
    configuration: dict[str, str] = Field(default_factory=dict)
    resolved_configuration: dict[str, str] = Field(default_factory=dict)
    role_arn: str | None = None
    region: str | None = None
    input_artifacts: tuple[ArtifactDetail, ...] = ()
    namespace: str | None = None


class ActionExecutionResult(ApiShape):
    external_execution_id: str | None = None
    external_execution_summary: str | None = None
    external_execution_url: str | None = None
    error_details: ErrorDetails | None = None
    log_stream_arn: str | None = Field(default=None, alias="logStreamARN")


class ActionExecutionOutput(ApiShape):
    output_artifacts: tuple[ArtifactDetail, ...] = ()
    execution_result: ActionExecutionResult | None = None
    output_variables: dict[str, str] = Field(default_factory=dict)


class ActionExecutionDetail(_Listing):
    """One run of one action (ListActionExecutions), with its inputs and results."""

    list_key: ClassVar[str] = "actionExecutionDetails"

    pipeline_execution_id: str | None = None
    action_execution_id: str | None = None
    pipeline_version: int | None = None
    stage_name: str | None = None
    action_name: str | None = None
    start_time: Timestamp | None = None
    last_update_time: Timestamp | None = None
    updated_by: str | None = None
    status: ActionExecutionStatus | None = None
    input: ActionExecutionInput | None = None
    output: ActionExecutionOutput | None = None


# ListPipelines ----------------------------------------------------------------------------
class PipelineSummary(_Listing):
    list_key: ClassVar[str] = "pipelines"

    name: str
    version: int | None = None
    pipeline_type: PipelineType | None = None
    execution_mode: ExecutionMode | None = None
    created: Timestamp | None = None
    updated: Timestamp | None = None
