"""Log tail: forward paging, the caught-up rule, a stream that appears late, and where an
action's log is (CodeBuild build vs Commands stream ARN). Against our endpoint's Logs and
moto's, and through a real pipeline run on our endpoint."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.aws.moto_server import MotoServer
from tests.endpoint import Endpoint
from tests.local.pipelines import commands, latest_execution_id, pipeline, stage, upload_source
from tui.aws.logtail import (
    ActionRun,
    LogBatch,
    LogLocation,
    LogTail,
    codebuild_log_location,
    locate_action_log,
    locate_from_detail,
)
from tui.aws.pipelines import PipelineClient
from tui.aws.session import AwsContext, ConnectionSettings

GROUP = "/test/tail"
STREAM = "run-1"


@dataclass
class LogsPeer:
    """A server speaking CloudWatch Logs, a boto3 client to write with, and its clock."""

    name: str
    aws: AwsContext
    logs: Any
    now_ms: Callable[[], int]

    written: int = 0

    def put(self, *messages: str, stream: str = STREAM) -> None:
        # Timestamps keep rising across calls, as a running build's do (a forward token
        # reads on in time order, so an event stamped earlier than one already read is
        # behind it, on CloudWatch as here).
        base = self.now_ms() + self.written
        self.written += len(messages)
        self.logs.put_log_events(
            logGroupName=GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": base + i, "message": m} for i, m in enumerate(messages)],
        )


@pytest.fixture(params=["endpoint", "moto"])
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[LogsPeer]:
    if request.param == "endpoint":
        server: Endpoint = request.getfixturevalue("endpoint")
        clock = server.clock
        now_ms: Callable[[], int] = lambda: int(clock.now() * 1000)  # noqa: E731
        url, client = server.url, server.client("logs")
    else:
        moto: MotoServer = request.getfixturevalue("moto")
        now_ms = lambda: int(time.time() * 1000)  # noqa: E731
        url, client = moto.url, moto.client("logs")
    async with AwsContext(ConnectionSettings(endpoint_url=url, max_attempts=1)) as aws:
        yield LogsPeer(request.param, aws, client, now_ms)


class Sleeps:
    """An injected sleep that records each wait and lets the test act between polls."""

    def __init__(self, between: Callable[[int], None] | None = None) -> None:
        self.waits: list[float] = []
        self.between = between

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.between is not None:
            self.between(len(self.waits))
        await asyncio.sleep(0)


async def collect(tail: LogTail) -> list[LogBatch]:
    async with asyncio.timeout(20):
        return [batch async for batch in tail]


def messages(batches: list[LogBatch]) -> list[str]:
    return [line.message for batch in batches for line in batch.lines]


async def test_pages_forward_in_batches_until_caught_up(peer: LogsPeer) -> None:
    peer.logs.create_log_group(logGroupName=GROUP)
    peer.logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    lines = [f"line {i}" for i in range(35)]
    peer.put(*lines)
    sleeps = Sleeps()
    tail = LogTail(
        peer.aws, LogLocation(GROUP, STREAM), ended=lambda: True, page_limit=10, sleep=sleeps
    )
    batches = await collect(tail)
    assert [len(b.lines) for b in batches] == [10, 10, 10, 5]
    assert messages(batches) == lines
    # Four pages, then one more answering the very token it was sent: caught up, and ended.
    assert tail.requests == 5
    assert sleeps.waits == []


async def test_waits_when_caught_up_and_stops_once_ended_and_drained(peer: LogsPeer) -> None:
    peer.logs.create_log_group(logGroupName=GROUP)
    peer.logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    peer.put("one", "two")
    state = {"ended": False}

    def between(polls: int) -> None:
        # The action writes more while the tail waits, then ends after writing its last line.
        if polls == 1:
            peer.put("three")
        elif polls == 3:
            peer.put("four", "five")
            state["ended"] = True

    sleeps = Sleeps(between)
    tail = LogTail(
        peer.aws,
        LogLocation(GROUP, STREAM),
        ended=lambda: state["ended"],
        poll_interval=0.5,
        sleep=sleeps,
    )
    batches = await collect(tail)
    assert messages(batches) == ["one", "two", "three", "four", "five"]
    assert [len(b.lines) for b in batches] == [2, 1, 2]
    assert sleeps.waits == [0.5, 0.5, 0.5]


async def test_a_stream_that_appears_late_is_waited_for_quietly(peer: LogsPeer) -> None:
    peer.logs.create_log_group(logGroupName=GROUP)
    state = {"ended": False}

    def between(polls: int) -> None:
        if polls == 3:
            peer.logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
            peer.put("finally")
            state["ended"] = True

    sleeps = Sleeps(between)
    tail = LogTail(peer.aws, LogLocation(GROUP, STREAM), ended=lambda: state["ended"], sleep=sleeps)
    assert messages(await collect(tail)) == ["finally"]
    assert len(sleeps.waits) == 3


async def test_an_action_that_ended_without_a_stream_ends_the_tail(peer: LogsPeer) -> None:
    tail = LogTail(peer.aws, LogLocation("/never", "there"), ended=lambda: True, sleep=Sleeps())
    assert await collect(tail) == []


async def test_an_unknown_location_is_waited_for(peer: LogsPeer) -> None:
    peer.logs.create_log_group(logGroupName=GROUP)
    peer.logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    peer.put("hello\n", "crlf\r\n")
    asked: list[int] = []

    async def locate() -> LogLocation | None:
        asked.append(1)
        return LogLocation(GROUP, STREAM) if len(asked) >= 3 else None

    sleeps = Sleeps()
    tail = LogTail(peer.aws, locate, ended=lambda: len(asked) >= 3, sleep=sleeps)
    # CodeBuild's trailing newlines are not part of the line.
    assert messages(await collect(tail)) == ["hello", "crlf"]
    assert len(asked) == 3


def test_stream_arns() -> None:
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/codepipeline/demo:log-stream:abc-123"
    assert LogLocation.from_arn(arn) == LogLocation("/aws/codepipeline/demo", "abc-123")
    assert LogLocation.from_arn("arn:aws:logs:eu-west-1:1:log-group:/g:*") is None
    assert LogLocation.from_arn("arn:aws:s3:::bucket:log-stream:x") is None
    assert LogLocation.from_arn("not an arn") is None


async def test_codebuild_build_log_location_from_moto(
    moto_aws: AwsContext, moto: MotoServer
) -> None:
    codebuild = moto.client("codebuild")
    codebuild.create_project(
        name="demo-build",
        source={"type": "S3", "location": "source-bucket/app.zip"},
        artifacts={"type": "S3", "location": "artifact-bucket"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole="arn:aws:iam::123456789012:role/build",
    )
    build_id = codebuild.start_build(projectName="demo-build")["build"]["id"]
    project, _, build_uuid = build_id.partition(":")
    # moto's builds leave logs.groupName/streamName out: CodeBuild's defaults apply.
    location = await codebuild_log_location(moto_aws, build_id)
    assert location == LogLocation(f"/aws/codebuild/{project}", build_uuid)
    assert (
        await locate_action_log(
            moto_aws, provider="CodeBuild", external_execution_id=build_id, log_stream_arn=None
        )
        == location
    )
    # A build CodeBuild does not know has no log.
    assert (
        await codebuild_log_location(moto_aws, "demo-build:00000000-0000-0000-0000-000000000000")
        is None
    )
    # And the tail reads it once the build writes there.
    logs = moto.client("logs")
    logs.create_log_group(logGroupName=location.group)
    logs.create_log_stream(logGroupName=location.group, logStreamName=location.stream)
    logs.put_log_events(
        logGroupName=location.group,
        logStreamName=location.stream,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "[Container] phase BUILD\n"}],
    )
    tail = LogTail(moto_aws, location, ended=lambda: True, sleep=Sleeps())
    assert messages(await collect(tail)) == ["[Container] phase BUILD"]


async def test_commands_action_log_through_a_real_run(
    aws: AwsContext, endpoint: Endpoint, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    script = [
        "echo first",
        "echo second",
        f"while [ ! -e {gate} ]; do sleep 0.05; done",
        "for i in 1 2 3; do echo after-$i; done",
    ]
    cp.create_pipeline(pipeline=pipeline("tailed", stage("Build", commands("Run", script))))
    execution_id = latest_execution_id(cp, "tailed")
    run = ActionRun(PipelineClient(aws), "tailed", execution_id, "Build", "Run", refresh_every=0.05)
    seen: list[str] = []

    async def follow() -> None:
        async for batch in LogTail(aws, run.locate, ended=run.ended, poll_interval=0.05):
            seen.extend(line.message for line in batch.lines)
            if "second" in seen:
                gate.touch()

    await asyncio.wait_for(follow(), 30)
    assert seen.index("first") < seen.index("second") < seen.index("after-1")
    assert [m for m in seen if m.startswith("after-")] == ["after-1", "after-2", "after-3"]
    assert len(seen) == len(set(seen)), "a line came twice"
    assert await run.ended()
    detail = await run.detail()
    assert detail is not None
    location = await locate_from_detail(aws, detail)
    assert location is not None
    assert location.group == "/aws/codepipeline/tailed"


def codebuild_action(name: str, project: str) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {
            "category": "Build",
            "owner": "AWS",
            "provider": "CodeBuild",
            "version": "1",
        },
        "configuration": {"ProjectName": project},
        "inputArtifacts": [{"name": "SourceOut"}],
    }


async def test_codebuild_action_log_through_a_real_run(aws: AwsContext, endpoint: Endpoint) -> None:
    buildspec = (
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - echo compiling\n"
        "      - echo linked\n"
    )
    upload_source(endpoint, {"buildspec.yml": buildspec})
    endpoint.client("codebuild").create_project(
        name="tailed-build",
        source={"type": "CODEPIPELINE"},
        artifacts={"type": "CODEPIPELINE"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole="arn:aws:iam::000000000000:role/codebuild",
    )
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline("built", stage("Build", codebuild_action("Compile", "tailed-build")))
    )
    execution_id = latest_execution_id(cp, "built")
    run = ActionRun(
        PipelineClient(aws), "built", execution_id, "Build", "Compile", refresh_every=0.05
    )
    tail = LogTail(aws, run.locate, ended=run.ended, poll_interval=0.05)
    seen = messages(await collect(tail))
    assert seen.index("compiling") < seen.index("linked")
    # The location came from BatchGetBuilds on the action's build id.
    detail = await run.detail()
    assert detail is not None
    assert detail["status"] == "Succeeded"
    build_id = detail["output"]["executionResult"]["externalExecutionId"]
    assert build_id.startswith("tailed-build:")
    location = await codebuild_log_location(aws, build_id)
    assert location is not None
    assert location.group == "/aws/codebuild/tailed-build"
    assert location.stream == build_id.partition(":")[2]
    # Every line of the build's log, once, in order (phase lines repeat; compare the whole).
    whole = endpoint.client("logs").get_log_events(
        logGroupName=location.group, logStreamName=location.stream, startFromHead=True
    )
    assert seen == [e["message"].rstrip("\n") for e in whole["events"]]
