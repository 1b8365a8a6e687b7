"""Reliability of the event path: the Watcher against an endpoint that drops, duplicates and
reorders 10% each of the events it delivers (EventBridge is best effort and SQS at least once).

During a run of many executions over several pipelines the Watcher applies every event it gets
at most once (by its idempotency key), no event moves a record back from a final status, and
once the runs end the view of every pipeline equals a fresh GetPipelineState within one
round-robin reconcile interval. On quit, nothing the Watcher received stays in flight: applied
messages are deleted (also when a delete failed on the way) and the next start sees no stale
redelivery.

The endpoint runs on the real clock here: events carry whole seconds, and the reducer's rules
compare them with the snapshot's times, so a frozen clock would make every event
"same second as the snapshot" and hide the event path.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests import faults
from tests.app.test_events import subscribe_queue
from tests.endpoint import Endpoint
from tests.local.pipelines import commands, pipeline, stage, upload_source
from tui.aws.feed import FeedMode
from tui.aws.reconcile import ReconcileSettings
from tui.aws.session import ConnectionSettings
from tui.aws.watch import Watcher
from tui.local.clock import Clock
from tui.model.events import PipelineEvent, event_key
from tui.model.view import PipelineView

SEED = 20261126
EVENT_FAULTS = {"drop": 10, "duplicate": 10, "reorder": 10}
ROUND_ROBIN_STEP = 0.4
# Every pipeline: Source -> Build -> Test. Two run every execution (QUEUED), two let a newer
# one take over (SUPERSEDED); one of each fails its tests.
PIPELINES = {
    "alpha": ("QUEUED", "true"),
    "beta": ("QUEUED", "exit 1"),
    "gamma": ("SUPERSEDED", "true"),
    "delta": ("SUPERSEDED", "exit 1"),
}
RUNS_PER_PIPELINE = 5
RECONCILE = ReconcileSettings(
    debounce=0.1,
    debounce_max=0.4,
    round_robin_step=ROUND_ROBIN_STEP,
    round_robin_cycle=0,
    poll_interval=0.5,
    visible_interval=5.0,
    visible_active_interval=5.0,
    error_backoff=0.2,
    max_rate=50,
)
# One reconcile interval: the round robin reads each of N pipelines once every N steps. Each
# step starts when the previous read was applied, so the interval stretches by the reads' own
# time (measured: the view converged 1.5-2.4 s after the runs ended, against 1.6 s of steps);
# the slack covers that and a machine shared with other work.
RECONCILE_INTERVAL = len(PIPELINES) * ROUND_ROBIN_STEP
SLACK = 3.0
RUNNING = frozenset({"InProgress", "Stopping"})
FINAL = frozenset(
    {"Succeeded", "Failed", "Stopped", "Superseded", "Cancelled", "Abandoned", "Skipped"}
)

Record = tuple[str, ...]


class RecordingWatcher(Watcher):
    """The Watcher, with each event it gets recorded: how often each idempotency key arrived,
    how often it changed the view, and every record an event moved back from a final status.

    Events are handed to the Watcher one at a time (it applies a batch one by one anyway)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrived: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()
        self.regressions: list[tuple[str, Record, str, str | None]] = []

    def _on_events(self, events: list[PipelineEvent]) -> None:
        for event in events:
            key = event_key(event)
            name = event.detail.pipeline
            before = self.workspace.pipeline(name)
            super()._on_events([event])
            after = self.workspace.pipeline(name)
            self.arrived[key] += 1
            if after is not before:
                self.applied[key] += 1
            if before is not None and after is not None:
                before_records, after_records = records(before), records(after)
                for record, status in before_records.items():
                    later = after_records.get(record, status)
                    if status in FINAL and later != status:
                        self.regressions.append((key, record, status, later))


def records(view: PipelineView) -> dict[Record, str]:
    """The status of every record the view shows: executions, stages and actions of one run."""
    shown: dict[Record, str] = {}
    for execution in view.executions:
        if execution.status is not None:
            shown[("execution", execution.execution_id)] = execution.status
    for stage_view in view.stages:
        if stage_view.execution_id is not None and stage_view.status is not None:
            shown[("stage", stage_view.execution_id, stage_view.name)] = stage_view.status
        for action in stage_view.actions:
            if action.execution_id is not None and action.status is not None:
                shown[("action", action.execution_id, stage_view.name, action.name)] = action.status
    return shown


