"""Log tail for an action: find its CloudWatch Logs stream, then follow it forward in batches.

    run = ActionRun(pipelines, "demo", execution_id, "Build", "Compile")
    async for batch in LogTail(aws, run.locate, ended=run.ended):
        log_widget.write_lines(line.message for line in batch.lines)

Where the log is:

- CodeBuild action: its `externalExecutionId` is the build id (`<project>:<uuid>`);
  BatchGetBuilds gives `logs.groupName` / `logs.streamName`. [I] Until the build reports them
  (a build that has not started logging yet, or a peer that leaves them out), the stream is
  where CodeBuild puts it by default: group `/aws/codebuild/<project>` (or the project's
  configured `cloudWatchLogs.groupName`), stream `<uuid>` (prefixed by the configured
  `cloudWatchLogs.streamName` and a slash). A build whose CloudWatch logs are DISABLED, or
  that is not found, has no log to tail (None).
- Commands action (and any action that reports one): `logStreamARN`,
  `arn:aws:logs:<region>:<account>:log-group:<group>:log-stream:<stream>`. Group names cannot
  contain `:`, so the group ends at `:log-stream:`.

Following it (reference section 7.1): GetLogEvents with `startFromHead=True`, sending back
`nextForwardToken`. A page may be empty or short without meaning anything; only an answer
whose `nextForwardToken` equals the token sent means "caught up": then the tail waits
`poll_interval` and asks again. Each non-empty page is one `LogBatch` (never line by line).
While the stream does not exist yet (ResourceNotFoundException, common right after a build
starts) or the action has not reported where its log is, the tail waits quietly and retries.
Throttling waits the problem's `retry_after`. Any other failure is raised to the caller
(describe it with `errors.describe`).

It stops when the action has ended and the stream is drained: `ended()` was true before a
request that came back caught up, so every line written before the end has been read.
[I] On AWS, CloudWatch ingests a few seconds late; `drain_grace` seconds after the end was
first seen, the tail still reads until caught up (the app passes a few seconds on AWS, 0 on
the local endpoint, whose logs are written before the action's status changes). An action
that ended without ever having a stream ends the tail too.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tui.aws.errors import Throttled, describe
from tui.aws.pipelines import PipelineClient
from tui.aws.session import AwsContext

ENDED_STATUSES = frozenset({"Succeeded", "Failed", "Abandoned"})
CODEBUILD_GROUP = "/aws/codebuild/{project}"


@dataclass(frozen=True)
class LogLocation:
    group: str
    stream: str

    @classmethod
    def from_arn(cls, arn: str) -> LogLocation | None:
        """`arn:aws:logs:r:a:log-group:<group>:log-stream:<stream>` -> its group and stream."""
        head, marker, stream = arn.partition(":log-stream:")
        if not marker or not stream:
            return None
        # arn : partition : logs : region : account : log-group : <group>
        parts = head.split(":", 6)
        if len(parts) != 7 or parts[0] != "arn" or parts[2] != "logs":
            return None
        if parts[5] != "log-group" or not parts[6]:
            return None
        return cls(parts[6], stream)


@dataclass(frozen=True)
class LogLine:
    timestamp_ms: int
    message: str


@dataclass(frozen=True)
class LogBatch:
    location: LogLocation
    lines: tuple[LogLine, ...]


Locate = Callable[[], Awaitable[LogLocation | None]]
Ended = Callable[[], bool | Awaitable[bool]]


async def codebuild_log_location(aws: AwsContext, build_id: str) -> LogLocation | None:
    """Where the build's log is (see the module docstring), or None when it has none."""
    codebuild = await aws.client("codebuild")
    answer = await codebuild.batch_get_builds(ids=[build_id])
    builds: list[dict[str, Any]] = answer.get("builds") or []
    if not builds:
        return None
    build = builds[0]
    logs: dict[str, Any] = build.get("logs") or {}
    cloudwatch: dict[str, Any] = logs.get("cloudWatchLogs") or {}
    if cloudwatch.get("status") == "DISABLED":
        return None
    if logs.get("groupName") and logs.get("streamName"):
        return LogLocation(str(logs["groupName"]), str(logs["streamName"]))
    project, _, build_uuid = str(build.get("id") or build_id).partition(":")
    if not build_uuid:
        return None
    group = cloudwatch.get("groupName") or CODEBUILD_GROUP.format(project=project)
    prefix = cloudwatch.get("streamName")
    stream = f"{prefix}/{build_uuid}" if prefix else build_uuid
    return LogLocation(str(group), stream)


async def locate_action_log(
    aws: AwsContext,
    *,
    provider: str | None,
    external_execution_id: str | None,
    log_stream_arn: str | None,
) -> LogLocation | None:
    """The log of an action run, from what CodePipeline reports about it."""
    if log_stream_arn:
        location = LogLocation.from_arn(log_stream_arn)
        if location is not None:
            return location
    if provider == "CodeBuild" and external_execution_id:
        return await codebuild_log_location(aws, external_execution_id)
    return None


async def locate_from_detail(aws: AwsContext, detail: Mapping[str, Any]) -> LogLocation | None:
    """`locate_action_log` for one ListActionExecutions item."""
    provider = ((detail.get("input") or {}).get("actionTypeId") or {}).get("provider")
    result = (detail.get("output") or {}).get("executionResult") or {}
    return await locate_action_log(
        aws,
        provider=provider,
        external_execution_id=result.get("externalExecutionId"),
        log_stream_arn=result.get("logStreamARN"),
    )


