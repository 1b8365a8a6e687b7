"""The history screen against the real endpoint: executions made by the engine from real
source revisions, listed newest first; the chosen one's actions drawn in stage panels."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from textual.message import Message

from tests.app.screen_support import SIZE, app_on, in_thread, screen_text, until
from tests.app.support import wait_until
from tests.endpoint import Endpoint
from tests.local.pipelines import (
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tui.app.app import PipetopApp
from tui.app.messages import ProblemOccurred
from tui.app.screens.history import HistoryScreen, stage_status
from tui.app.screens.logs import LogsScreen
from tui.app.widgets.action_row import ActionRow
from tui.app.widgets.stage_panel import StagePanel
from tui.model.projection import ActionView

CHECK = ["test -e ok.txt", "echo checked $(cat version.txt)"]


def make_history(
    endpoint: Endpoint, name: str, versions: list[tuple[str, bool]], *, apart: float = 0.0
) -> list[str]:
    """One execution per (summary, passes) in order, each finished before the next starts;
    returns their ids, oldest first. With `apart`, the endpoint's clock moves on that many
    seconds before each later execution, so each starts at its own time (with a clock that
    stands still they all start at once, and which one is the pipeline's latest falls to
    the order of their random ids)."""
    client = endpoint.client("codepipeline")
    ids: list[str] = []
    for number, (summary, passes) in enumerate(versions, start=1):
        if number > 1 and apart:
            endpoint.advance(apart)
        files = {"version.txt": f"v{number}\n"}
        if passes:
            files["ok.txt"] = "yes\n"
        upload_source(endpoint, files, summary=summary)
        if number == 1:
            client.create_pipeline(
                pipeline=pipeline(
                    name,
                    stage("Build", commands("Check", CHECK)),
                    stage("Deploy", commands("Ship", ["echo shipped"])),
                )
            )
            execution_id = latest_execution_id(client, name)
        else:
            execution_id = client.start_pipeline_execution(name=name)["pipelineExecutionId"]
        wait_status(client, name, execution_id)
        ids.append(execution_id)
    return ids


def history_screen(app: PipetopApp) -> HistoryScreen:
    screen = app.screen
    assert isinstance(screen, HistoryScreen)
    return screen


def fast_history(app: PipetopApp, **options: Any) -> None:
    app.register_screen("history", lambda name: HistoryScreen(name, **options))


def latest_status(app: PipetopApp, name: str) -> tuple[str, str] | None:
    view = app.workspace.pipeline(name)
    latest = view.latest_execution if view is not None else None
    return (latest.execution_id, view.status) if view is not None and latest is not None else None


def panel_statuses(screen: HistoryScreen) -> dict[str, dict[str, str | None]]:
    return {
        panel.stage_name: {
            row.action_name: row.action.status if row.action else None for row in panel.rows
        }
        for panel in screen.panels
    }


async def test_executions_are_listed_newest_first_with_their_revisions(
    endpoint: Endpoint,
) -> None:
    ids = await in_thread(
        make_history,
        endpoint,
        "web",
        [("Add the greeting", True), ("Break the check", False), ("Fix the check", True)],
    )
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_history(app)
        app.open_history("web")
        await pilot.pause()
        screen = history_screen(app)
        await until(pilot, lambda: screen.listed)
        assert screen.table.row_keys == list(reversed(ids))
        assert [e.status for e in screen.executions] == ["Succeeded", "Failed", "Succeeded"]
        text = screen_text(app)
        # Newest first, each with its trigger and source revision's first line.
        assert text.index("Fix the check") < text.index("Break the check")
        assert text.index("Break the check") < text.index("Add the greeting")
        assert "✗ Failed" in text
        assert "StartPipelineExecution" in text
        assert "CreatePipeline" in text
        assert "all 3 executions" in text
        assert "web · execution history" in text


async def test_choosing_an_execution_shows_its_own_action_runs(endpoint: Endpoint) -> None:
    ids = await in_thread(
        make_history, endpoint, "web", [("Good change", True), ("Bad change", False)]
    )
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_history(app)
        app.open_history("web")
        await pilot.pause()
        screen = history_screen(app)
        # The newest is shown first: its check failed and Deploy never ran.
        await until(pilot, lambda: screen.chosen == ids[1] and screen.shown_stages)
        await pilot.pause()
        assert panel_statuses(screen) == {
            "Source": {"Fetch": "Succeeded"},
            "Build": {"Check": "Failed"},
            "Deploy": {"Ship": None},
        }
        assert [p.stage.status for p in screen.panels] == ["Succeeded", "Failed", None]
        assert "JobFailed: Error while" in screen_text(app)

        await pilot.press("down")
        await until(pilot, lambda: screen.chosen == ids[0])
        await until(pilot, lambda: panel_statuses(screen).get("Deploy") == {"Ship": "Succeeded"})
        assert panel_statuses(screen)["Build"] == {"Check": "Succeeded"}
        text = screen_text(app)
        assert "Good change" in text.split("Execution", 1)[1]

        # Enter moves into the panels; escape back to the table, then out.
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.focused, ActionRow)
        await pilot.press("escape")
        assert app.focused is screen.table
        await pilot.press("escape")
        assert not isinstance(app.screen, HistoryScreen)


async def test_the_log_of_an_older_execution_opens_from_its_panels(endpoint: Endpoint) -> None:
    ids = await in_thread(make_history, endpoint, "web", [("One", True), ("Two", True)])
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_history(app)
        app.register_screen(
            "logs",
            lambda ref: LogsScreen(ref, poll_interval=0.05, refresh_every=0.05, drain_grace=0),
        )
        app.open_history("web")
        await pilot.pause()
        screen = history_screen(app)
        await until(pilot, lambda: screen.listed and screen.shown_stages)
        await pilot.press("down")
        await until(pilot, lambda: screen.chosen == ids[0])
        await until(pilot, lambda: panel_statuses(screen).get("Build") == {"Check": "Succeeded"})
        await pilot.press("enter")
        await pilot.pause()
        row = app.focused
        assert isinstance(row, ActionRow)
        while row.action_name != "Check":
            await pilot.press("right")
            row = app.focused
            assert isinstance(row, ActionRow)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LogsScreen))
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        assert logs.execution_id == ids[0]
        assert logs.tail is not None
        await logs.tail.wait()
        assert "checked v1" in logs.log_view.lines
        assert "checked v2" not in logs.log_view.lines


async def test_more_executions_load_on_demand_and_at_the_end_of_the_list(
    endpoint: Endpoint,
) -> None:
    ids = await in_thread(
        make_history, endpoint, "paged", [(f"change {n}", True) for n in range(1, 6)]
    )
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_history(app, page_size=2)
        app.open_history("paged")
        await pilot.pause()
        screen = history_screen(app)
        await until(pilot, lambda: screen.listed)
        assert screen.table.row_keys == [ids[4], ids[3]]
        assert "newest 2 · m: load more" in screen_text(app)

        await pilot.press("m")
        await until(pilot, lambda: len(screen.executions) == 4)
        assert screen.table.row_keys == [ids[4], ids[3], ids[2], ids[1]]

        # Reaching the last row asks for the next page by itself.
        await pilot.press("down", "down", "down")
        await until(pilot, lambda: len(screen.executions) == 5)
        assert screen.table.row_keys == list(reversed(ids))
        assert not screen.more_possible
        assert "all 5 executions" in screen_text(app)
        # The cursor stayed on its execution across the reloads.
        assert screen.table.cursor_key == ids[1]


async def test_a_new_execution_appears_at_the_top(endpoint: Endpoint) -> None:
    ids = await in_thread(make_history, endpoint, "live", [("First", True)])
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_history(app, refresh_every=0.2)
        app.open_history("live")
        await pilot.pause()
        screen = history_screen(app)
        await until(pilot, lambda: screen.listed)
        client = endpoint.client("codepipeline")
        upload_source(endpoint, {"version.txt": "v2\n", "ok.txt": "y"}, summary="Second")
        new_id = await in_thread(
            lambda: client.start_pipeline_execution(name="live")["pipelineExecutionId"]
        )
        await until(pilot, lambda: screen.table.row_keys == [new_id, ids[0]])
        await in_thread(wait_status, client, "live", new_id)
        await until(pilot, lambda: screen.executions[0].status == "Succeeded")
        assert screen.table.cursor_key == ids[0] or screen.table.cursor_key == new_id
        assert "Second" in screen_text(app)


async def test_an_unknown_pipeline_is_reported_not_raised(endpoint: Endpoint) -> None:
    messages: list[Message] = []
    app = app_on(endpoint)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        fast_history(app, refresh_every=30)
        app.open_history("nowhere")
        await pilot.pause()
        screen = history_screen(app)
        assert screen.list_worker is not None
        await screen.list_worker.wait()
        await pilot.pause()
        problems = [m.problem for m in messages if isinstance(m, ProblemOccurred)]
        assert [p.code for p in problems] == ["PipelineNotFoundException"]
        assert problems[0].title in screen_text(app)
        assert not screen.listed
        await pilot.press("escape")
        assert not isinstance(app.screen, HistoryScreen)


@pytest.mark.parametrize(
    ("statuses", "execution", "expected"),
    [
        (["Succeeded", "InProgress"], "InProgress", "InProgress"),
        (["Succeeded", "Failed", None], "Failed", "Failed"),
        (["Succeeded", "Abandoned"], "Stopped", "Stopped"),
        (["Succeeded", "Succeeded"], "Succeeded", "Succeeded"),
        ([None, None], "Succeeded", None),
        (["Succeeded", None], "InProgress", "InProgress"),
        (["Succeeded", None], "Stopped", "Stopped"),
        (["Succeeded", None], "Superseded", "Cancelled"),
    ],
)
def test_a_stage_status_follows_its_actions(
    statuses: list[Any], execution: str, expected: str | None
) -> None:
    actions = [ActionView(name=f"a{i}", status=s) for i, s in enumerate(statuses)]
    assert stage_status(actions, execution) == expected


# Snapshot ------------------------------------------------------------------------------------


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times of day in UTC, whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_snapshot_of_the_history_screen(snap_compare: Any, endpoint: Endpoint, utc: None) -> None:
    ids = make_history(
        endpoint,
        "web-app",
        [("Add the greeting page", True), ("Escape user input", False), ("Fix the escape", True)],
        apart=60,
    )
    app = app_on(endpoint)

    async def open_history(pilot: Any) -> None:
        app.register_screen("history", lambda name: HistoryScreen(name, refresh_every=60))
        await wait_until(pilot, lambda: app.watch_status.account)
        # The header's first line is the pipeline's own status: wait for the app to know it.
        await wait_until(pilot, lambda: latest_status(app, "web-app") == (ids[2], "Succeeded"))
        app.open_history("web-app")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        screen = history_screen(app)
        await wait_until(pilot, lambda: screen.listed)
        await pilot.press("down")
        await wait_until(
            pilot,
            lambda: (
                screen.chosen == ids[1]
                and panel_statuses(screen).get("Build") == {"Check": "Failed"}
            ),
        )
        await wait_until(pilot, lambda: all(p.is_mounted for p in screen.query(StagePanel)))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_history)
