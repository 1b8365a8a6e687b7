"""RollbackStage through real boto3 clients: the rollback execution and every refusal."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

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

NAME = "web"


def declaration(name: str = NAME, **options: Any) -> dict[str, Any]:
    """Source -> Build (copies the source's app.txt) -> Deploy (an approval, then a copy)."""
    return pipeline(
        name,
        stage(
            "Build",
            commands("Compile", ["cp app.txt built.txt"], output="BuildOut", files=["built.txt"]),
        ),
        stage(
            "Deploy",
            approval("Gate"),
            commands(
                "Ship",
                ["cp built.txt deployed.txt"],
                inputs=("BuildOut",),
                output="DeployOut",
                files=["deployed.txt"],
                run_order=2,
            ),
        ),
        **options,
    )


def approve(cp: Any, execution_id: str, name: str = NAME) -> None:
    token = wait_approval_token(cp, name, "Deploy", "Gate", execution_id)
    cp.put_approval_result(
        pipelineName=name,
        stageName="Deploy",
        actionName="Gate",
        token=token,
        result={"summary": "ok", "status": "Approved"},
    )


def run_version(endpoint: Endpoint, cp: Any, text: str, name: str = NAME) -> str:
    """Upload app.txt with `text`, run an execution on it to success; returns its id."""
    upload_source(endpoint, {"app.txt": text})
    execution_id = cp.start_pipeline_execution(name=name)["pipelineExecutionId"]
    approve(cp, execution_id, name)
    assert wait_status(cp, name, execution_id) == "Succeeded"
    return str(execution_id)


def created(endpoint: Endpoint, name: str = NAME, **options: Any) -> tuple[Any, str]:
    """A pipeline whose first (automatic) execution succeeded; returns the client and its id."""
    upload_source(endpoint, {"app.txt": "one"})
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=declaration(name, **options))
    first = latest_execution_id(cp, name)
    approve(cp, first, name)
    assert wait_status(cp, name, first) == "Succeeded"
    return cp, first


def run_of(cp: Any, execution_id: str, action: str, name: str = NAME) -> dict[str, Any]:
    runs = [r for r in action_executions(cp, name, execution_id) if r["actionName"] == action]
    assert runs, f"no run of {action} in {execution_id}"
    return dict(runs[0])


def artifact_text(endpoint: Endpoint, run: dict[str, Any], member: str) -> str:
    location = run["output"]["outputArtifacts"][0]["s3location"]
    body = (
        endpoint.client("s3")
        .get_object(Bucket=location["bucket"], Key=location["key"])["Body"]
        .read()
    )
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return archive.read(member).decode()


def rollback(cp: Any, target: str, stage_name: str = "Deploy", name: str = NAME) -> str:
    response = cp.rollback_stage(
        pipelineName=name, stageName=stage_name, targetPipelineExecutionId=target
    )
    return str(response["pipelineExecutionId"])


