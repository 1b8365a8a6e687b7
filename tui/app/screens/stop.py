"""The stop dialog (`x`): stop an execution in progress, waiting for its actions or not.

    ╭─ Stop execution ────────────────────────────────────────────╮
    │ Pipeline   web-app                                          │
    │ Execution  3f2a9c1e-5b7d-4c1e-9f0a-2b3c4d5e6f70 · In progress
    │ Running    Build / Compile                                  │
    │ (•) Stop and wait: running actions finish, nothing new starts│
    │ ( ) Stop and abandon: running actions are abandoned         │
    │ Reason     [                                            ]   │
    ╰─────────────────────────────────────────────────────────────╯

StopPipelineExecution. The execution is the one the focused stage shows when it runs, else
the one the screen shows (the selected one, the latest one). The screen then shows it
Stopping, then Stopped, as the pipeline is re-read.

Decisions recorded here:

- A stop-and-wait of an execution already Stopping is what AWS refuses
  (DuplicatedStopRequest); the dialog offers it anyway and shows the refusal, since
  switching to abandon is allowed and is the useful next step.
- [I] The reason is optional and at most 200 characters (the model's limit), checked here.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from tui.app.screens.control import ControlDialog, Decision, status_word
from tui.app.widgets.cli_equivalent import aws_cli
from tui.aws.errors import ClientProblem
from tui.aws.watch import Watcher
from tui.model.projection import ExecutionView, StageView

REASON_LIMIT = 200
EXPLANATIONS = {
    "DuplicatedStopRequestException": (
        "It is already stopping and waiting for its actions; only stop and abandon can follow."
    ),
    "PipelineExecutionNotStoppableException": "It is no longer in progress.",
}


class StopDialog(ControlDialog):
    """Stop one execution (see the module docstring)."""

    TITLE_TEXT: ClassVar[str] = "Stop execution"

    def __init__(
        self,
        pipeline: str,
        execution: ExecutionView,
        stages: tuple[StageView, ...],
        watcher: Watcher,
        *,
        production: bool = False,
    ) -> None:
        super().__init__(pipeline, watcher, production=production)
        self.execution = execution
        self.stages = stages

    def compose_body(self) -> ComposeResult:
        execution = self.execution
        yield self.field("Pipeline", self.pipeline_name)
        yield self.field("Execution", f"{execution.execution_id} · {status_word(execution.status)}")
        running = [
            f"{stage.name} / {action.name}"
            for stage in self.stages
            if stage.execution_id == execution.execution_id
            for action in stage.actions
            if action.status == "InProgress"
        ]
        yield self.field("Running", ", ".join(running) or "nothing right now")
        with RadioSet(id="stop-mode"):
            yield RadioButton(
                "Stop and wait: running actions finish, nothing new starts", value=True
            )
            yield RadioButton("Stop and abandon: running actions are abandoned")
        yield Static(f"Reason (optional, up to {REASON_LIMIT} characters)", classes="control-label")
        yield Input(placeholder="why", id="stop-reason", max_length=REASON_LIMIT, compact=True)

    def compose_buttons(self) -> ComposeResult:
        yield Button("Stop", id="stop", classes="control-go", variant="error", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#stop-mode", RadioSet).focus()

    @property
    def abandon(self) -> bool:
        return self.query_one("#stop-mode", RadioSet).pressed_index == 1

    @property
    def reason(self) -> str:
        return self.query_one("#stop-reason", Input).value.strip()

    def preview(self) -> str:
        return aws_cli(
            "stop-pipeline-execution",
            [
                ("pipeline-name", self.pipeline_name),
                ("pipeline-execution-id", self.execution.execution_id),
                ("abandon", self.abandon),
                ("reason", self.reason or None),
            ],
            self.connection,
        )

    def hidden_values(self) -> list[str | None]:
        return [self.execution.execution_id]

    def decide(self, button: str) -> Decision | str:
        execution = self.execution.execution_id
        abandon, reason = self.abandon, self.reason
        how = "abandoning its running actions" if abandon else "letting its running actions finish"
        because = f', because "{reason}"' if reason else ""

        async def send() -> str:
            await self.watcher.client.stop_pipeline_execution(
                self.pipeline_name, execution, abandon=abandon, reason=reason or None
            )
            return f"Stopping execution {self.short_id(execution)} of {self.pipeline_name}."

        return Decision(
            label="Stop",
            restated=f"Stop execution {execution} of {self.pipeline_name},\n{how}{because}.",
            command=self.preview(),
            send=send,
            danger=True,
        )

    def explain(self, problem: ClientProblem) -> str | None:
        return EXPLANATIONS.get(problem.code or "")
