"""The confirmation every mutating control passes: the decision restated, the command, yes/no.

    ╭─ Confirm ─────────────────────────────────────────────────────────╮
    │ Approve Release in web-app / Deploy                               │
    │ for execution 3f2a9c1e-…, with the summary "looks good".          │
    │ aws codepipeline put-approval-result --pipeline-name web-app ...  │
    │ Production: type web-app to confirm  [                      ]     │
    │                      [ Approve ] [ Copy command ] [ Cancel ]      │
    ╰───────────────────────────────────────────────────────────────────╯

`ConfirmScreen(decision, command, label=..., require_name=None, shown=...)` dismisses with
True only when the user confirms; escape, Cancel and closing say False. `shown` is how the
dialog that asks shows a text (its ids masked with `Settings.mask_ids`): the decision and the
command are shown through it, and kept as they are in `decision` and `command`.

Decisions recorded here:

- On a production profile (`Settings.production`) the confirm button stays disabled until
  the pipeline's name is typed exactly (enter in the field confirms then): a muscle-memory
  enter cannot act on production.
- [I] Elsewhere the confirm button has the focus: the confirmation is the second deliberate
  step after the control's own dialog, and enter is what people press.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from tui.app.widgets.cli_equivalent import CliEquivalent


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no to one mutating call (see the module docstring)."""

    CSS_PATH = "controls.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm-cancel"),
    ]

    def __init__(
        self,
        decision: str,
        command: str,
        *,
        label: str = "Confirm",
        require_name: str | None = None,
        danger: bool = False,
        shown: Callable[[str], str] | None = None,
    ) -> None:
        # A production confirmation (the name required) is framed as its dialog is.
        production = require_name is not None
        super().__init__(classes="control-screen -production" if production else "control-screen")
        self.decision = decision
        self.command = command
        self.shown: Callable[[str], str] = shown or (lambda text: text)
        self.label = label
        self.require_name = require_name
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="control-box", id="confirm-box") as box:
            box.border_title = "Confirm"
            box.border_subtitle = "escape cancels"
            yield Static(self.shown(self.decision), id="confirm-decision", markup=False)
            yield Static("Same with the AWS CLI:", classes="control-label")
            yield CliEquivalent(self.command, shown=self.shown(self.command), id="confirm-command")
            if self.require_name is not None:
                yield Static(
                    f"Production: type {self.require_name} to confirm",
                    id="confirm-production",
                    markup=False,
                )
                yield Input(placeholder=self.require_name, id="confirm-name", compact=True)
            with Horizontal(classes="control-buttons"):
                yield Button(
                    self.label,
                    id="confirm",
                    variant="error" if self.danger else "primary",
                    disabled=self.require_name is not None,
                    compact=True,
                )
                yield Button("Copy command", id="copy", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        if self.require_name is not None:
            self.query_one("#confirm-name", Input).focus()
        else:
            self.query_one("#confirm", Button).focus()

    @property
    def name_typed(self) -> bool:
        if self.require_name is None:
            return True
        return self.query_one("#confirm-name", Input).value.strip() == self.require_name

    @on(Input.Changed, "#confirm-name")
    def _name_changed(self) -> None:
        self.query_one("#confirm", Button).disabled = not self.name_typed

    @on(Input.Submitted, "#confirm-name")
    def _name_submitted(self) -> None:
        if self.name_typed:
            self.dismiss(True)
        else:
            self.app.bell()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        if self.name_typed:
            self.dismiss(True)

    @on(Button.Pressed, "#copy")
    def _copy(self) -> None:
        self.query_one(CliEquivalent).copy()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)
