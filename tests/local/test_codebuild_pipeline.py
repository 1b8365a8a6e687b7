"""CodeBuild actions in real pipelines: a small Python project built and tested from an S3
source, through real boto3 clients (CodePipeline, CodeBuild, CloudWatch Logs, S3)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import (
    ARTIFACT_BUCKET,
    action_executions,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)

CALC = """\
def add(a, b):
    return a + b


def mul(a, b):
    return a * b
"""

TESTS = """\
import unittest

from calc import add, mul


class CalcTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)

    def test_mul(self):
        self.assertEqual(mul(2, 3), 6)
"""

BUILDSPEC = """\
version: 0.2
env:
  variables:
    PYTHONDONTWRITEBYTECODE: "1"
  exported-variables:
    - PACKAGE
phases:
  install:
    commands:
      - python3 --version
  pre_build:
    commands:
      - python3 -m compileall -q calc.py
  build:
    commands:
      - python3 -m unittest -v
  post_build:
    commands:
      - mkdir -p dist
      - cp calc.py dist/
      - export PACKAGE="calc-$CODEBUILD_BUILD_NUMBER"
      - echo "$PACKAGE" > dist/VERSION
artifacts:
  base-directory: dist
  files:
    - '**/*'
"""


def project_files(calc: str = CALC) -> dict[str, str]:
    return {"calc.py": calc, "test_calc.py": TESTS, "buildspec.yml": BUILDSPEC}


def codebuild(
    name: str,
    project: str,
    *,
    category: str = "Build",
    inputs: tuple[str, ...] = ("SourceOut",),
    outputs: tuple[str, ...] = (),
    namespace: str | None = None,
    **configuration: str,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {
            "category": category,
            "owner": "AWS",
            "provider": "CodeBuild",
            "version": "1",
        },
        "configuration": {"ProjectName": project, **configuration},
        "inputArtifacts": [{"name": i} for i in inputs],
        "outputArtifacts": [{"name": o} for o in outputs],
    }
    if namespace:
        action["namespace"] = namespace
    return action


def create_project(endpoint: Endpoint, name: str, **extra: Any) -> None:
    endpoint.client("codebuild").create_project(
        name=name,
        source={"type": "CODEPIPELINE"},
        artifacts={"type": "CODEPIPELINE"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole="arn:aws:iam::000000000000:role/codebuild",
        **extra,
    )


def build_log(endpoint: Endpoint, build: dict[str, Any]) -> list[str]:
    """The build's log, read through the CloudWatch Logs API."""
    logs = endpoint.client("logs")
    lines: list[str] = []
    kwargs: dict[str, Any] = {
        "logGroupName": build["logs"]["groupName"],
        "logStreamName": build["logs"]["streamName"],
        "startFromHead": True,
    }
    while True:
        page = logs.get_log_events(**kwargs)
        lines += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == kwargs.get("nextToken"):
            return lines
        kwargs["nextToken"] = page["nextForwardToken"]


