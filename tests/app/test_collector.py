"""The idle collector: full collections only at quiet moments, the collector restored after."""

from __future__ import annotations

import gc
import weakref

from tests.app.support import app_for, wait_until
from tests.endpoint import Endpoint
from tui.app.collector import OUT_OF_REACH, IdleCollector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_install_keeps_young_thresholds_and_uninstall_restores_everything() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    collector = IdleCollector()
    collector.install()
    try:
        assert gc.get_threshold() == (before[0], before[1], OUT_OF_REACH)
        collector.freeze_startup()
        assert gc.get_freeze_count() > frozen_before
    finally:
        collector.uninstall()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_collection_waits_for_its_interval_and_a_pause_in_input() -> None:
    clock = Clock()
    runs: list[int] = []
    old = [1000]
    collector = IdleCollector(
        every=30, quiet=1, longest=120, clock=clock, collect=runs.append, old_objects=lambda: old[0]
    )
    assert not collector.tick()  # not installed: the collector is Python's own
    collector.install()
    try:
        clock.now += 29
        assert not collector.tick()
        clock.now += 1
        collector.input_seen()
        clock.now += 0.5
        assert not collector.tick()  # typing
        clock.now += 0.5
        assert collector.tick()
        assert runs == [2]
        assert not collector.tick()  # the interval starts again
        old[0] = 1300  # grown by more than a quarter since
        # Input that never pauses still gets a collection after `longest`.
        for _ in range(120):
            clock.now += 1
            collector.input_seen()
            collector.tick()
        assert runs == [2, 2]
        assert collector.collections == 2
    finally:
        collector.uninstall()


def test_a_due_collection_runs_only_once_the_old_generation_grew_by_a_quarter() -> None:
    clock = Clock()
    runs: list[int] = []
    old = [1000]
    collector = IdleCollector(
        every=30, quiet=1, clock=clock, collect=runs.append, old_objects=lambda: old[0]
    )
    collector.install()
    try:
        clock.now += 30
        assert collector.tick()  # the first: nothing to compare with
        old[0] = 1200
        clock.now += 30
        assert not collector.tick()
        assert collector.skipped == 1
        clock.now += 29
        assert not collector.tick()  # skipping starts the interval again
        old[0] = 1251
        clock.now += 1
        assert collector.tick()
        assert runs == [2, 2]
    finally:
        collector.uninstall()


def test_old_cyclic_garbage_waits_for_the_idle_collection() -> None:
    clock = Clock()
    collector = IdleCollector(every=30, quiet=1, clock=clock)
    collector.install()
    try:
        cycle = Cycle()
        alive = weakref.ref(cycle)
        gc.collect()  # it survives into the oldest generation
        del cycle
        # Young collections, as a busy app makes them, do not reach it.
        for _ in range(20):
            [Cycle() for _ in range(2_000)]
        gc.collect(1)
        assert alive() is not None
        clock.now += 31
        assert collector.tick()
        assert alive() is None
        assert collector.last_pause > 0
    finally:
        collector.uninstall()


async def test_the_app_collects_at_quiet_moments_and_restores_the_collector(
    endpoint: Endpoint,
) -> None:
    before = gc.get_threshold()
    app = app_for(endpoint)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.watch_status.pipelines_listed, what="the list")
        collector = app.collector
        assert collector.installed
        assert gc.get_threshold()[2] == OUT_OF_REACH
        assert gc.get_freeze_count() > 0  # the startup objects, once the list was in
        collector.every = 0.0
        await pilot.press("down")
        assert not collector.due()  # a key was just pressed
        await wait_until(pilot, lambda: collector.collections >= 1, within=5, what="a collection")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
