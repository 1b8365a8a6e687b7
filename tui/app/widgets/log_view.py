"""A bounded, followable log: lines arrive in batches, the newest `max_lines` are kept.

    view = LogView(max_lines=10_000)
    view.write_batch([(timestamp_ms, "Compiling..."), ...])
    view.search("error")           # scrolls to the match and highlights it; n/N via next/previous

Following: while `following` is true every batch scrolls to the end. Moving up (a key, the
wheel, a search jump) turns following off; new lines are then counted in `unseen` and the
view stays where it is; scrolling back to the very end, or `follow()`, turns it on again.
Each change of `following` posts `LogView.FollowChanged` (messages up).

Decisions recorded here:

- [I] Its own line widget rather than Textual's `Log`: `Log` neither wraps nor highlights
  matches, and keeps no timestamps. This one keeps the same ideas (the line API of
  `ScrollView`, only visible lines rendered, a cache of rendered strips, a maximum number of
  lines) and adds those three.
- Memory is bounded by `max_lines`: the lines are parallel lists trimmed from the front after
  each batch (one `del` per list, so a batch costs its own size, not the log's). The lines
  dropped are counted (`dropped`) and the status line says so. While not following, the view
  is moved up by the rows dropped, so the lines being read stay in place until they are gone.
- Ingestion works on whole batches: one regular-expression search over the batch joined
  decides whether any line needs cleaning (control characters, tabs, ANSI colours, embedded
  newlines, carriage returns); the common clean batch is stored with no per-line Python work
  beyond a length. ANSI SGR colours are kept (`Text.from_ansi`), other escapes removed,
  control characters shown as U+FFFD as `Log` does, tabs expanded, an embedded newline starts
  a new line with the same timestamp, and [I] a carriage return keeps what follows the last
  one (what a terminal shows of a progress line).
- [I] Wrapping is by character, as `less` and terminals wrap: the rows of a line follow from
  its width alone, so the row offsets are a running sum kept per line (appended per batch,
  rebuilt only when the width changes) and a row is found by bisection.
- Search is a literal string, case-insensitive unless it contains a capital letter (smart
  case, as in less and vim). A new search looks forward from the top line on screen, or
  backward from the end while following (the most recent match); next and previous wrap
  around the ends and say so. Every match on screen is highlighted, the current one more.
- Timestamps are the log events' own (CloudWatch's), shown in local time as `HH:MM:SS.mmm`.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from itertools import accumulate, islice
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.events import Resize
from textual.geometry import Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

DEFAULT_MAX_LINES = 10_000
TIMESTAMP_WIDTH = len("00:00:00.000 ")
# Anything but a plain printable line: control characters (not the newline the batch is
# joined with), DEL, tabs and escapes.
_NEEDS_CLEANING = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class SearchOutcome(Enum):
    FOUND = "found"
    WRAPPED = "wrapped"
    """Found, after going round the end (or the start) of the log."""
    NOT_FOUND = "not found"
    NO_SEARCH = "no search"


@dataclass(frozen=True)
class Match:
    seq: int
    """The line's number since the log began (dropped lines included)."""
    start: int
    end: int


def format_timestamp(timestamp_ms: int) -> str:
    seconds, millis = divmod(timestamp_ms, 1000)
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{millis:03d}"


def _clean(message: str) -> list[tuple[str, Text | None]]:
    """One message as the lines it shows: (plain text, styled text when it has colours)."""
    cleaned: list[tuple[str, Text | None]] = []
    for raw in message.replace("\r\n", "\n").split("\n"):
        part = raw
        if "\r" in part:
            tail = part.rsplit("\r", 1)[1]
            part = tail if tail else part.replace("\r", "")
        styled: Text | None = None
        if "\x1b" in part:
            decoded = Text.from_ansi(part)
            if "\t" in decoded.plain:
                decoded.expand_tabs()
            part = decoded.plain
            if decoded.spans and not _CONTROL.search(part):
                styled = decoded
        if "\t" in part:
            part = part.expandtabs()
        if _CONTROL.search(part):
            part = _CONTROL.sub("\ufffd", part)
        cleaned.append((part, styled))
    return cleaned


