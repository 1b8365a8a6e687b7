"""The event path under faults, as the app shows it: with 10% of the events dropped,
duplicated and reordered, the pipelines list ends showing what GetPipelineState shows within
one reconcile interval, and quitting leaves nothing the app received in flight on the queue.

(The Watcher-level proof, with idempotency and no-regression checks, is
`tests/aws/test_event_reliability.py`.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import faults
from tests.app.support import app_for, app_settings, fast_poll, plain, wait_until
from tests.app.test_events import cell, subscribe_queue
from tests.aws.test_event_reliability import api_picture, create_pipelines, view_picture
from tests.endpoint import Endpoint
from tui.app.widgets.glyphs import look
from tui.app.widgets.pipeline_table import PipelineTable
from tui.app.widgets.status_bar import StatusBar
from tui.local.clock import Clock

SIZE = (120, 36)
PIPELINES = {"alpha": ("QUEUED", "true"), "beta": ("QUEUED", "exit 1"), "gamma": (None, "true")}
RUNS = 3
ROUND_ROBIN = 0.5
# One reconcile interval (the round robin over every pipeline), plus slack for a busy machine.
WITHIN = len(PIPELINES) * ROUND_ROBIN + 3.0
RUNNING = frozenset({"InProgress", "Stopping"})


@pytest.fixture
def live_endpoint(tmp_path: Path) -> Iterator[Endpoint]:
    # The real clock: events carry whole seconds the reducer compares with snapshot times.
    endpoint = Endpoint(tmp_path / "data", clock=Clock()).start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


def all_finished(client: Any) -> bool:
    for name in PIPELINES:
        summaries = client.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
        if len(summaries) < RUNS + 1 or any(s["status"] in RUNNING for s in summaries):
            return False
    return True


def queue_count(endpoint: Endpoint, url: str, attribute: str) -> int:
    attributes = endpoint.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=[attribute]
    )["Attributes"]
    return int(attributes[attribute])


def in_flight(endpoint: Endpoint, url: str) -> int:
    return queue_count(endpoint, url, "ApproximateNumberOfMessagesNotVisible")


def visible(endpoint: Endpoint, url: str) -> int:
    return queue_count(endpoint, url, "ApproximateNumberOfMessages")


async def test_the_list_ends_equal_to_get_pipeline_state_under_event_faults(
    live_endpoint: Endpoint,
) -> None:
    endpoint = live_endpoint
    queue = subscribe_queue(endpoint)
    client = await asyncio.to_thread(create_pipelines, endpoint, PIPELINES)
    poll = fast_poll(round_robin=ROUND_ROBIN, visible=5.0, visible_active=5.0)
    app = app_for(endpoint, app_settings(events_queue=queue, poll=poll))
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(PipelineTable)
        bar = app.screen.query_one(StatusBar)
        await wait_until(pilot, lambda: "events live" in plain(bar.render()))
        await wait_until(pilot, lambda: table.row_count == len(PIPELINES))

        faults.set_faults(endpoint, delivery={"drop": 10, "duplicate": 10, "reorder": 10}, seed=4)
        for _ in range(RUNS):
            for name in PIPELINES:
                await asyncio.to_thread(client.start_pipeline_execution, name=name)
            await pilot.pause(0.3)
        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(all_finished, client):
            assert time.monotonic() < deadline, "the executions did not finish within 60 s"
            await pilot.pause(0.1)

        truth = {name: await asyncio.to_thread(api_picture, client, name) for name in PIPELINES}
        expected = {
            name: f"{look(picture['latest'][1]).glyph} {look(picture['latest'][1]).word}"
            for name, picture in truth.items()
        }
        started = time.monotonic()
        await wait_until(
            pilot,
            lambda: all(
                view_picture(app.watcher.workspace.pipeline(name)) == truth[name]
                and cell(table, name, "status") == expected[name]
                for name in PIPELINES
            ),
            within=WITHIN,
            what="the list and the view equal GetPipelineState",
        )
        assert time.monotonic() - started <= WITHIN
        assert faults.faults(endpoint)["delivery"]["counts"]["dropped"] > 0


async def test_quitting_the_app_leaves_no_applied_message_in_flight(
    live_endpoint: Endpoint,
) -> None:
    endpoint = live_endpoint
    queue = subscribe_queue(endpoint)
    client = await asyncio.to_thread(create_pipelines, endpoint, PIPELINES)
    app = app_for(endpoint, app_settings(events_queue=queue, poll=fast_poll()))
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(PipelineTable)
        bar = app.screen.query_one(StatusBar)
        await wait_until(pilot, lambda: "events live" in plain(bar.render()))
        # The app applies the events but cannot delete them (503s): it holds their receipts.
        faults.set_faults(
            endpoint, [{"match": "sqs.DeleteMessageBatch", "fail": 100, "failStatus": 503}]
        )
        await asyncio.to_thread(client.start_pipeline_execution, name="alpha")
        await wait_until(pilot, lambda: cell(table, "alpha", "status") == "✓ Succeeded")
        await wait_until(
            pilot,
            lambda: visible(endpoint, queue) == 0 and in_flight(endpoint, queue) > 0,
            what="events received and not deleted",
        )
        faults.clear_faults(endpoint)
    # What `App.run()` does next: asyncio.run cancels every task still running.
    leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)

    # Nothing the app received is left in flight (applied messages deleted, the rest handed
    # back), so the next start sees no stale redelivery.
    assert in_flight(endpoint, queue) == 0
