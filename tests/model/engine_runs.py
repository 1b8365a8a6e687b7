"""Runs of pipelines on the real engine, in process, with the test deciding every outcome.

`EngineRun` wires the engine the way the endpoint does (SQLite store, object store, event
log, scheduler, action runner, CodePipeline service) on a ManualClock, on one event loop
that outlives a test's examples (each example runs its own pipeline), and registers one
`ScriptedProvider` for the action types the tests use: each action it is given waits until
the test finishes it (succeeded or failed, with output artifacts and a source revision), so a
test can drive any interleaving of executions, failures, retries, stops and approvals and
read back exactly what the engine emitted (its EventBridge event log) and what it answers
(GetPipelineState, ListPipelineExecutions, ListActionExecutions) after the answer went
through botocore's own JSON parser, as boto3 would hand it to the client layer.
"""

from __future__ import annotations

import asyncio
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
from botocore.parsers import create_parser

from tui.local.api.codepipeline import CodePipelineService
from tui.local.clock import ManualClock
from tui.local.engine.custom_types import CustomActionTypes
from tui.local.engine.db import open_database
from tui.local.engine.engine import PipelineEngine
from tui.local.engine.jobs import JobRegistry
from tui.local.engine.logs import LogStore
from tui.local.engine.objects import ObjectStore
from tui.local.engine.providers.job import ActionJob, ActionOutcome, SourceRevision
from tui.local.engine.providers.registry import ProviderRegistry
from tui.local.engine.state import EngineState
from tui.model.declaration import ActionDeclaration

REGION = "us-east-1"
ACCOUNT = "000000000000"
_MODEL = botocore.session.get_session().get_service_model("codepipeline")
_PARSER = create_parser("json")


