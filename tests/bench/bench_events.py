"""Event path: an action's state change to ReceiveMessage on a queue an EventBridge rule fills.

    .venv/bin/python -m tests.bench.bench_events [--samples 150]

One queue per path, subscribed as on AWS: an EventBridge rule on the default bus whose
pattern names the source and the detail-type "CodePipeline Action Execution State Change",
a target that is the queue, and the queue policy that lets the rule send. A receiver thread
long-polls the queue as a watching client does (ReceiveMessage, WaitTimeSeconds 20, up to 10
messages), notes the monotonic time each message arrives, and hands the receipts to a second
thread that deletes them (so the next long poll never waits for a delete). Every client is
boto3 in this process. Three paths, one after the other, in one run:

1. ours, engine: our endpoint (its own process, real clock; it prints the monotonic time at
   which the engine commits every event, `tests/bench/event_endpoint.py`; Linux's
   CLOCK_MONOTONIC is shared by processes) runs a pipeline Source -> Approve. Each sample
   cycle approves the waiting approval (PutApprovalResult), waits for its SUCCEEDED to arrive,
   starts the pipeline again and waits for the approval's STARTED: four action state changes
   (Approve SUCCEEDED, Source STARTED and SUCCEEDED, Approve STARTED). Delay = arrival - the
   engine's commit, for every one of them (the rule, source `aws.codepipeline`, lets only
   action events through; each commit also carries stage and pipeline events).
2. ours, PutEvents: on the same endpoint, PutEvents of one event shaped like an action state
   change, one at a time, each waited for. Delay = arrival - the moment the PutEvents call
   was made (its round trip included). The source is `bench.codepipeline`: PutEvents refuses
   `aws.` sources, on AWS and here.
3. moto: the same PutEvents samples against moto's standalone server (its EventBridge rule
   with an SQS target, its SQS long poll). moto runs no pipelines, so this is the only peer.

The ratio is ours / moto, PutEvents against PutEvents (like for like); the engine path has
the target. Nothing is asserted (the machine is shared).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import json
import queue
import threading
import time
import uuid
from typing import Any

import boto3

from tests.bench.bench_tui import approval_token
from tests.bench.event_endpoint import EventEndpoint, serve_printing_events
from tests.bench.harness import CREDENTIALS, REGION, load, moto_server, ms, percentile, ratio, table
from tests.endpoint import CLIENT_CONFIG
from tests.local.pipelines import approval, pipeline, stage, upload_source
from tui.demo import queue_policy

ACTION_CHANGE = "CodePipeline Action Execution State Change"
BENCH_SOURCE = "bench.codepipeline"
TARGET = 0.050
WAIT = 30.0
STOP = "bench-stop"

Key = tuple[str, str, str, str, str]
"""(pipeline, execution id, stage, action, state) of one action state change."""


def client(service: str, url: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=url,
        region_name=REGION,
        config=CLIENT_CONFIG,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )


def subscribe(url: str, name: str, source: str) -> str:
    """A queue and a rule that sends it `source`'s action state changes; the queue's URL."""
    sqs, events = client("sqs", url), client("events", url)
    queue_url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    pattern = {"source": [source], "detail-type": [ACTION_CHANGE]}
    rule_arn = events.put_rule(Name=name, EventPattern=json.dumps(pattern))["RuleArn"]
    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": queue_policy(queue_arn, rule_arn)}
    )
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


def key_of(detail: dict[str, Any]) -> Key:
    return (
        str(detail.get("pipeline")),
        str(detail.get("execution-id")),
        str(detail.get("stage")),
        str(detail.get("action")),
        str(detail.get("state")),
    )


class Receiver:
    """Long-polls one queue on a thread; `arrived` maps each event's key to its arrival."""

    def __init__(self, url: str, queue_url: str) -> None:
        self.url = url
        self.queue_url = queue_url
        self.arrived: dict[Key, float] = {}
        self.condition = threading.Condition()
        self.receipts: queue.Queue[list[str] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.threads = [
            threading.Thread(target=self._receive, daemon=True),
            threading.Thread(target=self._delete, daemon=True),
        ]

    def __enter__(self) -> Receiver:
        for thread in self.threads:
            thread.start()
        return self

    def _receive(self) -> None:
        sqs = client("sqs", self.url)
        try:
            while True:
                answer = sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=20
                )
                now = time.monotonic()
                messages = answer.get("Messages") or []
                stop = False
                with self.condition:
                    for message in messages:
                        body = json.loads(message["Body"])
                        if STOP in body:
                            stop = True
                            continue
                        detail = body["detail"]
                        if isinstance(detail, str):
                            detail = json.loads(detail)
                        self.arrived.setdefault(key_of(detail), now)
                    self.condition.notify_all()
                if messages:
                    self.receipts.put([m["ReceiptHandle"] for m in messages])
                if stop:
                    return
        except BaseException as error:
            with self.condition:
                self.error = error
                self.condition.notify_all()

    def _delete(self) -> None:
        sqs = client("sqs", self.url)
        while (handles := self.receipts.get()) is not None:
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)],
            )

    def wait_for(self, key: Key) -> float:
        with self.condition:
            if not self.condition.wait_for(
                lambda: key in self.arrived or self.error is not None, WAIT
            ):
                raise RuntimeError(f"{key} did not arrive in {WAIT:g} s")
            if self.error is not None:
                raise self.error
            return self.arrived[key]

    def __exit__(self, *_: object) -> None:
        client("sqs", self.url).send_message(
            QueueUrl=self.queue_url, MessageBody=json.dumps({STOP: 1})
        )
        self.threads[0].join(WAIT)
        self.receipts.put(None)
        self.threads[1].join(WAIT)


