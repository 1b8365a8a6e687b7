"""Property tests of the reducer on generated runs of generated pipelines on the real engine.

Hypothesis draws a pipeline (a source stage and one to three stages of runOrder groups of
Commands and manual approval actions, in SUPERSEDED, QUEUED or PARALLEL mode) and a run of
it: executions started, actions succeeding or failing, approvals approved, rejected or left
waiting, stages retried (FAILED_ACTIONS or ALL_ACTIONS), executions stopped (waiting or
abandoning), time moving in steps that often leave several changes in one second. The engine
(`tests.model.engine_runs`) emits its real EventBridge events and answers GetPipelineState,
ListPipelineExecutions and ListActionExecutions through botocore's parser.

Properties:
1. Any shuffling, duplication and loss of the events, followed by the final snapshot, gives
   exactly the view the final snapshot alone gives (a later snapshot wins).
2. Without a snapshot, any shuffling and duplication of all the events gives exactly the view
   the events give in the order the engine emitted them (order independence).
3. Under the conditions of `tui.model.view` (executions start in different seconds, a retry
   comes at least a second after the failure it retries, not PARALLEL), that view shows what
   GetPipelineState shows: each stage's execution and status, each action's status, each
   execution's status, who waits in front of which stage.
4. A snapshot taken mid-run (followed by a gap of a second) and then the later events in any
   order and with duplicates, plus stale copies of earlier events, also end at what the final
   GetPipelineState shows.
5. Events of older executions, applied after everything a newer execution emitted, never
   change the stages that show the newer execution.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.local.pipelines import approval, commands, pipeline, stage
from tests.model.engine_runs import EngineRun, Snapshot
from tui.model.declaration import parse_pipeline
from tui.model.events import PipelineEvent, parse_event
from tui.model.state import ActionExecutionDetail, PipelineExecutionSummary, PipelineState
from tui.model.view import (
    PipelineView,
    StageView,
    apply_declaration,
    apply_event,
    apply_snapshot,
)

MAX_MOVES = 24
SETTINGS = settings(
    # No shrinking: each step re-runs the engine and shrinking takes minutes; a failure prints
    # the moves of the run that failed instead.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
_names = itertools.count(1)


@dataclass
class Engine:
    loop: asyncio.AbstractEventLoop
    run: EngineRun


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine and its event loop for every example (each example has its own pipeline)."""
    loop = asyncio.new_event_loop()
    run = EngineRun(tmp_path_factory.mktemp("engine"))
    run.start_engine()
    yield Engine(loop, run)
    loop.run_until_complete(run.close())
    loop.close()


# Generated pipelines ----------------------------------------------------------------------
@st.composite
def declarations(draw: st.DrawFn, name: str) -> dict[str, Any]:
    stages = []
    for index in range(draw(st.integers(1, 3))):
        actions = []
        for group in range(1, draw(st.integers(1, 2)) + 1):
            for slot in range(draw(st.integers(1, 2))):
                action = f"A{index}{group}{slot}"
                if draw(st.booleans()):
                    actions.append(approval(action, run_order=group * 10))
                else:
                    actions.append(commands(action, ["true"], run_order=group * 10))
        stages.append(stage(f"S{index}", *actions))
    mode = draw(st.sampled_from(["SUPERSEDED", "QUEUED", "PARALLEL"]))
    return pipeline(name, *stages, mode=mode)


@dataclass
class GeneratedRun:
    declaration: dict[str, Any]
    events: list[dict[str, Any]]
    final: Snapshot
    middle: Snapshot | None
    moves: list[str] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return str(self.declaration["executionMode"])

    @property
    def name(self) -> str:
        return str(self.declaration["name"])

    def empty(self) -> PipelineView:
        """A view that knows the structure (a client reads GetPipeline first)."""
        return apply_declaration(PipelineView.empty(self.name), parse_pipeline(self.declaration))


