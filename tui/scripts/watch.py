"""`pipetop watch PIPELINE [--execution ID] [--interval S] --exit-status`: follow in plain text.

One line per change, as it is seen, until the execution ends:

    2026-11-26T10:01:02Z  execution      InProgress  1f2e... (StartPipelineExecution)
    2026-11-26T10:01:02Z  Build          InProgress
    2026-11-26T10:01:07Z  Build/Compile  Succeeded   built in 4 s
    2026-11-26T10:01:07Z  Build          Succeeded
    2026-11-26T10:01:20Z  execution      Failed      Action Ship in stage Deploy failed: ...

Columns: UTC time the change was seen, subject (`execution`, a stage, `Stage/Action`; `/`
cannot occur in names), status as the API spells it, detail (summary or error). The status is
coloured only when stdout is a terminal and NO_COLOR is unset, so pipes and CI logs get no
escape codes. Every line is flushed as it is written.

With `--exit-status` the exit code says how the execution ended (`script.ExitCode`): 0
Succeeded, 1 Failed, 5 Stopped, 6 Superseded, 7 Cancelled; 3 when the pipeline or execution
does not exist or the pipeline has never run, 4 for an AWS problem, 130 on Ctrl-C. Without
it, an execution that ends runs to 0 whatever its outcome (the command then only reports).

Decisions [I]:

- Without `--execution` the newest execution still in flight (InProgress or Stopping) is
  followed: the one a just-pushed change started, and the one that will supersede the
  others. With none in flight, the newest execution: `watch` right after a run reports how
  it ended (one line, and its exit code) instead of waiting for a next run that may never come.
- The time is when the change was seen, not the API's timestamps: every line gets one, they
  only go forward, and they are right even when the server's clock is not.
- Stages: GetPipelineState's status while the stage's latest execution is the watched one;
  once another execution has entered the stage (or in PARALLEL mode, where the state shows
  the latest of any execution), the status is derived from the watched execution's own
  action runs (ListActionExecutions): a run in progress or some actions still to run means
  InProgress, a failed run Failed, every action succeeded Succeeded.
- Each poll costs three reads (GetPipelineExecution, GetPipelineState,
  ListActionExecutions); the default interval of 5 s keeps a watch far below CodePipeline's
  read quotas. Transient problems (throttling, endpoint unreachable, 5xx) are retried after
  the throttle's delay or the interval, with one line on stderr each; after
  `MAX_TRANSIENT_FAILURES` in a row the watch gives up with exit 4, so a CI job does not
  hang on an endpoint that is gone. A problem at the first look-up ends the watch at once.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from tui.aws.errors import Throttled
from tui.aws.pipelines import PipelineClient
from tui.scripts.script import ExitCode, ScriptFailed

DEFAULT_INTERVAL = 5.0
MAX_TRANSIENT_FAILURES = 5
IN_FLIGHT = ("InProgress", "Stopping")
ENDED = {
    "Succeeded": ExitCode.OK,
    "Failed": ExitCode.FAILED,
    "Stopped": ExitCode.STOPPED,
    "Superseded": ExitCode.SUPERSEDED,
    "Cancelled": ExitCode.CANCELLED,
}
COLOURS = {
    "Succeeded": "32",
    "Failed": "31",
    "InProgress": "33",
    "Stopping": "35",
    "Stopped": "35",
    "Abandoned": "35",
    "Superseded": "2",
    "Cancelled": "2",
}
SUBJECT_WIDTH = 20
STATUS_WIDTH = 11

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class WatchOptions:
    pipeline: str
    execution_id: str | None = None
    interval: float = DEFAULT_INTERVAL
    exit_status: bool = True


def wants_colour(out: TextIO) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (no-color.org)."""
    return out.isatty() and not os.environ.get("NO_COLOR")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Printer:
    """Writes a line per change of a subject's (status, detail)."""

    def __init__(self, out: TextIO, colour: bool) -> None:
        self.out = out
        self.colour = colour
        self.seen: dict[str, tuple[str, str]] = {}

    def change(
        self, key: str, subject: str, status: str, detail: str = "", *, remember: bool = True
    ) -> None:
        if self.seen.get(key, ("", ""))[0] == status:
            return
        if remember:
            self.seen[key] = (status, detail)
        padded = f"{status:<{STATUS_WIDTH}}"
        if self.colour and status in COLOURS:
            padded = f"\x1b[{COLOURS[status]}m{status}\x1b[0m" + padded[len(status) :]
        detail = " ".join(detail.split())
        line = f"{_now()}  {subject:<{SUBJECT_WIDTH}} {padded} {detail}".rstrip()
        print(line, file=self.out, flush=True)


