"""Log path: an action's printed lines read back through CloudWatch Logs' GetLogEvents.

    .venv/bin/python -m tests.bench.bench_logs [--lines 200000] [--rate 10000 30000] [--poll 0.01]
        [--probe apart|beside ...] [--probe-interval 0.01] [--probe-limit 100]

Our endpoint is `pipetop local serve` (tests/process.py ServerProcess, real clock); the client
is boto3 in this process. Pipelines of one Commands action each, which waits for a go-file,
then runs a Python program that prints lines of the form `bench <n> <CLOCK_MONOTONIC ns at
print> ...` (about 75 bytes each; Linux's CLOCK_MONOTONIC is shared by processes, so the
reader can subtract):

1. flood: `--lines` lines (200,000) as fast as the program can write them, in chunks of
   1,000, each chunk flushed;
2. steady: `--rate` lines a second (10,000, then 30,000) for `--seconds` (5 s) each, in 100
   bursts a second.

Two readers measure two different delays:

- the follower that reads everything (a thread, as a tailing client follows a stream:
  GetLogEvents with startFromHead and the forward token; an answer whose forward token is the
  one it sent means caught up, then it sleeps `--poll` seconds, 10 ms by default, and asks
  again). For every bench line it reads, read - printed is one sample: the time the action
  took to hand it over, the engine to store it, the follower's poll and its round trips. The
  poll interval bounds the delay from below (on average half of it is spent asleep). While
  the flood prints faster than the follower's client parses 10,000-event pages, the follower
  is behind all along and reads full pages: its delay is its own growing backlog, a bound of
  the client's throughput, not a wait in the endpoint.
- newest lines visible (`Probe`, a thread): every `--probe-interval` (10 ms) GetLogEvents
  for the stream's newest `--probe-limit` (100) events (`startFromHead=False`, no token); for
  every bench line newer than any it has seen, seen - printed is one sample: how soon the
  endpoint makes a printed line readable at all. It is a sample (lines stored and pushed out
  of the newest 100 between two probes are never seen; the count is printed), it leans to
  each stored batch's youngest lines, and each sample overstates its line's delay by at most
  one probe period; its own request time (printed, p50 / p99) is the floor of its figure.

Each reader has found the action's stream (its `logStreamARN` in GetPipelineState) and is
ready (the follower caught up once, the probe answered once) before the go-file is made.

[I] The probe runs on a flood of its own (`--probe apart`, the default: two floods, the
follower's, then the probe's), not beside the follower (`--probe beside`, which
`--probe apart beside` runs too, for comparison). Measured both ways in the same runs (load
2.0 to 3.9, 2 cores): beside the follower, the probe's p50 / p99 was 46 to 49 / 136 to 159
ms against 26 / 61 to 65 ms alone, and its request time's p99 138 to 148 ms against 56 to 58
ms: in one process the follower's botocore parsing of 10,000-event pages holds the GIL
while the probe's answer waits to be parsed, so beside it the probe measures the client,
not the endpoint. The follower's figures did not move beyond their run-to-run spread (p50
1.66 / 1.79 s alone, 1.29 / 1.86 s beside).

Figures:
- read throughput: after the flood action ended, the whole stream read from its head to
  caught up (forward tokens, pages of at most 10,000 events / 1 MB), lines a second, median
  of `--rounds`; beside it moto's server (PutLogEvents of the same 200,000 lines in batches of
  5,000, then the same reader) and, like for like, the same PutLogEvents stream on ours;
- live throughput: while following the flood, lines read a second from the first line
  printed to the last line read (bounded by how fast the action prints, also shown);
- the follower's delay p50/p99 while following each steady action and the flood, and the
  probe's p50/p99 on its flood, with how many lines it saw;
- below the table: the endpoint's and this process's CPU while following (from /proc), to
  tell a saturated endpoint from a busy machine; the probe's request time and the rate its
  flood printed at; and, for the follower's full pages while following the flood, where a
  page's time went (medians): botocore preparing the request, waiting for the answer (the
  endpoint building it, its transfer), botocore parsing it, and the follower's own handling
  of its events (from botocore's before-send and before-parse events).

moto's server runs no pipelines (its CodePipeline stores declarations only), so there is no
print-to-readable peer: the delay has a target, not a ratio. Nothing is asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import os
import shlex
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3

from tests.bench.harness import (
    CREDENTIALS,
    REGION,
    load,
    median,
    moto_server,
    ms,
    percentile,
    ratio,
    table,
)
from tests.endpoint import CLIENT_CONFIG
from tests.local.pipelines import commands, pipeline, stage, upload_source
from tests.process import ServerProcess
from tui.aws.logtail import LogLocation

THROUGHPUT_TARGET = 50_000.0
DELAY_TARGET = 0.100
PUT_BATCH = 5_000
MARK = "bench "


def line_text(n: int, printed_ns: int) -> str:
    """One benchmark line; the program in the action builds the same text."""
    return f"{MARK}{n} {printed_ns} compiling module {n % 97} of the benchmark build, step ok"


def _program(body: str) -> list[str]:
    return [f"python3 -c {shlex.quote(body)}"]


def flood_program(lines: int) -> str:
    """Prints `lines` lines as fast as it can, 1,000 to a flushed write."""
    return (
        "import sys, time\n"
        "clock, write = time.monotonic_ns, sys.stdout.write\n"
        f"total = {lines}\n"
        "for start in range(0, total, 1000):\n"
        "    write(''.join(f'bench {n} {clock()} compiling module {n % 97} of the benchmark "
        "build, step ok\\n' for n in range(start, min(total, start + 1000))))\n"
        "    sys.stdout.flush()\n"
    )


def steady_program(rate: int, seconds: float) -> str:
    """Prints `rate` lines a second for `seconds`, in 100 flushed bursts a second."""
    return (
        "import sys, time\n"
        "clock, write = time.monotonic_ns, sys.stdout.write\n"
        f"burst, ticks = {max(1, rate // 100)}, {round(seconds * 100)}\n"
        "start = time.monotonic()\n"
        "for tick in range(ticks):\n"
        "    write(''.join(f'bench {n} {clock()} compiling module {n % 97} of the benchmark "
        "build, step ok\\n' for n in range(tick * burst, (tick + 1) * burst)))\n"
        "    sys.stdout.flush()\n"
        "    delay = start + (tick + 1) / 100 - time.monotonic()\n"
        "    if delay > 0:\n"
        "        time.sleep(delay)\n"
    )


def gated(go_file: Path, program: str) -> list[str]:
    """The action's commands: wait for `go_file`, then run `program`."""
    wait = f"while [ ! -e {shlex.quote(str(go_file))} ]; do sleep 0.05; done"
    return [wait, *_program(program)]