async def _drive(run: EngineRun, data: st.DataObject, declaration: dict[str, Any]) -> GeneratedRun:
    moves: list[str] = []
    middle: Snapshot | None = None
    middle_at = data.draw(st.integers(0, MAX_MOVES), label="snapshot after move")
    await run.open(declaration)
    for step in range(MAX_MOVES):
        if step == middle_at:
            middle = run.snapshot()
            # A gap of more than a second: every later event is certainly newer than it.
            await run.advance(1.0 + data.draw(st.sampled_from([0.0, 0.25, 0.75])))
            moves.append("snapshot")
        options = ["tick", "start"] if len(run.executions_newest_first()) < 3 else ["tick"]
        if run.waiting_jobs():
            options += ["finish", "finish", "finish"]
        if run.pending_approvals():
            options += ["answer", "answer"]
        active = [
            e
            for e in run.executions_newest_first()
            if run.execution_status(e) in ("InProgress", "Stopping")
        ]
        if active:
            options.append("stop")
        retryable = [
            (e, s)
            for e in run.executions_newest_first()
            if run.execution_status(e) in ("Failed", "Stopped")
            for s, status in run.stage_statuses(e).items()
            if status in ("Failed", "Stopped")
        ]
        if retryable:
            options.append("retry")
        move = data.draw(st.sampled_from(options), label="move")
        if move == "tick":
            seconds = data.draw(st.sampled_from([0.0, 0.3, 0.6, 1.0, 2.5]))
            await run.advance(seconds)
            moves.append(f"tick {seconds}")
        elif move == "start":
            # Executions start in different seconds (condition (a)).
            await run.advance(1.0 + data.draw(st.sampled_from([0.0, 0.5])))
            moves.append(f"start {await run.start()}")
        elif move == "finish":
            job = data.draw(st.sampled_from(run.waiting_jobs()))
            succeed = data.draw(st.booleans())
            moves.append(f"finish {job.stage_name}/{job.action_name} {succeed}")
            await run.finish(job, succeed)
        elif move == "answer":
            stage_name, action, token = data.draw(st.sampled_from(run.pending_approvals()))
            approve = data.draw(st.booleans())
            moves.append(f"answer {stage_name}/{action} {approve}")
            await run.answer(stage_name, action, token, approve)
        elif move == "stop":
            execution = data.draw(st.sampled_from(active))
            abandon = data.draw(st.booleans())
            moves.append(f"stop {execution} abandon={abandon}")
            try:
                await run.stop(execution, abandon)
            except Exception as error:  # the engine may refuse (already stopping)
                moves.append(f"  refused: {error}")
        elif move == "retry":
            execution, stage_name = data.draw(st.sampled_from(retryable))
            mode = data.draw(st.sampled_from(["FAILED_ACTIONS", "ALL_ACTIONS"]))
            # A retry comes at least a second after what it retries (condition (c)).
            await run.advance(1.0 + data.draw(st.sampled_from([0.0, 0.5])))
            moves.append(f"retry {execution} {stage_name} {mode}")
            try:
                await run.retry(execution, stage_name, mode)
            except Exception as error:  # not the latest execution there, still running...
                moves.append(f"  refused: {error}")
    return GeneratedRun(declaration, run.events(), run.snapshot(), middle, moves)


def generate(engine: Engine, data: st.DataObject) -> GeneratedRun:
    declaration = data.draw(declarations(f"generated-{next(_names)}"), label="pipeline")

    async def scenario() -> GeneratedRun:
        try:
            return await _drive(engine.run, data, declaration)
        finally:
            await engine.run.retire()

    return engine.loop.run_until_complete(scenario())


# Reducing -----------------------------------------------------------------------------------
def reduce_events(events: Iterable[PipelineEvent], view: PipelineView) -> PipelineView:
    for event in events:
        view = apply_event(view, event)
    return view


