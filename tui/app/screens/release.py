"""The release-change dialog (`s`): start an execution, on V2 with variables and revisions.

    ╭─ Release change ────────────────────────────────────────────╮
    │ Pipeline   web-app · V2 · QUEUED                            │
    │ Variables (empty: the declared default)                     │
    │ Env        [ staging                                     ]  │
    │ Source revisions (empty: the latest)                        │
    │ Fetch      [ S3 object version ▾] [                      ]  │
    ╰─────────────────────────────────────────────────────────────╯

StartPipelineExecution. On a V2 pipeline the dialog reads the declaration and offers its
pipeline variables and, for each source action, a revision to run instead of the latest; all
of it optional (a V1 pipeline takes neither).

Decisions recorded here:

- One `clientRequestToken` per dialog, made when it opens and sent with every start it
  makes: a second confirmation (a double keypress, a retry after a lost answer) gets the same
  execution back from AWS instead of starting a second one. A new dialog is a new release.
- [I] The revision types offered follow the source's provider: S3 takes an object version id
  or an object key, ECR an image digest, the others (CodeCommit, CodeStar connections,
  GitHub) a commit id.
- [I] A variable left empty is not sent (its declared default applies); values are checked
  against AWS's limits (1 to 1000 characters) by AWS itself, whose refusal is shown.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Select, Static

from tui.app.screens.control import ControlDialog, Decision, status_word
from tui.app.widgets.cli_equivalent import aws_cli
from tui.aws.watch import Watcher
from tui.model.declaration import PipelineDeclaration
from tui.model.view import PipelineView

REVISION_TYPES: dict[str, tuple[str, ...]] = {
    "S3": ("S3_OBJECT_VERSION_ID", "S3_OBJECT_KEY"),
    "ECR": ("IMAGE_DIGEST",),
}
DEFAULT_REVISION_TYPES = ("COMMIT_ID",)
TYPE_WORDS = {
    "S3_OBJECT_VERSION_ID": "S3 object version",
    "S3_OBJECT_KEY": "S3 object key",
    "IMAGE_DIGEST": "Image digest",
    "COMMIT_ID": "Commit id",
}


def revision_types(provider: str) -> tuple[str, ...]:
    return REVISION_TYPES.get(provider, DEFAULT_REVISION_TYPES)


class ReleaseDialog(ControlDialog):
    """Start one execution of a pipeline (see the module docstring)."""

    TITLE_TEXT: ClassVar[str] = "Release change"

    def __init__(self, view: PipelineView, watcher: Watcher, *, production: bool = False) -> None:
        super().__init__(view.name, watcher, production=production)
        self.view = view
        self.client_request_token = str(uuid.uuid4())
        self.declaration: PipelineDeclaration | None = None
        self.variable_names: list[str] = []
        self.source_actions: list[str] = []
        self.started: list[str] = []
        """Execution ids AWS answered, one per start sent (the same id when the token
        made AWS return the execution it had already started)."""

    @property
    def v2(self) -> bool:
        return self.view.pipeline_type == "V2"

    def compose_body(self) -> ComposeResult:
        view = self.view
        kind = " · ".join(p for p in (view.pipeline_type, view.execution_mode) if p)
        yield self.field("Pipeline", f"{view.name} · {kind}" if kind else view.name)
        latest = view.latest_execution
        if latest is not None:
            yield self.field("Latest", f"{latest.execution_id} · {status_word(latest.status)}")
        if self.v2:
            yield Static("Reading the pipeline's variables and sources…", id="release-form-note")
        yield Vertical(id="release-form")

    def compose_buttons(self) -> ComposeResult:
        yield Button("Start", id="start", classes="control-go", variant="primary", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#start", Button).focus()
        if self.v2:
            self._load()

    @work(group="release-read", exit_on_error=False)
    async def _load(self) -> None:
        note = self.query_one("#release-form-note", Static)
        try:
            declaration = await self.watcher.declaration(self.pipeline_name)
        except Exception as exc:
            problem = self.watcher.aws.describe(exc)
            note.update(f"Variables and revisions unavailable ({problem.title}: {problem.detail})")
            return
        self.declaration = declaration
        form = self.query_one("#release-form", Vertical)
        widgets: list[Static | Input | Horizontal] = []
        variables = declaration.variables or []
        if variables:
            widgets.append(
                Static("Variables (empty: the declared default)", classes="control-label")
            )
        for index, variable in enumerate(variables):
            self.variable_names.append(variable.name)
            placeholder = variable.default_value or "(no default)"
            widgets.append(Static(variable.name, classes="control-name", markup=False))
            widgets.append(Input(placeholder=placeholder, id=f"release-var-{index}", compact=True))
        sources = [
            action
            for stage in declaration.stages
            for action in stage.actions
            if action.action_type_id.category == "Source"
        ]
        if sources:
            widgets.append(Static("Source revisions (empty: the latest)", classes="control-label"))
        for index, action in enumerate(sources):
            self.source_actions.append(action.name)
            types = revision_types(action.action_type_id.provider)
            widgets.append(Static(action.name, classes="control-name", markup=False))
            row = Horizontal(
                Select(
                    [(TYPE_WORDS[t], t) for t in types],
                    value=types[0],
                    allow_blank=False,
                    id=f"release-type-{index}",
                    compact=True,
                ),
                Input(placeholder="revision", id=f"release-rev-{index}", compact=True),
                classes="release-revision",
            )
            widgets.append(row)
        note.update("" if widgets else "This pipeline declares no variables.")
        note.display = not widgets
        await form.mount_all(widgets)
        self.update_preview()

    # What the form says ---------------------------------------------------------------------------

    @property
    def variables(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for index, name in enumerate(self.variable_names):
            value = self.query_one(f"#release-var-{index}", Input).value
            if value:
                values[name] = value
        return values

    @property
    def source_revisions(self) -> list[dict[str, str]]:
        revisions: list[dict[str, str]] = []
        for index, name in enumerate(self.source_actions):
            value = self.query_one(f"#release-rev-{index}", Input).value.strip()
            if not value:
                continue
            kind = self.query_one(f"#release-type-{index}", Select).value
            revisions.append(
                {"actionName": name, "revisionType": str(kind), "revisionValue": value}
            )
        return revisions

    def preview(self) -> str:
        variables = self.variables
        revisions = self.source_revisions
        return aws_cli(
            "start-pipeline-execution",
            [
                ("name", self.pipeline_name),
                ("client-request-token", self.client_request_token),
                ("variables", [{"name": k, "value": v} for k, v in variables.items()] or None),
                ("source-revisions", list(revisions) or None),
            ],
            self.connection,
        )

    def hidden_values(self) -> list[str | None]:
        latest = self.view.latest_execution
        latest_id = latest.execution_id if latest is not None else None
        return [self.client_request_token, latest_id, *self.started]

    def decide(self, button: str) -> Decision | str:
        variables = self.variables
        revisions = self.source_revisions
        token = self.client_request_token
        details = [f"{name} = {value}" for name, value in variables.items()]
        details += [f"{r['actionName']} at {r['revisionValue']}" for r in revisions]
        restated = f"Start a new execution of {self.pipeline_name}"
        restated += f"\nwith {', '.join(details)}." if details else " on the latest revisions."

        async def send() -> str:
            execution = await self.watcher.client.start_pipeline_execution(
                self.pipeline_name,
                client_request_token=token,
                variables=variables or None,
                source_revisions=revisions or None,
            )
            self.started.append(execution)
            return f"Started execution {self.short_id(execution)} of {self.pipeline_name}."

        return Decision(label="Start", restated=restated, command=self.preview(), send=send)
