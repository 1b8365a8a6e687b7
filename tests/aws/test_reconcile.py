"""The reconcile scheduler on a fake clock: debounce, round robin, the visible pipeline, polling
mode, no overlapping fetches, errors and throttling."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.aws.fake_time import FakeTime, settle
from tests.aws.peer import Answer, AwsShapedPeer
from tui.aws.pipelines import PipelineClient
from tui.aws.reconcile import ReconcileScheduler, ReconcileSettings, pipeline_is_active
from tui.aws.session import AwsContext, ConnectionSettings

IDLE: dict[str, Any] = {
    "stageStates": [{"stageName": "Build", "latestExecution": {"status": "Succeeded"}}]
}
RUNNING: dict[str, Any] = {
    "stageStates": [{"stageName": "Build", "latestExecution": {"status": "InProgress"}}]
}


@dataclass
class Service:
    """What the scheduler drives: a fetch that records its calls, an apply that records its."""

    time: FakeTime
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetched: list[tuple[str, float]] = field(default_factory=list)
    applied: list[tuple[str, float]] = field(default_factory=list)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    in_flight: int = 0
    most_in_flight: int = 0
    failures: dict[str, Exception] = field(default_factory=dict)

    async def fetch(self, name: str) -> dict[str, Any]:
        self.fetched.append((name, self.time.now))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if name in self.gates:
                await self.gates[name].wait()
            if name in self.failures:
                raise self.failures[name]
            return self.states.get(name, IDLE)
        finally:
            self.in_flight -= 1

    def apply(self, name: str, state: dict[str, Any]) -> None:
        self.applied.append((name, self.time.now))

    def names_fetched(self) -> list[str]:
        return [name for name, _ in self.fetched]


def make(
    settings: ReconcileSettings | None = None, *, live: bool = True
) -> tuple[FakeTime, Service, ReconcileScheduler[dict[str, Any]], list[tuple[str, BaseException]]]:
    time = FakeTime()
    service = Service(time)
    errors: list[tuple[str, BaseException]] = []
    scheduler = ReconcileScheduler(
        service.fetch,
        service.apply,
        settings=settings or ReconcileSettings(),
        clock=time.clock,
        sleep=time.sleep,
        on_error=lambda name, exc: errors.append((name, exc)),
        live=live,
    )
    return time, service, scheduler, errors


QUIET = ReconcileSettings(round_robin_step=1000.0)


async def test_every_pipeline_is_fetched_once_at_start() -> None:
    time, service, scheduler, _ = make(ReconcileSettings(round_robin_step=1000.0, max_rate=5.0))
    scheduler.set_pipelines(["a", "b", "c"])
    task = asyncio.ensure_future(scheduler.run())
    await time.advance(2)
    assert sorted(service.names_fetched()) == ["a", "b", "c"]
    assert scheduler.counts["initial"] == 3
    # A start rate, when set, holds: fetches are 1/max_rate apart, not all at once.
    times = [t for _, t in service.fetched]
    assert times[1] - times[0] == pytest.approx(0.2)
    scheduler.close()
    await task


async def test_an_event_updates_its_pipeline_without_any_polling() -> None:
    time, service, scheduler, _ = make(QUIET, live=True)
    scheduler.set_pipelines(["a", "b", "c"])
    task = asyncio.ensure_future(scheduler.run())
    await time.advance(2)
    before = scheduler.fetches
    service.fetched.clear()
    scheduler.notify_event("b")
    await time.advance(0.2)
    scheduler.notify_event("b")
    await time.advance(0.2)
    # The second event moved the fetch to 0.3 s after it.
    assert service.fetched == []
    await time.advance(0.15)
    assert service.names_fetched() == ["b"]
    assert service.applied[-1][0] == "b"
    # Nothing else in a long while: no polling while events are live.
    await time.advance(60)
    assert service.names_fetched() == ["b"]
    assert scheduler.fetches == before + 1
    assert scheduler.counts["event"] == 1
    assert scheduler.counts["poll"] == 0
    scheduler.close()
    await task


async def test_a_steady_stream_of_events_still_refreshes_within_debounce_max() -> None:
    time, service, scheduler, _ = make(QUIET)
    scheduler.set_pipelines(["a"])
    task = asyncio.ensure_future(scheduler.run())
    await time.advance(2)
    service.fetched.clear()
    start = time.now
    for _ in range(15):  # an event every 0.2 s for 3 s
        scheduler.notify_event("a")
        await time.advance(0.2)
    assert service.fetched, "the burst starved the refresh"
    assert service.fetched[0][1] - start == pytest.approx(2.0)
    scheduler.close()
    await task


async def test_round_robin_refreshes_the_least_recent_one_step_at_a_time() -> None:
    time, service, scheduler, _ = make(ReconcileSettings(round_robin_step=3.0, round_robin_cycle=0))
    scheduler.set_pipelines(["a", "b", "c"])
    task = asyncio.ensure_future(scheduler.run())
    await time.advance(2)
    service.fetched.clear()
    await time.advance(9.5)
    assert service.names_fetched() == ["a", "b", "c"]
    await time.advance(9)
    assert service.names_fetched() == ["a", "b", "c", "a", "b", "c"]
    gaps = [b - a for (_, a), (_, b) in zip(service.fetched, service.fetched[1:], strict=False)]
    assert all(gap == pytest.approx(3.0) for gap in gaps)
    assert scheduler.counts["round-robin"] == 6
    scheduler.close()
    await task


async def test_round_robin_reads_no_pipeline_more_often_than_its_cycle() -> None:
    """Three pipelines at a step of 3 s would each be read every 9 s; a cycle of 30 s
    spaces the reads so that each pipeline waits at least 30 s since its last read (and at
    most the two others' steps more: their turns come in between)."""
    settings = ReconcileSettings(round_robin_step=3.0, round_robin_cycle=30.0)
    time, service, scheduler, _ = make(settings)
    scheduler.set_pipelines(["a", "b", "c"])
    task = asyncio.ensure_future(scheduler.run())
    await time.advance(2)
    first_reads = {name: when for name, when in service.fetched}
    service.fetched.clear()
    await time.advance(65)
    assert service.names_fetched() == ["a", "b", "c", "a", "b", "c"]
    last: dict[str, float] = dict(first_reads)
    for name, when in service.fetched:
        assert 30.0 - 0.01 <= when - last[name] <= 30.0 + 2 * 3.0 + 0.01
        last[name] = when
    assert scheduler.counts["round-robin"] == 6
    # An event's read counts as a read: the round robin then leaves that pipeline longer.
    scheduler.notify_event("a")
    await time.advance(1)
    service.fetched.clear()
    await time.advance(25)
    assert "a" not in service.names_fetched()
    scheduler.close()
    await task


async def test_the_visible_pipeline_is_polled_faster_and_fastest_while_running() -> None:
    time, service, scheduler, _ = make(QUIET)
    scheduler.set_pipelines(["a", "b"])
    scheduler.set_visible("a")
    task = asyncio.ensure_future(scheduler.run())
    await time.advance(2)
    service.fetched.clear()
    await time.advance(20.5)
    assert service.names_fetched() == ["a"] * 4  # every 5 s
    service.states["a"] = RUNNING
    await time.advance(5.1)  # the next 5 s fetch sees it running
    service.fetched.clear()
    await time.advance(10.05)
    assert service.names_fetched() == ["a"] * 10  # every 1 s while it runs
    service.states["a"] = IDLE
    await time.advance(1.1)
    service.fetched.clear()
    await time.advance(10.05)
    assert service.names_fetched() == ["a"] * 2
    assert scheduler.counts["visible"] >= 16
    scheduler.close()
    await task


async def test_polling_mode_polls_every_pipeline_and_live_mode_stops_it() -> None:
    time, service, scheduler, _ = make(
        ReconcileSettings(poll_interval=10.0, round_robin_step=1000), live=False
    )
    scheduler.set_pipelines(["a", "b"])
    task = asyncio.ensure_future(scheduler.run())
    await time.advance(2)
    service.fetched.clear()
    await time.advance(30)
    assert sorted(service.names_fetched()) == ["a", "a", "a", "b", "b", "b"]
    assert scheduler.counts["poll"] == 6
    assert scheduler.counts["round-robin"] == 0
    scheduler.set_live(True)
    service.fetched.clear()
    await time.advance(60)
    assert service.fetched == []
    # Events went away: both are overdue, so polled at once, then every 10 s again.
    scheduler.set_live(False)
    await time.advance(0.5)
    assert sorted(service.names_fetched()) == ["a", "b"]
    await time.advance(10)
    assert sorted(service.names_fetched()) == ["a", "a", "b", "b"]
    scheduler.close()
    await task


async def test_fetches_never_overlap_and_the_next_waits_for_apply() -> None:
    time, service, scheduler, _ = make(QUIET)
    service.states["a"] = RUNNING
    scheduler.set_pipelines(["a"])
    scheduler.set_visible("a")
    task = asyncio.ensure_future(scheduler.run())
    await time.advance(2)
    gate = service.gates["a"] = asyncio.Event()
    service.fetched.clear()
    await time.advance(1)  # the visible fetch starts, and hangs
    assert len(service.fetched) == 1
    scheduler.notify_event("a")
    scheduler.refresh("a")
    await time.advance(30)
    assert len(service.fetched) == 1, "a second fetch started while the first was in flight"
    assert service.most_in_flight == 1
    released_at = time.now
    gate.set()
    await settle()
    assert service.applied[-1] == ("a", released_at)
    # The refresh asked during the flight runs right after it, not before.
    await time.advance(0.01)
    assert len(service.fetched) == 2
    assert service.fetched[1][1] >= released_at
    scheduler.close()
    await task


async def test_refresh_jumps_the_queue() -> None:
    time, service, scheduler, _ = make(ReconcileSettings(round_robin_step=1000, max_rate=1.0))
    scheduler.set_pipelines(["a", "b", "c", "d"])
    task = asyncio.ensure_future(scheduler.run())
    await settle()
    # One initial fetch started; the rest wait for the 1/s rate. A refresh goes first.
    scheduler.refresh("d")
    await time.advance(1.0)
    assert service.names_fetched()[:2] == ["a", "d"]
    assert scheduler.counts["refresh"] == 1
    scheduler.close()
    await task


async def test_concurrency_is_capped() -> None:
    time, service, scheduler, _ = make(ReconcileSettings(max_concurrent=2, max_rate=1000))
    names = ["a", "b", "c", "d", "e"]
    for name in names:
        service.gates[name] = asyncio.Event()
    scheduler.set_pipelines(names)
    task = asyncio.ensure_future(scheduler.run())
    await time.advance(1)
    assert service.names_fetched() == ["a", "b"]
    service.gates["a"].set()
    await time.advance(0.01)
    assert service.names_fetched() == ["a", "b", "c"]
    assert service.most_in_flight == 2
    for gate in service.gates.values():
        gate.set()
    await time.advance(1)
    assert sorted(set(service.names_fetched())) == names
    scheduler.close()
    await task


async def test_a_failing_pipeline_backs_off_and_is_reported() -> None:
    time, service, scheduler, errors = make(
        ReconcileSettings(poll_interval=1.0, error_backoff=5.0), live=False
    )
    service.failures["a"] = KeyError("boom")
    scheduler.set_pipelines(["a", "b"])
    task = asyncio.ensure_future(scheduler.run())
    await time.advance(0.5)
    assert [name for name, _ in errors] == ["a"]
    service.fetched.clear()
    await time.advance(4)
    assert "a" not in service.names_fetched()
    assert service.names_fetched().count("b") >= 3
    await time.advance(2)
    assert "a" in service.names_fetched()
    scheduler.close()
    await task


async def test_throttling_pauses_every_fetch() -> None:
    time = FakeTime()
    errors: list[tuple[str, BaseException]] = []
    fetched: list[str] = []
    answer = Answer(400, "ThrottlingException", "Rate exceeded", {"Retry-After": "30"})
    async with (
        AwsShapedPeer(answer) as peer,
        AwsContext(ConnectionSettings(endpoint_url=peer.url, max_attempts=1)) as aws,
    ):
        client = PipelineClient(aws)

        async def fetch(name: str) -> dict[str, Any]:
            fetched.append(name)
            return await client.get_pipeline_state(name)

        scheduler: ReconcileScheduler[dict[str, Any]] = ReconcileScheduler(
            fetch,
            lambda name, state: None,
            settings=ReconcileSettings(poll_interval=1.0, max_rate=1000),
            clock=time.clock,
            sleep=time.sleep,
            on_error=lambda name, exc: errors.append((name, exc)),
        )
        scheduler.set_pipelines(["a"])
        task = asyncio.ensure_future(scheduler.run())
        for _ in range(200):  # real HTTP: wait in real time for the answer
            if errors:
                break
            await asyncio.sleep(0.01)
        assert errors
        peer.answer = Answer(200, "", "")
        await time.advance(29)
        assert fetched == ["a"], "fetched again during the throttling pause"
        scheduler.close()
        await task


async def test_without_the_pause_a_throttled_fetch_holds_back_only_its_own_pipeline() -> None:
    """The Watcher's case: its rate budget backs off on throttling, so the scheduler does
    not pause everything on top of it."""
    time = FakeTime()
    fetched: list[str] = []
    throttle = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
        "GetPipelineState",
    )

    async def fetch(name: str) -> dict[str, Any]:
        fetched.append(name)
        if name == "a":
            raise throttle
        return IDLE

    for pause, expect_b in ((True, False), (False, True)):
        fetched.clear()
        scheduler: ReconcileScheduler[dict[str, Any]] = ReconcileScheduler(
            fetch,
            lambda name, state: None,
            settings=ReconcileSettings(poll_interval=1.0, max_concurrent=1),
            clock=time.clock,
            sleep=time.sleep,
            on_error=lambda name, exc: None,
            pause_on_throttle=pause,
        )
        scheduler.set_pipelines(["a", "b"])
        task = asyncio.ensure_future(scheduler.run())
        await time.advance(0.1)
        assert fetched[:1] == ["a"]
        fetched.clear()
        await time.advance(3)
        assert ("b" in fetched) is expect_b, (pause, fetched)
        assert "a" not in fetched  # its own error backoff holds either way
        scheduler.close()
        await task


