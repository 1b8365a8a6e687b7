from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.model.pipelines import ROLE, codebuild, minimal, s3_source, v1, v2
from tui.model.declaration import (
    ActionDeclaration,
    ActionTypeId,
    PipelineDeclaration,
    java_text,
    member_path,
    parse_pipeline,
)
from tui.model.errors import AwsError, SerializationException, ValidationException

# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("document", [v1(), v2()], ids=["V1", "V2"])
def test_get_pipeline_output_round_trips_unchanged(document: dict[str, Any]) -> None:
    parsed = parse_pipeline(document)

    assert parsed.to_api() == document
    assert parse_pipeline(parsed.to_api()).to_api() == parsed.to_api()
    # What the endpoint sends is plain JSON.
    assert json.loads(json.dumps(parsed.to_api())) == document


def test_v1_fields_are_read_into_snake_case_attributes() -> None:
    pipeline = parse_pipeline(v1())

    assert pipeline.name == "web-frontend"
    assert pipeline.role_arn.endswith("AWSCodePipelineServiceRole-us-east-1-web")
    assert pipeline.version == 7
    assert pipeline.pipeline_type == "V1"
    assert pipeline.execution_mode == "SUPERSEDED"
    assert pipeline.artifact_store is not None
    assert pipeline.artifact_store.encryption_key is not None
    assert pipeline.artifact_store.encryption_key.type == "KMS"
    assert pipeline.artifact_stores is None
    build = pipeline.stages[1].actions[0]
    assert build.action_type_id == ActionTypeId(
        category="Build", owner="AWS", provider="CodeBuild", version="1"
    )
    assert [a.name for a in build.input_artifacts] == ["SourceArtifact", "ThemesArtifact"]
    assert build.namespace == "BuildVariables"
    assert build.configuration["ProjectName"] == "web-frontend-build"
    assert pipeline.stages[2].blockers is not None
    assert pipeline.stages[2].blockers[0].type == "Schedule"
    assert pipeline.stages[2].actions[0].timeout_in_minutes == 1440


def test_v2_fields_are_read_into_snake_case_attributes() -> None:
    pipeline = parse_pipeline(v2())

    assert pipeline.execution_mode == "QUEUED"
    assert pipeline.artifact_stores is not None
    assert set(pipeline.artifact_stores) == {"us-east-1", "eu-west-1"}
    assert pipeline.variables is not None
    assert pipeline.variables[0].default_value == "staging"
    assert pipeline.triggers is not None
    git = pipeline.triggers[0].git_configuration
    assert git.source_action_name == "App"
    assert git.push is not None
    assert git.push[0].file_paths is not None
    assert git.push[0].file_paths.includes == ["src/**", "Dockerfile"]
    assert git.pull_request is not None
    assert git.pull_request[0].events == ["OPEN", "UPDATED"]
    lint = pipeline.stages[1].actions[0]
    assert lint.commands == ["make lint", "make test", "make dist"]
    assert lint.output_artifacts[0].files == ["dist/**/*", "appspec.yml"]
    assert lint.output_variables == ["CODEBUILD_BUILD_ID", "DIST_VERSION"]
    assert lint.environment_variables is not None
    assert lint.environment_variables[1].type == "SECRETS_MANAGER"
    build = pipeline.stages[1]
    assert build.on_failure is not None
    assert build.on_failure.retry_configuration is not None
    assert build.on_failure.retry_configuration.retry_mode == "FAILED_ACTIONS"
    staging = pipeline.stages[2]
    assert staging.on_success is not None
    rule = staging.on_success.conditions[0].rules
    assert rule is not None
    assert rule[0].rule_type_id.provider == "CloudWatchAlarm"
    production = pipeline.stages[3]
    assert production.before_entry is not None
    assert production.before_entry.conditions[0].result == "FAIL"


# --- defaults -----------------------------------------------------------------------------


def test_defaults_are_filled_in_as_get_pipeline_shows_them() -> None:
    body = minimal()
    body["stages"][1]["actions"] = [
        {
            "name": "Approve",
            "actionTypeId": {
                "category": "Approval",
                "owner": "AWS",
                "provider": "Manual",
                "version": "1",
            },
        }
    ]

    api = parse_pipeline(body).to_api()

    assert api["version"] == 1
    assert api["pipelineType"] == "V1"
    assert api["executionMode"] == "SUPERSEDED"
    approve = api["stages"][1]["actions"][0]
    assert approve == {
        "name": "Approve",
        "actionTypeId": {
            "category": "Approval",
            "owner": "AWS",
            "provider": "Manual",
            "version": "1",
        },
        "runOrder": 1,
        "configuration": {},
        "outputArtifacts": [],
        "inputArtifacts": [],
    }
    # Absent optional members stay absent rather than turning into nulls.
    assert "blockers" not in api["stages"][1]
    assert "variables" not in api
    assert "artifactStores" not in api


