"""The endpoint's one SQLite database (WAL) under the data dir.

One connection, used only from the event loop's thread: every store module shares it and
creates its own tables with `CREATE TABLE IF NOT EXISTS`. WAL with synchronous=NORMAL keeps
every committed transaction across a crash of the process (SIGKILL), which is the failure
the engine promises to survive.

Decisions recorded here:

- [I] WAL checkpoints (copying the log's pages back into the database file, with an fsync)
  run on a thread of their own with a second connection, not on the event loop. SQLite's
  automatic checkpoint runs inside the COMMIT that crosses its threshold: writing an action's
  output at full speed, one commit in 35 took 20 to 58 ms, half of it waiting for the disk,
  with every request and every other action's output waiting behind it. The thread is woken
  by commits made through `transaction` (and by `notify_commit`), checkpoints at most every
  `CHECKPOINT_INTERVAL` seconds and at least every `IDLE_CHECKPOINT_SECONDS` (commits made
  outside `transaction` are caught by that). Its checkpoints are PASSIVE: they never wait
  for, nor block, the loop's connection. Checkpointing changes nothing about durability: a
  committed transaction is in the WAL file before COMMIT returns either way.
- A PASSIVE checkpoint cannot restart the log while commits keep coming (SQLite restarts it
  at the first write after a checkpoint that caught up), so under a long run of writes the
  WAL grows. Past `RESTART_FRAMES` pages the thread asks for a RESTART checkpoint, which
  makes the loop's next write wait (busy timeout) until the few pages left are copied, once
  per that many pages. The loop's connection keeps SQLite's own automatic checkpoint, at a
  threshold far above that, as a safety net only. `journal_size_limit` truncates a grown
  WAL file once it restarts.
- The thread holds only a weak reference to the loop's connection: it ends when that
  connection is closed (`Database.close`) or dropped.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from pathlib import Path

log = logging.getLogger(__name__)

DATABASE_NAME = "pipetop.sqlite3"

# At most one background checkpoint this often while commits keep coming (seconds).
CHECKPOINT_INTERVAL = 0.25
# A checkpoint this often even when no commit was announced (seconds).
IDLE_CHECKPOINT_SECONDS = 2.0
# WAL pages (4 KiB) past which the checkpointer works to get the log restarted (16 MiB).
RESTART_FRAMES = 4_096
# Checkpoints in a row, at most, to catch up with the loop's commits.
CATCH_UP_PASSES = 20
# WAL pages past which the checkpointer forces a restart, holding the loop's writes (256 MiB).
FORCE_RESTART_FRAMES = 65_536
# SQLite's own checkpoint on the loop's connection: only if the thread falls far behind.
AUTOCHECKPOINT_FRAMES = 131_072
# A WAL file bigger than this is truncated when the log restarts.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


class Database(sqlite3.Connection):
    """The loop's connection; `close` also ends its checkpointer."""

    checkpointer: Checkpointer | None = None

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        super().close()


class Checkpointer:
    """Checkpoints one database's WAL from a thread of its own (see the module docstring)."""

    def __init__(self, path: Path, owner: Database) -> None:
        self._path = path
        self._owner = weakref.ref(owner)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.checkpoints = 0
        self._thread = threading.Thread(
            target=self._run, name=f"sqlite-checkpoint {path.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """A transaction was committed: checkpoint soon."""
        self._wake.set()

    def stop(self) -> None:
        """End the thread after the checkpoint it may be running."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _ended(self) -> bool:
        return self._stopping.is_set() or self._owner() is None

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._wake.wait(IDLE_CHECKPOINT_SECONDS)
                if self._ended():
                    return
                self._wake.clear()
                self._checkpoint(conn)
                # Commits arriving meanwhile wait for the next round: one checkpoint per
                # interval at most, however often the loop commits.
                self._stopping.wait(CHECKPOINT_INTERVAL)
        except sqlite3.Error:
            log.exception("background WAL checkpoints of %s stopped", self._path)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        frames = self._passive(conn)
        # SQLite restarts the log at the first transaction that begins after a checkpoint
        # copied all of it. Past `RESTART_FRAMES`, copy again at once, each pass shorter than
        # the last, until one ends with nothing committed meanwhile (or the log restarted).
        for _ in range(CATCH_UP_PASSES):
            if frames < RESTART_FRAMES or self._ended():
                break
            again = self._passive(conn)
            if again <= frames:
                break
            frames = again
        if frames >= FORCE_RESTART_FRAMES and not self._ended():
            conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()

    def _passive(self, conn: sqlite3.Connection) -> int:
        """One PASSIVE checkpoint; the pages in the WAL when it began."""
        _busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        return int(frames)


def open_database(data_dir: Path) -> Database:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / DATABASE_NAME
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=Database)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_FRAMES}")
    conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
    conn.checkpointer = Checkpointer(path, conn)
    conn.checkpointer.start()
    return conn


def notify_commit(conn: sqlite3.Connection) -> None:
    """Tell the database's checkpointer that a commit was made outside `transaction`."""
    checkpointer = getattr(conn, "checkpointer", None)
    if checkpointer is not None:
        checkpointer.notify()


class transaction:
    """`with transaction(conn):` commits on success and rolls back on an exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN")
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
            notify_commit(self._conn)
        else:
            self._conn.execute("ROLLBACK")
