"""The Watcher: the one object the app talks to for live pipeline data.

    watcher = Watcher(ConnectionSettings(region="eu-west-1"), on_change=redraw, on_status=show)
    task = asyncio.create_task(watcher.run())      # in a Textual worker
    watcher.set_visible("web-app")                  # the pipeline on screen is kept fresher
    runs = await watcher.action_executions("web-app", execution_id)
    await watcher.close()

It owns the connection (`AwsContext`), the CodePipeline client, the reconcile scheduler and the
event feed, and keeps the `WorkspaceView` (every pipeline, reduced from snapshots and events).
Changes are reported through two callbacks, called on the event loop that runs `run()`:
`on_change(names)` with the pipelines whose view changed, and `on_status(WatchStatus)` when
the connection's status changed (account, region, endpoint, feed mode, last update, problem).

How the data flows:

- ListPipelines at start and every `list_interval` seconds (and at once when an event names a
  pipeline the list lacks): the workspace follows it, new pipelines are fetched at once.
- The scheduler decides when each pipeline is read (see `reconcile.py`). One read is
  ListPipelineExecutions (the newest `EXECUTIONS_PER_READ`, one page) and then
  GetPipelineState, applied together with the reducer's `apply_snapshot` (summaries first: the
  reducer wants them read just before the state). For the visible pipeline, also the action
  runs of the executions its stages show (ListActionExecutions: start times; runs of a
  finished execution are read once), and its declaration (GetPipeline: providers, runOrder,
  approval timeouts) when unknown or when the state shows a newer pipeline version.
- The event feed (SQS long poll, `feed.py`) runs when a queue is configured, or on the local
  endpoint when the demo's queue exists: each event goes through `apply_event` at once and
  asks the scheduler for a debounced snapshot of its pipeline (`notify_event`). The feed's
  status switches the scheduler between live (round robin) and polling.

Decisions recorded here:

- aiobotocore is never imported by this module: `AwsContext` imports it on the first call,
  which `run()` makes, so the app's first frame paints before it (the app starts `run()`
  after its first refresh).
- [I] `EXECUTIONS_PER_READ` is 10 for every pipeline, not 1: the reducer merges summaries, so
  an execution that finished while newer ones started must still be listed to be seen
  finished; 10 is one page, the same one request as 1.
- [I] The account is STS GetCallerIdentity's on AWS. The local endpoint serves no STS: there
  it is the account in a pipeline's ARN (GetPipeline's `metadata.pipelineArn`) or in an
  event's envelope, whichever comes first.
- [I] Data is "stale" from the first failed read after a successful one until the next
  successful read; `stale_since` is the time of the last successful update (what the screen
  shows is from then), or of the first failure when nothing was ever read.
- [I] Data is also stale when nothing new arrived for `WatchStatus.stale_after` seconds
  although no read failed (a hanging endpoint): twice the poll interval, or twice the list
  interval while there is no pipeline to read. The status bar judges that on its own clock.
- Every CodePipeline request goes through the watcher's `RateBudget` (one per watcher, so one
  per connection); its throttled state and reduced rate are in the status.
- [I] `budget=None` (the user set no `[budget]`) means the connection's default
  (`budget.default_budget`): before its first request the watcher asks whether the endpoint
  is the local pipetop endpoint (`AwsContext.is_local()`: loopback and answering
  `/_local/health`, one local request) and lifts the budget there; anywhere else, a loopback
  proxy to AWS included, the AWS budget holds. A budget given explicitly is never changed.
- Every failure becomes a `ClientProblem` in the status (never an exception out of `run()`);
  the app decides how to show it. `run()` returns after `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from tui.aws.budget import BudgetSettings, BudgetState, RateBudget, default_budget
from tui.aws.errors import ClientProblem, NotFound, Throttled
from tui.aws.feed import EventFeed, FeedMode, FeedStatus, QueueRef, choose_queue
from tui.aws.pipelines import PipelineClient
from tui.aws.reconcile import ReconcileScheduler, ReconcileSettings
from tui.aws.session import AwsContext, ConnectionSettings
from tui.model.declaration import PipelineDeclaration, parse_pipeline
from tui.model.events import PipelineEvent
from tui.model.state import (
    ActionExecutionDetail,
    PipelineExecutionSummary,
    PipelineState,
    PipelineSummary,
)
from tui.model.view import WorkspaceView

log = logging.getLogger(__name__)

EXECUTIONS_PER_READ = 10
LIST_BACKOFF = (2.0, 5.0, 10.0, 30.0, 60.0)
RUNNING = frozenset({"InProgress", "Stopping"})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WatchStatus:
    """What the status bar shows about the connection and the freshness of the data."""

    account: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    is_local: bool = False
    read_only: bool = False
    feed_mode: FeedMode = FeedMode.CONNECTING
    feed_text: str = "connecting"
    last_update: datetime | None = None
    """When data last arrived (a read or an event), on this machine's clock."""
    problem: ClientProblem | None = None
    """The latest problem, until a read succeeds again (feed problems until the feed
    recovers)."""
    stale_since: datetime | None = None
    """Set while reads fail: the data on screen is from then."""
    pipelines_listed: bool = False
    """ListPipelines has answered at least once (before that an empty list means "loading")."""
    stale_after: float | None = None
    """Seconds after `last_update` with no new data at which what the screen shows is stale
    even though no read failed (reads hang, or nothing is read): twice the interval in which
    some read should have succeeded."""
    throttled: bool = False
    """AWS throttled a CodePipeline request: pipetop runs below its rate budget for now."""
    request_rate: float | None = None
    """While throttled: the requests a second the budget allows now."""
    events_malformed: int = 0
    """Event messages that did not parse (skipped and deleted, see `feed.py`)."""


