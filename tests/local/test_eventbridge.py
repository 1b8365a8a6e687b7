"""EventBridge through real boto3 clients: patterns, rules, targets, PutEvents, named buses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.endpoint import Endpoint
from tui.local.engine.eventbus import compile_pattern

ACCOUNT = "000000000000"

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "4f7c1d2e-0000-4a8b-9c3d-111122223333",
    "detail-type": "CodePipeline Action Execution State Change",
    "source": "aws.codepipeline",
    "account": ACCOUNT,
    "time": "2025-01-02T03:04:05Z",
    "region": "us-east-1",
    "resources": ["arn:aws:codepipeline:us-east-1:000000000000:demo"],
    "detail": {
        "pipeline": "demo",
        "execution-id": "0c9d7e5a-1b2c-4d3e-8f90-a1b2c3d4e5f6",
        "stage": "Build",
        "action": "Compile",
        "state": "SUCCEEDED",
        "region": "us-east-1",
        "type": {"owner": "AWS", "category": "Build", "provider": "CodeBuild", "version": "1"},
        "version": 3,
        "ratio": 0.25,
        "flag": True,
        "nothing": None,
        "source-ip": "10.0.3.7",
        "output-artifacts": [
            {"name": "BuildOut", "s3location": {"bucket": "b", "key": "demo/BuildOut/Ab12Cd3"}},
            {"name": "Reports", "s3location": {"bucket": "b", "key": "demo/Reports/Zz99"}},
        ],
        "tags": ["blue", "green"],
    },
}

# (pattern, matches EVENT?) — every operator, each matching and not.
PATTERNS: list[tuple[dict[str, Any], bool]] = [
    ({"source": ["aws.codepipeline"]}, True),
    ({"source": ["aws.codebuild"]}, False),
    ({"source": ["aws.codebuild", "aws.codepipeline"]}, True),
    ({"detail-type": ["CodePipeline Action Execution State Change"]}, True),
    ({"detail": {"pipeline": ["demo"]}}, True),
    ({"detail": {"pipeline": ["other"]}}, False),
    ({"detail": {"type": {"provider": ["CodeBuild"]}}}, True),
    ({"detail": {"type": {"provider": ["Commands"]}}}, False),
    ({"resources": ["arn:aws:codepipeline:us-east-1:000000000000:demo"]}, True),
    ({"resources": [{"prefix": "arn:aws:codepipeline:"}]}, True),
    ({"detail": {"tags": ["green"]}}, True),
    ({"detail": {"tags": ["red"]}}, False),
    ({"detail": {"version": [3]}}, True),
    ({"detail": {"version": [3.0]}}, True),
    ({"detail": {"version": ["3"]}}, False),
    ({"detail": {"flag": [True]}}, True),
    ({"detail": {"flag": [False]}}, False),
    ({"detail": {"nothing": [None]}}, True),
    ({"detail": {"missing": [None]}}, False),
    ({"detail": {"state": [{"prefix": "SUCC"}]}}, True),
    ({"detail": {"state": [{"prefix": "FAIL"}]}}, False),
    ({"detail": {"state": [{"prefix": {"equals-ignore-case": "succ"}}]}}, True),
    ({"detail": {"state": [{"suffix": "EDED"}]}}, True),
    ({"detail": {"state": [{"suffix": "ED!"}]}}, False),
    ({"detail": {"state": [{"suffix": {"equals-ignore-case": "eded"}}]}}, True),
    ({"detail": {"state": [{"equals-ignore-case": "succeeded"}]}}, True),
    ({"detail": {"state": [{"equals-ignore-case": "failed"}]}}, False),
    ({"detail": {"stage": [{"wildcard": "B*d"}]}}, True),
    ({"detail": {"stage": [{"wildcard": "D*"}]}}, False),
    ({"detail": {"state": [{"anything-but": "FAILED"}]}}, True),
    ({"detail": {"state": [{"anything-but": ["FAILED", "SUCCEEDED"]}]}}, False),
    ({"detail": {"state": [{"anything-but": {"prefix": "SUC"}}]}}, False),
    ({"detail": {"state": [{"anything-but": {"prefix": "FAI"}}]}}, True),
    ({"detail": {"state": [{"anything-but": {"suffix": "EDED"}}]}}, False),
    ({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["succeeded"]}}]}}, False),
    ({"detail": {"version": [{"anything-but": [1, 2]}]}}, True),
    ({"detail": {"version": [{"anything-but": 3}]}}, False),
    ({"detail": {"missing": [{"anything-but": "x"}]}}, False),
    ({"detail": {"version": [{"numeric": [">", 2]}]}}, True),
    ({"detail": {"version": [{"numeric": [">", 3]}]}}, False),
    ({"detail": {"version": [{"numeric": [">=", 3, "<", 4]}]}}, True),
    ({"detail": {"version": [{"numeric": [">", 3, "<=", 10]}]}}, False),
    ({"detail": {"ratio": [{"numeric": ["=", 0.25]}]}}, True),
    ({"detail": {"state": [{"numeric": [">", 0]}]}}, False),
    ({"detail": {"stage": [{"exists": True}]}}, True),
    ({"detail": {"missing": [{"exists": True}]}}, False),
    ({"detail": {"missing": [{"exists": False}]}}, True),
    ({"detail": {"stage": [{"exists": False}]}}, False),
    ({"detail": {"type": [{"exists": True}]}}, False),  # exists only sees leaf fields
    ({"detail": {"absent": {"deeper": [{"exists": False}]}}}, True),
    ({"detail": {"source-ip": [{"cidr": "10.0.0.0/16"}]}}, True),
    ({"detail": {"source-ip": [{"cidr": "192.168.0.0/24"}]}}, False),
    ({"detail": {"output-artifacts": {"name": ["Reports"]}}}, True),
    ({"detail": {"output-artifacts": {"s3location": {"key": [{"prefix": "demo/Build"}]}}}}, True),
    ({"detail": {"output-artifacts": {"name": ["Logs"]}}}, False),
    ({"detail": {"$or": [{"state": ["FAILED"]}, {"stage": ["Build"]}]}}, True),
    ({"detail": {"$or": [{"state": ["FAILED"]}, {"stage": ["Deploy"]}]}}, False),
    ({"$or": [{"source": ["x"]}, {"detail": {"action": ["Compile"]}}]}, True),
    (
        {
            "source": ["aws.codepipeline"],
            "detail-type": [
                "CodePipeline Pipeline Execution State Change",
                "CodePipeline Stage Execution State Change",
                "CodePipeline Action Execution State Change",
            ],
            "detail": {"pipeline": ["demo"], "state": ["SUCCEEDED", "FAILED"]},
        },
        True,
    ),
    ({"source": ["aws.codepipeline"], "detail": {"pipeline": ["other"]}}, False),
]


@pytest.mark.parametrize(
    ("pattern", "expected"), PATTERNS, ids=[json.dumps(p) for p, _ in PATTERNS]
)
def test_pattern_matching_table(pattern: dict[str, Any], expected: bool) -> None:
    assert compile_pattern(json.dumps(pattern)).matches(EVENT) is expected


def test_test_event_pattern_over_the_wire_agrees_with_the_table(endpoint: Endpoint) -> None:
    events = endpoint.client("events")
    event_text = json.dumps(EVENT)
    for pattern, expected in PATTERNS:
        result = events.test_event_pattern(EventPattern=json.dumps(pattern), Event=event_text)
        assert result["Result"] is expected, pattern
    with pytest.raises(ClientError, match="mandatory field id") as excinfo:
        events.test_event_pattern(
            EventPattern='{"source": ["x"]}', Event=json.dumps({"source": "x"})
        )
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


INVALID_PATTERNS = [
    "{not json",
    "[]",
    "{}",
    '{"source": "aws.codepipeline"}',
    '{"source": []}',
    '{"detail": {}}',
    '{"source": [{"prefix": 1}]}',
    '{"source": [{"nope": "x"}]}',
    '{"source": [{"prefix": "a", "suffix": "b"}]}',
    '{"detail": {"n": [{"numeric": [">", "one"]}]}}',
    '{"detail": {"n": [{"numeric": ["<", 1, ">", 0]}]}}',
    '{"detail": {"n": [{"numeric": [">", 5, "<", 1]}]}}',
    '{"detail": {"n": [{"numeric": ["~", 1]}]}}',
    '{"detail": {"n": [{"numeric": [">", 6e9]}]}}',
    '{"detail": {"n": [{"exists": "yes"}]}}',
    '{"detail": {"n": [{"anything-but": []}]}}',
    '{"detail": {"n": [{"anything-but": [null]}]}}',
    '{"detail": {"n": [{"cidr": "not-an-ip"}]}}',
    '{"detail": {"n": [{"wildcard": "a**b"}]}}',
    '{"detail": {"n": [[1]]}}',
    '{"$or": [{"source": ["x"]}]}',
    '{"$or": "x"}',
]


def test_invalid_patterns_are_refused(endpoint: Endpoint) -> None:
    events = endpoint.client("events")
    for pattern in INVALID_PATTERNS:
        with pytest.raises(events.exceptions.InvalidEventPatternException) as excinfo:
            events.put_rule(Name="bad", EventPattern=pattern)
        assert excinfo.value.response["Error"]["Message"].startswith(
            "Event pattern is not valid. Reason: "
        ), pattern
    assert events.list_rules()["Rules"] == []
    with pytest.raises(ClientError, match="EventPattern or ScheduleExpression") as excinfo:
        events.put_rule(Name="empty")
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError, match="scheduled rules"):
        events.put_rule(Name="cron", ScheduleExpression="rate(5 minutes)")


# Rules and targets ----------------------------------------------------------------------------


def test_rule_lifecycle(endpoint: Endpoint) -> None:
    events = endpoint.client("events")
    pattern = json.dumps({"source": ["aws.codepipeline"]})
    arn = events.put_rule(Name="cp-events", EventPattern=pattern, Description="all of them")[
        "RuleArn"
    ]
    assert arn == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/cp-events"
    described = events.describe_rule(Name="cp-events")
    described.pop("ResponseMetadata")
    assert described == {
        "Name": "cp-events",
        "Arn": arn,
        "EventPattern": pattern,
        "State": "ENABLED",
        "Description": "all of them",
        "EventBusName": "default",
        "CreatedBy": ACCOUNT,
    }
    events.disable_rule(Name="cp-events")
    assert events.describe_rule(Name="cp-events")["State"] == "DISABLED"
    # An update that names no state keeps the rule's state.
    events.put_rule(Name="cp-events", EventPattern=pattern)
    assert events.describe_rule(Name="cp-events")["State"] == "DISABLED"
    events.enable_rule(Name="cp-events")
    assert events.describe_rule(Name="cp-events")["State"] == "ENABLED"

    for name in ("cp-a", "cp-b", "other"):
        events.put_rule(Name=name, EventPattern=pattern, State="DISABLED")
    first = events.list_rules(NamePrefix="cp-", Limit=2)
    assert [r["Name"] for r in first["Rules"]] == ["cp-a", "cp-b"]
    second = events.list_rules(NamePrefix="cp-", Limit=2, NextToken=first["NextToken"])
    assert [r["Name"] for r in second["Rules"]] == ["cp-events"]
    assert "NextToken" not in second
    assert len(events.list_rules()["Rules"]) == 4

    for missing in (events.describe_rule, events.enable_rule, events.disable_rule):
        with pytest.raises(events.exceptions.ResourceNotFoundException):
            missing(Name="nope")
    events.delete_rule(Name="nope")  # deleting a missing rule succeeds, as AWS documents
    events.delete_rule(Name="other")
    assert "other" not in [r["Name"] for r in events.list_rules()["Rules"]]


def test_targets_only_sqs_queues_of_this_endpoint(endpoint: Endpoint) -> None:
    events = endpoint.client("events")
    sqs = endpoint.client("sqs")
    sqs.create_queue(QueueName="inbox")
    queue_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:inbox"
    events.put_rule(Name="r", EventPattern='{"source": ["my.app"]}')
    result = events.put_targets(
        Rule="r",
        Targets=[
            {"Id": "q", "Arn": queue_arn},
            {"Id": "fn", "Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"},
            {"Id": "far", "Arn": "arn:aws:sqs:eu-west-1:123456789012:inbox"},
        ],
    )
    assert result["FailedEntryCount"] == 2
    assert [(f["TargetId"], f["ErrorCode"]) for f in result["FailedEntries"]] == [
        ("fn", "ValidationException"),
        ("far", "ValidationException"),
    ]
    assert "SQS queues" in result["FailedEntries"][0]["ErrorMessage"]
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="r")["Targets"]] == ["q"]
    assert events.list_rule_names_by_target(TargetArn=queue_arn)["RuleNames"] == ["r"]

    with pytest.raises(ClientError, match="has targets") as excinfo:
        events.delete_rule(Name="r")
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(events.exceptions.LimitExceededException):
        events.put_targets(Rule="r", Targets=[{"Id": f"t{i}", "Arn": queue_arn} for i in range(5)])
    with pytest.raises(ClientError, match="Only one of Input"):
        events.put_targets(
            Rule="r", Targets=[{"Id": "both", "Arn": queue_arn, "Input": "{}", "InputPath": "$"}]
        )
    with pytest.raises(ClientError, match="invalid placeholder"):
        events.put_targets(
            Rule="r",
            Targets=[
                {
                    "Id": "tpl",
                    "Arn": queue_arn,
                    "InputTransformer": {"InputTemplate": '"<nope>"'},
                }
            ],
        )
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_targets(Rule="nope", Targets=[{"Id": "q", "Arn": queue_arn}])
    assert events.remove_targets(Rule="r", Ids=["q", "never-there"])["FailedEntryCount"] == 0
    assert events.list_targets_by_rule(Rule="r")["Targets"] == []
    events.delete_rule(Name="r")


def receive_bodies(sqs: Any, url: str, expected: int) -> list[str]:
    """Every message body in the queue (deleting them): polls until `expected` arrived, then
    takes whatever else is there at once, so extra deliveries show."""
    bodies: list[str] = []
    while True:
        wait = 1 if len(bodies) < expected else 0
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        if "Messages" not in reply:
            return bodies
        for message in reply["Messages"]:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_put_events_are_delivered_through_the_rules(endpoint: Endpoint) -> None:
    events = endpoint.client("events")
    sqs = endpoint.client("sqs")
    url = sqs.create_queue(QueueName="app-events")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:app-events"
    events.put_rule(
        Name="deploys", EventPattern='{"source": ["my.app"], "detail": {"kind": ["deploy"]}}'
    )
    events.put_targets(Rule="deploys", Targets=[{"Id": "q", "Arn": arn}])
    events.put_rule(Name="quiet", EventPattern='{"source": ["my.app"]}', State="DISABLED")
    events.put_targets(Rule="quiet", Targets=[{"Id": "q", "Arn": arn}])

    reply = events.put_events(
        Entries=[
            {
                "Source": "my.app",
                "DetailType": "Deployment",
                "Detail": '{"kind": "deploy", "n": 1}',
                "Resources": ["arn:aws:s3:::b"],
            },
            {"Source": "my.app", "DetailType": "Deployment", "Detail": '{"kind": "test"}'},
            {"Source": "aws.codepipeline", "DetailType": "X", "Detail": "{}"},
            {"Source": "my.app", "DetailType": "X", "Detail": "[1]"},
            {"Source": "my.app", "Detail": "{}"},
            {"Source": "my.app", "DetailType": "X", "Detail": "{}", "EventBusName": "nope"},
        ]
    )
    assert reply["FailedEntryCount"] == 4
    codes = [entry.get("ErrorCode") for entry in reply["Entries"]]
    assert codes == [
        None,
        None,
        "NotAuthorizedForSourceException",
        "MalformedDetail",
        "InvalidArgument",
        "ResourceNotFoundException",
    ]
    bodies = receive_bodies(sqs, url, 1)
    assert len(bodies) == 1
    event = json.loads(bodies[0])
    assert list(event) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    assert event["id"] == reply["Entries"][0]["EventId"]
    assert event["detail"] == {"kind": "deploy", "n": 1}
    assert event["account"] == ACCOUNT
    assert event["region"] == "us-east-1"
    assert event["resources"] == ["arn:aws:s3:::b"]
    assert event["time"] == "2026-01-01T00:00:00Z"  # the endpoint's ManualClock


def test_target_input_settings_shape_the_message_body(endpoint: Endpoint) -> None:
    events = endpoint.client("events")
    sqs = endpoint.client("sqs")
    urls = {}
    for name in ("whole", "constant", "path", "transformed", "text"):
        urls[name] = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:"
    events.put_rule(Name="shape", EventPattern='{"source": ["my.app"]}')
    events.put_targets(
        Rule="shape",
        Targets=[
            {"Id": "1", "Arn": arn + "whole"},
            {"Id": "2", "Arn": arn + "constant", "Input": '{"fixed": true}'},
            {"Id": "3", "Arn": arn + "path", "InputPath": "$.detail.build"},
            {
                "Id": "4",
                "Arn": arn + "transformed",
                "InputTransformer": {
                    "InputPathsMap": {
                        "p": "$.detail.pipeline",
                        "n": "$.detail.build.number",
                        "x": "$.detail.none",
                    },
                    "InputTemplate": '{"pipeline": <p>, "label": "<p> #<n>", "n": <n>, "x": <x>, "rule": "<aws.events.rule-name>"}',
                },
            },
            {
                "Id": "5",
                "Arn": arn + "text",
                "InputTransformer": {
                    "InputPathsMap": {"p": "$.detail.pipeline"},
                    "InputTemplate": '"<p> changed"',
                },
            },
        ],
    )
    detail = {"pipeline": 'demo "q"', "build": {"number": 7, "ok": True}}
    events.put_events(
        Entries=[{"Source": "my.app", "DetailType": "B", "Detail": json.dumps(detail)}]
    )
    whole = json.loads(receive_bodies(sqs, urls["whole"], 1)[0])
    assert whole["detail"] == detail
    assert receive_bodies(sqs, urls["constant"], 1) == ['{"fixed": true}']
    assert json.loads(receive_bodies(sqs, urls["path"], 1)[0]) == {"number": 7, "ok": True}
    assert json.loads(receive_bodies(sqs, urls["transformed"], 1)[0]) == {
        "pipeline": 'demo "q"',
        "label": 'demo "q" #7',
        "n": 7,
        "x": None,
        "rule": "shape",
    }
    assert json.loads(receive_bodies(sqs, urls["text"], 1)[0]) == 'demo "q" changed'


def test_named_buses(endpoint: Endpoint) -> None:
    events = endpoint.client("events")
    sqs = endpoint.client("sqs")
    url = sqs.create_queue(QueueName="bus-inbox")["QueueUrl"]
    bus_arn = events.create_event_bus(Name="builds", Description="CI")["EventBusArn"]
    assert bus_arn == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/builds"
    with pytest.raises(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name="builds")
    described = events.describe_event_bus(Name="builds")
    assert (described["Name"], described["Arn"], described["Description"]) == (
        "builds",
        bus_arn,
        "CI",
    )
    assert events.describe_event_bus()["Name"] == "default"
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["builds", "default"]

    rule_arn = events.put_rule(Name="r", EventBusName="builds", EventPattern='{"source": ["ci"]}')[
        "RuleArn"
    ]
    assert rule_arn == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/builds/r"
    events.put_targets(
        Rule="r",
        EventBusName=bus_arn,
        Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:bus-inbox"}],
    )
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_rule(Name="r")  # it lives on the named bus, not the default one
    events.put_events(Entries=[{"Source": "ci", "DetailType": "on default", "Detail": "{}"}])
    events.put_events(
        Entries=[
            {"Source": "ci", "DetailType": "on builds", "Detail": "{}", "EventBusName": "builds"}
        ]
    )
    bodies = receive_bodies(sqs, url, 1)
    assert [json.loads(b)["detail-type"] for b in bodies] == ["on builds"]
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_rule(Name="r", EventBusName="nope", EventPattern='{"source": ["ci"]}')
    with pytest.raises(ClientError, match="still has rules"):
        events.delete_event_bus(Name="builds")
    events.remove_targets(Rule="r", EventBusName="builds", Ids=["q"])
    events.delete_rule(Name="r", EventBusName="builds")
    events.delete_event_bus(Name="builds")
    with pytest.raises(ClientError, match="Cannot delete event bus default"):
        events.delete_event_bus(Name="default")
    assert [b["Name"] for b in events.list_event_buses()["EventBuses"]] == ["default"]


def test_rules_and_targets_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Endpoint(data).start()
    try:
        first.client("sqs").create_queue(QueueName="kept")
        events = first.client("events")
        events.create_event_bus(Name="side")
        events.put_rule(Name="kept", EventPattern='{"source": ["my.app"]}', State="DISABLED")
        events.put_targets(
            Rule="kept",
            Targets=[
                {"Id": "a", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:kept", "InputPath": "$.detail"}
            ],
        )
    finally:
        first.stop()
    second = Endpoint(data).start()
    try:
        events = second.client("events")
        assert events.describe_rule(Name="kept")["State"] == "DISABLED"
        assert events.list_targets_by_rule(Rule="kept")["Targets"] == [
            {"Id": "a", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:kept", "InputPath": "$.detail"}
        ]
        assert "side" in [b["Name"] for b in events.list_event_buses()["EventBuses"]]
        events.enable_rule(Name="kept")
        events.put_events(Entries=[{"Source": "my.app", "DetailType": "X", "Detail": '{"a": 1}'}])
        sqs = second.client("sqs")
        url = sqs.get_queue_url(QueueName="kept")["QueueUrl"]
        assert receive_bodies(sqs, url, 1) == ['{"a":1}']
    finally:
        second.stop()