def test_a_python_project_is_built_tested_and_packaged(endpoint: Endpoint) -> None:
    version = upload_source(endpoint, project_files())
    create_project(endpoint, "calc", timeoutInMinutes=15)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            "calc-pipeline",
            stage(
                "Build",
                codebuild("BuildAndTest", "calc", outputs=("Package",), namespace="Build"),
            ),
            stage(
                "Verify",
                codebuild(
                    "CheckPackage",
                    "calc-verify",
                    category="Test",
                    inputs=("Package",),
                    EnvironmentVariables=json.dumps(
                        [{"name": "EXPECTED", "value": "#{Build.PACKAGE}", "type": "PLAINTEXT"}]
                    ),
                ),
            ),
        )
    )
    endpoint.client("codebuild").create_project(
        name="calc-verify",
        source={
            "type": "CODEPIPELINE",
            "buildspec": (
                "version: 0.2\nphases:\n  build:\n    commands:\n"
                '      - test "$(cat VERSION)" = "$EXPECTED"\n'
                '      - python3 -c "import calc; print(calc.add(20, 22))"\n'
            ),
        },
        artifacts={"type": "CODEPIPELINE"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole="arn:aws:iam::000000000000:role/codebuild",
    )
    execution_id = latest_execution_id(cp, "calc-pipeline")
    assert wait_status(cp, "calc-pipeline", execution_id, timeout=60) == "Succeeded"

    runs = {d["actionName"]: d for d in action_executions(cp, "calc-pipeline", execution_id)}
    build_run = runs["BuildAndTest"]
    assert build_run["status"] == "Succeeded"
    result = build_run["output"]["executionResult"]
    build_id = result["externalExecutionId"]
    assert build_id.startswith("calc:")
    assert result["externalExecutionUrl"].endswith(f"#/builds/{build_id}/view/new")
    assert build_run["output"]["outputVariables"] == {"PACKAGE": "calc-1"}
    assert runs["CheckPackage"]["status"] == "Succeeded"

    codebuild_client = endpoint.client("codebuild")
    builds = codebuild_client.batch_get_builds(ids=[build_id])["builds"]
    assert len(builds) == 1
    build = builds[0]
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["projectName"] == "calc"
    assert build["timeoutInMinutes"] == 15
    assert build["initiator"] == "codepipeline/calc-pipeline"
    assert build["resolvedSourceVersion"] == version
    assert [p["phaseType"] for p in build["phases"]][-3:] == [
        "UPLOAD_ARTIFACTS",
        "FINALIZING",
        "COMPLETED",
    ]
    assert all(p.get("phaseStatus", "SUCCEEDED") == "SUCCEEDED" for p in build["phases"])
    assert build["exportedEnvironmentVariables"] == [{"name": "PACKAGE", "value": "calc-1"}]
    assert build["logs"]["groupName"] == "/aws/codebuild/calc"
    assert codebuild_client.list_builds_for_project(projectName="calc")["ids"] == [build_id]

    lines = build_log(endpoint, build)
    assert "test_add (test_calc.CalcTest.test_add) ... ok" in lines
    assert "Ran 2 tests in" in " ".join(lines)
    assert "OK" in lines
    assert any(line.endswith("Phase complete: BUILD State: SUCCEEDED") for line in lines)

    # The package is the Build action's output artifact in the artifact store.
    output = build_run["output"]["outputArtifacts"][0]
    assert output["name"] == "Package"
    s3 = endpoint.client("s3")
    key = output["s3location"]["key"]
    body = s3.get_object(Bucket=ARTIFACT_BUCKET, Key=key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert sorted(zf.namelist()) == ["VERSION", "calc.py"]
        assert zf.read("VERSION") == b"calc-1\n"

    verify_id = runs["CheckPackage"]["output"]["executionResult"]["externalExecutionId"]
    (verify,) = codebuild_client.batch_get_builds(ids=[verify_id])["builds"]
    assert verify["environment"]["environmentVariables"] == [
        {"name": "EXPECTED", "value": "calc-1", "type": "PLAINTEXT"}
    ]
    assert "42" in build_log(endpoint, verify)


def test_a_failing_test_fails_the_build_action_and_its_log_says_why(endpoint: Endpoint) -> None:
    upload_source(endpoint, project_files(CALC.replace("return a + b", "return a - b")))
    cp = endpoint.client("codepipeline")
    # No CreateProject: an unknown project runs with the defaults.
    cp.create_pipeline(
        pipeline=pipeline(
            "broken",
            stage("Build", codebuild("BuildAndTest", "broken-calc", outputs=("Package",))),
            stage(
                "Verify", codebuild("Never", "broken-calc", category="Test", inputs=("Package",))
            ),
        )
    )
    execution_id = latest_execution_id(cp, "broken")
    assert wait_status(cp, "broken", execution_id, timeout=60) == "Failed"

    runs = {d["actionName"]: d for d in action_executions(cp, "broken", execution_id)}
    assert "Never" not in runs
    failed = runs["BuildAndTest"]
    assert failed["status"] == "Failed"
    summary = failed["output"]["executionResult"]["externalExecutionSummary"]
    assert summary == (
        "Build terminated with state: FAILED. Phase: BUILD, Code: COMMAND_EXECUTION_ERROR, "
        "Message: Error while executing command: python3 -m unittest -v. Reason: exit status 1"
    )
    state = cp.get_pipeline_state(name="broken")
    build_state = next(s for s in state["stageStates"] if s["stageName"] == "Build")
    latest = build_state["actionStates"][0]["latestExecution"]
    assert latest["status"] == "Failed"
    assert latest["errorDetails"]["message"] == summary
    build_id = latest["externalExecutionId"]

    (build,) = endpoint.client("codebuild").batch_get_builds(ids=[build_id])["builds"]
    assert build["buildStatus"] == "FAILED"
    phases = {p["phaseType"]: p for p in build["phases"]}
    assert phases["BUILD"]["phaseStatus"] == "FAILED"
    assert phases["BUILD"]["contexts"][0]["statusCode"] == "COMMAND_EXECUTION_ERROR"
    # The default transitions: POST_BUILD and UPLOAD_ARTIFACTS still ran.
    assert phases["POST_BUILD"]["phaseStatus"] == "SUCCEEDED"
    assert phases["UPLOAD_ARTIFACTS"]["phaseStatus"] == "SUCCEEDED"
    assert build["logs"]["groupName"] == "/aws/codebuild/broken-calc"

    lines = build_log(endpoint, build)
    assert "test_add (test_calc.CalcTest.test_add) ... FAIL" in lines
    assert "AssertionError: -1 != 5" in lines
    assert "FAILED (failures=1)" in lines
    assert any(
        line.endswith("Command did not exit successfully python3 -m unittest -v exit status 1")
        for line in lines
    )
    # The build's log is in the CodeBuild group only: nothing went to the Commands group.
    logs = endpoint.client("logs")
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert "/aws/codebuild/broken-calc" in groups
    commands_group = logs.filter_log_events(logGroupName="/aws/codepipeline/broken")["events"]
    assert [e for e in commands_group if e["logStreamName"] == failed["actionExecutionId"]] == []


SLEEPING_BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - echo started
      - sleep 1000
"""


def running_build(endpoint: Endpoint, project: str) -> dict[str, Any]:
    """The project's build once it is running its BUILD phase."""
    client = endpoint.client("codebuild")

    def find() -> dict[str, Any] | None:
        try:
            ids = client.list_builds_for_project(projectName=project)["ids"]
        except client.exceptions.ResourceNotFoundException:
            return None  # the action has not reached its project yet (a busy machine)
        if not ids:
            return None
        (build,) = client.batch_get_builds(ids=ids[:1])["builds"]
        return dict(build) if build["currentPhase"] == "BUILD" else None

    build = wait_for(find)
    wait_for(lambda: "started" in build_log(endpoint, build))
    return build


def test_the_projects_timeout_fails_the_action_on_the_engine_clock(endpoint: Endpoint) -> None:
    upload_source(endpoint, {"buildspec.yml": SLEEPING_BUILDSPEC})
    create_project(endpoint, "slow", timeoutInMinutes=5)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=pipeline("slow", stage("Build", codebuild("Sleep", "slow"))))
    execution_id = latest_execution_id(cp, "slow")
    build = running_build(endpoint, "slow")
    endpoint.advance(5 * 60)
    assert wait_status(cp, "slow", execution_id) == "Failed"
    (run,) = [d for d in action_executions(cp, "slow", execution_id) if d["actionName"] == "Sleep"]
    assert run["output"]["executionResult"]["externalExecutionSummary"] == (
        "Build terminated with state: TIMED_OUT. Phase: BUILD, Code: BUILD_TIMED_OUT, "
        "Message: Build has timed out after 5 minutes."
    )
    (build,) = endpoint.client("codebuild").batch_get_builds(ids=[build["id"]])["builds"]
    assert build["buildStatus"] == "TIMED_OUT"


def test_stop_and_abandon_stops_the_build(endpoint: Endpoint) -> None:
    upload_source(endpoint, {"buildspec.yml": SLEEPING_BUILDSPEC})
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline("stopped", stage("Build", codebuild("Sleep", "stoppable")))
    )
    execution_id = latest_execution_id(cp, "stopped")
    build = running_build(endpoint, "stoppable")
    # While it runs, the action names its build, so a client can find the build's log.
    sleep = cp.get_pipeline_state(name="stopped")["stageStates"][1]["actionStates"][0]
    assert sleep["latestExecution"]["status"] == "InProgress"
    assert sleep["latestExecution"]["externalExecutionId"] == build["id"]
    assert build["id"] in sleep["latestExecution"]["externalExecutionUrl"]
    cp.stop_pipeline_execution(
        pipelineName="stopped", pipelineExecutionId=execution_id, abandon=True, reason="enough"
    )
    assert wait_status(cp, "stopped", execution_id) == "Stopped"
    client = endpoint.client("codebuild")
    stopped = wait_for(
        lambda: (
            (b := client.batch_get_builds(ids=[build["id"]])["builds"][0])["buildComplete"] and b
        )
    )
    assert stopped["buildStatus"] == "STOPPED"
    assert stopped["phases"][-2]["phaseType"] == "BUILD"
    assert stopped["phases"][-2]["phaseStatus"] == "STOPPED"
