"""The engine's live state: every record in memory, indexed, and the one way to commit it.

The scheduler, the action runner and the API operations all read and change records here,
on the event loop's thread only. `mark_*` records a change; `commit()` writes every change
and the events it produced in one SQLite transaction, then delivers the events. Each entry
point into the engine (an API call, an action finishing, a timer) ends with a commit.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any

from tui.local.clock import Clock
from tui.local.engine.events import (
    ACTION_DETAIL_TYPE,
    PIPELINE_DETAIL_TYPE,
    STAGE_DETAIL_TYPE,
    EventLog,
)
from tui.local.engine.records import (
    ActionRun,
    ExecutionRecord,
    PipelineRecord,
    PipelineRuntime,
)
from tui.local.engine.store import EngineStore
from tui.model.declaration import PipelineDeclaration, parse_pipeline
from tui.model.errors import PipelineExecutionNotFoundException, PipelineNotFoundException


class EngineState:
    def __init__(self, db: sqlite3.Connection, clock: Clock, region: str, account: str) -> None:
        self.clock = clock
        self.region = region
        self.account = account
        self.store = EngineStore(db)
        self.events = EventLog(db, region, account)
        self.pipelines: dict[str, PipelineRecord] = {}
        self.runtimes: dict[str, PipelineRuntime] = {}
        self.executions: dict[str, ExecutionRecord] = {}
        # Per pipeline, oldest first.
        self.executions_by_pipeline: dict[str, list[ExecutionRecord]] = defaultdict(list)
        self.runs: dict[str, ActionRun] = {}
        # Per execution, in start order.
        self.runs_by_execution: dict[str, list[ActionRun]] = defaultdict(list)
        # Approval token -> action run id, for every approval ever issued.
        self.approval_tokens: dict[str, str] = {}
        self.client_tokens: dict[tuple[str, str], str] = {}
        self._declarations: dict[tuple[str, int], PipelineDeclaration] = {}

    # Lookups --------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    def pipeline_arn(self, name: str) -> str:
        return f"arn:aws:codepipeline:{self.region}:{self.account}:{name}"

    def pipeline(self, name: str) -> PipelineRecord:
        record = self.pipelines.get(name)
        if record is None:
            raise PipelineNotFoundException(
                f"Account '{self.account}' does not have a pipeline with name '{name}'"
            )
        return record

    def runtime(self, name: str) -> PipelineRuntime:
        return self.runtimes[name]

    def declaration(self, name: str, version: int | None = None) -> PipelineDeclaration:
        """The parsed declaration of a pipeline version (the current one by default)."""
        record = self.pipeline(name)
        version = record.version if version is None else version
        cached = self._declarations.get((name, version))
        if cached is not None:
            return cached
        if version == record.version:
            data = record.declaration
        else:
            stored = self.store.pipeline_version(name, version)
            if stored is None:
                raise KeyError((name, version))
            data = stored
        parsed = parse_pipeline(data)
        self._declarations[(name, version)] = parsed
        return parsed

    def forget_declarations(self, name: str) -> None:
        for key in [k for k in self._declarations if k[0] == name]:
            del self._declarations[key]

    def execution(self, pipeline: str, execution_id: str) -> ExecutionRecord:
        execution = self.executions.get(execution_id)
        if execution is None or execution.pipeline_name != pipeline:
            raise PipelineExecutionNotFoundException(
                f"Pipeline execution with id '{execution_id}' does not exist in pipeline with name '{pipeline}'"
            )
        return execution

    def active_executions(self, pipeline: str) -> list[ExecutionRecord]:
        return [e for e in self.executions_by_pipeline.get(pipeline, []) if e.active]

    def current_run(self, execution: ExecutionRecord, stage: str, action: str) -> ActionRun | None:
        stage_run = execution.stages.get(stage)
        if stage_run is None or action not in stage_run.actions:
            return None
        return self.runs.get(stage_run.actions[action])

    # Registration and change marks ----------------------------------------------------
    def add_execution(self, execution: ExecutionRecord) -> None:
        self.executions[execution.id] = execution
        self.executions_by_pipeline[execution.pipeline_name].append(execution)
        self.store.execution_changed(execution)

    def add_run(self, run: ActionRun) -> None:
        self.runs[run.id] = run
        self.runs_by_execution[run.execution_id].append(run)
        if run.token:
            self.approval_tokens[run.token] = run.id
        self.store.action_run_changed(run)

    def mark_execution(self, execution: ExecutionRecord) -> None:
        execution.last_update_time = self.now()
        self.store.execution_changed(execution)

    def mark_run(self, run: ActionRun) -> None:
        run.last_update_time = self.now()
        self.store.action_run_changed(run)

    def mark_runtime(self, runtime: PipelineRuntime) -> None:
        self.store.runtime_changed(runtime)

    def drop_pipeline(self, name: str) -> None:
        self.pipelines.pop(name, None)
        self.runtimes.pop(name, None)
        for execution in self.executions_by_pipeline.pop(name, []):
            self.executions.pop(execution.id, None)
            for run in self.runs_by_execution.pop(execution.id, []):
                self.runs.pop(run.id, None)
                if run.token:
                    self.approval_tokens.pop(run.token, None)
        for key in [k for k in self.client_tokens if k[0] == name]:
            del self.client_tokens[key]
        self.forget_declarations(name)
        self.store.pipeline_deleted(name)

    def commit(self) -> None:
        self.store.flush(self.events.take_statements())
        self.events.deliver()

    # Events -----------------------------------------------------------------------------
    def pipeline_event(self, execution: ExecutionRecord, state: str, **extra: Any) -> None:
        detail: dict[str, Any] = {
            "pipeline": execution.pipeline_name,
            "execution-id": execution.id,
            "state": state,
            "version": execution.pipeline_version,
        }
        detail.update(extra)
        self._emit(PIPELINE_DETAIL_TYPE, execution.pipeline_name, detail)

    def stage_event(self, execution: ExecutionRecord, stage: str, state: str) -> None:
        detail = {
            "pipeline": execution.pipeline_name,
            "execution-id": execution.id,
            "stage": stage,
            "state": state,
            "version": execution.pipeline_version,
        }
        self._emit(STAGE_DETAIL_TYPE, execution.pipeline_name, detail)

    def action_event(self, run: ActionRun, state: str) -> None:
        detail: dict[str, Any] = {
            "pipeline": run.pipeline_name,
            "execution-id": run.execution_id,
            "stage": run.stage_name,
            "action": run.action_name,
            "state": state,
            "region": run.region or self.region,
            "type": {
                "owner": run.action_type_id["owner"],
                "category": run.action_type_id["category"],
                "provider": run.action_type_id["provider"],
                "version": run.action_type_id["version"],
            },
            "version": run.pipeline_version,
        }
        if state == "STARTED" and run.input_artifacts:
            detail["input-artifacts"] = [
                {"name": a.name, "s3location": {"bucket": a.bucket, "key": a.key}}
                for a in run.input_artifacts
            ]
        if state == "SUCCEEDED" and run.output_artifacts:
            detail["output-artifacts"] = [
                {"name": a.name, "s3location": {"bucket": a.bucket, "key": a.key}}
                for a in run.output_artifacts
            ]
        if state in ("SUCCEEDED", "FAILED"):
            result: dict[str, Any] = {}
            if run.external_execution_url:
                result["external-execution-url"] = run.external_execution_url
            if run.summary:
                result["external-execution-summary"] = run.summary
            if run.external_execution_id:
                result["external-execution-id"] = run.external_execution_id
            if run.error_code and state == "FAILED":
                result["error-code"] = run.error_code
            if result:
                detail["execution-result"] = result
        self._emit(ACTION_DETAIL_TYPE, run.pipeline_name, detail)

    def _emit(self, detail_type: str, pipeline: str, detail: dict[str, Any]) -> None:
        when = self.now()
        self.events.emit(
            self.events.envelope(detail_type, when, self.pipeline_arn(pipeline), detail), when
        )
