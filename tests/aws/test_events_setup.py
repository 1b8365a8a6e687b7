"""`EventsSetup` against our endpoint and moto's server: plan, apply, idempotence, teardown, and
events travelling rule -> queue -> the TUI's feed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.aws.moto_server import MotoServer
from tests.aws.test_feed import Sink, engine_event_bodies, start, until
from tests.endpoint import Endpoint
from tests.local.pipelines import (
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tui.aws.events_setup import (
    MANAGED_TAG_KEY,
    MANAGED_TAG_VALUE,
    MAX_NAME,
    TARGET_ID,
    Change,
    EventsSetup,
    EventsSpec,
    SetupRefused,
    check_queue_name,
    default_name,
    fit_name,
)
from tui.aws.feed import EventFeed, QueueRef
from tui.aws.session import AwsContext, ConnectionSettings

QUEUE = "pipetop-events-alice-laptop"


@dataclass
class Peer:
    name: str
    aws: AwsContext
    sqs: Any
    events: Any


@pytest.fixture(params=["endpoint", "moto"])
async def peer(request: pytest.FixtureRequest, endpoint: Endpoint) -> AsyncIterator[Peer]:
    if request.param == "endpoint":
        url, sqs, events = endpoint.url, endpoint.client("sqs"), endpoint.client("events")
    else:
        moto: MotoServer = request.getfixturevalue("moto")
        url, sqs, events = moto.url, moto.client("sqs"), moto.client("events")
    async with AwsContext(ConnectionSettings(endpoint_url=url, max_attempts=1)) as aws:
        yield Peer(request.param, aws, sqs, events)


def changes(steps: Any) -> dict[str, Change]:
    return {step.kind: step.change for step in steps}


def queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def policy_of(sqs: Any, url: str) -> dict[str, Any] | None:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    text = attributes.get("Attributes", {}).get("Policy")
    return json.loads(text) if text else None


def rule_names(events: Any) -> list[str]:
    return [rule["Name"] for rule in events.list_rules()["Rules"]]


def queue_urls(sqs: Any) -> list[str]:
    return list(sqs.list_queues().get("QueueUrls", []))


# Names ---------------------------------------------------------------------------------------


def test_default_names_are_per_user_and_host_and_fit_both_services() -> None:
    assert default_name("alice", "laptop") == "pipetop-events-alice-laptop"
    assert default_name("alice", "laptop") != default_name("bob", "laptop")
    assert default_name("alice", "laptop") != default_name("alice", "desktop")
    # Characters SQS refuses become '-', runs of them one '-'.
    assert default_name("j.doe@corp", "build box") == "pipetop-events-j-doe-corp-build-box"
    long_a = default_name("a" * 70, "host")
    long_b = default_name("a" * 70, "hosu")
    assert len(long_a) == MAX_NAME
    assert long_a != long_b
    for name in (long_a, default_name("ü" * 5, "ß")):
        assert check_queue_name(name) == name
        EventsSpec(queue_name=name)
    assert fit_name("!!!") == "pipetop-events"


def test_bad_names_are_refused() -> None:
    for bad in ("", "a" * 81, "with space", "orders.fifo"):
        with pytest.raises(ValueError, match="queue name"):
            EventsSpec(queue_name=bad)
    with pytest.raises(ValueError, match="rule name"):
        EventsSpec(queue_name="q", rule_name="r" * 65)
    with pytest.raises(ValueError, match="pipeline name"):
        EventsSpec(queue_name="q", pipelines=("no spaces please",))
    # A queue name too long for a rule gives a fitted rule name.
    spec = EventsSpec(queue_name="q" * 80)
    assert len(spec.rule) == MAX_NAME


def test_the_pattern_has_the_three_detail_types_and_optionally_pipelines() -> None:
    every = EventsSpec(queue_name="q").event_pattern()
    assert every == {
        "source": ["aws.codepipeline"],
        "detail-type": [
            "CodePipeline Pipeline Execution State Change",
            "CodePipeline Stage Execution State Change",
            "CodePipeline Action Execution State Change",
        ],
    }
    some = EventsSpec(queue_name="q", pipelines=("web", "api", "web")).event_pattern()
    assert some["detail"] == {"pipeline": ["api", "web"]}


# Setup ---------------------------------------------------------------------------------------


async def test_setup_creates_everything_once_then_finds_it(peer: Peer) -> None:
    setup = EventsSetup(peer.aws, EventsSpec(queue_name=QUEUE))
    plan = await setup.plan()
    assert changes(plan.steps) == {
        "queue": Change.CREATE,
        "rule": Change.CREATE,
        "queue policy": Change.CREATE,
        "rule target": Change.CREATE,
    }
    assert plan.queue_url is None
    result = await setup.apply(plan)
    assert result.queue_url is not None
    assert result.queue_url.endswith("/" + QUEUE)
    assert result.queue_url == peer.sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]

    # What AWS needs: the rule matches CodePipeline, targets the queue, the queue lets only
    # that rule send, and both carry the tag teardown goes by.
    arn = queue_arn(peer.sqs, result.queue_url)
    rule = peer.events.describe_rule(Name=QUEUE)
    assert json.loads(rule["EventPattern"]) == EventsSpec(queue_name=QUEUE).event_pattern()
    assert rule["State"] == "ENABLED"
    assert peer.events.list_targets_by_rule(Rule=QUEUE)["Targets"] == [
        {"Id": TARGET_ID, "Arn": arn}
    ]
    policy = policy_of(peer.sqs, result.queue_url)
    assert policy is not None
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == arn
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule["Arn"]}}
    assert peer.sqs.list_queue_tags(QueueUrl=result.queue_url)["Tags"] == {
        MANAGED_TAG_KEY: MANAGED_TAG_VALUE
    }
    tags = peer.events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]
    assert {"Key": MANAGED_TAG_KEY, "Value": MANAGED_TAG_VALUE} in tags
    retention = peer.sqs.get_queue_attributes(
        QueueUrl=result.queue_url, AttributeNames=["MessageRetentionPeriod"]
    )["Attributes"]["MessageRetentionPeriod"]
    assert retention == "3600"

    again = await setup.plan()
    assert set(changes(again.steps).values()) == {Change.EXISTS}
    assert again.queue_url == result.queue_url
    assert not again.changes()
    await setup.apply(again)
    assert len(policy_of(peer.sqs, result.queue_url)["Statement"]) == 1  # type: ignore[index]
    assert rule_names(peer.events) == [QUEUE]
    assert len(peer.events.list_targets_by_rule(Rule=QUEUE)["Targets"]) == 1


async def test_a_dry_run_changes_nothing(peer: Peer) -> None:
    plan = await EventsSetup(peer.aws, EventsSpec(queue_name=QUEUE)).plan()
    assert plan.changes()
    assert queue_urls(peer.sqs) == []
    assert rule_names(peer.events) == []


async def test_a_new_pipeline_list_updates_the_rule_only(peer: Peer) -> None:
    await EventsSetup(peer.aws, EventsSpec(queue_name=QUEUE)).apply(
        await EventsSetup(peer.aws, EventsSpec(queue_name=QUEUE)).plan()
    )
    narrower = EventsSetup(peer.aws, EventsSpec(queue_name=QUEUE, pipelines=("web",)))
    plan = await narrower.plan()
    assert changes(plan.steps) == {
        "queue": Change.EXISTS,
        "rule": Change.UPDATE,
        "queue policy": Change.EXISTS,
        "rule target": Change.EXISTS,
    }
    await narrower.apply(plan)
    pattern = json.loads(peer.events.describe_rule(Name=QUEUE)["EventPattern"])
    assert pattern["detail"] == {"pipeline": ["web"]}
    assert not (await narrower.plan()).changes()


async def test_a_disabled_rule_is_enabled_again(peer: Peer) -> None:
    setup = EventsSetup(peer.aws, EventsSpec(queue_name=QUEUE))
    await setup.apply(await setup.plan())
    peer.events.disable_rule(Name=QUEUE)
    plan = await setup.plan()
    assert changes(plan.steps)["rule"] is Change.UPDATE
    await setup.apply(plan)
    assert peer.events.describe_rule(Name=QUEUE)["State"] == "ENABLED"


async def test_an_existing_queue_is_used_and_its_policy_kept(peer: Peer) -> None:
    url = peer.sqs.create_queue(QueueName="shared")["QueueUrl"]
    arn = queue_arn(peer.sqs, url)
    foreign = {
        "Sid": "someone-else",
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
    }
    peer.sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [foreign]})},
    )
    setup = EventsSetup(peer.aws, EventsSpec(queue_name="shared", rule_name="mine"))
    plan = await setup.plan()
    assert changes(plan.steps)["queue"] is Change.EXISTS
    assert changes(plan.steps)["queue policy"] is Change.CREATE
    await setup.apply(plan)
    statements = policy_of(peer.sqs, url)["Statement"]  # type: ignore[index]
    assert [s["Sid"] for s in statements] == ["someone-else", "pipetop-rule-mine"]
    assert not (await setup.plan()).changes()


async def test_a_foreign_rule_with_another_pattern_is_refused(peer: Peer) -> None:
    peer.events.put_rule(Name=QUEUE, EventPattern=json.dumps({"source": ["my.app"]}))
    setup = EventsSetup(peer.aws, EventsSpec(queue_name=QUEUE))
    with pytest.raises(SetupRefused, match="was not created by pipetop events setup"):
        await setup.plan()
    assert json.loads(peer.events.describe_rule(Name=QUEUE)["EventPattern"]) == {
        "source": ["my.app"]
    }
    assert queue_urls(peer.sqs) == []


# Events reach the feed -----------------------------------------------------------------------


async def test_events_put_on_moto_reach_the_feed_for_the_chosen_pipelines_only(
    moto: MotoServer, endpoint: Endpoint
) -> None:
    """AWS refuses PutEvents of `aws.*` sources; moto does not, so its rule -> queue delivery
    stands in for CodePipeline's own events (bodies from a real run on our engine)."""
    engine_events = [json.loads(b) for b in await asyncio.to_thread(engine_event_bodies, endpoint)]
    async with AwsContext(ConnectionSettings(endpoint_url=moto.url, max_attempts=1)) as aws:
        setup = EventsSetup(aws, EventsSpec(queue_name=QUEUE, pipelines=("demo",)))
        result = await setup.apply(await setup.plan())
        events = moto.client("events")
        entries = [
            {
                "Source": e["source"],
                "DetailType": e["detail-type"],
                "Detail": json.dumps(e["detail"]),
                "Resources": e["resources"],
            }
            for e in engine_events[:5]
        ]
        other = [
            {**entry, "Detail": json.dumps({**json.loads(entry["Detail"]), "pipeline": "other"})}
            for entry in entries[:3]
        ]
        unrelated = [{**entries[0], "Source": "my.app"}]
        answer = events.put_events(Entries=entries + other + unrelated)
        assert answer["FailedEntryCount"] == 0
        sink = Sink()
        feed = EventFeed(
            aws, QueueRef(url=result.queue_url), on_events=sink.on_events, wait_seconds=1
        )
        task = start(feed)
        await until(lambda: len(sink.events) >= len(entries))
        await feed.close()
        await task
    assert feed.status.malformed == 0
    assert {e.detail.pipeline for e in sink.events} == {"demo"}
    assert sorted((e.detail_type, e.detail.state) for e in sink.events) == sorted(
        (e["detail-type"], e["detail"]["state"]) for e in engine_events[:5]
    )


