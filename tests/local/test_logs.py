from __future__ import annotations

import time
from pathlib import Path

import pytest

from tui.local.clock import ManualClock
from tui.local.engine.db import open_database, transaction
from tui.local.engine.logs import LogStore, group_arn, stream_arn
from tui.model.errors import ResourceNotFoundException

GROUP = "/aws/codepipeline/demo"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_767_225_600.0)


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> LogStore:
    return LogStore(open_database(tmp_path / "data"), clock)


def test_append_stamps_lines_with_the_clock_and_reads_them_back_in_order(
    store: LogStore, clock: ManualClock
) -> None:
    store.ensure_stream(GROUP, "s1")
    store.append(GROUP, "s1", "first")
    clock.advance(1.5)
    store.append(GROUP, "s1", "second")
    store.append(GROUP, "s1", "explicit", timestamp_ms=42)
    events = store.read(GROUP, "s1")
    assert [e.message for e in events] == ["first", "second", "explicit"]
    assert [e.seq for e in events] == [0, 1, 2]
    assert events[0].timestamp_ms == 1_767_225_600_000
    assert events[1].timestamp_ms == 1_767_225_601_500
    assert events[2].timestamp_ms == 42
    assert events[2].ingestion_ms == 1_767_225_601_500


def test_read_pages_by_sequence(store: LogStore) -> None:
    store.ensure_stream(GROUP, "s")
    assert store.append_many(GROUP, "s", (f"line {i}" for i in range(25))) == 25
    first = store.read(GROUP, "s", limit=10)
    second = store.read(GROUP, "s", start_seq=first[-1].seq + 1, limit=10)
    rest = store.read(GROUP, "s", start_seq=second[-1].seq + 1, limit=10)
    assert [e.message for e in first + second + rest] == [f"line {i}" for i in range(25)]
    assert store.read(GROUP, "s", start_seq=25) == []


def test_messages_are_kept_verbatim(store: LogStore) -> None:
    store.ensure_stream(GROUP, "s")
    long_line = "x" * 300_000
    store.append_many(GROUP, "s", ["", "ünïcødé \ufffd", long_line, "tab\there"])
    assert [e.message for e in store.read(GROUP, "s")] == [
        "",
        "ünïcødé \ufffd",
        long_line,
        "tab\there",
    ]


def test_streams_are_independent(store: LogStore) -> None:
    store.ensure_stream(GROUP, "a")
    store.ensure_stream(GROUP, "b")
    store.ensure_stream("/other", "a")
    store.append(GROUP, "a", "in a")
    store.append(GROUP, "b", "in b")
    store.append("/other", "a", "other a")
    assert [e.message for e in store.read(GROUP, "a")] == ["in a"]
    assert [e.message for e in store.read(GROUP, "b")] == ["in b"]
    assert [(e.seq, e.message) for e in store.read("/other", "a")] == [(0, "other a")]


def test_missing_group_or_stream_is_resource_not_found(store: LogStore) -> None:
    with pytest.raises(ResourceNotFoundException, match="log group does not exist"):
        store.append("/nope", "s", "x")
    store.ensure_group(GROUP)
    with pytest.raises(ResourceNotFoundException, match="log stream does not exist"):
        store.append(GROUP, "nope", "x")
    with pytest.raises(ResourceNotFoundException):
        store.read(GROUP, "nope")
    with pytest.raises(ResourceNotFoundException):
        store.filter_events("/nope")
    with pytest.raises(ResourceNotFoundException):
        store.describe_streams("/nope")
    assert not store.stream_exists(GROUP, "nope")
    assert store.group_exists(GROUP)


def test_ensure_is_idempotent_and_keeps_events(store: LogStore, clock: ManualClock) -> None:
    store.ensure_stream(GROUP, "s")
    store.append(GROUP, "s", "kept")
    clock.advance(10)
    store.ensure_group(GROUP)
    store.ensure_stream(GROUP, "s")
    [info] = store.describe_streams(GROUP)
    assert info.created_ms == 1_767_225_600_000
    assert [e.message for e in store.read(GROUP, "s")] == ["kept"]


def test_events_survive_a_restart_and_sequence_continues(
    tmp_path: Path, clock: ManualClock
) -> None:
    db = open_database(tmp_path / "data")
    store = LogStore(db, clock)
    store.ensure_stream(GROUP, "s")
    store.append_many(GROUP, "s", ["one", "two"])
    db.close()

    reopened = LogStore(open_database(tmp_path / "data"), clock)
    assert [(e.seq, e.message) for e in reopened.read(GROUP, "s")] == [(0, "one"), (1, "two")]
    reopened.append(GROUP, "s", "three")
    assert [(e.seq, e.message) for e in reopened.read(GROUP, "s", start_seq=2)] == [(2, "three")]


