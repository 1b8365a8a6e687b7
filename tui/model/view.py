"""The view model: what the screens draw, and the pure reducer that keeps it current.

A `PipelineView` is derived from its *ledger* (`tui.model.ledger`): the latest
GetPipelineState snapshot, the latest ListPipelineExecutions summaries, the declaration and
ListPipelines summary if known, and the EventBridge events that may be newer than those. The
reducer only changes the ledger and derives the view again (`tui.model.projection`); it does
no I/O and never reads a clock. Deriving costs in proportion to the records changed since the
last snapshot, not to the events; events are held until the next snapshot makes them old
(`pending_events` says how many), so a client should take one every few minutes even when
its event feed works.

- `apply_snapshot(view, state, executions=None, *, action_executions=None, observed_at=None)`:
  a snapshot replaces what the view showed. Events that may be newer than it are kept and
  applied on top of it (rules below); the rest are dropped.
- `apply_executions(view, summaries)`: ListPipelineExecutions alone (the history screen).
- `apply_event(view, event)`: an event applies, at least once, in any order.
- `apply_declaration(view, declaration)`, `apply_pipeline_summary(view, summary)`: the
  structure (stage and action order, action types, approval timeouts) and ListPipelines data.
- `WorkspaceView` holds every pipeline with counts by status and routes the same operations.

## Terms

- *second* `T`: an event's `time`, whole seconds; the change happened in `[T, T+1)`.
- *record*: one thing with a status: an execution (pipeline-level events, a summary), a stage
  in one execution (stage events, a stage's `latestExecution`), an action in one execution
  with all its attempts (action events, an action's `latestExecution`).
- *baseline* of a record: what the latest snapshot (stages, actions) or summaries
  (executions) say of it, with `L`, the time it last changed: an action's `lastStatusChange`;
  an execution's `lastUpdateTime`; for a stage, the snapshot time `S`. An execution the
  summaries do not list (it started after they were read) but the snapshot shows ended (a
  stage of it Failed, Stopped or Cancelled, or the last stage Succeeded) has that end as its
  baseline, at `S`: its late STARTED never reopens it.
- *snapshot time* `S`: the latest timestamp in the GetPipelineState answer (created, updated,
  transitions' `lastChangedAt`, actions' `lastStatusChange`), in the summaries passed with it,
  or `observed_at`, whichever is latest. Every change at or before `S` is in the snapshot.
  [I] The summaries count because they are read just before the state: GetPipelineState
  times no stage change, so after a stop (STOPPING) or a retry its own latest time can lag
  a change it already shows by seconds, and the events of that change, taken as newer, were
  counted a second time on top of it (a stop-and-wait in the second of the snapshot changed
  the stopping stage). `observed_at` must be on the server's clock (event times are) and no
  later than the moment the state was read: the time the request was sent, or nothing. The
  summaries have their own time `S_x`, the latest `startTime`/`lastUpdateTime` among all
  summaries held.

## Rules (what "older" means)

1. Duplicates: an event counts once, by `event_key` (envelope id).
2. Older than the snapshot: an event of a record the snapshot does not show counts only if
   its second may overlap or follow the snapshot, `T + 1 > S` (`S_x` for pipeline-level
   events). An earlier one already happened when the snapshot was read.
3. Not newer than a baseline: an event of a record the snapshot shows counts only if its
   second is strictly after the baseline's last change, `T > L`. An event in the same second
   as `L` may be the change the snapshot already shows: the snapshot wins when in doubt, and
   the next event or snapshot shows anything that was lost that way.
4. Attempts are counted, not timed: STARTED and RESUMED open an attempt, the terminal states
   close one, STOPPING marks the open attempt as stopping (until a STOPPED closes it). A
   record with more opens than closes is running (`InProgress`, or `Stopping` when it has more
   STOPPING than STOPPED); otherwise its status is the close with the greatest
   `(second, rank)`, ranks breaking ties within one second by how final a state is:
   action CANCELED < ABANDONED < FAILED < SUCCEEDED; stage STOPPED < FAILED < CANCELED <
   SUCCEEDED; pipeline STOPPED < FAILED < CANCELED < SUPERSEDED < SUCCEEDED. A baseline that is
   running counts as one open. So a later STARTED of an action after its FAILED is a new
   attempt even within one second, and an older attempt's FAILED never hides a newer
   attempt's STARTED (it is one more close, not a later state).
5. Execution age: executions are ordered by start: the summary's `startTime`, else the
   pipeline STARTED event's second (+0.999999: an execution missing from the summaries
   started after they were listed), else (its STARTED not seen yet, or known only from a
   snapshot without summaries) the oldest, so it takes no stage from an execution known to
   have started; ties by execution id.
6. A stage shows the newest execution that entered it: its snapshot execution, or any
   execution with counted stage or action events there, of which (when there is a snapshot)
   one is certainly later than it (`T > S`): events that may predate a snapshot never change
   which execution it shows. Events of an older execution never change what the stage shows
   (they still update that execution's own records).
7. An action shows its run in the newest execution that ran it, chosen as in rule 6 (so
   while a newer execution has not reached an action yet, the action keeps showing the
   previous run, as GetPipelineState does). The snapshot's run of an action belongs to the
   execution ListActionExecutions names for its `actionExecutionId` when `action_executions`
   are given, else to the stage's `latestExecution`.
8. A later snapshot wins: `apply_snapshot` with a snapshot time earlier than the current
   one is ignored; otherwise it replaces the baseline and events are re-judged against it.

Every record's status is a function of the *set* of counted events and the baseline, so any
order and any duplication of the same events give the same view.

## When events reach what GetPipelineState shows

Applying every event (none dropped; any order, any duplication) with no snapshot after them
gives exactly the statuses and execution ids a fresh GetPipelineState (and
ListPipelineExecutions) shows, for every stage, action and execution and for who waits in
front of which stage, when:
(a) no two executions of a pipeline start in the same second (else rule 5 falls back on ids);
(b) executions enter each stage in the order they started (SUPERSEDED and QUEUED modes; in
PARALLEL mode a later execution may overtake an earlier one, and rule 6 then shows the newer
execution where GetPipelineState shows the last to enter);
(c) no record closes twice in one second against the rank order of rule 4 (e.g. an action
that succeeds and, after an ALL_ACTIONS retry, fails again within the same second);
(d) every STOPPING is followed by a STOPPED in the same attempt, and no stage ends `Skipped`
(AWS sends no event for it).
A snapshot followed by every later event reaches the same when, in addition, (e) the later
events fall in seconds after the snapshot's `S` (rule 3 sets aside those in its own second)
and (f) the snapshot's run of each action belongs to the execution rule 7 gives it (always so
with `action_executions`; without them, a running action of an older execution in PARALLEL
mode is taken for the stage's). Otherwise the view still converges, to an answer that does
not depend on the order, and the next snapshot sets it right.

Structure (stage and action order) comes from a snapshot or the declaration; stages and
actions seen only in events are appended by first second, then name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tui.model.declaration import PipelineDeclaration
from tui.model.events import PipelineEvent
from tui.model.ledger import Ledger, stamp
from tui.model.projection import (
    ActionView,
    ArtifactView,
    ExecutionView,
    InboundExecutionView,
    PipelineStatus,
    StageView,
    TransitionView,
    project,
)
from tui.model.state import (
    ActionExecutionDetail,
    PipelineExecutionSummary,
    PipelineState,
    PipelineSummary,
    SourceRevision,
)

__all__ = [
    "ActionView",
    "ArtifactView",
    "ExecutionView",
    "InboundExecutionView",
    "PipelineStatus",
    "PipelineView",
    "StageView",
    "TransitionView",
    "WorkspaceView",
    "apply_declaration",
    "apply_event",
    "apply_executions",
    "apply_pipeline_summary",
    "apply_snapshot",
]


@dataclass(frozen=True, slots=True)
class PipelineView:
    """One pipeline as the screens draw it. `==` compares what is drawn (not the ledger)."""

    name: str
    status: PipelineStatus = "Idle"
    version: int | None = None
    pipeline_type: str | None = None
    execution_mode: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    stages: tuple[StageView, ...] = ()
    # Newest first (rule 5).
    executions: tuple[ExecutionView, ...] = ()
    snapshot_time: datetime | None = None
    # Events showed something only a snapshot or the summaries can complete (an approval
    # without its token, a newer pipeline version, an execution the summaries do not list).
    wants_snapshot: bool = field(default=False, compare=False)
    # Events held because they may be newer than the snapshot (they go with the next one).
    pending_events: int = field(default=0, compare=False)
    ledger: Ledger = field(default_factory=lambda: Ledger(""), compare=False, repr=False)

    @classmethod
    def empty(cls, name: str) -> PipelineView:
        return _view(Ledger(name))

    @property
    def latest_execution(self) -> ExecutionView | None:
        return self.executions[0] if self.executions else None

    @property
    def source_revisions(self) -> tuple[SourceRevision, ...]:
        """What the latest execution runs on (one revision per source action)."""
        latest = self.latest_execution
        return latest.source_revisions if latest is not None else ()

    @property
    def execution_ids_by_stage(self) -> dict[str, str | None]:
        return {stage.name: stage.execution_id for stage in self.stages}

    def stage(self, name: str) -> StageView | None:
        return next((s for s in self.stages if s.name == name), None)

    def execution(self, execution_id: str) -> ExecutionView | None:
        return next((e for e in self.executions if e.execution_id == execution_id), None)


def _view(ledger: Ledger) -> PipelineView:
    projection = project(ledger)
    snapshot, summary, declaration = ledger.snapshot, ledger.summary, ledger.declaration
    versions = [
        v
        for v in (
            snapshot.pipeline_version if snapshot else None,
            summary.version if summary else None,
            declaration.version if declaration else None,
        )
        if v is not None
    ]
    return PipelineView(
        name=ledger.name,
        status=projection.status,
        version=max(versions, default=None),
        pipeline_type=(summary.pipeline_type if summary else None)
        or (declaration.pipeline_type if declaration else None),
        execution_mode=projection.execution_mode,
        created=(snapshot.created if snapshot else None) or (summary.created if summary else None),
        updated=(snapshot.updated if snapshot else None) or (summary.updated if summary else None),
        stages=projection.stages,
        executions=projection.executions,
        snapshot_time=stamp(ledger.snapshot_time),
        wants_snapshot=projection.wants_snapshot,
        pending_events=len(ledger.events),
        ledger=ledger,
    )


def _check(view: PipelineView, name: str, what: str) -> None:
    if name != view.name:
        raise ValueError(f"{what} of pipeline {name!r} applied to the view of {view.name!r}")


def apply_snapshot(
    view: PipelineView,
    pipeline_state: PipelineState,
    executions: Sequence[PipelineExecutionSummary] | None = None,
    *,
    action_executions: Sequence[ActionExecutionDetail] | None = None,
    observed_at: datetime | None = None,
) -> PipelineView:
    """A GetPipelineState snapshot replaces what the view shows (rule 8).

    Pass the ListPipelineExecutions summaries read just before it (execution statuses, ages,
    triggers, revisions) and, if at hand, ListActionExecutions details of the runs it shows
    (which execution each action's run belongs to, start times, artifacts). Summaries read
    after the state must not be passed: their latest time is taken as a moment the state
    already shows (`S`). A snapshot older than the one the view has is ignored.
    """
    _check(view, pipeline_state.pipeline_name, "a snapshot")
    ledger = view.ledger.with_snapshot(pipeline_state, executions, action_executions, observed_at)
    return view if ledger is None else _view(ledger)


def apply_executions(
    view: PipelineView, executions: Sequence[PipelineExecutionSummary]
) -> PipelineView:
    """ListPipelineExecutions summaries replace what the view knew of those executions."""
    return _view(view.ledger.with_executions(executions))


def apply_event(view: PipelineView, event: PipelineEvent) -> PipelineView:
    """An EventBridge event applies; a duplicate or one older than the snapshot changes
    nothing (the same view object comes back)."""
    _check(view, event.detail.pipeline, "an event")
    ledger = view.ledger.with_event(event)
    return view if ledger is None else _view(ledger)


def apply_declaration(view: PipelineView, declaration: PipelineDeclaration) -> PipelineView:
    """The declaration (GetPipeline): stage and action order, action types, approval timeouts."""
    _check(view, declaration.name, "a declaration")
    return _view(view.ledger.with_declaration(declaration))


def apply_pipeline_summary(view: PipelineView, summary: PipelineSummary) -> PipelineView:
    """A ListPipelines item: version, type, execution mode, created and updated."""
    _check(view, summary.name, "a pipeline summary")
    return _view(view.ledger.with_summary(summary))


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    """Every pipeline the workspace shows (by name) and how many are in each state."""

    pipelines: Mapping[str, PipelineView] = field(default_factory=dict)
    counts: Mapping[PipelineStatus, int] = field(default_factory=dict)

    @classmethod
    def of(cls, views: Iterable[PipelineView]) -> WorkspaceView:
        ordered = {view.name: view for view in sorted(views, key=lambda v: v.name)}
        counts: dict[PipelineStatus, int] = {}
        for view in ordered.values():
            counts[view.status] = counts.get(view.status, 0) + 1
        return cls(pipelines=ordered, counts=counts)

    @property
    def running(self) -> int:
        """InProgress and Stopping pipelines (awaiting approval is counted on its own)."""
        return self.counts.get("InProgress", 0) + self.counts.get("Stopping", 0)

    @property
    def failed(self) -> int:
        return self.counts.get("Failed", 0)

    @property
    def awaiting_approval(self) -> int:
        return self.counts.get("AwaitingApproval", 0)

    def pipeline(self, name: str) -> PipelineView | None:
        return self.pipelines.get(name)

    def _get(self, name: str) -> PipelineView:
        view = self.pipelines.get(name)
        return view if view is not None else PipelineView.empty(name)

    def with_view(self, view: PipelineView) -> WorkspaceView:
        if self.pipelines.get(view.name) is view:
            return self
        return WorkspaceView.of({**self.pipelines, view.name: view}.values())

    def with_pipelines(self, summaries: Sequence[PipelineSummary]) -> WorkspaceView:
        """All pages of ListPipelines: listed pipelines are kept or added, the rest dropped."""
        return WorkspaceView.of(apply_pipeline_summary(self._get(s.name), s) for s in summaries)

    def with_snapshot(
        self,
        pipeline_state: PipelineState,
        executions: Sequence[PipelineExecutionSummary] | None = None,
        *,
        action_executions: Sequence[ActionExecutionDetail] | None = None,
        observed_at: datetime | None = None,
    ) -> WorkspaceView:
        view = self._get(pipeline_state.pipeline_name)
        return self.with_view(
            apply_snapshot(
                view,
                pipeline_state,
                executions,
                action_executions=action_executions,
                observed_at=observed_at,
            )
        )

    def with_executions(
        self, name: str, executions: Sequence[PipelineExecutionSummary]
    ) -> WorkspaceView:
        return self.with_view(apply_executions(self._get(name), executions))

    def with_event(self, event: PipelineEvent) -> WorkspaceView:
        """An event of any pipeline (one not yet listed is added)."""
        return self.with_view(apply_event(self._get(event.detail.pipeline), event))

    def with_declaration(self, declaration: PipelineDeclaration) -> WorkspaceView:
        return self.with_view(apply_declaration(self._get(declaration.name), declaration))
