"""Each watched context's health in one line, for the status bar of the merged list.

    ● dev · 111111111111 · eu-west-1 │ ✗ prod · 222222222222 · us-east-1  PROD  SSO session expired

One entry per context, in the order they were given: a glyph (● fresh, … loading, ▲
throttled, ✗ failing or stale), the label, account and region when known, and what is wrong
when something is.

Decisions recorded here:

- [I] The entries say health, not age: with several contexts the list's freshness is each
  context's, and "updated 3s ago" per context would redraw every second for nothing. A
  failing context names its problem's title and since when its data is stale; a context
  switched to (`c`) gets the full single-context bar.
- [I] A production context carries a PROD badge and a read-only one READ-ONLY, as the
  single-context bar marks LOCAL and READ-ONLY.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text

from tui.app.widgets.glyphs import Palette

if TYPE_CHECKING:
    from tui.aws.watch import WatchStatus

SEPARATOR = " │ "


@dataclass(frozen=True)
class ContextHealth:
    """What the bar shows of one context."""

    label: str
    status: WatchStatus
    production: bool = False


def health_glyph(status: WatchStatus) -> tuple[str, str]:
    """(glyph, tone) of a context's health."""
    from tui.aws.errors import ProblemKind  # loaded with the watcher that made `status`

    problem = status.problem
    if problem is not None and problem.kind == ProblemKind.THROTTLED:
        return "▲", "warning"
    if problem is not None or status.stale_since is not None:
        return "✗", "error"
    if status.throttled:
        return "▲", "warning"
    if status.last_update is None:
        return "…", "muted"
    return "●", "success"


def render_health(contexts: Sequence[ContextHealth], palette: Palette) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    for index, context in enumerate(contexts):
        if index:
            line.append(SEPARATOR, style=palette.style("muted"))
        status = context.status
        glyph, tone = health_glyph(status)
        line.append(f"{glyph} ", style=palette.style(tone))  # type: ignore[arg-type]
        line.append(context.label, style="bold")
        where = [part for part in (status.account, status.region) if part]
        if where:
            line.append(" · " + " · ".join(where), style=palette.style("muted"))
        if context.production:
            line.append(" ")
            line.append(" PROD ", style="bold reverse")
        if status.read_only:
            line.append(" ")
            line.append(" READ-ONLY ", style="bold reverse")
        if status.problem is not None:
            line.append(f" {status.problem.title}", style=palette.style(tone))  # type: ignore[arg-type]
        if status.stale_since is not None:
            line.append(
                f" stale since {_local_time(status.stale_since)}", style=palette.style("error")
            )
    return line


def _local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M:%S")
