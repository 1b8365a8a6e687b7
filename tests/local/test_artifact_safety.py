"""Hostile artifacts in real pipelines: a source zip with `..`, absolute or linked entries, and
a build that packs a link leaving its tree, cannot write outside the action's workspace."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.endpoint import Endpoint
from tests.local.pipelines import (
    action_executions,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)


def hostile_zip(entries: list[tuple[str, str, bool]]) -> bytes:
    """A zip of (name, content, is_link) entries, written as given (no name cleaning)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content, is_link in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            mode = (stat.S_IFLNK | 0o777) if is_link else (stat.S_IFREG | 0o644)
            info.external_attr = mode << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def put_source(endpoint: Endpoint, body: bytes) -> None:
    upload_source(endpoint)  # creates the versioned bucket
    endpoint.client("s3").put_object(Bucket="source-bucket", Key="app.zip", Body=body)


def run_failed(endpoint: Endpoint, name: str, *stages: dict[str, Any]) -> dict[str, Any]:
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=pipeline(name, *stages))
    execution_id = latest_execution_id(cp, name)
    assert wait_status(cp, name, execution_id) == "Failed"
    (failed,) = [d for d in action_executions(cp, name, execution_id) if d["status"] == "Failed"]
    return failed


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ([("ok.txt", "ok", False), ("../../../../escaped.txt", "x", False)], "'..'"),
        ([("ok.txt", "ok", False), ("/tmp/escaped-absolute.txt", "x", False)], "absolute"),
        ([("ok.txt", "ok", False), ("link", "../../../../../etc", True)], "link"),
        ([("up", "../../../..", True), ("up/escaped.txt", "x", False)], "up"),
    ],
    ids=["dotdot", "absolute", "link-out", "write-through-link"],
)
def test_a_hostile_source_zip_fails_the_action_and_writes_nothing_outside(
    endpoint: Endpoint, tmp_path: Path, entries: list[tuple[str, str, bool]], words: str
) -> None:
    put_source(endpoint, hostile_zip(entries))
    marker = tmp_path / "ran"
    before = files_under(tmp_path)
    failed = run_failed(endpoint, "hostile", stage("Build", commands("Use", [f"touch {marker}"])))
    assert failed["actionName"] == "Use"
    summary = failed["output"]["executionResult"]["externalExecutionSummary"]
    assert summary.startswith(
        "The input artifact SourceOut cannot be unpacked: Unsafe artifact entry"
    )
    assert words in summary, summary
    assert not marker.exists()
    # Nothing new anywhere around the data dir but the endpoint's own stores and logs.
    created = files_under(tmp_path) - before
    assert not [p for p in created if "escaped" in p]
    assert not Path("/tmp/escaped-absolute.txt").exists()
    assert list((endpoint.data_dir / "workspaces").iterdir()) == []


def test_a_build_cannot_pack_a_link_leaving_its_tree(endpoint: Endpoint, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("server secret\n")
    upload_source(endpoint)
    failed = run_failed(
        endpoint,
        "packer",
        stage(
            "Build",
            commands("Pack", [f"ln -s {secret} leak", "echo fine > fine.txt"], output="Out"),
        ),
    )
    assert failed["actionName"] == "Pack"
    summary = failed["output"]["executionResult"]["externalExecutionSummary"]
    assert "The symlink leak -> " in summary
    assert "points outside the artifact's directory" in summary
    assert "outputArtifacts" not in failed["output"] or failed["output"]["outputArtifacts"] == []
    # The secret reached no object of the endpoint's S3.
    s3 = endpoint.client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        for obj in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            body = s3.get_object(Bucket=bucket["Name"], Key=obj["Key"])["Body"].read()
            assert b"server secret" not in body