@dataclass(frozen=True)
class Snapshot:
    """One read of one pipeline, as the scheduler hands it from fetch to apply."""

    state: PipelineState
    executions: tuple[PipelineExecutionSummary, ...]
    declaration: PipelineDeclaration | None = None
    action_executions: tuple[ActionExecutionDetail, ...] | None = None
    """For the visible pipeline: the runs of the executions its stages show."""


def snapshot_is_active(snapshot: Snapshot) -> bool:
    """Whether something in the pipeline runs (the scheduler reads it faster then)."""
    for stage in snapshot.state.stage_states:
        latest = stage.latest_execution
        if latest is not None and latest.status in RUNNING:
            return True
        for action in stage.action_states:
            run = action.latest_execution
            if run is not None and run.status == "InProgress":
                return True
    return False


class Watcher:
    """Live data for the app: the workspace, kept fresh (see the module docstring)."""

    def __init__(
        self,
        connection: ConnectionSettings | None = None,
        *,
        events_queue: str | None = None,
        read_only: bool = False,
        reconcile: ReconcileSettings | None = None,
        budget: BudgetSettings | None = None,
        list_interval: float = 60.0,
        now: Callable[[], datetime] = utc_now,
        on_change: Callable[[frozenset[str]], None] | None = None,
        on_status: Callable[[WatchStatus], None] | None = None,
    ) -> None:
        self.aws = AwsContext(connection)
        self.budget = RateBudget(
            budget or default_budget(local=False), on_change=self._budget_changed
        )
        """The connection's CodePipeline request budget (`budget.py`): one per watcher."""
        self._budget_chosen = budget is not None
        self.client = PipelineClient(self.aws, read_only=read_only, budget=self.budget)
        """CodePipeline reads and control calls (approve, stop, retry, ...) for the screens."""
        self.events_queue = events_queue
        self.list_interval = list_interval
        self.now = now
        self.on_change = on_change
        self.on_status = on_status
        self.reconcile_settings = reconcile or ReconcileSettings()
        self.scheduler: ReconcileScheduler[Snapshot] = ReconcileScheduler(
            self._fetch,
            self._apply,
            settings=self.reconcile_settings,
            on_error=self._fetch_failed,
            is_active=snapshot_is_active,
            # Every request passes `self.budget`, which backs off on throttling itself.
            pause_on_throttle=False,
        )
        self.workspace = WorkspaceView()
        self.status = WatchStatus(
            endpoint_url=self.aws.settings.endpoint_url,
            read_only=read_only,
            stale_after=2 * self.reconcile_settings.poll_interval,
        )
        self.state_reads: Counter[str] = Counter()
        """GetPipelineState calls made, by pipeline."""
        self.events_applied = 0
        self.feed: EventFeed | None = None
        self._visible: str | None = None
        self._declarations: dict[str, PipelineDeclaration] = {}
        self._unreadable: dict[str, int] = {}
        """Pipelines whose declaration did not parse, with the version it was read at: read
        again only for a newer version, since the same one never parses."""
        self._finished_runs: dict[str, tuple[ActionExecutionDetail, ...]] = {}
        self._last_success: datetime | None = None
        self._list_now = asyncio.Event()
        self._closed = asyncio.Event()
        self._identified = False
        self._tasks: list[asyncio.Task[Any]] = []

    # What the app tells the watcher --------------------------------------------------------

    @property
    def visible(self) -> str | None:
        return self._visible

    def set_visible(self, name: str | None) -> None:
        """The pipeline on screen (None: the list): read more often, with its declaration."""
        self._visible = name
        self.scheduler.set_visible(name)
        if name is not None and name not in self._declarations:
            self.scheduler.refresh(name)

    def set_on_screen(self, names: Iterable[str]) -> None:
        """The pipelines whose rows the list shows, top first: read before the others that
        are due for the same reason (the first fill fills the screen first)."""
        self.scheduler.set_on_screen(names)

    def refresh(self, name: str | None = None) -> None:
        """Read `name` now (None: the list of pipelines)."""
        if name is None:
            self._list_now.set()
        else:
            self.scheduler.refresh(name)

    # On-demand reads for the screens ---------------------------------------------------------

    async def executions(
        self, name: str, *, max_items: int | None = 50
    ) -> tuple[PipelineExecutionSummary, ...]:
        """The newest executions of a pipeline (they also refresh the workspace)."""
        raw = await self.client.list_pipeline_executions(name, max_items=max_items)
        summaries = PipelineExecutionSummary.list_from_api({"pipelineExecutionSummaries": raw})
        self._update(self.workspace.with_executions(name, summaries), {name})
        return summaries

    async def action_executions(
        self, name: str, execution_id: str
    ) -> tuple[ActionExecutionDetail, ...]:
        """Every action run of one execution (retries included), newest first."""
        raw = await self.client.list_action_executions(name, execution_id=execution_id)
        return ActionExecutionDetail.list_from_api({"actionExecutionDetails": raw})

    async def declaration(self, name: str) -> PipelineDeclaration:
        """The pipeline's declaration (GetPipeline); also applied to the workspace."""
        response = await self.client.get_pipeline(name)
        declaration = parse_pipeline(response.get("pipeline"))
        self._declarations[name] = declaration
        self._learn_account((response.get("metadata") or {}).get("pipelineArn"))
        self._update(self.workspace.with_declaration(declaration), {name})
        return declaration

    # The loops -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the workspace fresh until `close()`; problems go to the status, not out."""
        scheduler = asyncio.ensure_future(self.scheduler.run())
        self._tasks.append(scheduler)
        try:
            await self._list_loop()
        finally:
            self.scheduler.close()
            if self.feed is not None:
                await self.feed.close()
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.aws.close()

    async def close(self) -> None:
        """Stop reading; `run()` returns once the loops have ended."""
        self._closed.set()

    async def _choose_budget(self) -> None:
        """The connection's default budget, once its endpoint is known (module docstring)."""
        if self._budget_chosen:
            return
        try:
            local = await self.aws.is_local()
        except Exception as exc:
            # The list call that follows meets the same problem and reports it; try again then.
            log.debug("could not tell whether the endpoint is local: %s", exc)
            return
        self._budget_chosen = True
        if local:
            self.budget.configure(default_budget(local=True))

    async def _list_loop(self) -> None:
        failures = 0
        while not self._closed.is_set():
            delay = self.list_interval
            try:
                await self._choose_budget()
                await self._list_pipelines()
                failures = 0
                if not self._identified:
                    self._identified = True
                    await self._identify()
                    await self._start_feed()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The region is known once the session opened, even if the call failed.
                self._set_status(region=self.aws.region)
                self._failed(self.aws.describe(exc))
                problem = self.status.problem
                delay = LIST_BACKOFF[min(failures, len(LIST_BACKOFF) - 1)]
                if isinstance(problem, Throttled):
                    delay = max(delay, problem.retry_after)
                failures += 1
            await self._wait_list(delay)

    async def _wait_list(self, delay: float) -> None:
        self._list_now.clear()
        waits = [
            asyncio.ensure_future(self._list_now.wait()),
            asyncio.ensure_future(self._closed.wait()),
        ]
        try:
            await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()

    async def _list_pipelines(self) -> None:
        raw = await self.client.list_pipelines()
        summaries = PipelineSummary.list_from_api({"pipelines": raw})
        before = set(self.workspace.pipelines)
        workspace = self.workspace.with_pipelines(summaries)
        self.scheduler.set_pipelines(s.name for s in summaries)
        first_answer = not self.status.pipelines_listed
        self._succeeded()
        # With no pipeline to read, only the list says the connection still works.
        interval = self.reconcile_settings.poll_interval if summaries else self.list_interval
        self._set_status(pipelines_listed=True, stale_after=2 * interval)
        self._update(workspace, set(workspace.pipelines) | before, force=first_answer)

    async def _identify(self) -> None:
        """Endpoint, region, local or not, and the account (see the module docstring)."""
        try:
            url = await self.aws.endpoint_url("codepipeline")
            local = await self.aws.is_local()
        except Exception as exc:
            self._failed(self.aws.describe(exc))
            return
        self._set_status(endpoint_url=url, region=self.aws.region, is_local=local)
        if not local:
            try:
                sts = await self.aws.client("sts")
                identity = await sts.get_caller_identity()
                self._set_status(account=str(identity["Account"]))
            except Exception as exc:
                # Whatever stops STS stops the reads too, and they report it.
                log.debug("GetCallerIdentity failed: %s", exc)
        elif self.workspace.pipelines:
            first = next(iter(self.workspace.pipelines))
            with contextlib.suppress(Exception):
                await self.declaration(first)

    async def _start_feed(self) -> None:
        queue = await self._events_queue()
        self.feed = EventFeed(
            self.aws,
            queue,
            on_events=self._on_events,
            on_status=self._on_feed_status,
            poll_interval=self.reconcile_settings.poll_interval,
        )
        self._on_feed_status(self.feed.status)
        self._tasks.append(asyncio.ensure_future(self.feed.run()))

    async def _events_queue(self) -> QueueRef | None:
        """The configured queue; on the local endpoint without one, the demo's queue if it
        exists ([I] a local endpoint without it polls quietly instead of showing a degraded
        feed); else none (polling)."""
        queue = choose_queue(url=self.events_queue, name=None, local=self.status.is_local)
        if self.events_queue or queue is None or queue.name is None:
            return queue
        try:
            sqs = await self.aws.client("sqs")
            answer = await sqs.get_queue_url(QueueName=queue.name)
        except Exception:
            return None
        return QueueRef(url=str(answer["QueueUrl"]))

    # Scheduler callbacks -------------------------------------------------------------------

    async def _fetch(self, name: str) -> Snapshot:
        raw_executions = await self.client.list_pipeline_executions(
            name, max_items=EXECUTIONS_PER_READ
        )
        raw_state = await self.client.get_pipeline_state(name)
        self.state_reads[name] += 1
        state = PipelineState.from_api(raw_state)
        executions = PipelineExecutionSummary.list_from_api(
            {"pipelineExecutionSummaries": raw_executions}
        )
        declaration = None
        details: tuple[ActionExecutionDetail, ...] | None = None
        version = state.pipeline_version or 0
        known = self._declarations.get(name)
        held = known.version if known is not None else self._unreadable.get(name)
        if held is None or version > held:
            if name == self._visible:
                declaration = await self._read_declaration(name, version)
            elif self._approval_unrecognized(name, state):
                declaration = await self._declaration_if_readable(name, version)
        if name == self._visible:
            details = await self._shown_runs(name, state, executions)
        return Snapshot(state, executions, declaration, details)

    def _approval_unrecognized(self, name: str, state: PipelineState) -> bool:
        """Whether a running action of a PARALLEL pipeline may be an approval nobody can
        see: that mode's state carries no approval token, and without the declaration (or
        an event, which names the category) an approval looks like any running action, so
        the approvals view and the count would miss it. [I] The declaration is then read
        once per pipeline version (not for other modes: their approvals carry a token)."""
        view = self.workspace.pipeline(name)
        if view is None or view.execution_mode != "PARALLEL":
            return False
        kinds = {
            (stage.name, action.name): action.category
            for stage in view.stages
            for action in stage.actions
        }
        return any(
            action.latest_execution is not None
            and action.latest_execution.status == "InProgress"
            and kinds.get((stage.stage_name, action.action_name)) is None
            for stage in state.stage_states
            for action in stage.action_states
        )

    async def _shown_runs(
        self,
        name: str,
        state: PipelineState,
        executions: Sequence[PipelineExecutionSummary],
    ) -> tuple[ActionExecutionDetail, ...]:
        """The action runs of every execution the stages show (ListActionExecutions): their
        start times and execution ids, which GetPipelineState lacks. Runs of a finished
        execution never change, so they are read once."""
        finished = {
            summary.pipeline_execution_id
            for summary in executions
            if summary.status is not None and summary.status not in RUNNING
        }
        shown = dict.fromkeys(
            stage.latest_execution.pipeline_execution_id
            for stage in state.stage_states
            if stage.latest_execution is not None
        )
        details: list[ActionExecutionDetail] = []
        for execution_id in shown:
            runs = self._finished_runs.get(execution_id)
            if runs is None:
                runs = await self.action_executions(name, execution_id)
                if execution_id in finished:
                    self._finished_runs[execution_id] = runs
            details.extend(runs)
        return tuple(details)

    async def _declaration_if_readable(self, name: str, version: int) -> PipelineDeclaration | None:
        """The declaration read only to recognise approvals (`_approval_unrecognized`): a
        refusal (a policy without `codepipeline:GetPipeline`, say) must not cost the list
        the pipeline's state, so it is logged and not asked again for this version."""
        try:
            return await self._read_declaration(name, version)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("declaration of %s not read: %s", name, exc)
            self._unreadable[name] = version
            return None

    async def _read_declaration(self, name: str, version: int) -> PipelineDeclaration | None:
        """GetPipeline for a state at `version`; None when the declaration does not parse."""
        response = await self.client.get_pipeline(name)
        self._learn_account((response.get("metadata") or {}).get("pipelineArn"))
        try:
            declaration = parse_pipeline(response.get("pipeline"))
        except Exception as exc:
            # A declaration our model cannot read still leaves the state to show.
            log.warning("declaration of %s not understood: %s", name, exc)
            self._unreadable[name] = version
            return None
        self._unreadable.pop(name, None)
        self._declarations[name] = declaration
        return declaration

    def _apply(self, name: str, snapshot: Snapshot) -> None:
        workspace = self.workspace.with_snapshot(
            snapshot.state, snapshot.executions, action_executions=snapshot.action_executions
        )
        if snapshot.declaration is not None:
            workspace = workspace.with_declaration(snapshot.declaration)
        self._succeeded()
        self._update(workspace, {name})

    def _fetch_failed(self, name: str, exc: BaseException) -> None:
        problem = self.aws.describe(exc)
        self._failed(problem)
        if isinstance(problem, NotFound) and problem.code == "PipelineNotFoundException":
            # Deleted meanwhile: the list drops it.
            self._list_now.set()

    # Feed callbacks ------------------------------------------------------------------------

    def _on_events(self, events: list[PipelineEvent]) -> None:
        workspace = self.workspace
        names: set[str] = set()
        unknown = False
        for event in events:
            name = event.detail.pipeline
            unknown = unknown or name not in workspace.pipelines
            workspace = workspace.with_event(event)
            names.add(name)
            self.scheduler.notify_event(name)
            if self.status.account is None and event.account:
                self._set_status(account=event.account)
        self.events_applied += len(events)
        if unknown:
            self._list_now.set()
        self._set_status(last_update=self.now())
        self._update(workspace, names)

    def _on_feed_status(self, status: FeedStatus) -> None:
        self.scheduler.set_live(status.live)
        changes: dict[str, Any] = {
            "feed_mode": status.mode,
            "feed_text": status.text,
            "events_malformed": status.malformed,
        }
        if status.problem is not None:
            changes["problem"] = status.problem
        self._set_status(**changes)

    def _budget_changed(self, state: BudgetState) -> None:
        self._set_status(
            throttled=state.throttled, request_rate=state.rate if state.throttled else None
        )

    # Status and changes ----------------------------------------------------------------------

    def _learn_account(self, arn: object) -> None:
        if self.status.account is None and isinstance(arn, str):
            parts = arn.split(":")
            if len(parts) > 4 and parts[4]:
                self._set_status(account=parts[4])

    def _succeeded(self) -> None:
        now = self.now()
        self._last_success = now
        changes: dict[str, Any] = {"last_update": now, "stale_since": None}
        feed_problem = self.feed is not None and self.feed.status.problem is not None
        if not feed_problem:
            changes["problem"] = None
        self._set_status(**changes)

    def _failed(self, problem: ClientProblem) -> None:
        stale = self.status.stale_since or self._last_success or self.now()
        self._set_status(problem=problem, stale_since=stale)

    def _set_status(self, **changes: Any) -> None:
        status = replace(self.status, **changes)
        if status != self.status:
            self.status = status
            if self.on_status is not None:
                self.on_status(status)

    def _update(self, workspace: WorkspaceView, names: Iterable[str], force: bool = False) -> None:
        """Take `workspace`; report those of `names` whose view changed (all of them on
        `force`, e.g. the first list, which may be empty)."""
        before = self.workspace
        changed = frozenset(n for n in names if workspace.pipeline(n) != before.pipeline(n))
        self.workspace = workspace
        if (changed or force) and self.on_change is not None:
            self.on_change(changed)
