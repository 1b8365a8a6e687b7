"""TUI benchmarks: the app against the local endpoint, beside the AWS CLI on the same endpoint.

    .venv/bin/python -m tests.bench.bench_tui [--only first-frame ...] [--aws-cli PATH ...]

Figures, each printed with its target; nothing is asserted (the machine is shared):

1. first-frame: process start to the first composed frame of `pipetop` (headless, 120x36,
   Textual's `Ready` event: "the first frame has been displayed"), beside process start to
   exit of one `aws codepipeline list-pipelines` against the same endpoint. Target <= 0.8x.
2. first-data: process start to the frame that shows the pipelines list filled with 100
   pipelines and each one's latest status. Target <= 1.5x the same CLI call. Measured with
   the defaults (on the local endpoint: no request budget) and with a budget set by the user
   to 1,000 requests a second. `--only first-frame` and `--only first-data` run the same
   measurement (both figures).
3. event-to-screen: from the moment the engine commits a state change (the endpoint runs in
   its own process and prints the monotonic time of every event it delivers; Linux's
   CLOCK_MONOTONIC is shared by processes) through EventBridge, the SQS queue and the app's
   long poll, to the end of the first frame drawn after the app applied it (the view shows
   the pipeline Succeeded): p50/p95 over approvals of 10 pipelines, idle and while the logs
   screen follows a Commands action printing 10,000 lines/s (the lines go the real way:
   the action's output, the endpoint's log store, GetLogEvents pages, the log view).
   Target p95 <= 50 ms.
4. log-ingestion: lines/s the logs screen writes while following (batches as LogTail
   delivers them, frames drawn between them), and the memory it holds after 100,000 lines
   (tracemalloc, with the view's default 20,000-line bound). Target >= 100,000 lines/s,
   <= 30 MiB.
5. filter: 2,000 pipelines in the list, one keystroke in the filter to the end of the frame
   that shows the filtered rows (p50/p95 over typing and deleting). Target <= 50 ms.
6. idle-cpu: CPU of the app process (utime + stime from /proc) watching 10 pipelines with
   live events, nothing happening, over `--idle-seconds`. Target <= 1% of one core.

Environment for event-to-screen: `BENCH_DEBUG=1` prints, for every sample slower than 50 ms,
each step of its delivery with its time from the engine's commit (both processes: the bus's
pump, the queue's wakes and receives, each SQS answer leaving the endpoint, the app's SQS
requests and answers, the feed's callback, the app's loop running late, where each loop was
blocked 40 ms into a block, and full garbage collections); `BENCH_FREEZE=1` calls
`gc.freeze()` once the app is live, to measure what full collections of the app's startup
objects cost it.

Modes used internally (the benchmark starts itself as a child): `--child idle URL QUEUE`,
`--serve DATA_DIR`; first frame and first data run `tests.bench.tui_child`, which imports
only what the `pipetop` command imports.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shlex
import statistics
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.bench.event_endpoint import EventEndpoint, serve_printing_events
from tests.bench.harness import CREDENTIALS, REGION, ROOT, load, percentile, table
from tests.local.pipelines import approval, commands, pipeline, stage, upload_source

SIZE = (120, 36)
SOURCE_BUCKET = "source-bucket"
QUEUE_NAME = "pipetop-bench-events"
RULE_NAME = "pipetop-bench-events"
EVENT_PATTERN = {
    "source": ["aws.codepipeline"],
    "detail-type": [
        "CodePipeline Pipeline Execution State Change",
        "CodePipeline Stage Execution State Change",
        "CodePipeline Action Execution State Change",
    ],
}
ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
    "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def mb(size: float) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def msec(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# The endpoint, in its own process, telling when each event is committed -----------------------

# BENCH_DEBUG=1: both processes note the monotonic time of each step of an event's delivery
# (the bus's pump, the queue's wakes and receives, each SQS answer leaving the endpoint, the
# app's requests and answers, the feed's callback); a sample slower than 50 ms prints its
# steps, from the engine's commit to the applied event.
TRACE = bool(os.environ.get("BENCH_DEBUG"))
_traces: list[tuple[float, str]] = []
_traces_lock = threading.Lock()


def _note(what: str) -> None:
    with _traces_lock:
        _traces.append((time.monotonic(), what))


def _trace_endpoint(backend: Any, app: Any) -> None:
    def out(what: str) -> None:
        sys.stdout.write(f"TRACE {time.monotonic():.6f} {what}\n")
        sys.stdout.flush()

    bus = backend.faults.bus
    store = bus.queues
    pump, wake, receive = bus.pump, store.wake, store.receive

    def traced_pump() -> None:
        out("endpoint: pump starts")
        pump()
        out("endpoint: pump done")

    def traced_wake(name: str) -> None:
        out(f"endpoint: wake {name} ({len(store._waiters.get(name, ()))} waiting)")
        wake(name)

    def traced_receive(name: str, *args: Any, **kwargs: Any) -> Any:
        received = receive(name, *args, **kwargs)
        out(f"endpoint: receive {name}: {len(received)} messages")
        return received

    bus.pump, store.wake, store.receive = traced_pump, traced_wake, traced_receive

    async def prepared(request: Any, response: Any) -> None:
        target = request.headers.get("X-Amz-Target", "")
        if target.startswith("AmazonSQS."):
            out(f"endpoint: answers {target.removeprefix('AmazonSQS.')}")

    app.on_response_prepare.append(prepared)

    async def watch(_: Any) -> None:
        app["bench_beat"] = _watch_loop(lambda where: out(f"endpoint: blocked in {where}"))

    app.on_startup.append(watch)


async def _trace_app(app: Any) -> None:
    sqs = await app.watcher.aws.client("sqs")

    def before(**kwargs: Any) -> None:
        _note(f"app: sends {kwargs['model'].name}")

    def after(**kwargs: Any) -> None:
        parsed = kwargs.get("parsed") or {}
        _note(f"app: got {kwargs['model'].name} ({len(parsed.get('Messages') or [])} messages)")

    sqs.meta.events.register("before-call.sqs", before)
    sqs.meta.events.register("after-call.sqs", after)
    feed = app.watcher.feed
    on_events = feed.on_events

    def applied(events: list[Any]) -> Any:
        _note(f"app: applies {len(events)} events")
        return on_events(events)

    feed.on_events = applied

    async def lag() -> None:
        # The app's loop: a 5 ms sleep that wakes late means the loop was busy (or the
        # process was not scheduled) meanwhile.
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.005)
            late = time.monotonic() - before - 0.005
            if late > 0.02:
                _note(f"app: loop late {late * 1000:.0f} ms")

    app.bench_lag = asyncio.ensure_future(lag())
    app.bench_beat = _watch_loop(lambda where: _note(f"app: blocked in {where}"))

    collecting = [0.0]

    def collected(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            collecting[0] = time.monotonic()
            return
        took = time.monotonic() - collecting[0]
        _note(f"app: gc gen 2 took {msec(took)} ({info['collected']} collected)")
        print(f"    (gc gen 2 took {msec(took)})", file=sys.stderr, flush=True)

    gc.callbacks.append(collected)


def _watch_loop(report: Callable[[str], None]) -> Any:
    """Where the running loop is while it is blocked: its stack 40 ms into each block."""
    import traceback

    heartbeat = [time.monotonic()]
    loop_thread = threading.get_ident()

    async def beat() -> None:
        while True:
            heartbeat[0] = time.monotonic()
            await asyncio.sleep(0.002)

    def watchdog() -> None:
        seen = 0.0
        while True:
            time.sleep(0.005)
            if time.monotonic() - heartbeat[0] > 0.04 and heartbeat[0] != seen:
                seen = heartbeat[0]
                frame = sys._current_frames().get(loop_thread)
                if frame is not None:
                    stack = traceback.extract_stack(frame)[-10:]
                    report(
                        " < ".join(
                            f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack)
                        )
                    )

    threading.Thread(target=watchdog, daemon=True).start()
    return asyncio.ensure_future(beat())


def _print_trace(start: float, end: float) -> None:
    with _traces_lock:
        steps = [(when, what) for when, what in _traces if start - 0.005 <= when <= end + 0.005]
    for when, what in sorted(steps):
        print(f"      {(when - start) * 1000:+8.1f} ms  {what}", file=sys.stderr, flush=True)


def serve(data_dir: Path) -> None:
    """`--serve`: the endpoint printing every event it delivers (and, traced, its steps)."""
    serve_printing_events(data_dir, _trace_endpoint if TRACE else None)


class Endpoint(EventEndpoint):
    """`--serve` as a child process; `events` maps (pipeline, execution, state) to when the
    engine delivered that pipeline-level event."""

    module = "tests.bench.bench_tui"

    def __init__(self) -> None:
        super().__init__(ENV)
        self.events: dict[tuple[str, str, str], float] = {}

    def __enter__(self) -> Endpoint:
        super().__enter__()
        return self

    def on_line(self, line: str) -> None:
        if line.startswith("TRACE "):
            _, when, what = line.rstrip("\n").split(" ", 2)
            with _traces_lock:
                _traces.append((float(when), what))

    def on_event(self, when: float, event: dict[str, Any]) -> None:
        if TRACE:
            with _traces_lock:
                kind = event["type"].split()[1]
                _traces.append((when, f"endpoint: commits {kind} {event['state']}"))
        if event["type"] == "CodePipeline Pipeline Execution State Change":
            with self.lock:
                key = (event["pipeline"], event["execution"], event["state"])
                self.events.setdefault(key, when)

    def event_time(self, pipeline: str, execution: str, state: str) -> float | None:
        with self.lock:
            return self.events.get((pipeline, execution, state))


def create_approval_pipelines(endpoint: Endpoint, count: int, prefix: str = "svc") -> list[str]:
    """`count` pipelines Source -> Approve, each waiting at its approval."""
    upload_source(endpoint)  # type: ignore[arg-type]
    client = endpoint.client("codepipeline")
    names = [f"{prefix}-{index:03d}" for index in range(count)]
    for name in names:
        client.create_pipeline(pipeline=pipeline(name, stage("Approve", approval("Gate"))))
    deadline = time.monotonic() + 120
    waiting: set[str] = set()
    while len(waiting) < count:
        for name in names:
            if name not in waiting and approval_token(client, name) is not None:
                waiting.add(name)
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(waiting)} of {count} pipelines reached their approval")
        time.sleep(0.1)
    return names


def approval_token(client: Any, name: str) -> str | None:
    for stage_state in client.get_pipeline_state(name=name)["stageStates"]:
        for action in stage_state.get("actionStates", []):
            token = (action.get("latestExecution") or {}).get("token")
            if token:
                return str(token)
    return None


def wire_events(endpoint: Endpoint) -> str:
    """The SQS queue and EventBridge rule the app reads live events from; its URL."""
    sqs = endpoint.client("sqs")
    queue_url = str(sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = endpoint.client("events")
    rule_arn = events.put_rule(Name=RULE_NAME, EventPattern=json.dumps(EVENT_PATTERN))["RuleArn"]
    from tui.demo import queue_policy

    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": queue_policy(queue_arn, rule_arn)}
    )
    events.put_targets(Rule=RULE_NAME, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


# 1 and 2: first frame and first data, in a child process ---------------------------------------


def _app(url: str, events_queue: str | None = None, max_rate: float | None = None) -> Any:
    from tui.app.app import make_app
    from tui.app.settings import PollSettings, Settings
    from tui.aws.session import ConnectionSettings

    poll = PollSettings() if max_rate is None else PollSettings(max_rate=max_rate)
    return make_app(
        Settings(events_queue=events_queue, animations=False, poll=poll),
        ConnectionSettings(endpoint_url=url, region=REGION),
    )


def child_idle(url: str, queue: str) -> None:
    app = _app(url, events_queue=queue)
    app.run(headless=True, size=SIZE)


def timed_child(args: list[str], marker: str, timeout: float = 120) -> float:
    """Seconds from spawning `tests.bench.tui_child ...` (the app as the `pipetop` command
    starts it, with no configuration file) to the moment it reports `marker`."""
    command = [sys.executable, "-m", "tests.bench.tui_child", *args]
    env = {**ENV, "PIPETOP_CONFIG": os.devnull}
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(marker + " "):
                return float(line.split()[1]) - started
        raise RuntimeError(f"the child ended without {marker}")
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
        if process.poll() is None:
            process.kill()


def timed_cli(cli: str, url: str) -> float:
    started = time.monotonic()
    subprocess.run(
        [cli, "--endpoint-url", url, "codepipeline", "list-pipelines"],
        env=ENV,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.monotonic() - started


def bench_startup(rounds: int, clis: list[str]) -> list[list[str]]:
    rows: list[list[str]] = []
    with Endpoint() as endpoint:
        print("  creating 100 pipelines…", file=sys.stderr)
        create_approval_pipelines(endpoint, 100)
        cli_times: dict[str, list[float]] = {cli: [] for cli in clis}
        frames: list[float] = []
        data: list[float] = []
        fast: list[float] = []
        for _ in range(rounds):
            for cli in clis:
                cli_times[cli].append(timed_cli(cli, endpoint.url))
            frames.append(timed_child(["first-frame", endpoint.url], "READY"))
            data.append(timed_child(["first-data", endpoint.url, "100"], "FILLED"))
            fast.append(timed_child(["first-data", endpoint.url, "100", "1000"], "FILLED"))
        first_frame, first_data = statistics.median(frames), statistics.median(data)
        unbudgeted = statistics.median(fast)
        for cli, values in cli_times.items():
            reference = statistics.median(values)
            label = "aws (pyenv)" if cli == "aws" else cli
            beside = f"{label} list-pipelines {msec(reference)}"
            rows.append(
                [
                    "first frame",
                    msec(first_frame),
                    beside,
                    f"{first_frame / reference:.2f}x",
                    "<= 0.8x",
                ]
            )
            rows.append(
                [
                    "first data (100 pipelines)",
                    msec(first_data),
                    beside,
                    f"{first_data / reference:.2f}x",
                    "<= 1.5x",
                ]
            )
            rows.append(
                [
                    "first data, [budget] and [poll] max_rate set to 1,000/s",
                    msec(unbudgeted),
                    beside,
                    f"{unbudgeted / reference:.2f}x",
                    "(where the time goes)",
                ]
            )
    return rows


# 3: event to screen --------------------------------------------------------------------------


def chatty_commands(rate: int, seconds: int) -> list[str]:
    """A Commands action printing `rate` lines a second for `seconds` (in 100 bursts/s)."""
    program = (
        "import sys, time\n"
        f"rate, seconds = {rate}, {seconds}\n"
        "burst = rate // 100\n"
        "start = time.monotonic()\n"
        "for tick in range(seconds * 100):\n"
        "    sys.stdout.write(''.join(f'line {tick * burst + i} of the chatty build, "
        "compiling module {i}\\n' for i in range(burst)))\n"
        "    sys.stdout.flush()\n"
        "    delay = start + (tick + 1) / 100 - time.monotonic()\n"
        "    if delay > 0:\n"
        "        time.sleep(delay)\n"
    )
    return [f"python3 -c {shlex.quote(program)}"]


async def measure_approvals(
    app: Any, endpoint: Endpoint, names: list[str], samples: int
) -> list[tuple[float, float]]:
    """Approve pipelines one after another. Each sample is (engine commit -> the watcher
    applies the event, applied -> end of the next frame)."""
    client = endpoint.client("codepipeline")
    waiting: dict[tuple[str, str], asyncio.Future[float]] = {}
    applied: dict[tuple[str, str], float] = {}
    loop = asyncio.get_running_loop()
    original = app.watcher.on_change

    def changed(changed_names: frozenset[str]) -> None:
        now = time.monotonic()
        original(changed_names)
        for name in changed_names:
            view = app.workspace.pipeline(name)
            latest = view.latest_execution if view is not None else None
            if view is None or latest is None or view.status != "Succeeded":
                continue
            key = (name, latest.execution_id)
            future = waiting.get(key)
            if future is not None and not future.done() and key not in applied:
                applied[key] = now
                app.call_after_refresh(lambda f=future: f.done() or f.set_result(time.monotonic()))

    app.watcher.on_change = changed
    original_status = app.watcher.on_status

    def status_changed(status: Any) -> None:
        original_status(status)
        if status.problem is not None or str(status.feed_mode) != "live":
            print(f"    status: {status.feed_mode} {status.problem}", file=sys.stderr, flush=True)

    app.watcher.on_status = status_changed
    parts: list[tuple[float, float]] = []
    try:
        for index in range(samples):
            name = names[index % len(names)]
            token = await asyncio.to_thread(_wait_token, client, name)
            execution = await asyncio.to_thread(_latest_execution, client, name)
            future: asyncio.Future[float] = loop.create_future()
            waiting[(name, execution)] = future
            await asyncio.to_thread(
                client.put_approval_result,
                pipelineName=name,
                stageName="Approve",
                actionName="Gate",
                token=token,
                result={"status": "Approved", "summary": "bench"},
            )
            shown = await asyncio.wait_for(future, 30)
            committed = endpoint.event_time(name, execution, "SUCCEEDED")
            if committed is not None:
                seen = applied[(name, execution)]
                parts.append((seen - committed, shown - seen))
                print(
                    f"    {name}: delivery {msec(seen - committed)}, frame {msec(shown - seen)}",
                    file=sys.stderr,
                    flush=True,
                )
                if TRACE and seen - committed > 0.05:
                    _print_trace(committed, seen)
            await asyncio.to_thread(client.start_pipeline_execution, name=name)
    finally:
        app.watcher.on_change = original
        app.watcher.on_status = original_status
    return parts


def _wait_token(client: Any, name: str) -> str:
    deadline = time.monotonic() + 30
    while (token := approval_token(client, name)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} never waited for approval again")
        time.sleep(0.05)
    return token


def _latest_execution(client: Any, name: str) -> str:
    summaries = client.list_pipeline_executions(pipelineName=name, maxResults=1)
    return str(summaries["pipelineExecutionSummaries"][0]["pipelineExecutionId"])


async def _event_to_screen(samples: int, rate: int) -> list[list[str]]:
    from tui.app.messages import ActionRef
    from tui.app.screens.logs import LogsScreen
    from tui.aws.feed import FeedMode
    from tui.model.projection import ActionView

    rows: list[list[str]] = []
    with Endpoint() as endpoint:
        queue = wire_events(endpoint)
        names = create_approval_pipelines(endpoint, 10)
        app = _app(endpoint.url, events_queue=queue)
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.monotonic() + 60
            while app.watch_status.feed_mode != FeedMode.LIVE or len(app.workspace.pipelines) < 10:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the feed never went live: {app.watch_status}")
                await pilot.pause(0.1)
            await pilot.pause(2)
            if TRACE:
                await _trace_app(app)
                started = time.perf_counter()
                gc.collect()
                print(
                    f"  app heap: {len(gc.get_objects()):,} tracked objects, a full collection "
                    f"{msec(time.perf_counter() - started)}",
                    file=sys.stderr,
                    flush=True,
                )
            if os.environ.get("BENCH_FREEZE"):
                gc.freeze()
            print("  feed live; approving", file=sys.stderr, flush=True)
            idle = await measure_approvals(app, endpoint, names, samples)
            rows.append(_latency_row("idle", idle))

            seconds = max(30, samples)
            client = endpoint.client("codepipeline")
            client.create_pipeline(
                pipeline=pipeline(
                    "chatty", stage("Build", commands("Print", chatty_commands(rate, seconds)))
                )
            )
            execution = _latest_execution(client, "chatty")
            app.open_logs(
                ActionRef(
                    "chatty", "Build", "Print", execution, ActionView("Print", provider="Commands")
                )
            )
            deadline = time.monotonic() + 60
            while not (
                isinstance(app.screen, LogsScreen)
                and app.screen.tail is not None
                and app.screen.log_view.total_written > rate
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("the chatty action's log never reached the screen")
                await pilot.pause(0.05)
            view = app.screen.log_view
            before, started, cpu = view.total_written, time.monotonic(), time.process_time()
            busy = await measure_approvals(app, endpoint, names, samples)
            wall = time.monotonic() - started
            ingested = (view.total_written - before) / wall
            load = (time.process_time() - cpu) / wall * 100
            rows.append(
                _latency_row(
                    f"log view ingesting {ingested:,.0f} lines/s (app at {load:.0f}% of a core)",
                    busy,
                )
            )
    return rows


def _latency_row(label: str, parts: list[tuple[float, float]]) -> list[str]:
    totals = [delivery + frame for delivery, frame in parts]
    deliveries = [delivery for delivery, _ in parts]
    frames = [frame for _, frame in parts]
    return [
        f"event to screen, {label}",
        f"p50 {msec(percentile(totals, 50))} / p95 {msec(percentile(totals, 95))}",
        f"{len(parts)} approvals; engine to applied p50 {msec(percentile(deliveries, 50))} "
        f"p95 {msec(percentile(deliveries, 95))}, applied to frame p50 "
        f"{msec(percentile(frames, 50))} p95 {msec(percentile(frames, 95))}",
        "",
        "p95 <= 50 ms",
    ]


# 4: log ingestion and memory -----------------------------------------------------------------


async def _log_ingestion(total: int, batch: int, *, memory: bool) -> list[list[str]]:
    """`total` lines through the logs screen in `batch`-line pages, yielding to the loop
    between pages so frames are drawn as they would be while following. With `memory`,
    tracemalloc measures what the screen holds afterwards (and slows the run: the speed is
    measured in a separate run without it)."""
    from textual.app import App

    from tui.app.messages import ActionRef
    from tui.app.screens.logs import LogsScreen
    from tui.aws.logtail import LogBatch, LogLine, LogLocation
    from tui.model.projection import ActionView

    location = LogLocation("/aws/codebuild/bench", "stream")
    # A Manual action: the screen opens without tailing anything; the pages come from here.
    ref = ActionRef("bench", "Build", "Gate", "x", ActionView("Gate", provider="Manual"))
    screen = LogsScreen(ref)

    class Holder(App[None]):
        def on_mount(self) -> None:
            self.push_screen(screen)

    app = Holder()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        gc.collect()
        # The pages are made while tracing: the lines the view keeps are counted (they are
        # the strings a GetLogEvents answer was parsed into).
        if memory:
            tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0] if memory else 0
        pages = [
            LogBatch(
                location,
                tuple(
                    LogLine(
                        1_767_225_600_000 + i, f"[Container] line {i} compiling module_{i % 97}"
                    )
                    for i in range(start, min(start + batch, total))
                ),
            )
            for start in range(0, total, batch)
        ]
        started = time.perf_counter()
        for page in pages:
            screen.write_batch(page)
            await asyncio.sleep(0)
        screen.flush()
        await pilot.pause()
        elapsed = time.perf_counter() - started
        view = screen.log_view
        if memory:
            del pages
            gc.collect()
            held, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            return [
                [
                    f"log view memory after {total:,} lines",
                    mb(held - base),
                    f"keeps {view.line_count:,} lines; peak {mb(peak - base)}",
                    "",
                    "<= 30 MiB",
                ]
            ]
        return [
            [
                f"log view ingestion, following, {batch:,}-line pages",
                f"{total / elapsed:,.0f} lines/s",
                f"{total:,} lines in {msec(elapsed)}, {screen.writes} writes",
                "",
                ">= 100,000 lines/s",
            ]
        ]


# 5: filter over 2,000 pipelines --------------------------------------------------------------


def synthetic_workspace(count: int) -> Any:
    """A workspace of `count` pipelines, each with a latest execution and its source revision,
    built through the model's own parsers and reducer from API-shaped answers."""
    from tui.model.state import PipelineExecutionSummary, PipelineSummary
    from tui.model.view import WorkspaceView

    started = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    words = ["billing", "search", "checkout", "identity", "catalog", "payments", "web", "mobile"]
    summaries = PipelineSummary.list_from_api(
        {"pipelines": [{"name": f"{words[i % 8]}-{i:04d}", "version": 1} for i in range(count)]}
    )
    workspace = WorkspaceView().with_pipelines(summaries)
    statuses = ["Succeeded", "Failed", "InProgress", "Stopped"]
    for index, summary in enumerate(summaries):
        execution = PipelineExecutionSummary.list_from_api(
            {
                "pipelineExecutionSummaries": [
                    {
                        "pipelineExecutionId": f"{index:08d}-0000-4000-8000-000000000000",
                        "status": statuses[index % 4],
                        "startTime": started,
                        "lastUpdateTime": started,
                        "sourceRevisions": [
                            {
                                "actionName": "Source",
                                "revisionId": f"{index:040x}",
                                "revisionSummary": f"Change {index} of the {words[index % 8]} service",
                            }
                        ],
                        "trigger": {"triggerType": "StartPipelineExecution"},
                    }
                ]
            }
        )
        workspace = workspace.with_executions(summary.name, execution)
    return workspace


