"""The pipeline screen against a real endpoint: stages, actions, transitions, approvals,
live updates, focus, concurrent executions and the hooks for the logs and artifacts screens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from textual.screen import Screen
from textual.widgets import Static

from tests.app.support import ENGINE_START, app_for, plain, wait_until
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
from tui.app.messages import ActionRef, OpenLogs
from tui.app.screens.pipeline import PipelineScreen
from tui.app.widgets.action_row import ActionRow
from tui.app.widgets.execution_header import ExecutionHeader
from tui.app.widgets.stage_panel import RunGroup, StagePanel, TransitionMark

SIZE = (120, 36)


def waiting_for(marker: Path) -> str:
    return f"while [ ! -f {marker} ]; do sleep 0.05; done"


def rendered(widget: Any, width: int = 200) -> str:
    """What a widget draws, as plain text."""
    console = Console(width=width, record=True, color_system=None)
    console.print(widget.render())
    return console.export_text()


def screen(app: PipetopApp) -> PipelineScreen:
    assert isinstance(app.screen, PipelineScreen)
    return app.screen


def rows(app: PipetopApp) -> dict[str, ActionRow]:
    return {row.action_name: row for row in app.screen.query(ActionRow)}


def status_of(app: PipetopApp, action: str) -> str | None:
    row = rows(app).get(action)
    return None if row is None or row.action is None else row.action.status


async def open_pipeline(app: PipetopApp, pilot: Any, name: str, actions: int) -> None:
    await wait_until(pilot, lambda: name in app.workspace.pipelines, what=f"{name} listed")
    app.open_pipeline(name)
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, PipelineScreen) and len(rows(app)) == actions,
        what=f"{actions} action rows",
    )
    # Let the new rows be laid out (they draw to their width).
    await pilot.pause()


async def test_stages_actions_and_statuses_show_as_panels(endpoint: Endpoint) -> None:
    upload_source(endpoint, summary="Add the greeting")
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "web",
            stage("Build", commands("Compile", ["echo built"])),
            stage(
                "Test",
                commands("Unit", ["echo ok"]),
                commands("Lint", ["echo 'E501 line too long' >&2", "exit 1"]),
                commands("Report", ["echo never"], run_order=2),
            ),
        )
    )
    wait_status(client, "web", latest_execution_id(client, "web"), "Failed")
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "web", 5)
        await wait_until(pilot, lambda: status_of(app, "Lint") == "Failed")
        panels = list(app.screen.query(StagePanel))
        assert [p.border_title for p in panels] == ["Source", "Build", "Test"]
        assert [p.border_subtitle for p in panels] == ["✓ Succeeded", "✓ Succeeded", "✗ Failed"]
        assert panels[2].has_class("-error")
        # runOrder 1 holds two actions (a box saying they run in parallel), runOrder 2 one.
        groups = list(panels[2].query(RunGroup))
        assert [[r.action_name for r in g.query(ActionRow)] for g in groups] == [
            ["Unit", "Lint"],
            ["Report"],
        ]
        assert groups[0].has_class("-parallel")
        assert groups[0].border_title == "2 in parallel"
        assert not groups[1].has_class("-parallel")
        unit, lint, report = rows(app)["Unit"], rows(app)["Lint"], rows(app)["Report"]
        assert rendered(unit).startswith("✓ Unit")
        assert "Commands · Succeeded" in rendered(unit)
        lint_text = rendered(lint)
        assert lint_text.startswith("✗ Lint")
        assert "Commands · Failed" in lint_text
        assert lint.has_class("-error")
        assert report.action is not None
        assert report.action.status is None
        assert "Not run" in rendered(report)
        # The failed action has the focus: it is what needs looking at.
        await wait_until(pilot, lambda: app.focused is lint)
        header = rendered(app.screen.query_one(ExecutionHeader))
        assert "web  ✗ Failed · V2 · SUPERSEDED" in header
        assert "Add the greeting" in header
        assert "CreatePipeline by testing" in header
        transitions = list(app.screen.query(TransitionMark))
        assert [plain(t.render()) for t in transitions] == ["→", "→"]


async def test_a_running_action_turns_succeeded_without_reopening(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    marker = tmp_path / "go"
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline("slow", stage("Build", commands("Wait", [waiting_for(marker)])))
    )
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "slow", 2)
        await wait_until(pilot, lambda: status_of(app, "Wait") == "InProgress")
        row = rows(app)["Wait"]
        panel = app.screen.query(StagePanel)[1]
        assert rendered(row).startswith("● Wait")
        assert "Commands · In progress" in rendered(row)
        assert panel.has_class("-running")
        marker.write_text("")
        await wait_until(pilot, lambda: status_of(app, "Wait") == "Succeeded")
        # The same widgets, updated in place.
        assert rows(app)["Wait"] is row
        assert app.screen.query(StagePanel)[1] is panel
        assert rendered(row).startswith("✓ Wait")
        await wait_until(pilot, lambda: panel.border_subtitle == "✓ Succeeded")
        assert panel.has_class("-success")


async def test_a_disabled_transition_shows_its_lock_and_reason(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "frozen",
            stage("Build", commands("Compile", ["true"])),
            stage("Deploy", commands("Ship", ["true"])),
        )
    )
    client.disable_stage_transition(
        pipelineName="frozen",
        stageName="Deploy",
        transitionType="Inbound",
        reason="Release freeze until the audit",
    )
    execution = latest_execution_id(client, "frozen")
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "frozen", 3)
        marks = list(app.screen.query(TransitionMark))
        await wait_until(pilot, lambda: marks[1].has_class("-disabled"))
        assert plain(marks[1].render()) == "🔒"
        assert not marks[0].has_class("-disabled")
        assert marks[1].tooltip is not None
        assert "Release freeze until the audit" in str(marks[1].tooltip)
        deploy = app.screen.query(StagePanel)[2]
        note = deploy.query_one(".stage-note", Static)
        assert note.display
        lines = plain(note.render()).splitlines()
        assert lines[0] == "🔒 transition disabled: Release freeze until the audit"
        # The execution waits in front of the locked stage.
        await wait_until(pilot, lambda: "waiting to enter" in plain(note.render()))
        assert plain(note.render()).splitlines()[1] == "◷ 1 waiting to enter: " + execution[:8]
        client.enable_stage_transition(
            pipelineName="frozen", stageName="Deploy", transitionType="Inbound"
        )
        await wait_until(pilot, lambda: not marks[1].has_class("-disabled"))
        assert plain(marks[1].render()) == "→"
        await wait_until(pilot, lambda: status_of(app, "Ship") == "Succeeded")
        assert not note.display


async def test_a_pending_approval_stands_out(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "gated",
            stage("Build", commands("Compile", ["true"])),
            stage("Approve", approval("Release", timeout_minutes=60)),
        )
    )
    wait_approval_token(client, "gated", "Approve", "Release")
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "gated", 3)
        await wait_until(pilot, lambda: rows(app)["Release"].has_class("-awaiting"))
        release = rows(app)["Release"]
        text = rendered(release)
        assert text.startswith("◆ Release")
        lines = [line.strip() for line in text.splitlines()]
        assert lines[1] == "Manual approval"
        assert lines[2] == "waiting for approval"
        # ManualClock: the approval started waiting at the engine's start, 5 minutes before
        # the app's clock, and may wait 60.
        since = ENGINE_START.astimezone().strftime("%H:%M")
        assert lines[3] == f"since {since} · 55m left"
        assert not rows(app)["Compile"].has_class("-awaiting")
        await wait_until(pilot, lambda: app.focused is release)
        assert "◆ Awaiting approval" in rendered(app.screen.query_one(ExecutionHeader))


async def test_arrows_and_jk_move_the_focus_between_actions_and_stages(
    endpoint: Endpoint,
) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "grid",
            stage("Build", commands("One", ["true"]), commands("Two", ["true"], run_order=2)),
            stage("Test", commands("Three", ["true"])),
        )
    )
    wait_status(client, "grid", latest_execution_id(client, "grid"), "Succeeded")
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "grid", 4)
        await wait_until(pilot, lambda: isinstance(app.focused, ActionRow))
        by_name = rows(app)
        assert app.focused is by_name["Fetch"]
        await pilot.press("right")
        assert app.focused is by_name["One"]
        await pilot.press("j")
        assert app.focused is by_name["Two"]
        await pilot.press("down")
        assert app.focused is by_name["Two"]
        await pilot.press("right")
        assert app.focused is by_name["Three"]
        await pilot.press("right")
        assert app.focused is by_name["Three"]
        await pilot.press("left", "k")
        assert app.focused is by_name["One"]
        await pilot.press("left")
        assert app.focused is by_name["Fetch"]


class _Recorded(Screen[None]):
    def __init__(self, ref: ActionRef) -> None:
        super().__init__()
        self.ref = ref


async def test_logs_and_artifacts_are_dimmed_until_their_screens_exist(
    endpoint: Endpoint,
) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(pipeline=pipeline("web", stage("Build", commands("Compile", ["true"]))))
    execution = latest_execution_id(client, "web")
    wait_status(client, "web", execution, "Succeeded")
    app = app_for(endpoint)
    # As if no logs, artifacts or history screen existed yet.
    app.screen_factories.clear()
    messages: list[object] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await open_pipeline(app, pilot, "web", 2)
        page = screen(app)
        await wait_until(pilot, lambda: isinstance(app.focused, ActionRow))
        assert page.check_action("logs", ()) is None
        assert page.check_action("artifacts", ()) is None
        assert page.check_action("history", ()) is None
        await pilot.press("l")
        assert app.screen is page
        app.register_screen("logs", _Recorded)
        await pilot.press("right")
        assert page.check_action("logs", ()) is True
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, _Recorded))
        shown = app.screen
        assert isinstance(shown, _Recorded)
        assert shown.ref.pipeline == "web"
        assert shown.ref.stage == "Build"
        assert shown.ref.action == "Compile"
        assert shown.ref.execution_id == execution
        assert shown.ref.view.log_stream_arn
        assert any(isinstance(m, OpenLogs) for m in messages)


async def test_a_queued_pipeline_shows_one_execution_at_a_time(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    # Each execution waits in each stage for a marker file named after it.
    execution = "#{codepipeline.PipelineExecutionId}"
    client.create_pipeline(
        pipeline=pipeline(
            "train",
            stage("Build", commands("Package", [waiting_for(tmp_path / f"build-{execution}")])),
            stage("Deploy", commands("Ship", [waiting_for(tmp_path / f"ship-{execution}")])),
            mode="QUEUED",
        )
    )
    one = latest_execution_id(client, "train")
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "train", 3)
        page = screen(app)
        await wait_until(pilot, lambda: status_of(app, "Package") == "InProgress")
        assert page.check_action("next_execution", ()) is True
        (tmp_path / f"build-{one}").write_text("")
        await wait_until(pilot, lambda: status_of(app, "Ship") == "InProgress")
        # Later on the engine's clock, so the newer execution is known as the newer one.
        endpoint.advance(10)
        two = client.start_pipeline_execution(name="train")["pipelineExecutionId"]
        # `one` deploys while `two` builds: each stage shows its own execution.
        await wait_until(pilot, lambda: status_of(app, "Package") == "InProgress")
        assert page.view is not None
        assert page.view.execution_ids_by_stage == {"Source": two, "Build": two, "Deploy": one}
        await wait_until(
            pilot, lambda: "2 in progress" in rendered(page.query_one(ExecutionHeader))
        )
        await pilot.press("n")
        assert page.selected_execution == two
        # Execution `two` has not reached Deploy: there its Ship has not run.
        await wait_until(pilot, lambda: status_of(app, "Ship") is None)
        assert status_of(app, "Package") == "InProgress"
        assert "1 of 2 in progress" in rendered(page.query_one(ExecutionHeader))
        await pilot.press("n")
        assert page.selected_execution == one
        await wait_until(pilot, lambda: status_of(app, "Ship") == "InProgress")
        assert status_of(app, "Package") == "Succeeded"
        assert "2 of 2 in progress" in rendered(page.query_one(ExecutionHeader))
        await pilot.press("n")
        assert page.selected_execution is None
        assert "the latest execution in each stage" in rendered(page.query_one(ExecutionHeader))
        for name in (f"ship-{one}", f"build-{two}", f"ship-{two}"):
            (tmp_path / name).write_text("")
        await wait_until(pilot, lambda: page.check_action("next_execution", ()) is False)


async def test_next_execution_is_hidden_for_superseded_pipelines(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(pipeline=pipeline("web", stage("Build", commands("Compile", ["true"]))))
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "web", 2)
        assert screen(app).check_action("next_execution", ()) is False
        await pilot.press("n")
        assert screen(app).selected_execution is None


async def test_an_automatic_retry_is_noted_on_its_stage(endpoint: Endpoint, tmp_path: Path) -> None:
    upload_source(endpoint)
    marker = tmp_path / "failed-once"
    flaky = commands("Flaky", [f"if [ -f {marker} ]; then true; else touch {marker}; false; fi"])
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "retrying",
            {
                **stage("Test", flaky),
                "onFailure": {
                    "result": "RETRY",
                    "retryConfiguration": {"retryMode": "FAILED_ACTIONS"},
                },
            },
        )
    )
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "retrying", 2)
        await wait_until(pilot, lambda: status_of(app, "Flaky") == "Succeeded")
        test = app.screen.query(StagePanel)[1]
        note = test.query_one(".stage-note", Static)
        await wait_until(pilot, lambda: "retried" in plain(note.render()))
        assert note.display
        assert plain(note.render()) == "↻ retried: 1 automatic"
