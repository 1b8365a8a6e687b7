"""Engine overhead per stage transition: a 5-stage pipeline of no-op Commands actions.

    .venv/bin/python -m tests.bench.bench_engine_overhead [--executions 20]

The pipeline: an S3 source stage and four stages of one Commands action each, running
`true` on the source. It runs on `pipetop local serve` (its own process, real clock),
`--executions` times one after another after a warm-up execution. Times come from the
engine's own records (ListPipelineExecutions and ListActionExecutions), so polling for the
end costs the figures nothing but the poll's own requests.

The peer measured in the same run is the subprocess itself: the Commands provider run
directly in this process on `true` (a fresh workspace, the input unzipped beside it, log
lines kept in a list), once after each execution. Then, per execution:

- wall: the execution's start to its end;
- actions: the sum of the five action executions' start-to-end times (from the records);
- engine per transition = (wall - 4 x provider time) / 5: everything that is not the
  Commands provider's own work (starting stages and actions, workspaces, unzipping inputs,
  logs, commits, events, the S3 source action), spread over the five stages.

Reported: the median over executions of each, and the provider's median; target: engine
per transition <= 20 ms.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import asyncio
import shutil
import tempfile
import time
import zipfile
from datetime import datetime
from typing import Any

from tests.bench.harness import load, median, ms, percentile, table
from tests.local.pipelines import (
    commands,
    pipeline,
    stage,
    upload_source,
    zip_bytes,
)
from tests.process import ServerProcess
from tui.local.clock import Clock
from tui.local.engine.providers.commands import CommandsProvider
from tui.local.engine.providers.job import ActionJob
from tui.model.declaration import parse_pipeline

NAME = "overhead"
COMMANDS_STAGES = 4
STAGES = COMMANDS_STAGES + 1
TARGET_MS = 20.0
SOURCE_FILES = {"README.md": "hello\n", "src/app.py": "print('hi')\n"}


def declaration(name: str = NAME, stages: int = COMMANDS_STAGES, **options: Any) -> dict[str, Any]:
    return pipeline(
        name,
        *(stage(f"Stage{i}", commands(f"Noop{i}", ["true"])) for i in range(1, stages + 1)),
        **options,
    )


def seconds(value: datetime) -> float:
    return value.timestamp()


def wait_done(client: Any, name: str, execution_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)[
            "pipelineExecution"
        ]["status"]
        if status not in ("InProgress", "Stopping"):
            return str(status)
        if time.monotonic() > deadline:
            raise RuntimeError(f"execution {execution_id} still {status} after {timeout} s")
        time.sleep(0.02)


def execution_times(client: Any, name: str) -> dict[str, tuple[float, float]]:
    """Execution id -> (start, end) in epoch seconds, from the engine's records."""
    times = {}
    for page in client.get_paginator("list_pipeline_executions").paginate(pipelineName=name):
        for summary in page["pipelineExecutionSummaries"]:
            times[summary["pipelineExecutionId"]] = (
                seconds(summary["startTime"]),
                seconds(summary["lastUpdateTime"]),
            )
    return times


def action_seconds(client: Any, name: str, execution_id: str) -> float:
    total = 0.0
    paginator = client.get_paginator("list_action_executions")
    for page in paginator.paginate(pipelineName=name, filter={"pipelineExecutionId": execution_id}):
        for detail in page["actionExecutionDetails"]:
            total += seconds(detail["lastUpdateTime"]) - seconds(detail["startTime"])
    return total


