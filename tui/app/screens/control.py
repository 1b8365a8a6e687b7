"""What every control dialog shares: the frame, the command, confirmation, sending, problems.

    ╭─ Stop execution ────────────────────────────────────────────╮
    │ (the control's own fields: `compose_body`)                  │
    │ Same with the AWS CLI:                                      │
    │ aws codepipeline stop-pipeline-execution --pipeline-name …  │
    │ (a problem, when AWS refused)                               │
    │ [ Stop ] [ Copy command ] [ Cancel ]                        │
    ╰──────────────────────────────────────── escape cancels ─────╯

A control (approval, retry, stop, release, transition, rollback) subclasses `ControlDialog`:
`compose_body()` yields its fields, `compose_buttons()` its action buttons (class
`control-go`), `preview()` the command for the fields as they are, and `decide(button)` turns
a press into a `Decision` (what to restate, the command, the call) or a sentence saying what is
missing. The base asks `ConfirmScreen` (the pipeline's name typed out on production), then
sends in a worker; the dialog dismisses with the success message, or stays and shows what AWS
said.

Decisions recorded here:

- The call runs in a worker of the dialog (group "control"), so the screen keeps drawing
  while it is sent; the pipeline is re-read afterwards either way, so the screen shows the
  result (or why nothing changed) without waiting for the next poll.
- AWS's refusals are shown as `ClientProblem`s (tui/aws/errors.py) in the dialog itself, title
  and AWS's own message, not as a toast that goes away: the user decides what next. A
  subclass may say more for the refusals it knows (`explain`).
- [I] A second confirmation while a call is in flight sends again (the release dialog's
  clientRequestToken makes that the same execution); the dialog closes once every call it
  sent has been answered, so no worker is cancelled with its request on the wire.
- Escape always cancels (the dialog's binding; confirmation's too); nothing is sent before
  the confirmation says yes.
- [I] On a production account (`production`, per context) the dialog and its confirmation
  are framed in the colour of the production banner (class `-production`, controls.tcss):
  the account shows on the dialog itself, not only in the status bar behind it.
- With `Settings.mask_ids` every text the dialog shows goes through `shown()`: the ids the
  control names (`hidden_values()`: execution ids, approval tokens, clientRequestTokens,
  revision ids) and the endpoint's port are masked wherever they appear, in its fields, the
  command, the confirmation, AWS's refusals and the toast on success
  (tui/app/widgets/masking.py). Only the screen is masked: the request, the `Decision`s kept
  in `sent` and the copied command carry the real values. [I] What the user types (a summary,
  a reason, a revision to release) is shown as typed, in its field and in the command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, RadioSet, Select, Static

from tui.app.screens.confirm import ConfirmScreen
from tui.app.widgets.cli_equivalent import CliConnection, CliEquivalent
from tui.app.widgets.glyphs import look
from tui.app.widgets.masking import hide, mask_ids_of, masked_if, short_id
from tui.aws.errors import ClientProblem
from tui.aws.watch import Watcher
from tui.model.derived import short_revision


@dataclass(frozen=True)
class Decision:
    """One mutating call, ready to confirm and send."""

    label: str
    """The confirm button's word ("Approve", "Stop")."""
    restated: str
    """The decision in a sentence, for the confirmation."""
    command: str
    """The equivalent AWS CLI command."""
    send: Callable[[], Awaitable[str]]
    """Makes the call; returns what to tell the user when it worked."""
    danger: bool = False


def cli_connection(watcher: Watcher) -> CliConnection:
    aws = watcher.aws
    return CliConnection(
        endpoint_url=aws.settings.endpoint_url, profile=aws.profile, region=aws.region
    )


