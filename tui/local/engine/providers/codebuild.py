"""The CodeBuild action (categories Build and Test, owner AWS, provider CodeBuild, version 1).

AWS starts a build of the project named by `ProjectName` and runs its buildspec in a
container; the local engine runs the buildspec (tui.local.engine.buildspec) in a shell on
this machine, in the run's own workspace, with no container and no image. The build is a
real CodeBuild build of the local endpoint: recorded in the build store (BatchGetBuilds
shows its phases as they pass), its log in the log group `/aws/codebuild/<project>`, stream
`<build uuid>` (unless the project's logsConfig says otherwise), never in the Commands group.

Decisions recorded here:

- Project: `ProjectName` names a project of the build store (CreateProject). [I] An unknown
  project is created with defaults (source and artifacts CODEPIPELINE, a standard Linux image
  that is never used, 60-minute timeout), so its builds are readable like any other's; a log
  line says so. The buildspec is the project's `source.buildspec` when set (inline YAML when
  it contains a newline or `: `, else a path relative to the primary source that must stay
  inside it; an S3 ARN is refused), else `buildspec.yml` in the primary source.
- Inputs: the first input is primary unless `PrimarySource` names another (required with
  more than one input, as in AWS). The primary is `CODEBUILD_SRC_DIR` and the directory the
  build starts in; every other input is `CODEBUILD_SRC_DIR_<artifact name>`, its S3 location
  `CODEBUILD_SOURCE_VERSION_<artifact name>`. `BatchEnabled=true` fails the action: batch
  builds need AWS. `CombineArtifacts` only matters for batches.
- Environment, lowest to highest: the base set, the buildspec's `env` (variables, then
  parameter-store, then secrets-manager), the project's environment variables, the action's
  `EnvironmentVariables`, then CodeBuild's own variables. The base set is all the server
  passes on, so its own environment and AWS credentials never leak in: `PATH` (the server's,
  so local tools work [I]), `HOME` and `TMPDIR` (fresh directories inside the workspace),
  `LANG=C.UTF-8`, `AWS_REGION` and `AWS_DEFAULT_REGION` (the action's region), and what the
  engine passes in `job.env` except its own `PIPETOP_*` entries. CodeBuild's variables:
  `CODEBUILD_BUILD_ID`, `_ARN`, `_NUMBER`, `_IMAGE`, `_SUCCEEDING` (1, and 0 from the moment
  a phase fails), `CODEBUILD_INITIATOR=codepipeline/<pipeline>`, `CODEBUILD_KMS_KEY_ID`,
  `CODEBUILD_LOG_PATH`, `CODEBUILD_SRC_DIR[_<name>]`, `CODEBUILD_SOURCE_VERSION[_<name>]`
  (`arn:aws:s3:::<bucket>/<key>` of the input zip), `CODEBUILD_RESOLVED_SOURCE_VERSION`
  (when the engine knows it) and `CODEBUILD_START_TIME` (epoch ms).
- PARAMETER_STORE and SECRETS_MANAGER values come from the config file
  (tui.local.engine.providers.codebuild_env); all variables are resolved in DOWNLOAD_SOURCE,
  after the buildspec is read, and a missing value fails that phase naming the variable and
  how to provide it. As in CodeBuild, a Secrets Manager variable (any level) and a project's
  or action's Parameter Store variable cannot be exported: the buildspec is refused. [I] Secret values of 3 characters or more are masked as `***` in the
  log (shorter ones would garble it).
- Shell: the buildspec's `env.shell` (`bash`, `/bin/sh`), else bash when present, else sh.
  Version 0.2 keeps one `ShellSession` for the whole build: `cd`, variables and background
  jobs carry over between commands and phases. [I] A command that ends the shell (`exit`,
  `exec`, a failure under `set -e`) has the shell's exit status; the next command runs in a
  fresh session started in the primary source with the build's environment (what the ended
  session had set is lost; a log line says so). Version 0.1 runs every command in a fresh
  session. Every command's stdin is /dev/null.
- Phases, in order: SUBMITTED, QUEUED, PROVISIONING, DOWNLOAD_SOURCE, INSTALL, PRE_BUILD,
  BUILD, POST_BUILD, UPLOAD_ARTIFACTS, FINALIZING, COMPLETED, recorded as they start.
  Commands run in order and the first failing one ends the phase's commands; `finally`
  commands always run after them and the first failing one ends them; the phase fails if
  any of them failed. After a failed phase: `on-failure: ABORT` goes to FINALIZING,
  `CONTINUE` to the next phase; without it, a failure in INSTALL or PRE_BUILD goes to
  FINALIZING, one in BUILD still runs POST_BUILD, and UPLOAD_ARTIFACTS is attempted after
  BUILD and POST_BUILD whatever happened in them. Any failed phase fails the build.
- Exported variables are read from the session after the last phase of commands that ran
  (the values at the end of POST_BUILD when it ran; a name never set exports an empty
  string). They are the build's `exportedEnvironmentVariables` and, when the action
  succeeds, its output variables (more than 122 880 bytes in all fails the action, as AWS
  does).
- Artifacts: with one output artifact the buildspec's top-level `artifacts` is it; with
  several, each output artifact must have a `secondary-artifacts` entry of the same name.
  Globs, `base-directory`, `discard-paths` and `exclude-paths` follow
  tui.local.engine.artifacts.zip_directory, from the primary source. [I] `enable-symlinks`
  changes nothing: links that stay inside the tree are always stored as links.
- Timeout: the project's `timeoutInMinutes` (60 by default), measured on the engine clock
  from the build's start by the provider's own timer, which kills the process group and
  ends the build TIMED_OUT (the open phase TIMED_OUT with BUILD_TIMED_OUT), failing the
  action. [I] `default_timeout_seconds` returns that timeout plus 5 minutes, a backstop
  the engine enforces only if the build's own teardown hangs.
- Cancellation (stop-and-abandon, the engine's backstop timeout, shutdown): the process
  group is killed and the build ends STOPPED (TIMED_OUT if the build's own timeout had
  fired) before the CancelledError propagates.
- Outcome: externalExecutionId is the build id, externalExecutionUrl the build's CodeBuild
  console URL, the summary on failure AWS's `Build terminated with state: <status>. Phase:
  <phase>, Code: <code>, Message: <message>` naming the first failed phase. No log stream
  ARN: CodeBuild actions have none (a client finds the log through BatchGetBuilds).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.local.config import LocalConfig
from tui.local.engine.artifacts import ArtifactError, zip_directory
from tui.local.engine.builds import DEFAULT_TIMEOUT_MINUTES, BuildStore
from tui.local.engine.buildspec import Buildspec, BuildspecError, PhaseSpec, parse_buildspec
from tui.local.engine.logs import LogStore
from tui.local.engine.orphans import ProcessGroups, action_tracker
from tui.local.engine.providers.codebuild_env import (
    Variable,
    VariableError,
    parameter_value,
    parse_action_variables,
    project_variables,
    resolve,
    secret_value,
)
from tui.local.engine.providers.job import ActionJob, ActionOutcome
from tui.local.engine.providers.shell import (
    DRAIN_SECONDS,
    KILL_GRACE_SECONDS,
    ShellSession,
    StepResult,
    container_date,
    find_shell,
)
from tui.model.declaration import ActionDeclaration

DEFAULT_BUILDSPEC = "buildspec.yml"
DEFAULT_IMAGE = "aws/codebuild/standard:7.0"
TIMEOUT_BACKSTOP_SECONDS = 5 * 60
OUTPUT_VARIABLES_MAX_BYTES = 122_880
PRIVATE_DIR = ".pipetop-codebuild"
MASK = "***"
MASK_MIN_LENGTH = 3
_DEFAULT_PHASE_FAILURE_STOPS = ("install", "pre_build")


def console_url(region: str, build_id: str) -> str:
    return (
        f"https://console.aws.amazon.com/codebuild/home?region={region}#/builds/{build_id}/view/new"
    )


@dataclass(frozen=True)
class _Failure:
    """Why a phase failed: the phase context and the phase it belongs to."""

    phase: str
    status_code: str
    message: str


class _Stop(Exception):
    """Ends the build early after a failure already recorded (no more phases run)."""


class _BuildLog:
    """The build's log stream, in CodeBuild's style, with secret values masked."""

    def __init__(
        self, logs: LogStore, build: dict[str, Any], clock_now: Callable[[], float]
    ) -> None:
        self._logs = logs
        self._now = clock_now
        location = build.get("logs") or {}
        self.group: str | None = location.get("groupName")
        self.stream: str | None = location.get("streamName")
        if self.group is not None and self.stream is not None:
            logs.ensure_stream(self.group, self.stream)
        self._secrets: list[str] = []

    def mask(self, value: str) -> None:
        for line in value.splitlines():
            if len(line) >= MASK_MIN_LENGTH and line not in self._secrets:
                self._secrets.append(line)
        # Longest first, so a secret containing another is masked whole.
        self._secrets.sort(key=len, reverse=True)

    def line(self, text: str) -> None:
        if self.group is None or self.stream is None:
            return  # The project sends no logs to CloudWatch Logs.
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        self._logs.append(self.group, self.stream, text)

    def container(self, text: str) -> None:
        self.line(f"[Container] {container_date(self._now())} {text}")


@dataclass
class _Inputs:
    primary_name: str | None
    primary: Path
    # Every other input, by artifact name.
    secondary: dict[str, Path] = field(default_factory=dict)
    # Artifact name -> arn:aws:s3:::<bucket>/<key> of its zip.
    locations: dict[str, str] = field(default_factory=dict)


class CodeBuildProvider:
    def __init__(
        self,
        builds: BuildStore,
        logs: LogStore,
        config: LocalConfig,
        *,
        shell: str | None = None,
        kill_grace_seconds: float = KILL_GRACE_SECONDS,
        drain_seconds: float = DRAIN_SECONDS,
        groups: ProcessGroups | None = None,
    ) -> None:
        self.builds = builds
        self.logs = logs
        self.config = config
        self.default_shell = shell
        self.kill_grace_seconds = kill_grace_seconds
        self.drain_seconds = drain_seconds
        # The durable list of running process groups a crash would orphan (orphans.py).
        self.groups = groups

    def _timeout_minutes(self, project: dict[str, Any] | None) -> int:
        if project is None:
            return DEFAULT_TIMEOUT_MINUTES
        return int(project.get("timeoutInMinutes") or DEFAULT_TIMEOUT_MINUTES)

    def default_timeout_seconds(self, declaration: ActionDeclaration) -> float | None:
        name = declaration.configuration.get("ProjectName")
        project = self.builds.get_project(name) if name else None
        return self._timeout_minutes(project) * 60 + TIMEOUT_BACKSTOP_SECONDS

    async def run(self, job: ActionJob) -> ActionOutcome:
        try:
            inputs = self._inputs(job)
            action_variables = parse_action_variables(job.configuration.get("EnvironmentVariables"))
        except VariableError as exc:
            return ActionOutcome(status="Failed", summary=exc.message, error_code="JobFailed")
        except ValueError as exc:
            return ActionOutcome(status="Failed", summary=str(exc), error_code="JobFailed")
        if job.configuration.get("BatchEnabled", "").strip().lower() == "true":
            return ActionOutcome(
                status="Failed",
                summary=(
                    "BatchEnabled: batch builds need AWS CodeBuild; the local engine runs single "
                    "builds (remove BatchEnabled or set it to false)"
                ),
                error_code="JobFailed",
            )
        name = job.configuration.get("ProjectName", "").strip()
        if not name:
            return ActionOutcome(
                status="Failed", summary="ProjectName is required.", error_code="JobFailed"
            )
        project, created = self._project(name, job)
        run = _BuildRun(self, job, project, inputs, action_variables)
        if created:
            run.log.container(
                f"The project {project['name']} does not exist locally: created it with defaults "
                f"(buildspec from the source, {self._timeout_minutes(project)}-minute timeout); "
                "change it with UpdateProject"
            )
        return await run.execute()

    def _project(self, name: str, job: ActionJob) -> tuple[dict[str, Any], bool]:
        project = self.builds.get_project(name)
        if project is not None:
            return project, False
        created = self.builds.create_project(
            {
                "name": name,
                "source": {"type": "CODEPIPELINE"},
                "artifacts": {"type": "CODEPIPELINE", "name": name},
                "environment": {
                    "type": "LINUX_CONTAINER",
                    "image": DEFAULT_IMAGE,
                    "computeType": "BUILD_GENERAL1_SMALL",
                },
                "serviceRole": f"arn:aws:iam::{job.account}:role/service-role/codebuild-{name}-service-role",
            }
        )
        return created, True

    @staticmethod
    def _inputs(job: ActionJob) -> _Inputs:
        """The primary source and the others; ValueError naming a bad PrimarySource."""
        locations = {a.name: f"arn:aws:s3:::{a.bucket}/{a.key}" for a in job.input_artifacts}
        names = list(job.input_dirs)
        primary_name = job.configuration.get("PrimarySource", "").strip() or None
        if not names:
            primary = job.workspace / "src"
            primary.mkdir(parents=True, exist_ok=True)
            return _Inputs(None, primary, {}, locations)
        if primary_name is None:
            if len(names) > 1:
                raise ValueError(
                    "PrimarySource is required when a CodeBuild action has more than one input "
                    f"artifact; set it to one of: {', '.join(names)}"
                )
            primary_name = names[0]
        if primary_name not in job.input_dirs:
            raise ValueError(
                f"PrimarySource {primary_name} is not an input artifact of this action; "
                f"its inputs are: {', '.join(names)}"
            )
        secondary = {n: d for n, d in job.input_dirs.items() if n != primary_name}
        return _Inputs(primary_name, job.input_dirs[primary_name], secondary, locations)


class _BuildRun:
    """One build, from SUBMITTED to COMPLETED."""

    def __init__(
        self,
        provider: CodeBuildProvider,
        job: ActionJob,
        project: dict[str, Any],
        inputs: _Inputs,
        action_variables: list[Variable],
    ) -> None:
        self.provider = provider
        self.builds = provider.builds
        self.job = job
        self.project = project
        self.inputs = inputs
        self.action_variables = action_variables
        self.private = job.workspace / PRIVATE_DIR
        self.timeout_minutes = provider._timeout_minutes(project)
        self.start = job.clock.now()
        environment = dict(project.get("environment") or {})
        self.image = str(environment.get("image") or DEFAULT_IMAGE)
        self.build = self.builds.start_build(
            project["name"],
            initiator=f"codepipeline/{job.pipeline_name}",
            source_version=inputs.locations.get(inputs.primary_name or ""),
            resolved_source_version=job.env.get("CODEBUILD_RESOLVED_SOURCE_VERSION") or None,
            environment_variables=[v.as_shape() for v in action_variables],
            timeout_in_minutes=self.timeout_minutes,
            source=self._source(),
            secondary_sources=[
                {"type": "CODEPIPELINE", "sourceIdentifier": n} for n in inputs.secondary
            ],
            secondary_source_versions=[
                {"sourceIdentifier": n, "sourceVersion": inputs.locations[n]}
                for n in inputs.secondary
                if n in inputs.locations
            ],
            environment=environment,
        )
        self.build_id: str = self.build["id"]
        # The build id is the action's externalExecutionId while it runs (the TUI tails its log).
        job.report_external(self.build_id, console_url(job.region, self.build_id))
        self.log = _BuildLog(provider.logs, self.build, job.clock.now)
        self.failures: list[_Failure] = []
        self.session: ShellSession | None = None
        self.spec: Buildspec | None = None

    def _source(self) -> dict[str, Any]:
        source: dict[str, Any] = {"type": "CODEPIPELINE"}
        buildspec = (self.project.get("source") or {}).get("buildspec")
        if buildspec:
            source["buildspec"] = buildspec
        return source

    # --- the build as a whole -------------------------------------------------------------

    async def execute(self) -> ActionOutcome:
        timed_out = asyncio.Event()
        timer = self.job.clock.call_at(self.start + self.timeout_minutes * 60, timed_out.set)
        work = asyncio.create_task(self._phases(), name=f"build {self.build_id}")
        deadline = asyncio.create_task(timed_out.wait())
        waits: list[asyncio.Future[Any]] = [work, deadline]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            self.log.container("The action was stopped: ending the build's processes")
            await self._interrupt(work)
            if timed_out.is_set():
                self._end_timed_out()
            else:
                self.builds.fail_phase(
                    self.build_id,
                    "STOPPED",
                    "The build was stopped: its pipeline action was abandoned",
                )
                self._finish("STOPPED")
            raise
        finally:
            timer.cancel()
            deadline.cancel()
        if not work.done():
            self.log.container(
                f"The build timed out after {self.timeout_minutes} minutes: ending its processes"
            )
            await self._interrupt(work)
            self._end_timed_out()
            return self._failed_outcome("TIMED_OUT")
        try:
            return work.result()
        except Exception as exc:
            # A fault of the engine itself: the build must not stay IN_PROGRESS.
            await self._kill_session()
            self.builds.fail_phase(self.build_id, "FAULT", f"The local engine failed: {exc}")
            self._finish("FAULT")
            raise

    async def _interrupt(self, work: asyncio.Task[ActionOutcome]) -> None:
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        await self._kill_session()

    async def _kill_session(self) -> None:
        if self.session is not None:
            await self.session.kill()

    def _end_timed_out(self) -> None:
        message = f"Build has timed out after {self.timeout_minutes} minutes."
        self.failures.insert(0, _Failure(self._current_phase(), "BUILD_TIMED_OUT", message))
        self.log.container(f"Phase complete: {self._current_phase()} State: TIMED_OUT")
        self.log.container(f"Phase context status code: BUILD_TIMED_OUT Message: {message}")
        self.builds.fail_phase(self.build_id, "TIMED_OUT", message)
        self._finish("TIMED_OUT")

    def _current_phase(self) -> str:
        build = self.builds.get_build(self.build_id)
        return str(build["currentPhase"]) if build else "BUILD"

    def _finish(
        self,
        status: str,
        exported: dict[str, str] | None = None,
        artifacts: dict[str, Any] | None = None,
        secondary: list[dict[str, Any]] | None = None,
    ) -> None:
        self.builds.finish_build(
            self.build_id,
            status,
            exported_variables=[{"name": k, "value": v} for k, v in (exported or {}).items()],
            artifacts=artifacts,
            secondary_artifacts=secondary or [],
        )

    def _failed_outcome(self, status: str, summary: str | None = None) -> ActionOutcome:
        if summary is None:
            first = self.failures[0] if self.failures else None
            summary = f"Build terminated with state: {status}"
            if first is not None:
                summary += (
                    f". Phase: {first.phase}, Code: {first.status_code}, Message: {first.message}"
                )
        return ActionOutcome(
            status="Failed",
            summary=summary,
            error_code="JobFailed",
            external_execution_id=self.build_id,
            external_execution_url=console_url(self.job.region, self.build_id),
        )

    # --- phases ---------------------------------------------------------------------------

    def _enter(self, phase: str) -> None:
        self.builds.enter_phase(self.build_id, phase)
        self.log.container(f"Entering phase {phase}")

    def _succeeded(self, phase: str) -> None:
        self.log.container(f"Phase complete: {phase} State: SUCCEEDED")
        self.log.container("Phase context status code:  Message: ")

    def _phase_failed(self, failure: _Failure, status: str = "FAILED") -> None:
        self.failures.append(failure)
        self.log.container(f"Phase complete: {failure.phase} State: FAILED")
        self.log.container(
            f"Phase context status code: {failure.status_code} Message: {failure.message}"
        )
        self.builds.fail_phase(
            self.build_id, status, failure.message, status_code=failure.status_code
        )

    async def _phases(self) -> ActionOutcome:
        job = self.job
        for waiting in ("QUEUED", "PROVISIONING"):
            self.builds.enter_phase(self.build_id, waiting)
        self.log.container(
            f"Running on the local engine: the buildspec runs in a shell on this machine, not in the image {self.image}"
        )
        self._enter("DOWNLOAD_SOURCE")
        self.log.container(f"CODEBUILD_SRC_DIR={self.inputs.primary}")
        for name, directory in self.inputs.secondary.items():
            self.log.container(f"CODEBUILD_SRC_DIR_{name}={directory}")
        try:
            spec = self._read_buildspec()
            env = self._environment(spec)
            shell = self._shell(spec)
        except BuildspecError as exc:
            return self._fail_early(_Failure("DOWNLOAD_SOURCE", exc.status_code, exc.message))
        except VariableError as exc:
            return self._fail_early(_Failure("DOWNLOAD_SOURCE", exc.status_code, exc.message))
        self.spec = spec
        for note in spec.notes:
            self.log.container(note)
        if spec.has_batch:
            self.log.container("The batch section is ignored: this is a single build")
        declared = [p for p in spec.phases if p.commands or p.finally_commands]
        self.log.container(f"Phases found in YAML: {len(declared)}")
        for phase in declared:
            count = len(phase.commands) + len(phase.finally_commands)
            self.log.container(f" {phase.phase_type}: {count} commands")
        self._succeeded("DOWNLOAD_SOURCE")

        for directory in (self.private / "home", self.private / "tmp", self.private / "variables"):
            directory.mkdir(parents=True, exist_ok=True)
        self.session = ShellSession(
            shell,
            cwd=self.inputs.primary,
            env=env,
            log=self.log.line,
            notice=self.log.container,
            grace=self.provider.kill_grace_seconds,
            drain_seconds=self.provider.drain_seconds,
            tracker=action_tracker(self.provider.groups, self.job),
        )

        upload = True
        for phase in spec.phases:
            self._enter(phase.phase_type)
            failure = await self._run_phase(phase)
            if failure is None:
                self._succeeded(phase.phase_type)
                continue
            self._phase_failed(failure)
            await self._mark_failing()
            if phase.on_failure == "ABORT" or (
                phase.on_failure is None and phase.name in _DEFAULT_PHASE_FAILURE_STOPS
            ):
                upload = False
                break

        exported = await self._exported_variables(spec)
        artifacts: dict[str, Path] = {}
        records: list[dict[str, Any]] = []
        if upload:
            self._enter("UPLOAD_ARTIFACTS")
            upload_failure, artifacts, records = await self._upload(spec)
            if upload_failure is None:
                self._succeeded("UPLOAD_ARTIFACTS")
            else:
                self._phase_failed(upload_failure)
        self._enter("FINALIZING")
        await self.session.close()
        self._succeeded("FINALIZING")
        status = "FAILED" if self.failures else "SUCCEEDED"
        primary_record = records[0] if records else None
        self._finish(status, exported, primary_record, records[1:])
        self.log.container(f"Build {self.build_id} completed: {status}")
        if self.failures:
            return self._failed_outcome("FAILED")
        size = sum(len(k.encode()) + len(v.encode()) for k, v in exported.items())
        if size > OUTPUT_VARIABLES_MAX_BYTES:
            return self._failed_outcome(
                "SUCCEEDED",
                f"The exported variables add up to {size} bytes, more than the limit of "
                f"{OUTPUT_VARIABLES_MAX_BYTES} bytes for an action's output variables.",
            )
        return ActionOutcome(
            status="Succeeded",
            external_execution_id=self.build_id,
            external_execution_url=console_url(job.region, self.build_id),
            output_variables=exported,
            output_artifacts=artifacts,
        )

    def _fail_early(self, failure: _Failure) -> ActionOutcome:
        """A failure before any command ran: straight to FINALIZING."""
        self._phase_failed(
            failure, status="FAILED" if failure.status_code == "YAML_FILE_ERROR" else "CLIENT_ERROR"
        )
        self._enter("FINALIZING")
        self._succeeded("FINALIZING")
        self._finish("FAILED")
        return self._failed_outcome("FAILED")

    async def _run_phase(self, phase: PhaseSpec) -> _Failure | None:
        failure: _Failure | None = None
        for command in phase.commands:
            failure = await self._command(phase, command)
            if failure is not None:
                break
        for command in phase.finally_commands:
            finally_failure = await self._command(phase, command)
            if finally_failure is not None:
                failure = failure or finally_failure
                break
        return failure

    async def _command(self, phase: PhaseSpec, command: str) -> _Failure | None:
        assert self.session is not None
        assert self.spec is not None
        log = self.log

        def started() -> None:
            log.container(f"Running command {command}")

        try:
            result = await self.session.run(command, started)
        except (OSError, ValueError) as exc:
            message = f"Error while executing command: {command}. Reason: could not start the shell {self.session.shell}: {exc}"
            return _Failure(phase.phase_type, "COMMAND_EXECUTION_ERROR", message)
        if self.spec.version == "0.1":
            await self.session.close()
        elif result.ended_session:
            log.container(
                "The command ended the shell session; the next command runs in a new one "
                "(what the ended session had set is lost)"
            )
        if result.status == 0:
            return None
        log.container(f"Command did not exit successfully {command} {result.reason}")
        message = f"Error while executing command: {command}. Reason: {result.reason}"
        return _Failure(phase.phase_type, "COMMAND_EXECUTION_ERROR", message)

    async def _mark_failing(self) -> None:
        """CODEBUILD_BUILD_SUCCEEDING=0 from now on, in this session and any new one."""
        assert self.session is not None
        self.session.env["CODEBUILD_BUILD_SUCCEEDING"] = "0"
        if self.session.running:
            with contextlib.suppress(OSError, ValueError):
                await self.session.run("export CODEBUILD_BUILD_SUCCEEDING=0")

    async def _internal(self, command: str) -> StepResult | None:
        assert self.session is not None
        try:
            return await self.session.run(command)
        except (OSError, ValueError):
            return None

    async def _exported_variables(self, spec: Buildspec) -> dict[str, str]:
        names = spec.env.exported_variables
        if not names:
            return {}
        directory = self.private / "variables"
        q = shlex.quote
        script = "\n".join(
            f'if [ "${{{name}+set}}" = set ]; then printf %s "${name}" > {q(str(directory / name))}; fi'
            for name in names
        )
        await self._internal(script)
        values: dict[str, str] = {}
        for name in names:
            path = directory / name
            values[name] = (
                path.read_bytes().decode("utf-8", errors="replace") if path.exists() else ""
            )
        return values

    # --- inputs and environment -----------------------------------------------------------

    def _read_buildspec(self) -> Buildspec:
        declared = (self.project.get("source") or {}).get("buildspec") or ""
        text: str
        if declared.strip() and ("\n" in declared or ": " in declared):
            self.log.container("Using the buildspec of the project (inline)")
            text = declared
        else:
            path_text = declared.strip() or DEFAULT_BUILDSPEC
            if path_text.startswith(("arn:", "s3://")):
                raise BuildspecError(
                    f"the project's buildspec {path_text} is in S3; the local engine reads "
                    "buildspecs from the source or inline in the project"
                )
            primary = self.inputs.primary.resolve()
            path = (primary / path_text).resolve()
            if Path(path_text).is_absolute() or not path.is_relative_to(primary):
                raise BuildspecError(
                    f"the buildspec path {path_text} must be relative to the primary source and stay inside it"
                )
            self.log.container(f"YAML location is {path}")
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise BuildspecError(f"stat {path}: no such file or directory") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise BuildspecError(f"cannot read {path}: {exc}") from None
        self.log.container("Processing environment variables")
        return parse_buildspec(text)

    def _shell(self, spec: Buildspec) -> str:
        if spec.env.shell == "bash":
            found = shutil.which("bash")
            if found is None:
                raise BuildspecError(
                    "env.shell is bash, which is not installed on this machine",
                    key="env.shell",
                    line=spec.line_of("env.shell"),
                )
            return found
        if spec.env.shell is not None:
            return spec.env.shell
        return self.provider.default_shell or find_shell()

    def _environment(self, spec: Buildspec) -> dict[str, str]:
        job = self.job
        config = self.provider.config
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(self.private / "home"),
            "TMPDIR": str(self.private / "tmp"),
            "LANG": "C.UTF-8",
            "AWS_REGION": job.region,
            "AWS_DEFAULT_REGION": job.region,
        }
        env.update(
            {k: v for k, v in job.env.items() if not k.startswith(("PIPETOP_", "CODEBUILD_"))}
        )
        env.update(spec.env.variables)
        for name, parameter in spec.env.parameter_store.items():
            key = f"env.parameter-store.{name}"
            origin = _where(key, spec.line_of(key))
            env[name] = parameter_value(config, parameter, name, origin)
        for name, reference in spec.env.secrets_manager.items():
            key = f"env.secrets-manager.{name}"
            origin = _where(key, spec.line_of(key))
            env[name] = secret_value(config, reference, name, origin)
            self.log.mask(env[name])
        unexportable = set(spec.env.secrets_manager)
        for variable in [*project_variables(self.project), *self.action_variables]:
            env[variable.name] = resolve(config, variable)
            if variable.type == "SECRETS_MANAGER":
                self.log.mask(env[variable.name])
            if variable.type == "PLAINTEXT":
                unexportable.discard(variable.name)
            else:
                unexportable.add(variable.name)
        for name in spec.env.exported_variables:
            if name in unexportable:
                raise BuildspecError(
                    f"{name} cannot be exported: it holds a Secrets Manager value or a project's "
                    "Parameter Store value, which would show in the action's output variables",
                    key="env.exported-variables",
                    line=spec.line_of("env.exported-variables"),
                )
        build = self.build
        env.update(
            {
                "CODEBUILD_BUILD_ID": self.build_id,
                "CODEBUILD_BUILD_ARN": str(build["arn"]),
                "CODEBUILD_BUILD_NUMBER": str(build.get("buildNumber", job.build_number)),
                "CODEBUILD_BUILD_IMAGE": self.image,
                "CODEBUILD_BUILD_SUCCEEDING": "1",
                "CODEBUILD_INITIATOR": f"codepipeline/{job.pipeline_name}",
                "CODEBUILD_KMS_KEY_ID": str(
                    self.project.get("encryptionKey")
                    or f"arn:aws:kms:{job.region}:{job.account}:alias/aws/s3"
                ),
                "CODEBUILD_LOG_PATH": self.log.stream or "",
                "CODEBUILD_SRC_DIR": str(self.inputs.primary),
                "CODEBUILD_START_TIME": str(int(self.start * 1000)),
            }
        )
        primary_location = self.inputs.locations.get(self.inputs.primary_name or "")
        if primary_location:
            env["CODEBUILD_SOURCE_VERSION"] = primary_location
        for name, directory in self.inputs.secondary.items():
            env[f"CODEBUILD_SRC_DIR_{name}"] = str(directory)
            if name in self.inputs.locations:
                env[f"CODEBUILD_SOURCE_VERSION_{name}"] = self.inputs.locations[name]
        resolved = job.env.get("CODEBUILD_RESOLVED_SOURCE_VERSION")
        if resolved:
            env["CODEBUILD_RESOLVED_SOURCE_VERSION"] = resolved
        return env

    # --- artifacts ------------------------------------------------------------------------

    async def _upload(
        self, spec: Buildspec
    ) -> tuple[_Failure | None, dict[str, Path], list[dict[str, Any]]]:
        outputs = [a.name for a in self.job.declaration.output_artifacts]
        if not outputs:
            self.log.container("The action declares no output artifacts: nothing to upload")
            return None, {}, []

        def failure(message: str) -> tuple[_Failure, dict[str, Path], list[dict[str, Any]]]:
            return _Failure("UPLOAD_ARTIFACTS", "CLIENT_ERROR", message), {}, []

        if spec.artifacts is None:
            return failure(
                f"the action has the output artifact(s) {', '.join(outputs)} but the buildspec has "
                "no artifacts section"
            )
        if len(outputs) == 1:
            chosen = {outputs[0]: spec.artifacts}
        else:
            missing = [n for n in outputs if n not in spec.secondary_artifacts]
            if missing:
                have = ", ".join(spec.secondary_artifacts) or "none"
                return failure(
                    f"the action has {len(outputs)} output artifacts, so each must be a "
                    "secondary-artifacts entry of the buildspec named after it; missing: "
                    f"{', '.join(missing)} (secondary-artifacts: {have})"
                )
            chosen = {n: spec.secondary_artifacts[n] for n in outputs}
        zips: dict[str, Path] = {}
        records: list[dict[str, Any]] = []
        for name, artifact in chosen.items():
            destination = self.private / "artifacts" / f"{name}.zip"
            base = artifact.base_directory or "."
            self.log.container(f"Expanding base directory path: {base}")
            try:
                entries = await asyncio.to_thread(
                    zip_directory,
                    self.inputs.primary,
                    destination,
                    include=list(artifact.files),
                    exclude=list(artifact.exclude_paths),
                    base_directory=artifact.base_directory,
                    discard_paths=artifact.discard_paths,
                )
            except ArtifactError as exc:
                return failure(f"{exc} (output artifact {name})")
            self.log.container(f"Found {len(entries)} file(s) for output artifact {name}")
            zips[name] = destination
            records.append(await asyncio.to_thread(_artifact_record, destination, name))
        return None, zips, records


def _where(key: str, line: int | None) -> str:
    return f"{key} (line {line})" if line is not None else key


def _artifact_record(path: Path, name: str) -> dict[str, Any]:
    """The BuildArtifacts shape for a zip (its S3 location is chosen by the engine later)."""
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            sha256.update(chunk)
            md5.update(chunk)
    return {
        "sha256sum": sha256.hexdigest(),
        "md5sum": md5.hexdigest(),
        "overrideArtifactName": False,
        "encryptionDisabled": False,
        "artifactIdentifier": name,
    }
