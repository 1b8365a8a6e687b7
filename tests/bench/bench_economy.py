"""API economy: watching many running pipelines with live events versus plain polling.

    .venv/bin/python -m tests.bench.bench_economy [--pipelines 200] [--seconds 60]

One run against one endpoint (its own process, real clock), the same workload for both:
`--pipelines` pipelines (Source, Build, Deploy; Build and Deploy each run `sleep` for about
`--stage-seconds`, 60 by default), each started again as soon as its execution ends, so
executions run all the time. Then, one after the other, for `--seconds` each:

1. events: the Watcher as the app makes it with default settings for AWS (rate budget 5
   requests/s, burst 10; events from an SQS queue an EventBridge rule fills; debounced re-reads of the
   pipelines that had events and a slow round robin);
2. polling: the Watcher in plain polling mode, every pipeline every 5 s, no rate budget (what
   a tool without one does: CodePipeline's own console polls about so).

For each: CodePipeline requests a minute as the endpoint counted them (`/_local/calls`; the
driver's own StartPipelineExecution calls left out), GetPipelineState calls a minute, and
event-to-view freshness: from the moment the engine committed a stage's change (the endpoint
prints the monotonic time of every event it delivers; CLOCK_MONOTONIC is shared by the
processes) to the moment the Watcher's view showed that stage of that execution in that
status (p50/p95; Build and Deploy, whose states last seconds), plus the changes the view never
showed (states a poll slept through). [I] The view, not a drawn frame: `bench_tui` measures
the frame after it (milliseconds).
Counting starts once the Watcher has read every pipeline once (under the budget the first
reads of 200 pipelines take over a minute: that warm-up is not the steady state).

Nothing is asserted (the machine is shared); the figures go to the README. With
`BENCH_DEBUG=1` it also prints each change the view never showed and each shown more than 2 s
late, with the events and snapshots the Watcher applied to that pipeline around it.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import asyncio
import contextlib
import os
import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests import faults
from tests.bench.bench_tui import ENV, wire_events
from tests.bench.event_endpoint import EventEndpoint, serve_printing_events
from tests.bench.harness import REGION, load, percentile, table
from tests.local.pipelines import commands, pipeline, stage, upload_source

STAGE_STATUS = {"STARTED": "InProgress", "SUCCEEDED": "Succeeded", "FAILED": "Failed"}
ENDED = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
"""Ends after which the driver starts the pipeline again (one execution at a time each)."""
TRANSIENT = 1.0
"""A stage state replaced within this many seconds by another of the same stage is not
judged: no view, polled or live, is expected to have shown it."""
DRIVER_LABELS = frozenset({"codepipeline.StartPipelineExecution"})


# The endpoint, printing every event it delivers ------------------------------------------------


class Endpoint(EventEndpoint):
    """`--serve` as a child process. Stage changes go to `stage_changes` (key -> when); an
    execution's end puts its pipeline on `ended` (the driver starts it again)."""

    module = "tests.bench.bench_economy"

    def __init__(self) -> None:
        super().__init__(ENV)
        self.stage_changes: dict[tuple[str, str, str, str], float] = {}
        self.ended: queue.Queue[str] = queue.Queue()
        self.ends: Counter[str] = Counter()
        """Executions ended, by their final state."""

    def __enter__(self) -> Endpoint:
        super().__enter__()
        return self

    def on_event(self, when: float, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "CodePipeline Stage Execution State Change":
            key = (event["pipeline"], event["execution"], event["stage"], event["state"])
            with self.lock:
                self.stage_changes.setdefault(key, when)
        elif kind == "CodePipeline Pipeline Execution State Change" and event["state"] in ENDED:
            self.ends[event["state"]] += 1
            self.ended.put(event["pipeline"])

    def changes_between(self, start: float, end: float) -> dict[tuple[str, str, str, str], float]:
        """Stage changes committed in [start, end] that lasted at least `TRANSIENT` s."""
        with self.lock:
            changes = dict(self.stage_changes)
        by_stage: dict[tuple[str, str], list[float]] = {}
        for (pipeline_name, _, stage_name, _), when in changes.items():
            by_stage.setdefault((pipeline_name, stage_name), []).append(when)
        lasting = {}
        for key, when in changes.items():
            if not start <= when <= end:
                continue
            later = [t for t in by_stage[(key[0], key[2])] if when < t <= when + TRANSIENT]
            if not later:
                lasting[key] = when
        return lasting


# The workload ------------------------------------------------------------------------------------


def create_pipelines(endpoint: Endpoint, count: int, stage_seconds: float) -> list[str]:
    """Each stage sleeps between half and one and a half `stage_seconds` (a fixed draw per
    pipeline and stage): equal durations would keep pipelines started together changing in
    the same second forever, a wave no real fleet makes."""
    upload_source(endpoint)  # type: ignore[arg-type]
    client = endpoint.client("codepipeline")
    draw = random.Random(7)
    names = [f"svc-{index:03d}" for index in range(count)]
    for name in names:
        build, deploy = (stage_seconds * draw.uniform(0.5, 1.5) for _ in range(2))
        client.create_pipeline(
            pipeline=pipeline(
                name,
                stage("Build", commands("Compile", [f"sleep {build:.1f}"])),
                stage("Deploy", commands("Roll", [f"sleep {deploy:.1f}"])),
            )
        )
    return names


class Driver:
    """Keeps every pipeline running: starts each (spread over `spread` seconds), and again as
    soon as its execution ends."""

    def __init__(self, endpoint: Endpoint, names: list[str], spread: float) -> None:
        self.endpoint = endpoint
        self.names = names
        self.spread = spread
        self.starts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Driver:
        self._thread.start()
        return self

    def _run(self) -> None:
        client = self.endpoint.client("codepipeline")
        pause = self.spread / max(1, len(self.names))
        for name in self.names:
            if self._stop.is_set():
                return
            running = client.list_pipeline_executions(pipelineName=name, maxResults=1)
            if not running["pipelineExecutionSummaries"]:  # not started by its creation
                client.start_pipeline_execution(name=name)
                self.starts += 1
            time.sleep(pause)
        while not self._stop.is_set():
            try:
                name = self.endpoint.ended.get(timeout=0.2)
            except queue.Empty:
                continue
            with contextlib.suppress(Exception):
                client.start_pipeline_execution(name=name)
                self.starts += 1

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


# Watching ----------------------------------------------------------------------------------------


@dataclass
class Phase:
    label: str
    seconds: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    missed: int = 0
    budget_requests: int = 0
    events_received: int = 0
    """Event messages the Watcher's feed received in the window (events mode)."""
    backlog: int = 0
    """Event messages still in the queue at the end of the window (the feed fell behind)."""

    def per_minute(self, labels: set[str] | None = None) -> float:
        counted = sum(
            n
            for label, n in self.calls.items()
            if label.startswith("codepipeline.")
            and label not in DRIVER_LABELS
            and (labels is None or label in labels)
        )
        return counted * 60.0 / self.seconds


async def watch(
    endpoint: Endpoint,
    names: list[str],
    label: str,
    seconds: float,
    *,
    events_queue: str | None,
    polling: bool,
    budget_rate: float | None = None,
) -> Phase:
    from tui.app.app import budget_settings, reconcile_settings
    from tui.app.settings import Settings
    from tui.aws.budget import AWS_BUDGET, BudgetSettings
    from tui.aws.reconcile import ReconcileSettings
    from tui.aws.session import ConnectionSettings
    from tui.aws.watch import Watcher

    settings = Settings(events_queue=events_queue)
    reconcile = reconcile_settings(settings)
    # The events watcher stands for one on AWS: the app's AWS budget, which the local endpoint
    # would otherwise lift (`tui.aws.budget.default_budget`).
    budget = budget_settings(settings) or AWS_BUDGET
    if budget_rate is not None:
        budget = BudgetSettings(rate=budget_rate, burst=max(10.0, budget_rate))
    if polling:
        reconcile = ReconcileSettings(poll_interval=5.0, max_rate=1000.0, max_concurrent=16)
        budget = BudgetSettings(rate=None)
    seen: dict[tuple[str, str, str, str], float] = {}
    watcher: Watcher

    def changed(changed_names: frozenset[str]) -> None:
        now = time.monotonic()
        for name in changed_names:
            view = watcher.workspace.pipeline(name)
            if view is None:
                continue
            for stage_view in view.stages:
                if stage_view.execution_id and stage_view.status:
                    key = (name, stage_view.execution_id, stage_view.name, stage_view.status)
                    seen.setdefault(key, now)

    watcher = Watcher(
        ConnectionSettings(endpoint_url=endpoint.url, region=REGION),
        events_queue=events_queue,
        reconcile=reconcile,
        budget=budget,
        on_change=changed,
    )
    trace: dict[str, list[tuple[float, str]]] = {}
    if os.environ.get("BENCH_DEBUG"):
        original_events = watcher._on_events
        original_apply = watcher.scheduler.apply

        def traced_events(events: list[Any]) -> None:
            now = time.monotonic()
            for event in events:
                d = event.detail
                trace.setdefault(d.pipeline, []).append(
                    (now, f"event {getattr(d, 'stage', None)} {d.state} {event.time}")
                )
            original_events(events)

        def traced_apply(name: str, snapshot: Any) -> Any:
            trace.setdefault(name, []).append((time.monotonic(), "snapshot"))
            return original_apply(name, snapshot)

        watcher._on_events = traced_events  # type: ignore[method-assign]
        watcher.scheduler.apply = traced_apply
    task = asyncio.ensure_future(watcher.run())
    try:
        deadline = time.monotonic() + 600
        while len(watcher.state_reads) < len(names) or (not polling and not watcher.scheduler.live):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label}: the first reads did not finish in 10 minutes")
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # the last initial reads are applied
        print(f"  {label}: every pipeline read once; measuring {seconds:g} s", flush=True)
        faults.reset_calls(endpoint)
        requests_before = watcher.budget.state.requests
        received_before = watcher.feed.status.received if watcher.feed is not None else 0
        start = time.monotonic()
        await asyncio.sleep(seconds)
        phase = Phase(label, time.monotonic() - start, faults.calls(endpoint))
        phase.budget_requests = watcher.budget.state.requests - requests_before
        if watcher.feed is not None and events_queue is not None:
            phase.events_received = watcher.feed.status.received - received_before
            attributes = endpoint.client("sqs").get_queue_attributes(
                QueueUrl=events_queue, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            phase.backlog = int(attributes["ApproximateNumberOfMessages"])
    finally:
        await watcher.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # Changes committed late in the window may show after it: judge those up to 10 s before.
    for (pipeline_name, execution, stage_name, state), committed in endpoint.changes_between(
        start, start + seconds - 10.0
    ).items():
        status = STAGE_STATUS.get(state)
        # The Source stage starts and succeeds within milliseconds: no view shows it running.
        if status is None or stage_name == "Source":
            continue
        shown = seen.get((pipeline_name, execution, stage_name, status))
        if shown is None or shown < committed - 1.0:
            phase.missed += 1
            if os.environ.get("BENCH_DEBUG"):
                others = sorted(
                    (t - committed, k[1][:8], k[3])
                    for k, t in seen.items()
                    if k[0] == pipeline_name and k[2] == stage_name
                )
                print("MISSED", pipeline_name, execution[:8], stage_name, state, others[:8])
        elif os.environ.get("BENCH_DEBUG") and shown - committed > 2.0:
            print("SLOW", label, f"{shown - committed:.2f}", pipeline_name, stage_name, state)
            for when, what in trace.get(pipeline_name, []):
                if committed - 3 <= when <= shown + 0.5:
                    print(f"   {when - committed:+.2f} {what}")
        else:
            phase.lags.append(max(0.0, shown - committed))
    return phase


def row(phase: Phase) -> list[str]:
    lags = phase.lags
    p50 = f"{percentile(lags, 50):.2f} s" if lags else "-"
    p95 = f"{percentile(lags, 95):.2f} s" if lags else "-"
    return [
        phase.label,
        f"{phase.per_minute():.0f}",
        f"{phase.per_minute({'codepipeline.GetPipelineState'}):.0f}",
        p50,
        p95,
        f"{len(lags)}",
        f"{phase.missed}",
    ]


async def run(args: argparse.Namespace) -> None:
    with Endpoint() as endpoint:
        print(f"endpoint {endpoint.url}; {load()}", flush=True)
        names = create_pipelines(endpoint, args.pipelines, args.stage_seconds)
        queue_url = wire_events(endpoint)  # type: ignore[arg-type]
        with Driver(endpoint, names, spread=2 * args.stage_seconds) as driver:
            await asyncio.sleep(2 * args.stage_seconds)
            print(f"{args.pipelines} pipelines running ({driver.starts} starts)", flush=True)
            events = await watch(
                endpoint,
                names,
                "events + budget",
                args.seconds,
                events_queue=queue_url,
                polling=False,
                budget_rate=args.budget_rate,
            )
            polling = await watch(
                endpoint, names, "plain 5 s polling", args.seconds, events_queue=None, polling=True
            )
            print(f"{driver.starts} executions started in all; {load()}", flush=True)
            print(f"executions ended: {dict(endpoint.ends)}", flush=True)
    headers = [
        "watcher",
        "CodePipeline calls/min",
        "GetPipelineState/min",
        "freshness p50",
        "freshness p95",
        "changes seen",
        "never shown",
    ]
    print()
    print(table(headers, [row(events), row(polling)]))
    print()
    calls = events.per_minute() / polling.per_minute()
    gets = events.per_minute({"codepipeline.GetPipelineState"}) / polling.per_minute(
        {"codepipeline.GetPipelineState"}
    )
    print(f"calls: events/polling = {calls:.3f} (target <= 0.1); GetPipelineState {gets:.3f}")
    if events.lags and polling.lags:
        for q in (50, 95):
            ratio = percentile(events.lags, q) / max(percentile(polling.lags, q), 1e-9)
            print(f"freshness p{q}: events/polling = {ratio:.3f} (target < 1)")
    per_pipeline = polling.per_minute({"codepipeline.GetPipelineState"}) / args.pipelines
    print(
        f"plain polling: {per_pipeline:.1f} GetPipelineState/min per pipeline (12 if it keeps up)"
    )
    print(f"budget requests counted client-side, events: {events.budget_requests}")
    print(
        f"events mode: {events.events_received} event messages received in the window "
        f"({events.events_received / events.seconds:.0f}/s), {events.backlog} left in the queue"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--stage-seconds", type=float, default=60.0)
    parser.add_argument(
        "--budget-rate", type=float, help="the events watcher's budget (default: the app's)"
    )
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve_printing_events(Path(args.serve))
        return 0
    # The Watcher in this process reads its credentials from the environment.
    os.environ.update({key: value for key, value in ENV.items() if key.startswith("AWS_")})
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
