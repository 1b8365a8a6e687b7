"""Receiving S3 request bodies: plain or `aws-chunked`, with every integrity check S3 makes.

A body arrives in one of two framings. Plain: the bytes as sent (HTTP chunked transfer is
already undone by aiohttp). `aws-chunked` (`Content-Encoding: aws-chunked`, or an
`x-amz-content-sha256` of `STREAMING-...`): `<hex size>[;chunk-signature=...]\\r\\n<bytes>\\r\\n`
chunks, a zero-size chunk, then trailer lines (`x-amz-checksum-crc32:<base64>`) and a blank
line. Chunk signatures are not verified, as no signature is [I].

Checks, each failing with S3's error: `Content-MD5` (InvalidDigest / BadDigest),
`x-amz-checksum-<algorithm>` in a header or in the trailer named by `x-amz-trailer`
(InvalidRequest / BadDigest), a hex `x-amz-content-sha256` (XAmzContentSHA256Mismatch),
`x-amz-decoded-content-length` (IncompleteBody).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import StreamReader, web
from aiohttp.client_exceptions import ClientPayloadError

from tui.local.engine.checksums import (
    ALGORITHMS,
    DIGEST_SIZES,
    UNSUPPORTED_ALGORITHMS,
    b64,
    new_checksum,
)
from tui.local.engine.objects import Checksum, S3Error

CHECKSUM_HEADER_PREFIX = "x-amz-checksum-"
_READ_SIZE = 1024 * 1024
_MAX_CHUNK_LINE = 8192
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def invalid_request(message: str) -> S3Error:
    return S3Error(message, code="InvalidRequest", status=400)


def incomplete_body() -> S3Error:
    return S3Error(
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
        code="IncompleteBody",
        status=400,
    )


@dataclass(frozen=True)
class BodyRules:
    """What a request says about its body, read from its headers before the body."""

    aws_chunked: bool
    content_md5: bytes | None  # the digest Content-MD5 claims
    algorithm: str | None  # the flexible checksum algorithm in use, if any
    header_checksum: str | None  # its value when sent as a header
    trailer: str | None  # the trailer header naming it, when sent in the trailer
    content_sha256: str | None  # a hex payload hash to verify
    decoded_length: int | None

    @property
    def digest_algorithms(self) -> list[str]:
        """The checksums the body must be hashed with while it streams."""
        wanted = [self.algorithm] if self.algorithm else []
        if self.content_sha256 is not None and "SHA256" not in wanted:
            wanted.append("SHA256")
        return wanted


def read_rules(request: web.Request, *, body_checksums: bool = True) -> BodyRules:
    """The body's rules; `body_checksums=False` when `x-amz-checksum-*` headers describe
    something else (CompleteMultipartUpload: the whole object)."""
    headers = request.headers
    encodings = [part.strip().lower() for part in headers.get("Content-Encoding", "").split(",")]
    sha256_header = headers.get("x-amz-content-sha256", "")
    aws_chunked = "aws-chunked" in encodings or sha256_header.startswith("STREAMING-")

    content_md5: bytes | None = None
    if "Content-MD5" in headers:
        try:
            content_md5 = base64.b64decode(headers["Content-MD5"], validate=True)
        except binascii.Error:
            content_md5 = b""
        if len(content_md5) != 16:
            raise S3Error(
                "The Content-MD5 you specified was not valid.", code="InvalidDigest", status=400
            )

    named: list[str] = []
    for name in headers:
        lower = name.lower()
        if (
            body_checksums
            and lower.startswith(CHECKSUM_HEADER_PREFIX)
            and lower
            not in (
                "x-amz-checksum-type",
                "x-amz-checksum-algorithm",
            )
        ):
            named.append(lower)
    if len(named) > 1:
        raise invalid_request(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    algorithm: str | None = None
    header_checksum: str | None = None
    if named:
        algorithm = named[0].removeprefix(CHECKSUM_HEADER_PREFIX).upper()
        _refuse_unsupported(algorithm, named[0])
        if algorithm not in ALGORITHMS:
            raise invalid_request(f"Value for {named[0]} header is invalid.")
        header_checksum = headers[named[0]]
        _check_checksum_shape(algorithm, header_checksum, named[0])

    trailer: str | None = None
    declared_trailer = headers.get("x-amz-trailer", "").strip().lower()
    if declared_trailer:
        if not declared_trailer.startswith(CHECKSUM_HEADER_PREFIX):
            raise invalid_request(f"The trailer {declared_trailer} is not supported.")
        trailer_algorithm = declared_trailer.removeprefix(CHECKSUM_HEADER_PREFIX).upper()
        _refuse_unsupported(trailer_algorithm, "x-amz-trailer")
        if trailer_algorithm not in ALGORITHMS or (algorithm and algorithm != trailer_algorithm):
            raise invalid_request("Value for x-amz-trailer header is invalid.")
        if not aws_chunked:
            raise invalid_request("x-amz-trailer is only valid for aws-chunked bodies.")
        algorithm, trailer = trailer_algorithm, declared_trailer

    sdk_algorithm = headers.get("x-amz-sdk-checksum-algorithm") if body_checksums else None
    if sdk_algorithm is not None:
        sdk_algorithm = sdk_algorithm.upper()
        _refuse_unsupported(sdk_algorithm, "x-amz-sdk-checksum-algorithm")
        if sdk_algorithm not in ALGORITHMS or (algorithm and algorithm != sdk_algorithm):
            raise invalid_request("Value for x-amz-sdk-checksum-algorithm header is invalid.")
        algorithm = sdk_algorithm

    decoded_length: int | None = None
    if "x-amz-decoded-content-length" in headers:
        try:
            decoded_length = int(headers["x-amz-decoded-content-length"])
        except ValueError:
            decoded_length = -1
        if decoded_length < 0:
            raise invalid_request("Value for x-amz-decoded-content-length header is invalid.")

    return BodyRules(
        aws_chunked=aws_chunked,
        content_md5=content_md5,
        algorithm=algorithm,
        header_checksum=header_checksum,
        trailer=trailer,
        content_sha256=sha256_header.lower() if _HEX_SHA256.fullmatch(sha256_header) else None,
        decoded_length=decoded_length,
    )


def _refuse_unsupported(algorithm: str, header: str) -> None:
    if algorithm in UNSUPPORTED_ALGORITHMS:
        raise S3Error(
            f"The {algorithm} checksum is not implemented by the local endpoint.",
            code="NotImplemented",
            status=501,
            fields={"Header": header},
        )


def _check_checksum_shape(algorithm: str, value: str, name: str) -> None:
    try:
        digest = base64.b64decode(value, validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != DIGEST_SIZES[algorithm]:
        raise invalid_request(f"Value for {name} header is invalid.")


async def _read_line(content: StreamReader) -> bytes:
    """One CRLF-terminated line of the chunked framing, without its terminator."""
    try:
        line = await content.readuntil(b"\n")
    except ValueError:
        raise invalid_request("A chunk header line of the aws-chunked body is too long.") from None
    if len(line) > _MAX_CHUNK_LINE:
        raise invalid_request("A chunk header line of the aws-chunked body is too long.")
    return line.rstrip(b"\r\n")


async def _aws_chunked(content: StreamReader, trailers: dict[str, str]) -> AsyncIterator[bytes]:
    while True:
        line = await _read_line(content)
        if not line:
            raise incomplete_body()
        size_field = line.split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise invalid_request("The aws-chunked body has a malformed chunk size.") from None
        if size == 0:
            break
        remaining = size
        while remaining:
            data = await content.read(min(remaining, _READ_SIZE))
            if not data:
                raise incomplete_body()
            remaining -= len(data)
            yield data
        if await content.readexactly(2) != b"\r\n":
            raise invalid_request("An aws-chunked chunk is longer than its declared size.")
    while line := await _read_line(content):
        name, separator, value = line.decode("latin-1").partition(":")
        if not separator:
            raise invalid_request("The aws-chunked body has a malformed trailer.")
        trailers[name.strip().lower()] = value.strip()


async def _plain(content: StreamReader) -> AsyncIterator[bytes]:
    async for data in content.iter_chunked(_READ_SIZE):
        yield data


class Digests(Protocol):
    """The running digests of a body being received (a `BlobWriter` or a `MemorySink`)."""

    @property
    def size(self) -> int: ...

    def md5_digest(self) -> bytes: ...

    def checksum(self, algorithm: str) -> str: ...


@dataclass(frozen=True)
class ReceivedBody:
    size: int
    checksum: Checksum | None  # the flexible checksum to store with the object


async def receive(
    request: web.Request, rules: BodyRules, sink: Callable[[bytes], None], digests: Digests
) -> ReceivedBody:
    """Stream the decoded body into `sink` (`digests` hashes it too; often the same writer),
    then run every integrity check."""
    trailers: dict[str, str] = {}
    chunks = (
        _aws_chunked(request.content, trailers) if rules.aws_chunked else _plain(request.content)
    )
    try:
        async for data in chunks:
            sink(data)
    except (ClientPayloadError, asyncio.IncompleteReadError, ConnectionResetError):
        raise incomplete_body() from None
    return verify(rules, digests, trailers)


def verify(rules: BodyRules, digests: Digests, trailers: dict[str, str]) -> ReceivedBody:
    size = digests.size
    if rules.decoded_length is not None and rules.decoded_length != size:
        raise incomplete_body()
    if rules.content_md5 is not None and rules.content_md5 != digests.md5_digest():
        raise S3Error(
            "The Content-MD5 you specified did not match what we received.",
            code="BadDigest",
            status=400,
            fields={
                "ExpectedDigest": base64.b64encode(rules.content_md5).decode(),
                "CalculatedDigest": base64.b64encode(digests.md5_digest()).decode(),
            },
        )
    checksum: Checksum | None = None
    if rules.algorithm is not None:
        computed = digests.checksum(rules.algorithm)
        claimed = rules.header_checksum
        if rules.trailer is not None:
            claimed = trailers.get(rules.trailer)
            if claimed is None:
                raise invalid_request(
                    f"The trailing checksum {rules.trailer} named in x-amz-trailer was not sent."
                )
            _check_checksum_shape(rules.algorithm, claimed, rules.trailer)
        if claimed is not None and claimed != computed:
            raise S3Error(
                f"The {rules.algorithm} you specified did not match the calculated checksum.",
                code="BadDigest",
                status=400,
            )
        checksum = Checksum(rules.algorithm, computed)
    if rules.content_sha256 is not None:
        computed_sha256 = base64.b64decode(digests.checksum("SHA256")).hex()
        if computed_sha256 != rules.content_sha256:
            raise S3Error(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                code="XAmzContentSHA256Mismatch",
                status=400,
                fields={
                    "ClientComputedContentSHA256": rules.content_sha256,
                    "S3ComputedContentSHA256": computed_sha256,
                },
            )
    return ReceivedBody(size, checksum)


class MemorySink:
    """A `BlobWriter`-shaped digest holder for small bodies kept in memory (XML documents)."""

    def __init__(self, algorithms: list[str], limit: int) -> None:
        self.data = bytearray()
        self.limit = limit
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._checksums = {name: new_checksum(name) for name in algorithms}

    @property
    def size(self) -> int:
        return len(self.data)

    def write(self, data: bytes) -> None:
        if len(self.data) + len(data) > self.limit:
            raise S3Error("Your request was too big.", code="MaxMessageLengthExceeded", status=400)
        self.data += data
        self._md5.update(data)
        for running in self._checksums.values():
            running.update(data)

    def md5_digest(self) -> bytes:
        return self._md5.digest()

    def checksum(self, algorithm: str) -> str:
        return b64(self._checksums[algorithm].digest())


async def receive_small(
    request: web.Request, limit: int, *, body_checksums: bool = True
) -> tuple[bytes, BodyRules]:
    """A small body (an XML document) in memory, checked like any other."""
    rules = read_rules(request, body_checksums=body_checksums)
    sink = MemorySink(rules.digest_algorithms, limit)
    await receive(request, rules, sink.write, sink)
    return bytes(sink.data), rules
