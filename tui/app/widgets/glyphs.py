"""How every status looks: one glyph, one word and one tone per status, for every screen.

Pipelines, stages, actions and executions share one table: a status word means the same
thing at every level (`Failed` is a red cross wherever it appears). Tones name colours of the
current theme (`Palette.of(app.theme_variables)`), so a theme change recolours everything
and the `.tcss` uses the same tones as CSS classes (`-success`, `-error`, ...).

Decisions recorded here:

- [I] Glyphs are single-cell characters from common fonts (no emoji, whose width terminals
  disagree on), except the lock of a disabled transition, which reads better than any
  single-cell substitute: its width is counted as two cells (Rich does).
- A running thing shows a braille spinner while animations are on, a still dot otherwise
  (snapshot tests, slow terminals); the frame comes from the clock, so every spinner on
  screen turns in step.
- `Idle` (a pipeline never run) and `None` (a stage or action not run yet) read "not run".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from rich.style import Style
from rich.text import Text

Tone = Literal["success", "error", "warning", "running", "muted", "info"]

SPINNER: Final = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPINNER_FPS: Final = 10
RUNNING_GLYPH: Final = "●"
LOCK: Final = "🔒"
LINK: Final = "↗"


@dataclass(frozen=True)
class Look:
    glyph: str
    word: str
    tone: Tone

    @property
    def css_class(self) -> str:
        return f"-{self.tone}"

    @property
    def running(self) -> bool:
        return self.tone == "running"


LOOKS: Final[Mapping[str, Look]] = {
    "InProgress": Look(RUNNING_GLYPH, "In progress", "running"),
    "Stopping": Look("◍", "Stopping", "warning"),
    "AwaitingApproval": Look("◆", "Awaiting approval", "warning"),
    "Succeeded": Look("✓", "Succeeded", "success"),
    "Failed": Look("✗", "Failed", "error"),
    "Errored": Look("✗", "Errored", "error"),
    "Stopped": Look("■", "Stopped", "warning"),
    "Superseded": Look("↷", "Superseded", "muted"),
    "Cancelled": Look("⊘", "Cancelled", "muted"),
    "Abandoned": Look("⊘", "Abandoned", "muted"),
    "Skipped": Look("»", "Skipped", "muted"),
    "Overridden": Look("»", "Overridden", "muted"),
    "Idle": Look("○", "Not run", "muted"),
    "Unknown": Look("·", "Loading", "muted"),
}
NOT_RUN: Final = LOOKS["Idle"]


def look(status: str | None) -> Look:
    """The look of any status of any level (None: not run yet)."""
    if status is None:
        return NOT_RUN
    return LOOKS.get(status, Look("?", status, "muted"))


def spinner_frame(seconds: float) -> str:
    """The spinner's frame at a moment (every spinner turns in step)."""
    return SPINNER[int(seconds * SPINNER_FPS) % len(SPINNER)]


def glyph(status: str | None, *, seconds: float | None = None) -> str:
    """A status's glyph; a spinner frame for a running status when `seconds` is given."""
    shown = look(status)
    if shown.running and seconds is not None:
        return spinner_frame(seconds)
    return shown.glyph


# Theme variables each tone takes its colour from, with fallbacks for themes that lack one.
_TONE_VARIABLES: Final[Mapping[Tone, tuple[str, ...]]] = {
    "success": ("text-success", "success"),
    "error": ("text-error", "error"),
    "warning": ("text-warning", "warning"),
    "running": ("text-primary", "primary"),
    "info": ("text-secondary", "secondary"),
    "muted": ("foreground-muted", "foreground"),
}
_FALLBACK: Final[Mapping[Tone, str]] = {
    "success": "green",
    "error": "red",
    "warning": "yellow",
    "running": "blue",
    "info": "cyan",
    "muted": "bright_black",
}


@dataclass(frozen=True)
class Palette:
    """Rich styles for each tone in the current theme (for text drawn outside CSS: table
    cells, inline glyphs)."""

    styles: Mapping[Tone, Style]

    @classmethod
    def of(cls, variables: Mapping[str, str]) -> Palette:
        styles: dict[Tone, Style] = {}
        for tone, names in _TONE_VARIABLES.items():
            colour = next((variables[n] for n in names if _usable(variables.get(n))), None)
            styles[tone] = _style(colour) or Style(color=_FALLBACK[tone])
        return cls(styles)

    def style(self, tone: Tone) -> Style:
        return self.styles[tone]

    def status(self, status: str | None, *, seconds: float | None = None) -> Text:
        """`<glyph> <word>` in the status's tone."""
        shown = look(status)
        return Text(f"{glyph(status, seconds=seconds)} {shown.word}", style=self.styles[shown.tone])

    def glyph(self, status: str | None, *, seconds: float | None = None) -> Text:
        return Text(glyph(status, seconds=seconds), style=self.styles[look(status).tone])


def _usable(value: str | None) -> bool:
    # Variables like "auto 60%" are CSS-only (computed against the background).
    return bool(value) and value is not None and value.startswith("#")


def _style(colour: str | None) -> Style | None:
    if colour is None:
        return None
    # Theme colours may carry an alpha channel (#RRGGBBAA): Rich takes the RGB part.
    try:
        return Style(color=colour[:7])
    except Exception:
        return None