def through_botocore(operation: str, response: dict[str, Any]) -> dict[str, Any]:
    """The engine's answer as boto3 returns it: serialised as the endpoint sends it, then
    parsed by botocore (timestamps become datetimes)."""
    body = json.dumps(response).encode()
    shape = _MODEL.operation_model(operation).output_shape
    parsed: dict[str, Any] = _PARSER.parse({"status_code": 200, "headers": {}, "body": body}, shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


class ScriptedProvider:
    """Every action it runs waits for the test's verdict."""

    def __init__(self) -> None:
        self.waiting: dict[str, tuple[ActionJob, asyncio.Future[ActionOutcome]]] = {}

    def default_timeout_seconds(self, declaration: ActionDeclaration) -> float | None:
        return None

    async def run(self, job: ActionJob) -> ActionOutcome:
        future: asyncio.Future[ActionOutcome] = asyncio.get_running_loop().create_future()
        self.waiting[job.action_execution_id] = (job, future)
        try:
            return await future
        finally:
            self.waiting.pop(job.action_execution_id, None)


@dataclass
class Snapshot:
    """What a client reads at one moment: GetPipelineState, ListPipelineExecutions (all
    pages) and ListActionExecutions of every execution, as botocore returns them."""

    state: dict[str, Any]
    executions: dict[str, Any]
    action_executions: dict[str, Any]
    # Engine time when it was read, and how many events the log held then.
    taken_at: float
    events_before: int


class EngineRun:
    def __init__(self, data_dir: Path) -> None:
        self.name = ""
        self._events_after = 0
        self.clock = ManualClock()
        self.db = open_database(data_dir)
        self.state = EngineState(self.db, self.clock, REGION, ACCOUNT)
        self.objects = ObjectStore(self.db, data_dir / "objects", self.clock)
        self.provider = ScriptedProvider()
        providers = ProviderRegistry()
        providers.register("Source", "AWS", "S3", "1", self.provider)
        providers.register("Compute", "AWS", "Commands", "1", self.provider)
        self.engine = PipelineEngine(
            self.state,
            self.objects,
            LogStore(self.db, self.clock),
            providers,
            data_dir,
            CustomActionTypes(self.db),
            JobRegistry(ACCOUNT),
        )
        self.service = CodePipelineService(self.engine)
        self.artifact = data_dir / "artifact.zip"
        with zipfile.ZipFile(self.artifact, "w") as archive:
            archive.writestr("README.md", "generated\n")
        self._revisions = 0

    def start_engine(self) -> None:
        self.engine.start()

    async def open(self, declaration: dict[str, Any]) -> str:
        """Create a pipeline (which starts its first execution) that the moves then act on;
        returns that execution."""
        self.name = declaration["name"]
        earlier = self.state.events.read(self._events_after, 1_000_000)
        if earlier:
            self._events_after = earlier[-1][0]
        self.service.create_pipeline({"pipeline": declaration})
        await self.settle()
        return self.executions_newest_first()[0]

    async def retire(self) -> None:
        """Delete the current pipeline (cancelling its running actions)."""
        self.engine.delete_pipeline(self.name)
        for _ in range(1000):
            if not self.engine.runner.tasks:
                return
            await asyncio.sleep(0.001)

    async def close(self) -> None:
        for _, future in list(self.provider.waiting.values()):
            future.cancel()
        await self.engine.close()
        self.db.close()

    async def settle(self) -> None:
        """Wait until every running action is parked in the provider (the engine is idle)."""
        for _ in range(2000):
            tasks = set(self.engine.runner.tasks)
            if tasks <= set(self.provider.waiting):
                await asyncio.sleep(0)
                if set(self.engine.runner.tasks) <= set(self.provider.waiting):
                    return
            await asyncio.sleep(0.001)
        raise AssertionError("the engine did not settle")

    # Moves ------------------------------------------------------------------------------
    def _start_order(self, execution_id: str) -> int:
        order = [e.id for e in self.state.executions_by_pipeline.get(self.name, [])]
        return order.index(execution_id) if execution_id in order else len(order)

    def waiting_jobs(self) -> list[ActionJob]:
        """Actions waiting for a verdict, in an order that does not depend on random ids."""
        jobs = [job for job, _ in self.provider.waiting.values() if job.pipeline_name == self.name]
        return sorted(
            jobs, key=lambda j: (self._start_order(j.execution_id), j.stage_name, j.action_name)
        )

    async def finish(self, job: ActionJob, succeed: bool) -> None:
        _, future = self.provider.waiting[job.action_execution_id]
        if not succeed:
            future.set_result(
                ActionOutcome(status="Failed", summary="generated failure", error_code="JobFailed")
            )
        else:
            revision = None
            if job.declaration.action_type_id.category == "Source":
                self._revisions += 1
                revision = SourceRevision(
                    revision_id=f"{self._revisions:040x}",
                    change_identifier=f"etag-{self._revisions}",
                    summary=f"change {self._revisions}\n\ndetails",
                    created=self.clock.now(),
                )
            future.set_result(
                ActionOutcome(
                    status="Succeeded",
                    summary=f"{job.action_name} done",
                    external_execution_id=f"ext-{job.action_execution_id[:8]}",
                    output_artifacts={
                        a.name: self.artifact for a in job.declaration.output_artifacts
                    },
                    revision=revision,
                )
            )
        await self.settle()

    def pending_approvals(self) -> list[tuple[str, str, str]]:
        """(stage, action, token) of every approval waiting for an answer, oldest execution
        first."""
        runs = [
            run
            for run in self.state.runs.values()
            if run.pipeline_name == self.name
            and run.is_approval
            and run.status == "InProgress"
            and run.token
        ]
        runs.sort(key=lambda r: (self._start_order(r.execution_id), r.stage_name, r.action_name))
        return [(r.stage_name, r.action_name, r.token or "") for r in runs]

    async def answer(self, stage: str, action: str, token: str, approve: bool) -> None:
        self.service.put_approval_result(
            {
                "pipelineName": self.name,
                "stageName": stage,
                "actionName": action,
                "token": token,
                "result": {"summary": "generated", "status": "Approved" if approve else "Rejected"},
            }
        )
        await self.settle()

    async def start(self) -> str:
        answer = self.service.start_pipeline_execution({"name": self.name})
        await self.settle()
        return str(answer["pipelineExecutionId"])

    async def stop(self, execution_id: str, abandon: bool) -> None:
        self.service.stop_pipeline_execution(
            {
                "pipelineName": self.name,
                "pipelineExecutionId": execution_id,
                "abandon": abandon,
                "reason": "generated stop",
            }
        )
        await self.settle()

    async def retry(self, execution_id: str, stage: str, mode: str) -> None:
        self.service.retry_stage_execution(
            {
                "pipelineName": self.name,
                "stageName": stage,
                "pipelineExecutionId": execution_id,
                "retryMode": mode,
            }
        )
        await self.settle()

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.settle()

    # Reads ------------------------------------------------------------------------------
    def executions_newest_first(self) -> list[str]:
        return [e.id for e in reversed(self.state.executions_by_pipeline.get(self.name, []))]

    def execution_status(self, execution_id: str) -> str:
        return self.state.executions[execution_id].status

    def stage_statuses(self, execution_id: str) -> dict[str, str]:
        execution = self.state.executions[execution_id]
        return {name: run.status for name, run in execution.stages.items()}

    def events(self) -> list[dict[str, Any]]:
        """The events of the current pipeline, in the order the engine emitted them."""
        return [
            event
            for _, event in self.state.events.read(self._events_after, 1_000_000)
            if event["detail"]["pipeline"] == self.name
        ]

    def snapshot(self) -> Snapshot:
        name = self.name
        events = self.events()
        state = through_botocore(
            "GetPipelineState", self.service.get_pipeline_state({"name": name})
        )
        executions = through_botocore(
            "ListPipelineExecutions",
            self.service.list_pipeline_executions({"pipelineName": name, "maxResults": 100}),
        )
        details: list[dict[str, Any]] = []
        for execution_id in self.executions_newest_first():
            page = self.service.list_action_executions(
                {
                    "pipelineName": name,
                    "filter": {"pipelineExecutionId": execution_id},
                    "maxResults": 100,
                }
            )
            details.extend(through_botocore("ListActionExecutions", page)["actionExecutionDetails"])
        return Snapshot(
            state=state,
            executions=executions,
            action_executions={"actionExecutionDetails": details},
            taken_at=self.clock.now(),
            events_before=len(events),
        )
