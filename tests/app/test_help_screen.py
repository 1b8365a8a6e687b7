"""The help screen lists the keys from the bindings themselves: per screen, remapped keys
shown as remapped, unavailable ones marked, on the real app against the real endpoint."""

from __future__ import annotations

from pathlib import Path

from tests.app.screen_support import SIZE, app_on, in_thread, screen_text, until
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
from tui.app.messages import ActionRef
from tui.app.screens.help import HelpScreen, KeyGroup, KeyRow
from tui.app.screens.history import HistoryScreen
from tui.app.screens.logs import LogsScreen
from tui.app.screens.pipeline import PipelineScreen
from tui.app.screens.pipelines import PipelinesScreen
from tui.model.projection import ActionView


def help_screen(app: PipetopApp) -> HelpScreen:
    screen = app.screen
    assert isinstance(screen, HelpScreen)
    return screen


def group(screen: HelpScreen, title: str) -> KeyGroup:
    return next(g for g in screen.groups if g.title == title)


def row(found: KeyGroup, binding_id: str) -> KeyRow:
    return next(r for r in found.rows if r.binding_id == binding_id)


async def test_help_lists_the_screen_and_app_keys_from_their_bindings(
    endpoint: Endpoint,
) -> None:
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, PipelinesScreen))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = help_screen(app)
        assert shown.target is app.screen_stack[-2]
        titles = [g.title for g in shown.groups]
        assert "Pipelines screen" in titles
        assert titles[-1] == "Everywhere"
        screen_keys = group(shown, "Pipelines screen")
        for binding_id, key in (("filter", "/"), ("sort", "s"), ("history", "h")):
            assert row(screen_keys, binding_id).keys == (key,)
        everywhere = group(shown, "Everywhere")
        assert row(everywhere, "quit").keys == ("q",)
        assert row(everywhere, "help").keys == ("?",)
        text = screen_text(app)
        assert "Pipelines screen" in text
        assert "Everywhere" in text
        assert "Sort" in text
        assert "escape or ? closes" in text

        await pilot.press("escape")
        assert isinstance(app.screen, PipelinesScreen)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("question_mark")
        assert isinstance(app.screen, PipelinesScreen)


async def test_remapped_keys_show_as_remapped(endpoint: Endpoint) -> None:
    app = app_on(endpoint, keymap={"sort": "o", "help": "f1", "filter": "f,ctrl+f"})
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, PipelinesScreen))
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, PipelinesScreen), "? no longer opens help"
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = help_screen(app)
        screen_keys = group(shown, "Pipelines screen")
        assert row(screen_keys, "sort").keys == ("o",)
        assert row(screen_keys, "filter").keys == ("f", "^f")
        assert row(group(shown, "Everywhere"), "help").keys == ("f1",)
        assert all(r.keys != ("s",) for r in screen_keys.rows)


async def test_logs_screen_keys_with_the_focused_log_and_what_is_not_available_now(
    endpoint: Endpoint,
) -> None:
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        app.open_logs(ActionRef("any", "Approve", "Gate", None, ActionView(name="Gate")))
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = help_screen(app)
        assert [g.title for g in shown.groups] == [
            "Focused: Log view",
            "Logs screen",
            "Everywhere",
        ]
        logs = group(shown, "Logs screen")
        assert row(logs, "follow").keys == ("f", "end")
        assert row(logs, "wrap").keys == ("w",)
        assert row(logs, "search").keys == ("/",)
        # No search yet: next/previous exist but do nothing now; following already.
        assert not row(logs, "search-next").available
        assert not row(logs, "follow").available
        assert row(logs, "wrap").available
        assert "(not now)" in screen_text(app)
        log_keys = group(shown, "Focused: Log view")
        assert any(r.keys == ("pgup",) for r in log_keys.rows)


async def test_help_over_history_and_pipeline_screens(endpoint: Endpoint, tmp_path: Path) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(pipeline=pipeline("web", stage("Build", commands("Run", ["true"]))))
    await in_thread(wait_status, client, "web", latest_execution_id(client, "web"), "Succeeded")
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.workspace.pipeline("web") is not None)
        app.open_pipeline("web")
        await until(pilot, lambda: isinstance(app.screen, PipelineScreen))
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = help_screen(app)
        history = group(shown, "History screen")
        assert row(history, "load-more").keys == ("m",)
        assert row(history, "logs").keys == ("l",)
        assert group(shown, "Focused: Execution table")
        await pilot.press("escape", "escape")
        await until(pilot, lambda: isinstance(app.screen, PipelineScreen))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        pipeline_keys = group(help_screen(app), "Pipeline screen")
        assert row(pipeline_keys, "logs").keys == ("l",)
        assert row(pipeline_keys, "artifacts").keys == ("o",)
