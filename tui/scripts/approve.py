"""`pipetop approve PIPELINE --stage S --action A --summary TEXT [--reject]`.

Finds the pending approval's token and answers it, so a script never handles tokens:

- SUPERSEDED and QUEUED pipelines: the token of the action's latest run in GetPipelineState
  (only one execution can be inside a stage, so there is at most one pending approval).
- PARALLEL pipelines: GetPipelineState shows no tokens; the token is the
  `output.executionResult.externalExecutionId` of the InProgress approval run in
  ListActionExecutions (reference 3.7), looked up in each in-flight execution. [I] When
  several executions wait at the same approval, `--execution` must say which: answering
  an arbitrary one would approve a revision nobody chose.
- `--execution ID` (any mode) answers only that execution's approval.

Outcomes (exit codes from `script.ExitCode`): 0 and one line naming what was answered;
NOT_FOUND when the pipeline, stage or execution does not exist or the action is not an
approval action of that stage (the message lists the approval actions there); NO_PENDING when
nothing waits on that action; STALE when the token was answered or expired between the
look-up and the answer (InvalidApprovalToken, ApprovalAlreadyCompleted); AWS for any other
refusal or failure. The summary is at most 512 characters (the API's limit), checked by the
command line before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from tui.aws.pipelines import ApprovalStatus, PipelineClient
from tui.scripts.script import ExitCode, ScriptFailed

MAX_SUMMARY = 512
IN_FLIGHT = ("InProgress", "Stopping")
STALE_CODES = ("InvalidApprovalTokenException", "ApprovalAlreadyCompletedException")


@dataclass(frozen=True)
class ApprovalRequest:
    pipeline: str
    stage: str
    action: str
    summary: str
    status: ApprovalStatus
    execution_id: str | None = None


@dataclass(frozen=True)
class PendingApproval:
    token: str
    execution_id: str | None


def _approval_action(declaration: dict[str, Any], request: ApprovalRequest) -> None:
    stages = {s["name"]: s for s in declaration.get("stages", [])}
    stage = stages.get(request.stage)
    if stage is None:
        raise ScriptFailed(
            ExitCode.NOT_FOUND,
            f"pipeline {request.pipeline} has no stage {request.stage} "
            f"(stages: {', '.join(stages) or 'none'})",
        )
    approvals = [
        a["name"] for a in stage.get("actions", []) if a["actionTypeId"]["category"] == "Approval"
    ]
    if request.action not in approvals:
        where = f"stage {request.stage} of pipeline {request.pipeline}"
        listed = ", ".join(approvals) if approvals else "none"
        raise ScriptFailed(
            ExitCode.NOT_FOUND,
            f"{where} has no approval action {request.action} (approval actions: {listed})",
        )


async def _pending_in_state(
    pipelines: PipelineClient, request: ApprovalRequest
) -> PendingApproval | str:
    """The pending approval, or (a string) why there is none."""
    state = await pipelines.get_pipeline_state(request.pipeline)
    for stage in state.get("stageStates", []):
        if stage.get("stageName") != request.stage:
            continue
        execution_id = (stage.get("latestExecution") or {}).get("pipelineExecutionId")
        for action in stage.get("actionStates", []):
            if action.get("actionName") != request.action:
                continue
            latest = action.get("latestExecution") or {}
            if latest.get("status") != "InProgress" or not latest.get("token"):
                return f"its latest run is {latest.get('status', 'not started')}"
            if request.execution_id not in (None, execution_id):
                return f"the approval pending there belongs to execution {execution_id}"
            return PendingApproval(str(latest["token"]), execution_id)
    return "it has not run yet"


async def _pending_in_runs(
    pipelines: PipelineClient, request: ApprovalRequest
) -> PendingApproval | str:
    if request.execution_id is not None:
        candidates = [request.execution_id]
    else:
        summaries = await pipelines.list_pipeline_executions(request.pipeline)
        candidates = [s["pipelineExecutionId"] for s in summaries if s.get("status") in IN_FLIGHT]
    found: list[PendingApproval] = []
    for execution_id in candidates:
        runs = await pipelines.list_action_executions(
            request.pipeline, latest_in_execution=execution_id
        )
        for run in runs:
            if (
                run.get("stageName") == request.stage
                and run.get("actionName") == request.action
                and run.get("status") == "InProgress"
            ):
                result = (run.get("output") or {}).get("executionResult") or {}
                token = result.get("externalExecutionId")
                if token:
                    found.append(PendingApproval(str(token), execution_id))
    if len(found) > 1:
        ids = ", ".join(p.execution_id or "?" for p in found)
        raise ScriptFailed(
            ExitCode.USAGE,
            f"{len(found)} executions wait at this approval ({ids}); "
            "pass --execution ID to answer one",
        )
    if found:
        return found[0]
    return (
        "no in-flight execution waits there"
        if request.execution_id is None
        else (f"execution {request.execution_id} does not wait there")
    )


async def approve(pipelines: PipelineClient, request: ApprovalRequest, out: TextIO) -> int:
    """Answer the pending approval `request` names; returns the exit code."""
    if request.execution_id is not None:
        # Fails with PipelineExecutionNotFound (exit NOT_FOUND) for an unknown id.
        await pipelines.get_pipeline_execution(request.pipeline, request.execution_id)
    got = await pipelines.get_pipeline(request.pipeline)
    declaration: dict[str, Any] = got["pipeline"]
    _approval_action(declaration, request)
    parallel = declaration.get("executionMode") == "PARALLEL"
    pending = await (_pending_in_runs if parallel else _pending_in_state)(pipelines, request)
    if isinstance(pending, str):
        raise ScriptFailed(
            ExitCode.NO_PENDING,
            f"no approval is pending for {request.action} in stage {request.stage} "
            f"of pipeline {request.pipeline}: {pending}",
        )
    try:
        answered = await pipelines.put_approval_result(
            request.pipeline,
            request.stage,
            request.action,
            pending.token,
            request.status,
            request.summary,
        )
    except Exception as exc:
        error = (getattr(exc, "response", None) or {}).get("Error") or {}
        if error.get("Code") in STALE_CODES:
            raise ScriptFailed(
                ExitCode.STALE,
                f"the approval of {request.action} was answered or expired before this "
                f"answer arrived ({error['Code']}: {error.get('Message', '')})",
            ) from None
        raise
    verb = "approved" if request.status == "Approved" else "rejected"
    when = f" at {_iso(answered)}" if answered else ""
    execution = f" (execution {pending.execution_id})" if pending.execution_id else ""
    print(
        f"{verb} {request.action} in stage {request.stage} of pipeline "
        f"{request.pipeline}{execution}{when}",
        file=out,
        flush=True,
    )
    return ExitCode.OK


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
