"""The read-API models: botocore's enums, anything botocore's shapes allow, real answers, bad ones.

The property test draws answers from botocore's own output shapes (every optional member
present or absent, timestamps as the epoch numbers the JSON protocol sends), runs them
through botocore's JSON parser so they are exactly what boto3 hands over (datetimes with
`tzlocal()`), and checks `from_api` takes them and keeps every member.
"""

from __future__ import annotations

import json
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape
from botocore.parsers import create_parser
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.endpoint import Endpoint
from tests.local.pipelines import (
    action_executions,
    approval,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_approval_token,
)
from tui.model import state as models
from tui.model.state import (
    ActionExecutionDetail,
    MalformedResponse,
    PipelineExecution,
    PipelineExecutionSummary,
    PipelineState,
    PipelineSummary,
    StageExecution,
    StageState,
)

MODEL = botocore.session.get_session().get_service_model("codepipeline")
PARSER = create_parser("json")

ENUMS = {
    "ActionExecutionStatus": models.ActionExecutionStatus,
    "StageExecutionStatus": models.StageExecutionStatus,
    "PipelineExecutionStatus": models.PipelineExecutionStatus,
    "ConditionExecutionStatus": models.ConditionExecutionStatus,
    "RuleExecutionStatus": models.RuleExecutionStatus,
    "ExecutionType": models.ExecutionType,
    "TriggerType": models.TriggerType,
    "RetryTrigger": models.RetryTrigger,
}


@pytest.mark.parametrize("shape_name", sorted(ENUMS))
def test_enums_are_exactly_botocores(shape_name: str) -> None:
    assert list(typing.get_args(ENUMS[shape_name])) == MODEL.shape_for(shape_name).enum


# Answers drawn from botocore's shapes --------------------------------------------------------
# Members botocore leaves optional that the view needs to place an item ([I] in state.py).
NEEDED = {
    "GetPipelineStateOutput": {"pipelineName"},
    "StageState": {"stageName"},
    "ActionState": {"actionName"},
    "PipelineExecutionSummary": {"pipelineExecutionId"},
    "PipelineSummary": {"name"},
}


def wire_value(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """A JSON value of this shape as the JSON 1.1 protocol carries it."""
    kind = shape.type_name
    if kind == "structure":
        required = set(shape.required_members) | NEEDED.get(shape.name, set())
        members = {name: wire_value(member, depth + 1) for name, member in shape.members.items()}
        if depth > 6:
            return st.fixed_dictionaries({n: members[n] for n in required})
        return st.fixed_dictionaries(
            {n: members[n] for n in required},
            optional={n: s for n, s in members.items() if n not in required},
        )
    if kind == "list":
        return st.lists(wire_value(shape.member, depth + 1), max_size=2 if depth < 4 else 0)
    if kind == "map":
        return st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2)
    if kind == "string":
        enum = getattr(shape, "enum", None)
        return st.sampled_from(enum) if enum else st.text(max_size=6)
    if kind in ("integer", "long"):
        return st.integers(int(shape.metadata.get("min", 0)), int(shape.metadata.get("max", 500)))
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.integers(1_500_000_000_000, 2_000_000_000_000).map(lambda ms: ms / 1000)
    raise AssertionError(f"unexpected shape type {kind}")


