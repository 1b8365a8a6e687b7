"""The controls of the pipeline screen against a real endpoint: each dialog is driven with keys
and the pipeline's resulting state is read back through boto3 (approved with the summary,
rejected, retried in each mode, stopped in each mode, transitions, releases, rollback), with
the refusals (a stale approval token, AWS's own errors, a bad transition reason), the double
keypress of a release, production confirmations and read-only mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from textual.screen import Screen
from textual.widgets import Button, Input, RadioSet, Static

from tests.app.screen_support import in_thread, until
from tests.app.support import app_for, app_settings
from tests.endpoint import Endpoint
from tests.faults import calls, injected, mutating, reset_calls
from tests.local.pipelines import (
    action_executions,
    action_state,
    approval,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    stage_state,
    upload_source,
    wait_approval_token,
    wait_status,
)
from tui.app.app import PipetopApp
from tui.app.screens.approval import ApprovalDialog
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.control import ControlDialog
from tui.app.screens.pipeline import PipelineScreen
from tui.app.widgets.action_row import ActionRow
from tui.app.widgets.cli_equivalent import CliEquivalent

SIZE = (120, 36)
D = TypeVar("D", bound=Screen[Any])


def waiting_for(marker: Path) -> str:
    return f"while [ ! -f {marker} ]; do sleep 0.05; done"


def rows(app: PipetopApp) -> dict[str, ActionRow]:
    """The action rows of the pipeline screen (under any dialog on top of it)."""
    page = next((s for s in app.screen_stack if isinstance(s, PipelineScreen)), None)
    return {} if page is None else {row.action_name: row for row in page.query(ActionRow)}


def status_of(app: PipetopApp, action: str) -> str | None:
    row = rows(app).get(action)
    return None if row is None or row.action is None else row.action.status


async def open_pipeline(app: PipetopApp, pilot: Any, name: str, actions: int) -> PipelineScreen:
    await until(pilot, lambda: name in app.workspace.pipelines)
    app.open_pipeline(name)
    await until(
        pilot, lambda: isinstance(app.screen, PipelineScreen) and len(rows(app)) == actions
    )
    await pilot.pause()
    assert isinstance(app.screen, PipelineScreen)
    return app.screen


async def focus(app: PipetopApp, pilot: Any, action: str) -> None:
    row = rows(app)[action]
    row.focus()
    await until(pilot, lambda: app.focused is row)


async def dialog(pilot: Any, app: PipetopApp, kind: type[D]) -> D:
    screen = await until(pilot, lambda: app.screen if isinstance(app.screen, kind) else None)
    await pilot.pause()
    return screen


def text_of(screen: Screen[Any], selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def confirm(pilot: Any, app: PipetopApp, *, expect: str = "") -> ConfirmScreen:
    """Wait for the confirmation, check it restates `expect`, and confirm with enter."""
    confirmation = await dialog(pilot, app, ConfirmScreen)
    assert expect in confirmation.decision
    await pilot.press("enter")
    return confirmation


async def press_button(pilot: Any, screen: Screen[Any], button: str) -> None:
    screen.query_one(f"#{button}", Button).press()
    await pilot.pause()


async def closed(pilot: Any, app: PipetopApp, dialog_screen: ControlDialog) -> None:
    await until(pilot, lambda: dialog_screen not in app.screen_stack)


# Approvals -------------------------------------------------------------------------------------


def gated(endpoint: Endpoint, name: str = "gated", **approval_config: str) -> tuple[Any, str]:
    upload_source(endpoint, summary="Escape user input")
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            name,
            stage("Build", commands("Compile", ["true"])),
            stage("Approve", approval("Release", timeout_minutes=60, **approval_config)),
        )
    )
    token = wait_approval_token(client, name, "Approve", "Release")
    return client, token


async def test_approve_shows_everything_and_answers_with_the_summary(endpoint: Endpoint) -> None:
    client, _ = gated(
        endpoint, CustomData="Check the staging site", ExternalEntityLink="https://example.com/r"
    )
    execution = latest_execution_id(client, "gated")
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        page = await open_pipeline(app, pilot, "gated", 3)
        await until(pilot, lambda: rows(app)["Release"].has_class("-awaiting"))
        # The only pending approval: `a` opens it wherever the focus is.
        await focus(app, pilot, "Compile")
        assert page.check_action("approve", ()) is True
        await pilot.press("a")
        answer = await dialog(pilot, app, ApprovalDialog)
        await until(pilot, lambda: answer.link is not None)
        shown = " ".join(str(s.render()) for s in answer.query(".control-field").results(Static))
        for expected in (
            "gated",
            "Approve · action Release",
            execution,
            "Escape user input",
            "Check the staging site",
            "https://example.com/r",
            "times out in 55m",
        ):
            assert expected in shown, expected
        await pilot.press(*"ship it")
        command = answer.query_one("#control-command", CliEquivalent).command
        assert command.startswith(f"aws --endpoint-url {endpoint.url} ")
        assert "put-approval-result --pipeline-name gated --stage-name Approve" in command
        assert "ship it" in command
        await press_button(pilot, answer, "approve")
        confirmation = await confirm(
            pilot, app, expect=f'Approve Release in gated / Approve\nfor execution {execution}'
        )
        assert 'with the summary "ship it"' in confirmation.decision
        assert "--token" in confirmation.command
        await closed(pilot, app, answer)
    state = action_state(client, "gated", "Approve", "Release")["latestExecution"]
    assert state["status"] == "Succeeded"
    assert state["summary"] == "ship it"
    assert wait_status(client, "gated", execution) == "Succeeded"


async def test_reject_on_production_needs_the_pipeline_name_typed(endpoint: Endpoint) -> None:
    client, _ = gated(endpoint)
    execution = latest_execution_id(client, "gated")
    app = app_for(endpoint, app_settings(production=True))
    async with app.run_test(size=SIZE) as pilot:
        assert app.has_class("-production")
        await open_pipeline(app, pilot, "gated", 3)
        await until(pilot, lambda: rows(app)["Release"].has_class("-awaiting"))
        await focus(app, pilot, "Release")
        await pilot.press("a")
        answer = await dialog(pilot, app, ApprovalDialog)
        await pilot.press(*"not today")
        await press_button(pilot, answer, "reject")
        confirmation = await dialog(pilot, app, ConfirmScreen)
        assert confirmation.decision.startswith("Reject Release in gated / Approve")
        go = confirmation.query_one("#confirm", Button)
        assert go.disabled
        # Enter with a wrong name does nothing.
        await pilot.press(*"gate", "enter")
        assert app.screen is confirmation
        assert action_state(client, "gated", "Approve", "Release")["latestExecution"][
            "status"
        ] == ("InProgress")
        await pilot.press("d")
        assert not go.disabled
        await pilot.press("enter")
        await closed(pilot, app, answer)
    assert wait_status(client, "gated", execution) == "Failed"
    state = action_state(client, "gated", "Approve", "Release")["latestExecution"]
    assert state["status"] == "Failed"
    assert state["summary"] == "not today"


async def test_a_stale_token_says_so_sends_nothing_more_and_refreshes(endpoint: Endpoint) -> None:
    client, token = gated(endpoint)
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "gated", 3)
        await until(pilot, lambda: rows(app)["Release"].has_class("-awaiting"))
        await pilot.press("a")
        answer = await dialog(pilot, app, ApprovalDialog)
        assert answer.token == token
        # Another client answers between display and keypress.
        await in_thread(
            client.put_approval_result,
            pipelineName="gated",
            stageName="Approve",
            actionName="Release",
            result={"summary": "done elsewhere", "status": "Approved"},
            token=token,
        )
        reset_calls(endpoint)
        await press_button(pilot, answer, "reject")
        await confirm(pilot, app)
        await until(pilot, lambda: answer.problem is not None)
        said = text_of(answer, "#control-problem")
        assert "no longer open for the execution shown" in said
        assert answer.query_one("#approve", Button).disabled
        assert answer.query_one("#reject", Button).disabled
        assert app.screen is answer
        # Exactly the one refused answer was sent; the pipeline is re-read.
        await until(pilot, lambda: status_of(app, "Release") == "Succeeded")
        assert mutating(calls(endpoint)) == {"codepipeline.PutApprovalResult": 1}
        # Pressing again sends nothing.
        await press_button(pilot, answer, "approve")
        assert not isinstance(app.screen, ConfirmScreen)
        assert mutating(calls(endpoint)) == {"codepipeline.PutApprovalResult": 1}
        await pilot.press("escape")
        await closed(pilot, app, answer)
    state = action_state(client, "gated", "Approve", "Release")["latestExecution"]
    assert state["summary"] == "done elsewhere"
