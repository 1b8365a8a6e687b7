"""RollbackStage: a new execution that reruns one stage with what an earlier execution ran.

    execution = start_rollback(state, scheduler, "web", "Deploy", target_id, caller)
    execution = start_automatic_rollback(state, scheduler, failed_execution, "Deploy")

The rollback execution has `executionType ROLLBACK`, trigger `ManualRollback` (caller ARN as
detail) and `rollbackMetadata.rollbackTargetPipelineExecutionId`. It starts with the target's
variables, namespaces (output variables), artifacts, artifact revisions and source revisions,
so the stage's actions read exactly the inputs the target gave them (AWS: "CodePipeline will
use the variables and artifacts from the execution to which it is rolling back").

Checks, in this order, each raising what AWS raises (reference 3.8 and the stage-rollback
guide's considerations):

- unknown pipeline: PipelineNotFoundException; a V1 pipeline: ValidationException [I: rollback
  is a V2 feature, as variables are; the engine answers other V2-only requests the same way];
- unknown stage: StageNotFoundException;
- PARALLEL mode: UnableToRollbackStageException [I: AWS documents rollback as unavailable in
  PARALLEL and names no error; this is the model's error for "cannot roll back this stage"];
- the first (source) stage: UnableToRollbackStageException (AWS: "You cannot roll back a
  source stage");
- unknown target: PipelineExecutionNotFoundException;
- a target that is itself a rollback: UnableToRollbackStageException (AWS: "You cannot roll
  back to a target execution ID that is a rollback execution type");
- a target started on another pipeline version: PipelineExecutionOutdatedException;
- a target whose run of the stage did not succeed: UnableToRollbackStageException;
- the stage in progress: ConflictException when the execution in it is itself a rollback [I:
  the "busy handling ongoing activities" case, e.g. a double click], otherwise
  UnableToRollbackStageException (the model's "the stage is currently running").

Decisions [I] about the rollback execution itself:

- Other stages: the rollback execution has a run of the rolled-back stage only; its
  GetPipelineExecution/ListActionExecutions show nothing for the other stages, and the other
  stages' GetPipelineState entries keep showing the executions that last ran there. The
  rolled-back stage's `latestExecution` becomes the rollback with `type ROLLBACK`.
- It ends when the stage ends: Succeeded when the stage succeeds (it never moves on to the
  following stages), Failed/Stopped like any execution otherwise. A failed rollback can be
  retried with RetryStageExecution and still ends with its one stage.
- Locks and waiting lines (SUPERSEDED, QUEUED): the rollback takes the stage's lock at once,
  when it is created, so an execution waiting in front of the stage cannot enter before it.
  It is accepted only while the stage is not running, so the lock is free; it bypasses the
  inbound/outbound transitions and any execution waiting in front of the stage (an operator's
  direct act on the stage, not traffic arriving from the stage before). It never joins a
  waiting line, so it neither supersedes nor is superseded; executions reaching the stage
  while it runs wait for its lock as they would for any execution, and enter after it.
- Events: the usual pipeline STARTED (with `execution-trigger` trigger-type ManualRollback),
  stage and action events and the final state. AWS documents no execution-type field in the
  event detail, so none is added.
- ListPipelineExecutions and GetPipelineExecution show it like any execution, with
  `executionType ROLLBACK`, the ManualRollback trigger and `rollbackMetadata`; its
  `sourceRevisions`/`artifactRevisions` are the target's. A succeeded rollback appears under
  the `succeededInStage` filter of its stage (it did succeed there) but is refused as a
  target, as above.

Automatic rollback (a stage declaring `onFailure: {result: ROLLBACK}`; reference 3.8 and the
automatic-rollback guide: "When the stage fails, the stage is rolled back to the most recent
successful execution", which must have started on the current pipeline version): when an
execution fails in such a stage, the scheduler ends the stage and the execution Failed and
then calls `start_automatic_rollback`, which starts a rollback exactly as RollbackStage does,
with trigger `AutomatedRollback`. Decisions [I]:

- The target is the newest execution (in start order, as ListPipelineExecutions lists them)
  of the current pipeline version that succeeded in the stage. When that is itself a
  rollback, its own target is taken: that is what the stage last ran successfully, and a
  rollback can never be a target.
- `triggerDetail` is the id of the execution whose failure started the rollback (AWS
  documents no value; a caller ARN would name nobody).
- No rollback is started, and the failure stands, when no such execution exists (the stage
  has never succeeded on this version: AWS rolls back "only after there is a successful
  pipeline execution in the pipeline stage"), or when the failed execution is itself a
  rollback (rolling a failed rollback back again could repeat forever). The failed
  execution's `statusSummary` then says why; when a rollback starts, it names the rollback
  and its target.
- The rollback's own events are those of any rollback: pipeline STARTED with
  `execution-trigger` trigger-type AutomatedRollback, then its stage, actions and end. They
  follow the failed execution's stage FAILED and pipeline FAILED.
"""

from __future__ import annotations

import copy
import uuid

from tui.local.engine.records import ExecutionRecord
from tui.local.engine.scheduler import Scheduler
from tui.local.engine.state import EngineState
from tui.model.errors import (
    AwsError,
    ConflictException,
    PipelineExecutionOutdatedException,
    StageNotFoundException,
    UnableToRollbackStageException,
    ValidationException,
)

ROLLBACK = "ROLLBACK"
MANUAL_ROLLBACK = "ManualRollback"
AUTOMATED_ROLLBACK = "AutomatedRollback"


