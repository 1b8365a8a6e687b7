"""Multipart uploads through boto3: the transfer manager, the low-level calls, their errors."""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.endpoint import Endpoint

BUCKET = "multipart-bucket"
MIB = 1024 * 1024


@pytest.fixture
def s3(endpoint: Endpoint) -> Any:
    client = endpoint.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def error_code(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_transfer_manager_round_trip(s3: Any) -> None:
    body = os.urandom(12 * MIB + 123)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_fileobj(io.BytesIO(body), BUCKET, "big/upload.bin", Config=config)
    head = s3.head_object(Bucket=BUCKET, Key="big/upload.bin")
    assert head["ContentLength"] == len(body)
    assert head["ETag"].endswith('-3"')
    md5s = b"".join(
        hashlib.md5(body[offset : offset + 5 * MIB]).digest()
        for offset in range(0, len(body), 5 * MIB)
    )
    assert head["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    received = io.BytesIO()
    s3.download_fileobj(BUCKET, "big/upload.bin", received, Config=config)  # ranged GETs
    assert hashlib.md5(received.getvalue()).hexdigest() == hashlib.md5(body).hexdigest()
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_low_level_calls_with_composite_checksum(s3: Any) -> None:
    created = s3.create_multipart_upload(
        Bucket=BUCKET, Key="parts", ChecksumAlgorithm="SHA256", Metadata={"a": "b"}
    )
    upload_id = created["UploadId"]
    assert created["ChecksumAlgorithm"] == "SHA256"
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]] == [
        upload_id
    ]
    first = b"a" * (5 * MIB)
    second = b"tail"
    parts = []
    for number, data in ((1, first), (2, second)):
        sent = s3.upload_part(
            Bucket=BUCKET,
            Key="parts",
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="SHA256",
        )
        assert sent["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        parts.append(
            {"PartNumber": number, "ETag": sent["ETag"], "ChecksumSHA256": sent["ChecksumSHA256"]}
        )
    listed = s3.list_parts(Bucket=BUCKET, Key="parts", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, 5 * MIB), (2, 4)]
    done = s3.complete_multipart_upload(
        Bucket=BUCKET, Key="parts", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert done["ChecksumType"] == "COMPOSITE"
    assert done["ChecksumSHA256"].endswith("-2")
    got = s3.get_object(Bucket=BUCKET, Key="parts")
    assert got["Body"].read() == first + second
    assert got["Metadata"] == {"a": "b"}
    assert got["PartsCount"] == 2
    assert error_code(lambda: s3.list_parts(Bucket=BUCKET, Key="parts", UploadId=upload_id)) == (
        "NoSuchUpload",
        404,
    )


def test_upload_part_copy(s3: Any) -> None:
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=BUCKET, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="joined")["UploadId"]
    copied = s3.upload_part_copy(
        Bucket=BUCKET,
        Key="joined",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": BUCKET, "Key": "source"},
        CopySourceRange=f"bytes=0-{5 * MIB - 1}",
    )
    tail = s3.upload_part(Bucket=BUCKET, Key="joined", UploadId=upload_id, PartNumber=2, Body=b"!")
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="joined",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]},
                {"PartNumber": 2, "ETag": tail["ETag"]},
            ]
        },
    )
    assert s3.get_object(Bucket=BUCKET, Key="joined")["Body"].read() == source[: 5 * MIB] + b"!"


def test_multipart_errors(s3: Any) -> None:
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
    small = s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
    last = s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=2, Body=b"y")

    def complete(parts: list[dict[str, Any]]) -> Any:
        return s3.complete_multipart_upload(
            Bucket=BUCKET, Key="k", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )

    one = {"PartNumber": 1, "ETag": small["ETag"]}
    two = {"PartNumber": 2, "ETag": last["ETag"]}
    assert error_code(lambda: complete([one, two])) == ("EntityTooSmall", 400)
    assert error_code(lambda: complete([two, one])) == ("InvalidPartOrder", 400)
    assert error_code(lambda: complete([{"PartNumber": 1, "ETag": '"0"'}])) == ("InvalidPart", 400)
    assert error_code(lambda: complete([{"PartNumber": 3, "ETag": small["ETag"]}])) == (
        "InvalidPart",
        400,
    )
    assert error_code(
        lambda: s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=0, Body=b"")
    ) == ("InvalidArgument", 400)
    assert error_code(
        lambda: s3.upload_part(Bucket=BUCKET, Key="k", UploadId="nope", PartNumber=1, Body=b"")
    ) == ("NoSuchUpload", 404)
    # A single small part is a valid upload (the last part may be any size).
    complete([one])
    assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"x"
    assert error_code(lambda: complete([one])) == ("NoSuchUpload", 404)

    aborted = s3.create_multipart_upload(Bucket=BUCKET, Key="gone")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="gone", UploadId=aborted, PartNumber=1, Body=b"z")
    s3.abort_multipart_upload(Bucket=BUCKET, Key="gone", UploadId=aborted)
    assert error_code(lambda: s3.list_parts(Bucket=BUCKET, Key="gone", UploadId=aborted)) == (
        "NoSuchUpload",
        404,
    )
    assert error_code(lambda: s3.head_object(Bucket=BUCKET, Key="gone")) == ("404", 404)


def test_pending_uploads_do_not_block_bucket_deletion(s3: Any) -> None:
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=1, Body=b"z")
    s3.delete_bucket(Bucket=BUCKET)
    assert s3.list_buckets()["Buckets"] == []
