"""EventBridge events: every event the engine emits parses into what it says; anything else
is a MalformedEvent; idempotency keys."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.local.pipelines import approval, commands, pipeline, stage
from tests.model.engine_runs import EngineRun
from tui.model.events import (
    ACTION_DETAIL_TYPE,
    PIPELINE_DETAIL_TYPE,
    STAGE_DETAIL_TYPE,
    ActionExecutionEvent,
    MalformedEvent,
    PipelineExecutionEvent,
    StageExecutionEvent,
    event_key,
    parse_event,
)


async def _every_kind_of_event(run: EngineRun) -> list[dict[str, Any]]:
    """A run that makes the engine emit every state of every detail-type it knows."""
    declaration = pipeline(
        "events",
        stage("Build", commands("Compile", ["true"], output="Built", files=["**/*"])),
        stage("Gate", approval("Approve")),
        stage("Deploy", commands("Ship", ["true"], inputs=("Built",))),
    )
    first = await run.open(declaration)
    await run.finish(run.waiting_jobs()[0], True)  # Fetch
    await run.finish(run.waiting_jobs()[0], False)  # Compile fails: FAILED
    await run.advance(1.5)
    await run.retry(first, "Build", "FAILED_ACTIONS")  # RESUMED
    await run.finish(run.waiting_jobs()[0], True)  # Compile; the approval waits
    second = await run.start()
    await run.finish(run.waiting_jobs()[0], True)  # Fetch
    await run.finish(run.waiting_jobs()[0], True)  # Compile; waits in front of Gate
    third = await run.start()
    await run.finish(run.waiting_jobs()[0], True)
    await run.finish(run.waiting_jobs()[0], True)  # arrives in front of Gate: SUPERSEDED
    assert run.execution_status(second) == "Superseded"
    await run.stop(first, abandon=True)  # STOPPING, the approval ABANDONED, STOPPED
    ((stage_name, action, token),) = run.pending_approvals()
    await run.answer(stage_name, action, token, approve=True)
    await run.finish(run.waiting_jobs()[0], True)  # Ship
    assert run.execution_status(third) == "Succeeded"
    fourth = await run.start()
    declaration["stages"][1]["actions"][0]["name"] = "Approval"
    run.service.update_pipeline({"pipeline": declaration})  # CANCELED once Fetch ends
    await run.finish(run.waiting_jobs()[0], True)
    assert run.execution_status(fourth) == "Cancelled"
    return run.events()


@pytest.fixture(scope="module")
def engine_events(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    loop = asyncio.new_event_loop()
    run = EngineRun(Path(tmp_path_factory.mktemp("events")))
    run.start_engine()
    try:
        yield loop.run_until_complete(_every_kind_of_event(run))
    finally:
        loop.run_until_complete(run.close())
        loop.close()


def _one(events: list[dict[str, Any]], detail_type: str, state: str) -> dict[str, Any]:
    return copy.deepcopy(
        next(e for e in events if e["detail-type"] == detail_type and e["detail"]["state"] == state)
    )


def test_the_engine_emits_every_state_we_model(engine_events: list[dict[str, Any]]) -> None:
    seen = {(e["detail-type"], e["detail"]["state"]) for e in engine_events}
    for state in (
        "STARTED",
        "STOPPING",
        "STOPPED",
        "SUCCEEDED",
        "FAILED",
        "RESUMED",
        "CANCELED",
        "SUPERSEDED",
    ):
        assert (PIPELINE_DETAIL_TYPE, state) in seen
    for state in ("STARTED", "STOPPING", "STOPPED", "SUCCEEDED", "FAILED", "RESUMED", "CANCELED"):
        assert (STAGE_DETAIL_TYPE, state) in seen
    for state in ("STARTED", "SUCCEEDED", "FAILED", "ABANDONED"):
        assert (ACTION_DETAIL_TYPE, state) in seen


def test_every_engine_event_parses_into_what_it_says(engine_events: list[dict[str, Any]]) -> None:
    for raw in engine_events:
        event = parse_event(json.dumps(raw))
        assert event.id == raw["id"]
        assert event.account == raw["account"]
        assert event.region == raw["region"]
        assert event.resources == tuple(raw["resources"])
        assert event.time == datetime.fromisoformat(raw["time"]).astimezone(UTC)
        assert event.second == int(event.time.timestamp())
        detail = raw["detail"]
        assert event.detail.pipeline == detail["pipeline"] == "events"
        assert event.detail.execution_id == detail["execution-id"]
        assert event.detail.state == detail["state"]
        assert event.detail.version == detail["version"]
        if raw["detail-type"] == PIPELINE_DETAIL_TYPE:
            assert isinstance(event, PipelineExecutionEvent)
            trigger = detail.get("execution-trigger")
            if trigger is None:
                assert event.detail.execution_trigger is None
            else:
                assert event.detail.execution_trigger is not None
                assert event.detail.execution_trigger.trigger_type == trigger["trigger-type"]
                assert event.detail.execution_trigger.trigger_detail == trigger["trigger-detail"]
            assert event.detail.stop_execution_comments == detail.get("stop-execution-comments")
        elif raw["detail-type"] == STAGE_DETAIL_TYPE:
            assert isinstance(event, StageExecutionEvent)
            assert event.detail.stage == detail["stage"]
        else:
            assert isinstance(event, ActionExecutionEvent)
            assert (event.detail.stage, event.detail.action) == (detail["stage"], detail["action"])
            assert event.detail.region == detail["region"]
            assert event.detail.type is not None
            assert event.detail.type.model_dump() == detail["type"]
            for parsed, sent in (
                (event.detail.input_artifacts, detail.get("input-artifacts", [])),
                (event.detail.output_artifacts, detail.get("output-artifacts", [])),
            ):
                assert [a.model_dump(by_alias=True) for a in parsed] == sent
            result = detail.get("execution-result")
            if result is None:
                assert event.detail.execution_result is None
            else:
                assert event.detail.execution_result is not None
                assert (
                    event.detail.execution_result.model_dump(by_alias=True, exclude_none=True)
                    == result
                )


def test_details_the_states_carry(engine_events: list[dict[str, Any]]) -> None:
    started = parse_event(_one(engine_events, ACTION_DETAIL_TYPE, "STARTED"))
    assert isinstance(started, ActionExecutionEvent)
    assert started.detail.type is not None
    assert started.detail.type.category == "Source"
    failed = parse_event(_one(engine_events, ACTION_DETAIL_TYPE, "FAILED"))
    assert isinstance(failed, ActionExecutionEvent)
    assert failed.detail.execution_result is not None
    assert failed.detail.execution_result.error_code == "JobFailed"
    stopping = parse_event(_one(engine_events, PIPELINE_DETAIL_TYPE, "STOPPING"))
    assert isinstance(stopping, PipelineExecutionEvent)
    assert stopping.detail.stop_execution_comments == "generated stop"
    created = parse_event(_one(engine_events, PIPELINE_DETAIL_TYPE, "STARTED"))
    assert isinstance(created, PipelineExecutionEvent)
    assert created.detail.execution_trigger is not None
    assert created.detail.execution_trigger.trigger_type == "CreatePipeline"


def test_bytes_strings_and_dicts_parse_alike(engine_events: list[dict[str, Any]]) -> None:
    raw = engine_events[-1]
    text = json.dumps(raw)
    assert parse_event(text) == parse_event(text.encode()) == parse_event(raw)


# What is not a CodePipeline event -------------------------------------------------------------
def _broken(events: list[dict[str, Any]], change: Any) -> dict[str, Any]:
    event = _one(events, ACTION_DETAIL_TYPE, "SUCCEEDED")
    change(event)
    return event


BREAKS: list[tuple[str, Any, str]] = [
    ("another source", lambda e: e.update(source="aws.codebuild"), "source 'aws.codebuild'"),
    ("no source", lambda e: e.pop("source"), "source None"),
    (
        "unknown detail-type",
        lambda e: e.update({"detail-type": "CodeBuild Build State Change"}),
        "unknown detail-type",
    ),
    ("no detail-type", lambda e: e.pop("detail-type"), "missing detail-type"),
    ("no detail", lambda e: e.pop("detail"), "detail"),
    ("detail not an object", lambda e: e.update(detail=["x"]), "detail"),
    ("no pipeline", lambda e: e["detail"].pop("pipeline"), "detail.pipeline"),
    ("no execution id", lambda e: e["detail"].pop("execution-id"), "detail.execution-id"),
    ("no state", lambda e: e["detail"].pop("state"), "detail.state"),
    ("no stage", lambda e: e["detail"].pop("stage"), "detail.stage"),
    ("no action", lambda e: e["detail"].pop("action"), "detail.action"),
    ("a stage state on an action", lambda e: e["detail"].update(state="RESUMED"), "detail.state"),
    ("an unknown state", lambda e: e["detail"].update(state="EXPLODED"), "detail.state"),
    ("no time", lambda e: e.pop("time"), "time"),
    ("a time that is no time", lambda e: e.update(time="noon"), "time"),
    ("a version that is text", lambda e: e["detail"].update(version="3"), "detail.version"),
    ("a fractional version", lambda e: e["detail"].update(version=1.5), "detail.version"),
    ("a pipeline that is a number", lambda e: e["detail"].update(pipeline=7), "detail.pipeline"),
    ("resources that are no list", lambda e: e.update(resources="arn"), "resources"),
    (
        "an unknown category",
        lambda e: e["detail"]["type"].update(category="Magic"),
        "detail.type.category",
    ),
]


@pytest.mark.parametrize(
    ("break_it", "where"), [(b, w) for _, b, w in BREAKS], ids=[n for n, _, _ in BREAKS]
)
def test_what_does_not_fit_is_a_malformed_event(
    engine_events: list[dict[str, Any]], break_it: Any, where: str
) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_event(json.dumps(_broken(engine_events, break_it)))
    assert where in str(caught.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('"a string"', "expected a JSON object, got str"),
        ("", "not JSON"),
    ],
)
def test_a_body_that_is_no_json_object_is_a_malformed_event(body: Any, message: str) -> None:
    with pytest.raises(MalformedEvent, match=message):
        parse_event(body)


def test_a_stage_event_cannot_claim_supersession(engine_events: list[dict[str, Any]]) -> None:
    event = _one(engine_events, STAGE_DETAIL_TYPE, "FAILED")
    event["detail"]["state"] = "SUPERSEDED"
    with pytest.raises(MalformedEvent, match=r"detail\.state"):
        parse_event(event)


# Variants that are accepted --------------------------------------------------------------------
def test_an_sns_envelope_is_unwrapped(engine_events: list[dict[str, Any]]) -> None:
    raw = engine_events[0]
    notification = {"Type": "Notification", "MessageId": "m-1", "Message": json.dumps(raw)}
    assert parse_event(json.dumps(notification)) == parse_event(raw)


def test_the_codestar_notifications_spelling_is_accepted(
    engine_events: list[dict[str, Any]],
) -> None:
    raw = _one(engine_events, STAGE_DETAIL_TYPE, "SUCCEEDED")
    variant = dict(raw)
    variant["detailType"] = variant.pop("detail-type")
    variant["notificationRuleArn"] = "arn:aws:codestar-notifications:us-east-1:0:notificationrule/x"
    variant["additionalAttributes"] = {"failedActionCount": 0}
    variant["detail"] = {**raw["detail"], "pipeline-execution-attempt": 1.0}
    assert parse_event(variant) == parse_event(raw)


def test_an_integral_float_version_is_a_version(engine_events: list[dict[str, Any]]) -> None:
    raw = _one(engine_events, PIPELINE_DETAIL_TYPE, "STARTED")
    raw["detail"]["version"] = 3.0
    event = parse_event(raw)
    assert event.detail.version == 3
    assert isinstance(event.detail.version, int)


def test_optional_fields_may_be_missing(engine_events: list[dict[str, Any]]) -> None:
    raw = _one(engine_events, ACTION_DETAIL_TYPE, "SUCCEEDED")
    for key in ("id", "version", "account", "region", "resources"):
        raw.pop(key)
    for key in ("version", "region", "type", "execution-result", "output-artifacts"):
        raw["detail"].pop(key, None)
    event = parse_event(raw)
    assert isinstance(event, ActionExecutionEvent)
    assert event.id is None
    assert event.resources == ()
    assert event.detail.type is None
    assert event.detail.output_artifacts == ()


# Idempotency keys ------------------------------------------------------------------------------
def test_the_key_is_the_envelope_id(engine_events: list[dict[str, Any]]) -> None:
    raw = engine_events[3]
    assert event_key(parse_event(raw)) == f"id:{raw['id']}"
    keys = {event_key(parse_event(e)) for e in engine_events}
    assert len(keys) == len(engine_events)


def test_without_an_id_the_key_is_the_content(engine_events: list[dict[str, Any]]) -> None:
    raw = _one(engine_events, ACTION_DETAIL_TYPE, "SUCCEEDED")
    raw.pop("id")
    key = event_key(parse_event(raw))
    assert key.startswith("sha256:")
    reordered = json.loads(json.dumps(raw, sort_keys=True))
    assert event_key(parse_event(json.dumps(reordered, indent=2))) == key
    later = copy.deepcopy(raw)
    later["time"] = "2030-01-01T00:00:00Z"
    assert event_key(parse_event(later)) != key
    other = copy.deepcopy(raw)
    other["detail"]["state"] = "FAILED"
    assert event_key(parse_event(other)) != key


@given(
    ids=st.one_of(st.none(), st.uuids().map(str)),
    second=st.integers(1_500_000_000, 2_000_000_000),
    state=st.sampled_from(["STARTED", "SUCCEEDED", "FAILED", "ABANDONED", "CANCELED"]),
    names=st.tuples(*(st.text(min_size=1, max_size=8) for _ in range(4))),
)
def test_keys_survive_a_json_round_trip(
    ids: str | None, second: int, state: str, names: tuple[str, str, str, str]
) -> None:
    pipeline_name, execution, stage_name, action = names
    body: dict[str, Any] = {
        "version": "0",
        "detail-type": ACTION_DETAIL_TYPE,
        "source": "aws.codepipeline",
        "time": datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {
            "pipeline": pipeline_name,
            "execution-id": execution,
            "stage": stage_name,
            "action": action,
            "state": state,
        },
    }
    if ids is not None:
        body["id"] = ids
    event = parse_event(body)
    assert event.second == second
    again = parse_event(json.dumps(json.loads(json.dumps(body))))
    assert event_key(again) == event_key(event)
    assert event_key(event).startswith("id:" if ids else "sha256:")