def logs_client(url: str) -> Any:
    return boto3.client(
        "logs",
        endpoint_url=url,
        region_name=REGION,
        config=CLIENT_CONFIG,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )


# Reading ------------------------------------------------------------------------------------


def read_whole(client: Any, group: str, stream: str) -> tuple[int, float, float]:
    """Every event of the stream from its head to caught up; (events, seconds, the seconds
    of CPU this process spent meanwhile: the client's own share)."""
    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream}
        if token is not None:
            kwargs["nextToken"] = token
        page = client.get_log_events(startFromHead=True, **kwargs)
        count += len(page["events"])
        if page["nextForwardToken"] == token:
            return count, time.perf_counter() - started, time.process_time() - cpu
        token = page["nextForwardToken"]


@dataclass(frozen=True)
class PageTiming:
    """Where one GetLogEvents of the follower spent its time (seconds)."""

    events: int
    prepare: float
    """botocore, from the call to the request leaving (serializing, signing)."""
    wait: float
    """From the request leaving to the whole answer read: the endpoint and the transfer."""
    parse: float
    """botocore parsing the answer."""
    handle: float
    """The follower's own work on the page's events."""


@dataclass
class Follower:
    """Follows one stream on a thread until `expected` bench lines have been read."""

    client: Any
    location: LogLocation
    expected: int
    poll: float
    ready: threading.Event = field(default_factory=threading.Event)
    """Set once caught up with the stream (or on an error)."""
    delays: list[float] = field(default_factory=list)
    first_printed: float | None = None
    last_printed: float | None = None
    last_read: float | None = None
    requests: int = 0
    error: BaseException | None = None
    pages: list[PageTiming] = field(default_factory=list)
    _sent: float = 0.0
    _received: float = 0.0

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        events = self.client.meta.events
        events.register("before-send.cloudwatch-logs.GetLogEvents", self._on_send)
        events.register("before-parse.cloudwatch-logs.GetLogEvents", self._on_response)

    def _on_send(self, **_: Any) -> None:
        self._sent = time.perf_counter()

    def _on_response(self, **_: Any) -> None:
        self._received = time.perf_counter()

    def start(self) -> Follower:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self._follow()
        except BaseException as error:  # reported by `join`
            self.error = error
            self.ready.set()

    def _follow(self) -> None:
        token: str | None = None
        read = 0
        deadline = time.monotonic() + 600
        while read < self.expected:
            kwargs: dict[str, Any] = {
                "logGroupName": self.location.group,
                "logStreamName": self.location.stream,
            }
            if token is not None:
                kwargs["nextToken"] = token
            called = time.perf_counter()
            page = self.client.get_log_events(startFromHead=True, **kwargs)
            now = time.monotonic_ns()
            returned = time.perf_counter()
            self.requests += 1
            for event in page["events"]:
                message: str = event["message"]
                if not message.startswith(MARK):
                    continue
                printed = int(message.split(" ", 3)[2])
                if self.first_printed is None:
                    self.first_printed = printed / 1e9
                self.last_printed = printed / 1e9
                self.delays.append((now - printed) / 1e9)
                read += 1
            self.last_read = now / 1e9
            self.pages.append(
                PageTiming(
                    len(page["events"]),
                    self._sent - called,
                    self._received - self._sent,
                    returned - self._received,
                    time.perf_counter() - returned,
                )
            )
            if page["nextForwardToken"] == token:
                self.ready.set()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {read} of {self.expected} lines in 10 minutes")
                if self.poll > 0:
                    time.sleep(self.poll)
            token = page["nextForwardToken"]

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error

    @property
    def live_throughput(self) -> float:
        assert self.first_printed is not None
        assert self.last_read is not None
        return len(self.delays) / (self.last_read - self.first_printed)


