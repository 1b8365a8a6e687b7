"""CloudWatch Logs data: log groups, log streams and their events, in the shared SQLite database.

This is the state behind GetLogEvents, FilterLogEvents, DescribeLogGroups and
DescribeLogStreams; their wire API lives elsewhere. Action providers write here through
`ActionJob.log`, one line per event.

Decisions recorded here:

- Every event gets a per-stream sequence number `seq`, 0, 1, 2, ... in append order, plus
  `timestamp_ms` (when the line was written, by the engine clock, or the caller's time) and
  `ingestion_ms` (when it was stored, by the engine clock). Events of one stream are ordered
  by `(timestamp_ms, seq)` as CloudWatch orders them by timestamp; `seq` breaks ties in
  append order. Engine-written streams have non-decreasing timestamps, so both orders agree.
- `read(start_seq=...)` pages in append order: the next call starts at `last.seq + 1`. It is
  the cursor for tailing a stream. `get_events` pages in `(timestamp_ms, seq)` order by
  keyset (`after`/`before` an `EventPosition`), which is what GetLogEvents tokens need;
  `filter_events` interleaves a group's streams by `(timestamp_ms, stream, seq)`.
- Storage: the events table is clustered by `(stream_id, timestamp_ms, seq)` (its primary
  key, WITHOUT ROWID), so a GetLogEvents page is one contiguous range of the table: a third
  of the time of the former layout (kept in `seq` order with an index for time order, each
  of 10,000 events one index entry and one table lookup). A second index orders a group by
  time for FilterLogEvents; that is all. [I] `seq` has no index: nothing reads by it on a
  hot path (`read` orders a stream's events by it; the next `seq` of a stream is its
  `MAX(seq)`, asked once per stream and process), and each index costs every appended line
  (the two dropped, `seq`'s and a foreign key check, were a quarter of an insert). Deleting
  a stream or group deletes its events explicitly. A database of the former layout is moved
  to this one when opened (one transaction).
- [I] Empty lines are stored as empty messages (CloudWatch's PutLogEvents would refuse them,
  but a build's blank output lines are part of its log). Messages are never truncated.
- [I] An event id (FilterLogEvents `eventId`) is the stream's row id and the event's `seq`,
  as digits: unique, stable, and ordered like the events.
- `ensure_group`/`ensure_stream` are idempotent (the engine calls them before a run);
  appending to a stream that does not exist is CloudWatch's ResourceNotFoundException.
- One LogStore per database: it caches stream ids and the next `seq` of each stream it
  appends to. `put_events`/`append_many` (PutLogEvents) are committed when they return.
- `append` (one line of an action's output) is written with the other lines appended in
  the same turn of the event loop, in one transaction, as soon as that turn ends (a chunk of
  output is many lines: one commit each cost more than the rest of an action's bookkeeping).
  Buffered lines are also written at `APPEND_FLUSH_ROWS` lines, by `flush()` (the runner
  calls it when an action ends, before its result is committed), and before every read and
  delete of this store, so a reader always sees every line appended before its read.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from tui.local.clock import Clock
from tui.local.engine.db import notify_commit, transaction
from tui.model.errors import ResourceNotFoundException

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS logs_groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS logs_streams (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES logs_groups(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (group_id, name)
);
"""

# The events, kept in each stream's time order (see "Storage" in the module docstring).
EVENTS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    stream_id INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    group_id INTEGER NOT NULL,
    ingestion_ms INTEGER NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (stream_id, timestamp_ms, seq)
) WITHOUT ROWID
"""
EVENTS_INDEX = """
CREATE INDEX IF NOT EXISTS logs_events_by_group_time
    ON logs_events (group_id, timestamp_ms, stream_id, seq)
