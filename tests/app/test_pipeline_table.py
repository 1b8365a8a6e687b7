"""PipelineTable draws every body cell exactly as Textual's DataTable would: the same
segments and styles (mouse meta included), whichever path drew them (its own cache, its
own renderer, or DataTable's), for cells of every kind the screens use and the unusual ones."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from tui.app.widgets.pipeline_table import PipelineTable

SIZE = (100, 12)


def cells() -> list[Text]:
    status = Text(no_wrap=True)
    status.append("✗ ", style="bold red")
    status.append("Failed", style="red")
    revision = Text(no_wrap=True, overflow="ellipsis")
    revision.append("3f9e2c1", style="bold")
    revision.append(" Escape user input in the greeting page and the footer")
    return [
        Text("web-app", no_wrap=True, overflow="ellipsis"),
        status,
        Text(),
        revision,
        Text("a-name-far-too-long-for-its-column-and-then-some", overflow="crop"),
        Text("日本語のパイプライン名前", no_wrap=True, overflow="ellipsis"),
        Text("right", justify="right"),
        Text("tab\there", style="italic"),
        Text("wraps when it is allowed to, over several lines", no_wrap=False),
        Text("two\nlines"),
        Text("2m 5s"),
        Text("—", style="dim"),
        Text("12s ago", style=Style(color="red", bold=True)),
        Text("exactly"),
        Text("", style="bold"),
        Text("eight ch", style="italic"),
        Text("a pipeline name", no_wrap=True, style="bold"),
    ]


class Holder(App[None]):
    def compose(self) -> ComposeResult:
        table = PipelineTable()
        for index in range(3):
            table.add_column(f"c{index}", key=f"c{index}", width=[9, 14, 5][index])
        yield table


def rendered(table: PipelineTable, row: int, column: int, *, base: bool, cursor: bool) -> object:
    width = table.ordered_columns[column].get_render_width(table)
    style = table.rich_style
    if base:
        return DataTable._render_cell(table, row, column, style, width, cursor, False)
    return table._render_cell(row, column, style, width, cursor, False)


def plain(lines: object) -> list[list[Segment]]:
    assert isinstance(lines, list)
    return [list(line) for line in lines]


async def test_cells_are_drawn_as_datatable_draws_them() -> None:
    app = Holder()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PipelineTable)
        texts = cells()
        keys = []
        for index in range(0, len(texts), 3):
            key = f"row{index}"
            keys.append(key)
            chunk = (texts[index : index + 3] + [Text()] * 3)[:3]
            table.put_row(key, {f"c{c}": chunk[c] for c in range(3)})
        table.show(keys)
        await pilot.pause()
        # Twice, in two orders: the second pass is drawn from the caches at new positions.
        for order in (keys, list(reversed(keys))):
            table.show(order)
            for row in range(len(order)):
                for column in range(3):
                    for cursor in (False, True):
                        ours = rendered(table, row, column, base=False, cursor=cursor)
                        theirs = rendered(table, row, column, base=True, cursor=cursor)
                        assert plain(ours) == plain(theirs), (order[row], column, cursor)
        # The one-line cells took the table's own renderer (the others DataTable's).
        assert len(table._contents) == 16


async def test_a_changed_cell_is_drawn_anew() -> None:
    app = Holder()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PipelineTable)
        table.put_row("a", {"c0": Text("old"), "c1": Text("same")})
        table.show(["a"])
        await pilot.pause()
        before = rendered(table, 0, 0, base=False, cursor=False)
        table.put_row("a", {"c0": Text("new")})
        after = rendered(table, 0, 0, base=False, cursor=False)
        assert "old" in "".join(s.text for s in plain(before)[0])
        assert "new" in "".join(s.text for s in plain(after)[0])
        assert plain(after) == plain(rendered(table, 0, 0, base=True, cursor=False))


def lines(table: PipelineTable, *, fresh: bool) -> list[list[Segment]]:
    """Every body line as the table draws it now; `fresh` empties every cache first."""
    if fresh:
        table._lines.clear()
        table._unplaced.clear()
        table._contents.clear()
        table._clear_caches()
    width = table.size.width
    return [
        list(table._render_line(y + table.header_height, 0, width, table.rich_style))
        for y in range(table.row_count)
    ]


async def test_kept_lines_follow_cells_cursor_order_and_widths() -> None:
    app = Holder()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PipelineTable)
        for name in ("alpha", "beta", "gamma", "delta"):
            table.put_row(name, {"c0": Text(name), "c1": Text(f"{name} status")})
        table.show(["alpha", "beta", "gamma", "delta"])
        await pilot.pause()
        lines(table, fresh=False)
        changes = [
            lambda: table.move_cursor(row=2),
            lambda: table.put_row("gamma", {"c1": Text("gamma changed", style="bold")}),
            lambda: table.show(["delta", "gamma", "beta"]),
            lambda: table.set_widths({"c0": 3}),
            lambda: table.show(["gamma", "alpha"]),
        ]
        for change in changes:
            change()
            kept = lines(table, fresh=False)
            assert kept == lines(table, fresh=True)
        assert "gamma chang" in "".join(segment.text for segment in kept[0])


async def test_a_changed_row_is_repainted_on_screen() -> None:
    app = Holder()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PipelineTable)
        for name in ("alpha", "beta", "gamma"):
            table.put_row(name, {"c0": Text(name), "c1": Text("waiting")})
        table.show(["alpha", "beta", "gamma"])
        await pilot.pause()
        assert table.put_row("beta", {"c1": Text("done")}) == 1
        assert table.put_row("beta", {"c1": Text("done")}) == 0
        await pilot.pause()
        screen = [strip.text for strip in app.screen._compositor.render_strips()]
        assert [line.split()[:2] for line in screen[1:4]] == [
            ["alpha", "waiting"],
            ["beta", "done"],
            ["gamma", "waiting"],
        ]


async def test_rows_are_laid_out_as_datatable_lays_them_out() -> None:
    app = Holder()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PipelineTable)
        for index, text in enumerate(cells()[:6]):
            table.put_row(f"r{index}", {"c0": text, "c1": Text(f"row {index}"), "c2": text})
        table.show([f"r{index}" for index in range(6)])
        await pilot.pause()
        style = table.rich_style
        for cursor_row, hover_row in ((0, 0), (2, 4), (5, 1)):
            table.move_cursor(row=cursor_row)
            for row in range(6):
                key = table._row_locations.get_key(row)
                assert key is not None
                cursor, hover = Coordinate(cursor_row, 0), Coordinate(hover_row, 1)
                ours = table._render_line_in_row(key, 0, style, cursor, hover)
                theirs = DataTable._render_line_in_row(table, key, 0, style, cursor, hover)
                assert ours == theirs, (row, cursor_row, hover_row)


async def test_rows_are_located_as_datatable_locates_them_across_changes() -> None:
    app = Holder()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PipelineTable)
        names = [f"r{index}" for index in range(8)]
        for name in names:
            table.put_row(name, {"c0": Text(name), "c1": Text("waiting")})

        def agrees() -> None:
            table._offset_cache.clear()  # DataTable's own, keyed by update count
            table._ordered_row_cache.clear()
            theirs = DataTable._y_offsets.fget(table)  # type: ignore[attr-defined]
            assert table._y_offsets == theirs
            for index in range(table.row_count):
                assert table._get_row_region(index) == DataTable._get_row_region(table, index)

        table.show(names)
        await pilot.pause()
        agrees()
        table.put_row("r3", {"c1": Text("done")})  # a changed cell keeps the rows where they are
        agrees()
        table.show(list(reversed(names[2:])))
        agrees()
        assert table._y_offsets[0][0].value == "r7"
        table.add_row(Text("x"), Text("added"), Text(), key="extra")  # DataTable's own way
        agrees()
        assert table._y_offsets[-1][0].value == "extra"


async def test_lines_drawn_at_new_positions_are_datatables_lines() -> None:
    """Lines are kept without their row's index and placed by adding it: the result must be
    DataTable's line at that index, meta included, wherever a filter moves the row."""
    app = Holder()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PipelineTable)
        texts = cells()
        names = [f"r{index}" for index in range(7)]
        for index, name in enumerate(names):
            chunk = [texts[(index + offset) % len(texts)] for offset in range(3)]
            table.put_row(name, {f"c{c}": chunk[c] for c in range(3)})
        style = table.rich_style
        width = table.size.width

        def lines_agree() -> None:
            for y in range(1, table.row_count + 1):  # line 0 is the header
                ours = table._render_line(y, 0, width, style)
                table._line_cache.clear()
                theirs = DataTable._render_line(table, y, 0, width, style)
                assert list(ours) == list(theirs), y

        for order in (names, list(reversed(names)), names[2:5], names[::2]):
            table.show(order)
            await pilot.pause()
            for cursor_row, hover_row in ((0, 1), (len(order) - 1, 0)):
                table.move_cursor(row=cursor_row)
                table.hover_coordinate = Coordinate(hover_row, 1)
                lines_agree()
                lines_agree()  # from the kept lines
        assert table._lines  # the lines were kept between orders


async def test_a_click_lands_on_the_row_under_the_mouse_after_a_reorder() -> None:
    """The mouse finds rows by the meta on each drawn segment, which the kept lines get
    when they are placed."""
    app = Holder()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PipelineTable)
        names = [f"r{index}" for index in range(6)]
        for name in names:
            table.put_row(name, {"c0": Text(name), "c1": Text("waiting")})
        table.show(names)
        await pilot.pause()
        table.show(list(reversed(names)))  # the kept lines move
        await pilot.pause()
        await pilot.click(PipelineTable, offset=(3, 3))  # line 3: the header, then r5, r4, r3
        await pilot.pause()
        assert table.cursor_key == "r3"
        await pilot.hover(PipelineTable, offset=(30, 5))
        await pilot.pause()
        assert table.hover_coordinate.row == 4
