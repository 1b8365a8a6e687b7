"""Custom action types and a job worker written against the AWS job-worker API."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import (
    action_executions,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)

CUSTOM = {"category": "Build", "owner": "Custom", "provider": "LocalJenkins", "version": "1"}


def create_type(cp: Any) -> None:
    cp.create_custom_action_type(
        category="Build",
        provider="LocalJenkins",
        version="1",
        settings={"entityUrlTemplate": "https://jenkins.example/job/{Config:Job}"},
        configurationProperties=[
            {
                "name": "Job",
                "required": True,
                "key": True,
                "secret": False,
                "queryable": True,
                "type": "String",
            }
        ],
        inputArtifactDetails={"minimumCount": 1, "maximumCount": 1},
        outputArtifactDetails={"minimumCount": 0, "maximumCount": 1},
    )


def custom_pipeline(name: str, job: str = "web") -> dict[str, Any]:
    action = {
        "name": "Jenkins",
        "actionTypeId": CUSTOM,
        "configuration": {"Job": job},
        "inputArtifacts": [{"name": "SourceOut"}],
        "outputArtifacts": [{"name": "Built"}],
        "namespace": "Jenkins",
    }
    return pipeline(name, stage("Build", action))


def poll_one(cp: Any, query: dict[str, str] | None = None) -> dict[str, Any]:
    def poll() -> dict[str, Any] | None:
        jobs = cp.poll_for_jobs(actionTypeId=CUSTOM, maxBatchSize=1, queryParam=query or {})["jobs"]
        return jobs[0] if jobs else None

    return wait_for(poll)


def test_action_types_are_created_listed_and_deleted(endpoint: Endpoint) -> None:
    cp = endpoint.client("codepipeline")
    create_type(cp)
    custom = cp.list_action_types(actionOwnerFilter="Custom")["actionTypes"]
    assert [t["id"] for t in custom] == [CUSTOM]
    assert custom[0]["actionConfigurationProperties"][0]["queryable"] is True
    with pytest.raises(cp.exceptions.ActionTypeAlreadyExistsException):
        create_type(cp)
    cp.delete_custom_action_type(category="Build", provider="LocalJenkins", version="1")
    assert cp.list_action_types(actionOwnerFilter="Custom")["actionTypes"] == []
    with pytest.raises(cp.exceptions.InvalidActionDeclarationException):
        cp.create_pipeline(pipeline=custom_pipeline("no-type"))
    with pytest.raises(cp.exceptions.ActionTypeNotFoundException):
        cp.poll_for_jobs(actionTypeId=CUSTOM)


def test_a_job_worker_runs_the_action_with_continuation(endpoint: Endpoint) -> None:
    upload_source(endpoint, {"app.txt": "hello"})
    cp = endpoint.client("codepipeline")
    s3 = endpoint.client("s3")
    create_type(cp)
    cp.create_pipeline(pipeline=custom_pipeline("jenkins"))
    execution_id = latest_execution_id(cp, "jenkins")

    first = poll_one(cp, {"Job": "web"})
    assert cp.poll_for_jobs(actionTypeId=CUSTOM, maxBatchSize=5)["jobs"] == []  # dispatched once
    data = first["data"]
    assert data["actionConfiguration"]["configuration"] == {"Job": "web"}
    assert data["pipelineContext"]["pipelineName"] == "jenkins"
    assert data["pipelineContext"]["pipelineExecutionId"] == execution_id
    source = data["inputArtifacts"][0]["location"]["s3Location"]
    body = s3.get_object(Bucket=source["bucketName"], Key=source["objectKey"])["Body"].read()
    assert zipfile.ZipFile(io.BytesIO(body)).read("app.txt") == b"hello"
    with pytest.raises(cp.exceptions.InvalidNonceException):
        cp.acknowledge_job(jobId=first["id"], nonce="wrong")
    assert cp.acknowledge_job(jobId=first["id"], nonce=first["nonce"])["status"] == "InProgress"
    assert cp.get_job_details(jobId=first["id"])["jobDetails"]["data"] == data
    cp.put_job_success_result(
        jobId=first["id"], continuationToken="step-2", outputVariables={"STEP": "1"}
    )
    with pytest.raises(cp.exceptions.InvalidJobStateException):
        cp.put_job_success_result(jobId=first["id"])

    second = poll_one(cp)
    assert second["data"]["continuationToken"] == "step-2"
    out = second["data"]["outputArtifacts"][0]["location"]["s3Location"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("result.txt", "built by the worker")
    s3.put_object(Bucket=out["bucketName"], Key=out["objectKey"], Body=buffer.getvalue())
    cp.put_job_success_result(
        jobId=second["id"],
        executionDetails={
            "summary": "Jenkins build #7",
            "externalExecutionId": "7",
            "percentComplete": 100,
        },
        outputVariables={"BUILD": "7"},
    )
    assert wait_status(cp, "jenkins", execution_id) == "Succeeded"
    run = next(
        d for d in action_executions(cp, "jenkins", execution_id) if d["actionName"] == "Jenkins"
    )
    assert run["output"]["outputVariables"] == {"STEP": "1", "BUILD": "7"}
    assert run["output"]["executionResult"]["externalExecutionSummary"] == "Jenkins build #7"
    assert run["output"]["outputArtifacts"][0]["s3location"] == {
        "bucket": out["bucketName"],
        "key": out["objectKey"],
    }


def test_a_job_failure_fails_the_action(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    create_type(cp)
    cp.create_pipeline(pipeline=custom_pipeline("failing-worker"))
    execution_id = latest_execution_id(cp, "failing-worker")
    job = poll_one(cp)
    cp.put_job_failure_result(
        jobId=job["id"], failureDetails={"type": "JobFailed", "message": "Tests failed"}
    )
    assert wait_status(cp, "failing-worker", execution_id) == "Failed"
    run = next(
        d
        for d in action_executions(cp, "failing-worker", execution_id)
        if d["actionName"] == "Jenkins"
    )
    assert run["output"]["executionResult"]["errorDetails"] == {
        "code": "JobFailed",
        "message": "Tests failed",
    }
    with pytest.raises(cp.exceptions.JobNotFoundException):
        cp.get_job_details(jobId="33333333-3333-4333-8333-333333333333")


def test_a_worker_that_never_uploads_fails_the_action(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    create_type(cp)
    cp.create_pipeline(pipeline=custom_pipeline("lazy-worker"))
    execution_id = latest_execution_id(cp, "lazy-worker")
    job = poll_one(cp)
    cp.put_job_success_result(jobId=job["id"])
    assert wait_status(cp, "lazy-worker", execution_id) == "Failed"
    run = next(
        d
        for d in action_executions(cp, "lazy-worker", execution_id)
        if d["actionName"] == "Jenkins"
    )
    assert "was not uploaded" in run["output"]["executionResult"]["errorDetails"]["message"]