def test_a_database_of_the_former_layout_is_moved_and_keeps_its_events(
    tmp_path: Path, clock: ManualClock
) -> None:
    """Events once kept in append order (primary key stream, seq, an index for time) are moved
    to the time-ordered table when the store opens: same events, same order, same seqs."""
    db = open_database(tmp_path / "data")
    db.executescript(
        """
        CREATE TABLE logs_groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL);
        CREATE TABLE logs_streams (id INTEGER PRIMARY KEY,
            group_id INTEGER NOT NULL REFERENCES logs_groups(id) ON DELETE CASCADE,
            name TEXT NOT NULL, created_ms INTEGER NOT NULL, UNIQUE (group_id, name));
        CREATE TABLE logs_events (
            stream_id INTEGER NOT NULL REFERENCES logs_streams(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL, group_id INTEGER NOT NULL, timestamp_ms INTEGER NOT NULL,
            ingestion_ms INTEGER NOT NULL, message TEXT NOT NULL,
            PRIMARY KEY (stream_id, seq)) WITHOUT ROWID;
        CREATE INDEX logs_events_by_time ON logs_events (stream_id, timestamp_ms, seq);
        INSERT INTO logs_groups VALUES (1, '/g', 5);
        INSERT INTO logs_streams VALUES (7, 1, 's', 5);
        -- appended out of time order, as two PutLogEvents batches may be
        INSERT INTO logs_events VALUES (7, 0, 1, 300, 9, 'third'), (7, 1, 1, 100, 9, 'first'),
            (7, 2, 1, 200, 9, 'second');
        """
    )
    db.close()

    db = open_database(tmp_path / "data")
    store = LogStore(db, clock)
    key = [
        row[1]
        for row in sorted(db.execute("PRAGMA table_info(logs_events)"), key=lambda r: r[5])
        if row[5]
    ]
    assert key == ["stream_id", "timestamp_ms", "seq"]
    assert (
        db.execute("SELECT name FROM sqlite_master WHERE name = 'logs_events_by_time'").fetchall()
        == []
    )
    assert [(e.seq, e.message) for e in store.get_events("/g", "s")] == [
        (1, "first"),
        (2, "second"),
        (0, "third"),
    ]
    store.append("/g", "s", "fourth")
    assert [(e.seq, e.message) for e in store.read("/g", "s", start_seq=2)] == [
        (2, "second"),
        (3, "fourth"),
    ]
    [match] = store.filter_events("/g", match=lambda m: m == "second").events
    assert match.event_id == f"{7:016d}{2:020d}"
    db.close()

    # Opening it again moves nothing.
    reopened = LogStore(open_database(tmp_path / "data"), clock)
    assert [e.message for e in reopened.get_events("/g", "s")][-1] == "fourth"


def test_append_many_is_atomic(store: LogStore) -> None:
    store.ensure_stream(GROUP, "s")

    def lines() -> object:
        yield "a"
        yield "b"
        raise RuntimeError("producer broke")

    with pytest.raises(RuntimeError):
        store.append_many(GROUP, "s", lines())  # type: ignore[arg-type]
    assert store.read(GROUP, "s") == []
    store.append(GROUP, "s", "after")
    assert [(e.seq, e.message) for e in store.read(GROUP, "s")] == [(0, "after")]


def test_appending_inside_an_open_transaction_joins_it(store: LogStore, tmp_path: Path) -> None:
    store.ensure_stream(GROUP, "s")
    db = store._db

    def failing_step() -> None:
        with transaction(db):
            store.append_many(GROUP, "s", ["x", "y"])
            raise RuntimeError("the caller's step failed")

    with pytest.raises(RuntimeError):
        failing_step()
    assert store.read(GROUP, "s") == []


def test_many_single_appends_are_fast(store: LogStore) -> None:
    store.ensure_stream(GROUP, "s")
    started = time.perf_counter()
    for i in range(5000):
        store.append(GROUP, "s", f"line {i}")
    elapsed = time.perf_counter() - started
    assert len(store.read(GROUP, "s")) == 5000
    # Generous bound for a shared machine; it takes well under a second.
    assert elapsed < 5, elapsed