def test_explicit_nulls_for_optional_members_mean_absent() -> None:
    body = minimal()
    body["variables"] = None
    body["version"] = None
    body["stages"][1]["onFailure"] = None
    body["stages"][1]["actions"][0]["runOrder"] = None
    body["stages"][1]["actions"][0]["namespace"] = None

    pipeline = parse_pipeline(body)

    assert pipeline.variables is None
    assert pipeline.version == 1
    assert pipeline.stages[1].on_failure is None
    assert pipeline.stages[1].actions[0].run_order == 1
    assert "namespace" not in pipeline.to_api()["stages"][1]["actions"][0]


def test_unknown_members_are_ignored() -> None:
    body = minimal()
    body["somethingNew"] = {"x": 1}
    body["stages"][0]["actions"][0]["futureField"] = [1, 2]

    api = parse_pipeline(body).to_api()

    assert "somethingNew" not in api
    assert "futureField" not in api["stages"][0]["actions"][0]


def test_models_accept_python_names_too() -> None:
    action = ActionDeclaration(
        name="Build",
        action_type_id=ActionTypeId(
            category="Build", owner="AWS", provider="CodeBuild", version="1"
        ),
        run_order=3,
        input_artifacts=[{"name": "SourceArtifact"}],  # type: ignore[list-item]
    )

    assert action.to_api()["runOrder"] == 3
    assert action.to_api()["actionTypeId"]["provider"] == "CodeBuild"
    assert action.to_api()["inputArtifacts"] == [{"name": "SourceArtifact"}]


def test_action_type_id_is_hashable_and_compares_by_value() -> None:
    a = ActionTypeId(category="Deploy", owner="AWS", provider="S3", version="1")
    b = ActionTypeId.model_validate(
        {"category": "Deploy", "owner": "AWS", "provider": "S3", "version": "1"}
    )

    assert a == b
    assert {a: "x"}[b] == "x"
    assert "Provider: 'S3'" in a.describe()


# --- helpers the engine uses -------------------------------------------------------------


def test_stage_and_action_lookup() -> None:
    pipeline = parse_pipeline(v1())

    build = pipeline.stage("Build")
    assert build is not None
    assert build.name == "Build"
    assert pipeline.stage("build") is None  # names are case sensitive
    unit = build.action("UnitTests")
    assert unit is not None
    assert unit.run_order == 2
    assert build.action("Missing") is None
    assert [(s.name, a.name) for s, a in pipeline.iter_actions()][:3] == [
        ("Source", "Source"),
        ("Source", "Themes"),
        ("Build", "Build"),
    ]


def test_run_order_groups_ascend_and_keep_declaration_order_within_a_group() -> None:
    stage = {
        "name": "Deploy",
        "actions": [
            codebuild("C", run_order=5),
            codebuild("A", run_order=2),
            codebuild("D", run_order=5),
            codebuild("B"),
            codebuild("E", run_order=2),
        ],
    }
    pipeline = parse_pipeline(minimal(stage))

    groups = pipeline.stages[1].run_order_groups()

    assert [[a.name for a in g] for g in groups] == [["B"], ["A", "E"], ["C", "D"]]


# --- errors --------------------------------------------------------------------------------


def test_missing_required_member_gives_aws_message() -> None:
    body = minimal()
    del body["stages"][0]["name"]

    with pytest.raises(ValidationException) as caught:
        parse_pipeline(body)

    assert caught.value.message == (
        "1 validation error detected: Value null at 'pipeline.stages.1.member.name' "
        "failed to satisfy constraint: Member must not be null"
    )
    assert caught.value.status == 400


def test_several_failures_are_summed_up() -> None:
    body = minimal()
    body["stages"][1]["actions"][0]["name"] = None
    body["stages"][1]["actions"][0]["actionTypeId"]["category"] = "Compile"
    del body["roleArn"]

    with pytest.raises(ValidationException) as caught:
        parse_pipeline(body)

    message = caught.value.message
    assert message.startswith("3 validation errors detected: ")
    assert (
        "Value null at 'pipeline.roleArn' failed to satisfy constraint: Member must not be null"
        in message
    )
    assert (
        "Value null at 'pipeline.stages.2.member.actions.1.member.name' failed to satisfy "
        "constraint: Member must not be null"
    ) in message
    assert (
        "Value 'Compile' at 'pipeline.stages.2.member.actions.1.member.actionTypeId.category' "
        "failed to satisfy constraint: Member must satisfy enum value set: "
        "[Source, Build, Deploy, Test, Invoke, Approval, Compute]"
    ) in message
    assert message.count("; ") == 2


def test_enum_failures_name_the_allowed_values() -> None:
    with pytest.raises(
        ValidationException,
        match=r"Member must satisfy enum value set: \[QUEUED, SUPERSEDED, PARALLEL\]",
    ):
        parse_pipeline(minimal(executionMode="SERIAL"))