class ControlDialog(ModalScreen[str | None]):
    """The frame of a control dialog (see the module docstring)."""

    CSS_PATH = "controls.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="control-cancel"),
    ]
    TITLE_TEXT: ClassVar[str] = "Control"

    def __init__(
        self,
        pipeline: str,
        watcher: Watcher,
        *,
        production: bool = False,
        mask_ids: bool | None = None,
    ) -> None:
        super().__init__(classes="control-screen -production" if production else "control-screen")
        self.pipeline_name = pipeline
        self.watcher = watcher
        self.production = production
        self._mask_ids = mask_ids
        self.in_flight = 0
        """Calls sent and not answered yet."""
        self.sent: list[Decision] = []
        """Decisions sent, in order (what the user confirmed)."""
        self.problem: ClientProblem | None = None
        """What AWS (or the client layer) said to the last call, when it refused."""

    # Layout --------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(classes="control-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "escape cancels"
            with VerticalScroll(classes="control-body"):
                yield from self.compose_body()
                yield Static("Same with the AWS CLI:", classes="control-label")
                yield CliEquivalent(id="control-command")
            yield Static("", id="control-problem", markup=False)
            with Horizontal(classes="control-buttons"):
                yield from self.compose_buttons()
                yield Button("Copy command", id="copy", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def compose_buttons(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.query_one("#control-problem", Static).display = False
        self.update_preview()

    # What subclasses say -------------------------------------------------------------------------

    def preview(self) -> str:
        """The command for the fields as they are now."""
        return ""

    def decide(self, button: str) -> Decision | str:
        """The decision a press of the action button `button` (its id) means, or what is
        missing before it can mean one."""
        raise NotImplementedError

    def explain(self, problem: ClientProblem) -> str | None:
        """A sentence for a refusal this control knows (None: AWS's own words suffice)."""
        return None

    def hidden_values(self) -> list[str | None]:
        """The ids this control shows that `Settings.mask_ids` hides (asked each time a text
        is shown: an approval's token may be learned after the dialog opened)."""
        return []

    def after_problem(self, problem: ClientProblem) -> None:
        """Called after a refusal is shown (the approval disables itself on a stale token)."""

    # Helpers -------------------------------------------------------------------------------------

    @property
    def title_text(self) -> str:
        """The frame's title (a control may say more than its class does)."""
        return self.TITLE_TEXT

    @property
    def connection(self) -> CliConnection:
        return cli_connection(self.watcher)

    @property
    def mask_ids(self) -> bool:
        """`Settings.mask_ids` (unless the dialog was made with its own)."""
        if self._mask_ids is None:
            self._mask_ids = mask_ids_of(self.app)
        return self._mask_ids

    def shown(self, text: str) -> str:
        """`text` as the screen shows it: with `mask_ids`, the control's ids and the
        endpoint's port masked wherever they appear."""
        if not self.mask_ids:
            return text
        return hide(text, self.hidden_values(), urls=[self.connection.endpoint_url])

    def short_id(self, value: str) -> str:
        """An execution id's short form, as the screens show it (masked with `mask_ids`)."""
        return short_id(value, self.mask_ids)

    def short_revision(self, value: str | None) -> str:
        """A revision id's short form, as the screens show it (masked with `mask_ids`)."""
        return masked_if(short_revision(value), self.mask_ids)

    def field(self, label: str, value: Any, *, id: str | None = None) -> Horizontal:
        """`field_row` with the value as the screen shows it (`shown`)."""
        return field_row(label, None if value is None else self.shown(str(value)), id=id)

    def now(self) -> datetime:
        clock: Callable[[], datetime] | None = getattr(self.app, "clock", None)
        return clock() if clock is not None else datetime.now(UTC)

    def update_preview(self) -> None:
        # Also called by events that may come before compose (an early Input.Changed).
        for command in self.query("#control-command").results(CliEquivalent):
            real = self.preview()
            command.show(real, shown=self.shown(real))

    def say(self, text: str, *, error: bool = True) -> None:
        """A line above the buttons: a problem, or what is happening."""
        line = self.query_one("#control-problem", Static)
        line.update(self.shown(text))
        line.display = bool(text)
        line.set_class(error and bool(text), "-error")

    # Events --------------------------------------------------------------------------------------

    @on(Input.Changed)
    @on(RadioSet.Changed)
    @on(Select.Changed)
    @on(OptionList.OptionHighlighted)
    def _fields_changed(self) -> None:
        self.update_preview()

    @on(Button.Pressed, "#copy")
    def _copy(self) -> None:
        self.query_one("#control-command", CliEquivalent).copy()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, ".control-go")
    def _go(self, event: Button.Pressed) -> None:
        event.stop()
        decision = self.decide(event.button.id or "")
        if isinstance(decision, str):
            self.say(decision)
            self.app.bell()
            return
        self.say("")
        require = self.pipeline_name if self.production else None
        self.app.push_screen(
            ConfirmScreen(
                decision.restated,
                decision.command,
                label=decision.label,
                require_name=require,
                danger=decision.danger,
                shown=self.shown,
            ),
            lambda confirmed: self._confirmed(decision, confirmed),
        )

    def _confirmed(self, decision: Decision, confirmed: bool | None) -> None:
        if confirmed:
            self.send(decision)

    def action_cancel(self) -> None:
        self.dismiss(None)

    # Sending -------------------------------------------------------------------------------------

    @work(group="control", exit_on_error=False)
    async def send(self, decision: Decision) -> None:
        """Make the confirmed call; dismiss with its message, or show the refusal."""
        self.in_flight += 1
        self.sent.append(decision)
        self.say(f"{decision.label}: sending…", error=False)
        try:
            message = await decision.send()
        except Exception as exc:
            self.in_flight -= 1
            problem = self.watcher.aws.describe(exc)
            self.problem = problem
            self.watcher.refresh(self.pipeline_name)
            explained = self.explain(problem)
            lines = [f"{problem.title}: {problem.detail}"]
            if explained:
                lines.append(explained)
            elif problem.hint:
                lines.append(problem.hint)
            self.say("\n".join(lines))
            self.after_problem(problem)
            return
        self.in_flight -= 1
        self.watcher.refresh(self.pipeline_name)
        if self.in_flight:
            # Closing would cancel the other call's worker: its answer is awaited first.
            return
        self.app.notify(self.shown(message), title=self.title_text, timeout=6, markup=False)
        self.dismiss(message)


def status_word(status: str | None) -> str:
    """An execution's status as the screens word it ("In progress", not "InProgress")."""
    return look(status).word if status else "?"


def field_row(label: str, value: Any, *, id: str | None = None) -> Horizontal:
    """One "Label   value" row of a dialog; a long value wraps under itself. `id` names the
    value (a `.control-value` Static), for the dialogs that update it."""
    return Horizontal(
        Static(label, classes="control-key", markup=False),
        Static("" if value is None else str(value), classes="control-value", id=id, markup=False),
        classes="control-field",
    )
