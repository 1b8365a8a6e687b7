"""The pipeline engine's operations: what the CodePipeline API asks of it.

Requests arrive here already checked against botocore's shapes (lengths, patterns, enums);
this layer checks what needs state (names, tokens, statuses) and raises the errors AWS
raises. Each operation ends with a commit, so its effects are durable before it answers.

Decisions [I] made here (see also scheduler.py):
- An unknown execution id given to StopPipelineExecution or RetryStageExecution answers
  PipelineExecutionNotFoundException (the model lists no error for it; AWS sends this one).
- A clientRequestToken reused with different parameters is a ValidationException; with the
  same parameters it answers the execution the token first started.
- QUEUED pipelines hold at most 50 waiting executions and PARALLEL pipelines run at most 50
  at once; StartPipelineExecution beyond that raises
  ConcurrentPipelineExecutionsLimitExceededException.
- A variable without a default must be given a value by StartPipelineExecution; automatic
  starts (CreatePipeline) leave it unset, and an action referencing it fails naming it.
- An approval token of an answered approval gives ApprovalAlreadyCompletedException; a
  token that expired, was abandoned by a stop or was never issued gives
  InvalidApprovalTokenException.
- RetryStageExecution needs the stage to have ended (Failed or Stopped); a stage still
  finishing its running actions answers StageNotRetryableException.
- The first stage has no inbound transition: disabling it is a ValidationException.
- RollbackStage's checks and the rollback execution's behaviour: see rollback.py.
- A stage's onFailure (automatic retry, automatic rollback): see scheduler.py and
  rollback.py. Stage conditions, which the engine does not evaluate, are refused by
  CreatePipeline and UpdatePipeline: see unsupported.py.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from tui.local.engine.custom_types import CustomActionTypes
from tui.local.engine.jobs import JobRegistry
from tui.local.engine.logs import LogStore
from tui.local.engine.objects import ObjectStore
from tui.local.engine.orphans import ProcessGroups
from tui.local.engine.providers.registry import ProviderRegistry
from tui.local.engine.records import (
    ExecutionRecord,
    PipelineRecord,
    PipelineRuntime,
    TransitionRecord,
)
from tui.local.engine.rollback import start_automatic_rollback, start_rollback
from tui.local.engine.runner import ActionRunner
from tui.local.engine.scheduler import MANUAL_STAGE_RETRY, Scheduler
from tui.local.engine.state import EngineState
from tui.local.engine.unsupported import refuse_unsupported
from tui.model.declaration import PipelineDeclaration, parse_pipeline
from tui.model.errors import (
    ActionNotFoundException,
    ApprovalAlreadyCompletedException,
    ConcurrentPipelineExecutionsLimitExceededException,
    DuplicatedStopRequestException,
    InvalidApprovalTokenException,
    InvalidArnException,
    InvalidTagsException,
    LimitExceededException,
    NotLatestPipelineExecutionException,
    PipelineExecutionNotStoppableException,
    PipelineNameInUseException,
    PipelineVersionNotFoundException,
    ResourceNotFoundException,
    StageNotFoundException,
    StageNotRetryableException,
    TooManyTagsException,
    ValidationException,
)
from tui.model.validation import validate_pipeline

MAX_PIPELINES = 1000
MAX_TAGS = 50
MAX_CONCURRENT = 50
INTERRUPTED_SUMMARY = "Interrupted: the local endpoint stopped while this action was running. Retry the stage to run it again."


class PipelineEngine:
    def __init__(
        self,
        state: EngineState,
        objects: ObjectStore,
        logs: LogStore,
        providers: ProviderRegistry,
        data_dir: Path,
        custom_types: CustomActionTypes,
        jobs: JobRegistry,
    ) -> None:
        self.state = state
        self.objects = objects
        self.custom_types = custom_types
        self.jobs = jobs
        self.scheduler = Scheduler(state)
        self.scheduler.roll_back = self._roll_back_on_failure
        self.runner = ActionRunner(state, self.scheduler, objects, logs, providers, data_dir)

    def _roll_back_on_failure(self, execution: ExecutionRecord, stage_name: str) -> None:
        start_automatic_rollback(self.state, self.scheduler, execution, stage_name)

    # Life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Load every record and pick up where the last process left off (crash included)."""
        state = self.state
        for record in state.store.load_pipelines():
            state.pipelines[record.name] = record
            state.runtimes[record.name] = state.store.load_runtime(record.name) or PipelineRuntime(
                record.name
            )
            for execution in state.store.load_executions(record.name):
                state.executions[execution.id] = execution
                state.executions_by_pipeline[record.name].append(execution)
                if execution.client_request_token:
                    state.client_tokens[(record.name, execution.client_request_token)] = (
                        execution.id
                    )
            for run in state.store.load_action_runs(record.name):
                state.runs[run.id] = run
                state.runs_by_execution[run.execution_id].append(run)
                if run.token:
                    state.approval_tokens[run.token] = run.id
        # What a crash left running is ended before its workspace goes and anything runs.
        ProcessGroups(state.store.db).end_leftovers()
        self.runner.remove_leftover_workspaces()
        for run in list(state.runs.values()):
            if run.status != "InProgress":
                continue
            if run.is_approval:
                self.scheduler.arm_approval_timer(run)
            else:
                self.scheduler.fail_run(run, INTERRUPTED_SUMMARY, "JobFailed")
        for name in list(state.pipelines):
            self.scheduler.pump(name)
        state.commit()

    async def close(self) -> None:
        await self.runner.close()
        self.scheduler.shutdown()
        self.state.commit()

    # Pipelines --------------------------------------------------------------------------
    def _checked(self, data: Any) -> PipelineDeclaration:
        declaration = parse_pipeline(data)
        validate_pipeline(declaration, find_type=self.custom_types.find)
        refuse_unsupported(declaration)
        return declaration

    def _ensure_artifact_buckets(self, declaration: PipelineDeclaration) -> None:
        if declaration.artifact_store is not None:
            self.objects.ensure_bucket(declaration.artifact_store.location)
        for store in (declaration.artifact_stores or {}).values():
            self.objects.ensure_bucket(store.location)

    def create_pipeline(
        self, data: Any, tags: list[dict[str, str]] | None, caller: str
    ) -> PipelineRecord:
        declaration = self._checked(data)
        state = self.state
        if declaration.name in state.pipelines:
            raise PipelineNameInUseException(
                f"Pipeline with name '{declaration.name}' already exists"
            )
        if len(state.pipelines) >= MAX_PIPELINES:
            raise LimitExceededException(
                f"The account reached its limit of {MAX_PIPELINES} pipelines in this region"
            )
        checked_tags = self._checked_tags(tags or [], [])
        self._ensure_artifact_buckets(declaration)
        now = state.now()
        declaration.version = 1
        body = declaration.to_api()
        record = PipelineRecord(
            name=declaration.name,
            arn=state.pipeline_arn(declaration.name),
            version=1,
            declaration=body,
            created=now,
            updated=now,
            tags=checked_tags,
        )
        state.pipelines[record.name] = record
        runtime = PipelineRuntime(record.name)
        for stage in declaration.stages:
            runtime.lane(stage.name)
        state.runtimes[record.name] = runtime
        state.store.pipeline_changed(record)
        state.store.version_added(record.name, 1, now, body)
        state.mark_runtime(runtime)
        self._start(
            record,
            "CreatePipeline",
            caller,
            self._execution_variables(declaration, None),
            [],
            None,
            None,
        )
        state.commit()
        return record

    def update_pipeline(self, data: Any, caller: str) -> PipelineRecord:
        declaration = self._checked(data)
        state = self.state
        record = state.pipeline(declaration.name)
        self._ensure_artifact_buckets(declaration)
        now = state.now()
        record.version += 1
        declaration.version = record.version
        record.declaration = declaration.to_api()
        record.updated = now
        state.forget_declarations(record.name)
        runtime = state.runtime(record.name)
        for stage in declaration.stages:
            runtime.lane(stage.name)
        state.store.pipeline_changed(record)
        state.store.version_added(record.name, record.version, now, record.declaration)
        state.mark_runtime(runtime)
        self.scheduler.cancel_for_update(record.name)
        state.commit()
        return record

    def delete_pipeline(self, name: str) -> None:
        state = self.state
        if name not in state.pipelines:
            return
        for execution in state.active_executions(name):
            for run in state.runs_by_execution.get(execution.id, []):
                if run.status == "InProgress":
                    self.runner.cancel(run.id)
        state.drop_pipeline(name)
        state.commit()

    def get_pipeline(self, name: str, version: int | None) -> tuple[dict[str, Any], PipelineRecord]:
        record = self.state.pipeline(name)
        if version is None or version == record.version:
            return record.declaration, record
        stored = self.state.store.pipeline_version(name, version)
        if stored is None:
            raise PipelineVersionNotFoundException(
                f"Pipeline '{name}' does not have a version {version}"
            )
        return stored, record

    def list_pipelines(self) -> list[PipelineRecord]:
        return [self.state.pipelines[name] for name in sorted(self.state.pipelines)]

    # Executions -------------------------------------------------------------------------
    def start_execution(
        self,
        name: str,
        variables: list[dict[str, str]] | None,
        client_token: str | None,
        source_revisions: list[dict[str, str]] | None,
        caller: str,
    ) -> str:
        state = self.state
        record = state.pipeline(name)
        declaration = state.declaration(name)
        digest = hashlib.sha256(
            json.dumps([variables or [], source_revisions or []], sort_keys=True).encode()
        ).hexdigest()
        if client_token:
            existing = state.client_tokens.get((name, client_token))
            if existing is not None:
                previous = state.executions.get(existing)
                if previous is not None and previous.request_digest not in (None, digest):
                    raise ValidationException(
                        f"The clientRequestToken '{client_token}' was already used with different parameters"
                    )
                return existing
        values = self._execution_variables(declaration, variables or [])
        overrides = self._source_overrides(declaration, source_revisions or [])
        self._check_capacity(declaration, name)
        execution = self._start(
            record, "StartPipelineExecution", caller, values, overrides, client_token, digest
        )
        state.commit()
        return execution.id

    def start_triggered(
        self,
        name: str,
        trigger_type: str,
        trigger_detail: str,
        source_overrides: list[dict[str, str]] | None = None,
    ) -> str | None:
        """Start an execution for a trigger of the engine's own (source change detection).

        Returns None, starting nothing, when the pipeline is gone or at its concurrency limit:
        a detector tries again on its next change rather than failing.
        """
        state = self.state
        record = state.pipelines.get(name)
        if record is None:
            return None
        declaration = state.declaration(name)
        try:
            self._check_capacity(declaration, name)
        except ConcurrentPipelineExecutionsLimitExceededException:
            return None
        execution = self._start(
            record,
            trigger_type,
            trigger_detail,
            self._execution_variables(declaration, None),
            list(source_overrides or []),
            None,
            None,
        )
        state.commit()
        return execution.id

    def _execution_variables(
        self, declaration: PipelineDeclaration, given: list[dict[str, str]] | None
    ) -> dict[str, str]:
        declared = {v.name: v for v in declaration.variables or []}
        if given and declaration.pipeline_type != "V2":
            raise ValidationException(
                "Pipeline variables are supported only by pipelines of type V2"
            )
        values = {
            name: v.default_value for name, v in declared.items() if v.default_value is not None
        }
        seen: set[str] = set()
        for item in given or []:
            variable, value = item.get("name", ""), item.get("value", "")
            if variable not in declared:
                raise ValidationException(f"Variable '{variable}' is not declared in the pipeline")
            if variable in seen:
                raise ValidationException(f"Variable '{variable}' is given more than once")
            if not value:
                raise ValidationException(f"Variable '{variable}' must have a non-empty value")
            seen.add(variable)
            values[variable] = value
        missing = [n for n, v in declared.items() if v.default_value is None and n not in values]
        if given is not None and missing:
            raise ValidationException(
                f"Variable(s) {', '.join(missing)} have no default value and must be given a value"
            )
        return values

    def _source_overrides(
        self, declaration: PipelineDeclaration, overrides: list[dict[str, str]]
    ) -> list[dict[str, str]]:
        if not overrides:
            return []
        if declaration.pipeline_type != "V2":
            raise ValidationException(
                "Source revision overrides are supported only by pipelines of type V2"
            )
        sources = {a.name: a for a in declaration.stages[0].actions}
        allowed = {
            "S3": ("S3_OBJECT_VERSION_ID", "S3_OBJECT_KEY"),
            "CodeCommit": ("COMMIT_ID",),
            "CodeStarSourceConnection": ("COMMIT_ID",),
            "ECR": ("IMAGE_DIGEST",),
        }
        seen: set[str] = set()
        for override in overrides:
            action = sources.get(override.get("actionName", ""))
            if action is None:
                raise ValidationException(
                    f"Source action '{override.get('actionName')}' does not exist in the pipeline's source stage"
                )
            if action.name in seen:
                raise ValidationException(
                    f"Source action '{action.name}' has more than one revision override"
                )
            seen.add(action.name)
            kinds = allowed.get(action.action_type_id.provider, ())
            if override.get("revisionType") not in kinds:
                raise ValidationException(
                    f"Revision type '{override.get('revisionType')}' is not valid for the "
                    f"{action.action_type_id.provider} source action '{action.name}'"
                )
        return [dict(o) for o in overrides]

    def _check_capacity(self, declaration: PipelineDeclaration, name: str) -> None:
        active = self.state.active_executions(name)
        if declaration.execution_mode == "PARALLEL" and len(active) >= MAX_CONCURRENT:
            raise ConcurrentPipelineExecutionsLimitExceededException(
                f"Pipeline '{name}' already runs {MAX_CONCURRENT} executions, the most PARALLEL mode allows"
            )
        if declaration.execution_mode == "QUEUED":
            waiting = sum(1 for e in active if e.phase == "waiting")
            if waiting >= MAX_CONCURRENT:
                raise ConcurrentPipelineExecutionsLimitExceededException(
                    f"Pipeline '{name}' already has {MAX_CONCURRENT} queued executions, the most QUEUED mode allows"
                )

    def _start(
        self,
        record: PipelineRecord,
        trigger: str,
        caller: str,
        variables: dict[str, str],
        overrides: list[dict[str, str]],
        client_token: str | None,
        digest: str | None,
    ) -> ExecutionRecord:
        state = self.state
        declaration = state.declaration(record.name)
        now = state.now()
        execution = ExecutionRecord(
            id=str(uuid.uuid4()),
            pipeline_name=record.name,
            pipeline_version=record.version,
            status="InProgress",
            start_time=now,
            last_update_time=now,
            trigger_type=trigger,
            trigger_detail=caller,
            execution_mode=declaration.execution_mode or "SUPERSEDED",
            variables=variables,
            source_overrides=overrides,
            client_request_token=client_token,
            request_digest=digest,
        )
        state.add_execution(execution)
        if client_token:
            state.client_tokens[(record.name, client_token)] = execution.id
            state.store.client_token_used(record.name, client_token, execution.id)
        state.pipeline_event(
            execution,
            "STARTED",
            **{"execution-trigger": {"trigger-type": trigger, "trigger-detail": caller}},
        )
        self.scheduler.pump(record.name)
        return execution

    def stop_execution(
        self, name: str, execution_id: str, abandon: bool, reason: str | None
    ) -> str:
        state = self.state
        state.pipeline(name)
        execution = state.execution(name, execution_id)
        if execution.status == "Stopping":
            if not abandon or execution.stop_abandon:
                raise DuplicatedStopRequestException(
                    f"Execution '{execution_id}' is already stopping; only a stop-and-abandon request can follow a stop-and-wait"
                )
        elif execution.status != "InProgress":
            raise PipelineExecutionNotStoppableException(
                f"Execution '{execution_id}' is {execution.status} and cannot be stopped"
            )
        self.scheduler.request_stop(execution, abandon, reason)
        state.commit()
        return execution.id

    def retry_stage(self, name: str, stage_name: str, execution_id: str, mode: str) -> str:
        state = self.state
        state.pipeline(name)
        declaration = state.declaration(name)
        stage = declaration.stage(stage_name)
        if stage is None:
            raise StageNotFoundException(
                f"Stage '{stage_name}' does not exist in pipeline '{name}'"
            )
        execution = state.execution(name, execution_id)
        lane = state.runtime(name).lane(stage_name)
        if lane.latest_execution_id != execution_id:
            raise NotLatestPipelineExecutionException(
                f"Execution '{execution_id}' is not the latest execution of stage '{stage_name}'; "
                f"only the latest one ({lane.latest_execution_id}) can be retried"
            )
        stage_run = execution.stages.get(stage_name)
        if execution.pipeline_version != state.pipelines[name].version:
            raise StageNotRetryableException(
                f"The pipeline was updated since execution '{execution_id}' ran; its stage '{stage_name}' cannot be retried"
            )
        if stage_run is None or stage_run.status not in ("Failed", "Stopped"):
            status = stage_run.status if stage_run else "not started"
            raise StageNotRetryableException(
                f"Stage '{stage_name}' of execution '{execution_id}' is {status}; only a Failed or Stopped stage can be retried"
            )
        if execution.status not in ("Failed", "Stopped"):
            raise StageNotRetryableException(
                f"Execution '{execution_id}' is {execution.status}; only a Failed or Stopped execution can be retried"
            )
        self.scheduler.retry_stage(execution, stage, mode, MANUAL_STAGE_RETRY)
        state.commit()
        return execution.id

    def rollback_stage(self, name: str, stage_name: str, target_id: str, caller: str) -> str:
        """RollbackStage: the checks and the rollback execution live in rollback.py."""
        execution = start_rollback(self.state, self.scheduler, name, stage_name, target_id, caller)
        self.state.commit()
        return execution.id

    # Approvals and transitions -----------------------------------------------------------
    def put_approval_result(
        self,
        name: str,
        stage_name: str,
        action_name: str,
        summary: str,
        status: str,
        token: str,
        caller: str,
    ) -> float:
        state = self.state
        state.pipeline(name)
        declaration = state.declaration(name)
        stage = declaration.stage(stage_name)
        if stage is None:
            raise StageNotFoundException(
                f"Stage '{stage_name}' does not exist in pipeline '{name}'"
            )
        action = stage.action(action_name)
        if action is None or action.action_type_id.category != "Approval":
            raise ActionNotFoundException(
                f"Approval action '{action_name}' does not exist in stage '{stage_name}' of pipeline '{name}'"
            )
        run_id = state.approval_tokens.get(token)
        run = state.runs.get(run_id) if run_id else None
        if (
            run is None
            or run.pipeline_name != name
            or run.stage_name != stage_name
            or run.action_name != action_name
        ):
            raise InvalidApprovalTokenException(
                f"The token '{token}' does not match a pending approval of action '{action_name}'"
            )
        if run.answered:
            raise ApprovalAlreadyCompletedException(
                f"The approval of action '{action_name}' was already {(run.status == 'Succeeded' and 'approved') or 'rejected'}"
            )
        if run.status != "InProgress":
            raise InvalidApprovalTokenException(
                f"The approval request for token '{token}' is no longer open ({run.summary or run.status})"
            )
        now = state.now()
        run.answered = True
        run.updated_by = caller
        if status == "Approved":
            self.scheduler.finish_run(run, "Succeeded", summary=summary)
        else:
            message = f"Rejected: {summary}" if summary else "Rejected"
            run.updated_by = caller
            self.scheduler.finish_run(
                run, "Failed", summary=summary, error_code="JobFailed", error_message=message
            )
        state.commit()
        return now

    def set_transition(
        self,
        name: str,
        stage_name: str,
        transition: str,
        enabled: bool,
        reason: str | None,
        caller: str,
    ) -> None:
        state = self.state
        state.pipeline(name)
        declaration = state.declaration(name)
        index = next((i for i, s in enumerate(declaration.stages) if s.name == stage_name), None)
        if index is None:
            raise StageNotFoundException(
                f"Stage '{stage_name}' does not exist in pipeline '{name}'"
            )
        if transition == "Inbound" and index == 0 and not enabled:
            raise ValidationException(
                f"Stage '{stage_name}' is the first stage of pipeline '{name}' and has no inbound transition"
            )
        runtime = state.runtime(name)
        lane = runtime.lane(stage_name)
        record = TransitionRecord(
            enabled=enabled,
            disabled_reason=None if enabled else reason,
            last_changed_by=caller,
            last_changed_at=state.now(),
        )
        if transition == "Inbound":
            lane.inbound = record
        else:
            lane.outbound = record
        state.mark_runtime(runtime)
        self.scheduler.pump(name)
        state.commit()

    # Tags -------------------------------------------------------------------------------
    def _resource(self, arn: str) -> PipelineRecord:
        prefix = f"arn:aws:codepipeline:{self.state.region}:{self.state.account}:"
        parts = arn.split(":")
        if len(parts) < 6 or parts[0] != "arn" or parts[2] != "codepipeline":
            raise InvalidArnException(f"The ARN '{arn}' is not a valid CodePipeline resource ARN")
        name = arn[len(prefix) :] if arn.startswith(prefix) else None
        record = self.state.pipelines.get(name) if name else None
        if record is None:
            raise ResourceNotFoundException(f"The resource with ARN '{arn}' does not exist")
        return record

    def _checked_tags(
        self, new: list[dict[str, str]], existing: list[dict[str, str]]
    ) -> list[dict[str, str]]:
        merged = {t["key"]: t.get("value", "") for t in existing}
        for tag in new:
            key = tag.get("key", "")
            if key.lower().startswith("aws:"):
                raise InvalidTagsException(f"Tag key '{key}' uses the reserved prefix 'aws:'")
            merged[key] = tag.get("value", "")
        if len(merged) > MAX_TAGS:
            raise TooManyTagsException(f"A resource can have at most {MAX_TAGS} tags")
        return [{"key": k, "value": v} for k, v in merged.items()]

    def tag_resource(self, arn: str, tags: list[dict[str, str]]) -> None:
        record = self._resource(arn)
        record.tags = self._checked_tags(tags, record.tags)
        self.state.store.pipeline_changed(record)
        self.state.commit()

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        record = self._resource(arn)
        for key in keys:
            if key.lower().startswith("aws:"):
                raise InvalidTagsException(f"Tag key '{key}' uses the reserved prefix 'aws:'")
        record.tags = [t for t in record.tags if t["key"] not in set(keys)]
        self.state.store.pipeline_changed(record)
        self.state.commit()

    def list_tags(self, arn: str) -> list[dict[str, str]]:
        return list(self._resource(arn).tags)
