"""The rate budget: the token bucket's arithmetic and the budget's backoff on an injected
clock (no sleeps), then against the real endpoint through an aiobotocore client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.aws.fake_time import FakeTime, settle
from tests.endpoint import Endpoint
from tui.aws.budget import (
    AWS_BUDGET,
    LOCAL_BUDGET,
    BudgetSettings,
    BudgetState,
    RateBudget,
    TokenBucket,
    default_budget,
)
from tui.aws.pipelines import PipelineClient
from tui.aws.session import AwsContext, ConnectionSettings

# The bucket ---------------------------------------------------------------------------------


def test_a_full_bucket_lets_its_capacity_through_at_once_then_spaces_requests() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3.0, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    # The next ones queue up in order, half a second apart.
    assert bucket.reserve(0.0) == pytest.approx(0.5)
    assert bucket.reserve(0.0) == pytest.approx(1.0)


def test_tokens_come_back_with_time_but_never_beyond_the_capacity() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3.0, now=0.0)
    for _ in range(3):
        bucket.reserve(0.0)
    assert bucket.available(1.0) == pytest.approx(2.0)
    assert bucket.available(100.0) == pytest.approx(3.0)


def test_a_slower_rate_and_a_drained_bucket_stretch_the_waits() -> None:
    bucket = TokenBucket(rate=4.0, capacity=10.0, now=0.0)
    bucket.set_rate(0.0, 1.0)
    bucket.drain(0.0)
    assert bucket.reserve(0.0) == pytest.approx(1.0)
    assert bucket.reserve(0.0) == pytest.approx(2.0)


def test_time_going_backwards_gives_no_tokens() -> None:
    bucket = TokenBucket(rate=1.0, capacity=1.0, now=10.0)
    bucket.reserve(10.0)
    assert bucket.available(5.0) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "values",
    [
        {"rate": 0},
        {"rate": -1},
        {"burst": 0.5},
        {"decrease": 1.0},
        {"decrease": 0},
        {"min_rate": 0},
    ],
)
def test_settings_that_cannot_work_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        BudgetSettings(**values)


# The budget on a fake clock -------------------------------------------------------------------


class Dice:
    """`random_fraction` that answers what the test says (default: the top of the range)."""

    def __init__(self, value: float = 1.0) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value


def budget(
    time: FakeTime, dice: Dice | None = None, **settings: Any
) -> tuple[RateBudget, list[BudgetState]]:
    changes: list[BudgetState] = []
    values: dict[str, Any] = {"rate": 4.0, "burst": 4.0, "jitter": 0.0}
    values.update(settings)
    made = RateBudget(
        BudgetSettings(**values),
        clock=time.clock,
        sleep=time.sleep,
        random_fraction=dice or Dice(),
        on_change=changes.append,
    )
    return made, changes


def send_for(time: FakeTime, made: RateBudget, seconds: float, *, every: float = 0.01) -> int:
    """Ask for a request every `every` seconds as fast as the budget lets them out (a greedy
    caller: one request waits at a time); the number let out."""
    sent = 0
    end = time.now + seconds
    while True:
        wait = made.delay()
        time.now += max(wait, every)
        if time.now > end:
            return sent
        sent += 1


def test_the_budget_holds_a_greedy_caller_to_its_rate() -> None:
    time = FakeTime(start=0.0)
    made, _ = budget(time, rate=5.0, burst=5.0)
    sent = send_for(time, made, 60.0)
    # The burst, then 5 a second.
    assert 5 * 60 <= sent <= 5 * 60 + 5


def test_the_local_endpoint_gets_no_bucket_and_aws_the_default_one() -> None:
    assert default_budget(local=True) is LOCAL_BUDGET
    assert LOCAL_BUDGET.rate is None
    assert default_budget(local=False) is AWS_BUDGET
    assert (AWS_BUDGET.rate, AWS_BUDGET.burst) == (5.0, 10.0)


def test_configure_swaps_the_bucket_and_keeps_the_counts() -> None:
    time = FakeTime(start=0.0)
    made, changes = budget(time, rate=1.0, burst=1.0)
    assert made.delay() == 0.0
    assert made.delay() == pytest.approx(1.0)  # the 1/s bucket is empty
    made.configure(LOCAL_BUDGET)
    assert all(made.delay() == 0.0 for _ in range(500))
    assert made.state.limit is None
    assert made.state.rate is None
    assert made.state.requests == 502
    assert changes
    assert changes[-1].limit is None
    # A throttling answer still backs off without a bucket.
    made.throttled(retry_after=2.0)
    assert made.delay() >= 2.0
    # And back to a bucket: a full one at the new rate.
    made.configure(BudgetSettings(rate=2.0, burst=3.0, jitter=0.0))
    time.now += 10.0
    assert [made.delay() for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(0.5)]


def test_without_a_rate_nothing_waits() -> None:
    time = FakeTime(start=0.0)
    made, _ = budget(time, rate=None)
    assert all(made.delay() == 0.0 for _ in range(1000))


def test_jitter_stretches_waits_by_up_to_its_fraction() -> None:
    time = FakeTime(start=0.0)
    made, _ = budget(time, Dice(1.0), rate=1.0, burst=1.0, jitter=0.5)
    assert made.delay() == 0.0  # no wait, no jitter
    assert made.delay() == pytest.approx(1.5)
    low, _ = budget(FakeTime(start=0.0), Dice(0.0), rate=1.0, burst=1.0, jitter=0.5)
    low.delay()
    assert low.delay() == pytest.approx(1.0)


def test_throttling_halves_the_rate_actually_used_and_backs_off_with_full_jitter() -> None:
    time = FakeTime(start=0.0)
    dice = Dice(0.5)
    made, changes = budget(time, dice, rate=10.0, burst=10.0, backoff_base=2.0)
    # A caller that uses 4 requests a second, well below the limit of 10.
    for _ in range(20):
        assert made.delay() == 0.0
        time.now += 0.25
    made.throttled()
    state = made.state
    assert state.throttled
    assert state.throttles == 1
    assert state.rate == pytest.approx(2.0)  # half of the 4/s used, not of the 10 allowed
    # Full jitter: uniform in [0, base) for the first throttle; the dice says half of it.
    assert state.backoff_until == pytest.approx(time.now + 1.0)
    assert changes[-1] == state
    # Every request waits the backoff out, then the bucket (drained: no burst) spaces them.
    first = made.delay()
    assert first == pytest.approx(1.0)
    # The bucket (drained: no burst follows) spaces the next ones at 2 a second.
    assert made.delay() == pytest.approx(1.0)
    assert made.delay() == pytest.approx(1.5)
    assert made.state.requests == 23


def test_throttles_in_a_row_double_the_backoff_ceiling_up_to_its_cap() -> None:
    time = FakeTime(start=0.0)
    made, _ = budget(time, Dice(1.0), backoff_base=1.0, backoff_max=8.0, cooldown=0.0)
    ceilings = []
    for _ in range(6):
        made.throttled()
        ceilings.append(made.state.backoff_until - time.now)
        time.now = made.state.backoff_until
    assert ceilings == pytest.approx([1.0, 2.0, 4.0, 8.0, 8.0, 8.0])
    # An answer that is not throttled starts the count again.
    made.answered()
    made.throttled()
    assert made.state.backoff_until - time.now == pytest.approx(1.0)


def test_a_retry_after_longer_than_the_jittered_backoff_is_honoured_up_to_the_cap() -> None:
    time = FakeTime(start=0.0)
    made, _ = budget(time, Dice(0.0), backoff_max=8.0)
    made.throttled(retry_after=3.0)
    assert made.state.backoff_until == pytest.approx(3.0)
    made.throttled(retry_after=300.0)
    assert made.state.backoff_until == pytest.approx(8.0)


def test_throttles_within_the_cooldown_lower_the_rate_once() -> None:
    time = FakeTime(start=0.0)
    made, _ = budget(time, Dice(0.0), rate=8.0, burst=8.0, cooldown=1.0)
    for _ in range(40):
        made.delay()
        time.now += 0.125
    for _ in range(4):  # four requests in flight together, all throttled
        made.throttled()
    assert made.state.rate == pytest.approx(4.0)
    time.now += 1.5
    made.throttled()
    assert made.state.rate == pytest.approx(2.0)


def test_the_rate_never_drops_below_its_floor() -> None:
    time = FakeTime(start=0.0)
    made, _ = budget(time, Dice(0.0), rate=4.0, min_rate=0.5, cooldown=0.0)
    for _ in range(20):
        made.throttled()
        time.now += 0.1
    assert made.state.rate == pytest.approx(0.5)


def test_after_the_storm_the_rate_grows_back_and_the_throttled_state_ends() -> None:
    time = FakeTime(start=0.0)
    made, changes = budget(time, Dice(0.0), rate=4.0, burst=4.0, recovery=0.25)
    for _ in range(20):
        made.delay()
        time.now += 0.25
    made.throttled()
    assert made.state.rate == pytest.approx(2.0)
    time.now += 1.0
    made.answered()
    assert made.state.rate == pytest.approx(3.0)
    assert made.state.throttled
    time.now += 5.0
    made.answered()
    assert made.state.rate == pytest.approx(4.0)
    assert not made.state.throttled
    # on_change: the throttle, then the end of it; not every request.
    assert [c.throttled for c in changes] == [True, False]


def test_a_throttling_storm_cuts_the_requests_let_out_at_least_in_half() -> None:
    """Every second answer throttled for a minute: the greedy caller gets far fewer requests
    out than in the minute before."""
    time = FakeTime(start=0.0)
    dice = Dice(0.5)
    made, _ = budget(time, dice, rate=5.0, burst=10.0)
    calm = send_for(time, made, 60.0)
    stormy = 0
    end = time.now + 60.0
    while True:
        time.now += max(made.delay(), 0.01)
        if time.now > end:
            break
        stormy += 1
        if stormy % 2:
            made.throttled()
        else:
            made.answered()
    assert stormy * 2 <= calm


async def test_acquire_sleeps_the_delay_on_the_injected_sleep() -> None:
    time = FakeTime(start=0.0)
    made, _ = budget(time, rate=2.0, burst=1.0)
    done: list[float] = []

    async def request() -> None:
        await made.acquire()
        done.append(time.now)

    tasks = [asyncio.ensure_future(request()) for _ in range(3)]
    await time.advance(2.0)
    await asyncio.gather(*tasks)
    assert done == pytest.approx([0.0, 0.5, 1.0])


# Against the endpoint --------------------------------------------------------------------------


async def test_every_codepipeline_attempt_goes_through_the_budget(endpoint: Endpoint) -> None:
    """Attached through PipelineClient: each call is one request the budget let out, and the
    bucket spaces them at its rate on the real clock."""
    made = RateBudget(BudgetSettings(rate=20.0, burst=1.0, jitter=0.0))
    async with AwsContext(ConnectionSettings(endpoint_url=endpoint.url, max_attempts=1)) as aws:
        client = PipelineClient(aws, budget=made)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(6):
            await client.list_pipelines()
        elapsed = loop.time() - started
        # The first request went at once, five more waited 1/20 s each.
        assert made.state.requests == 6
        assert elapsed >= 5 / 20 - 0.01
        # Another service of the same connection is not counted.
        sqs = await aws.client("sqs")
        await sqs.list_queues()
        assert made.state.requests == 6
    await settle()