def test_null_list_member_and_null_map_value_are_validation_errors() -> None:
    body = minimal()
    body["stages"].append(None)
    body["stages"][1]["actions"][0]["configuration"]["ProjectName"] = None

    with pytest.raises(ValidationException) as caught:
        parse_pipeline(body)

    assert (
        "Value null at 'pipeline.stages.3.member' failed to satisfy constraint: Member must not be null"
        in caught.value.message
    )
    assert (
        "at 'pipeline.stages.2.member.actions.1.member.configuration' failed to satisfy "
        "constraint: Map value must satisfy constraint: [Member must not be null]"
    ) in caught.value.message


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda b: b["stages"][1]["actions"][0].update(runOrder="2"),
            "STRING_VALUE can not be converted to an Integer (at 'pipeline.stages.2.member.actions.1.member.runOrder')",
        ),
        (
            lambda b: b.update(stages={"name": "Source"}),
            "Start of structure or map found where not expected (at 'pipeline.stages')",
        ),
        (
            lambda b: b["stages"][0].update(actions=[["Source"]]),
            "Start of list found where not expected (at 'pipeline.stages.1.member.actions.1.member')",
        ),
        (
            lambda b: b.update(name=42),
            "NUMBER_VALUE can not be converted to a String (at 'pipeline.name')",
        ),
        (
            lambda b: b["stages"][1]["actions"][0]["configuration"].update(ProjectName=True),
            "TRUE_VALUE can not be converted to a String (at 'pipeline.stages.2.member.actions.1.member.configuration')",
        ),
        (
            lambda b: b.update(version=True),
            "TRUE_VALUE can not be converted to an Integer (at 'pipeline.version')",
        ),
        (
            lambda b: b.update(pipelineType=2),
            "NUMBER_VALUE can not be converted to",
        ),
    ],
    ids=[
        "string-for-int",
        "map-for-list",
        "list-for-structure",
        "number-for-string",
        "bool-in-map",
        "bool-for-int",
        "number-for-enum",
    ],
)
def test_wrong_json_types_are_serialization_errors(mutate: Any, expected: str) -> None:
    body = minimal()
    mutate(body)

    with pytest.raises(SerializationException) as caught:
        parse_pipeline(body)

    assert expected in caught.value.message


@pytest.mark.parametrize("value", [None, [], "pipeline", 7, 1.5, True])
def test_a_pipeline_that_is_not_an_object_is_rejected(value: object) -> None:
    with pytest.raises(AwsError) as caught:
        parse_pipeline(value)

    assert "'pipeline'" in caught.value.message
    assert caught.value.status == 400


def test_member_paths_are_one_based_member_paths() -> None:
    assert member_path("pipeline", ("stages", 0, "actions", 2, "name")) == (
        "pipeline.stages.1.member.actions.3.member.name",
        False,
    )
    assert member_path("pipeline", ("stages", 1, "actions", 0, "configuration", "Key")) == (
        "pipeline.stages.2.member.actions.1.member.configuration",
        True,
    )
    assert member_path("pipeline", ("artifactStores", "eu-west-1", "location")) == (
        "pipeline.artifactStores.location",
        False,
    )


def test_java_text_prints_values_as_aws_messages_do() -> None:
    assert java_text(None) == "null"
    assert java_text(False) == "false"
    assert java_text({"A": "1", "B": None}) == "{A=1, B=null}"
    assert java_text(["a", 2]) == "[a, 2]"


# --- never anything but an AWS error -------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


V2_PATHS = _paths(v2())


def _replace(document: Any, path: tuple[object, ...], value: object) -> Any:
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return document


def _parse(value: object) -> tuple[PipelineDeclaration | None, AwsError | None]:
    """Parse, keeping an AWS error as a value; any other exception fails the test."""
    try:
        return parse_pipeline(value), None
    except AwsError as error:
        return None, error


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_never_raises_anything_but_aws_errors(value: object) -> None:
    result, error = _parse(value)
    if error is not None:
        assert error.status == 400
        assert error.message
    else:
        assert isinstance(result, PipelineDeclaration)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(V2_PATHS), json_values, st.booleans())
def test_damaged_pipelines_never_raise_anything_but_aws_errors(
    path: tuple[object, ...], value: object, delete: bool
) -> None:
    document = v2()
    if delete and path:
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        del parent[path[-1]]
    else:
        document = _replace(document, path, value)
    result, error = _parse(document)
    if error is not None:
        assert error.code in ("ValidationException", "SerializationException")
        assert "pipeline" in error.message
    else:
        assert result is not None
        # Whatever was accepted must serialise and read back to the same thing.
        assert parse_pipeline(result.to_api()).to_api() == result.to_api()


def test_building_blocks_match_create_pipeline_input() -> None:
    # The helpers in tests.model.pipelines produce bodies the model accepts unchanged,
    # apart from the defaults it fills in.
    body = minimal(
        {"name": "Build", "actions": [codebuild(outputs=("Out",))]},
        version=3,
    )
    body["stages"][0]["actions"] = [s3_source(namespace="Src")]
    api = parse_pipeline(body).to_api()

    assert api["roleArn"] == ROLE
    assert api["version"] == 3
    assert api["stages"][0]["actions"][0]["namespace"] == "Src"
    assert api["stages"][1]["actions"][0]["outputArtifacts"] == [{"name": "Out"}]
