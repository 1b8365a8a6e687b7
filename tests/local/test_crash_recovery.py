"""SIGKILL a real `pipetop local serve` mid-execution, restart it on the same data dir."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.endpoint import wait_for
from tests.local.pipelines import approval, commands, pipeline, stage, zip_bytes
from tests.local.test_orphans import alive, ended_afterwards
from tests.process import ServerProcess

pytestmark = pytest.mark.slow


def test_sigkill_mid_execution_loses_nothing_and_the_action_can_be_retried(tmp_path: Path) -> None:
    data = tmp_path / "data"
    marker = tmp_path / "started"
    gate = tmp_path / "gate"
    pid_file = tmp_path / "pid"
    with ended_afterwards(pid_file):
        with ServerProcess(data) as server:
            s3 = server.client("s3")
            s3.create_bucket(Bucket="source-bucket")
            s3.put_bucket_versioning(
                Bucket="source-bucket", VersioningConfiguration={"Status": "Enabled"}
            )
            s3.put_object(Bucket="source-bucket", Key="app.zip", Body=zip_bytes({"a.txt": "a"}))
            cp = server.client("codepipeline")
            cp.create_pipeline(
                pipeline=pipeline(
                    "crashy",
                    stage("Approve", approval("Gate")),
                    stage(
                        "Build",
                        commands(
                            "Long",
                            [
                                f"echo $$ > {pid_file}.tmp && mv {pid_file}.tmp {pid_file}",
                                f"touch {marker}",
                                f"while [ ! -f {gate} ]; do sleep 0.05; done",
                                "echo done",
                            ],
                        ),
                    ),
                ),
                tags=[{"key": "team", "value": "ops"}],
            )
            # A second pipeline with an approval pending when the crash comes.
            cp.create_pipeline(pipeline=pipeline("waiting", stage("Approve", approval("Gate"))))
            first = cp.list_pipeline_executions(pipelineName="crashy")[
                "pipelineExecutionSummaries"
            ][0]["pipelineExecutionId"]

            def token(name: str) -> str | None:
                actions = cp.get_pipeline_state(name=name)["stageStates"][1]["actionStates"]
                return actions[0].get("latestExecution", {}).get("token")

            crashy_token = wait_for(lambda: token("crashy"))
            cp.put_approval_result(
                pipelineName="crashy",
                stageName="Approve",
                actionName="Gate",
                token=crashy_token,
                result={"summary": "go", "status": "Approved"},
            )
            waiting_token = wait_for(lambda: token("waiting"))
            wait_for(marker.exists)
            before_state = cp.get_pipeline_state(name="crashy")
            assert (
                before_state["stageStates"][2]["actionStates"][0]["latestExecution"]["status"]
                == "InProgress"
            )
            server.kill()
        workspaces = data / "workspaces"
        (left_behind,) = list(workspaces.iterdir())
        assert (left_behind / "inputs").is_dir()
        # The crash orphaned the running command's shell: it still waits for the gate.
        orphan = int(pid_file.read_text())
        assert alive(orphan)

        time.sleep(0.2)
        with ServerProcess(data) as server:
            # The crash's workspace is removed at the start, before anything runs again, and the
            # command it left running is ended (the gate, which would end it too, is still shut).
            assert list(workspaces.iterdir()) == []
            wait_for(lambda: not alive(orphan), timeout=5)
            assert f"ended process group {orphan} " in server.stderr_text()
            cp = server.client("codepipeline")
            assert sorted(p["name"] for p in cp.list_pipelines()["pipelines"]) == [
                "crashy",
                "waiting",
            ]
            assert cp.list_tags_for_resource(
                resourceArn="arn:aws:codepipeline:us-east-1:000000000000:crashy"
            )["tags"] == [{"key": "team", "value": "ops"}]
            execution = cp.get_pipeline_execution(pipelineName="crashy", pipelineExecutionId=first)[
                "pipelineExecution"
            ]
            assert execution["status"] == "Failed"
            long_run = cp.get_pipeline_state(name="crashy")["stageStates"][2]["actionStates"][0][
                "latestExecution"
            ]
            assert long_run["status"] == "Failed"
            assert "interrupted" in long_run["summary"].lower()
            details = cp.list_action_executions(
                pipelineName="crashy", filter={"pipelineExecutionId": first}
            )["actionExecutionDetails"]
            gate_run = next(d for d in details if d["actionName"] == "Gate")
            assert gate_run["status"] == "Succeeded"
            assert gate_run["output"]["executionResult"]["externalExecutionSummary"] == "go"

            # The pending approval kept its token and still works.
            assert token_of(cp, "waiting") == waiting_token
            cp.put_approval_result(
                pipelineName="waiting",
                stageName="Approve",
                actionName="Gate",
                token=waiting_token,
                result={"summary": "ok", "status": "Approved"},
            )

            # The interrupted action can be retried, and this time it finishes.
            gate.touch()
            cp.retry_stage_execution(
                pipelineName="crashy",
                stageName="Build",
                pipelineExecutionId=first,
                retryMode="FAILED_ACTIONS",
            )
            wait_for(
                lambda: (
                    cp.get_pipeline_execution(pipelineName="crashy", pipelineExecutionId=first)[
                        "pipelineExecution"
                    ]["status"]
                    == "Succeeded"
                )
            )
            waiting_first = cp.list_pipeline_executions(pipelineName="waiting")[
                "pipelineExecutionSummaries"
            ][0]
            wait_for(
                lambda: (
                    cp.get_pipeline_execution(
                        pipelineName="waiting",
                        pipelineExecutionId=waiting_first["pipelineExecutionId"],
                    )["pipelineExecution"]["status"]
                    == "Succeeded"
                )
            )
            # Every workspace went with its action.
            wait_for(lambda: list(workspaces.iterdir()) == [])
            # Every event of the first life is still in the durable log, in order.
            events = server.events()
            states = [
                (e["detail"].get("stage"), e["detail"].get("action"), e["detail"]["state"])
                for e in events
                if e["detail"]["execution-id"] == first
            ]
            assert states[0] == (None, None, "STARTED")
            assert ("Build", "Long", "STARTED") in states
            assert ("Build", "Long", "FAILED") in states
            assert states[-1] == (None, None, "SUCCEEDED")
            assert server.terminate() == 0


def token_of(cp: object, name: str) -> str | None:
    actions = cp.get_pipeline_state(name=name)["stageStates"][1]["actionStates"]  # type: ignore[attr-defined]
    value = actions[0].get("latestExecution", {}).get("token")
    return str(value) if value else None