class ActionRun:
    """The latest attempt of one action in one execution, read through ListActionExecutions:
    `locate()` and `ended()` for a `LogTail` when the caller has no fresher source.

    The detail is re-read at most every `refresh_every` seconds (a tail asks once per poll).
    A running action's item may not carry its build id or stream ARN yet; then `locate()`
    also looks at GetPipelineState's `latestExecution` of the action (the same run, by
    actionExecutionId), which reports them while the action runs, at most as often.
    """

    def __init__(
        self,
        pipelines: PipelineClient,
        pipeline: str,
        execution_id: str,
        stage: str,
        action: str,
        *,
        refresh_every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pipelines = pipelines
        self.pipeline = pipeline
        self.execution_id = execution_id
        self.stage = stage
        self.action = action
        self.refresh_every = refresh_every
        self.clock = clock
        self._detail: dict[str, Any] | None = None
        self._read_at: float | None = None
        self._state_read_at: float | None = None

    async def detail(self) -> dict[str, Any] | None:
        now = self.clock()
        if self._read_at is None or now - self._read_at >= self.refresh_every:
            details = await self.pipelines.list_action_executions(
                self.pipeline, latest_in_execution=self.execution_id
            )
            self._read_at = now
            for detail in details:
                if (
                    detail.get("stageName") == self.stage
                    and detail.get("actionName") == self.action
                ):
                    self._detail = detail
        return self._detail

    async def locate(self) -> LogLocation | None:
        detail = await self.detail()
        if detail is None:
            return None
        location = await locate_from_detail(self.pipelines.aws, detail)
        if location is not None or detail.get("status") in ENDED_STATUSES:
            return location
        latest = await self._latest_in_state(str(detail.get("actionExecutionId") or ""))
        if latest is None:
            return None
        provider = ((detail.get("input") or {}).get("actionTypeId") or {}).get("provider")
        return await locate_action_log(
            self.pipelines.aws,
            provider=provider,
            external_execution_id=latest.get("externalExecutionId"),
            log_stream_arn=latest.get("logStreamARN"),
        )

    async def _latest_in_state(self, action_execution_id: str) -> dict[str, Any] | None:
        now = self.clock()
        if self._state_read_at is not None and now - self._state_read_at < self.refresh_every:
            return None
        self._state_read_at = now
        state = await self.pipelines.get_pipeline_state(self.pipeline)
        for stage in state.get("stageStates") or []:
            if stage.get("stageName") != self.stage:
                continue
            for action in stage.get("actionStates") or []:
                latest: dict[str, Any] = action.get("latestExecution") or {}
                if (
                    action.get("actionName") == self.action
                    and latest.get("actionExecutionId") == action_execution_id
                ):
                    return latest
        return None

    async def ended(self) -> bool:
        detail = await self.detail()
        return detail is not None and detail.get("status") in ENDED_STATUSES


class LogTail:
    """An async iterator of `LogBatch`es of one action's log (see the module docstring)."""

    def __init__(
        self,
        aws: AwsContext,
        locate: LogLocation | Locate,
        *,
        ended: Ended,
        poll_interval: float = 1.0,
        drain_grace: float = 0.0,
        page_limit: int | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.aws = aws
        self._locate = locate
        self._ended = ended
        self.poll_interval = poll_interval
        self.drain_grace = drain_grace
        self.page_limit = page_limit
        self.sleep = sleep
        self.clock = clock
        self.requests = 0
        """GetLogEvents calls made so far."""
        self._ended_at: float | None = None

    def __aiter__(self) -> AsyncIterator[LogBatch]:
        return self._follow()

    async def _location(self) -> LogLocation | None:
        if isinstance(self._locate, LogLocation):
            return self._locate
        return await self._locate()

    async def _has_ended(self) -> bool:
        """Whether the action has ended at least `drain_grace` seconds ago."""
        if self._ended_at is None:
            result = self._ended()
            ended = await result if inspect.isawaitable(result) else result
            if not ended:
                return False
            self._ended_at = self.clock()
        return self.clock() - self._ended_at >= self.drain_grace

    async def _follow(self) -> AsyncIterator[LogBatch]:
        logs = await self.aws.client("logs")
        location: LogLocation | None = None
        token: str | None = None
        while True:
            if location is None:
                location = await self._location()
                if location is None:
                    if await self._has_ended():
                        return
                    await self.sleep(self.poll_interval)
                    continue
            ended = await self._has_ended()
            request: dict[str, Any] = {
                "logGroupName": location.group,
                "logStreamName": location.stream,
                "startFromHead": True,
            }
            if token is not None:
                request["nextToken"] = token
            if self.page_limit is not None:
                request["limit"] = self.page_limit
            self.requests += 1
            try:
                page = await logs.get_log_events(**request)
            except logs.exceptions.ResourceNotFoundException:
                if ended:
                    return
                await self.sleep(self.poll_interval)
                continue
            except Exception as exc:
                problem = describe(exc)
                if not isinstance(problem, Throttled):
                    raise
                await self.sleep(problem.retry_after)
                continue
            events: list[dict[str, Any]] = page.get("events") or []
            if events:
                yield LogBatch(
                    location,
                    tuple(
                        LogLine(int(e.get("timestamp") or 0), _strip_newline(str(e["message"])))
                        for e in events
                    ),
                )
            next_token = page.get("nextForwardToken")
            caught_up = next_token is None or next_token == token
            token = next_token
            if caught_up:
                if ended:
                    return
                await self.sleep(self.poll_interval)


def _strip_newline(message: str) -> str:
    """CodeBuild ends each event with a newline; a line widget adds its own."""
    if message.endswith("\r\n"):
        return message[:-2]
    if message.endswith("\n"):
        return message[:-1]
    return message
