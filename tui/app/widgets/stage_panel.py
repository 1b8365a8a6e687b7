"""A stage as a panel, and the transition into it.

    ╭─ Test ──────────────────────────╮
    │ ╭ 2 in parallel ──────────────╮ │
    │ │ ✓ UnitTests             12s │ │
    │ │ ✗ Lint                   3s │ │
    │ ╰─────────────────────────────╯ │
    ╰──────────────────── ✗ Failed ───╯

The panel's title is the stage's name; its border and subtitle say its status. Actions are
grouped by runOrder, top to bottom; a group of several actions (they run in parallel) gets a
box of its own. A disabled inbound transition shows in the `TransitionMark` before the panel
(a lock) and, with its reason, on the panel's first line; executions waiting to enter are
listed there too.

The parent calls `update_stage(stage, actions)`: when the stage has the same actions in the
same groups the rows are updated in place (no widget is mounted or removed on a poll);
otherwise the groups are rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from tui.app.widgets.action_row import ActionRow
from tui.app.widgets.glyphs import LOCK, Palette, look
from tui.model.projection import ActionView, StageView

TONE_CLASSES = ("-success", "-error", "-warning", "-running", "-muted", "-info")


def run_order_groups(actions: Sequence[ActionView]) -> list[list[ActionView]]:
    """Actions grouped by runOrder, in order ([I] unknown runOrder counts as 1, as AWS's
    default)."""
    indexed = sorted(enumerate(actions), key=lambda item: (item[1].run_order or 1, item[0]))
    return [
        [action for _, action in group]
        for _, group in groupby(indexed, key=lambda item: item[1].run_order or 1)
    ]


def _shape(actions: Sequence[ActionView]) -> list[list[str]]:
    return [[a.name for a in group] for group in run_order_groups(actions)]


class TransitionMark(Static):
    """The arrow between two panels, or a lock when the inbound transition is disabled."""

    DEFAULT_CSS = """
    TransitionMark {
        width: 3;
        content-align: center middle;
    }
    """

    def show_transition(self, stage: StageView) -> None:
        transition = stage.inbound_transition
        disabled = transition is not None and not transition.enabled
        self.set_class(disabled, "-disabled")
        self.update(LOCK if disabled else "→")
        self.tooltip = (
            f"Transition into {stage.name} disabled: {transition.disabled_reason or 'no reason given'}"
            if disabled and transition is not None
            else None
        )


class RunGroup(Vertical):
    """Actions that share a runOrder."""

    DEFAULT_CSS = """
    RunGroup {
        height: auto;
    }
    """


class StagePanel(VerticalScroll, can_focus=False, inherit_bindings=False):
    """One stage: its actions by runOrder, its status on the border. It scrolls vertically
    when its actions do not fit (the focused action scrolls into view); the arrow keys move
    the focus, not the scroll, so the panel has no key bindings of its own."""

    DEFAULT_CSS = """
    StagePanel {
        height: auto;
        max-height: 100%;
    }
    StagePanel > .stage-note {
        height: auto;
    }
    """

    def __init__(
        self,
        stage: StageView,
        actions: Sequence[ActionView],
        *,
        animated: bool = True,
        short_id: Callable[[str], str] = lambda value: value[:8],
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.stage = stage
        self.actions = tuple(actions)
        self.animated = animated
        self.short_id = short_id
        self.border_title = stage.name
        self._note = Static(classes="stage-note")
        self._rows: list[ActionRow] = []
        self._groups_shown: list[RunGroup] = []
        self._apply_status(stage)

    @property
    def stage_name(self) -> str:
        return self.stage.name

    def compose(self) -> ComposeResult:
        yield self._note
        yield from self._groups(self.actions)

    def on_mount(self) -> None:
        note = self._note_text()
        self._note.update(note)
        self._note.display = bool(note.plain)

    def _groups(self, actions: Sequence[ActionView]) -> list[RunGroup]:
        groups = []
        self._rows = []
        for group in run_order_groups(actions):
            rows = [
                ActionRow(action, stage=self.stage.name, animated=self.animated) for action in group
            ]
            self._rows.extend(rows)
            box = RunGroup(*rows)
            if len(group) > 1:
                box.add_class("-parallel")
                box.border_title = f"{len(group)} in parallel"
            groups.append(box)
        self._groups_shown = groups
        return groups

    @property
    def rows(self) -> list[ActionRow]:
        """The action rows, top to bottom (held, not queried: rows of panels built a moment
        ago may not be in the DOM yet, and an update must still reach them)."""
        return list(self._rows)

    def update_stage(self, stage: StageView, actions: Sequence[ActionView]) -> None:
        """Show a newer state of the stage: in place when its actions are the same."""
        same_shape = _shape(actions) == _shape(self.actions)
        self.stage = stage
        self.actions = tuple(actions)
        self.border_title = stage.name
        self._apply_status(stage)
        note = self._note_text()
        self._note.update(note)
        self._note.display = bool(note.plain)
        if same_shape:
            by_name = {a.name: a for a in actions}
            for row in self._rows:
                updated = by_name.get(row.action_name)
                if updated is not None and updated != row.action:
                    row.action = updated
            return
        focused = self.app.focused
        focused_name = (
            focused.action_name
            if isinstance(focused, ActionRow) and focused in self._rows
            else None
        )
        for group in self._groups_shown:
            group.remove()
        self.mount_all(self._groups(actions))
        if focused_name is not None:
            self.call_after_refresh(self._refocus, focused_name)

    def _refocus(self, name: str) -> None:
        for row in self._rows:
            if row.action_name == name:
                row.focus()
                return

    def _apply_status(self, stage: StageView) -> None:
        waiting = stage.status == "InProgress" and any(a.awaiting_approval for a in self.actions)
        shown = look("AwaitingApproval" if waiting else stage.status)
        for tone in TONE_CLASSES:
            self.set_class(tone == shown.css_class, tone)
        self.border_subtitle = f"{shown.glyph} {shown.word}"

    def _note_text(self) -> Text:
        stage = self.stage
        palette = Palette.of(self.app.theme_variables) if self.is_mounted else None
        warning = palette.style("warning") if palette else "yellow"
        muted = palette.style("muted") if palette else "bright_black"
        note = Text()
        transition = stage.inbound_transition
        if transition is not None and not transition.enabled:
            reason = transition.disabled_reason or "no reason given"
            note.append(f"{LOCK} transition disabled: {reason}", style=warning)
        retried = retry_note(stage)
        if retried:
            if note.plain:
                note.append("\n")
            note.append(retried, style=muted)
        waiting = [w.execution_id for w in stage.inbound]
        if waiting:
            if note.plain:
                note.append("\n")
            ids = ", ".join(self.short_id(w) for w in waiting[:3])
            more = f" +{len(waiting) - 3}" if len(waiting) > 3 else ""
            note.append(f"◷ {len(waiting)} waiting to enter: {ids}{more}", style=muted)
        return note


def retry_note(stage: StageView) -> str:
    """How often this execution's stage was retried, automatically (`onFailure: RETRY`) and
    by hand, and whether it is a rollback; "" when neither."""
    parts: list[str] = []
    retry = stage.retry
    if retry is not None:
        counts = []
        if retry.auto_stage_retry_attempt:
            counts.append(f"{retry.auto_stage_retry_attempt} automatic")
        if retry.manual_stage_retry_attempt:
            counts.append(f"{retry.manual_stage_retry_attempt} manual")
        if counts:
            latest = {"AutomatedStageRetry": "automatic", "ManualStageRetry": "manual"}.get(
                retry.latest_retry_trigger or "", ""
            )
            last = f" (last: {latest})" if latest and len(counts) > 1 else ""
            parts.append(f"↻ retried: {', '.join(counts)}{last}")
    if stage.execution_type == "ROLLBACK":
        parts.append("⤺ rollback execution")
    return " · ".join(parts)
