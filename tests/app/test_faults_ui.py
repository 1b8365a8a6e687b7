"""The app under faults, against the real endpoint: throttling storms, 5xx answers, an endpoint
that hangs or goes away, the events queue deleted mid-run, malformed event messages.

In every case the app stays up and keeps answering keys, shows the degradation ("stale
since", "throttled", "degraded"), slows down under throttling, and shows fresh data again
once the fault clears. Faults come from the endpoint's `/_local/faults` and calls are counted
on the endpoint's side (`/_local/calls`), so what is measured is what the service saw.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests import faults
from tests.app.support import app_for, app_settings, plain, wait_until
from tests.app.test_events import subscribe_queue
from tests.endpoint import Endpoint
from tests.local.pipelines import commands, pipeline, stage, upload_source
from tests.process import ServerProcess
from tui.app.app import PipetopApp, make_app
from tui.app.settings import RateBudgetSettings, SettingsError, load_settings
from tui.app.widgets.pipeline_table import PipelineTable
from tui.app.widgets.status_bar import StatusBar
from tui.aws.session import ConnectionSettings
from tui.aws.watch import utc_now

SIZE = (120, 36)
DEFAULT_INTERVAL = 10.0
"""The default poll interval: data must be fresh again within two of them."""


def bar(app: PipetopApp) -> str:
    return plain(app.screen.query_one(StatusBar).render())


def codepipeline_calls(endpoint: Any) -> int:
    return sum(
        n for label, n in faults.calls(endpoint).items() if label.startswith("codepipeline.")
    )


def create_pipelines(client: Any, count: int) -> list[str]:
    names = [f"svc-{i:02d}" for i in range(count)]
    for name in names:
        client.create_pipeline(pipeline=pipeline(name, stage("Build", commands("Make", ["true"]))))
    return names


@pytest.fixture
def errors_logged(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """Log records at ERROR or worse (an unhandled exception in a task or worker logs one)."""
    caplog.set_level(logging.WARNING)

    def errors() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]

    return errors


async def press_and_see_the_cursor_move(pilot: Pilot[Any], app: PipetopApp) -> None:
    table = app.screen.query_one(PipelineTable)
    before = table.cursor_key
    await pilot.press("j")
    await wait_until(pilot, lambda: table.cursor_key != before, within=5, what="the cursor")
    await pilot.press("k")
    await wait_until(pilot, lambda: table.cursor_key == before, within=5, what="the cursor back")


async def count_during(pilot: Pilot[Any], endpoint: Any, seconds: float) -> float:
    """CodePipeline requests a second the endpoint received over `seconds` of real time."""
    faults.reset_calls(endpoint)
    started = time.monotonic()
    await pilot.pause(seconds)
    return codepipeline_calls(endpoint) / (time.monotonic() - started)


async def test_a_throttling_storm_halves_the_request_rate_shows_throttled_then_recovers(
    endpoint: Endpoint, errors_logged: Callable[[], list[str]]
) -> None:
    upload_source(endpoint)
    create_pipelines(endpoint.client("codepipeline"), 8)
    # Polling 8 pipelines every 0.5 s asks for far more than the budget's 8 requests a second:
    # the budget is what limits the rate, before and during the storm.
    settings = app_settings(budget=RateBudgetSettings(rate=8, burst=8, backoff_max=1.0))
    app = app_for(endpoint, settings)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(PipelineTable)
        await wait_until(pilot, lambda: table.row_count == 8, what="the list")
        calm = await count_during(pilot, endpoint, 3.0)
        assert calm >= 5.0, calm  # the budget's rate is in use (what the storm must cut)

        faults.set_faults(endpoint, rules=[{"match": "codepipeline", "throttle": 100}], seed=3)
        storm = await count_during(pilot, endpoint, 3.0)
        assert storm * 2 <= calm, (storm, calm)
        await wait_until(pilot, lambda: "▲ throttled" in bar(app), within=5, what="throttled")
        assert app.watcher.budget.state.throttles > 0
        await press_and_see_the_cursor_move(pilot, app)

        faults.clear_faults(endpoint)
        cleared = time.monotonic()
        await wait_until(
            pilot,
            lambda: app.watcher.status.stale_since is None and app.watcher.status.problem is None,
            within=2 * DEFAULT_INTERVAL,
            what="fresh data",
        )
        fresh_after = time.monotonic() - cleared
        await wait_until(pilot, lambda: "throttled" not in bar(app), within=15, what="recovery")
        assert fresh_after <= 2 * DEFAULT_INTERVAL
        recovered = await count_during(pilot, endpoint, 2.0)
        assert recovered > storm
    assert errors_logged() == []


async def test_5xx_answers_show_stale_since_and_fresh_data_after(
    endpoint: Endpoint, errors_logged: Callable[[], list[str]]
) -> None:
    upload_source(endpoint)
    create_pipelines(endpoint.client("codepipeline"), 3)
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(PipelineTable)
        await wait_until(pilot, lambda: table.row_count == 3, what="the list")
        with faults.injected(
            endpoint, rules=[{"match": "codepipeline", "fail": 100, "failStatus": 503}]
        ):
            await wait_until(pilot, lambda: "stale since" in bar(app), within=5, what="stale")
            assert "(AWS service error)" in bar(app)
            await press_and_see_the_cursor_move(pilot, app)
        await wait_until(
            pilot,
            lambda: "updated" in bar(app),
            within=2 * DEFAULT_INTERVAL,
            what="fresh data after the fault",
        )
        assert table.row_count == 3
    assert errors_logged() == []


async def test_an_endpoint_that_stops_answering_is_stale_within_two_intervals(
    endpoint: Endpoint, errors_logged: Callable[[], list[str]]
) -> None:
    """Every call hangs (no failure to report): the age of the data alone says stale."""
    upload_source(endpoint)
    create_pipelines(endpoint.client("codepipeline"), 2)
    app = app_for(endpoint, clock=utc_now)  # ages must grow: the real clock
    interval = app.settings.poll.interval
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "updated" in bar(app), what="the first data")
        with faults.injected(endpoint, rules=[{"match": "codepipeline", "latencyMs": 4000}]):
            hung = time.monotonic()
            await wait_until(pilot, lambda: "stale since" in bar(app), within=10, what="stale")
            # Data arrives up to one interval apart; "stale" once none came for two.
            assert time.monotonic() - hung <= 2 * interval + 1.5
            assert "(no answer)" in bar(app)
            await press_and_see_the_cursor_move(pilot, app)
        await wait_until(pilot, lambda: "updated" in bar(app), within=15, what="fresh again")
    assert errors_logged() == []


async def test_an_endpoint_that_goes_away_and_comes_back_on_the_same_port(
    tmp_path: Path, errors_logged: Callable[[], list[str]]
) -> None:
    data = tmp_path / "data"
    with ServerProcess(data) as server:
        url = server.url
        port = int(url.rsplit(":", 1)[1])
        upload_source(server)  # type: ignore[arg-type]
        create_pipelines(server.client("codepipeline"), 3)
        app = app_for(url, clock=utc_now)
        async with app.run_test(size=SIZE) as pilot:
            table = app.screen.query_one(PipelineTable)
            await wait_until(pilot, lambda: table.row_count == 3, what="the list")
            assert server.terminate() == 0
            gone = time.monotonic()
            await wait_until(pilot, lambda: "stale since" in bar(app), within=10, what="stale")
            assert time.monotonic() - gone <= 2 * app.settings.poll.interval + 1.5
            assert "Endpoint unreachable" in bar(app)
            stale_text = bar(app)
            await press_and_see_the_cursor_move(pilot, app)
            with ServerProcess(data, port=port) as again:
                assert again.url == url
                back = time.monotonic()
                await wait_until(
                    pilot,
                    lambda: "updated" in bar(app),
                    within=2 * DEFAULT_INTERVAL,
                    what="fresh data from the restarted endpoint",
                )
                assert time.monotonic() - back <= 2 * DEFAULT_INTERVAL
                assert table.row_count == 3
                assert stale_text != bar(app)
                assert app.return_code is None  # still running
    assert errors_logged() == []


async def test_the_events_queue_deleted_mid_run_falls_back_to_polling_and_says_so(
    endpoint: Endpoint, errors_logged: Callable[[], list[str]]
) -> None:
    queue = subscribe_queue(endpoint)
    upload_source(endpoint)
    create_pipelines(endpoint.client("codepipeline"), 2)
    app = app_for(endpoint, app_settings(events_queue=queue))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "events live" in bar(app), what="events live")
        assert app.watcher.scheduler.live
        endpoint.client("sqs").delete_queue(QueueUrl=queue)
        await wait_until(pilot, lambda: "degraded" in bar(app), within=30, what="degraded")
        assert "Queue not found" in bar(app)
        assert "polling every 0.5 s" in bar(app)
        assert not app.watcher.scheduler.live
        # Polling for real: every pipeline is read again, more than once.
        reads = dict(app.watcher.state_reads)
        await wait_until(
            pilot,
            lambda: all(app.watcher.state_reads[n] >= reads.get(n, 0) + 2 for n in reads),
            within=10,
            what="polling reads",
        )
        await press_and_see_the_cursor_move(pilot, app)
    assert errors_logged() == []


async def test_malformed_event_messages_are_counted_and_skipped(
    endpoint: Endpoint, errors_logged: Callable[[], list[str]]
) -> None:
    queue = subscribe_queue(endpoint)
    upload_source(endpoint)
    create_pipelines(endpoint.client("codepipeline"), 2)
    app = app_for(endpoint, app_settings(events_queue=queue))
    sqs = endpoint.client("sqs")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "events live" in bar(app), what="events live")
        sqs.send_message(QueueUrl=queue, MessageBody="not json at all")
        sqs.send_message(QueueUrl=queue, MessageBody='{"detail-type": "Something Else"}')
        await wait_until(
            pilot, lambda: "2 malformed skipped" in bar(app), within=30, what="the count"
        )
        assert "events live" in bar(app)

        def queue_empty() -> bool:
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            return all(v == "0" for v in attributes.values())

        await wait_until(pilot, queue_empty, within=10, what="the bad messages deleted")
        await press_and_see_the_cursor_move(pilot, app)
    assert errors_logged() == []


def test_the_budget_comes_from_the_config_file_and_bad_values_are_named(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[budget]\nrate = 3\nburst = 4\nbackoff_max = 2.5\n", encoding="utf-8")
    settings = load_settings(path=config, environ={})
    app = make_app(settings, ConnectionSettings(endpoint_url="http://127.0.0.1:9"))
    assert app.watcher.budget.settings.rate == 3
    assert app.watcher.budget.settings.burst == 4
    assert app.watcher.budget.settings.backoff_max == 2.5
    from_env = load_settings(path=config, environ={"PIPETOP_BUDGET__RATE": "1.5"})
    assert from_env.budget.rate == 1.5

    config.write_text("[budget]\nrate = 0\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"budget\.rate"):
        load_settings(path=config, environ={})