def with_snapshot(view: PipelineView, snapshot: Snapshot, details: bool = False) -> PipelineView:
    return apply_snapshot(
        view,
        PipelineState.from_api(snapshot.state),
        PipelineExecutionSummary.list_from_api(snapshot.executions),
        action_executions=ActionExecutionDetail.list_from_api(snapshot.action_executions)
        if details
        else None,
    )


def truth(snapshot: Snapshot) -> dict[str, Any]:
    """What GetPipelineState and ListPipelineExecutions say, read straight from the answers."""
    stages, actions, waiting = {}, {}, {}
    for stage_state in snapshot.state["stageStates"]:
        name = stage_state["stageName"]
        latest = stage_state.get("latestExecution")
        stages[name] = (latest["pipelineExecutionId"], latest["status"]) if latest else (None, None)
        for action in stage_state["actionStates"]:
            actions[(name, action["actionName"])] = action.get("latestExecution", {}).get("status")
        inbound = list(stage_state.get("inboundExecutions", []))
        if "inboundExecution" in stage_state:
            inbound.append(stage_state["inboundExecution"])
        waiting[name] = {w["pipelineExecutionId"] for w in inbound}
    executions = {
        s["pipelineExecutionId"]: s["status"]
        for s in snapshot.executions["pipelineExecutionSummaries"]
    }
    return {"stages": stages, "actions": actions, "executions": executions, "waiting": waiting}


def shown(view: PipelineView) -> dict[str, Any]:
    return {
        "stages": {s.name: (s.execution_id, s.status) for s in view.stages},
        "actions": {(s.name, a.name): a.status for s in view.stages for a in s.actions},
        "executions": {e.execution_id: e.status for e in view.executions},
        "waiting": {s.name: {w.execution_id for w in s.inbound} for s in view.stages},
    }


