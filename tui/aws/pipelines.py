"""CodePipeline reads (with paging) and control calls, returning botocore's dicts.

    pipelines = PipelineClient(aws, read_only=args.read_only)
    names = [p["name"] for p in await pipelines.list_pipelines()]
    state = await pipelines.get_pipeline_state(names[0])

Decisions recorded here:

- Paging is this module's own loop over `nextToken` rather than botocore's paginators: the
  rules are the same (send the token back until none comes), and `max_items` stops early
  without fetching pages nobody will show. [I] A service that sends the same token twice
  would loop forever; the loop stops there with what it has, as botocore's paginator would
  refuse to go on.
- `read_only=True` makes every mutating call raise `ReadOnlyRefused` before the client is
  even asked for, so nothing is sent (`--read-only`). Reads are unaffected.
- With a `budget` (`budget.py`), the connection's CodePipeline client is attached to it on
  first use: every request, botocore's retries included, waits for its token there.
- `start_pipeline_execution` always sends a `clientRequestToken`: the caller's, or a new
  uuid4. A caller that retries a start after a lost answer passes the same token and gets
  the same execution back instead of a second run.
- Results are the response dicts as botocore parsed them (timestamps are datetimes); the
  view model parses them. Calls that answer one thing return that thing: the execution id of
  a start/stop/retry/rollback, the `approvedAt` of an approval.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from tui.aws.budget import RateBudget
from tui.aws.errors import ReadOnlyRefused
from tui.aws.session import AwsContext

Response = dict[str, Any]
ApprovalStatus = Literal["Approved", "Rejected"]
TransitionType = Literal["Inbound", "Outbound"]
RetryMode = Literal["FAILED_ACTIONS", "ALL_ACTIONS"]
StartTimeRange = Literal["Latest", "All"]

PAGE_SIZE = 100  # the maximum maxResults of the execution lists


class PipelineClient:
    """CodePipeline for the app: reads always; control calls unless `read_only`."""

    def __init__(
        self, aws: AwsContext, *, read_only: bool = False, budget: RateBudget | None = None
    ) -> None:
        self.aws = aws
        self.read_only = read_only
        self.budget = budget
        """Every request of the connection's CodePipeline client goes through it (once
        attached, whoever holds the client: see `budget.py`)."""

    async def _client(self) -> Any:
        client = await self.aws.client("codepipeline")
        if self.budget is not None:
            self.budget.attach(client)
        return client

    async def _mutating(self, operation: str) -> Any:
        if self.read_only:
            raise ReadOnlyRefused(operation)
        return await self._client()

    async def _collect(
        self,
        method: str,
        key: str,
        request: Mapping[str, Any],
        *,
        max_items: int | None = None,
        page_size: int | None = None,
    ) -> list[Response]:
        client = await self._client()
        call = getattr(client, method)
        items: list[Response] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            kwargs = dict(request)
            if token is not None:
                kwargs["nextToken"] = token
            size = page_size
            if max_items is not None:
                size = min(size or PAGE_SIZE, max_items - len(items))
            if size is not None:
                kwargs["maxResults"] = size
            page = await call(**kwargs)
            items.extend(page.get(key) or [])
            token = page.get("nextToken")
            if not token or token in seen:
                break
            if max_items is not None and len(items) >= max_items:
                break
            seen.add(token)
        return items if max_items is None else items[:max_items]

    # Reads --------------------------------------------------------------------------------

    async def list_pipelines(self, *, page_size: int | None = None) -> list[Response]:
        """Every pipeline summary (name, version, pipelineType, executionMode, created, updated)."""
        return await self._collect("list_pipelines", "pipelines", {}, page_size=page_size)

    async def get_pipeline(self, name: str, version: int | None = None) -> Response:
        """The GetPipeline answer: `pipeline` (the declaration) and `metadata`."""
        client = await self._client()
        request: dict[str, Any] = {"name": name}
        if version is not None:
            request["version"] = version
        response: Response = await client.get_pipeline(**request)
        return response

    async def get_pipeline_state(self, name: str) -> Response:
        client = await self._client()
        response: Response = await client.get_pipeline_state(name=name)
        return response

    async def list_pipeline_executions(
        self,
        name: str,
        *,
        max_items: int | None = 100,
        succeeded_in_stage: str | None = None,
        page_size: int | None = None,
    ) -> list[Response]:
        """Execution summaries, newest first, at most `max_items` (None: all of them)."""
        request: dict[str, Any] = {"pipelineName": name}
        if succeeded_in_stage is not None:
            request["filter"] = {"succeededInStage": {"stageName": succeeded_in_stage}}
        return await self._collect(
            "list_pipeline_executions",
            "pipelineExecutionSummaries",
            request,
            max_items=max_items,
            page_size=page_size,
        )

    async def get_pipeline_execution(self, name: str, execution_id: str) -> Response:
        """The `pipelineExecution` of GetPipelineExecution."""
        client = await self._client()
        response = await client.get_pipeline_execution(
            pipelineName=name, pipelineExecutionId=execution_id
        )
        execution: Response = response["pipelineExecution"]
        return execution

    async def list_action_executions(
        self,
        name: str,
        *,
        execution_id: str | None = None,
        latest_in_execution: str | None = None,
        start_time_range: StartTimeRange = "Latest",
        max_items: int | None = None,
        page_size: int | None = None,
    ) -> list[Response]:
        """Action execution details: all runs of `execution_id` (retries included), or the
        latest attempt of each action of `latest_in_execution`, or (neither) across
        executions; at most `max_items` (None: all)."""
        if execution_id is not None and latest_in_execution is not None:
            raise ValueError("pass execution_id or latest_in_execution, not both")
        request: dict[str, Any] = {"pipelineName": name}
        if execution_id is not None:
            request["filter"] = {"pipelineExecutionId": execution_id}
        elif latest_in_execution is not None:
            request["filter"] = {
                "latestInPipelineExecution": {
                    "pipelineExecutionId": latest_in_execution,
                    "startTimeRange": start_time_range,
                }
            }
        return await self._collect(
            "list_action_executions",
            "actionExecutionDetails",
            request,
            max_items=max_items,
            page_size=page_size,
        )

    # Control ------------------------------------------------------------------------------

    async def start_pipeline_execution(
        self,
        name: str,
        *,
        client_request_token: str | None = None,
        variables: Mapping[str, str] | None = None,
        source_revisions: Sequence[Mapping[str, str]] | None = None,
    ) -> str:
        """Start an execution; returns its id. The same token returns the same execution."""
        client = await self._mutating("StartPipelineExecution")
        request: dict[str, Any] = {
            "name": name,
            "clientRequestToken": client_request_token or str(uuid.uuid4()),
        }
        if variables:
            request["variables"] = [{"name": k, "value": v} for k, v in variables.items()]
        if source_revisions:
            request["sourceRevisions"] = [dict(revision) for revision in source_revisions]
        response = await client.start_pipeline_execution(**request)
        return str(response["pipelineExecutionId"])

    async def stop_pipeline_execution(
        self, name: str, execution_id: str, *, abandon: bool = False, reason: str | None = None
    ) -> str:
        client = await self._mutating("StopPipelineExecution")
        request: dict[str, Any] = {
            "pipelineName": name,
            "pipelineExecutionId": execution_id,
            "abandon": abandon,
        }
        if reason:
            request["reason"] = reason
        response = await client.stop_pipeline_execution(**request)
        return str(response["pipelineExecutionId"])

    async def retry_stage_execution(
        self, name: str, stage: str, execution_id: str, *, mode: RetryMode = "FAILED_ACTIONS"
    ) -> str:
        client = await self._mutating("RetryStageExecution")
        response = await client.retry_stage_execution(
            pipelineName=name, stageName=stage, pipelineExecutionId=execution_id, retryMode=mode
        )
        return str(response["pipelineExecutionId"])

    async def rollback_stage(self, name: str, stage: str, target_execution_id: str) -> str:
        """Roll `stage` back to what `target_execution_id` ran there; returns the id of the new
        (ROLLBACK) execution."""
        client = await self._mutating("RollbackStage")
        response = await client.rollback_stage(
            pipelineName=name, stageName=stage, targetPipelineExecutionId=target_execution_id
        )
        return str(response["pipelineExecutionId"])

    async def put_approval_result(
        self,
        name: str,
        stage: str,
        action: str,
        token: str,
        status: ApprovalStatus,
        summary: str,
    ) -> datetime | None:
        """Approve or reject a pending approval; returns when AWS recorded it."""
        client = await self._mutating("PutApprovalResult")
        response = await client.put_approval_result(
            pipelineName=name,
            stageName=stage,
            actionName=action,
            token=token,
            result={"status": status, "summary": summary},
        )
        approved_at: datetime | None = response.get("approvedAt")
        return approved_at

    async def enable_stage_transition(
        self, name: str, stage: str, transition: TransitionType = "Inbound"
    ) -> None:
        client = await self._mutating("EnableStageTransition")
        await client.enable_stage_transition(
            pipelineName=name, stageName=stage, transitionType=transition
        )

    async def disable_stage_transition(
        self, name: str, stage: str, reason: str, transition: TransitionType = "Inbound"
    ) -> None:
        client = await self._mutating("DisableStageTransition")
        await client.disable_stage_transition(
            pipelineName=name, stageName=stage, transitionType=transition, reason=reason
        )
