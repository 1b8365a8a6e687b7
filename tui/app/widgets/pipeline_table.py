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
  `_update_count`, `_update_dimensions`, and for drawing `_render_line`,
  `_render_line_in_row`, `_render_cell`, `_get_styles_to_render_cell`,
  `_pseudo_class_state`) that DataTable's own methods use; `tests/app/test_pipeline_table.py`
  compares what this table draws with what DataTable draws, segment for segment, against the
  installed Textual, so an incompatible Textual fails there first. A changed cell of a shown
  row is written where `update_cell` writes it, and only that row is repainted
  (`refresh_row`; `update_cell` repaints the whole table).
- The cursor stays on the same pipeline when the rows change under it (a filter keystroke,
  a re-sort after a status change), or on the nearest row when that pipeline left.

Drawing (a keystroke's frame was mostly DataTable re-rendering cells it had drawn before;
each cell through rich costs 0.1 to 0.4 ms, and a 120x36 terminal shows 200):

- A body cell's unstyled line (`Padding(cell)` rendered by rich's own steps, wrap, join,
  render, split and crop, without its generic machinery; one-line `Text` cells only, others
  take DataTable's way) is kept by row key, column key and width while the cell is the same
  `Text` object (`put_row` always stores a new one). Styling it (cursor, hover, the
  `column` mouse meta) is `Segment.apply_style`, as DataTable's `Styled` does, and the
  styled cell is kept too; the `row` meta is added when the cell or its line is placed (a
  line is kept without it, see `_render_line`).
- Which row a line shows (`_y_offsets`) is kept while the map of rows shown is the same
  object with the same size (`show` replaces it; DataTable's own `add_row` grows it, `sort`
  and `remove_row` replace it); DataTable keys it by the update count, which every changed
  cell bumps, and rebuilds it over every row, as it sums the heights of all the rows above a
  row to find its region (`_get_row_region`, which is O(1) here while every row is one line):
  with 2,000 pipelines each status change cost both walks.
- A drawn line is kept by row key while its row sits at the same index with the same cells
  and cursor, hover and column widths; DataTable keys its lines by an update count that
  every change anywhere bumps.
- A row is laid out without the header style and background walks up the DOM that
  DataTable works out for every line; the widget's style and its component styles are
  worked out once per `render_lines`.
- At most `RENDERED_CELLS` cells, contents and lines are kept; a theme change drops them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from rich.cells import cell_len
from rich.console import ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from rich.text import DEFAULT_JUSTIFY, DEFAULT_OVERFLOW, Text
from textual._segment_tools import line_crop
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.css.styles import RenderStyles
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets._data_table import Row
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey


@dataclass(frozen=True)
class _Frame:
    """What every body line of one frame reads and nothing in the frame changes: the
    widget's style (a walk up the DOM blending backgrounds), the console's options (built
    anew at each ask), the table's reactives, its columns and their widths (each a
    descriptor or a walk when asked); component styles (a merge of two style sheets) as
    they are asked for."""

    style: Style
    options: ConsoleOptions
    components: dict[tuple[str, ...], RenderStyles]
    simple: bool
    """A row cursor and no fixed rows or columns, labels or zebra stripes: our way."""
    width: int
    scroll_x: int
    scroll_y: int
    fixed_height: int
    """The lines above the scrolling rows (the header's)."""
    columns: tuple[ColumnKey, ...]
    widths: tuple[int, ...]
    cursor_row: int
    hover_row: int
    show_cursor: bool
    show_hover: bool
    foreground_priority: str
    background_priority: str


RENDERED_CELLS = 20_000
"""Cells, contents and lines kept across `show` (each; about a hundred screens of cells)."""

SegmentLines = list[list[Segment]]


@lru_cache(maxsize=RENDERED_CELLS)
def _out_of_bounds_meta(row: int) -> Style:
    return Style.from_meta({"row": row, "column": 0, "out_of_bounds": True})


@lru_cache(maxsize=RENDERED_CELLS)
def _row_meta(row: int) -> Style:
    return Style.from_meta({"row": row})


@lru_cache(maxsize=256)
def _column_meta(column: int) -> Style:
    return Style.from_meta({"column": column})


