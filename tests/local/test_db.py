"""The endpoint's SQLite database: WAL checkpoints on a thread of their own, durability."""

from __future__ import annotations

import gc
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.endpoint import wait_for
from tui.local.engine import db as database
from tui.local.engine.db import DATABASE_NAME, open_database, transaction


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sqlite-checkpoint")]


def _write(conn: sqlite3.Connection, rows: int, start: int = 0) -> None:
    with transaction(conn):
        conn.executemany(
            "INSERT INTO t (n, text) VALUES (?, ?)",
            ((n, f"row {n} " + "x" * 200) for n in range(start, start + rows)),
        )


def _wal_frames(path: Path) -> int:
    """The WAL's pages, asked of a connection of our own (a PASSIVE checkpoint, which never
    waits; it reports -1 while the checkpointer is in the middle of a pass: ask again)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        frames = -1
        while frames < 0:
            frames = int(other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        return frames
    finally:
        other.close()


def test_commits_are_checkpointed_by_the_thread_not_the_loop(tmp_path: Path) -> None:
    conn = open_database(tmp_path)
    conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, text TEXT)")
    path = tmp_path / DATABASE_NAME
    empty = path.stat().st_size
    # SQLite's own checkpoint would only run past this many pages: every page copied back
    # into the database file below was copied by the thread.
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == database.AUTOCHECKPOINT_FRAMES
    for batch in range(20):
        _write(conn, 100, batch * 100)
    # 2,000 rows of ~210 bytes reach the database file itself, not only the WAL.
    wait_for(lambda: path.stat().st_size > empty + 400_000, timeout=10)
    assert conn.checkpointer is not None
    assert conn.checkpointer.checkpoints > 0
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 2_000
    conn.close()


def test_close_ends_the_checkpointer(tmp_path: Path) -> None:
    before = len(_checkpoint_threads())
    conn = open_database(tmp_path)
    assert conn.checkpointer is not None
    assert conn.checkpointer.running
    assert len(_checkpoint_threads()) == before + 1
    conn.close()
    assert not conn.checkpointer.running
    assert len(_checkpoint_threads()) == before
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")


def test_a_dropped_connection_ends_its_checkpointer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "IDLE_CHECKPOINT_SECONDS", 0.02)
    conn = open_database(tmp_path)
    checkpointer = conn.checkpointer
    assert checkpointer is not None
    del conn
    gc.collect()
    wait_for(lambda: not checkpointer.running, timeout=5)


def _wal_restarts(path: Path) -> int:
    """The WAL header's checkpoint sequence number, which SQLite bumps each time it restarts
    the log; read from the file, so that looking does not checkpoint anything itself."""
    with open(f"{path}-wal", "rb") as wal:
        header = wal.read(16)
    return int.from_bytes(header[12:16], "big") if len(header) == 16 else 0


def test_the_log_restarts_under_a_steady_stream_of_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a restart the WAL would hold every page written (a PASSIVE checkpoint never
    restarts it); the checkpointer copies again until one pass ends between two commits.

    The writer commits every 5 ms until the log has restarted three times: on a loaded
    machine that takes longer, it does not fail. Without the checkpointer it never restarts.
    """
    monkeypatch.setattr(database, "CHECKPOINT_INTERVAL", 0.01)
    monkeypatch.setattr(database, "RESTART_FRAMES", 64)
    conn = open_database(tmp_path)
    path = tmp_path / DATABASE_NAME
    conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, text TEXT)")
    pause = threading.Event()
    first = _wal_restarts(path)
    written = 0
    deadline = time.monotonic() + 60
    while _wal_restarts(path) < first + 3 and time.monotonic() < deadline:
        _write(conn, 40, written)
        written += 40
        pause.wait(0.005)
    assert _wal_restarts(path) >= first + 3, f"{written} rows written, the log never restarted"
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == written
    conn.close()


def test_without_the_checkpointer_the_log_does_not_restart(tmp_path: Path) -> None:
    """The control for the test above: the same stream, no checkpointer, no restart."""
    conn = open_database(tmp_path)
    assert conn.checkpointer is not None
    conn.checkpointer.stop()
    path = tmp_path / DATABASE_NAME
    conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, text TEXT)")
    first = _wal_restarts(path)
    for batch in range(150):
        _write(conn, 40, batch * 40)
    assert _wal_restarts(path) == first
    assert _wal_frames(path) > 300
    conn.close()


def test_committed_rows_survive_without_a_checkpoint(tmp_path: Path) -> None:
    """A commit is durable once COMMIT returns, checkpointed or not: a second process
    (another connection, the WAL not yet copied back) reads it."""
    conn = open_database(tmp_path)
    assert conn.checkpointer is not None
    conn.checkpointer.stop()
    conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, text TEXT)")
    _write(conn, 50)
    assert os.path.getsize(tmp_path / f"{DATABASE_NAME}-wal") > 0
    other = sqlite3.connect(tmp_path / DATABASE_NAME)
    assert other.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 50
    other.close()
    conn.close()
