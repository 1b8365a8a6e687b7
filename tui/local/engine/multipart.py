"""S3 multipart uploads on the object store: uploads, parts, completion, abort.

Parts are files under the store's blob directory like any object version (same write order,
same crash sweep); their rows live in `s3_parts` (the schema is the store's). Completion
concatenates the parts into one new file, so a completed object is an ordinary version.

Decisions [I]:
- Upload ids are 64 random URL-safe characters (S3's are opaque strings of that order).
- ETag of a completed upload: MD5 of the parts' binary MD5s, `-<part count>`, as S3.
- A checksum algorithm named at creation is computed for every part (verified when the part
  carries one) and completed as S3 does: COMPOSITE = the checksum of the parts' binary
  checksums with `-<part count>`; FULL_OBJECT = the checksum of all the bytes. Without a
  checksum type, CRC64NVME uploads are FULL_OBJECT and the others COMPOSITE.
- A part checksum sent for an upload created without an algorithm is verified but not kept.
- Pending uploads never expire (no lifecycle rules locally).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui.local.engine.checksums import new_checksum
from tui.local.engine.db import transaction
from tui.local.engine.objects import (
    BlobWriter,
    Checksum,
    S3Error,
    StoredObject,
    invalid_argument,
    validate_key,
)

if TYPE_CHECKING:
    from tui.local.engine.objects import ObjectStore

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
_COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)
    http_headers: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None
    checksum_type: str | None = None


@dataclass(frozen=True)
class Part:
    part_number: int
    etag: str
    size: int
    last_modified: float
    checksum_value: str | None = None
    blob: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CompletedPart:
    """A part as CompleteMultipartUpload names it."""

    part_number: int
    etag: str
    checksum_value: str | None = None


@dataclass(frozen=True)
class PartPage:
    parts: list[Part]
    is_truncated: bool
    next_part_number_marker: int | None


@dataclass(frozen=True)
class UploadPage:
    uploads: list[Upload]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None


def no_such_upload(upload_id: str) -> S3Error:
    return S3Error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed.",
        code="NoSuchUpload",
        status=404,
        fields={"UploadId": upload_id},
    )


def invalid_part(message: str, part: CompletedPart) -> S3Error:
    return S3Error(
        message,
        code="InvalidPart",
        status=400,
        fields={"PartNumber": str(part.part_number), "ETag": part.etag},
    )


def validate_part_number(raw: str) -> int:
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PART_NUMBER:
        raise invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive", "partNumber", raw
        )
    return number


def _normalized_etag(etag: str) -> str:
    return '"' + etag.strip().strip('"') + '"'


class MultipartUploads:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.db = store.db

    def create(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        metadata: dict[str, str],
        http_headers: dict[str, str],
        checksum_algorithm: str | None = None,
        checksum_type: str | None = None,
    ) -> Upload:
        self.store.get_bucket(bucket)
        validate_key(key)
        if checksum_type is not None and checksum_algorithm is None:
            raise S3Error(
                "The x-amz-checksum-type header can only be used with the "
                "x-amz-checksum-algorithm header.",
                code="InvalidRequest",
                status=400,
            )
        if checksum_algorithm is not None and checksum_type is None:
            checksum_type = "FULL_OBJECT" if checksum_algorithm == "CRC64NVME" else "COMPOSITE"
        if checksum_type == "FULL_OBJECT" and checksum_algorithm not in (
            "CRC32",
            "CRC32C",
            "CRC64NVME",
        ):
            raise S3Error(
                f"The FULL_OBJECT checksum type cannot be used with the {checksum_algorithm} "
                "checksum algorithm.",
                code="InvalidRequest",
                status=400,
            )
        if checksum_type == "COMPOSITE" and checksum_algorithm == "CRC64NVME":
            raise S3Error(
                "The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm.",
                code="InvalidRequest",
                status=400,
            )
        upload = Upload(
            upload_id=secrets.token_urlsafe(48),
            bucket=bucket,
            key=key,
            initiated=self.store.clock.now(),
            content_type=content_type,
            metadata=dict(metadata),
            http_headers=dict(http_headers),
            checksum_algorithm=checksum_algorithm,
            checksum_type=checksum_type,
        )
        self.db.execute(
            "INSERT INTO s3_uploads (upload_id, bucket, key, initiated, content_type, metadata, "
            "http_headers, checksum_algorithm, checksum_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                upload.upload_id,
                bucket,
                key,
                upload.initiated,
                content_type,
                json.dumps(upload.metadata),
                json.dumps(upload.http_headers),
                checksum_algorithm,
                checksum_type,
            ),
        )
        return upload

    def get(self, bucket: str, key: str, upload_id: str) -> Upload:
        self.store.get_bucket(bucket)
        row = self.db.execute(
            "SELECT upload_id, bucket, key, initiated, content_type, metadata, http_headers, "
            "checksum_algorithm, checksum_type FROM s3_uploads "
            "WHERE upload_id = ? AND bucket = ? AND key = ?",
            (upload_id, bucket, key),
        ).fetchone()
        if row is None:
            raise no_such_upload(upload_id)
        return _row_to_upload(row)

    def put_part(
        self, upload: Upload, part_number: int, writer: BlobWriter, checksum_value: str | None
    ) -> Part:
        """Make the written bytes part `part_number` (replacing an earlier one)."""
        blob = self.store.adopt_written(writer)
        part = Part(
            part_number, writer.etag, writer.size, self.store.clock.now(), checksum_value, blob
        )
        try:
            with transaction(self.db):
                self.get(upload.bucket, upload.key, upload.upload_id)
                old = self.db.execute(
                    "SELECT blob FROM s3_parts WHERE upload_id = ? AND part_number = ?",
                    (upload.upload_id, part_number),
                ).fetchone()
                self.db.execute(
                    "INSERT OR REPLACE INTO s3_parts (upload_id, part_number, etag, size, "
                    "last_modified, checksum_value, blob) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        upload.upload_id,
                        part_number,
                        part.etag,
                        part.size,
                        part.last_modified,
                        checksum_value,
                        blob,
                    ),
                )
        except BaseException:
            if blob is not None:
                self.store.blob_path(blob).unlink(missing_ok=True)
            raise
        if old is not None and old[0] is not None:
            self.store.unlink_blobs([str(old[0])])
        return part

    def parts(self, upload: Upload) -> list[Part]:
        rows = self.db.execute(
            "SELECT part_number, etag, size, last_modified, checksum_value, blob FROM s3_parts "
            "WHERE upload_id = ? ORDER BY part_number",
            (upload.upload_id,),
        ).fetchall()
        return [Part(*row) for row in rows]

    def list_parts(
        self, upload: Upload, *, part_number_marker: int = 0, max_parts: int = 1000
    ) -> PartPage:
        after = [part for part in self.parts(upload) if part.part_number > part_number_marker]
        page = after[:max_parts]
        truncated = len(after) > max_parts
        return PartPage(page, truncated, page[-1].part_number if truncated and page else None)

    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadPage:
        """Pending uploads in (key, initiation) order after the markers."""
        self.store.get_bucket(bucket)
        rows = self.db.execute(
            "SELECT upload_id, bucket, key, initiated, content_type, metadata, http_headers, "
            "checksum_algorithm, checksum_type FROM s3_uploads WHERE bucket = ? "
            "ORDER BY key, initiated, upload_id",
            (bucket,),
        ).fetchall()
        uploads = [_row_to_upload(row) for row in rows]
        if key_marker:
            position = None
            if upload_id_marker:
                position = next(
                    (
                        index
                        for index, upload in enumerate(uploads)
                        if upload.key == key_marker and upload.upload_id == upload_id_marker
                    ),
                    None,
                )
            if position is not None:
                uploads = uploads[position + 1 :]
            else:
                uploads = [upload for upload in uploads if upload.key > key_marker]
        listed: list[Upload] = []
        prefixes: list[str] = []
        last: tuple[str, str | None] | None = None
        for upload in uploads:
            if not upload.key.startswith(prefix):
                continue
            cut = upload.key.find(delimiter, len(prefix)) if delimiter else -1
            common = upload.key[: cut + len(delimiter)] if cut >= 0 else None
            if common is not None and (common in prefixes or common <= key_marker):
                continue
            if len(listed) + len(prefixes) >= max_uploads:
                if last is None:
                    break
                return UploadPage(listed, prefixes, True, last[0], last[1])
            if common is not None:
                prefixes.append(common)
                last = (common, None)
            else:
                listed.append(upload)
                last = (upload.key, upload.upload_id)
        return UploadPage(listed, prefixes, False, None, None)

    def abort(self, upload: Upload) -> None:
        with transaction(self.db):
            blobs = self._delete_upload_rows(upload)
        self.store.unlink_blobs(blobs)

    def _delete_upload_rows(self, upload: Upload) -> list[str]:
        blobs = [
            str(row[0])
            for row in self.db.execute(
                "SELECT blob FROM s3_parts WHERE upload_id = ? AND blob IS NOT NULL",
                (upload.upload_id,),
            )
        ]
        self.db.execute("DELETE FROM s3_parts WHERE upload_id = ?", (upload.upload_id,))
        self.db.execute("DELETE FROM s3_uploads WHERE upload_id = ?", (upload.upload_id,))
        return blobs

    def complete(
        self,
        upload: Upload,
        requested: list[CompletedPart],
        *,
        full_object_checksum: Checksum | None = None,
    ) -> StoredObject:
        """Assemble the named parts into a new version of the upload's key.

        InvalidPartOrder, InvalidPart (missing part, wrong ETag or checksum), EntityTooSmall
        (a part other than the last under 5 MiB), BadDigest (a FULL_OBJECT checksum sent with
        the completion that the bytes do not have).
        """
        if not requested:
            raise S3Error("You must specify at least one part", code="MalformedXML", status=400)
        numbers = [part.part_number for part in requested]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise S3Error(
                "The list of parts was not in ascending order. Parts must be ordered by part "
                "number.",
                code="InvalidPartOrder",
                status=400,
                fields={"UploadId": upload.upload_id},
            )
        stored = {part.part_number: part for part in self.parts(upload)}
        chosen: list[Part] = []
        for index, wanted in enumerate(requested):
            part = stored.get(wanted.part_number)
            if part is None or _normalized_etag(wanted.etag) != part.etag:
                raise invalid_part(
                    "One or more of the specified parts could not be found. The part may not "
                    "have been uploaded, or the specified entity tag may not match the part's "
                    "entity tag.",
                    wanted,
                )
            if (
                upload.checksum_algorithm is not None
                and wanted.checksum_value is not None
                and wanted.checksum_value != part.checksum_value
            ):
                raise invalid_part(
                    f"The {upload.checksum_algorithm} checksum of part {wanted.part_number} "
                    "does not match the part uploaded.",
                    wanted,
                )
            if index < len(requested) - 1 and part.size < MIN_PART_SIZE:
                raise S3Error(
                    "Your proposed upload is smaller than the minimum allowed size",
                    code="EntityTooSmall",
                    status=400,
                    fields={
                        "ProposedSize": str(part.size),
                        "MinSizeAllowed": str(MIN_PART_SIZE),
                        "PartNumber": str(part.part_number),
                        "ETag": part.etag,
                    },
                )
            chosen.append(part)

        algorithm = upload.checksum_algorithm
        full = (
            algorithm if algorithm is not None and upload.checksum_type == "FULL_OBJECT" else None
        )
        if full_object_checksum is not None and full_object_checksum.algorithm != algorithm:
            raise S3Error(
                "The checksum sent with the completion does not match the upload's checksum "
                "algorithm.",
                code="InvalidRequest",
                status=400,
            )
        md5s = b"".join(bytes.fromhex(part.etag.strip('"')) for part in chosen)
        etag = f'"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-{len(chosen)}"'
        with self.store.begin_write([full] if full else []) as writer:
            for part in chosen:
                if part.blob is None:
                    continue
                with open(self.store.blob_path(part.blob), "rb") as handle:
                    while chunk := handle.read(_COPY_CHUNK):
                        writer.write(chunk)
            checksum: Checksum | None = None
            if full is not None:
                value = writer.checksum(full)
                if full_object_checksum is not None and full_object_checksum.value != value:
                    raise S3Error(
                        f"The {full} you specified did not match the calculated checksum.",
                        code="BadDigest",
                        status=400,
                    )
                checksum = Checksum(full, value, "FULL_OBJECT")
            elif algorithm is not None:
                checksum = self._composite(algorithm, chosen)
            obj = self.store.commit(
                writer,
                upload.bucket,
                upload.key,
                content_type=upload.content_type,
                metadata=upload.metadata,
                http_headers=upload.http_headers,
                checksum=checksum,
                etag=etag,
                parts_count=len(chosen),
            )
        with transaction(self.db):
            blobs = self._delete_upload_rows(upload)
        self.store.unlink_blobs(blobs)
        return obj

    def _composite(self, algorithm: str, parts: list[Part]) -> Checksum:
        running = new_checksum(algorithm)
        for part in parts:
            if part.checksum_value is None:
                # A part stored before a checksum could be computed: none is claimed.
                raise S3Error(
                    f"Part {part.part_number} has no {algorithm} checksum.",
                    code="InvalidRequest",
                    status=400,
                )
            running.update(base64.b64decode(part.checksum_value))
        value = base64.b64encode(running.digest()).decode() + f"-{len(parts)}"
        return Checksum(algorithm, value, "COMPOSITE")


def _row_to_upload(row: tuple[object, ...]) -> Upload:
    upload_id, bucket, key, initiated, content_type, metadata, http_headers, algorithm, kind = row
    return Upload(
        upload_id=str(upload_id),
        bucket=str(bucket),
        key=str(key),
        initiated=float(initiated),  # type: ignore[arg-type]
        content_type=str(content_type),
        metadata=json.loads(str(metadata)),
        http_headers=json.loads(str(http_headers)),
        checksum_algorithm=None if algorithm is None else str(algorithm),
        checksum_type=None if kind is None else str(kind),
    )