def test_get_events_orders_by_timestamp_then_sequence_and_pages_both_ways(store: LogStore) -> None:
    store.ensure_stream(GROUP, "s")
    store.put_events(GROUP, "s", [(300, "c"), (100, "a"), (200, "b1"), (200, "b2"), (400, "d")])
    page = store.get_events(GROUP, "s")
    assert [e.message for e in page] == ["a", "b1", "b2", "c", "d"]

    forward = store.get_events(GROUP, "s", limit=2)
    assert [e.message for e in forward] == ["a", "b1"]
    forward = store.get_events(GROUP, "s", after=forward[-1].position, limit=2)
    assert [e.message for e in forward] == ["b2", "c"]

    tail = store.get_events(GROUP, "s", from_head=False, limit=2)
    assert [e.message for e in tail] == ["c", "d"]
    back = store.get_events(GROUP, "s", before=tail[0].position, from_head=False, limit=2)
    assert [e.message for e in back] == ["b1", "b2"]

    window = store.get_events(GROUP, "s", start_ms=200, end_ms=400)
    assert [e.message for e in window] == ["b1", "b2", "c"]
    assert store.get_events(GROUP, "s", after=page[-1].position) == []


def test_filter_events_interleaves_streams_and_pages(store: LogStore) -> None:
    store.ensure_stream(GROUP, "build-1")
    store.ensure_stream(GROUP, "build-2")
    store.ensure_stream(GROUP, "other")
    store.put_events(GROUP, "build-1", [(10, "one ERROR"), (30, "three"), (50, "five ERROR")])
    store.put_events(GROUP, "build-2", [(20, "two"), (40, "four ERROR")])
    store.put_events(GROUP, "other", [(25, "other ERROR")])

    page = store.filter_events(GROUP, stream_prefix="build-")
    assert [(e.stream, e.message) for e in page.events] == [
        ("build-1", "one ERROR"),
        ("build-2", "two"),
        ("build-1", "three"),
        ("build-2", "four ERROR"),
        ("build-1", "five ERROR"),
    ]
    assert page.next_after is None
    assert len({e.event_id for e in page.events}) == 5

    errors = store.filter_events(GROUP, match=lambda m: "ERROR" in m, limit=2)
    assert [e.message for e in errors.events] == ["one ERROR", "other ERROR"]
    assert errors.next_after is not None
    more = store.filter_events(GROUP, match=lambda m: "ERROR" in m, after=errors.next_after)
    assert [e.message for e in more.events] == ["four ERROR", "five ERROR"]
    assert more.next_after is None

    named = store.filter_events(GROUP, stream_names=["build-2", "other"], start_ms=21)
    assert [e.message for e in named.events] == ["other ERROR", "four ERROR"]

    capped = store.filter_events(GROUP, match=lambda m: m == "five ERROR", max_scan=3)
    assert capped.events == []
    assert capped.next_after is not None
    rest = store.filter_events(GROUP, match=lambda m: m == "five ERROR", after=capped.next_after)
    assert [e.message for e in rest.events] == ["five ERROR"]


def test_describe_groups_and_streams(store: LogStore, clock: ManualClock) -> None:
    store.ensure_group("/aws/codebuild/b")
    store.ensure_stream("/aws/codepipeline/a", "old")
    clock.advance(1)
    store.ensure_stream("/aws/codepipeline/a", "new")
    store.ensure_stream("/aws/codepipeline/a", "empty")
    store.put_events("/aws/codepipeline/a", "old", [(1000, "x"), (5000, "yy")])
    store.put_events("/aws/codepipeline/a", "new", [(9000, "zzz")])

    groups = store.describe_groups()
    assert [g.name for g in groups] == ["/aws/codebuild/b", "/aws/codepipeline/a"]
    assert groups[1].stored_bytes == 6
    assert [g.name for g in store.describe_groups(prefix="/aws/codepipeline")] == [
        "/aws/codepipeline/a"
    ]
    assert [g.name for g in store.describe_groups(offset=1, limit=1)] == ["/aws/codepipeline/a"]

    by_name = store.describe_streams("/aws/codepipeline/a")
    assert [s.name for s in by_name] == ["empty", "new", "old"]
    old = by_name[2]
    assert (old.first_event_ms, old.last_event_ms, old.event_count, old.stored_bytes) == (
        1000,
        5000,
        2,
        3,
    )
    assert old.last_ingestion_ms == 1_767_225_601_000
    assert by_name[0].last_event_ms is None

    by_time = store.describe_streams(
        "/aws/codepipeline/a", order_by="LastEventTime", descending=True
    )
    assert [s.name for s in by_time] == ["new", "old", "empty"]
    assert [s.name for s in store.describe_streams("/aws/codepipeline/a", prefix="o")] == ["old"]


def test_arns() -> None:
    assert (
        stream_arn("eu-west-1", "123456789012", "/aws/codepipeline/p", "abc")
        == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/codepipeline/p:log-stream:abc"
    )
    assert LogStore.stream_arn("r", "a", "g", "s") == "arn:aws:logs:r:a:log-group:g:log-stream:s"
    assert group_arn("r", "a", "g") == "arn:aws:logs:r:a:log-group:g"
