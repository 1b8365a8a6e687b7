"""The object store on its own: the interface the engine uses, crash cleanup, checksums."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.local.clock import ManualClock
from tui.local.engine.checksums import checksum_b64, new_checksum
from tui.local.engine.db import open_database
from tui.local.engine.objects import ObjectStore, S3Error, prefix_end


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = open_database(tmp_path / "data")
    yield conn
    conn.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(db: sqlite3.Connection, tmp_path: Path, clock: ManualClock) -> ObjectStore:
    return ObjectStore(db, tmp_path / "data" / "objects", clock)


def code_of(error: pytest.ExceptionInfo[S3Error]) -> tuple[str, int]:
    return error.value.code, error.value.status


def test_engine_interface(store: ObjectStore, tmp_path: Path, clock: ManualClock) -> None:
    store.ensure_bucket("artifacts")
    store.ensure_bucket("artifacts")  # idempotent
    assert store.bucket_exists("artifacts")
    assert store.get_bucket("artifacts").versioning == "Enabled"
    first = store.put_object("artifacts", "p/Source/abc", b"zip-1", metadata={"m": "v"})
    assert first.etag == f'"{hashlib.md5(b"zip-1").hexdigest()}"'
    assert first.version_id != "null"
    assert first.content_type == "binary/octet-stream"
    assert first.last_modified == clock.now()
    source = tmp_path / "artifact.zip"
    source.write_bytes(b"zip-2")
    clock.advance(5)
    second = store.put_object_file("artifacts", "p/Source/abc", source)
    source.write_bytes(b"changed afterwards")
    assert second.content_type == "application/zip"
    assert second.last_modified == first.last_modified + 5
    assert store.read_bytes("artifacts", "p/Source/abc") == b"zip-2"
    assert store.read_bytes("artifacts", "p/Source/abc", first.version_id) == b"zip-1"
    head = store.head_object("artifacts", "p/Source/abc")
    assert head.version_id == second.version_id
    assert store.object_path(head).read_bytes() == b"zip-2"
    assert store.head_object("artifacts", "p/Source/abc", first.version_id).metadata == {"m": "v"}


def test_errors(store: ObjectStore) -> None:
    with pytest.raises(S3Error) as caught:
        store.head_object("missing", "k")
    assert code_of(caught) == ("NoSuchBucket", 404)
    store.create_bucket("bucket")
    with pytest.raises(S3Error) as caught:
        store.create_bucket("bucket")
    assert code_of(caught) == ("BucketAlreadyOwnedByYou", 409)
    with pytest.raises(S3Error) as caught:
        store.create_bucket("Not_Valid")
    assert code_of(caught) == ("InvalidBucketName", 400)
    with pytest.raises(S3Error) as caught:
        store.head_object("bucket", "k")
    assert code_of(caught) == ("NoSuchKey", 404)
    store.put_object("bucket", "k", b"x")
    with pytest.raises(S3Error) as caught:
        store.head_object("bucket", "k", "B" * 32)
    assert code_of(caught) == ("NoSuchVersion", 404)
    with pytest.raises(S3Error) as caught:
        store.head_object("bucket", "k", "bad id")
    assert code_of(caught) == ("InvalidArgument", 400)


def test_unversioned_and_suspended_semantics(store: ObjectStore) -> None:
    store.create_bucket("bucket")
    store.put_object("bucket", "k", b"one")
    store.put_object("bucket", "k", b"two")
    page = store.list_object_versions("bucket")
    assert [(v.version_id, v.size) for v in page.versions] == [("null", 3)]
    result = store.delete_object("bucket", "k")
    assert (result.version_id, result.delete_marker) == (None, False)
    assert store.list_object_versions("bucket").versions == []

    store.set_versioning("bucket", True)
    kept = store.put_object("bucket", "k", b"enabled")
    store.set_versioning("bucket", False)
    assert store.get_bucket("bucket").versioning == "Suspended"
    marker = store.delete_object("bucket", "k")
    assert (marker.version_id, marker.delete_marker) == ("null", True)
    with pytest.raises(S3Error) as caught:
        store.head_object("bucket", "k")
    assert code_of(caught) == ("NoSuchKey", 404)
    assert caught.value.headers["x-amz-delete-marker"] == "true"
    assert store.read_bytes("bucket", "k", kept.version_id) == b"enabled"


def test_deleted_versions_lose_their_files(store: ObjectStore) -> None:
    store.ensure_bucket("bucket")
    obj = store.put_object("bucket", "k", b"bytes")
    path = store.object_path(obj)
    assert path.exists()
    store.delete_object("bucket", "k", obj.version_id)
    assert not path.exists()
    empty = store.put_object("bucket", "empty", b"")
    assert store.object_path(empty) == store.empty_file
    store.delete_object("bucket", "empty", empty.version_id)
    assert store.empty_file.exists()  # shared by every empty object


def test_copy_is_independent_of_its_source(store: ObjectStore) -> None:
    store.ensure_bucket("bucket")
    source = store.put_object("bucket", "a", b"payload", content_type="text/plain")
    copy = store.copy_object(source, "bucket", "b")
    assert copy.etag == source.etag
    assert copy.content_type == "text/plain"
    store.delete_object("bucket", "a", source.version_id)
    assert store.read_bytes("bucket", "b") == b"payload"


def test_crash_leftovers_are_removed_on_open(
    db: sqlite3.Connection, tmp_path: Path, clock: ManualClock, store: ObjectStore
) -> None:
    store.ensure_bucket("bucket")
    kept = store.put_object("bucket", "k", b"kept")
    # A write that died after its file was renamed into place but before its row committed,
    # and one that died while still writing its temp file.
    orphan = store.blob_dir / "ab" / "ab0000000000000000000000000000ff"
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"never committed")
    temp = store.tmp_dir / "deadbeef.part"
    temp.write_bytes(b"half written")
    reopened = ObjectStore(db, tmp_path / "data" / "objects", clock)
    assert not orphan.exists()
    assert not temp.exists()
    assert reopened.read_bytes("bucket", "k") == b"kept"
    assert reopened.object_path(kept).exists()


def test_failed_commit_leaves_no_file(store: ObjectStore) -> None:
    store.create_bucket("bucket")
    with store.begin_write() as writer:
        writer.write(b"data")
        with pytest.raises(S3Error):
            store.commit(writer, "no-such-bucket", "k")
    assert list(store.tmp_dir.iterdir()) == []
    assert [p for p in store.blob_dir.rglob("*") if p.is_file()] == []


def test_listing_rolls_up_and_resumes(store: ObjectStore) -> None:
    store.create_bucket("bucket")
    keys = ["a/1", "a/2", "b", "c/x/1", "c/y", "d", "é/1", "日/1"]
    for key in keys:
        store.put_object("bucket", key, b"")
    page = store.list_objects("bucket", delimiter="/")
    assert page.common_prefixes == ["a/", "c/", "é/", "日/"]
    assert [o.key for o in page.objects] == ["b", "d"]
    assert not page.is_truncated
    seen: list[str] = []
    marker = ""
    while True:
        page = store.list_objects("bucket", delimiter="/", start_after=marker, max_keys=1)
        seen += page.common_prefixes + [o.key for o in page.objects]
        if not page.is_truncated:
            break
        assert page.next_marker is not None
        marker = page.next_marker
    assert seen == ["a/", "b", "c/", "d", "é/", "日/"]
    assert [o.key for o in store.list_objects("bucket", prefix="c/").objects] == ["c/x/1", "c/y"]


def test_prefix_end() -> None:
    assert prefix_end("a/") == "a0"
    assert prefix_end("ab") == "ac"
    assert prefix_end("") is None
    assert prefix_end("\U0010ffff") is None
    assert prefix_end("a\ud7ff") == "a\ue000"


def test_checksums_match_their_catalogue_check_values() -> None:
    check = b"123456789"
    crc32c = new_checksum("CRC32C")
    crc32c.update(check)
    assert crc32c.digest().hex() == "e3069283"
    crc64 = new_checksum("CRC64NVME")
    crc64.update(check[:4])
    crc64.update(check[4:])  # running: the same in pieces
    assert crc64.digest().hex() == "ae8b14860a799888"
    assert (
        checksum_b64("CRC32", check)
        == base64.b64encode(zlib.crc32(check).to_bytes(4, "big")).decode()
    )
    assert checksum_b64("CRC32C", b"") == "AAAAAA=="
    crc32 = new_checksum("CRC32")
    crc32.update(check)
    assert int.from_bytes(crc32.digest(), "big") == zlib.crc32(check)
    with pytest.raises(ValueError, match="unknown checksum"):
        new_checksum("XXHASH64")
