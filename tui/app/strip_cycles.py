"""Textual's strips without references to themselves, so dropped strips are freed at once.

`Strip.crop_extend(0, length)` and `Strip.divide([length])` of a strip already that long
return the strip itself and keep that answer in the strip's own caches: the strip then
refers to itself. The compositor calls both on every line it draws, so nearly every strip
Textual drops is a reference cycle only Python's cycle collector can free. While a log is
followed at 10,000 lines a second that was about 2,000 strips (32,000 objects with their
caches and segments) every 10 s, which made each full collection stop the app for 0.3 to 1 s.

`keep_strips_acyclic()` answers those two calls before the caches are consulted, with the
same strip the caches would have returned (`divide` with a new one-item list each time), so
nothing else changes. [I] This replaces two methods of a library class; `PipetopApp` calls it
once at start, and `tests/app/test_strip_cycles.py` checks against the installed Textual that
the answers are Textual's own and that no cycle is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.style import Style
from textual.strip import Strip

_crop_extend = Strip.crop_extend
_divide = Strip.divide


def _acyclic_crop_extend(self: Strip, start: int, end: int, style: Style | None) -> Strip:
    if start == 0 and end == self.cell_length:
        return self
    return _crop_extend(self, start, end, style)


def _acyclic_divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cuts = list(cuts)
    length = self.cell_length
    if [cut for cut in cuts if cut <= length] == [length]:
        return [self]
    return _divide(self, cuts)


def keep_strips_acyclic() -> None:
    """Install the two answers (once; calling again changes nothing)."""
    Strip.crop_extend = _acyclic_crop_extend  # type: ignore[method-assign]
    Strip.divide = _acyclic_divide  # type: ignore[method-assign]


def textual_crop_extend(strip: Strip, start: int, end: int, style: Style | None) -> Strip:
    """Textual's own `crop_extend` (for the tests' comparison)."""
    return _crop_extend(strip, start, end, style)


def textual_divide(strip: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    """Textual's own `divide` (for the tests' comparison)."""
    return _divide(strip, cuts)