class DirectProvider:
    """The Commands provider on `true`, run in this process: the subprocess's own cost."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.provider = CommandsProvider()
        self.clock = Clock()
        parsed = parse_pipeline(declaration())
        self.action = parsed.stages[1].actions[0]
        self.source = root / "source.zip"
        self.source.write_bytes(zip_bytes(SOURCE_FILES))
        self.count = 0
        # One loop for every direct run, as the server has: no loop set-up inside a timing.
        self.loop = asyncio.new_event_loop()

    def job(self) -> ActionJob:
        self.count += 1
        workspace = self.root / f"run-{self.count}"
        inputs = workspace / "inputs" / "SourceOut"
        inputs.mkdir(parents=True)
        with zipfile.ZipFile(self.source) as archive:
            archive.extractall(inputs)
        lines: list[str] = []
        return ActionJob(
            pipeline_name=NAME,
            pipeline_arn=f"arn:aws:codepipeline:us-east-1:000000000000:{NAME}",
            pipeline_version=1,
            stage_name="Stage1",
            action_name=self.action.name,
            execution_id="direct",
            action_execution_id=f"direct-{self.count}",
            region="us-east-1",
            account="000000000000",
            declaration=self.action,
            configuration={},
            workspace=workspace,
            input_dirs={"SourceOut": inputs},
            input_artifacts=[],
            log=lines.append,
            clock=self.clock,
            log_group=f"/aws/codepipeline/{NAME}",
            log_stream=f"direct-{self.count}",
        )

    async def _spawn_true(self) -> None:
        process = await asyncio.create_subprocess_exec(
            self.provider.shell,
            "--noprofile",
            "--norc",
            "-c",
            "true",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
        )
        await process.communicate()

    def spawn_once(self) -> float:
        """The bare subprocess: the provider's shell running `true`, nothing around it."""
        started = time.perf_counter()
        self.loop.run_until_complete(self._spawn_true())
        return time.perf_counter() - started

    def run_once(self) -> float:
        job = self.job()
        started = time.perf_counter()
        outcome = self.loop.run_until_complete(self.provider.run(job))
        elapsed = time.perf_counter() - started
        if outcome.status != "Succeeded":
            raise RuntimeError(f"the provider failed on `true`: {outcome.summary}")
        shutil.rmtree(job.workspace)
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=20)
    args = parser.parse_args()
    print(load())
    with (
        tempfile.TemporaryDirectory(prefix="pipetop-bench-") as scratch,
        ServerProcess(Path(scratch) / "data") as server,
    ):
        direct = DirectProvider(Path(scratch) / "direct")
        upload_source(server, SOURCE_FILES)  # type: ignore[arg-type]
        client = server.client("codepipeline")
        client.create_pipeline(pipeline=declaration())
        first = client.list_pipeline_executions(pipelineName=NAME)["pipelineExecutionSummaries"]
        wait_done(client, NAME, first[0]["pipelineExecutionId"])  # the warm-up execution
        direct.run_once()
        provider_times = []
        spawn_times = []
        ids = []
        for _ in range(args.executions):
            execution_id = client.start_pipeline_execution(name=NAME)["pipelineExecutionId"]
            status = wait_done(client, NAME, execution_id)
            if status != "Succeeded":
                raise RuntimeError(f"execution {execution_id} ended {status}")
            ids.append(execution_id)
            provider_times.append(direct.run_once())
            spawn_times.append(direct.spawn_once())
        direct.loop.close()
        times = execution_times(client, NAME)
        walls = [times[i][1] - times[i][0] for i in ids]
        actions = [action_seconds(client, NAME, i) for i in ids]
    provider = median(provider_times)
    engine = [(wall - COMMANDS_STAGES * provider) / STAGES for wall in walls]
    gaps = [(wall - acted) / STAGES for wall, acted in zip(walls, actions, strict=True)]
    per_transition = median(engine)
    print(
        f"\nEngine overhead, {STAGES} stages (S3 source + {COMMANDS_STAGES} Commands `true`), "
        f"median of {args.executions} sequential executions"
    )
    rows = [
        ["execution wall time", ms(median(walls)), f"p90 {ms(percentile(walls, 90))}"],
        ["sum of action times (records)", ms(median(actions)), ""],
        ["Commands provider on `true`, direct", ms(provider), f"x {COMMANDS_STAGES} per execution"],
        ["bare subprocess: the shell running `true`", ms(median(spawn_times)), "inside the above"],
        [
            "engine per transition: (wall - 4 x provider) / 5",
            ms(per_transition),
            f"target <= {TARGET_MS:g} ms: {'met' if per_transition * 1000 <= TARGET_MS else 'NOT met'}",
        ],
        ["between actions only: (wall - actions) / 5", ms(median(gaps)), ""],
        [
            "engine share of wall time",
            f"{(1 - COMMANDS_STAGES * provider / median(walls)):.0%}",
            "",
        ],
    ]
    print(table(["what", "median", "note"], rows))
    print(load())


if __name__ == "__main__":
    main()
