"""The lines above the stages: which pipeline, which execution, what started it, from what.

    web-app  ◆ Awaiting approval · V2 · SUPERSEDED
    Execution 3f2a9c1e · ● In progress · started 3m ago (14:02) · elapsed 3m 10s · StartPipelineExecution by testing
    Source    Checkout 3f9e2c1 Escape user input in the greeting page
    Summary   (why it failed or stopped, when the execution says)
    Showing   the latest state · 2 in progress · x: next execution

The parent calls `show(...)` with what to draw; once a second the header redraws itself if
its ages or elapsed time read differently (nothing is recomposed).

Decisions recorded here:

- [I] The trigger's detail is an ARN (a caller, a rule, a connection): only its last path
  part is shown ("by testing"), which names the user or resource in a few characters.
- [I] At most two source revisions are listed ("+N more" after them); a pipeline with many
  sources names them all on the history screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.text import Text
from textual.widget import Widget

from tui.app.widgets.glyphs import Palette
from tui.model.derived import execution_elapsed, first_line, humanize_age, humanize_duration
from tui.model.projection import ExecutionView
from tui.model.view import PipelineView

MAX_SOURCES = 2
LABEL_WIDTH = 10


@dataclass(frozen=True)
class HeaderData:
    view: PipelineView
    execution: ExecutionView | None
    """The execution the panels show (None: nothing has run)."""
    selection: str | None = None
    """For QUEUED and PARALLEL pipelines: what the panels show and how to switch."""


def trigger_by(detail: str | None) -> str:
    if not detail:
        return ""
    return detail.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class ExecutionHeader(Widget):
    DEFAULT_CSS = """
    ExecutionHeader {
        height: auto;
    }
    """

    def __init__(
        self,
        *,
        short_id: Callable[[str], str],
        short_revision: Callable[[str | None], str],
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.short_id = short_id
        self.short_revision = short_revision
        self.data: HeaderData | None = None
        self._time_reading: tuple[str, str] = ("", "")

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """Redraw when the ages or the elapsed time read differently."""
        data = self.data
        if data is None or data.execution is None or data.execution.start_time is None:
            return
        now = self._now()
        spent = execution_elapsed(data.execution, now)
        reading = (
            humanize_age(data.execution.start_time, now),
            humanize_duration(spent) if spent is not None else "",
        )
        if reading != self._time_reading:
            self._time_reading = reading
            self.refresh()

    def show(self, data: HeaderData) -> None:
        if data != self.data:
            self.data = data
            self.refresh(layout=True)

    def _now(self) -> datetime:
        clock: Callable[[], datetime] | None = getattr(self.app, "clock", None)
        return clock() if clock is not None else datetime.now(UTC)

    def render(self) -> RenderableType:
        data = self.data
        palette = Palette.of(self.app.theme_variables)
        muted = palette.style("muted")
        if data is None:
            return Text("Loading…", style=muted)
        view = data.view
        now = self._now()
        lines: list[Text] = []

        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(view.name, style="bold")
        title.append("  ")
        title.append_text(palette.status(view.status))
        facts = [f for f in (view.pipeline_type, view.execution_mode) if f]
        if facts:
            title.append(" · " + " · ".join(facts), style=muted)
        lines.append(title)

        execution = data.execution
        if execution is None:
            lines.append(self._labelled("Execution", Text("none yet", style=muted)))
        else:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(self.short_id(execution.execution_id), style="bold")
            line.append(" · ", style=muted)
            line.append_text(palette.status(execution.status))
            if execution.start_time is not None:
                started = execution.start_time
                line.append(" · ", style=muted)
                line.append(
                    f"started {humanize_age(started, now)} "
                    f"({started.astimezone().strftime('%H:%M')})"
                )
            spent = execution_elapsed(execution, now)
            if spent is not None:
                line.append(" · ", style=muted)
                line.append(f"elapsed {humanize_duration(spent)}")
            if execution.trigger_type:
                line.append(" · ", style=muted)
                line.append(execution.trigger_type, style=muted)
                by = trigger_by(execution.trigger_detail)
                if by:
                    line.append(f" by {by}", style=muted)
            lines.append(self._labelled("Execution", line))
            lines.append(self._labelled("Source", self._sources(execution, palette)))
            summary = first_line(execution.status_summary or execution.stop_reason)
            if summary:
                style = palette.style("error" if execution.status == "Failed" else "muted")
                lines.append(self._labelled("Summary", Text(summary, style=style)))
        if data.selection:
            lines.append(self._labelled("Showing", Text(data.selection, style=muted)))
        return Group(*lines)

    def _sources(self, execution: ExecutionView, palette: Palette) -> Text:
        muted = palette.style("muted")
        revisions = execution.source_revisions
        if not revisions:
            return Text("—", style=muted)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, revision in enumerate(revisions[:MAX_SOURCES]):
            if index:
                text.append("  ·  ", style=muted)
            text.append(revision.action_name, style=muted)
            short = self.short_revision(revision.revision_id)
            if short:
                text.append(" ")
                text.append(short, style="bold")
            message = first_line(revision.revision_summary)
            if message:
                text.append(" ")
                text.append(message)
        if len(revisions) > MAX_SOURCES:
            text.append(f"  +{len(revisions) - MAX_SOURCES} more", style=muted)
        return text

    def _labelled(self, label: str, value: Text) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(label.ljust(LABEL_WIDTH), style="bold")
        line.append_text(value)
        return line