async def test_engine_events_reach_the_feed_through_what_setup_made(
    aws: AwsContext, endpoint: Endpoint
) -> None:
    """On our endpoint the engine itself emits the events (PutEvents of `aws.*` is refused,
    as on AWS): a run of the chosen pipeline arrives, a run of another does not."""
    setup = EventsSetup(aws, EventsSpec(queue_name=QUEUE, pipelines=("demo",)))
    result = await setup.apply(await setup.plan())
    sink = Sink()
    feed = EventFeed(aws, QueueRef(url=result.queue_url), on_events=sink.on_events, wait_seconds=1)
    task = start(feed)
    await until(lambda: feed.status.live)

    def run_other() -> None:
        upload_source(endpoint)
        cp = endpoint.client("codepipeline")
        cp.create_pipeline(pipeline=pipeline("other", stage("Build", commands("Say", ["true"]))))
        assert wait_status(cp, "other", latest_execution_id(cp, "other")) == "Succeeded"

    await asyncio.to_thread(run_other)
    bodies = await asyncio.to_thread(engine_event_bodies, endpoint)
    expected = {json.loads(b)["id"] for b in bodies}
    # The bus delivers in the engine's order: once the later run's events are in, the
    # earlier run's would have been too.
    await until(lambda: {e.id for e in sink.events} >= expected)
    await feed.close()
    await task
    assert {e.detail.pipeline for e in sink.events} == {"demo"}
    assert feed.status.malformed == 0


