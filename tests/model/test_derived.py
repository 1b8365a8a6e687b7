"""Figures the screens derive from the view: durations, approval deadlines, where a pipeline
is, and short texts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.local.pipelines import approval, commands, pipeline, stage
from tests.model.timeline import E1, E2, event, reduce, started
from tui.model.declaration import parse_pipeline
from tui.model.derived import (
    DEFAULT_APPROVAL_TIMEOUT,
    action_elapsed,
    approval_expires_at,
    approval_times_out_in,
    count_by_status,
    current_stage,
    elapsed,
    execution_elapsed,
    failed_stage,
    first_line,
    humanize_age,
    humanize_duration,
    pending_approvals,
    short_revision,
    stage_elapsed,
    waiting_for_approval_since,
)
from tui.model.projection import ActionView
from tui.model.view import PipelineView, apply_declaration

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.9, "0s"),
        (45, "45s"),
        (60, "1m"),
        (190, "3m 10s"),
        (3600, "1h"),
        (7500, "2h 5m"),
        (7505, "2h 5m"),
        (86400 * 3 + 3600 * 4 + 59, "3d 4h"),
        (-30, "0s"),
    ],
)
def test_durations_read_as_their_two_largest_units(seconds: float, text: str) -> None:
    assert humanize_duration(timedelta(seconds=seconds)) == text


@pytest.mark.parametrize(
    ("ago", "text"),
    [
        (0, "just now"),
        (4.9, "just now"),
        (40, "40s ago"),
        (190, "3m ago"),
        (7500, "2h ago"),
        (86400 * 5 + 60, "5d ago"),
        (-180, "in 3m"),
    ],
)
def test_ages_read_as_their_largest_unit(ago: float, text: str) -> None:
    assert humanize_age(at(0), at(ago)) == text


@pytest.mark.parametrize(
    ("revision", "short"),
    [
        ("0f" * 20, "0f0f0f0"),
        ("a" * 64, "aaaaaaa"),
        ("sha256:" + "b" * 64, "sha256:bbbbbbbbbbbb"),
        ("3sL4kqtJlcpXroDTDmJ.xUuBpJ8ZvYb", "3sL4kqtJlcpX"),
        ("v1.2", "v1.2"),
        (None, ""),
        ("", ""),
    ],
)
def test_short_revisions(revision: str | None, short: str) -> None:
    assert short_revision(revision) == short


@pytest.mark.parametrize(
    ("message", "line"),
    [
        ("Fix the login\n\nLong explanation", "Fix the login"),
        ("\n\n  Leading blank lines  \nsecond", "Leading blank lines"),
        (
            json.dumps(
                {"ProviderType": "GitHub", "CommitMessage": "Merge pull request #7\n\nbody"}
            ),
            "Merge pull request #7",
        ),
        ('{"not": "a commit"}', '{"not": "a commit"}'),
        ("{broken json", "{broken json"),
        ("", ""),
        (None, ""),
        ("   \n  ", ""),
    ],
)
def test_first_lines_of_commit_messages(message: str | None, line: str) -> None:
    assert first_line(message) == line


def test_elapsed_runs_until_now_or_until_the_end() -> None:
    assert elapsed(at(0), None, at(90), running=True) == timedelta(seconds=90)
    assert elapsed(at(0), at(30), at(90), running=False) == timedelta(seconds=30)
    assert elapsed(None, at(30), at(90), running=False) is None
    assert elapsed(at(0), None, at(90), running=False) is None
    assert elapsed(at(10), at(5), at(90), running=False) == timedelta(0)


def _view() -> PipelineView:
    declaration = pipeline(
        "demo",
        stage("Build", commands("Compile", ["true"])),
        stage("Gate", approval("Approve", timeout_minutes=90), approval("Other", run_order=2)),
    )
    return apply_declaration(PipelineView.empty("demo"), parse_pipeline(declaration))


def test_elapsed_of_actions_stages_and_executions() -> None:
    view = reduce(
        started(E1, 0),
        event(E1, "STARTED", 10, "Build"),
        event(E1, "STARTED", 10, "Build", "Compile"),
        view=_view(),
    )
    build = view.stage("Build")
    assert build is not None
    compile_row = build.action("Compile")
    assert compile_row is not None
    assert action_elapsed(compile_row, at(70)) == timedelta(seconds=60)
    assert stage_elapsed(build, at(70)) == timedelta(seconds=60)
    assert view.latest_execution is not None
    assert execution_elapsed(view.latest_execution, at(70)) == timedelta(seconds=70)
    done = reduce(
        event(E1, "SUCCEEDED", 25, "Build", "Compile"),
        event(E1, "SUCCEEDED", 25, "Build"),
        view=view,
    )
    finished = done.stage("Build")
    assert finished is not None
    assert action_elapsed(finished.actions[0], at(999)) == timedelta(seconds=15)
    assert stage_elapsed(finished, at(999)) == timedelta(seconds=15)


def test_a_waiting_approval_times_out_after_its_declared_timeout() -> None:
    view = reduce(
        started(E1, 0),
        event(E1, "STARTED", 100, "Gate", "Approve", category="Approval"),
        view=_view(),
    )
    ((gate, approve),) = pending_approvals(view)
    assert gate.name == "Gate"
    assert waiting_for_approval_since(approve) == at(100)
    assert approval_expires_at(approve) == at(100 + 90 * 60)
    assert approval_times_out_in(approve, at(700)) == timedelta(minutes=80)
    assert approval_times_out_in(approve, at(100 + 91 * 60)) == timedelta(0)
    answered = reduce(
        event(E1, "SUCCEEDED", 200, "Gate", "Approve", category="Approval"), view=view
    )
    row = answered.stage("Gate").action("Approve")  # type: ignore[union-attr]
    assert row is not None
    assert waiting_for_approval_since(row) is None
    assert approval_times_out_in(row, at(300)) is None


def test_an_approval_without_a_declared_timeout_gets_seven_days() -> None:
    row = ActionView(name="Approve", status="InProgress", category="Approval", started_at=at(0))
    assert approval_expires_at(row) == at(0) + DEFAULT_APPROVAL_TIMEOUT
    assert timedelta(days=7) == DEFAULT_APPROVAL_TIMEOUT
    assert (
        approval_expires_at(ActionView(name="Build", status="InProgress", category="Build")) is None
    )


def test_the_current_and_the_failed_stage() -> None:
    view = reduce(
        started(E1, 0),
        event(E1, "STARTED", 1, "Source"),
        event(E1, "SUCCEEDED", 2, "Source"),
        event(E1, "STARTED", 2, "Build"),
        view=_view(),
    )
    assert current_stage(view).name == "Build"  # type: ignore[union-attr]
    assert failed_stage(view) is None
    failed = reduce(event(E1, "FAILED", 5, "Build"), event(E1, "FAILED", 5), view=view)
    assert current_stage(failed) is None
    assert failed_stage(failed).name == "Build"  # type: ignore[union-attr]
    # A newer execution running Source: its stage is current, the older failure is not its own.
    newer = reduce(started(E2, 10), event(E2, "STARTED", 10, "Source"), view=failed)
    assert current_stage(newer).name == "Source"  # type: ignore[union-attr]
    assert failed_stage(newer) is None
    waiting = reduce(event(E2, "SUCCEEDED", 11, "Source"), view=newer)
    assert current_stage(waiting).name == "Build"  # type: ignore[union-attr]


def test_counts_by_status() -> None:
    idle = PipelineView.empty("a")
    running = reduce(started(E1, 0))
    failed = reduce(started(E2, 0), event(E2, "FAILED", 1))
    counts = count_by_status([idle, running, failed, running])
    assert counts == {"Idle": 1, "InProgress": 2, "Failed": 1}
