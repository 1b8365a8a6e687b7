"""Strips no longer refer to themselves: the answers are Textual's, the cycles gone."""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tui.app.strip_cycles import keep_strips_acyclic, textual_crop_extend, textual_divide


def strip() -> Strip:
    return Strip([Segment("build ", Style(bold=True)), Segment("ok", Style(color="green"))])


def left_as_garbage(use: Callable[[Strip], object]) -> bool:
    """Whether a strip used once and dropped is left for the cycle collector (only this
    strip counts: other threads of a longer test run may leave garbage of their own)."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        line = strip()
        use(line)
        target = id(line)  # the collector keeps what it finds alive, so the id stays its own
        del line
        gc.collect()
        return any(id(found) == target for found in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest.mark.parametrize(
    ("textual", "ours"),
    [
        (lambda s: textual_crop_extend(s, 0, 8, None), lambda s: s.crop_extend(0, 8, None)),
        (lambda s: textual_divide(s, [8]), lambda s: s.divide([8])),
        (lambda s: textual_divide(s, [8, 12]), lambda s: s.divide([8, 12])),
    ],
    ids=["crop_extend", "divide", "divide-past-the-end"],
)
def test_a_full_length_answer_leaves_no_cycle(
    textual: Callable[[Strip], object], ours: Callable[[Strip], object]
) -> None:
    keep_strips_acyclic()
    assert left_as_garbage(textual)  # Textual's own answer: the strip refers to itself
    assert not left_as_garbage(ours)


@pytest.mark.parametrize(("start", "end"), [(0, 8), (0, 5), (2, 8), (0, 12), (3, 12), (8, 8)])
def test_crop_extend_answers_as_textual_does(start: int, end: int) -> None:
    keep_strips_acyclic()
    line = strip()
    style = Style(bgcolor="red")
    ours = line.crop_extend(start, end, style)
    theirs = textual_crop_extend(strip(), start, end, style)
    assert list(ours) == list(theirs)
    assert ours.cell_length == theirs.cell_length
    if (start, end) == (0, 8):
        assert ours is line


@pytest.mark.parametrize("cuts", [[8], [3, 8], [2, 5], [8, 9], [0, 8], []])
def test_divide_answers_as_textual_does(cuts: list[int]) -> None:
    keep_strips_acyclic()
    ours = strip().divide(cuts)
    theirs = textual_divide(strip(), cuts)
    assert [list(part) for part in ours] == [list(part) for part in theirs]
    assert [part.cell_length for part in ours] == [part.cell_length for part in theirs]
