"""The rate budget: one token bucket for every CodePipeline request of one connection.

    budget = RateBudget(BudgetSettings(rate=5, burst=10), on_change=show)
    budget.attach(await aws.client("codepipeline"))   # PipelineClient does this itself

CodePipeline publishes no request quota, and users report throttling at tens of calls a
second, shared by everything that uses the account. pipetop keeps itself to a few requests a
second per connection, whoever asks (the reconcile scheduler, the screens, the log tail), and
slows down further when AWS says so.

How it works:

- `TokenBucket` is the pure arithmetic: `rate` tokens a second up to `capacity`; `reserve(now)`
  takes a token and answers how long its caller must wait for it (tokens go negative, so
  concurrent callers queue up in order instead of racing for the next token).
- `RateBudget.attach(client)` registers two handlers on an aiobotocore client's event system:
  `before-send` awaits `acquire()` for every HTTP attempt, botocore's own retries included,
  so the bucket counts what the service sees; `response-received` reads the answer's error
  code. Nothing can call the service around it.
- A throttling answer (botocore's throttling codes, `errors.THROTTLING_CODES`) does three
  things: the bucket's rate becomes `decrease` times the rate actually used over the last
  `window` seconds (never below `min_rate`), the bucket is drained so no burst follows, and
  every request waits out an exponential backoff with full jitter (uniform between 0 and
  `backoff_base * 2**n`, capped at `backoff_max`; n counts throttles in a row) or the
  service's Retry-After if it sent one and it is longer. Throttles within `cooldown` of the
  last decrease count once (requests in flight together are throttled together).
- Each answer that is not throttled lets the rate grow back by `recovery` times `rate`
  requests a second per second (additive increase), up to `rate`. `state.throttled` is true from the first
  throttle until the rate is whole again; `on_change(state)` is called when that flips and on
  every new throttle, never per request.
- Waits are stretched by up to `jitter` of themselves (uniformly), so connections (or tasks)
  that waited for the same moment do not all send at once.

Decisions recorded here [I]:

- Defaults: 5 requests a second sustained, bursts of 10, backoff from 1 s up to 8 s, halve on
  throttling, regain a fifth of the rate per second (5 s from the floor to the full rate),
  floor 0.2/s. [I] The backoff cap (8 s) is below the default poll interval (10 s): once a
  throttling storm ends, the next request goes out within one interval, so the screen is fresh
  again within two.
- `rate=None` means no bucket (no limit); throttling still backs off.
- [I] Which budget a connection gets unless the user set `[budget]` (`default_budget`): on AWS
  the one above; on the local pipetop endpoint (`AwsContext.is_local()`: a loopback address
  that answers `/_local/health`) none (`LOCAL_BUDGET`, rate None). The budget is there for
  AWS's shared, unpublished quota; the local endpoint has no quota and no other users, so a
  budget there only makes the first fill of 100 pipelines (200 requests) take 40 s instead
  of one second. Throttling answers (the local endpoint injects them on request) still back
  off. Anywhere else, a loopback proxy to AWS included, the AWS budget holds (the Watcher
  decides before its first list call). An explicit `[budget]` (config or environment) wins
  on any endpoint.
- [I] No bigger startup burst on AWS: the bucket starts full (`burst`, 10 requests at once)
  and refills at `rate`. Fanning out over ~100 pipelines at once is what users report
  getting throttled for (reference, section 8), and the quota is shared with every other tool
  of the account; the reads are ordered instead (the pipelines the user sees first: see
  `reconcile.py`), so the rows on screen fill within the burst and the first seconds.
- Other failures (5xx, unreachable) do not touch the budget: botocore retries them and the
  reconcile scheduler backs off per pipeline; only throttling says "too fast".
- Time comes from the injected `clock`, `sleep` and `random`, so tests never sleep.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from tui.aws.errors import THROTTLING_CODES


@dataclass(frozen=True)
class BudgetSettings:
    rate: float | None = 5.0
    """Requests a second, sustained (None: no limit)."""
    burst: float = 10.0
    """Requests that may go out at once after a quiet spell (the bucket's capacity)."""
    jitter: float = 0.2
    """A wait is stretched by up to this fraction of itself."""
    backoff_base: float = 1.0
    """The first throttle's backoff ceiling (seconds); it doubles with each throttle in a row."""
    backoff_max: float = 8.0
    """The backoff ceiling never grows beyond this (seconds)."""
    decrease: float = 0.5
    """On throttling the rate becomes this fraction of the rate actually used."""
    min_rate: float = 0.2
    """The rate never drops below this (requests a second)."""
    recovery: float = 0.2
    """The fraction of `rate` regained per second without throttling."""
    cooldown: float = 1.0
    """Throttles within this many seconds of the last decrease count as one."""
    window: float = 5.0
    """The rate actually used is measured over this many seconds."""

    def __post_init__(self) -> None:
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be positive (or None for no limit)")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        if not 0 < self.decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        if self.min_rate <= 0 or self.backoff_base <= 0 or self.window <= 0:
            raise ValueError("min_rate, backoff_base and window must be positive")


@dataclass(frozen=True)
class BudgetState:
    """What the status bar shows about the budget."""

    limit: float | None
    """The configured rate (None: no limit)."""
    rate: float | None
    """The rate allowed now: below `limit` after throttling."""
    throttled: bool = False
    throttles: int = 0
    """Throttling answers seen so far."""
    requests: int = 0
    """Requests let through so far (every HTTP attempt)."""
    backoff_until: float = 0.0
    """On the budget's clock: no request goes out before this."""


AWS_BUDGET = BudgetSettings()
"""The default on AWS (see the module docstring)."""
LOCAL_BUDGET = BudgetSettings(rate=None)
"""The default on the local pipetop endpoint: no bucket; throttling answers still back off."""


def default_budget(local: bool) -> BudgetSettings:
    """The budget of a connection whose user set none: `local` is the local pipetop endpoint."""
    return LOCAL_BUDGET if local else AWS_BUDGET


class TokenBucket:
    """`rate` tokens a second up to `capacity`; pure arithmetic on the times it is given."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def available(self, now: float) -> float:
        self._refill(now)
        return self.tokens

    def reserve(self, now: float) -> float:
        """Take a token; the seconds until it is really there (0: at once)."""
        self._refill(now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def set_rate(self, now: float, rate: float) -> None:
        self._refill(now)
        self.rate = rate

    def drain(self, now: float, keep: float = 0.0) -> None:
        """Drop saved-up tokens beyond `keep` (reservations already made stay)."""
        self._refill(now)
        self.tokens = min(self.tokens, keep)


class RateBudget:
    """The request budget of one connection (see the module docstring)."""

    def __init__(
        self,
        settings: BudgetSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        random_fraction: Callable[[], float] = random.random,
        on_change: Callable[[BudgetState], None] | None = None,
    ) -> None:
        self.settings = settings or BudgetSettings()
        self.clock = clock
        self.sleep = sleep
        self.random_fraction = random_fraction
        self.on_change = on_change
        now = clock()
        limit = self.settings.rate
        self._bucket = TokenBucket(limit, self.settings.burst, now) if limit is not None else None
        self._rate = limit
        self._adjusted = now
        self._last_decrease: float | None = None
        self._in_a_row = 0
        self._sent: deque[float] = deque()
        self.state = BudgetState(limit=limit, rate=limit)
        self._attached: weakref.WeakSet[Any] = weakref.WeakSet()

    def configure(self, settings: BudgetSettings) -> None:
        """Take other settings from now on (a full bucket at their rate); requests already
        waiting keep their slots, the throttling state and counts stay."""
        now = self.clock()
        self.settings = settings
        limit = settings.rate
        self._bucket = TokenBucket(limit, settings.burst, now) if limit is not None else None
        self._rate = limit
        self._adjusted = now
        self._set(limit=limit, rate=limit, notify=True)

    # Requests ------------------------------------------------------------------------------

    def delay(self) -> float:
        """Reserve the next request's slot; the seconds it must wait (jitter included)."""
        now = self.clock()
        self._recover(now)
        wait = self._bucket.reserve(now) if self._bucket is not None else 0.0
        wait = max(wait, self.state.backoff_until - now)
        if wait > 0:
            wait += wait * self.settings.jitter * self.random_fraction()
        self._sent.append(now + max(wait, 0.0))
        self._forget(now)
        self._set(requests=self.state.requests + 1)
        return wait

    async def acquire(self) -> None:
        """Wait until one more request may go out."""
        wait = self.delay()
        if wait > 0:
            await self.sleep(wait)

    def observed_rate(self) -> float:
        """Requests a second let through over the last `window` seconds."""
        now = self.clock()
        self._forget(now)
        return sum(1 for sent in self._sent if sent <= now) / self.settings.window

    def _forget(self, now: float) -> None:
        horizon = now - self.settings.window
        while self._sent and self._sent[0] < horizon:
            self._sent.popleft()

    # Answers -------------------------------------------------------------------------------

    def throttled(self, retry_after: float | None = None) -> None:
        """The service answered with throttling: slow down and back off."""
        now = self.clock()
        self._in_a_row += 1
        settings = self.settings
        ceiling = min(settings.backoff_max, settings.backoff_base * 2 ** (self._in_a_row - 1))
        backoff = ceiling * self.random_fraction()
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, settings.backoff_max))
        backoff_until = max(self.state.backoff_until, now + backoff)
        rate = self._rate
        if self._bucket is not None and rate is not None:
            recent = (
                self._last_decrease is not None and now - self._last_decrease < settings.cooldown
            )
            if not recent:
                used = self.observed_rate()
                base = min(rate, used) if used > 0 else rate
                rate = max(settings.min_rate, base * settings.decrease)
                self._last_decrease = now
            self._bucket.set_rate(now, rate)
            self._bucket.drain(now)
            self._rate = rate
        self._adjusted = now
        self._set(
            throttled=True,
            throttles=self.state.throttles + 1,
            rate=rate,
            backoff_until=backoff_until,
            notify=True,
        )

    def answered(self) -> None:
        """The service answered without throttling: the rate may grow back."""
        self._in_a_row = 0
        self._recover(self.clock())

    def _recover(self, now: float) -> None:
        limit = self.settings.rate
        if not self.state.throttled or now < self.state.backoff_until:
            return
        if self._bucket is None or self._rate is None or limit is None:
            self._set(throttled=False)
            return
        quiet_since = max(self._adjusted, self.state.backoff_until)
        regained = self.settings.recovery * limit * max(0.0, now - quiet_since)
        rate = min(limit, self._rate + regained)
        self._adjusted = now
        self._rate = rate
        self._bucket.set_rate(now, rate)
        self._set(rate=rate, throttled=rate < limit)

    def _set(self, *, notify: bool = False, **changes: Any) -> None:
        before = self.state
        self.state = replace(before, **changes)
        if self.on_change is not None and (notify or before.throttled != self.state.throttled):
            self.on_change(self.state)

    # botocore's event system ---------------------------------------------------------------

    def attach(self, client: Any, service: str = "codepipeline") -> None:
        """Send every request of `client` (an aiobotocore client of `service`) through the
        budget; attaching the same client again does nothing."""
        if client in self._attached:
            return
        events = client.meta.events
        events.register(f"before-send.{service}", self._before_send)
        events.register(f"response-received.{service}", self._response_received)
        self._attached.add(client)

    async def _before_send(self, **_: Any) -> None:
        await self.acquire()

    def _response_received(
        self,
        *,
        parsed_response: dict[str, Any] | None = None,
        response_dict: dict[str, Any] | None = None,
        exception: BaseException | None = None,
        **_: Any,
    ) -> None:
        if exception is not None or parsed_response is None:
            return  # nothing came back: not a word about the rate
        code = (parsed_response.get("Error") or {}).get("Code")
        if code in THROTTLING_CODES:
            headers = (response_dict or {}).get("headers") or {}
            self.throttled(_seconds(headers.get("retry-after") or headers.get("Retry-After")))
        else:
            self.answered()


def _seconds(raw: object) -> float | None:
    try:
        seconds = float(str(raw)) if raw is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds > 0 else None
