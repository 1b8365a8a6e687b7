"""The engine's clock.

Every time-dependent rule of the engine (approval timeouts, action timeouts, timestamps)
reads time and schedules timers through a `Clock`, so tests can drive time by hand with a
`ManualClock` instead of sleeping. Timers fire on the event loop that created them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class Timer:
    """A scheduled callback that can be cancelled before it fires."""

    def __init__(self) -> None:
        self.cancelled = False
        self._handle: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self._handle is not None:
            self._handle.cancel()


class Clock:
    """Wall-clock time (epoch seconds) and timers on the running event loop."""

    def now(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = Timer()
        loop = asyncio.get_running_loop()

        def fire() -> None:
            if not timer.cancelled:
                callback()

        timer._handle = loop.call_later(max(0.0, when - self.now()), fire)
        return timer


@dataclass(order=True)
class _Pending:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    timer: Timer = field(compare=False)


class ManualClock(Clock):
    """A clock that only moves when told to; due timers fire in time order on `advance`."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._now = start
        self._queue: list[_Pending] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = Timer()
        heapq.heappush(self._queue, _Pending(when, next(self._seq), callback, timer))
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due, each at its own time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        target = self._now + seconds
        while self._queue and self._queue[0].when <= target:
            pending = heapq.heappop(self._queue)
            self._now = max(self._now, pending.when)
            if not pending.timer.cancelled:
                pending.callback()
        self._now = target
