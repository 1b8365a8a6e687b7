"""The event feed: CodePipeline's EventBridge events from an SQS queue, to a callback.

    feed = EventFeed(aws, QueueRef(name="pipetop-events"), on_events=apply, on_status=show)
    worker = asyncio.create_task(feed.run())   # in a Textual worker, in the app
    ...
    await feed.close()                          # on quit

How it works:

- Long polls: ReceiveMessage with WaitTimeSeconds 20 and MaxNumberOfMessages 10 (the SQS
  client's read timeout is above the wait, see `session.py`). The first receive after
  (re)connecting does not wait (WaitTimeSeconds 0), so "events live" shows at once instead of
  after up to 20 quiet seconds.
- Each body goes through `parse` (the model's `tui.model.events.parse_event`). Parsed events of one
  receive go to `on_events(list)` in the order received, and those messages are deleted
  (DeleteMessageBatch) only after the callback returned: a message is never lost between
  receive and apply. Duplicates and reordering are passed on as they come; the reducer
  converges whatever the order (the design's rule), so nothing is dropped here.
- [I] The delete runs beside the next long poll, not before it: the feed receives again as
  soon as the callback returned. Events come in bursts (an approval commits the action's,
  the stage's and the pipeline's change within a millisecond), so the rest of a burst is
  often sent while the first part is being deleted; waiting for that round trip (tens of
  milliseconds, over a second when either side is busy) before listening again made it
  the largest part of event-to-screen latency. A message being deleted is in flight
  (hidden by its visibility timeout), so the next receive cannot get it again. One delete
  runs at a time and takes whatever has been applied meanwhile; its failure is raised
  into the loop before the next receive (degraded, backoff, retried) as before.
- A body that does not parse (`ValueError`, which the model's MalformedEvent is) would never
  parse: it is counted (`FeedStatus.malformed`, the last reason in `last_malformed`),
  reported through `on_status`, and deleted with the batch.
- `close()` stops the loop; messages received but not yet applied (the callback had not
  returned) are handed back with ChangeMessageVisibility 0, and applied ones not yet deleted
  are deleted, so the next start sees neither stale redeliveries nor lost events (a delete
  that failed for a passing reason, a 5xx or throttling, is retried with the next receive
  and at close). [I] A receive still in flight at close is abandoned: whatever SQS had
  handed it comes back after the queue's visibility timeout, and the reducer ignores what it
  has already applied.
- Status (`on_status(FeedStatus)`, on every change): "events live"; "polling every N s" when
  there is no queue (the app polls, see `reconcile.py`); "degraded: <problem> (polling every
  N s)" when the queue fails (QueueDoesNotExist, access denied, expired credentials, endpoint
  down, ...). While degraded the feed retries with backoff (1, 2, 5, 10, 30, 60 s, then every
  60 s; a throttled queue waits its `retry_after`), and goes back to "events live" as soon as
  a receive works again. A queue known by name is looked up again (GetQueueUrl) after each
  failure, so a queue deleted and created again is found.
- Errors raised by `on_events` itself are the app's: they are reported as degraded too, and
  those messages are left in flight (SQS returns them after the visibility timeout).

Queue discovery (`choose_queue`): an explicit URL (`--events-queue URL`), else an explicit
name, else on the local endpoint the demo's queue `pipetop-demo-events` (what `pipetop demo`
subscribes to the engine's events), else none (polling). [I] On AWS there is no default
name: a queue someone else made is not assumed to carry CodePipeline events.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from tui.aws.errors import ClientProblem, Throttled
from tui.aws.session import LONG_POLL_SECONDS, AwsContext
from tui.model.events import PipelineEvent, parse_event

DEMO_QUEUE_NAME = "pipetop-demo-events"
MAX_MESSAGES = 10
BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class QueueRef:
    """The event queue: its URL, or its name (looked up with GetQueueUrl)."""

    url: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.url and not self.name:
            raise ValueError("a queue needs a url or a name")

    def __str__(self) -> str:
        return self.url or str(self.name)


def choose_queue(*, url: str | None, name: str | None, local: bool) -> QueueRef | None:
    """Which queue to read: explicit URL, explicit name, the demo's queue locally, or none."""
    if url:
        return QueueRef(url=url)
    if name:
        return QueueRef(name=name)
    if local:
        return QueueRef(name=DEMO_QUEUE_NAME)
    return None


