"""The rollback dialog (`b`): roll a stage back to an earlier execution that succeeded in it.

    ╭─ Roll back stage ───────────────────────────────────────────╮
    │ Pipeline   web-app                                          │
    │ Stage      Deploy · now 3f2a9c1e · ✗ Failed                 │
    │ Roll back to (executions that succeeded in Deploy):         │
    │ > 1b2c3d4e  2026-01-01 00:03  Source 3f9e2c1 Fix the header │
    │   9a8b7c6d  2026-01-01 00:01  Source 0aa1b2c First version  │
    ╰─────────────────────────────────────────────────────────────╯

RollbackStage: a new execution (type ROLLBACK) reruns the stage with the chosen execution's
artifacts and variables. The targets are ListPipelineExecutions filtered on `succeededInStage`,
newest first; AWS refuses what cannot be a target (another pipeline version:
PipelineExecutionOutdated; the stage running: UnableToRollbackStage), and the dialog shows why.

Decisions recorded here:

- [I] Rollback executions are left out of the targets (AWS refuses a rollback as a target);
  the execution the stage shows now is listed and marked "now", since rolling back to it
  reruns what is there.
- The list is read when the dialog opens (the newest 50 executions that succeeded there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from tui.app.screens.control import ControlDialog, Decision
from tui.app.widgets.cli_equivalent import aws_cli
from tui.app.widgets.glyphs import look
from tui.aws.errors import ClientProblem
from tui.aws.watch import Watcher
from tui.model.derived import short_revision
from tui.model.projection import StageView

TARGETS_READ = 50
EXPLANATIONS = {
    "UnableToRollbackStageException": (
        "AWS rolls back a stage only when it is not running, on a V2 pipeline that does not "
        "run in PARALLEL mode, to an execution that succeeded in it."
    ),
    "PipelineExecutionOutdatedException": (
        "That execution ran an older version of the pipeline; pick a newer one."
    ),
}


@dataclass(frozen=True)
class RollbackTarget:
    execution_id: str
    started: datetime | None
    revisions: str
    """Its source revisions in a line: action, short revision id, first line of the summary."""
    revision_ids: tuple[str, ...] = ()
    """The revision ids in full and short (what `Settings.mask_ids` hides)."""

    @classmethod
    def of(cls, summary: dict[str, Any]) -> RollbackTarget:
        parts = []
        ids: list[str] = []
        for revision in summary.get("sourceRevisions") or []:
            revision_id = revision.get("revisionId")
            if revision_id:
                ids += [str(revision_id), short_revision(revision_id)]
            text = f"{revision.get('actionName', '?')} {short_revision(revision_id)}"
            summary_text = (revision.get("revisionSummary") or "").splitlines()
            if summary_text:
                text += f" {summary_text[0]}"
            parts.append(text)
        started = summary.get("startTime")
        return cls(
            execution_id=str(summary["pipelineExecutionId"]),
            started=started if isinstance(started, datetime) else None,
            revisions="; ".join(parts),
            revision_ids=tuple(ids),
        )


class RollbackDialog(ControlDialog):
    """Roll one stage back (see the module docstring)."""

    TITLE_TEXT: ClassVar[str] = "Roll back stage"

    def __init__(
        self, pipeline: str, stage: StageView, watcher: Watcher, *, production: bool = False
    ) -> None:
        super().__init__(pipeline, watcher, production=production)
        self.stage = stage
        self.targets: list[RollbackTarget] = []

    def compose_body(self) -> ComposeResult:
        stage = self.stage
        now = f" · now {self.short_id(stage.execution_id)}" if stage.execution_id else ""
        yield self.field("Pipeline", self.pipeline_name)
        yield self.field("Stage", f"{stage.name}{now} · {look(stage.status).word}")
        yield Static(
            f"Roll back to (executions that succeeded in {stage.name}):", classes="control-label"
        )
        yield Static("Reading…", id="rollback-note", classes="control-hint")
        yield OptionList(id="rollback-targets")

    def compose_buttons(self) -> ComposeResult:
        yield Button(
            "Roll back", id="rollback", classes="control-go", variant="warning", compact=True
        )

    def on_mount(self) -> None:
        super().on_mount()
        self._load()

    @work(group="rollback-read", exit_on_error=False)
    async def _load(self) -> None:
        note = self.query_one("#rollback-note", Static)
        try:
            summaries = await self.watcher.client.list_pipeline_executions(
                self.pipeline_name, max_items=TARGETS_READ, succeeded_in_stage=self.stage.name
            )
        except Exception as exc:
            problem = self.watcher.aws.describe(exc)
            note.update(self.shown(f"{problem.title}: {problem.detail}"))
            return
        self.targets = [
            RollbackTarget.of(summary)
            for summary in summaries
            if summary.get("executionType") != "ROLLBACK"
        ]
        options = self.query_one("#rollback-targets", OptionList)
        options.add_options(
            Option(self._label(target), id=target.execution_id) for target in self.targets
        )
        if self.targets:
            note.display = False
            # The newest execution other than the one the stage shows now: the usual target.
            others = [
                i for i, t in enumerate(self.targets) if t.execution_id != self.stage.execution_id
            ]
            options.highlighted = others[0] if others else 0
            options.focus()
        else:
            note.update(f"No execution has succeeded in {self.stage.name} yet.")
        self.update_preview()

    def _label(self, target: RollbackTarget) -> str:
        started = target.started.astimezone().strftime("%Y-%m-%d %H:%M") if target.started else "?"
        now = " (now)" if target.execution_id == self.stage.execution_id else ""
        shown = f"{self.short_id(target.execution_id)}{now}  {started}  {target.revisions}"
        return self.shown(shown)

    @property
    def target(self) -> RollbackTarget | None:
        options = self.query_one("#rollback-targets", OptionList)
        index = options.highlighted
        if index is None or not 0 <= index < len(self.targets):
            return None
        return self.targets[index]

    def preview(self) -> str:
        target = self.target
        return aws_cli(
            "rollback-stage",
            [
                ("pipeline-name", self.pipeline_name),
                ("stage-name", self.stage.name),
                (
                    "target-pipeline-execution-id",
                    target.execution_id if target else "<execution>",
                ),
            ],
            self.connection,
        )

    def hidden_values(self) -> list[str | None]:
        values: list[str | None] = [self.stage.execution_id]
        for target in self.targets:
            values += [target.execution_id, *target.revision_ids]
        return values

    def decide(self, button: str) -> Decision | str:
        target = self.target
        if target is None:
            return "Choose the execution to roll back to."
        stage, target_id = self.stage.name, target.execution_id

        async def send() -> str:
            execution = await self.watcher.client.rollback_stage(
                self.pipeline_name, stage, target_id
            )
            return f"Rolling back {stage}: execution {self.short_id(execution)} started."

        return Decision(
            label="Roll back",
            restated=(
                f"Roll {stage} of {self.pipeline_name} back to execution {target_id}\n"
                f"({target.revisions or 'its revisions'})."
            ),
            command=self.preview(),
            send=send,
            danger=True,
        )

    def explain(self, problem: ClientProblem) -> str | None:
        return EXPLANATIONS.get(problem.code or "")
