"""The AWS JSON 1.0/1.1 wire format: reading requests, writing responses and errors.

Requests: `POST /` with `X-Amz-Target: <Prefix>.<Operation>` and a JSON object body (botocore
always sends at least `{}`; an empty body reads as `{}`). A body that is not JSON, not UTF-8,
nests too deeply, uses the non-standard `NaN`/`Infinity` literals, or is not an object is a
`SerializationException`.

Responses: HTTP 200, `Content-Type` echoing the request's `application/x-amz-json-1.0` or
`-1.1` (the service model's version when the request named neither), `x-amzn-RequestId` on
every response. Timestamps go out as epoch-second numbers (services hand us floats already;
a `datetime` is converted), bytes as base64 text.

Errors: `{"__type": code, "message": msg}` with the error's HTTP status. Some services add
headers to an error (SQS's awsQueryCompatible `x-amzn-query-error: <code>;Sender`): the
headers come from an optional `headers` mapping on the `AwsError` and from the service's
optional `error_headers(error) -> Mapping[str, str]` hook; the server merges both.

Also here: the credential scope of a SigV4 request (which service signed it), the RPCv2-CBOR
request shape, the tiny CBOR encoder that answers such a request with an error a CBOR client
can decode, and the S3 XML error used when a request meant for S3 cannot be served.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from tui.model.errors import AwsError, SerializationException

JSON_1_0 = "application/x-amz-json-1.0"
JSON_1_1 = "application/x-amz-json-1.1"
CBOR = "application/cbor"
REQUEST_ID_HEADER = "x-amzn-RequestId"

_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_CBOR_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")
_OPERATION_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def new_request_id() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------------------------
# Requests


def split_target(target: str) -> tuple[str, str]:
    """`CodePipeline_20150709.GetPipeline` -> (`CodePipeline_20150709`, `GetPipeline`)."""
    prefix, _, operation = target.rpartition(".")
    return prefix, operation


def is_operation_name(operation: str) -> bool:
    """A PascalCase AWS operation name (never a dunder or private method name)."""
    return _OPERATION_NAME.match(operation) is not None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request's JSON object; raises SerializationException for anything else."""
    if not raw.strip():
        return {}
    try:
        params = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise SerializationException("The request body nests too deeply.") from None
    except UnicodeDecodeError:
        raise SerializationException("The request body is not UTF-8 encoded JSON.") from None
    except ValueError as exc:
        raise SerializationException(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object.")
    return params


def response_content_type(request: web.BaseRequest, default: str = JSON_1_1) -> str:
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith(JSON_1_0):
        return JSON_1_0
    if content_type.startswith(JSON_1_1):
        return JSON_1_1
    return default


def credential_scope_service(request: web.BaseRequest) -> str | None:
    """The service named in the SigV4 credential scope (header or presigned query), if any.

    `Credential=AKID/20260101/us-east-1/codepipeline/aws4_request` -> `codepipeline`.
    """
    match = _CREDENTIAL.search(request.headers.get("Authorization", ""))
    credential = match.group(1) if match is not None else request.query.get("X-Amz-Credential")
    if not credential:
        return None
    parts = credential.split("/")
    if len(parts) < 4 or parts[-1] != "aws4_request":
        return None
    return parts[-2]


def cbor_operation(request: web.BaseRequest) -> tuple[str, str] | None:
    """(prefix, operation) when the request uses the RPCv2-CBOR protocol, else None."""
    match = _CBOR_PATH.match(request.path)
    if match is None or request.method != "POST":
        return None
    content_type = request.headers.get("Content-Type", "")
    if not content_type.startswith(CBOR) and "smithy-protocol" not in request.headers:
        return None
    return match.group(1), match.group(2)


# --------------------------------------------------------------------------------------------
# Responses


def _encode_value(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.timestamp()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def render_json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(
        payload, default=_encode_value, separators=(",", ":"), ensure_ascii=False
    ).encode()


def json_response(payload: Mapping[str, Any], request_id: str, content_type: str) -> web.Response:
    return web.Response(
        body=render_json(payload),
        headers={REQUEST_ID_HEADER: request_id, "Content-Type": content_type},
    )


def error_headers(error: AwsError) -> dict[str, str]:
    """Extra headers an error carries (an optional `headers` mapping on the error)."""
    headers = getattr(error, "headers", None)
    return dict(headers) if headers else {}


def json_error_response(
    error: AwsError,
    request_id: str,
    content_type: str,
    extra_headers: Mapping[str, str] | None = None,
) -> web.Response:
    headers = {**error_headers(error), **(extra_headers or {})}
    headers[REQUEST_ID_HEADER] = request_id
    headers["Content-Type"] = content_type
    body = {"__type": error.code, "message": error.message}
    return web.Response(status=error.status, body=render_json(body), headers=headers)


def cbor_error_response(error: AwsError, request_id: str) -> web.Response:
    """An RPCv2-CBOR error (`{"__type", "message"}` in CBOR) that CBOR clients decode."""
    body = encode_cbor_text_map({"__type": error.code, "message": error.message})
    return web.Response(
        status=error.status,
        body=body,
        headers={
            REQUEST_ID_HEADER: request_id,
            "Content-Type": CBOR,
            "smithy-protocol": "rpc-v2-cbor",
        },
    )


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 1 << (8 * size):
            return bytes([major << 5 | info]) + length.to_bytes(size, "big")
    raise ValueError("too long for CBOR")


def encode_cbor_text_map(values: Mapping[str, str]) -> bytes:
    """CBOR (RFC 8949) for a map of text to text: all an error body needs."""
    out = bytearray(_cbor_head(5, len(values)))
    for key, value in values.items():
        for text in (key, value):
            data = text.encode()
            out += _cbor_head(3, len(data)) + data
    return bytes(out)


def s3_error_response(error: AwsError, request_id: str, resource: str = "") -> web.Response:
    """S3's XML error body, for S3 requests the endpoint cannot hand to an S3 handler."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>"
    )
    return web.Response(
        status=error.status,
        body=body.encode(),
        headers={
            "x-amz-request-id": request_id,
            REQUEST_ID_HEADER: request_id,
            "Content-Type": "application/xml",
        },
    )