class FeedMode(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    POLLING = "polling"
    DEGRADED = "degraded"


@dataclass(frozen=True)
class FeedStatus:
    mode: FeedMode
    text: str
    problem: ClientProblem | None = None
    queue_url: str | None = None
    received: int = 0
    applied: int = 0
    malformed: int = 0
    last_malformed: str | None = None

    @property
    def live(self) -> bool:
        return self.mode is FeedMode.LIVE


@dataclass
class _Received:
    message_id: str
    receipt: str


class EventFeed:
    """Reads one SQS queue of CodePipeline events until `close()` (see the module docstring)."""

    def __init__(
        self,
        aws: AwsContext,
        queue: QueueRef | None,
        *,
        on_events: Callable[[list[PipelineEvent]], Awaitable[None] | None],
        on_status: Callable[[FeedStatus], None] | None = None,
        parse: Callable[[str], PipelineEvent] = parse_event,
        poll_interval: float = 10.0,
        wait_seconds: int = LONG_POLL_SECONDS,
        backoff: Sequence[float] = BACKOFF,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.aws = aws
        self.queue = queue
        self.on_events = on_events
        self.on_status = on_status
        self.parse = parse
        self.poll_interval = poll_interval
        self.wait_seconds = wait_seconds
        self.backoff = tuple(backoff) or BACKOFF
        self.sleep = sleep
        self.status = FeedStatus(FeedMode.CONNECTING, "connecting to the event queue")
        self._url: str | None = queue.url if queue is not None else None
        self._unapplied: list[_Received] = []
        self._undeleted: list[_Received] = []
        self._deleting: asyncio.Task[None] | None = None
        self._delete_failure: Exception | None = None
        self._closing = False
        self._closed = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None

    # Status ---------------------------------------------------------------------------------

    def _polling_text(self) -> str:
        return f"polling every {self.poll_interval:g} s"

    def _set_status(self, **changes: Any) -> None:
        status = replace(self.status, **changes)
        if status != self.status:
            self.status = status
            if self.on_status is not None:
                self.on_status(status)

    def _live(self) -> None:
        self._set_status(mode=FeedMode.LIVE, text="events live", problem=None, queue_url=self._url)

    def _degraded(self, problem: ClientProblem) -> None:
        self._set_status(
            mode=FeedMode.DEGRADED,
            text=f"degraded: {problem.title} ({self._polling_text()})",
            problem=problem,
        )

    # The loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Read the queue until `close()` (then return); AWS problems are status, not raised."""
        if self._task is not None:
            raise RuntimeError("EventFeed.run() is already running")
        task = self._task = asyncio.ensure_future(self._loop())
        try:
            # wait() neither raises when close() cancels the loop nor cancels it itself.
            await asyncio.wait({task})
        except asyncio.CancelledError:
            # The caller was cancelled (the app's worker): stop reading and hand back, too.
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
        if not task.cancelled():
            task.result()

    async def _loop(self) -> None:
        try:
            queue = self.queue
            if queue is None:
                self._set_status(mode=FeedMode.POLLING, text=self._polling_text())
                await self._closed.wait()
                return
            failures = 0
            connected = False
            while not self._closing:
                try:
                    sqs = await self.aws.client("sqs")
                    url = await self._queue_url(sqs, queue)
                    if self._delete_failure is not None:
                        failure, self._delete_failure = self._delete_failure, None
                        raise failure
                    answer = await sqs.receive_message(
                        QueueUrl=url,
                        MaxNumberOfMessages=MAX_MESSAGES,
                        WaitTimeSeconds=self.wait_seconds if connected else 0,
                    )
                    connected = True
                    failures = 0
                    self._live()
                    await self._handle(sqs, url, answer.get("Messages") or [])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    connected = False
                    problem = self.aws.describe(exc)
                    self._degraded(problem)
                    if queue.url is None:
                        self._url = None
                    delay = (
                        problem.retry_after
                        if isinstance(problem, Throttled)
                        else self.backoff[min(failures, len(self.backoff) - 1)]
                    )
                    failures += 1
                    await self.sleep(delay)
        finally:
            await self._hand_back()

    async def _queue_url(self, sqs: Any, queue: QueueRef) -> str:
        if self._url is None:
            self._url = str((await sqs.get_queue_url(QueueName=queue.name))["QueueUrl"])
        return self._url

    async def _handle(self, sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
        if not messages:
            # Deletes an earlier round could not make are retried with each receive.
            self._start_deleting(sqs, url)
            return
        events: list[PipelineEvent] = []
        parsed: list[_Received] = []
        malformed: list[_Received] = []
        last_reason: str | None = None
        for message in messages:
            received = _Received(str(message["MessageId"]), str(message["ReceiptHandle"]))
            try:
                events.append(self.parse(str(message.get("Body", ""))))
                parsed.append(received)
            except ValueError as exc:
                malformed.append(received)
                last_reason = f"{received.message_id}: {exc}"
        self._unapplied = parsed
        self._undeleted.extend(malformed)
        self._set_status(received=self.status.received + len(messages))
        if malformed:
            self._set_status(
                malformed=self.status.malformed + len(malformed), last_malformed=last_reason
            )
        if events:
            result = self.on_events(events)
            if inspect.isawaitable(result):
                await result
            self._undeleted.extend(parsed)
            self._unapplied = []
            self._set_status(applied=self.status.applied + len(events))
        self._start_deleting(sqs, url)

    def _start_deleting(self, sqs: Any, url: str) -> None:
        """Delete what was applied beside the next receive (see the module docstring)."""
        running = self._deleting is not None and not self._deleting.done()
        if self._undeleted and not running:
            self._deleting = asyncio.ensure_future(self._delete_beside(sqs, url))

    async def _delete_beside(self, sqs: Any, url: str) -> None:
        try:
            await self._delete(sqs, url)
        except Exception as exc:
            self._delete_failure = exc

    async def _delete(self, sqs: Any, url: str) -> None:
        # At most 10 entries a batch. A batch is taken off the list before it is sent. If the
        # delete fails for good (a receipt gone stale, the queue gone), the messages come back
        # after their visibility timeout and the reducer skips what it has applied, rather
        # than a receipt that can never be deleted failing every later round. A delete that
        # may work later (throttled, a 5xx, the endpoint briefly away) or that close()
        # interrupted keeps its batch for the next round or the hand-back: otherwise applied
        # messages would come back as stale redeliveries, also to the next start.
        while self._undeleted:
            batch = self._undeleted[:MAX_MESSAGES]
            del self._undeleted[: len(batch)]
            entries = [{"Id": str(i), "ReceiptHandle": r.receipt} for i, r in enumerate(batch)]
            try:
                await sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            except asyncio.CancelledError:
                self._undeleted[:0] = batch
                raise
            except Exception as exc:
                if self.aws.describe(exc).transient:
                    self._undeleted[:0] = batch
                raise

    async def _hand_back(self) -> None:
        """Return unapplied messages to the queue at once; delete applied ones."""
        deleting = self._deleting
        if deleting is not None and not deleting.done():
            # Its batch is off the list while it is sent; a failed one puts it back.
            await asyncio.wait({deleting})
        self._delete_failure = None
        url = self._url
        if url is None or not (self._unapplied or self._undeleted):
            return
        try:
            sqs = await self.aws.client("sqs")
            for received in self._unapplied:
                await sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=received.receipt, VisibilityTimeout=0
                )
            self._unapplied = []
            await self._delete(sqs, url)
        except Exception as exc:
            # SQS hands them back after the visibility timeout anyway.
            self._degraded(self.aws.describe(exc))

    async def close(self) -> None:
        """Stop reading; hand back what was received but not applied (see module docstring)."""
        self._closing = True
        self._closed.set()
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
