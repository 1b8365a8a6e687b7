"""A late STARTED never reopens an execution the snapshot shows ended.

Found by the event-path reliability test (`tests/aws/test_event_reliability.py`): an execution
that starts after ListPipelineExecutions was read and ends before GetPipelineState is read is
known only from the snapshot's stages; its STARTED event, delivered after that snapshot
(late, or reordered), must not make it InProgress again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.model.timeline import BASE, E1, E2, event, reduce, started
from tui.model.state import PipelineExecutionSummary, PipelineState
from tui.model.view import PipelineView, apply_snapshot


def at(second: float) -> datetime:
    return datetime.fromtimestamp(BASE + second, UTC)


def stage_state(name: str, execution: str, status: str, changed: float) -> dict[str, Any]:
    return {
        "stageName": name,
        "latestExecution": {"pipelineExecutionId": execution, "status": status},
        "actionStates": [
            {
                "actionName": f"{name}Action",
                "latestExecution": {
                    "actionExecutionId": f"{execution}-{name}",
                    "status": status,
                    "lastStatusChange": at(changed),
                },
            }
        ],
    }


def snapshot(*stages: dict[str, Any]) -> PipelineState:
    return PipelineState.from_api(
        {"pipelineName": "demo", "pipelineVersion": 1, "stageStates": list(stages)}
    )


def listed_before_e2() -> list[PipelineExecutionSummary]:
    """The summaries, read before E2 started: only E1, done."""
    return list(
        PipelineExecutionSummary.list_from_api(
            {
                "pipelineExecutionSummaries": [
                    {
                        "pipelineExecutionId": E1,
                        "status": "Succeeded",
                        "startTime": at(0),
                        "lastUpdateTime": at(5),
                    }
                ]
            }
        )
    )


def execution_status(view: PipelineView, execution: str) -> str | None:
    found = view.execution(execution)
    return None if found is None else found.status


def test_a_late_started_does_not_reopen_an_execution_the_snapshot_shows_succeeded() -> None:
    state = snapshot(
        stage_state("Source", E2, "Succeeded", 10), stage_state("Build", E2, "Succeeded", 10.5)
    )
    view = apply_snapshot(PipelineView.empty("demo"), state, listed_before_e2())
    assert execution_status(view, E2) == "Succeeded"
    late = reduce(started(E2, 10), view=view)
    assert execution_status(late, E2) == "Succeeded"
    assert late.status == "Succeeded"


def test_a_late_started_does_not_reopen_an_execution_the_snapshot_shows_failed() -> None:
    state = snapshot(
        stage_state("Source", E2, "Succeeded", 10), stage_state("Build", E2, "Failed", 10.5)
    )
    view = apply_snapshot(PipelineView.empty("demo"), state, listed_before_e2())
    late = reduce(started(E2, 10), view=view)
    assert execution_status(late, E2) == "Failed"


def test_a_later_resume_still_reopens_it() -> None:
    state = snapshot(
        stage_state("Source", E2, "Succeeded", 10), stage_state("Build", E2, "Failed", 10.5)
    )
    view = apply_snapshot(PipelineView.empty("demo"), state, listed_before_e2())
    resumed = reduce(event(E2, "RESUMED", 20), view=view)
    assert execution_status(resumed, E2) == "InProgress"


def test_an_execution_the_snapshot_shows_running_is_still_ended_by_its_events() -> None:
    state = snapshot(
        stage_state("Source", E2, "Succeeded", 10), stage_state("Build", E2, "InProgress", 10.5)
    )
    view = apply_snapshot(PipelineView.empty("demo"), state, listed_before_e2())
    assert execution_status(view, E2) == "InProgress"
    ended = reduce(started(E2, 10), event(E2, "SUCCEEDED", 10.8), view=view)
    assert execution_status(ended, E2) == "Succeeded"
