"""The event path end to end: engine -> EventBridge rule -> SQS queue -> feed -> reducer ->
screen, with no GetPipelineState in between."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.app.support import app_for, app_settings, fast_poll, plain, wait_until
from tests.endpoint import Endpoint
from tests.local.pipelines import commands, pipeline, stage, upload_source
from tui.app.screens.pipelines import COLUMNS
from tui.app.widgets.pipeline_table import PipelineTable
from tui.app.widgets.status_bar import StatusBar
from tui.demo import EVENT_PATTERN

SIZE = (120, 36)
NEVER = 3600.0


def subscribe_queue(endpoint: Endpoint, name: str = "pipetop-events") -> str:
    """An SQS queue fed by an EventBridge rule with CodePipeline's pattern (as the demo and
    `pipetop events setup` make it); returns its URL."""
    sqs = endpoint.client("sqs")
    events = endpoint.client("events")
    url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name=name, EventPattern=json.dumps(EVENT_PATTERN), State="ENABLED")
    answer = events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
    assert answer["FailedEntryCount"] == 0
    return url


def cell(table: PipelineTable, name: str, column: str) -> str:
    keys = [key for key, _ in COLUMNS]
    return plain(table.get_row(name)[keys.index(column)])


async def test_a_change_shows_from_its_event_without_reading_the_state(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    marker = tmp_path / "go"
    queue = subscribe_queue(endpoint)
    upload_source(endpoint)
    endpoint.client("codepipeline").create_pipeline(
        pipeline=pipeline(
            "slow",
            stage("Build", commands("Wait", [f"while [ ! -f {marker} ]; do sleep 0.05; done"])),
        )
    )
    # No poll, no round robin, and an event's own re-read far away: only events can move it.
    quiet = fast_poll(
        interval=NEVER,
        visible=NEVER,
        visible_active=NEVER,
        round_robin=NEVER,
        pipelines=NEVER,
        event_debounce=NEVER,
        event_debounce_max=NEVER,
    )
    app = app_for(endpoint, app_settings(events_queue=queue, poll=quiet))
    messages: list[Any] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        table = app.screen.query_one(PipelineTable)
        await wait_until(
            pilot, lambda: "events live" in plain(app.screen.query_one(StatusBar).render())
        )
        await wait_until(
            pilot,
            lambda: table.row_count == 1 and cell(table, "slow", "status") == "● In progress",
        )
        reads: dict[str, int] = dict(app.watcher.state_reads)
        assert reads == {"slow": 1}
        applied = app.watcher.events_applied
        # Events carry whole seconds; one in the same second as the state read may be what
        # the read already showed (the reducer lets the read win), so the change comes later.
        endpoint.advance(10)
        marker.write_text("")
        await wait_until(pilot, lambda: cell(table, "slow", "status") == "✓ Succeeded")
        assert dict(app.watcher.state_reads) == reads
        assert app.watcher.scheduler.counts["event"] == 0
        assert app.watcher.events_applied > applied
        assert cell(table, "slow", "stage") == ""


async def test_a_missing_queue_degrades_to_polling_with_a_warning(endpoint: Endpoint) -> None:
    missing = f"{endpoint.url}/000000000000/no-such-queue"
    upload_source(endpoint)
    endpoint.client("codepipeline").create_pipeline(
        pipeline=pipeline("web", stage("Build", commands("Compile", ["true"])))
    )
    app = app_for(endpoint, app_settings(events_queue=missing))
    async with app.run_test(size=SIZE) as pilot:
        bar = app.screen.query_one(StatusBar)
        await wait_until(pilot, lambda: "degraded" in plain(bar.render()))
        assert "▲ degraded: Queue not found (polling every 0.5 s)" in plain(bar.render())
        assert not app.watcher.scheduler.live
        # Polling keeps the list fresh meanwhile.
        table = app.screen.query_one(PipelineTable)
        await wait_until(pilot, lambda: table.row_count == 1)
        await wait_until(pilot, lambda: cell(table, "web", "status") == "✓ Succeeded")
