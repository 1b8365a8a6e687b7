"""The endpoint's S3 through a real boto3 client: buckets, objects, listings, versioning."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.endpoint import Endpoint
from tui.local.engine.objects import ObjectStore

BUCKET = "test-bucket"
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # ManualClock's default start


def error_of(call: Callable[[], Any]) -> tuple[str, int, dict[str, Any]]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response


def store(endpoint: Endpoint) -> ObjectStore:
    objects = endpoint.backend.objects
    assert objects is not None
    return objects


@pytest.fixture
def s3(endpoint: Endpoint) -> Any:
    return endpoint.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def versioned(s3: Any, bucket: str) -> str:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


# ---- buckets -------------------------------------------------------------------------------


def test_bucket_lifecycle(s3: Any) -> None:
    assert s3.list_buckets()["Buckets"] == []
    created = s3.create_bucket(Bucket="alpha-bucket")
    assert created["Location"] == "/alpha-bucket"
    s3.create_bucket(Bucket="beta-bucket")
    listed = s3.list_buckets()
    assert [b["Name"] for b in listed["Buckets"]] == ["alpha-bucket", "beta-bucket"]
    assert listed["Buckets"][0]["CreationDate"] == START
    assert listed["Owner"]["ID"]
    first_page = s3.list_buckets(MaxBuckets=1)
    assert [b["Name"] for b in first_page["Buckets"]] == ["alpha-bucket"]
    second_page = s3.list_buckets(MaxBuckets=1, ContinuationToken=first_page["ContinuationToken"])
    assert [b["Name"] for b in second_page["Buckets"]] == ["beta-bucket"]
    assert "ContinuationToken" not in second_page
    assert [b["Name"] for b in s3.list_buckets(Prefix="be")["Buckets"]] == ["beta-bucket"]
    head = s3.head_bucket(Bucket="alpha-bucket")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    s3.delete_bucket(Bucket="alpha-bucket")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["beta-bucket"]
    code, status, _ = error_of(lambda: s3.head_bucket(Bucket="alpha-bucket"))
    assert (code, status) == ("404", 404)


def test_create_bucket_with_location_constraint(s3: Any) -> None:
    s3.create_bucket(
        Bucket="europe-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert s3.get_bucket_location(Bucket="europe-bucket")["LocationConstraint"] == "eu-west-1"
    head = s3.head_bucket(Bucket="europe-bucket")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    s3.create_bucket(Bucket="home-bucket")
    assert s3.get_bucket_location(Bucket="home-bucket")["LocationConstraint"] is None


def test_create_bucket_errors(s3: Any, bucket: str) -> None:
    code, status, response = error_of(lambda: s3.create_bucket(Bucket=bucket))
    assert (code, status) == ("BucketAlreadyOwnedByYou", 409)
    assert response["Error"]["BucketName"] == bucket
    for name in ("Upper_Case", "ab", "-starts-with-dash", "192.168.1.1", "two..dots"):
        code, status, _ = error_of(lambda name=name: s3.create_bucket(Bucket=name))
        assert (code, status) == ("InvalidBucketName", 400), name


def test_missing_bucket_is_no_such_bucket_everywhere(s3: Any) -> None:
    calls = [
        lambda: s3.delete_bucket(Bucket="nowhere"),
        lambda: s3.list_objects_v2(Bucket="nowhere"),
        lambda: s3.list_objects(Bucket="nowhere"),
        lambda: s3.list_object_versions(Bucket="nowhere"),
        lambda: s3.get_bucket_versioning(Bucket="nowhere"),
        lambda: s3.put_object(Bucket="nowhere", Key="k", Body=b"x"),
        lambda: s3.get_object(Bucket="nowhere", Key="k"),
        lambda: s3.delete_object(Bucket="nowhere", Key="k"),
    ]
    for call in calls:
        code, status, response = error_of(call)
        assert (code, status) == ("NoSuchBucket", 404)
        assert response["Error"]["BucketName"] == "nowhere"
        assert response["Error"]["Message"] == "The specified bucket does not exist"


def test_delete_bucket_not_empty(s3: Any, versioned: str) -> None:
    s3.put_object(Bucket=versioned, Key="k", Body=b"x")
    code, status, _ = error_of(lambda: s3.delete_bucket(Bucket=versioned))
    assert (code, status) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=versioned, Key="k")  # leaves the version and a delete marker
    code, status, _ = error_of(lambda: s3.delete_bucket(Bucket=versioned))
    assert (code, status) == ("BucketNotEmpty", 409)
    for version in s3.list_object_versions(Bucket=versioned)["Versions"]:
        s3.delete_object(Bucket=versioned, Key="k", VersionId=version["VersionId"])
    for marker in s3.list_object_versions(Bucket=versioned)["DeleteMarkers"]:
        s3.delete_object(Bucket=versioned, Key="k", VersionId=marker["VersionId"])
    s3.delete_bucket(Bucket=versioned)
    assert s3.list_buckets()["Buckets"] == []


def test_bucket_versioning_configuration(s3: Any, bucket: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    code, status, _ = error_of(
        lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={})
    )
    assert (code, status) == ("IllegalVersioningConfigurationException", 400)


# ---- objects -------------------------------------------------------------------------------


def test_put_get_head_round_trip(s3: Any, bucket: str) -> None:
    body = b"hello, pipeline"
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/file.txt",
        Body=body,
        ContentType="text/plain",
        Metadata={"Revision-Summary": "first commit", "owner": "me"},
        CacheControl="max-age=60",
        ContentDisposition='attachment; filename="file.txt"',
    )
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ETag"] == etag
    assert "VersionId" not in put  # never-versioned bucket
    assert put["ChecksumCRC32"]  # botocore sent one; S3 echoes it
    got = s3.get_object(Bucket=bucket, Key="dir/file.txt")
    assert got["Body"].read() == body
    assert got["ETag"] == etag
    assert got["ContentType"] == "text/plain"
    assert got["ContentLength"] == len(body)
    assert got["Metadata"] == {"revision-summary": "first commit", "owner": "me"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == 'attachment; filename="file.txt"'
    assert got["LastModified"] == START
    assert (
        got["ResponseMetadata"]["HTTPHeaders"]["last-modified"] == "Thu, 01 Jan 2026 00:00:00 GMT"
    )
    assert got["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    head = s3.head_object(Bucket=bucket, Key="dir/file.txt", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == etag
    assert head["ChecksumCRC32"] == put["ChecksumCRC32"]
    assert head["Metadata"]["owner"] == "me"


def test_overwrite_replaces_and_clock_dates_it(endpoint: Endpoint, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    endpoint.advance(90.5)
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"two"
    assert got["LastModified"] == START + dt.timedelta(seconds=90)
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("k", 3)]
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True)]


def test_missing_key(s3: Any, bucket: str) -> None:
    code, status, response = error_of(lambda: s3.get_object(Bucket=bucket, Key="no/such key"))
    assert (code, status) == ("NoSuchKey", 404)
    assert response["Error"]["Key"] == "no/such key"
    assert response["Error"]["Message"] == "The specified key does not exist."
    assert len(response["ResponseMetadata"]["RequestId"]) == 16
    code, status, _ = error_of(lambda: s3.head_object(Bucket=bucket, Key="no/such key"))
    assert (code, status) == ("404", 404)  # HEAD errors have no body


def test_empty_object(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="folder/", Body=b"")
    assert put["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    got = s3.get_object(Bucket=bucket, Key="folder/")
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0


AWKWARD_KEYS = [
    "with space/and more spaces.txt",
    "ünïcödé/日本語/ファイル.bin",
    "plus+sign+key",
    "percent%20literal%2F",
    "semi;colon&amp=equals",
    "double//slash",
    "trailing/",
    "~tilde*star'quote(paren)",
    "question?mark#hash",
    "emoji-🚀",
    "dot/./segments/../here",
]


def test_awkward_keys(s3: Any, bucket: str) -> None:
    for key in AWKWARD_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode(), key
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(key.encode())
    ordered = sorted(AWKWARD_KEYS, key=lambda k: k.encode())
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ordered
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == ordered
    assert [v["Key"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == ordered
    for key in AWKWARD_KEYS:
        copy = key + ".copy"
        s3.copy_object(Bucket=bucket, Key=copy, CopySource={"Bucket": bucket, "Key": key})
        assert s3.get_object(Bucket=bucket, Key=copy)["Body"].read() == key.encode(), key
        s3.delete_object(Bucket=bucket, Key=key)
    remaining = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert remaining == sorted((k + ".copy" for k in AWKWARD_KEYS), key=lambda k: k.encode())


def test_key_too_long(s3: Any, bucket: str) -> None:
    code, status, _ = error_of(lambda: s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x"))
    assert (code, status) == ("KeyTooLongError", 400)


def test_range_get(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    part = s3.get_object(Bucket=bucket, Key="digits", Range="bytes=2-5")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["Body"].read() == b"2345"
    assert part["ContentRange"] == "bytes 2-5/10"
    assert part["ContentLength"] == 4
    assert s3.get_object(Bucket=bucket, Key="digits", Range="bytes=7-")["Body"].read() == b"789"
    assert s3.get_object(Bucket=bucket, Key="digits", Range="bytes=-3")["Body"].read() == b"789"
    assert s3.get_object(Bucket=bucket, Key="digits", Range="bytes=8-100")["Body"].read() == b"89"
    whole = s3.get_object(Bucket=bucket, Key="digits", Range="lines=1-2")  # ignored, as on S3
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200
    code, status, response = error_of(
        lambda: s3.get_object(Bucket=bucket, Key="digits", Range="bytes=10-20")
    )
    assert (code, status) == ("InvalidRange", 416)
    assert response["Error"]["ActualObjectSize"] == "10"


def test_conditional_get(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == b"v"
    code, status, _ = error_of(lambda: s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=etag))
    assert status == 304
    code, status, _ = error_of(lambda: s3.get_object(Bucket=bucket, Key="k", IfMatch='"nope"'))
    assert (code, status) == ("PreconditionFailed", 412)
    later = START + dt.timedelta(hours=1)
    code, status, _ = error_of(lambda: s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=later))
    assert status == 304
    earlier = START - dt.timedelta(hours=1)
    code, status, _ = error_of(
        lambda: s3.get_object(Bucket=bucket, Key="k", IfUnmodifiedSince=earlier)
    )
    assert (code, status) == ("PreconditionFailed", 412)


def test_conditional_put(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    code, status, _ = error_of(
        lambda: s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    )
    assert (code, status) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_response_header_overrides(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"v", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket,
        Key="k",
        ResponseContentType="application/json",
        ResponseContentDisposition="inline",
    )
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == "inline"


# ---- integrity -----------------------------------------------------------------------------


def test_large_object_round_trip(s3: Any, bucket: str) -> None:
    body = os.urandom(20 * 1024 * 1024)
    digest = hashlib.md5(body).hexdigest()
    put = s3.put_object(Bucket=bucket, Key="big.bin", Body=body)
    assert put["ETag"] == f'"{digest}"'
    got = s3.get_object(Bucket=bucket, Key="big.bin", ChecksumMode="ENABLED")
    received = got["Body"].read()  # botocore verifies the CRC32 while reading
    assert hashlib.md5(received).hexdigest() == digest
    assert got["ContentLength"] == len(body)


def test_bad_checksums_are_refused_and_nothing_is_stored(s3: Any, bucket: str) -> None:
    code, status, response = error_of(
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"data", ChecksumCRC32="AAAAAA==")
    )
    assert (code, status) == ("BadDigest", 400)
    assert "CRC32" in response["Error"]["Message"]
    wrong_md5 = "1B2M2Y8AsgTpgAmY7PhCfg=="  # the MD5 of the empty body
    code, status, _ = error_of(
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5=wrong_md5)
    )
    assert (code, status) == ("BadDigest", 400)
    code, status, _ = error_of(
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentMD5="not-base64!")
    )
    assert (code, status) == ("InvalidDigest", 400)
    code, status, _ = error_of(
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"data", ChecksumSHA256="short")
    )
    assert (code, status) == ("InvalidRequest", 400)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_checksum_algorithms(s3: Any, bucket: str) -> None:
    for algorithm in ("CRC32", "SHA1", "SHA256"):
        put = s3.put_object(Bucket=bucket, Key=algorithm, Body=b"abc", ChecksumAlgorithm=algorithm)
        got = s3.get_object(Bucket=bucket, Key=algorithm, ChecksumMode="ENABLED")
        assert got["Body"].read() == b"abc"
        assert got[f"Checksum{algorithm}"] == put[f"Checksum{algorithm}"]
    # botocore computes CRC32C only with the CRT; send the check value of the CRC32C catalogue.
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"123456789", ChecksumCRC32C="4waSgw==")
    assert put["ChecksumCRC32C"] == "4waSgw=="
    code, status, _ = error_of(
        lambda: s3.put_object(Bucket=bucket, Key="c", Body=b"123456780", ChecksumCRC32C="4waSgw==")
    )
    assert (code, status) == ("BadDigest", 400)


def test_put_with_content_md5(s3: Any, bucket: str) -> None:
    import base64

    body = b"checked"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert s3.put_object(Bucket=bucket, Key="k", Body=body, ContentMD5=md5)["ETag"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body


def _send_checksum_in_trailer(params: dict[str, Any], **_: Any) -> None:
    # Over plain HTTP botocore sends the checksum as a header; S3 over TLS gets it in the
    # aws-chunked trailer. Ask botocore for the TLS framing so that path is exercised.
    algorithm = params["context"].get("checksum", {}).get("request_algorithm")
    if isinstance(algorithm, dict):
        algorithm["in"] = "trailer"


def test_aws_chunked_body_with_trailing_checksum(endpoint: Endpoint, bucket: str) -> None:
    client = endpoint.client("s3")
    sent: dict[str, str] = {}
    client.meta.events.register("before-call.s3.PutObject", _send_checksum_in_trailer)
    client.meta.events.register(
        "before-send.s3.PutObject",
        lambda request, **_: sent.update(
            (name, value.decode() if isinstance(value, bytes) else value)
            for name, value in request.headers.items()
        ),
    )
    body = os.urandom(3 * 1024 * 1024 + 17)  # several 1 MiB aws-chunked chunks
    put = client.put_object(Bucket=bucket, Key="chunked.bin", Body=io.BytesIO(body))
    assert sent["Content-Encoding"] == "aws-chunked"
    assert sent["X-Amz-Trailer"] == "x-amz-checksum-crc32"
    assert sent["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = client.get_object(Bucket=bucket, Key="chunked.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ChecksumCRC32"] == put["ChecksumCRC32"]
    assert "ContentEncoding" not in got  # aws-chunked is framing, not a stored encoding


# ---- listing -------------------------------------------------------------------------------


def seed(endpoint: Endpoint, bucket: str, keys: list[str]) -> None:
    """Put many objects straight into the store (the wire is tested elsewhere; this is fast)."""
    objects = store(endpoint)

    def put_all() -> None:
        for key in keys:
            objects.put_object(bucket, key, b"")

    endpoint.call(put_all)


def test_list_v2_pages_through_2500_keys(endpoint: Endpoint, s3: Any, bucket: str) -> None:
    keys = [f"key-{index:05d}" for index in range(2500)]
    seed(endpoint, bucket, keys)
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))
    assert [page["KeyCount"] for page in pages] == [1000, 1000, 500]
    assert [page["IsTruncated"] for page in pages] == [True, True, False]
    assert "NextContinuationToken" not in pages[-1]
    listed = [obj["Key"] for page in pages for obj in page["Contents"]]
    assert listed == keys
    small = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix="key-024", PaginationConfig={"PageSize": 7}
        )
    )
    assert [obj["Key"] for page in small for obj in page["Contents"]] == keys[2400:2500]
    assert len(small) == 15


def test_list_with_delimiter(endpoint: Endpoint, s3: Any, bucket: str) -> None:
    keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/e/f", "d/e/g", "d/h", "e"]
    seed(endpoint, bucket, keys)
    result = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in result["CommonPrefixes"]] == ["a/", "b/", "d/"]
    assert [o["Key"] for o in result["Contents"]] == ["c", "e"]
    assert result["KeyCount"] == 5
    nested = s3.list_objects_v2(Bucket=bucket, Prefix="d/", Delimiter="/")
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["d/e/"]
    assert [o["Key"] for o in nested["Contents"]] == ["d/h"]
    # Paging one entry at a time never repeats a common prefix.
    entries = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}
    ):
        entries += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        entries += [o["Key"] for o in page.get("Contents", [])]
    assert entries == ["a/", "b/", "c", "d/", "e"]
    v1_entries = []
    for page in s3.get_paginator("list_objects").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}
    ):
        v1_entries += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        v1_entries += [o["Key"] for o in page.get("Contents", [])]
    assert sorted(v1_entries) == ["a/", "b/", "c", "d/", "e"]


def test_list_start_after_and_limits(endpoint: Endpoint, s3: Any, bucket: str) -> None:
    seed(endpoint, bucket, ["a", "b", "c", "d"])
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="b")
    assert [o["Key"] for o in after["Contents"]] == ["c", "d"]
    assert after["StartAfter"] == "b"
    one = s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
    assert one["IsTruncated"] is True
    assert one["KeyCount"] == 1
    exact = s3.list_objects_v2(Bucket=bucket, MaxKeys=4)
    assert exact["IsTruncated"] is False
    assert exact["KeyCount"] == 4
    none = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert none["KeyCount"] == 0
    assert "Contents" not in none
    v1 = s3.list_objects(Bucket=bucket, Marker="a", MaxKeys=2)
    assert [o["Key"] for o in v1["Contents"]] == ["b", "c"]
    assert v1["IsTruncated"] is True
    assert v1["Contents"][0]["Owner"]["ID"]
    code, status, response = error_of(
        lambda: s3.list_objects_v2(Bucket=bucket, ContinuationToken="garbage!")
    )
    assert (code, status) == ("InvalidArgument", 400)
    assert response["Error"]["ArgumentName"] == "continuation-token"
    code, status, _ = error_of(lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=-1))
    assert (code, status) == ("InvalidArgument", 400)


# ---- versioning ----------------------------------------------------------------------------


def test_versioning_flow(endpoint: Endpoint, s3: Any, versioned: str) -> None:
    first = s3.put_object(Bucket=versioned, Key="doc", Body=b"v1")
    endpoint.advance(1)
    second = s3.put_object(Bucket=versioned, Key="doc", Body=b"v2")
    v1, v2 = first["VersionId"], second["VersionId"]
    assert v1 != v2
    assert len(v1) == 32
    assert v1 != "null"
    latest = s3.get_object(Bucket=versioned, Key="doc")
    assert latest["Body"].read() == b"v2"
    assert latest["VersionId"] == v2
    old = s3.get_object(Bucket=versioned, Key="doc", VersionId=v1)
    assert old["Body"].read() == b"v1"
    assert old["VersionId"] == v1
    listed = s3.list_object_versions(Bucket=versioned)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [(v2, True), (v1, False)]

    deleted = s3.delete_object(Bucket=versioned, Key="doc")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert marker not in (v1, v2)
    code, status, response = error_of(lambda: s3.get_object(Bucket=versioned, Key="doc"))
    assert (code, status) == ("NoSuchKey", 404)
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    code, status, _ = error_of(lambda: s3.head_object(Bucket=versioned, Key="doc"))
    assert (code, status) == ("404", 404)
    code, status, _ = error_of(lambda: s3.get_object(Bucket=versioned, Key="doc", VersionId=marker))
    assert (code, status) == ("MethodNotAllowed", 405)
    assert s3.get_object(Bucket=versioned, Key="doc", VersionId=v1)["Body"].read() == b"v1"
    assert "Contents" not in s3.list_objects_v2(Bucket=versioned)
    history = s3.list_object_versions(Bucket=versioned)
    assert [(m["VersionId"], m["IsLatest"]) for m in history["DeleteMarkers"]] == [(marker, True)]
    assert [v["IsLatest"] for v in history["Versions"]] == [False, False]

    removed = s3.delete_object(Bucket=versioned, Key="doc", VersionId=marker)
    assert removed["DeleteMarker"] is True
    assert removed["VersionId"] == marker
    assert s3.get_object(Bucket=versioned, Key="doc")["Body"].read() == b"v2"
    s3.delete_object(Bucket=versioned, Key="doc", VersionId=v2)
    assert s3.get_object(Bucket=versioned, Key="doc")["Body"].read() == b"v1"


def test_version_id_errors(s3: Any, versioned: str) -> None:
    s3.put_object(Bucket=versioned, Key="doc", Body=b"v1")
    missing = "A" * 32
    code, status, response = error_of(
        lambda: s3.get_object(Bucket=versioned, Key="doc", VersionId=missing)
    )
    assert (code, status) == ("NoSuchVersion", 404)
    assert response["Error"]["VersionId"] == missing
    code, status, _ = error_of(
        lambda: s3.get_object(Bucket=versioned, Key="doc", VersionId="not a version")
    )
    assert (code, status) == ("InvalidArgument", 400)
    # Deleting a version that is not there succeeds, as on S3.
    assert s3.delete_object(Bucket=versioned, Key="doc", VersionId=missing)["VersionId"] == missing


def test_suspended_versioning_replaces_the_null_version(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="doc", Body=b"before")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket=bucket, Key="doc", Body=b"enabled")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=bucket, Key="doc", Body=b"s1")["VersionId"] == "null"
    assert s3.put_object(Bucket=bucket, Key="doc", Body=b"s2")["VersionId"] == "null"
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [v["VersionId"] for v in versions] == ["null", kept]
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId="null")["Body"].read() == b"s2"
    deleted = s3.delete_object(Bucket=bucket, Key="doc")
    assert deleted["DeleteMarker"] is True
    assert deleted["VersionId"] == "null"
    history = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in history["Versions"]] == [kept]
    assert [m["VersionId"] for m in history["DeleteMarkers"]] == ["null"]


def test_list_object_versions_paging(endpoint: Endpoint, s3: Any, versioned: str) -> None:
    expected = []
    for key in ("a", "b", "c"):
        ids = [s3.put_object(Bucket=versioned, Key=key, Body=b"x")["VersionId"] for _ in range(3)]
        expected += [(key, version) for version in reversed(ids)]
    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=versioned, PaginationConfig={"PageSize": 2}
    ):
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    assert seen == expected


# ---- batch delete and copy -----------------------------------------------------------------


def test_delete_objects(s3: Any, versioned: str) -> None:
    s3.put_object(Bucket=versioned, Key="a", Body=b"1")
    version_b = s3.put_object(Bucket=versioned, Key="b", Body=b"2")["VersionId"]
    result = s3.delete_objects(
        Bucket=versioned,
        Delete={
            "Objects": [
                {"Key": "a"},
                {"Key": "b", "VersionId": version_b},
                {"Key": "c", "VersionId": "bad version"},
            ]
        },
    )
    deleted = {d["Key"]: d for d in result["Deleted"]}
    assert deleted["a"]["DeleteMarker"] is True
    assert deleted["a"]["DeleteMarkerVersionId"]
    assert deleted["b"]["VersionId"] == version_b
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [("c", "InvalidArgument")]
    assert "Contents" not in s3.list_objects_v2(Bucket=versioned)
    quiet = s3.delete_objects(Bucket=versioned, Delete={"Objects": [{"Key": "z"}], "Quiet": True})
    assert "Deleted" not in quiet


def test_copy_object(s3: Any, versioned: str) -> None:
    s3.create_bucket(Bucket="other-bucket")
    first = s3.put_object(
        Bucket=versioned, Key="src", Body=b"one", ContentType="text/x-one", Metadata={"m": "1"}
    )
    s3.put_object(Bucket=versioned, Key="src", Body=b"two")
    copied = s3.copy_object(
        Bucket="other-bucket",
        Key="dst",
        CopySource={"Bucket": versioned, "Key": "src", "VersionId": first["VersionId"]},
    )
    assert copied["CopyObjectResult"]["ETag"] == first["ETag"]
    assert copied["CopySourceVersionId"] == first["VersionId"]
    got = s3.get_object(Bucket="other-bucket", Key="dst")
    assert got["Body"].read() == b"one"
    assert got["ContentType"] == "text/x-one"
    assert got["Metadata"] == {"m": "1"}
    replaced = s3.copy_object(
        Bucket=versioned,
        Key="src",
        CopySource={"Bucket": versioned, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"new": "yes"},
        ContentType="text/plain",
    )
    assert replaced["VersionId"]
    head = s3.head_object(Bucket=versioned, Key="src")
    assert head["Metadata"] == {"new": "yes"}
    assert head["ContentType"] == "text/plain"
    code, status, _ = error_of(
        lambda: s3.copy_object(Bucket=versioned, Key="src", CopySource=f"{versioned}/src")
    )
    assert (code, status) == ("InvalidRequest", 400)
    code, status, _ = error_of(
        lambda: s3.copy_object(Bucket=versioned, Key="x", CopySource=f"{versioned}/missing")
    )
    assert (code, status) == ("NoSuchKey", 404)
    code, status, _ = error_of(
        lambda: s3.copy_object(Bucket=versioned, Key="x", CopySource="no-such-bucket/src")
    )
    assert (code, status) == ("NoSuchBucket", 404)
    code, status, _ = error_of(
        lambda: s3.copy_object(
            Bucket=versioned,
            Key="x",
            CopySource={"Bucket": versioned, "Key": "src"},
            CopySourceIfMatch='"nope"',
        )
    )
    assert (code, status) == ("PreconditionFailed", 412)


# ---- persistence ---------------------------------------------------------------------------


def test_objects_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "persisted"
    first = Endpoint(data_dir).start()
    try:
        s3 = first.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        old = s3.put_object(Bucket=BUCKET, Key="a/b", Body=b"old", Metadata={"k": "v"})
        s3.put_object(Bucket=BUCKET, Key="a/b", Body=b"new")
        s3.put_object(Bucket=BUCKET, Key="gone", Body=b"x")
        s3.delete_object(Bucket=BUCKET, Key="gone")
    finally:
        first.stop()
    second = Endpoint(data_dir).start()
    try:
        s3 = second.client("s3")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]
        assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
        assert s3.get_object(Bucket=BUCKET, Key="a/b")["Body"].read() == b"new"
        old_got = s3.get_object(Bucket=BUCKET, Key="a/b", VersionId=old["VersionId"])
        assert old_got["Body"].read() == b"old"
        assert old_got["Metadata"] == {"k": "v"}
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["a/b"]
        code, status, _ = error_of(lambda: s3.get_object(Bucket=BUCKET, Key="gone"))
        assert (code, status) == ("NoSuchKey", 404)
    finally:
        second.stop()
