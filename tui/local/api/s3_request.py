"""Reading an S3 request: the addressed call, its arguments, metadata headers, conditions.

Shared by the S3 operations (`tui.local.api.s3`) and the multipart ones
(`tui.local.api.s3_multipart`).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
from dataclasses import dataclass

from aiohttp import web

from tui.local.engine.objects import (
    STORED_HTTP_HEADERS,
    ObjectStore,
    S3Error,
    StoredObject,
    invalid_argument,
    no_such_key,
)

_MAX_METADATA_BYTES = 2048


_REFUSED_HEADERS = (
    "x-amz-tagging",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
)


@dataclass
class S3Call:
    """One request, addressed: the bucket and key it names and its decoded query."""

    request: web.Request
    bucket: str | None
    key: str | None
    query: dict[str, str]
    request_id: str
    host_id: str

    @property
    def scope(self) -> str:
        if self.bucket is None:
            return "service"
        return "bucket" if self.key is None else "object"

    @property
    def headers(self) -> dict[str, str]:
        """The headers every S3 response carries."""
        return {"x-amz-request-id": self.request_id, "x-amz-id-2": self.host_id}

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, default)


def parse_http_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.timestamp()


def parse_max_keys(call: S3Call, name: str = "max-keys", limit: int = 1000) -> int:
    raw = call.arg(name, str(limit))
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise invalid_argument(f"Provided {name} not an integer or within integer range", name, raw)
    return min(value, limit)


def url_encoding_requested(call: S3Call) -> bool:
    encoding = call.query.get("encoding-type")
    if encoding is None:
        return False
    if encoding.lower() != "url":
        raise invalid_argument(
            "Invalid Encoding Method specified in Request", "encoding-type", encoding
        )
    return True


def encode_token(marker: str) -> str:
    return base64.urlsafe_b64encode(b"1:" + marker.encode()).decode()


def decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        if raw.startswith(b"1:"):
            return raw[2:].decode()
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise invalid_argument(
        "The continuation token provided is incorrect", "continuation-token", token
    )


def etag_matches(condition: str, etag: str) -> bool:
    tags = [part.strip() for part in condition.split(",")]
    return "*" in tags or etag in tags or etag.strip('"') in tags


def precondition_failed(condition: str) -> S3Error:
    return S3Error(
        "At least one of the pre-conditions you specified did not hold",
        code="PreconditionFailed",
        status=412,
        fields={"Condition": condition},
    )


class NotModified(Exception):
    """A conditional GET whose answer is 304 Not Modified."""


def check_read_conditions(headers: dict[str, str], obj: StoredObject, prefix: str = "") -> None:
    """RFC 7232 as S3 applies it: If-Match beats If-Unmodified-Since, If-None-Match beats
    If-Modified-Since. `prefix` is `x-amz-copy-source-` for CopyObject's source."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if_match = lowered.get(prefix + "if-match")
    if_none_match = lowered.get(prefix + "if-none-match")
    if_modified = lowered.get(prefix + "if-modified-since")
    if_unmodified = lowered.get(prefix + "if-unmodified-since")
    modified = int(obj.last_modified)
    if if_match is not None:
        if not etag_matches(if_match, obj.etag):
            raise precondition_failed("If-Match")
    elif if_unmodified is not None:
        since = parse_http_date(if_unmodified)
        if since is not None and modified > since:
            raise precondition_failed("If-Unmodified-Since")
    if if_none_match is not None:
        if etag_matches(if_none_match, obj.etag):
            if prefix:
                raise precondition_failed("x-amz-copy-source-If-None-Match")
            raise NotModified
    elif if_modified is not None:
        since = parse_http_date(if_modified)
        if since is not None and modified <= since:
            if prefix:
                raise precondition_failed("x-amz-copy-source-If-Modified-Since")
            raise NotModified


def user_metadata(request: web.Request) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for name, value in request.headers.items():
        lower = name.lower()
        if lower.startswith("x-amz-meta-"):
            metadata[lower.removeprefix("x-amz-meta-")] = value
    size = sum(len(name) + len(value) for name, value in metadata.items())
    if size > _MAX_METADATA_BYTES:
        raise S3Error(
            "Your metadata headers exceed the maximum allowed metadata size.",
            code="MetadataTooLarge",
            status=400,
            fields={"Size": str(size), "MaxSizeAllowed": str(_MAX_METADATA_BYTES)},
        )
    return metadata


def stored_http_headers(request: web.Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name in STORED_HTTP_HEADERS:
        value = request.headers.get(name)
        if value is None:
            continue
        if name == "Content-Encoding":
            codings = [part.strip() for part in value.split(",")]
            value = ", ".join(part for part in codings if part and part.lower() != "aws-chunked")
            if not value:
                continue
        headers[name] = value
    return headers


def refuse_unsupported_headers(request: web.Request) -> None:
    for name in _REFUSED_HEADERS:
        if name in request.headers:
            raise S3Error(
                f"The local endpoint does not implement the {name} header.",
                code="NotImplemented",
                status=501,
                fields={"Header": name},
            )


def check_write_conditions(
    objects: ObjectStore, request: web.Request, bucket: str, key: str
) -> None:
    """Conditional writes: `If-None-Match: *` (only if absent) and `If-Match: <etag>`."""
    if_none_match = request.headers.get("If-None-Match")
    if_match = request.headers.get("If-Match")
    if if_none_match is None and if_match is None:
        return
    try:
        current: StoredObject | None = objects.head_object(bucket, key)
    except S3Error as error:
        if error.code != "NoSuchKey":
            raise
        current = None
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise S3Error(
                "If-None-Match only accepts '*' on a write.",
                code="NotImplemented",
                status=501,
                fields={"Header": "If-None-Match"},
            )
        if current is not None:
            raise precondition_failed("If-None-Match")
    if if_match is not None:
        if current is None:
            raise no_such_key(key)
        if not etag_matches(if_match, current.etag):
            raise precondition_failed("If-Match")