# Teardown ------------------------------------------------------------------------------------


async def test_teardown_removes_what_setup_created_and_nothing_else(peer: Peer) -> None:
    peer.sqs.create_queue(QueueName="bystander")
    peer.events.put_rule(Name="bystander", EventPattern=json.dumps({"source": ["my.app"]}))
    setup = EventsSetup(peer.aws, EventsSpec(queue_name=QUEUE))
    await setup.apply(await setup.plan())

    dry = await setup.plan_teardown()
    assert changes(dry.steps) == {
        "rule target": Change.REMOVE,
        "rule": Change.REMOVE,
        "queue": Change.REMOVE,
    }
    assert rule_names(peer.events) == ["bystander", QUEUE]

    await setup.apply_teardown(dry)
    assert rule_names(peer.events) == ["bystander"]
    assert [url.rsplit("/", 1)[1] for url in queue_urls(peer.sqs)] == ["bystander"]

    again = await setup.plan_teardown()
    assert set(changes(again.steps).values()) == {Change.ABSENT}
    await setup.apply_teardown(again)
    assert rule_names(peer.events) == ["bystander"]


async def test_teardown_keeps_a_queue_it_did_not_create_and_its_other_statements(
    peer: Peer,
) -> None:
    url = peer.sqs.create_queue(QueueName="shared")["QueueUrl"]
    foreign = {
        "Sid": "someone-else",
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn(peer.sqs, url),
    }
    peer.sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [foreign]})},
    )
    setup = EventsSetup(peer.aws, EventsSpec(queue_name="shared", rule_name="mine"))
    await setup.apply(await setup.plan())
    plan = await setup.plan_teardown()
    assert changes(plan.steps) == {
        "rule target": Change.REMOVE,
        "rule": Change.REMOVE,
        "queue": Change.KEEP,
        "queue policy": Change.REMOVE,
    }
    await setup.apply_teardown(plan)
    assert peer.sqs.get_queue_url(QueueName="shared")["QueueUrl"] == url
    assert policy_of(peer.sqs, url)["Statement"] == [foreign]  # type: ignore[index]
    assert "mine" not in rule_names(peer.events)


