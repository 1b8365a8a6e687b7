"""Engine semantics through real boto3 clients: stage order, runOrder groups, artifacts, variables."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from tests.endpoint import Endpoint
from tests.local.pipelines import (
    ARTIFACT_BUCKET,
    action_executions,
    approval,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_approval_token,
    wait_status,
)
from tui.local.clock import Clock


@pytest.fixture
def live_endpoint(tmp_path: Path) -> Endpoint:
    """An endpoint on the wall clock, for tests that compare real timestamps."""
    ep = Endpoint(tmp_path / "live", clock=Clock()).start()
    yield ep  # type: ignore[misc]
    ep.stop()


def test_stages_run_in_order_and_artifacts_flow_between_them(endpoint: Endpoint) -> None:
    upload_source(endpoint, {"src/name.txt": "pipetop\n"})
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            "flow",
            stage(
                "Build",
                commands(
                    "Compile",
                    ["mkdir -p out", "tr a-z A-Z < src/name.txt > out/NAME.txt", "echo built"],
                    output="BuildOut",
                    files=["out/**/*"],
                ),
            ),
            stage(
                "Test", commands("Check", ["grep -q PIPETOP out/NAME.txt"], inputs=("BuildOut",))
            ),
        )
    )
    execution_id = latest_execution_id(cp, "flow")
    assert wait_status(cp, "flow", execution_id) == "Succeeded"

    runs = {d["actionName"]: d for d in action_executions(cp, "flow", execution_id)}
    assert [runs[n]["status"] for n in ("Fetch", "Compile", "Check")] == ["Succeeded"] * 3
    assert runs["Fetch"]["startTime"] <= runs["Compile"]["startTime"] <= runs["Check"]["startTime"]
    built = runs["Compile"]["output"]["outputArtifacts"][0]
    assert built["name"] == "BuildOut"
    assert built["s3location"]["bucket"] == ARTIFACT_BUCKET
    assert re.fullmatch(r"flow/BuildOut/[A-Za-z0-9]{7}", built["s3location"]["key"])
    assert runs["Check"]["input"]["inputArtifacts"] == [built]

    body = (
        endpoint.client("s3")
        .get_object(Bucket=ARTIFACT_BUCKET, Key=built["s3location"]["key"])["Body"]
        .read()
    )
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.read("out/NAME.txt") == b"PIPETOP\n"

    state = cp.get_pipeline_state(name="flow")
    assert [s["latestExecution"]["status"] for s in state["stageStates"]] == ["Succeeded"] * 3
    assert all(
        s["latestExecution"]["pipelineExecutionId"] == execution_id for s in state["stageStates"]
    )
    assert state["stageStates"][1]["actionStates"][0]["latestExecution"]["logStreamARN"].startswith(
        "arn:aws:logs:us-east-1:000000000000:log-group:/aws/codepipeline/flow:log-stream:"
    )


def test_run_order_groups_run_concurrently_and_in_order(live_endpoint: Endpoint) -> None:
    upload_source(live_endpoint)
    cp = live_endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            "groups",
            stage(
                "Build",
                commands("Left", ["sleep 0.6"], run_order=1),
                commands("Right", ["sleep 0.6"], run_order=1),
                commands("After", ["true"], run_order=5),
            ),
        )
    )
    execution_id = latest_execution_id(cp, "groups")
    assert wait_status(cp, "groups", execution_id) == "Succeeded"
    runs = {d["actionName"]: d for d in action_executions(cp, "groups", execution_id)}
    left, right, after = runs["Left"], runs["Right"], runs["After"]
    # The two actions of runOrder 1 overlap in time; runOrder 5 starts after both ended.
    assert left["startTime"] < right["lastUpdateTime"]
    assert right["startTime"] < left["lastUpdateTime"]
    assert after["startTime"] >= max(left["lastUpdateTime"], right["lastUpdateTime"])


def test_a_failure_lets_running_siblings_finish_and_starts_nothing_more(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            "failing",
            stage(
                "Build",
                commands("Broken", ["echo about to fail", "exit 3"], run_order=1),
                commands("Slow", ["sleep 0.4", "echo finished"], run_order=1),
                commands("Never", ["true"], run_order=2),
            ),
            stage("Deploy", commands("Ship", ["true"])),
        )
    )
    execution_id = latest_execution_id(cp, "failing")
    assert wait_status(cp, "failing", execution_id) == "Failed"
    runs = {d["actionName"]: d for d in action_executions(cp, "failing", execution_id)}
    assert runs["Broken"]["status"] == "Failed"
    assert runs["Slow"]["status"] == "Succeeded"
    assert "Never" not in runs
    assert "Ship" not in runs
    message = runs["Broken"]["output"]["executionResult"]["errorDetails"]["message"]
    assert "exit 3" in message
    assert "exit status 3" in message
    execution = cp.get_pipeline_execution(pipelineName="failing", pipelineExecutionId=execution_id)
    assert "Broken" in execution["pipelineExecution"]["statusSummary"]
    stages = {s["stageName"]: s for s in cp.get_pipeline_state(name="failing")["stageStates"]}
    assert stages["Build"]["latestExecution"]["status"] == "Failed"
    assert "latestExecution" not in stages["Deploy"]


def test_variables_resolve_from_pipeline_namespaces_and_execution(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            "vars",
            stage(
                "Build",
                commands(
                    "Version",
                    ["export VERSION=1.2.$((40 + 2))", "export NOTE='two words'"],
                    output_variables=["VERSION", "NOTE"],
                    namespace="Build",
                ),
            ),
            stage(
                "Approve",
                approval(
                    "Gate",
                    CustomData="v#{Build.VERSION} (#{Build.NOTE}) to #{variables.env} for #{codepipeline.PipelineExecutionId}",
                ),
            ),
            variables=[{"name": "env", "defaultValue": "staging"}],
        )
    )
    first = latest_execution_id(cp, "vars")
    token = wait_approval_token(cp, "vars", "Approve", "Gate", first)
    cp.put_approval_result(
        pipelineName="vars",
        stageName="Approve",
        actionName="Gate",
        token=token,
        result={"summary": "ok", "status": "Approved"},
    )
    assert wait_status(cp, "vars", first) == "Succeeded"
    runs = {d["actionName"]: d for d in action_executions(cp, "vars", first)}
    assert runs["Version"]["output"]["outputVariables"] == {
        "VERSION": "1.2.42",
        "NOTE": "two words",
    }
    assert (
        runs["Gate"]["input"]["resolvedConfiguration"]["CustomData"]
        == f"v1.2.42 (two words) to staging for {first}"
    )
    assert runs["Gate"]["input"]["configuration"]["CustomData"].startswith("v#{Build.VERSION}")
    detail = cp.get_pipeline_execution(pipelineName="vars", pipelineExecutionId=first)[
        "pipelineExecution"
    ]
    assert detail["variables"] == [{"name": "env", "resolvedValue": "staging"}]

    second = cp.start_pipeline_execution(name="vars", variables=[{"name": "env", "value": "prod"}])[
        "pipelineExecutionId"
    ]
    wait_approval_token(cp, "vars", "Approve", "Gate", second)
    runs = {d["actionName"]: d for d in action_executions(cp, "vars", second)}
    assert runs["Gate"]["input"]["resolvedConfiguration"]["CustomData"].endswith(
        f"to prod for {second}"
    )

    with pytest.raises(cp.exceptions.ValidationException, match="not declared"):
        cp.start_pipeline_execution(name="vars", variables=[{"name": "nope", "value": "x"}])


def test_unsupported_provider_fails_the_action_with_a_clear_summary(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    deploy = {
        "name": "Stack",
        "actionTypeId": {
            "category": "Deploy",
            "owner": "AWS",
            "provider": "CloudFormation",
            "version": "1",
        },
        "configuration": {
            "ActionMode": "CREATE_UPDATE",
            "StackName": "s",
            "TemplatePath": "SourceOut::t.yml",
        },
        "inputArtifacts": [{"name": "SourceOut"}],
    }
    cp.create_pipeline(pipeline=pipeline("cfn", stage("Deploy", deploy)))
    execution_id = latest_execution_id(cp, "cfn")
    assert wait_status(cp, "cfn", execution_id) == "Failed"
    runs = {d["actionName"]: d for d in action_executions(cp, "cfn", execution_id)}
    message = runs["Stack"]["output"]["executionResult"]["errorDetails"]["message"]
    assert "CloudFormation" in message
    assert "cannot run" in message


def test_source_revision_is_recorded(endpoint: Endpoint) -> None:
    version = upload_source(endpoint, summary="Fix the thing")
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=pipeline("rev", stage("Build", commands("Noop", ["true"]))))
    execution_id = latest_execution_id(cp, "rev")
    assert wait_status(cp, "rev", execution_id) == "Succeeded"
    detail = cp.get_pipeline_execution(pipelineName="rev", pipelineExecutionId=execution_id)[
        "pipelineExecution"
    ]
    assert detail["artifactRevisions"][0]["revisionId"] == version
    assert detail["artifactRevisions"][0]["revisionSummary"] == "Fix the thing"
    summary = cp.list_pipeline_executions(pipelineName="rev")["pipelineExecutionSummaries"][0]
    assert summary["sourceRevisions"] == [
        {"actionName": "Fetch", "revisionId": version, "revisionSummary": "Fix the thing"}
    ]
    fetch = cp.get_pipeline_state(name="rev")["stageStates"][0]["actionStates"][0]
    assert fetch["currentRevision"]["revisionId"] == version
