"""The endpoint's wire layer over real HTTP: routing, JSON protocol, errors, control routes.

The services registered here are small real service objects (not stand-ins for the engine):
they exercise the wire layer's contract with any service, and record what reached them so a
test can prove a rejected request never did.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from botocore.parsers import RpcV2CBORParser

from tests.endpoint import Endpoint
from tui.local.api.server import build_app
from tui.local.backend import Backend
from tui.local.clock import Clock
from tui.model.errors import (
    AwsError,
    ConflictException,
    PipelineNotFoundException,
)

CODEPIPELINE = "CodePipeline_20150709"
JSON_11 = "application/x-amz-json-1.1"
CREATED = 1_767_225_600.25


class Reply:
    def __init__(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = {key.lower(): value for key, value in headers.items()}

    def json(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


def send(
    endpoint: Endpoint,
    body: bytes,
    headers: Mapping[str, str],
    path: str = "/",
    method: str = "POST",
) -> Reply:
    request = urllib.request.Request(
        endpoint.url + path,
        data=body if method != "GET" else None,
        headers=dict(headers),
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, response.read(), response.headers)
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read(), error.headers)


def post(endpoint: Endpoint, target: str, body: bytes, content_type: str = JSON_11) -> Reply:
    return send(endpoint, body, {"X-Amz-Target": target, "Content-Type": content_type})


def signed_for(service: str) -> dict[str, str]:
    return {
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{service}/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=0"
        )
    }


class RecordingPipelines:
    """A JSON service declaring CodePipeline's model, answering a handful of operations."""

    target_prefix = CODEPIPELINE
    service_name = "codepipeline"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_pipeline_state(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("GetPipelineState", params))
        return {
            "pipelineName": params["name"],
            "pipelineVersion": 1,
            "stageStates": [],
            "created": CREATED,
            "updated": datetime(2026, 1, 2, tzinfo=UTC),
        }

    async def list_pipelines(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("ListPipelines", params))
        return {"pipelines": [{"name": "demo", "version": 3, "created": CREATED}]}

    def get_pipeline(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("GetPipeline", params))
        raise PipelineNotFoundException(
            f"Account '000000000000' does not have a pipeline with name '{params['name']}'"
        )

    def stop_pipeline_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("StopPipelineExecution", params))
        raise ConflictException("The pipeline is busy.")

    def put_approval_result(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("PutApprovalResult", params))
        raise RuntimeError("a bug in the service")

    def delete_pipeline(self, params: dict[str, Any]) -> None:
        self.calls.append(("DeletePipeline", params))
        return None

    def error_headers(self, error: AwsError) -> dict[str, str]:
        return {"x-amzn-query-error": f"{error.code};Sender"}


