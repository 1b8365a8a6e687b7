"""Snapshots of the two main screens, as a user sees them on a 120x36 terminal.

Deterministic by construction: the endpoint's ManualClock stands still (every timestamp is
its start), the app's clock is fixed five minutes later, times of day are shown in UTC, the
ids the engine draws at random (execution ids, S3 version ids, the endpoint's port) are
masked by the test settings, and nothing animates. Update with `--snapshot-update` after an
intended change, and look at the report it writes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.app.support import app_for, app_settings, plain, wait_until
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
from tui.app.screens.pipeline import PipelineScreen
from tui.app.widgets.action_row import ActionRow
from tui.app.widgets.pipeline_table import PipelineTable

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times of day in UTC, whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def create_pipelines(endpoint: Endpoint) -> None:
    upload_source(endpoint, summary="Escape user input in the greeting page")
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "web-app",
            stage("Build", commands("Compile", ["echo built"])),
            stage(
                "Test",
                commands("UnitTests", ["echo ok"]),
                commands("Lint", ["echo ok"]),
            ),
            stage("Approve", approval("ReleaseApproval", timeout_minutes=1440)),
            stage("Deploy", commands("Publish", ["echo shipped"])),
        )
    )
    client.create_pipeline(
        pipeline=pipeline(
            "payments-api",
            stage("Build", commands("Compile", ["echo built"])),
            stage("Test", commands("UnitTests", ["echo 'FAILED test_greeting' >&2", "exit 1"])),
        )
    )
    client.create_pipeline(
        pipeline=pipeline("docs-site", stage("Build", commands("Render", ["echo rendered"])))
    )
    client.disable_stage_transition(
        pipelineName="web-app",
        stageName="Deploy",
        transitionType="Inbound",
        reason="Release freeze until the audit",
    )
    wait_approval_token(client, "web-app", "Approve", "ReleaseApproval")
    for name, status in (("payments-api", "Failed"), ("docs-site", "Succeeded")):
        wait_status(client, name, latest_execution_id(client, name), status)


def snapshot_app(endpoint: Endpoint) -> PipetopApp:
    return app_for(endpoint, app_settings(mask_ids=True))


def rows_settled(app: PipetopApp) -> bool:
    table = app.screen.query_one(PipelineTable)
    if table.row_count != 3:
        return False
    statuses = {key: plain(table.get_row(key)[1]) for key in table.row_keys}
    return statuses == {
        "docs-site": "✓ Succeeded",
        "payments-api": "✗ Failed",
        "web-app": "◆ Awaiting approval",
    }


def test_the_pipelines_list(snap_compare: Any, endpoint: Endpoint) -> None:
    create_pipelines(endpoint)
    app = snapshot_app(endpoint)

    async def settle(pilot: Any) -> None:
        await wait_until(pilot, lambda: rows_settled(app) and app.watch_status.account)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_the_pipeline_screen(snap_compare: Any, endpoint: Endpoint) -> None:
    create_pipelines(endpoint)
    app = snapshot_app(endpoint)

    def shown(name: str) -> str | None:
        for row in app.screen.query(ActionRow):
            if row.action_name == name and row.action is not None:
                return row.action.status
        return None

    async def open_web_app(pilot: Any) -> None:
        await wait_until(pilot, lambda: rows_settled(app) and app.watch_status.account)
        await pilot.press("j", "j", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PipelineScreen))
        await wait_until(pilot, lambda: shown("ReleaseApproval") == "InProgress")
        await wait_until(pilot, lambda: shown("Lint") == "Succeeded")
        await wait_until(pilot, lambda: app.focused is not None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_web_app)
