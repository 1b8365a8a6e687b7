"""Runs one action execution through its provider, as a task on the event loop.

Around the provider's own work the runner does what is the same for every provider: a
fresh workspace under `<data-dir>/workspaces/<action execution id>`, input artifacts
downloaded from the artifact store and unzipped safely into `inputs/<artifact name>`,
the action's timeout on the engine clock, output zips uploaded to the artifact store under
`<pipeline>/<artifact name[:10]>/<random>`, and the result recorded through the scheduler.

Workspace retention [I]: a workspace is removed as soon as its action ends; everything worth
keeping (logs, output artifacts, output variables) is stored elsewhere by then. Workspaces a
crash left behind (their actions end Failed as interrupted at the next start) are removed by
`remove_leftover_workspaces` when the engine starts, before any action runs.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

from tui.local.engine.artifacts import ArtifactError, artifact_key, safe_extract
from tui.local.engine.logs import LogStore
from tui.local.engine.objects import ObjectStore
from tui.local.engine.providers.job import ActionJob, ActionOutcome, ArtifactLocation
from tui.local.engine.providers.registry import ProviderRegistry
from tui.local.engine.records import ActionRun, ArtifactRecord
from tui.local.engine.scheduler import Scheduler
from tui.local.engine.state import EngineState
from tui.local.engine.variables import UnresolvedVariable, resolve_configuration
from tui.model.declaration import ActionDeclaration
from tui.model.errors import AwsError

log = logging.getLogger(__name__)

COMMANDS_LOG_GROUP = "/aws/codepipeline/{pipeline}"


class ActionRunner:
    def __init__(
        self,
        state: EngineState,
        scheduler: Scheduler,
        objects: ObjectStore,
        logs: LogStore,
        providers: ProviderRegistry,
        data_dir: Path,
    ) -> None:
        self.state = state
        self.scheduler = scheduler
        self.objects = objects
        self.logs = logs
        self.providers = providers
        self.workspaces = data_dir / "workspaces"
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.closing = False
        scheduler.start_task = self.start
        scheduler.cancel_task = self.cancel

    def remove_leftover_workspaces(self) -> None:
        """Remove every workspace under the data dir; only call it while no action runs."""
        if self.tasks or not self.workspaces.is_dir():
            return
        for leftover in self.workspaces.iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    def start(self, run: ActionRun) -> None:
        self.tasks[run.id] = asyncio.get_running_loop().create_task(
            self._run(run.id), name=f"action {run.id}"
        )

    def cancel(self, run_id: str) -> None:
        task = self.tasks.get(run_id)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        """Cancel every running action (their providers kill their processes).

        Their records stay InProgress: the next start of the endpoint finds them and ends them
        as interrupted, exactly as after a crash.
        """
        self.closing = True
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _action_declaration(self, run: ActionRun) -> ActionDeclaration:
        declaration = self.state.declaration(run.pipeline_name, run.pipeline_version)
        stage = declaration.stage(run.stage_name)
        assert stage is not None
        action = stage.action(run.action_name)
        assert action is not None
        return action

    def artifact_bucket(self, pipeline: str, version: int, region: str | None) -> str:
        declaration = self.state.declaration(pipeline, version)
        if declaration.artifact_store is not None:
            return declaration.artifact_store.location
        stores = declaration.artifact_stores or {}
        store = stores.get(region or self.state.region) or stores.get(self.state.region)
        if store is None:
            store = next(iter(stores.values()))
        return store.location

    async def _run(self, run_id: str) -> None:
        run = self.state.runs[run_id]
        workspace = self.workspaces / run.id
        try:
            try:
                outcome = await self._execute(run, workspace)
            except asyncio.CancelledError:
                if self.closing:
                    raise
                # Abandoned or timed out: the scheduler already recorded why.
                self.state.commit()
                return
            except Exception as exc:
                log.exception("action %s failed inside the engine", run.id)
                outcome = ActionOutcome(
                    status="Failed",
                    summary=f"The local engine could not run this action: {exc}",
                    error_code="JobFailed",
                )
            # The action's log is durable before its result is (LogStore buffers lines).
            self.logs.flush()
            self._record(run, outcome)
            self.state.commit()
        finally:
            self.logs.flush()
            self.tasks.pop(run_id, None)
            await asyncio.to_thread(shutil.rmtree, workspace, True)

    async def _execute(self, run: ActionRun, workspace: Path) -> ActionOutcome:
        action = self._action_declaration(run)
        provider = self.providers.find(run.action_type_id)
        if provider is None:
            type_id = run.action_type_id
            return ActionOutcome(
                status="Failed",
                summary=(
                    f"The local engine cannot run actions of type {type_id['category']}/{type_id['owner']}/"
                    f"{type_id['provider']}/{type_id['version']}; it runs: {', '.join(self.providers.names())}."
                ),
                error_code="JobFailed",
            )
        try:
            action = self._resolved_commands(run, action)
        except UnresolvedVariable as exc:
            return ActionOutcome(status="Failed", summary=str(exc), error_code="JobFailed")
        workspace.mkdir(parents=True, exist_ok=True)
        input_dirs: dict[str, Path] = {}
        for artifact in run.input_artifacts:
            obj = self.objects.head_object(artifact.bucket, artifact.key)
            source = self.objects.object_path(obj)
            destination = workspace / "inputs" / artifact.name
            try:
                await asyncio.to_thread(safe_extract, source, destination)
            except ArtifactError as exc:
                # A hostile or broken artifact is the input's fault, not the engine's.
                return ActionOutcome(
                    status="Failed",
                    summary=f"The input artifact {artifact.name} cannot be unpacked: {exc}",
                    error_code="JobFailed",
                )
            input_dirs[artifact.name] = destination
        group = COMMANDS_LOG_GROUP.format(pipeline=run.pipeline_name)
        stream = run.id
        self.logs.ensure_stream(group, stream)
        if run.action_type_id.get("provider") == "Commands":
            run.log_stream_arn = self.logs.stream_arn(
                self.state.region, self.state.account, group, stream
            )
            self.state.mark_run(run)
            self.state.commit()
        job = ActionJob(
            pipeline_name=run.pipeline_name,
            pipeline_arn=self.state.pipeline_arn(run.pipeline_name),
            pipeline_version=run.pipeline_version,
            stage_name=run.stage_name,
            action_name=run.action_name,
            execution_id=run.execution_id,
            action_execution_id=run.id,
            region=run.region or self.state.region,
            account=self.state.account,
            declaration=action,
            configuration=run.resolved_configuration,
            workspace=workspace,
            input_dirs=input_dirs,
            input_artifacts=[
                ArtifactLocation(a.name, a.bucket, a.key) for a in run.input_artifacts
            ],
            artifact_bucket=self.artifact_bucket(
                run.pipeline_name, run.pipeline_version, run.region
            ),
            log=lambda line: self.logs.append(group, stream, line),
            clock=self.state.clock,
            log_group=group,
            log_stream=stream,
            env=self._job_env(run),
            build_number=self._build_number(run),
            report_external=lambda external_id, url: self._report_external(run, external_id, url),
        )
        timer = None
        # [I] As on AWS, timeoutInMinutes is honoured only by approvals; every other action
        # gets its provider's limit.
        timeout = provider.default_timeout_seconds(action)
        if timeout is not None:
            timer = self.state.clock.call_at(
                run.start_time + timeout, lambda: self._timed_out(run.id, timeout)
            )
        try:
            return await provider.run(job)
        finally:
            if timer is not None:
                timer.cancel()

    def _resolved_commands(self, run: ActionRun, action: ActionDeclaration) -> ActionDeclaration:
        """The Commands action's commands and environment values with `#{...}` resolved."""
        if not action.commands and not action.environment_variables:
            return action
        execution = self.state.executions[run.execution_id]
        texts = {f"c{i}": c for i, c in enumerate(action.commands or [])}
        texts.update({f"e{i}": v.value for i, v in enumerate(action.environment_variables or [])})
        resolved = resolve_configuration(
            texts,
            execution_id=execution.id,
            variables=execution.variables,
            namespaces=execution.namespaces,
        )
        update: dict[str, object] = {}
        if action.commands:
            update["commands"] = [resolved[f"c{i}"] for i in range(len(action.commands))]
        if action.environment_variables:
            update["environment_variables"] = [
                v.model_copy(update={"value": resolved[f"e{i}"]})
                for i, v in enumerate(action.environment_variables)
            ]
        return action.model_copy(update=update)

    def _report_external(self, run: ActionRun, external_id: str, url: str | None) -> None:
        if run.status != "InProgress":
            return
        run.external_execution_id = external_id
        run.external_execution_url = url
        self.state.mark_run(run)
        self.state.commit()

    def _build_number(self, run: ActionRun) -> int:
        """How many times this action of this pipeline has run, this run included."""
        return sum(
            1
            for execution in self.state.executions_by_pipeline.get(run.pipeline_name, [])
            for other in self.state.runs_by_execution.get(execution.id, [])
            if other.stage_name == run.stage_name and other.action_name == run.action_name
        )

    def _job_env(self, run: ActionRun) -> dict[str, str]:
        execution = self.state.executions[run.execution_id]
        env: dict[str, str] = {}
        resolved = self._resolved_source_version(run, execution.artifact_revisions)
        if resolved is not None:
            env["CODEBUILD_RESOLVED_SOURCE_VERSION"] = resolved
        for override in execution.source_overrides:
            if override.get("actionName") == run.action_name:
                env["PIPETOP_SOURCE_REVISION"] = override["revisionValue"]
                env["PIPETOP_SOURCE_REVISION_TYPE"] = override["revisionType"]
        return env

    @staticmethod
    def _resolved_source_version(run: ActionRun, revisions: list[dict[str, Any]]) -> str | None:
        """The source revision of the action's primary input (`PrimarySource`, else its first
        input), as CodePipeline hands it to CodeBuild.

        [I] An execution records its source revisions in the order its sources finished, so
        the first of them is not a choice. When the primary input is no source's artifact (a
        build's output), the revision is used only if the execution has exactly one source
        revision; with several it is left unset rather than guessed.
        """
        known = [r for r in revisions if r.get("revisionId")]
        names = [a.name for a in run.input_artifacts]
        primary = run.resolved_configuration.get("PrimarySource") or (names[0] if names else None)
        for revision in known:
            if revision.get("name") == primary:
                return str(revision["revisionId"])
        if len(known) == 1:
            return str(known[0]["revisionId"])
        return None

    def _timed_out(self, run_id: str, seconds: float) -> None:
        run = self.state.runs.get(run_id)
        if run is None or run.status != "InProgress":
            return
        minutes = seconds / 60
        self.scheduler.fail_run(
            run, f"The action timed out after {minutes:g} minutes.", "JobFailed"
        )
        self.cancel(run_id)
        self.state.commit()

    def _record(self, run: ActionRun, outcome: ActionOutcome) -> None:
        if run.status != "InProgress":
            return
        run.external_execution_id = outcome.external_execution_id or run.external_execution_id
        run.external_execution_url = outcome.external_execution_url
        if outcome.log_stream_arn:
            run.log_stream_arn = outcome.log_stream_arn
        if outcome.status != "Succeeded":
            message = outcome.summary or "The action failed."
            run.output_variables = dict(outcome.output_variables)
            self.scheduler.finish_run(
                run,
                "Failed",
                summary=message,
                error_code=outcome.error_code or "JobFailed",
                error_message=message,
            )
            return
        action = self._action_declaration(run)
        bucket = self.artifact_bucket(run.pipeline_name, run.pipeline_version, run.region)
        self.objects.ensure_bucket(bucket)
        artifacts = []
        for declared in action.output_artifacts:
            uploaded = outcome.uploaded_artifacts.get(declared.name)
            if uploaded is not None:
                try:
                    self.objects.head_object(uploaded.bucket, uploaded.key)
                except AwsError:
                    message = (
                        f"The output artifact {declared.name} was not uploaded to "
                        f"s3://{uploaded.bucket}/{uploaded.key}."
                    )
                    self.scheduler.finish_run(
                        run,
                        "Failed",
                        summary=message,
                        error_code="JobFailed",
                        error_message=message,
                    )
                    return
                artifacts.append(
                    ArtifactRecord(name=declared.name, bucket=uploaded.bucket, key=uploaded.key)
                )
                continue
            path = outcome.output_artifacts.get(declared.name)
            if path is None or not path.exists():
                message = f"The action did not produce its output artifact {declared.name}."
                self.scheduler.finish_run(
                    run, "Failed", summary=message, error_code="JobFailed", error_message=message
                )
                return
            key = artifact_key(run.pipeline_name, declared.name)
            self.objects.put_object_file(bucket, key, path)
            artifacts.append(ArtifactRecord(name=declared.name, bucket=bucket, key=key))
        if outcome.revision is not None:
            revision = outcome.revision
            name = action.output_artifacts[0].name if action.output_artifacts else run.action_name
            run.revision = {
                k: v
                for k, v in {
                    "name": name,
                    "revisionId": revision.revision_id,
                    "revisionChangeIdentifier": revision.change_identifier,
                    "revisionSummary": revision.summary,
                    "created": revision.created,
                    "revisionUrl": revision.url,
                }.items()
                if v is not None
            }
        self.scheduler.record_outputs(run, artifacts, dict(outcome.output_variables))
        self.scheduler.finish_run(run, "Succeeded", summary=outcome.summary)
