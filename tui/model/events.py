"""CodePipeline's EventBridge events, typed (reference section 5).

The envelope: `version`, `id`, `detail-type`, `source` (`aws.codepipeline`), `account`, `time`
(`YYYY-MM-DDTHH:MM:SSZ`, whole seconds), `region`, `resources` ([pipeline ARN]), `detail`.
Three detail-types, each with its own detail and its own set of `state` values:

| detail-type | class | states |
|---|---|---|
| CodePipeline Pipeline Execution State Change | `PipelineExecutionEvent` | STARTED STOPPING STOPPED SUCCEEDED FAILED RESUMED CANCELED SUPERSEDED |
| CodePipeline Stage Execution State Change | `StageExecutionEvent` | STARTED STOPPING STOPPED SUCCEEDED FAILED RESUMED CANCELED |
| CodePipeline Action Execution State Change | `ActionExecutionEvent` | STARTED SUCCEEDED FAILED ABANDONED CANCELED |

`parse_event(body)` takes an SQS message body (a JSON string) or an already decoded dict
and returns one of the three, or raises `MalformedEvent` (not JSON, not an object, another
source, an unknown detail-type, a state outside the detail-type's set, a missing or mistyped
field). Decisions:

| Topic | Decision |
|---|---|
| required | `detail-type`, `source`, `time`, `detail`, and in the detail `pipeline`, `execution-id`, `state` (+ `stage` for stage and action events, + `action` for action events): the reducer cannot place an event without them |
| optional | the envelope's `version`, `id`, `account`, `region`, `resources`; the detail's `version` (AWS sends a number, sometimes `1.0`: an integral float is accepted), `execution-trigger`, `stop-execution-comments`, action `region`, `type`, `input-artifacts`, `output-artifacts`, `execution-result` |
| unknown fields | ignored (AWS adds fields; CodeStar Notifications adds `additionalAttributes`, `notificationRuleArn`, `detail.pipeline-execution-attempt`) |
| CodeStar Notifications spelling `detailType` [I] | accepted as `detail-type` |
| an SNS notification envelope (`{"Type": "Notification", "Message": "<event JSON>"}`, what SQS holds when a topic feeds it without raw delivery) [I] | unwrapped |
| `time` | ISO 8601 with `Z` or an offset, stored as a UTC `datetime`; fractions are kept if ever sent |

`event_key(event)` is the idempotency key: `id:<envelope id>`, or when an event carries no id,
`sha256:<digest>` of its detail-type, source, time, resources and detail (canonical JSON), so
the same content delivered twice has the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
)

from tui.model.declaration import ActionCategory, ActionOwner
from tui.model.state import TriggerType

SOURCE: Final = "aws.codepipeline"
PIPELINE_DETAIL_TYPE: Final = "CodePipeline Pipeline Execution State Change"
STAGE_DETAIL_TYPE: Final = "CodePipeline Stage Execution State Change"
ACTION_DETAIL_TYPE: Final = "CodePipeline Action Execution State Change"

PipelineEventState = Literal[
    "STARTED", "STOPPING", "STOPPED", "SUCCEEDED", "FAILED", "RESUMED", "CANCELED", "SUPERSEDED"
]
StageEventState = Literal[
    "STARTED", "STOPPING", "STOPPED", "SUCCEEDED", "FAILED", "RESUMED", "CANCELED"
]
ActionEventState = Literal["STARTED", "SUCCEEDED", "FAILED", "ABANDONED", "CANCELED"]


class MalformedEvent(ValueError):
    """A message that is not a CodePipeline EventBridge event this model knows."""


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _integral(value: Any) -> Any:
    # AWS has been seen to send the pipeline version as `1.0`.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


EventTime = Annotated[datetime, AfterValidator(_utc)]
PipelineVersion = Annotated[int, BeforeValidator(_integral), Field(strict=True)]


class _Part(BaseModel):
    # Validators are built at first use, not at import (see tui/model/state.py's ApiShape).
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)


class S3Location(_Part):
    bucket: StrictStr | None = None
    key: StrictStr | None = None


class EventArtifact(_Part):
    name: StrictStr | None = None
    s3location: S3Location | None = None


class EventActionType(_Part):
    owner: ActionOwner | None = None
    category: ActionCategory | None = None
    provider: StrictStr | None = None
    version: StrictStr | None = None


class EventExecutionResult(_Part):
    external_execution_url: StrictStr | None = Field(default=None, alias="external-execution-url")
    external_execution_summary: StrictStr | None = Field(
        default=None, alias="external-execution-summary"
    )
    external_execution_id: StrictStr | None = Field(default=None, alias="external-execution-id")
    error_code: StrictStr | None = Field(default=None, alias="error-code")


class EventExecutionTrigger(_Part):
    trigger_type: TriggerType | None = Field(default=None, alias="trigger-type")
    trigger_detail: StrictStr | None = Field(default=None, alias="trigger-detail")


class _Detail(_Part):
    pipeline: StrictStr
    execution_id: StrictStr = Field(alias="execution-id")
    version: PipelineVersion | None = None


class PipelineExecutionDetail(_Detail):
    state: PipelineEventState
    execution_trigger: EventExecutionTrigger | None = Field(default=None, alias="execution-trigger")
    stop_execution_comments: StrictStr | None = Field(default=None, alias="stop-execution-comments")


class StageExecutionDetail(_Detail):
    stage: StrictStr
    state: StageEventState


class ActionExecutionDetail(_Detail):
    stage: StrictStr
    action: StrictStr
    state: ActionEventState
    region: StrictStr | None = None
    type: EventActionType | None = None
    input_artifacts: tuple[EventArtifact, ...] = Field(default=(), alias="input-artifacts")
    output_artifacts: tuple[EventArtifact, ...] = Field(default=(), alias="output-artifacts")
    execution_result: EventExecutionResult | None = Field(default=None, alias="execution-result")


class _Envelope(_Part):
    version: StrictStr | None = None
    id: StrictStr | None = None
    detail_type: StrictStr = Field(alias="detail-type")
    source: Literal["aws.codepipeline"]
    account: StrictStr | None = None
    time: EventTime
    region: StrictStr | None = None
    resources: tuple[StrictStr, ...] = ()

    @property
    def second(self) -> int:
        """The event's time as whole epoch seconds (its resolution)."""
        return int(self.time.timestamp() // 1)


class PipelineExecutionEvent(_Envelope):
    detail_type: Literal["CodePipeline Pipeline Execution State Change"] = Field(
        alias="detail-type"
    )
    detail: PipelineExecutionDetail


class StageExecutionEvent(_Envelope):
    detail_type: Literal["CodePipeline Stage Execution State Change"] = Field(alias="detail-type")
    detail: StageExecutionDetail


class ActionExecutionEvent(_Envelope):
    detail_type: Literal["CodePipeline Action Execution State Change"] = Field(alias="detail-type")
    detail: ActionExecutionDetail


PipelineEvent = PipelineExecutionEvent | StageExecutionEvent | ActionExecutionEvent

_BY_DETAIL_TYPE: Final[dict[str, type[PipelineEvent]]] = {
    PIPELINE_DETAIL_TYPE: PipelineExecutionEvent,
    STAGE_DETAIL_TYPE: StageExecutionEvent,
    ACTION_DETAIL_TYPE: ActionExecutionEvent,
}


def _decode(body: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(body, Mapping):
        data: Any = dict(body)
    else:
        try:
            data = json.loads(body)
        except (ValueError, TypeError) as error:
            raise MalformedEvent(f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise MalformedEvent(f"expected a JSON object, got {type(data).__name__}")
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        return _decode(data["Message"])
    if "detail-type" not in data and "detailType" in data:
        data["detail-type"] = data.pop("detailType")
    return data


def parse_event(body: str | bytes | Mapping[str, Any]) -> PipelineEvent:
    """The typed event in an SQS body or a decoded dict; `MalformedEvent` for anything else."""
    data = _decode(body)
    source = data.get("source")
    if source != SOURCE:
        raise MalformedEvent(f"source {source!r} is not {SOURCE!r}")
    detail_type = data.get("detail-type")
    if not isinstance(detail_type, str):
        raise MalformedEvent("missing detail-type")
    model = _BY_DETAIL_TYPE.get(detail_type)
    if model is None:
        raise MalformedEvent(f"unknown detail-type {detail_type!r}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '<root>'}: {item['msg']}"
            for item in error.errors()[:5]
        )
        raise MalformedEvent(f"{detail_type}: {problems}") from error


def event_key(event: PipelineEvent) -> str:
    """The idempotency key: the envelope id, or a digest of the content when there is none."""
    if event.id:
        return f"id:{event.id}"
    content = {
        "detail-type": event.detail_type,
        "source": event.source,
        "time": event.time.isoformat(),
        "resources": list(event.resources),
        "detail": event.detail.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
