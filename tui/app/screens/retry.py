"""The retry dialog (`r`): rerun a failed or stopped stage, its failed actions or all of them.

    ╭─ Retry stage ───────────────────────────────────────────────╮
    │ Pipeline   web-app                                          │
    │ Stage      Test · ✗ Failed                                  │
    │ Execution  3f2a9c1e-5b7d-4c1e-9f0a-2b3c4d5e6f70             │
    │ Failed     Lint                                             │
    │ (•) Retry the failed actions   ( ) Retry all actions        │
    ╰─────────────────────────────────────────────────────────────╯

RetryStageExecution on the execution the stage shows (the latest to enter it, the only one
AWS retries). The pipeline screen offers `r` only on a Failed or Stopped stage; AWS's own
refusals (StageNotRetryable: nothing failed, the pipeline changed since, a retry already
runs; NotLatestPipelineExecution: a newer execution entered the stage) are shown with AWS's
words and what they mean.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.widgets import Button, RadioButton, RadioSet

from tui.app.screens.control import ControlDialog, Decision
from tui.app.widgets.cli_equivalent import aws_cli
from tui.app.widgets.glyphs import look
from tui.aws.errors import ClientProblem
from tui.aws.pipelines import RetryMode
from tui.aws.watch import Watcher
from tui.model.projection import StageView

MODES: dict[RetryMode, str] = {
    "FAILED_ACTIONS": "Retry the failed actions",
    "ALL_ACTIONS": "Retry all actions of the stage",
}
EXPLANATIONS = {
    "StageNotRetryableException": (
        "AWS retries a stage only when it failed or was stopped in this execution, the "
        "pipeline has not changed since, and no other retry runs (all actions: nothing runs)."
    ),
    "NotLatestPipelineExecutionException": (
        "A newer execution has entered this stage since; only the latest one can be retried."
    ),
}


class RetryDialog(ControlDialog):
    """Retry one stage of one execution (see the module docstring)."""

    TITLE_TEXT: ClassVar[str] = "Retry stage"

    def __init__(
        self, pipeline: str, stage: StageView, watcher: Watcher, *, production: bool = False
    ) -> None:
        super().__init__(pipeline, watcher, production=production)
        self.stage = stage

    def compose_body(self) -> ComposeResult:
        stage = self.stage
        yield self.field("Pipeline", self.pipeline_name)
        yield self.field("Stage", f"{stage.name} · {look(stage.status).word}")
        yield self.field("Execution", stage.execution_id or "unknown")
        failed = [a.name for a in stage.actions if a.status in ("Failed", "Abandoned")]
        yield self.field("Failed", ", ".join(failed) or "none")
        with RadioSet(id="retry-mode"):
            for index, label in enumerate(MODES.values()):
                yield RadioButton(label, value=index == 0)

    def compose_buttons(self) -> ComposeResult:
        yield Button("Retry", id="retry", classes="control-go", variant="primary", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#retry-mode", RadioSet).focus()

    @property
    def mode(self) -> RetryMode:
        index = self.query_one("#retry-mode", RadioSet).pressed_index
        return "ALL_ACTIONS" if index == 1 else "FAILED_ACTIONS"

    def preview(self) -> str:
        return aws_cli(
            "retry-stage-execution",
            [
                ("pipeline-name", self.pipeline_name),
                ("stage-name", self.stage.name),
                ("pipeline-execution-id", self.stage.execution_id or "<execution>"),
                ("retry-mode", self.mode),
            ],
            self.connection,
        )

    def hidden_values(self) -> list[str | None]:
        return [self.stage.execution_id]

    def decide(self, button: str) -> Decision | str:
        execution = self.stage.execution_id
        if execution is None:
            return "No execution has run this stage."
        mode = self.mode
        stage = self.stage.name
        what = "its failed actions" if mode == "FAILED_ACTIONS" else "all its actions"

        async def send() -> str:
            await self.watcher.client.retry_stage_execution(
                self.pipeline_name, stage, execution, mode=mode
            )
            return f"Retrying {stage} of {self.pipeline_name} ({what})."

        return Decision(
            label="Retry",
            restated=f"Retry {stage} in {self.pipeline_name}, {what},\nfor execution {execution}.",
            command=self.preview(),
            send=send,
        )

    def explain(self, problem: ClientProblem) -> str | None:
        return EXPLANATIONS.get(problem.code or "")