# What GetPipelineState (and the newest execution) shows, and the same read off the view -------


def api_picture(client: Any, name: str) -> dict[str, Any]:
    state = client.get_pipeline_state(name=name)
    latest = client.list_pipeline_executions(pipelineName=name, maxResults=1)[
        "pipelineExecutionSummaries"
    ][0]
    stages = {}
    for stage_state in state["stageStates"]:
        execution = stage_state.get("latestExecution") or {}
        actions = {}
        for action in stage_state.get("actionStates", []):
            run = action.get("latestExecution") or {}
            actions[action["actionName"]] = (run.get("status"), run.get("actionExecutionId"))
        stages[stage_state["stageName"]] = (
            execution.get("pipelineExecutionId"),
            execution.get("status"),
            actions,
        )
    return {"latest": (latest["pipelineExecutionId"], latest["status"]), "stages": stages}


def view_picture(view: PipelineView | None) -> dict[str, Any] | None:
    if view is None or view.latest_execution is None:
        return None
    latest = view.latest_execution
    return {
        "latest": (latest.execution_id, latest.status),
        "stages": {
            stage_view.name: (
                stage_view.execution_id,
                stage_view.status,
                {a.name: (a.status, a.action_execution_id) for a in stage_view.actions},
            )
            for stage_view in view.stages
        },
    }


# Driving the endpoint ------------------------------------------------------------------------


@pytest.fixture
def live_endpoint(tmp_path: Path) -> Any:
    endpoint = Endpoint(tmp_path / "data", clock=Clock()).start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


@pytest.fixture
async def running() -> AsyncIterator[Callable[[Watcher], asyncio.Task[None]]]:
    started: list[tuple[Watcher, asyncio.Task[None]]] = []

    def start(watcher: Watcher) -> asyncio.Task[None]:
        task = asyncio.ensure_future(watcher.run())
        started.append((watcher, task))
        return task

    yield start
    for watcher, task in started:
        await watcher.close()
        await asyncio.wait_for(task, 10)


