"""The transition dialog (`t`): disable the focused stage's inbound transition, or enable it.

    ╭─ Disable transition ────────────────────────────────────────╮
    │ Pipeline   web-app                                          │
    │ Stage      Deploy (inbound: from Build)                     │
    │ Reason     [ Freeze for the release review               ]  │
    ╰─────────────────────────────────────────────────────────────╯

Disable/EnableStageTransition, `transitionType Inbound`: executions stop in front of the stage
while it is disabled. Disabling needs a reason, which is checked against AWS's own rule
before anything is sent: 1 to 300 characters of letters, digits, spaces and `! @ ( ) . * ? -`
(the model's pattern; `_ , : /` are refused by AWS).
"""

from __future__ import annotations

import re
from typing import ClassVar

from textual.app import ComposeResult
from textual.widgets import Button, Input, Static

from tui.app.screens.control import ControlDialog, Decision
from tui.app.widgets.cli_equivalent import aws_cli
from tui.aws.watch import Watcher
from tui.model.projection import StageView

REASON_PATTERN = re.compile(r"[a-zA-Z0-9!@ \(\)\.\*\?\-]+")
REASON_LIMIT = 300


def reason_problem(reason: str) -> str | None:
    """Why AWS would refuse `reason` for DisableStageTransition (None: it would not)."""
    if not reason:
        return "A reason is required to disable a transition."
    if len(reason) > REASON_LIMIT:
        return f"The reason is {len(reason)} characters; AWS takes at most {REASON_LIMIT}."
    if REASON_PATTERN.fullmatch(reason) is None:
        bad = sorted({c for c in reason if not REASON_PATTERN.fullmatch(c)})
        shown = " ".join(repr(c) for c in bad)
        return (
            f"AWS refuses these characters in a reason: {shown}. Use letters, digits, spaces "
            "and ! @ ( ) . * ? -"
        )
    return None


class TransitionDialog(ControlDialog):
    """Enable or disable one stage's inbound transition (see the module docstring)."""

    TITLE_TEXT: ClassVar[str] = "Stage transition"

    def __init__(
        self,
        pipeline: str,
        stage: StageView,
        previous: str | None,
        watcher: Watcher,
        *,
        production: bool = False,
    ) -> None:
        super().__init__(pipeline, watcher, production=production)
        self.stage = stage
        self.previous = previous
        transition = stage.inbound_transition
        self.enabled = transition is None or transition.enabled

    @property
    def title_text(self) -> str:
        return "Disable transition" if self.enabled else "Enable transition"

    def compose_body(self) -> ComposeResult:
        stage = self.stage
        yield self.field("Pipeline", self.pipeline_name)
        source = f" (inbound: from {self.previous})" if self.previous else " (inbound)"
        yield self.field("Stage", stage.name + source)
        if self.enabled:
            yield self.field("Now", "enabled: executions enter the stage")
            yield Static(
                "Reason (required; letters, digits, spaces and ! @ ( ) . * ? -)",
                classes="control-label",
            )
            yield Input(
                placeholder="why", id="transition-reason", max_length=REASON_LIMIT, compact=True
            )
        else:
            transition = stage.inbound_transition
            yield self.field("Now", "disabled: executions wait in front of the stage")
            if transition is not None:
                yield self.field("Reason", transition.disabled_reason or "none given")
                by = transition.last_changed_by or "unknown"
                when = transition.last_changed_at
                at = f" at {when.astimezone().strftime('%Y-%m-%d %H:%M')}" if when else ""
                yield self.field("By", by + at)

    def compose_buttons(self) -> ComposeResult:
        if self.enabled:
            yield Button(
                "Disable", id="disable", classes="control-go", variant="warning", compact=True
            )
        else:
            yield Button(
                "Enable", id="enable", classes="control-go", variant="primary", compact=True
            )

    def on_mount(self) -> None:
        super().on_mount()
        if self.enabled:
            self.query_one("#transition-reason", Input).focus()
        else:
            self.query_one("#enable", Button).focus()

    @property
    def reason(self) -> str:
        if not self.enabled:
            return ""
        return self.query_one("#transition-reason", Input).value.strip()

    def preview(self) -> str:
        arguments: list[tuple[str, str | None]] = [
            ("pipeline-name", self.pipeline_name),
            ("stage-name", self.stage.name),
            ("transition-type", "Inbound"),
        ]
        if self.enabled:
            arguments.append(("reason", self.reason or "<reason>"))
            return aws_cli("disable-stage-transition", arguments, self.connection)
        return aws_cli("enable-stage-transition", arguments, self.connection)

    def decide(self, button: str) -> Decision | str:
        stage = self.stage.name
        if not self.enabled:

            async def enable() -> str:
                await self.watcher.client.enable_stage_transition(self.pipeline_name, stage)
                return f"Enabled the transition into {stage}."

            return Decision(
                label="Enable",
                restated=f"Enable the transition into {stage} of {self.pipeline_name}:\n"
                "waiting executions may enter it.",
                command=self.preview(),
                send=enable,
            )
        reason = self.reason
        problem = reason_problem(reason)
        if problem is not None:
            return problem

        async def disable() -> str:
            await self.watcher.client.disable_stage_transition(self.pipeline_name, stage, reason)
            return f"Disabled the transition into {stage}."

        return Decision(
            label="Disable",
            restated=f'Disable the transition into {stage} of {self.pipeline_name},\nbecause "{reason}".',
            command=self.preview(),
            send=disable,
        )