def test_rollback_reruns_only_the_stage_with_the_targets_artifacts(endpoint: Endpoint) -> None:
    cp, first = created(endpoint)
    second = run_version(endpoint, cp, "two")
    assert artifact_text(endpoint, run_of(cp, second, "Ship"), "deployed.txt") == "two"

    rollback_id = rollback(cp, first)
    assert rollback_id not in (first, second)
    approve(cp, rollback_id)
    assert wait_status(cp, NAME, rollback_id) == "Succeeded"

    execution = cp.get_pipeline_execution(pipelineName=NAME, pipelineExecutionId=rollback_id)[
        "pipelineExecution"
    ]
    target = cp.get_pipeline_execution(pipelineName=NAME, pipelineExecutionId=first)[
        "pipelineExecution"
    ]
    assert execution["executionType"] == "ROLLBACK"
    assert execution["trigger"]["triggerType"] == "ManualRollback"
    assert execution["trigger"]["triggerDetail"].startswith("arn:aws:")
    assert execution["rollbackMetadata"] == {"rollbackTargetPipelineExecutionId": first}
    assert execution["artifactRevisions"] == target["artifactRevisions"]

    # Only the rolled-back stage ran, on the target's inputs, producing the target's output.
    runs = action_executions(cp, NAME, rollback_id)
    assert {r["stageName"] for r in runs} == {"Deploy"}
    assert {r["actionName"] for r in runs} == {"Gate", "Ship"}
    ship, first_ship = run_of(cp, rollback_id, "Ship"), run_of(cp, first, "Ship")
    assert ship["input"]["inputArtifacts"] == first_ship["input"]["inputArtifacts"]
    assert artifact_text(endpoint, ship, "deployed.txt") == "one"

    # The list shows it newest, typed, with the target's revisions.
    summaries = cp.list_pipeline_executions(pipelineName=NAME)["pipelineExecutionSummaries"]
    newest = summaries[0]
    assert newest["pipelineExecutionId"] == rollback_id
    assert newest["executionType"] == "ROLLBACK"
    assert newest["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == first
    by_id = {s["pipelineExecutionId"]: s for s in summaries}
    assert newest["sourceRevisions"] == by_id[first]["sourceRevisions"]
    assert by_id[second]["executionType"] == "STANDARD"

    # The state: Deploy shows the rollback, Build still the execution that last built.
    deploy = stage_state(cp, NAME, "Deploy")["latestExecution"]
    assert deploy == {"pipelineExecutionId": rollback_id, "status": "Succeeded", "type": "ROLLBACK"}
    assert stage_state(cp, NAME, "Build")["latestExecution"]["pipelineExecutionId"] == second

    events = [
        e["detail"]
        for _, e in endpoint.call(lambda: endpoint.backend.engine.state.events.read())
        if e["detail"].get("execution-id") == rollback_id
    ]
    started = [e for e in events if "stage" not in e and e["state"] == "STARTED"]
    assert started[0]["execution-trigger"]["trigger-type"] == "ManualRollback"
    assert {e["stage"] for e in events if "stage" in e} == {"Deploy"}
    assert [e["state"] for e in events if "stage" not in e] == ["STARTED", "SUCCEEDED"]

    # A stage that is not the last: the rollback ends with it, the next stage is not entered.
    build_rollback = rollback(cp, second, stage_name="Build")
    assert wait_status(cp, NAME, build_rollback) == "Succeeded"
    assert {r["stageName"] for r in action_executions(cp, NAME, build_rollback)} == {"Build"}
    assert stage_state(cp, NAME, "Deploy")["latestExecution"]["pipelineExecutionId"] == rollback_id


def test_refusals_name_what_is_wrong(endpoint: Endpoint) -> None:
    cp, first = created(endpoint)
    errors = cp.exceptions
    with pytest.raises(errors.PipelineNotFoundException):
        rollback(cp, first, name="missing")
    with pytest.raises(errors.StageNotFoundException):
        rollback(cp, first, stage_name="Nowhere")
    with pytest.raises(errors.PipelineExecutionNotFoundException):
        rollback(cp, "00000000-0000-4000-8000-000000000000")
    with pytest.raises(errors.UnableToRollbackStageException, match="source stage"):
        rollback(cp, first, stage_name="Source")

    # A target that failed in the stage.
    upload_source(endpoint, {"app.txt": "bad"})
    failed = cp.start_pipeline_execution(name=NAME)["pipelineExecutionId"]
    token = wait_approval_token(cp, NAME, "Deploy", "Gate", failed)
    cp.put_approval_result(
        pipelineName=NAME,
        stageName="Deploy",
        actionName="Gate",
        token=token,
        result={"summary": "no", "status": "Rejected"},
    )
    assert wait_status(cp, NAME, failed) == "Failed"
    with pytest.raises(errors.UnableToRollbackStageException, match="Failed"):
        rollback(cp, failed)

    # The stage in progress (a standard execution waits at the approval), then a rollback in it.
    upload_source(endpoint, {"app.txt": "three"})
    running = cp.start_pipeline_execution(name=NAME)["pipelineExecutionId"]
    wait_approval_token(cp, NAME, "Deploy", "Gate", running)
    with pytest.raises(errors.UnableToRollbackStageException, match="not in progress"):
        rollback(cp, first)
    cp.stop_pipeline_execution(pipelineName=NAME, pipelineExecutionId=running, abandon=True)
    assert wait_status(cp, NAME, running) == "Stopped"
    rollback_id = rollback(cp, first)
    wait_approval_token(cp, NAME, "Deploy", "Gate", rollback_id)
    with pytest.raises(errors.ConflictException, match="already being rolled back"):
        rollback(cp, first)
    approve(cp, rollback_id)
    assert wait_status(cp, NAME, rollback_id) == "Succeeded"

    # A rollback is never a target.
    with pytest.raises(errors.UnableToRollbackStageException, match="rollback execution"):
        rollback(cp, rollback_id)

    # A new pipeline version makes older targets outdated.
    body = cp.get_pipeline(name=NAME)["pipeline"]
    cp.update_pipeline(pipeline=body)
    with pytest.raises(errors.PipelineExecutionOutdatedException, match="version 1"):
        rollback(cp, first)


def test_parallel_and_v1_pipelines_cannot_roll_back(endpoint: Endpoint) -> None:
    upload_source(endpoint, {"app.txt": "one"})
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=declaration("par", mode="PARALLEL"))
    with pytest.raises(cp.exceptions.UnableToRollbackStageException, match="PARALLEL"):
        rollback(cp, latest_execution_id(cp, "par"), name="par")
    cp.create_pipeline(
        pipeline=pipeline("old", stage("Deploy", approval("Gate")), pipeline_type="V1")
    )
    with pytest.raises(cp.exceptions.ValidationException, match="V2"):
        rollback(cp, latest_execution_id(cp, "old"), name="old")