# 1. ours: the engine's own events ---------------------------------------------------------------


class Endpoint(EventEndpoint):
    """`--serve` as a child process; `commits` maps each action state change to the
    monotonic time the engine committed it."""

    module = "tests.bench.bench_events"

    def __init__(self) -> None:
        super().__init__()
        self.commits: dict[Key, float] = {}

    def __enter__(self) -> Endpoint:
        super().__enter__()
        return self

    def on_event(self, when: float, event: dict[str, Any]) -> None:
        if event["type"] == ACTION_CHANGE:
            key = (
                event["pipeline"],
                event["execution"],
                event["stage"],
                event["action"],
                event["state"],
            )
            with self.lock:
                self.commits.setdefault(key, when)


def waiting_token(codepipeline: Any, name: str) -> str:
    deadline = time.monotonic() + WAIT
    while (token := approval_token(codepipeline, name)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} never waited for its approval")
        time.sleep(0.01)
    return token


def engine_path(endpoint: Endpoint, samples: int) -> tuple[list[float], list[float]]:
    """(every action state change's delay, the approvals' SUCCEEDED delays); prints the
    delays of each kind of change."""
    upload_source(endpoint)  # type: ignore[arg-type]
    queue_url = subscribe(endpoint.url, "bench-engine", "aws.codepipeline")
    codepipeline = endpoint.client("codepipeline")
    name = "gate"
    with Receiver(endpoint.url, queue_url) as receiver:
        codepipeline.create_pipeline(pipeline=pipeline(name, stage("Approve", approval("Gate"))))
        execution = codepipeline.list_pipeline_executions(pipelineName=name, maxResults=1)[
            "pipelineExecutionSummaries"
        ][0]["pipelineExecutionId"]
        receiver.wait_for((name, execution, "Approve", "Gate", "STARTED"))
        approvals: list[Key] = []
        for _ in range(samples):
            codepipeline.put_approval_result(
                pipelineName=name,
                stageName="Approve",
                actionName="Gate",
                token=waiting_token(codepipeline, name),
                result={"status": "Approved", "summary": "bench"},
            )
            approved = (name, execution, "Approve", "Gate", "SUCCEEDED")
            receiver.wait_for(approved)
            approvals.append(approved)
            execution = codepipeline.start_pipeline_execution(name=name)["pipelineExecutionId"]
            receiver.wait_for((name, execution, "Approve", "Gate", "STARTED"))
    with endpoint.lock:
        commits = dict(endpoint.commits)
    delays = [arrived - commits[key] for key, arrived in receiver.arrived.items() if key in commits]
    by_kind: dict[str, list[float]] = {}
    for key, arrived in receiver.arrived.items():
        if key in commits:
            by_kind.setdefault(f"{key[3]} {key[4]}", []).append(arrived - commits[key])
    for kind, kind_delays in sorted(by_kind.items()):
        print(f"    {kind}: {p50_p99(kind_delays)} ({len(kind_delays)})", file=sys.stderr)
    missing = [key for key in commits if key not in receiver.arrived]
    if missing:
        print(f"  {len(missing)} committed action changes never arrived", file=sys.stderr)
    return delays, [receiver.arrived[key] - commits[key] for key in approvals]


