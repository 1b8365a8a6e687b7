"""The endpoint's S3 at the HTTP level: what raw clients see (error documents, framings,
addressing), where boto3 would hide or refuse to send the request."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import urllib.parse
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from tests.endpoint import Endpoint

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
BUCKET = "wire-bucket"


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def error(self) -> dict[str, str]:
        root = ET.fromstring(self.body)
        assert root.tag == "Error"
        return {child.tag: child.text or "" for child in root}


def send(
    endpoint: Endpoint,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One raw HTTP request (no SigV4: the endpoint does not check signatures)."""
    parsed = urllib.parse.urlsplit(endpoint.url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()


@pytest.fixture
def bucket(endpoint: Endpoint) -> str:
    assert send(endpoint, "PUT", f"/{BUCKET}").status == 200
    return BUCKET


def test_unknown_sub_resource_is_a_501_naming_the_operation(
    endpoint: Endpoint, bucket: str
) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{endpoint.url}/{bucket}?tagging", timeout=10)
    assert caught.value.code == 501
    assert caught.value.headers["Content-Type"] == "application/xml"
    error = Reply(501, {}, caught.value.read()).error()
    assert error["Code"] == "NotImplemented"
    assert "GetBucketTagging" in error["Message"]
    assert error["RequestId"] == caught.value.headers["x-amz-request-id"]
    reply = send(endpoint, "PUT", f"/{bucket}/key?acl", b"<x/>")
    assert reply.status == 501
    assert "PutObjectAcl" in reply.error()["Message"]
    reply = send(endpoint, "GET", f"/{bucket}?nonsense-thing")
    assert reply.status == 501
    assert "nonsense-thing" in reply.error()["Message"]


def test_method_not_allowed(endpoint: Endpoint, bucket: str) -> None:
    reply = send(endpoint, "PATCH", f"/{bucket}/key", b"x")
    assert reply.status == 405
    error = reply.error()
    assert error["Code"] == "MethodNotAllowed"
    assert error["Method"] == "PATCH"
    assert "GET" in reply.headers["allow"]
    assert send(endpoint, "POST", "/", b"").status == 405


def test_error_document_shape(endpoint: Endpoint, bucket: str) -> None:
    reply = send(endpoint, "GET", f"/{bucket}/missing%20key")
    assert reply.status == 404
    assert reply.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    error = reply.error()
    assert error["Code"] == "NoSuchKey"
    assert error["Message"] == "The specified key does not exist."
    assert error["Key"] == "missing key"
    assert error["RequestId"] == reply.headers["x-amz-request-id"]
    assert error["HostId"] == reply.headers["x-amz-id-2"]


def test_head_errors_have_no_body(endpoint: Endpoint, bucket: str) -> None:
    reply = send(endpoint, "HEAD", f"/{bucket}/missing")
    assert reply.status == 404
    assert reply.body == b""
    assert reply.headers["x-amz-request-id"]
    assert send(endpoint, "HEAD", "/no-such-bucket").status == 404


def test_list_xml_is_s3s(endpoint: Endpoint, bucket: str) -> None:
    send(endpoint, "PUT", f"/{bucket}/a%20b", b"12345")
    reply = send(endpoint, "GET", f"/{bucket}?list-type=2&encoding-type=url")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/xml"
    root = ET.fromstring(reply.body)
    assert root.tag == f"{NS}ListBucketResult"
    assert [child.tag.removeprefix(NS) for child in root] == [
        "Name",
        "Prefix",
        "KeyCount",
        "MaxKeys",
        "EncodingType",
        "IsTruncated",
        "Contents",
    ]
    contents = root.find(f"{NS}Contents")
    assert contents is not None
    assert contents.findtext(f"{NS}Key") == "a%20b"
    assert contents.findtext(f"{NS}LastModified") == "2026-01-01T00:00:00.000Z"
    assert contents.findtext(f"{NS}ETag") == f'"{hashlib.md5(b"12345").hexdigest()}"'
    assert contents.findtext(f"{NS}Size") == "5"
    assert b"<Prefix></Prefix>" in reply.body


def test_virtual_host_addressing(endpoint: Endpoint, bucket: str) -> None:
    port = urllib.parse.urlsplit(endpoint.url).port
    host = f"{bucket}.localhost:{port}"
    assert send(endpoint, "PUT", "/dir/file.txt", b"virtual", {"Host": host}).status == 200
    assert send(endpoint, "GET", f"/{bucket}/dir/file.txt").body == b"virtual"
    assert send(endpoint, "GET", "/dir/file.txt", headers={"Host": host}).body == b"virtual"
    listing = send(endpoint, "GET", "/?list-type=2", headers={"Host": host})
    assert b"<Key>dir/file.txt</Key>" in listing.body
    missing = send(endpoint, "GET", "/k", headers={"Host": f"other-bucket.localhost:{port}"})
    assert missing.status == 404
    assert missing.error()["Code"] == "NoSuchBucket"


def chunked_body(data: bytes, checksum: type[Any] | None = Crc32Checksum) -> bytes:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=1000,
    )
    return wrapper.read()


