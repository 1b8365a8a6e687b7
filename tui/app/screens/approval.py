"""The approval dialog (`a`): everything about one pending manual approval, then an answer.

    ╭─ Manual approval ───────────────────────────────────────────╮
    │ Pipeline   web-app                                          │
    │ Stage      Deploy · action Release                          │
    │ Execution  3f2a9c1e-5b7d-4c1e-9f0a-2b3c4d5e6f70             │
    │ Revisions  Source: 3f9e2c1 Escape user input in the greeting│
    │ Waiting    12m · times out in 6d 23h                        │
    │ Custom     Check the staging site first                     │
    │ Link       https://staging.example.com   (ctrl+o opens it)  │
    │ Summary    [                                            ]   │
    │ Same with the AWS CLI: aws codepipeline put-approval-result …│
    │ [ Approve ] [ Reject ] [ Open link ] [ Copy command ] [ Cancel ]│
    ╰─────────────────────────────────────────── escape cancels ──╯

The answer carries the token of exactly the execution shown: the token the state showed for
it, or, on a PARALLEL pipeline (whose state shows no token), the run's `externalExecutionId`
from ListActionExecutions of that execution. CustomData and ExternalEntityLink come from the
declaration (GetPipeline), read when the dialog opens.

Decisions recorded here:

- The token is fixed when the dialog opens: an answer never goes to another execution than
  the one on screen. If AWS no longer accepts it (answered elsewhere, a newer execution
  reached the approval, it timed out: InvalidApprovalToken, ApprovalAlreadyCompleted) the
  dialog says so, disables its answers and the pipeline is re-read; nothing else is sent.
- [I] An empty summary is allowed (AWS allows 0 characters); at most 512 characters (the
  model's limit), checked before anything is sent.
- The time left counts from the approval's declared timeout (`timeoutInMinutes`, else AWS's
  default of 7 days). The declaration is read when the dialog opens: until then, if the
  pipeline's declaration was not known to the screen that opened it, the time left shows as
  "…" rather than a guess (a timeout can be anything from 5 minutes to 60 days).
- With `Settings.mask_ids` the execution id, the token (in the command) and the revision
  ids are masked on screen, also inside CustomData resolved with the execution's id; the
  answer carries the real token.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Input, Static

from tui.app.screens.control import ControlDialog, Decision
from tui.app.widgets.cli_equivalent import aws_cli
from tui.aws.errors import ClientProblem
from tui.aws.pipelines import ApprovalStatus
from tui.aws.watch import Watcher
from tui.model.derived import (
    approval_times_out_in,
    humanize_duration,
    waiting_for_approval_since,
)
from tui.model.projection import ActionView
from tui.model.state import SourceRevision

SUMMARY_LIMIT = 512
STALE_TOKEN_CODES = frozenset(
    {
        "InvalidApprovalTokenException",
        "InvalidApprovalToken",
        "ApprovalAlreadyCompletedException",
        "ApprovalAlreadyCompleted",
    }
)


@dataclass(frozen=True)
class PendingApproval:
    """One approval waiting, as a screen saw it."""

    pipeline: str
    stage: str
    action: ActionView
    execution_id: str | None
    execution_mode: str | None = None
    source_revisions: tuple[SourceRevision, ...] = ()
    context: str | None = None
    """The watched context (account, region) it is in, when several are watched."""
    timeout_known: bool = True
    """Whether `action.timeout_in_minutes` is the declared one (the pipeline's declaration
    was read): without the declaration, None does not mean AWS's default."""

    @property
    def parallel(self) -> bool:
        return self.execution_mode == "PARALLEL"


