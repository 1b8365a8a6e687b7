"""The reducer's rules, one at a time (see `tui.model.view`).

Rule tests build events in the exact form the engine and AWS send (reference section 5) so
each can place them in chosen seconds; snapshot tests use real runs of the engine
(`tests.model.engine_runs`) and real GetPipelineState answers.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.local.pipelines import approval, commands, pipeline, stage
from tests.model.engine_runs import EngineRun, Snapshot
from tests.model.timeline import BASE, E1, E2, E3, event, reduce, started
from tui.model.declaration import parse_pipeline
from tui.model.events import PipelineEvent, parse_event
from tui.model.state import (
    ActionExecutionDetail,
    PipelineExecutionSummary,
    PipelineState,
    PipelineSummary,
)
from tui.model.view import (
    PipelineView,
    WorkspaceView,
    apply_declaration,
    apply_event,
    apply_executions,
    apply_snapshot,
)


def orders(events: list[PipelineEvent], count: int = 48) -> Iterator[list[PipelineEvent]]:
    """Every order of a few events; a fixed sample (with both ends) of the orders of more."""
    if len(events) <= 4:
        yield from (list(order) for order in itertools.permutations(events))
        return
    shuffler = random.Random(len(events))
    yield list(events)
    yield list(reversed(events))
    for _ in range(count):
        yield shuffler.sample(events, len(events))


def every_order(events: list[PipelineEvent]) -> Iterator[PipelineView]:
    for order in orders(events):
        yield reduce(*order)


def action_status(view: PipelineView, stage_name: str, action: str) -> Any:
    found = view.stage(stage_name)
    assert found is not None
    row = found.action(action)
    assert row is not None
    return row.status


# Duplicates and order ---------------------------------------------------------------------------
def test_a_duplicate_changes_nothing() -> None:
    first = started(E1, 0)
    view = reduce(first, event(E1, "STARTED", 0, "Build"))
    again = apply_event(view, first)
    assert again is view
    assert again.pending_events == 2


def test_an_end_that_arrives_before_its_start_still_ends_the_run() -> None:
    events = [
        event(E1, "STARTED", 3, "Build", "Compile"),
        event(
            E1, "FAILED", 7, "Build", "Compile", **{"execution-result": {"error-code": "JobFailed"}}
        ),
    ]
    for view in every_order(events):
        assert action_status(view, "Build", "Compile") == "Failed"
        row = view.stage("Build").action("Compile")  # type: ignore[union-attr]
        assert row is not None
        assert row.error_code == "JobFailed"
        assert row.execution_id == E1


def test_a_retry_within_one_second_is_a_new_attempt_in_any_order() -> None:
    events = [
        event(E1, "STARTED", 5, "Build", "Compile"),
        event(E1, "FAILED", 5, "Build", "Compile"),
        event(E1, "STARTED", 5, "Build", "Compile"),
    ]
    for view in every_order(events):
        assert action_status(view, "Build", "Compile") == "InProgress"
    done = reduce(*events, event(E1, "SUCCEEDED", 5, "Build", "Compile"))
    assert action_status(done, "Build", "Compile") == "Succeeded"


def test_an_older_attempts_failure_never_hides_the_newer_attempt() -> None:
    newer_start = event(E1, "STARTED", 10, "Build", "Compile")
    older_failure = event(E1, "FAILED", 4, "Build", "Compile")
    older_start = event(E1, "STARTED", 2, "Build", "Compile")
    view = reduce(newer_start, older_failure, older_start)
    assert action_status(view, "Build", "Compile") == "InProgress"
    row = view.stage("Build").action("Compile")  # type: ignore[union-attr]
    assert row is not None
    assert row.started_at == datetime.fromtimestamp(BASE + 10, UTC)


def test_two_ends_in_one_second_rank_by_how_final_they_are() -> None:
    events = [
        event(E1, "STARTED", 5, "Build", "Compile"),
        event(E1, "FAILED", 5, "Build", "Compile"),
        event(E1, "STARTED", 5, "Build", "Compile"),
        event(E1, "SUCCEEDED", 5, "Build", "Compile"),
    ]
    for view in every_order(events):
        assert action_status(view, "Build", "Compile") == "Succeeded"


def test_stopping_then_stopped_and_the_stop_comment() -> None:
    view = reduce(
        started(E1, 0),
        event(E1, "STARTED", 0, "Build"),
        event(E1, "STOPPING", 4, **{"stop-execution-comments": "wrong branch"}),
        event(E1, "STOPPING", 4, "Build"),
    )
    assert view.stage("Build").status == "Stopping"  # type: ignore[union-attr]
    assert view.latest_execution is not None
    assert view.latest_execution.status == "Stopping"
    assert view.latest_execution.stop_reason == "wrong branch"
    assert view.status == "Stopping"
    stopped = reduce(event(E1, "STOPPED", 6, "Build"), event(E1, "STOPPED", 6), view=view)
    assert stopped.stage("Build").status == "Stopped"  # type: ignore[union-attr]
    assert stopped.status == "Stopped"


def test_resumed_reopens_a_failed_stage_and_execution() -> None:
    failed = [
        started(E1, 0),
        event(E1, "STARTED", 0, "Build"),
        event(E1, "FAILED", 3, "Build"),
        event(E1, "FAILED", 3),
    ]
    resumed = [event(E1, "RESUMED", 9, "Build"), event(E1, "RESUMED", 9)]
    for order in orders(failed + resumed):
        view = reduce(*order)
        assert view.stage("Build").status == "InProgress"  # type: ignore[union-attr]
        assert view.status == "InProgress"
    again = reduce(
        *failed, *resumed, event(E1, "SUCCEEDED", 12, "Build"), event(E1, "SUCCEEDED", 12)
    )
    assert again.status == "Succeeded"


# Executions -------------------------------------------------------------------------------------
def test_an_older_execution_never_takes_a_stage_back() -> None:
    newer = [
        started(E2, 20),
        event(E2, "STARTED", 21, "Build"),
        event(E2, "STARTED", 21, "Build", "Compile"),
    ]
    older = [started(E1, 10), event(E1, "STARTED", 11, "Build"), event(E1, "FAILED", 30, "Build")]
    for order in orders(newer + older):
        view = reduce(*order)
        build = view.stage("Build")
        assert build is not None
        assert (build.execution_id, build.status) == (E2, "InProgress")
        assert view.execution(E1) is not None
        assert [e.execution_id for e in view.executions] == [E2, E1]
    assert reduce(*older, *newer).execution_ids_by_stage == {"Build": E2}


def test_an_execution_whose_start_is_not_known_takes_no_stage() -> None:
    view = reduce(started(E1, 10), event(E1, "STARTED", 11, "Build"))
    late = reduce(event(E2, "STARTED", 40, "Build"), view=view)
    assert late.stage("Build").execution_id == E1  # type: ignore[union-attr]
    known = reduce(started(E2, 39), view=late)
    assert known.stage("Build").execution_id == E2  # type: ignore[union-attr]


def test_an_action_keeps_its_last_run_until_the_newer_execution_reaches_it() -> None:
    view = reduce(
        started(E1, 0),
        event(E1, "STARTED", 1, "Build"),
        event(E1, "STARTED", 1, "Build", "Compile"),
        event(E1, "SUCCEEDED", 2, "Build", "Compile"),
        event(E1, "STARTED", 2, "Build", "Package"),
        event(E1, "SUCCEEDED", 3, "Build", "Package"),
        event(E1, "SUCCEEDED", 3, "Build"),
        started(E2, 10),
        event(E2, "STARTED", 11, "Build"),
        event(E2, "STARTED", 11, "Build", "Compile"),
    )
    build = view.stage("Build")
    assert build is not None
    assert build.execution_id == E2
    compile_row, package_row = build.actions
    assert (compile_row.execution_id, compile_row.status) == (E2, "InProgress")
    assert (package_row.execution_id, package_row.status) == (E1, "Succeeded")


def test_an_execution_done_with_a_stage_waits_in_front_of_the_next() -> None:
    view = reduce(
        started(E1, 0),
        event(E1, "STARTED", 0, "Source"),
        event(E1, "SUCCEEDED", 1, "Source"),
        event(E1, "STARTED", 1, "Build"),
        started(E2, 5),
        event(E2, "STARTED", 5, "Source"),
        event(E2, "SUCCEEDED", 6, "Source"),
        view=_structured(["Source", "Build"]),
    )
    source, build = view.stages
    assert [w.execution_id for w in build.inbound] == [E2]
    assert source.inbound == ()
    entered = reduce(
        event(E1, "SUCCEEDED", 8, "Build"), event(E2, "STARTED", 8, "Build"), view=view
    )
    assert entered.stage("Build").inbound == ()  # type: ignore[union-attr]
    superseded = reduce(event(E2, "SUPERSEDED", 7), view=view)
    assert superseded.stage("Build").inbound == ()  # type: ignore[union-attr]


def _structured(stages: list[str], name: str = "demo") -> PipelineView:
    declaration = pipeline(name, *(stage(s, commands(f"{s}Action", ["true"])) for s in stages[1:]))
    declaration["stages"][0]["name"] = stages[0]
    return apply_declaration(PipelineView.empty(name), parse_pipeline(declaration))


def test_a_source_actions_events_give_an_unlisted_execution_its_revision() -> None:
    view = reduce(
        started(E1, 0),
        event(
            E1,
            "SUCCEEDED",
            1,
            "Source",
            "Fetch",
            category="Source",
            **{
                "execution-result": {
                    "external-execution-id": "a" * 40,
                    "external-execution-summary": "Fix the login\n\nlong text",
                }
            },
        ),
    )
    assert view.latest_execution is not None
    (revision,) = view.latest_execution.source_revisions
    assert (revision.action_name, revision.revision_id) == ("Fetch", "a" * 40)
    assert view.latest_execution.trigger_type == "StartPipelineExecution"
    assert view.wants_snapshot


# Structure ----------------------------------------------------------------------------------------
def test_the_declaration_orders_stages_and_types_actions() -> None:
    declaration = pipeline(
        "demo",
        stage("Build", commands("Compile", ["true"])),
        stage("Gate", approval("Approve", timeout_minutes=60)),
    )
    view = apply_declaration(PipelineView.empty("demo"), parse_pipeline(declaration))
    assert [s.name for s in view.stages] == ["Source", "Build", "Gate"]
    assert view.status == "Idle"
    gate = view.stage("Gate")
    assert gate is not None
    row = gate.action("Approve")
    assert row is not None
    assert (row.category, row.timeout_in_minutes, row.status) == ("Approval", 60, None)
    waiting = reduce(
        started(E1, 0), event(E1, "STARTED", 1, "Gate", "Approve", category="Approval"), view=view
    )
    assert waiting.status == "AwaitingApproval"
    # An approval known only from events has no token: a snapshot must bring it.
    assert waiting.wants_snapshot


def test_events_of_a_newer_pipeline_version_add_their_stages_and_ask_for_a_snapshot() -> None:
    view = _structured(["Source", "Build"])
    assert not view.wants_snapshot
    old = reduce(started(E1, 0), event(E1, "STARTED", 1, "Removed", version=1), view=view)
    assert [s.name for s in old.stages] == ["Source", "Build"]
    new = reduce(started(E2, 5, version=2), event(E2, "STARTED", 6, "Deploy", version=2), view=view)
    assert [s.name for s in new.stages] == ["Source", "Build", "Deploy"]
    assert new.wants_snapshot


def test_a_view_takes_only_its_own_pipeline() -> None:
    view = PipelineView.empty("demo")
    with pytest.raises(ValueError, match="'other'"):
        apply_event(view, started(E1, 0, name="other"))
    with pytest.raises(ValueError, match="'other'"):
        apply_snapshot(view, PipelineState.from_api({"pipelineName": "other"}))


# Snapshots on real engine runs --------------------------------------------------------------------
@dataclass
class Run:
    loop: asyncio.AbstractEventLoop
    engine: EngineRun

    def __call__(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    loop = asyncio.new_event_loop()
    run = EngineRun(tmp_path_factory.mktemp("engine"))
    run.start_engine()
    yield Run(loop, run)
    loop.run_until_complete(run.close())
    loop.close()


_pipelines = itertools.count(1)


def _gated(run: Run) -> tuple[str, dict[str, Any]]:
    """A pipeline run up to its waiting approval."""
    declaration = pipeline(
        f"gated-{next(_pipelines)}",
        stage("Build", commands("Compile", ["true"], output="Built", files=["**/*"])),
        stage("Gate", approval("Approve")),
        stage("Deploy", commands("Ship", ["true"], inputs=("Built",))),
    )
    execution = run(run.engine.open(declaration))
    run(run.engine.advance(1.25))
    run(run.engine.finish(run.engine.waiting_jobs()[0], True))
    run(run.engine.advance(1.25))
    run(run.engine.finish(run.engine.waiting_jobs()[0], True))
    return execution, declaration


def _apply(view: PipelineView, snapshot: Snapshot, *, details: bool = False) -> PipelineView:
    return apply_snapshot(
        view,
        PipelineState.from_api(snapshot.state),
        PipelineExecutionSummary.list_from_api(snapshot.executions),
        action_executions=ActionExecutionDetail.list_from_api(snapshot.action_executions)
        if details
        else None,
    )


def test_a_snapshot_replaces_and_earlier_events_no_longer_count(engine: Run) -> None:
    execution, declaration = _gated(engine)
    name = declaration["name"]
    events = [parse_event(e) for e in engine.engine.events()]
    snapshot = engine.engine.snapshot()
    fresh = _apply(PipelineView.empty(name), snapshot)
    from_events = reduce(*events, view=PipelineView.empty(name))
    assert _apply(from_events, snapshot) == fresh
    assert fresh.snapshot_time is not None
    assert fresh.status == "AwaitingApproval"
    gate = fresh.stage("Gate")
    assert gate is not None
    approve = gate.action("Approve")
    assert approve is not None
    assert approve.token is not None
    replayed = reduce(*events, view=fresh)
    assert replayed == fresh
    # Only events whose second overlaps the snapshot's time are held (they may be newer).
    since = fresh.snapshot_time.timestamp()
    assert replayed.pending_events == sum(1 for e in events if e.second + 1 > since)
    assert replayed.pending_events < len(events)
    assert fresh.latest_execution is not None
    assert fresh.latest_execution.execution_id == execution
    engine(engine.engine.retire())


def test_events_after_a_snapshot_bring_it_up_to_date(engine: Run) -> None:
    execution, declaration = _gated(engine)
    name = declaration["name"]
    before = engine.engine.snapshot()
    view = _apply(PipelineView.empty(name), before, details=True)
    engine(engine.engine.advance(2.5))
    ((stage_name, action, token),) = engine.engine.pending_approvals()
    engine(engine.engine.answer(stage_name, action, token, approve=True))
    engine(engine.engine.finish(engine.engine.waiting_jobs()[0], True))
    later = [parse_event(e) for e in engine.engine.events()[before.events_before :]]
    updated = reduce(*reversed(later), view=view)
    gate = updated.stage("Gate")
    assert gate is not None
    approve = gate.action("Approve")
    assert approve is not None
    assert approve.status == "Succeeded"
    assert approve.token is None
    assert approve.summary == "generated"
    deploy = updated.stage("Deploy")
    assert deploy is not None
    assert (deploy.execution_id, deploy.status) == (execution, "Succeeded")
    assert updated.status == "Succeeded"
    final = _apply(PipelineView.empty(name), engine.engine.snapshot())
    assert [(s.name, s.execution_id, s.status) for s in updated.stages] == [
        (s.name, s.execution_id, s.status) for s in final.stages
    ]
    engine(engine.engine.retire())


def test_events_in_the_snapshots_own_second_do_not_override_it(engine: Run) -> None:
    _, declaration = _gated(engine)
    name = declaration["name"]
    before = engine.engine.snapshot()
    view = _apply(PipelineView.empty(name), before)
    # The approval is answered within the second the snapshot already shows.
    ((stage_name, action, token),) = engine.engine.pending_approvals()
    engine(engine.engine.answer(stage_name, action, token, approve=True))
    same_second = [parse_event(e) for e in engine.engine.events()[before.events_before :]]
    assert same_second
    assert all(e.second <= before.taken_at for e in same_second)
    held = reduce(*same_second, view=view)
    assert held.stage("Gate") == view.stage("Gate")
    assert held.pending_events == len(same_second)
    # The next snapshot shows what happened.
    after = _apply(held, engine.engine.snapshot())
    assert after.stage("Gate").action("Approve").status == "Succeeded"  # type: ignore[union-attr]
    engine(engine.engine.retire())


def test_an_older_snapshot_is_ignored(engine: Run) -> None:
    _, declaration = _gated(engine)
    name = declaration["name"]
    older = engine.engine.snapshot()
    engine(engine.engine.advance(3))
    ((stage_name, action, token),) = engine.engine.pending_approvals()
    engine(engine.engine.answer(stage_name, action, token, approve=False))
    newer = engine.engine.snapshot()
    view = _apply(PipelineView.empty(name), newer)
    assert view.status == "Failed"
    assert _apply(view, older) is view
    engine(engine.engine.retire())


def test_action_details_place_each_run_in_its_execution(engine: Run) -> None:
    execution, declaration = _gated(engine)
    name = declaration["name"]
    view = _apply(PipelineView.empty(name), engine.engine.snapshot(), details=True)
    build = view.stage("Build")
    assert build is not None
    compile_row = build.action("Compile")
    assert compile_row is not None
    assert compile_row.execution_id == execution
    assert compile_row.action_execution_id is not None
    assert compile_row.started_at is not None
    assert compile_row.category == "Compute"
    assert [a.name for a in compile_row.input_artifacts] == ["SourceOut"]
    assert [a.name for a in compile_row.output_artifacts] == ["Built"]
    assert compile_row.output_artifacts[0].key is not None
    engine(engine.engine.retire())


def test_summaries_alone_update_executions_and_a_late_page_does_not_undo_them(engine: Run) -> None:
    _, declaration = _gated(engine)
    name = declaration["name"]
    early = engine.engine.snapshot()
    engine(engine.engine.advance(2))
    ((stage_name, action, token),) = engine.engine.pending_approvals()
    engine(engine.engine.answer(stage_name, action, token, approve=False))
    late = engine.engine.snapshot()
    view = apply_executions(
        PipelineView.empty(name), PipelineExecutionSummary.list_from_api(late.executions)
    )
    assert view.latest_execution is not None
    assert view.latest_execution.status == "Failed"
    stale = apply_executions(view, PipelineExecutionSummary.list_from_api(early.executions))
    assert stale.latest_execution is not None
    assert stale.latest_execution.status == "Failed"
    engine(engine.engine.retire())


# The workspace ------------------------------------------------------------------------------------
def test_the_workspace_counts_pipelines_by_status() -> None:
    listed = PipelineSummary.list_from_api(
        {"pipelines": [{"name": "demo"}, {"name": "idle"}, {"name": "broken"}, {"name": "gated"}]}
    )
    workspace = WorkspaceView().with_pipelines(listed)
    assert list(workspace.pipelines) == ["broken", "demo", "gated", "idle"]
    assert workspace.counts == {"Idle": 4}
    workspace = workspace.with_event(started(E1, 0))
    workspace = workspace.with_event(event(E2, "FAILED", 0, name="broken"))
    workspace = workspace.with_event(
        event(E3, "STARTED", 0, "Gate", "Approve", name="gated", category="Approval")
    )
    assert workspace.running == 1
    assert workspace.failed == 1
    assert workspace.awaiting_approval == 1
    assert workspace.counts["Idle"] == 1
    same = workspace.with_event(started(E1, 0))
    assert same.pipeline("demo") is not None
    # Events of a pipeline not listed yet add it; a listing without a pipeline drops it.
    more = workspace.with_event(started(E1, 0, name="new"))
    assert "new" in more.pipelines
    fewer = more.with_pipelines([s for s in listed if s.name != "broken"])
    assert sorted(fewer.pipelines) == ["demo", "gated", "idle"]
    assert fewer.pipeline("demo") is workspace.pipeline("demo") or fewer.pipeline(
        "demo"
    ) == workspace.pipeline("demo")


def test_observed_at_moves_the_snapshot_time_but_never_before_its_content(engine: Run) -> None:
    execution, declaration = _gated(engine)
    name = declaration["name"]
    snapshot = engine.engine.snapshot()
    state = PipelineState.from_api(snapshot.state)
    summaries = PipelineExecutionSummary.list_from_api(snapshot.executions)
    content = state.latest_timestamp()
    assert content is not None
    read_at = datetime.fromtimestamp(snapshot.taken_at + 10, UTC)
    # A newer execution that entered Build 5 seconds after the state's last change.
    later = snapshot.taken_at + 5 - BASE
    newer = [
        started(E3, later, name=name),
        event(E3, "STARTED", later, "Build", name=name),
    ]
    plain = reduce(*newer, view=apply_snapshot(PipelineView.empty(name), state, summaries))
    assert plain.stage("Build").execution_id == E3  # type: ignore[union-attr]
    observed = apply_snapshot(PipelineView.empty(name), state, summaries, observed_at=read_at)
    assert observed.snapshot_time == read_at
    # The state was read after that entry, so it already shows what is true: events older
    # than the moment it was read are not newer than it.
    held = reduce(*newer, view=observed)
    assert held.stage("Build").execution_id == execution  # type: ignore[union-attr]
    early = apply_snapshot(
        PipelineView.empty(name), state, summaries, observed_at=datetime.fromtimestamp(0, UTC)
    )
    assert early.snapshot_time == content
    engine(engine.engine.retire())
