"""The S3 object store behind the endpoint: buckets, object versions and their bytes.

Metadata lives in tables of the endpoint's shared SQLite connection; bytes live in files under
`root` (`<data-dir>/objects`). Every call runs on the event loop's thread and is synchronous.
Errors are `S3Error`s (an `AwsError` with S3's code and status, plus the extra XML fields and
headers S3 sends with that error); the S3 API module renders them.

Decisions [I]:
- One file per stored version under `blobs/`, named by a random id, never changed once
  written. A copy hardlinks the source's file (falls back to a byte copy). Zero-length objects
  have no file of their own: they all point at the one empty file `root/empty`.
- Write order: temp file in `tmp/`, fsync, rename into `blobs/`, fsync the directory, then the
  row in a transaction. A crash in between leaves a file no row names, which the next open
  deletes; a row never names a missing file. Removal deletes the row first, then the file.
- Versioning states are S3's: never configured (None), "Enabled", "Suspended". A bucket can
  not go back to never-configured. Writes while never configured or suspended get version id
  "null" and replace the previous "null" version; writes while enabled get a new random id
  (32 characters of `[A-Za-z0-9._]`, the shape S3's ids have). A version id of any other
  shape is "Invalid version id specified" (InvalidArgument), as on S3.
- The order of versions is the order they were written (an autoincrement column), not
  `last_modified`: the injected clock may stand still between two writes.
- CreateBucket on a bucket that exists is BucketAlreadyOwnedByYou (409) in every region
  (us-east-1's legacy 200 is not reproduced).
- A bucket's location constraint is stored as given; an empty one means us-east-1.
- Key order is UTF-8 byte order (SQLite's BINARY collation on UTF-8 text), as S3 lists.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import sqlite3
import string
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from tui.local.clock import Clock
from tui.local.engine.checksums import RunningChecksum, b64, new_checksum
from tui.local.engine.db import transaction
from tui.model.errors import AwsError

MAX_KEY_BYTES = 1024
MAX_OBJECT_SIZE = 5 * 1024**3
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
NULL_VERSION = "null"
VERSION_ID_LENGTH = 32
_VERSION_ALPHABET = string.ascii_letters + string.digits + "._"
_VERSION_ID = re.compile(r"[A-Za-z0-9._]{32}")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_COPY_CHUNK = 1024 * 1024

# The standard HTTP headers S3 stores with an object and sends back on GET and HEAD.
STORED_HTTP_HEADERS = (
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Expires",
)


class S3Error(AwsError):
    """An S3 error: `fields` are the extra elements of its XML body (`Key`, `BucketName`, ...),
    `headers` the response headers S3 sends with it (`x-amz-delete-marker`, ...)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})


def no_such_bucket(bucket: str) -> S3Error:
    return S3Error(
        "The specified bucket does not exist",
        code="NoSuchBucket",
        status=404,
        fields={"BucketName": bucket},
    )


def no_such_key(key: str, headers: dict[str, str] | None = None) -> S3Error:
    return S3Error(
        "The specified key does not exist.",
        code="NoSuchKey",
        status=404,
        fields={"Key": key},
        headers=headers,
    )


def invalid_argument(message: str, name: str, value: str) -> S3Error:
    return S3Error(
        message,
        code="InvalidArgument",
        status=400,
        fields={"ArgumentName": name, "ArgumentValue": value},
    )


def http_date(epoch: float) -> str:
    """RFC 1123, as S3 sends `Last-Modified` (whole seconds)."""
    return email.utils.formatdate(int(epoch), usegmt=True)