async def eventually(
    predicate: Callable[[], object], within: float = 30.0, what: str = ""
) -> float:
    """Wait until `predicate()` holds; returns how long it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > within:
            raise AssertionError(f"not true within {within}s: {what or predicate}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def create_pipelines(
    endpoint: Endpoint, pipelines: dict[str, tuple[str | None, str]] = PIPELINES
) -> Any:
    """Build and Test pipelines, `{name: (execution mode, the test's command)}`."""
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    for name, (mode, test_command) in pipelines.items():
        client.create_pipeline(
            pipeline=pipeline(
                name,
                stage("Build", commands("Compile", ["true"])),
                stage("Test", commands("Unit", [test_command])),
                mode=mode,
            )
        )
    return client


def all_finished(client: Any, expected: int) -> bool:
    for name in PIPELINES:
        summaries = client.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
        if len(summaries) < expected or any(s["status"] in RUNNING for s in summaries):
            return False
    return True


def watcher_for(endpoint: Endpoint, queue: str) -> RecordingWatcher:
    return RecordingWatcher(
        ConnectionSettings(endpoint_url=endpoint.url, max_attempts=1, connect_timeout=2.0),
        events_queue=queue,
        reconcile=RECONCILE,
        list_interval=1.0,
    )


def queue_numbers(endpoint: Endpoint, url: str) -> tuple[int, int]:
    attributes = endpoint.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


async def test_the_view_survives_dropped_duplicated_and_reordered_events(
    live_endpoint: Endpoint, running: Callable[[Watcher], asyncio.Task[None]]
) -> None:
    endpoint = live_endpoint
    queue = subscribe_queue(endpoint)
    client = await asyncio.to_thread(create_pipelines, endpoint)
    watcher = watcher_for(endpoint, queue)
    task = running(watcher)
    await eventually(lambda: watcher.status.feed_mode is FeedMode.LIVE, what="events live")
    await eventually(lambda: all(watcher.state_reads[name] for name in PIPELINES))

    faults.set_faults(endpoint, delivery=EVENT_FAULTS, seed=SEED)
    for _ in range(RUNS_PER_PIPELINE):
        for name in PIPELINES:
            await asyncio.to_thread(client.start_pipeline_execution, name=name)
        await asyncio.sleep(0.3)
    deadline = time.monotonic() + 60
    while not await asyncio.to_thread(all_finished, client, RUNS_PER_PIPELINE + 1):
        assert time.monotonic() < deadline, "the executions did not finish within 60 s"
        await asyncio.sleep(0.1)

    # Once the runs end, one round-robin interval brings every pipeline to what AWS shows.
    truth = {name: await asyncio.to_thread(api_picture, client, name) for name in PIPELINES}
    took = await eventually(
        lambda: all(
            view_picture(watcher.workspace.pipeline(name)) == truth[name] for name in PIPELINES
        ),
        within=RECONCILE_INTERVAL + SLACK,
        what="the view equals GetPipelineState for every pipeline",
    )
    assert took <= RECONCILE_INTERVAL + SLACK

    # The faults happened, and reached the Watcher.
    delivery = faults.faults(endpoint)["delivery"]["counts"]
    assert delivery["dropped"] > 0
    assert delivery["duplicated"] > 0
    assert delivery["reordered"] > 0
    assert any(count > 1 for count in watcher.arrived.values()), "no duplicate reached the feed"
    # No transition applied twice; no event moved a record back from a final status.
    assert [key for key, count in watcher.applied.items() if count > 1] == []
    assert watcher.regressions == []
    assert not task.done()


async def test_quitting_leaves_no_applied_message_behind(
    live_endpoint: Endpoint, running: Callable[[Watcher], asyncio.Task[None]]
) -> None:
    endpoint = live_endpoint
    queue = subscribe_queue(endpoint)
    sqs = endpoint.client("sqs")
    client = await asyncio.to_thread(create_pipelines, endpoint)
    watcher = watcher_for(endpoint, queue)
    task = running(watcher)
    await eventually(lambda: watcher.status.feed_mode is FeedMode.LIVE, what="events live")

    # Deleting applied messages fails (503) while events come, duplicated and reordered.
    delete_fails = [{"match": "sqs.DeleteMessageBatch", "fail": 100, "failStatus": 503}]
    faults.set_faults(
        endpoint, rules=delete_fails, delivery={"duplicate": 10, "reorder": 10}, seed=SEED
    )
    for name in PIPELINES:
        await asyncio.to_thread(client.start_pipeline_execution, name=name)
    deadline = time.monotonic() + 60
    while not await asyncio.to_thread(all_finished, client, 2):
        assert time.monotonic() < deadline, "the executions did not finish within 60 s"
        await asyncio.sleep(0.1)
    faults.set_faults(endpoint, rules=delete_fails)  # what was held back is delivered now
    # The Watcher has received (and applied: its callback is synchronous) every message, and
    # holds their receipts: the messages are in flight, not deleted.
    await eventually(
        lambda: queue_numbers(endpoint, queue)[0] == 0 and queue_numbers(endpoint, queue)[1] > 0,
        what="every message received, some not deleted",
    )
    assert faults.faults(endpoint)["rules"][0]["hits"]["failed"] > 0
    applied_before_quit = set(watcher.applied)

    # Deleting works again; quit at once (the feed's next try is a second away): the
    # hand-back deletes what the Watcher applied.
    faults.clear_faults(endpoint)
    await watcher.close()
    await asyncio.wait_for(task, 10)

    # Nothing received stays in flight, and the next start sees no redelivery of a message
    # the Watcher applied.
    assert queue_numbers(endpoint, queue) == (0, 0)
    again = RecordingWatcher(
        ConnectionSettings(endpoint_url=endpoint.url, max_attempts=1), events_queue=queue
    )
    running(again)
    await eventually(lambda: again.status.feed_mode is FeedMode.LIVE, what="events live")
    await eventually(lambda: all(again.state_reads[name] for name in PIPELINES))
    assert set(again.arrived) & applied_before_quit == set()
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []) == []
