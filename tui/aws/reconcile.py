"""The reconcile scheduler: which pipeline's GetPipelineState to fetch, and when.

Events say that something changed; only a fresh GetPipelineState says what a pipeline looks
like now (events arrive late, twice, out of order, or not at all). This scheduler keeps the
view honest with as few calls as that takes:

- An event for a pipeline schedules a fetch of it `debounce` seconds after the last event
  (a burst of action events becomes one fetch), but never later than `debounce_max` after
  the first event of the burst, so a steady stream of events cannot starve the refresh.
- With events live, a slow round robin refreshes one pipeline every `round_robin_step`
  seconds, least recently refreshed first: with N pipelines each is re-read every
  N x step seconds even if an event got lost, but no pipeline more often than every
  `round_robin_cycle` seconds through the round robin (with few pipelines it slows down).
- Without events (polling mode, `set_live(False)`), every pipeline is fetched every
  `poll_interval` seconds instead; there is no round robin then.
- The visible pipeline is fetched every `visible_interval` seconds, or every
  `visible_active_interval` while something in it runs (judged by `is_active` on its last
  state).
- A pipeline never fetched yet is due at once ("initial"), and `refresh(name)` (the user
  asked) is due at once.

Fetches never overlap for one pipeline, and a pipeline's next fetch is scheduled from the
moment the previous one was applied (the `apply` callback returned), so a slow service or a
slow screen stretches the intervals instead of piling calls up. Across pipelines at most
`max_concurrent` fetches of different pipelines run at once, and, if `max_rate` is set, at
most that many start per second. When several are due, the most urgent goes first:
refresh, event, visible, initial, poll, round robin; among fetches of one kind, the
pipelines on screen (`set_on_screen`, the rows the list shows) before the others, then the
order of `set_pipelines` (the list's order), then the earliest due.

A failed fetch goes to `on_error(name, exc)`; that pipeline waits `error_backoff` seconds,
and a throttled one (errors.Throttled) pauses every fetch for its `retry_after`, unless
`pause_on_throttle=False`: the Watcher's requests all pass its rate budget, which already
backs off on throttling, and a second pause on top of it only kept the screen stale longer.

Decisions recorded here [I]: the intervals above are defaults of `ReconcileSettings`
(debounce 0.3 s, at most 2 s; round robin 3 s, each pipeline at most once a minute;
visible 5 s / 1 s; polling 10 s). Time comes
from the injected `clock` and `sleep`, so tests never sleep.

- [I] 8 fetches at once, no start rate of the scheduler's own (`max_rate=None`). Every
  request goes through the connection's rate budget (`budget.py`), which is the one rate
  limit: on AWS it holds the reads to its 5 requests a second whatever the concurrency (a
  start rate of 5 fetches a second, each of 2 requests or more, never bound there), and on
  the local endpoint, which has no budget, a start rate would be the only thing between 100
  pipelines and their first fill (20 s at 5 a second). Eight at once keeps the budget's burst
  busy on AWS (each fetch waits on the network between its requests) and the local endpoint's
  one process busy without a queue in front of it; a refresh the user asks for waits behind at
  most eight fetches already sent.
- [I] The first fill follows the screen: initial fetches of the rows on screen go first, then
  the rest in the list's order, so on AWS, where the budget lets 10 requests out at once and
  5 a second after that, what the user looks at fills first.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from tui.aws.errors import Throttled, describe

S = TypeVar("S")
Reason = Literal["refresh", "event", "visible", "initial", "poll", "round-robin"]
PRIORITY: dict[Reason, int] = {
    "refresh": 0,
    "event": 1,
    "visible": 2,
    "initial": 3,
    "poll": 4,
    "round-robin": 5,
}
RUNNING_STATUSES = frozenset({"InProgress", "Stopping"})


@dataclass(frozen=True)
class ReconcileSettings:
    debounce: float = 0.3
    """Seconds after the last event of a burst before the pipeline is fetched."""
    debounce_max: float = 2.0
    """A burst of events never delays the fetch longer than this after its first event."""
    round_robin_step: float = 3.0
    """Events live: one pipeline is refreshed every this many seconds, oldest first..."""
    round_robin_cycle: float = 60.0
    """...unless that one was refreshed less than this long ago: then the round robin waits
    until it was. [I] 10 pipelines at 3 s each were re-read every 30 s, about a sixth of a
    quiet app's CPU, while events keep them current; a lost event is still
    caught within a minute."""
    poll_interval: float = 10.0
    """Polling mode (no events): every pipeline is fetched this often."""
    visible_interval: float = 5.0
    """The pipeline on screen is fetched this often..."""
    visible_active_interval: float = 1.0
    """...and this often while something in it runs."""
    error_backoff: float = 5.0
    """After a failed fetch, that pipeline waits this long."""
    max_concurrent: int = 8
    """At most this many pipelines are read at once (never one pipeline twice at once)."""
    max_rate: float | None = None
    """At most this many fetches start per second (None: no cap of the scheduler's own; the
    connection's rate budget gates every request either way)."""


def pipeline_is_active(state: object) -> bool:
    """Whether a GetPipelineState answer shows something running (a stage or an action)."""
    if not isinstance(state, Mapping):
        return False
    for stage in state.get("stageStates") or []:
        if (stage.get("latestExecution") or {}).get("status") in RUNNING_STATUSES:
            return True
        for action in stage.get("actionStates") or []:
            if (action.get("latestExecution") or {}).get("status") == "InProgress":
                return True
    return False


@dataclass
class _Track:
    in_flight: bool = False
    fetched: bool = False
    last_applied: float | None = None
    event_due: float | None = None
    burst_started: float | None = None
    refresh_due: float | None = None
    not_before: float = 0.0
    active: bool = False


@dataclass
class _Due:
    when: float
    reason: Reason
    name: str = field(default="")


class ReconcileScheduler(Generic[S]):
    """Calls `fetch(name)` then `apply(name, state)` for pipelines as they fall due."""

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[S]],
        apply: Callable[[str, S], Awaitable[None] | None],
        *,
        settings: ReconcileSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        on_error: Callable[[str, BaseException], None] | None = None,
        is_active: Callable[[S], bool] = pipeline_is_active,
        live: bool = False,
        pause_on_throttle: bool = True,
    ) -> None:
        self.fetch = fetch
        self.pause_on_throttle = pause_on_throttle
        """Whether a throttled fetch pauses every fetch for its `retry_after`; off when every
        request already goes through a rate budget that backs off (`budget.py`), since the
        two waits would add up."""
        self.apply = apply
        self.settings = settings or ReconcileSettings()
        self.clock = clock
        self.sleep = sleep
        self.on_error = on_error
        self.is_active = is_active
        self.counts: Counter[str] = Counter()
        """Fetches started, by reason (`refresh`, `event`, `visible`, `initial`, ...)."""
        self._names: list[str] = []
        self._tracks: dict[str, _Track] = {}
        self._order: dict[str, int] = {}
        self._on_screen: dict[str, int] = {}
        self._visible: str | None = None
        self._live = live
        self._round_robin_due: float | None = None
        self._round_robin_busy = False
        self._paused_until = 0.0
        self._next_start = 0.0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # What the app tells the scheduler ----------------------------------------------------

    @property
    def live(self) -> bool:
        return self._live

    @property
    def fetches(self) -> int:
        return sum(self.counts.values())

    def set_pipelines(self, names: Iterable[str]) -> None:
        """The pipelines to keep fresh (the round robin and polling cover exactly these)."""
        self._names = list(dict.fromkeys(names))
        self._order = {name: index for index, name in enumerate(self._names)}
        keep = set(self._names) | {self._visible}
        for name in list(self._tracks):
            if name not in keep and not self._tracks[name].in_flight:
                del self._tracks[name]
        for name in self._names:
            self._tracks.setdefault(name, _Track())
        self._wake.set()

    def set_visible(self, name: str | None) -> None:
        self._visible = name
        if name is not None:
            self._tracks.setdefault(name, _Track())
        self._wake.set()

    def set_on_screen(self, names: Iterable[str]) -> None:
        """The pipelines whose rows are on screen, top first: among fetches due for the same
        reason they go first (the first fill fills what the user sees first)."""
        self._on_screen = {name: index for index, name in enumerate(dict.fromkeys(names))}
        self._wake.set()

    @property
    def on_screen(self) -> tuple[str, ...]:
        """The pipelines last said to be on screen, top first."""
        return tuple(self._on_screen)

    def _rank(self, due: _Due) -> tuple[int, int, int, float]:
        """The order fetches start in: reason, on screen first, the list's order, due time."""
        screen = self._on_screen.get(due.name)
        return (
            PRIORITY[due.reason],
            screen if screen is not None else len(self._on_screen),
            self._order.get(due.name, len(self._order)),
            due.when,
        )

    def set_live(self, live: bool) -> None:
        """Events live (True) or polling mode (False), from the feed's status."""
        if live and not self._live:
            self._round_robin_due = None
        self._live = live
        self._wake.set()

    def notify_event(self, name: str) -> None:
        """An event about `name` arrived: fetch it once the burst settles."""
        now = self.clock()
        track = self._tracks.setdefault(name, _Track())
        if track.burst_started is None:
            track.burst_started = now
        track.event_due = now + self.settings.debounce
        self._wake.set()

    def refresh(self, name: str) -> None:
        """Fetch `name` as soon as possible (the user asked)."""
        track = self._tracks.setdefault(name, _Track())
        track.refresh_due = self.clock()
        self._wake.set()

    # The loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Fetch pipelines as they fall due, until `close()`."""
        try:
            while not self._closed:
                self._wake.clear()
                now = self.clock()
                self._start_due(now)
                wake_at = self._next_wake(now)
                await self._wait(None if wake_at is None else max(0.0, wake_at - now))
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    async def _wait(self, delay: float | None) -> None:
        waiter = asyncio.ensure_future(self._wake.wait())
        waits: set[asyncio.Future[Any]] = {waiter}
        if delay is not None:
            waits.add(asyncio.ensure_future(self.sleep(delay)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in waits:
                pending.cancel()

    def _pipeline_due(self, name: str, track: _Track, now: float) -> _Due | None:
        """When `name` is next due, ignoring the round robin: of the reasons already due at
        `now` the most urgent, else the earliest."""
        candidates: list[_Due] = []
        if track.refresh_due is not None:
            candidates.append(_Due(track.refresh_due, "refresh"))
        if track.event_due is not None and track.burst_started is not None:
            latest = track.burst_started + self.settings.debounce_max
            candidates.append(_Due(min(track.event_due, latest), "event"))
        known = name in self._names or name == self._visible
        if known and not track.fetched:
            candidates.append(_Due(0.0, "initial"))
        elif track.last_applied is not None:
            if name == self._visible:
                interval = (
                    self.settings.visible_active_interval
                    if track.active
                    else self.settings.visible_interval
                )
                candidates.append(_Due(track.last_applied + interval, "visible"))
            if not self._live and name in self._names:
                candidates.append(_Due(track.last_applied + self.settings.poll_interval, "poll"))
        if not candidates:
            return None
        for candidate in candidates:
            candidate.when = max(candidate.when, track.not_before)
        ready = [d for d in candidates if d.when <= now]
        if ready:
            due = min(ready, key=lambda d: (PRIORITY[d.reason], d.when))
        else:
            due = min(candidates, key=lambda d: (d.when, PRIORITY[d.reason]))
        due.name = name
        return due

    def _round_robin_pick(self, now: float) -> str | None:
        idle = [
            n
            for n in self._names
            if not self._tracks[n].in_flight and self._tracks[n].not_before <= now
        ]
        if not idle:
            return None
        return min(idle, key=lambda n: self._tracks[n].last_applied or 0.0)

    def _start_due(self, now: float) -> None:
        if now < self._paused_until:
            return
        due: list[_Due] = []
        for name, track in self._tracks.items():
            if track.in_flight:
                continue
            candidate = self._pipeline_due(name, track, now)
            if candidate is not None and candidate.when <= now:
                due.append(candidate)
        due.sort(key=self._rank)
        for candidate in due:
            if not self._may_start(now):
                return
            self._start(candidate.name, candidate.reason, now)
        if self._live and self._names and not self._round_robin_busy:
            if self._round_robin_due is None:
                self._round_robin_due = now + self.settings.round_robin_step
            elif self._round_robin_due <= now and self._may_start(now):
                oldest = self._round_robin_pick(now)
                last = self._tracks[oldest].last_applied if oldest is not None else None
                if last is not None and now - last < self.settings.round_robin_cycle:
                    self._round_robin_due = last + self.settings.round_robin_cycle
                elif oldest is not None:
                    self._round_robin_busy = True
                    self._start(oldest, "round-robin", now)

    def _may_start(self, now: float) -> bool:
        return len(self._tasks) < self.settings.max_concurrent and now >= self._next_start

    def _next_wake(self, now: float) -> float | None:
        times: list[float] = []
        for name, track in self._tracks.items():
            if track.in_flight:
                continue
            candidate = self._pipeline_due(name, track, now)
            if candidate is not None:
                times.append(candidate.when)
        if self._live and self._round_robin_due is not None and not self._round_robin_busy:
            idle = [self._tracks[n] for n in self._names if not self._tracks[n].in_flight]
            if idle:
                earliest = min(track.not_before for track in idle)
                times.append(max(self._round_robin_due, earliest))
        if not times:
            return None
        wake = min(times)
        if wake <= now:
            # Due but held back: by the rate, the pause, or every slot being busy (then a
            # finishing fetch wakes the loop).
            if len(self._tasks) >= self.settings.max_concurrent:
                return None
            wake = max(wake, self._next_start, self._paused_until)
        return max(wake, self._paused_until)

    def _start(self, name: str, reason: Reason, now: float) -> None:
        track = self._tracks[name]
        track.in_flight = True
        track.fetched = True
        track.refresh_due = None
        track.event_due = None
        track.burst_started = None
        if self.settings.max_rate is not None:
            self._next_start = now + 1.0 / self.settings.max_rate
        self.counts[reason] += 1
        task = asyncio.ensure_future(self._refresh(name, track, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, name: str, track: _Track, reason: Reason) -> None:
        try:
            state = await self.fetch(name)
            result = self.apply(name, state)
            if inspect.isawaitable(result):
                await result
            track.active = self.is_active(state)
            track.not_before = 0.0
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            problem = describe(exc)
            if isinstance(problem, Throttled) and self.pause_on_throttle:
                self._paused_until = self.clock() + problem.retry_after
            track.not_before = self.clock() + self.settings.error_backoff
            if self.on_error is not None:
                self.on_error(name, exc)
        finally:
            track.in_flight = False
            track.last_applied = self.clock()
            if reason == "round-robin":
                self._round_robin_busy = False
                self._round_robin_due = track.last_applied + self.settings.round_robin_step
            self._wake.set()
