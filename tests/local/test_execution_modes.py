"""SUPERSEDED, QUEUED and PARALLEL execution modes, with approvals as deterministic gates."""

from __future__ import annotations

from typing import Any

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import (
    action_executions,
    approval,
    commands,
    execution_status,
    latest_execution_id,
    pipeline,
    stage,
    stage_state,
    upload_source,
    wait_approval_token,
    wait_status,
)


def gated(endpoint: Endpoint, name: str, mode: str) -> tuple[Any, str]:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            name,
            stage("Gate", approval("Hold")),
            stage("Deploy", commands("Ship", ["true"])),
            mode=mode,
        )
    )
    return cp, latest_execution_id(cp, name)


def approve(cp: Any, name: str, token: str) -> None:
    cp.put_approval_result(
        pipelineName=name,
        stageName="Gate",
        actionName="Hold",
        token=token,
        result={"summary": "", "status": "Approved"},
    )


def waiting_at_gate(cp: Any, name: str) -> list[str]:
    state = stage_state(cp, name, "Gate")
    if "inboundExecutions" in state:
        return [e["pipelineExecutionId"] for e in state["inboundExecutions"]]
    if "inboundExecution" in state:
        return [state["inboundExecution"]["pipelineExecutionId"]]
    return []


def test_superseded_mode_newer_execution_replaces_the_waiting_one(endpoint: Endpoint) -> None:
    cp, first = gated(endpoint, "superseded", "SUPERSEDED")
    token = wait_approval_token(cp, "superseded", "Gate", "Hold", first)
    second = cp.start_pipeline_execution(name="superseded")["pipelineExecutionId"]
    wait_for(lambda: waiting_at_gate(cp, "superseded") == [second])
    third = cp.start_pipeline_execution(name="superseded")["pipelineExecutionId"]
    assert wait_status(cp, "superseded", second) == "Superseded"
    wait_for(lambda: waiting_at_gate(cp, "superseded") == [third])
    assert execution_status(cp, "superseded", first) == "InProgress"

    approve(cp, "superseded", token)
    assert wait_status(cp, "superseded", first) == "Succeeded"
    token3 = wait_approval_token(cp, "superseded", "Gate", "Hold", third)
    approve(cp, "superseded", token3)
    assert wait_status(cp, "superseded", third) == "Succeeded"
    summaries = cp.list_pipeline_executions(pipelineName="superseded")["pipelineExecutionSummaries"]
    assert [s["pipelineExecutionId"] for s in summaries] == [third, second, first]
    assert [s["status"] for s in summaries] == ["Succeeded", "Superseded", "Succeeded"]
    assert "Gate" not in {d["stageName"] for d in action_executions(cp, "superseded", second)}


def test_queued_mode_runs_waiting_executions_first_in_first_out(endpoint: Endpoint) -> None:
    cp, first = gated(endpoint, "queued", "QUEUED")
    token = wait_approval_token(cp, "queued", "Gate", "Hold", first)
    second = cp.start_pipeline_execution(name="queued")["pipelineExecutionId"]
    wait_for(lambda: waiting_at_gate(cp, "queued") == [second])
    third = cp.start_pipeline_execution(name="queued")["pipelineExecutionId"]
    wait_for(lambda: waiting_at_gate(cp, "queued") == [second, third])

    approve(cp, "queued", token)
    assert wait_status(cp, "queued", first) == "Succeeded"
    token2 = wait_approval_token(cp, "queued", "Gate", "Hold", second)
    assert waiting_at_gate(cp, "queued") == [third]
    approve(cp, "queued", token2)
    token3 = wait_approval_token(cp, "queued", "Gate", "Hold", third)
    approve(cp, "queued", token3)
    for execution_id in (second, third):
        assert wait_status(cp, "queued", execution_id) == "Succeeded"
    assert all(
        s["executionMode"] == "QUEUED"
        for s in cp.list_pipeline_executions(pipelineName="queued")["pipelineExecutionSummaries"]
    )


def test_parallel_mode_runs_executions_independently(endpoint: Endpoint) -> None:
    cp, first = gated(endpoint, "parallel", "PARALLEL")
    others = [cp.start_pipeline_execution(name="parallel")["pipelineExecutionId"] for _ in range(2)]
    executions = [first, *others]

    def pending_tokens() -> dict[str, str] | None:
        tokens = {}
        for execution_id in executions:
            for detail in action_executions(cp, "parallel", execution_id):
                if detail["actionName"] == "Hold" and detail["status"] == "InProgress":
                    tokens[execution_id] = detail["output"]["executionResult"][
                        "externalExecutionId"
                    ]
        return tokens if len(tokens) == 3 else None

    tokens = wait_for(pending_tokens)
    # All three wait at the approval at once: no lock, no superseding.
    assert waiting_at_gate(cp, "parallel") == []
    hold = stage_state(cp, "parallel", "Gate")["actionStates"][0]["latestExecution"]
    assert "token" not in hold
    # Answer the newest first: order between executions does not matter in PARALLEL mode.
    for execution_id in reversed(executions):
        approve(cp, "parallel", tokens[execution_id])
        assert wait_status(cp, "parallel", execution_id) == "Succeeded"
    assert {execution_status(cp, "parallel", e) for e in executions} == {"Succeeded"}


def test_client_request_token_starts_one_execution(endpoint: Endpoint) -> None:
    cp, _ = gated(endpoint, "idempotent", "QUEUED")
    a = cp.start_pipeline_execution(name="idempotent", clientRequestToken="release-42")[
        "pipelineExecutionId"
    ]
    b = cp.start_pipeline_execution(name="idempotent", clientRequestToken="release-42")[
        "pipelineExecutionId"
    ]
    assert a == b
    ids = [
        s["pipelineExecutionId"]
        for s in cp.list_pipeline_executions(pipelineName="idempotent")[
            "pipelineExecutionSummaries"
        ]
    ]
    assert ids.count(a) == 1
    assert len(ids) == 2
    c = cp.start_pipeline_execution(name="idempotent", clientRequestToken="release-43")[
        "pipelineExecutionId"
    ]
    assert c != a


def test_update_pipeline_cancels_in_flight_executions(endpoint: Endpoint) -> None:
    cp, first = gated(endpoint, "updated", "QUEUED")
    wait_approval_token(cp, "updated", "Gate", "Hold", first)
    second = cp.start_pipeline_execution(name="updated")["pipelineExecutionId"]
    wait_for(lambda: waiting_at_gate(cp, "updated") == [second])
    declaration = cp.get_pipeline(name="updated")["pipeline"]
    declaration["stages"][2]["actions"][0]["commands"] = ["echo v2"]
    updated = cp.update_pipeline(pipeline=declaration)["pipeline"]
    assert updated["version"] == 2
    assert wait_status(cp, "updated", second) == "Cancelled"
    assert wait_status(cp, "updated", first) == "Cancelled"
    assert cp.get_pipeline(name="updated", version=1)["pipeline"]["stages"][2]["actions"][0][
        "commands"
    ] == ["true"]
    assert cp.get_pipeline(name="updated")["pipeline"]["stages"][2]["actions"][0]["commands"] == [
        "echo v2"
    ]
    third = cp.start_pipeline_execution(name="updated")["pipelineExecutionId"]
    token = wait_approval_token(cp, "updated", "Gate", "Hold", third)
    approve(cp, "updated", token)
    assert wait_status(cp, "updated", third) == "Succeeded"
    detail = cp.get_pipeline_execution(pipelineName="updated", pipelineExecutionId=third)[
        "pipelineExecution"
    ]
    assert detail["pipelineVersion"] == 2
