"""Snapshots of the control dialogs, as a user sees them on a 120x36 terminal: the approval
dialog with a summary typed, its confirmation (and the production one), the pending-approvals
view, the stop, retry, release and transition dialogs. Each is opened with keys on the
pipeline screen, against the real endpoint, as tests/app/test_controls.py does.

Deterministic by construction (as tests/app/test_snapshots.py): the endpoint's ManualClock
stands still unless a test moves it, the app's clock is fixed five minutes after its start,
times of day are in UTC, nothing animates, no notification is shown, the cursor of a text
field does not blink, and `mask_ids` masks what the engine draws at random (execution ids,
approval tokens, clientRequestTokens, S3 version ids, the endpoint's port). Temporary paths
never reach the screen. Update with `--snapshot-update` after an intended change, and look
at the pictures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from tests.app.screen_support import screen_text, until
from tests.app.support import app_for, app_settings
from tests.app.test_controls import (
    dialog,
    focus,
    gated,
    open_pipeline,
    press_button,
    released,
    rows,
    status_of,
    waiting_for,
)
from tests.endpoint import Endpoint
from tests.local.pipelines import (
    action_state,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tui.app.app import PipetopApp
from tui.app.screens.approval import ApprovalDialog
from tui.app.screens.approvals import ApprovalsScreen
from tui.app.screens.confirm import ConfirmScreen
from tui.app.screens.release import ReleaseDialog
from tui.app.screens.retry import RetryDialog
from tui.app.screens.stop import StopDialog
from tui.app.screens.transition import TransitionDialog
from tui.app.settings import NotifySettings
from tui.app.widgets.cli_equivalent import CliEquivalent
from tui.app.widgets.masking import mask

SIZE = (120, 36)
QUIET = NotifySettings(app=False, bell=False, desktop=False)


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times of day in UTC, whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def snapshot_app(endpoint: Endpoint, **settings: Any) -> PipetopApp:
    return app_for(endpoint, app_settings(mask_ids=True, notify=QUIET, **settings))


async def steady(pilot: Any) -> None:
    """Every text field's cursor shown without blinking (a blink is caught at random), then
    one more frame."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def approval_with_details(endpoint: Endpoint) -> None:
    gated(
        endpoint,
        "web-app",
        CustomData="Check the staging site first: the greeting page must escape user input",
        ExternalEntityLink="https://staging.example.com/greeting",
    )


async def open_approval(app: PipetopApp, pilot: Any, summary: str) -> ApprovalDialog:
    await open_pipeline(app, pilot, "web-app", 3)
    await until(pilot, lambda: rows(app)["Release"].has_class("-awaiting"))
    await focus(app, pilot, "Release")
    await pilot.press("a")
    answer = await dialog(pilot, app, ApprovalDialog)
    await until(pilot, lambda: answer.link is not None and answer.token is not None)
    await pilot.press(*summary)
    return answer


def test_the_approval_dialog_with_a_summary(snap_compare: Any, endpoint: Endpoint) -> None:
    approval_with_details(endpoint)
    app = snapshot_app(endpoint)

    async def run(pilot: Any) -> None:
        answer = await open_approval(app, pilot, "Staging checked, ship it")
        assert answer.token is not None
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_the_approval_confirmation(snap_compare: Any, endpoint: Endpoint) -> None:
    approval_with_details(endpoint)
    app = snapshot_app(endpoint)

    async def run(pilot: Any) -> None:
        answer = await open_approval(app, pilot, "Staging checked, ship it")
        await press_button(pilot, answer, "approve")
        await dialog(pilot, app, ConfirmScreen)
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_the_rejection_confirmation_on_production(snap_compare: Any, endpoint: Endpoint) -> None:
    approval_with_details(endpoint)
    app = snapshot_app(endpoint, production=True)

    async def run(pilot: Any) -> None:
        answer = await open_approval(app, pilot, "The greeting page is broken")
        await press_button(pilot, answer, "reject")
        await dialog(pilot, app, ConfirmScreen)
        await pilot.press(*"web")
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_the_pending_approvals_of_two_pipelines(snap_compare: Any, endpoint: Endpoint) -> None:
    gated(endpoint, "web-app")
    # The second waits two minutes less: the order (longest waiting first) is fixed.
    endpoint.advance(120)
    gated(endpoint, "payments-api")
    app = snapshot_app(endpoint)

    async def run(pilot: Any) -> None:
        await until(pilot, lambda: app.workspace.awaiting_approval == 2)
        await pilot.press("A")
        view = await dialog(pilot, app, ApprovalsScreen)
        # The view reads the declarations it lacks for the approvals' timeouts (60 minutes).
        await until(pilot, lambda: all(a.timeout_known for a in view.approvals))
        table = view.query_one("#approvals", DataTable)
        await until(pilot, lambda: table.row_count == 2)
        assert [a.pipeline for a in view.approvals] == ["web-app", "payments-api"]
        assert [table.get_row_at(row)[-2:] for row in (0, 1)] == [["5m", "55m"], ["3m", "57m"]]
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_the_stop_dialog(snap_compare: Any, endpoint: Endpoint, tmp_path: Path) -> None:
    marker = tmp_path / "go"
    upload_source(endpoint, summary="Add the greeting page")
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "web-app",
            stage("Build", commands("Compile", [waiting_for(marker)])),
            stage("Deploy", commands("Publish", ["true"])),
        )
    )
    app = snapshot_app(endpoint)

    async def run(pilot: Any) -> None:
        await open_pipeline(app, pilot, "web-app", 3)
        await until(pilot, lambda: status_of(app, "Compile") == "InProgress")
        await focus(app, pilot, "Compile")
        await pilot.press("x")
        stop = await dialog(pilot, app, StopDialog)
        await pilot.press("down", "enter")
        stop.query_one("#stop-reason", Input).value = "The build uses the wrong base image"
        await steady(pilot)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run)
    finally:
        marker.write_text("")