def chunked_headers(data: bytes, trailer: bool = True) -> dict[str, str]:
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": str(len(data)),
    }
    if trailer:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    return headers


def test_aws_chunked_trailer_checksum_is_verified(endpoint: Endpoint, bucket: str) -> None:
    data = b"0123456789" * 350
    reply = send(endpoint, "PUT", f"/{bucket}/good", chunked_body(data), chunked_headers(data))
    assert reply.status == 200
    expected = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert reply.headers["x-amz-checksum-crc32"] == expected
    assert send(endpoint, "GET", f"/{bucket}/good").body == data

    bad = chunked_body(data).replace(expected.encode(), b"AAAAAA==")
    reply = send(endpoint, "PUT", f"/{bucket}/bad", bad, chunked_headers(data))
    assert reply.status == 400
    assert reply.error()["Code"] == "BadDigest"
    assert send(endpoint, "GET", f"/{bucket}/bad").status == 404


def test_aws_chunked_framing_errors(endpoint: Endpoint, bucket: str) -> None:
    data = b"x" * 2500
    plain = chunked_body(data, checksum=None)
    reply = send(endpoint, "PUT", f"/{bucket}/k", plain, chunked_headers(data, trailer=False))
    assert reply.status == 200
    assert send(endpoint, "GET", f"/{bucket}/k").body == data

    wrong_length = chunked_headers(data, trailer=False) | {"x-amz-decoded-content-length": "7"}
    reply = send(endpoint, "PUT", f"/{bucket}/k2", plain, wrong_length)
    assert reply.status == 400
    assert reply.error()["Code"] == "IncompleteBody"

    garbage = b"zz;chunk-signature=0\r\nhello\r\n0\r\n\r\n"
    reply = send(endpoint, "PUT", f"/{bucket}/k3", garbage, chunked_headers(b"hello", False))
    assert reply.status == 400
    assert reply.error()["Code"] == "InvalidRequest"

    truncated = plain[:1500]
    reply = send(endpoint, "PUT", f"/{bucket}/k4", truncated, chunked_headers(data, False))
    assert reply.status == 400
    assert reply.error()["Code"] == "IncompleteBody"

    missing_trailer = chunked_body(data, checksum=None)
    reply = send(endpoint, "PUT", f"/{bucket}/k5", missing_trailer, chunked_headers(data))
    assert reply.status == 400
    assert reply.error()["Code"] == "InvalidRequest"
    assert [send(endpoint, "HEAD", f"/{bucket}/k{n}").status for n in (2, 3, 4, 5)] == [404] * 4


def test_signed_payload_hash_is_verified(endpoint: Endpoint, bucket: str) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    reply = send(endpoint, "PUT", f"/{bucket}/k", b"payload", {"x-amz-content-sha256": wrong})
    assert reply.status == 400
    assert reply.error()["Code"] == "XAmzContentSHA256Mismatch"
    right = hashlib.sha256(b"payload").hexdigest()
    assert (
        send(endpoint, "PUT", f"/{bucket}/k", b"payload", {"x-amz-content-sha256": right}).status
        == 200
    )


def test_bad_request_documents(endpoint: Endpoint, bucket: str) -> None:
    md5 = base64.b64encode(hashlib.md5(b"<Delete><Object>").digest()).decode()
    reply = send(endpoint, "POST", f"/{bucket}?delete", b"<Delete><Object>", {"Content-MD5": md5})
    assert reply.status == 400
    assert reply.error()["Code"] == "MalformedXML"
    document = b"<Delete><Object><Key>k</Key></Object></Delete>"
    reply = send(endpoint, "POST", f"/{bucket}?delete", document)
    assert reply.status == 400
    assert reply.error()["Code"] == "InvalidRequest"
    reply = send(
        endpoint,
        "PUT",
        f"/{bucket}?versioning",
        b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>",
    )
    assert reply.status == 400
    assert reply.error()["Code"] == "MalformedXML"
    reply = send(endpoint, "PUT", "/new-bucket", b"<not-a-config/>")
    assert reply.status == 400
    assert reply.error()["Code"] == "MalformedXML"


def test_undecodable_path_is_invalid_uri(endpoint: Endpoint, bucket: str) -> None:
    reply = send(endpoint, "GET", f"/{bucket}/%FF%FE")
    assert reply.status == 400
    assert reply.error()["Code"] == "InvalidURI"


def test_refused_headers(endpoint: Endpoint, bucket: str) -> None:
    reply = send(endpoint, "PUT", f"/{bucket}/k", b"x", {"x-amz-tagging": "a=b"})
    assert reply.status == 501
    assert reply.error()["Header"] == "x-amz-tagging"
    assert send(endpoint, "HEAD", f"/{bucket}/k").status == 404