@dataclass
class Probe:
    """Asks for a stream's newest events on a thread until it has seen bench line `last`.

    Every `interval` (paced from the first request; a request that outlasts it is followed
    at once) one GetLogEvents with `startFromHead=False`, `limit` events and no token: the
    stream's newest events as stored. Every bench line newer than any seen before gives one
    delay sample, seen - printed. A line first seen in a probe was not stored at the
    previous probe (else it would have been among the newest then, being newer than what
    was), so a sample overstates the line's visibility delay by at most one probe period;
    lines that were stored and pushed out of the newest `limit` between two probes are
    never seen.
    """

    client: Any
    location: LogLocation
    last: int
    interval: float
    limit: int
    ready: threading.Event = field(default_factory=threading.Event)
    delays: list[float] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)
    newest: int = -1
    first_printed: tuple[int, float] | None = None
    last_printed: tuple[int, float] | None = None
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Probe:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self._probe()
        except BaseException as error:  # reported by `join`
            self.error = error
            self.ready.set()

    def _probe(self) -> None:
        deadline = time.monotonic() + 600
        next_at = time.monotonic()
        while self.newest < self.last:
            called = time.perf_counter()
            page = self.client.get_log_events(
                logGroupName=self.location.group,
                logStreamName=self.location.stream,
                startFromHead=False,
                limit=self.limit,
            )
            now = time.monotonic_ns()
            self.request_times.append(time.perf_counter() - called)
            self.ready.set()
            for event in page["events"]:
                message: str = event["message"]
                if not message.startswith(MARK):
                    continue
                _, number, printed, _ = message.split(" ", 3)
                if int(number) <= self.newest:
                    continue
                self.newest = int(number)
                self.delays.append((now - int(printed)) / 1e9)
                if self.first_printed is None:
                    self.first_printed = (self.newest, int(printed) / 1e9)
                self.last_printed = (self.newest, int(printed) / 1e9)
            if time.monotonic() > deadline:
                raise RuntimeError(f"the probe saw line {self.newest} of {self.last} in 10 min")
            next_at += self.interval
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                next_at = time.monotonic()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error

    @property
    def printing_rate(self) -> float:
        """Lines a second the action printed, from the first and last lines seen."""
        assert self.first_printed is not None
        assert self.last_printed is not None
        (first, first_at), (last, last_at) = self.first_printed, self.last_printed
        return (last - first) / (last_at - first_at)


# Our endpoint -------------------------------------------------------------------------------


def action_log(server: ServerProcess, name: str, timeout: float = 60.0) -> LogLocation:
    """Where the running Print action of pipeline `name` logs (from GetPipelineState)."""
    client = server.client("codepipeline")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for stage_state in client.get_pipeline_state(name=name)["stageStates"]:
            for action in stage_state.get("actionStates", []):
                arn = (action.get("latestExecution") or {}).get("logStreamARN")
                if action["actionName"] == "Print" and arn:
                    location = LogLocation.from_arn(arn)
                    assert location is not None, arn
                    return location
        time.sleep(0.02)
    raise RuntimeError(f"{name}'s Print action never reported its log stream")


