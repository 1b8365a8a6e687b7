"""SQS through real boto3 clients against the endpoint (ManualClock): every operation, its errors.

The MD5 values asserted here were recorded from AWS by others (they are SQS's own digests of
the same bodies and attributes), so they check the algorithm, not our own round trip.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.endpoint import CLIENT_CONFIG, Endpoint

ACCOUNT = "000000000000"


def make_queue(sqs: Any, name: str, **attributes: str) -> str:
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def attributes_of(sqs: Any, url: str, *names: str) -> dict[str, str]:
    return dict(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])["Attributes"]
    )


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return dict(excinfo.value.response["Error"])


# Queues ---------------------------------------------------------------------------------------


def test_queue_url_comes_from_the_host_the_client_called(endpoint: Endpoint) -> None:
    port = endpoint.url.rsplit(":", 1)[1]
    by_name = boto3.client(
        "sqs",
        endpoint_url=f"http://localhost:{port}",
        region_name="us-east-1",
        config=CLIENT_CONFIG,
    )
    url = make_queue(by_name, "hosted")
    assert url == f"http://localhost:{port}/{ACCOUNT}/hosted"
    sqs = endpoint.client("sqs")
    assert sqs.get_queue_url(QueueName="hosted")["QueueUrl"] == f"{endpoint.url}/{ACCOUNT}/hosted"
    # URLs are read leniently: the last segment names the queue, whatever the host.
    sqs.send_message(QueueUrl=f"http://elsewhere:1/{ACCOUNT}/hosted", MessageBody="a")
    sqs.send_message(QueueUrl="hosted", MessageBody="b")
    assert attributes_of(sqs, url, "ApproximateNumberOfMessages") == {
        "ApproximateNumberOfMessages": "2"
    }
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=f"{endpoint.url}/123456789012/hosted", MessageBody="c")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="hosted", QueueOwnerAWSAccountId="123456789012")
    with pytest.raises(sqs.exceptions.InvalidAddress):
        sqs.send_message(QueueUrl="http://127.0.0.1:1/", MessageBody="d")


def test_create_queue_is_idempotent_only_for_equal_attributes(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "jobs", VisibilityTimeout="45", DelaySeconds="0")
    assert make_queue(sqs, "jobs", VisibilityTimeout="45") == url
    assert make_queue(sqs, "jobs") == url
    with pytest.raises(sqs.exceptions.QueueNameExists) as excinfo:
        make_queue(sqs, "jobs", VisibilityTimeout="46")
    assert error_of(excinfo)["Code"] == "QueueAlreadyExists"
    assert "VisibilityTimeout" in error_of(excinfo)["Message"]
    for bad in ("bad name", "x" * 81, ""):
        with pytest.raises(ClientError) as excinfo:
            sqs.create_queue(QueueName=bad)
        assert error_of(excinfo)["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError, match="FIFO queues are not supported"):
        sqs.create_queue(QueueName="ordered.fifo", Attributes={"FifoQueue": "true"})


def test_a_deleted_name_is_free_again_after_60_seconds(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "gone")
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDeletedRecently):
        make_queue(sqs, "gone")
    endpoint.advance(61)
    assert make_queue(sqs, "gone") == url


def test_list_queues_by_prefix_and_in_pages(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    assert "QueueUrls" not in sqs.list_queues()
    for name in ("app-a", "app-b", "app-c", "other"):
        make_queue(sqs, name)
    everything = sqs.list_queues()
    assert [u.rsplit("/", 1)[1] for u in everything["QueueUrls"]] == [
        "app-a",
        "app-b",
        "app-c",
        "other",
    ]
    assert "NextToken" not in everything
    first = sqs.list_queues(QueueNamePrefix="app-", MaxResults=2)
    assert [u.rsplit("/", 1)[1] for u in first["QueueUrls"]] == ["app-a", "app-b"]
    second = sqs.list_queues(QueueNamePrefix="app-", MaxResults=2, NextToken=first["NextToken"])
    assert [u.rsplit("/", 1)[1] for u in second["QueueUrls"]] == ["app-c"]
    assert "NextToken" not in second
    paged = [
        u
        for p in sqs.get_paginator("list_queues").paginate(PaginationConfig={"PageSize": 1})
        for u in p.get("QueueUrls", [])
    ]
    assert len(paged) == 4
    with pytest.raises(ClientError) as excinfo:
        sqs.list_queues(MaxResults=1001)
    assert error_of(excinfo)["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        sqs.list_queues(MaxResults=1, NextToken="garbage")
    assert error_of(excinfo)["Code"] == "InvalidParameterValue"


def test_queue_attributes_all_named_and_set(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "attrs", ReceiveMessageWaitTimeSeconds="5")
    everything = attributes_of(sqs, url)
    assert everything == {
        "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:attrs",
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
        "ApproximateNumberOfMessagesDelayed": "0",
        "CreatedTimestamp": everything["CreatedTimestamp"],
        "LastModifiedTimestamp": everything["CreatedTimestamp"],
        "VisibilityTimeout": "30",
        "MaximumMessageSize": "1048576",
        "MessageRetentionPeriod": "345600",
        "DelaySeconds": "0",
        "ReceiveMessageWaitTimeSeconds": "5",
        "SqsManagedSseEnabled": "true",
    }
    created = int(everything["CreatedTimestamp"])
    assert created == int(endpoint.clock.now())
    assert attributes_of(sqs, url, "QueueArn", "VisibilityTimeout") == {
        "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:attrs",
        "VisibilityTimeout": "30",
    }
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])

    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":'
        '"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"*"}]}'
    )
    endpoint.advance(10)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy, "VisibilityTimeout": "5"})
    after = attributes_of(sqs, url)
    assert after["Policy"] == policy
    assert after["VisibilityTimeout"] == "5"
    assert int(after["LastModifiedTimestamp"]) == created + 10
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert "Policy" not in attributes_of(sqs, url)

    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"QueueArn": "arn:aws:sqs:x"})
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.create_queue(QueueName="ro", Attributes={"ApproximateNumberOfMessages": "3"})
    for name, value in (
        ("VisibilityTimeout", "43201"),
        ("DelaySeconds", "-1"),
        ("MaximumMessageSize", "1023"),
        ("MessageRetentionPeriod", "soon"),
        ("Policy", "not json"),
    ):
        with pytest.raises(sqs.exceptions.InvalidAttributeValue):
            sqs.set_queue_attributes(QueueUrl=url, Attributes={name: value})
    # Attribute names outside the model's enum are refused by request validation.
    with pytest.raises(ClientError) as excinfo:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Bogus"])
    assert error_of(excinfo)["Code"] == "ValidationException"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_attributes(QueueUrl=url + "-missing", AttributeNames=["All"])


def test_errors_carry_the_query_code_header(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as excinfo:
        sqs.get_queue_url(QueueName="missing")
    response = excinfo.value.response
    assert response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert response["Error"]["QueryErrorCode"] == "QueueDoesNotExist"
    assert response["Error"]["Type"] == "Sender"
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400

    request = urllib.request.Request(
        endpoint.url,
        data=b'{"QueueName":"missing"}',
        headers={
            "X-Amz-Target": "AmazonSQS.GetQueueUrl",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(request, timeout=10)
    assert raw.value.code == 400
    assert raw.value.headers["Content-Type"] == "application/x-amz-json-1.0"
    body = raw.value.read()
    assert b'"__type":"com.amazonaws.sqs#QueueDoesNotExist"' in body


def test_tags_and_dead_letter_sources(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    dlq = make_queue(sqs, "dlq")
    dlq_arn = attributes_of(sqs, dlq, "QueueArn")["QueueArn"]
    src = sqs.create_queue(
        QueueName="src",
        Attributes={
            "RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"3"}}'
        },
        tags={"team": "ci"},
    )["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=src)["Tags"] == {"team": "ci"}
    sqs.tag_queue(QueueUrl=src, Tags={"env": "dev"})
    sqs.untag_queue(QueueUrl=src, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=src)["Tags"] == {"env": "dev"}
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    assert attributes_of(sqs, src, "RedrivePolicy")["RedrivePolicy"] == (
        f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":3}}'
    )
    with pytest.raises(ClientError, match="Dead letter target does not exist") as excinfo:
        sqs.set_queue_attributes(
            QueueUrl=src,
            Attributes={
                "RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}x","maxReceiveCount":3}}'
            },
        )
    assert error_of(excinfo)["Code"] == "InvalidParameterValue"


# Messages -------------------------------------------------------------------------------------


def test_send_and_receive_with_digests_as_sqs_computes_them(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "digests")
    attributes = {
        "General": {"DataType": "String", "StringValue": "Kenobi"},
        "Hello": {"DataType": "String", "StringValue": "There"},
        "Help.Me": {"DataType": "String", "StringValue": "Me"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="msg", MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == "6e2baaf3b97dbeef01c0043275f9a0e7"
    assert sent["MD5OfMessageAttributes"] == "4c360f3fdafd970e05fae2f149d997f5"

    expectations = [
        ([], None, set()),
        (["All"], "4c360f3fdafd970e05fae2f149d997f5", {"General", "Hello", "Help.Me"}),
        ([".*"], "4c360f3fdafd970e05fae2f149d997f5", {"General", "Hello", "Help.Me"}),
        (["General", "Hello"], "fca026605781cb4126a1e9044df24232", {"General", "Hello"}),
        (["Hello", "Nope"], "a311262e065454b75da111d535b8dacd", {"Hello"}),
        (["He.*"], "83fee93c1bcd8b9a5a923ffacdc636c7", {"Hello", "Help.Me"}),
        (["Nope"], None, set()),
    ]
    for names, digest, returned in expectations:
        message = sqs.receive_message(
            QueueUrl=url, MessageAttributeNames=names, VisibilityTimeout=0
        )["Messages"][0]
        assert message["MessageId"] == sent["MessageId"]
        assert message["Body"] == "msg"
        assert message["MD5OfBody"] == "6e2baaf3b97dbeef01c0043275f9a0e7"
        assert message.get("MD5OfMessageAttributes") == digest, names
        assert set(message.get("MessageAttributes", {})) == returned, names
        assert "Attributes" not in message


def test_binary_attributes_and_system_attributes(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "binary")
    value = b"traceparent\x1e00-774062d6c37081a5a0b9b5b88e30627c-2d2482211f6489da-01"
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="test",
        MessageAttributes={"attr1": {"DataType": "Binary", "BinaryValue": value}},
        MessageSystemAttributes={
            "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe"}
        },
    )
    assert sent["MD5OfMessageAttributes"] == "8cbe4db156db8a94db8b801b7addb984"
    assert len(sent["MD5OfMessageSystemAttributes"]) == 32
    message = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"][0]
    assert message["MessageAttributes"]["attr1"] == {"DataType": "Binary", "BinaryValue": value}
    now_ms = str(int(endpoint.clock.now() * 1000))
    assert message["Attributes"] == {
        "SenderId": "testing",
        "SentTimestamp": now_ms,
        "ApproximateReceiveCount": "1",
        "ApproximateFirstReceiveTimestamp": now_ms,
        "AWSTraceHeader": "Root=1-5759e988-bd862e3fe",
    }
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    again = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["SentTimestamp"])
    assert again["Messages"][0]["Attributes"] == {"SentTimestamp": now_ms}
    # The deprecated AttributeNames still selects system attributes.
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=again["Messages"][0]["ReceiptHandle"], VisibilityTimeout=0
    )
    third = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    assert third["Attributes"]["ApproximateReceiveCount"] == "3"


def test_deprecated_attribute_names_take_message_system_attribute_names(
    endpoint: Endpoint,
) -> None:
    # botocore's model gives ReceiveMessage's AttributeNames the queue-attribute enum, but its
    # documentation (and older SDKs) use message system attribute names there; AWS takes them.
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "legacy")
    sqs.send_message(QueueUrl=url, MessageBody="m")
    now_ms = str(int(endpoint.clock.now() * 1000))
    first = sqs.receive_message(
        QueueUrl=url, AttributeNames=["ApproximateReceiveCount"], VisibilityTimeout=0
    )["Messages"][0]
    assert first["Attributes"] == {"ApproximateReceiveCount": "1"}
    second = sqs.receive_message(
        QueueUrl=url, AttributeNames=["SentTimestamp", "SenderId"], VisibilityTimeout=0
    )["Messages"][0]
    assert second["Attributes"] == {"SentTimestamp": now_ms, "SenderId": "testing"}
    # A queue attribute name is still a valid value there; it selects no message attribute.
    third = sqs.receive_message(QueueUrl=url, AttributeNames=["Policy"], VisibilityTimeout=0)
    assert "Attributes" not in third["Messages"][0]
    with pytest.raises(ClientError) as excinfo:
        sqs.receive_message(QueueUrl=url, AttributeNames=["Bogus"])
    error = error_of(excinfo)
    assert error["Code"] == "ValidationException"
    assert "Value '[Bogus]' at 'AttributeNames'" in error["Message"]
    assert "ApproximateReceiveCount" in error["Message"]
    # GetQueueAttributes shares the model's list shape and keeps the queue-attribute enum.
    with pytest.raises(ClientError) as excinfo:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])
    assert error_of(excinfo)["Code"] == "ValidationException"
    assert attributes_of(sqs, url, "QueueArn") == {
        "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:legacy"
    }


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"a": {"DataType": "Text", "StringValue": "x"}}, "supported type prefixes"),
        ({"a": {"DataType": "String", "StringValue": ""}}, "non-empty message attribute value"),
        ({"a": {"DataType": "Number", "StringValue": "ten"}}, "to a number"),
        ({"AWS.x": {"DataType": "String", "StringValue": "x"}}, "is invalid"),
        ({"a..b": {"DataType": "String", "StringValue": "x"}}, "is invalid"),
        ({f"a{i}": {"DataType": "String", "StringValue": "x"} for i in range(11)}, "exceeds"),
        ({"a": {"DataType": "Binary", "BinaryValue": b""}}, "non-empty"),
    ],
)
def test_bad_message_attributes_are_refused(
    endpoint: Endpoint, attributes: dict[str, Any], message: str
) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "strict")
    with pytest.raises(ClientError, match=message) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes)
    assert error_of(excinfo)["Code"] == "InvalidParameterValue"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_bad_bodies_and_parameters_are_refused(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "bodies", MaximumMessageSize="1024")
    with pytest.raises(sqs.exceptions.InvalidMessageContents):
        sqs.send_message(QueueUrl=url, MessageBody="bell \x07")
    with pytest.raises(ClientError, match="shorter than 1024 bytes"):
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="")
    assert error_of(excinfo)["Code"] == "MissingParameter"
    with pytest.raises(ClientError, match="DelaySeconds"):
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    for kwargs in (
        {"MaxNumberOfMessages": 11},
        {"MaxNumberOfMessages": 0},
        {"WaitTimeSeconds": 21},
        {"VisibilityTimeout": 43201},
    ):
        with pytest.raises(ClientError) as excinfo:
            sqs.receive_message(QueueUrl=url, **kwargs)
        assert error_of(excinfo)["Code"] == "InvalidParameterValue", kwargs
    sqs.send_message(QueueUrl=url, MessageBody="ok \t\n\r é 😀")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "ok \t\n\r é 😀"


def test_receive_returns_at_most_max_messages_oldest_first(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "many")
    for index in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{index}")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == [f"m{i}" for i in range(10)]
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["m10", "m11"]
    assert attributes_of(
        sqs, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"
    ) == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "12",
    }


def test_delay_hides_a_message_until_the_clock_passes_it(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "delayed", DelaySeconds="20")
    sqs.send_message(QueueUrl=url, MessageBody="queue delay")
    sqs.send_message(QueueUrl=url, MessageBody="own delay", DelaySeconds=5)
    assert (
        attributes_of(sqs, url, "ApproximateNumberOfMessagesDelayed")[
            "ApproximateNumberOfMessagesDelayed"
        ]
        == "2"
    )
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    endpoint.advance(5)
    assert [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ] == ["own delay"]
    endpoint.advance(15)
    assert [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ] == ["queue delay"]


def test_long_poll_returns_as_soon_as_a_message_arrives(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "poll")
    sender = endpoint.client("sqs")
    timer = threading.Timer(0.2, lambda: sender.send_message(QueueUrl=url, MessageBody="hi"))
    started = time.monotonic()
    timer.start()
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    elapsed = time.monotonic() - started
    timer.join()
    assert [m["Body"] for m in messages] == ["hi"]
    assert 0.15 < elapsed < 1.0


def test_long_poll_returns_empty_after_the_wait(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "quiet", ReceiveMessageWaitTimeSeconds="1")
    started = time.monotonic()
    reply = sqs.receive_message(QueueUrl=url)  # the queue's default wait applies
    elapsed = time.monotonic() - started
    assert "Messages" not in reply
    assert 0.9 < elapsed < 2.0
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert time.monotonic() - started < 0.5


def test_long_poll_wakes_when_the_clock_makes_a_message_visible(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "clocked")
    sqs.send_message(QueueUrl=url, MessageBody="again")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)
    timer = threading.Timer(0.2, lambda: endpoint.advance(30))
    started = time.monotonic()
    timer.start()
    messages = sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=5, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    timer.join()
    assert time.monotonic() - started < 1.0
    assert messages[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_an_undeleted_message_comes_back_after_its_visibility_timeout(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "visible", VisibilityTimeout="30")
    sqs.send_message(QueueUrl=url, MessageBody="work")
    first = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"][0]
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    endpoint.advance(29)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    endpoint.advance(1)
    second = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"][0]
    assert second["MessageId"] == first["MessageId"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert (
        second["Attributes"]["ApproximateFirstReceiveTimestamp"]
        == first["Attributes"]["ApproximateFirstReceiveTimestamp"]
    )

    # An old handle "succeeds, but the message is not deleted" (DeleteMessage's documentation).
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert (
        attributes_of(sqs, url, "ApproximateNumberOfMessagesNotVisible")[
            "ApproximateNumberOfMessagesNotVisible"
        ]
        == "1"
    )
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    endpoint.advance(60)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    # Deleting a message that is gone succeeds.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])


def test_receipt_handles_that_are_not_ours_are_invalid(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "handles")
    other = make_queue(sqs, "other-handles")
    sqs.send_message(QueueUrl=other, MessageBody="x")
    foreign = sqs.receive_message(QueueUrl=other)["Messages"][0]["ReceiptHandle"]
    for handle in ("garbage", "", foreign):
        with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as excinfo:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
        assert error_of(excinfo)["Code"] == "ReceiptHandleIsInvalid"
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="garbage", VisibilityTimeout=1)


def test_change_message_visibility(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "vis")
    sqs.send_message(QueueUrl=url, MessageBody="x")
    handle = sqs.receive_message(QueueUrl=url, VisibilityTimeout=10)["Messages"][0]["ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=100)
    endpoint.advance(99)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    endpoint.advance(1)
    with pytest.raises(sqs.exceptions.MessageNotInflight) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=5)
    assert error_of(excinfo)["Code"] == "AWS.SimpleQueueService.MessageNotInflight"
    newer = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    with pytest.raises(ClientError, match="not available for visibility timeout change"):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=5)
    with pytest.raises(ClientError) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=newer, VisibilityTimeout=43201)
    assert error_of(excinfo)["Code"] == "InvalidParameterValue"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=newer, VisibilityTimeout=0)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "x"


def test_batches(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "batch")
    sent = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "msg"},
            {"Id": "b", "MessageBody": "bad \x00"},
            {"Id": "c", "MessageBody": "two", "DelaySeconds": 0},
        ],
    )
    assert [(s["Id"], s["MD5OfMessageBody"]) for s in sent["Successful"]] == [
        ("a", "6e2baaf3b97dbeef01c0043275f9a0e7"),
        ("c", "b8a9f715dbb64fd5c56e7783c6820a61"),
    ]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in sent["Failed"]] == [
        ("b", "InvalidMessageContents", True)
    ]
    handles = [
        m["ReceiptHandle"]
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert len(handles) == 2
    changed = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "one", "ReceiptHandle": handles[0], "VisibilityTimeout": 0},
            {"Id": "bad", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
        ],
    )
    assert [s["Id"] for s in changed["Successful"]] == ["one"]
    assert [f["Code"] for f in changed["Failed"]] == ["ReceiptHandleIsInvalid"]
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "x", "ReceiptHandle": handles[1]},
            {"Id": "y", "ReceiptHandle": "garbage"},
        ],
    )
    assert [s["Id"] for s in deleted["Successful"]] == ["x"]
    assert [(f["Id"], f["Code"]) for f in deleted["Failed"]] == [("y", "ReceiptHandleIsInvalid")]
    assert (
        attributes_of(sqs, url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"] == "1"
    )

    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.delete_message_batch(QueueUrl=url, Entries=[])
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)]
        )
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "same", "MessageBody": "x"}] * 2)
    with pytest.raises(sqs.exceptions.InvalidBatchEntryId):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "no:colons", "MessageBody": "x"}])
    with pytest.raises(sqs.exceptions.BatchRequestTooLong):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": f"big{i}", "MessageBody": "x" * 300_000} for i in range(4)],
        )


def test_purge_empties_the_queue_once_a_minute(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "purged")
    for _ in range(3):
        sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as excinfo:
        sqs.purge_queue(QueueUrl=url)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    endpoint.advance(60)
    sqs.purge_queue(QueueUrl=url)


def test_messages_expire_after_the_retention_period(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "short", MessageRetentionPeriod="60")
    sqs.send_message(QueueUrl=url, MessageBody="old")
    endpoint.advance(30)
    sqs.send_message(QueueUrl=url, MessageBody="young")
    endpoint.advance(30)
    assert [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ] == ["young"]


def test_redrive_moves_a_message_to_the_dead_letter_queue(endpoint: Endpoint) -> None:
    sqs = endpoint.client("sqs")
    dlq = make_queue(sqs, "dead")
    dlq_arn = attributes_of(sqs, dlq, "QueueArn")["QueueArn"]
    src = make_queue(
        sqs,
        "live",
        RedrivePolicy=f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":2}}',
        VisibilityTimeout="10",
    )
    message_id = sqs.send_message(QueueUrl=src, MessageBody="poison")["MessageId"]
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=src)["Messages"][0]["MessageId"] == message_id
        endpoint.advance(10)
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    moved = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"][0]
    assert moved["MessageId"] == message_id
    assert moved["Attributes"]["ApproximateReceiveCount"] == "1"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"].endswith(":live")


def test_queue_contents_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Endpoint(data).start()
    try:
        sqs = first.client("sqs")
        url = make_queue(sqs, "durable", VisibilityTimeout="30")
        sqs.send_message(QueueUrl=url, MessageBody="received")
        sqs.send_message(
            QueueUrl=url,
            MessageBody="never received",
            MessageAttributes={"k": {"DataType": "Number", "StringValue": "7"}},
        )
        sqs.receive_message(QueueUrl=url)  # "received" is in flight when the endpoint stops
    finally:
        first.stop()
    second = Endpoint(data).start()
    try:
        sqs = second.client("sqs")
        url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
        assert attributes_of(
            sqs,
            url,
            "VisibilityTimeout",
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ) == {
            "ApproximateNumberOfMessages": "1",
            "ApproximateNumberOfMessagesNotVisible": "1",
            "VisibilityTimeout": "30",
        }
        visible = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
        assert [(m["Body"], m["MessageAttributes"]["k"]["StringValue"]) for m in visible] == [
            ("never received", "7")
        ]
        second.advance(30)
        back = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"][0]
        assert back["Body"] == "received"
        assert back["Attributes"]["ApproximateReceiveCount"] == "2"
    finally:
        second.stop()


def test_stopping_the_endpoint_ends_long_polls_at_once(tmp_path: Path) -> None:
    endpoint = Endpoint(tmp_path / "data").start()
    sqs = endpoint.client("sqs")
    url = make_queue(sqs, "held")
    replies: list[dict[str, Any]] = []
    poll = threading.Thread(
        target=lambda: replies.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20))
    )
    poll.start()
    time.sleep(0.3)
    started = time.monotonic()
    endpoint.stop()
    poll.join(timeout=5)
    assert time.monotonic() - started < 2.0
    assert len(replies) == 1
    assert "Messages" not in replies[0]
