"""A stage's onFailure through real boto3 clients: automatic retry, automatic rollback, FAIL,
and the declarations the endpoint refuses (AWS's own refusals and stage conditions, which
the local engine does not evaluate)."""

from __future__ import annotations

import io
import json
import random
import zipfile
from pathlib import Path
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
from tui.local.engine.records import runtime_from_json
from tui.model.declaration import parse_pipeline
from tui.model.events import parse_event
from tui.model.state import ActionExecutionDetail, PipelineExecutionSummary, PipelineState
from tui.model.view import PipelineView, apply_declaration, apply_event, apply_snapshot


def on_failure(stage_body: dict[str, Any], result: str, mode: str | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"result": result}
    if mode:
        rule["retryConfiguration"] = {"retryMode": mode}
    return {**stage_body, "onFailure": rule}


def fails_once(name: str, marker: Path, *, run_order: int = 1) -> dict[str, Any]:
    """A Commands action that fails on its first run and succeeds on every later one."""
    return commands(
        name,
        [
            f"echo run >> {marker}.log",
            f"if [ -f {marker} ]; then true; else touch {marker}; false; fi",
        ],
        run_order=run_order,
    )


def counted(name: str, log: Path, *, run_order: int = 1) -> dict[str, Any]:
    return commands(name, [f"echo run >> {log}"], run_order=run_order)


def runs(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def names_of(cp: Any, name: str, execution_id: str) -> list[str]:
    return sorted(r["actionName"] for r in action_executions(cp, name, execution_id))


def events_of(endpoint: Endpoint, execution_id: str) -> list[dict[str, Any]]:
    return [
        e["detail"]
        for _, e in endpoint.call(lambda: endpoint.backend.engine.state.events.read())
        if e["detail"].get("execution-id") == execution_id
    ]


def pipeline_states(events: list[dict[str, Any]]) -> list[str]:
    return [e["state"] for e in events if "stage" not in e]


def stage_states(events: list[dict[str, Any]], stage_name: str) -> list[str]:
    return [e["state"] for e in events if e.get("stage") == stage_name and "action" not in e]


def create(endpoint: Endpoint, body: dict[str, Any]) -> tuple[Any, str]:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=body)
    return cp, latest_execution_id(cp, body["name"])


# Automatic retry -----------------------------------------------------------------------