def as_boto3(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    shape = MODEL.operation_model(operation).output_shape
    raw = {"status_code": 200, "headers": {}, "body": json.dumps(body).encode()}
    parsed: dict[str, Any] = PARSER.parse(raw, shape)
    return parsed


def normalised(value: Any) -> Any:
    """Datetimes in UTC, sequences as lists, empty members (and ResponseMetadata) left out."""
    if isinstance(value, dict):
        items = {k: normalised(v) for k, v in value.items() if k != "ResponseMetadata"}
        return {k: v for k, v in items.items() if v not in (None, [], {})}
    if isinstance(value, list | tuple):
        return [normalised(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def kept(model: Any) -> Any:
    return normalised(model.model_dump(by_alias=True, exclude_defaults=True))


def output(operation: str) -> st.SearchStrategy[dict[str, Any]]:
    return wire_value(MODEL.operation_model(operation).output_shape).map(
        lambda body: as_boto3(operation, body)
    )


@settings(max_examples=60, deadline=None)
@given(answer=output("GetPipelineState"))
def test_any_get_pipeline_state_answer_is_taken_whole(answer: dict[str, Any]) -> None:
    parsed = PipelineState.from_api(answer)
    assert kept(parsed) == normalised(answer)
    for stage_state in parsed.stage_states:
        for action in stage_state.action_states:
            run = action.latest_execution
            if run is not None and run.last_status_change is not None:
                assert run.last_status_change.tzinfo == UTC


@settings(max_examples=40, deadline=None)
@given(answer=output("ListPipelineExecutions"))
def test_any_list_pipeline_executions_page_is_taken_whole(answer: dict[str, Any]) -> None:
    summaries = PipelineExecutionSummary.list_from_api(answer)
    expected = normalised(answer).get("pipelineExecutionSummaries", [])
    assert [kept(s) for s in summaries] == expected


@settings(max_examples=40, deadline=None)
@given(answer=output("ListActionExecutions"))
def test_any_list_action_executions_page_is_taken_whole(answer: dict[str, Any]) -> None:
    details = ActionExecutionDetail.list_from_api(answer)
    assert [kept(d) for d in details] == normalised(answer).get("actionExecutionDetails", [])


@settings(max_examples=40, deadline=None)
@given(answer=output("GetPipelineExecution"))
def test_any_get_pipeline_execution_answer_is_taken_whole(answer: dict[str, Any]) -> None:
    execution = PipelineExecution.from_api(answer.get("pipelineExecution", {}))
    assert kept(execution) == normalised(answer).get("pipelineExecution", {})


@settings(max_examples=40, deadline=None)
@given(answer=output("ListPipelines"))
def test_any_list_pipelines_page_is_taken_whole(answer: dict[str, Any]) -> None:
    summaries = PipelineSummary.list_from_api(answer)
    assert [kept(s) for s in summaries] == normalised(answer).get("pipelines", [])


# Real answers -------------------------------------------------------------------------------
def test_the_endpoints_answers_parse_into_what_they_say(endpoint: Endpoint) -> None:
    upload_source(endpoint, summary="Add the readme")
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            "models",
            stage("Build", commands("Compile", ["echo built"], output="Built", files=["**/*"])),
            stage("Gate", approval("Approve", timeout_minutes=30)),
        )
    )
    execution_id = latest_execution_id(cp, "models")
    token = wait_approval_token(cp, "models", "Gate", "Approve")

    state = PipelineState.from_api(cp.get_pipeline_state(name="models"))
    assert state.pipeline_name == "models"
    assert state.pipeline_version == 1
    assert [s.stage_name for s in state.stage_states] == ["Source", "Build", "Gate"]
    source, build, gate = state.stage_states
    assert source.inbound_transition_state is None
    assert gate.inbound_transition_state is not None
    assert gate.inbound_transition_state.enabled
    assert build.latest_execution == StageExecution(
        pipeline_execution_id=execution_id, status="Succeeded", type="STANDARD"
    )
    fetch = source.action_states[0]
    assert fetch.current_revision is not None
    assert fetch.current_revision.revision_id
    compile_run = build.action_states[0].latest_execution
    assert compile_run is not None
    assert compile_run.status == "Succeeded"
    assert compile_run.log_stream_arn is not None
    assert compile_run.log_stream_arn.startswith("arn:aws:logs:us-east-1:000000000000:")
    assert compile_run.last_status_change is not None
    assert compile_run.last_status_change.tzinfo == UTC
    pending = gate.action_states[0].latest_execution
    assert pending is not None
    assert pending.status == "InProgress"
    assert pending.token == token
    assert state.latest_timestamp() == max(
        s.action_states[0].latest_execution.last_status_change  # type: ignore[union-attr]
        for s in state.stage_states
    )

    summaries = PipelineExecutionSummary.list_from_api(
        cp.list_pipeline_executions(pipelineName="models")
    )
    assert [s.pipeline_execution_id for s in summaries] == [execution_id]
    summary = summaries[0]
    assert summary.status == "InProgress"
    assert summary.trigger is not None
    assert summary.trigger.trigger_type == "CreatePipeline"
    assert summary.source_revisions[0].action_name == "Fetch"
    assert summary.source_revisions[0].revision_summary == "Add the readme"
    assert summary.execution_mode == "SUPERSEDED"

    execution = PipelineExecution.from_api(
        cp.get_pipeline_execution(pipelineName="models", pipelineExecutionId=execution_id)[
            "pipelineExecution"
        ]
    )
    assert execution.status == "InProgress"
    assert execution.artifact_revisions[0].name == "SourceOut"

    details = {
        d.action_name: d
        for d in ActionExecutionDetail.list_from_api(
            {"actionExecutionDetails": action_executions(cp, "models", execution_id)}
        )
    }
    built = details["Compile"]
    assert built.input is not None
    assert built.output is not None
    assert built.input.action_type_id is not None
    assert built.input.action_type_id.category == "Compute"
    assert built.input.input_artifacts[0].name == "SourceOut"
    outputs = built.output.output_artifacts
    assert outputs[0].name == "Built"
    assert outputs[0].s3location is not None
    assert outputs[0].s3location.key is not None
    assert outputs[0].s3location.key.startswith("models/")
    assert details["Fetch"].output is not None
    assert "VersionId" in details["Fetch"].output.output_variables

    listed = PipelineSummary.list_from_api(cp.list_pipelines())
    assert [(p.name, p.version, p.pipeline_type) for p in listed] == [("models", 1, "V2")]


# Bad and odd answers ------------------------------------------------------------------------
def _state_answer() -> dict[str, Any]:
    """A botocore-parsed GetPipelineState answer to break in one place."""
    return as_boto3(
        "GetPipelineState",
        {
            "pipelineName": "p",
            "pipelineVersion": 2,
            "stageStates": [
                {
                    "stageName": "Build",
                    "latestExecution": {"pipelineExecutionId": "e", "status": "Failed"},
                    "actionStates": [
                        {
                            "actionName": "Compile",
                            "latestExecution": {
                                "status": "Failed",
                                "lastStatusChange": 1767225600.25,
                                "errorDetails": {"code": "JobFailed", "message": "exit 3"},
                            },
                        }
                    ],
                }
            ],
        },
    )


@pytest.mark.parametrize(
    ("break_it", "where"),
    [
        (lambda a: a.pop("pipelineName"), "pipelineName"),
        (lambda a: a["stageStates"][0].pop("stageName"), "stageStates.0.stageName"),
        (
            lambda a: a["stageStates"][0]["actionStates"][0].pop("actionName"),
            "stageStates.0.actionStates.0.actionName",
        ),
        (
            lambda a: a["stageStates"][0]["latestExecution"].pop("status"),
            "stageStates.0.latestExecution.status",
        ),
        (
            lambda a: a["stageStates"][0]["latestExecution"].update(status="Exploded"),
            "stageStates.0.latestExecution.status",
        ),
        (
            lambda a: a["stageStates"][0]["actionStates"][0]["latestExecution"].update(
                status="Stopped"
            ),
            "stageStates.0.actionStates.0.latestExecution.status",
        ),
        (lambda a: a.update(stageStates={"stageName": "x"}), "stageStates"),
        (lambda a: a.update(pipelineVersion="two"), "pipelineVersion"),
        (
            lambda a: a["stageStates"][0]["actionStates"][0]["latestExecution"].update(
                lastStatusChange="yesterday"
            ),
            "lastStatusChange",
        ),
    ],
)
def test_an_answer_that_does_not_fit_is_a_malformed_response(break_it: Any, where: str) -> None:
    answer = _state_answer()
    break_it(answer)
    with pytest.raises(MalformedResponse) as caught:
        PipelineState.from_api(answer)
    assert where in str(caught.value)
    assert str(caught.value).startswith("PipelineState: ")


def test_absent_null_and_unknown_members_are_tolerated() -> None:
    answer = _state_answer()
    stage_state = answer["stageStates"][0]
    stage_state["inboundExecution"] = None
    stage_state["futureMember"] = {"anything": [1, 2]}
    stage_state["actionStates"][0]["latestExecution"]["summary"] = None
    parsed = PipelineState.from_api(answer)
    only = parsed.stage_states[0]
    assert only.inbound_execution is None
    assert only.inbound_executions == ()
    assert only.action_states[0].latest_execution is not None
    assert only.action_states[0].latest_execution.summary is None
    assert parsed.created is None
    assert parsed.updated is None
    assert PipelineState.from_api({"pipelineName": "bare"}).stage_states == ()


def test_timestamps_become_utc_whatever_their_form() -> None:
    plus_two = timezone(timedelta(hours=2))
    forms = [
        datetime(2026, 1, 1, 2, 0, 1, tzinfo=plus_two),
        datetime(2026, 1, 1, 0, 0, 1),  # naive: taken as UTC
        1767225601,
        "2026-01-01T00:00:01Z",
    ]
    for form in forms:
        summary = PipelineSummary.from_api({"name": "p", "created": form})
        assert summary.created == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC), form


