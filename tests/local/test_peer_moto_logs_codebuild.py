"""The same client-side Logs and CodeBuild checks against our endpoint and against moto's server.

moto's server runs as a real subprocess on a free loopback port; our endpoint runs on the wall
clock (moto judges PutLogEvents timestamps by the wall clock). Where the two disagree,
botocore's model and the reference (`codepipeline.md` sections 6 and 7.1) decide: the check
says which peer is wrong in a comment and skips that one assertion for it (`unless(peer, ...)`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.endpoint import CLIENT_CONFIG, Endpoint
from tui.local.clock import Clock

ROLE = "arn:aws:iam::123456789012:role/codebuild"


@dataclass(frozen=True)
class Peer:
    name: str
    url: str
    account: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=CLIENT_CONFIG,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    stderr = (tmp_path_factory.mktemp("moto") / "stderr.txt").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("moto's server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stderr.close()


@pytest.fixture(scope="module")
def local_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    endpoint = Endpoint(Path(tmp_path_factory.mktemp("peer")) / "data", clock=Clock()).start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture(params=["local", "moto"])
def peer(request: pytest.FixtureRequest) -> Peer:
    if request.param == "moto":
        return Peer("moto", request.getfixturevalue("moto_url"), "123456789012")
    endpoint: Endpoint = request.getfixturevalue("local_endpoint")
    return Peer("local", endpoint.url, "000000000000")


def unless(peer: Peer, wrong: str) -> bool:
    """True when the assertion that follows applies to this peer (`wrong` is the peer that
    disagrees with botocore's model and the reference)."""
    return peer.name != wrong


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def messages(response: dict[str, Any]) -> list[str]:
    return [e["message"] for e in response["events"]]


def log_stream(peer: Peer, count: int = 5) -> tuple[Any, str, int]:
    """A new group and stream "s" holding m0..m<count-1>, one ms apart; (client, group, t0)."""
    logs = peer.client("logs")
    group = "/peer/" + unique("g")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t0 = int(time.time() * 1000) - 60_000
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": t0 + i, "message": f"m{i}"} for i in range(count)],
    )
    return logs, group, t0


# --- CloudWatch Logs ----------------------------------------------------------------------


def test_logs_head_and_tail(peer: Peer) -> None:
    logs, group, t0 = log_stream(peer)
    tail = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2)
    assert messages(tail) == ["m3", "m4"]
    head = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2, startFromHead=True)
    assert messages(head) == ["m0", "m1"]
    assert head["events"][0]["timestamp"] == t0
    assert head["nextForwardToken"].startswith("f/")
    assert head["nextBackwardToken"].startswith("b/")


def test_logs_forward_paging_ends_caught_up(peer: Peer) -> None:
    logs, group, t0 = log_stream(peer)
    page = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2, startFromHead=True)
    seen = messages(page)
    token = page["nextForwardToken"]
    for _ in range(10):
        page = logs.get_log_events(
            logGroupName=group, logStreamName="s", limit=2, startFromHead=True, nextToken=token
        )
        seen += messages(page)
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"m{i}" for i in range(5)]
    assert page["events"] == []
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": t0 + 10, "message": "m5"}]
    )
    later = logs.get_log_events(
        logGroupName=group, logStreamName="s", startFromHead=True, nextToken=token
    )
    assert messages(later) == ["m5"]


def test_logs_backward_paging(peer: Peer) -> None:
    logs, group, _ = log_stream(peer)
    page = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2)
    pages = [messages(page)]
    token = page["nextBackwardToken"]
    for _ in range(10):
        page = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2, nextToken=token)
        if not page["events"]:
            break
        pages.append(messages(page))
        token = page["nextBackwardToken"]
    assert pages == [["m3", "m4"], ["m1", "m2"], ["m0"]]


def test_logs_time_range(peer: Peer) -> None:
    logs, group, t0 = log_stream(peer)
    page = logs.get_log_events(
        logGroupName=group, logStreamName="s", startTime=t0 + 1, endTime=t0 + 3, startFromHead=True
    )
    assert messages(page)[:2] == ["m1", "m2"]
    if unless(peer, "moto"):
        # moto includes an event stamped endTime; AWS documents endTime as exclusive ("events
        # with a timestamp equal to or later than this time are not included").
        assert messages(page) == ["m1", "m2"]