class ApprovalDialog(ControlDialog):
    """Approve or reject one pending approval (see the module docstring)."""

    TITLE_TEXT: ClassVar[str] = "Manual approval"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+o", "open_link", "Open link", id="approval-open-link"),
    ]

    def __init__(
        self, approval: PendingApproval, watcher: Watcher, *, production: bool = False
    ) -> None:
        super().__init__(approval.pipeline, watcher, production=production)
        self.approval = approval
        self.token: str | None = None if approval.parallel else approval.action.token
        self.custom_data: str | None = None
        self.link: str | None = None
        self.stale = False
        self.declaration_unreadable = False

    # Layout ----------------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        approval = self.approval
        yield self.field("Pipeline", approval.pipeline)
        yield self.field("Stage", f"{approval.stage} · action {approval.action.name}")
        yield self.field("Execution", approval.execution_id or "unknown")
        revisions = approval.source_revisions or ()
        if not revisions:
            yield self.field("Revisions", "none recorded")
        for index, revision in enumerate(revisions):
            text = f"{revision.action_name}: {self.short_revision(revision.revision_id)}"
            if revision.revision_summary:
                text += f" {revision.revision_summary.splitlines()[0]}"
            yield self.field("Revisions" if index == 0 else "", text)
        yield self.field("Waiting", self._times(), id="approval-times")
        yield self.field("Custom", "…", id="approval-custom")
        yield self.field("Link", "…", id="approval-link")
        yield Static(
            "Summary (shown with the answer, up to 512 characters)", classes="control-label"
        )
        yield Input(
            placeholder="why", id="approval-summary", max_length=SUMMARY_LIMIT, compact=True
        )

    def compose_buttons(self) -> ComposeResult:
        yield Button("Approve", id="approve", classes="control-go", variant="success", compact=True)
        yield Button("Reject", id="reject", classes="control-go", variant="error", compact=True)
        yield Button("Open link", id="open-link", disabled=True, compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#approval-summary", Input).focus()
        self.set_interval(1.0, self._tick)
        self._load()

    def _times(self) -> str:
        action = self.approval.action
        since = waiting_for_approval_since(action)
        left = approval_times_out_in(action, self.now())
        if since is None:
            return "not known"
        waited = humanize_duration(max(self.now() - since, timedelta(0)))
        text = f"{waited} (since {since.astimezone().strftime('%H:%M')})"
        if not self.approval.timeout_known:
            text += f" · times out in {'?' if self.declaration_unreadable else '…'}"
        elif left is not None:
            text += f" · times out in {humanize_duration(left)}"
        return text

    def _tick(self) -> None:
        self.query_one("#approval-times", Static).update(self._times())

    @work(group="approval-read", exit_on_error=False)
    async def _load(self) -> None:
        """CustomData and the link (as the run resolved them, else as declared); on PARALLEL
        pipelines the token."""
        approval = self.approval
        configuration: dict[str, str] = {}
        note = ""
        try:
            declaration = await self.watcher.declaration(approval.pipeline)
        except Exception as exc:
            problem = self.watcher.aws.describe(exc)
            note = f"({problem.title}: {problem.detail})"
            self.declaration_unreadable = True
            self._tick()
        else:
            stage = declaration.stage(approval.stage)
            declared = stage.action(approval.action.name) if stage is not None else None
            configuration = dict(declared.configuration) if declared is not None else {}
            if declared is not None:
                action = replace(approval.action, timeout_in_minutes=declared.timeout_in_minutes)
                self.approval = replace(approval, action=action, timeout_known=True)
                self._tick()
        run = None
        if approval.execution_id is not None:
            try:
                details = await self.watcher.action_executions(
                    approval.pipeline, approval.execution_id
                )
            except Exception as exc:
                problem = self.watcher.aws.describe(exc)
                self.say(f"{problem.title}: {problem.detail}")
                details = ()
            run = next(
                (
                    d
                    for d in details
                    if d.stage_name == approval.stage and d.action_name == approval.action.name
                ),
                None,
            )
        if run is not None and run.input is not None:
            # Variables in CustomData are resolved in the run's configuration.
            configuration.update(run.input.resolved_configuration)
        self._show_config(
            configuration.get("CustomData"), configuration.get("ExternalEntityLink"), note=note
        )
        if self.token is None:
            result = run.output.execution_result if run and run.output else None
            if run is not None and run.status == "InProgress" and result is not None:
                self.token = result.external_execution_id
            if self.token is None:
                self.say("This execution has no approval waiting here any more.")
            self.update_preview()

    def _show_config(self, custom: str | None, link: str | None, *, note: str = "") -> None:
        self.custom_data = custom
        self.link = link
        self.query_one("#approval-custom", Static).update(self.shown(custom or note or "none"))
        suffix = "  (ctrl+o opens it)" if link else ""
        shown_link = self.shown(f"{link or note or 'none'}{suffix}")
        self.query_one("#approval-link", Static).update(shown_link)
        self.query_one("#open-link", Button).disabled = link is None

    # Answer --------------------------------------------------------------------------------------

    @property
    def summary(self) -> str:
        return self.query_one("#approval-summary", Input).value

    def command_for(self, status: str) -> str:
        approval = self.approval
        return aws_cli(
            "put-approval-result",
            [
                ("pipeline-name", approval.pipeline),
                ("stage-name", approval.stage),
                ("action-name", approval.action.name),
                ("result", {"summary": self.summary, "status": status}),
                ("token", self.token or "<token not known yet>"),
            ],
            self.connection,
        )

    def preview(self) -> str:
        return self.command_for("Approved")

    def hidden_values(self) -> list[str | None]:
        revisions = [r.revision_id for r in self.approval.source_revisions]
        return [self.approval.execution_id, self.token, *revisions]

    def decide(self, button: str) -> Decision | str:
        if self.stale:
            return "This approval no longer accepts this answer; close the dialog."
        token = self.token
        if token is None:
            return "The approval's token is not known yet; wait a moment."
        status: ApprovalStatus = "Approved" if button == "approve" else "Rejected"
        verb = "Approve" if status == "Approved" else "Reject"
        summary = self.summary
        approval = self.approval
        execution = approval.execution_id or "the execution shown"
        said = f'with the summary "{summary}"' if summary else "with no summary"
        restated = (
            f"{verb} {approval.action.name} in {approval.pipeline} / {approval.stage}\n"
            f"for execution {execution}, {said}."
        )

        async def send() -> str:
            await self.watcher.client.put_approval_result(
                approval.pipeline, approval.stage, approval.action.name, token, status, summary
            )
            done = "Approved" if status == "Approved" else "Rejected"
            return f"{done} {approval.action.name} in {approval.pipeline} / {approval.stage}."

        return Decision(
            label=verb,
            restated=restated,
            command=self.command_for(status),
            send=send,
            danger=status == "Rejected",
        )

    def explain(self, problem: ClientProblem) -> str | None:
        if problem.code in STALE_TOKEN_CODES:
            return (
                "Nothing was answered: this approval request is no longer open for the "
                "execution shown (answered elsewhere, a newer execution reached it, or it "
                "timed out). The pipeline is being re-read."
            )
        return None

    def after_problem(self, problem: ClientProblem) -> None:
        if problem.code in STALE_TOKEN_CODES:
            self.stale = True
            for button in self.query(".control-go").results(Button):
                button.disabled = True

    # Link ----------------------------------------------------------------------------------------

    @on(Button.Pressed, "#open-link")
    def _open_link_pressed(self) -> None:
        self.action_open_link()

    def action_open_link(self) -> None:
        if self.link:
            self.app.open_url(self.link)
