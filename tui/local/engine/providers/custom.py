"""Custom actions: the work is done by an external job worker through the job-worker API.

The provider queues a pollable job carrying the action's resolved configuration, its input
artifacts' S3 locations and pre-assigned output locations (the worker uploads its output
zips there), then waits for the worker's PutJobSuccessResult or PutJobFailureResult. A
success with a continuationToken queues the next job with that token, as AWS does.

Decision [I]: a custom action waits at most 1 hour for its worker (AWS's default job
timeout for custom actions); then the action fails as timed out. The artifact credentials
in the job are the endpoint's dummy credentials: any credentials work against it.
"""

from __future__ import annotations

from typing import Any

from tui.local.engine.artifacts import artifact_key
from tui.local.engine.jobs import JobContext, JobRegistry
from tui.local.engine.providers.job import ActionJob, ActionOutcome, ArtifactLocation
from tui.model.declaration import ActionDeclaration

CUSTOM_TIMEOUT_SECONDS = 3600.0
DUMMY_CREDENTIALS = {
    "accessKeyId": "pipetop",
    "secretAccessKey": "pipetop",
    "sessionToken": "pipetop",
}


def artifact_api(name: str, bucket: str, key: str, revision: str | None = None) -> dict[str, Any]:
    artifact: dict[str, Any] = {
        "name": name,
        "location": {"type": "S3", "s3Location": {"bucketName": bucket, "objectKey": key}},
    }
    if revision:
        artifact["revision"] = revision
    return artifact


def job_data(
    job: ActionJob, outputs: dict[str, ArtifactLocation], continuation: str | None
) -> dict[str, Any]:
    """The JobData a worker or a Lambda function receives for this action."""
    type_id = job.declaration.action_type_id
    data: dict[str, Any] = {
        "actionTypeId": {
            "category": type_id.category,
            "owner": type_id.owner,
            "provider": type_id.provider,
            "version": type_id.version,
        },
        "actionConfiguration": {"configuration": dict(job.configuration)},
        "pipelineContext": {
            "pipelineName": job.pipeline_name,
            "stage": {"name": job.stage_name},
            "action": {"name": job.action_name, "actionExecutionId": job.action_execution_id},
            "pipelineArn": job.pipeline_arn,
            "pipelineExecutionId": job.execution_id,
        },
        "inputArtifacts": [artifact_api(a.name, a.bucket, a.key) for a in job.input_artifacts],
        "outputArtifacts": [
            artifact_api(name, loc.bucket, loc.key) for name, loc in outputs.items()
        ],
        "artifactCredentials": dict(DUMMY_CREDENTIALS),
    }
    if continuation:
        data["continuationToken"] = continuation
    return data


def job_context(job: ActionJob) -> JobContext:
    type_id = job.declaration.action_type_id
    return JobContext(
        pipeline_name=job.pipeline_name,
        stage_name=job.stage_name,
        action_name=job.action_name,
        action_execution_id=job.action_execution_id,
        execution_id=job.execution_id,
        action_type_id={
            "category": type_id.category,
            "owner": type_id.owner,
            "provider": type_id.provider,
            "version": type_id.version,
        },
        pipeline_arn=job.pipeline_arn,
    )


def output_locations(job: ActionJob) -> dict[str, ArtifactLocation]:
    return {
        artifact.name: ArtifactLocation(
            artifact.name, job.artifact_bucket, artifact_key(job.pipeline_name, artifact.name)
        )
        for artifact in job.declaration.output_artifacts
    }


class CustomActionProvider:
    def __init__(self, jobs: JobRegistry) -> None:
        self.jobs = jobs

    def default_timeout_seconds(self, declaration: ActionDeclaration) -> float | None:
        return CUSTOM_TIMEOUT_SECONDS

    async def run(self, job: ActionJob) -> ActionOutcome:
        outputs = output_locations(job)
        continuation: str | None = None
        variables: dict[str, str] = {}
        while True:
            created = self.jobs.create(
                job_context(job), job_data(job, outputs, continuation), pollable=True
            )
            job.log(f"Waiting for a job worker to poll job {created.id}")
            try:
                outcome = await self.jobs.wait(created.id)
            finally:
                self.jobs.discard(created.id)
            if not outcome.succeeded:
                job.log(f"The job worker failed job {created.id}: {outcome.message}")
                return ActionOutcome(
                    status="Failed",
                    summary=outcome.message or "The job worker reported a failure.",
                    error_code=outcome.failure_type or "JobFailed",
                    external_execution_id=outcome.external_execution_id,
                )
            variables.update(outcome.output_variables)
            if outcome.continuation_token:
                job.log(f"Job {created.id} continues with token {outcome.continuation_token}")
                continuation = outcome.continuation_token
                continue
            job.log(f"The job worker completed job {created.id}")
            return ActionOutcome(
                status="Succeeded",
                summary=outcome.summary,
                external_execution_id=outcome.external_execution_id,
                output_variables=variables,
                uploaded_artifacts=outputs,
            )
