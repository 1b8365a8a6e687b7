"""When Python's full garbage collections run: while nobody is typing, not in the middle of
a keystroke or an event.

A full collection walks every object the process tracks. In this app that is a few hundred
thousand (Textual, pydantic, the model, the rows and their rendered strips) and stops the
event loop for 100 to 300 ms on the development machine. CPython starts one on its own when
enough young objects have survived, which while a log follows 10,000 lines a second is every
few seconds, and a keystroke or an approval event that lands on one waits that long to be
drawn (the filter's and event-to-screen's 95th percentiles were mostly that).

Decisions recorded here [I]:

- The young generations stay automatic: they are cheap (a few ms) and collect almost all of
  the cyclic garbage frames leave behind (Textual's strips keep caches that refer back to
  them).
- Automatic full collections are switched off (the third threshold set out of reach, the
  first two kept); the app runs one itself every `every` seconds (30), once no key or mouse
  input has come for `quiet` seconds (1), and after `longest` seconds (120) even if input
  never paused, so cyclic garbage that reached the old generation is bounded in time.
- A due collection runs only if the old generation grew by a quarter since the last one
  (`GROWTH`, CPython's own rule for its full collections; `gc.get_objects(2)` counted, a
  millisecond or two): an idle app leaves almost nothing there, and each of its full
  collections every 30 s (about 10 ms while it watched 10 quiet pipelines) found nothing.
  Otherwise it looks again an interval later.
- What exists when the first list is in lives as long as the app: `freeze_startup()` moves
  it out of the collector's reach (`gc.freeze()`), which makes every full collection after
  it shorter (about 290 ms -> 60 to 160 ms while following a fast log).
- `uninstall()` puts the thresholds back and unfreezes, so an app run in a longer-lived
  process (the tests) leaves the collector as it found it.
- On Python 3.14's incremental collector the third threshold has no effect; there, old
  objects are collected in small increments already, and the idle collections remain.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

OUT_OF_REACH = 1_000_000_000
"""A third threshold no count of young collections reaches."""
GROWTH = 0.25
"""A full collection is worth running once the old generation grew by this much."""


def old_generation_size() -> int:
    return len(gc.get_objects(generation=2))


class IdleCollector:
    """Full collections at quiet moments (see the module docstring). The app calls
    `install()` at start, `input_seen()` on every key and mouse event, `tick()` every second,
    `freeze_startup()` once its first data is in, and `uninstall()` at exit."""

    def __init__(
        self,
        *,
        every: float = 30.0,
        quiet: float = 1.0,
        longest: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[int], object] = gc.collect,
        old_objects: Callable[[], int] = old_generation_size,
    ) -> None:
        self.every = every
        self.quiet = quiet
        self.longest = longest
        self._clock = clock
        self._collect = collect
        self._old_objects = old_objects
        self._old_after: int | None = None
        """The old generation's size after the last full collection (None: none yet)."""
        self._installed_over: tuple[int, int, int] | None = None
        self._frozen = False
        self._last_input = -float("inf")
        self._last_collection = clock()
        self.collections = 0
        """Full collections run by `tick()`."""
        self.last_pause = 0.0
        """Seconds the last of them took."""
        self.skipped = 0
        """Due collections not run: the old generation had not grown enough."""

    @property
    def installed(self) -> bool:
        return self._installed_over is not None

    def install(self) -> None:
        if self._installed_over is not None:
            return
        first, second, third = gc.get_threshold()
        self._installed_over = (first, second, third)
        gc.set_threshold(first, second, OUT_OF_REACH)
        self._last_collection = self._clock()

    def uninstall(self) -> None:
        if self._installed_over is not None:
            gc.set_threshold(*self._installed_over)
            self._installed_over = None
        if self._frozen:
            gc.unfreeze()
            self._frozen = False

    def freeze_startup(self) -> None:
        """Move everything alive now out of the collector's reach (once)."""
        if not self._frozen:
            self._frozen = True
            gc.freeze()

    def input_seen(self) -> None:
        self._last_input = self._clock()

    def due(self) -> bool:
        now = self._clock()
        waited = now - self._last_collection
        if waited >= self.longest:
            return True
        return waited >= self.every and now - self._last_input >= self.quiet

    def tick(self) -> bool:
        """Run a full collection if one is due and worth it; whether it ran."""
        if not self.installed or not self.due():
            return False
        before = self._old_after
        if before is not None and self._old_objects() <= before * (1 + GROWTH):
            self._last_collection = self._clock()
            self.skipped += 1
            return False
        started = time.perf_counter()
        self._collect(2)
        self.last_pause = time.perf_counter() - started
        self._last_collection = self._clock()
        self._old_after = self._old_objects()
        self.collections += 1
        return True
