"""The event feed over real SQS queues: our endpoint's (fed by the engine through EventBridge
rules, as on AWS) and moto's. Events reach the callback, are deleted only after it returned,
malformed bodies are counted and dropped, close() hands back what was not applied, and a
failing queue degrades to polling and comes back."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests import faults
from tests.aws.moto_server import MotoServer, free_port
from tests.aws.peer import Answer, AwsShapedPeer
from tests.endpoint import Endpoint
from tests.local.pipelines import (
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tui.aws.errors import EndpointUnreachable, NotFound, Throttled
from tui.aws.feed import (
    DEMO_QUEUE_NAME,
    EventFeed,
    FeedMode,
    FeedStatus,
    QueueRef,
    choose_queue,
)
from tui.aws.session import AwsContext, ConnectionSettings
from tui.model.events import PipelineEvent

DETAIL_TYPES = [
    "CodePipeline Pipeline Execution State Change",
    "CodePipeline Stage Execution State Change",
    "CodePipeline Action Execution State Change",
]


async def until(predicate: Callable[[], object], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@dataclass
class Sink:
    """The app's side: what the feed hands over, and its statuses."""

    batches: list[list[PipelineEvent]] = field(default_factory=list)
    statuses: list[FeedStatus] = field(default_factory=list)
    gate: asyncio.Event | None = None
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_events(self, events: list[PipelineEvent]) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        self.batches.append(events)

    @property
    def events(self) -> list[PipelineEvent]:
        return [event for batch in self.batches for event in batch]

    def modes(self) -> list[FeedMode]:
        modes: list[FeedMode] = []
        for status in self.statuses:
            if not modes or modes[-1] is not status.mode:
                modes.append(status.mode)
        return modes


@dataclass
class SqsPeer:
    name: str
    aws: AwsContext
    sqs: Any
    endpoint: Endpoint


@pytest.fixture(params=["endpoint", "moto"])
async def peer(request: pytest.FixtureRequest, endpoint: Endpoint) -> AsyncIterator[SqsPeer]:
    if request.param == "endpoint":
        url, sqs = endpoint.url, endpoint.client("sqs")
    else:
        moto: MotoServer = request.getfixturevalue("moto")
        url, sqs = moto.url, moto.client("sqs")
    async with AwsContext(ConnectionSettings(endpoint_url=url, max_attempts=1)) as aws:
        yield SqsPeer(request.param, aws, sqs, endpoint)


def engine_event_bodies(endpoint: Endpoint, name: str = "demo") -> list[str]:
    """The EventBridge events of one real pipeline run on our engine, as SQS bodies."""
    import urllib.request

    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=pipeline(name, stage("Build", commands("Say", ["echo hi"]))))
    assert wait_status(cp, name, latest_execution_id(cp, name)) == "Succeeded"
    with urllib.request.urlopen(f"{endpoint.url}/_local/events?limit=10000", timeout=10) as reply:
        events = json.load(reply)["events"]
    return [json.dumps(e, separators=(",", ":")) for e in events if e["detail"]["pipeline"] == name]


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def start(feed: EventFeed) -> asyncio.Task[None]:
    return asyncio.ensure_future(feed.run())


