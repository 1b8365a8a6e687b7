"""CodePipeline reads with paging and the control calls, through real aiobotocore clients
against the real endpoint; read-only mode sends nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import (
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
from tui.aws.errors import ReadOnlyRefused
from tui.aws.pipelines import PipelineClient
from tui.aws.session import AwsContext


async def count_calls(aws: AwsContext, operation: str | None = None) -> list[str]:
    """Operations the codepipeline client sends from now on (botocore's own `before-send`)."""
    client = await aws.client("codepipeline")
    sent: list[str] = []

    def record(request: Any, **kwargs: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"")
        name = (target.decode() if isinstance(target, bytes) else target).split(".")[-1]
        if operation is None or name == operation:
            sent.append(name)

    client.meta.events.register("before-send.codepipeline", record)
    return sent


def create(endpoint: Endpoint, name: str, *stages: dict[str, Any], mode: str | None = None) -> Any:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=pipeline(name, *stages, mode=mode))
    return cp


async def test_list_pipelines_follows_every_page(aws: AwsContext, endpoint: Endpoint) -> None:
    cp = endpoint.client("codepipeline")
    upload_source(endpoint)
    names = [f"pipe-{i}" for i in range(5)]
    for name in names:
        cp.create_pipeline(pipeline=pipeline(name, stage("Build", commands("Run", ["true"]))))
    sent = await count_calls(aws, "ListPipelines")
    listed = await PipelineClient(aws).list_pipelines(page_size=2)
    assert sorted(p["name"] for p in listed) == names
    assert len(sent) == 3
    assert {"name", "version", "created", "updated"} <= set(listed[0])


async def test_execution_lists_page_and_stop_at_max_items(
    aws: AwsContext, endpoint: Endpoint
) -> None:
    cp = create(endpoint, "many", stage("Build", commands("Run", ["true"])), mode="PARALLEL")
    for _ in range(4):
        cp.start_pipeline_execution(name="many")
    expected = [
        s["pipelineExecutionId"]
        for s in cp.list_pipeline_executions(pipelineName="many")["pipelineExecutionSummaries"]
    ]
    assert len(expected) == 5
    client = PipelineClient(aws)
    sent = await count_calls(aws, "ListPipelineExecutions")
    everything = await client.list_pipeline_executions("many", max_items=None, page_size=2)
    assert [s["pipelineExecutionId"] for s in everything] == expected
    assert len(sent) == 3
    sent.clear()
    first_three = await client.list_pipeline_executions("many", max_items=3, page_size=2)
    assert [s["pipelineExecutionId"] for s in first_three] == expected[:3]
    # 2 + 1: the second page asks only for what is still wanted.
    assert len(sent) == 2


async def test_action_executions_filters_and_paging(aws: AwsContext, endpoint: Endpoint) -> None:
    cp = create(
        endpoint,
        "acts",
        stage(
            "Build",
            commands("A", ["echo a"]),
            commands("B", ["echo b"]),
            commands("C", ["echo c"], run_order=2),
        ),
    )
    execution_id = latest_execution_id(cp, "acts")
    assert wait_status(cp, "acts", execution_id) == "Succeeded"
    client = PipelineClient(aws)
    sent = await count_calls(aws, "ListActionExecutions")
    details = await client.list_action_executions("acts", execution_id=execution_id, page_size=1)
    assert sorted(d["actionName"] for d in details) == ["A", "B", "C", "Fetch"]
    assert {d["pipelineExecutionId"] for d in details} == {execution_id}
    assert len(sent) >= 4
    latest = await client.list_action_executions("acts", latest_in_execution=execution_id)
    assert sorted(d["actionName"] for d in latest) == ["A", "B", "C", "Fetch"]
    capped = await client.list_action_executions("acts", max_items=2, page_size=1)
    assert len(capped) == 2
    with pytest.raises(ValueError, match="not both"):
        await client.list_action_executions(
            "acts", execution_id=execution_id, latest_in_execution=execution_id
        )


async def test_single_reads(aws: AwsContext, endpoint: Endpoint) -> None:
    cp = create(endpoint, "reads", stage("Build", commands("Run", ["true"])))
    execution_id = latest_execution_id(cp, "reads")
    client = PipelineClient(aws)
    got = await client.get_pipeline("reads")
    assert got["pipeline"]["name"] == "reads"
    assert got["metadata"]["pipelineArn"].endswith(":reads")
    assert (await client.get_pipeline("reads", version=1))["pipeline"]["version"] == 1
    state = await client.get_pipeline_state("reads")
    assert [s["stageName"] for s in state["stageStates"]] == ["Source", "Build"]
    execution = await client.get_pipeline_execution("reads", execution_id)
    assert execution["pipelineExecutionId"] == execution_id


