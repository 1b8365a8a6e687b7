"""Approvals, retries, stops and transitions, driven through real boto3 clients."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import (
    action_executions,
    action_state,
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


def approval_pipeline(endpoint: Endpoint, name: str, **options: object) -> tuple[object, str]:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            name,
            stage("Approve", approval("Gate", **options)),  # type: ignore[arg-type]
            stage("Deploy", commands("Ship", ["true"])),
        )
    )
    return cp, latest_execution_id(cp, name)


def test_approve_lets_the_execution_continue_and_records_the_answer(endpoint: Endpoint) -> None:
    cp, execution_id = approval_pipeline(endpoint, "approve", CustomData="Check staging")
    token = wait_approval_token(cp, "approve", "Approve", "Gate", execution_id)
    answer = cp.put_approval_result(
        pipelineName="approve",
        stageName="Approve",
        actionName="Gate",
        token=token,
        result={"summary": "Looks good", "status": "Approved"},
    )
    assert answer["approvedAt"]
    assert wait_status(cp, "approve", execution_id) == "Succeeded"
    gate = action_state(cp, "approve", "Approve", "Gate")["latestExecution"]
    assert gate["status"] == "Succeeded"
    assert gate["summary"] == "Looks good"
    assert gate["lastUpdatedBy"] == "arn:aws:iam::000000000000:user/testing"
    assert "token" not in gate
    with pytest.raises(cp.exceptions.ApprovalAlreadyCompletedException):
        cp.put_approval_result(
            pipelineName="approve",
            stageName="Approve",
            actionName="Gate",
            token=token,
            result={"summary": "again", "status": "Rejected"},
        )


def test_reject_fails_the_stage_and_bad_tokens_are_refused(endpoint: Endpoint) -> None:
    cp, execution_id = approval_pipeline(endpoint, "reject")
    token = wait_approval_token(cp, "reject", "Approve", "Gate", execution_id)
    other = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(cp.exceptions.InvalidApprovalTokenException):
        cp.put_approval_result(
            pipelineName="reject",
            stageName="Approve",
            actionName="Gate",
            token=other,
            result={"summary": "", "status": "Approved"},
        )
    with pytest.raises(cp.exceptions.ActionNotFoundException):
        cp.put_approval_result(
            pipelineName="reject",
            stageName="Approve",
            actionName="Nope",
            token=token,
            result={"summary": "", "status": "Approved"},
        )
    with pytest.raises(cp.exceptions.StageNotFoundException):
        cp.put_approval_result(
            pipelineName="reject",
            stageName="Nope",
            actionName="Gate",
            token=token,
            result={"summary": "", "status": "Approved"},
        )
    with pytest.raises(cp.exceptions.PipelineNotFoundException):
        cp.put_approval_result(
            pipelineName="nope",
            stageName="Approve",
            actionName="Gate",
            token=token,
            result={"summary": "", "status": "Approved"},
        )
    cp.put_approval_result(
        pipelineName="reject",
        stageName="Approve",
        actionName="Gate",
        token=token,
        result={"summary": "Not today", "status": "Rejected"},
    )
    assert wait_status(cp, "reject", execution_id) == "Failed"
    gate = action_state(cp, "reject", "Approve", "Gate")["latestExecution"]
    assert gate["status"] == "Failed"
    assert gate["summary"] == "Not today"
    assert "Deploy" not in {d["stageName"] for d in action_executions(cp, "reject", execution_id)}


def test_an_unanswered_approval_times_out_on_the_engine_clock(endpoint: Endpoint) -> None:
    cp, execution_id = approval_pipeline(endpoint, "timeout", timeout_minutes=5)
    token = wait_approval_token(cp, "timeout", "Approve", "Gate", execution_id)
    endpoint.advance(4 * 60)
    assert (
        action_state(cp, "timeout", "Approve", "Gate")["latestExecution"]["status"] == "InProgress"
    )
    endpoint.advance(61)
    assert wait_status(cp, "timeout", execution_id) == "Failed"
    gate = action_state(cp, "timeout", "Approve", "Gate")["latestExecution"]
    assert gate["status"] == "Failed"
    assert "expired" in gate["summary"]
    with pytest.raises(cp.exceptions.InvalidApprovalTokenException):
        cp.put_approval_result(
            pipelineName="timeout",
            stageName="Approve",
            actionName="Gate",
            token=token,
            result={"summary": "late", "status": "Approved"},
        )


def test_default_approval_timeout_is_seven_days(endpoint: Endpoint) -> None:
    cp, execution_id = approval_pipeline(endpoint, "week")
    wait_approval_token(cp, "week", "Approve", "Gate", execution_id)
    endpoint.advance(7 * 24 * 3600 - 60)
    assert execution_status_now(cp, "week", execution_id) == "InProgress"
    endpoint.advance(120)
    assert wait_status(cp, "week", execution_id) == "Failed"


def execution_status_now(cp: object, name: str, execution_id: str) -> str:
    return str(
        cp.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)[
            "pipelineExecution"
        ]["status"]
    )  # type: ignore[attr-defined]


def flaky_pipeline(endpoint: Endpoint, name: str, flag: Path) -> tuple[object, str]:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            name,
            stage(
                "Build",
                commands("Steady", [f"echo run >> {flag}.steady"], run_order=1),
                commands("Flaky", [f"test -f {flag}"], run_order=1),
                commands("Package", ["true"], run_order=2),
            ),
        )
    )
    return cp, latest_execution_id(cp, name)


def test_retry_failed_actions_reruns_only_what_failed(endpoint: Endpoint, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    cp, execution_id = flaky_pipeline(endpoint, "retry-failed", flag)
    assert wait_status(cp, "retry-failed", execution_id) == "Failed"
    with pytest.raises(cp.exceptions.StageNotRetryableException):
        cp.retry_stage_execution(
            pipelineName="retry-failed",
            stageName="Source",
            pipelineExecutionId=execution_id,
            retryMode="FAILED_ACTIONS",
        )
    flag.touch()
    answer = cp.retry_stage_execution(
        pipelineName="retry-failed",
        stageName="Build",
        pipelineExecutionId=execution_id,
        retryMode="FAILED_ACTIONS",
    )
    assert answer["pipelineExecutionId"] == execution_id
    assert wait_status(cp, "retry-failed", execution_id) == "Succeeded"
    runs = action_executions(cp, "retry-failed", execution_id)
    names = sorted(d["actionName"] for d in runs)
    assert names == ["Fetch", "Flaky", "Flaky", "Package", "Steady"]
    assert Path(f"{flag}.steady").read_text() == "run\n"
    build = stage_state(cp, "retry-failed", "Build")
    # No automatic attempt: left out, as the model's RetryAttempt has a minimum of 1.
    assert build["retryStageMetadata"] == {
        "manualStageRetryAttempt": 1,
        "latestRetryTrigger": "ManualStageRetry",
    }
    events = [
        e["detail"] for _, e in endpoint.call(lambda: endpoint.backend.engine.state.events.read())
    ]
    assert {"RESUMED"} <= {
        d["state"] for d in events if d.get("execution-id") == execution_id and "action" not in d
    }


def test_retry_all_actions_reruns_the_whole_stage(endpoint: Endpoint, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    cp, execution_id = flaky_pipeline(endpoint, "retry-all", flag)
    assert wait_status(cp, "retry-all", execution_id) == "Failed"
    flag.touch()
    cp.retry_stage_execution(
        pipelineName="retry-all",
        stageName="Build",
        pipelineExecutionId=execution_id,
        retryMode="ALL_ACTIONS",
    )
    assert wait_status(cp, "retry-all", execution_id) == "Succeeded"
    assert Path(f"{flag}.steady").read_text() == "run\nrun\n"
    with pytest.raises(cp.exceptions.StageNotRetryableException):
        cp.retry_stage_execution(
            pipelineName="retry-all",
            stageName="Build",
            pipelineExecutionId=execution_id,
            retryMode="ALL_ACTIONS",
        )


def test_retry_of_an_older_execution_is_refused(endpoint: Endpoint, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    cp, first = flaky_pipeline(endpoint, "retry-old", flag)
    assert wait_status(cp, "retry-old", first) == "Failed"
    second = cp.start_pipeline_execution(name="retry-old")["pipelineExecutionId"]
    assert wait_status(cp, "retry-old", second) == "Failed"
    with pytest.raises(cp.exceptions.NotLatestPipelineExecutionException):
        cp.retry_stage_execution(
            pipelineName="retry-old",
            stageName="Build",
            pipelineExecutionId=first,
            retryMode="FAILED_ACTIONS",
        )
    with pytest.raises(cp.exceptions.StageNotFoundException):
        cp.retry_stage_execution(
            pipelineName="retry-old",
            stageName="Nope",
            pipelineExecutionId=second,
            retryMode="FAILED_ACTIONS",
        )


def slow_pipeline(endpoint: Endpoint, name: str, marker: Path) -> tuple[object, str]:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            name,
            stage(
                "Build",
                commands("Slow", [f"touch {marker}.started", "sleep 1", f"touch {marker}.done"]),
            ),
            stage("Deploy", commands("Ship", ["true"])),
        )
    )
    execution_id = latest_execution_id(cp, name)
    wait_for(lambda: Path(f"{marker}.started").exists())
    return cp, execution_id


def test_stop_and_wait_lets_the_running_action_finish(endpoint: Endpoint, tmp_path: Path) -> None:
    marker = tmp_path / "m"
    cp, execution_id = slow_pipeline(endpoint, "stop-wait", marker)
    cp.stop_pipeline_execution(
        pipelineName="stop-wait", pipelineExecutionId=execution_id, reason="Bad commit"
    )
    assert execution_status_now(cp, "stop-wait", execution_id) == "Stopping"
    with pytest.raises(cp.exceptions.DuplicatedStopRequestException):
        cp.stop_pipeline_execution(pipelineName="stop-wait", pipelineExecutionId=execution_id)
    assert wait_status(cp, "stop-wait", execution_id) == "Stopped"
    assert Path(f"{marker}.done").exists()
    slow = action_state(cp, "stop-wait", "Build", "Slow")["latestExecution"]
    assert slow["status"] == "Succeeded"
    assert stage_state(cp, "stop-wait", "Build")["latestExecution"]["status"] == "Stopped"
    assert "latestExecution" not in stage_state(cp, "stop-wait", "Deploy")
    summary = cp.list_pipeline_executions(pipelineName="stop-wait")["pipelineExecutionSummaries"][0]
    assert summary["stopTrigger"] == {"reason": "Bad commit"}
    with pytest.raises(cp.exceptions.PipelineExecutionNotStoppableException):
        cp.stop_pipeline_execution(pipelineName="stop-wait", pipelineExecutionId=execution_id)
    # A stopped stage can be retried; the execution then finishes.
    cp.retry_stage_execution(
        pipelineName="stop-wait",
        stageName="Build",
        pipelineExecutionId=execution_id,
        retryMode="FAILED_ACTIONS",
    )
    assert wait_status(cp, "stop-wait", execution_id) == "Succeeded"


def test_stop_and_abandon_kills_the_running_action(endpoint: Endpoint, tmp_path: Path) -> None:
    marker = tmp_path / "m"
    cp, execution_id = slow_pipeline(endpoint, "stop-abandon", marker)
    cp.stop_pipeline_execution(
        pipelineName="stop-abandon", pipelineExecutionId=execution_id, abandon=True, reason="Now"
    )
    assert wait_status(cp, "stop-abandon", execution_id) == "Stopped"
    slow = action_state(cp, "stop-abandon", "Build", "Slow")["latestExecution"]
    assert slow["status"] == "Abandoned"
    time.sleep(1.3)
    assert not Path(f"{marker}.done").exists(), "the abandoned command kept running"


def test_stop_and_wait_then_abandon_is_allowed(endpoint: Endpoint, tmp_path: Path) -> None:
    marker = tmp_path / "m"
    cp, execution_id = slow_pipeline(endpoint, "stop-both", marker)
    cp.stop_pipeline_execution(pipelineName="stop-both", pipelineExecutionId=execution_id)
    cp.stop_pipeline_execution(
        pipelineName="stop-both", pipelineExecutionId=execution_id, abandon=True
    )
    assert wait_status(cp, "stop-both", execution_id) == "Stopped"
    assert (
        action_state(cp, "stop-both", "Build", "Slow")["latestExecution"]["status"] == "Abandoned"
    )
    with pytest.raises(cp.exceptions.PipelineExecutionNotFoundException):
        cp.stop_pipeline_execution(
            pipelineName="stop-both", pipelineExecutionId="11111111-1111-4111-8111-111111111111"
        )


def test_disabled_transition_holds_the_execution_until_enabled(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            "gated",
            stage("Build", commands("Make", ["true"])),
            stage("Deploy", commands("Ship", ["true"])),
        )
    )
    first = latest_execution_id(cp, "gated")
    assert wait_status(cp, "gated", first) == "Succeeded"
    cp.disable_stage_transition(
        pipelineName="gated",
        stageName="Deploy",
        transitionType="Inbound",
        reason="Freeze for release",
    )
    transition = stage_state(cp, "gated", "Deploy")["inboundTransitionState"]
    assert transition["enabled"] is False
    assert transition["disabledReason"] == "Freeze for release"
    assert transition["lastChangedBy"] == "arn:aws:iam::000000000000:user/testing"
    second = cp.start_pipeline_execution(name="gated")["pipelineExecutionId"]
    inbound = wait_for(lambda: stage_state(cp, "gated", "Deploy").get("inboundExecution"))
    assert inbound == {"pipelineExecutionId": second, "status": "InProgress", "type": "STANDARD"}
    assert stage_state(cp, "gated", "Deploy")["latestExecution"]["pipelineExecutionId"] == first
    cp.enable_stage_transition(pipelineName="gated", stageName="Deploy", transitionType="Inbound")
    assert wait_status(cp, "gated", second) == "Succeeded"
    assert stage_state(cp, "gated", "Deploy")["inboundTransitionState"]["enabled"] is True
    with pytest.raises(cp.exceptions.StageNotFoundException):
        cp.disable_stage_transition(
            pipelineName="gated", stageName="Nope", transitionType="Inbound", reason="x"
        )
    with pytest.raises(cp.exceptions.ValidationException):
        cp.disable_stage_transition(
            pipelineName="gated",
            stageName="Deploy",
            transitionType="Inbound",
            reason="no_underscores",
        )
