"""The logs screen against the real endpoint: Commands actions print lines through a real
shell, the screen tails them through the client layer, and the tests read what is drawn."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message

from tests.app.screen_support import (
    SIZE,
    app_on,
    in_thread,
    rendered_lines,
    running_action_ref,
    screen_text,
    until,
)
from tests.endpoint import Endpoint
from tests.local.pipelines import (
    approval,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tui.app.app import PipetopApp
from tui.app.messages import ActionRef, ProblemOccurred
from tui.app.screens.logs import LogsScreen, Phase
from tui.app.widgets.log_view import LogView, SearchOutcome
from tui.model.projection import ActionView

FAST = {"poll_interval": 0.05, "refresh_every": 0.05, "drain_grace": 0.0}


def fast_logs(app: PipetopApp, **options: Any) -> None:
    """The app's "logs" hook opens a screen that polls fast (tests wait less)."""
    app.register_screen("logs", lambda ref: LogsScreen(ref, **{**FAST, **options}))


def run_pipeline(endpoint: Endpoint, name: str, lines: list[str]) -> tuple[Any, str]:
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(pipeline=pipeline(name, stage("Build", commands("Run", lines))))
    return client, latest_execution_id(client, name)


def ref_for(
    name: str, execution_id: str, action: str = "Run", stage_name: str = "Build"
) -> ActionRef:
    return ActionRef(
        name, stage_name, action, execution_id, ActionView(name=action, provider="Commands")
    )


async def tail_done(screen: LogsScreen) -> None:
    assert screen.tail is not None
    await screen.tail.wait()


def logs_screen(app: PipetopApp) -> LogsScreen:
    screen = app.screen
    assert isinstance(screen, LogsScreen)
    return screen


async def test_a_finished_action_shows_every_line_written_in_batches(endpoint: Endpoint) -> None:
    client, execution_id = run_pipeline(
        endpoint, "printer", ["for i in $(seq 1 300); do echo line-$i; done"]
    )
    await in_thread(wait_status, client, "printer", execution_id, "Succeeded")
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_logs(app)
        app.open_logs(ref_for("printer", execution_id))
        await pilot.pause()
        screen = logs_screen(app)
        await tail_done(screen)
        await pilot.pause()
        view = screen.log_view
        printed = [line for line in view.lines if line.startswith("line-")]
        assert printed == [f"line-{i}" for i in range(1, 301)]
        assert any(line.startswith("[Container]") for line in view.lines)
        assert screen.phase is Phase.ENDED
        # Pages, not lines: far fewer writes than lines.
        assert 1 <= screen.writes <= screen.batches < 10
        shown = rendered_lines(view)
        # Following: the end of the log is on screen.
        assert any("Phase complete: BUILD State: SUCCEEDED" in line for line in shown)
        text = screen_text(app)
        assert f"action ended · {view.total_written:,} lines" in text
        assert "printer › Build › Run" in text
        assert "✓ Succeeded" in text