def disorder(
    data: st.DataObject, events: list[PipelineEvent], *, drop: bool
) -> list[PipelineEvent]:
    """The events shuffled, some delivered more than once, and (if `drop`) some lost."""
    chosen = list(events)
    if drop and chosen:
        kept = data.draw(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
        chosen = [e for e, keep in zip(chosen, kept, strict=True) if keep]
    if chosen:
        copies = data.draw(st.lists(st.sampled_from(chosen), max_size=len(chosen)))
        chosen += copies
    return data.draw(st.permutations(chosen), label="delivery order")


def _explain(run: GeneratedRun) -> str:
    return "\n".join(run.moves)


# Properties ---------------------------------------------------------------------------------
@pytest.mark.slow
@SETTINGS
@given(data=st.data())
def test_reduced_runs_agree_with_the_engine(engine: Engine, data: st.DataObject) -> None:
    run = generate(engine, data)
    events = [parse_event(e) for e in run.events]
    fresh = with_snapshot(run.empty(), run.final)

    # 1. Whatever happened to the events, the final snapshot decides.
    delivered = disorder(data, events, drop=True)
    after = with_snapshot(reduce_events(delivered, run.empty()), run.final)
    assert after == fresh, _explain(run)
    assert shown(fresh) == truth(run.final), _explain(run)

    # 2. Order and duplication do not matter.
    in_order = reduce_events(events, run.empty())
    assert reduce_events(disorder(data, events, drop=False), run.empty()) == in_order, _explain(run)

    exact = run.mode != "PARALLEL"
    # 3. Events alone reach what GetPipelineState shows.
    if exact:
        assert shown(in_order) == truth(run.final), _explain(run)

    # 4. A snapshot mid-run, then the later events (and stale copies of earlier ones).
    if exact and run.middle is not None:
        middle = run.middle
        details = data.draw(st.booleans(), label="with action details")
        start = with_snapshot(run.empty(), middle, details)
        later = events[middle.events_before :]
        stale = data.draw(st.lists(st.sampled_from(events), max_size=8)) if events else []
        view = reduce_events(disorder(data, later, drop=False) + stale, start)
        assert shown(view) == truth(run.final), _explain(run)

    # 5. Older executions' events never change a stage showing a newer execution.
    newest = in_order.latest_execution
    if newest is not None:
        own = [e for e in events if e.detail.execution_id == newest.execution_id]
        others = [e for e in events if e.detail.execution_id != newest.execution_id]
        view = reduce_events(own, run.empty())
        held = {s.name: s for s in view.stages if s.execution_id == newest.execution_id}
        for event in data.draw(st.permutations(others)):
            view = apply_event(view, event)
            for name, before in held.items():
                now = view.stage(name)
                assert now is not None
                assert (now.execution_id, now.status) == (before.execution_id, before.status), (
                    f"{name} after {event.detail_type} {event.detail}\n{_explain(run)}"
                )


# The case a random run found --------------------------------------------------------------
def _stage(view: PipelineView, name: str) -> StageView:
    found = view.stage(name)
    assert found is not None, name
    return found


def test_a_stop_in_the_second_of_the_snapshot_is_not_applied_again(engine: Engine) -> None:
    """QUEUED, an ALL_ACTIONS retry, then a stop-and-wait in the same second as the final
    snapshot (found once by the random runs above). GetPipelineState times no stage change:
    its latest time is the retried action's start, a second before the stop; the summaries
    read with it show the stop. The stage's STOPPING, in any subset and order of the events,
    is not applied again on top of the snapshot that already shows it, and what happens a
    second later still counts."""
    declaration = pipeline(
        f"stop-in-snapshot-second-{next(_names)}",
        stage("S0", commands("A010", ["true"], run_order=10)),
        mode="QUEUED",
    )
    engine_run = engine.run

    async def until_stopping() -> tuple[str, str]:
        first = await engine_run.open(declaration)
        await engine_run.advance(0.25)
        (source,) = engine_run.waiting_jobs()
        await engine_run.finish(source, True)
        (build,) = engine_run.waiting_jobs()
        await engine_run.finish(build, False)
        await engine_run.advance(1.0)
        await engine_run.retry(first, "S0", "ALL_ACTIONS")
        await engine_run.advance(1.0)
        second = await engine_run.start()
        (source,) = [j for j in engine_run.waiting_jobs() if j.execution_id == second]
        await engine_run.finish(source, True)
        # A new second in which nothing changes but the stop (GetPipelineState times none).
        await engine_run.advance(1.3)
        await engine_run.stop(first, False)
        return first, second

    async def a_second_later(first: str) -> None:
        await engine_run.advance(1.0)
        (build,) = [j for j in engine_run.waiting_jobs() if j.execution_id == first]
        await engine_run.finish(build, True)

    try:
        first, second = engine.loop.run_until_complete(until_stopping())
        run = GeneratedRun(declaration, engine_run.events(), engine_run.snapshot(), None)
        events = [parse_event(e) for e in run.events]
        fresh = with_snapshot(run.empty(), run.final)
        assert shown(fresh) == truth(run.final)
        s0 = _stage(fresh, "S0")
        assert (s0.execution_id, s0.status) == (first, "Stopping")
        assert [w.execution_id for w in s0.inbound] == [second]
        stopping = [e for e in events if e.detail.state == "STOPPING"]
        assert len(stopping) == 2
        assert {e.second for e in stopping} == {int(run.final.taken_at)}
        for count in range(len(events) + 1):
            for delivered in (events[:count], events[count:], events[count::-1]):
                after = with_snapshot(reduce_events(delivered, run.empty()), run.final)
                assert after == fresh, count
        assert reduce_events(events, fresh) == fresh

        # A second later the build finishes: the stage stops and the queue moves on.
        engine.loop.run_until_complete(a_second_later(first))
        newer = [parse_event(e) for e in engine_run.events()[len(run.events) :]]
        assert {e.detail.state for e in newer if e.detail.execution_id == first} >= {"STOPPED"}
        caught_up = reduce_events(newer, fresh)
        assert shown(caught_up) == truth(engine_run.snapshot())
        assert _stage(caught_up, "S0").status != "Stopping"
    finally:
        engine.loop.run_until_complete(engine_run.retire())
