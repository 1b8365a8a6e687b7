from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from tui.local.clock import ManualClock
from tui.local.engine.artifacts import safe_extract
from tui.local.engine.db import open_database
from tui.local.engine.objects import ObjectStore, new_version_id
from tui.local.engine.providers.job import ActionJob
from tui.local.engine.providers.s3_source import S3SourceProvider
from tui.model.declaration import ActionDeclaration, ActionTypeId, OutputArtifact

BUCKET = "source-bucket"
KEY = "app/source.zip"


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.clock = ManualClock(start=1_767_225_600.0)
        data = tmp_path / "data"
        self.objects = ObjectStore(open_database(data), data / "objects", self.clock)
        self.provider = S3SourceProvider(self.objects)
        self.lines: list[str] = []
        self.runs = 0

    def job(
        self,
        configuration: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        outputs: list[str] | None = None,
    ) -> ActionJob:
        self.runs += 1
        declaration = ActionDeclaration(
            name="Source",
            action_type_id=ActionTypeId(category="Source", owner="AWS", provider="S3", version="1"),
            configuration=configuration
            if configuration is not None
            else {"S3Bucket": BUCKET, "S3ObjectKey": KEY},
            output_artifacts=[
                OutputArtifact(name=n)
                for n in (outputs if outputs is not None else ["SourceOutput"])
            ],
        )
        return ActionJob(
            pipeline_name="demo",
            pipeline_arn="arn:aws:codepipeline:us-east-1:000000000000:demo",
            pipeline_version=1,
            stage_name="Source",
            action_name="Source",
            execution_id="exec-1",
            action_execution_id=f"run-{self.runs}",
            region="us-east-1",
            account="000000000000",
            declaration=declaration,
            configuration=dict(declaration.configuration),
            workspace=self.tmp_path / f"workspace-{self.runs}",
            input_dirs={},
            input_artifacts=[],
            log=self.lines.append,
            clock=self.clock,
            log_group="/aws/codepipeline/demo",
            log_stream=f"run-{self.runs}",
            env=env or {},
        )


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    harness = Harness(tmp_path)
    harness.objects.ensure_bucket(BUCKET, versioned=True)
    return harness


async def test_reads_the_latest_version_as_the_output_artifact(h: Harness) -> None:
    h.objects.put_object(BUCKET, KEY, zip_bytes({"v": "1"}), content_type="application/zip")
    h.clock.advance(60)
    second = zip_bytes({"v": "2", "src/main.py": "print('hi')\n"})
    latest = h.objects.put_object(
        BUCKET,
        KEY,
        second,
        content_type="application/zip",
        metadata={"codepipeline-artifact-revision-summary": "Release 2: faster builds"},
    )

    outcome = await h.provider.run(h.job())

    assert outcome.status == "Succeeded", outcome.summary
    zip_path = outcome.output_artifacts["SourceOutput"]
    assert zip_path.read_bytes() == second
    assert zip_path.is_relative_to(h.tmp_path / "workspace-1")
    etag = hashlib.md5(second).hexdigest()
    assert outcome.revision is not None
    assert outcome.revision.revision_id == latest.version_id
    assert outcome.revision.change_identifier == etag
    assert outcome.revision.summary == "Release 2: faster builds"
    assert outcome.revision.created == latest.last_modified == 1_767_225_660.0
    assert outcome.output_variables == {"ETag": etag, "VersionId": latest.version_id}
    assert outcome.external_execution_id == latest.version_id
    unzipped = h.tmp_path / "unzipped"
    safe_extract(zip_path, unzipped)
    assert (unzipped / "src" / "main.py").read_text() == "print('hi')\n"
    assert any(latest.version_id in line for line in h.lines)


async def test_the_artifact_is_a_copy_independent_of_the_store(h: Harness) -> None:
    data = zip_bytes({"a": "a"})
    obj = h.objects.put_object(BUCKET, KEY, data)
    outcome = await h.provider.run(h.job())
    h.objects.delete_object(BUCKET, KEY, obj.version_id)
    assert outcome.output_artifacts["SourceOutput"].read_bytes() == data