def test_the_retry_dialog(snap_compare: Any, endpoint: Endpoint) -> None:
    # A failure whose message names no temporary path (the screen shows it).
    upload_source(endpoint, summary="Escape user input in the greeting page")
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "payments-api",
            stage(
                "Test",
                commands("Unit", ["true"]),
                commands("Check", ["echo 'FAILED test_greeting' >&2", "exit 1"]),
            ),
        )
    )
    wait_status(client, "payments-api", latest_execution_id(client, "payments-api"), "Failed")
    app = snapshot_app(endpoint)

    async def run(pilot: Any) -> None:
        await open_pipeline(app, pilot, "payments-api", 3)
        await until(pilot, lambda: status_of(app, "Check") == "Failed")
        await focus(app, pilot, "Check")
        await pilot.press("r")
        await dialog(pilot, app, RetryDialog)
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_the_release_dialog(snap_compare: Any, endpoint: Endpoint) -> None:
    released(endpoint)
    app = snapshot_app(endpoint)

    async def run(pilot: Any) -> None:
        await open_pipeline(app, pilot, "web", 2)
        await until(pilot, lambda: status_of(app, "Compile") == "Succeeded")
        await pilot.press("s")
        release = await dialog(pilot, app, ReleaseDialog)
        await until(pilot, lambda: release.source_actions == ["Fetch"])
        await pilot.pause()
        release.query_one("#release-var-0", Input).value = "staging"
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


def test_the_transition_dialog_with_a_reason(snap_compare: Any, endpoint: Endpoint) -> None:
    upload_source(endpoint, summary="Add the greeting page")
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "web-app",
            stage("Build", commands("Compile", ["true"])),
            stage("Deploy", commands("Publish", ["true"])),
        )
    )
    wait_status(client, "web-app", latest_execution_id(client, "web-app"), "Succeeded")
    app = snapshot_app(endpoint)

    async def run(pilot: Any) -> None:
        await open_pipeline(app, pilot, "web-app", 3)
        await until(pilot, lambda: status_of(app, "Publish") == "Succeeded")
        await focus(app, pilot, "Publish")
        await pilot.press("t")
        await dialog(pilot, app, TransitionDialog)
        await pilot.press(*"Freeze for the release review (ticket 42)")
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run)


# Masked on screen only -------------------------------------------------------------------------


async def test_masked_ids_stay_off_the_screen_and_the_real_ones_are_sent_and_copied(
    endpoint: Endpoint,
) -> None:
    approval_with_details(endpoint)
    client = endpoint.client("codepipeline")
    execution = latest_execution_id(client, "web-app")
    app = snapshot_app(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        answer = await open_approval(app, pilot, "ship it")
        token = answer.token
        assert token is not None
        port = endpoint.url.rsplit(":", 1)[1]
        secrets = (token, execution, execution[:8], f":{port}")

        def leaked() -> list[str]:
            text = screen_text(app)
            return [secret for secret in secrets if secret in text]

        assert "Manual approval" in screen_text(app)
        assert "--token " + "•" * len(token) in screen_text(app).replace("\n", " ")
        assert leaked() == []
        # The widget keeps the real command: the copy is the command that works.
        command = answer.query_one("#control-command", CliEquivalent).command
        assert f"--token {token}" in command
        assert endpoint.url in command
        await press_button(pilot, answer, "copy")
        assert app.clipboard == command
        await press_button(pilot, answer, "approve")
        confirmation = await dialog(pilot, app, ConfirmScreen)
        assert "Approve Release in web-app / Approve" in screen_text(app)
        assert leaked() == []
        assert execution in confirmation.decision
        assert f"--token {token}" in confirmation.command
        await pilot.press("enter")
        await until(pilot, lambda: answer not in app.screen_stack)
    state = action_state(client, "web-app", "Approve", "Release")["latestExecution"]
    assert state["status"] == "Succeeded"
    assert state["summary"] == "ship it"


async def test_a_refusal_naming_the_execution_is_masked(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline("web-app", stage("Build", commands("Compile", ["true"])))
    )
    execution = latest_execution_id(client, "web-app")
    wait_status(client, "web-app", execution, "Succeeded")
    app = snapshot_app(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "web-app", 2)
        stage_view = app.workspace.pipelines["web-app"].stage("Build")
        assert stage_view is not None
        assert stage_view.execution_id == execution
        # The stage succeeded: AWS refuses the retry, and its message names the execution.
        retry = RetryDialog("web-app", stage_view, app.watcher)
        await app.push_screen(retry)
        await press_button(pilot, retry, "retry")
        await dialog(pilot, app, ConfirmScreen)
        await pilot.press("enter")
        await until(pilot, lambda: retry.problem is not None)
        assert retry.problem is not None
        said = str(retry.query_one("#control-problem", Static).render())
        assert "StageNotRetryable" in said
        assert execution in retry.problem.detail
        assert mask(execution) in said
        assert execution not in said
        assert execution not in screen_text(app)
