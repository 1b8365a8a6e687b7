"""The filter box of the pipelines list: an `Input` whose keystrokes do not lay the screen out.

Textual's `Input` sets its virtual width to its text's width at every change of value, and a
widget's virtual size is a layout reactive: each keystroke made Textual lay out the whole
screen again and redraw it (with 2,000 pipelines in the list, most of a keystroke's frame).
Here the virtual width never drops below the box's visible width, so while the text fits the
box (nearly always) it does not change; a longer text still widens it and scrolls as
`Input` does.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.widgets import Input


class FilterInput(Input):
    def validate_virtual_size(self, size: Size) -> Size:
        visible = self.scrollable_content_region.width
        return Size(max(size.width, visible), size.height)
