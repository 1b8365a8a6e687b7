"""Jobs: how job workers and Lambda functions take part in an action, as on AWS.

An action run through a job (a Custom action, a Lambda invoke) creates one here. A job
worker finds pollable jobs with PollForJobs, claims one with AcknowledgeJob (its nonce), reads
it with GetJobDetails and ends it with PutJobSuccessResult or PutJobFailureResult; the
provider that created the job awaits that answer with `wait`. A success carrying a
continuationToken ends this job only: the provider creates the next one with the token.

Decisions [I]:
- Jobs live in memory. An action waiting on a job when the endpoint stops is ended as
  interrupted at the next start (like every running action), so its job has nothing left to do.
- Every job has its own nonce, issued at creation and returned by PollForJobs and
  AcknowledgeJob; acknowledging twice with the right nonce is harmless.
- A job whose action ended another way (the Lambda command exited, a timeout, a stop) is
  discarded: later results for it get InvalidJobStateException.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from tui.model.errors import (
    InvalidJobStateException,
    InvalidNonceException,
    JobNotFoundException,
    OutputVariablesSizeExceededException,
)

MAX_OUTPUT_VARIABLES_BYTES = 122_880
FINISHED = ("Succeeded", "Failed", "TimedOut")


@dataclass(frozen=True)
class JobContext:
    pipeline_name: str
    stage_name: str
    action_name: str
    action_execution_id: str
    execution_id: str
    action_type_id: dict[str, str]
    pipeline_arn: str


@dataclass(frozen=True)
class JobOutcome:
    succeeded: bool
    summary: str | None = None
    external_execution_id: str | None = None
    percent_complete: int | None = None
    output_variables: dict[str, str] = field(default_factory=dict)
    continuation_token: str | None = None
    failure_type: str | None = None
    message: str | None = None
    current_revision: dict[str, Any] | None = None


@dataclass
class Job:
    id: str
    nonce: str
    account: str
    data: dict[str, Any]
    context: JobContext
    pollable: bool
    status: str = "Queued"
    outcome: asyncio.Future[JobOutcome] | None = None

    def api(self) -> dict[str, Any]:
        return {"id": self.id, "data": self.data, "nonce": self.nonce, "accountId": self.account}


class JobRegistry:
    def __init__(self, account: str) -> None:
        self.account = account
        self._jobs: dict[str, Job] = {}

    def create(self, context: JobContext, data: dict[str, Any], *, pollable: bool) -> Job:
        job = Job(
            id=str(uuid.uuid4()),
            nonce=str(uuid.uuid4()),
            account=self.account,
            data=data,
            context=context,
            pollable=pollable,
            status="Queued" if pollable else "Dispatched",
            outcome=asyncio.get_running_loop().create_future(),
        )
        self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFoundException(f"Job with id '{job_id}' was not found")
        return job

    async def wait(self, job_id: str) -> JobOutcome:
        job = self.get(job_id)
        assert job.outcome is not None
        return await asyncio.shield(job.outcome)

    def discard(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if job.status not in FINISHED:
            job.status = "Failed"
        if job.outcome is not None and not job.outcome.done():
            job.outcome.cancel()

    def event(self, job: Job) -> dict[str, Any]:
        """The event a Lambda function receives for this job."""
        return {"CodePipeline.job": {"id": job.id, "accountId": job.account, "data": job.data}}

    # The job-worker API -------------------------------------------------------------------
    def poll(self, type_id: dict[str, str], max_batch: int, query: dict[str, str]) -> list[Job]:
        found: list[Job] = []
        for job in self._jobs.values():
            if len(found) >= max_batch:
                break
            if not job.pollable or job.status != "Queued" or job.context.action_type_id != type_id:
                continue
            configuration = job.data.get("actionConfiguration", {}).get("configuration", {})
            if any(configuration.get(key) != value for key, value in query.items()):
                continue
            job.status = "Dispatched"
            found.append(job)
        return found

    def acknowledge(self, job_id: str, nonce: str) -> str:
        job = self.get(job_id)
        if nonce != job.nonce:
            raise InvalidNonceException(f"The nonce '{nonce}' does not match job '{job_id}'")
        if job.status in ("Queued", "Dispatched"):
            job.status = "InProgress"
        return job.status

    def succeed(self, job_id: str, request: dict[str, Any]) -> None:
        job = self._open(job_id)
        variables = dict(request.get("outputVariables") or {})
        size = len(json.dumps(variables).encode())
        if size > MAX_OUTPUT_VARIABLES_BYTES:
            raise OutputVariablesSizeExceededException(
                f"The output variables of job '{job_id}' take {size} bytes; the limit is {MAX_OUTPUT_VARIABLES_BYTES}"
            )
        details = request.get("executionDetails") or {}
        self._finish(
            job,
            "Succeeded",
            JobOutcome(
                succeeded=True,
                summary=details.get("summary"),
                external_execution_id=details.get("externalExecutionId"),
                percent_complete=details.get("percentComplete"),
                output_variables=variables,
                continuation_token=request.get("continuationToken"),
                current_revision=request.get("currentRevision"),
            ),
        )

    def fail(self, job_id: str, details: dict[str, Any]) -> None:
        job = self._open(job_id)
        self._finish(
            job,
            "Failed",
            JobOutcome(
                succeeded=False,
                summary=details.get("message"),
                message=details.get("message"),
                failure_type=details.get("type"),
                external_execution_id=details.get("externalExecutionId"),
            ),
        )

    def _open(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.status in FINISHED or job.outcome is None or job.outcome.done():
            raise InvalidJobStateException(
                f"Job '{job_id}' is {job.status} and takes no more results"
            )
        return job

    def _finish(self, job: Job, status: str, outcome: JobOutcome) -> None:
        job.status = status
        assert job.outcome is not None
        job.outcome.set_result(outcome)
