"""`pipetop approve` as a real process against a real endpoint; results read back with boto3."""

from __future__ import annotations

import socket
import subprocess
from typing import Any

from tests.endpoint import Endpoint, wait_for
from tests.faults import calls, clear_faults, reset_calls, set_faults
from tests.local.pipelines import (
    action_state,
    approval,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_approval_token,
    wait_status,
)
from tests.scripts.run import one_line_error, pipetop, spawn


def gated(endpoint: Endpoint, name: str, mode: str | None = None) -> tuple[Any, str]:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            name,
            stage("Approve", approval("Gate"), commands("Check", ["true"])),
            stage("Deploy", commands("Ship", ["true"])),
            mode=mode,
        )
    )
    return cp, latest_execution_id(cp, name)


def answer(endpoint: Endpoint, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return pipetop(
        "approve", name, "--stage", "Approve", "--action", "Gate", *extra, url=endpoint.url
    )


def test_approve_records_the_summary_and_lets_the_execution_go_on(endpoint: Endpoint) -> None:
    cp, execution_id = gated(endpoint, "ok")
    wait_approval_token(cp, "ok", "Approve", "Gate", execution_id)
    done = answer(endpoint, "ok", "--summary", "Looks good")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("approved Gate in stage Approve of pipeline ok")
    assert done.stderr == ""
    assert wait_status(cp, "ok", execution_id) == "Succeeded"
    gate = action_state(cp, "ok", "Approve", "Gate")["latestExecution"]
    assert (gate["status"], gate["summary"]) == ("Succeeded", "Looks good")

    # Nothing is pending any more.
    again = answer(endpoint, "ok", "--summary", "again")
    assert again.returncode == 8
    assert "no approval is pending for Gate in stage Approve" in one_line_error(again.stderr)


def test_reject_fails_the_execution_with_the_summary(endpoint: Endpoint) -> None:
    cp, execution_id = gated(endpoint, "no")
    wait_approval_token(cp, "no", "Approve", "Gate", execution_id)
    done = answer(endpoint, "no", "--summary", "Not today", "--reject")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rejected Gate")
    assert wait_status(cp, "no", execution_id) == "Failed"
    gate = action_state(cp, "no", "Approve", "Gate")["latestExecution"]
    assert (gate["status"], gate["summary"]) == ("Failed", "Not today")


def test_missing_things_are_named_with_exit_3(endpoint: Endpoint) -> None:
    cp, execution_id = gated(endpoint, "names")
    wait_approval_token(cp, "names", "Approve", "Gate", execution_id)

    no_action = pipetop(
        "approve", "names", "--stage", "Approve", "--action", "Check", "--summary", "x",
        url=endpoint.url,
    )  # fmt: skip
    assert no_action.returncode == 3
    assert "no approval action Check (approval actions: Gate)" in one_line_error(no_action.stderr)

    no_stage = pipetop(
        "approve", "names", "--stage", "Nope", "--action", "Gate", "--summary", "x",
        url=endpoint.url,
    )  # fmt: skip
    assert no_stage.returncode == 3
    assert "no stage Nope (stages: Source, Approve, Deploy)" in one_line_error(no_stage.stderr)

    no_pipeline = answer(endpoint, "missing", "--summary", "x")
    assert no_pipeline.returncode == 3
    assert "Pipeline not found" in one_line_error(no_pipeline.stderr)

    no_execution = answer(
        endpoint, "names", "--summary", "x", "--execution", "00000000-0000-4000-8000-000000000000"
    )
    assert no_execution.returncode == 3
    assert "Execution not found" in one_line_error(no_execution.stderr)
    # None of these answered anything.
    assert action_state(cp, "names", "Approve", "Gate")["latestExecution"]["status"] == "InProgress"


def test_parallel_uses_the_external_execution_id_and_asks_which_one(endpoint: Endpoint) -> None:
    cp, first = gated(endpoint, "par", mode="PARALLEL")
    second = cp.start_pipeline_execution(name="par")["pipelineExecutionId"]

    def waiting(execution_id: str) -> bool:
        runs = cp.list_action_executions(
            pipelineName="par", filter={"pipelineExecutionId": execution_id}
        )["actionExecutionDetails"]
        return any(r["actionName"] == "Gate" and r["status"] == "InProgress" for r in runs)

    wait_for(lambda: waiting(first) and waiting(second))
    both = answer(endpoint, "par", "--summary", "which?")
    assert both.returncode == 2
    line = one_line_error(both.stderr)
    assert "2 executions wait at this approval" in line
    assert "--execution" in line
    assert first in line
    assert second in line

    chosen = answer(endpoint, "par", "--summary", "the second", "--execution", second)
    assert chosen.returncode == 0, chosen.stderr
    assert second in chosen.stdout
    assert wait_status(cp, "par", second) == "Succeeded"
    assert waiting(first)

    # One left: no --execution needed.
    last = answer(endpoint, "par", "--summary", "the first")
    assert last.returncode == 0, last.stderr
    assert wait_status(cp, "par", first) == "Succeeded"


def test_a_token_answered_meanwhile_is_stale_with_exit_9(endpoint: Endpoint) -> None:
    cp, execution_id = gated(endpoint, "race")
    token = wait_approval_token(cp, "race", "Approve", "Gate", execution_id)
    reset_calls(endpoint)
    set_faults(endpoint, rules=[{"match": "codepipeline.PutApprovalResult", "latencyMs": 3000}])
    process = spawn(
        "approve", "race", "--stage", "Approve", "--action", "Gate", "--summary", "late",
        url=endpoint.url,
    )  # fmt: skip
    try:
        # The script's answer is on the wire, held by the endpoint: someone else answers first.
        wait_for(lambda: calls(endpoint).get("codepipeline.PutApprovalResult", 0) >= 1)
        clear_faults(endpoint)
        cp.put_approval_result(
            pipelineName="race",
            stageName="Approve",
            actionName="Gate",
            token=token,
            result={"status": "Approved", "summary": "first"},
        )
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 9, err
    assert "answered or expired" in one_line_error(err)
    assert "ApprovalAlreadyCompletedException" in err
    assert out == ""
    gate = action_state(cp, "race", "Approve", "Gate")["latestExecution"]
    assert gate["summary"] == "first"


def test_bad_arguments_and_an_unreachable_endpoint(endpoint: Endpoint) -> None:
    missing = pipetop("approve", "p", "--stage", "S", "--action", "A", url=endpoint.url)
    assert missing.returncode == 2
    assert "the following arguments are required: --summary" in missing.stderr

    long = pipetop(
        "approve", "p", "--stage", "S", "--action", "A", "--summary", "x" * 513, url=endpoint.url
    )
    assert long.returncode == 2
    assert "the summary is 513 characters; at most 512" in long.stderr

    bad_id = pipetop(
        "approve", "p", "--stage", "S", "--action", "A", "--summary", "x",
        "--execution", "nope", url=endpoint.url,
    )  # fmt: skip
    assert bad_id.returncode == 2
    assert "not a pipeline execution id" in bad_id.stderr

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    gone = pipetop("approve", "p", "--stage", "S", "--action", "A", "--summary", "x", url=dead)
    assert gone.returncode == 4
    assert "Endpoint unreachable" in one_line_error(gone.stderr)
