"""Pipeline CRUD, listings, paging and tags through a real boto3 client."""

from __future__ import annotations

from typing import Any

import pytest

from tests.endpoint import Endpoint
from tests.local.pipelines import (
    ROLE,
    approval,
    commands,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)


def simple(name: str, **options: Any) -> dict[str, Any]:
    return pipeline(name, stage("Approve", approval("Gate")), **options)


def test_create_get_update_delete(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    created = cp.create_pipeline(pipeline=simple("crud"), tags=[{"key": "team", "value": "web"}])
    assert created["pipeline"]["version"] == 1
    assert created["pipeline"]["stages"][1]["actions"][0]["runOrder"] == 1
    assert created["tags"] == [{"key": "team", "value": "web"}]

    got = cp.get_pipeline(name="crud")
    assert got["pipeline"] == created["pipeline"]
    assert got["metadata"]["pipelineArn"] == "arn:aws:codepipeline:us-east-1:000000000000:crud"
    assert got["metadata"]["created"] == got["metadata"]["updated"]

    # CreatePipeline starts an execution by itself.
    summaries = cp.list_pipeline_executions(pipelineName="crud")["pipelineExecutionSummaries"]
    assert [s["trigger"]["triggerType"] for s in summaries] == ["CreatePipeline"]
    assert summaries[0]["trigger"]["triggerDetail"] == "arn:aws:iam::000000000000:user/testing"

    declaration = got["pipeline"]
    declaration["stages"].append(stage("Deploy", commands("Ship", ["true"])))
    updated = cp.update_pipeline(pipeline=declaration)["pipeline"]
    assert updated["version"] == 2
    assert [s["stageName"] for s in cp.get_pipeline_state(name="crud")["stageStates"]] == [
        "Source",
        "Approve",
        "Deploy",
    ]
    assert len(cp.get_pipeline(name="crud", version=1)["pipeline"]["stages"]) == 2
    with pytest.raises(cp.exceptions.PipelineVersionNotFoundException):
        cp.get_pipeline(name="crud", version=7)
    # UpdatePipeline starts nothing.
    assert len(cp.list_pipeline_executions(pipelineName="crud")["pipelineExecutionSummaries"]) == 1

    cp.delete_pipeline(name="crud")
    with pytest.raises(cp.exceptions.PipelineNotFoundException) as error:
        cp.get_pipeline(name="crud")
    assert (
        error.value.response["Error"]["Message"]
        == "Account '000000000000' does not have a pipeline with name 'crud'"
    )
    cp.delete_pipeline(name="crud")  # deleting what is gone succeeds, as on AWS
    assert cp.list_pipelines()["pipelines"] == []


def test_create_errors(endpoint: Endpoint) -> None:
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(pipeline=simple("dup"))
    with pytest.raises(cp.exceptions.PipelineNameInUseException):
        cp.create_pipeline(pipeline=simple("dup"))
    one_stage = simple("short")
    one_stage["stages"] = one_stage["stages"][:1]
    with pytest.raises(cp.exceptions.InvalidStructureException):
        cp.create_pipeline(pipeline=one_stage)
    with pytest.raises(cp.exceptions.ValidationException):
        cp.create_pipeline(pipeline={**simple("bad name!")})
    with pytest.raises(cp.exceptions.InvalidTagsException):
        cp.create_pipeline(pipeline=simple("tagged"), tags=[{"key": "aws:reserved", "value": "x"}])
    with pytest.raises(cp.exceptions.PipelineNotFoundException):
        cp.update_pipeline(pipeline=simple("missing"))
    with pytest.raises(cp.exceptions.PipelineNotFoundException):
        cp.get_pipeline_state(name="missing")
    with pytest.raises(cp.exceptions.PipelineNotFoundException):
        cp.start_pipeline_execution(name="missing")
    assert [p["name"] for p in cp.list_pipelines()["pipelines"]] == ["dup"]


def test_list_pipelines_pages(endpoint: Endpoint) -> None:
    cp = endpoint.client("codepipeline")
    names = [f"p{i:02d}" for i in range(23)]
    for name in names:
        cp.create_pipeline(pipeline=simple(name, mode="QUEUED"))
    first = cp.list_pipelines(maxResults=10)
    assert [p["name"] for p in first["pipelines"]] == names[:10]
    assert first["pipelines"][0]["pipelineType"] == "V2"
    assert first["pipelines"][0]["executionMode"] == "QUEUED"
    listed = [
        p["name"]
        for page in cp.get_paginator("list_pipelines").paginate(PaginationConfig={"PageSize": 7})
        for p in page["pipelines"]
    ]
    assert listed == names
    with pytest.raises(cp.exceptions.InvalidNextTokenException):
        cp.list_pipelines(nextToken="not-a-token")


def test_list_pipeline_executions_pages_and_filters(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline("history", stage("Build", commands("Make", ["true"])), mode="PARALLEL")
    )
    ids = [latest_execution_id(cp, "history")]
    ids += [cp.start_pipeline_execution(name="history")["pipelineExecutionId"] for _ in range(4)]
    for execution_id in ids:
        wait_status(cp, "history", execution_id)
    pages = list(
        cp.get_paginator("list_pipeline_executions").paginate(
            pipelineName="history", PaginationConfig={"PageSize": 2}
        )
    )
    assert len(pages) == 3
    listed = [s["pipelineExecutionId"] for p in pages for s in p["pipelineExecutionSummaries"]]
    assert listed == list(reversed(ids))
    succeeded = cp.list_pipeline_executions(
        pipelineName="history", filter={"succeededInStage": {"stageName": "Build"}}
    )
    assert len(succeeded["pipelineExecutionSummaries"]) == 5
    none = cp.list_pipeline_executions(
        pipelineName="history", filter={"succeededInStage": {"stageName": "Nope"}}
    )
    assert none["pipelineExecutionSummaries"] == []
    with pytest.raises(cp.exceptions.PipelineExecutionNotFoundException):
        cp.get_pipeline_execution(
            pipelineName="history", pipelineExecutionId="22222222-2222-4222-8222-222222222222"
        )
    with pytest.raises(cp.exceptions.PipelineExecutionNotFoundException):
        cp.list_action_executions(
            pipelineName="history",
            filter={"pipelineExecutionId": "22222222-2222-4222-8222-222222222222"},
        )


def test_list_action_executions_filters(endpoint: Endpoint) -> None:
    upload_source(endpoint)
    cp = endpoint.client("codepipeline")
    cp.create_pipeline(
        pipeline=pipeline(
            "actions", stage("Build", commands("Make", ["true"]), commands("Lint", ["true"]))
        )
    )
    first = latest_execution_id(cp, "actions")
    wait_status(cp, "actions", first)
    second = cp.start_pipeline_execution(name="actions")["pipelineExecutionId"]
    wait_status(cp, "actions", second)
    everything = cp.list_action_executions(pipelineName="actions")["actionExecutionDetails"]
    assert len(everything) == 6
    assert everything[0]["pipelineExecutionId"] == second  # newest first
    only_first = cp.list_action_executions(
        pipelineName="actions", filter={"pipelineExecutionId": first}
    )
    assert {d["pipelineExecutionId"] for d in only_first["actionExecutionDetails"]} == {first}
    latest = cp.list_action_executions(
        pipelineName="actions",
        filter={
            "latestInPipelineExecution": {"pipelineExecutionId": second, "startTimeRange": "Latest"}
        },
    )
    assert sorted(d["actionName"] for d in latest["actionExecutionDetails"]) == [
        "Fetch",
        "Lint",
        "Make",
    ]
    paged = list(
        cp.get_paginator("list_action_executions").paginate(
            pipelineName="actions", PaginationConfig={"PageSize": 4}
        )
    )
    assert [len(p["actionExecutionDetails"]) for p in paged] == [4, 2]
    detail = only_first["actionExecutionDetails"][0]
    assert detail["input"]["actionTypeId"]["category"] in ("Source", "Compute")
    assert detail["pipelineVersion"] == 1


def test_tags(endpoint: Endpoint) -> None:
    cp = endpoint.client("codepipeline")
    arn = "arn:aws:codepipeline:us-east-1:000000000000:tagged"
    cp.create_pipeline(pipeline=simple("tagged"))
    cp.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    cp.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "3"}])
    assert cp.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "a", "value": "3"},
        {"key": "b", "value": "2"},
    ]
    cp.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert cp.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.list_tags_for_resource(resourceArn="arn:aws:codepipeline:us-east-1:000000000000:missing")
    with pytest.raises((cp.exceptions.InvalidArnException, cp.exceptions.ValidationException)):
        cp.tag_resource(resourceArn="not-an-arn", tags=[{"key": "a", "value": "1"}])
    with pytest.raises(cp.exceptions.TooManyTagsException):
        cp.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])


def test_list_action_types_includes_the_providers(endpoint: Endpoint) -> None:
    cp = endpoint.client("codepipeline")
    types = cp.list_action_types(actionOwnerFilter="AWS")["actionTypes"]
    providers = {(t["id"]["category"], t["id"]["provider"]) for t in types}
    assert {
        ("Source", "S3"),
        ("Approval", "Manual"),
        ("Compute", "Commands"),
        ("Build", "CodeBuild"),
    } <= providers


def test_unimplemented_operation_is_a_clear_error(endpoint: Endpoint) -> None:
    cp = endpoint.client("codepipeline")
    with pytest.raises(cp.exceptions.ClientError) as error:
        cp.list_webhooks()
    assert error.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "ListWebhooks" in error.value.response["Error"]["Message"]
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_roles_are_kept(endpoint: Endpoint) -> None:
    cp = endpoint.client("codepipeline")
    assert cp.create_pipeline(pipeline=simple("role"))["pipeline"]["roleArn"] == ROLE
