"""The V2 Commands action (category Compute, owner AWS, provider Commands, version 1).

AWS runs the commands in a CodeBuild container; the local engine runs them in a shell on
this machine, in the run's own workspace. What the commands see and what the action
reports follow CodeBuild where it is documented.

Decisions recorded here:

- One shell session for all commands (bash if present, else sh), started with no profile
  or rc files, stdin from /dev/null, in the primary input directory (the first input
  artifact; the workspace itself when there is none), so `cd` and `export` carry over. Each
  command is `eval`ed in that shell; the first one that exits non-zero ends the run and
  fails the action ("Error while executing command: <cmd>. Reason: exit status <n>",
  error code JobFailed), as CodeBuild stops a phase at its first failing command.
- [I] A command that ends the shell itself (`exit`, `set -e`) ends the run: a non-zero
  status fails the action naming it; status 0 succeeds only if it was the last command and
  no output variables were asked for, otherwise the action fails saying the remaining
  commands (or the variables) were lost.
- Environment (nothing else of the server's own environment leaks in, so no AWS
  credentials): `PATH` (the server's, so locally installed tools work [I]), `HOME` and
  `TMPDIR` (fresh directories inside the workspace), `LANG=C.UTF-8`, `AWS_REGION` and
  `AWS_DEFAULT_REGION` (the action's region); then the engine's `job.env` (minus its own
  `PIPETOP_*` entries); then the action's PLAINTEXT `environmentVariables`; then CodeBuild's
  reserved names: `CODEBUILD_SRC_DIR`, `CODEBUILD_SRC_DIR_<artifactName>` for every input,
  `CODEBUILD_BUILD_ID` (`<pipeline>-<action>:<uuid>`, also the external execution id),
  `CODEBUILD_BUILD_ARN`, `CODEBUILD_BUILD_NUMBER`, `CODEBUILD_BUILD_SUCCEEDING=1`,
  `CODEBUILD_INITIATOR=codepipeline/<pipeline>`, `CODEBUILD_LOG_PATH` (the log stream),
  `CODEBUILD_START_TIME` (epoch ms) and `CODEBUILD_RESOLVED_SOURCE_VERSION` when the engine
  knows it.
- SECRETS_MANAGER variables fail the action naming the variable: there is no Secrets
  Manager here. [I] Declared names starting with `CODEBUILD_` fail it too (CodeBuild
  reserves them).
- Logs: every output line, stdout and stderr merged in the order written, goes to
  `job.log` as soon as it is complete (undecodable bytes replaced, a trailing CR dropped, a
  final line without newline flushed at the end). [I] A line longer than 1 MiB is split
  into 1 MiB events rather than cut. Around them, CodeBuild-style lines:
  `[Container] <UTC date> Running command <cmd>` before each command, `Command did not exit
  successfully <cmd> exit status <n>` after a failing one, and `Phase complete: BUILD
  State: SUCCEEDED|FAILED` (plus the phase context on failure) at the end.
- [I] Output variables: after the last command the shell writes each named variable to its
  own file, read back verbatim (newlines kept). A variable that is not set is exported as
  an empty string. More than 122 880 bytes of variables in total fails the action, as AWS
  does.
- Output artifact: `outputArtifacts[0].files` globs (artifacts.zip_directory rules) from the
  primary directory. [I] `files` is required, as for AWS's Commands action. The provider's
  own directory is never archived.
- Processes: the shell leads its own process group. When the shell ends, leftovers (e.g.
  background jobs) get SIGTERM, then SIGKILL after a short grace, as a container teardown
  would. On cancellation (stop-and-abandon, timeout) the whole group gets the same
  treatment before the CancelledError propagates.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import uuid
from pathlib import Path

from tui.local.engine.artifacts import ArtifactError, zip_directory
from tui.local.engine.logs import stream_arn
from tui.local.engine.orphans import ProcessGroups, action_tracker
from tui.local.engine.providers.job import ActionJob, ActionOutcome
from tui.local.engine.providers.shell import (
    DRAIN_SECONDS,
    KILL_GRACE_SECONDS,
    LineReader,
    container_date,
    drain,
    find_shell,
    shell_argv,
    split_marker,
    start_shielded,
    stop_shell,
    terminate_group,
)
from tui.model.declaration import ActionDeclaration

COMMANDS_TIMEOUT_SECONDS = 55 * 60
OUTPUT_VARIABLES_MAX_BYTES = 122_880
PRIVATE_DIR = ".pipetop-commands"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Output:
    """Splits the shell's output into lines for the log and reads the provider's markers."""

    def __init__(self, job: ActionJob, commands: list[str], marker: str) -> None:
        self._job = job
        self._commands = commands
        self._marker = marker
        self.lines = LineReader(self._line)

    def container(self, text: str) -> None:
        self._job.log(f"[Container] {container_date(self._job.clock.now())} {text}")

    def _line(self, text: str) -> None:
        before, fields = split_marker(text, self._marker)
        if before is not None:
            self._job.log(before)
        if fields is None:
            return
        if len(fields) >= 2 and fields[0] == "start" and fields[1].isdigit():
            index = int(fields[1])
            if index < len(self._commands):
                self.container(f"Running command {self._commands[index]}")


class CommandsProvider:
    def __init__(
        self,
        *,
        shell: str | None = None,
        kill_grace_seconds: float = KILL_GRACE_SECONDS,
        drain_seconds: float = DRAIN_SECONDS,
        groups: ProcessGroups | None = None,
    ) -> None:
        self.shell = shell or find_shell()
        self.kill_grace_seconds = kill_grace_seconds
        self.drain_seconds = drain_seconds
        # The durable list of running process groups a crash would orphan (orphans.py).
        self.groups = groups

    def default_timeout_seconds(self, declaration: ActionDeclaration) -> float | None:
        return COMMANDS_TIMEOUT_SECONDS

    async def run(self, job: ActionJob) -> ActionOutcome:
        declaration = job.declaration
        build_id = f"{job.pipeline_name}-{job.action_name}:{uuid.uuid4()}"
        log_arn = stream_arn(job.region, job.account, job.log_group, job.log_stream)

        def failed(summary: str) -> ActionOutcome:
            return ActionOutcome(
                status="Failed",
                summary=summary,
                error_code="JobFailed",
                external_execution_id=build_id,
                log_stream_arn=log_arn,
            )

        problem = self._check(declaration)
        if problem is not None:
            job.log(problem)
            return failed(problem)
        commands = list(declaration.commands or [])
        variables = list(declaration.output_variables or [])

        primary = next(iter(job.input_dirs.values()), job.workspace)
        private = job.workspace / PRIVATE_DIR
        status_dir = private / "status"
        vars_dir = private / "variables"
        # Parents first, and the variables directory only when variables are asked for: each
        # mkdir is a journaled write, a noticeable part of a short action.
        private.mkdir(parents=True, exist_ok=True)
        for directory in (private / "home", private / "tmp", status_dir):
            directory.mkdir(exist_ok=True)
        if variables:
            vars_dir.mkdir(exist_ok=True)

        env = self._environment(job, build_id, primary, private)
        marker = f"##pipetop-{uuid.uuid4().hex}##"
        script = self._script(commands, variables, marker, status_dir, vars_dir)
        output = _Output(job, commands, marker)
        output.container(f"Running on the local engine with {self.shell}")
        output.container(f"CODEBUILD_SRC_DIR={primary}")
        output.container("Entering phase BUILD")
        argv = shell_argv(self.shell, script)
        tracker = action_tracker(self.groups, job)
        try:
            shell = await start_shielded(
                argv, cwd=primary, env=env, grace=self.kill_grace_seconds, tracker=tracker
            )
        except asyncio.CancelledError:
            output.container("The action was stopped: ending its processes")
            raise
        except (OSError, ValueError) as exc:
            return failed(f"Could not start the shell {self.shell}: {exc}")
        process = shell.process
        assert process.stdout is not None
        reader = asyncio.create_task(output.lines.pump(process.stdout))
        try:
            await shell.exited.wait()
            await terminate_group(process, self.kill_grace_seconds, tracker)
        except asyncio.CancelledError:
            output.container("The action was stopped: ending its processes")
            await stop_shell(shell, reader, self.kill_grace_seconds)
            raise
        if not await drain(shell, reader, output.lines, self.drain_seconds):
            output.container(
                "Output is still open after the commands ended (a process left the group); stopped reading it"
            )
        await process.wait()

        failure = self._command_failure(commands, variables, status_dir, process.returncode)
        if failure is not None:
            command, reason = failure
            if command is not None:
                output.container(f"Command did not exit successfully {command} {reason}")
            output.container("Phase complete: BUILD State: FAILED")
            summary = (
                f"Error while executing command: {command}. Reason: {reason}"
                if command is not None
                else reason
            )
            output.container(
                f"Phase context status code: COMMAND_EXECUTION_ERROR Message: {summary}"
            )
            return failed(summary)
        output.container("Phase complete: BUILD State: SUCCEEDED")

        values = self._read_variables(variables, vars_dir)
        size = sum(len(k.encode()) + len(v.encode()) for k, v in values.items())
        if size > OUTPUT_VARIABLES_MAX_BYTES:
            summary = (
                f"The output variables add up to {size} bytes, more than the limit of "
                f"{OUTPUT_VARIABLES_MAX_BYTES} bytes."
            )
            output.container(summary)
            return failed(summary)

        artifacts: dict[str, Path] = {}
        if declaration.output_artifacts:
            artifact = declaration.output_artifacts[0]
            output.container("Entering phase UPLOAD_ARTIFACTS")
            exclude = []
            if private.is_relative_to(primary):
                exclude.append(private.relative_to(primary).as_posix())
            destination = private / "artifacts" / f"{artifact.name}.zip"
            try:
                names = await asyncio.to_thread(
                    zip_directory,
                    primary,
                    destination,
                    include=list(artifact.files or []),
                    exclude=exclude,
                )
            except ArtifactError as exc:
                output.container(f"Phase complete: UPLOAD_ARTIFACTS State: FAILED ({exc})")
                return failed(f"CLIENT_ERROR: {exc} for output artifact {artifact.name}")
            output.container(f"Found {len(names)} file(s) for output artifact {artifact.name}")
            output.container("Phase complete: UPLOAD_ARTIFACTS State: SUCCEEDED")
            artifacts[artifact.name] = destination

        return ActionOutcome(
            status="Succeeded",
            external_execution_id=build_id,
            output_variables=values,
            output_artifacts=artifacts,
            log_stream_arn=log_arn,
        )

    @staticmethod
    def _check(declaration: ActionDeclaration) -> str | None:
        """Why the declaration cannot run here, or None."""
        if not declaration.commands:
            return "The Commands action has no commands to run."
        for variable in declaration.environment_variables or []:
            if variable.type == "SECRETS_MANAGER":
                return (
                    f"The environment variable {variable.name} is of type SECRETS_MANAGER, which the "
                    "local engine cannot resolve (it has no AWS Secrets Manager); use PLAINTEXT."
                )
            if variable.type not in (None, "PLAINTEXT"):
                return f"The environment variable {variable.name} has the unsupported type {variable.type}."
            if variable.name.startswith("CODEBUILD_"):
                return f"The environment variable name {variable.name} is reserved: names starting with CODEBUILD_ are."
            if not _NAME.fullmatch(variable.name):
                return f"The environment variable name {variable.name!r} is not a valid shell variable name."
        for name in declaration.output_variables or []:
            if not _NAME.fullmatch(name):
                return f"The output variable name {name!r} is not a valid shell variable name."
        if len(declaration.output_artifacts) > 1:
            return "A Commands action has at most one output artifact."
        if declaration.output_artifacts and not declaration.output_artifacts[0].files:
            return f"The output artifact {declaration.output_artifacts[0].name} needs 'files' to say what goes in it."
        return None

    @staticmethod
    def _environment(job: ActionJob, build_id: str, primary: Path, private: Path) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(private / "home"),
            "TMPDIR": str(private / "tmp"),
            "LANG": "C.UTF-8",
            "AWS_REGION": job.region,
            "AWS_DEFAULT_REGION": job.region,
        }
        env.update(
            {k: v for k, v in job.env.items() if not k.startswith(("PIPETOP_", "CODEBUILD_"))}
        )
        for variable in job.declaration.environment_variables or []:
            env[variable.name] = variable.value
        env.update(
            {
                "CODEBUILD_SRC_DIR": str(primary),
                "CODEBUILD_BUILD_ID": build_id,
                "CODEBUILD_BUILD_ARN": f"arn:aws:codebuild:{job.region}:{job.account}:build/{build_id}",
                "CODEBUILD_BUILD_NUMBER": str(job.build_number),
                "CODEBUILD_BUILD_SUCCEEDING": "1",
                "CODEBUILD_INITIATOR": f"codepipeline/{job.pipeline_name}",
                "CODEBUILD_LOG_PATH": job.log_stream,
                "CODEBUILD_START_TIME": str(int(job.clock.now() * 1000)),
            }
        )
        for name, directory in job.input_dirs.items():
            env[f"CODEBUILD_SRC_DIR_{name}"] = str(directory)
        resolved = job.env.get("CODEBUILD_RESOLVED_SOURCE_VERSION")
        if resolved:
            env["CODEBUILD_RESOLVED_SOURCE_VERSION"] = resolved
        return env

    @staticmethod
    def _script(
        commands: list[str], variables: list[str], marker: str, status_dir: Path, vars_dir: Path
    ) -> str:
        """The shell program: each command eval'ed in turn, its status kept in a file."""
        q = shlex.quote
        lines = []
        for index, command in enumerate(commands):
            status = q(str(status_dir / str(index)))
            lines += [
                f"printf '%s start {index}\\n' {q(marker)}",
                f"eval {q(command)}",
                "__pipetop_rc=$?",
                f'printf %s "$__pipetop_rc" > {status}',
                '[ "$__pipetop_rc" -eq 0 ] || exit "$__pipetop_rc"',
            ]
        for name in variables:
            lines.append(
                f'if [ "${{{name}+set}}" = set ]; then printf %s "${name}" > {q(str(vars_dir / name))}; fi'
            )
        return "\n".join(lines) + "\n"

    @staticmethod
    def _command_failure(
        commands: list[str], variables: list[str], status_dir: Path, returncode: int | None
    ) -> tuple[str | None, str] | None:
        """(the failing command, why) or None when every command succeeded."""
        for index, command in enumerate(commands):
            try:
                status = int((status_dir / str(index)).read_text())
            except (OSError, ValueError):
                status = None
            if status is not None:
                if status != 0:
                    return command, f"exit status {status}"
                continue
            # No status: the shell ended while running this command.
            code = returncode if returncode is not None else -1
            if code < 0:
                return command, f"killed by signal {-code}"
            if code != 0:
                return command, f"exit status {code}"
            if index == len(commands) - 1 and not variables:
                return None
            lost = (
                f"the {len(commands) - index - 1} command(s) after it did not run"
                if index < len(commands) - 1
                else "the output variables could not be read"
            )
            return command, f"it ended the shell session (exit status 0), so {lost}"
        if returncode not in (0, None):
            return None, f"The shell ended with exit status {returncode} after the last command."
        return None

    @staticmethod
    def _read_variables(variables: list[str], vars_dir: Path) -> dict[str, str]:
        values: dict[str, str] = {}
        for name in variables:
            path = vars_dir / name
            values[name] = (
                path.read_bytes().decode("utf-8", errors="replace") if path.exists() else ""
            )
        return values
