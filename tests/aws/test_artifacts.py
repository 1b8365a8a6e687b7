"""Artifacts of real action runs on our endpoint: links, streamed downloads, and an unzip that
refuses every archive that would write outside its directory."""

from __future__ import annotations

import io
import os
import stat
import warnings
import zipfile
from pathlib import Path

import pytest

from tests.endpoint import Endpoint
from tests.local.pipelines import (
    ARTIFACT_BUCKET,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tui.aws.artifacts import (
    ArtifactRef,
    UnsafeArchive,
    action_artifacts,
    download,
    execution_artifacts,
    s3_console_url,
    safe_unzip,
)
from tui.aws.errors import NotFound, describe
from tui.aws.pipelines import PipelineClient
from tui.aws.session import AwsContext

BUCKET = "download-tests"


def ref(key: str, name: str = "Out") -> ArtifactRef:
    return ArtifactRef(
        name=name,
        bucket=BUCKET,
        key=key,
        direction="output",
        stage="Build",
        action="Run",
        pipeline_execution_id="e",
        action_execution_id="a",
        console_url=None,
    )


def put(endpoint: Endpoint, key: str, body: bytes) -> None:
    s3 = endpoint.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def zip_of(
    *entries: tuple[str, bytes] | zipfile.ZipInfo, links: dict[str, str] | None = None
) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # duplicate names are the point of one test
        for entry in entries:
            if isinstance(entry, zipfile.ZipInfo):
                archive.writestr(entry, b"")
            else:
                archive.writestr(entry[0], entry[1])
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


async def test_artifacts_of_a_real_run_download_and_unpack(
    aws: AwsContext, endpoint: Endpoint, tmp_path: Path
) -> None:
    upload_source(endpoint, {"README.md": "hello\n"})
    cp = endpoint.client("codepipeline")
    build = commands(
        "Compile",
        [
            "mkdir -p dist",
            "echo built > dist/app.txt",
            "printf '#!/bin/sh\\n' > dist/run.sh",
            "chmod 755 dist/run.sh",
        ],
        output="BuildOut",
        files=["dist/**/*"],
    )
    cp.create_pipeline(pipeline=pipeline("arts", stage("Build", build)))
    execution_id = latest_execution_id(cp, "arts")
    assert wait_status(cp, "arts", execution_id) == "Succeeded"
    details = await PipelineClient(aws).list_action_executions("arts", execution_id=execution_id)
    refs = execution_artifacts(details, region=aws.region, local=await aws.is_local())
    summary = {(r.action, r.direction, r.name) for r in refs}
    assert summary == {
        ("Fetch", "output", "SourceOut"),
        ("Compile", "input", "SourceOut"),
        ("Compile", "output", "BuildOut"),
    }
    out = next(r for r in refs if r.name == "BuildOut")
    assert out.bucket == ARTIFACT_BUCKET
    assert out.s3_uri == f"s3://{ARTIFACT_BUCKET}/{out.key}"
    assert out.console_url is None  # the local endpoint has no console
    assert out.pipeline_execution_id == execution_id
    assert out.stage == "Build"

    dest = tmp_path / "downloads"
    progress: list[int] = []
    saved = await download(
        aws, out, dest, extract=True, on_progress=lambda d, t: progress.append(d)
    )
    assert saved.path == dest / "BuildOut.zip"
    assert saved.size == saved.path.stat().st_size == progress[-1]
    assert saved.extracted == dest / "BuildOut"
    assert (saved.extracted / "dist" / "app.txt").read_text() == "built\n"
    assert os.access(saved.extracted / "dist" / "run.sh", os.X_OK)
    # A second download keeps the first.
    again = await download(aws, out, dest, extract=True)
    assert again.path == dest / "BuildOut-1.zip"
    assert again.extracted == dest / "BuildOut-1"
    assert sorted(p.name for p in dest.iterdir()) == [
        "BuildOut",
        "BuildOut-1",
        "BuildOut-1.zip",
        "BuildOut.zip",
    ]


def test_console_links_per_partition() -> None:
    detail = {
        "stageName": "Build",
        "actionName": "Run",
        "input": {
            "inputArtifacts": [
                {"name": "Src", "s3location": {"bucket": "b-1", "key": "p/Src/Ab c"}}
            ]
        },
        "output": {"outputArtifacts": [{"name": "Pending"}]},
    }
    (only,) = action_artifacts(detail, region="eu-west-1", local=False)
    assert only.console_url == (
        "https://s3.console.aws.amazon.com/s3/object/b-1?region=eu-west-1&prefix=p%2FSrc%2FAb%20c"
    )
    assert s3_console_url("b", "k", "cn-north-1").startswith(
        "https://console.amazonaws.cn/s3/object/b?"
    )
    assert s3_console_url("b", "k", "us-gov-west-1").startswith(
        "https://console.amazonaws-us-gov.com/"
    )
    assert action_artifacts(detail, region="eu-west-1", local=True)[0].console_url is None


async def test_large_objects_stream_in_chunks(
    aws: AwsContext, endpoint: Endpoint, tmp_path: Path
) -> None:
    body = os.urandom(1_500_000)
    put(endpoint, "big/blob", body)
    progress: list[tuple[int, int | None]] = []
    saved = await download(
        aws, ref("big/blob", "Blob"), tmp_path, on_progress=lambda d, t: progress.append((d, t))
    )
    assert saved.path.read_bytes() == body
    assert len(progress) > 1
    assert progress[-1] == (len(body), len(body))
    assert saved.extracted is None


async def test_a_missing_object_leaves_no_file(
    aws: AwsContext, endpoint: Endpoint, tmp_path: Path
) -> None:
    put(endpoint, "present", b"x")
    dest = tmp_path / "dest"
    with pytest.raises(Exception) as caught:  # noqa: PT011
        await download(aws, ref("absent"), dest)
    assert isinstance(describe(caught.value), NotFound)
    assert list(dest.iterdir()) == []


ESCAPES = {
    "parent": zip_of(("ok.txt", b"ok"), ("../evil.txt", b"x")),
    "nested-parent": zip_of(("a/../../evil.txt", b"x")),
    "absolute": zip_of(("/tmp/evil.txt", b"x")),
    "backslashes": zip_of(("a\\..\\..\\evil.txt", b"x")),
    "drive": zip_of(("C:/evil.txt", b"x")),
    "symlink-out": zip_of(("ok.txt", b"ok"), links={"link": "../../etc"}),
    "symlink-absolute": zip_of(links={"link": "/etc/passwd"}),
    "through-symlink": zip_of(("inside/evil.txt", b"x"), links={"inside": "."}),
    "duplicate": zip_of(("same.txt", b"1"), ("same.txt", b"2")),
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_unsafe_archives_are_refused_whole(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    archive = tmp_path / "bad.zip"
    archive.write_bytes(ESCAPES[name])
    with pytest.raises(UnsafeArchive):
        safe_unzip(archive, dest, "Bad")
    # Nothing was unpacked, inside or out.
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


async def test_download_refuses_to_unpack_an_escaping_artifact(
    aws: AwsContext, endpoint: Endpoint, tmp_path: Path
) -> None:
    put(endpoint, "bad/parent", ESCAPES["parent"])
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchive, match="outside"):
        await download(aws, ref("bad/parent", "Bad"), dest, extract=True)
    # The zip itself was saved (it is what the pipeline made); nothing was unpacked.
    assert [p.name for p in dest.iterdir()] == ["Bad.zip"]
    assert not (tmp_path / "evil.txt").exists()


async def test_in_tree_symlinks_are_kept(
    aws: AwsContext, endpoint: Endpoint, tmp_path: Path
) -> None:
    put(
        endpoint, "links", zip_of(("lib/real.txt", b"real"), links={"bin/alias": "../lib/real.txt"})
    )
    saved = await download(aws, ref("links", "Linked"), tmp_path, extract=True)
    assert saved.extracted is not None
    alias = saved.extracted / "bin" / "alias"
    assert alias.is_symlink()
    assert alias.read_text() == "real"