def test_logs_missing_group_and_stream(peer: Peer) -> None:
    logs = peer.client("logs")
    group = "/peer/" + unique("missing")
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=group, logStreamName="s")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    logs.create_log_group(logGroupName=group)
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=group, logStreamName="s")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    if unless(peer, "moto"):
        # moto says "The specified log group does not exist." for a missing stream too.
        assert error_of(excinfo)[1] == "The specified log stream does not exist."
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    with pytest.raises(ClientError) as excinfo:
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    assert error_of(excinfo)[0] == "ResourceAlreadyExistsException"
    if unless(peer, "moto"):
        # moto names the log group in this error; it is the stream that exists.
        assert error_of(excinfo)[1] == "The specified log stream already exists"


def test_logs_limit_above_the_maximum(peer: Peer) -> None:
    logs, group, _ = log_stream(peer, count=1)
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=group, logStreamName="s", limit=10_001)
    assert "10000" in error_of(excinfo)[1]
    # The model lists InvalidParameterException (not ValidationException) for GetLogEvents.
    assert error_of(excinfo)[0] == "InvalidParameterException"


def test_logs_filter_terms_phrases_and_paging(peer: Peer) -> None:
    logs = peer.client("logs")
    group = "/peer/" + unique("filter")
    logs.create_log_group(logGroupName=group)
    t0 = int(time.time() * 1000) - 60_000
    for stream, offset, lines in (
        ("a", 0, ["ERROR disk full", "INFO started", "WARN slow disk"]),
        ("b", 1, ["INFO ok", "ERROR again", "ERROR disk gone"]),
    ):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[
                {"timestamp": t0 + offset + 2 * i, "message": m} for i, m in enumerate(lines)
            ],
        )
    disk = logs.filter_log_events(logGroupName=group, filterPattern="ERROR disk")
    assert sorted(messages(disk)) == ["ERROR disk full", "ERROR disk gone"]
    phrase = logs.filter_log_events(logGroupName=group, filterPattern='"slow disk"')
    assert messages(phrase) == ["WARN slow disk"]
    only_b = logs.filter_log_events(logGroupName=group, logStreamNames=["b"], filterPattern="ERROR")
    assert messages(only_b) == ["ERROR again", "ERROR disk gone"]

    everything = logs.filter_log_events(logGroupName=group)
    assert len(everything["events"]) == 6
    assert len({e["eventId"] for e in everything["events"]}) == 6
    if unless(peer, "moto"):
        # AWS always interleaves the streams by time (`interleaved` is deprecated and ignored)
        # and has left searchedLogStreams empty since 2020; moto lists stream by stream unless
        # asked to interleave, and names every stream it searched.
        times = [e["timestamp"] for e in everything["events"]]
        assert times == sorted(times)
        assert everything["searchedLogStreams"] == []

    seen: list[str] = []
    kwargs: dict[str, Any] = {}
    for _ in range(10):
        page = logs.filter_log_events(logGroupName=group, filterPattern="ERROR", limit=2, **kwargs)
        assert len(page["events"]) <= 2
        seen += messages(page)
        if not page.get("nextToken"):
            break
        kwargs = {"nextToken": page["nextToken"]}
    assert sorted(seen) == ["ERROR again", "ERROR disk full", "ERROR disk gone"]


def test_logs_describe_groups_and_streams(peer: Peer) -> None:
    logs, group, t0 = log_stream(peer, count=2)
    logs.create_log_stream(logGroupName=group, logStreamName="t")
    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    assert groups[0]["arn"] == f"arn:aws:logs:us-east-1:{peer.account}:log-group:{group}:*"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["s", "t"]
    assert streams[0]["firstEventTimestamp"] == t0
    assert streams[0]["lastEventTimestamp"] == t0 + 1
    first = logs.describe_log_streams(logGroupName=group, limit=1)
    assert [s["logStreamName"] for s in first["logStreams"]] == ["s"]
    rest = logs.describe_log_streams(logGroupName=group, limit=1, nextToken=first["nextToken"])
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["t"]