def wait_succeeded(server: ServerProcess, name: str, timeout: float = 300.0) -> None:
    client = server.client("codepipeline")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summaries = client.list_pipeline_executions(pipelineName=name, maxResults=1)
        status = summaries["pipelineExecutionSummaries"][0]["status"]
        if status == "Succeeded":
            return
        if status in ("Failed", "Stopped", "Cancelled"):
            raise RuntimeError(f"{name} ended {status}")
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not end in {timeout:g} s")


@dataclass(frozen=True)
class ProbeSettings:
    interval: float
    limit: int


@dataclass(frozen=True)
class Usage:
    """CPU while an action printed and was read (1.0 = one core)."""

    server: float
    """The endpoint process's, over the wall time from the go-file to the readers' end."""
    client: float
    """This process's (the readers', mostly), over the same time."""


def gated_run(
    server: ServerProcess, name: str, go_file: Path, readers: list[Follower | Probe]
) -> Usage:
    """Start `readers` on action `name`'s stream, make its go-file once each is ready (the
    follower caught up, the probe answered), wait for them and for the pipeline's end."""
    for reader in readers:
        reader.start()
    for reader in readers:
        if not reader.ready.wait(60):
            raise RuntimeError(f"{type(reader).__name__} never got ready on {name}")
    assert server.process is not None
    started, cpu, server_cpu = (
        time.monotonic(),
        time.process_time(),
        cpu_seconds(server.process.pid),
    )
    go_file.touch()
    for reader in readers:
        reader.join()
    wall = time.monotonic() - started
    usage = Usage(
        (cpu_seconds(server.process.pid) - server_cpu) / wall,
        (time.process_time() - cpu) / wall,
    )
    wait_succeeded(server, name)
    return usage


@dataclass
class Followed:
    label: str
    follower: Follower
    printing: float
    """Seconds from the first line printed to the last (from the lines' own times)."""
    usage: Usage
    probe: Probe | None = None
    """The newest-lines probe, when it ran beside the follower."""


def follow_action(
    server: ServerProcess,
    name: str,
    go_file: Path,
    expected: int,
    poll: float,
    probe: ProbeSettings | None = None,
) -> Followed:
    location = action_log(server, name)
    follower = Follower(logs_client(server.url), location, expected, poll)
    readers: list[Follower | Probe] = [follower]
    prober = None
    if probe is not None:
        prober = Probe(logs_client(server.url), location, expected - 1, probe.interval, probe.limit)
        readers.append(prober)
    usage = gated_run(server, name, go_file, readers)
    assert follower.first_printed is not None
    assert follower.last_printed is not None
    printing = follower.last_printed - follower.first_printed
    return Followed(name, follower, printing, usage, prober)


@dataclass
class Probed:
    label: str
    probe: Probe
    usage: Usage


def probe_action(
    server: ServerProcess, name: str, go_file: Path, lines: int, settings: ProbeSettings
) -> Probed:
    """Action `name`'s lines watched by the newest-lines probe alone."""
    location = action_log(server, name)
    probe = Probe(logs_client(server.url), location, lines - 1, settings.interval, settings.limit)
    return Probed(name, probe, gated_run(server, name, go_file, [probe]))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def put_stream(client: Any, group: str, stream: str, lines: int) -> float:
    """PutLogEvents of `lines` bench lines in batches; the seconds it took."""
    client.create_log_group(logGroupName=group)
    client.create_log_stream(logGroupName=group, logStreamName=stream)
    started = time.perf_counter()
    for start in range(0, lines, PUT_BATCH):
        stamp_ms = int(time.time() * 1000)
        events = [
            {"timestamp": stamp_ms, "message": line_text(n, time.monotonic_ns())}
            for n in range(start, min(lines, start + PUT_BATCH))
        ]
        client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    return time.perf_counter() - started


@dataclass
class Reads:
    """Whole reads of one stream, one per round."""

    client: Any
    group: str
    stream: str
    events: int = 0
    rates: list[float] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0

    def read(self) -> None:
        self.events, seconds, cpu = read_whole(self.client, self.group, self.stream)
        self.rates.append(self.events / seconds)
        self.wall += seconds
        self.cpu += cpu

    @property
    def rate(self) -> float:
        """Lines a second, the median over the rounds."""
        return median(self.rates)

    @property
    def client_share(self) -> float:
        """The client's CPU over the wall time of the reads."""
        return self.cpu / self.wall


