"""Pipelines sourced from real local git repositories whose buildspec builds and tests a small
project with the CodeBuild action, read back through real boto3 clients."""

from __future__ import annotations

from typing import Any

from tests.endpoint import Endpoint
from tests.local.pipelines import (
    action_executions,
    commands,
    latest_execution_id,
    stage,
    wait_status,
)
from tests.local.sources import GitRepo, codecommit_source, connection_source, pipeline_with
from tests.local.test_codebuild_pipeline import CALC, TESTS, build_log, codebuild

BUILDSPEC = """\
version: 0.2
env:
  variables:
    PYTHONDONTWRITEBYTECODE: "1"
  exported-variables: [COMMIT, SHARED_VERSION]
phases:
  install:
    commands:
      - echo "initiator=$CODEBUILD_INITIATOR"
      - echo "resolved=$CODEBUILD_RESOLVED_SOURCE_VERSION"
  pre_build:
    commands:
      - test "$PWD" = "$CODEBUILD_SRC_DIR"
      - SHARED_VERSION="$(cat "$CODEBUILD_SRC_DIR_Shared/VERSION")"
  build:
    commands:
      - python3 -m unittest -v
  post_build:
    commands:
      - export COMMIT="$CODEBUILD_RESOLVED_SOURCE_VERSION"
      - mkdir -p dist && cp calc.py dist/
      - echo "$SHARED_VERSION" > dist/VERSION
artifacts:
  base-directory: dist
  files: ['**/*']
"""


def git_pipeline(name: str) -> dict[str, Any]:
    """The shared repository's source comes first, so the build's primary input (the app)
    is its second input and the second source."""
    return pipeline_with(
        name,
        [
            connection_source("octo/shared", output="Shared", namespace="Lib", name="Shared"),
            codecommit_source("calc"),
        ],
        stage(
            "Build",
            codebuild(
                "BuildAndTest",
                "calc",
                inputs=("Shared", "SourceOut"),
                outputs=("Package",),
                namespace="Build",
                PrimarySource="SourceOut",
            ),
        ),
        stage(
            "Verify",
            commands(
                "CheckPackage",
                [
                    'test "$(cat VERSION)" = "#{Build.SHARED_VERSION}"',
                    'python3 -c "import calc; print(calc.mul(6, 7))"',
                ],
                inputs=("Package",),
            ),
        ),
    )


def make_repositories(endpoint: Endpoint, calc: str) -> tuple[str, str]:
    """The app and the shared repository at their default paths; returns their head commits."""
    shared = GitRepo(endpoint.data_dir / "repos" / "octo" / "shared")
    shared_head = shared.commit({"VERSION": "3.1\n"}, "Shared 3.1")
    app = GitRepo(endpoint.data_dir / "repos" / "calc")
    app.commit({"README.md": "calc\n"}, "Start")
    head = app.commit(
        {"calc.py": calc, "test_calc.py": TESTS, "buildspec.yml": BUILDSPEC}, "Add calc and tests"
    )
    return head, shared_head


def test_a_git_sourced_project_is_built_tested_and_packaged(endpoint: Endpoint) -> None:
    head, shared_head = make_repositories(endpoint, CALC)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=git_pipeline("calc-git"))
    execution_id = latest_execution_id(cp, "calc-git")
    assert wait_status(cp, "calc-git", execution_id, timeout=60) == "Succeeded"

    runs = {d["actionName"]: d for d in action_executions(cp, "calc-git", execution_id)}
    assert runs["Fetch"]["output"]["outputVariables"]["CommitId"] == head
    assert runs["Shared"]["output"]["outputVariables"]["CommitId"] == shared_head
    build_run = runs["BuildAndTest"]
    # The build's resolved source version is its primary input's commit, not the other one.
    assert build_run["output"]["outputVariables"] == {"COMMIT": head, "SHARED_VERSION": "3.1"}
    assert runs["CheckPackage"]["status"] == "Succeeded"

    build_id = build_run["output"]["executionResult"]["externalExecutionId"]
    (build,) = endpoint.client("codebuild").batch_get_builds(ids=[build_id])["builds"]
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["resolvedSourceVersion"] == head
    assert build["initiator"] == "codepipeline/calc-git"
    assert [s["sourceIdentifier"] for s in build["secondarySources"]] == ["Shared"]
    lines = build_log(endpoint, build)
    assert "initiator=codepipeline/calc-git" in lines
    assert f"resolved={head}" in lines
    assert "test_add (test_calc.CalcTest.test_add) ... ok" in lines
    assert "test_mul (test_calc.CalcTest.test_mul) ... ok" in lines
    assert "OK" in lines
    assert any(line.endswith("Phase complete: BUILD State: SUCCEEDED") for line in lines)

    summary = cp.list_pipeline_executions(pipelineName="calc-git")["pipelineExecutionSummaries"][0]
    assert {r["actionName"]: r["revisionId"] for r in summary["sourceRevisions"]} == {
        "Fetch": head,
        "Shared": shared_head,
    }


def test_a_failing_test_in_a_git_sourced_project_fails_the_build_action(
    endpoint: Endpoint,
) -> None:
    head, _ = make_repositories(endpoint, CALC.replace("return a * b", "return a ** b"))
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=git_pipeline("calc-broken"))
    execution_id = latest_execution_id(cp, "calc-broken")
    assert wait_status(cp, "calc-broken", execution_id, timeout=60) == "Failed"

    runs = {d["actionName"]: d for d in action_executions(cp, "calc-broken", execution_id)}
    assert runs["Fetch"]["status"] == runs["Shared"]["status"] == "Succeeded"
    assert "CheckPackage" not in runs
    failed = runs["BuildAndTest"]
    assert failed["status"] == "Failed"
    assert failed["output"]["executionResult"]["externalExecutionSummary"] == (
        "Build terminated with state: FAILED. Phase: BUILD, Code: COMMAND_EXECUTION_ERROR, "
        "Message: Error while executing command: python3 -m unittest -v. Reason: exit status 1"
    )
    build_stage = next(
        s
        for s in cp.get_pipeline_state(name="calc-broken")["stageStates"]
        if s["stageName"] == "Build"
    )
    assert build_stage["latestExecution"]["status"] == "Failed"
    build_id = build_stage["actionStates"][0]["latestExecution"]["externalExecutionId"]

    (build,) = endpoint.client("codebuild").batch_get_builds(ids=[build_id])["builds"]
    assert build["buildStatus"] == "FAILED"
    assert build["resolvedSourceVersion"] == head
    assert {p["phaseType"]: p.get("phaseStatus") for p in build["phases"]}["BUILD"] == "FAILED"
    lines = build_log(endpoint, build)
    assert "test_add (test_calc.CalcTest.test_add) ... ok" in lines
    assert "test_mul (test_calc.CalcTest.test_mul) ... FAIL" in lines
    assert "AssertionError: 8 != 6" in lines
    assert "FAILED (failures=1)" in lines
    assert any(
        line.endswith("Command did not exit successfully python3 -m unittest -v exit status 1")
        for line in lines
    )
