"""The reducer against a real pipeline on the local endpoint, over real HTTP.

A pipeline with a failing action that a retry fixes and a manual approval runs on the
endpoint (real Commands processes). Its events come from `/_local/events`, its state from
GetPipeline, GetPipelineState, ListPipelineExecutions and ListActionExecutions through boto3.
Reduced in any order, the events show what GetPipelineState shows; events and then the final
snapshot give exactly the view the snapshot alone gives; and a snapshot taken while the stage
was failed, followed by the later events, ends where the final snapshot is.
"""

from __future__ import annotations

import json
import random
import urllib.request
from pathlib import Path
from typing import Any

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import (
    action_executions,
    approval,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    stage_state,
    upload_source,
    wait_approval_token,
    wait_status,
)
from tui.model.declaration import parse_pipeline
from tui.model.events import PipelineEvent, parse_event
from tui.model.state import ActionExecutionDetail, PipelineExecutionSummary, PipelineState
from tui.model.view import (
    PipelineView,
    apply_declaration,
    apply_event,
    apply_snapshot,
)

NAME = "consistent"


def local_events(endpoint: Endpoint, after: int = 0) -> tuple[list[dict[str, Any]], int]:
    with urllib.request.urlopen(
        f"{endpoint.url}/_local/events?after={after}&limit=10000"
    ) as answer:
        body = json.load(answer)
    return body["events"], body["last"]


def read_snapshot(
    cp: Any,
) -> tuple[PipelineState, tuple[PipelineExecutionSummary, ...], tuple[ActionExecutionDetail, ...]]:
    summaries = PipelineExecutionSummary.list_from_api(
        cp.list_pipeline_executions(pipelineName=NAME)
    )
    details = ActionExecutionDetail.list_from_api(
        {
            "actionExecutionDetails": [
                d for s in summaries for d in action_executions(cp, NAME, s.pipeline_execution_id)
            ]
        }
    )
    state = PipelineState.from_api(cp.get_pipeline_state(name=NAME))
    return state, summaries, details


def statuses(view: PipelineView) -> dict[str, Any]:
    return {
        "stages": [(s.name, s.execution_id, s.status) for s in view.stages],
        "actions": [(s.name, a.name, a.status) for s in view.stages for a in s.actions],
        "executions": [(e.execution_id, e.status) for e in view.executions],
    }


def reduce(view: PipelineView, events: list[PipelineEvent]) -> PipelineView:
    for event in events:
        view = apply_event(view, event)
    return view


def test_events_and_snapshots_of_a_real_run_agree(endpoint: Endpoint, tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            NAME,
            stage(
                "Build",
                commands("Compile", ["echo compiled"], run_order=1),
                commands("Check", [f"test -f {fixed}"], run_order=2),
            ),
            stage("Gate", approval("Approve")),
        )
    )
    execution = latest_execution_id(cp, NAME)
    assert wait_status(cp, NAME, execution) == "Failed"
    declared = apply_declaration(
        PipelineView.empty(NAME), parse_pipeline(cp.get_pipeline(name=NAME)["pipeline"])
    )

    # A snapshot while Build is failed; then, a few seconds later, the retry and the approval.
    middle = read_snapshot(cp)
    _, seen = local_events(endpoint)
    endpoint.advance(2.5)
    fixed.write_text("yes\n")
    cp.retry_stage_execution(
        pipelineName=NAME,
        stageName="Build",
        pipelineExecutionId=execution,
        retryMode="FAILED_ACTIONS",
    )
    token = wait_approval_token(cp, NAME, "Gate", "Approve")
    endpoint.advance(3)
    cp.put_approval_result(
        pipelineName=NAME,
        stageName="Gate",
        actionName="Approve",
        result={"summary": "looks right", "status": "Approved"},
        token=token,
    )
    assert wait_status(cp, NAME, execution) == "Succeeded"
    wait_for(lambda: stage_state(cp, NAME, "Gate")["latestExecution"]["status"] == "Succeeded")
    final_state, final_summaries, final_details = read_snapshot(cp)
    raw, _ = local_events(endpoint)
    events = [parse_event(json.dumps(e)) for e in raw]
    later = [parse_event(e) for e in local_events(endpoint, seen)[0]]
    assert 0 < len(later) < len(events)

    fresh = apply_snapshot(declared, final_state, final_summaries, action_executions=final_details)
    build = fresh.stage("Build")
    assert build is not None
    assert [(a.name, a.status) for a in build.actions] == [
        ("Compile", "Succeeded"),
        ("Check", "Succeeded"),
    ]
    assert fresh.status == "Succeeded"

    # Events alone, in the order they came and shuffled with duplicates, show the same.
    in_order = reduce(declared, events)
    assert statuses(in_order) == statuses(fresh)
    shuffled = events + random.Random(7).sample(events, len(events) // 2)
    random.Random(11).shuffle(shuffled)
    assert reduce(declared, shuffled) == in_order
    gate = in_order.stage("Gate")
    assert gate is not None
    approve = gate.action("Approve")
    assert approve is not None
    assert (approve.status, approve.summary) == ("Succeeded", "looks right")

    # Events, then the final snapshot: the snapshot alone.
    assert (
        apply_snapshot(in_order, final_state, final_summaries, action_executions=final_details)
        == fresh
    )

    # The snapshot taken while failed, then the later events (reversed, with stale copies).
    state, summaries, details = middle
    failed_view = apply_snapshot(declared, state, summaries, action_executions=details)
    assert failed_view.status == "Failed"
    check = failed_view.stage("Build").action("Check")  # type: ignore[union-attr]
    assert check is not None
    assert check.status == "Failed"
    assert check.error_code == "JobFailed"
    caught_up = reduce(failed_view, list(reversed(later)) + events[:5])
    assert statuses(caught_up) == statuses(fresh)