def read_rounds(streams: list[Reads], rounds: int) -> None:
    """`rounds` whole reads of each stream, the order rotating each round (so no stream is
    always read first, after the server's busiest moment)."""
    for index in range(rounds):
        for reads in streams[index % len(streams) :] + streams[: index % len(streams)]:
            reads.read()


# The run ------------------------------------------------------------------------------------


def rate(value: float) -> str:
    return f"{value:,.0f} lines/s"


def page_median(pages: list[PageTiming], part: str) -> str:
    return f"{median([getattr(page, part) for page in pages]) * 1000:.1f}"


def delay_row(label: str, delays: list[float]) -> list[str]:
    p50, p99 = percentile(delays, 50), percentile(delays, 99)
    return [
        label,
        f"{ms(p50)} / {ms(p99)}",
        "moto runs no actions",
        "",
        f"p50 <= {DELAY_TARGET * 1000:.0f} ms",
        "yes" if p50 <= DELAY_TARGET else "no",
    ]


def create_printer(server: ServerProcess, name: str, go_file: Path, program: str) -> None:
    server.client("codepipeline").create_pipeline(
        pipeline=pipeline(name, stage("Build", commands("Print", gated(go_file, program))))
    )


def probe_row(label: str, probe: Probe, lines: int) -> list[str]:
    return delay_row(
        f"{label}, p50 / p99 of the {len(probe.delays):,} of {lines:,} lines it saw",
        probe.delays,
    )