async def find_execution(pipelines: PipelineClient, options: WatchOptions) -> dict[str, Any]:
    """The execution to follow (see the module docstring)."""
    if options.execution_id is not None:
        return await pipelines.get_pipeline_execution(options.pipeline, options.execution_id)
    summaries = await pipelines.list_pipeline_executions(options.pipeline, max_items=100)
    if not summaries:
        raise ScriptFailed(
            ExitCode.NOT_FOUND, f"pipeline {options.pipeline} has no executions to watch"
        )
    chosen = next((s for s in summaries if s.get("status") in IN_FLIGHT), summaries[0])
    return await pipelines.get_pipeline_execution(options.pipeline, chosen["pipelineExecutionId"])


def _run_detail(run: dict[str, Any]) -> str:
    result = (run.get("output") or {}).get("executionResult") or {}
    error = result.get("errorDetails") or {}
    return str(error.get("message") or result.get("externalExecutionSummary") or "")


def _derived_stage_status(stage: dict[str, Any], runs: list[dict[str, Any]]) -> str | None:
    latest: dict[str, dict[str, Any]] = {}
    for run in sorted(runs, key=lambda r: r.get("startTime") or 0):
        latest[run["actionName"]] = run
    if not latest:
        return None
    statuses = [r.get("status") for r in latest.values()]
    if "InProgress" in statuses:
        return "InProgress"
    if "Failed" in statuses:
        return "Failed"
    if "Abandoned" in statuses:
        return "Stopped"
    declared = {a["name"] for a in stage.get("actions", [])}
    if declared <= {name for name, r in latest.items() if r.get("status") == "Succeeded"}:
        return "Succeeded"
    return "InProgress"


class Follower:
    def __init__(
        self,
        pipelines: PipelineClient,
        options: WatchOptions,
        printer: Printer,
        declaration: dict[str, Any],
        execution_id: str,
    ) -> None:
        self.pipelines = pipelines
        self.options = options
        self.printer = printer
        self.stages: list[dict[str, Any]] = declaration.get("stages", [])
        self.execution_id = execution_id

    async def poll(self) -> str:
        """Print what changed; returns the execution's status."""
        name = self.options.pipeline
        execution = await self.pipelines.get_pipeline_execution(name, self.execution_id)
        state = await self.pipelines.get_pipeline_state(name)
        runs = await self.pipelines.list_action_executions(name, execution_id=self.execution_id)
        stage_states = {s.get("stageName"): s for s in state.get("stageStates", [])}
        for stage in self.stages:
            stage_name = stage["name"]
            stage_runs = [r for r in runs if r.get("stageName") == stage_name]
            latest = (stage_states.get(stage_name) or {}).get("latestExecution") or {}
            if latest.get("pipelineExecutionId") == self.execution_id:
                status: str | None = latest.get("status")
            else:
                status = _derived_stage_status(stage, stage_runs)
            if status is None:
                continue
            ended = status not in IN_FLIGHT
            if not ended:
                self.printer.change(f"stage:{stage_name}", stage_name, status)
            for run in sorted(stage_runs, key=lambda r: r.get("startTime") or 0):
                self.printer.change(
                    f"action:{run['actionExecutionId']}",
                    f"{stage_name}/{run['actionName']}",
                    str(run.get("status")),
                    _run_detail(run),
                )
            if ended:
                self.printer.change(f"stage:{stage_name}", stage_name, status)
        status = str(execution.get("status"))
        self.printer.change("execution", "execution", status, execution.get("statusSummary", ""))
        return status


async def watch(
    pipelines: PipelineClient,
    options: WatchOptions,
    out: TextIO,
    *,
    colour: bool | None = None,
    sleep: Sleep = asyncio.sleep,
) -> int:
    """Follow one execution to its end; returns the exit code."""
    printer = Printer(out, wants_colour(out) if colour is None else colour)
    execution = await find_execution(pipelines, options)
    execution_id = str(execution["pipelineExecutionId"])
    trigger = (execution.get("trigger") or {}).get("triggerType", "")
    kind = " rollback" if execution.get("executionType") == "ROLLBACK" else ""
    status = str(execution.get("status"))
    # An execution that has already ended is announced here and its outcome printed again
    # after its stages, so the last line is always the outcome.
    printer.change(
        "execution",
        "execution",
        status,
        f"{execution_id}{kind} of {options.pipeline} ({trigger})",
        remember=status in IN_FLIGHT,
    )
    got = await pipelines.get_pipeline(options.pipeline, execution.get("pipelineVersion"))
    follower = Follower(pipelines, options, printer, got["pipeline"], execution_id)
    failures = 0
    while True:
        try:
            status = await follower.poll()
            failures = 0
        except Exception as exc:
            problem = pipelines.aws.describe(exc)
            failures += 1
            if not problem.transient or failures >= MAX_TRANSIENT_FAILURES:
                raise
            print(
                f"pipetop watch: {problem.title}: {problem.detail}; retrying",
                file=sys.stderr,
                flush=True,
            )
            delay = problem.retry_after if isinstance(problem, Throttled) else options.interval
            await sleep(max(delay, options.interval))
            continue
        if status in ENDED:
            return ENDED[status] if options.exit_status else ExitCode.OK
        await sleep(options.interval)