class LogView(ScrollView, can_focus=True):
    """The newest `max_lines` lines of a log (see the module docstring)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-view--timestamp",
        "log-view--match",
        "log-view--current-match",
    }
    DEFAULT_CSS = """
    LogView {
        overflow-y: scroll;
        overflow-x: auto;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 1;
    }
    LogView.-wrap {
        overflow-x: hidden;
    }
    LogView > .log-view--timestamp {
        color: $foreground-muted;
    }
    LogView > .log-view--match {
        background: $warning 40%;
    }
    LogView > .log-view--current-match {
        background: $warning;
        color: $background;
        text-style: bold;
    }
    """

    wrap: var[bool] = var(False)
    show_timestamps: var[bool] = var(False)
    following: var[bool] = var(True)

    class FollowChanged(Message):
        """Following turned on or off (by a key, a scroll, a search jump)."""

        def __init__(self, log_view: LogView, following: bool) -> None:
            super().__init__()
            self.log_view = log_view
            self.following = following

        @property
        def control(self) -> LogView:
            return self.log_view

    def __init__(
        self,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        self.max_lines = max_lines
        self._stamps: list[int] = []
        self._texts: list[str] = []
        self._cells: list[int] = []
        self._styled: dict[int, Text] = {}
        self._first_seq = 0
        self._widest = 0
        # Wrap mode: cumulative rows at the end of each line, minus `_rows_base`.
        self._ends: list[int] = []
        self._rows_base = 0
        self._wrap_width = 0
        self._cache: LRUCache[int, Strip] = LRUCache(2048)
        self._pattern: re.Pattern[str] | None = None
        self.query_text = ""
        self.match: Match | None = None
        self.unseen = 0
        """Lines written while not following."""
        self._adjusting = False
        self._settling = False
        self._styles: tuple[Style, Style, Style, Style, Style] | None = None

    # What the log holds -------------------------------------------------------------------------

    @property
    def line_count(self) -> int:
        return len(self._texts)

    @property
    def total_written(self) -> int:
        """Every line written since the log began, kept or dropped."""
        return self._first_seq + len(self._texts)

    @property
    def dropped(self) -> int:
        """Lines dropped from the front to stay within `max_lines`."""
        return self._first_seq

    @property
    def lines(self) -> list[str]:
        """The kept lines, oldest first (a copy)."""
        return list(self._texts)

    def line(self, index: int) -> str:
        return self._texts[index]

    # Writing ------------------------------------------------------------------------------------

    def write_batch(self, batch: Iterable[tuple[int, str]]) -> int:
        """Append a batch of (timestamp in ms, message) lines; returns the lines added."""
        items = batch if isinstance(batch, list | tuple) else list(batch)
        if not items:
            return 0
        stamps = [stamp for stamp, _ in items]
        texts = [message for _, message in items]
        joined = "\n".join(texts)
        styled_at: dict[int, Text] = {}
        if _NEEDS_CLEANING.search(joined) or joined.count("\n") != len(texts) - 1:
            stamps, texts = [], []
            for stamp, message in items:
                for plain, styled in _clean(message):
                    if styled is not None:
                        styled_at[len(texts)] = styled
                    stamps.append(stamp)
                    texts.append(plain)
            joined = "\n".join(texts)
        if joined.isascii():
            cells = [len(text) for text in texts]
        else:
            cells = [cell_len(text) for text in texts]
        start_seq = self.total_written
        self._stamps.extend(stamps)
        self._texts.extend(texts)
        self._cells.extend(cells)
        for offset, styled in styled_at.items():
            self._styled[start_seq + offset] = styled
        self._widest = max(self._widest, max(cells))
        if self.wrap and self._wrap_width:
            self._extend_rows(cells)
        removed_rows = self._trim()
        if not self.following:
            self.unseen += len(texts)
        self._update_virtual_size()
        if self.following:
            self._scroll_to_end()
            self._settle_at_end()
        elif removed_rows:
            self._adjusting = True
            try:
                self.scroll_to(y=max(self.scroll_y - removed_rows, 0), animate=False)
            finally:
                self._adjusting = False
        self.refresh()
        return len(texts)

    def clear(self) -> None:
        self._first_seq = self.total_written
        self._stamps.clear()
        self._texts.clear()
        self._cells.clear()
        self._styled.clear()
        self._ends.clear()
        self._rows_base = 0
        self._widest = 0
        self._cache.clear()
        self.match = None
        self.unseen = 0
        self._update_virtual_size()
        self.refresh()

    def _trim(self) -> int:
        """Drop lines over `max_lines` from the front; returns the rows they took."""
        excess = len(self._texts) - self.max_lines
        if excess <= 0:
            return 0
        del self._stamps[:excess]
        del self._texts[:excess]
        del self._cells[:excess]
        self._first_seq += excess
        if self._styled:
            for seq in [seq for seq in self._styled if seq < self._first_seq]:
                del self._styled[seq]
        if self.wrap and self._ends:
            new_base = self._ends[excess - 1]
            removed = new_base - self._rows_base
            del self._ends[:excess]
            self._rows_base = new_base
            return removed
        return excess

    # Geometry -----------------------------------------------------------------------------------

    @property
    def _prefix_width(self) -> int:
        return TIMESTAMP_WIDTH if self.show_timestamps else 0

    def _extend_rows(self, cells: Iterable[int]) -> None:
        width = self._wrap_width
        prefix = self._prefix_width
        last = self._ends[-1] if self._ends else self._rows_base
        rows = (max(1, -(-(c + prefix) // width)) for c in cells)
        # accumulate(initial=...) yields the starting value first.
        self._ends.extend(islice(accumulate(rows, initial=last), 1, None))

    def _rebuild_rows(self) -> None:
        self._rows_base = 0
        self._ends = []
        self._wrap_width = max(self.scrollable_content_region.width, 1)
        if self.wrap:
            width, prefix = self._wrap_width, self._prefix_width
            self._ends = list(accumulate(max(1, -(-(c + prefix) // width)) for c in self._cells))

    @property
    def row_count(self) -> int:
        if self.wrap:
            return (self._ends[-1] - self._rows_base) if self._ends else 0
        return len(self._texts)

    def _update_virtual_size(self) -> None:
        if self.wrap:
            size = Size(self._wrap_width, self.row_count)
        else:
            size = Size(self._widest + self._prefix_width, self.row_count)
        if size == self.virtual_size:
            return
        if not self._scrollbars_stay(size):
            self.virtual_size = size
            return
        # A change of virtual size asks Textual to lay out the whole screen and draw all of
        # it again (`virtual_size` is a layout reactive); a growing log changes it with every
        # batch, ten times a second while following a chatty build, though the view keeps
        # its place and its scrollbars. Then only the scrollbars' lengths and the scroll
        # limits follow (what the layout would update here), and the view repaints.
        self.set_reactive(LogView.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def _scrollbars_stay(self, size: Size) -> bool:
        """Whether the scrollbars shown stay as they are at virtual size `size`: on each axis
        the old and new extents are both beyond the view, or both well within it (short of
        the other scrollbar's thickness too)."""
        if not self.is_mounted or not self.container_size:
            return False
        old = self.virtual_size
        width, height = self.container_size
        styles = self.styles
        vertical, horizontal = styles.scrollbar_size_vertical, styles.scrollbar_size_horizontal

        def same_side(before: int, after: int, limit: int, slack: int) -> bool:
            beyond = before > limit and after > limit
            within = before <= limit - slack and after <= limit - slack
            return beyond or within

        return same_side(old.height, size.height, height, horizontal) and same_side(
            old.width, size.width, width, vertical
        )

    def _row_of(self, index: int, column: int = 0) -> int:
        """The row where a line (and a column of it) is drawn."""
        if not self.wrap:
            return index
        before = (self._ends[index - 1] if index else self._rows_base) - self._rows_base
        return before + (column + self._prefix_width) // max(self._wrap_width, 1)

    def _locate_row(self, row: int) -> tuple[int, int] | None:
        """(line index, row within the line) of a row on the virtual canvas."""
        if not self.wrap:
            return (row, 0) if 0 <= row < len(self._texts) else None
        if row < 0 or row >= self.row_count:
            return None
        index = bisect_right(self._ends, row + self._rows_base)
        before = (self._ends[index - 1] if index else self._rows_base) - self._rows_base
        return index, row - before

    def on_resize(self, _event: Resize) -> None:
        if self.wrap:
            width = max(self.scrollable_content_region.width, 1)
            if width != self._wrap_width:
                self._relayout()
                return
        if self.following:
            self._scroll_to_end()
            self._settle_at_end()

    def watch_show_horizontal_scrollbar(self, _shown: bool) -> None:
        # The scrollbar takes a row from the view: the end moved.
        if self.following:
            self._settle_at_end()

    def _settle_at_end(self) -> None:
        """Once the frame is laid out (a scrollbar may have appeared, the view may have been
        resized), be at the end again if still following."""
        if not self._settling:
            self._settling = True
            self.call_after_refresh(self._settle)

    def _settle(self) -> None:
        self._settling = False
        if self.following and round(self.scroll_y) < self.max_scroll_y:
            self._scroll_to_end()

    def _relayout(self) -> None:
        """Lines, width or prefix changed shape: rows again, keeping the top line in view."""
        top = self._locate_row(round(self.scroll_y))
        self._cache.clear()
        self._rebuild_rows()
        self._update_virtual_size()
        if self.following:
            self._scroll_to_end()
        elif top is not None:
            self._adjusting = True
            try:
                self.scroll_to(x=0 if self.wrap else None, y=self._row_of(top[0]), animate=False)
            finally:
                self._adjusting = False
        self.refresh()

    # Toggles ------------------------------------------------------------------------------------

    def watch_wrap(self, wrap: bool) -> None:
        self.set_class(wrap, "-wrap")
        self._relayout()

    def watch_show_timestamps(self, _shown: bool) -> None:
        self._relayout()

    # Following ----------------------------------------------------------------------------------

    def follow(self) -> None:
        """Jump to the end and follow new lines."""
        self.following = True
        self._scroll_to_end()

    def watch_following(self, following: bool) -> None:
        if following:
            self.unseen = 0
        self.post_message(self.FollowChanged(self, following))

    def _scroll_to_end(self) -> None:
        self._adjusting = True
        try:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        finally:
            self._adjusting = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._adjusting:
            return
        at_end = round(new_value) >= self.max_scroll_y
        if new_value < old_value and not at_end:
            self.following = False
        elif at_end and new_value > old_value:
            self.following = True

    # Search -------------------------------------------------------------------------------------

    def search(self, query: str) -> SearchOutcome:
        """Find `query` (see the module docstring for where it starts) and show it."""
        self.query_text = query
        self.match = None
        self._cache.clear()
        if not query:
            self._pattern = None
            self.refresh()
            return SearchOutcome.NO_SEARCH
        flags = 0 if any(c.isupper() for c in query) else re.IGNORECASE
        self._pattern = re.compile(re.escape(query), flags)
        if self.following:
            found = self._find(len(self._texts) - 1, None, forward=False)
        else:
            top = self._locate_row(round(self.scroll_y))
            found = self._find(top[0] if top else 0, 0, forward=True)
        return self._show(found)

    def search_next(self) -> SearchOutcome:
        return self._step(forward=True)

    def search_previous(self) -> SearchOutcome:
        return self._step(forward=False)

    def clear_search(self) -> None:
        self.search("")

    def _step(self, *, forward: bool) -> SearchOutcome:
        if self._pattern is None:
            return SearchOutcome.NO_SEARCH
        match = self.match
        index = match.seq - self._first_seq if match is not None else -1
        if match is None or index < 0:
            top = self._locate_row(round(self.scroll_y))
            start = top[0] if top else 0
            found = self._find(start, 0, forward=forward)
        elif forward:
            found = self._find(index, match.start + 1, forward=True)
        else:
            found = self._find(index, match.start, forward=False)
        return self._show(found)

    def _find(
        self, index: int, column: int | None, *, forward: bool
    ) -> tuple[int, re.Match[str], bool] | None:
        """The nearest match from (line, column), going round the ends: forward, a match
        starting at or after the column; backward, one starting before it (column None: the
        whole line). The flag says whether it went round."""
        pattern, texts = self._pattern, self._texts
        count = len(texts)
        if pattern is None or count == 0:
            return None
        index = min(max(index, 0), count - 1)
        if forward:
            start = column or 0
            found = pattern.search(texts[index], start)
            if found is not None:
                return index, found, False
            for i in range(index + 1, count):
                if (found := pattern.search(texts[i])) is not None:
                    return i, found, False
            for i in range(0, index + 1):
                found = pattern.search(texts[i])
                if found is not None and (i < index or found.start() < start):
                    return i, found, True
            return None
        last = _last_match(pattern, texts[index], before=column)
        if last is not None:
            return index, last, False
        for i in range(index - 1, -1, -1):
            if (last := _last_match(pattern, texts[i])) is not None:
                return i, last, False
        for i in range(count - 1, index - 1, -1):
            if i == index and column is None:
                break
            last = _last_match(pattern, texts[i], at_or_after=column if i == index else None)
            if last is not None:
                return i, last, True
        return None

    def _show(self, found: tuple[int, re.Match[str], bool] | None) -> SearchOutcome:
        self._cache.clear()
        if found is None:
            self.match = None
            self.refresh()
            return SearchOutcome.NOT_FOUND
        index, hit, wrapped = found
        self.match = Match(self._first_seq + index, hit.start(), hit.end())
        self._scroll_to_match(index, hit.start(), hit.end())
        self.refresh()
        return SearchOutcome.WRAPPED if wrapped else SearchOutcome.FOUND

    def _scroll_to_match(self, index: int, start: int, end: int) -> None:
        row = self._row_of(index, start)
        height = self.scrollable_content_region.height
        width = self.scrollable_content_region.width
        x = None
        if not self.wrap:
            left, right = start + self._prefix_width, end + self._prefix_width
            if left < self.scroll_x or right > self.scroll_x + width:
                x = max(left - width // 3, 0)
        self._adjusting = True
        try:
            self.scroll_to(x=x, y=max(row - height // 2, 0), animate=False, immediate=True)
        finally:
            self._adjusting = False
        self.following = False

    # Rendering ----------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._cache.clear()

    def _style_set(self) -> tuple[Style, Style, Style, Style, Style]:
        """(base, timestamp, match, current match, ...) Rich styles, computed once per style
        change: `rich_style` walks the ancestors and costs more than drawing a line."""
        if self._styles is None:
            partial = self.get_component_rich_style
            self._styles = (
                self.rich_style,
                partial("log-view--timestamp", partial=True),
                partial("log-view--match", partial=True),
                partial("log-view--current-match", partial=True),
                Style(),
            )
        return self._styles

    def _line_strip(self, index: int) -> Strip:
        """One whole line, drawn once and cached by its sequence number. Plain lines (the
        usual case) are built as segments directly: Rich's `Text.render` costs several times
        more, and while following a fast log every line on screen is a new one each frame."""
        seq = self._first_seq + index
        cached = self._cache.get(seq)
        if cached is not None:
            return cached
        base, stamp_style, normal, current, _ = self._style_set()
        plain = self._texts[index]
        styled = self._styled.get(seq)
        offset = 0
        segments: list[Segment] = []
        if self.show_timestamps:
            stamp = format_timestamp(self._stamps[index]) + " "
            offset = len(stamp)
            segments.append(Segment(stamp, base + stamp_style))
        pattern = self._pattern
        found = list(pattern.finditer(plain)) if pattern is not None else []
        if styled is not None:
            text = styled.copy()
            text.no_wrap = True
            text.stylize_before(base)
            self._highlight(text, seq, found, 0, normal, current)
            segments.extend(text.render(self.app.console))
        elif found:
            text = Text(plain, style=base, no_wrap=True)
            self._highlight(text, seq, found, 0, normal, current)
            segments.extend(text.render(self.app.console))
        else:
            segments.append(Segment(plain, base))
        strip = Strip(segments, self._cells[index] + offset)
        self._cache[seq] = strip
        return strip

    def _highlight(
        self,
        text: Text,
        seq: int,
        found: list[re.Match[str]],
        offset: int,
        normal: Style,
        current: Style,
    ) -> None:
        match = self.match
        for hit in found:
            is_current = match is not None and match.seq == seq and match.start == hit.start()
            text.stylize(
                current if is_current else normal, offset + hit.start(), offset + hit.end()
            )

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self._style_set()[0]
        located = self._locate_row(scroll_y + y)
        if located is None:
            return Strip([Segment(" " * width, base)], width)
        index, row = located
        strip = self._line_strip(index)
        if self.wrap:
            start = row * max(self._wrap_width, 1)
            return strip.crop_extend(start, start + width, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)


def _last_match(
    pattern: re.Pattern[str],
    text: str,
    *,
    before: int | None = None,
    at_or_after: int | None = None,
) -> re.Match[str] | None:
    last = None
    for found in pattern.finditer(text):
        if before is not None and found.start() >= before:
            break
        if at_or_after is not None and found.start() < at_or_after:
            continue
        last = found
    return last
