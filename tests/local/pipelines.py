"""Builders of pipeline declarations and helpers to drive them through real boto3 clients."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from tests.endpoint import Endpoint, wait_for

ROLE = "arn:aws:iam::000000000000:role/pipetop-local"
ARTIFACT_BUCKET = "codepipeline-us-east-1-local"
SOURCE_BUCKET = "source-bucket"
SOURCE_KEY = "app.zip"
TERMINAL = ("Succeeded", "Failed", "Stopped", "Superseded", "Cancelled")


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def upload_source(
    endpoint: Endpoint,
    files: dict[str, str] | None = None,
    *,
    bucket: str = SOURCE_BUCKET,
    key: str = SOURCE_KEY,
    summary: str | None = None,
) -> str:
    """Put a source zip in a versioned bucket; returns its version id."""
    s3 = endpoint.client("s3")
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    metadata = {"codepipeline-artifact-revision-summary": summary} if summary else {}
    put = s3.put_object(
        Bucket=bucket, Key=key, Body=zip_bytes(files or {"README.md": "hello\n"}), Metadata=metadata
    )
    return str(put["VersionId"])


def source_stage(
    *,
    bucket: str = SOURCE_BUCKET,
    key: str = SOURCE_KEY,
    output: str = "SourceOut",
    namespace: str = "Source",
) -> dict[str, Any]:
    return {
        "name": "Source",
        "actions": [
            {
                "name": "Fetch",
                "actionTypeId": {
                    "category": "Source",
                    "owner": "AWS",
                    "provider": "S3",
                    "version": "1",
                },
                "configuration": {
                    "S3Bucket": bucket,
                    "S3ObjectKey": key,
                    "PollForSourceChanges": "false",
                },
                "outputArtifacts": [{"name": output}],
                "namespace": namespace,
            }
        ],
    }


def commands(
    name: str,
    lines: list[str],
    *,
    inputs: tuple[str, ...] = ("SourceOut",),
    output: str | None = None,
    files: list[str] | None = None,
    run_order: int = 1,
    output_variables: list[str] | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {
            "category": "Compute",
            "owner": "AWS",
            "provider": "Commands",
            "version": "1",
        },
        "runOrder": run_order,
        "commands": lines,
        "inputArtifacts": [{"name": i} for i in inputs],
    }
    if output:
        action["outputArtifacts"] = [{"name": output, "files": files or ["**/*"]}]
    if output_variables:
        action["outputVariables"] = output_variables
    if namespace:
        action["namespace"] = namespace
    return action


def approval(
    name: str, *, run_order: int = 1, timeout_minutes: int | None = None, **configuration: str
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {
            "category": "Approval",
            "owner": "AWS",
            "provider": "Manual",
            "version": "1",
        },
        "runOrder": run_order,
    }
    if configuration:
        action["configuration"] = configuration
    if timeout_minutes is not None:
        action["timeoutInMinutes"] = timeout_minutes
    return action


def stage(name: str, *actions: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "actions": list(actions)}


def pipeline(
    name: str,
    *stages: dict[str, Any],
    mode: str | None = None,
    pipeline_type: str = "V2",
    variables: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    declaration: dict[str, Any] = {
        "name": name,
        "roleArn": ROLE,
        "artifactStore": {"type": "S3", "location": ARTIFACT_BUCKET},
        "stages": [source_stage(), *stages],
        "pipelineType": pipeline_type,
    }
    if mode:
        declaration["executionMode"] = mode
    if variables:
        declaration["variables"] = variables
    return declaration


def latest_execution_id(client: Any, name: str) -> str:
    return str(
        client.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"][0][
            "pipelineExecutionId"
        ]
    )


def execution_status(client: Any, name: str, execution_id: str) -> str:
    return str(
        client.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)[
            "pipelineExecution"
        ]["status"]
    )


def wait_status(
    client: Any, name: str, execution_id: str, *statuses: str, timeout: float = 30
) -> str:
    wanted = statuses or TERMINAL
    return wait_for(
        lambda: s if (s := execution_status(client, name, execution_id)) in wanted else None,
        timeout=timeout,
    )


def stage_state(client: Any, name: str, stage_name: str) -> dict[str, Any]:
    for stage_state in client.get_pipeline_state(name=name)["stageStates"]:
        if stage_state["stageName"] == stage_name:
            return dict(stage_state)
    raise AssertionError(f"no stage {stage_name}")


def action_state(client: Any, name: str, stage_name: str, action: str) -> dict[str, Any]:
    for state in stage_state(client, name, stage_name)["actionStates"]:
        if state["actionName"] == action:
            return dict(state)
    raise AssertionError(f"no action {action}")


def wait_approval_token(
    client: Any, name: str, stage_name: str, action: str, execution_id: str | None = None
) -> str:
    """The pending approval's token, once the approval is waiting (for `execution_id` if given)."""

    def token() -> str | None:
        stage_info = stage_state(client, name, stage_name)
        latest = stage_info.get("latestExecution", {})
        if execution_id and latest.get("pipelineExecutionId") != execution_id:
            return None
        for state in stage_info["actionStates"]:
            if state["actionName"] == action:
                value = state.get("latestExecution", {}).get("token")
                return str(value) if value else None
        return None

    return wait_for(token)


def action_executions(client: Any, name: str, execution_id: str) -> list[dict[str, Any]]:
    paginator = client.get_paginator("list_action_executions")
    details: list[dict[str, Any]] = []
    for page in paginator.paginate(pipelineName=name, filter={"pipelineExecutionId": execution_id}):
        details.extend(page["actionExecutionDetails"])
    return details
