"""The S3 deploy action (category Deploy, owner AWS, provider S3, version 1).

Deploys the action's single input artifact into a bucket of the endpoint's own S3 (the
store the S3 API serves), so the result can be read back with any S3 client.

Configuration: `BucketName`, `Extract` (true/false), `ObjectKey` (required when Extract is
false), `CannedACL`, `CacheControl`, `KMSEncryptionKeyARN`.

Decisions recorded here:

- Extract=true: every file of the artifact becomes an object, its key the file's path inside
  the artifact under `ObjectKey` as a prefix (the bucket root without one; leading and
  trailing slashes of the prefix are dropped). Content types are guessed from file names
  (Python's `mimetypes`), [I] `binary/octet-stream` (S3's default) when unknown. Objects
  already in the bucket are left alone, as on AWS. [I] A symlink in the artifact is
  deployed as the file it points to (the engine only unpacks links that stay inside the
  artifact); a link to a directory is skipped with a log line.
- Extract=false: the artifact zip itself, byte for byte, as `ObjectKey`, content type
  `application/zip`. `{datetime}` in the key becomes [I] the engine clock's UTC time as
  `YYYY-MM-DD_HH-MM-SS`, and `{uuid}` a fresh UUID (the same one for every `{uuid}` of
  the key).
- `CacheControl` becomes each object's `Cache-Control` header. `CannedACL` must be one of
  S3's canned ACL names but is otherwise ignored (there are no ACLs here), and so is
  `KMSEncryptionKeyARN` (objects are not encrypted here); both leave a log line.
- A bucket that does not exist fails the action: the deploy never creates buckets, as on AWS
  (create it first with CreateBucket). A bad `Extract` value fails it too.
- [I] The summary says what was deployed where ("Deployed 3 objects to s3://site/web/",
  "Deployed the artifact to s3://site/builds/app.zip"); the external execution id is
  empty, and the timeout is AWS's 90 minutes.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tui.local.engine.objects import DEFAULT_CONTENT_TYPE, BlobWriter, ObjectStore
from tui.local.engine.providers.job import ActionJob, ActionOutcome
from tui.model.declaration import ActionDeclaration
from tui.model.errors import AwsError

DEPLOY_TIMEOUT_SECONDS = 90 * 60
CANNED_ACLS = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "aws-exec-read",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
        "log-delivery-write",
    }
)
_CHUNK = 1024 * 1024


def _failed(summary: str) -> ActionOutcome:
    return ActionOutcome(status="Failed", summary=summary, error_code="JobFailed")


def expand_object_key(key: str, now: float) -> str:
    """`{datetime}` and `{uuid}` placeholders of an ObjectKey, filled in."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d_%H-%M-%S")
    return key.replace("{datetime}", stamp).replace("{uuid}", str(uuid.uuid4()))


def _files(root: Path) -> list[tuple[str, Path]]:
    """(path inside the artifact, file to read) for every file, in name order."""
    found: list[tuple[str, Path]] = []
    for directory, subdirs, names in os.walk(root):
        # Links to directories are listed (and later skipped), never followed.
        links = [d for d in subdirs if Path(directory, d).is_symlink()]
        subdirs[:] = sorted(d for d in subdirs if d not in links)
        for name in [*names, *links]:
            path = Path(directory, name)
            found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def _fill(writer: BlobWriter, path: Path) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            writer.write(chunk)


class S3DeployProvider:
    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def default_timeout_seconds(self, declaration: ActionDeclaration) -> float | None:
        return DEPLOY_TIMEOUT_SECONDS

    async def run(self, job: ActionJob) -> ActionOutcome:
        configuration = job.configuration
        bucket = configuration.get("BucketName", "")
        extract = configuration.get("Extract", "").strip().lower()
        if extract not in ("true", "false"):
            return _failed(
                f"Extract must be true or false, not '{configuration.get('Extract', '')}'."
            )
        if len(job.input_dirs) != 1 or len(job.input_artifacts) != 1:
            return _failed("The S3 deploy action needs exactly one input artifact.")
        if not bucket or not self.objects.bucket_exists(bucket):
            return _failed(
                f"The bucket '{bucket}' does not exist. The S3 deploy action does not create "
                "buckets: create it first (CreateBucket, e.g. `aws s3 mb s3://"
                f"{bucket or '<name>'}` against this endpoint)."
            )
        acl = configuration.get("CannedACL")
        if acl is not None:
            if acl not in CANNED_ACLS:
                return _failed(
                    f"CannedACL '{acl}' is not a canned ACL; use one of {', '.join(sorted(CANNED_ACLS))}."
                )
            job.log(f"CannedACL {acl} accepted and ignored: objects here have no ACLs.")
        if configuration.get("KMSEncryptionKeyARN"):
            job.log("KMSEncryptionKeyARN accepted and ignored: objects here are not encrypted.")
        headers = {}
        if configuration.get("CacheControl"):
            headers["Cache-Control"] = configuration["CacheControl"]

        try:
            if extract == "true":
                prefix = configuration.get("ObjectKey", "").strip("/")
                root = next(iter(job.input_dirs.values()))
                count = await self._extract(job, bucket, prefix, root, headers)
                where = f"s3://{bucket}/{prefix + '/' if prefix else ''}"
                summary = f"Deployed {count} object{'' if count == 1 else 's'} to {where}"
            else:
                template = configuration.get("ObjectKey", "")
                if not template:
                    return _failed("ObjectKey is required when Extract is false.")
                key = expand_object_key(template, job.clock.now())
                artifact = job.input_artifacts[0]
                source = self.objects.head_object(artifact.bucket, artifact.key)
                self.objects.copy_object(
                    source,
                    bucket,
                    key,
                    content_type="application/zip",
                    metadata={},
                    http_headers=headers,
                )
                job.log(f"Uploaded {artifact.name} ({source.size} bytes) as s3://{bucket}/{key}")
                summary = f"Deployed the artifact to s3://{bucket}/{key}"
        except AwsError as exc:
            return _failed(f"Deploying to s3://{bucket} failed: {exc.code}: {exc.message}")
        job.log(summary)
        return ActionOutcome(status="Succeeded", summary=summary)

    async def _extract(
        self, job: ActionJob, bucket: str, prefix: str, root: Path, headers: dict[str, str]
    ) -> int:
        count = 0
        for name, path in await asyncio.to_thread(_files, root):
            if not path.is_file():
                job.log(f"Skipped {name}: a link to a directory, not a file")
                continue
            key = f"{prefix}/{name}" if prefix else name
            content_type = mimetypes.guess_type(name)[0] or DEFAULT_CONTENT_TYPE
            with self.objects.begin_write() as writer:
                await asyncio.to_thread(_fill, writer, path)
                self.objects.commit(
                    writer, bucket, key, content_type=content_type, http_headers=headers
                )
            job.log(f"Uploaded {name} as s3://{bucket}/{key} ({content_type})")
            count += 1
        return count
