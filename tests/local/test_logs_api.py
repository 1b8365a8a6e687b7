"""CloudWatch Logs over the endpoint, through real boto3 clients: what the TUI reads to show a log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.endpoint import CLIENT_CONFIG, Endpoint
from tests.local.pipelines import (
    action_state,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)

T0 = 1_767_225_600_000  # the ManualClock's start, in ms
GROUP = "/app/web"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def make_stream(logs: Any, group: str, stream: str) -> None:
    if not any(g["logGroupName"] == group for g in logs.describe_log_groups()["logGroups"]):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


def put(logs: Any, group: str, stream: str, messages: list[str], start: int = T0) -> None:
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": start + i, "message": m} for i, m in enumerate(messages)],
    )


def messages(response: dict[str, Any]) -> list[str]:
    return [e["message"] for e in response["events"]]


@pytest.fixture
def logs(endpoint: Endpoint) -> Any:
    client = endpoint.client("logs")
    make_stream(client, GROUP, "s1")
    put(client, GROUP, "s1", [f"m{i}" for i in range(5)])
    return client


# --- GetLogEvents -------------------------------------------------------------------------


def test_without_a_token_the_tail_comes_back_unless_start_from_head(logs: Any) -> None:
    tail = logs.get_log_events(logGroupName=GROUP, logStreamName="s1", limit=2)
    assert messages(tail) == ["m3", "m4"]
    head = logs.get_log_events(logGroupName=GROUP, logStreamName="s1", limit=2, startFromHead=True)
    assert messages(head) == ["m0", "m1"]
    assert head["events"][0] == {"timestamp": T0, "message": "m0", "ingestionTime": T0}
    everything = logs.get_log_events(logGroupName=GROUP, logStreamName="s1")
    assert messages(everything) == [f"m{i}" for i in range(5)]
    for token in (tail["nextForwardToken"], tail["nextBackwardToken"]):
        assert token[:2] in ("f/", "b/")
        assert token[2:].isdigit()
        assert len(token) == 58


def test_forward_paging_ends_caught_up_and_picks_up_new_events(logs: Any) -> None:
    page = logs.get_log_events(logGroupName=GROUP, logStreamName="s1", limit=2, startFromHead=True)
    seen = messages(page)
    token = page["nextForwardToken"]
    while True:
        page = logs.get_log_events(
            logGroupName=GROUP, logStreamName="s1", limit=2, startFromHead=True, nextToken=token
        )
        seen += messages(page)
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"m{i}" for i in range(5)]
    assert page["events"] == []
    # Caught up means "poll again later": the same token then returns what was appended.
    put(logs, GROUP, "s1", ["m5", "m6"], start=T0 + 10)
    later = logs.get_log_events(
        logGroupName=GROUP, logStreamName="s1", startFromHead=True, nextToken=token
    )
    assert messages(later) == ["m5", "m6"]
    assert later["nextForwardToken"] != token


def test_backward_paging_walks_to_the_head(logs: Any) -> None:
    page = logs.get_log_events(logGroupName=GROUP, logStreamName="s1", limit=2)
    pages = [messages(page)]
    token = page["nextBackwardToken"]
    while True:
        page = logs.get_log_events(logGroupName=GROUP, logStreamName="s1", limit=2, nextToken=token)
        if page["nextBackwardToken"] == token:
            break
        pages.append(messages(page))
        token = page["nextBackwardToken"]
    assert pages == [["m3", "m4"], ["m1", "m2"], ["m0"]]
    assert page["events"] == []
    # From the head, the forward token of that empty page leads back into the stream.
    forward = logs.get_log_events(
        logGroupName=GROUP, logStreamName="s1", limit=2, nextToken=page["nextForwardToken"]
    )
    assert messages(forward) == ["m0", "m1"]


def test_a_backward_token_from_the_middle_then_forward_again(logs: Any) -> None:
    head = logs.get_log_events(logGroupName=GROUP, logStreamName="s1", limit=3, startFromHead=True)
    back = logs.get_log_events(
        logGroupName=GROUP, logStreamName="s1", limit=10, nextToken=head["nextBackwardToken"]
    )
    assert back["events"] == []
    again = logs.get_log_events(
        logGroupName=GROUP, logStreamName="s1", limit=10, nextToken=back["nextForwardToken"]
    )
    assert messages(again) == [f"m{i}" for i in range(5)]


def test_time_range_is_start_inclusive_end_exclusive(logs: Any) -> None:
    page = logs.get_log_events(
        logGroupName=GROUP, logStreamName="s1", startTime=T0 + 1, endTime=T0 + 3, startFromHead=True
    )
    assert messages(page) == ["m1", "m2"]
    empty = logs.get_log_events(
        logGroupName=GROUP, logStreamName="s1", startTime=T0 + 100, startFromHead=True
    )
    assert empty["events"] == []
    # The forward token of an empty range still follows the stream from startTime on.
    put(logs, GROUP, "s1", ["late"], start=T0 + 200)
    followed = logs.get_log_events(
        logGroupName=GROUP,
        logStreamName="s1",
        startTime=T0 + 100,
        startFromHead=True,
        nextToken=empty["nextForwardToken"],
    )
    assert messages(followed) == ["late"]


def test_events_with_equal_timestamps_keep_their_order_across_pages(logs: Any) -> None:
    make_stream(logs, GROUP, "same")
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="same",
        logEvents=[{"timestamp": T0, "message": f"e{i}"} for i in range(7)],
    )
    seen: list[str] = []
    token = None
    for _ in range(10):
        kwargs: dict[str, Any] = {"nextToken": token} if token else {}
        page = logs.get_log_events(
            logGroupName=GROUP, logStreamName="same", limit=3, startFromHead=True, **kwargs
        )
        seen += messages(page)
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"e{i}" for i in range(7)]


def test_pages_stop_at_one_megabyte(endpoint: Endpoint) -> None:
    logs = endpoint.client("logs")
    make_stream(logs, GROUP, "big")
    body = "x" * 300_000
    for batch in range(3):
        put(logs, GROUP, "big", [body, body], start=T0 + batch * 10)
    page = logs.get_log_events(logGroupName=GROUP, logStreamName="big", startFromHead=True)
    assert len(page["events"]) == 3  # a 4th would pass 1 048 576 bytes (message + 26 each)
    rest = logs.get_log_events(
        logGroupName=GROUP, logStreamName="big", nextToken=page["nextForwardToken"]
    )
    assert len(rest["events"]) == 3
    tail = logs.get_log_events(logGroupName=GROUP, logStreamName="big")
    assert [e["timestamp"] for e in tail["events"]] == [T0 + 11, T0 + 20, T0 + 21]


def test_the_megabyte_counts_utf8_bytes_not_characters(endpoint: Endpoint) -> None:
    """Four events of 200,000 two-byte characters: 800,104 characters would fit a page,
    their 1,600,104 bytes do not (two do: 800,052)."""
    logs = endpoint.client("logs")
    make_stream(logs, GROUP, "wide")
    body = "é" * 200_000
    for batch in range(2):
        put(logs, GROUP, "wide", [body, body], start=T0 + batch * 10)
    page = logs.get_log_events(logGroupName=GROUP, logStreamName="wide", startFromHead=True)
    assert [e["timestamp"] for e in page["events"]] == [T0, T0 + 1]
    assert page["events"][0]["message"] == body
    tail = logs.get_log_events(logGroupName=GROUP, logStreamName="wide")
    assert [e["timestamp"] for e in tail["events"]] == [T0 + 10, T0 + 11]


def test_bad_tokens_are_invalid_parameters(logs: Any) -> None:
    make_stream(logs, GROUP, "other")
    other = logs.get_log_events(logGroupName=GROUP, logStreamName="other")
    for token in ("nonsense", "f/123", "x/" + "0" * 56, other["nextForwardToken"]):
        with pytest.raises(ClientError) as excinfo:
            logs.get_log_events(logGroupName=GROUP, logStreamName="s1", nextToken=token)
        assert error_of(excinfo) == (
            "InvalidParameterException",
            "The specified nextToken is invalid.",
        )
    # Newer AWS tokens end in "/s"; such a token is read the same way.
    head = logs.get_log_events(logGroupName=GROUP, logStreamName="s1", limit=1, startFromHead=True)
    page = logs.get_log_events(
        logGroupName=GROUP, logStreamName="s1", limit=1, nextToken=head["nextForwardToken"] + "/s"
    )
    assert messages(page) == ["m1"]


def test_log_group_identifier_takes_a_name_or_an_arn(logs: Any) -> None:
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{GROUP}"
    for identifier in (GROUP, arn):
        page = logs.get_log_events(
            logGroupIdentifier=identifier, logStreamName="s1", startFromHead=True, limit=1
        )
        assert messages(page) == ["m0"]
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=GROUP, logGroupIdentifier=GROUP, logStreamName="s1")
    assert error_of(excinfo)[0] == "InvalidParameterException"
    assert "mutually exclusive" in error_of(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logStreamName="s1")
    assert error_of(excinfo)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(
            logGroupIdentifier=arn.replace("000000000000", "111111111111"), logStreamName="s1"
        )
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )


def test_missing_group_and_stream_are_resource_not_found(endpoint: Endpoint) -> None:
    logs = endpoint.client("logs")
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName="/aws/codebuild/later", logStreamName="s")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    # The group is named (a build just started) but its stream does not exist yet.
    logs.create_log_group(logGroupName="/aws/codebuild/later")
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName="/aws/codebuild/later", logStreamName="s")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    logs.create_log_stream(logGroupName="/aws/codebuild/later", logStreamName="s")
    page = logs.get_log_events(logGroupName="/aws/codebuild/later", logStreamName="s")
    assert page["events"] == []
    assert page["nextForwardToken"].startswith("f/")
    assert page["nextBackwardToken"].startswith("b/")


def test_tokens_and_events_survive_a_restart(tmp_path: Path) -> None:
    first = Endpoint(tmp_path / "data").start()
    try:
        logs = first.client("logs")
        make_stream(logs, GROUP, "s1")
        put(logs, GROUP, "s1", ["a", "b"])
        token = logs.get_log_events(logGroupName=GROUP, logStreamName="s1")["nextForwardToken"]
    finally:
        first.stop()
    second = Endpoint(tmp_path / "data").start()
    try:
        logs = second.client("logs")
        put(logs, GROUP, "s1", ["c"], start=T0 + 5)
        page = logs.get_log_events(
            logGroupName=GROUP, logStreamName="s1", startFromHead=True, nextToken=token
        )
        assert messages(page) == ["c"]
    finally:
        second.stop()


# --- PutLogEvents and the other writes -----------------------------------------------------


def test_put_log_events_refuses_unordered_or_too_wide_batches(logs: Any) -> None:
    events = [{"timestamp": T0 + 5, "message": "b"}, {"timestamp": T0, "message": "a"}]
    with pytest.raises(ClientError) as excinfo:
        logs.put_log_events(logGroupName=GROUP, logStreamName="s1", logEvents=events)
    assert error_of(excinfo) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    wide = [{"timestamp": T0 - 25 * 3600_000, "message": "a"}, {"timestamp": T0, "message": "b"}]
    with pytest.raises(ClientError) as excinfo:
        logs.put_log_events(logGroupName=GROUP, logStreamName="s1", logEvents=wide)
    assert "24 hours" in error_of(excinfo)[1]
    page = logs.get_log_events(logGroupName=GROUP, logStreamName="s1")
    assert messages(page) == [f"m{i}" for i in range(5)]  # nothing of the refused batches


def test_put_log_events_rejects_too_old_and_too_new_events(logs: Any) -> None:
    day, hour = 24 * 3600_000, 3600_000
    old = logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="s1",
        logEvents=[
            {"timestamp": T0 - 14 * day - 2 * hour, "message": "old-1"},
            {"timestamp": T0 - 14 * day - hour, "message": "old-2"},
            {"timestamp": T0 - 14 * day + hour, "message": "kept-old"},
        ],
    )
    assert old["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    new = logs.put_log_events(
        logGroupName=GROUP,
        logStreamName="s1",
        logEvents=[
            {"timestamp": T0 + hour, "message": "kept-new"},
            {"timestamp": T0 + 3 * hour, "message": "new-1"},
            {"timestamp": T0 + 4 * hour, "message": "new-2"},
        ],
    )
    assert new["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    everything = messages(logs.get_log_events(logGroupName=GROUP, logStreamName="s1"))
    assert everything == ["kept-old", *(f"m{i}" for i in range(5)), "kept-new"]
    ok = logs.put_log_events(
        logGroupName=GROUP, logStreamName="s1", logEvents=[{"timestamp": T0, "message": "fine"}]
    )
    assert "rejectedLogEventsInfo" not in ok
    assert ok["nextSequenceToken"].isdigit()


def test_put_log_events_needs_the_stream(endpoint: Endpoint) -> None:
    logs = endpoint.client("logs")
    with pytest.raises(ClientError) as excinfo:
        put(logs, "/nope", "s", ["x"])
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


def test_create_twice_and_delete(logs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        logs.create_log_group(logGroupName=GROUP)
    assert error_of(excinfo)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as excinfo:
        logs.create_log_stream(logGroupName=GROUP, logStreamName="s1")
    assert error_of(excinfo)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as excinfo:
        logs.create_log_stream(logGroupName="/absent", logStreamName="s1")
    assert error_of(excinfo) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )

    logs.delete_log_stream(logGroupName=GROUP, logStreamName="s1")
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=GROUP, logStreamName="s1")
    assert error_of(excinfo)[1] == "The specified log stream does not exist."
    # A stream created again under the same name starts empty.
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s1")
    assert logs.get_log_events(logGroupName=GROUP, logStreamName="s1")["events"] == []
    put(logs, GROUP, "s1", ["fresh"])
    assert messages(logs.get_log_events(logGroupName=GROUP, logStreamName="s1")) == ["fresh"]

    logs.delete_log_group(logGroupName=GROUP)
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=GROUP, logStreamName="s1")
    assert error_of(excinfo)[1] == "The specified log group does not exist."
    with pytest.raises(ClientError) as excinfo:
        logs.delete_log_group(logGroupName=GROUP)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        logs.delete_log_stream(logGroupName=GROUP, logStreamName="s1")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


# --- FilterLogEvents ---------------------------------------------------------------------


@pytest.fixture
def build_logs(endpoint: Endpoint) -> Any:
    logs = endpoint.client("logs")
    group = "/aws/codebuild/app"
    make_stream(logs, group, "build-a")
    make_stream(logs, group, "build-b")
    make_stream(logs, group, "deploy")
    put(logs, group, "build-a", ["ERROR disk full", "INFO started", "WARN slow disk"], T0)
    put(logs, group, "build-b", ["INFO ok", 'ERROR "quoted" thing', "ERROR Exiting now"], T0 + 1)
    put(logs, group, "deploy", ["deploy ERROR in deploy"], T0 + 10)
    return logs


def filtered(logs: Any, pattern: str | None = None, **kwargs: Any) -> list[str]:
    if pattern is not None:
        kwargs["filterPattern"] = pattern
    return messages(logs.filter_log_events(logGroupName="/aws/codebuild/app", **kwargs))


def test_filter_interleaves_streams_by_time(build_logs: Any) -> None:
    response = build_logs.filter_log_events(logGroupName="/aws/codebuild/app")
    assert [(e["logStreamName"], e["timestamp"]) for e in response["events"]] == [
        ("build-a", T0),
        ("build-a", T0 + 1),
        ("build-b", T0 + 1),
        ("build-a", T0 + 2),
        ("build-b", T0 + 2),
        ("build-b", T0 + 3),
        ("deploy", T0 + 10),
    ]
    assert response["searchedLogStreams"] == []
    assert "nextToken" not in response
    ids = [e["eventId"] for e in response["events"]]
    assert len(set(ids)) == len(ids)
    assert all(i.isdigit() for i in ids)


def test_filter_terms_phrases_or_terms_and_exclusions(build_logs: Any) -> None:
    assert filtered(build_logs, "ERROR disk") == ["ERROR disk full"]
    assert filtered(build_logs, "error") == []  # case-sensitive
    assert filtered(build_logs, '"slow disk"') == ["WARN slow disk"]
    assert filtered(build_logs, '"ERROR \\"quoted\\""') == ['ERROR "quoted" thing']
    assert filtered(build_logs, "?WARN ?full") == ["ERROR disk full", "WARN slow disk"]
    assert filtered(build_logs, "ERROR -Exiting -deploy") == [
        "ERROR disk full",
        'ERROR "quoted" thing',
    ]
    assert filtered(build_logs, "%^INFO%") == ["INFO started", "INFO ok"]
    assert filtered(build_logs, "   ") == filtered(build_logs)


def test_filter_by_stream_names_prefix_and_time(build_logs: Any) -> None:
    assert filtered(build_logs, "ERROR", logStreamNames=["deploy", "never-created"]) == [
        "deploy ERROR in deploy"
    ]
    assert filtered(build_logs, "INFO", logStreamNamePrefix="build-") == ["INFO started", "INFO ok"]
    assert filtered(build_logs, startTime=T0 + 2, endTime=T0 + 10) == [
        "WARN slow disk",
        'ERROR "quoted" thing',
        "ERROR Exiting now",
    ]
    with pytest.raises(ClientError) as excinfo:
        filtered(build_logs, logStreamNames=["deploy"], logStreamNamePrefix="build-")
    assert error_of(excinfo)[0] == "InvalidParameterException"


def test_filter_newest_first(build_logs: Any) -> None:
    assert filtered(build_logs, "ERROR", startFromHead=False) == [
        "deploy ERROR in deploy",
        "ERROR Exiting now",
        'ERROR "quoted" thing',
        "ERROR disk full",
    ]
    with pytest.raises(ClientError) as excinfo:
        filtered(build_logs, startFromHead=False, startTime=1_600_000_000_000)
    assert error_of(excinfo)[0] == "InvalidParameterException"
    assert "2024" in error_of(excinfo)[1]


def test_filter_pages_until_the_token_is_absent(build_logs: Any) -> None:
    seen: list[str] = []
    kwargs: dict[str, Any] = {}
    for _ in range(10):
        response = build_logs.filter_log_events(
            logGroupName="/aws/codebuild/app", filterPattern="ERROR", limit=1, **kwargs
        )
        seen += messages(response)
        if "nextToken" not in response:
            break
        kwargs = {"nextToken": response["nextToken"]}
    assert seen == [
        "ERROR disk full",
        'ERROR "quoted" thing',
        "ERROR Exiting now",
        "deploy ERROR in deploy",
    ]
    # A newest-first listing keeps its direction through its tokens.
    first = build_logs.filter_log_events(
        logGroupName="/aws/codebuild/app", filterPattern="ERROR", limit=2, startFromHead=False
    )
    second = build_logs.filter_log_events(
        logGroupName="/aws/codebuild/app", filterPattern="ERROR", nextToken=first["nextToken"]
    )
    assert messages(second) == ['ERROR "quoted" thing', "ERROR disk full"]
    assert "nextToken" not in second


def test_filter_refuses_unsupported_patterns_and_bad_tokens(build_logs: Any) -> None:
    for pattern, word in (
        ('{ $.level = "ERROR" }', "JSON"),
        ("[ip, user, status=500]", "Space-delimited"),
        ('"unterminated', "unterminated"),
        ("%(%", "regex"),
    ):
        with pytest.raises(ClientError) as excinfo:
            filtered(build_logs, pattern)
        code, message = error_of(excinfo)
        assert code == "InvalidParameterException"
        assert word in message
    for token in ("garbage!", "eyJzIjoib3RoZXIifQ=="):
        with pytest.raises(ClientError) as excinfo:
            filtered(build_logs, nextToken=token)
        assert error_of(excinfo) == (
            "InvalidParameterException",
            "The specified nextToken is invalid.",
        )
    with pytest.raises(ClientError) as excinfo:
        build_logs.filter_log_events(logGroupName="/absent")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"


# --- Describe* --------------------------------------------------------------------------


def test_describe_log_groups_pages_and_reports_sizes(endpoint: Endpoint) -> None:
    logs = endpoint.client("logs")
    names = [f"/aws/codebuild/p{i}" for i in range(5)] + ["/other"]
    for name in names:
        logs.create_log_group(logGroupName=name)
    make_stream(logs, "/other", "s")
    put(logs, "/other", "s", ["héllo"])  # 6 UTF-8 bytes
    seen: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    for _ in range(10):
        response = logs.describe_log_groups(logGroupNamePrefix="/aws/codebuild/", limit=2, **kwargs)
        assert len(response["logGroups"]) <= 2
        seen += response["logGroups"]
        if "nextToken" not in response:
            break
        kwargs = {"nextToken": response["nextToken"]}
    assert [g["logGroupName"] for g in seen] == names[:5]
    other = logs.describe_log_groups(logGroupNamePrefix="/other")["logGroups"][0]
    assert other["storedBytes"] == 6
    assert other["creationTime"] == T0
    assert other["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/other:*"
    assert other["logGroupArn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/other"
    pattern = logs.describe_log_groups(logGroupNamePattern="CODEBUILD/P3")["logGroups"]
    assert [g["logGroupName"] for g in pattern] == ["/aws/codebuild/p3"]
    with pytest.raises(ClientError) as excinfo:
        logs.describe_log_groups(nextToken="bogus")
    assert error_of(excinfo)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        logs.describe_log_groups(logGroupNamePrefix="/a", logGroupNamePattern="b")
    assert error_of(excinfo)[0] == "InvalidParameterException"


def test_describe_log_streams_orders_pages_and_times(endpoint: Endpoint) -> None:
    logs = endpoint.client("logs")
    make_stream(logs, GROUP, "b-late")
    make_stream(logs, GROUP, "a-early")
    make_stream(logs, GROUP, "c-empty")
    put(logs, GROUP, "a-early", ["1", "2"], T0 - 1000)
    endpoint.advance(5)
    put(logs, GROUP, "b-late", ["3"], T0 + 4000)

    by_name = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a-early", "b-late", "c-empty"]
    early = by_name[0]
    assert early["firstEventTimestamp"] == T0 - 1000
    assert early["lastEventTimestamp"] == T0 - 999
    assert early["lastIngestionTime"] == T0
    assert early["creationTime"] == T0
    assert early["arn"] == (
        f"arn:aws:logs:us-east-1:000000000000:log-group:{GROUP}:log-stream:a-early"
    )
    assert by_name[1]["lastIngestionTime"] == T0 + 5000
    assert "firstEventTimestamp" not in by_name[2]

    latest = logs.describe_log_streams(
        logGroupName=GROUP, orderBy="LastEventTime", descending=True
    )["logStreams"]
    assert [s["logStreamName"] for s in latest] == ["b-late", "a-early", "c-empty"]

    first = logs.describe_log_streams(logGroupName=GROUP, limit=2, descending=True)
    assert [s["logStreamName"] for s in first["logStreams"]] == ["c-empty", "b-late"]
    rest = logs.describe_log_streams(
        logGroupName=GROUP, limit=2, descending=True, nextToken=first["nextToken"]
    )
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["a-early"]
    assert "nextToken" not in rest

    prefixed = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="b")
    assert [s["logStreamName"] for s in prefixed["logStreams"]] == ["b-late"]
    with pytest.raises(ClientError) as excinfo:
        logs.describe_log_streams(
            logGroupName=GROUP, logStreamNamePrefix="b", orderBy="LastEventTime"
        )
    assert error_of(excinfo)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        # A token of one listing is not a token of another.
        logs.describe_log_streams(logGroupName=GROUP, nextToken=first["nextToken"])
    assert error_of(excinfo)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        logs.describe_log_streams(logGroupName="/absent")
    assert error_of(excinfo)[1] == "The specified log group does not exist."


# --- the TUI's path: an action's log through its logStreamARN -----------------------------


def test_a_commands_actions_log_is_read_through_its_log_stream_arn(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            "logged",
            stage("Build", commands("Say", ["echo first-line", "echo second-line", "echo done"])),
        )
    )
    execution_id = latest_execution_id(cp, "logged")
    assert wait_status(cp, "logged", execution_id) == "Succeeded"
    arn = action_state(cp, "logged", "Build", "Say")["latestExecution"]["logStreamARN"]
    prefix = "arn:aws:logs:us-east-1:000000000000:log-group:"
    assert arn.startswith(prefix)
    group, stream = arn[len(prefix) :].split(":log-stream:")
    assert group == "/aws/codepipeline/logged"

    logs = endpoint.client("logs")
    page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    lines = messages(page)
    assert lines.index("first-line") < lines.index("second-line") < lines.index("done")
    caught_up = logs.get_log_events(
        logGroupName=group,
        logStreamName=stream,
        startFromHead=True,
        nextToken=page["nextForwardToken"],
    )
    assert caught_up["events"] == []
    assert caught_up["nextForwardToken"] == page["nextForwardToken"]
    found = logs.filter_log_events(logGroupName=group, filterPattern="second-line")["events"]
    assert (stream, "second-line") in [(e["logStreamName"], e["message"]) for e in found]
    assert all("second-line" in e["message"] for e in found)
    assert not any("first-line" in e["message"] for e in found)
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream in [s["logStreamName"] for s in streams]


def test_start_live_tail_says_it_is_not_served(endpoint: Endpoint) -> None:
    logs = boto3.client(
        "logs",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        config=CLIENT_CONFIG.merge(Config(inject_host_prefix=False)),
    )
    with pytest.raises(ClientError) as excinfo:
        logs.start_live_tail(
            logGroupIdentifiers=["arn:aws:logs:us-east-1:000000000000:log-group:/g"]
        )
    code, message = error_of(excinfo)
    assert code == "UnknownOperationException"
    assert "StartLiveTail" in message
    assert "GetLogEvents" in message
