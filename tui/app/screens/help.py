"""The help screen: every key of the screen underneath and of the app, as they are bound now.

    ╭─ Keys ─────────────────────────────────────────────────────────────────────╮
    │ Pipeline screen                                                            │
    │          esc  Back                          back                           │
    │            l  Logs                          logs                           │
    │            h  History                       history                        │
    │ Focused: action row                                                        │
    │ Everywhere                                                                 │
    │            q  Quit                          quit                           │
    │            ?  Help                          help                           │
    ╰────────────────────────────────────────────────── escape or ? closes ──────╯

The keys are read from the bindings themselves, the way Textual dispatches them: the focused
widget and its ancestors up to the screen, then the app, with the user's keymap
(`Settings.keymap`, applied by `App.set_keymap`) already applied. So a remapped key shows
its new key, and the binding id next to it is what to write in the keymap to change it.

Decisions recorded here:

- [I] One group per node of that chain that has bindings (the focused widget, the screen,
  the app), titled by what it is; a key bound in two places is listed in both, the nearer
  one (higher up in the list) being the one that acts.
- [I] Every binding is listed, shown in the footer or not; a binding whose action is not
  available right now (its `check_action` says hidden or dimmed) is listed with "not now",
  so the help never hides that a key exists.
- Several keys of one binding (`f,end`) are one row: `f / end`.
- The chain is `Screen._binding_chain`, the private property Textual itself dispatches keys
  and builds the footer from; the tests run against the installed Textual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.app.widgets.glyphs import Palette


@dataclass(frozen=True)
class KeyRow:
    keys: tuple[str, ...]
    description: str
    binding_id: str | None
    available: bool


@dataclass(frozen=True)
class KeyGroup:
    title: str
    rows: tuple[KeyRow, ...]


def _words(class_name: str) -> str:
    """`PipelineScreen` -> `Pipeline screen`, `LogView` -> `Log view`."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", class_name)
    return spaced[:1].upper() + spaced[1:].lower()


def group_title(node: DOMNode) -> str:
    if isinstance(node, App):
        return "Everywhere"
    if isinstance(node, Screen):
        return _words(type(node).__name__)
    return f"Focused: {_words(type(node).__name__)}"


def _available(node: DOMNode, binding: Binding) -> bool:
    action, _, _ = binding.action.partition("(")
    try:
        state = node.check_action(action, ())
    except Exception:
        # A check that needs state the node does not have yet: the key exists all the same.
        return True
    return state is True


def key_groups(screen: Screen[object]) -> list[KeyGroup]:
    """The bindings of `screen` and the app as Textual would dispatch them now."""
    app = screen.app
    groups: list[KeyGroup] = []
    for node, bindings in screen._binding_chain:
        rows: dict[tuple[str, str, str | None], list[str]] = {}
        firsts: dict[tuple[str, str, str | None], Binding] = {}
        for _key, key_bindings in bindings.key_to_bindings.items():
            for binding in key_bindings:
                identity = (binding.action, binding.description, binding.id)
                display = app.get_key_display(binding)
                keys = rows.setdefault(identity, [])
                if display not in keys:
                    keys.append(display)
                firsts.setdefault(identity, binding)
        if not rows:
            continue
        groups.append(
            KeyGroup(
                group_title(node),
                tuple(
                    KeyRow(
                        keys=tuple(keys),
                        description=identity[1] or identity[0].replace("_", " "),
                        binding_id=identity[2],
                        available=_available(node, firsts[identity]),
                    )
                    for identity, keys in rows.items()
                ),
            )
        )
    return groups


class HelpScreen(ModalScreen[None]):
    """The keys of `screen` (default: the one underneath) and of the app."""

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark", "close", "Close", id="close-help"),
    ]

    def __init__(self, screen: Screen[object] | None = None) -> None:
        super().__init__()
        self._target = screen
        self.groups: list[KeyGroup] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box") as box:
            box.border_title = "Keys"
            box.border_subtitle = "escape or ? closes"
            yield VerticalScroll(id="help-groups")

    @property
    def target(self) -> Screen[object]:
        if self._target is None:
            stack = self.app.screen_stack
            index = stack.index(self) if self in stack else len(stack)
            self._target = stack[index - 1] if index > 0 else stack[-1]
        return self._target

    def on_mount(self) -> None:
        self.groups = key_groups(self.target)
        palette = Palette.of(self.app.theme_variables)
        muted = palette.style("muted")
        container = self.query_one("#help-groups", VerticalScroll)
        widgets: list[Static] = []
        for group in self.groups:
            widgets.append(Static(Text(group.title, style="bold"), classes="help-title"))
            table = Table.grid(padding=(0, 2), expand=True)
            table.add_column(width=16, no_wrap=True)
            table.add_column(ratio=2, no_wrap=True, overflow="ellipsis")
            table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
            for row in group.rows:
                keys = Text(" / ".join(row.keys), style="bold" if row.available else muted)
                description = Text(row.description, style="" if row.available else muted)
                if not row.available:
                    description.append("  (not now)", style=muted)
                table.add_row(keys, description, Text(row.binding_id or "", style=muted))
            widgets.append(Static(table, classes="help-keys"))
        container.mount_all(widgets)
        container.focus()

    def action_close(self) -> None:
        self.dismiss()
