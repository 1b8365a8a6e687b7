"""Lambda invoke actions: real local commands that read the job event and call back with boto3."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import (
    action_executions,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tests.local.sources import EndpointStarter, lambda_invoke

PRELUDE = """\
import json, os, sys, time
import boto3
event = json.load(sys.stdin)
job = event["CodePipeline.job"]
data = job["data"]
params = data["actionConfiguration"]["configuration"].get("UserParameters", "")
pipeline = boto3.client("codepipeline")
notes = os.environ.get("NOTES")
def note(text):
    with open(notes, "a") as f:
        f.write(text + "\\n")
"""


@pytest.fixture
def functions(tmp_path: Path) -> Iterator[FunctionHarness]:
    harness = FunctionHarness(tmp_path)
    yield harness
    harness.starter.stop_all()


class FunctionHarness:
    """Writes function scripts and the config file naming them, then starts an endpoint."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "functions"
        self.dir.mkdir()
        self.notes = tmp_path / "notes.txt"
        self.sections: list[str] = []
        self.starter = EndpointStarter(tmp_path / "data")

    def add(self, name: str, body: str, *, timeout: float | None = None) -> None:
        script = self.dir / f"{name}.py"
        script.write_text(PRELUDE + textwrap.dedent(body))
        lines = [
            f'[functions."{name}"]',
            f"command = [{json.dumps(sys.executable)}, {json.dumps(str(script))}]",
            f"environment = {{ NOTES = {json.dumps(str(self.notes))} }}",
        ]
        if timeout is not None:
            lines.append(f"timeout_seconds = {timeout}")
        self.sections.append("\n".join(lines))

    def start(self) -> Endpoint:
        return self.starter("\n\n".join(self.sections) + "\n")

    def read_notes(self) -> list[str]:
        return self.notes.read_text().splitlines() if self.notes.exists() else []


def run(endpoint: Endpoint, name: str, *stages: dict[str, Any]) -> tuple[str, str]:
    client = endpoint.client("codepipeline")
    client.create_pipeline(pipeline=pipeline(name, *stages))
    execution_id = latest_execution_id(client, name)
    return execution_id, wait_status(client, name, execution_id)


def invoke_run(
    endpoint: Endpoint, name: str, execution_id: str, action: str = "Call"
) -> dict[str, Any]:
    runs = action_executions(endpoint.client("codepipeline"), name, execution_id)
    return next(r for r in runs if r["actionName"] == action)


def log_lines(endpoint: Endpoint, name: str, action_execution_id: str) -> list[str]:
    """The function's output, read through the CloudWatch Logs API as a client would."""
    events = endpoint.client("logs").get_log_events(
        logGroupName=f"/aws/codepipeline/{name}",
        logStreamName=action_execution_id,
        startFromHead=True,
    )["events"]
    return [e["message"] for e in events]


def test_success_by_exit_status_with_the_event_on_stdin(functions: FunctionHarness) -> None:
    functions.add(
        "plain",
        """
        print("got job", job["id"], "for", params)
        print("account", job["accountId"], file=sys.stderr)
        note(json.dumps(event))
        """,
    )
    endpoint = functions.start()
    upload_source(endpoint)
    execution_id, status = run(
        endpoint,
        "plain",
        stage(
            "Invoke", lambda_invoke("Call", "plain", user_parameters="p=1", inputs=("SourceOut",))
        ),
    )
    assert status == "Succeeded"
    action = invoke_run(endpoint, "plain", execution_id)
    assert action["output"]["executionResult"]["externalExecutionSummary"] == (
        "Function plain exited with status 0."
    )
    (raw,) = functions.read_notes()
    event = json.loads(raw)
    job = event["CodePipeline.job"]
    assert job["accountId"] == "000000000000"
    data = job["data"]
    assert data["actionTypeId"] == {
        "category": "Invoke",
        "owner": "AWS",
        "provider": "Lambda",
        "version": "1",
    }
    assert data["actionConfiguration"] == {
        "configuration": {"FunctionName": "plain", "UserParameters": "p=1"}
    }
    assert data["pipelineContext"]["pipelineName"] == "plain"
    assert data["pipelineContext"]["stage"] == {"name": "Invoke"}
    assert data["pipelineContext"]["action"]["name"] == "Call"
    assert data["pipelineContext"]["pipelineExecutionId"] == execution_id
    (artifact,) = data["inputArtifacts"]
    assert artifact["name"] == "SourceOut"
    assert artifact["location"]["type"] == "S3"
    assert set(artifact["location"]["s3Location"]) == {"bucketName", "objectKey"}
    assert set(data["artifactCredentials"]) == {"accessKeyId", "secretAccessKey", "sessionToken"}
    assert "continuationToken" not in data
    lines = log_lines(endpoint, "plain", action["actionExecutionId"])
    assert f"got job {job['id']} for p=1" in lines
    assert "account 000000000000" in lines