async def test_a_version_override_reads_that_exact_version(h: Harness) -> None:
    first = h.objects.put_object(BUCKET, KEY, zip_bytes({"v": "1"}))
    h.objects.put_object(BUCKET, KEY, zip_bytes({"v": "2"}))
    outcome = await h.provider.run(
        h.job(
            env={
                "PIPETOP_SOURCE_REVISION": first.version_id,
                "PIPETOP_SOURCE_REVISION_TYPE": "S3_OBJECT_VERSION_ID",
            }
        )
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert outcome.output_artifacts["SourceOutput"].read_bytes() == zip_bytes({"v": "1"})
    assert outcome.revision is not None
    assert outcome.revision.revision_id == first.version_id
    assert outcome.output_variables["VersionId"] == first.version_id
    assert outcome.revision.summary is None

    untyped = await h.provider.run(h.job(env={"PIPETOP_SOURCE_REVISION": first.version_id}))
    assert untyped.output_variables["VersionId"] == first.version_id


async def test_an_object_key_override_reads_that_key(h: Harness) -> None:
    h.objects.put_object(BUCKET, KEY, zip_bytes({"which": "configured"}))
    other = h.objects.put_object(BUCKET, "other.zip", zip_bytes({"which": "override"}))
    outcome = await h.provider.run(
        h.job(
            env={
                "PIPETOP_SOURCE_REVISION": "other.zip",
                "PIPETOP_SOURCE_REVISION_TYPE": "S3_OBJECT_KEY",
            }
        )
    )
    assert outcome.status == "Succeeded", outcome.summary
    assert outcome.output_variables["VersionId"] == other.version_id


async def test_an_override_of_another_kind_fails(h: Harness) -> None:
    h.objects.put_object(BUCKET, KEY, zip_bytes({"a": "a"}))
    outcome = await h.provider.run(
        h.job(
            env={"PIPETOP_SOURCE_REVISION": "abc123", "PIPETOP_SOURCE_REVISION_TYPE": "COMMIT_ID"}
        )
    )
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert "COMMIT_ID" in outcome.summary


async def test_a_non_zip_object_fails_clearly(h: Harness) -> None:
    obj = h.objects.put_object(BUCKET, KEY, b"just some text, not an archive")
    outcome = await h.provider.run(h.job())
    assert outcome.status == "Failed"
    assert outcome.error_code == "JobFailed"
    assert outcome.summary is not None
    assert "is not a zip file" in outcome.summary
    assert f"s3://{BUCKET}/{KEY}" in outcome.summary
    assert outcome.output_artifacts == {}
    assert outcome.external_execution_id == obj.version_id
    assert not (h.tmp_path / "workspace-1" / "SourceOutput.zip").exists()


async def test_missing_bucket_key_and_version_fail_with_s3s_message(h: Harness) -> None:
    outcome = await h.provider.run(h.job())
    assert outcome.status == "Failed"
    assert outcome.summary == f"The specified key does not exist. s3://{BUCKET}/{KEY}"

    outcome = await h.provider.run(
        h.job(configuration={"S3Bucket": "no-such-bucket", "S3ObjectKey": KEY})
    )
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert outcome.summary.startswith("The specified bucket does not exist")

    h.objects.put_object(BUCKET, KEY, zip_bytes({"a": "a"}))
    missing = new_version_id()
    outcome = await h.provider.run(h.job(env={"PIPETOP_SOURCE_REVISION": missing}))
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert outcome.summary.startswith("The specified version does not exist.")
    assert missing in outcome.summary


async def test_a_deleted_object_fails_as_missing(h: Harness) -> None:
    h.objects.put_object(BUCKET, KEY, zip_bytes({"a": "a"}))
    h.objects.delete_object(BUCKET, KEY)  # a delete marker on top
    outcome = await h.provider.run(h.job())
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert outcome.summary.startswith("The specified key does not exist.")


async def test_an_unversioned_bucket_reports_the_null_version(h: Harness) -> None:
    h.objects.ensure_bucket("plain", versioned=False)
    h.objects.put_object("plain", KEY, zip_bytes({"a": "a"}))
    outcome = await h.provider.run(h.job(configuration={"S3Bucket": "plain", "S3ObjectKey": KEY}))
    assert outcome.status == "Succeeded", outcome.summary
    assert outcome.output_variables["VersionId"] == "null"


@pytest.mark.parametrize(
    ("configuration", "outputs", "message"),
    [
        ({"S3Bucket": BUCKET}, ["SourceOutput"], "S3ObjectKey"),
        ({"S3ObjectKey": KEY}, ["SourceOutput"], "S3Bucket"),
        ({"S3Bucket": BUCKET, "S3ObjectKey": KEY}, [], "output artifact"),
    ],
)
async def test_an_incomplete_declaration_fails(
    h: Harness, configuration: dict[str, str], outputs: list[str], message: str
) -> None:
    h.objects.put_object(BUCKET, KEY, zip_bytes({"a": "a"}))
    outcome = await h.provider.run(h.job(configuration=configuration, outputs=outputs))
    assert outcome.status == "Failed"
    assert outcome.summary is not None
    assert message in outcome.summary