def test_automatic_retry_reruns_the_failed_actions_once_and_the_execution_succeeds(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    marker, steady = tmp_path / "flaky", tmp_path / "steady"
    build = stage(
        "Build",
        counted("Steady", steady),
        fails_once("Flaky", marker),
        commands("Package", ["true"], run_order=2),
    )
    cp, execution_id = create(
        endpoint, pipeline("auto-retry", on_failure(build, "RETRY", "FAILED_ACTIONS"))
    )
    assert wait_status(cp, "auto-retry", execution_id) == "Succeeded"

    # Flaky ran twice (failed, then succeeded), Steady only once; Package after the retry.
    assert names_of(cp, "auto-retry", execution_id) == [
        "Fetch",
        "Flaky",
        "Flaky",
        "Package",
        "Steady",
    ]
    flaky = [
        r["status"]
        for r in reversed(action_executions(cp, "auto-retry", execution_id))
        if r["actionName"] == "Flaky"
    ]
    assert sorted(flaky) == ["Failed", "Succeeded"]
    assert runs(steady) == 1
    state = stage_state(cp, "auto-retry", "Build")
    assert state["retryStageMetadata"] == {
        "autoStageRetryAttempt": 1,
        "latestRetryTrigger": "AutomatedStageRetry",
    }
    assert state["latestExecution"] == {
        "pipelineExecutionId": execution_id,
        "status": "Succeeded",
        "type": "STANDARD",
    }

    # The stage failed and resumed; the execution itself never left InProgress.
    events = events_of(endpoint, execution_id)
    assert stage_states(events, "Build") == ["STARTED", "FAILED", "RESUMED", "SUCCEEDED"]
    assert pipeline_states(events) == ["STARTED", "SUCCEEDED"]

    # The counts belong to the execution: the next one, which passes at once, shows none.
    upload_source(endpoint, {"README.md": "again\n"})
    second = cp.start_pipeline_execution(name="auto-retry")["pipelineExecutionId"]
    assert wait_status(cp, "auto-retry", second) == "Succeeded"
    assert "retryStageMetadata" not in stage_state(cp, "auto-retry", "Build")


def test_all_actions_retry_reruns_the_whole_stage(endpoint: Endpoint, tmp_path: Path) -> None:
    marker, steady = tmp_path / "flaky", tmp_path / "steady"
    build = stage("Build", counted("Steady", steady), fails_once("Flaky", marker))
    cp, execution_id = create(endpoint, pipeline("all", on_failure(build, "RETRY", "ALL_ACTIONS")))
    assert wait_status(cp, "all", execution_id) == "Succeeded"
    assert runs(steady) == 2
    assert names_of(cp, "all", execution_id) == ["Fetch", "Flaky", "Flaky", "Steady", "Steady"]


def test_retry_without_a_mode_reruns_only_the_failed_actions(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    marker, steady = tmp_path / "flaky", tmp_path / "steady"
    build = stage("Build", counted("Steady", steady), fails_once("Flaky", marker))
    cp, execution_id = create(endpoint, pipeline("no-mode", on_failure(build, "RETRY")))
    assert wait_status(cp, "no-mode", execution_id) == "Succeeded"
    assert runs(steady) == 1
    assert runs(Path(f"{marker}.log")) == 2


def test_a_second_failure_fails_the_execution_and_manual_retries_are_counted(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    ok, log = tmp_path / "ok", tmp_path / "attempts"
    build = stage("Build", commands("Check", [f"echo run >> {log}", f"test -f {ok}"]))
    cp, execution_id = create(
        endpoint, pipeline("twice", on_failure(build, "RETRY", "FAILED_ACTIONS"))
    )
    assert wait_status(cp, "twice", execution_id) == "Failed"
    assert runs(log) == 2
    state = stage_state(cp, "twice", "Build")
    assert state["latestExecution"]["status"] == "Failed"
    assert state["retryStageMetadata"] == {
        "autoStageRetryAttempt": 1,
        "latestRetryTrigger": "AutomatedStageRetry",
    }
    summary = cp.get_pipeline_execution(pipelineName="twice", pipelineExecutionId=execution_id)[
        "pipelineExecution"
    ]["statusSummary"]
    assert summary.startswith("Action Check in stage Build failed")
    events = events_of(endpoint, execution_id)
    assert stage_states(events, "Build") == ["STARTED", "FAILED", "RESUMED", "FAILED"]
    assert pipeline_states(events) == ["STARTED", "FAILED"]

    def retry() -> None:
        cp.retry_stage_execution(
            pipelineName="twice",
            stageName="Build",
            pipelineExecutionId=execution_id,
            retryMode="FAILED_ACTIONS",
        )

    # A manual retry that fails does not earn another automatic attempt.
    retry()
    assert wait_status(cp, "twice", execution_id) == "Failed"
    assert runs(log) == 3
    assert stage_state(cp, "twice", "Build")["retryStageMetadata"] == {
        "autoStageRetryAttempt": 1,
        "manualStageRetryAttempt": 1,
        "latestRetryTrigger": "ManualStageRetry",
    }

    ok.touch()
    retry()
    assert wait_status(cp, "twice", execution_id) == "Succeeded"
    assert runs(log) == 4
    assert stage_state(cp, "twice", "Build")["retryStageMetadata"] == {
        "autoStageRetryAttempt": 1,
        "manualStageRetryAttempt": 2,
        "latestRetryTrigger": "ManualStageRetry",
    }
    # Manual retries resume the failed execution; the automatic one did not need to.
    assert pipeline_states(events_of(endpoint, execution_id)) == [
        "STARTED",
        "FAILED",
        "RESUMED",
        "FAILED",
        "RESUMED",
        "SUCCEEDED",
    ]


def test_fail_result_and_a_stop_start_no_retry(endpoint: Endpoint, tmp_path: Path) -> None:
    log = tmp_path / "attempts"
    build = stage("Build", commands("Check", [f"echo run >> {log}", "false"]))
    cp, execution_id = create(endpoint, pipeline("plain", on_failure(build, "FAIL")))
    assert wait_status(cp, "plain", execution_id) == "Failed"
    assert runs(log) == 1
    assert "retryStageMetadata" not in stage_state(cp, "plain", "Build")

    # A stop is not a failure: the stage ends Stopped and is not retried.
    started = tmp_path / "started"
    slow = stage("Build", commands("Slow", [f"touch {started}", "sleep 30"]))
    cp, execution_id = create(endpoint, pipeline("stopped", on_failure(slow, "RETRY")))
    wait_for(started.exists)
    cp.stop_pipeline_execution(
        pipelineName="stopped", pipelineExecutionId=execution_id, abandon=True
    )
    assert wait_status(cp, "stopped", execution_id) == "Stopped"
    assert names_of(cp, "stopped", execution_id) == ["Fetch", "Slow"]
    assert "retryStageMetadata" not in stage_state(cp, "stopped", "Build")


def test_a_rejected_approval_is_asked_again_by_the_automatic_retry(endpoint: Endpoint) -> None:
    gate = on_failure(stage("Gate", approval("Review")), "RETRY", "FAILED_ACTIONS")
    cp, execution_id = create(endpoint, pipeline("asked", gate))
    first = wait_approval_token(cp, "asked", "Gate", "Review", execution_id)
    cp.put_approval_result(
        pipelineName="asked",
        stageName="Gate",
        actionName="Review",
        token=first,
        result={"summary": "not yet", "status": "Rejected"},
    )
    second = wait_for(
        lambda: (
            t
            if (t := wait_approval_token(cp, "asked", "Gate", "Review", execution_id)) != first
            else None
        )
    )
    assert execution_status_of(cp, "asked", execution_id) == "InProgress"
    cp.put_approval_result(
        pipelineName="asked",
        stageName="Gate",
        actionName="Review",
        token=second,
        result={"summary": "fine", "status": "Approved"},
    )
    assert wait_status(cp, "asked", execution_id) == "Succeeded"


def execution_status_of(cp: Any, name: str, execution_id: str) -> str:
    return str(
        cp.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)[
            "pipelineExecution"
        ]["status"]
    )


# Automatic rollback --------------------------------------------------------------------


def deploy_pipeline(name: str, broken: Path, **options: Any) -> dict[str, Any]:
    """Source -> Build (copies app.txt) -> Deploy (fails on a text without "good", or while
    `broken` exists; otherwise copies it), Deploy rolling back on failure."""
    check = f"grep -q good built.txt && test ! -f {broken} && cp built.txt deployed.txt"
    return pipeline(
        name,
        stage(
            "Build",
            commands("Compile", ["cp app.txt built.txt"], output="BuildOut", files=["built.txt"]),
        ),
        on_failure(
            stage(
                "Deploy",
                commands(
                    "Ship",
                    [check],
                    inputs=("BuildOut",),
                    output="DeployOut",
                    files=["deployed.txt"],
                ),
            ),
            "ROLLBACK",
        ),
        **options,
    )


def run_text(endpoint: Endpoint, cp: Any, name: str, text: str) -> str:
    upload_source(endpoint, {"app.txt": text})
    execution_id = str(cp.start_pipeline_execution(name=name)["pipelineExecutionId"])
    wait_status(cp, name, execution_id)
    return execution_id


def deployed_text(endpoint: Endpoint, cp: Any, name: str, execution_id: str) -> str:
    ship = next(r for r in action_executions(cp, name, execution_id) if r["actionName"] == "Ship")
    location = ship["output"]["outputArtifacts"][0]["s3location"]
    body = (
        endpoint.client("s3")
        .get_object(Bucket=location["bucket"], Key=location["key"])["Body"]
        .read()
    )
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return archive.read("deployed.txt").decode()


def newest_summary(cp: Any, name: str) -> dict[str, Any]:
    return dict(cp.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"][0])


def test_a_failed_stage_rolls_back_to_the_last_execution_that_succeeded_in_it(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    name = "rolls"
    upload_source(endpoint, {"app.txt": "good one"})
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=deploy_pipeline(name, tmp_path / "broken"))
    first = latest_execution_id(cp, name)
    assert wait_status(cp, name, first) == "Succeeded"
    second = run_text(endpoint, cp, name, "good two")
    assert execution_status_of(cp, name, second) == "Succeeded"

    bad = run_text(endpoint, cp, name, "bad three")
    assert execution_status_of(cp, name, bad) == "Failed"
    rollback = newest_summary(cp, name)
    rollback_id = rollback["pipelineExecutionId"]
    assert rollback_id not in (first, second, bad)
    assert rollback["executionType"] == "ROLLBACK"
    assert rollback["trigger"] == {"triggerType": "AutomatedRollback", "triggerDetail": bad}
    assert rollback["rollbackMetadata"] == {"rollbackTargetPipelineExecutionId": second}
    assert wait_status(cp, name, rollback_id) == "Succeeded"

    # The rollback reran Deploy alone with the second execution's artifacts.
    assert names_of(cp, name, rollback_id) == ["Ship"]
    assert deployed_text(endpoint, cp, name, rollback_id) == "good two"
    detail = cp.get_pipeline_execution(pipelineName=name, pipelineExecutionId=rollback_id)[
        "pipelineExecution"
    ]
    assert detail["executionType"] == "ROLLBACK"
    assert detail["trigger"]["triggerType"] == "AutomatedRollback"
    assert detail["rollbackMetadata"] == {"rollbackTargetPipelineExecutionId": second}
    failed = cp.get_pipeline_execution(pipelineName=name, pipelineExecutionId=bad)[
        "pipelineExecution"
    ]
    assert failed["status"] == "Failed"
    assert (
        f"rolled back to execution {second} by execution {rollback_id}" in (failed["statusSummary"])
    )
    assert stage_state(cp, name, "Deploy")["latestExecution"] == {
        "pipelineExecutionId": rollback_id,
        "status": "Succeeded",
        "type": "ROLLBACK",
    }
    assert stage_state(cp, name, "Build")["latestExecution"]["pipelineExecutionId"] == bad

    # Events: the failure first, then the rollback as any rollback, typed AutomatedRollback.
    assert pipeline_states(events_of(endpoint, bad)) == ["STARTED", "FAILED"]
    assert stage_states(events_of(endpoint, bad), "Deploy") == ["STARTED", "FAILED"]
    rollback_events = events_of(endpoint, rollback_id)
    assert pipeline_states(rollback_events) == ["STARTED", "SUCCEEDED"]
    started = next(e for e in rollback_events if "stage" not in e)
    assert started["execution-trigger"] == {
        "trigger-type": "AutomatedRollback",
        "trigger-detail": bad,
    }
    assert stage_states(rollback_events, "Deploy") == ["STARTED", "SUCCEEDED"]

    # The newest success in Deploy is now that rollback: the next one returns to its target.
    worse = run_text(endpoint, cp, name, "bad four")
    assert execution_status_of(cp, name, worse) == "Failed"
    again = newest_summary(cp, name)
    assert again["pipelineExecutionId"] not in (rollback_id, worse)
    assert again["rollbackMetadata"] == {"rollbackTargetPipelineExecutionId": second}
    assert again["trigger"]["triggerDetail"] == worse
    assert wait_status(cp, name, again["pipelineExecutionId"]) == "Succeeded"


def test_no_rollback_without_an_earlier_success_on_this_version(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    name = "nothing"
    upload_source(endpoint, {"app.txt": "bad from the start"})
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=deploy_pipeline(name, tmp_path / "broken"))
    first = latest_execution_id(cp, name)
    assert wait_status(cp, name, first) == "Failed"
    summaries = cp.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
    assert [s["pipelineExecutionId"] for s in summaries] == [first]
    summary = summaries[0]["statusSummary"]
    assert "No automatic rollback: no execution succeeded in stage Deploy on version 1" in summary

    # A success on an older version of the pipeline is no target either.
    good = run_text(endpoint, cp, name, "good")
    assert execution_status_of(cp, name, good) == "Succeeded"
    cp.update_pipeline(pipeline=cp.get_pipeline(name=name)["pipeline"])
    bad = run_text(endpoint, cp, name, "bad again")
    assert execution_status_of(cp, name, bad) == "Failed"
    assert newest_summary(cp, name)["pipelineExecutionId"] == bad
    assert "on version 2" in newest_summary(cp, name)["statusSummary"]
    assert stage_state(cp, name, "Deploy")["latestExecution"]["pipelineExecutionId"] == bad


def test_a_failed_rollback_is_not_rolled_back_again(endpoint: Endpoint, tmp_path: Path) -> None:
    name = "once"
    broken = tmp_path / "broken"
    upload_source(endpoint, {"app.txt": "good"})
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=deploy_pipeline(name, broken))
    first = latest_execution_id(cp, name)
    assert wait_status(cp, name, first) == "Succeeded"

    broken.touch()
    failing = run_text(endpoint, cp, name, "good but broken")
    assert execution_status_of(cp, name, failing) == "Failed"
    rollback_id = newest_summary(cp, name)["pipelineExecutionId"]
    assert wait_status(cp, name, rollback_id) == "Failed"
    summaries = cp.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
    assert [s["pipelineExecutionId"] for s in summaries] == [rollback_id, failing, first]
    assert "is itself a rollback" in summaries[0]["statusSummary"]

    # The failed rollback can be retried by hand once the fault is gone.
    broken.unlink()
    cp.retry_stage_execution(
        pipelineName=name,
        stageName="Deploy",
        pipelineExecutionId=rollback_id,
        retryMode="FAILED_ACTIONS",
    )
    assert wait_status(cp, name, rollback_id) == "Succeeded"
    assert deployed_text(endpoint, cp, name, rollback_id) == "good"


def test_the_rollback_enters_before_an_execution_queued_in_front_of_the_stage(
    endpoint: Endpoint,
) -> None:
    name = "queue"
    deploy = on_failure(
        stage("Deploy", approval("Gate"), commands("Ship", ["true"], run_order=2)), "ROLLBACK"
    )
    body = pipeline(name, deploy, mode="QUEUED")
    cp, first = create(endpoint, body)

    def answer(execution_id: str, status: str) -> None:
        token = wait_approval_token(cp, name, "Deploy", "Gate", execution_id)
        cp.put_approval_result(
            pipelineName=name,
            stageName="Deploy",
            actionName="Gate",
            token=token,
            result={"summary": status, "status": status},
        )

    answer(first, "Approved")
    assert wait_status(cp, name, first) == "Succeeded"

    failing = cp.start_pipeline_execution(name=name)["pipelineExecutionId"]
    wait_approval_token(cp, name, "Deploy", "Gate", failing)
    queued = cp.start_pipeline_execution(name=name)["pipelineExecutionId"]
    wait_for(
        lambda: any(
            e["pipelineExecutionId"] == queued
            for e in stage_state(cp, name, "Deploy").get("inboundExecutions", [])
        )
    )
    answer(failing, "Rejected")
    assert wait_status(cp, name, failing) == "Failed"

    rollback_id = wait_for(
        lambda: (
            s["pipelineExecutionId"]
            if (s := newest_summary(cp, name))["executionType"] == "ROLLBACK"
            else None
        )
    )
    # The rollback holds Deploy; the queued execution still waits in front of it.
    wait_approval_token(cp, name, "Deploy", "Gate", rollback_id)
    deploy_state = stage_state(cp, name, "Deploy")
    assert deploy_state["latestExecution"]["pipelineExecutionId"] == rollback_id
    assert [e["pipelineExecutionId"] for e in deploy_state["inboundExecutions"]] == [queued]

    answer(rollback_id, "Approved")
    assert wait_status(cp, name, rollback_id) == "Succeeded"
    answer(queued, "Approved")
    assert wait_status(cp, name, queued) == "Succeeded"


# Refused declarations ------------------------------------------------------------------


def build_stage(**extra: Any) -> dict[str, Any]:
    return {**stage("Build", commands("Check", ["true"])), **extra}


RULE = {
    "name": "Window",
    "ruleTypeId": {
        "category": "Rule",
        "owner": "AWS",
        "provider": "DeploymentWindow",
        "version": "1",
    },
    "configuration": {"Cron": "0 0 1 1 ? 2099"},
}


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (
            pipeline("p", build_stage(onFailure={"result": "ROLLBACK"}), mode="PARALLEL"),
            "ValidationException",
            "not supported in PARALLEL execution mode",
        ),
        (
            pipeline(
                "p",
                {**stage("Build", approval("Gate")), "onFailure": {"result": "ROLLBACK"}},
                pipeline_type="V1",
            ),
            "ValidationException",
            "supported only in pipelines of type V2",
        ),
        (
            pipeline("p", build_stage(onFailure={"result": "SKIP"})),
            "InvalidStageDeclarationException",
            "declares onFailure result SKIP",
        ),
        (
            pipeline(
                "p",
                build_stage(
                    onFailure={
                        "result": "ROLLBACK",
                        "retryConfiguration": {"retryMode": "ALL_ACTIONS"},
                    }
                ),
            ),
            "InvalidStageDeclarationException",
            "needs onFailure result RETRY",
        ),
        (
            pipeline(
                "p",
                build_stage(
                    onFailure={"result": "RETRY", "retryConfiguration": {"retryMode": "SOME"}}
                ),
            ),
            "ValidationException",
            "retryMode",
        ),
        (
            pipeline("p", build_stage(onFailure={"result": "EXPLODE"})),
            "ValidationException",
            "result",
        ),
        (
            pipeline(
                "p",
                build_stage(beforeEntry={"conditions": [{"result": "FAIL", "rules": [RULE]}]}),
            ),
            "InvalidStageDeclarationException",
            "Stage 'Build' declares beforeEntry conditions with rules Window (DeploymentWindow) "
            "(pipeline.stages.2.member.beforeEntry.conditions), which the local engine does "
            "not evaluate",
        ),
        (
            pipeline(
                "p",
                build_stage(onSuccess={"conditions": [{"result": "ROLLBACK", "rules": [RULE]}]}),
            ),
            "InvalidStageDeclarationException",
            "declares onSuccess conditions",
        ),
        (
            pipeline(
                "p",
                build_stage(
                    onFailure={
                        "result": "ROLLBACK",
                        "conditions": [{"result": "ROLLBACK", "rules": [RULE]}],
                    }
                ),
            ),
            "InvalidStageDeclarationException",
            "declares onFailure conditions",
        ),
    ],
)
def test_refused_declarations_name_what_is_wrong(
    endpoint: Endpoint, body: dict[str, Any], error: str, message: str
) -> None:
    cp = endpoint.client("codepipeline")
    with pytest.raises(cp.exceptions.ClientError) as raised:
        cp.create_pipeline(pipeline=body)
    assert raised.value.response["Error"]["Code"] == error
    assert message in raised.value.response["Error"]["Message"]
    with pytest.raises(cp.exceptions.PipelineNotFoundException):
        cp.get_pipeline(name="p")

    # UpdatePipeline refuses the same and leaves the stored version as it was.
    lifecycle = ("onFailure", "onSuccess", "beforeEntry")
    second = {k: v for k, v in body["stages"][1].items() if k not in lifecycle}
    plain = {**body, "stages": [body["stages"][0], second]}
    cp.create_pipeline(pipeline=plain)
    with pytest.raises(cp.exceptions.ClientError) as raised:
        cp.update_pipeline(pipeline=body)
    assert raised.value.response["Error"]["Code"] == error
    stored = cp.get_pipeline(name="p")
    assert stored["pipeline"]["version"] == 1
    assert "onFailure" not in stored["pipeline"]["stages"][1]


