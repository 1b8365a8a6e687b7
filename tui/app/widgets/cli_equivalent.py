"""The `aws codepipeline ...` command that does what a control dialog is about to do.

    aws codepipeline stop-pipeline-execution --pipeline-name web-app \\
        --pipeline-execution-id 3f2a9c1e-... --no-abandon --reason 'bad build'

Every control dialog shows it (and its confirmation), and `copy()` puts it on the clipboard
(`App.copy_to_clipboard`: OSC 52, which most terminals honour), so what pipetop does can be
done, scripted or audited without it.

Decisions recorded here:

- Arguments are quoted for a POSIX shell (`shlex.quote`); structures (`--result`,
  `--variables`, `--source-revisions`) are JSON, which the AWS CLI takes for any structure.
- The connection's `--endpoint-url`, `--profile` and `--region` come first when pipetop uses
  them, so the command acts on the same account and endpoint (the demo's local endpoint too).
- [I] A boolean is `--flag` / `--no-flag`, spelled out even when it is the default, so the
  command says what it does (`--no-abandon` is "stop and wait").
- With `Settings.mask_ids` the widget shows the command with its ids masked (the dialog
  hands both: `show(command, shown=...)`, see tui/app/widgets/masking.py); `command` stays
  the real one.
- [I] Copy puts the real command on the clipboard, also when the screen shows it masked:
  masking protects what is on a shared screen or in a screenshot, and copying is a deliberate
  act of the user at the keyboard, who wants a command that works. A copied token or
  execution id is only as visible as the user then makes it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from textual.widgets import Static

Argument = tuple[str, "str | bool | int | list[object] | dict[str, object] | None"]


@dataclass(frozen=True)
class CliConnection:
    """What the AWS CLI needs to reach what pipetop reaches."""

    endpoint_url: str | None = None
    profile: str | None = None
    region: str | None = None


def _value(value: object) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def aws_cli(
    operation: str, arguments: Sequence[Argument], connection: CliConnection | None = None
) -> str:
    """`aws codepipeline <operation> --option value ...`, quoted for a shell.

    `arguments` are (option without dashes, value) pairs in the order to show; None leaves the
    option out, True/False is `--option`/`--no-option`."""
    words = ["aws"]
    if connection is not None:
        for option, setting in (
            ("endpoint-url", connection.endpoint_url),
            ("profile", connection.profile),
            ("region", connection.region),
        ):
            if setting:
                words += [f"--{option}", setting]
    words += ["codepipeline", operation]
    for option, value in arguments:
        if value is None:
            continue
        if isinstance(value, bool):
            words.append(f"--{option}" if value else f"--no-{option}")
            continue
        words += [f"--{option}", _value(value)]
    return " ".join(shlex.quote(word) for word in words)


class CliEquivalent(Static):
    """The equivalent AWS CLI command, shown in full (wrapped, ids masked if asked), and
    copyable (the real command)."""

    DEFAULT_CSS = """
    CliEquivalent {
        height: auto;
        color: $text-muted;
    }
    """

    def __init__(
        self, command: str = "", *, shown: str | None = None, id: str | None = None
    ) -> None:
        super().__init__(command if shown is None else shown, id=id, markup=False)
        self.command = command
        """The real command (what `copy` copies)."""
        self.shown = command if shown is None else shown
        """What the screen shows: the command, or the command with its ids masked."""

    def show(self, command: str, *, shown: str | None = None) -> None:
        """Show `command`, or `shown` in its place (the same command with ids masked)."""
        self.command = command
        text = command if shown is None else shown
        if text != self.shown:
            self.shown = text
            self.update(text)

    def copy(self) -> None:
        """Put the command on the clipboard and say so."""
        self.app.copy_to_clipboard(self.command)
        self.app.notify("Copied to the clipboard.", title="AWS CLI command", timeout=3)
