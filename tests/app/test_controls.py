"""The controls of the pipeline screen against a real endpoint: each dialog is driven with keys
and the pipeline's resulting state is read back through boto3 (approved with the summary,
rejected, retried in each mode, stopped in each mode, transitions, releases, rollback), with
the refusals (a stale approval token, AWS's own errors, a bad transition reason), the double
keypress of a release, production confirmations and read-only mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual.screen import Screen
from textual.widgets import Button, Input, RadioSet, Static

from tests.app.screen_support import in_thread, rendered_lines, until
from tests.app.support import app_for, app_settings, fixed_clock
from tests.endpoint import Endpoint, wait_for
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
    await until(pilot, lambda: isinstance(app.screen, PipelineScreen) and len(rows(app)) == actions)
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
        shown = " ".join(str(s.render()) for s in answer.query(".control-value").results(Static))
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
        await press_button(pilot, answer, "copy")
        assert app.clipboard == command
        await press_button(pilot, answer, "approve")
        confirmation = await confirm(
            pilot, app, expect=f"Approve Release in gated / Approve\nfor execution {execution}"
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
        assert action_state(client, "gated", "Approve", "Release")["latestExecution"]["status"] == (
            "InProgress"
        )
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


async def test_parallel_approval_answers_the_execution_shown(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline("para", stage("Approve", approval("Gate")), mode="PARALLEL")
    )
    first = latest_execution_id(client, "para")
    endpoint.advance(5)
    second = client.start_pipeline_execution(name="para")["pipelineExecutionId"]

    def both_waiting() -> bool:
        return all(
            any(
                d["actionName"] == "Gate" and d["status"] == "InProgress"
                for d in action_executions(client, "para", e)
            )
            for e in (first, second)
        )

    await in_thread(lambda: wait_for(both_waiting))
    # PARALLEL: the state shows no token; ListActionExecutions' externalExecutionId is it.
    assert "token" not in action_state(client, "para", "Approve", "Gate")["latestExecution"]
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        page = await open_pipeline(app, pilot, "para", 2)
        await until(pilot, lambda: status_of(app, "Gate") == "InProgress")
        await focus(app, pilot, "Gate")
        await until(pilot, lambda: page.check_action("next_execution", ()))
        await pilot.press("n")
        shown = page.selected_execution
        assert shown in (first, second)
        await until(
            pilot,
            lambda: (
                (rows(app)["Gate"].action or None) is not None
                and rows(app)["Gate"].action.execution_id == shown
            ),
        )
        await pilot.press("a")
        answer = await dialog(pilot, app, ApprovalDialog)
        assert answer.approval.execution_id == shown
        await until(pilot, lambda: answer.token is not None)
        run = next(d for d in action_executions(client, "para", shown) if d["actionName"] == "Gate")
        assert answer.token == run["output"]["executionResult"]["externalExecutionId"]
        await press_button(pilot, answer, "approve")
        await confirm(pilot, app, expect=f"for execution {shown}")
        await closed(pilot, app, answer)
    other = second if shown == first else first
    assert wait_status(client, "para", shown) == "Succeeded"
    assert execution_status_now(client, "para", other) == "InProgress"


async def test_the_approvals_view_lists_every_pipeline_and_answers(endpoint: Endpoint) -> None:
    client, _ = gated(endpoint, "alpha")
    gated(endpoint, "beta")
    from textual.widgets import DataTable

    from tui.app.screens.approvals import ApprovalsScreen

    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: {"alpha", "beta"} <= set(app.workspace.pipelines))
        await pilot.press("A")
        view = await dialog(pilot, app, ApprovalsScreen)
        await until(pilot, lambda: len(view.approvals) == 2)
        assert sorted(a.pipeline for a in view.approvals) == ["alpha", "beta"]
        table = view.query_one("#approvals", DataTable)
        row = next(i for i, a in enumerate(view.approvals) if a.pipeline == "beta")
        table.move_cursor(row=row)
        await pilot.pause()
        await pilot.press("enter")
        answer = await dialog(pilot, app, ApprovalDialog)
        assert answer.approval.pipeline == "beta"
        await pilot.press(*"ok")
        await press_button(pilot, answer, "approve")
        await confirm(pilot, app, expect="Approve Release in beta / Approve")
        await closed(pilot, app, answer)
        assert app.screen is view
        await until(pilot, lambda: [a.pipeline for a in view.approvals] == ["alpha"])
    assert action_state(client, "beta", "Approve", "Release")["latestExecution"]["summary"] == "ok"
    assert action_state(client, "alpha", "Approve", "Release")["latestExecution"]["status"] == (
        "InProgress"
    )


async def test_the_approvals_view_finds_a_parallel_approval_never_opened(
    endpoint: Endpoint,
) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline("para", stage("Approve", approval("Gate")), mode="PARALLEL")
    )
    execution = latest_execution_id(client, "para")
    gated(endpoint, "alpha")
    await in_thread(
        lambda: wait_for(
            lambda: (
                action_state(client, "para", "Approve", "Gate")
                .get("latestExecution", {})
                .get("status")
                == "InProgress"
            )
        )
    )
    # No token in the state and no event to name the action's category: only the
    # declaration says it is an approval.
    assert "token" not in action_state(client, "para", "Approve", "Gate")["latestExecution"]
    from tui.app.screens.approvals import ApprovalsScreen

    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.workspace.awaiting_approval == 2)
        await pilot.press("A")
        view = await dialog(pilot, app, ApprovalsScreen)
        await until(pilot, lambda: sorted(a.pipeline for a in view.approvals) == ["alpha", "para"])
        parallel = next(a for a in view.approvals if a.pipeline == "para")
        assert parallel.execution_id == execution
        assert app.screen is view  # the pipeline was never opened


async def test_a_refused_getpipeline_leaves_a_parallel_pipelines_state_shown(
    endpoint: Endpoint,
) -> None:
    """Without `codepipeline:GetPipeline` the approval goes unrecognised, but the state
    still reaches the list, and the declaration is asked for once, not at every read."""
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline("para", stage("Approve", approval("Gate")), mode="PARALLEL")
    )
    await in_thread(
        lambda: wait_for(
            lambda: (
                action_state(client, "para", "Approve", "Gate")
                .get("latestExecution", {})
                .get("status")
                == "InProgress"
            )
        )
    )
    with injected(endpoint, rules=[{"match": "codepipeline.GetPipeline", "deny": 100}]):
        reset_calls(endpoint)
        app = app_for(endpoint)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.watcher.state_reads["para"] >= 3)
            view = app.workspace.pipeline("para")
            assert view is not None
            assert view.status == "InProgress"
            assert app.watcher.status.problem is None
            asked = calls(endpoint).get("codepipeline.GetPipeline", 0)
            assert asked >= 1
            await until(pilot, lambda: app.watcher.state_reads["para"] >= 6)
            assert calls(endpoint).get("codepipeline.GetPipeline", 0) == asked


# Retry -----------------------------------------------------------------------------------------


def flaky(endpoint: Endpoint, name: str, marker: Path) -> tuple[Any, str]:
    """A pipeline whose Test stage fails (Check) until `marker` exists; Unit always passes."""
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            name,
            stage("Test", commands("Unit", ["true"]), commands("Check", [f"test -f {marker}"])),
        )
    )
    execution = latest_execution_id(client, name)
    wait_status(client, name, execution, "Failed")
    return client, execution


def runs_of(client: Any, name: str, execution: str, action: str) -> int:
    return sum(1 for d in action_executions(client, name, execution) if d["actionName"] == action)


async def retry_with(
    endpoint: Endpoint, tmp_path: Path, mode_index: int
) -> tuple[Any, str, ControlDialog]:
    marker = tmp_path / "fixed"
    client, execution = flaky(endpoint, "flaky", marker)
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        page = await open_pipeline(app, pilot, "flaky", 3)
        await until(pilot, lambda: status_of(app, "Check") == "Failed")
        # Retry is dimmed where the stage cannot be retried (Source succeeded).
        await focus(app, pilot, "Fetch")
        assert page.check_action("retry", ()) is None
        await focus(app, pilot, "Check")
        assert page.check_action("retry", ()) is True
        await pilot.press("r")
        from tui.app.screens.retry import RetryDialog

        retry = await dialog(pilot, app, RetryDialog)
        if mode_index:
            await pilot.press("down", "enter")
        modes = retry.query_one("#retry-mode", RadioSet)
        assert modes.pressed_index == mode_index
        marker.write_text("")
        await press_button(pilot, retry, "retry")
        await confirm(pilot, app, expect="Retry Test in flaky")
        await closed(pilot, app, retry)
        await until(pilot, lambda: status_of(app, "Check") == "Succeeded")
    return client, execution, retry


async def test_retry_failed_actions_reruns_only_what_failed(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    client, execution, retry = await retry_with(endpoint, tmp_path, 0)
    assert wait_status(client, "flaky", execution) == "Succeeded"
    assert "--retry-mode FAILED_ACTIONS" in retry.sent[0].command
    assert runs_of(client, "flaky", execution, "Check") == 2
    assert runs_of(client, "flaky", execution, "Unit") == 1


async def test_retry_all_actions_reruns_the_whole_stage(endpoint: Endpoint, tmp_path: Path) -> None:
    client, execution, retry = await retry_with(endpoint, tmp_path, 1)
    assert wait_status(client, "flaky", execution) == "Succeeded"
    assert "--retry-mode ALL_ACTIONS" in retry.sent[0].command
    assert runs_of(client, "flaky", execution, "Check") == 2
    assert runs_of(client, "flaky", execution, "Unit") == 2


async def test_a_refused_retry_shows_what_aws_said(endpoint: Endpoint, tmp_path: Path) -> None:
    client, first = flaky(endpoint, "flaky", tmp_path / "never")
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "flaky", 3)
        await until(pilot, lambda: status_of(app, "Check") == "Failed")
        await focus(app, pilot, "Check")
        await pilot.press("r")
        from tui.app.screens.retry import RetryDialog

        retry = await dialog(pilot, app, RetryDialog)
        # A newer execution fails in the stage meanwhile: the one shown is no longer the latest.
        endpoint.advance(5)
        second = client.start_pipeline_execution(name="flaky")["pipelineExecutionId"]
        await in_thread(wait_status, client, "flaky", second, "Failed")
        await press_button(pilot, retry, "retry")
        await confirm(pilot, app)
        await until(pilot, lambda: retry.problem is not None)
        said = text_of(retry, "#control-problem")
        assert "NotLatestPipelineExecution" in said
        assert "only the latest one can be retried" in said
        assert app.screen is retry
    assert runs_of(client, "flaky", first, "Check") == 1


async def test_a_stage_not_retryable_after_an_update_is_said_plainly(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    client, execution = flaky(endpoint, "flaky", tmp_path / "never")
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "flaky", 3)
        await until(pilot, lambda: status_of(app, "Check") == "Failed")
        await focus(app, pilot, "Check")
        await pilot.press("r")
        from tui.app.screens.retry import RetryDialog

        retry = await dialog(pilot, app, RetryDialog)
        # The pipeline changes meanwhile: AWS no longer retries the old execution's stage.
        declaration = client.get_pipeline(name="flaky")["pipeline"]
        declaration["stages"][1]["actions"][0]["commands"] = ["echo changed"]
        await in_thread(client.update_pipeline, pipeline=declaration)
        await press_button(pilot, retry, "retry")
        await confirm(pilot, app)
        await until(pilot, lambda: retry.problem is not None)
        said = text_of(retry, "#control-problem")
        assert retry.problem is not None
        assert retry.problem.code == "StageNotRetryableException"
        assert "StageNotRetryable" in said
        assert "the pipeline has not changed since" in said
    assert execution_status_now(client, "flaky", execution) == "Failed"


# Stop ------------------------------------------------------------------------------------------


async def stop_with(endpoint: Endpoint, tmp_path: Path, *, abandon: bool) -> None:
    marker = tmp_path / "go"
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline("long", stage("Build", commands("Compile", [waiting_for(marker)])))
    )
    execution = latest_execution_id(client, "long")
    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        page = await open_pipeline(app, pilot, "long", 2)
        await until(pilot, lambda: status_of(app, "Compile") == "InProgress")
        await focus(app, pilot, "Compile")
        assert page.check_action("stop", ()) is True
        await pilot.press("x")
        from tui.app.screens.stop import StopDialog

        stop = await dialog(pilot, app, StopDialog)
        assert stop.execution.execution_id == execution
        if abandon:
            await pilot.press("down", "enter")
        stop.query_one("#stop-reason", Input).value = "Bad build"
        await pilot.pause()
        await press_button(pilot, stop, "stop")
        how = "abandoning" if abandon else "letting its running actions finish"
        await confirm(pilot, app, expect=how)
        await closed(pilot, app, stop)
        if not abandon:
            # The screen shows Stopping while the running action finishes...
            await until(
                pilot,
                lambda: (
                    page.view is not None
                    and page.view.latest_execution is not None
                    and page.view.latest_execution.status == "Stopping"
                ),
            )
            assert "Stopping" in "\n".join(rendered_lines(page.query_one("#execution")))
            assert execution_status_now(client, "long", execution) == "Stopping"
            marker.write_text("")
        await until(
            pilot,
            lambda: (
                page.view is not None
                and page.view.latest_execution is not None
                and page.view.latest_execution.status == "Stopped"
            ),
        )
        assert page.check_action("stop", ()) is None
    summary = client.list_pipeline_executions(pipelineName="long")["pipelineExecutionSummaries"][0]
    assert summary["status"] == "Stopped"
    assert summary["stopTrigger"]["reason"] == "Bad build"
    compile_run = action_state(client, "long", "Build", "Compile")["latestExecution"]
    assert compile_run["status"] == ("Abandoned" if abandon else "Succeeded")


def execution_status_now(client: Any, name: str, execution: str) -> str:
    return str(
        client.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution)[
            "pipelineExecution"
        ]["status"]
    )


async def test_stop_and_wait_shows_stopping_then_stopped(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    await stop_with(endpoint, tmp_path, abandon=False)


async def test_stop_and_abandon(endpoint: Endpoint, tmp_path: Path) -> None:
    await stop_with(endpoint, tmp_path, abandon=True)


async def test_escape_cancels_the_confirmation_and_the_dialog(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "long", stage("Build", commands("Compile", [waiting_for(tmp_path / "go")]))
        )
    )
    execution = latest_execution_id(client, "long")
    from tui.app.screens.stop import StopDialog

    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        page = await open_pipeline(app, pilot, "long", 2)
        await until(pilot, lambda: status_of(app, "Compile") == "InProgress")
        reset_calls(endpoint)
        await pilot.press("x")
        stop = await dialog(pilot, app, StopDialog)
        await press_button(pilot, stop, "stop")
        await dialog(pilot, app, ConfirmScreen)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is stop)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is page)
        assert mutating(calls(endpoint)) == {}
    assert execution_status_now(client, "long", execution) == "InProgress"
    (tmp_path / "go").write_text("")


# Transitions -----------------------------------------------------------------------------------


async def test_disable_with_a_checked_reason_then_enable(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "flow",
            stage("Build", commands("Compile", ["true"])),
            stage("Deploy", commands("Ship", ["true"])),
        )
    )
    wait_status(client, "flow", latest_execution_id(client, "flow"), "Succeeded")
    from tui.app.screens.transition import TransitionDialog

    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        page = await open_pipeline(app, pilot, "flow", 3)
        await focus(app, pilot, "Fetch")
        # The first stage has no inbound transition.
        assert page.check_action("transition", ()) is None
        await focus(app, pilot, "Ship")
        await pilot.press("t")
        disable = await dialog(pilot, app, TransitionDialog)
        reset_calls(endpoint)
        # Empty, then characters AWS refuses: said at once, nothing sent.
        await press_button(pilot, disable, "disable")
        assert "A reason is required" in text_of(disable, "#control-problem")
        await pilot.press(*"freeze: release_review")
        await press_button(pilot, disable, "disable")
        said = text_of(disable, "#control-problem")
        assert "':'" in said
        assert "'_'" in said
        assert not isinstance(app.screen, ConfirmScreen)
        assert mutating(calls(endpoint)) == {}
        disable.query_one("#transition-reason", Input).value = "Freeze for the release review"
        await pilot.pause()
        command = disable.query_one("#control-command", CliEquivalent).command
        assert "disable-stage-transition" in command
        assert "--reason 'Freeze for the release review'" in command
        await press_button(pilot, disable, "disable")
        await confirm(pilot, app, expect='because "Freeze for the release review"')
        await closed(pilot, app, disable)
        inbound = stage_state(client, "flow", "Deploy")["inboundTransitionState"]
        assert inbound["enabled"] is False
        assert inbound["disabledReason"] == "Freeze for the release review"
        # Once the screen shows it disabled, `t` offers to enable it.
        await until(
            pilot,
            lambda: (
                (s := page.view and page.view.stage("Deploy")) is not None
                and s.inbound_transition is not None
                and not s.inbound_transition.enabled
            ),
        )
        await pilot.press("t")
        enable = await dialog(pilot, app, TransitionDialog)
        assert "Freeze for the release review" in " ".join(
            str(s.render()) for s in enable.query(".control-value").results(Static)
        )
        await press_button(pilot, enable, "enable")
        await confirm(pilot, app, expect="Enable the transition into Deploy")
        await closed(pilot, app, enable)
    assert stage_state(client, "flow", "Deploy")["inboundTransitionState"]["enabled"] is True


# Release ---------------------------------------------------------------------------------------


def released(endpoint: Endpoint) -> Any:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "web",
            stage("Build", commands("Compile", ["echo building for #{variables.Env}"])),
            variables=[{"name": "Env", "defaultValue": "dev"}],
        )
    )
    wait_status(client, "web", latest_execution_id(client, "web"), "Succeeded")
    return client


def executions_of(client: Any, name: str) -> list[dict[str, Any]]:
    return list(client.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"])


async def test_release_with_a_variable_and_a_source_revision(endpoint: Endpoint) -> None:
    client = released(endpoint)
    version = upload_source(endpoint, {"README.md": "second\n"}, summary="Second")
    upload_source(endpoint, {"README.md": "third\n"}, summary="Third")
    endpoint.advance(5)
    from tui.app.screens.release import ReleaseDialog

    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        page = await open_pipeline(app, pilot, "web", 2)
        assert page.check_action("release", ()) is True
        await pilot.press("s")
        release = await dialog(pilot, app, ReleaseDialog)
        await until(pilot, lambda: release.source_actions == ["Fetch"])
        await pilot.pause()
        release.query_one("#release-var-0", Input).value = "staging"
        release.query_one("#release-rev-0", Input).value = version
        await pilot.pause()
        command = release.query_one("#control-command", CliEquivalent).command
        assert "start-pipeline-execution --name web --client-request-token" in command
        assert '"name": "Env", "value": "staging"' in command
        assert f'"revisionValue": "{version}"' in command
        await press_button(pilot, release, "start")
        await confirm(pilot, app, expect="with Env = staging, Fetch at")
        await closed(pilot, app, release)
    (started,) = release.started
    execution = client.get_pipeline_execution(pipelineName="web", pipelineExecutionId=started)[
        "pipelineExecution"
    ]
    assert {v["name"]: v["resolvedValue"] for v in execution["variables"]} == {"Env": "staging"}
    assert wait_status(client, "web", started) == "Succeeded"
    summary = next(e for e in executions_of(client, "web") if e["pipelineExecutionId"] == started)
    assert summary["sourceRevisions"][0]["revisionId"] == version


async def test_a_double_keypress_starts_one_execution(endpoint: Endpoint) -> None:
    client = released(endpoint)
    before = len(executions_of(client, "web"))
    from tui.app.screens.release import ReleaseDialog

    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "web", 2)
        await pilot.press("s")
        release = await dialog(pilot, app, ReleaseDialog)
        await until(pilot, lambda: release.source_actions)
        reset_calls(endpoint)
        # Slow answers: the second confirmation goes out while the first waits for its answer
        # (generous: on a loaded machine the second round trip through the dialogs is slow).
        rule = {"match": "codepipeline.StartPipelineExecution", "latencyMs": 5000}
        with injected(endpoint, rules=[rule]):
            for _ in range(2):
                await press_button(pilot, release, "start")
                await confirm(pilot, app)
                await until(pilot, lambda: app.screen is release)
            assert release.in_flight == 2
            await closed(pilot, app, release)
    assert calls(endpoint)["codepipeline.StartPipelineExecution"] == 2
    first, second = release.started
    assert first == second
    assert len(executions_of(client, "web")) == before + 1


# Rollback --------------------------------------------------------------------------------------


async def test_rollback_to_an_earlier_execution_that_succeeded(endpoint: Endpoint) -> None:
    upload_source(endpoint, summary="First")
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "shop",
            stage("Build", commands("Compile", ["true"])),
            stage("Deploy", commands("Ship", ["true"])),
        )
    )
    first = latest_execution_id(client, "shop")
    wait_status(client, "shop", first, "Succeeded")
    endpoint.advance(10)
    upload_source(endpoint, {"README.md": "v2\n"}, summary="Second")
    second = client.start_pipeline_execution(name="shop")["pipelineExecutionId"]
    wait_status(client, "shop", second, "Succeeded")
    endpoint.advance(10)
    from tui.app.screens.rollback import RollbackDialog

    app = app_for(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        page = await open_pipeline(app, pilot, "shop", 3)
        await until(pilot, lambda: status_of(app, "Ship") == "Succeeded")
        await focus(app, pilot, "Fetch")
        assert page.check_action("rollback", ()) is None  # not the source stage
        await focus(app, pilot, "Ship")
        assert page.check_action("rollback", ()) is True
        await pilot.press("b")
        rollback = await dialog(pilot, app, RollbackDialog)
        await until(pilot, lambda: len(rollback.targets) == 2)
        assert [t.execution_id for t in rollback.targets] == [second, first]
        # The newest execution other than the one in the stage now is offered first.
        assert rollback.target is not None
        assert rollback.target.execution_id == first
        command = rollback.query_one("#control-command", CliEquivalent).command
        assert "rollback-stage --pipeline-name shop --stage-name Deploy" in command
        assert f"--target-pipeline-execution-id {first}" in command
        await press_button(pilot, rollback, "rollback")
        await confirm(pilot, app, expect=f"Roll Deploy of shop back to execution {first}")
        await closed(pilot, app, rollback)
    newest = executions_of(client, "shop")[0]
    assert newest["pipelineExecutionId"] not in (first, second)
    assert newest["executionType"] == "ROLLBACK"
    assert newest["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == first
    assert newest["trigger"]["triggerType"] == "ManualRollback"


# Read-only -------------------------------------------------------------------------------------

# Every key a user can type without a modifier, and the special keys the screens bind. Not `q`
# (quit), nor ctrl+c / ctrl+q: they end the app under test.
ALL_KEYS = [
    *"abcdefghijklmnoprstuvwxyz",
    *"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    *"0123456789",
    "question_mark", "slash", "space", "enter", "tab", "shift+tab",
    "up", "down", "left", "right", "home", "end", "pageup", "pagedown",
    "ctrl+r", "ctrl+o", "ctrl+l", "ctrl+y",
]  # fmt: skip


async def back_to(pilot: Any, app: PipetopApp, screen: Screen[Any]) -> None:
    """Close whatever a key opened on top of `screen`."""
    for _ in range(5):
        if app.screen is screen:
            return
        await pilot.press("escape")
    while app.screen is not screen and screen in app.screen_stack:
        app.pop_screen()
        await pilot.pause()


async def press_everything(pilot: Any, app: PipetopApp, screen: Screen[Any]) -> None:
    for key in ALL_KEYS:
        await pilot.press(key)
        await back_to(pilot, app, screen)


async def test_read_only_sends_no_mutating_request_whatever_is_pressed(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    client, token = gated(endpoint)
    flaky(endpoint, "flaky", tmp_path / "never")
    from tui.app.screens.approvals import ApprovalsScreen
    from tui.aws.errors import ReadOnlyRefused

    app = app_for(endpoint, app_settings(read_only=True))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: {"gated", "flaky"} <= set(app.workspace.pipelines))
        reset_calls(endpoint)
        listing = app.screen
        await press_everything(pilot, app, listing)
        for name, focus_on, actions in (("gated", "Release", 3), ("flaky", "Check", 3)):
            page = await open_pipeline(app, pilot, name, actions)
            await until(pilot, lambda row=focus_on: rows(app)[row].action is not None)
            await focus(app, pilot, focus_on)
            # Every control is hidden, whatever the focus.
            for control in ("approve", "retry", "stop", "release", "transition", "rollback"):
                assert page.check_action(control, ()) is False, control
            await press_everything(pilot, app, page)
            await back_to(pilot, app, page)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is listing)
            # The screen left is removed before the next one (same id) is pushed.
            await until(pilot, lambda left=page: not left.is_attached)
        await pilot.press("A")
        approvals = await dialog(pilot, app, ApprovalsScreen)
        await until(pilot, lambda: approvals.approvals)
        assert approvals.check_action("answer", ()) is False
        await press_everything(pilot, app, approvals)
        # The client layer refuses by itself: nothing reaches the endpoint.
        for call in (
            app.watcher.client.put_approval_result(
                "gated", "Approve", "Release", token, "Approved", "x"
            ),
            app.watcher.client.start_pipeline_execution("gated"),
            app.watcher.client.disable_stage_transition("gated", "Approve", "no"),
            app.watcher.client.rollback_stage("flaky", "Test", "nothing"),
        ):
            try:
                await call
            except ReadOnlyRefused:
                pass
            else:
                raise AssertionError("a mutating call was not refused")
        counted = calls(endpoint)
    # SQS calls are left out: the feed's receive/delete of its own queue is reading events.
    changed = {k: v for k, v in mutating(counted).items() if not k.startswith("sqs.")}
    assert changed == {}
    # The pipelines were read meanwhile, so keys did reach a live app.
    assert counted.get("codepipeline.GetPipelineState", 0) > 0
    assert action_state(client, "gated", "Approve", "Release")["latestExecution"]["status"] == (
        "InProgress"
    )


# Several contexts ------------------------------------------------------------------------------


@pytest.fixture
def beta(tmp_path: Path) -> Iterator[Endpoint]:
    """A second endpoint: another account and region."""
    ep = Endpoint(tmp_path / "beta", region="eu-west-1", account="111111111111").start()
    try:
        yield ep
    finally:
        ep.stop()


async def test_approvals_of_every_context_each_answered_in_its_own(
    endpoint: Endpoint, beta: Endpoint
) -> None:
    from textual.widgets import DataTable

    from tui.app.app import make_app
    from tui.app.contexts import WatchContext
    from tui.app.screens.approvals import ApprovalsScreen
    from tui.aws.session import ConnectionSettings

    alpha_client, _ = gated(endpoint)
    beta_client, _ = gated(beta)

    def context(label: str, url: str, **extra: Any) -> WatchContext:
        connection = ConnectionSettings(endpoint_url=url, max_attempts=1, connect_timeout=1.0)
        return WatchContext(label, connection, **extra)

    contexts = [context("alpha", endpoint.url), context("beta", beta.url, production=True)]
    app = make_app(app_settings(), clock=fixed_clock, contexts=contexts)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("A")
        view = await dialog(pilot, app, ApprovalsScreen)
        await until(pilot, lambda: len(view.approvals) == 2)
        assert sorted((a.context, a.pipeline) for a in view.approvals) == [
            ("alpha", "gated"),
            ("beta", "gated"),
        ]
        table = view.query_one("#approvals", DataTable)
        assert str(table.ordered_columns[0].label) == "Context"
        row = next(i for i, a in enumerate(view.approvals) if a.context == "beta")
        table.move_cursor(row=row)
        await pilot.pause()
        await pilot.press("enter")
        answer = await dialog(pilot, app, ApprovalDialog)
        assert answer.watcher is app.watched.watchers["beta"]
        assert beta.url in answer.query_one("#control-command", CliEquivalent).command
        await press_button(pilot, answer, "approve")
        # beta is production: the name must be typed.
        confirmation = await dialog(pilot, app, ConfirmScreen)
        assert confirmation.require_name == "gated"
        await pilot.press(*"gated", "enter")
        await closed(pilot, app, answer)
    assert action_state(beta_client, "gated", "Approve", "Release")["latestExecution"][
        "status"
    ] == ("Succeeded")
    assert action_state(alpha_client, "gated", "Approve", "Release")["latestExecution"][
        "status"
    ] == ("InProgress")
