"""Events built exactly as AWS and the engine send them (reference section 5), at chosen
seconds, for tests that need events in a particular order or second."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from tui.model.events import PipelineEvent, parse_event
from tui.model.view import PipelineView, apply_event

BASE = 1_767_225_600
E1 = "11111111-1111-4111-8111-111111111111"
E2 = "22222222-2222-4222-8222-222222222222"
E3 = "33333333-3333-4333-8333-333333333333"
DETAIL_TYPES = {
    "pipeline": "CodePipeline Pipeline Execution State Change",
    "stage": "CodePipeline Stage Execution State Change",
    "action": "CodePipeline Action Execution State Change",
}
_ids = itertools.count(1)


def event(
    execution: str,
    state: str,
    second: float,
    stage_name: str | None = None,
    action: str | None = None,
    *,
    name: str = "demo",
    version: int = 1,
    category: str = "Build",
    **extra: Any,
) -> PipelineEvent:
    """One event as AWS sends it, at BASE + `second`."""
    detail: dict[str, Any] = {
        "pipeline": name,
        "execution-id": execution,
        "state": state,
        "version": version,
    }
    level = "pipeline"
    if stage_name is not None:
        detail["stage"] = stage_name
        level = "stage"
    if action is not None:
        detail["action"] = action
        detail["region"] = "us-east-1"
        detail["type"] = {"owner": "AWS", "category": category, "provider": "X", "version": "1"}
        level = "action"
    detail.update(extra)
    moment = datetime.fromtimestamp(BASE + second, UTC)
    return parse_event(
        {
            "version": "0",
            "id": str(uuid.UUID(int=next(_ids))),
            "detail-type": DETAIL_TYPES[level],
            "source": "aws.codepipeline",
            "account": "000000000000",
            "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [f"arn:aws:codepipeline:us-east-1:000000000000:{name}"],
            "detail": detail,
        }
    )


def started(execution: str, second: float, **extra: Any) -> PipelineEvent:
    trigger = {"trigger-type": "StartPipelineExecution", "trigger-detail": "arn:me"}
    return event(execution, "STARTED", second, **{"execution-trigger": trigger}, **extra)


def reduce(*events: PipelineEvent, view: PipelineView | None = None) -> PipelineView:
    view = view if view is not None else PipelineView.empty("demo")
    for item in events:
        view = apply_event(view, item)
    return view