def test_a_function_sees_only_its_documented_environment(
    functions: FunctionHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASERVERKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret-value")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "server-session-token")
    monkeypatch.setenv("SERVER_ONLY_SETTING", "server-only")
    functions.add("envdump", "note(json.dumps(dict(os.environ)))\n")
    endpoint = functions.start()
    upload_source(endpoint)
    execution_id, status = run(
        endpoint, "envdump", stage("Invoke", lambda_invoke("Call", "envdump"))
    )
    assert status == "Succeeded"
    (raw,) = functions.read_notes()
    env = json.loads(raw)
    for leaked in ("AKIASERVERKEY", "server-secret-value", "server-session-token", "server-only"):
        assert leaked not in raw
    assert "SERVER_ONLY_SETTING" not in env
    # The job's own dummy credentials and this endpoint, so boto3 calls back here.
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "pipetop"
    assert env["AWS_ENDPOINT_URL"] == endpoint.url
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == "/dev/null"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "envdump"
    assert env["HOME"].startswith(str(endpoint.data_dir / "workspaces"))
    # Only the documented names (the interpreter may add LC_CTYPE) and the function's own.
    documented = {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "LC_CTYPE",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_TIMEOUT",
        "NOTES",
    }
    assert set(env) <= documented, set(env) - documented
    assert invoke_run(endpoint, "envdump", execution_id)["status"] == "Succeeded"


def test_put_job_success_result_wins_and_sets_output_variables(functions: FunctionHarness) -> None:
    functions.add(
        "reporter",
        """
        pipeline.put_job_success_result(
            jobId=job["id"],
            outputVariables={"Greeting": "hello " + params},
            executionDetails={"summary": "all good", "externalExecutionId": "ext-42"},
        )
        note(job["id"])
        sys.exit(3)
        """,
    )
    endpoint = functions.start()
    upload_source(endpoint)
    call = lambda_invoke("Call", "reporter", user_parameters="world", namespace="Fn")
    check = commands("Check", ['test "#{Fn.Greeting}" = "hello world"'], run_order=2)
    execution_id, status = run(endpoint, "reporter", stage("Invoke", call, check))
    assert status == "Succeeded"
    action = invoke_run(endpoint, "reporter", execution_id)
    assert action["output"]["outputVariables"] == {"Greeting": "hello world"}
    assert action["output"]["executionResult"]["externalExecutionSummary"] == "all good"
    assert action["output"]["executionResult"]["externalExecutionId"] == "ext-42"

    # The job is over: answering it again is refused, as AWS does.
    (job_id,) = functions.read_notes()
    client = endpoint.client("codepipeline")
    with pytest.raises(ClientError) as caught:
        client.put_job_success_result(jobId=job_id)
    assert caught.value.response["Error"]["Code"] == "InvalidJobStateException"


def test_failure_by_put_job_failure_result(functions: FunctionHarness) -> None:
    functions.add(
        "refuser",
        """
        pipeline.put_job_failure_result(
            jobId=job["id"],
            failureDetails={"type": "ConfigurationError", "message": "bad parameters: " + params},
        )
        """,
    )
    endpoint = functions.start()
    upload_source(endpoint)
    execution_id, status = run(
        endpoint, "refuser", stage("Invoke", lambda_invoke("Call", "refuser", user_parameters="x"))
    )
    assert status == "Failed"
    result = invoke_run(endpoint, "refuser", execution_id)["output"]["executionResult"]
    assert result["externalExecutionSummary"] == "bad parameters: x"
    assert result["errorDetails"]["code"] == "ConfigurationError"


def test_failure_by_exit_status_reports_the_end_of_stderr(functions: FunctionHarness) -> None:
    functions.add(
        "crasher",
        """
        print("working", flush=True)
        for i in range(30):
            print("noise", i, file=sys.stderr)
        print("boom: it broke", file=sys.stderr)
        sys.exit(2)
        """,
    )
    endpoint = functions.start()
    upload_source(endpoint)
    execution_id, status = run(
        endpoint, "crasher", stage("Invoke", lambda_invoke("Call", "crasher"))
    )
    assert status == "Failed"
    action = invoke_run(endpoint, "crasher", execution_id)
    summary = action["output"]["executionResult"]["externalExecutionSummary"]
    assert summary.startswith("Function crasher failed (exit status 2): ")
    assert summary.endswith("boom: it broke")
    assert "noise 29" in summary
    assert "noise 5" not in summary
    assert "working" in log_lines(endpoint, "crasher", action["actionExecutionId"])


def test_a_continuation_token_invokes_the_function_again(functions: FunctionHarness) -> None:
    functions.add(
        "stepper",
        """
        token = data.get("continuationToken")
        note(f"{job['id']} {token}")
        if token is None:
            pipeline.put_job_success_result(jobId=job["id"], continuationToken="step-2")
        else:
            pipeline.put_job_success_result(
                jobId=job["id"], outputVariables={"Token": token}, executionDetails={"summary": "done"}
            )
        """,
    )
    endpoint = functions.start()
    upload_source(endpoint)
    call = lambda_invoke("Call", "stepper", namespace="Steps")
    execution_id, status = run(endpoint, "stepper", stage("Invoke", call))
    assert status == "Succeeded"
    first, second = (line.split() for line in functions.read_notes())
    assert first[1] == "None"
    assert second[1] == "step-2"
    assert first[0] != second[0]
    action = invoke_run(endpoint, "stepper", execution_id)
    assert action["output"]["outputVariables"] == {"Token": "step-2"}
    assert action["output"]["executionResult"]["externalExecutionSummary"] == "done"


def test_functions_upload_outputs_and_read_inputs_through_s3(functions: FunctionHarness) -> None:
    functions.add(
        "transformer",
        """
        s3 = boto3.client("s3")
        source = data["inputArtifacts"][0]["location"]["s3Location"]
        body = s3.get_object(Bucket=source["bucketName"], Key=source["objectKey"])["Body"].read()
        import io, zipfile
        text = zipfile.ZipFile(io.BytesIO(body)).read("README.md").decode()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("shout.txt", text.upper())
        target = data["outputArtifacts"][0]["location"]["s3Location"]
        s3.put_object(Bucket=target["bucketName"], Key=target["objectKey"], Body=out.getvalue())
        pipeline.put_job_success_result(jobId=job["id"])
        """,
    )
    functions.add("lazy", "pass\n")
    endpoint = functions.start()
    upload_source(endpoint, {"README.md": "quiet words\n"})
    call = lambda_invoke("Call", "transformer", inputs=("SourceOut",), outputs=("Shouted",))
    check = commands(
        "Check", ['test "$(cat shout.txt)" = "QUIET WORDS"'], inputs=("Shouted",), run_order=2
    )
    execution_id, status = run(endpoint, "transformer", stage("Invoke", call, check))
    assert status == "Succeeded"

    # A function that succeeds without uploading its declared output fails the action.
    lazy = lambda_invoke("Call", "lazy", outputs=("Nothing",))
    execution_id, status = run(endpoint, "lazy", stage("Invoke", lazy))
    assert status == "Failed"
    summary = invoke_run(endpoint, "lazy", execution_id)["output"]["executionResult"][
        "externalExecutionSummary"
    ]
    assert "Nothing was not uploaded" in summary


def test_an_unknown_function_fails_naming_the_config_section(functions: FunctionHarness) -> None:
    endpoint = functions.start()
    upload_source(endpoint)
    execution_id, status = run(endpoint, "unknown", stage("Invoke", lambda_invoke("Call", "nope")))
    assert status == "Failed"
    result = invoke_run(endpoint, "unknown", execution_id)["output"]["executionResult"]
    assert '[functions."nope"]' in result["externalExecutionSummary"]
    assert str(endpoint.data_dir / "config.toml") in result["externalExecutionSummary"]
    assert result["errorDetails"]["code"] == "ConfigurationError"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_a_function_that_runs_too_long_is_killed_with_its_children(
    functions: FunctionHarness,
) -> None:
    functions.add(
        "sleepy",
        """
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        note(f"{os.getpid()} {child.pid}")
        time.sleep(600)
        """,
        timeout=30,
    )
    endpoint = functions.start()
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline("sleepy", stage("Invoke", lambda_invoke("Call", "sleepy")))
    )
    execution_id = latest_execution_id(client, "sleepy")
    wait_for(lambda: len(functions.read_notes()) == 1)
    pid, child = (int(p) for p in functions.read_notes()[0].split())
    assert _alive(pid)
    assert _alive(child)
    endpoint.advance(29)
    assert wait_status(client, "sleepy", execution_id, "InProgress") == "InProgress"
    endpoint.advance(2)
    assert wait_status(client, "sleepy", execution_id) == "Failed"
    summary = invoke_run(endpoint, "sleepy", execution_id)["output"]["executionResult"][
        "externalExecutionSummary"
    ]
    assert summary == "The function sleepy timed out after 30 seconds."
    wait_for(lambda: not _alive(pid) and not _alive(child), timeout=10)


