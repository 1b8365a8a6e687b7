"""Injected faults in EventBridge's delivery to SQS targets: drop, duplicate, reorder.

On AWS, EventBridge delivers events best effort and SQS delivers messages at least once: a
consumer must live with a lost event, a twice-delivered one and two arriving out of order.
`DeliveryFaults` makes the local bus do all three on purpose, so tests can prove the watcher
copes. It is installed on the bus (`EventBus.delivery_faults`) by the `/_local/faults`
control (`tui.local.api.faults`); with none installed the bus delivers each event to each
matching target exactly once, in order.

Every delivery of one event to one queue rolls three dice from one seeded RNG, in a fixed
order, whatever the outcome (so a seed gives the same decisions for the same sequence of
deliveries):
1. drop (percent): the event never reaches this queue. A message held back for the queue
   (below) stays held.
2. duplicate (percent): the queue gets the event twice (two SQS messages with their own
   message ids and the same body, as an at-least-once redelivery looks).
3. reorder (percent): when nothing is held for the queue yet, this delivery (with its
   duplicate) is held back and written right after the next delivery to the same queue.
   Otherwise a held delivery is released after this one.

Decisions [I]:
- A held delivery waits for the next delivery to its queue, however long that takes; it is
  released (written) when the faults are replaced or cleared (`release()`), never lost.
- A held message whose queue is gone by the time it is released is dropped with a log line,
  as the bus drops events for missing queues.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

M = TypeVar("M")

FAULT_KINDS = ("drop", "duplicate", "reorder")


@dataclass
class DeliveryFaults(Generic[M]):
    """Decides, per (event, queue) delivery, which messages to write now."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    seed: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    _held: dict[str, list[M]] = field(default_factory=dict)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def deliveries(self, queue: str, message: M) -> list[M]:
        """The messages to write to `queue` now for one delivery of `message`."""
        self.counts["deliveries"] += 1
        dropped = self._rng.random() * 100 < self.drop
        duplicated = self._rng.random() * 100 < self.duplicate
        reordered = self._rng.random() * 100 < self.reorder
        if dropped:
            self.counts["dropped"] += 1
            return []
        now = [message, message] if duplicated else [message]
        if duplicated:
            self.counts["duplicated"] += 1
        held = self._held.pop(queue, None)
        if held is not None:
            return now + held
        if reordered:
            self.counts["reordered"] += 1
            self._held[queue] = now
            return []
        return now

    def release(self) -> dict[str, list[M]]:
        """Every held delivery, by queue, for the caller to write; nothing stays held."""
        held, self._held = self._held, {}
        return held

    def held(self) -> int:
        return sum(len(messages) for messages in self._held.values())

    def describe(self) -> dict[str, Any]:
        return {
            "drop": self.drop,
            "duplicate": self.duplicate,
            "reorder": self.reorder,
            "seed": self.seed,
            "counts": dict(self.counts),
            "held": self.held(),
        }

    @classmethod
    def from_percentages(cls, percentages: Mapping[str, float], seed: int) -> DeliveryFaults[M]:
        return cls(
            drop=float(percentages.get("drop", 0)),
            duplicate=float(percentages.get("duplicate", 0)),
            reorder=float(percentages.get("reorder", 0)),
            seed=seed,
        )