async def test_a_real_pipeline_run_reaches_the_callback_live(
    aws: AwsContext, endpoint: Endpoint
) -> None:
    sqs = endpoint.client("sqs")
    events = endpoint.client("events")
    url = sqs.create_queue(QueueName=DEMO_QUEUE_NAME)["QueueUrl"]
    events.put_rule(
        Name="pipetop-demo",
        EventPattern=json.dumps({"source": ["aws.codepipeline"], "detail-type": DETAIL_TYPES}),
    )
    events.put_targets(
        Rule="pipetop-demo",
        Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:000000000000:{DEMO_QUEUE_NAME}"}],
    )
    queue = choose_queue(url=None, name=None, local=await aws.is_local())
    assert queue == QueueRef(name=DEMO_QUEUE_NAME)
    sink = Sink()
    feed = EventFeed(
        aws, queue, on_events=sink.on_events, on_status=sink.statuses.append, wait_seconds=1
    )
    task = start(feed)
    await until(lambda: feed.status.live)
    bodies = await asyncio.to_thread(engine_event_bodies, endpoint)
    expected = {json.loads(b)["id"] for b in bodies}
    await until(lambda: {e.id for e in sink.events} >= expected)
    assert {e.detail.pipeline for e in sink.events} == {"demo"}
    assert feed.status.malformed == 0
    assert feed.status.queue_url == url
    await feed.close()
    await task
    # Everything applied was deleted.
    assert queue_counts(sqs, url) == (0, 0)
    assert sink.modes() == [FeedMode.LIVE]


async def test_messages_reach_the_callback_and_are_deleted_after_it(peer: SqsPeer) -> None:
    url = peer.sqs.create_queue(QueueName="events")["QueueUrl"]
    bodies = await asyncio.to_thread(engine_event_bodies, peer.endpoint)
    for body in bodies:
        peer.sqs.send_message(QueueUrl=url, MessageBody=body)
    sink = Sink(gate=asyncio.Event())
    feed = EventFeed(peer.aws, QueueRef(url=url), on_events=sink.on_events, wait_seconds=1)
    task = start(feed)
    await sink.entered.wait()
    # Received, being applied: still in the queue, in flight.
    assert queue_counts(peer.sqs, url)[1] > 0
    sink.gate.set()  # type: ignore[union-attr]
    await until(lambda: len(sink.events) == len(bodies))
    await until(lambda: queue_counts(peer.sqs, url) == (0, 0))
    assert sorted(e.id for e in sink.events) == sorted(json.loads(b)["id"] for b in bodies)
    assert all(len(batch) <= 10 for batch in sink.batches)
    assert feed.status.received == feed.status.applied == len(bodies)
    await feed.close()
    await task


async def test_a_slow_delete_does_not_hold_back_the_next_receive(endpoint: Endpoint) -> None:
    # Every delete takes 2 s to answer. An event sent just after the one before was applied
    # (while that one is being deleted) reaches the callback at once: the long poll is open
    # again beside the delete, instead of after it.
    sqs = endpoint.client("sqs")
    url = sqs.create_queue(QueueName="slow-deletes")["QueueUrl"]
    first, second = (await asyncio.to_thread(engine_event_bodies, endpoint))[:2]
    arrived: dict[str, float] = {}

    def on_events(events: list[PipelineEvent]) -> None:
        for event in events:
            arrived.setdefault(event.id, time.monotonic())

    async with AwsContext(ConnectionSettings(endpoint_url=endpoint.url, max_attempts=1)) as aws:
        feed = EventFeed(aws, QueueRef(url=url), on_events=on_events, wait_seconds=10)
        with faults.injected(endpoint, [{"match": "sqs.DeleteMessageBatch", "latencyMs": 2000}]):
            task = start(feed)
            await until(lambda: feed.status.live)
            await asyncio.to_thread(sqs.send_message, QueueUrl=url, MessageBody=first)
            await until(lambda: json.loads(first)["id"] in arrived)
            sent = time.monotonic()
            await asyncio.to_thread(sqs.send_message, QueueUrl=url, MessageBody=second)
            await until(lambda: json.loads(second)["id"] in arrived)
            assert arrived[json.loads(second)["id"]] - sent < 1.0
            # Closing waits for the delete in flight: nothing applied is left in the queue.
            await feed.close()
            await task
    assert queue_counts(sqs, url) == (0, 0)
    assert feed.status.applied == 2


