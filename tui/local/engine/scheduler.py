"""The execution state machine: stages in order, runOrder groups, locks, waiting lines.

`pump(pipeline)` moves every active execution of a pipeline as far as it can go right now,
in start order, until nothing changes; it never blocks. Actions that do work run as tasks
of the `ActionRunner`, which calls `action_finished` when they end; approvals wait for
`PutApprovalResult` or their timer. Every decision below follows reference section 3:

- Stages run strictly in order. Inside a stage the actions of one runOrder group run
  together; the next group starts when every action of the previous one succeeded. When an
  action fails, running siblings finish, nothing more starts, and the stage then fails.
- SUPERSEDED: one execution per stage (the stage's lock) and one waiting slot in front of it;
  a newer execution arriving at an occupied slot supersedes the one waiting there.
  QUEUED: the same locks, and the waiting line is first-in first-out.
  PARALLEL: no locks and no waiting except at a disabled transition.
- A transition gates entry into a stage: the inbound transition of the stage, and the
  outbound transition of the stage before it [I: AWS documents no behaviour for Outbound;
  we treat it as a second gate on the same boundary]. Re-enabling lets the waiting
  execution in when the stage is free.
- Stop-and-wait lets running actions finish and starts nothing new; stop-and-abandon marks
  running actions Abandoned and cancels their tasks (providers kill their process groups).
  [I] A pending manual approval is abandoned by either stop: a stop would otherwise wait on
  a person indefinitely.
- A stage's `onFailure` decides what its failure does (stop and cancel come first: a stage
  whose execution is stopping ends Stopped whatever failed in it):
  FAIL, or none: the stage and its execution end Failed.
  RETRY: the stage ends Failed (stage FAILED) and a new attempt starts at once through the
  same path as RetryStageExecution, with `retryConfiguration.retryMode` (FAILED_ACTIONS when
  none is given [I]) and trigger AutomatedStageRetry (stage RESUMED). The execution stays
  InProgress throughout, so no pipeline event is sent [I]. One automatic attempt per
  execution and stage (reference 3.6): when it fails too, the stage and the execution end
  Failed, and a manual retry that fails later does not start another automatic one [I].
  GetPipelineState's retryStageMetadata counts the attempts of the stage's latest execution.
  ROLLBACK: the stage and its execution end Failed, then the engine's `roll_back` hook starts
  an automatic rollback of the stage (rollback.py).
- A ROLLBACK execution (rollback.py) runs its one stage and ends there; it passes gates and
  waiting lines and waits only for the stage's lock, never joining a waiting line.
- UpdatePipeline: running actions of older versions finish, then their stage and execution
  end as Cancelled; executions waiting between stages are cancelled at once [I, reference 3.2].
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from tui.local.clock import Timer
from tui.local.engine.events import STATE_OF_STATUS
from tui.local.engine.records import (
    ActionRun,
    ArtifactRecord,
    ExecutionRecord,
    StageLane,
    StageRun,
)
from tui.local.engine.state import EngineState
from tui.local.engine.variables import UnresolvedVariable, resolve_configuration
from tui.model.declaration import ActionDeclaration, PipelineDeclaration, StageDeclaration

DEFAULT_APPROVAL_TIMEOUT_MINUTES = 7 * 24 * 60
# onFailure RETRY: how many automatic attempts a stage gets per execution, and the mode used
# when the declaration names none.
AUTOMATIC_RETRIES = 1
DEFAULT_AUTOMATIC_RETRY_MODE = "FAILED_ACTIONS"
AUTOMATED_STAGE_RETRY = "AutomatedStageRetry"
MANUAL_STAGE_RETRY = "ManualStageRetry"

StartTask = Callable[[ActionRun], None]
CancelTask = Callable[[str], None]
# Called with an execution that just failed in a stage declaring onFailure ROLLBACK.
RollBack = Callable[[ExecutionRecord, str], None]


class Scheduler:
    def __init__(self, state: EngineState) -> None:
        self.state = state
        # Set by the engine once the runner exists (the runner calls back into us).
        self.start_task: StartTask = lambda run: None
        self.cancel_task: CancelTask = lambda run_id: None
        # Set by the engine (rollback.py builds on the scheduler, so it cannot be imported).
        self.roll_back: RollBack = lambda execution, stage: None
        self._timers: dict[str, Timer] = {}
        self._pumping: set[str] = set()
        self._again: set[str] = set()

    # The loop ---------------------------------------------------------------------------
    def pump(self, pipeline: str) -> None:
        if pipeline in self._pumping:
            self._again.add(pipeline)
            return
        self._pumping.add(pipeline)
        try:
            while True:
                self._again.discard(pipeline)
                changed = True
                while changed:
                    changed = False
                    if pipeline not in self.state.pipelines:
                        return
                    for execution in self.state.active_executions(pipeline):
                        if self._step(execution):
                            changed = True
                if pipeline not in self._again:
                    break
        finally:
            self._pumping.discard(pipeline)

    def _step(self, execution: ExecutionRecord) -> bool:
        if execution.phase == "waiting":
            return self._step_waiting(execution)
        if execution.phase == "running":
            return self._step_running(execution)
        return False

    def _declaration(self, execution: ExecutionRecord) -> PipelineDeclaration:
        return self.state.declaration(execution.pipeline_name, execution.pipeline_version)

    def _lane(self, execution: ExecutionRecord, stage: str) -> StageLane:
        return self.state.runtime(execution.pipeline_name).lane(stage)

    # Between stages ---------------------------------------------------------------------
    def _step_waiting(self, execution: ExecutionRecord) -> bool:
        if execution.cancel_requested:
            self.end_execution(
                execution, "Cancelled", "The pipeline was updated before this execution finished."
            )
            return True
        if execution.stop_requested:
            self.end_execution(execution, "Stopped", execution.stop_reason)
            return True
        declaration = self._declaration(execution)
        stage = declaration.stages[execution.stage_index]
        lane = self._lane(execution, stage.name)
        if self._can_enter(execution, declaration, lane):
            self._enter_stage(execution, stage, lane)
            return True
        return self._wait_at(execution, lane)

    def _gate_open(
        self, execution: ExecutionRecord, declaration: PipelineDeclaration, lane: StageLane
    ) -> bool:
        if execution.stage_index == 0:
            return True
        previous = declaration.stages[execution.stage_index - 1]
        return lane.inbound.enabled and self._lane(execution, previous.name).outbound.enabled

    def _can_enter(
        self, execution: ExecutionRecord, declaration: PipelineDeclaration, lane: StageLane
    ) -> bool:
        if execution.execution_type == "ROLLBACK":
            # Past gates and waiting lines, only the lock (rollback.py).
            return lane.occupant in (None, execution.id)
        if not self._gate_open(execution, declaration, lane):
            return False
        if execution.execution_mode == "PARALLEL":
            return True
        if lane.occupant not in (None, execution.id):
            return False
        waiting = [w for w in lane.waiting if w != execution.id]
        if execution.execution_mode == "QUEUED":
            return not lane.waiting or lane.waiting[0] == execution.id
        return not waiting

    def _wait_at(self, execution: ExecutionRecord, lane: StageLane) -> bool:
        if execution.id in lane.waiting or execution.execution_type == "ROLLBACK":
            return False
        if execution.execution_mode == "SUPERSEDED":
            for other_id in list(lane.waiting):
                other = self.state.executions.get(other_id)
                lane.waiting.remove(other_id)
                if other is None or not other.active:
                    continue
                if other.start_time <= execution.start_time:
                    self.end_execution(
                        other, "Superseded", f"Superseded by execution {execution.id}."
                    )
                else:
                    lane.waiting.append(other_id)
                    self.end_execution(
                        execution, "Superseded", f"Superseded by execution {other_id}."
                    )
                    self.state.mark_runtime(self.state.runtime(execution.pipeline_name))
                    return True
        lane.waiting.append(execution.id)
        self.state.mark_runtime(self.state.runtime(execution.pipeline_name))
        return True

    def _enter_stage(
        self, execution: ExecutionRecord, stage: StageDeclaration, lane: StageLane
    ) -> None:
        now = self.state.now()
        if execution.id in lane.waiting:
            lane.waiting.remove(execution.id)
        if execution.execution_mode != "PARALLEL":
            lane.occupant = execution.id
        lane.latest_execution_id = execution.id
        execution.stages[stage.name] = StageRun(
            status="InProgress",
            started=now,
            updated=now,
            type=execution.execution_type,
            to_run=[a.name for a in stage.actions],
        )
        execution.phase = "running"
        self.state.mark_runtime(self.state.runtime(execution.pipeline_name))
        self.state.mark_execution(execution)
        self.state.stage_event(execution, stage.name, "STARTED")

    # Inside a stage ---------------------------------------------------------------------
    def _step_running(self, execution: ExecutionRecord) -> bool:
        declaration = self._declaration(execution)
        stage = declaration.stages[execution.stage_index]
        stage_run = execution.stages[stage.name]
        attempt_runs = self._attempt_runs(execution, stage.name, stage_run)
        if any(run.status == "InProgress" for run in attempt_runs.values()):
            return False
        if execution.stop_requested:
            self._end_stage(execution, stage.name, "Stopped")
            self.end_execution(execution, "Stopped", execution.stop_reason)
            return True
        if execution.cancel_requested:
            self._end_stage(execution, stage.name, "Cancelled")
            self.end_execution(
                execution, "Cancelled", "The pipeline was updated before this execution finished."
            )
            return True
        groups = stage.run_order_groups()
        while stage_run.group_index < len(groups):
            group = [a for a in groups[stage_run.group_index] if a.name in stage_run.to_run]
            not_started = [a for a in group if a.name not in attempt_runs]
            if not_started and len(not_started) == len(group):
                for action in group:
                    self._start_action(execution, stage, action, stage_run)
                return True
            failed = [
                attempt_runs[a.name]
                for a in group
                if a.name in attempt_runs and attempt_runs[a.name].status != "Succeeded"
            ]
            if failed:
                self._stage_failed(execution, stage, stage_run, failed[0])
                return True
            if not_started:
                for action in not_started:
                    self._start_action(execution, stage, action, stage_run)
                return True
            stage_run.group_index += 1
            self.state.mark_execution(execution)
        self._end_stage(execution, stage.name, "Succeeded")
        last = execution.stage_index + 1 >= len(declaration.stages)
        if last or execution.execution_type == "ROLLBACK":
            self.end_execution(execution, "Succeeded", None)
        else:
            execution.stage_index += 1
            execution.phase = "waiting"
            self.state.mark_execution(execution)
        return True

    def _stage_failed(
        self,
        execution: ExecutionRecord,
        stage: StageDeclaration,
        stage_run: StageRun,
        first: ActionRun,
    ) -> None:
        """End the stage Failed, then do what its `onFailure` says (see the module docstring)."""
        reason = first.error_message or first.summary or first.status
        summary = f"Action {first.action_name} in stage {stage.name} failed: {reason}"
        self._end_stage(execution, stage.name, "Failed")
        on_failure = stage.on_failure
        result = (on_failure.result if on_failure else None) or "FAIL"
        if result == "RETRY" and on_failure and stage_run.auto_retry_attempts < AUTOMATIC_RETRIES:
            configured = on_failure.retry_configuration
            mode = (configured.retry_mode if configured else None) or DEFAULT_AUTOMATIC_RETRY_MODE
            self.retry_stage(execution, stage, mode, AUTOMATED_STAGE_RETRY)
            return
        self.end_execution(execution, "Failed", summary)
        if result == "ROLLBACK":
            self.roll_back(execution, stage.name)

    def _attempt_runs(
        self, execution: ExecutionRecord, stage: str, stage_run: StageRun
    ) -> dict[str, ActionRun]:
        """Action name -> its run in the stage's current attempt."""
        runs = {}
        for name, run_id in stage_run.actions.items():
            run = self.state.runs.get(run_id)
            if run is not None and run.attempt == stage_run.attempt:
                runs[name] = run
        return runs

    def _end_stage(self, execution: ExecutionRecord, stage: str, status: str) -> None:
        stage_run = execution.stages[stage]
        stage_run.status = status  # type: ignore[assignment]
        stage_run.updated = self.state.now()
        lane = self._lane(execution, stage)
        if lane.occupant == execution.id:
            lane.occupant = None
        self.state.mark_runtime(self.state.runtime(execution.pipeline_name))
        self.state.mark_execution(execution)
        self.state.stage_event(execution, stage, STATE_OF_STATUS[status])

    def end_execution(self, execution: ExecutionRecord, status: str, summary: str | None) -> None:
        execution.status = status  # type: ignore[assignment]
        execution.phase = "done"
        if summary:
            execution.status_summary = summary
        runtime = self.state.runtimes.get(execution.pipeline_name)
        if runtime is not None:
            for lane in runtime.lanes.values():
                if execution.id in lane.waiting:
                    lane.waiting.remove(execution.id)
                if lane.occupant == execution.id:
                    lane.occupant = None
            self.state.mark_runtime(runtime)
        self.state.mark_execution(execution)
        self.state.pipeline_event(execution, STATE_OF_STATUS[status])

    # Actions ----------------------------------------------------------------------------
    def _start_action(
        self,
        execution: ExecutionRecord,
        stage: StageDeclaration,
        action: ActionDeclaration,
        stage_run: StageRun,
    ) -> None:
        now = self.state.now()
        type_id = action.action_type_id
        run = ActionRun(
            id=str(uuid.uuid4()),
            execution_id=execution.id,
            pipeline_name=execution.pipeline_name,
            pipeline_version=execution.pipeline_version,
            stage_name=stage.name,
            action_name=action.name,
            attempt=stage_run.attempt,
            status="InProgress",
            start_time=now,
            last_update_time=now,
            action_type_id={
                "category": type_id.category,
                "owner": type_id.owner,
                "provider": type_id.provider,
                "version": type_id.version,
            },
            configuration=dict(action.configuration or {}),
            run_order=action.run_order,
            role_arn=action.role_arn,
            region=action.region or self.state.region,
            namespace=action.namespace,
            input_artifacts=[
                execution.artifacts[a.name]
                for a in action.input_artifacts
                if a.name in execution.artifacts
            ],
        )
        stage_run.actions[action.name] = run.id
        lane = self._lane(execution, stage.name)
        lane.action_latest[action.name] = run.id
        self.state.mark_runtime(self.state.runtime(execution.pipeline_name))
        self.state.mark_execution(execution)
        missing_inputs = [
            a.name for a in action.input_artifacts if a.name not in execution.artifacts
        ]
        try:
            run.resolved_configuration = resolve_configuration(
                run.configuration,
                execution_id=execution.id,
                variables=execution.variables,
                namespaces=execution.namespaces,
            )
        except UnresolvedVariable as exc:
            self.state.add_run(run)
            self.state.action_event(run, "STARTED")
            self.fail_run(run, str(exc), "JobFailed")
            return
        if type_id.category == "Approval":
            self._start_approval(execution, action, run)
            self.state.add_run(run)
            self.state.action_event(run, "STARTED")
            return
        self.state.add_run(run)
        self.state.action_event(run, "STARTED")
        if missing_inputs:
            self.fail_run(
                run,
                f"Input artifact(s) {', '.join(missing_inputs)} were not produced in this execution.",
                "JobFailed",
            )
            return
        self.start_task(run)

    def _start_approval(
        self, execution: ExecutionRecord, action: ActionDeclaration, run: ActionRun
    ) -> None:
        run.token = str(uuid.uuid4())
        if execution.execution_mode == "PARALLEL":
            run.external_execution_id = run.token
        minutes = action.timeout_in_minutes or DEFAULT_APPROVAL_TIMEOUT_MINUTES
        run.approval_expires = run.start_time + minutes * 60
        self.arm_approval_timer(run)

    def arm_approval_timer(self, run: ActionRun) -> None:
        assert run.approval_expires is not None
        self._timers[run.id] = self.state.clock.call_at(
            run.approval_expires, lambda: self._approval_timed_out(run.id)
        )

    def _approval_timed_out(self, run_id: str) -> None:
        self._timers.pop(run_id, None)
        run = self.state.runs.get(run_id)
        if run is None or run.status != "InProgress":
            return
        self.fail_run(
            run, "The approval request expired before anyone approved or rejected it.", "JobFailed"
        )
        self.state.commit()

    def fail_run(self, run: ActionRun, message: str, code: str) -> None:
        self.finish_run(run, "Failed", summary=message, error_code=code, error_message=message)

    def finish_run(
        self,
        run: ActionRun,
        status: str,
        *,
        summary: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """Record an action's end, emit its event and move its pipeline on (no commit)."""
        if run.status != "InProgress":
            return
        run.status = status  # type: ignore[assignment]
        if summary is not None:
            run.summary = summary
        run.error_code = error_code
        run.error_message = error_message
        timer = self._timers.pop(run.id, None)
        if timer is not None:
            timer.cancel()
        self.state.mark_run(run)
        self.state.action_event(run, STATE_OF_STATUS[status])
        self.pump(run.pipeline_name)

    def record_outputs(
        self, run: ActionRun, artifacts: list[ArtifactRecord], variables: dict[str, str]
    ) -> None:
        execution = self.state.executions[run.execution_id]
        for artifact in artifacts:
            execution.artifacts[artifact.name] = artifact
        run.output_artifacts = artifacts
        run.output_variables = variables
        if run.namespace:
            execution.namespaces[run.namespace] = dict(variables)
        if run.revision is not None:
            revision = dict(run.revision)
            execution.artifact_revisions = [
                r for r in execution.artifact_revisions if r.get("name") != revision.get("name")
            ] + [revision]
            execution.source_revisions = [
                r for r in execution.source_revisions if r.get("actionName") != run.action_name
            ] + [
                {
                    k: v
                    for k, v in {
                        "actionName": run.action_name,
                        "revisionId": revision.get("revisionId"),
                        "revisionSummary": revision.get("revisionSummary"),
                        "revisionUrl": revision.get("revisionUrl"),
                    }.items()
                    if v is not None
                }
            ]
        self.state.mark_execution(execution)

    # Stop, cancel, retry ---------------------------------------------------------------
    def request_stop(self, execution: ExecutionRecord, abandon: bool, reason: str | None) -> None:
        first_request = not execution.stop_requested
        execution.stop_requested = True
        execution.stop_abandon = execution.stop_abandon or abandon
        if reason:
            execution.stop_reason = reason
        if first_request:
            execution.status = "Stopping"
            self.state.mark_execution(execution)
            extra = {"stop-execution-comments": reason} if reason else {}
            self.state.pipeline_event(execution, "STOPPING", **extra)
            if execution.phase == "running":
                stage = self._declaration(execution).stages[execution.stage_index]
                stage_run = execution.stages[stage.name]
                stage_run.status = "Stopping"
                self.state.stage_event(execution, stage.name, "STOPPING")
        self.state.mark_execution(execution)
        if execution.phase == "running":
            stage = self._declaration(execution).stages[execution.stage_index]
            stage_run = execution.stages[stage.name]
            for run in self._attempt_runs(execution, stage.name, stage_run).values():
                if run.status != "InProgress":
                    continue
                if run.is_approval or abandon:
                    self.finish_run(
                        run,
                        "Abandoned",
                        summary=f"Abandoned: {reason}"
                        if reason
                        else "Abandoned by a stop request.",
                    )
                    self.cancel_task(run.id)
        self.pump(execution.pipeline_name)

    def retry_stage(
        self, execution: ExecutionRecord, stage: StageDeclaration, mode: str, trigger: str
    ) -> None:
        """Run a new attempt of a Failed or Stopped stage (`trigger` ManualStageRetry or
        AutomatedStageRetry). The execution is RESUMED only if it had ended: an automatic
        retry follows the stage's failure at once, and its execution never stopped running."""
        stage_run = execution.stages[stage.name]
        resumed = not execution.active
        succeeded = {
            name
            for name, run in self._attempt_runs(execution, stage.name, stage_run).items()
            if run.status == "Succeeded"
        }
        # Runs of earlier attempts count too: a FAILED_ACTIONS retry keeps what has succeeded.
        for name, run_id in stage_run.actions.items():
            run = self.state.runs.get(run_id)
            if run is not None and run.status == "Succeeded":
                succeeded.add(name)
        now = self.state.now()
        stage_run.attempt += 1
        stage_run.status = "InProgress"
        stage_run.updated = now
        stage_run.group_index = 0
        if mode == "ALL_ACTIONS":
            stage_run.to_run = [a.name for a in stage.actions]
        else:
            stage_run.to_run = [a.name for a in stage.actions if a.name not in succeeded]
        lane = self._lane(execution, stage.name)
        if execution.execution_mode != "PARALLEL":
            lane.occupant = execution.id
        lane.latest_execution_id = execution.id
        if trigger == MANUAL_STAGE_RETRY:
            stage_run.manual_retry_attempts += 1
        else:
            stage_run.auto_retry_attempts += 1
        stage_run.latest_retry_trigger = trigger
        execution.status = "InProgress"
        execution.status_summary = None
        execution.phase = "running"
        execution.stop_requested = False
        execution.stop_abandon = False
        execution.stop_reason = None
        self.state.mark_runtime(self.state.runtime(execution.pipeline_name))
        self.state.mark_execution(execution)
        if resumed:
            self.state.pipeline_event(execution, "RESUMED")
        self.state.stage_event(execution, stage.name, "RESUMED")
        self.pump(execution.pipeline_name)

    def cancel_for_update(self, pipeline: str) -> None:
        for execution in self.state.active_executions(pipeline):
            execution.cancel_requested = True
            self.state.mark_execution(execution)
            # [I] A pending approval is not work in flight: it ends now, like on a stop.
            for run in self.state.runs_by_execution.get(execution.id, []):
                if run.status == "InProgress" and run.is_approval:
                    self.finish_run(
                        run, "Abandoned", summary="Abandoned: the pipeline was updated."
                    )
        self.pump(pipeline)

    def shutdown(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