class Echo:
    """A JSON service with no botocore model: no validation, any PascalCase operation."""

    target_prefix = "Echo_20200101"

    def echo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "params": params,
            "blob": b"\x00\x01binary\xff",
            "when": datetime(2026, 1, 1, tzinfo=UTC),
            "ratio": 0.5,
        }

    def fail_with_headers(self, params: dict[str, Any]) -> dict[str, Any]:
        error = AwsError("The queue does not exist.", code="QueueDoesNotExist", status=400)
        error.headers = {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"}  # type: ignore[attr-defined]
        raise error

    def not_a_mapping(self, params: dict[str, Any]) -> list[int]:
        return [1, 2]


class RecordingS3:
    """An S3 handler that records which requests reached it."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.paths: list[str] = []
        self.fail = fail

    async def handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        if self.fail is not None:
            raise self.fail
        return web.Response(body=b"<ok/>", content_type="application/xml")


class BareEndpoint(Endpoint):
    """A real endpoint over a Backend that serves only what the test registers.

    The wire layer is tested on its own: the engine's assembly is not needed (and a test of
    routing must not depend on which services the assembly happens to register).
    """

    async def _start(self) -> None:
        self.backend = await Backend.open(self.data_dir, self.clock)
        self._runner = web.AppRunner(build_app(self.backend), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[Endpoint]:
    """Overrides the shared fixture: a bare endpoint with a ManualClock on a fresh data dir."""
    bare = BareEndpoint(tmp_path / "data").start()
    try:
        yield bare
    finally:
        bare.stop()


@pytest.fixture
def pipelines(endpoint: Endpoint) -> RecordingPipelines:
    service = RecordingPipelines()
    endpoint.call(lambda: endpoint.backend.add_service(service))
    return service


@pytest.fixture
def echo(endpoint: Endpoint) -> Echo:
    service = Echo()
    endpoint.call(lambda: endpoint.backend.add_service(service))
    return service


def use_s3(endpoint: Endpoint, handler: RecordingS3 | None) -> None:
    endpoint.call(lambda: setattr(endpoint.backend, "s3_api", handler))


# --------------------------------------------------------------------------------------------
# Routing by X-Amz-Target


def test_unknown_target_is_an_aws_shaped_error(endpoint: Endpoint) -> None:
    reply = post(endpoint, "NoSuchService_20200101.DoThing", b"{}")
    assert reply.status == 400
    assert reply.json()["__type"] == "UnknownOperationException"
    assert "NoSuchService_20200101.DoThing" in reply.json()["message"]
    assert reply.headers["x-amzn-requestid"]


def test_boto3_call_round_trips(endpoint: Endpoint, pipelines: RecordingPipelines) -> None:
    client = endpoint.client("codepipeline")
    state = client.get_pipeline_state(name="demo")
    assert state["pipelineName"] == "demo"
    # Epoch-second numbers on the wire: botocore turns them into datetimes.
    assert state["created"] == datetime.fromtimestamp(CREATED, UTC)
    assert state["updated"] == datetime(2026, 1, 2, tzinfo=UTC)
    metadata = state["ResponseMetadata"]
    assert metadata["RequestId"]
    assert metadata["HTTPHeaders"]["content-type"] == JSON_11
    assert pipelines.calls == [("GetPipelineState", {"name": "demo"})]


def test_async_service_methods_are_awaited(
    endpoint: Endpoint, pipelines: RecordingPipelines
) -> None:
    listed = endpoint.client("codepipeline").list_pipelines()
    assert [p["name"] for p in listed["pipelines"]] == ["demo"]


def test_operation_without_output_answers_an_empty_object(
    endpoint: Endpoint, pipelines: RecordingPipelines
) -> None:
    reply = post(endpoint, f"{CODEPIPELINE}.DeletePipeline", b'{"name": "demo"}')
    assert (reply.status, reply.json()) == (200, {})


def test_request_ids_are_unique(endpoint: Endpoint, pipelines: RecordingPipelines) -> None:
    ids = {
        post(endpoint, f"{CODEPIPELINE}.GetPipelineState", b'{"name":"a"}').headers[
            "x-amzn-requestid"
        ]
        for _ in range(3)
    }
    assert len(ids) == 3


def test_modelled_errors_reach_boto3_as_their_class(
    endpoint: Endpoint, pipelines: RecordingPipelines
) -> None:
    client = endpoint.client("codepipeline")
    with pytest.raises(client.exceptions.PipelineNotFoundException) as caught:
        client.get_pipeline(name="ghost")
    error = caught.value.response
    assert (
        error["Error"]["Message"]
        == "Account '000000000000' does not have a pipeline with name 'ghost'"
    )
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["RequestId"]


def test_conflict_keeps_its_409(endpoint: Endpoint, pipelines: RecordingPipelines) -> None:
    client = endpoint.client("codepipeline")
    with pytest.raises(client.exceptions.ConflictException) as caught:
        client.stop_pipeline_execution(
            pipelineName="demo", pipelineExecutionId="8b4e2a8c-9a4c-4a25-9e8c-0c6a3b1f2d3e"
        )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_service_may_add_headers_to_errors(
    endpoint: Endpoint, pipelines: RecordingPipelines, echo: Echo
) -> None:
    hooked = post(endpoint, f"{CODEPIPELINE}.GetPipeline", b'{"name": "ghost"}')
    assert hooked.headers["x-amzn-query-error"] == "PipelineNotFoundException;Sender"
    carried = post(endpoint, "Echo_20200101.FailWithHeaders", b"{}")
    assert carried.status == 400
    assert carried.json()["__type"] == "QueueDoesNotExist"
    assert carried.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"


def test_service_bug_is_a_logged_internal_failure(
    endpoint: Endpoint, pipelines: RecordingPipelines, caplog: pytest.LogCaptureFixture
) -> None:
    body = {
        "pipelineName": "p",
        "stageName": "s",
        "actionName": "a",
        "result": {"summary": "ok", "status": "Approved"},
        "token": "8b4e2a8c-9a4c-4a25-9e8c-0c6a3b1f2d3e",
    }
    with caplog.at_level(logging.ERROR, logger="tui.local.api.server"):
        reply = post(endpoint, f"{CODEPIPELINE}.PutApprovalResult", json.dumps(body).encode())
    assert reply.status == 500
    assert reply.json()["__type"] == "InternalFailure"
    assert "a bug in the service" not in reply.json()["message"]
    assert "RuntimeError: a bug in the service" in caplog.text
    assert "Traceback" in caplog.text


def test_non_mapping_result_is_an_internal_failure(endpoint: Endpoint, echo: Echo) -> None:
    reply = post(endpoint, "Echo_20200101.NotAMapping", b"{}")
    assert (reply.status, reply.json()["__type"]) == (500, "InternalFailure")


# --------------------------------------------------------------------------------------------
# Validation happens before the service


def test_invalid_request_never_reaches_the_service(
    endpoint: Endpoint, pipelines: RecordingPipelines
) -> None:
    client = endpoint.client("codepipeline")
    # botocore checks neither max length nor patterns nor enums: the endpoint must.
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.get_pipeline_state(name="not a valid name")
    assert caught.value.response["Error"]["Message"] == (
        "1 validation error detected: Value 'not a valid name' at 'name' failed to satisfy "
        r"constraint: Member must satisfy regular expression pattern: [A-Za-z0-9.@\-_]+"
    )
    reply = post(
        endpoint,
        f"{CODEPIPELINE}.PutApprovalResult",
        json.dumps(
            {
                "pipelineName": "p",
                "stageName": "s",
                "actionName": "a",
                "result": {"summary": "ok", "status": "Maybe"},
                "token": "8b4e2a8c-9a4c-4a25-9e8c-0c6a3b1f2d3e",
            }
        ).encode(),
    )
    assert reply.status == 400
    assert reply.json()["__type"] == "ValidationException"
    assert "enum value set: [Approved, Rejected]" in reply.json()["message"]
    assert pipelines.calls == []


def test_type_mismatch_is_a_serialization_exception(
    endpoint: Endpoint, pipelines: RecordingPipelines
) -> None:
    reply = post(endpoint, f"{CODEPIPELINE}.GetPipelineState", b'{"name": {"nested": 1}}')
    assert reply.status == 400
    assert reply.json()["__type"] == "SerializationException"
    assert pipelines.calls == []


def test_unknown_operation_of_a_known_service(
    endpoint: Endpoint, pipelines: RecordingPipelines
) -> None:
    reply = post(endpoint, f"{CODEPIPELINE}.Frobnicate", b"{}")
    assert reply.status == 400
    body = reply.json()
    assert body["__type"] == "UnknownOperationException"
    assert "Frobnicate" in body["message"]
    assert "codepipeline" in body["message"]


def test_modelled_but_unimplemented_operation_validates_first(
    endpoint: Endpoint, pipelines: RecordingPipelines
) -> None:
    valid = post(
        endpoint,
        f"{CODEPIPELINE}.GetJobDetails",
        b'{"jobId": "8b4e2a8c-9a4c-4a25-9e8c-0c6a3b1f2d3e"}',
    )
    assert valid.status == 400
    assert valid.json()["__type"] == "UnknownOperationException"
    assert "GetJobDetails" in valid.json()["message"]
    assert "not implemented" in valid.json()["message"]
    invalid = post(endpoint, f"{CODEPIPELINE}.GetJobDetails", b"{}")
    assert invalid.json()["__type"] == "ValidationException"


@pytest.mark.parametrize("operation", ["__init__", "_caller", "echo", "Echo.Echo", "__class__", ""])
def test_only_pascal_case_operations_are_dispatched(
    endpoint: Endpoint, echo: Echo, operation: str
) -> None:
    reply = post(endpoint, f"Echo_20200101.{operation}", b"{}")
    assert reply.status == 400
    assert reply.json()["__type"] == "UnknownOperationException"


# --------------------------------------------------------------------------------------------
# JSON protocol details


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xff\xfe{}",
        b'{"a": "\xc3\x28"}',
        b"[" * 100_000,
    ],
)
def test_malformed_bodies_are_serialization_errors(
    endpoint: Endpoint, pipelines: RecordingPipelines, body: bytes
) -> None:
    reply = post(endpoint, f"{CODEPIPELINE}.GetPipelineState", body)
    assert reply.status == 400
    assert reply.json()["__type"] == "SerializationException"
    assert reply.json()["message"]
    assert pipelines.calls == []


def test_empty_body_reads_as_an_empty_object(
    endpoint: Endpoint, pipelines: RecordingPipelines
) -> None:
    reply = post(endpoint, f"{CODEPIPELINE}.GetPipelineState", b"")
    assert reply.json()["__type"] == "ValidationException"
    assert "Value null at 'name'" in reply.json()["message"]


def test_content_type_echoes_the_json_version(endpoint: Endpoint, echo: Echo) -> None:
    for content_type in ("application/x-amz-json-1.0", "application/x-amz-json-1.1"):
        reply = post(endpoint, "Echo_20200101.Echo", b"{}", content_type=content_type)
        assert reply.headers["content-type"] == content_type
        error = post(endpoint, "Echo_20200101.Nope", b"{}", content_type=content_type)
        assert error.headers["content-type"] == content_type


def test_bytes_are_base64_and_datetimes_epoch_seconds(endpoint: Endpoint, echo: Echo) -> None:
    reply = post(endpoint, "Echo_20200101.Echo", '{"x": "ünïcode"}'.encode())
    body = reply.json()
    assert body["params"] == {"x": "ünïcode"}
    assert body["blob"] == "AAFiaW5hcnn/"
    assert body["when"] == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert body["ratio"] == 0.5


# --------------------------------------------------------------------------------------------
# Requests without a target


def test_json_service_in_the_scope_without_a_target(
    endpoint: Endpoint, pipelines: RecordingPipelines
) -> None:
    reply = send(endpoint, b"{}", {**signed_for("codepipeline"), "Content-Type": JSON_11})
    assert reply.status == 400
    assert reply.json()["__type"] == "UnknownOperationException"
    assert "X-Amz-Target" in reply.json()["message"]


def test_unserved_service_in_the_scope(endpoint: Endpoint) -> None:
    reply = send(endpoint, b"{}", signed_for("dynamodb"))
    assert reply.status == 400
    assert "does not serve dynamodb" in reply.json()["message"]


def test_s3_scope_and_anonymous_requests_go_to_s3(endpoint: Endpoint) -> None:
    handler = RecordingS3()
    use_s3(endpoint, handler)
    signed = send(endpoint, b"", signed_for("s3"), path="/bucket/key", method="GET")
    anonymous = send(endpoint, b"", {}, path="/bucket/other", method="GET")
    presigned = send(
        endpoint,
        b"",
        {},
        path="/bucket/pre?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request",
        method="GET",
    )
    assert (signed.status, anonymous.status, presigned.status) == (200, 200, 200)
    assert handler.paths == ["/bucket/key", "/bucket/other", "/bucket/pre"]


def test_s3_not_served_is_an_s3_error(endpoint: Endpoint) -> None:
    use_s3(endpoint, None)
    reply = send(endpoint, b"", signed_for("s3"), path="/bucket", method="GET")
    assert reply.status == 501
    assert b"<Code>NotImplemented</Code>" in reply.body
    assert reply.headers["x-amz-request-id"]


def test_s3_handler_failures_are_s3_errors(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    use_s3(endpoint, RecordingS3(fail=AwsError("No such bucket", code="NoSuchBucket", status=404)))
    missing = send(endpoint, b"", {}, path="/ghost", method="GET")
    assert missing.status == 404
    assert b"<Code>NoSuchBucket</Code>" in missing.body
    use_s3(endpoint, RecordingS3(fail=KeyError("bug")))
    with caplog.at_level(logging.ERROR, logger="tui.local.api.server"):
        broken = send(endpoint, b"", {}, path="/bucket", method="GET")
    assert broken.status == 500
    assert b"<Code>InternalError</Code>" in broken.body
    assert "KeyError" in caplog.text


def test_rpc_v2_cbor_gets_a_cbor_error(endpoint: Endpoint, pipelines: RecordingPipelines) -> None:
    reply = send(
        endpoint,
        b"\xa1dnamedDemo",
        {
            "Content-Type": "application/cbor",
            "smithy-protocol": "rpc-v2-cbor",
            **signed_for("codepipeline"),
        },
        path=f"/service/{CODEPIPELINE}/operation/GetPipelineState",
    )
    assert reply.status == 400
    assert reply.headers["content-type"] == "application/cbor"
    assert reply.headers["x-amzn-requestid"]
    parsed = RpcV2CBORParser().parse(
        {"status_code": reply.status, "headers": reply.headers, "body": reply.body}, None
    )
    assert parsed["Error"]["Code"] == "UnknownOperationException"
    assert "JSON protocol" in parsed["Error"]["Message"]
    assert "GetPipelineState" in parsed["Error"]["Message"]
    assert pipelines.calls == []


# --------------------------------------------------------------------------------------------
# Control routes


def test_health(endpoint: Endpoint) -> None:
    reply = send(endpoint, b"", {}, path="/_local/health", method="GET")
    assert reply.status == 200
    assert reply.json()["status"] == "ok"
    assert reply.json()["version"]


def test_manual_clock_advances_and_fires_timers(endpoint: Endpoint) -> None:
    fired: list[float] = []
    start = endpoint.clock.now()
    endpoint.call(
        lambda: endpoint.clock.call_at(start + 30, lambda: fired.append(endpoint.clock.now()))
    )
    reply = send(
        endpoint,
        b'{"seconds": 45}',
        {"Content-Type": "application/json"},
        path="/_local/clock/advance",
    )
    assert reply.status == 200
    assert reply.json()["now"] == start + 45
    assert fired == [start + 30]
    now = send(endpoint, b"", {}, path="/_local/clock", method="GET").json()
    assert now == {"now": start + 45, "manual": True}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"seconds": -1}', "ValidationException"),
        (b'{"seconds": "10"}', "ValidationException"),
        (b'{"seconds": true}', "ValidationException"),
        (b"{}", "ValidationException"),
        (b'{"seconds": 1e400}', "ValidationException"),
        (b"not json", "SerializationException"),
    ],
)
def test_clock_advance_rejects_bad_input(endpoint: Endpoint, body: bytes, code: str) -> None:
    before = endpoint.clock.now()
    reply = send(endpoint, body, {}, path="/_local/clock/advance")
    assert reply.status == 400
    assert reply.json()["__type"] == code
    assert endpoint.clock.now() == before


def test_real_clock_cannot_be_advanced(tmp_path: Path) -> None:
    live = BareEndpoint(tmp_path / "live", clock=Clock()).start()
    try:
        reply = send(live, b'{"seconds": 5}', {}, path="/_local/clock/advance")
        assert reply.status == 400
        assert reply.json()["__type"] == "InvalidClockException"
        assert "--manual-clock" in reply.json()["message"]
    finally:
        live.stop()


def test_unknown_control_route(endpoint: Endpoint) -> None:
    reply = send(endpoint, b"", {}, path="/_local/nothing", method="GET")
    assert reply.status == 404
    assert reply.json()["__type"] == "UnknownOperationException"