def run(args: argparse.Namespace) -> None:
    print(f"log path benchmark; {load()}", file=sys.stderr, flush=True)
    work = Path(tempfile.mkdtemp(prefix="pipetop-bench-logs-"))
    settings = ProbeSettings(args.probe_interval, args.probe_limit)
    steady: dict[int, Followed] = {}
    floods: dict[str, Followed] = {}
    probed: Probed | None = None
    try:
        with ServerProcess(work / "data") as server, moto_server() as moto_url:
            upload_source(server)  # type: ignore[arg-type]
            flood_names = ["flood-beside"] if "beside" in args.probe else []
            if "apart" in args.probe:
                flood_names[:0] = ["flood", "flood-probed"]
            for name in flood_names:
                create_printer(server, name, work / f"go-{name}", flood_program(args.lines))
            for each in args.rate:
                program = steady_program(each, args.seconds)
                create_printer(server, f"steady-{each}", work / f"go-{each}", program)
            for name in flood_names:
                print(f"  {name}: {args.lines:,} lines…", file=sys.stderr, flush=True)
                go = work / f"go-{name}"
                if name == "flood-probed":
                    probed = probe_action(server, name, go, args.lines, settings)
                else:
                    beside = settings if name == "flood-beside" else None
                    floods[name] = follow_action(server, name, go, args.lines, args.poll, beside)
            for each in args.rate:
                print(f"  steady: {each:,} lines/s for {args.seconds:g} s…", file=sys.stderr)
                lines = max(1, each // 100) * round(args.seconds * 100)
                steady[each] = follow_action(
                    server, f"steady-{each}", work / f"go-{each}", lines, args.poll
                )

            ours_client, moto_client = logs_client(server.url), logs_client(moto_url)
            print("  PutLogEvents on ours and on moto…", file=sys.stderr, flush=True)
            ours_put_seconds = put_stream(ours_client, "/bench/logs", "put", args.lines)
            moto_put_seconds = put_stream(moto_client, "/bench/logs", "put", args.lines)
            print("  reading the streams whole…", file=sys.stderr, flush=True)
            location = next(iter(floods.values())).follower.location
            ours = Reads(ours_client, location.group, location.stream)
            ours_put = Reads(ours_client, "/bench/logs", "put")
            moto = Reads(moto_client, "/bench/logs", "put")
            read_rounds([ours, ours_put, moto], args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    throughput_met = "yes" if ours.rate >= THROUGHPUT_TARGET else "no"
    newest = (
        f"newest lines visible: printed to seen by a probe of the newest {settings.limit} "
        f"every {settings.interval * 1000:g} ms"
    )
    rows = [
        [
            f"GetLogEvents, the flood action's stream ({ours.events:,} events), read from head",
            rate(ours.rate),
            f"moto, {moto.events:,} PutLogEvents'd events: {rate(moto.rate)}",
            ratio(ours.rate, moto.rate),
            f">= {THROUGHPUT_TARGET:,.0f} lines/s",
            throughput_met,
        ],
        [
            "GetLogEvents, the same lines PutLogEvents'd (like for like)",
            rate(ours_put.rate),
            rate(moto.rate),
            ratio(ours_put.rate, moto.rate),
            "",
            "",
        ],
        [
            f"PutLogEvents, {args.lines:,} lines in batches of {PUT_BATCH:,}",
            rate(args.lines / ours_put_seconds),
            rate(args.lines / moto_put_seconds),
            ratio(args.lines / ours_put_seconds, args.lines / moto_put_seconds),
            "",
            "",
        ],
        *(
            [
                f"{name}: following it live, first line printed to last line read",
                rate(flood.follower.live_throughput),
                f"the action printed {rate(args.lines / flood.printing)}",
                "",
                "",
                "",
            ]
            for name, flood in floods.items()
        ),
        *(
            delay_row(
                f"follower that reads everything: printed to read, steady {each:,} lines/s, "
                f"poll {args.poll * 1000:g} ms, p50 / p99 of {len(followed.follower.delays):,}",
                followed.follower.delays,
            )
            for each, followed in steady.items()
        ),
        *(
            delay_row(
                f"follower that reads everything: printed to read, {name}"
                f"{' (the probe beside it)' if flood.probe else ''}, p50 / p99 of "
                f"{len(flood.follower.delays):,}",
                flood.follower.delays,
            )
            for name, flood in floods.items()
        ),
        *(
            [probe_row(f"{newest}, {probed.label} (no follower)", probed.probe, args.lines)]
            if probed
            else []
        ),
        *(
            probe_row(f"{newest}, {name} (beside the follower)", flood.probe, args.lines)
            for name, flood in floods.items()
            if flood.probe
        ),
    ]
    print()
    print(table(["what", "ours", "peer", "ratio", "target", "met?"], rows))
    print()
    for followed in (*floods.values(), *steady.values()):
        print(
            f"{followed.label}: {followed.follower.requests} GetLogEvents while following; "
            f"the endpoint's CPU {followed.usage.server:.0%} of a core, this process's "
            f"{followed.usage.client:.0%}"
        )
    probes = [(probed.label, probed.probe, probed.usage)] if probed else []
    probes += [(name, f.probe, f.usage) for name, f in floods.items() if f.probe]
    for label, probe, usage in probes:
        times = probe.request_times
        print(
            f"{label}: the probe's {len(times):,} GetLogEvents (newest {settings.limit}), "
            f"request time p50 {ms(percentile(times, 50))} / p99 {ms(percentile(times, 99))} "
            f"(the floor of its delay); it saw {len(probe.delays):,} of {args.lines:,} lines "
            f"({len(probe.delays) / args.lines:.1%}); the action printed "
            f"{rate(probe.printing_rate)}; the endpoint's CPU {usage.server:.0%} of a core, "
            f"this process's {usage.client:.0%}"
        )
    for name, flood in floods.items():
        full = [page for page in flood.follower.pages if page.events >= 10_000]
        if full:
            print(
                f"{name}: the follower's {len(full)} full pages (10,000 events), median ms: "
                f"botocore preparing {page_median(full, 'prepare')}, waiting for the "
                f"endpoint's answer {page_median(full, 'wait')}, botocore parsing "
                f"{page_median(full, 'parse')}, the follower's own handling "
                f"{page_median(full, 'handle')}"
            )
    print(
        f"read throughput: median of {args.rounds}; the client's own CPU while reading: "
        f"{ours.client_share:.0%} of the time (ours, action's stream), {ours_put.client_share:.0%} "
        f"(ours, PutLogEvents'd), {moto.client_share:.0%} (moto)"
    )
    print(load())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000, help="lines the flood prints")
    parser.add_argument(
        "--rate", type=int, nargs="+", default=[10_000, 30_000], help="steady lines a second"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="steady printing time")
    parser.add_argument("--poll", type=float, default=0.01, help="follower's poll interval, s")
    parser.add_argument("--rounds", type=int, default=3, help="whole-stream reads, median")
    parser.add_argument(
        "--probe",
        nargs="+",
        choices=["apart", "beside"],
        default=["apart"],
        help="the newest-lines probe on a flood of its own (apart) or beside the follower",
    )
    parser.add_argument("--probe-interval", type=float, default=0.01, help="the probe's period, s")
    parser.add_argument("--probe-limit", type=int, default=100, help="the probe's page size")
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