KEYSTROKES = [*"check", *["backspace"] * 5, *"pay", *["backspace"] * 3] * 3


async def _filter(count: int) -> list[list[str]]:
    """Each keystroke goes in the way a terminal's does (a `Key` event through the driver,
    not the pilot's `press`, which waits for the process to look idle twice per key, 40 ms
    and more); the time runs from there to the end of the first frame drawn after the screen
    applied the filter. Keystrokes are 50 ms apart (a fast typist)."""
    from textual import events
    from textual.app import App

    from tui.app.collector import IdleCollector
    from tui.app.screens.pipelines import PipelinesScreen

    workspace = synthetic_workspace(count)
    fixed = datetime(2026, 1, 1, 9, 5, tzinfo=UTC)
    screen = PipelinesScreen(clock=lambda: fixed)
    collector = IdleCollector()

    class Holder(App[None]):
        """The screen in an app that treats the collector as PipetopApp does."""

        def on_mount(self) -> None:
            collector.install()
            self.set_interval(1.0, collector.tick)
            self.push_screen(screen)

        async def on_event(self, event: events.Event) -> None:
            if isinstance(event, events.InputEvent) and not event.is_forwarded:
                collector.input_seen()
            await super().on_event(event)

        def on_unmount(self) -> None:
            collector.uninstall()

    app = Holder()
    timings: list[float] = []
    cpu: list[float] = []
    loop = asyncio.get_running_loop()
    drawn: asyncio.Future[float] | None = None
    apply_filter = screen._set_filter

    def traced(text: str) -> None:
        apply_filter(text)
        future = drawn
        if future is not None and not future.done():

            def shown() -> None:
                if not future.done():
                    future.set_result(time.perf_counter())

            app.call_after_refresh(shown)

    screen._set_filter = traced  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        collector.freeze_startup()  # as the app does once the list is in, before the rows
        screen.workspace_changed(workspace, list(workspace.pipelines))
        await pilot.pause()
        await pilot.press("slash")
        await pilot.pause()
        assert app._driver is not None
        for key in KEYSTROKES:
            await asyncio.sleep(0.05)
            drawn = loop.create_future()
            started, cpu_started = time.perf_counter(), time.thread_time()
            app._driver.send_message(events.Key(key, key if len(key) == 1 else None))
            timings.append(await asyncio.wait_for(drawn, 10) - started)
            cpu.append(time.thread_time() - cpu_started)
        shown = screen.table.row_count
    return [
        [
            f"filter keystroke to repaint, {count:,} pipelines",
            f"p50 {msec(percentile(timings, 50))} / p95 {msec(percentile(timings, 95))}",
            f"{len(timings)} keystrokes (rows shown at the end: {shown:,}); the app's CPU "
            f"per keystroke p50 {msec(percentile(cpu, 50))} p95 {msec(percentile(cpu, 95))}",
            "",
            "<= 50 ms",
        ]
    ]


