"""One action in a stage panel: status, name, provider, time, what it said, where it runs.

    ✓ Compile                     1m 20s
      Commands · Succeeded
      Build succeeded
      ↗ https://console.aws.amazon.com/codesuite/…

A pending manual approval stands out (its own colours, `-awaiting`, and a diamond instead of
a spinner) and says since when it waits and how long is left before it times out. A running action shows a spinner (a still dot without
animations). The parent sets `action` (an `ActionView`); the row only draws it. Rows are
focusable: the focused row is the action that `l` (logs) and `o` (artifacts) act on.

Decisions recorded here:

- [I] The link shown is the run's `externalExecutionUrl` (the build, the deployment), else
  the action's `entityUrl` (the project, the bucket): the run is what one wants to open
  from a stage. It is a terminal hyperlink (OSC 8) where the terminal supports them.
- [I] An error shows its code and message (`JobFailed: ...`); a summary and an error never
  both show: the error is what matters then.
- Every line is cut to the panel's width with an ellipsis, except an error message, which
  wraps over up to three lines (the reason one opened the pipeline); a row's height changes
  only when its status does.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.app.widgets.glyphs import LINK, Palette, look
from tui.model.derived import (
    action_elapsed,
    approval_times_out_in,
    humanize_duration,
    waiting_for_approval_since,
)
from tui.model.projection import ActionView

_PROVIDER_WORDS = {"Manual": "Manual approval"}
ERROR_LINES = 3


def local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M")


class ActionRow(Widget, can_focus=True):
    """One action; `action` is set by the stage panel."""

    DEFAULT_CSS = """
    ActionRow {
        height: auto;
        width: 1fr;
    }
    """

    action: reactive[ActionView | None] = reactive(None, layout=True)

    def __init__(
        self,
        action: ActionView,
        *,
        stage: str,
        animated: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.stage = stage
        self.animated = animated
        self._time_reading: tuple[str, str] = ("", "")
        self.set_reactive(ActionRow.action, action)
        self._apply_classes(action)

    @property
    def action_name(self) -> str:
        return self.action.name if self.action is not None else ""

    def watch_action(self, action: ActionView | None) -> None:
        if action is not None:
            self._apply_classes(action)

    def _apply_classes(self, action: ActionView) -> None:
        shown = look(action.status)
        for tone in ("-success", "-error", "-warning", "-running", "-muted", "-info"):
            self.set_class(tone == shown.css_class, tone)
        self.set_class(action.awaiting_approval, "-awaiting")

    @property
    def running(self) -> bool:
        return self.action is not None and self.action.status == "InProgress"

    def tick(self) -> None:
        """Redraw if a time on the row reads differently now (once a second, by the screen:
        an idle screen redraws nothing)."""
        action = self.action
        if action is None or action.status != "InProgress":
            return
        now = self._now()
        left = approval_times_out_in(action, now)
        reading = (_timing(action, now), humanize_duration(left) if left is not None else "")
        if reading != self._time_reading:
            self._time_reading = reading
            self.refresh()

    def _now(self) -> datetime:
        clock: Callable[[], datetime] | None = getattr(self.app, "clock", None)
        return clock() if clock is not None else datetime.now(UTC)

    def render(self) -> RenderableType:
        action = self.action
        if action is None:
            return Text()
        now = self._now()
        palette = Palette.of(self.app.theme_variables)
        width = max(self.content_size.width, 10)
        seconds = now.timestamp() if self.animated else None
        return Group(*self.lines(action, now, palette, width, seconds))

    def lines(
        self,
        action: ActionView,
        now: datetime,
        palette: Palette,
        width: int,
        seconds: float | None,
    ) -> list[Text]:
        shown = look(action.status)
        tone = palette.style(shown.tone)
        muted = palette.style("muted")
        lines: list[Text] = []

        # Line 1: glyph, name, time (right). A waiting approval is not spinning work.
        head = Text(no_wrap=True, overflow="ellipsis")
        if action.awaiting_approval:
            head.append_text(palette.glyph("AwaitingApproval"))
        else:
            head.append_text(palette.glyph(action.status, seconds=seconds))
        head.append(" ")
        head.append(action.name, style="bold")
        timing = _timing(action, now)
        if timing:
            room = width - head.cell_len - len(timing) - 1
            if room >= 0:
                head.append(" " * (room + 1))
                head.append(timing, style=muted)
        lines.append(_fit(head, width))

        # Line 2: provider and status word.
        detail = Text("  ", no_wrap=True, overflow="ellipsis")
        provider = _PROVIDER_WORDS.get(action.provider or "", action.provider or "")
        if provider:
            detail.append(provider, style=muted)
        if not action.awaiting_approval:
            # (A pending approval says what it waits for on the next line.)
            if provider:
                detail.append(" · ", style=muted)
            detail.append(shown.word, style=tone)
            if action.percent_complete is not None and action.status == "InProgress":
                detail.append(f" {action.percent_complete}%", style=tone)
        lines.append(_fit(detail, width))

        # A pending approval: since when it waits, and how long is left to answer.
        since = waiting_for_approval_since(action)
        if since is not None:
            warning = palette.style("warning")
            lines.append(
                _fit(Text("  waiting for approval", style=warning + Style(bold=True)), width)
            )
            when = Text(f"  since {local_time(since)}", style=warning)
            left_to_answer = approval_times_out_in(action, now)
            if left_to_answer is not None:
                when.append(f" · {humanize_duration(left_to_answer)} left", style=muted)
            lines.append(_fit(when, width))

        # The error (up to three lines: it is what one opened the pipeline for), or the first
        # line of what the action said.
        message = _message(action)
        if message is not None:
            text, is_error = message
            if is_error:
                wrapped = textwrap.wrap(
                    text, max(width - 2, 8), max_lines=ERROR_LINES, placeholder=" …"
                )
                for part in wrapped:
                    lines.append(_fit(Text("  " + part, style=palette.style("error")), width))
            else:
                lines.append(_fit(Text("  " + text, no_wrap=True), width))

        # Line 4: the link.
        url = action.external_execution_url or action.entity_url
        if url:
            link = Text("  ", no_wrap=True, overflow="ellipsis")
            link.append(f"{LINK} {url}", style=muted + Style(link=url))
            lines.append(_fit(link, width))
        return lines


def _timing(action: ActionView, now: datetime) -> str:
    spent = action_elapsed(action, now)
    return humanize_duration(spent) if spent is not None else ""


def _message(action: ActionView) -> tuple[str, bool] | None:
    if action.error_message or action.error_code:
        parts = [p for p in (action.error_code, action.error_message) if p]
        return ": ".join(parts).replace("\n", " "), True
    if action.summary:
        first = next((line.strip() for line in action.summary.splitlines() if line.strip()), "")
        if first:
            return first, False
    return None


def _fit(text: Text, width: int) -> Text:
    text.no_wrap = True
    text.overflow = "ellipsis"
    text.truncate(width, overflow="ellipsis")
    return text
