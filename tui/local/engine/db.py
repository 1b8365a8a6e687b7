"""The endpoint's one SQLite database (WAL) under the data dir.

One connection, used only from the event loop's thread: every store module shares it and
creates its own tables with `CREATE TABLE IF NOT EXISTS`. WAL with synchronous=NORMAL keeps
every committed transaction across a crash of the process (SIGKILL), which is the failure
the engine promises to survive.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

DATABASE_NAME = "pipetop.sqlite3"


def open_database(data_dir: Path) -> sqlite3.Connection:
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / DATABASE_NAME, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


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
        else:
            self._conn.execute("ROLLBACK")