def test_stop_and_abandon_kills_the_function(functions: FunctionHarness) -> None:
    functions.add("forever", "note(str(os.getpid()))\ntime.sleep(600)\n")
    endpoint = functions.start()
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline("forever", stage("Invoke", lambda_invoke("Call", "forever")))
    )
    execution_id = latest_execution_id(client, "forever")
    wait_for(lambda: len(functions.read_notes()) == 1)
    pid = int(functions.read_notes()[0])
    client.stop_pipeline_execution(
        pipelineName="forever", pipelineExecutionId=execution_id, abandon=True
    )
    assert wait_status(client, "forever", execution_id) == "Stopped"
    wait_for(lambda: not _alive(pid), timeout=10)
    assert invoke_run(endpoint, "forever", execution_id)["status"] == "Abandoned"


def test_a_call_shortly_after_exit_still_decides(functions: FunctionHarness) -> None:
    functions.add(
        "afterwards",
        """
        if os.fork() == 0:
            time.sleep(0.5)
            # Noted before the call: once the call lands the test may read the notes at once.
            note("calling")
            pipeline.put_job_success_result(jobId=job["id"], outputVariables={"Late": "yes"})
            os._exit(0)
        sys.exit(1)
        """,
    )
    endpoint = functions.start()
    provider = endpoint.backend.engine.runner.providers.find(
        {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"}
    )
    # A generous grace: the machine running the tests may be slow.
    provider.callback_grace = 10.0
    upload_source(endpoint)
    execution_id, status = run(
        endpoint, "afterwards", stage("Invoke", lambda_invoke("Call", "afterwards"))
    )
    assert status == "Succeeded"
    assert functions.read_notes() == ["calling"]
    assert invoke_run(endpoint, "afterwards", execution_id)["output"]["outputVariables"] == {
        "Late": "yes"
    }
