"""The pipelines table: a DataTable whose visible rows can be replaced in one step.

A filter keystroke over 2,000 pipelines must repaint within 50 ms. DataTable's own way to
show a different set of rows, `clear()` and `add_row()` per row, costs about half a
millisecond a row (each add re-validates the cursor), and measures every cell again when it
is next idle: over a second for 2,000 rows. This table keeps every row's rendered cells
(`put_row`, keyed by pipeline name, shown or not), and `show(keys)` installs the rows named
in one step, the way `DataTable.sort()` reorders rows: the same internal maps, rebuilt once
from references to cells that already exist.

Decisions recorded here:

- Columns have fixed widths (`set_widths`) computed by the screen from its precomputed cell
  widths and the table's width, so nothing needs measuring when rows change. Every row is
  one line high.
- [I] This relies on DataTable internals (`_data`, `_row_locations`, `_clear_caches`,
  `_update_count`, `_update_dimensions`) that `sort()` and `clear()` use themselves;
  `tests/app` exercise it against the installed Textual, so an incompatible Textual fails
  there first. Changing single cells stays on the public `update_cell`.
- The cursor stays on the same pipeline when the rows change under it (a filter keystroke,
  a re-sort after a status change), or on the nearest row when that pipeline left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets._data_table import Row
from textual.widgets.data_table import ColumnKey, RowKey


class PipelineTable(DataTable[Text]):
    """One row per pipeline, keyed by name; rows are kept (`put_row`) whether shown or not,
    and `show(keys)` picks which are shown, in which order. Enter (binding id `open`) selects
    the row under the cursor (`DataTable.RowSelected`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="open"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            id=id, classes=classes, cursor_type="row", zebra_stripes=False, cell_padding=1
        )
        # Every row's cells by column key, shown or not. Shown rows share these dicts with
        # the table's own data, so `update_cell` and this cache never disagree.
        self._kept: dict[str, tuple[RowKey, Row, dict[ColumnKey, Text]]] = {}

    @property
    def cursor_key(self) -> str | None:
        """The pipeline under the cursor, if any."""
        if not self.row_count or not self.is_valid_row_index(self.cursor_row):
            return None
        row_key = self._row_locations.get_key(self.cursor_row)
        return None if row_key is None else str(row_key.value)

    @property
    def row_keys(self) -> list[str]:
        """The keys of the rows shown, top to bottom."""
        return [str(row.key.value) for row in self.ordered_rows]

    def is_shown(self, key: str) -> bool:
        return RowKey(key) in self._row_locations

    def set_widths(self, widths: Mapping[str, int]) -> None:
        """Fixed content widths by column key (columns not named keep theirs)."""
        changed = False
        for key, width in widths.items():
            column = self.columns.get(ColumnKey(key))
            if column is not None and (column.width != width or column.auto_width):
                column.width = width
                column.auto_width = False
                changed = True
        if changed:
            self._clear_caches()
            self._update_count += 1
            self._update_dimensions(())
            self.refresh()

    def put_row(self, key: str, cells: Mapping[str, Text]) -> int:
        """Keep a row's cells (new or changed); a shown row is updated in place, only the
        cells that differ. Returns how many shown cells changed."""
        kept = self._kept.get(key)
        if kept is None:
            row_key = RowKey(key)
            data = {column.key: Text() for column in self.ordered_columns}
            data.update({ColumnKey(column): value for column, value in cells.items()})
            self._kept[key] = (row_key, Row(row_key, 1), data)
            return 0
        row_key, _, data = kept
        shown = row_key in self._row_locations
        changed = 0
        for column, value in cells.items():
            column_key = ColumnKey(column)
            if data.get(column_key) != value:
                if shown:
                    self.update_cell(row_key, column_key, value)
                    changed += 1
                else:
                    data[column_key] = value
        return changed

    def forget_row(self, key: str) -> None:
        """Drop a kept row (shown rows disappear at the next `show`)."""
        self._kept.pop(key, None)

    def show(self, keys: Sequence[str]) -> None:
        """Show exactly the kept rows named, in this order, in one step."""
        keep = self.cursor_key
        previous_index = self.cursor_row
        data: dict[RowKey, dict[ColumnKey, Text]] = {}
        meta: dict[RowKey, Row] = {}
        locations: dict[RowKey, int] = {}
        index = 0
        for key in keys:
            kept = self._kept.get(key)
            if kept is None:
                continue
            row_key, row, cells = kept
            data[row_key] = cells
            meta[row_key] = row
            locations[row_key] = index
            index += 1
        self._clear_caches()
        self._data = data
        self.rows = meta
        self._row_locations = TwoWayDict(locations)
        self._new_rows.clear()
        self._updated_cells.clear()
        self._update_count += 1
        self._update_dimensions(())
        if locations:
            target = locations.get(RowKey(keep)) if keep is not None else None
            if target is None:
                target = min(max(previous_index, 0), len(locations) - 1)
            self.move_cursor(row=target, animate=False)
        self.refresh()