async def test_scrolling_up_pauses_and_counts_new_lines_then_follow_resumes(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    gate, finish = tmp_path / "gate", tmp_path / "finish"
    _, execution_id = run_pipeline(
        endpoint,
        "chatty",
        [
            "for i in $(seq 1 100); do echo first-$i; done",
            f"while [ ! -e {gate} ]; do sleep 0.02; done",
            "for i in $(seq 1 50); do echo second-$i; done",
            f"while [ ! -e {finish} ]; do sleep 0.02; done",
        ],
    )
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_logs(app)
        app.open_logs(ref_for("chatty", execution_id))
        await pilot.pause()
        screen = logs_screen(app)
        view = screen.log_view
        await until(pilot, lambda: "first-100" in view.lines)
        assert view.following
        assert any("first-100" in line for line in rendered_lines(view))

        await pilot.press("pageup")
        assert not view.following
        held = view.scroll_y
        shown_before = rendered_lines(view)
        assert "paused" in screen_text(app)

        gate.touch()
        await until(pilot, lambda: "second-50" in view.lines)
        await pilot.pause()
        # The lines arrived but the view stayed where the reader left it.
        assert view.unseen >= 50
        assert view.scroll_y == held
        assert rendered_lines(view) == shown_before
        assert f"{view.unseen:,} new lines" in screen_text(app)

        await pilot.press("f")
        await pilot.pause()
        assert view.following
        assert view.unseen == 0
        assert view.scroll_y == view.max_scroll_y
        assert any("second-50" in line for line in rendered_lines(view))
        assert "new lines" not in screen_text(app)

        finish.touch()
        await tail_done(screen)
        await pilot.pause()
        assert screen.phase is Phase.ENDED
        assert view.lines[-1].endswith("Phase complete: BUILD State: SUCCEEDED")
        assert "action ended" in screen_text(app)


async def test_scrolling_back_to_the_end_follows_again(endpoint: Endpoint) -> None:
    client, execution_id = run_pipeline(
        endpoint, "scroller", ["for i in $(seq 1 200); do echo row-$i; done"]
    )
    await in_thread(wait_status, client, "scroller", execution_id, "Succeeded")
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_logs(app)
        app.open_logs(ref_for("scroller", execution_id))
        await pilot.pause()
        screen = logs_screen(app)
        await tail_done(screen)
        await pilot.pause()
        view = screen.log_view
        await pilot.press("up", "up")
        assert not view.following
        await pilot.press("down", "down")
        assert view.following
        await pilot.press("home")
        await pilot.pause()
        assert not view.following
        assert rendered_lines(view)[0] == view.lines[0]
        await pilot.press("end")
        await pilot.pause()
        assert view.following


async def test_search_finds_next_and_previous_and_highlights_the_match(
    endpoint: Endpoint,
) -> None:
    script = [
        "for i in $(seq 1 300); do "
        # Quotes split the word, so the command line itself has no match.
        'case $i in 20) echo "nee""dle A";; 150) echo "nee""dle B";; 280) echo "nee""dle C";; '
        "*) echo hay-$i;; esac; done"
    ]
    client, execution_id = run_pipeline(endpoint, "haystack", script)
    await in_thread(wait_status, client, "haystack", execution_id, "Succeeded")
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_logs(app)
        app.open_logs(ref_for("haystack", execution_id))
        await pilot.pause()
        screen = logs_screen(app)
        await tail_done(screen)
        await pilot.pause()
        view = screen.log_view

        def current() -> str:
            assert view.match is not None
            return view.line(view.match.seq - view.dropped)

        def on_screen(text: str) -> bool:
            return any(text in line for line in rendered_lines(view))

        await pilot.press("slash")
        assert screen.search_input.has_focus
        await pilot.press(*"needle", "enter")
        await pilot.pause()
        # Following: the newest match first.
        assert current() == "needle C"
        assert on_screen("needle C")
        assert not view.following
        assert not screen.search_input.display

        await pilot.press("n")
        await pilot.pause()
        assert current() == "needle A"
        assert screen.search_outcome is SearchOutcome.WRAPPED
        assert on_screen("needle A")
        assert not on_screen("needle C")
        assert "(wrapped)" in screen_text(app)

        await pilot.press("n")
        await pilot.pause()
        assert current() == "needle B"
        assert screen.search_outcome is SearchOutcome.FOUND

        await pilot.press("N")
        await pilot.pause()
        assert current() == "needle A"
        await pilot.press("N")
        await pilot.pause()
        assert current() == "needle C"

        # The current match is drawn in its own style, other lines are not.
        match_style = view.get_component_rich_style("log-view--current-match", partial=True)
        strips = view.render_lines(view.size.region)
        row = next(i for i, strip in enumerate(strips) if "needle C" in strip.text)
        highlighted = [
            seg.text
            for seg in strips[row]
            if seg.style and match_style.bgcolor and seg.style.bgcolor == match_style.bgcolor
        ]
        assert highlighted == ["needle"]

        # Smart case: a capital letter makes the search case-sensitive.
        await pilot.press("slash", *"NEEDLE", "enter")
        await pilot.pause()
        assert view.match is None
        assert screen.search_outcome is SearchOutcome.NOT_FOUND
        assert "“NEEDLE” not found" in screen_text(app)


async def test_memory_is_bounded_by_max_lines(endpoint: Endpoint) -> None:
    client, execution_id = run_pipeline(
        endpoint, "flood", ["for i in $(seq 1 2500); do echo flood-$i; done"]
    )
    await in_thread(wait_status, client, "flood", execution_id, "Succeeded")
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_logs(app, max_lines=500)
        app.open_logs(ref_for("flood", execution_id))
        await pilot.pause()
        screen = logs_screen(app)
        await tail_done(screen)
        await pilot.pause()
        view = screen.log_view
        assert view.line_count == 500
        assert view.total_written > 2500
        assert view.dropped == view.total_written - 500
        assert "flood-2500" in view.lines
        assert "flood-1" not in view.lines
        assert f"last 500 of {view.total_written:,} kept" in screen_text(app)


async def test_wrap_and_timestamps_change_what_is_drawn(endpoint: Endpoint) -> None:
    client, execution_id = run_pipeline(
        endpoint, "wide", ["printf 'W%.0s' $(seq 1 300); echo", "echo short"]
    )
    await in_thread(wait_status, client, "wide", execution_id, "Succeeded")
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_logs(app)
        app.open_logs(ref_for("wide", execution_id))
        await pilot.pause()
        screen = logs_screen(app)
        await tail_done(screen)
        await pilot.pause()
        view = screen.log_view
        assert "W" * 300 in view.lines
        width = view.scrollable_content_region.width
        unwrapped = [line for line in rendered_lines(view) if line.startswith("WWW")]
        assert len(unwrapped) == 1

        await pilot.press("w")
        await pilot.pause()
        assert view.wrap
        wrapped = [line for line in rendered_lines(view) if line.startswith("WWW")]
        assert len(wrapped) == -(-300 // width)
        assert "".join(wrapped).rstrip() == "W" * 300
        assert view.virtual_size.width == width

        await pilot.press("t")
        await pilot.pause()
        stamped = rendered_lines(view)
        assert re.match(r"\d\d:\d\d:\d\d\.\d{3} short", stamped[-1]) or any(
            re.match(r"\d\d:\d\d:\d\d\.\d{3} short", line) for line in stamped
        )
        assert "wrap · timestamps" in screen_text(app)


async def test_a_manual_approval_has_no_log_and_no_request(endpoint: Endpoint) -> None:
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_logs(app)
        ref = ActionRef(
            "any", "Approve", "Gate", "0" * 36, ActionView(name="Gate", provider="Manual")
        )
        app.open_logs(ref)
        await pilot.pause()
        screen = logs_screen(app)
        assert screen.phase is Phase.ENDED
        assert screen.tail is None
        assert "manual approvals write no log" in screen_text(app)


async def test_an_action_that_has_not_run_says_so(endpoint: Endpoint) -> None:
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_logs(app)
        app.open_logs(ActionRef("any", "Build", "Run", None, ActionView(name="Run")))
        await pilot.pause()
        screen = logs_screen(app)
        await tail_done(screen)
        await pilot.pause()
        assert screen.phase is Phase.NOT_RUN
        assert "has not run in this execution" in screen_text(app)


async def test_a_failing_read_is_shown_and_reported_not_raised(endpoint: Endpoint) -> None:
    messages: list[Message] = []
    app = app_on(endpoint)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        fast_logs(app)
        app.open_logs(ref_for("no-such-pipeline", str(uuid.uuid4())))
        await pilot.pause()
        screen = logs_screen(app)
        await tail_done(screen)
        await pilot.pause()
        assert screen.phase is Phase.FAILED
        problems = [m.problem for m in messages if isinstance(m, ProblemOccurred)]
        assert [p.code for p in problems] == ["PipelineNotFoundException"]
        assert f"could not read the log: {problems[0].title}" in screen_text(app)
        # The app is still alive and the screen still answers keys.
        await pilot.press("escape")
        assert not isinstance(app.screen, LogsScreen)


async def test_the_log_of_the_focused_action_opens_from_the_workspace_ref(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    """The ref the pipeline screen hands over (its ActionView of the latest run) is enough."""
    gate = tmp_path / "gate"
    upload_source(endpoint)
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline(
            "live",
            stage(
                "Build",
                commands("Run", ["echo started", f"while [ ! -e {gate} ]; do sleep 0.02; done"]),
            ),
            stage("Approve", approval("Gate")),
        )
    )
    app = app_on(endpoint)
    async with app.run_test(size=SIZE) as pilot:
        fast_logs(app)
        app.watcher.set_visible("live")
        ref = await until(pilot, lambda: running_action_ref(app, "live", "Build", "Run"))
        app.open_logs(ref)
        await pilot.pause()
        screen = logs_screen(app)
        await until(pilot, lambda: "started" in screen.log_view.lines)
        assert "● In progress" in screen_text(app)
        gate.touch()
        await tail_done(screen)
        await until(pilot, lambda: screen.status == "Succeeded")
        await pilot.pause()
        assert "✓ Succeeded" in screen_text(app)


@pytest.mark.parametrize("max_lines", [1, 7, 1000])
async def test_the_view_keeps_exactly_the_newest_lines(max_lines: int) -> None:
    """The ring alone, with more lines than it keeps, in uneven batches."""
    from textual.app import App, ComposeResult

    class Holder(App[None]):
        def compose(self) -> ComposeResult:
            yield LogView(max_lines=max_lines)

    app = Holder()
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(LogView)
        written = 0
        for size in (3, 1, 997, 2000, 5):
            view.write_batch([(0, f"n{written + i}") for i in range(size)])
            written += size
        await pilot.pause()
        assert view.line_count == min(max_lines, written)
        assert view.lines == [f"n{i}" for i in range(written - view.line_count, written)]
        assert view.dropped == written - view.line_count
        assert rendered_lines(view)[-1 if max_lines > 8 else 0].startswith(f"n{written - 1}") or (
            f"n{written - 1}" in "".join(rendered_lines(view))
        )


async def test_a_growing_log_keeps_its_scrollbars_in_step_without_laying_out_the_screen() -> None:
    """Once the log overflows, a batch changes only the vertical extent: the scrollbar's
    length and the end follow it, and the screen is not laid out again for it. A line wider
    than the view (a horizontal scrollbar appears) still lays it out."""
    from textual.app import App, ComposeResult

    class Holder(App[None]):
        def compose(self) -> ComposeResult:
            yield LogView(max_lines=500)

    app = Holder()
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(LogView)
        screen = app.screen
        layouts = 0
        layout = screen._refresh_layout

        def counted(*args: Any, **kwargs: Any) -> None:
            nonlocal layouts
            layouts += 1
            layout(*args, **kwargs)

        screen._refresh_layout = counted  # type: ignore[method-assign]
        view.write_batch([(0, f"line {i}") for i in range(30)])
        await pilot.pause()
        assert not view.show_horizontal_scrollbar
        before = layouts
        for start in range(30, 600, 30):
            view.write_batch([(0, f"line {i}") for i in range(start, start + 30)])
            await pilot.pause()
            assert view.vertical_scrollbar.window_virtual_size == view.line_count
            assert view.scroll_y == view.max_scroll_y
            assert rendered_lines(view)[-1].startswith(f"line {start + 29}")
        assert layouts == before
        assert view.line_count == 500
        view.write_batch([(0, "x" * 200)])
        await pilot.pause()
        assert view.show_horizontal_scrollbar
        assert layouts > before


# Snapshot ------------------------------------------------------------------------------------


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times of day in UTC, whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


BUILD_LOG = [
    "echo 'Collecting dependencies'",
    'for i in $(seq 1 40); do echo "  test_case_$i ... ok"; done',
    "echo '  test_greeting_escapes_html ... ERROR'",
    "echo 'AssertionError: expected &lt;b&gt; in the page'",
    'for i in $(seq 41 60); do echo "  test_case_$i ... ok"; done',
    "echo '61 tests, 1 error'",
]


@pytest.fixture
def fixed_length_endpoint() -> Iterator[Endpoint]:
    """An endpoint whose data dir path always has the same length: the build's log prints
    paths under it (CODEBUILD_SRC_DIR=...), and the widest line sets the horizontal
    scrollbar's thumb, so a pytest temp dir (longer under parallel workers) would change the
    frame."""
    data_dir = Path(tempfile.mkdtemp(prefix="pipetop-snapshot-", dir="/tmp"))
    ep = Endpoint(data_dir / "data").start()
    try:
        yield ep
    finally:
        ep.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_snapshot_of_the_logs_screen(
    snap_compare: Any, fixed_length_endpoint: Endpoint, utc: None
) -> None:
    endpoint = fixed_length_endpoint
    client, execution_id = run_pipeline(endpoint, "web-app", BUILD_LOG)
    wait_status(client, "web-app", execution_id, "Succeeded")
    app = app_on(endpoint)

    async def search(pilot: Any) -> None:
        await until(pilot, lambda: app.watch_status.pipelines_listed)
        fast_logs(app)
        app.open_logs(ref_for("web-app", execution_id))
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        screen = logs_screen(app)
        await until(pilot, lambda: screen.tail is not None)
        await tail_done(screen)
        await pilot.press("slash", *"error", "enter")
        await until(pilot, lambda: screen.log_view.match is not None)
        # The footer recomposes after the focus moves back from the search field: on a busy
        # machine that can land after the match, so wait for it to show its keys again.
        # Hidden is not yet gone from the frame: wait for the layout that drops the field.
        await until(pilot, lambda: not screen.search_input.region and screen.query("FooterKey"))
        # Going to the match may animate the scroll; the frame is the one after it settles
        # (mid-way the horizontal scrollbar's thumb sits a fraction of a cell off).
        await pilot.wait_for_scheduled_animations()
        await until(pilot, lambda: screen.log_view.scroll_x == 0)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=search)
