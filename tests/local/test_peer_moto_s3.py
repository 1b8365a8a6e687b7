"""The same client-side S3 checks against our endpoint and against moto's server.

Moto is an independent peer: where both pass, our S3 and the client code reading artifacts do
not share one misunderstanding unnoticed. moto's server runs as a real subprocess on a free
loopback port (tests.aws.moto_server); our endpoint runs on the wall clock in a background
thread. Where the two disagree, botocore's model and the reference (`codepipeline.md`) decide,
and the check says which peer is wrong in a comment and skips that one assertion for it.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.aws.moto_server import MotoServer
from tests.endpoint import CLIENT_CONFIG, Endpoint
from tui.local.clock import Clock


@dataclass(frozen=True)
class Peer:
    name: str
    url: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=CLIENT_CONFIG,
        )


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = MotoServer().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def local_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    endpoint = Endpoint(Path(tmp_path_factory.mktemp("peer")) / "data", clock=Clock()).start()
    try:
        yield endpoint.url
    finally:
        endpoint.stop()


@pytest.fixture(params=["local", "moto"])
def peer(request: pytest.FixtureRequest) -> Peer:
    return Peer(request.param, request.getfixturevalue(f"{request.param}_url"))


def new_bucket(s3: Any, *, versioned: bool = False) -> str:
    name = f"peer-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_objects_round_trip_with_metadata_ranges_and_etags(peer: Peer) -> None:
    s3 = peer.client()
    bucket = new_bucket(s3)
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=bucket)
    body = b"0123456789" * 10
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/a.txt",
        Body=body,
        ContentType="text/plain",
        Metadata={"codepipeline-artifact-revision-summary": "first"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/a.txt")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentLength"] == 100
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"codepipeline-artifact-revision-summary": "first"}
    head = s3.head_object(Bucket=bucket, Key="dir/a.txt")
    assert head["ETag"] == put["ETag"]
    assert head["ContentLength"] == 100
    assert head["Metadata"] == got["Metadata"]
    ranged = s3.get_object(Bucket=bucket, Key="dir/a.txt", Range="bytes=10-19")
    assert ranged["Body"].read() == b"0123456789"
    assert ranged["ContentRange"] == "bytes 10-19/100"
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206

    copied = s3.copy_object(
        Bucket=bucket, Key="b.txt", CopySource={"Bucket": bucket, "Key": "dir/a.txt"}
    )
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"]
    assert s3.get_object(Bucket=bucket, Key="b.txt")["Metadata"] == got["Metadata"]


def test_missing_buckets_and_keys(peer: Peer) -> None:
    s3 = peer.client()
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=f"absent-{uuid.uuid4().hex[:8]}", Key="k")
    assert error_code(excinfo) == "NoSuchBucket"
    bucket = new_bucket(s3)
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="nothing")
    # HEAD has no body: botocore names the error by its status.
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key="nothing")
    assert error_code(excinfo) == "404"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket=bucket)
    assert error_code(excinfo) == "BucketNotEmpty"
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket=bucket)
    assert error_code(excinfo) == "404"


def test_listings_page_with_prefix_and_delimiter(peer: Peer) -> None:
    s3 = peer.client()
    bucket = new_bucket(s3)
    keys = [f"art/{i:02d}.zip" for i in range(7)] + ["art/sub/x.zip", "other.txt"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": "art/", "MaxKeys": 3}
    pages = 0
    while True:
        page = s3.list_objects_v2(**kwargs)
        pages += 1
        seen += [o["Key"] for o in page.get("Contents", [])]
        assert page["KeyCount"] == len(page.get("Contents", []))
        if not page["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    assert seen == sorted(k for k in keys if k.startswith("art/"))
    assert pages == 3
    grouped = s3.list_objects_v2(Bucket=bucket, Prefix="art/", Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["art/sub/"]
    assert len(grouped["Contents"]) == 7
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="art/06.zip")
    assert [o["Key"] for o in after["Contents"]] == ["art/sub/x.zip", "other.txt"]
    deleted = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "other.txt"}, {"Key": "art/00.zip"}]}
    )
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["art/00.zip", "other.txt"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 7


def test_versions_are_kept_and_read_back(peer: Peer) -> None:
    s3 = peer.client()
    bucket = new_bucket(s3, versioned=True)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    first = s3.put_object(Bucket=bucket, Key="app.zip", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="app.zip", Body=b"two")["VersionId"]
    assert first != second
    assert s3.get_object(Bucket=bucket, Key="app.zip")["Body"].read() == b"two"
    old = s3.get_object(Bucket=bucket, Key="app.zip", VersionId=first)
    assert old["Body"].read() == b"one"
    assert old["VersionId"] == first
    versions = s3.list_object_versions(Bucket=bucket, Prefix="app.zip")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(second, True), (first, False)]
    marker = s3.delete_object(Bucket=bucket, Key="app.zip")
    assert marker["DeleteMarker"] is True
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="app.zip")
    assert s3.get_object(Bucket=bucket, Key="app.zip", VersionId=second)["Body"].read() == b"two"
    listing = s3.list_object_versions(Bucket=bucket, Prefix="app.zip")
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == [marker["VersionId"]]


def test_multipart_upload_and_artifact_zip(peer: Peer, tmp_path: Path) -> None:
    s3 = peer.client()
    bucket = new_bucket(s3)
    part = 5 * 1024 * 1024
    data = bytes(range(256)) * (part * 2 // 256) + b"tail"
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    s3.upload_file(
        str(source),
        bucket,
        "big.bin",
        Config=TransferConfig(
            multipart_threshold=part, multipart_chunksize=part, use_threads=False
        ),
    )
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data)
    digests = b"".join(hashlib.md5(data[i : i + part]).digest() for i in range(0, len(data), part))
    assert head["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-3"'
    target = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(target))
    assert target.read_bytes() == data

    # An artifact zip as the TUI downloads it: bytes in, the same entries out.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.html", "<h1>hi</h1>")
        archive.writestr("js/app.js", "run()")
    s3.put_object(Bucket=bucket, Key="pipe/BuildOut/abc1234", Body=buffer.getvalue())
    body = s3.get_object(Bucket=bucket, Key="pipe/BuildOut/abc1234")["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.namelist() == ["index.html", "js/app.js"]
        assert archive.read("js/app.js") == b"run()"