def test_the_events_of_an_automatic_retry_reduce_to_what_the_state_shows(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    """A watcher that only reads events sees the retried stage end as GetPipelineState does,
    whatever order the events arrive in."""
    name = "watched"
    build = stage(
        "Build", fails_once("Flaky", tmp_path / "flaky"), commands("Next", ["true"], run_order=2)
    )
    cp, execution_id = create(endpoint, pipeline(name, on_failure(build, "RETRY")))
    assert wait_status(cp, name, execution_id) == "Succeeded"
    declared = apply_declaration(
        PipelineView.empty(name), parse_pipeline(cp.get_pipeline(name=name)["pipeline"])
    )
    summaries = PipelineExecutionSummary.list_from_api(
        cp.list_pipeline_executions(pipelineName=name)
    )
    details = ActionExecutionDetail.list_from_api(
        {"actionExecutionDetails": action_executions(cp, name, execution_id)}
    )
    snapshot = apply_snapshot(
        declared,
        PipelineState.from_api(cp.get_pipeline_state(name=name)),
        summaries,
        action_executions=details,
    )
    events = [
        parse_event(json.dumps(e))
        for _, e in endpoint.call(lambda: endpoint.backend.engine.state.events.read())
        if e["detail"].get("pipeline") == name
    ]

    def seen(view: PipelineView) -> tuple[Any, ...]:
        return (
            view.status,
            [(s.name, s.status) for s in view.stages],
            [(a.name, a.status) for s in view.stages for a in s.actions],
        )

    for order in (events, list(reversed(events)), random.Random(3).sample(events, len(events))):
        view = declared
        for event in order:
            view = apply_event(view, event)
        assert seen(view) == seen(snapshot)
    assert seen(snapshot)[0] == "Succeeded"


def test_runtimes_stored_with_retry_counters_on_the_lane_still_load() -> None:
    """Data dirs written before the counters moved to the stage's run keep opening."""
    stored = {
        "name": "old",
        "lanes": {
            "Build": {
                "latest_execution_id": "e1",
                "auto_retry_attempts": 1,
                "manual_retry_attempts": 2,
                "latest_retry_trigger": "ManualStageRetry",
            }
        },
    }
    runtime = runtime_from_json(stored)
    assert runtime.lane("Build").latest_execution_id == "e1"
    assert not hasattr(runtime.lane("Build"), "auto_retry_attempts")
