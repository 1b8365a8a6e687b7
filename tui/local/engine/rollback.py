"""RollbackStage: a new execution that reruns one stage with what an earlier execution ran.

    execution = start_rollback(state, scheduler, "web", "Deploy", target_id, caller)

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
- Locks and waiting lines (SUPERSEDED, QUEUED): the rollback takes the stage's lock at once.
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
"""

from __future__ import annotations

import copy
import uuid

from tui.local.engine.records import ExecutionRecord
from tui.local.engine.scheduler import Scheduler
from tui.local.engine.state import EngineState
from tui.model.errors import (
    ConflictException,
    PipelineExecutionOutdatedException,
    StageNotFoundException,
    UnableToRollbackStageException,
    ValidationException,
)

ROLLBACK = "ROLLBACK"
MANUAL_ROLLBACK = "ManualRollback"


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
    state.pipeline_event(
        execution,
        "STARTED",
        **{"execution-trigger": {"trigger-type": trigger, "trigger-detail": caller}},
    )
    scheduler.pump(name)
    return execution