async def test_teardown_keeps_a_rule_others_target_and_a_rule_it_did_not_create(
    peer: Peer,
) -> None:
    setup = EventsSetup(peer.aws, EventsSpec(queue_name=QUEUE))
    await setup.apply(await setup.plan())
    other_url = peer.sqs.create_queue(QueueName="other")["QueueUrl"]
    peer.events.put_targets(
        Rule=QUEUE, Targets=[{"Id": "theirs", "Arn": queue_arn(peer.sqs, other_url)}]
    )
    plan = await setup.plan_teardown()
    assert changes(plan.steps)["rule"] is Change.KEEP
    await setup.apply_teardown(plan)
    assert [t["Id"] for t in peer.events.list_targets_by_rule(Rule=QUEUE)["Targets"]] == ["theirs"]
    assert QUEUE in rule_names(peer.events)

    # A rule of the same name made by hand, with our pattern: used by setup, kept by teardown.
    peer.events.remove_targets(Rule=QUEUE, Ids=["theirs"])
    peer.events.delete_rule(Name=QUEUE)
    peer.events.put_rule(
        Name=QUEUE, EventPattern=json.dumps(EventsSpec(queue_name=QUEUE).event_pattern())
    )
    # (A fresh queue name: SQS keeps a deleted queue's name for 60 s.)
    setup = EventsSetup(peer.aws, EventsSpec(queue_name="second", rule_name=QUEUE))
    plan = await setup.plan()
    assert changes(plan.steps)["rule"] is Change.EXISTS
    await setup.apply(plan)
    teardown = await setup.plan_teardown()
    assert changes(teardown.steps)["rule"] is Change.KEEP
    assert changes(teardown.steps)["queue"] is Change.REMOVE
    await setup.apply_teardown(teardown)
    assert QUEUE in rule_names(peer.events)
    assert peer.events.list_targets_by_rule(Rule=QUEUE)["Targets"] == []


