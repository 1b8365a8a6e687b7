"""The status bar and problems: where the app is connected, how fresh the data is, and what
happens when the endpoint goes away (a notification and a stale marker, never a crash)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.notifications import Notify

from tests.app.support import FIXED_NOW, app_for, app_settings, plain, wait_until
from tests.endpoint import Endpoint
from tests.local.pipelines import commands, pipeline, stage, upload_source
from tui.app.app import PipetopApp
from tui.app.screens.pipelines import PipelinesScreen
from tui.app.widgets.pipeline_table import PipelineTable
from tui.app.widgets.status_bar import StatusBar

SIZE = (120, 36)


def bar_text(app: PipetopApp) -> str:
    return plain(app.screen.query_one(StatusBar).render())


def notifications(messages: list[Any]) -> list[Any]:
    seen: dict[int, Any] = {}
    for message in messages:
        if isinstance(message, Notify):
            seen[id(message)] = message.notification
    return list(seen.values())


async def test_the_bar_names_the_local_endpoint_account_region_and_feed(
    endpoint: Endpoint,
) -> None:
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "LOCAL" in bar_text(app) and "↻" in bar_text(app))
        text = bar_text(app)
        # No pipeline yet: nothing tells the account (the endpoint has no STS).
        assert text == (
            f" LOCAL  us-east-1 │ ↻ polling every 0.5 s │ updated just now │ {endpoint.url}"
        )
        assert "READ-ONLY" not in text


async def test_the_account_comes_from_a_pipeline_arn_on_the_local_endpoint(
    endpoint: Endpoint,
) -> None:
    upload_source(endpoint)
    endpoint.client("codepipeline").create_pipeline(
        pipeline=pipeline("web", stage("Build", commands("Compile", ["true"])))
    )
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "000000000000 · us-east-1" in bar_text(app))


async def test_read_only_shows_in_the_bar(endpoint: Endpoint) -> None:
    app = app_for(endpoint, app_settings(read_only=True))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "READ-ONLY" in bar_text(app))
        assert app.watcher.client.read_only


async def test_endpoint_down_notifies_once_and_marks_the_data_stale(tmp_path: Path) -> None:
    server = Endpoint(tmp_path / "data").start()
    stopped = False
    try:
        upload_source(server)
        server.client("codepipeline").create_pipeline(
            pipeline=pipeline("web", stage("Build", commands("Compile", ["true"])))
        )
        app = app_for(server)
        messages: list[Any] = []
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            table = app.screen.query_one(PipelineTable)
            await wait_until(pilot, lambda: app.watcher.state_reads["web"] >= 1)
            await wait_until(pilot, lambda: table.row_count == 1)
            assert "stale" not in bar_text(app)
            server.stop()
            stopped = True
            await wait_until(pilot, lambda: app.watch_status.stale_since is not None)
            # Reads keep failing (and keep being retried) without a crash or a second toast.
            failed_reads = app.watcher.scheduler.fetches
            await wait_until(pilot, lambda: app.watcher.scheduler.fetches > failed_reads + 1)
            assert app.is_running
            problems = [n for n in notifications(messages) if n.title == "Endpoint unreachable"]
            assert len(problems) == 1
            assert problems[0].severity == "error"
            assert server.url in problems[0].message
            assert "pipetop keeps retrying" in problems[0].message
            since = FIXED_NOW.astimezone().strftime("%H:%M:%S")
            assert f"stale since {since} (Endpoint unreachable)" in bar_text(app)
            # What was on screen stays on screen.
            assert isinstance(app.screen, PipelinesScreen)
            assert table.row_keys == ["web"]
    finally:
        if not stopped:
            server.stop()


async def test_notifications_can_be_switched_off(tmp_path: Path) -> None:
    server = Endpoint(tmp_path / "data").start()
    server.stop()
    app = app_for(server.url, app_settings(notifications=False))
    messages: list[Any] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await wait_until(pilot, lambda: app.watch_status.problem is not None)
        await pilot.pause()
        assert notifications(messages) == []
        assert "stale since" in bar_text(app)
        assert "Endpoint unreachable" in bar_text(app)


async def test_a_bar_under_another_screen_redraws_when_its_screen_is_back() -> None:
    """A bar whose screen an opaque screen covers takes each status without drawing it (a
    covered screen that draws makes Textual repaint the whole screen in front); what it
    draws once its screen is back is the latest status. Under a modal it keeps drawing."""
    from textual.app import App, ComposeResult
    from textual.screen import ModalScreen, Screen

    from tui.aws.watch import WatchStatus

    class Below(Screen[None]):
        def compose(self) -> ComposeResult:
            yield StatusBar()

    class Holder(App[None]):
        def on_mount(self) -> None:
            self.push_screen(Below())

    def drawn(bar: StatusBar) -> str:
        return "".join(strip.text for strip in bar.render_lines(bar.size.region))

    app = Holder()
    async with app.run_test(size=(100, 10)) as pilot:
        bar = app.screen.query_one(StatusBar)
        bar.status = WatchStatus(region="eu-west-1")
        await pilot.pause()
        assert "eu-west-1" in drawn(bar)
        app.push_screen(Screen())
        await pilot.pause()
        bar.status = WatchStatus(region="ap-south-2")
        await pilot.pause()
        assert "eu-west-1" in drawn(bar)  # held: not drawn while covered
        app.pop_screen()
        await pilot.pause()
        assert "ap-south-2" in drawn(bar)
        app.push_screen(ModalScreen())
        await pilot.pause()
        bar.status = WatchStatus(region="sa-east-1")
        await pilot.pause()
        assert "sa-east-1" in drawn(bar)