# 2 and 3: PutEvents ---------------------------------------------------------------------------


def put_events_path(url: str, samples: int, warmup: int = 5) -> list[float]:
    """PutEvents one action-shaped event at a time; each delay runs from the call to the
    event's arrival."""
    queue_url = subscribe(url, "bench-put-events", BENCH_SOURCE)
    events = client("events", url)
    delays: list[float] = []
    with Receiver(url, queue_url) as receiver:
        for index in range(warmup + samples):
            detail = {
                "pipeline": "gate",
                "execution-id": str(uuid.uuid4()),
                "stage": "Approve",
                "action": "Gate",
                "state": "SUCCEEDED",
                "region": REGION,
                "type": {
                    "owner": "AWS",
                    "provider": "Manual",
                    "category": "Approval",
                    "version": "1",
                },
                "version": 1.0,
            }
            sent = time.monotonic()
            answer = events.put_events(
                Entries=[
                    {
                        "Source": BENCH_SOURCE,
                        "DetailType": ACTION_CHANGE,
                        "Detail": json.dumps(detail),
                        "Resources": [f"arn:aws:codepipeline:{REGION}:000000000000:gate"],
                    }
                ]
            )
            if answer.get("FailedEntryCount"):
                raise RuntimeError(f"PutEvents failed: {answer['Entries']}")
            arrived = receiver.wait_for(key_of(detail))
            if index >= warmup:
                delays.append(arrived - sent)
    return delays


# The run ----------------------------------------------------------------------------------------


def p50_p99(delays: list[float]) -> str:
    return f"{ms(percentile(delays, 50))} / {ms(percentile(delays, 99))}"


def ratios(ours: list[float], moto: list[float]) -> str:
    return " / ".join(ratio(percentile(ours, q), percentile(moto, q)) for q in (50, 99))


def run(samples: int) -> None:
    print(f"event path benchmark; {load()}", file=sys.stderr, flush=True)
    with Endpoint() as endpoint:
        print(f"  ours, engine: {samples} approval cycles…", file=sys.stderr, flush=True)
        engine, approvals = engine_path(endpoint, samples)
        print(f"  ours, PutEvents: {samples} events…", file=sys.stderr, flush=True)
        ours = put_events_path(endpoint.url, samples)
    with moto_server() as moto_url:
        print(f"  moto, PutEvents: {samples} events…", file=sys.stderr, flush=True)
        moto = put_events_path(moto_url, samples)

    met = "yes" if percentile(engine, 50) <= TARGET else "no"
    rows = [
        [
            f"action state change (engine commit) to ReceiveMessage, {len(engine)} changes",
            p50_p99(engine),
            f"moto PutEvents to ReceiveMessage {p50_p99(moto)}",
            ratios(engine, moto),
            f"p50 <= {TARGET * 1000:.0f} ms",
            met,
        ],
        [
            f"the same, approvals' SUCCEEDED only ({len(approvals)})",
            p50_p99(approvals),
            "",
            "",
            "",
            "",
        ],
        [
            f"PutEvents to ReceiveMessage, {len(ours)} events (like for like)",
            p50_p99(ours),
            p50_p99(moto),
            ratios(ours, moto),
            "",
            "",
        ],
    ]
    print()
    print(
        table(
            ["what", "ours p50 / p99", "peer p50 / p99", "ratio p50 / p99", "target", "met?"], rows
        )
    )
    print()
    print(load())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=150, help="approval cycles; events sent")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve_printing_events(Path(args.serve))
        return 0
    run(args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