async def test_setting_up_again_right_after_teardown_says_to_wait(
    aws: AwsContext, endpoint: Endpoint
) -> None:
    """SQS refuses a deleted queue's name for 60 s (our endpoint keeps that rule; moto does
    not): setup says so instead of failing with a bare error code, and works a minute on."""
    setup = EventsSetup(aws, EventsSpec(queue_name=QUEUE))
    await setup.apply(await setup.plan())
    await setup.apply_teardown(await setup.plan_teardown())
    with pytest.raises(SetupRefused, match="deleted less than 60 s ago"):
        await setup.apply(await setup.plan())
    endpoint.advance(61)
    result = await setup.apply(await setup.plan())
    assert result.queue_url is not None
    assert not (await setup.plan()).changes()


# Faults --------------------------------------------------------------------------------------


async def test_an_unreachable_endpoint_is_a_client_error_not_a_half_setup() -> None:
    from tests.aws.moto_server import free_port

    settings = ConnectionSettings(
        endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1, connect_timeout=1
    )
    async with AwsContext(settings) as aws:
        with pytest.raises(EndpointConnectionError) as caught:
            await EventsSetup(aws, EventsSpec(queue_name=QUEUE)).plan()
        assert aws.describe(caught.value).title


def test_the_local_endpoint_lists_rule_tags(endpoint: Endpoint) -> None:
    events = endpoint.client("events")
    arn = events.put_rule(
        Name="tagged",
        EventPattern=json.dumps({"source": ["my.app"]}),
        Tags=[{"Key": "team", "Value": "web"}],
    )["RuleArn"]
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "team", "Value": "web"}
    ]
    # An update without tags keeps them.
    events.put_rule(Name="tagged", EventPattern=json.dumps({"source": ["other.app"]}))
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "team", "Value": "web"}
    ]
    bus_arn = events.describe_event_bus()["Arn"]
    assert events.list_tags_for_resource(ResourceARN=bus_arn)["Tags"] == []
    for missing in (
        arn.replace("tagged", "nope"),
        arn.replace("000000000000", "111111111111"),
        "arn:aws:sqs:us-east-1:000000000000:q",
    ):
        with pytest.raises(ClientError) as caught:
            events.list_tags_for_resource(ResourceARN=missing)
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