def test_list_answers_must_hold_lists() -> None:
    with pytest.raises(MalformedResponse, match="pipelineExecutionSummaries: expected a list"):
        PipelineExecutionSummary.list_from_api({"pipelineExecutionSummaries": "none"})
    with pytest.raises(MalformedResponse, match="pipelineExecutionId"):
        PipelineExecutionSummary.list_from_api(
            {"pipelineExecutionSummaries": [{"status": "Failed"}]}
        )
    assert PipelineExecutionSummary.list_from_api({}) == ()
    assert PipelineSummary.list_from_api({"pipelines": None}) == ()


def test_waiting_executions_do_not_repeat_the_inbound_execution() -> None:
    first = {"pipelineExecutionId": "a", "status": "InProgress"}
    second = {"pipelineExecutionId": "b", "status": "InProgress"}
    queued = StageState.from_api(
        {"stageName": "S", "inboundExecution": first, "inboundExecutions": [first, second]}
    )
    assert [w.pipeline_execution_id for w in queued.waiting_executions()] == ["a", "b"]
    superseding = StageState.from_api({"stageName": "S", "inboundExecution": second})
    assert [w.pipeline_execution_id for w in superseding.waiting_executions()] == ["b"]
    assert StageState.from_api({"stageName": "S"}).waiting_executions() == ()


def test_models_are_immutable() -> None:
    parsed = PipelineState.from_api(_state_answer())
    with pytest.raises(Exception, match="frozen"):
        parsed.pipeline_name = "other"  # type: ignore[misc]