@dataclass(frozen=True)
class Checksum:
    """A flexible checksum stored with an object: `value` is base64, as on the wire."""

    algorithm: str  # CRC32 | CRC32C | CRC64NVME | SHA1 | SHA256
    value: str
    type: str = "FULL_OBJECT"  # or COMPOSITE (multipart: checksum of the parts' checksums)


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    version_id: str  # "null" for objects written while versioning was never enabled
    etag: str  # quoted MD5 hex, exactly as S3 sends it
    size: int
    last_modified: float  # epoch seconds from the clock
    content_type: str
    metadata: dict[str, str]  # user metadata: lower-cased names without `x-amz-meta-`
    is_delete_marker: bool = False
    is_latest: bool = True
    checksum: Checksum | None = None
    # Stored standard headers (Cache-Control, Content-Disposition, ...), by canonical name.
    http_headers: dict[str, str] = field(default_factory=dict)
    parts_count: int | None = None  # set for objects completed from a multipart upload
    # The file holding the bytes, relative to the store's blob directory; None = empty.
    blob: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Bucket:
    name: str
    created: float
    location: str  # the CreateBucket location constraint; "" means us-east-1
    versioning: str | None  # None (never configured) | "Enabled" | "Suspended"


@dataclass(frozen=True)
class DeleteResult:
    """What a DeleteObject did: the version removed or the delete marker it created."""

    version_id: str | None  # None when the bucket was never versioned and no version was named
    delete_marker: bool  # a marker was created, or the version removed was a marker


@dataclass(frozen=True)
class ObjectPage:
    objects: list[StoredObject]
    common_prefixes: list[str]
    is_truncated: bool
    next_marker: str | None  # the last key or common prefix of this page, when truncated


@dataclass(frozen=True)
class VersionPage:
    versions: list[StoredObject]  # versions and delete markers, key order, newest first
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


def prefix_end(prefix: str) -> str | None:
    """The least string greater than every string starting with `prefix` (None: no bound).

    Code point order equals UTF-8 byte order, so incrementing the last code point works.
    """
    chars = list(prefix)
    while chars:
        point = ord(chars[-1])
        if point < 0x10FFFF:
            point += 1
            if 0xD800 <= point <= 0xDFFF:
                point = 0xE000
            chars[-1] = chr(point)
            return "".join(chars)
        chars.pop()
    return None


def validate_bucket_name(name: str) -> None:
    valid = (
        _BUCKET_NAME.fullmatch(name) is not None
        and ".." not in name
        and not name.startswith(_RESERVED_BUCKET_PREFIXES)
        and not name.endswith(_RESERVED_BUCKET_SUFFIXES)
    )
    if valid:
        with contextlib.suppress(ValueError):
            ipaddress.IPv4Address(name)
            valid = False
    if not valid:
        raise S3Error(
            "The specified bucket is not valid.",
            code="InvalidBucketName",
            status=400,
            fields={"BucketName": name},
        )


def validate_key(key: str) -> None:
    size = len(key.encode("utf-8", "surrogatepass"))
    if size == 0:
        raise invalid_argument("An object key must not be empty.", "key", key)
    if size > MAX_KEY_BYTES:
        raise S3Error(
            "Your key is too long",
            code="KeyTooLongError",
            status=400,
            fields={"Size": str(size), "MaxSizeAllowed": str(MAX_KEY_BYTES)},
        )


def validate_version_id(version_id: str) -> None:
    if version_id == "":
        raise invalid_argument("Version id cannot be the empty string", "versionId", version_id)
    if version_id != NULL_VERSION and _VERSION_ID.fullmatch(version_id) is None:
        raise invalid_argument("Invalid version id specified", "versionId", version_id)