async def test_a_failing_delete_beside_the_long_poll_degrades_and_is_retried(
    endpoint: Endpoint,
) -> None:
    # The delete runs beside the next receive; its failure (503, twice) still shows as
    # degraded and the applied message is deleted once the queue answers again.
    sqs = endpoint.client("sqs")
    url = sqs.create_queue(QueueName="failing-deletes")["QueueUrl"]
    body = (await asyncio.to_thread(engine_event_bodies, endpoint))[0]
    sink = Sink()

    async def short_sleep(seconds: float) -> None:
        await asyncio.sleep(0.05)

    async with AwsContext(ConnectionSettings(endpoint_url=endpoint.url, max_attempts=1)) as aws:
        feed = EventFeed(
            aws,
            QueueRef(url=url),
            on_events=sink.on_events,
            on_status=sink.statuses.append,
            wait_seconds=1,
            sleep=short_sleep,
        )
        rule = {"match": "sqs.DeleteMessageBatch", "fail": 100, "failStatus": 503, "times": 2}
        with faults.injected(endpoint, [rule]):
            task = start(feed)
            await until(lambda: feed.status.live)
            await asyncio.to_thread(sqs.send_message, QueueUrl=url, MessageBody=body)
            await until(lambda: FeedMode.DEGRADED in sink.modes())
            await until(lambda: queue_counts(sqs, url) == (0, 0))
            await until(lambda: feed.status.live)
            assert faults.faults(endpoint)["rules"][0]["hits"]["failed"] == 2
        await feed.close()
        await task
    assert len(sink.events) == 1
    assert sink.modes() == [FeedMode.LIVE, FeedMode.DEGRADED, FeedMode.LIVE]


async def test_duplicates_are_passed_on_not_dropped(peer: SqsPeer) -> None:
    url = peer.sqs.create_queue(QueueName="dupes")["QueueUrl"]
    body = (await asyncio.to_thread(engine_event_bodies, peer.endpoint))[0]
    peer.sqs.send_message(QueueUrl=url, MessageBody=body)
    peer.sqs.send_message(QueueUrl=url, MessageBody=body)
    sink = Sink()
    feed = EventFeed(peer.aws, QueueRef(url=url), on_events=sink.on_events, wait_seconds=1)
    task = start(feed)
    await until(lambda: len(sink.events) == 2)
    assert sink.events[0].id == sink.events[1].id
    await feed.close()
    await task


async def test_malformed_bodies_are_counted_reported_and_deleted(peer: SqsPeer) -> None:
    url = peer.sqs.create_queue(QueueName="mixed")["QueueUrl"]
    good = (await asyncio.to_thread(engine_event_bodies, peer.endpoint))[0]
    peer.sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "1", "MessageBody": "not json at all"},
            {"Id": "2", "MessageBody": json.dumps({"source": "aws.ec2", "detail-type": "x"})},
            {"Id": "3", "MessageBody": good},
        ],
    )
    sink = Sink()
    feed = EventFeed(
        peer.aws,
        QueueRef(url=url),
        on_events=sink.on_events,
        on_status=sink.statuses.append,
        wait_seconds=1,
    )
    task = start(feed)
    await until(lambda: feed.status.received == 3)
    await until(lambda: queue_counts(peer.sqs, url) == (0, 0))
    assert [e.id for e in sink.events] == [json.loads(good)["id"]]
    assert feed.status.malformed == 2
    assert feed.status.last_malformed is not None
    assert any(s.malformed == 2 for s in sink.statuses)
    await feed.close()
    await task


