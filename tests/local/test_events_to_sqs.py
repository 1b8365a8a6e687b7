"""The engine's CodePipeline events reach SQS queues through EventBridge rules, as on AWS."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from tests.endpoint import Endpoint
from tests.local.pipelines import (
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tui.local.clock import ManualClock
from tui.local.engine.db import open_database, transaction
from tui.local.engine.eventbus import EventBus
from tui.local.engine.events import PIPELINE_DETAIL_TYPE, EventLog
from tui.local.engine.queues import QueueStore

ACCOUNT = "000000000000"
DETAIL_TYPES = [
    "CodePipeline Pipeline Execution State Change",
    "CodePipeline Stage Execution State Change",
    "CodePipeline Action Execution State Change",
]


def codepipeline_pattern(*pipelines: str, **detail: list[str]) -> str:
    """The rule of reference section 7.3."""
    pattern: dict[str, Any] = {"source": ["aws.codepipeline"], "detail-type": DETAIL_TYPES}
    filters: dict[str, list[str]] = dict(detail)
    if pipelines:
        filters["pipeline"] = list(pipelines)
    if filters:
        pattern["detail"] = filters
    return json.dumps(pattern)


def subscribe(endpoint: Endpoint, queue: str, pattern: str) -> str:
    sqs = endpoint.client("sqs")
    events = endpoint.client("events")
    url = str(sqs.create_queue(QueueName=queue)["QueueUrl"])
    events.put_rule(Name=f"{queue}-rule", EventPattern=pattern)
    failed = events.put_targets(
        Rule=f"{queue}-rule",
        Targets=[{"Id": "queue", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}"}],
    )
    assert failed["FailedEntryCount"] == 0
    return url


def drain(endpoint: Endpoint, url: str, expected: int) -> list[str]:
    """Every message body in the queue (deleting them): polls until `expected` arrived, then
    takes whatever else is there at once, so extra deliveries show."""
    sqs = endpoint.client("sqs")
    bodies: list[str] = []
    while True:
        wait = 1 if len(bodies) < expected else 0
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        if "Messages" not in reply:
            return bodies
        for message in reply["Messages"]:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def engine_events(endpoint: Endpoint) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{endpoint.url}/_local/events?limit=10000", timeout=10) as reply:
        return list(json.load(reply)["events"])


def by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {event["id"]: event for event in events}


def run(endpoint: Endpoint, name: str) -> None:
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=pipeline(name, stage("Build", commands("Say", ["echo hello"]))))
    assert wait_status(cp, name, latest_execution_id(cp, name)) == "Succeeded"


def test_queues_receive_exactly_the_engines_events(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    demo_url = subscribe(endpoint, "demo-events", codepipeline_pattern("demo"))
    all_url = subscribe(endpoint, "all-events", codepipeline_pattern())
    failures_url = subscribe(endpoint, "failures", codepipeline_pattern(state=["FAILED"]))
    run(endpoint, "demo")
    run(endpoint, "other")

    emitted = engine_events(endpoint)
    demo_emitted = [e for e in emitted if e["detail"]["pipeline"] == "demo"]
    assert {e["detail"]["pipeline"] for e in emitted} == {"demo", "other"}

    demo_bodies = drain(endpoint, demo_url, len(demo_emitted))
    all_bodies = drain(endpoint, all_url, len(emitted))
    # Exactly once each, and the same JSON AWS would send: the whole event, compact.
    assert len(demo_bodies) == len(demo_emitted)
    assert len(all_bodies) == len(emitted)
    assert by_id([json.loads(b) for b in demo_bodies]) == by_id(demo_emitted)
    assert by_id([json.loads(b) for b in all_bodies]) == by_id(emitted)
    for body in all_bodies:
        assert body == json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)
        assert list(json.loads(body))[:3] == ["version", "id", "detail-type"]
    assert Counter(json.loads(b)["detail-type"] for b in demo_bodies).keys() == set(DETAIL_TYPES)
    assert drain(endpoint, failures_url, 0) == []

    started = [
        e
        for e in demo_emitted
        if e["detail-type"] == PIPELINE_DETAIL_TYPE and e["detail"]["state"] == "STARTED"
    ]
    assert len(started) == 1
    assert started[0]["resources"] == [f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:demo"]
    assert started[0]["detail"]["execution-trigger"]["trigger-type"] == "CreatePipeline"


def test_a_disabled_rule_or_a_deleted_queue_gets_nothing(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    quiet_url = subscribe(endpoint, "quiet", codepipeline_pattern())
    endpoint.client("events").disable_rule(Name="quiet-rule")
    gone_url = subscribe(endpoint, "gone", codepipeline_pattern())
    endpoint.client("sqs").delete_queue(QueueUrl=gone_url)
    live_url = subscribe(endpoint, "live", codepipeline_pattern())
    run(endpoint, "demo")
    emitted = len(engine_events(endpoint))
    assert len(drain(endpoint, live_url, emitted)) == emitted
    assert drain(endpoint, quiet_url, 0) == []


def test_delivery_resumes_after_a_restart_without_replaying(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Endpoint(data).start()
    try:
        upload_source(first)
        url = subscribe(first, "durable", codepipeline_pattern())
        run(first, "before")
        emitted = len(engine_events(first))
        assert len(drain(first, url, emitted)) == emitted
    finally:
        first.stop()
    second = Endpoint(data).start()
    try:
        seen = len(engine_events(second))
        run(second, "after")
        new = len(engine_events(second)) - seen
        bodies = drain(second, url, new)
        assert len(bodies) == new
        assert {json.loads(b)["detail"]["pipeline"] for b in bodies} == {"after"}
    finally:
        second.stop()


def test_events_committed_but_not_delivered_are_delivered_on_start(tmp_path: Path) -> None:
    """A crash between the engine's commit and the delivery loses no event and repeats none."""
    db = open_database(tmp_path)
    clock = ManualClock()
    log = EventLog(db, "us-east-1", ACCOUNT)
    queues = QueueStore(db, clock, "us-east-1", ACCOUNT)
    queues.create_queue("catch-up")
    bus = EventBus(db, clock, "us-east-1", ACCOUNT, queues)
    stop_following = bus.follow(log)
    bus.put_rule("all", "default", '{"source": ["aws.codepipeline"]}', None, None, None, None, None)
    bus.put_targets(
        "default", "all", [{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:catch-up"}]
    )
    stop_following()  # the process "dies" before delivering what it commits next

    arn = f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:demo"
    for state in ("STARTED", "SUCCEEDED"):
        log.emit(
            log.envelope(
                PIPELINE_DETAIL_TYPE, clock.now(), arn, {"pipeline": "demo", "state": state}
            ),
            clock.now(),
        )
    with transaction(db):
        for sql, args in log.take_statements():
            db.execute(sql, args)
    assert queues.receive("catch-up", 10) == []

    restarted = EventBus(db, clock, "us-east-1", ACCOUNT, queues)
    restarted.follow(log)
    delivered = queues.receive("catch-up", 10, visibility=0)
    assert [json.loads(m.body)["detail"]["state"] for m in delivered] == ["STARTED", "SUCCEEDED"]
    EventBus(db, clock, "us-east-1", ACCOUNT, queues).follow(log)
    assert len(queues.receive("catch-up", 10, visibility=0)) == 2  # nothing delivered twice
    db.close()