"""
_EVENTS_KEY = ["stream_id", "timestamp_ms", "seq"]

# GetLogEvents and FilterLogEvents return at most 10 000 events a page.
MAX_PAGE = 10_000

# At most this many lines wait for the end of the loop's turn.
APPEND_FLUSH_ROWS = 1000

# Rows are written by INSERT statements of this many rows (then 8, then 1): one statement of
# many rows costs SQLite, and the hand-over of the GIL around each of its steps, far less
# than as many one-row steps of `executemany` (4.4 -> 2.7 us a row).
ROWS_PER_INSERT = 64
_COLUMNS = 6  # stream_id, seq, group_id, timestamp_ms, ingestion_ms, message
_INSERT_INTO = (
    "INSERT INTO logs_events (stream_id, seq, group_id, timestamp_ms, ingestion_ms, message) "
    "VALUES "
)
_INSERTS = [
    (rows * _COLUMNS, _INSERT_INTO + ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows))
    for rows in (ROWS_PER_INSERT, 8, 1)
]

# One event as a GetLogEvents page reads it: (timestamp_ms, seq, ingestion_ms, message).
EventRow = tuple[int, int, int, str]

# (timestamp_ms, seq): an event's place in its stream's time order.
EventPosition = tuple[int, int]
# (timestamp_ms, stream id, seq): an event's place in its group's interleaved time order.
FilterPosition = tuple[int, int, int]


def group_arn(region: str, account: str, group: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{group}"


def stream_arn(region: str, account: str, group: str, stream: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}"


class LogEvent(NamedTuple):
    """One stored event. [I] A named tuple, not a frozen dataclass: a GetLogEvents page
    builds up to 10,000 of them straight from SQLite's row tuples (`_make`), about ten times
    faster than the dataclass's `__init__`, which was a third of a page's time in the endpoint
    (`tests/bench/bench_logs.py`)."""

    group: str
    stream: str
    seq: int
    timestamp_ms: int
    ingestion_ms: int
    message: str
    stream_id: int

    @property
    def position(self) -> EventPosition:
        return (self.timestamp_ms, self.seq)

    @property
    def filter_position(self) -> FilterPosition:
        return (self.timestamp_ms, self.stream_id, self.seq)

    @property
    def event_id(self) -> str:
        return f"{self.stream_id:016d}{self.seq:020d}"


@dataclass(frozen=True)
class LogGroupInfo:
    name: str
    created_ms: int
    stored_bytes: int


@dataclass(frozen=True)
class LogStreamInfo:
    group: str
    name: str
    created_ms: int
    first_event_ms: int | None
    last_event_ms: int | None
    last_ingestion_ms: int | None
    stored_bytes: int
    event_count: int


@dataclass(frozen=True)
class FilterPage:
    events: list[LogEvent]
    # Where the next page starts, or None when every matching event was returned.
    next_after: FilterPosition | None


_EVENT_COLUMNS = "e.seq, e.timestamp_ms, e.ingestion_ms, e.message, e.stream_id"


class LogStore:
    def __init__(self, db: sqlite3.Connection, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        db.executescript(SCHEMA)
        _create_events_table(db)
        self._stream_ids: dict[tuple[str, str], tuple[int, int]] = {}
        self._next_seq: dict[int, int] = {}
        # The values of the appended rows not written yet, one after the other in append
        # order, `_COLUMNS` a row (see `flush`).
        self._pending: list[int | str] = []
        self._flush_handle: asyncio.Handle | None = None

    stream_arn = staticmethod(stream_arn)
    group_arn = staticmethod(group_arn)

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    # --- groups and streams -----------------------------------------------------------

    def ensure_group(self, name: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO logs_groups (name, created_ms) VALUES (?, ?)",
            (name, self._now_ms()),
        )

    def ensure_stream(self, group: str, stream: str) -> None:
        """Creates the stream, and its group if needed; does nothing if both exist."""
        self.ensure_group(group)
        self._db.execute(
            "INSERT OR IGNORE INTO logs_streams (group_id, name, created_ms) "
            "SELECT id, ?, ? FROM logs_groups WHERE name = ?",
            (stream, self._now_ms(), group),
        )

    def delete_group(self, name: str) -> None:
        """Deletes a group with its streams and events; ResourceNotFoundException if absent."""
        self.flush()
        group_id = self._group_id(name)
        if group_id is None:
            raise ResourceNotFoundException("The specified log group does not exist.")
        with transaction(self._db):
            self._db.execute("DELETE FROM logs_events WHERE group_id = ?", (group_id,))
            self._db.execute("DELETE FROM logs_streams WHERE group_id = ?", (group_id,))
            self._db.execute("DELETE FROM logs_groups WHERE id = ?", (group_id,))
        for key, (cached_group, stream_id) in list(self._stream_ids.items()):
            if cached_group == group_id:
                del self._stream_ids[key]
                self._next_seq.pop(stream_id, None)

    def delete_stream(self, group: str, stream: str) -> None:
        """Deletes a stream with its events; ResourceNotFoundException if absent."""
        self.flush()
        _, stream_id = self._require_stream(group, stream)
        with transaction(self._db):
            self._db.execute("DELETE FROM logs_events WHERE stream_id = ?", (stream_id,))
            self._db.execute("DELETE FROM logs_streams WHERE id = ?", (stream_id,))
        self._stream_ids.pop((group, stream), None)
        self._next_seq.pop(stream_id, None)

    def stream_id(self, group: str, stream: str) -> int:
        """The stream's row id (stable while it exists); ResourceNotFoundException if absent."""
        return self._require_stream(group, stream)[1]

    def group_exists(self, name: str) -> bool:
        return self._group_id(name) is not None

    def stream_exists(self, group: str, stream: str) -> bool:
        return self._find_stream(group, stream) is not None

    def _group_id(self, name: str) -> int | None:
        row = self._db.execute("SELECT id FROM logs_groups WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def _find_stream(self, group: str, stream: str) -> tuple[int, int] | None:
        cached = self._stream_ids.get((group, stream))
        if cached is not None:
            return cached
        row = self._db.execute(
            "SELECT g.id, s.id FROM logs_streams s JOIN logs_groups g ON g.id = s.group_id "
            "WHERE g.name = ? AND s.name = ?",
            (group, stream),
        ).fetchone()
        if row is None:
            return None
        ids = (int(row[0]), int(row[1]))
        self._stream_ids[(group, stream)] = ids
        return ids

    def _require_stream(self, group: str, stream: str) -> tuple[int, int]:
        ids = self._find_stream(group, stream)
        if ids is None:
            if self._group_id(group) is None:
                raise ResourceNotFoundException("The specified log group does not exist.")
            raise ResourceNotFoundException("The specified log stream does not exist.")
        return ids

    # --- writing ----------------------------------------------------------------------

    def append(
        self, group: str, stream: str, message: str, timestamp_ms: int | None = None
    ) -> None:
        """Appends one event (one line) to an existing stream; written by the next `flush`."""
        # Called for every line an action prints: the lookups are inlined.
        ids = self._stream_ids.get((group, stream)) or self._require_stream(group, stream)
        group_id, stream_id = ids
        seq = self._next_seq.get(stream_id)
        if seq is None:
            seq = self._next_seq_of(stream_id)
        ingestion = int(self._clock.now() * 1000)
        stamp = ingestion if timestamp_ms is None else int(timestamp_ms)
        pending = self._pending
        pending += (stream_id, seq, group_id, stamp, ingestion, message)
        self._next_seq[stream_id] = seq + 1
        if len(pending) >= APPEND_FLUSH_ROWS * _COLUMNS or self._db.in_transaction:
            self.flush()
        elif self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_handle = loop.call_soon(self._flush_soon)

    def append_many(
        self, group: str, stream: str, messages: Iterable[str], timestamp_ms: int | None = None
    ) -> int:
        """Appends many lines stamped with one time, in one transaction; returns how many."""
        stamp = self._now_ms() if timestamp_ms is None else timestamp_ms
        return self.put_events(group, stream, ((stamp, message) for message in messages))

    def put_events(self, group: str, stream: str, events: Iterable[tuple[int, str]]) -> int:
        """Appends `(timestamp_ms, message)` events in order, in one transaction, committed
        when it returns (buffered lines are written first)."""
        group_id, stream_id = self._require_stream(group, stream)
        seq = self._next_seq_of(stream_id)
        ingestion = self._now_ms()
        values: list[int | str] = []
        for timestamp, message in events:
            values += (stream_id, seq, group_id, int(timestamp), ingestion, message)
            seq += 1
        if not values:
            return 0
        self.flush()
        self._write(values)
        self._next_seq[stream_id] = seq
        return len(values) // _COLUMNS

    def _next_seq_of(self, stream_id: int) -> int:
        seq = self._next_seq.get(stream_id)
        if seq is None:
            # Nothing of this stream is buffered: every line that got a seq set _next_seq.
            row = self._db.execute(
                "SELECT MAX(seq) FROM logs_events WHERE stream_id = ?", (stream_id,)
            ).fetchone()
            seq = 0 if row[0] is None else int(row[0]) + 1
        return seq

    def flush(self) -> None:
        """Write every buffered line now, in one transaction (the caller's, if one is open)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._pending:
            return
        values, self._pending = self._pending, []
        self._write(values)

    def _write(self, values: list[int | str]) -> None:
        """Insert rows given as their values one after the other, in one transaction (the
        caller's, if one is open)."""
        if len(values) == _COLUMNS:
            self._db.execute(_INSERTS[-1][1], values)
            if not self._db.in_transaction:
                notify_commit(self._db)
        elif self._db.in_transaction:
            _insert(self._db, values)
        else:
            with transaction(self._db):
                _insert(self._db, values)

    def _flush_soon(self) -> None:
        self._flush_handle = None
        try:
            self.flush()
        except Exception:
            log.exception("writing buffered log lines failed")

    # --- reading ----------------------------------------------------------------------

    @staticmethod
    def _events(group: str, stream: str, rows: list[Any]) -> list[LogEvent]:
        # SQLite hands back the columns' own types (INTEGER -> int, TEXT -> str) as a tuple.
        make, head = LogEvent._make, (group, stream)
        return [make(head + r) for r in rows]

    def read(
        self, group: str, stream: str, *, start_seq: int = 0, limit: int = MAX_PAGE
    ) -> list[LogEvent]:
        """Events with `seq >= start_seq`, in append order, at most `limit` of them."""
        self.flush()
        _, stream_id = self._require_stream(group, stream)
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM logs_events e WHERE e.stream_id = ? AND e.seq >= ? "
            "ORDER BY e.seq LIMIT ?",
            (stream_id, start_seq, limit),
        ).fetchall()
        return self._events(group, stream, rows)

    def get_events(
        self,
        group: str,
        stream: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        after: EventPosition | None = None,
        before: EventPosition | None = None,
        limit: int = MAX_PAGE,
        from_head: bool = True,
    ) -> list[LogEvent]:
        """A page of one stream's events in `(timestamp_ms, seq)` order (GetLogEvents).

        `start_ms` is inclusive and `end_ms` exclusive, as in CloudWatch. `after`/`before`
        are exclusive positions. `from_head=False` returns the last `limit` events of the
        range (still oldest first), which is GetLogEvents without a token.
        """
        _, stream_id = self._require_stream(group, stream)
        rows = self.page(
            stream_id,
            start_ms=start_ms,
            end_ms=end_ms,
            after=after,
            before=before,
            limit=limit,
            from_head=from_head,
        )
        return [LogEvent(group, stream, q, t, i, m, stream_id) for t, q, i, m in rows]

    def page(
        self,
        stream_id: int,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        after: EventPosition | None = None,
        before: EventPosition | None = None,
        limit: int = MAX_PAGE,
        from_head: bool = True,
    ) -> list[EventRow]:
        """`get_events` of the stream with this id, as SQLite's rows (GetLogEvents' hot path:
        no object per event)."""
        self.flush()
        where = "stream_id = ?"
        args: list[object] = [stream_id]
        if start_ms is not None:
            where += " AND timestamp_ms >= ?"
            args.append(start_ms)
        if end_ms is not None:
            where += " AND timestamp_ms < ?"
            args.append(end_ms)
        if after is not None:
            where += " AND (timestamp_ms, seq) > (?, ?)"
            args.extend(after)
        if before is not None:
            where += " AND (timestamp_ms, seq) < (?, ?)"
            args.extend(before)
        direction = "ASC" if from_head else "DESC"
        rows: list[EventRow] = self._db.execute(
            f"SELECT timestamp_ms, seq, ingestion_ms, message FROM logs_events WHERE {where} "
            f"ORDER BY timestamp_ms {direction}, seq {direction} LIMIT ?",
            (*args, limit),
        ).fetchall()
        if not from_head:
            rows.reverse()
        return rows

    def filter_events(
        self,
        group: str,
        *,
        stream_names: list[str] | None = None,
        stream_prefix: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        after: FilterPosition | None = None,
        limit: int = MAX_PAGE,
        match: Callable[[str], bool] | None = None,
        max_scan: int = 100_000,
        descending: bool = False,
    ) -> FilterPage:
        """A group's events interleaved across streams by time (FilterLogEvents).

        `match` is the compiled filter pattern. At most `max_scan` events are examined per
        call, so a rare pattern over a huge group returns a partial page with `next_after`.
        `descending` returns the newest events first; `after` is then the exclusive position
        the page continues below, and `next_after` the one the next page continues below.
        """
        self.flush()
        group_id = self._group_id(group)
        if group_id is None:
            raise ResourceNotFoundException("The specified log group does not exist.")
        where = ["e.group_id = ?"]
        args: list[object] = [group_id]
        if stream_names is not None:
            where.append(f"s.name IN ({','.join('?' * len(stream_names))})")
            args.extend(stream_names)
        if stream_prefix is not None:
            where.append("substr(s.name, 1, ?) = ?")
            args.extend((len(stream_prefix), stream_prefix))
        if start_ms is not None:
            where.append("e.timestamp_ms >= ?")
            args.append(start_ms)
        if end_ms is not None:
            where.append("e.timestamp_ms < ?")
            args.append(end_ms)
        base_sql = (
            f"SELECT {_EVENT_COLUMNS}, s.name FROM logs_events e "
            "JOIN logs_streams s ON s.id = e.stream_id WHERE "
        )
        direction = "DESC" if descending else "ASC"
        order = (
            f" ORDER BY e.timestamp_ms {direction}, e.stream_id {direction}, e.seq {direction}"
            " LIMIT ?"
        )
        beyond = "<" if descending else ">"
        found: list[LogEvent] = []
        position = after
        scanned = 0
        batch = min(max(limit, 100), 1000) if match is not None else limit
        while True:
            clauses = list(where)
            batch_args = list(args)
            if position is not None:
                clauses.append(f"(e.timestamp_ms, e.stream_id, e.seq) {beyond} (?, ?, ?)")
                batch_args.extend(position)
            rows = self._db.execute(
                base_sql + " AND ".join(clauses) + order, (*batch_args, batch)
            ).fetchall()
            for r in rows:
                event = LogEvent(group, r[5], r[0], r[1], r[2], r[3], r[4])
                scanned += 1
                position = event.filter_position
                if match is None or match(event.message):
                    found.append(event)
                    if len(found) == limit:
                        return FilterPage(found, position)
                if scanned >= max_scan:
                    return FilterPage(found, position)
            if len(rows) < batch:
                return FilterPage(found, None)

    def describe_groups(
        self,
        *,
        prefix: str | None = None,
        offset: int = 0,
        limit: int = 50,
        pattern: str | None = None,
        names: list[str] | None = None,
    ) -> list[LogGroupInfo]:
        """Log groups in name order (DescribeLogGroups).

        `pattern` matches a case-insensitive substring of the name (logGroupNamePattern);
        `names` keeps only those groups (logGroupIdentifiers).
        """
        self.flush()
        where = ["substr(g.name, 1, ?) = ?"]
        args: list[object] = [len(prefix or ""), prefix or ""]
        if pattern:
            where.append("instr(lower(g.name), lower(?)) > 0")
            args.append(pattern)
        if names is not None:
            where.append(f"g.name IN ({','.join('?' * len(names))})")
            args.extend(names)
        rows = self._db.execute(
            "SELECT g.name, g.created_ms, "
            "(SELECT COALESCE(SUM(length(CAST(e.message AS BLOB))), 0) FROM logs_events e "
            " WHERE e.group_id = g.id) "
            f"FROM logs_groups g WHERE {' AND '.join(where)} ORDER BY g.name LIMIT ? OFFSET ?",
            (*args, limit, offset),
        ).fetchall()
        return [LogGroupInfo(str(r[0]), int(r[1]), int(r[2])) for r in rows]

    def describe_streams(
        self,
        group: str,
        *,
        prefix: str | None = None,
        order_by: Literal["LogStreamName", "LastEventTime"] = "LogStreamName",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> list[LogStreamInfo]:
        """A group's streams with their event times (DescribeLogStreams)."""
        self.flush()
        group_id = self._group_id(group)
        if group_id is None:
            raise ResourceNotFoundException("The specified log group does not exist.")
        direction = "DESC" if descending else "ASC"
        order = (
            f"s.name {direction}"
            if order_by == "LogStreamName"
            else f"COALESCE(last_event, -1) {direction}, s.name {direction}"
        )
        rows = self._db.execute(
            "SELECT s.name, s.created_ms, "
            "(SELECT MIN(timestamp_ms) FROM logs_events WHERE stream_id = s.id), "
            "(SELECT MAX(timestamp_ms) FROM logs_events WHERE stream_id = s.id) AS last_event, "
            "(SELECT ingestion_ms FROM logs_events WHERE stream_id = s.id ORDER BY seq DESC LIMIT 1), "
            "(SELECT COALESCE(SUM(length(CAST(message AS BLOB))), 0) FROM logs_events WHERE stream_id = s.id), "
            "(SELECT COUNT(*) FROM logs_events WHERE stream_id = s.id) "
            "FROM logs_streams s WHERE s.group_id = ? AND substr(s.name, 1, ?) = ? "
            f"ORDER BY {order} LIMIT ? OFFSET ?",
            (group_id, len(prefix or ""), prefix or "", limit, offset),
        ).fetchall()
        return [
            LogStreamInfo(
                group=group,
                name=str(r[0]),
                created_ms=int(r[1]),
                first_event_ms=None if r[2] is None else int(r[2]),
                last_event_ms=None if r[3] is None else int(r[3]),
                last_ingestion_ms=None if r[4] is None else int(r[4]),
                stored_bytes=int(r[5]),
                event_count=int(r[6]),
            )
            for r in rows
        ]


def _insert(db: sqlite3.Connection, values: list[int | str]) -> None:
    """`values` as rows, in statements of as many rows as fit (`_INSERTS`)."""
    start = 0
    for size, sql in _INSERTS:
        end = start + (len(values) - start) // size * size
        if end > start:
            db.executemany(sql, [values[at : at + size] for at in range(start, end, size)])
        start = end


def _create_events_table(db: sqlite3.Connection) -> None:
    """The events table, moved to the current layout if it has an older one (kept in append
    order, with an index for time order): its rows are copied over in one transaction."""
    key = sorted((row[5], row[1]) for row in db.execute("PRAGMA table_info(logs_events)") if row[5])
    if key and [name for _, name in key] != _EVENTS_KEY:
        log.info("moving stored log events to the time-ordered layout")
        with transaction(db):
            db.execute(EVENTS_TABLE.format(name="logs_events_moved"))
            db.execute(
                "INSERT INTO logs_events_moved "
                "(stream_id, timestamp_ms, seq, group_id, ingestion_ms, message) "
                "SELECT stream_id, timestamp_ms, seq, group_id, ingestion_ms, message "
                "FROM logs_events"
            )
            db.execute("DROP TABLE logs_events")
            db.execute("ALTER TABLE logs_events_moved RENAME TO logs_events")
            db.execute(EVENTS_INDEX)
        return
    db.execute(EVENTS_TABLE.format(name="logs_events"))
    db.execute(EVENTS_INDEX)
