"""The Lambda invoke action (category Invoke, owner AWS, provider Lambda, version 1).

There is no Lambda here: a function name maps, through the `[functions.<name>]` sections of
the endpoint config file, to a local command. Each invocation runs that command with the
CodePipeline job event AWS sends a function (`{"CodePipeline.job": {"id", "accountId",
"data"}}`, data = JobData: the action's configuration with `FunctionName` and
`UserParameters`, the input artifacts' S3 locations in the endpoint's own S3, pre-assigned
output artifact locations, dummy artifact credentials, `continuationToken` on a follow-up)
as JSON on stdin. The function calls back as on AWS, with PutJobSuccessResult or
PutJobFailureResult and its job id, through boto3 or the aws CLI: its environment points
both at this endpoint.

Decisions recorded here:

- Environment: `PATH` (the server's, so locally installed interpreters work [I]), `HOME`
  and `TMPDIR` (fresh directories in the run's workspace), `LANG=C.UTF-8`,
  `AWS_ENDPOINT_URL` (this endpoint), `AWS_REGION`/`AWS_DEFAULT_REGION` (the action's
  region), `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` (the job's dummy
  artifact credentials), `AWS_CONFIG_FILE`/`AWS_SHARED_CREDENTIALS_FILE` set to /dev/null (no
  profile of the user's gets in), `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_TIMEOUT`;
  then the function's own `environment`. Nothing else of the server's environment. The
  command runs in the function's `working_directory`, else the run's workspace.
- Result: a PutJobSuccessResult / PutJobFailureResult for the job decides, whether it
  arrives while the command runs or within `callback_grace` seconds (real time [I]: 1 s)
  after it exits. Without one the exit status decides: 0 succeeds, anything else fails with
  the last lines of the command's stderr as the summary. After a result arrives, a command
  still running gets `exit_grace` seconds to end on its own before its group is ended. Once
  the action is decided the job is discarded: later results for it get
  InvalidJobStateException.
- A success carries the call's executionDetails.summary and externalExecutionId and its
  outputVariables (the action's output variables). With a continuationToken the action stays
  InProgress and the command runs again with a new job whose data carries the token, as AWS
  invokes the function again. A failure's `failureDetails.type` becomes the action's error
  code, its message the summary.
- Output artifacts: the function uploads them to the locations in the job data (as on AWS);
  the engine checks they are there.
- Timeouts: each invocation may run for the function's `timeout_seconds`, [I] else 1 hour,
  on the engine clock; then its process group is ended and the action fails. The action as a
  whole is bounded by AWS's 24 hours. Cancellation (stop-and-abandon, the action timeout)
  ends the process group (SIGTERM, then SIGKILL) before the cancellation goes on.
- stdout and stderr lines both go to the action's log, as they arrive.
- A function name that is not configured fails the action naming the config section to
  add. [I] A function ARN (`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`)
  or `name:qualifier` is looked up by its name when the whole string is not configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui.local.clock import Timer
from tui.local.config import CONFIG_NAME, FunctionConfig
from tui.local.engine.jobs import JobOutcome, JobRegistry
from tui.local.engine.orphans import GroupTracker, ProcessGroups, action_tracker
from tui.local.engine.providers.custom import (
    DUMMY_CREDENTIALS,
    job_context,
    job_data,
    output_locations,
)
from tui.local.engine.providers.job import ActionJob, ActionOutcome
from tui.local.engine.providers.shell import (
    KILL_GRACE_SECONDS,
    LineReader,
    signal_group,
    terminate_group,
)
from tui.model.declaration import ActionDeclaration

if TYPE_CHECKING:
    from tui.local.backend import Backend

ACTION_TIMEOUT_SECONDS = 24 * 60 * 60
DEFAULT_FUNCTION_TIMEOUT_SECONDS = 60 * 60
CALLBACK_GRACE_SECONDS = 1.0
EXIT_GRACE_SECONDS = 2.0
DRAIN_SECONDS = 2.0
STDERR_TAIL_LINES = 10
SUMMARY_MAX = 2048


class _FunctionProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Tells when the command itself exits (`Process.wait()` would also wait for every
    process still holding its output pipes)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=2**16, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


@dataclass
class _Running:
    process: asyncio.subprocess.Process
    transport: asyncio.SubprocessTransport
    exited: asyncio.Event
    tracker: GroupTracker | None = None


async def _spawn(
    argv: list[str], *, cwd: Path, env: dict[str, str], tracker: GroupTracker | None
) -> _Running:
    loop = asyncio.get_running_loop()
    protocol = _FunctionProtocol(loop)
    transport, _ = await loop.subprocess_exec(
        lambda: protocol,
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    process = asyncio.subprocess.Process(transport, protocol, loop)
    # Written down before anything reads its output: a crash from here on leaves a record.
    if tracker is not None:
        tracker.started(process.pid)
    return _Running(process, transport, protocol.exited, tracker)


def _kill_when_started(start: asyncio.Future[_Running]) -> None:
    if start.cancelled() or start.exception() is not None:
        return
    running = start.result()
    signal_group(running.process.pid, signal.SIGKILL)
    running.transport.close()


def _cut(text: str) -> str:
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 3] + "..."


def _failed(summary: str, code: str = "JobFailed", external: str | None = None) -> ActionOutcome:
    return ActionOutcome(
        status="Failed", summary=_cut(summary), error_code=code, external_execution_id=external
    )


def function_key(name: str) -> str:
    """The plain function name of an ARN or a qualified name."""
    if name.startswith("arn:"):
        parts = name.split(":")
        # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        return parts[6] if len(parts) >= 7 else name
    return name.split(":", 1)[0]


class LambdaInvokeProvider:
    def __init__(
        self,
        jobs: JobRegistry,
        functions: Mapping[str, FunctionConfig],
        config_file: Path,
        endpoint_url: Callable[[], str],
        *,
        callback_grace: float = CALLBACK_GRACE_SECONDS,
        exit_grace: float = EXIT_GRACE_SECONDS,
        kill_grace: float = KILL_GRACE_SECONDS,
        groups: ProcessGroups | None = None,
    ) -> None:
        # The durable list of running process groups a crash would orphan (orphans.py).
        self.groups = groups
        self.jobs = jobs
        self.functions = functions
        self.config_file = config_file
        self.endpoint_url = endpoint_url
        self.callback_grace = callback_grace
        self.exit_grace = exit_grace
        self.kill_grace = kill_grace

    @classmethod
    def for_backend(cls, backend: Backend, jobs: JobRegistry) -> LambdaInvokeProvider:
        """The provider of an endpoint: its config file's functions, calling back to its URL."""
        config_file = backend.config.source or backend.data_dir / CONFIG_NAME
        return cls(
            jobs,
            backend.config.functions,
            config_file,
            lambda: backend.endpoint_url,
            groups=ProcessGroups(backend.db),
        )

    def default_timeout_seconds(self, declaration: ActionDeclaration) -> float | None:
        return ACTION_TIMEOUT_SECONDS

    def _function(self, name: str) -> FunctionConfig | None:
        found = self.functions.get(name)
        if found is None:
            found = self.functions.get(function_key(name))
        return found

    async def run(self, job: ActionJob) -> ActionOutcome:
        name = job.configuration.get("FunctionName", "")
        function = self._function(name)
        if function is None:
            summary = (
                f"The Lambda function '{name}' is not configured on this endpoint. Add a "
                f'[functions."{function_key(name)}"] section with the command to run, e.g. '
                f'command = ["python3", "handler.py"], to {self.config_file} and restart the endpoint.'
            )
            job.log(summary)
            return _failed(summary, "ConfigurationError")
        outputs = output_locations(job)
        continuation: str | None = None
        variables: dict[str, str] = {}
        while True:
            created = self.jobs.create(
                job_context(job), job_data(job, outputs, continuation), pollable=False
            )
            job.log(f"Invoking function {name} with job {created.id}")
            try:
                result = await self._invoke(job, name, function, created.id)
            finally:
                self.jobs.discard(created.id)
            if isinstance(result, ActionOutcome):
                return result
            if not result.succeeded:
                job.log(f"Function {name} failed job {created.id}: {result.message}")
                return _failed(
                    result.message or "The function reported a failure.",
                    result.failure_type or "JobFailed",
                    result.external_execution_id,
                )
            variables.update(result.output_variables)
            if result.continuation_token:
                job.log(f"Job {created.id} continues with token {result.continuation_token}")
                continuation = result.continuation_token
                continue
            job.log(f"Function {name} completed job {created.id}")
            return ActionOutcome(
                status="Succeeded",
                summary=_cut(result.summary) if result.summary else None,
                external_execution_id=result.external_execution_id,
                output_variables=variables,
                uploaded_artifacts=outputs,
            )

    def _environment(
        self, job: ActionJob, name: str, function: FunctionConfig, timeout: float
    ) -> dict[str, str]:
        home = job.workspace / ".function" / "home"
        tmp = job.workspace / ".function" / "tmp"
        home.mkdir(parents=True, exist_ok=True)
        tmp.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "LANG": "C.UTF-8",
            "AWS_REGION": job.region,
            "AWS_DEFAULT_REGION": job.region,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["accessKeyId"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["secretAccessKey"],
            "AWS_SESSION_TOKEN": DUMMY_CREDENTIALS["sessionToken"],
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_LAMBDA_FUNCTION_NAME": function_key(name),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": f"{timeout:g}",
        }
        url = self.endpoint_url()
        if url:
            env["AWS_ENDPOINT_URL"] = url
        else:
            job.log("This endpoint's URL is not known yet: the function cannot call back.")
        env.update(function.environment)
        return env

    async def _invoke(
        self,
        job: ActionJob,
        name: str,
        function: FunctionConfig,
        job_id: str,
    ) -> JobOutcome | ActionOutcome:
        """One run of the command: the job's result (a success by exit status counts as one),
        or the failed action's outcome (exit status, timeout, a command that cannot start)."""
        timeout = function.timeout_seconds or DEFAULT_FUNCTION_TIMEOUT_SECONDS
        env = self._environment(job, name, function, timeout)
        cwd = function.working_directory or job.workspace
        event = json.dumps(self.jobs.event(self.jobs.get(job_id))).encode()

        tracker = action_tracker(self.groups, job)
        start = asyncio.ensure_future(
            _spawn(list(function.command), cwd=cwd, env=env, tracker=tracker)
        )
        try:
            running = await asyncio.shield(start)
        except asyncio.CancelledError:
            start.add_done_callback(_kill_when_started)
            raise
        except (OSError, ValueError) as exc:
            summary = f"Could not start function {name} ({' '.join(function.command)}): {exc}"
            job.log(summary)
            return _failed(summary)

        process = running.process
        assert process.stdout is not None
        assert process.stderr is not None
        tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

        def on_stderr(line: str) -> None:
            tail.append(line)
            job.log(line)

        readers = [
            asyncio.ensure_future(LineReader(job.log).pump(process.stdout)),
            asyncio.ensure_future(LineReader(on_stderr).pump(process.stderr)),
        ]
        feeder = asyncio.ensure_future(self._feed(process, event))
        timed_out = asyncio.Event()
        timer: Timer = job.clock.call_at(job.clock.now() + timeout, timed_out.set)
        outcome_task = asyncio.ensure_future(self.jobs.wait(job_id))
        exited_task = asyncio.ensure_future(running.exited.wait())
        timeout_task = asyncio.ensure_future(timed_out.wait())
        waiters = [outcome_task, exited_task, timeout_task]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            outcome = _result(outcome_task)
            if outcome is None and timeout_task.done() and not exited_task.done():
                job.log(f"Function {name} timed out after {timeout:g} seconds: ending it")
                await self._end(running, readers)
                return _failed(f"The function {name} timed out after {timeout:g} seconds.")
            if outcome is not None:
                if not exited_task.done():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(exited_task), self.exit_grace)
                    if not exited_task.done():
                        job.log(f"Function {name} still runs after its result: ending it")
            else:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(outcome_task), self.callback_grace)
                outcome = _result(outcome_task)
            await self._end(running, readers)
        except asyncio.CancelledError:
            job.log(f"The action was stopped: ending function {name}")
            await self._end(running, readers)
            raise
        finally:
            timer.cancel()
            feeder.cancel()
            for waiter in waiters:
                waiter.cancel()
        if outcome is not None:
            return outcome
        status = process.returncode
        if status == 0:
            job.log(f"Function {name} exited with status 0 without reporting a result")
            return JobOutcome(succeeded=True, summary=f"Function {name} exited with status 0.")
        reason = (
            f"killed by signal {-status}"
            if status is not None and status < 0
            else f"exit status {status}"
        )
        detail = "\n".join(tail).strip()
        summary = f"Function {name} failed ({reason})" + (f": {detail}" if detail else ".")
        return _failed(summary)

    @staticmethod
    async def _feed(process: asyncio.subprocess.Process, event: bytes) -> None:
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            process.stdin.write(event)
            await process.stdin.drain()
            process.stdin.close()

    async def _end(self, running: _Running, readers: Sequence[asyncio.Future[None]]) -> None:
        """End whatever is left of the command's process group and finish reading its output."""
        try:
            await terminate_group(running.process, self.kill_grace, running.tracker)
        finally:
            try:
                await asyncio.wait(readers, timeout=DRAIN_SECONDS)
            finally:
                for reader in readers:
                    reader.cancel()
                running.transport.close()


def _result(task: asyncio.Future[JobOutcome]) -> JobOutcome | None:
    if task.done() and not task.cancelled() and task.exception() is None:
        return task.result()
    return None
