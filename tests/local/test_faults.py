"""The endpoint's call counts and injected faults, observed through real boto3 clients."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from tests import faults
from tests.endpoint import Endpoint
from tests.process import ServerProcess

ACCOUNT = "000000000000"

# One attempt: the raw answer ("max_attempts" alone means retries in botocore).
ONE_ATTEMPT = Config(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    s3={"addressing_style": "path"},
)


def raw_client(endpoint: Endpoint, service: str, config: Config = ONE_ATTEMPT) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def error_of(call: Any) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return caught.value


# Call counts ------------------------------------------------------------------------------


def test_every_request_is_counted_by_service_and_operation(endpoint: Endpoint) -> None:
    codepipeline = raw_client(endpoint, "codepipeline")
    sqs = raw_client(endpoint, "sqs")
    s3 = raw_client(endpoint, "s3")
    codepipeline.list_pipelines()
    codepipeline.list_pipelines()
    error_of(lambda: codepipeline.get_pipeline_state(name="missing"))
    sqs.create_queue(QueueName="counted")
    s3.create_bucket(Bucket="counted")
    s3.list_objects_v2(Bucket="counted")
    faults.faults(endpoint)  # control routes are not counted

    assert faults.calls(endpoint) == {
        "codepipeline.ListPipelines": 2,
        "codepipeline.GetPipelineState": 1,
        "sqs.CreateQueue": 1,
        "s3.PUT": 1,
        "s3.GET": 1,
    }
    assert faults.control(endpoint, "calls")["total"] == 6
    assert faults.mutating(faults.calls(endpoint)) == {"sqs.CreateQueue": 1, "s3.PUT": 1}

    assert faults.reset_calls(endpoint)["codepipeline.ListPipelines"] == 2
    assert faults.calls(endpoint) == {}
    sqs.list_queues()
    assert faults.calls(endpoint) == {"sqs.ListQueues": 1}


def test_the_counts_live_on_the_backend(endpoint: Endpoint) -> None:
    raw_client(endpoint, "codepipeline").list_pipelines()
    assert endpoint.call(lambda: dict(endpoint.backend.calls)) == {"codepipeline.ListPipelines": 1}


# Throttling and failures ------------------------------------------------------------------


def test_codepipeline_throttling_is_awss_answer(endpoint: Endpoint) -> None:
    codepipeline = raw_client(endpoint, "codepipeline")
    faults.set_faults(endpoint, [{"match": "codepipeline.ListPipelines", "throttle": 100}])
    error = error_of(codepipeline.list_pipelines)
    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert error.response["Error"]["Message"] == "Rate exceeded"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Another operation of the service is untouched.
    codepipeline.list_action_types()
    rule = faults.faults(endpoint)["rules"][0]
    assert rule["hits"] == {
        "calls": 1,
        "throttled": 1,
        "failed": 0,
        "unreachable": 0,
        "denied": 0,
        "delayed": 0,
    }


def test_botocore_retries_a_throttled_call_and_succeeds(endpoint: Endpoint) -> None:
    retrying = Config(retries={"total_max_attempts": 3, "mode": "standard"})
    codepipeline = raw_client(endpoint, "codepipeline", retrying)
    faults.set_faults(endpoint, [{"match": "codepipeline", "throttle": 100, "times": 2}])
    answer = codepipeline.list_pipelines()
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert faults.calls(endpoint) == {"codepipeline.ListPipelines": 3}
    assert faults.faults(endpoint)["rules"][0]["spent"] is True
    # A spent rule no longer matches.
    assert codepipeline.list_pipelines()["ResponseMetadata"]["RetryAttempts"] == 0


def test_sqs_throttling_is_request_throttled(endpoint: Endpoint) -> None:
    sqs = raw_client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="busy")["QueueUrl"]
    faults.set_faults(endpoint, [{"match": "sqs.ReceiveMessage", "throttle": 100}])
    with pytest.raises(sqs.exceptions.RequestThrottled) as caught:
        sqs.receive_message(QueueUrl=url)
    assert caught.value.response["Error"]["Code"] == "RequestThrottled"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    sqs.send_message(QueueUrl=url, MessageBody="still served")


@pytest.mark.parametrize(
    ("status", "code"), [(500, "InternalFailure"), (503, "ServiceUnavailable")]
)
def test_server_errors(endpoint: Endpoint, status: int, code: str) -> None:
    events = raw_client(endpoint, "events")
    faults.set_faults(endpoint, [{"match": "events", "fail": 100, "failStatus": status}])
    error = error_of(events.list_rules)
    assert error.response["Error"]["Code"] == code
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_s3_gets_its_own_xml_errors(endpoint: Endpoint) -> None:
    s3 = raw_client(endpoint, "s3")
    s3.create_bucket(Bucket="slow")
    faults.set_faults(
        endpoint,
        [
            {"match": "s3.GET", "throttle": 100},
            {"match": "s3.PUT", "fail": 100, "failStatus": 500},
        ],
    )
    throttled = error_of(lambda: s3.list_objects_v2(Bucket="slow"))
    assert throttled.response["Error"]["Code"] == "SlowDown"
    assert throttled.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    failed = error_of(lambda: s3.put_object(Bucket="slow", Key="k", Body=b"x"))
    assert failed.response["Error"]["Code"] == "InternalError"
    assert failed.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    faults.clear_faults(endpoint)
    # The failed PUT was never served.
    assert s3.list_objects_v2(Bucket="slow")["KeyCount"] == 0


def test_unreachable_closes_the_connection_and_serves_nothing(endpoint: Endpoint) -> None:
    sqs = raw_client(endpoint, "sqs")
    faults.set_faults(endpoint, [{"match": "sqs.CreateQueue", "unreachable": 100}])
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        sqs.create_queue(QueueName="never")
    faults.clear_faults(endpoint)
    assert "QueueUrls" not in sqs.list_queues()
    assert faults.calls(endpoint) == {"sqs.CreateQueue": 1, "sqs.ListQueues": 1}


def test_latency_delays_only_the_matching_calls(endpoint: Endpoint) -> None:
    codepipeline = raw_client(endpoint, "codepipeline")
    faults.set_faults(endpoint, [{"match": "codepipeline.ListPipelines", "latencyMs": 300}])
    started = time.monotonic()
    codepipeline.list_pipelines()
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    codepipeline.list_action_types()
    assert time.monotonic() - started < 0.3
    assert faults.faults(endpoint)["rules"][0]["hits"]["delayed"] == 1


def test_the_most_specific_rule_wins(endpoint: Endpoint) -> None:
    codepipeline = raw_client(endpoint, "codepipeline")
    sqs = raw_client(endpoint, "sqs")
    faults.set_faults(
        endpoint,
        [
            {"match": "*", "fail": 100},
            {"match": "codepipeline", "throttle": 100},
            {"match": "codepipeline.ListActionTypes", "latencyMs": 1},
        ],
    )
    assert error_of(codepipeline.list_pipelines).response["Error"]["Code"] == "ThrottlingException"
    codepipeline.list_action_types()
    assert error_of(sqs.list_queues).response["Error"]["Code"] == "InternalFailure"
    hits = [rule["hits"]["calls"] for rule in faults.faults(endpoint)["rules"]]
    assert hits == [1, 1, 1]


def throttle_pattern(endpoint: Endpoint, seed: int, calls: int = 40) -> list[bool]:
    codepipeline = raw_client(endpoint, "codepipeline")
    faults.set_faults(endpoint, [{"match": "codepipeline", "throttle": 50}], seed=seed)
    pattern = []
    for _ in range(calls):
        try:
            codepipeline.list_pipelines()
            pattern.append(False)
        except codepipeline.exceptions.ClientError:
            pattern.append(True)
    return pattern


def test_a_seed_gives_the_same_faults(endpoint: Endpoint) -> None:
    first = throttle_pattern(endpoint, seed=11)
    assert first == throttle_pattern(endpoint, seed=11)
    assert 5 < sum(first) < 35
    assert throttle_pattern(endpoint, seed=12) != first
    again = throttle_pattern(endpoint, seed=11)
    assert faults.faults(endpoint)["rules"][0]["hits"] == {
        "calls": 40,
        "throttled": sum(again),
        "failed": 0,
        "unreachable": 0,
        "denied": 0,
        "delayed": 0,
    }


def test_clear_ends_every_fault(endpoint: Endpoint) -> None:
    codepipeline = raw_client(endpoint, "codepipeline")
    faults.set_faults(endpoint, [{"match": "*", "throttle": 100}], {"drop": 100})
    error_of(codepipeline.list_pipelines)
    before = faults.clear_faults(endpoint)
    assert before["rules"][0]["hits"]["throttled"] == 1
    assert before["delivery"]["drop"] == 100
    codepipeline.list_pipelines()
    assert faults.faults(endpoint) == {"seed": 0, "rules": [], "delivery": None}


# Access denied ----------------------------------------------------------------------------


def not_authorized(action: str) -> str:
    return f"is not authorized to perform: {action} on resource: "


def test_a_denied_json_call_is_access_denied_naming_the_action(endpoint: Endpoint) -> None:
    retrying = Config(retries={"total_max_attempts": 3, "mode": "standard"})
    logs = raw_client(endpoint, "logs", retrying)
    codepipeline = raw_client(endpoint, "codepipeline")
    faults.set_faults(endpoint, [{"match": "logs.GetLogEvents", "deny": 100}])
    with pytest.raises(logs.exceptions.AccessDeniedException) as caught:
        logs.get_log_events(logGroupName="/aws/codebuild/x", logStreamName="s")
    error = caught.value.response
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = error["Error"]["Message"]
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/")
    assert not_authorized("logs:GetLogEvents") in message
    assert message.endswith("because no identity-based policy allows the logs:GetLogEvents action")
    # Not retried (a denial is not transient), and the rest of the service is served.
    assert faults.calls(endpoint) == {"logs.GetLogEvents": 1}
    logs.describe_log_groups()
    codepipeline.list_pipelines()
    assert faults.faults(endpoint)["rules"][0]["hits"]["denied"] == 1
    faults.clear_faults(endpoint)
    served = error_of(
        lambda: logs.get_log_events(logGroupName="/aws/codebuild/x", logStreamName="s")
    )
    assert served.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_client_layer_names_the_missing_permission(endpoint: Endpoint) -> None:
    from tui.aws.errors import AccessDenied, describe

    codepipeline = raw_client(endpoint, "codepipeline")
    faults.set_faults(endpoint, [{"match": "codepipeline.PutApprovalResult", "deny": 100}])
    denied = error_of(
        lambda: codepipeline.put_approval_result(
            pipelineName="p",
            stageName="s",
            actionName="a",
            result={"summary": "ok", "status": "Approved"},
            token="t",
        )
    )
    problem = describe(denied)
    assert isinstance(problem, AccessDenied)
    assert problem.iam_action == "codepipeline:PutApprovalResult"


def test_a_denied_sqs_call_is_query_compatible_access_denied(endpoint: Endpoint) -> None:
    sqs = raw_client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="guarded")["QueueUrl"]
    faults.set_faults(endpoint, [{"match": "sqs.DeleteMessageBatch", "deny": 100}])
    denied = error_of(
        lambda: sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "1", "ReceiptHandle": "r"}])
    )
    assert denied.response["Error"]["Code"] == "AccessDenied"
    assert denied.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # AWS authorises the batch call as its single counterpart.
    assert not_authorized("sqs:DeleteMessage") in denied.response["Error"]["Message"]
    sqs.send_message(QueueUrl=url, MessageBody="still served")


def test_a_denied_s3_call_is_access_denied_xml(endpoint: Endpoint) -> None:
    s3 = raw_client(endpoint, "s3")
    s3.create_bucket(Bucket="guarded")
    faults.set_faults(endpoint, [{"match": "s3.PUT", "deny": 100, "times": 1}])
    denied = error_of(lambda: s3.put_object(Bucket="guarded", Key="k", Body=b"x"))
    assert denied.response["Error"]["Code"] == "AccessDenied"
    assert denied.response["Error"]["Message"] == "Access Denied"
    assert denied.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # The denied PUT was never served; the spent rule lets the next one through.
    assert s3.list_objects_v2(Bucket="guarded")["KeyCount"] == 0
    s3.put_object(Bucket="guarded", Key="k", Body=b"x")
    assert s3.list_objects_v2(Bucket="guarded")["KeyCount"] == 1


def test_deny_shares_the_roll_with_the_other_faults(endpoint: Endpoint) -> None:
    codepipeline = raw_client(endpoint, "codepipeline")
    faults.set_faults(endpoint, [{"match": "codepipeline", "throttle": 50, "deny": 50}], seed=5)
    codes = [error_of(codepipeline.list_pipelines).response["Error"]["Code"] for _ in range(30)]
    assert set(codes) == {"ThrottlingException", "AccessDeniedException"}
    hits = faults.faults(endpoint)["rules"][0]["hits"]
    assert hits["denied"] == codes.count("AccessDeniedException")
    assert hits["throttled"] == 30 - hits["denied"]


# Bad input --------------------------------------------------------------------------------

BAD_BODIES: list[tuple[Any, str]] = [
    ({"rule": []}, "Unknown field(s) rule"),
    ({"seed": "7"}, "'seed' must be an integer"),
    ({"seed": True}, "'seed' must be an integer"),
    ({"rules": {}}, "'rules' must be a list"),
    ({"rules": ["x"]}, "rules[0] must be an object"),
    ({"rules": [{"throttle": 5}]}, "'match' must name an operation"),
    ({"rules": [{"match": "dynamodb", "throttle": 5}]}, "'dynamodb' is not a service"),
    ({"rules": [{"match": "codepipeline.Nope", "throttle": 5}]}, "'Nope' is not an operation"),
    ({"rules": [{"match": "s3.PATCH", "throttle": 5}]}, "'PATCH' is not an HTTP method"),
    ({"rules": [{"match": "*", "throttle": 101}]}, "'throttle' must be between 0 and 100"),
    ({"rules": [{"match": "*", "fail": -1}]}, "'fail' must be between 0 and 100"),
    ({"rules": [{"match": "*", "fail": "10"}]}, "'fail' must be a percentage"),
    ({"rules": [{"match": "*", "throttle": 60, "fail": 50}]}, "it must be at most 100%"),
    ({"rules": [{"match": "*", "deny": 101}]}, "'deny' must be between 0 and 100"),
    ({"rules": [{"match": "*", "deny": True}]}, "'deny' must be a percentage"),
    ({"rules": [{"match": "*", "deny": 60, "fail": 50}]}, "+ deny is 110%"),
    ({"rules": [{"match": "*", "fail": 5, "failStatus": 502}]}, "'failStatus' must be 500 or 503"),
    ({"rules": [{"match": "*", "latencyMs": 1.5}]}, "'latencyMs' must be a whole number"),
    ({"rules": [{"match": "*", "latencyMs": 60_001}]}, "'latencyMs' must be between 0 and 60000"),
    ({"rules": [{"match": "*", "throttle": 5, "times": 0}]}, "'times' must be between 1"),
    ({"rules": [{"match": "*"}]}, "rules[0] does nothing"),
    ({"rules": [{"match": "*", "throttle": 5, "percent": 3}]}, "unknown field(s) percent"),
    ({"delivery": [10]}, "'delivery' must be an object"),
    ({"delivery": {"lose": 10}}, "delivery: unknown field(s) lose"),
    ({"delivery": {"drop": 200}}, "'drop' must be between 0 and 100"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_bad_bodies_are_clear_400s_and_change_nothing(
    endpoint: Endpoint, body: Any, message: str
) -> None:
    faults.set_faults(endpoint, [{"match": "sqs", "latencyMs": 1}], seed=3)
    with pytest.raises(faults.ControlError) as caught:
        faults.control(endpoint, "faults", "POST", body)
    assert caught.value.status == 400
    assert caught.value.code == "ValidationException"
    assert message in caught.value.message
    state = faults.faults(endpoint)
    assert state["seed"] == 3
    assert [rule["match"] for rule in state["rules"]] == ["sqs"]


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"rules"'])
def test_a_body_that_is_not_a_json_object_is_a_400(endpoint: Endpoint, body: bytes) -> None:
    request = urllib.request.Request(f"{endpoint.url}/_local/faults", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["__type"] == "SerializationException"
    assert faults.faults(endpoint)["rules"] == []


# Event delivery faults --------------------------------------------------------------------


def subscribe_custom(endpoint: Endpoint, queue: str) -> tuple[Any, str]:
    sqs = raw_client(endpoint, "sqs")
    events = raw_client(endpoint, "events")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    events.put_rule(Name=queue, EventPattern=json.dumps({"source": ["test.faults"]}))
    answer = events.put_targets(
        Rule=queue, Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}"}]
    )
    assert answer["FailedEntryCount"] == 0
    return events, url


def put_numbered(events: Any, numbers: range) -> None:
    entries = [
        {"Source": "test.faults", "DetailType": "n", "Detail": json.dumps({"n": n})}
        for n in numbers
    ]
    for start in range(0, len(entries), 10):
        answer = events.put_events(Entries=entries[start : start + 10])
        assert answer["FailedEntryCount"] == 0


def received_numbers(endpoint: Endpoint, url: str) -> list[int]:
    """Every message in the queue, in the order the queue hands them out (deleting them)."""
    sqs = raw_client(endpoint, "sqs")
    numbers: list[int] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return numbers
        for message in messages:
            numbers.append(json.loads(message["Body"])["detail"]["n"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_dropped_events_never_arrive(endpoint: Endpoint) -> None:
    events, url = subscribe_custom(endpoint, "lossy")
    faults.set_faults(endpoint, delivery={"drop": 100})
    put_numbered(events, range(5))
    faults.clear_faults(endpoint)
    put_numbered(events, range(5, 7))
    assert received_numbers(endpoint, url) == [5, 6]


def test_duplicated_events_arrive_twice_as_two_messages(endpoint: Endpoint) -> None:
    events, url = subscribe_custom(endpoint, "twice")
    faults.set_faults(endpoint, delivery={"duplicate": 100})
    put_numbered(events, range(3))
    sqs = raw_client(endpoint, "sqs")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["detail"]["n"] for m in messages) == [0, 0, 1, 1, 2, 2]
    assert len({m["MessageId"] for m in messages}) == 6
    counts = faults.faults(endpoint)["delivery"]["counts"]
    assert counts == {"deliveries": 3, "duplicated": 3}


def test_reordered_events_arrive_after_the_next_and_none_is_lost(endpoint: Endpoint) -> None:
    events, url = subscribe_custom(endpoint, "shuffled")
    faults.set_faults(endpoint, delivery={"reorder": 100})
    put_numbered(events, range(5))
    assert faults.faults(endpoint)["delivery"]["held"] == 1
    # Clearing writes the delivery still held back.
    faults.clear_faults(endpoint)
    assert received_numbers(endpoint, url) == [1, 0, 3, 2, 4]


def test_delivery_faults_follow_the_seed(endpoint: Endpoint) -> None:
    events, url = subscribe_custom(endpoint, "seeded")
    outcomes = []
    for seed in (5, 5, 6):
        faults.set_faults(
            endpoint, delivery={"drop": 20, "duplicate": 20, "reorder": 20}, seed=seed
        )
        put_numbered(events, range(30))
        faults.clear_faults(endpoint)
        outcomes.append(received_numbers(endpoint, url))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] != outcomes[2]
    numbers = outcomes[0]
    assert len(set(numbers)) < 30  # some dropped
    assert len(numbers) > len(set(numbers))  # some twice
    assert numbers != sorted(numbers)  # some out of order


def test_a_deleted_queue_loses_its_events_and_a_held_one_without_error(
    endpoint: Endpoint,
) -> None:
    events, url = subscribe_custom(endpoint, "gone")
    faults.set_faults(endpoint, delivery={"reorder": 100})
    put_numbered(events, range(1))
    raw_client(endpoint, "sqs").delete_queue(QueueUrl=url)
    put_numbered(events, range(1, 2))
    assert faults.clear_faults(endpoint)["delivery"]["held"] == 1
    assert faults.faults(endpoint)["delivery"] is None


# A separate server process ----------------------------------------------------------------


def test_counts_and_faults_of_a_server_process(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data", manual_clock=True) as server:
        faults.set_faults(server, [{"match": "codepipeline", "throttle": 100, "times": 1}])
        codepipeline = server.client("codepipeline")  # one retry: the second attempt passes
        assert codepipeline.list_pipelines()["ResponseMetadata"]["RetryAttempts"] == 1
        assert faults.calls(server) == {"codepipeline.ListPipelines": 2}
        assert faults.reset_calls(server) == {"codepipeline.ListPipelines": 2}
        assert faults.calls(server) == {}
        assert server.terminate() == 0