def new_version_id() -> str:
    return "".join(secrets.choice(_VERSION_ALPHABET) for _ in range(VERSION_ID_LENGTH))


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobWriter:
    """A new object's bytes on their way to disk: a temp file plus running digests.

    Use as a context manager: leaving it without `ObjectStore.commit` deletes the temp file.
    """

    def __init__(self, path: Path, checksum_algorithms: Iterable[str] = ()) -> None:
        self.path = path
        self.size = 0
        # Opened on the first bytes: an empty object never touches the disk.
        self._file: BinaryIO | None = None
        self._finished = False
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._checksums: dict[str, RunningChecksum] = {
            algorithm: new_checksum(algorithm) for algorithm in checksum_algorithms
        }
        self.committed = False

    def write(self, data: bytes) -> None:
        assert not self._finished, "write after finish"
        if not data:
            return
        if self._file is None:
            self._file = open(self.path, "xb")  # noqa: SIM115 - closed by finish/discard
        self._file.write(data)
        self._md5.update(data)
        for running in self._checksums.values():
            running.update(data)
        self.size += len(data)

    def md5_digest(self) -> bytes:
        return self._md5.digest()

    @property
    def etag(self) -> str:
        return f'"{self._md5.hexdigest()}"'

    def checksum(self, algorithm: str) -> str:
        """The base64 checksum of what was written (the algorithm was named at creation)."""
        return b64(self._checksums[algorithm].digest())

    def finish(self) -> None:
        """Flush and fsync the bytes; no more writes."""
        self._finished = True
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def discard(self) -> None:
        self._finished = True
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.committed:
            self.discard()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS s3_buckets (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    location TEXT NOT NULL DEFAULT '',
    versioning TEXT
);
CREATE TABLE IF NOT EXISTS s3_objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL REFERENCES s3_buckets(name),
    key TEXT NOT NULL,
    version_id TEXT NOT NULL,
    is_latest INTEGER NOT NULL,
    is_delete_marker INTEGER NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    last_modified REAL NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    http_headers TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_value TEXT,
    checksum_type TEXT,
    parts_count INTEGER,
    blob TEXT,
    UNIQUE (bucket, key, version_id)
);
CREATE INDEX IF NOT EXISTS s3_objects_versions ON s3_objects (bucket, key, seq);
CREATE INDEX IF NOT EXISTS s3_objects_current ON s3_objects (bucket, key)
    WHERE is_latest = 1 AND is_delete_marker = 0;
