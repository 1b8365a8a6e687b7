"""Whether a screen is hidden under another one, so that it can hold its redraws.

Textual repaints the whole screen on top whenever a screen beneath it draws anything (the
screen just below is treated as a possible background), so a list ticking its durations
under the logs screen, or a pipeline screen redrawing a panel, turned each of their small
updates into a full frame of the screen the user is looking at: ten a second while a
build's log was followed, several a second from the status bars of the screens beneath.
A screen that is covered keeps its data and redraws when it is shown again
(`on_screen_resume`; the status bar on `App.screen_change_signal`).

[I] Only an opaque screen on top covers: under a modal dialog the screen stays visible
(dimmed) and keeps updating.
"""

from __future__ import annotations

from typing import Any

from textual.screen import ModalScreen, Screen


def covered(screen: Screen[Any]) -> bool:
    """Whether another, opaque screen is on top of `screen`."""
    if not screen.is_attached:
        return False
    top = screen.app.screen
    return top is not screen and not isinstance(top, ModalScreen)