_OUT_OF_BOUNDS = Style.from_meta({"column": 0, "out_of_bounds": True})


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
        # During one `render_lines`: what its lines read (`_Frame`).
        self._frame: _Frame | None = None
        # Body cells drawn without their row's meta: key -> (the cell, segments, the same
        # segments simplified).
        self._unplaced: dict[tuple[object, ...], tuple[Text, list[Segment], list[Segment]]] = {}
        # Drawn body lines by row key: (what the line depends on, its cells, the strip).
        self._lines: dict[RowKey, tuple[tuple[object, ...], tuple[Text, ...], Strip]] = {}
        # The lines' rows, for the rows shown: (the locations map, its size, the offsets).
        self._offsets: tuple[TwoWayDict[RowKey, int], int, list[tuple[RowKey, int]]] | None = None
        # Unstyled one-line contents: (row key, column key, width) -> (the cell, segments).
        self._contents: dict[tuple[RowKey, ColumnKey, int, int], tuple[Text, list[Segment]]] = {}

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        """Every line's row, kept while the rows shown are the same (see the module
        docstring): DataTable keeps it per update count, which every changed cell bumps, and
        rebuilds it over all the rows at the next frame."""
        locations = self._row_locations
        kept = self._offsets
        if kept is not None and kept[0] is locations and kept[1] == len(locations):
            return kept[2]
        offsets: list[tuple[RowKey, int]] = DataTable._y_offsets.fget(self)  # type: ignore[attr-defined]
        self._offsets = (locations, len(locations), offsets)
        return offsets

    def _get_row_region(self, row_index: int) -> Region:
        """A row's region without summing the heights of the rows above it (every row of
        this table is one line high when the lines are as many as the rows)."""
        if (
            not self.is_valid_row_index(row_index)
            or self.fixed_rows
            or len(self._y_offsets) != len(self._row_locations)
        ):
            return super()._get_row_region(row_index)
        width = sum(column.get_render_width(self) for column in self.columns.values())
        width += self._row_label_column_width
        y = row_index + (self.header_height if self.show_header else 0)
        return Region(0, y, max(self.size.width, width), 1)

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
                if shown and column_key not in self._column_locations:
                    raise CellDoesNotExist(f"No column {column!r} for row {key!r}.")
                data[column_key] = value
                if shown:
                    changed += 1
        index = self._row_locations.get(row_key)
        if changed and index is not None:
            # What `update_cell` does, but the repaint is this row's line, not the table:
            # a status arriving for one of 100 rows redrew all the visible ones.
            self._update_count += 1
            self.refresh_row(index)
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
        # What DataTable would work out from these over every row again at the first frame.
        ordered: list[Row] = []
        offsets: list[tuple[RowKey, int]] = []
        index = 0
        for key in keys:
            kept = self._kept.get(key)
            if kept is None or kept[0] in locations:
                continue
            row_key, row, cells = kept
            data[row_key] = cells
            meta[row_key] = row
            locations[row_key] = index
            ordered.append(row)
            offsets.extend((row_key, line) for line in range(row.height))
            index += 1
        self._clear_caches()
        self._data = data
        self.rows = meta
        self._row_locations = TwoWayDict(locations)
        self._new_rows.clear()
        self._updated_cells.clear()
        self._update_count += 1
        self._ordered_row_cache[(len(meta), self._update_count)] = ordered
        self._offsets = (self._row_locations, len(locations), offsets)
        self._update_dimensions(())
        if locations:
            target = locations.get(RowKey(keep)) if keep is not None else None
            if target is None:
                target = min(max(previous_index, 0), len(locations) - 1)
            self.move_cursor(row=target, animate=False)
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        """One pass over the lines of a frame. DataTable asks, for every line, for the
        widget's style (a walk up the DOM blending backgrounds) and for its header's
        component styles (a merge of two style sheets), and a new cell's content needs the
        console's options (built anew at each ask); none changes within a frame, so each is
        worked out once here."""
        self._frame = self._frame_facts()
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def _facts(self) -> _Frame:
        """The frame's facts; outside a frame (DataTable's own callers, the tests), now's."""
        return self._frame or self._frame_facts()

    def _frame_facts(self) -> _Frame:
        columns = self.ordered_columns
        scroll_x, scroll_y = self.scroll_offset
        return _Frame(
            style=super().rich_style,
            options=self.app.console_options,
            components={},
            simple=not (
                self.fixed_rows
                or self.fixed_columns
                or self._labelled_row_exists
                or self.zebra_stripes
                or self.cursor_type != "row"
            ),
            width=self.size.width,
            scroll_x=scroll_x,
            scroll_y=scroll_y,
            fixed_height=self.header_height if self.show_header else 0,
            columns=tuple(column.key for column in columns),
            widths=tuple(column.get_render_width(self) for column in columns),
            cursor_row=self.cursor_coordinate.row,
            hover_row=self.hover_coordinate.row,
            show_cursor=self.show_cursor,
            show_hover=self._show_hover_cursor,
            foreground_priority=self.cursor_foreground_priority,
            background_priority=self.cursor_background_priority,
        )

    def render_line(self, y: int) -> Strip:
        """DataTable's `render_line`, from the frame's facts: it reads the size, the scroll
        offset and the header's height again for every line (half of a line's cost when
        one row changed)."""
        frame = self._frame
        if frame is None or not frame.simple:
            return super().render_line(y)
        if y >= frame.fixed_height:
            y += frame.scroll_y
        return self._render_line(y, frame.scroll_x, frame.scroll_x + frame.width, self.rich_style)

    @property
    def rich_style(self) -> Style:
        frame = self._frame
        return frame.style if frame is not None else super().rich_style

    def get_component_styles(self, *names: str) -> RenderStyles:
        if self._frame is None:
            return super().get_component_styles(*names)
        components = self._frame.components
        styles = components.get(names)
        if styles is None:
            styles = components[names] = super().get_component_styles(*names)
        return styles

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._unplaced.clear()
        self._contents.clear()
        self._lines.clear()

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """A body line from the cache that survives `update_cell` and `show`: DataTable
        keys its lines by an update count that every changed cell anywhere bumps, so each
        status change drew every visible line again, and by the line's position, so a filter
        that moved a row drew it again. A row's line is kept without the row's index (the
        mouse meta `row` DataTable puts on every segment) while its cells are the same
        (`is`) with the same cursor and hover state and column widths; drawing it at an index
        adds that meta (`Strip.apply_style`, which keeps the result per style), which gives
        the segments DataTable draws there, meta included."""
        frame = self._facts()
        if not frame.simple:
            return super()._render_line(y, x1, x2, base_style)
        try:
            row_key, line_in_row = self._get_offsets(y)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        cells = self._data.get(row_key)
        row_index = self._row_locations.get(row_key)
        if cells is None or row_key is self._header_row_key or row_index is None:
            return super()._render_line(y, x1, x2, base_style)
        cursor = frame.cursor_row == row_index
        hover = frame.hover_row == row_index
        widths = frame.widths
        signature = (
            line_in_row,
            x1,
            x2,
            frame.width,
            cursor,
            hover,
            base_style,
            frame.show_cursor,
            frame.show_hover,
            self._pseudo_class_state,
            widths,
        )
        ordered = [cells.get(key) for key in frame.columns]
        if any(cell is None for cell in ordered):
            return super()._render_line(y, x1, x2, base_style)
        values = tuple(cell for cell in ordered if cell is not None)
        kept = self._lines.get(row_key)
        if (
            kept is not None
            and kept[0] == signature
            and len(kept[1]) == len(values)
            and all(old is new for old, new in zip(kept[1], values, strict=True))
        ):
            line = kept[2]
        else:
            unplaced = self._unplaced_line(
                row_key, values, widths, base_style, cursor, hover, x1, x2
            )
            if unplaced is None:
                return super()._render_line(y, x1, x2, base_style)
            line = unplaced
            if len(self._lines) >= RENDERED_CELLS:
                self._lines.clear()
            self._lines[row_key] = (signature, values, line)
        return line.apply_style(_row_meta(row_index))

    def _unplaced_line(
        self,
        row_key: RowKey,
        cells: tuple[Text, ...],
        widths: tuple[int, ...],
        base_style: Style,
        cursor: bool,
        hover: bool,
        x1: int,
        x2: int,
    ) -> Strip | None:
        """A body row's line as DataTable draws it (`_render_line` with
        `_render_line_in_row`), every segment's meta without the row's index; None when a
        cell needs DataTable's way."""
        segments: list[Segment] = []
        for index, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            drawn = self._unplaced_cell(
                row_key, index, cell, base_style, width, cursor, hover, simplified=True
            )
            if drawn is None:
                return None
            segments.extend(drawn)
        segments.append(self._beyond_columns(widths, base_style, cursor, hover, _OUT_OF_BOUNDS))
        width = self._facts().width
        # DataTable simplifies the whole line; each cell is simplified already (and kept so),
        # and no two neighbours from different cells share a style: each segment carries its
        # column's meta, the blank after the columns its own, and a blank added up to the
        # width none. So the line's simplify would only compare every pair and merge none.
        return Strip(line_crop(segments, x1, x2, width)).adjust_cell_length(width, base_style)

    def _unplaced_cell(
        self,
        row_key: RowKey,
        column_index: int,
        cell: Text,
        base_style: Style,
        width: int,
        cursor: bool,
        hover: bool,
        *,
        simplified: bool = False,
    ) -> list[Segment] | None:
        """A body cell as `_render_cell` draws it, its meta without the row's index
        (`simplified`: its neighbours of one style merged, as in a drawn line); None for a
        cell that is not a one-line `Text` (the line then takes DataTable's way)."""
        column_key = self._column_locations.get_key(column_index)
        frame = self._facts()
        show_cursor, show_hover = frame.show_cursor, frame.show_hover
        foreground, background = frame.foreground_priority, frame.background_priority
        key = (
            row_key,
            column_key,
            column_index,
            base_style,
            width,
            cursor,
            hover,
            show_cursor,
            show_hover,
            self._pseudo_class_state,
            foreground,
            background,
        )
        kept = self._unplaced.get(key)
        if kept is not None and kept[0] is cell:
            return kept[2] if simplified else kept[1]
        content = (
            self._content(row_key, column_key, cell, width) if column_key is not None else None
        )
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            show_cursor,
            show_hover,
            foreground == "css",
            background == "css",
        )
        if content is None:
            return None
        pre_style = base_style + _column_meta(column_index) + component_style
        segments = list(Segment.apply_style(content, pre_style, post_style))
        if len(self._unplaced) >= RENDERED_CELLS:
            self._unplaced.clear()
        merged = list(Segment.simplify(segments))
        self._unplaced[key] = (cell, segments, merged)
        return merged if simplified else segments

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[SegmentLines, SegmentLines]:
        """A body row's cells and the space after them, as DataTable lays them out for a
        row cursor with no fixed columns, labels or zebra stripes (anything else takes
        DataTable's way). DataTable also works out, for every line, the header's style and
        the widget's background colours, which walk the DOM and which such a row never uses."""
        if (
            row_key is self._header_row_key
            or row_key not in self._row_locations
            or self.cursor_type != "row"
            or self.fixed_columns
            or self.fixed_rows
            or self.zebra_stripes
            or self._labelled_row_exists
        ):
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location
            )
        row_index = self._row_locations.get(row_key)
        assert row_index is not None
        cursor = row_index == cursor_location.row
        hover = row_index == hover_location.row
        widths = [column.get_render_width(self) for column in self.ordered_columns]
        row: SegmentLines = [
            self._render_cell(row_index, index, base_style, width, cursor=cursor, hover=hover)[
                line_no
            ]
            for index, width in enumerate(widths)
        ]
        meta = _out_of_bounds_meta(row_index)
        row.append([self._beyond_columns(widths, base_style, cursor, hover, meta)])
        return [], row

    def _beyond_columns(
        self,
        widths: Sequence[int],
        base_style: Style,
        cursor: bool,
        hover: bool,
        meta: Style,
    ) -> Segment:
        """The blank after a row's last column, styled as DataTable styles it."""
        frame = self._facts()
        remaining = max(0, frame.width - sum(widths) - self._row_label_column_width)
        extend_style, _ = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            frame.show_cursor,
            frame.show_hover,
            False,
            False,
        )
        return Segment(" " * remaining, base_style + extend_style + meta)

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        """A body cell (see the module docstring); the header, and any cell that is not a
        one-line `Text`, take DataTable's own way."""
        if row_index < self.fixed_rows or column_index < self.fixed_columns or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        cells = self._data.get(row_key) if row_key is not None else None
        cell = cells.get(column_key) if cells is not None and column_key is not None else None
        if cell is None or row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        unplaced = self._unplaced_cell(
            row_key, column_index, cell, base_style, width, cursor, hover
        )
        if unplaced is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        # At its row: the meta DataTable gives the cell is {"row": ..., "column": ...}, and
        # the row's meta added in front of the column's makes exactly that.
        return [list(Segment.apply_style(unplaced, _row_meta(row_index)))]

    def _content(
        self, row_key: RowKey, column_key: ColumnKey, cell: Text, width: int
    ) -> list[Segment] | None:
        """The cell's one line before styling, as `Padding(cell, (0, cell_padding))` renders
        it `width` cells wide with no wrapping, by rich's own steps (wrap, join, render,
        split and crop) minus its generic machinery; None for cells it does not cover."""
        key = (row_key, column_key, width, self.cell_padding)
        kept = self._contents.get(key)
        if kept is not None and kept[0] is cell:
            return kept[1]
        padding = self.cell_padding
        inner = width - 2 * padding
        if not isinstance(cell, Text) or inner < 1 or cell.no_wrap is False or "\n" in cell.plain:
            return None
        console = self.app.console
        options = self._facts().options
        justify = cell.justify or options.justify or DEFAULT_JUSTIFY
        blank = Style.null()
        overflow = cell.overflow or options.overflow or DEFAULT_OVERFLOW
        line = self._plain_content(cell, inner, justify, blank)
        if line is None:
            line = self._one_line_content(cell, inner, justify, overflow, blank)
        if line is None:
            tab_size = console.tab_size if cell.tab_size is None else cell.tab_size
            wrapped = cell.wrap(
                console,
                inner,
                justify=justify,
                overflow=overflow,
                tab_size=tab_size or 8,
                no_wrap=True,
            )
            segments = Text("\n").join(wrapped).render(console, end=cell.end)
            first = next(
                iter(
                    Segment.split_and_crop_lines(
                        segments, inner, style=blank, pad=True, include_new_lines=False
                    )
                ),
                None,
            )
            line = first if first is not None else [Segment(" " * inner, blank)]
        if padding:
            line = [Segment(" " * padding, blank), *line, Segment(" " * padding, blank)]
        if len(self._contents) >= RENDERED_CELLS:
            self._contents.clear()
        self._contents[key] = (cell, line)
        return line

    def _one_line_content(
        self, cell: Text, inner: int, justify: str, overflow: str, blank: Style
    ) -> list[Segment] | None:
        """The same line for a one-line cell with spans or too long for its column (a
        revision: the commit in bold, then its message, cut with an ellipsis), by the one
        step of rich's that changes it (`truncate`) and its render: rich's wrap, join,
        render, split and crop took 0.6 ms a cell, a few of which every filter keystroke
        that shows rows not drawn before draws by the dozen. None when not that simple."""
        if justify != "default" or overflow == "fold" or not cell.plain or "\t" in cell.plain:
            return None
        line = cell.copy()
        line.truncate(inner, overflow=overflow)  # type: ignore[arg-type]
        segments = list(line.render(self.app.console, end=""))
        width = Segment.get_line_length(segments)
        if width > inner:
            return None
        if width < inner:
            segments.append(Segment(" " * (inner - width), blank))
        return segments

    def _plain_content(
        self, cell: Text, inner: int, justify: str, blank: Style
    ) -> list[Segment] | None:
        """The same line for the commonest cell, one style and no spans that fits (ages,
        durations, names), without rich's wrap, join and crop: the duration column changes
        every second on every running row, and those steps were most of an idle repaint.
        None when the cell is not that simple."""
        if cell.spans or justify != "default" or "\t" in cell.plain:
            return None
        plain = cell.plain
        width = cell_len(plain)
        if width > inner:
            return None
        line: list[Segment] = []
        if plain:
            style = self.app.console.get_style(cell.style) if cell.style else None
            line.append(Segment(plain, style))
        else:
            line.append(Segment(""))  # what rich's steps leave for an empty cell
        if width < inner:
            line.append(Segment(" " * (inner - width), blank))
        return line