async def test_start_is_idempotent_per_token(aws: AwsContext, endpoint: Endpoint) -> None:
    create(endpoint, "idem", stage("Build", commands("Run", ["true"])))
    client = PipelineClient(aws)
    first = await client.start_pipeline_execution("idem", client_request_token="retry-me-1")
    again = await client.start_pipeline_execution("idem", client_request_token="retry-me-1")
    other = await client.start_pipeline_execution("idem")
    assert first == again
    assert other != first


async def test_stop_and_transitions(aws: AwsContext, endpoint: Endpoint, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    cp = create(
        endpoint,
        "ctl",
        stage("Build", commands("Wait", [f"while [ ! -e {gate} ]; do sleep 0.05; done"])),
        stage("Deploy", commands("Ship", ["true"])),
    )
    execution_id = latest_execution_id(cp, "ctl")
    client = PipelineClient(aws)
    await client.disable_stage_transition("ctl", "Deploy", "Freeze for the release")
    deploy = stage_state(cp, "ctl", "Deploy")["inboundTransitionState"]
    assert deploy["enabled"] is False
    assert deploy["disabledReason"] == "Freeze for the release"
    await client.enable_stage_transition("ctl", "Deploy")
    assert stage_state(cp, "ctl", "Deploy")["inboundTransitionState"]["enabled"] is True
    wait_for(
        lambda: (
            stage_state(cp, "ctl", "Build").get("latestExecution", {}).get("status") == "InProgress"
        )
    )
    stopped = await client.stop_pipeline_execution("ctl", execution_id, abandon=True, reason="no")
    assert stopped == execution_id
    assert wait_status(cp, "ctl", execution_id) == "Stopped"


async def test_approval_and_retry(aws: AwsContext, endpoint: Endpoint, tmp_path: Path) -> None:
    marker = tmp_path / "second-try"
    cp = create(
        endpoint,
        "flow",
        stage("Approve", approval("Gate")),
        stage(
            "Build",
            commands("Flaky", [f"if [ -e {marker} ]; then true; else touch {marker}; false; fi"]),
        ),
    )
    execution_id = latest_execution_id(cp, "flow")
    token = wait_approval_token(cp, "flow", "Approve", "Gate", execution_id)
    client = PipelineClient(aws)
    approved_at = await client.put_approval_result(
        "flow", "Approve", "Gate", token, "Approved", "ok"
    )
    assert approved_at is not None
    assert wait_status(cp, "flow", execution_id) == "Failed"
    retried = await client.retry_stage_execution("flow", "Build", execution_id)
    assert retried == execution_id
    assert wait_status(cp, "flow", execution_id) == "Succeeded"


async def test_read_only_refuses_every_mutating_call_and_sends_nothing(
    aws: AwsContext, endpoint: Endpoint
) -> None:
    cp = create(
        endpoint,
        "ro",
        stage("Approve", approval("Gate")),
        stage("Build", commands("Run", ["true"])),
    )
    execution_id = latest_execution_id(cp, "ro")
    token = wait_approval_token(cp, "ro", "Approve", "Gate", execution_id)
    before = cp.get_pipeline_state(name="ro")
    client = PipelineClient(aws, read_only=True)
    sent = await count_calls(aws)
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("StartPipelineExecution", lambda: client.start_pipeline_execution("ro")),
        ("StopPipelineExecution", lambda: client.stop_pipeline_execution("ro", execution_id)),
        ("RetryStageExecution", lambda: client.retry_stage_execution("ro", "Build", execution_id)),
        (
            "PutApprovalResult",
            lambda: client.put_approval_result("ro", "Approve", "Gate", token, "Approved", "x"),
        ),
        ("EnableStageTransition", lambda: client.enable_stage_transition("ro", "Build")),
        ("DisableStageTransition", lambda: client.disable_stage_transition("ro", "Build", "x")),
    ]
    for operation, call in calls:
        with pytest.raises(ReadOnlyRefused) as refused:
            await call()
        assert refused.value.operation == operation
    assert sent == []
    # Reads still work, and the endpoint saw no change.
    assert (await client.get_pipeline_state("ro"))["pipelineName"] == "ro"
    after = cp.get_pipeline_state(name="ro")
    assert after["stageStates"] == before["stageStates"]
    summaries = cp.list_pipeline_executions(pipelineName="ro")["pipelineExecutionSummaries"]
    assert [s["pipelineExecutionId"] for s in summaries] == [execution_id]
