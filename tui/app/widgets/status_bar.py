"""The status bar: where pipetop is connected, how it learns about changes, how fresh it is.

    [LOCAL] 000000000000 · us-east-1 │ ● events live │ updated 3s ago │ http://127.0.0.1:4599

The app sets `status` (a `WatchStatus`); once a second the bar checks whether the age of the
last update reads differently and redraws itself if so (no recompose, and nothing drawn
while nothing changes). While reads fail it shows
"stale since HH:MM:SS" and the problem's title instead of the age; so it does when no new
data arrived for `status.stale_after` seconds (twice the poll interval) although nothing
failed, e.g. an endpoint that accepts requests and never answers. While AWS throttles,
"▲ throttled · N req/s" says how far pipetop slowed down; event messages that did not parse
are counted after the feed ("3 malformed skipped").

Decisions recorded here:

- The clock is the app's (`app.clock()`, injectable), so snapshot tests see a fixed age.
- A bar starts from `app.status_for(screen)`: None on the first frame, which is painted
  before the app builds its watchers (`tui.app.app`), so it says "connecting…" until the app
  hands it the watcher's status right after. Nothing here imports the client layer or the
  model before then (the age's words come from `tui.model.derived` once there is an age).
- [I] Times of day are shown in local time (what the user's wall clock says); ages are
  differences, the same in any zone.
- Several contexts: the app sets `contexts` (`ContextHealth` per context) on the merged
  list's bar, which then shows each context's health in one line
  (`tui.app.widgets.context_health`); a screen of one context gets that context's `status`.
- [I] The endpoint URL comes last: on a narrow terminal the freshness of the data matters
  more. Long URLs are cut in the middle (the scheme and port tell endpoints apart); the bar
  never wraps. With `mask_ids` the port is masked: the local endpoint's port
  is as random as an id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.reactive import var
from textual.widget import Widget

from tui.app.covering import covered
from tui.app.widgets.context_health import ContextHealth, render_health
from tui.app.widgets.glyphs import Palette
from tui.app.widgets.masking import mask_port

if TYPE_CHECKING:
    from tui.aws.watch import WatchStatus

SEPARATOR = " │ "
_FEED_GLYPHS = {
    # By `tui.aws.feed.FeedMode`'s values (a StrEnum: its members look these up).
    "live": ("●", "success"),
    "polling": ("↻", "info"),
    "degraded": ("▲", "warning"),
    "connecting": ("…", "muted"),
}


def local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M:%S")


class StatusBar(Widget):
    """One line at the bottom of every screen."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
    }
    """

    # Not repainting reactives: a bar under another screen holds its redraw (`_changed`).
    status: var[WatchStatus | None] = var(None)
    contexts: var[tuple[ContextHealth, ...]] = var(())
    """Every context's health, when the bar speaks for several (then `status` is unused)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._age_reading = ""
        self._stale = False

    def on_mount(self) -> None:
        # A bar mounted after the last status change starts from the app's current one (none
        # before the app's watchers exist: the first frame says "connecting…").
        status_for = getattr(self.app, "status_for", None)
        if self.status is None and status_for is not None:
            self.status = status_for(self.screen)
        health = getattr(self.app, "health_for", None)
        if health is not None and not self.contexts:
            self.contexts = tuple(health(self.screen))
        self.set_interval(1.0, self._tick)
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def watch_status(self) -> None:
        self._changed()

    def watch_contexts(self) -> None:
        self._changed()

    def _changed(self) -> None:
        """Redraw, unless an opaque screen covers this bar's screen: the app hands every
        bar on the stack each status (several a second while pipelines are read), and a
        covered screen that draws makes Textual repaint the whole screen in front
        (`tui.app.covering`). It redraws when its screen is shown again."""
        if self.is_attached and covered(self.screen):
            self._stale = True
        else:
            self.refresh()

    def _screen_changed(self, screen: object) -> None:
        if self._stale and self.is_attached and screen is self.screen:
            self._stale = False
            self.refresh()

    def _tick(self) -> None:
        """Redraw when the age reads differently ("5s ago" -> "6s ago"), not every second."""
        from tui.model.derived import humanize_age  # loaded by the watcher by then

        status = self.status
        reading = (
            humanize_age(status.last_update, self._now())
            if status is not None and status.last_update is not None
            else ""
        )
        if status is not None and self._stale_by_age(status):
            reading = "stale"
        if reading != self._age_reading:
            self._age_reading = reading
            self._changed()

    def _now(self) -> datetime:
        clock: Callable[[], datetime] | None = getattr(self.app, "clock", None)
        return clock() if clock is not None else datetime.now(UTC)

    def _palette(self) -> Palette:
        return Palette.of(self.app.theme_variables)

    def render(self) -> Text:
        status = self.status
        palette = self._palette()
        if self.contexts:
            return render_health(self.contexts, palette)
        if status is None:
            return Text("connecting…", style=palette.style("muted"))
        line = Text(no_wrap=True, overflow="ellipsis")
        if status.is_local:
            line.append(" LOCAL ", style="bold reverse")
            line.append(" ")
        if status.read_only:
            line.append(" READ-ONLY ", style="bold reverse")
            line.append(" ")
        # An account not known yet (no STS locally, no pipeline to read it from) is left out.
        where = [part for part in (status.account, status.region or "region ?") if part]
        line.append(" · ".join(where))
        line.append(SEPARATOR, style=palette.style("muted"))
        feed_glyph, tone = _FEED_GLYPHS.get(status.feed_mode, ("?", "muted"))
        line.append(f"{feed_glyph} ", style=palette.style(tone))  # type: ignore[arg-type]
        line.append(status.feed_text, style=palette.style(tone))  # type: ignore[arg-type]
        if status.events_malformed:
            line.append(
                f" · {status.events_malformed} malformed skipped", style=palette.style("warning")
            )
        if status.throttled:
            line.append(SEPARATOR, style=palette.style("muted"))
            rate = f" · {status.request_rate:.1f} req/s" if status.request_rate else ""
            line.append(f"▲ throttled{rate}", style=palette.style("warning"))
        line.append(SEPARATOR, style=palette.style("muted"))
        line.append_text(self._freshness(status, palette))
        if status.endpoint_url:
            url = status.endpoint_url
            settings = getattr(self.app, "settings", None)
            if getattr(settings, "mask_ids", False):
                url = mask_port(url)
            line.append(SEPARATOR, style=palette.style("muted"))
            line.append(_shorten(url, 40), style=palette.style("muted"))
        return line

    def _stale_by_age(self, status: WatchStatus) -> bool:
        """No new data for longer than the watcher expects, though no read failed."""
        if status.stale_after is None or status.last_update is None:
            return False
        return (self._now() - status.last_update).total_seconds() > status.stale_after

    def _freshness(self, status: WatchStatus, palette: Palette) -> Text:
        if status.stale_since is None and self._stale_by_age(status):
            assert status.last_update is not None
            return Text(
                f"stale since {local_time(status.last_update)} (no answer)",
                style=palette.style("error"),
            )
        if status.stale_since is not None:
            text = Text(
                f"stale since {local_time(status.stale_since)}", style=palette.style("error")
            )
            if status.problem is not None:
                text.append(f" ({status.problem.title})", style=palette.style("error"))
            return text
        if status.last_update is None:
            return Text("loading…", style=palette.style("muted"))
        from tui.model.derived import humanize_age

        age = humanize_age(status.last_update, self._now())
        return Text("updated " + age, style=palette.style("muted"))


def _shorten(url: str, width: int) -> str:
    if len(url) <= width:
        return url
    keep = width - 1
    head = keep // 2
    return url[:head] + "…" + url[len(url) - (keep - head) :]
