"""API latency: GetPipelineState and ListPipelines against our endpoint, beside moto.

    .venv/bin/python -m tests.bench.bench_api_latency [--rounds 5] [--calls 300]

Three servers, each its own process so no two share a loop or a GIL with the client:
- ours: `pipetop local serve` (tests/process.py ServerProcess, real clock) holding 100
  pipelines (Source + two Commands stages), each run once to the end so GetPipelineState has
  latest executions to render;
- moto's standalone server holding the same 100 declarations (moto has no GetPipelineState:
  its GetPipeline is the peer; our GetPipeline is measured too, like for like);
- a bare aiohttp app answering `{}`: the floor any Python server on this machine pays.

One aiobotocore client per server (keep-alive), sequential calls after a warm-up. A round
measures `--calls` calls of each operation on each server, servers in rotating order; the
reported p50/p99 are the medians over rounds, and the ratio is ours / moto.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import boto3
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from tests.bench.harness import (
    CREDENTIALS,
    REGION,
    floor_server,
    load,
    median,
    moto_server,
    ms,
    percentile,
    ratio,
    table,
)
from tests.endpoint import CLIENT_CONFIG
from tests.local.pipelines import ROLE, commands, pipeline, stage, upload_source
from tests.process import ServerProcess

PIPELINES = 100
TARGET = 0.5
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "codepipeline.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def declarations() -> list[dict[str, Any]]:
    return [
        pipeline(
            f"bench-{i:03d}",
            stage("Build", commands("Compile", ["true"])),
            stage("Deploy", commands("Ship", ["true"])),
        )
        for i in range(PIPELINES)
    ]


def boto_client(service: str, url: str) -> Any:
    return boto3.client(
        service, endpoint_url=url, region_name=REGION, config=CLIENT_CONFIG, **CREDENTIALS
    )


def fill_ours(server: ServerProcess) -> None:
    upload_source(server)  # type: ignore[arg-type]
    client = server.client("codepipeline")
    for declaration in declarations():
        client.create_pipeline(pipeline=declaration)
    deadline = time.monotonic() + 300
    while True:
        running = [
            name
            for name in (d["name"] for d in declarations())
            if client.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"][0][
                "status"
            ]
            in ("InProgress", "Stopping")
        ]
        if not running:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(running)} executions still running after 300 s")
        time.sleep(0.5)


def fill_moto(url: str) -> None:
    iam = boto_client("iam", url)
    role = iam.create_role(
        RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(TRUST_POLICY)
    )
    client = boto_client("codepipeline", url)
    for declaration in declarations():
        # moto's account differs from ours: the role must be the one just created there.
        client.create_pipeline(pipeline={**declaration, "roleArn": role["Role"]["Arn"]})


Call = Callable[[int], Awaitable[Any]]


async def timed(call: Call, count: int) -> list[float]:
    samples = []
    for i in range(count):
        started = time.perf_counter()
        await call(i)
        samples.append(time.perf_counter() - started)
    return samples


async def measure(urls: dict[str, str], rounds: int, calls: int) -> dict[tuple[str, str], Any]:
    names = [d["name"] for d in declarations()]
    session = get_session()
    config = AioConfig(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30)
    clients = {}
    for server, url in urls.items():
        clients[server] = await session.create_client(
            "codepipeline", endpoint_url=url, region_name=REGION, config=config, **CREDENTIALS
        ).__aenter__()
    try:
        operations: dict[tuple[str, str], Call] = {}
        for server, client in clients.items():
            operations[(server, "ListPipelines")] = lambda i, c=client: c.list_pipelines()
            operations[(server, "GetPipeline")] = lambda i, c=client: c.get_pipeline(
                name=names[i % len(names)]
            )
            if server != "moto":
                operations[(server, "GetPipelineState")] = lambda i, c=client: c.get_pipeline_state(
                    name=names[i % len(names)]
                )
        for call in operations.values():
            await timed(call, 50)  # warm-up: connections, caches, code paths
        per_round: dict[tuple[str, str], list[tuple[float, float]]] = {k: [] for k in operations}
        keys = list(operations)
        for number in range(rounds):
            shift = number % len(keys)
            for key in keys[shift:] + keys[:shift]:
                samples = await timed(operations[key], calls)
                per_round[key].append((percentile(samples, 50), percentile(samples, 99)))
        return {
            key: (median([p50 for p50, _ in values]), median([p99 for _, p99 in values]))
            for key, values in per_round.items()
        }
    finally:
        for client in clients.values():
            await client.__aexit__(None, None, None)


def report(results: dict[tuple[str, str], Any], rounds: int, calls: int) -> None:
    rows = []
    for ours_op, moto_op in (
        ("GetPipelineState", "GetPipeline"),
        ("ListPipelines", "ListPipelines"),
        ("GetPipeline", "GetPipeline"),
    ):
        ours = results[("ours", ours_op)]
        moto = results[("moto", moto_op)]
        floor = results[("floor", ours_op)]
        met = "yes" if ours[0] <= TARGET * moto[0] else "NO"
        rows.append(
            [
                ours_op if ours_op == moto_op else f"{ours_op} (moto: {moto_op})",
                f"{ms(ours[0])} / {ms(ours[1])}",
                f"{ms(moto[0])} / {ms(moto[1])}",
                f"{ms(floor[0])} / {ms(floor[1])}",
                ratio(ours[0], moto[0]),
                ratio(ours[1], moto[1]),
                f"<= {TARGET}x",
                met,
            ]
        )
    print(
        f"\nAPI latency, {PIPELINES} pipelines, aiobotocore, sequential; median over {rounds} "
        f"rounds of {calls} calls"
    )
    print(
        table(
            [
                "operation",
                "ours p50 / p99",
                "moto p50 / p99",
                "floor p50 / p99",
                "p50 ours/moto",
                "p99 ours/moto",
                "target",
                "met?",
            ],
            rows,
        )
    )
    print(load())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    print(load())
    with (
        tempfile.TemporaryDirectory(prefix="pipetop-bench-") as data_dir,
        ServerProcess(Path(data_dir) / "data") as ours,
        moto_server() as moto_url,
        floor_server() as floor_url,
    ):
        fill_ours(ours)
        fill_moto(moto_url)
        urls = {"ours": ours.url, "moto": moto_url, "floor": floor_url}
        results = asyncio.run(measure(urls, args.rounds, args.calls))
    report(results, args.rounds, args.calls)


if __name__ == "__main__":
    main()