async def test_close_hands_back_unapplied_and_deletes_the_rest(peer: SqsPeer) -> None:
    url = peer.sqs.create_queue(QueueName="closing")["QueueUrl"]
    bodies = await asyncio.to_thread(engine_event_bodies, peer.endpoint)
    peer.sqs.send_message(QueueUrl=url, MessageBody=bodies[0])
    sink = Sink()
    feed = EventFeed(peer.aws, QueueRef(url=url), on_events=sink.on_events, wait_seconds=1)
    task = start(feed)
    await until(lambda: len(sink.events) == 1)
    # The next receive: one good event and one malformed body, applied slowly.
    sink.gate = asyncio.Event()
    sink.entered.clear()
    peer.sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "a", "MessageBody": bodies[1]}, {"Id": "b", "MessageBody": "{broken"}],
    )
    await asyncio.wait_for(sink.entered.wait(), 10)
    await feed.close()
    await task
    assert len(sink.events) == 1
    # The unapplied event is visible again at once (not after the 30 s visibility timeout);
    # the malformed body is gone, and so is the event applied before.
    assert queue_counts(peer.sqs, url) == (1, 0)
    again = peer.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in again] == [bodies[1]]


async def test_a_deleted_queue_degrades_and_comes_back_when_recreated(peer: SqsPeer) -> None:
    peer.sqs.create_queue(QueueName="flaky")
    sink = Sink()
    sleeps: list[float] = []

    async def short_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0.05)

    feed = EventFeed(
        peer.aws,
        QueueRef(name="flaky"),
        on_events=sink.on_events,
        on_status=sink.statuses.append,
        wait_seconds=1,
        sleep=short_sleep,
    )
    task = start(feed)
    await until(lambda: feed.status.live)
    url = peer.sqs.get_queue_url(QueueName="flaky")["QueueUrl"]
    peer.sqs.delete_queue(QueueUrl=url)
    await until(lambda: feed.status.mode is FeedMode.DEGRADED)
    assert isinstance(feed.status.problem, NotFound)
    assert feed.status.text == "degraded: Queue not found (polling every 10 s)"
    await until(lambda: len(sleeps) >= 3)
    assert sleeps[:3] == [1.0, 2.0, 5.0]  # backing off
    if peer.name == "endpoint":
        # Like SQS, our endpoint refuses the name for 60 s after a delete (on its clock).
        peer.endpoint.advance(61)
    url = peer.sqs.create_queue(QueueName="flaky")["QueueUrl"]
    await until(lambda: feed.status.live)
    body = (await asyncio.to_thread(engine_event_bodies, peer.endpoint))[0]
    peer.sqs.send_message(QueueUrl=url, MessageBody=body)
    await until(lambda: len(sink.events) == 1)
    assert sink.modes() == [FeedMode.LIVE, FeedMode.DEGRADED, FeedMode.LIVE]
    await feed.close()
    await task


async def test_a_missing_queue_by_name_is_degraded_from_the_start(moto_aws: AwsContext) -> None:
    sink = Sink()
    feed = EventFeed(
        moto_aws,
        QueueRef(name="nobody-made-it"),
        on_events=sink.on_events,
        sleep=lambda s: asyncio.sleep(0.05),
    )
    task = start(feed)
    await until(lambda: feed.status.mode is FeedMode.DEGRADED)
    assert isinstance(feed.status.problem, NotFound)
    await feed.close()
    await task


async def test_no_queue_means_polling() -> None:
    async with AwsContext(ConnectionSettings(region="eu-west-1")) as aws:
        assert choose_queue(url=None, name=None, local=False) is None
        statuses: list[FeedStatus] = []
        feed: EventFeed = EventFeed(
            aws, None, on_events=lambda e: None, on_status=statuses.append, poll_interval=15
        )
        task = start(feed)
        await until(lambda: statuses)
        assert feed.status.mode is FeedMode.POLLING
        assert feed.status.text == "polling every 15 s"
        assert not feed.status.live
        await feed.close()
        await asyncio.wait_for(task, 5)


async def test_an_unreachable_endpoint_is_degraded_with_backoff() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)

    async with AwsContext(ConnectionSettings(endpoint_url=url, max_attempts=1)) as aws:
        feed: EventFeed = EventFeed(
            aws, QueueRef(url=f"{url}/000000000000/q"), on_events=lambda e: None, sleep=record
        )
        task = start(feed)
        await until(lambda: len(sleeps) >= 8)
        await feed.close()
        await task
    assert isinstance(feed.status.problem, EndpointUnreachable)
    assert feed.status.text.startswith("degraded: Endpoint unreachable")
    assert sleeps[:8] == [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 60.0, 60.0]