# --- CodeBuild ----------------------------------------------------------------------------


def project_request(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"type": "S3", "location": "sources/app.zip"},
        "artifacts": {"type": "S3", "location": "artifacts"},
        "environment": {
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        "serviceRole": ROLE.replace("123456789012", "{account}"),
    }


def create_project(peer: Peer, codebuild: Any, name: str) -> dict[str, Any]:
    request = project_request(name)
    request["serviceRole"] = request["serviceRole"].format(account=peer.account)
    return dict(codebuild.create_project(**request)["project"])


def test_codebuild_project_crud(peer: Peer) -> None:
    codebuild = peer.client("codebuild")
    name = unique("proj")
    project = create_project(peer, codebuild, name)
    assert project["name"] == name
    assert project["arn"] == f"arn:aws:codebuild:us-east-1:{peer.account}:project/{name}"
    with pytest.raises(ClientError) as excinfo:
        create_project(peer, codebuild, name)
    assert error_of(excinfo) == (
        "ResourceAlreadyExistsException",
        f"Project already exists: {project['arn']}",
    )
    assert name in codebuild.list_projects()["projects"]
    by_arn = codebuild.batch_get_projects(names=[project["arn"]])["projects"]
    assert [p["name"] for p in by_arn] == [name]
    missing = codebuild.batch_get_projects(names=[name, "ghost-project"])
    assert [p["name"] for p in missing["projects"]] == [name]
    if unless(peer, "moto"):
        # The model's BatchGetProjectsOutput has projectsNotFound; moto leaves it out.
        assert missing["projectsNotFound"] == ["ghost-project"]
    assert codebuild.list_builds_for_project(projectName=name)["ids"] == []
    codebuild.delete_project(name=name)
    codebuild.delete_project(name=name)  # both: deleting a missing project succeeds
    assert name not in codebuild.list_projects()["projects"]
    with pytest.raises(ClientError) as excinfo:
        codebuild.list_builds_for_project(projectName=name)
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        f"The provided project {project['arn']} does not exist",
    )


def test_codebuild_batch_get_builds_reports_unknown_ids(peer: Peer) -> None:
    codebuild = peer.client("codebuild")
    unknown = f"{unique('proj')}:{uuid.uuid4()}"
    response = codebuild.batch_get_builds(ids=[unknown])
    assert response["builds"] == []
    if unless(peer, "moto"):
        # The model's BatchGetBuildsOutput has buildsNotFound (reference 6.1); moto leaves it out.
        assert response["buildsNotFound"] == [unknown]


def test_codebuild_pipeline_projects_need_no_source_location(peer: Peer) -> None:
    codebuild = peer.client("codebuild")
    request = project_request(unique("pipe"))
    request["serviceRole"] = request["serviceRole"].format(account=peer.account)
    request["source"] = {"type": "CODEPIPELINE"}
    request["artifacts"] = {"type": "CODEPIPELINE"}
    if unless(peer, "moto"):
        # A CODEPIPELINE source and artifacts take their location from the pipeline (the
        # model documents `location` as ignored for CODEPIPELINE); moto demands one.
        project = codebuild.create_project(**request)["project"]
        assert project["source"] == {"type": "CODEPIPELINE"}
    else:
        with pytest.raises(ClientError):
            codebuild.create_project(**request)


def test_codebuild_update_project(peer: Peer) -> None:
    codebuild = peer.client("codebuild")
    name = unique("upd")
    create_project(peer, codebuild, name)
    if unless(peer, "moto"):
        # UpdateProject is in the model; moto does not implement it.
        updated = codebuild.update_project(name=name, description="changed")["project"]
        assert updated["description"] == "changed"
        assert updated["source"]["location"] == "sources/app.zip"
    with pytest.raises(ClientError) as excinfo:
        codebuild.update_project(name=unique("ghost"), description="x")
    if unless(peer, "moto"):
        assert error_of(excinfo)[0] == "ResourceNotFoundException"
