"""The Watcher against the real endpoint: the workspace it keeps, the status it reports, the
reads it makes (and does not make), events, failures and deletions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.aws.moto_server import free_port
from tests.endpoint import Endpoint
from tests.local.pipelines import (
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tui.aws.budget import BudgetSettings
from tui.aws.errors import EndpointUnreachable
from tui.aws.feed import FeedMode
from tui.aws.reconcile import ReconcileSettings
from tui.aws.session import ConnectionSettings
from tui.aws.watch import Watcher, WatchStatus

FAST = ReconcileSettings(
    debounce=0.05,
    debounce_max=0.2,
    round_robin_step=0.3,
    round_robin_cycle=0,
    poll_interval=0.3,
    visible_interval=0.2,
    visible_active_interval=0.1,
    error_backoff=0.2,
    max_rate=50,
)
EVENT_PATTERN = {"source": ["aws.codepipeline"]}


async def eventually(predicate: Callable[[], object], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: {predicate}")
        await asyncio.sleep(0.02)


class Recorder:
    def __init__(self) -> None:
        self.changes: list[frozenset[str]] = []
        self.statuses: list[WatchStatus] = []

    def changed(self, names: frozenset[str]) -> None:
        self.changes.append(names)

    def status(self, status: WatchStatus) -> None:
        self.statuses.append(status)

    @property
    def changed_names(self) -> set[str]:
        return set().union(*self.changes) if self.changes else set()


def make_watcher(url: str, recorder: Recorder, **options: Any) -> Watcher:
    return Watcher(
        ConnectionSettings(endpoint_url=url, max_attempts=1, connect_timeout=1.0),
        reconcile=options.pop("reconcile", FAST),
        list_interval=options.pop("list_interval", 0.3),
        on_change=recorder.changed,
        on_status=recorder.status,
        **options,
    )


@pytest.fixture
async def running() -> AsyncIterator[Callable[[Watcher], None]]:
    """Start watchers; each is closed (and its run() awaited) at the end."""
    started: list[tuple[Watcher, asyncio.Task[None]]] = []

    def start(watcher: Watcher) -> None:
        started.append((watcher, asyncio.ensure_future(watcher.run())))

    yield start
    for watcher, task in started:
        await watcher.close()
        await asyncio.wait_for(task, 10)


def two_pipelines(endpoint: Endpoint) -> Any:
    upload_source(endpoint, summary="Add the greeting")
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline("alpha", stage("Build", commands("Compile", ["true"])))
    )
    client.create_pipeline(pipeline=pipeline("beta", stage("Test", commands("Unit", ["exit 1"]))))
    wait_status(client, "alpha", latest_execution_id(client, "alpha"), "Succeeded")
    wait_status(client, "beta", latest_execution_id(client, "beta"), "Failed")
    return client


async def test_it_lists_reads_every_pipeline_and_reports_the_connection(
    endpoint: Endpoint, running: Callable[[Watcher], None]
) -> None:
    two_pipelines(endpoint)
    recorder = Recorder()
    watcher = make_watcher(endpoint.url, recorder)
    running(watcher)
    await eventually(lambda: watcher.state_reads["alpha"] and watcher.state_reads["beta"])
    await eventually(
        lambda: (
            watcher.workspace.pipeline("beta") is not None
            and watcher.workspace.pipeline("beta").status == "Failed"
        )  # type: ignore[union-attr]
    )
    alpha = watcher.workspace.pipeline("alpha")
    assert alpha is not None
    assert alpha.status == "Succeeded"
    assert alpha.latest_execution is not None
    assert alpha.latest_execution.source_revisions[0].revision_summary == "Add the greeting"
    assert {"alpha", "beta"} <= recorder.changed_names
    status = watcher.status
    assert status.is_local
    assert status.endpoint_url == endpoint.url
    assert status.region == "us-east-1"
    assert status.account == "000000000000"
    assert status.pipelines_listed
    assert status.problem is None
    assert status.stale_since is None
    assert status.last_update is not None
    # No queue configured and none of the demo's: polling, quietly.
    await eventually(lambda: watcher.status.feed_mode is FeedMode.POLLING)
    assert watcher.status.feed_text == "polling every 0.3 s"
    assert recorder.statuses[-1] == watcher.status


async def test_the_visible_pipeline_gets_its_declaration_and_action_runs(
    endpoint: Endpoint, running: Callable[[Watcher], None]
) -> None:
    two_pipelines(endpoint)
    watcher = make_watcher(endpoint.url, Recorder())
    running(watcher)
    await eventually(lambda: watcher.state_reads["alpha"])
    before = watcher.workspace.pipeline("alpha")
    assert before is not None
    compile_before = before.stage("Build").action("Compile")  # type: ignore[union-attr]
    assert compile_before is not None
    assert compile_before.started_at is None
    watcher.set_visible("alpha")
    assert watcher.visible == "alpha"

    def compile_action() -> Any:
        view = watcher.workspace.pipeline("alpha")
        return view.stage("Build").action("Compile") if view else None  # type: ignore[union-attr]

    await eventually(lambda: compile_action().provider == "Commands")
    await eventually(lambda: compile_action().started_at is not None)
    assert compile_action().run_order == 1
    assert compile_action().execution_id == latest_execution_id(
        endpoint.client("codepipeline"), "alpha"
    )
    # The visible pipeline is read again and again; the other one is not.
    reads = watcher.state_reads["alpha"]
    await eventually(lambda: watcher.state_reads["alpha"] >= reads + 2)
    assert watcher.scheduler.counts["visible"] >= 2


async def test_on_demand_reads_for_the_screens(
    endpoint: Endpoint, running: Callable[[Watcher], None]
) -> None:
    client = two_pipelines(endpoint)
    client.start_pipeline_execution(name="alpha")
    watcher = make_watcher(endpoint.url, Recorder())
    running(watcher)
    summaries = await watcher.executions("alpha")
    assert len(summaries) == 2
    runs = await watcher.action_executions("alpha", summaries[-1].pipeline_execution_id)
    assert {(r.stage_name, r.action_name) for r in runs} == {
        ("Source", "Fetch"),
        ("Build", "Compile"),
    }
    declaration = await watcher.declaration("beta")
    assert [s.name for s in declaration.stages] == ["Source", "Test"]


async def test_a_deleted_pipeline_leaves_the_workspace(
    endpoint: Endpoint, running: Callable[[Watcher], None]
) -> None:
    client = two_pipelines(endpoint)
    recorder = Recorder()
    watcher = make_watcher(endpoint.url, recorder)
    running(watcher)
    await eventually(lambda: watcher.state_reads["beta"])
    client.delete_pipeline(name="beta")
    await eventually(lambda: "beta" not in watcher.workspace.pipelines)
    assert recorder.changes[-1] == frozenset({"beta"}) or "beta" in recorder.changed_names
    assert "alpha" in watcher.workspace.pipelines


async def test_reads_that_fail_mark_the_data_stale(
    tmp_path: Path, running: Callable[[Watcher], None]
) -> None:
    server = Endpoint(tmp_path / "data").start()
    two_pipelines(server)
    recorder = Recorder()
    times = iter(range(10**6))
    base = 1_767_225_600.0

    def clock() -> datetime:
        return datetime.fromtimestamp(base + next(times), UTC)

    watcher = make_watcher(server.url, recorder, now=clock)
    running(watcher)
    await eventually(lambda: watcher.state_reads["alpha"] and watcher.state_reads["beta"])
    last_good = watcher.status.last_update
    server.stop()
    await eventually(lambda: watcher.status.stale_since is not None)
    status = watcher.status
    assert isinstance(status.problem, EndpointUnreachable)
    assert (status.problem.url or "").rstrip("/") == server.url
    # Stale since the last update that worked: what is on screen is from then.
    assert status.last_update is not None
    assert last_good is not None
    assert status.stale_since == status.last_update >= last_good
    fetches = watcher.scheduler.fetches
    await eventually(lambda: watcher.scheduler.fetches > fetches)
    assert watcher.workspace.pipeline("alpha") is not None


async def test_events_apply_at_once_and_ask_for_a_debounced_read(
    endpoint: Endpoint, running: Callable[[Watcher], None], tmp_path: Path
) -> None:
    sqs = endpoint.client("sqs")
    events = endpoint.client("events")
    queue = sqs.create_queue(QueueName="watch-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="watch-events", EventPattern=json.dumps(EVENT_PATTERN))
    events.put_targets(Rule="watch-events", Targets=[{"Id": "q", "Arn": arn}])
    upload_source(endpoint)
    recorder = Recorder()
    watcher = make_watcher(
        endpoint.url,
        recorder,
        events_queue=queue,
        reconcile=ReconcileSettings(
            debounce=0.2, debounce_max=1.0, round_robin_step=3600, poll_interval=3600
        ),
        list_interval=3600,
    )
    running(watcher)
    await eventually(lambda: watcher.status.feed_mode is FeedMode.LIVE)
    assert watcher.status.feed_text == "events live"
    assert watcher.scheduler.live
    endpoint.client("codepipeline").create_pipeline(
        pipeline=pipeline("gamma", stage("Build", commands("Compile", ["true"])))
    )
    # A pipeline the list did not have: its events add it, and ask for the list again.
    await eventually(lambda: "gamma" in watcher.workspace.pipelines)
    assert watcher.events_applied > 0
    await eventually(
        lambda: watcher.workspace.pipeline("gamma").status == "Succeeded"  # type: ignore[union-attr]
    )
    assert "gamma" in recorder.changed_names
    # Once the pipeline is known and read, its next events ask for a debounced read (the
    # first one may have been covered by the read the new list asked for, whichever came
    # first on a busy machine).
    await eventually(
        lambda: watcher.scheduler.counts["initial"] + watcher.scheduler.counts["event"] >= 1
    )
    event_reads = watcher.scheduler.counts["event"]
    applied = watcher.events_applied
    second = endpoint.client("codepipeline").start_pipeline_execution(name="gamma")
    await eventually(lambda: watcher.events_applied > applied)
    await eventually(lambda: watcher.scheduler.counts["event"] > event_reads)
    # (The endpoint's clock stands still, so both executions start at the same instant:
    # which one is "latest" is not the point here.)
    await eventually(
        lambda: (
            second["pipelineExecutionId"]
            in {e.execution_id for e in watcher.workspace.pipeline("gamma").executions}
        )  # type: ignore[union-attr]
    )


async def test_the_local_endpoint_lifts_the_default_budget_and_an_explicit_one_stays(
    endpoint: Endpoint, running: Callable[[Watcher], None]
) -> None:
    two_pipelines(endpoint)
    default = make_watcher(endpoint.url, Recorder())
    assert default.budget.settings.rate == 5.0  # AWS's until the endpoint is known
    chosen = make_watcher(endpoint.url, Recorder(), budget=BudgetSettings(rate=3.0, burst=4.0))
    running(default)
    running(chosen)
    await eventually(lambda: default.state_reads["beta"] and chosen.state_reads["beta"])
    assert default.status.is_local
    assert default.budget.settings.rate is None
    assert default.budget.state.limit is None
    assert chosen.budget.settings.rate == 3.0
    assert chosen.budget.state.limit == 3.0


async def test_a_loopback_endpoint_that_is_not_ours_keeps_the_aws_budget(
    running: Callable[[Watcher], None],
) -> None:
    # Nothing listens there: loopback alone (a tunnel or proxy to AWS) does not lift it.
    watcher = make_watcher(f"http://127.0.0.1:{free_port()}", Recorder())
    running(watcher)
    await eventually(lambda: watcher.status.problem is not None)
    assert watcher.budget.settings.rate == 5.0
    assert await watcher.aws.is_local() is False