def _stage_busy(state: EngineState, name: str, stage_name: str) -> ExecutionRecord | None:
    """The active execution running inside the stage, if any."""
    for execution in state.active_executions(name):
        run = execution.stages.get(stage_name)
        if (
            execution.phase == "running"
            and run is not None
            and run.status
            in (
                "InProgress",
                "Stopping",
            )
        ):
            return execution
    return None


def start_rollback(
    state: EngineState,
    scheduler: Scheduler,
    name: str,
    stage_name: str,
    target_id: str,
    caller: str,
    trigger: str = MANUAL_ROLLBACK,
) -> ExecutionRecord:
    """Check the request, register the rollback execution and let the scheduler run it
    (no commit: the caller commits)."""
    record = state.pipeline(name)
    declaration = state.declaration(name)
    if declaration.pipeline_type != "V2":
        raise ValidationException("Stage rollback is supported only by pipelines of type V2")
    index = next((i for i, s in enumerate(declaration.stages) if s.name == stage_name), None)
    if index is None:
        raise StageNotFoundException(f"Stage '{stage_name}' does not exist in pipeline '{name}'")
    mode = declaration.execution_mode or "SUPERSEDED"
    if mode == "PARALLEL":
        raise UnableToRollbackStageException(
            f"Pipeline '{name}' runs in PARALLEL mode, where stages cannot be rolled back"
        )
    if index == 0:
        raise UnableToRollbackStageException(
            f"Stage '{stage_name}' is the source stage of pipeline '{name}' and cannot be rolled back"
        )
    target = state.execution(name, target_id)
    if target.execution_type == ROLLBACK:
        raise UnableToRollbackStageException(
            f"Execution '{target_id}' is a rollback execution and cannot be a rollback target"
        )
    if target.pipeline_version != record.version:
        raise PipelineExecutionOutdatedException(
            f"Execution '{target_id}' ran on version {target.pipeline_version} of pipeline "
            f"'{name}', which is now at version {record.version}"
        )
    target_stage = target.stages.get(stage_name)
    if target_stage is None or target_stage.status != "Succeeded":
        status = target_stage.status if target_stage else "not run"
        raise UnableToRollbackStageException(
            f"Stage '{stage_name}' of execution '{target_id}' is {status}; "
            "only an execution that succeeded in the stage can be a rollback target"
        )
    busy = _stage_busy(state, name, stage_name)
    if busy is not None and busy.execution_type == ROLLBACK:
        raise ConflictException(
            f"Stage '{stage_name}' is already being rolled back by execution '{busy.id}'"
        )
    if busy is not None:
        raise UnableToRollbackStageException(
            f"Stage '{stage_name}' is running execution '{busy.id}'; "
            "a stage can be rolled back only when it is not in progress"
        )
    now = state.now()
    execution = ExecutionRecord(
        id=str(uuid.uuid4()),
        pipeline_name=name,
        pipeline_version=record.version,
        status="InProgress",
        start_time=now,
        last_update_time=now,
        trigger_type=trigger,
        trigger_detail=caller,
        execution_mode=mode,
        execution_type=ROLLBACK,
        variables=dict(target.variables),
        stage_index=index,
        artifacts=dict(target.artifacts),
        namespaces=copy.deepcopy(target.namespaces),
        artifact_revisions=copy.deepcopy(target.artifact_revisions),
        source_revisions=copy.deepcopy(target.source_revisions),
        rollback_target=target.id,
    )
    state.add_execution(execution)
    runtime = state.runtime(name)
    runtime.lane(stage_name).occupant = execution.id
    state.mark_runtime(runtime)
    state.pipeline_event(
        execution,
        "STARTED",
        **{"execution-trigger": {"trigger-type": trigger, "trigger-detail": caller}},
    )
    scheduler.pump(name)
    return execution


def last_good_execution(state: EngineState, name: str, stage_name: str) -> ExecutionRecord | None:
    """The execution an automatic rollback of the stage returns to, if any (see above)."""
    version = state.pipeline(name).version

    def succeeded(execution: ExecutionRecord | None) -> bool:
        if execution is None or execution.pipeline_version != version:
            return False
        run = execution.stages.get(stage_name)
        return run is not None and run.status == "Succeeded"

    for execution in reversed(state.executions_by_pipeline.get(name, [])):
        if not succeeded(execution):
            continue
        if execution.execution_type != ROLLBACK:
            return execution
        target = state.executions.get(execution.rollback_target or "")
        if target is not None and succeeded(target):
            return target
    return None


def start_automatic_rollback(
    state: EngineState, scheduler: Scheduler, failed: ExecutionRecord, stage_name: str
) -> ExecutionRecord | None:
    """Roll the stage back after `failed` failed in it, or say in `failed`'s statusSummary why
    not (no commit: the caller's entry point commits)."""
    name = failed.pipeline_name
    rollback: ExecutionRecord | None = None
    if failed.execution_type == ROLLBACK:
        note = f"No automatic rollback: execution {failed.id} is itself a rollback."
    elif (target := last_good_execution(state, name, stage_name)) is None:
        note = (
            f"No automatic rollback: no execution succeeded in stage {stage_name} "
            f"on version {state.pipeline(name).version} of the pipeline."
        )
    else:
        try:
            rollback = start_rollback(
                state, scheduler, name, stage_name, target.id, failed.id, AUTOMATED_ROLLBACK
            )
        except AwsError as exc:
            note = f"No automatic rollback: {exc.message}"
        else:
            note = (
                f"Stage {stage_name} is being rolled back to execution {target.id} "
                f"by execution {rollback.id}."
            )
    failed.status_summary = " ".join(filter(None, [failed.status_summary, note]))
    state.mark_execution(failed)
    return rollback