# 6: idle CPU -----------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def bench_idle(seconds: float) -> list[list[str]]:
    with Endpoint() as endpoint:
        queue = wire_events(endpoint)
        create_approval_pipelines(endpoint, 10)
        command = [
            sys.executable,
            "-m",
            "tests.bench.bench_tui",
            "--child",
            "idle",
            endpoint.url,
            queue,
        ]
        process = subprocess.Popen(
            command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            time.sleep(15)  # start, first reads, the feed going live
            cpu_before, wall_before = _cpu_seconds(process.pid), time.monotonic()
            time.sleep(seconds)
            cpu = _cpu_seconds(process.pid) - cpu_before
            wall = time.monotonic() - wall_before
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    return [
        [
            "idle CPU, 10 pipelines, events live",
            f"{cpu / wall * 100:.2f}% of a core",
            f"{cpu:.2f} s CPU in {wall:.0f} s",
            "",
            "<= 1%",
        ]
    ]


# Main --------------------------------------------------------------------------------------


BENCHES = ("first-frame", "first-data", "event-to-screen", "log-ingestion", "filter", "idle-cpu")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--serve", type=Path)
    parser.add_argument("--child", nargs="+")
    parser.add_argument("--only", nargs="+", choices=BENCHES, default=list(BENCHES))
    parser.add_argument("--aws-cli", action="append", dest="clis")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    if args.child:
        kind, *rest = args.child
        if kind == "idle":
            child_idle(rest[0], rest[1])
        return 0
    clis = args.clis or ["aws"]
    # The app in this process (event-to-screen) reads its credentials from the environment.
    os.environ.update({k: v for k, v in ENV.items() if k.startswith("AWS_")})
    print(f"TUI benchmarks, {load()}", file=sys.stderr)
    rows: list[list[str]] = []
    runs: dict[str, Callable[[], list[list[str]]]] = {
        "first-frame": lambda: bench_startup(args.rounds, clis),
        # One run measures both (the same endpoint, 100 pipelines, the same CLI call beside).
        "first-data": lambda: (
            [] if "first-frame" in args.only else bench_startup(args.rounds, clis)
        ),
        "event-to-screen": lambda: asyncio.run(_event_to_screen(args.samples, args.rate)),
        "log-ingestion": lambda: [
            *asyncio.run(_log_ingestion(100_000, 1_000, memory=False)),
            *asyncio.run(_log_ingestion(100_000, 100, memory=False)),
            *asyncio.run(_log_ingestion(100_000, 1_000, memory=True)),
        ],
        "filter": lambda: asyncio.run(_filter(2_000)),
        "idle-cpu": lambda: bench_idle(args.idle_seconds),
    }
    for name in args.only:
        print(f"- {name}…", file=sys.stderr)
        rows.extend(runs[name]())
    print(table(["measure", "figure", "beside", "ratio", "target"], rows))
    print(f"\n{load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
