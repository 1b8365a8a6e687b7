"""50 PARALLEL executions of a 4-stage pipeline at once, against one execution alone.

    .venv/bin/python -m tests.bench.bench_parallel [--executions 50] [--rounds 3]

The pipeline: PARALLEL execution mode, an S3 source stage and three stages of one Commands
action each, running `true` on the source, on `pipetop local serve` (its own process, real
clock). A round first runs `--alone` executions one at a time (their median is the ideal:
what each of the parallel ones would take with the machine to itself), then starts
`--executions` at once and waits for all of them. Times come from the engine's records:
total = first start to last end.

Reported per round and as the median over rounds: the ideal, the total, total / ideal, and
the CPU the server process spent on them (its threads and its shells included) with that CPU
spread over the machine's cores: no schedule can finish in less than the latter.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import os
import tempfile
import time
from typing import Any

from tests.bench.bench_engine_overhead import (
    SOURCE_FILES,
    declaration,
    execution_times,
    wait_done,
)
from tests.bench.harness import load, median, ms, table
from tests.local.pipelines import upload_source
from tests.process import ServerProcess

NAME = "parallel"
COMMANDS_STAGES = 3


def wait_all(client: Any, ids: list[str], timeout: float = 600) -> None:
    """Poll the newest page of executions (where all of `ids` are) until each has ended."""
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending:
        summaries = client.list_pipeline_executions(pipelineName=NAME, maxResults=100)[
            "pipelineExecutionSummaries"
        ]
        for summary in summaries:
            if summary["pipelineExecutionId"] in pending and summary["status"] not in (
                "InProgress",
                "Stopping",
            ):
                if summary["status"] != "Succeeded":
                    raise RuntimeError(f"an execution ended {summary['status']}")
                pending.discard(summary["pipelineExecutionId"])
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} executions still running after {timeout} s")
        time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, its threads and its reaped children (the shells), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def run_round(client: Any, pid: int, executions: int, alone: int) -> tuple[float, float, float]:
    """(one execution alone: the median of `alone` runs; all of them at once; the server's CPU
    time for all of them), in seconds."""
    lone_ids = []
    for _ in range(alone):
        lone_ids.append(client.start_pipeline_execution(name=NAME)["pipelineExecutionId"])
        wait_done(client, NAME, lone_ids[-1])
    cpu_before = cpu_seconds(pid)
    ids = [
        client.start_pipeline_execution(name=NAME)["pipelineExecutionId"] for _ in range(executions)
    ]
    wait_all(client, ids)
    cpu = cpu_seconds(pid) - cpu_before
    times = execution_times(client, NAME)
    ideal = median([times[i][1] - times[i][0] for i in lone_ids])
    total = max(times[i][1] for i in ids) - min(times[i][0] for i in ids)
    return ideal, total, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--alone", type=int, default=5, help="lone executions per round")
    args = parser.parse_args()
    print(load())
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="pipetop-bench-") as scratch,
        ServerProcess(Path(scratch) / "data") as server,
    ):
        upload_source(server, SOURCE_FILES)  # type: ignore[arg-type]
        client = server.client("codepipeline")
        client.create_pipeline(
            pipeline=declaration(NAME, COMMANDS_STAGES, mode="PARALLEL"),
        )
        first = client.list_pipeline_executions(pipelineName=NAME)["pipelineExecutionSummaries"]
        wait_done(client, NAME, first[0]["pipelineExecutionId"])  # the warm-up execution
        for _ in range(args.rounds):
            assert server.process is not None
            results.append(run_round(client, server.process.pid, args.executions, args.alone))
            print(f"  round: {load()}")
    cores = os.cpu_count() or 1
    rows = [
        [
            f"round {n}",
            ms(ideal),
            ms(total),
            f"{total / ideal:.1f}x",
            f"{cpu:.2f} s",
            ms(cpu / cores),
        ]
        for n, (ideal, total, cpu) in enumerate(results, 1)
    ]
    rows.append(
        [
            "median",
            ms(median([r[0] for r in results])),
            ms(median([r[1] for r in results])),
            f"{median([t / i for i, t, _ in results]):.1f}x",
            f"{median([r[2] for r in results]):.2f} s",
            ms(median([r[2] for r in results]) / cores),
        ]
    )
    print(
        f"\n{args.executions} PARALLEL executions of a {COMMANDS_STAGES + 1}-stage pipeline "
        f"(S3 source + {COMMANDS_STAGES} Commands `true`)"
    )
    print(
        table(
            [
                "",
                "one alone (ideal)",
                f"{args.executions} at once",
                "total / ideal",
                "server CPU (with shells)",
                f"CPU / {cores} cores",
            ],
            rows,
        )
    )
    print(load())


if __name__ == "__main__":
    main()
