"""One operation denied by IAM, against the real endpoint (its `deny` fault answers the
service's own AccessDeniedException): the screen that needed it names the missing permission,
the rest of the app keeps working, and the call works again once the permission is back."""

from __future__ import annotations

from pathlib import Path

from tests import faults
from tests.app.screen_support import SIZE, app_on, running_action_ref, screen_text, until
from tests.app.test_controls import (
    confirm,
    dialog,
    gated,
    open_pipeline,
    press_button,
    rows,
    status_of,
    text_of,
)
from tests.app.test_logs_screen import fast_logs, logs_screen, tail_done
from tests.endpoint import Endpoint
from tests.local.pipelines import action_state, commands, pipeline, stage, upload_source
from tui.app.screens.approval import ApprovalDialog
from tui.app.screens.logs import Phase
from tui.app.screens.pipeline import PipelineScreen
from tui.aws.errors import AccessDenied


async def test_denied_log_reads_name_the_permission_and_the_rest_keeps_working(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "guarded",
            stage(
                "Build",
                commands(
                    "Run",
                    ["echo secret-line", f"while [ ! -e {gate} ]; do sleep 0.02; done"],
                ),
            ),
        )
    )
    app = app_on(endpoint)
    with faults.injected(endpoint, rules=[{"match": "logs.GetLogEvents", "deny": 100}]):
        async with app.run_test(size=SIZE) as pilot:
            fast_logs(app)
            await open_pipeline(app, pilot, "guarded", 2)
            ref = await until(pilot, lambda: running_action_ref(app, "guarded", "Build", "Run"))
            app.open_logs(ref)
            await pilot.pause()
            screen = logs_screen(app)
            await tail_done(screen)
            await pilot.pause()
            assert screen.phase is Phase.FAILED
            assert isinstance(screen.problem, AccessDenied)
            assert screen.problem.iam_action == "logs:GetLogEvents"
            assert "could not read the log: Access denied (needs logs:GetLogEvents)" in (
                screen_text(app)
            )
            assert "secret-line" not in screen.log_view.lines
            denied = faults.faults(endpoint)["rules"][0]["hits"]["denied"]
            assert denied >= 1

            # The rest of the app is untouched: back on the pipeline screen, the run's end
            # still arrives.
            await pilot.press("escape")
            assert isinstance(app.screen, PipelineScreen)
            gate.touch()
            await until(pilot, lambda: status_of(app, "Run") == "Succeeded")
            assert "Succeeded" in screen_text(app)
            # Nothing retried the denied read behind the reader's back.
            assert faults.faults(endpoint)["rules"][0]["hits"]["denied"] == denied

            # The permission is back: the same log opens and loads.
            faults.clear_faults(endpoint)
            app.open_logs(ref)
            await pilot.pause()
            again = logs_screen(app)
            assert again is not screen
            await tail_done(again)
            await pilot.pause()
            assert again.phase is Phase.ENDED
            assert "secret-line" in again.log_view.lines
            assert "needs logs:" not in screen_text(app)


async def test_a_denied_approval_answer_names_the_permission_and_answers_nothing(
    endpoint: Endpoint,
) -> None:
    client, _ = gated(endpoint)
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        await open_pipeline(app, pilot, "gated", 3)
        await until(pilot, lambda: rows(app)["Release"].has_class("-awaiting"))
        await pilot.press("a")
        answer = await dialog(pilot, app, ApprovalDialog)
        with faults.injected(
            endpoint, rules=[{"match": "codepipeline.PutApprovalResult", "deny": 100}]
        ):
            await press_button(pilot, answer, "approve")
            await confirm(pilot, app)
            await until(pilot, lambda: answer.problem is not None)
            said = text_of(answer, "#control-problem")
            assert "Access denied" in said
            assert "Ask for codepipeline:PutApprovalResult" in said
            # The dialog stays open with its answers: asking again once allowed works.
            assert app.screen is answer
        state = action_state(client, "gated", "Approve", "Release")["latestExecution"]
        assert state["status"] == "InProgress"
        await press_button(pilot, answer, "approve")
        await confirm(pilot, app)
        await until(pilot, lambda: answer not in app.screen_stack)
        await until(pilot, lambda: status_of(app, "Release") == "Succeeded")
