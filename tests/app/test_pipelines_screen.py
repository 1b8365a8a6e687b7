"""The pipelines screen against a real endpoint: what each row says, the counts, filter, sort."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input, Static
from textual.widgets.data_table import ColumnKey

from tests.app.support import app_for, plain, wait_until
from tests.endpoint import Endpoint
from tests.local.pipelines import (
    approval,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_approval_token,
    wait_status,
)
from tui.app.app import PipetopApp
from tui.app.messages import OpenPipeline
from tui.app.screens.history import HistoryScreen
from tui.app.screens.pipeline import PipelineScreen
from tui.app.screens.pipelines import COLUMNS, PipelinesScreen
from tui.app.widgets.pipeline_table import PipelineTable

SIZE = (120, 36)


def create_three(endpoint: Endpoint) -> Any:
    """green succeeds, broken fails in Test, gated waits for approval."""
    upload_source(endpoint, summary="Fix the header")
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline("green", stage("Build", commands("Compile", ["echo built"])))
    )
    client.create_pipeline(
        pipeline=pipeline("broken", stage("Test", commands("Unit", ["echo failing", "exit 3"])))
    )
    client.create_pipeline(pipeline=pipeline("gated", stage("Approve", approval("Release"))))
    for name, status in (("green", "Succeeded"), ("broken", "Failed"), ("gated", "InProgress")):
        wait_status(client, name, latest_execution_id(client, name), status)
    return client


def table(app: PipetopApp) -> PipelineTable:
    return app.screen.query_one(PipelineTable)


def row(app: PipetopApp, name: str) -> dict[str, str]:
    cells = table(app).get_row(name)
    return {key: plain(cell) for (key, _), cell in zip(COLUMNS, cells, strict=True)}


def summary(app: PipetopApp) -> str:
    widget = app.screen.query_one("#summary", Static)
    return plain(widget.render())


def statuses(app: PipetopApp) -> dict[str, str]:
    return {key: row(app, key)["status"] for key in table(app).row_keys}


def settled(app: PipetopApp) -> bool:
    if not isinstance(app.screen, PipelinesScreen) or table(app).row_count != 3:
        return False
    return statuses(app) == {
        "broken": "✗ Failed",
        "gated": "◆ Awaiting approval",
        "green": "✓ Succeeded",
    }


async def test_every_pipeline_shows_with_status_stage_revision_times_and_counts(
    endpoint: Endpoint,
) -> None:
    create_three(endpoint)
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: settled(app), what="three settled rows")
        await wait_until(pilot, lambda: "1 failed" in summary(app))
        assert table(app).row_keys == ["broken", "gated", "green"]
        broken = row(app, "broken")
        assert broken["stage"] == "Test"
        assert broken["revision"].endswith(" Fix the header")
        # The engine's clock stood still: every execution started at its start, and the
        # app's fixed clock is five minutes later.
        assert broken["started"] == "5m ago"
        assert broken["duration"] == "0s"
        assert row(app, "gated")["stage"] == "Approve"
        # A running execution counts its duration up to now.
        assert row(app, "gated")["duration"] == "5m"
        assert row(app, "green")["stage"] == ""
        text = summary(app)
        assert "3 pipelines" in text
        assert "0 running" in text
        assert "1 failed" in text
        assert "1 awaiting approval" in text
        assert "sort: name" in text


async def test_filter_narrows_as_you_type_and_escape_clears(endpoint: Endpoint) -> None:
    create_three(endpoint)
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: settled(app))
        filter_input = app.screen.query_one("#filter", Input)
        assert not filter_input.display
        await pilot.press("slash")
        assert filter_input.display
        assert app.focused is filter_input
        await pilot.press("g")
        assert table(app).row_keys == ["gated", "green"]
        await pilot.press("r")
        assert table(app).row_keys == ["green"]
        assert "filter “gr”: 1 of 3" in summary(app)
        # Words match the status and stage too, every word must match.
        await pilot.press("backspace", "backspace", *"failed")
        assert table(app).row_keys == ["broken"]
        await pilot.press("space", *"test")
        assert table(app).row_keys == ["broken"]
        await pilot.press("space", *"zzz")
        assert table(app).row_keys == []
        assert "0 of 3" in summary(app)
        await pilot.press("escape")
        assert table(app).row_keys == ["broken", "gated", "green"]
        assert not filter_input.display
        assert app.focused is table(app)


async def test_the_filter_box_keeps_its_width_and_scrolls_a_long_filter(
    endpoint: Endpoint,
) -> None:
    """The box's virtual width stays its visible width while the text fits (a change of it
    lays the whole screen out again); a text longer than the box still scrolls to its end."""
    create_three(endpoint)
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: settled(app))
        await pilot.press("slash")
        box = app.screen.query_one("#filter", Input)
        await pilot.press("g")
        width = box.virtual_size.width
        assert width == box.scrollable_content_region.width
        await pilot.press(*"ate")
        assert box.virtual_size.width == width
        assert table(app).row_keys == ["gated"]
        long = "gated " + "x" * width + "yz"
        box.value = long[:-1]  # as if typed: the last keystroke is a real one
        box.cursor_position = len(box.value)
        await pilot.press("z")
        await pilot.pause()
        assert box.value == long
        assert box.virtual_size.width > width
        assert box.scroll_x > 0
        shown = "".join(segment.text for segment in box.render_line(0))
        assert shown.rstrip().endswith("yz")


async def test_enter_in_the_filter_keeps_it_and_goes_back_to_the_table(
    endpoint: Endpoint,
) -> None:
    create_three(endpoint)
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: settled(app))
        await pilot.press("slash", *"gat", "enter")
        assert app.focused is table(app)
        assert table(app).row_keys == ["gated"]
        assert table(app).cursor_key == "gated"


async def test_sort_cycles_through_name_status_and_recency(endpoint: Endpoint) -> None:
    upload_source(endpoint, summary="Fix the header")
    client = endpoint.client("codepipeline")
    # Started one after the other on the engine's clock: gated first, green last.
    client.create_pipeline(pipeline=pipeline("gated", stage("Approve", approval("Release"))))
    endpoint.advance(10)
    client.create_pipeline(pipeline=pipeline("broken", stage("Test", commands("Unit", ["exit 3"]))))
    endpoint.advance(10)
    client.create_pipeline(pipeline=pipeline("green", stage("Build", commands("C", ["true"]))))
    for name in ("broken", "green"):
        wait_status(client, name, latest_execution_id(client, name))
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: settled(app))
        assert table(app).row_keys == ["broken", "gated", "green"]
        await pilot.press("s")
        assert "sort: status" in summary(app)
        assert table(app).row_keys == ["gated", "broken", "green"]
        await pilot.press("s")
        assert "sort: most recent" in summary(app)
        assert table(app).row_keys == ["green", "broken", "gated"]
        await pilot.press("s")
        assert "sort: name" in summary(app)
        assert table(app).row_keys == ["broken", "gated", "green"]


async def test_the_cursor_follows_its_pipeline_across_sorts(endpoint: Endpoint) -> None:
    create_three(endpoint)
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: settled(app))
        await pilot.press("j", "j")
        assert table(app).cursor_key == "green"
        await pilot.press("s")
        assert table(app).row_keys[-1] == "green"
        assert table(app).cursor_key == "green"
        await pilot.press("k")
        assert table(app).cursor_key == "broken"


async def test_enter_opens_the_pipeline_screen(endpoint: Endpoint) -> None:
    create_three(endpoint)
    app = app_for(endpoint)
    messages: list[object] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await wait_until(pilot, lambda: settled(app))
        await pilot.press("j", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelineScreen))
        assert isinstance(app.screen, PipelineScreen)
        assert app.screen.pipeline_name == "gated"
        # One message, handled on its way up by the screen and then the app.
        opened = {id(m): m.pipeline for m in messages if isinstance(m, OpenPipeline)}
        assert list(opened.values()) == ["gated"]
        await pilot.press("escape")
        assert isinstance(app.screen, PipelinesScreen)
        assert table(app).cursor_key == "gated"


async def test_a_row_changes_in_place_when_its_pipeline_changes(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    marker = tmp_path / "go"
    upload_source(endpoint, summary="Fix the header")
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "slow",
            stage("Build", commands("Wait", [f"while [ ! -f {marker} ]; do sleep 0.05; done"])),
        )
    )
    client.create_pipeline(pipeline=pipeline("other", stage("Approve", approval("Release"))))
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: table(app).row_count == 2 and row(app, "slow")["status"] == "● In progress",
        )
        assert row(app, "slow")["stage"] == "Build"
        shown_before = table(app).row_keys
        marker.write_text("")
        await wait_until(pilot, lambda: row(app, "slow")["status"] == "✓ Succeeded")
        assert row(app, "slow")["stage"] == ""
        assert table(app).row_keys == shown_before
        assert "0 running" in summary(app)


async def test_a_changed_row_moves_in_the_sort_and_the_filter_and_resizes_its_column(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    """A change of one row redoes the sort, the filter and the column widths only as far as
    that row changes them (the screen keeps them between changes): each must still follow."""
    marker = tmp_path / "go"
    upload_source(endpoint, summary="Fix the header")
    client = endpoint.client("codepipeline")
    waiting = f"while [ ! -f {marker} ]; do sleep 0.05; done"
    client.create_pipeline(
        pipeline=pipeline("z-slow", stage("PackageAndShipIt", commands("W", [waiting])))
    )
    client.create_pipeline(pipeline=pipeline("b-gated", stage("Approve", approval("Release"))))
    client.create_pipeline(pipeline=pipeline("c-green", stage("Build", commands("C", ["true"]))))
    wait_status(client, "c-green", latest_execution_id(client, "c-green"))
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: (
                table(app).row_count == 3
                and row(app, "z-slow")["status"] == "● In progress"
                and row(app, "c-green")["status"] == "✓ Succeeded"
                and row(app, "b-gated")["status"] == "◆ Awaiting approval"
            ),
        )
        stage_width = table(app).columns[ColumnKey("stage")].width
        assert stage_width == len("PackageAndShipIt")
        await pilot.press("s")  # by status: awaiting approval, running, ..., succeeded
        assert table(app).row_keys == ["b-gated", "z-slow", "c-green"]
        await pilot.press("slash", *"progress")
        assert table(app).row_keys == ["z-slow"]
        marker.write_text("")
        # The filter drops the row whose words changed; the sort moves it among the
        # succeeded, by name; the stage column shrinks to what the rows still show.
        await wait_until(pilot, lambda: table(app).row_keys == [], what="the row filtered out")
        assert "0 of 3" in summary(app)
        await pilot.press("escape")
        assert row(app, "z-slow")["status"] == "✓ Succeeded"
        assert table(app).row_keys == ["b-gated", "c-green", "z-slow"]
        assert table(app).columns[ColumnKey("stage")].width < stage_width
        await pilot.press("slash", *"succeeded")
        assert table(app).row_keys == ["c-green", "z-slow"]


async def test_under_another_screen_the_list_holds_its_rows_until_it_is_back(
    endpoint: Endpoint,
) -> None:
    """A change while the history screen covers the list reaches the list's rows when the
    list is shown again, not before (Textual redraws the whole covering screen whenever
    the one beneath draws)."""
    client = create_three(endpoint)
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: settled(app))
        list_screen = app.screen
        assert isinstance(list_screen, PipelinesScreen)
        await pilot.press("j", "h")  # gated's history
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        token = wait_approval_token(client, "gated", "Approve", "Release")
        client.put_approval_result(
            pipelineName="gated",
            stageName="Approve",
            actionName="Release",
            token=token,
            result={"status": "Approved", "summary": "by the test"},
        )
        await wait_until(
            pilot,
            lambda: (
                (view := app.workspace.pipeline("gated")) is not None and view.status == "Succeeded"
            ),
            what="the watcher sees gated succeed",
        )
        await pilot.pause(0.3)
        assert plain(list_screen.table.get_row("gated")[1]) == "◆ Awaiting approval"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is list_screen)
        await pilot.pause()
        assert row(app, "gated")["status"] == "✓ Succeeded"
        assert "0 awaiting approval" in summary(app)


async def test_an_empty_account_says_so(endpoint: Endpoint) -> None:
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        assert "Loading pipelines" in summary(app)
        await wait_until(pilot, lambda: "0 pipelines" in summary(app), what="the empty list")
        assert table(app).row_count == 0


async def test_scrolling_tells_the_watcher_which_rows_are_on_screen(endpoint: Endpoint) -> None:
    client = endpoint.client("codepipeline")
    names = [f"service-{index:02d}" for index in range(60)]
    for name in names:
        client.create_pipeline(pipeline=pipeline(name, stage("Approve", approval("Release"))))
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: table(app).row_count == 60, what="60 rows")
        scheduler = app.watcher.scheduler
        await wait_until(pilot, lambda: scheduler.on_screen[:1] == ("service-00",), what="top")
        assert "service-59" not in scheduler.on_screen
        await pilot.press("ctrl+end")
        await wait_until(pilot, lambda: "service-59" in scheduler.on_screen, what="the bottom rows")
        assert "service-00" not in scheduler.on_screen
        shown = scheduler.on_screen
        assert len(shown) <= SIZE[1]
        assert shown == tuple(names[-len(shown) :])
