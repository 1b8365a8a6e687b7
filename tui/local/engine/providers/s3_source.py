"""The S3 source action (category Source, owner AWS, provider S3, version 1).

Configuration: `S3Bucket` and `S3ObjectKey` (PollForSourceChanges is the engine's concern).
The action reads the latest version of the object from the endpoint's own object store, and
that object must already be a zip: it becomes the output artifact byte for byte, as on AWS
(a single unzipped file "works" there only until a downstream action tries to unzip it; here
it fails the source action at once, with a summary saying so).

Decisions recorded here:

- Revision: `revisionId` = the object's version id, `revisionChangeIdentifier` = its ETag,
  `revisionSummary` = the object's user metadata `codepipeline-artifact-revision-summary` when
  present, `created` = its last-modified time. [I] The ETag is given without S3's surrounding
  quotes, in the revision and in the `ETag` output variable, so it can be used in `#{...}`
  variables as is. Output variables: `ETag` and `VersionId`. External execution id = the
  version id.
- [I] A bucket that was never versioned reports the version id "null", as S3 does (AWS
  requires a versioned source bucket; the local engine does not refuse the object).
- A source revision override reaches the provider in `job.env`: `PIPETOP_SOURCE_REVISION`
  (the value) and `PIPETOP_SOURCE_REVISION_TYPE`. `S3_OBJECT_VERSION_ID` (or no type) reads
  that exact version; [I] `S3_OBJECT_KEY` reads the latest version of that key instead of
  the configured one; any other type fails the action.
- A missing bucket, key or version fails the action with S3's own message (NoSuchBucket,
  NoSuchKey, NoSuchVersion), naming what was asked for.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import BinaryIO

from tui.local.engine.artifacts import is_zip
from tui.local.engine.objects import ObjectStore
from tui.local.engine.providers.job import ActionJob, ActionOutcome, SourceRevision
from tui.model.declaration import ActionDeclaration
from tui.model.errors import AwsError

REVISION_SUMMARY_METADATA = "codepipeline-artifact-revision-summary"
REVISION_OVERRIDE = "PIPETOP_SOURCE_REVISION"
REVISION_OVERRIDE_TYPE = "PIPETOP_SOURCE_REVISION_TYPE"


class S3SourceProvider:
    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def default_timeout_seconds(self, declaration: ActionDeclaration) -> float | None:
        # [I] Reading a local object takes seconds at most; an hour is the generic action bound.
        return 60 * 60

    async def run(self, job: ActionJob) -> ActionOutcome:
        bucket = job.configuration.get("S3Bucket", "")
        key = job.configuration.get("S3ObjectKey", "")
        if not bucket or not key:
            return _failed(
                "The S3 source action needs both S3Bucket and S3ObjectKey in its configuration."
            )
        if not job.declaration.output_artifacts:
            return _failed("The S3 source action needs one output artifact to put the object in.")
        artifact_name = job.declaration.output_artifacts[0].name

        version_id: str | None = None
        override = job.env.get(REVISION_OVERRIDE)
        if override:
            override_type = job.env.get(REVISION_OVERRIDE_TYPE, "S3_OBJECT_VERSION_ID")
            if override_type == "S3_OBJECT_VERSION_ID":
                version_id = override
            elif override_type == "S3_OBJECT_KEY":
                key = override
            else:
                return _failed(
                    f"The source revision type {override_type} does not apply to an S3 source action; "
                    "use S3_OBJECT_VERSION_ID or S3_OBJECT_KEY."
                )

        where = f"s3://{bucket}/{key}" + (f" (version {version_id})" if version_id else "")
        try:
            obj = self.objects.head_object(bucket, key, version_id)
            handle = self.objects.open_object(obj)
        except AwsError as exc:
            return _failed(f"{exc.message} {where}")

        destination = job.workspace / f"{artifact_name}.zip"
        job.workspace.mkdir(parents=True, exist_ok=True)
        with handle:
            await asyncio.to_thread(_copy, handle, destination)
        if not is_zip(destination):
            destination.unlink(missing_ok=True)
            return _failed(
                f"The object {where} is not a zip file. An S3 source object must be a .zip archive "
                "of the source files.",
                external_execution_id=obj.version_id,
            )

        etag = obj.etag.strip('"')
        job.log(
            f"Read {where} version {obj.version_id} ({obj.size} bytes, ETag {etag}) as {artifact_name}"
        )
        return ActionOutcome(
            status="Succeeded",
            external_execution_id=obj.version_id,
            output_variables={"ETag": etag, "VersionId": obj.version_id},
            output_artifacts={artifact_name: destination},
            revision=SourceRevision(
                revision_id=obj.version_id,
                change_identifier=etag,
                summary=obj.metadata.get(REVISION_SUMMARY_METADATA),
                created=obj.last_modified,
            ),
        )


def _copy(source: BinaryIO, destination: Path) -> None:
    with destination.open("wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)


def _failed(summary: str, *, external_execution_id: str | None = None) -> ActionOutcome:
    return ActionOutcome(
        status="Failed",
        summary=summary,
        error_code="JobFailed",
        external_execution_id=external_execution_id,
    )
