"""Records rendered in the shapes of CodePipeline's responses (botocore's model names).

Timestamps stay epoch-second floats: the JSON protocol sends them as numbers. Members
without a value are left out, as AWS leaves them out.
"""

from __future__ import annotations

from typing import Any

from tui.local.engine.records import (
    ActionRun,
    ArtifactRecord,
    ExecutionRecord,
    PipelineRecord,
    StageRun,
)
from tui.local.engine.state import EngineState


def _compact(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


def pipeline_summary(record: PipelineRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "version": record.version,
        "pipelineType": record.declaration.get("pipelineType", "V1"),
        "executionMode": record.declaration.get("executionMode", "SUPERSEDED"),
        "created": record.created,
        "updated": record.updated,
    }


def pipeline_metadata(record: PipelineRecord) -> dict[str, Any]:
    return {"pipelineArn": record.arn, "created": record.created, "updated": record.updated}


def _artifact(artifact: ArtifactRecord) -> dict[str, Any]:
    return {"name": artifact.name, "s3location": {"bucket": artifact.bucket, "key": artifact.key}}


def _trigger(execution: ExecutionRecord) -> dict[str, Any]:
    return {"triggerType": execution.trigger_type, "triggerDetail": execution.trigger_detail}


def execution_detail(execution: ExecutionRecord) -> dict[str, Any]:
    detail = _compact(
        {
            "pipelineName": execution.pipeline_name,
            "pipelineVersion": execution.pipeline_version,
            "pipelineExecutionId": execution.id,
            "status": execution.status,
            "statusSummary": execution.status_summary,
            "artifactRevisions": list(execution.artifact_revisions),
            "variables": [{"name": k, "resolvedValue": v} for k, v in execution.variables.items()],
            "trigger": _trigger(execution),
            "executionMode": execution.execution_mode,
            "executionType": execution.execution_type,
        }
    )
    if execution.rollback_target:
        detail["rollbackMetadata"] = {
            "rollbackTargetPipelineExecutionId": execution.rollback_target
        }
    return detail


def execution_summary(execution: ExecutionRecord) -> dict[str, Any]:
    summary = _compact(
        {
            "pipelineExecutionId": execution.id,
            "status": execution.status,
            "statusSummary": execution.status_summary,
            "startTime": execution.start_time,
            "lastUpdateTime": execution.last_update_time,
            "sourceRevisions": list(execution.source_revisions),
            "trigger": _trigger(execution),
            "executionMode": execution.execution_mode,
            "executionType": execution.execution_type,
        }
    )
    if execution.stop_requested and execution.stop_reason is not None:
        summary["stopTrigger"] = {"reason": execution.stop_reason}
    elif execution.status in ("Stopped", "Stopping"):
        summary["stopTrigger"] = {"reason": execution.stop_reason or ""}
    if execution.rollback_target:
        summary["rollbackMetadata"] = {
            "rollbackTargetPipelineExecutionId": execution.rollback_target
        }
    return summary


def _error_details(run: ActionRun) -> dict[str, Any] | None:
    if run.status not in ("Failed", "Abandoned") or not (run.error_code or run.error_message):
        return None
    return _compact({"code": run.error_code, "message": run.error_message})


def action_state_execution(run: ActionRun, show_token: bool) -> dict[str, Any]:
    return _compact(
        {
            "actionExecutionId": run.id,
            "status": run.status,
            "summary": run.summary,
            "lastStatusChange": run.last_update_time,
            "token": run.token if (show_token and run.status == "InProgress") else None,
            "lastUpdatedBy": run.updated_by,
            "externalExecutionId": run.external_execution_id,
            "externalExecutionUrl": run.external_execution_url,
            "percentComplete": run.percent_complete,
            "errorDetails": _error_details(run),
            "logStreamARN": run.log_stream_arn,
        }
    )


def retry_stage_metadata(stage_run: StageRun) -> dict[str, Any]:
    """The retries of the stage's latest execution [I: counted per execution, so a new
    execution entering the stage starts without any]. A count of zero is left out: the
    model's RetryAttempt has a minimum of 1."""
    return _compact(
        {
            "autoStageRetryAttempt": stage_run.auto_retry_attempts or None,
            "manualStageRetryAttempt": stage_run.manual_retry_attempts or None,
            "latestRetryTrigger": stage_run.latest_retry_trigger,
        }
    )


def pipeline_state(state: EngineState, name: str) -> dict[str, Any]:
    record = state.pipeline(name)
    declaration = state.declaration(name)
    runtime = state.runtime(name)
    mode = declaration.execution_mode or "SUPERSEDED"
    stages = []
    for index, stage in enumerate(declaration.stages):
        lane = runtime.lane(stage.name)
        rendered: dict[str, Any] = {"stageName": stage.name}
        if index > 0:
            rendered["inboundTransitionState"] = _compact(
                {
                    "enabled": lane.inbound.enabled,
                    "lastChangedBy": lane.inbound.last_changed_by,
                    "lastChangedAt": lane.inbound.last_changed_at,
                    "disabledReason": lane.inbound.disabled_reason,
                }
            )
        waiting = [state.executions[w] for w in lane.waiting if w in state.executions]
        inbound = [
            {"pipelineExecutionId": e.id, "status": e.status, "type": e.execution_type}
            for e in waiting
            if e.active
        ]
        if inbound and mode == "SUPERSEDED":
            rendered["inboundExecution"] = inbound[-1]
        elif inbound:
            rendered["inboundExecution"] = inbound[0]
            rendered["inboundExecutions"] = inbound
        actions = []
        for action in stage.actions:
            action_state: dict[str, Any] = {"actionName": action.name}
            run_id = lane.action_latest.get(action.name)
            run = state.runs.get(run_id) if run_id else None
            if run is not None:
                action_state["latestExecution"] = action_state_execution(run, mode != "PARALLEL")
                if run.revision is not None and run.status == "Succeeded":
                    action_state["currentRevision"] = _compact(
                        {
                            "revisionId": run.revision.get("revisionId"),
                            "revisionChangeId": run.revision.get("revisionChangeIdentifier"),
                            "created": run.revision.get("created"),
                        }
                    )
            actions.append(action_state)
        rendered["actionStates"] = actions
        latest = state.executions.get(lane.latest_execution_id or "")
        if latest is not None and stage.name in latest.stages:
            stage_run = latest.stages[stage.name]
            rendered["latestExecution"] = {
                "pipelineExecutionId": latest.id,
                "status": stage_run.status,
                "type": stage_run.type,
            }
            if stage_run.latest_retry_trigger:
                rendered["retryStageMetadata"] = retry_stage_metadata(stage_run)
        stages.append(rendered)
    return {
        "pipelineName": record.name,
        "pipelineVersion": record.version,
        "stageStates": stages,
        "created": record.created,
        "updated": record.updated,
    }


def action_execution_detail(run: ActionRun) -> dict[str, Any]:
    result = _compact(
        {
            "externalExecutionId": run.external_execution_id,
            "externalExecutionSummary": run.summary,
            "externalExecutionUrl": run.external_execution_url,
            "errorDetails": _error_details(run),
            "logStreamARN": run.log_stream_arn,
        }
    )
    return _compact(
        {
            "pipelineExecutionId": run.execution_id,
            "actionExecutionId": run.id,
            "pipelineVersion": run.pipeline_version,
            "stageName": run.stage_name,
            "actionName": run.action_name,
            "startTime": run.start_time,
            "lastUpdateTime": run.last_update_time,
            "updatedBy": run.updated_by,
            "status": run.status,
            "input": _compact(
                {
                    "actionTypeId": dict(run.action_type_id),
                    "configuration": dict(run.configuration),
                    "resolvedConfiguration": dict(run.resolved_configuration),
                    "roleArn": run.role_arn,
                    "region": run.region,
                    "inputArtifacts": [_artifact(a) for a in run.input_artifacts],
                    "namespace": run.namespace,
                }
            ),
            "output": {
                "outputArtifacts": [_artifact(a) for a in run.output_artifacts],
                "executionResult": result,
                "outputVariables": dict(run.output_variables),
            },
        }
    )
