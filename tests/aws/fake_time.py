"""A clock and sleep for the client layer's schedulers that move only when a test says so.

`advance(seconds)` walks time forward, waking each sleeper at its own deadline in order and
letting the event loop run everything that became ready before going on, so a scheduler
sees the same sequence of moments it would see in real time, in microseconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


async def settle(rounds: int = 50) -> None:
    """Let every task that is ready run (and the tasks they wake), without real time passing."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeTime:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(delay, 0.0), next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        await settle()
        while True:
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            when, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            future.set_result(None)
            await settle()
        self.now = target
        await settle()