@pytest.mark.parametrize("mode", ["SUPERSEDED", "QUEUED"])
def test_rollback_holds_the_lock_and_passes_a_disabled_transition(
    endpoint: Endpoint, mode: str
) -> None:
    cp, first = created(endpoint, mode=mode)
    cp.disable_stage_transition(
        pipelineName=NAME, stageName="Deploy", transitionType="Inbound", reason="freeze"
    )
    rollback_id = rollback(cp, first)
    wait_approval_token(cp, NAME, "Deploy", "Gate", rollback_id)

    # A standard execution reaching Deploy waits behind the rollback's lock.
    cp.enable_stage_transition(pipelineName=NAME, stageName="Deploy", transitionType="Inbound")
    upload_source(endpoint, {"app.txt": "two"})
    behind = cp.start_pipeline_execution(name=NAME)["pipelineExecutionId"]
    wait_for(
        lambda: (
            stage_state(cp, NAME, "Deploy").get("inboundExecution", {}).get("pipelineExecutionId")
            == behind
        )
    )
    assert stage_state(cp, NAME, "Deploy")["latestExecution"]["pipelineExecutionId"] == rollback_id

    approve(cp, rollback_id)
    assert wait_status(cp, NAME, rollback_id) == "Succeeded"
    approve(cp, behind)
    assert wait_status(cp, NAME, behind) == "Succeeded"
    assert run_of(cp, behind, "Ship")["status"] == "Succeeded"


def test_a_failed_rollback_can_be_retried_and_still_ends_with_its_stage(
    endpoint: Endpoint,
) -> None:
    cp, first = created(endpoint)
    rollback_id = rollback(cp, first)
    token = wait_approval_token(cp, NAME, "Deploy", "Gate", rollback_id)
    cp.put_approval_result(
        pipelineName=NAME,
        stageName="Deploy",
        actionName="Gate",
        token=token,
        result={"summary": "not now", "status": "Rejected"},
    )
    assert wait_status(cp, NAME, rollback_id) == "Failed"
    cp.retry_stage_execution(
        pipelineName=NAME,
        stageName="Deploy",
        pipelineExecutionId=rollback_id,
        retryMode="FAILED_ACTIONS",
    )
    approve(cp, rollback_id)
    assert wait_status(cp, NAME, rollback_id) == "Succeeded"
    assert {r["stageName"] for r in action_executions(cp, NAME, rollback_id)} == {"Deploy"}