async def test_a_throttled_queue_waits_its_retry_after() -> None:
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)

    answer = Answer(400, "RequestThrottled", "slow down", {"Retry-After": "7"})
    async with (
        AwsShapedPeer(answer) as peer,
        AwsContext(ConnectionSettings(endpoint_url=peer.url, max_attempts=1)) as aws,
    ):
        feed: EventFeed = EventFeed(
            aws, QueueRef(url=f"{peer.url}/000000000000/q"), on_events=lambda e: None, sleep=record
        )
        task = start(feed)
        await until(lambda: len(sleeps) >= 2)
        await feed.close()
        await task
    assert isinstance(feed.status.problem, Throttled)
    assert sleeps[:2] == [7.0, 7.0]


async def test_cancelling_the_runner_also_hands_back(peer: SqsPeer) -> None:
    url = peer.sqs.create_queue(QueueName="cancelled")["QueueUrl"]
    body = (await asyncio.to_thread(engine_event_bodies, peer.endpoint))[0]
    peer.sqs.send_message(QueueUrl=url, MessageBody=body)
    sink = Sink(gate=asyncio.Event())
    feed = EventFeed(peer.aws, QueueRef(url=url), on_events=sink.on_events, wait_seconds=1)
    task = start(feed)
    await asyncio.wait_for(sink.entered.wait(), 10)
    task.cancel()  # the app's worker is cancelled on quit
    with pytest.raises(asyncio.CancelledError):
        await task
    assert queue_counts(peer.sqs, url) == (1, 0)


def test_queue_choice() -> None:
    assert choose_queue(url="https://sqs/1/q", name="n", local=True) == QueueRef(
        url="https://sqs/1/q"
    )
    assert choose_queue(url=None, name="mine", local=False) == QueueRef(name="mine")
    assert choose_queue(url=None, name=None, local=True) == QueueRef(name="pipetop-demo-events")
    assert choose_queue(url=None, name=None, local=False) is None
    with pytest.raises(ValueError, match="url or a name"):
        QueueRef()


async def test_events_put_on_moto_eventbridge_reach_the_callback(
    moto_aws: AwsContext, moto: MotoServer, endpoint: Endpoint
) -> None:
    """The rule -> queue path of an independent EventBridge: its envelopes parse too."""
    sqs, events = moto.client("sqs"), moto.client("events")
    url = sqs.create_queue(QueueName="from-rule")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="codepipeline",
        EventPattern=json.dumps({"source": ["aws.codepipeline"], "detail-type": DETAIL_TYPES}),
    )
    events.put_targets(Rule="codepipeline", Targets=[{"Id": "q", "Arn": arn}])
    engine_events = [json.loads(b) for b in await asyncio.to_thread(engine_event_bodies, endpoint)]
    answer = events.put_events(
        Entries=[
            {
                "Source": e["source"],
                "DetailType": e["detail-type"],
                "Detail": json.dumps(e["detail"]),
                "Resources": e["resources"],
            }
            for e in engine_events[:10]
        ]
    )
    assert answer["FailedEntryCount"] == 0
    sink = Sink()
    feed = EventFeed(moto_aws, QueueRef(url=url), on_events=sink.on_events, wait_seconds=1)
    task = start(feed)
    await until(lambda: len(sink.events) == len(engine_events[:10]))
    assert feed.status.malformed == 0
    # A standard queue promises no order; compare what arrived.
    assert sorted((e.detail_type, e.detail.state) for e in sink.events) == sorted(
        (e["detail-type"], e["detail"]["state"]) for e in engine_events[:10]
    )
    await feed.close()
    await task