CREATE TABLE IF NOT EXISTS s3_uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL REFERENCES s3_buckets(name),
    key TEXT NOT NULL,
    initiated REAL NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    http_headers TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_type TEXT
);
CREATE INDEX IF NOT EXISTS s3_uploads_by_key ON s3_uploads (bucket, key, initiated);
CREATE TABLE IF NOT EXISTS s3_parts (
    upload_id TEXT NOT NULL REFERENCES s3_uploads(upload_id),
    part_number INTEGER NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    last_modified REAL NOT NULL,
    checksum_value TEXT,
    blob TEXT,
    PRIMARY KEY (upload_id, part_number)
);
"""

_OBJECT_COLUMNS = (
    "bucket, key, version_id, is_latest, is_delete_marker, etag, size, last_modified, "
    "content_type, metadata, http_headers, checksum_algorithm, checksum_value, checksum_type, "
    "parts_count, blob, seq"
)

_LIST_BATCH = 1000


def _row_to_object(row: tuple[object, ...]) -> StoredObject:
    (
        bucket,
        key,
        version_id,
        is_latest,
        is_delete_marker,
        etag,
        size,
        last_modified,
        content_type,
        metadata,
        http_headers,
        checksum_algorithm,
        checksum_value,
        checksum_type,
        parts_count,
        blob,
        _seq,
    ) = row
    checksum = None
    if checksum_algorithm is not None:
        checksum = Checksum(str(checksum_algorithm), str(checksum_value), str(checksum_type))
    return StoredObject(
        bucket=str(bucket),
        key=str(key),
        version_id=str(version_id),
        etag=str(etag),
        size=int(size),  # type: ignore[call-overload]
        last_modified=float(last_modified),  # type: ignore[arg-type]
        content_type=str(content_type),
        metadata=json.loads(str(metadata)),
        is_delete_marker=bool(is_delete_marker),
        is_latest=bool(is_latest),
        checksum=checksum,
        http_headers=json.loads(str(http_headers)),
        parts_count=None if parts_count is None else int(parts_count),  # type: ignore[call-overload]
        blob=None if blob is None else str(blob),
    )


class ObjectStore:
    """Buckets and versioned objects: rows in SQLite, bytes in files under `root`."""

    def __init__(self, db: sqlite3.Connection, root: Path, clock: Clock) -> None:
        self.db = db
        self.root = root
        self.clock = clock
        self.blob_dir = root / "blobs"
        self.tmp_dir = root / "tmp"
        self.empty_file = root / "empty"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.empty_file.touch(exist_ok=True)
        db.executescript(_SCHEMA)
        self._remove_unreferenced_files()
        from tui.local.engine.multipart import MultipartUploads

        self.multipart = MultipartUploads(self)

    # ---- buckets -------------------------------------------------------------------------

    def create_bucket(self, name: str, *, location: str = "") -> None:
        validate_bucket_name(name)
        if self.bucket_exists(name):
            raise S3Error(
                "Your previous request to create the named bucket succeeded and you already own it.",
                code="BucketAlreadyOwnedByYou",
                status=409,
                fields={"BucketName": name},
            )
        self.db.execute(
            "INSERT INTO s3_buckets (name, created, location) VALUES (?, ?, ?)",
            (name, self.clock.now(), location),
        )

    def ensure_bucket(self, name: str, *, versioned: bool = True) -> None:
        """Create the bucket if needed; with `versioned`, make sure versioning is enabled."""
        if not self.bucket_exists(name):
            self.create_bucket(name)
        if versioned and self.get_bucket(name).versioning != "Enabled":
            self.set_versioning(name, True)

    def bucket_exists(self, name: str) -> bool:
        row = self.db.execute("SELECT 1 FROM s3_buckets WHERE name = ?", (name,)).fetchone()
        return row is not None

    def get_bucket(self, name: str) -> Bucket:
        row = self.db.execute(
            "SELECT name, created, location, versioning FROM s3_buckets WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise no_such_bucket(name)
        return Bucket(row[0], row[1], row[2], row[3])

    def list_buckets(self) -> list[Bucket]:
        rows = self.db.execute(
            "SELECT name, created, location, versioning FROM s3_buckets ORDER BY name"
        ).fetchall()
        return [Bucket(*row) for row in rows]

    def delete_bucket(self, name: str) -> None:
        """BucketNotEmpty while any version or delete marker is left; unfinished multipart
        uploads go with the bucket."""
        bucket = self.get_bucket(name)
        with transaction(self.db):
            if self.db.execute(
                "SELECT 1 FROM s3_objects WHERE bucket = ? LIMIT 1", (name,)
            ).fetchone():
                message = "The bucket you tried to delete is not empty"
                if bucket.versioning is not None:
                    message += ". You must delete all versions in the bucket."
                raise S3Error(
                    message, code="BucketNotEmpty", status=409, fields={"BucketName": name}
                )
            part_blobs = [
                str(row[0])
                for row in self.db.execute(
                    "SELECT blob FROM s3_parts WHERE blob IS NOT NULL AND upload_id IN "
                    "(SELECT upload_id FROM s3_uploads WHERE bucket = ?)",
                    (name,),
                )
            ]
            self.db.execute(
                "DELETE FROM s3_parts WHERE upload_id IN "
                "(SELECT upload_id FROM s3_uploads WHERE bucket = ?)",
                (name,),
            )
            self.db.execute("DELETE FROM s3_uploads WHERE bucket = ?", (name,))
            self.db.execute("DELETE FROM s3_buckets WHERE name = ?", (name,))
        self.unlink_blobs(part_blobs)

    def set_versioning(self, bucket: str, enabled: bool) -> None:
        """Enabled, or Suspended when `enabled` is false (a bucket never becomes unversioned)."""
        self.get_bucket(bucket)
        self.db.execute(
            "UPDATE s3_buckets SET versioning = ? WHERE name = ?",
            ("Enabled" if enabled else "Suspended", bucket),
        )

    # ---- writing -------------------------------------------------------------------------

    def begin_write(self, checksum_algorithms: Iterable[str] = ()) -> BlobWriter:
        """A temp file for a new object's bytes; pass it to `commit` when they are all there."""
        return BlobWriter(self.tmp_dir / f"{uuid.uuid4().hex}.part", checksum_algorithms)

    def commit(
        self,
        writer: BlobWriter,
        bucket: str,
        key: str,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: dict[str, str] | None = None,
        http_headers: dict[str, str] | None = None,
        checksum: Checksum | None = None,
        etag: str | None = None,
        parts_count: int | None = None,
    ) -> StoredObject:
        """Make the written bytes a new version of `bucket/key` (durably, then visibly)."""
        validate_key(key)
        self.get_bucket(bucket)
        if writer.size > MAX_OBJECT_SIZE:
            raise S3Error(
                "Your proposed upload exceeds the maximum allowed object size.",
                code="EntityTooLarge",
                status=400,
                fields={"ProposedSize": str(writer.size), "MaxSizeAllowed": str(MAX_OBJECT_SIZE)},
            )
        blob = self.adopt_written(writer)
        try:
            return self._insert_version(
                bucket,
                key,
                etag=etag or writer.etag,
                size=writer.size,
                content_type=content_type,
                metadata=metadata or {},
                http_headers=http_headers or {},
                checksum=checksum,
                parts_count=parts_count,
                blob=blob,
            )
        except BaseException:
            if blob is not None:
                self.blob_path(blob).unlink(missing_ok=True)
            raise

    def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: dict[str, str] | None = None,
    ) -> StoredObject:
        with self.begin_write() as writer:
            writer.write(data)
            return self.commit(writer, bucket, key, content_type=content_type, metadata=metadata)

    def put_object_file(
        self,
        bucket: str,
        key: str,
        source: Path,
        *,
        content_type: str = "application/zip",
        metadata: dict[str, str] | None = None,
    ) -> StoredObject:
        """Copy the file in (the store owns its copy; `source` may change or go afterwards)."""
        self.get_bucket(bucket)
        validate_key(key)
        with self.begin_write() as writer, open(source, "rb") as handle:
            while chunk := handle.read(_COPY_CHUNK):
                writer.write(chunk)
            return self.commit(writer, bucket, key, content_type=content_type, metadata=metadata)

    def copy_object(
        self,
        source: StoredObject,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        http_headers: dict[str, str] | None = None,
    ) -> StoredObject:
        """A new version of `bucket/key` with `source`'s bytes; metadata replaced when given
        (`content_type`, `metadata`, `http_headers` all None = copy the source's)."""
        validate_key(key)
        self.get_bucket(bucket)
        replace = content_type is not None or metadata is not None or http_headers is not None
        blob = self._link_copy(source.blob) if source.blob is not None else None
        try:
            return self._insert_version(
                bucket,
                key,
                etag=source.etag,
                size=source.size,
                content_type=(content_type or DEFAULT_CONTENT_TYPE)
                if replace
                else source.content_type,
                metadata=(metadata or {}) if replace else source.metadata,
                http_headers=(http_headers or {}) if replace else source.http_headers,
                checksum=source.checksum,
                parts_count=source.parts_count,
                blob=blob,
            )
        except BaseException:
            if blob is not None:
                self.blob_path(blob).unlink(missing_ok=True)
            raise

    def _insert_version(
        self,
        bucket: str,
        key: str,
        *,
        etag: str,
        size: int,
        content_type: str,
        metadata: dict[str, str],
        http_headers: dict[str, str],
        checksum: Checksum | None,
        parts_count: int | None,
        blob: str | None,
        is_delete_marker: bool = False,
    ) -> StoredObject:
        replaced: list[str] = []
        with transaction(self.db):
            versioning = self.get_bucket(bucket).versioning
            version_id = new_version_id() if versioning == "Enabled" else NULL_VERSION
            if version_id == NULL_VERSION:
                replaced = self._delete_rows(
                    "bucket = ? AND key = ? AND version_id = ?", (bucket, key, NULL_VERSION)
                )
            self.db.execute(
                "UPDATE s3_objects SET is_latest = 0 WHERE bucket = ? AND key = ? AND is_latest = 1",
                (bucket, key),
            )
            obj = StoredObject(
                bucket=bucket,
                key=key,
                version_id=version_id,
                etag=etag,
                size=size,
                last_modified=self.clock.now(),
                content_type=content_type,
                metadata=dict(metadata),
                is_delete_marker=is_delete_marker,
                checksum=checksum,
                http_headers=dict(http_headers),
                parts_count=parts_count,
                blob=blob,
            )
            self.db.execute(
                f"INSERT INTO s3_objects ({_OBJECT_COLUMNS}) "
                "VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    bucket,
                    key,
                    version_id,
                    int(is_delete_marker),
                    etag,
                    size,
                    obj.last_modified,
                    content_type,
                    json.dumps(obj.metadata),
                    json.dumps(obj.http_headers),
                    checksum.algorithm if checksum else None,
                    checksum.value if checksum else None,
                    checksum.type if checksum else None,
                    parts_count,
                    blob,
                ),
            )
        self.unlink_blobs(replaced)
        return obj

    # ---- reading -------------------------------------------------------------------------

    def get_version(self, bucket: str, key: str, version_id: str | None = None) -> StoredObject:
        """The latest version or the one named, delete markers included.

        NoSuchBucket; NoSuchKey when the key has no version at all; NoSuchVersion when the
        version named is not there (InvalidArgument when it can not be a version id).
        """
        self.get_bucket(bucket)
        if version_id is None:
            row = self.db.execute(
                f"SELECT {_OBJECT_COLUMNS} FROM s3_objects "
                "WHERE bucket = ? AND key = ? AND is_latest = 1",
                (bucket, key),
            ).fetchone()
            if row is None:
                raise no_such_key(key)
            return _row_to_object(row)
        validate_version_id(version_id)
        row = self.db.execute(
            f"SELECT {_OBJECT_COLUMNS} FROM s3_objects "
            "WHERE bucket = ? AND key = ? AND version_id = ?",
            (bucket, key, version_id),
        ).fetchone()
        if row is None:
            raise S3Error(
                "The specified version does not exist.",
                code="NoSuchVersion",
                status=404,
                fields={"Key": key, "VersionId": version_id},
            )
        return _row_to_object(row)

    def head_object(self, bucket: str, key: str, version_id: str | None = None) -> StoredObject:
        """The latest version (NoSuchKey if it is a delete marker) or the one named
        (MethodNotAllowed 405 if that one is a delete marker, as S3 answers a GET of one)."""
        obj = self.get_version(bucket, key, version_id)
        if obj.is_delete_marker:
            headers = {"x-amz-delete-marker": "true", "x-amz-version-id": obj.version_id}
            if version_id is None:
                raise no_such_key(key, headers)
            headers["Last-Modified"] = http_date(obj.last_modified)
            raise S3Error(
                "The specified method is not allowed against this resource.",
                code="MethodNotAllowed",
                status=405,
                fields={"Method": "GET", "ResourceType": "DeleteMarker"},
                headers=headers,
            )
        return obj

    def object_path(self, obj: StoredObject) -> Path:
        """The file holding the bytes (read-only for callers; it may be shared)."""
        if obj.is_delete_marker:
            raise no_such_key(obj.key)
        return self.empty_file if obj.blob is None else self.blob_path(obj.blob)

    def read_bytes(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        return self.object_path(self.head_object(bucket, key, version_id)).read_bytes()

    def open_object(self, obj: StoredObject) -> BinaryIO:
        """An open handle on the bytes: it keeps reading them even if the version is deleted."""
        return open(self.object_path(obj), "rb")

    # ---- deleting ------------------------------------------------------------------------

    def delete_object(self, bucket: str, key: str, version_id: str | None = None) -> DeleteResult:
        """S3's DeleteObject: a named version is removed (nothing to remove is not an error);
        otherwise an enabled bucket gets a delete marker, a suspended one a "null" marker in
        place of its "null" version, and a never-versioned one loses the object."""
        versioning = self.get_bucket(bucket).versioning
        if version_id is not None:
            validate_version_id(version_id)
            return self._delete_version(bucket, key, version_id)
        if versioning is None:
            self._delete_version(bucket, key, NULL_VERSION)
            return DeleteResult(None, False)
        marker = self._insert_version(
            bucket,
            key,
            etag="",
            size=0,
            content_type="",
            metadata={},
            http_headers={},
            checksum=None,
            parts_count=None,
            blob=None,
            is_delete_marker=True,
        )
        return DeleteResult(marker.version_id, True)

    def _delete_version(self, bucket: str, key: str, version_id: str) -> DeleteResult:
        with transaction(self.db):
            row = self.db.execute(
                "SELECT is_latest, is_delete_marker FROM s3_objects "
                "WHERE bucket = ? AND key = ? AND version_id = ?",
                (bucket, key, version_id),
            ).fetchone()
            if row is None:
                return DeleteResult(version_id, False)
            blobs = self._delete_rows(
                "bucket = ? AND key = ? AND version_id = ?", (bucket, key, version_id)
            )
            if row[0]:
                self.db.execute(
                    "UPDATE s3_objects SET is_latest = 1 WHERE seq = "
                    "(SELECT MAX(seq) FROM s3_objects WHERE bucket = ? AND key = ?)",
                    (bucket, key),
                )
        self.unlink_blobs(blobs)
        return DeleteResult(version_id, bool(row[1]))

    def _delete_rows(self, where: str, params: tuple[object, ...]) -> list[str]:
        """Delete matching version rows (inside the caller's transaction); returns their
        files, to unlink after the commit."""
        blobs = [
            str(row[0])
            for row in self.db.execute(
                f"SELECT blob FROM s3_objects WHERE {where} AND blob IS NOT NULL", params
            )
        ]
        self.db.execute(f"DELETE FROM s3_objects WHERE {where}", params)
        return blobs

    # ---- listing -------------------------------------------------------------------------

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start_after: str = "",
        max_keys: int = 1000,
    ) -> ObjectPage:
        """Current (non-deleted) objects in key order after `start_after`; keys containing
        `delimiter` after `prefix` roll up into common prefixes, each counting as one entry."""
        self.get_bucket(bucket)
        objects: list[StoredObject] = []
        prefixes: list[str] = []
        last: str | None = None
        for obj in self._scan(bucket, prefix, delimiter, start_after, current_only=True):
            if len(objects) + len(prefixes) >= max_keys:
                return ObjectPage(objects, prefixes, max_keys > 0, last if max_keys else None)
            if isinstance(obj, str):
                prefixes.append(obj)
                last = obj
            else:
                objects.append(obj)
                last = obj.key
        return ObjectPage(objects, prefixes, False, None)

    def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> VersionPage:
        """Every version and delete marker, keys in order and each key's versions newest
        first, resuming after (`key_marker`, `version_id_marker`)."""
        self.get_bucket(bucket)
        resume_seq: int | None = None
        if version_id_marker:
            if not key_marker:
                raise invalid_argument(
                    "A version-id marker cannot be specified without a key marker.",
                    "version-id-marker",
                    version_id_marker,
                )
            validate_version_id(version_id_marker)
            row = self.db.execute(
                "SELECT seq FROM s3_objects WHERE bucket = ? AND key = ? AND version_id = ?",
                (bucket, key_marker, version_id_marker),
            ).fetchone()
            if row is None:
                raise invalid_argument(
                    "Invalid version id specified", "version-id-marker", version_id_marker
                )
            resume_seq = int(row[0])
        versions: list[StoredObject] = []
        prefixes: list[str] = []
        last: tuple[str, str | None] | None = None
        entries = self._scan(
            bucket, prefix, delimiter, key_marker, current_only=False, resume_seq=resume_seq
        )
        for entry in entries:
            if len(versions) + len(prefixes) >= max_keys:
                if not max_keys or last is None:
                    break
                return VersionPage(versions, prefixes, True, last[0], last[1])
            if isinstance(entry, str):
                prefixes.append(entry)
                last = (entry, None)
            else:
                versions.append(entry)
                last = (entry.key, entry.version_id)
        return VersionPage(versions, prefixes, False, None, None)

    def _scan(
        self,
        bucket: str,
        prefix: str,
        delimiter: str,
        after_key: str,
        *,
        current_only: bool,
        resume_seq: int | None = None,
    ) -> Iterator[StoredObject | str]:
        """Rows (or rolled-up common prefixes) in (key, newest first) order, strictly after
        `after_key` — or, with `resume_seq`, after that version of `after_key`.

        A common prefix not after `after_key` is skipped, so a page that ended on one does not
        repeat it; the scan jumps past a common prefix's keys instead of reading them.
        """
        upper = prefix_end(prefix) if prefix else None
        lower = prefix
        position = (after_key, resume_seq if resume_seq is not None else 0)
        while True:
            clauses = ["bucket = ?", "key >= ?", "(key > ? OR (key = ? AND seq < ?))"]
            params: list[object] = [bucket, lower, position[0], position[0], position[1]]
            if upper is not None:
                clauses.append("key < ?")
                params.append(upper)
            if current_only:
                clauses += ["is_latest = 1", "is_delete_marker = 0"]
                order = "key"
            else:
                order = "key, seq DESC"
            rows = self.db.execute(
                f"SELECT {_OBJECT_COLUMNS} FROM s3_objects WHERE {' AND '.join(clauses)} "
                f"ORDER BY {order} LIMIT {_LIST_BATCH}",
                params,
            ).fetchall()
            if not rows:
                return
            jumped = False
            for row in rows:
                obj = _row_to_object(row)
                position = (obj.key, int(row[-1]))
                cut = obj.key.find(delimiter, len(prefix)) if delimiter else -1
                if cut < 0:
                    yield obj
                    continue
                common = obj.key[: cut + len(delimiter)]
                if common > after_key:
                    yield common
                beyond = prefix_end(common)
                if beyond is None:
                    continue  # no jump possible; later keys under it are skipped one by one
                lower, position = beyond, ("", 0)
                jumped = True
                break
            if not jumped and len(rows) < _LIST_BATCH:
                return

    # ---- files ---------------------------------------------------------------------------

    def blob_path(self, blob: str) -> Path:
        return self.blob_dir / blob[:2] / blob

    def _new_blob_name(self) -> str:
        return uuid.uuid4().hex

    def adopt_written(self, writer: BlobWriter) -> str | None:
        """Make a writer's finished bytes a blob (None for no bytes: the shared empty file)."""
        writer.committed = True
        if not writer.size:
            writer.discard()
            return None
        writer.finish()
        return self.adopt(writer.path)

    def adopt(self, temp: Path) -> str:
        """Move a finished temp file into the blob directory; returns its blob name."""
        blob = self._new_blob_name()
        target = self.blob_path(blob)
        target.parent.mkdir(exist_ok=True)
        os.replace(temp, target)
        _fsync_directory(target.parent)
        return blob

    def _link_copy(self, source_blob: str) -> str:
        """A new blob name for the same bytes: a hardlink, or a copy where links fail."""
        blob = self._new_blob_name()
        target = self.blob_path(blob)
        target.parent.mkdir(exist_ok=True)
        try:
            os.link(self.blob_path(source_blob), target)
        except OSError:
            temp = self.tmp_dir / f"{blob}.part"
            shutil.copyfile(self.blob_path(source_blob), temp)
            with open(temp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(temp, target)
        _fsync_directory(target.parent)
        return blob

    def unlink_blobs(self, blobs: Iterable[str]) -> None:
        for blob in blobs:
            self.blob_path(blob).unlink(missing_ok=True)

    def _referenced_blobs(self) -> set[str]:
        rows = self.db.execute(
            "SELECT blob FROM s3_objects WHERE blob IS NOT NULL "
            "UNION ALL SELECT blob FROM s3_parts WHERE blob IS NOT NULL"
        )
        return {str(row[0]) for row in rows}

    def _remove_unreferenced_files(self) -> None:
        """Clean up after a crash: temp files, and files whose row was never committed."""
        for temp in self.tmp_dir.iterdir():
            temp.unlink(missing_ok=True)
        referenced = self._referenced_blobs()
        for shard in self.blob_dir.iterdir():
            if not shard.is_dir():
                continue
            for blob in shard.iterdir():
                if blob.name not in referenced:
                    blob.unlink(missing_ok=True)