def test_activity_is_read_from_get_pipeline_state() -> None:
    assert not pipeline_is_active(IDLE)
    assert pipeline_is_active(RUNNING)
    assert pipeline_is_active(
        {"stageStates": [{"actionStates": [{"latestExecution": {"status": "InProgress"}}]}]}
    )
    assert not pipeline_is_active({"stageStates": [{"stageName": "Never run"}]})
    assert not pipeline_is_active(None)


async def test_eight_different_pipelines_are_read_at_once_never_one_twice() -> None:
    time, service, scheduler, _ = make(QUIET)
    names = [f"p{index}" for index in range(12)]
    for name in names:
        service.gates[name] = asyncio.Event()
    scheduler.set_pipelines(names)
    task = asyncio.ensure_future(scheduler.run())
    await settle()
    # No start rate of its own: the first eight start at the same moment.
    assert service.names_fetched() == names[:8]
    assert {when for _, when in service.fetched} == {time.now}
    # Asking again for a pipeline in flight waits for it; the slots stay full, not overfull.
    scheduler.refresh("p0")
    scheduler.notify_event("p1")
    await time.advance(5)
    assert service.names_fetched() == names[:8]
    assert service.most_in_flight == 8
    service.gates["p0"].set()
    await time.advance(0.01)
    # The freed slot goes to the refresh of p0 (it jumps the queue), after its first read.
    assert service.names_fetched()[8] == "p0"
    assert service.most_in_flight == 8
    for gate in service.gates.values():
        gate.set()
    await time.advance(5)
    assert set(service.names_fetched()) == set(names)
    assert scheduler.counts["initial"] == 12
    scheduler.close()
    await task


async def test_the_rows_on_screen_are_read_first_then_the_list_order() -> None:
    time, service, scheduler, _ = make(ReconcileSettings(round_robin_step=1000, max_concurrent=1))
    scheduler.set_pipelines(["a", "b", "c", "d", "e", "f"])
    scheduler.set_on_screen(["e", "c"])
    task = asyncio.ensure_future(scheduler.run())
    await time.advance(1)
    assert service.names_fetched() == ["e", "c", "a", "b", "d", "f"]
    scheduler.close()
    await task


async def test_a_refresh_goes_before_the_rows_on_screen() -> None:
    time, service, scheduler, _ = make(ReconcileSettings(round_robin_step=1000, max_concurrent=1))
    service.gates["a"] = asyncio.Event()
    scheduler.set_pipelines(["a", "b", "c", "d"])
    task = asyncio.ensure_future(scheduler.run())
    await settle()
    assert service.names_fetched() == ["a"]  # the only slot, held
    scheduler.set_on_screen(["c"])
    scheduler.refresh("d")
    service.gates["a"].set()
    await time.advance(1)
    assert service.names_fetched() == ["a", "d", "c", "b"]
    assert scheduler.counts["refresh"] == 1
    scheduler.close()
    await task
