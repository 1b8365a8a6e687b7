from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.model.pipelines import action, codebuild, minimal, s3_source, v1, v2
from tui.model.action_types import (
    ActionTypeSpec,
    ArtifactDetails,
    ConfigurationProperty,
    find_aws_action_type_by_id,
)
from tui.model.declaration import ActionTypeId, parse_pipeline
from tui.model.errors import (
    AwsError,
    InvalidActionDeclarationException,
    InvalidStageDeclarationException,
    InvalidStructureException,
    ValidationException,
)
from tui.model.validation import (
    VARIABLE_REFERENCE,
    find_variable_references,
    validate_pipeline,
)


def check(body: dict[str, Any], **options: Any) -> None:
    validate_pipeline(parse_pipeline(body), **options)


def rejects(body: dict[str, Any], error: type[AwsError], fragment: str, **options: Any) -> str:
    with pytest.raises(AwsError) as caught:
        check(body, **options)
    assert type(caught.value) is error, caught.value
    assert fragment in caught.value.message
    return caught.value.message


def commands_action(name: str = "Run", **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"inputs": ("SourceArtifact",), "commands": ["make"]}
    fields.update(extra)
    return action(name, "Compute", "Commands", **fields)


def manual(name: str = "Approve", **extra: Any) -> dict[str, Any]:
    return action(name, "Approval", "Manual", **extra)


def rule(name: str, provider: str, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": name,
        "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": provider, "version": "1"},
    }
    item.update(extra)
    return item


def v2_minimal(*stages: dict[str, Any], **pipeline: Any) -> dict[str, Any]:
    return minimal(*stages, pipelineType="V2", **pipeline)


# --- the sample documents are valid ----------------------------------------------------------


@pytest.mark.parametrize("document", [v1(), v2(), minimal()], ids=["V1", "V2", "minimal"])
def test_valid_pipelines_pass(document: dict[str, Any]) -> None:
    check(document)
    check(document, region="us-east-1")


# --- 1: artifact store -------------------------------------------------------------------------


def test_artifact_store_and_artifact_stores_are_exclusive() -> None:
    body = minimal(artifactStores={"us-east-1": {"type": "S3", "location": "other-bucket"}})
    rejects(body, InvalidStructureException, "both artifactStore and artifactStores")


def test_an_artifact_store_is_required() -> None:
    body = minimal()
    del body["artifactStore"]
    rejects(body, InvalidStructureException, "must declare an artifactStore or artifactStores")
    body["artifactStores"] = {}
    rejects(body, InvalidStructureException, "must declare an artifactStore or artifactStores")
    body["artifactStores"] = {"us-east-1": {"type": "S3", "location": "bucket-a"}}
    check(body)


# --- 2-3: V2-only features -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda b: b.update(variables=[{"name": "Env"}]), "Pipeline declares variables"),
        (
            lambda b: b.update(
                triggers=[
                    {
                        "providerType": "CodeStarSourceConnection",
                        "gitConfiguration": {"sourceActionName": "Source"},
                    }
                ]
            ),
            "Pipeline declares triggers",
        ),
        (lambda b: b.update(executionMode="QUEUED"), "execution mode QUEUED"),
        (lambda b: b.update(executionMode="PARALLEL"), "execution mode PARALLEL"),
        (
            lambda b: b["stages"][1]["actions"].append(commands_action()),
            "Action 'Run' in stage 'Build' has category Compute",
        ),
        (
            lambda b: b["stages"][1].update(
                beforeEntry={
                    "conditions": [{"result": "FAIL", "rules": [rule("R", "DeploymentWindow")]}]
                }
            ),
            "Stage 'Build' declares conditions",
        ),
        (
            lambda b: b["stages"][1].update(
                onSuccess={
                    "conditions": [{"result": "FAIL", "rules": [rule("R", "CloudWatchAlarm")]}]
                }
            ),
            "Stage 'Build' declares conditions",
        ),
        (
            lambda b: b["stages"][1].update(
                onFailure={
                    "result": "RETRY",
                    "conditions": [{"rules": [rule("R", "CloudWatchAlarm")]}],
                }
            ),
            "Stage 'Build' declares conditions",
        ),
        (
            lambda b: b["stages"][1].update(onFailure={"result": "ROLLBACK"}),
            "Stage 'Build' declares rollback on failure",
        ),
    ],
    ids=[
        "variables",
        "triggers",
        "queued",
        "parallel",
        "compute",
        "before-entry",
        "on-success",
        "on-failure-conditions",
        "rollback",
    ],
)
def test_v2_features_are_rejected_on_v1_and_accepted_on_v2(change: Any, fragment: str) -> None:
    body = minimal()
    change(body)
    message = rejects(body, ValidationException, fragment)
    assert "only in pipelines of type V2" in message

    # The same declaration is fine once it says it is V2.
    body["pipelineType"] = "V2"
    if body.get("triggers"):
        body["stages"][0]["actions"][0] = action(
            "Source",
            "Source",
            "CodeStarSourceConnection",
            outputs=("SourceArtifact",),
            configuration={
                "ConnectionArn": "arn:c",
                "FullRepositoryId": "o/r",
                "BranchName": "main",
            },
        )
    check(body)


def test_automatic_retry_is_allowed_on_v1() -> None:
    body = minimal()
    body["stages"][1]["onFailure"] = {
        "result": "RETRY",
        "retryConfiguration": {"retryMode": "ALL_ACTIONS"},
    }
    check(body)


def test_parallel_mode_cannot_roll_back() -> None:
    body = v2_minimal(executionMode="PARALLEL")
    check(body)
    body["stages"][1]["onFailure"] = {"result": "ROLLBACK"}
    rejects(
        body,
        ValidationException,
        "Stage 'Build' declares rollback, which is not supported in PARALLEL",
    )

    body = v2_minimal(executionMode="PARALLEL")
    body["stages"][1]["onSuccess"] = {
        "conditions": [{"result": "ROLLBACK", "rules": [rule("Alarm", "CloudWatchAlarm")]}]
    }
    rejects(body, ValidationException, "not supported in PARALLEL execution mode")


# --- 4-8: counts and names ----------------------------------------------------------------------


def test_a_pipeline_needs_two_stages() -> None:
    body = minimal()
    body["stages"] = body["stages"][:1]
    message = rejects(body, InvalidStructureException, "")
    assert message == (
        "Pipeline has only 1 stage(s). There should be a minimum of 2 stages in a pipeline"
    )
    body["stages"] = []
    rejects(body, InvalidStructureException, "Pipeline has only 0 stage(s)")


def _build_stages(count: int, actions_each: int = 1) -> list[dict[str, Any]]:
    return [
        {"name": f"Build{i}", "actions": [codebuild(f"B{j}") for j in range(actions_each)]}
        for i in range(count)
    ]


def test_at_most_fifty_stages() -> None:
    check(minimal(*_build_stages(49)))
    rejects(
        minimal(*_build_stages(50)),
        InvalidStructureException,
        "Pipeline has 51 stages. There should be a maximum of 50 stages in a pipeline",
    )


def test_at_most_five_hundred_actions() -> None:
    # 1 source action + 9 full stages of 50 + 49 = 500.
    stages = [
        *_build_stages(9, 50),
        {"name": "Last", "actions": [codebuild(f"L{j}") for j in range(49)]},
    ]
    check(minimal(*stages))
    stages[-1]["actions"].append(codebuild("L49"))
    rejects(
        minimal(*stages),
        InvalidStructureException,
        "Pipeline has 501 actions. There should be a maximum of 500 actions in a pipeline",
    )


def test_stage_names_are_unique() -> None:
    body = minimal({"name": "Source", "actions": [codebuild()]})
    rejects(body, InvalidStructureException, "more than one stage named 'Source'")


def test_a_stage_has_one_to_fifty_actions() -> None:
    rejects(
        minimal({"name": "Empty", "actions": []}),
        InvalidStructureException,
        "Stage 'Empty' has no actions",
    )
    check(minimal(*_build_stages(1, 50)))
    rejects(
        minimal(*_build_stages(1, 51)),
        InvalidStructureException,
        "Stage 'Build0' has 51 actions. There should be a maximum of 50 actions in a stage",
    )


def test_action_names_are_unique_within_a_stage_only() -> None:
    body = minimal(
        {"name": "Build", "actions": [codebuild("Same"), codebuild("Same", run_order=2)]}
    )
    rejects(
        body,
        InvalidStageDeclarationException,
        "Stage 'Build' has more than one action named 'Same'",
    )
    # The same name in two stages is fine.
    check(minimal({"name": "Build", "actions": [codebuild("Source")]}))


# --- 9-15: single actions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run_order", "constraint"),
    [
        (0, "Member must have value greater than or equal to 1"),
        (-3, "Member must have value greater than or equal to 1"),
        (1000, "Member must have value less than or equal to 999"),
    ],
)
def test_run_order_is_between_1_and_999(run_order: int, constraint: str) -> None:
    body = minimal({"name": "Build", "actions": [codebuild(run_order=run_order)]})
    message = rejects(body, ValidationException, "")
    assert message == (
        f"1 validation error detected: Value '{run_order}' at "
        "'pipeline.stages.2.member.actions.1.member.runOrder' failed to satisfy constraint: "
        f"{constraint}"
    )


def test_run_order_999_is_allowed() -> None:
    check(minimal({"name": "Build", "actions": [codebuild(run_order=999)]}))


def test_unknown_action_types_are_rejected() -> None:
    body = minimal(
        {
            "name": "Build",
            "actions": [action("Compile", "Build", "Compiler", inputs=("SourceArtifact",))],
        }
    )
    message = rejects(body, InvalidActionDeclarationException, "", region="us-east-1")
    assert message == (
        "ActionType (Category: 'Build', Provider: 'Compiler', Owner: 'AWS', Version: '1') "
        "in action 'Compile' is not available in region 'US_EAST_1'"
    )
    rejects(body, InvalidActionDeclarationException, "in action 'Compile' is not available")

    wrong_version = minimal()
    wrong_version["stages"][1]["actions"][0]["actionTypeId"]["version"] = "2"
    rejects(wrong_version, InvalidActionDeclarationException, "Version: '2'")


JENKINS = ActionTypeSpec(
    id=ActionTypeId(category="Build", owner="Custom", provider="Jenkins", version="1"),
    input_artifacts=ArtifactDetails(0, 5),
    output_artifacts=ArtifactDetails(0, 5),
    configuration_properties=(ConfigurationProperty("ProjectName", required=True, key=True),),
)


def with_jenkins(type_id: ActionTypeId) -> ActionTypeSpec | None:
    return JENKINS if type_id == JENKINS.id else find_aws_action_type_by_id(type_id)


def jenkins(configuration: dict[str, str]) -> dict[str, Any]:
    return action(
        "Jenkins",
        "Build",
        "Jenkins",
        owner="Custom",
        inputs=("SourceArtifact",),
        configuration=configuration,
    )


def test_custom_action_types_come_from_find_type() -> None:
    body = minimal({"name": "Build", "actions": [jenkins({"ProjectName": "app"})]})
    rejects(body, InvalidActionDeclarationException, "Owner: 'Custom'")
    check(body, find_type=with_jenkins)


def test_custom_types_reject_unknown_configuration_keys() -> None:
    body = minimal(
        {"name": "Build", "actions": [jenkins({"ProjectName": "app", "Colour": "blue"})]}
    )
    rejects(
        body,
        InvalidActionDeclarationException,
        "Action configuration for action 'Jenkins' contains unknown configuration 'Colour'",
        find_type=with_jenkins,
    )


def test_aws_types_accept_configuration_keys_the_catalogue_does_not_list() -> None:
    build = codebuild(configuration={"ProjectName": "app", "SomeNewOption": "x"})
    check(minimal({"name": "Build", "actions": [build]}))


@pytest.mark.parametrize(
    ("stage_action", "fragment"),
    [
        (
            codebuild(inputs=()),
            "Action Build declares 0 input artifacts which is less than the minimum count (1)",
        ),
        (
            codebuild(inputs=("SourceArtifact",) * 6),
            "Action Build declares 6 input artifacts which is greater than the maximum count (5)",
        ),
        (
            codebuild(outputs=tuple(f"O{i}" for i in range(6))),
            "Action Build declares 6 output artifacts which is greater than the maximum count (5)",
        ),
        (
            manual(inputs=("SourceArtifact",)),
            "Action Approve declares 1 input artifacts which is greater than the maximum count (0)",
        ),
    ],
    ids=["too-few-inputs", "too-many-inputs", "too-many-outputs", "approval-input"],
)
def test_artifact_counts_follow_the_action_type(
    stage_action: dict[str, Any], fragment: str
) -> None:
    rejects(
        minimal({"name": "Build", "actions": [stage_action]}),
        InvalidActionDeclarationException,
        fragment,
    )


def test_a_source_needs_its_output_artifact() -> None:
    body = minimal()
    del body["stages"][0]["actions"][0]["outputArtifacts"]
    body["stages"][1]["actions"] = [manual()]
    rejects(
        body,
        InvalidActionDeclarationException,
        "Action Source declares 0 output artifacts which is less than the minimum count (1)",
    )


def test_artifact_counts_at_the_limits_pass() -> None:
    source_stage = {
        "name": "Source",
        "actions": [s3_source(f"S{i}", f"Src{i}") for i in range(5)],
    }
    body = minimal(
        {
            "name": "Build",
            "actions": [
                codebuild(
                    inputs=tuple(f"Src{i}" for i in range(5)),
                    outputs=tuple(f"O{i}" for i in range(5)),
                )
            ],
        }
    )
    body["stages"][0] = source_stage
    check(body)


def test_configuration_key_and_value_lengths() -> None:
    fine = codebuild(configuration={"ProjectName": "p" * 1000, "K" * 50: "v"})
    check(minimal({"name": "Build", "actions": [fine]}))

    long_key = codebuild(configuration={"ProjectName": "p", "K" * 51: "v"})
    message = rejects(minimal({"name": "Build", "actions": [long_key]}), ValidationException, "")
    assert message.startswith("1 validation error detected: Value '{ProjectName=p, KKK")
    assert message.endswith(
        "at 'pipeline.stages.2.member.actions.1.member.configuration' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 50]"
    )

    long_value = codebuild(configuration={"ProjectName": "p" * 1001})
    rejects(
        minimal({"name": "Build", "actions": [long_value]}),
        ValidationException,
        "Map value must satisfy constraint: [Member must have length less than or equal to 1000]",
    )

    empty_value = codebuild(configuration={"ProjectName": ""})
    rejects(
        minimal({"name": "Build", "actions": [empty_value]}),
        ValidationException,
        "Map value must satisfy constraint: [Member must have length greater than or equal to 1]",
    )

    both = codebuild(configuration={"ProjectName": "", "K" * 60: "v"})
    message = rejects(
        minimal({"name": "Build", "actions": [both]}),
        ValidationException,
        "2 validation errors detected",
    )
    assert "Map keys" in message
    assert "Map value" in message


def test_configuration_length_counts_unresolved_variables() -> None:
    value = "#{SourceVariables.ETag}" * 44  # 1012 characters before resolution
    source = s3_source(namespace="SourceVariables")
    body = minimal({"name": "Build", "actions": [codebuild(configuration={"ProjectName": value})]})
    body["stages"][0]["actions"] = [source]
    rejects(body, ValidationException, "less than or equal to 1000")


def test_required_configuration_keys_must_be_present() -> None:
    body = minimal({"name": "Build", "actions": [codebuild(configuration={})]})
    message = rejects(body, InvalidActionDeclarationException, "")
    assert (
        message
        == "Action configuration for action 'Build' is missing required configuration 'ProjectName'"
    )

    no_key = minimal()
    del no_key["stages"][0]["actions"][0]["configuration"]["S3ObjectKey"]
    rejects(
        no_key, InvalidActionDeclarationException, "missing required configuration 'S3ObjectKey'"
    )


def _s3_deploy(configuration: dict[str, str]) -> dict[str, Any]:
    return action("Site", "Deploy", "S3", inputs=("SourceArtifact",), configuration=configuration)


def test_s3_deploy_without_extract_needs_an_object_key() -> None:
    rejects(
        minimal(
            {"name": "Deploy", "actions": [_s3_deploy({"BucketName": "b", "Extract": "false"})]}
        ),
        InvalidActionDeclarationException,
        "missing required configuration 'ObjectKey'",
    )
    check(
        minimal(
            {
                "name": "Deploy",
                "actions": [
                    _s3_deploy({"BucketName": "b", "Extract": "false", "ObjectKey": "app.zip"})
                ],
            }
        )
    )
    check(
        minimal({"name": "Deploy", "actions": [_s3_deploy({"BucketName": "b", "Extract": "true"})]})
    )


def test_commands_actions() -> None:
    check(v2_minimal({"name": "Build", "actions": [commands_action()]}))
    check(
        v2_minimal(
            {
                "name": "Build",
                "actions": [
                    commands_action(outputArtifacts=[{"name": "Out", "files": ["dist/**"]}])
                ],
            }
        )
    )

    rejects(
        v2_minimal({"name": "Build", "actions": [commands_action(commands=None)]}),
        InvalidActionDeclarationException,
        "Action 'Run' in stage 'Build' is a Commands action without commands",
    )
    rejects(
        v2_minimal(
            {"name": "Build", "actions": [commands_action(configuration={"ProjectName": "x"})]}
        ),
        InvalidActionDeclarationException,
        "takes no configuration, but declares configuration 'ProjectName'",
    )
    rejects(
        v2_minimal({"name": "Build", "actions": [commands_action(outputs=("Out",))]}),
        InvalidActionDeclarationException,
        "Output artifact 'Out' of Commands action 'Run' in stage 'Build' must declare the files",
    )


def test_commands_and_files_belong_to_commands_actions_only() -> None:
    rejects(
        minimal({"name": "Build", "actions": [codebuild(commands=["make"])]}),
        InvalidActionDeclarationException,
        "Action 'Build' in stage 'Build' declares commands, which only Commands actions take",
    )
    rejects(
        minimal(
            {
                "name": "Build",
                "actions": [codebuild(outputArtifacts=[{"name": "Out", "files": ["*"]}])],
            }
        ),
        InvalidActionDeclarationException,
        "Output artifact 'Out' of action 'Build' in stage 'Build' declares files",
    )


# --- 16-18: sources and artifacts -------------------------------------------------------------


def test_first_stage_holds_only_source_actions() -> None:
    body = minimal()
    body["stages"][0]["actions"].append(manual())
    rejects(
        body,
        InvalidStructureException,
        "Stage 'Source' is the first stage and may contain only source actions, but action 'Approve' has category Approval",
    )


def test_source_actions_only_in_the_first_stage() -> None:
    body = minimal({"name": "Build", "actions": [codebuild(), s3_source("Late", "LateArtifact")]})
    rejects(
        body,
        InvalidStructureException,
        "Action 'Late' in stage 'Build' is a source action; only the first stage of a pipeline may contain source actions",
    )


def test_output_artifact_names_are_unique_in_the_pipeline() -> None:
    body = minimal({"name": "Build", "actions": [codebuild(outputs=("SourceArtifact",))]})
    message = rejects(body, InvalidStructureException, "")
    assert message == (
        "Output Artifact Bundle name must be unique within the pipeline. "
        "SourceArtifact has been used more than once."
    )


def test_inputs_must_come_from_an_action_that_runs_earlier() -> None:
    rejects(
        minimal({"name": "Build", "actions": [codebuild(inputs=("Nowhere",))]}),
        InvalidStructureException,
        "Input artifact 'Nowhere' of action 'Build' in stage 'Build' is not the output of any action in the pipeline",
    )
    later_stage = minimal(
        {"name": "Test", "actions": [codebuild("Test", inputs=("BuildOut",))]},
        {"name": "Build", "actions": [codebuild(outputs=("BuildOut",))]},
    )
    rejects(
        later_stage,
        InvalidStructureException,
        "Input artifact 'BuildOut' of action 'Test' in stage 'Test' is not the output of an action that runs before it",
    )
    same_group = minimal(
        {
            "name": "Build",
            "actions": [codebuild(outputs=("BuildOut",)), codebuild("Test", inputs=("BuildOut",))],
        }
    )
    rejects(
        same_group, InvalidStructureException, "is not the output of an action that runs before it"
    )
    later_group = minimal(
        {
            "name": "Build",
            "actions": [
                codebuild("Test", inputs=("BuildOut",)),
                codebuild(outputs=("BuildOut",), run_order=2),
            ],
        }
    )
    rejects(later_group, InvalidStructureException, "runs before it")

    earlier_group = minimal(
        {
            "name": "Build",
            "actions": [
                codebuild("Test", inputs=("BuildOut",), run_order=2),
                codebuild(outputs=("BuildOut",)),
            ],
        }
    )
    check(earlier_group)


# --- 19-20: namespaces and variables ----------------------------------------------------------


def test_namespaces_are_unique() -> None:
    body = minimal(
        {"name": "Build", "actions": [codebuild(namespace="Vars"), manual(namespace="Vars")]}
    )
    message = rejects(body, InvalidActionDeclarationException, "")
    assert message == (
        "Namespaces must be unique across the pipeline definition. The following occur more "
        "than once in the pipeline. StageName=[Build], ActionName=[Approve], Namespace=[Vars]"
    )


@pytest.mark.parametrize("namespace", ["codepipeline", "variables"])
def test_reserved_namespaces(namespace: str) -> None:
    body = minimal({"name": "Build", "actions": [codebuild(namespace=namespace)]})
    rejects(
        body,
        InvalidActionDeclarationException,
        f"Namespace '{namespace}' of action 'Build' in stage 'Build' is reserved",
    )


def test_namespaces_must_differ_from_artifact_names() -> None:
    body = minimal({"name": "Build", "actions": [codebuild(namespace="SourceArtifact")]})
    rejects(body, InvalidActionDeclarationException, "is also the name of an artifact")


def _referencing(value: str, *, run_order: int | None = None) -> dict[str, Any]:
    return codebuild(
        "Use",
        configuration={"ProjectName": "p", "EnvironmentVariables": value},
        run_order=run_order,
    )


def test_namespace_references_must_point_earlier() -> None:
    earlier = minimal({"name": "Build", "actions": [_referencing("#{SourceVariables.VersionId}")]})
    earlier["stages"][0]["actions"][0]["namespace"] = "SourceVariables"
    check(earlier)

    same_group = minimal(
        {
            "name": "Build",
            "actions": [codebuild(namespace="BuildVars"), _referencing("#{BuildVars.X}")],
        }
    )
    rejects(
        same_group,
        InvalidStructureException,
        "Action 'Use' in stage 'Build' references '#{BuildVars.X}', but no action that runs before it has the namespace 'BuildVars'",
    )
    later_group = minimal(
        {
            "name": "Build",
            "actions": [
                codebuild(namespace="BuildVars"),
                _referencing("#{BuildVars.X}", run_order=2),
            ],
        }
    )
    check(later_group)
    own = minimal({"name": "Build", "actions": [_referencing("#{Mine.X}") | {"namespace": "Mine"}]})
    rejects(own, InvalidStructureException, "'#{Mine.X}'")
    nowhere = minimal({"name": "Build", "actions": [_referencing("x #{Ghost.Key} y")]})
    rejects(nowhere, InvalidStructureException, "the namespace 'Ghost'")


def test_pipeline_variable_references_need_a_declared_variable() -> None:
    body = v2_minimal(
        {"name": "Build", "actions": [_referencing("#{variables.Env}")]},
        variables=[{"name": "Env", "defaultValue": "dev"}],
    )
    check(body)
    body["variables"] = [{"name": "Other"}]
    rejects(
        body,
        InvalidStructureException,
        "references '#{variables.Env}', but the pipeline declares no variable 'Env'",
    )
    v1_body = minimal({"name": "Build", "actions": [_referencing("#{variables.Env}")]})
    rejects(v1_body, InvalidStructureException, "declares no variable 'Env'")


def test_the_codepipeline_namespace_has_only_the_execution_id() -> None:
    check(
        minimal({"name": "Build", "actions": [_referencing("#{codepipeline.PipelineExecutionId}")]})
    )
    rejects(
        minimal({"name": "Build", "actions": [_referencing("#{codepipeline.PipelineName}")]}),
        InvalidStructureException,
        "the only variable of the reserved namespace 'codepipeline' is PipelineExecutionId",
    )


def test_environment_variable_values_are_checked_too() -> None:
    run = commands_action(environmentVariables=[{"name": "V", "value": "#{Nope.X}"}])
    rejects(
        v2_minimal({"name": "Build", "actions": [run]}), InvalidStructureException, "'#{Nope.X}'"
    )


def test_text_that_is_not_a_reference_is_left_alone() -> None:
    body = minimal({"name": "Build", "actions": [_referencing("#{NoDot} ${HOME} #{a b.c} {x.y}")]})
    check(body)


def test_find_variable_references() -> None:
    text = "#{SourceVariables.CommitId}-#{variables.Env}/#{codepipeline.PipelineExecutionId} #{SourceVariables.CommitId}"
    assert find_variable_references(text) == [
        ("SourceVariables", "CommitId"),
        ("variables", "Env"),
        ("codepipeline", "PipelineExecutionId"),
        ("SourceVariables", "CommitId"),
    ]
    assert find_variable_references("#{a-b_c@d.KEY_1}") == [("a-b_c@d", "KEY_1")]
    assert find_variable_references("#{x} #{.y} #{x.} plain") == []
    assert VARIABLE_REFERENCE.sub("?", "a#{N.K}b") == "a?b"


# --- 21-22: pipeline variables and triggers --------------------------------------------------


def test_pipeline_variable_names_are_unique() -> None:
    body = v2_minimal(variables=[{"name": "Env"}, {"name": "Env", "defaultValue": "x"}])
    rejects(body, InvalidStructureException, "Pipeline variable 'Env' is declared more than once")


def _trigger(source: str) -> dict[str, Any]:
    return {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {
            "sourceActionName": source,
            "push": [{"branches": {"includes": ["main"]}}],
        },
    }


def test_triggers_name_a_connection_source_once() -> None:
    body = v2()
    body["triggers"] = [_trigger("Missing")]
    rejects(
        body,
        InvalidStructureException,
        "Trigger source action 'Missing' is not a CodeStarSourceConnection source action",
    )
    body["triggers"] = [_trigger("BaseImage")]  # an ECR source
    rejects(body, InvalidStructureException, "'BaseImage' is not a CodeStarSourceConnection")
    body["triggers"] = [_trigger("App"), _trigger("App")]
    rejects(
        body, InvalidStructureException, "More than one trigger is declared for source action 'App'"
    )
    body["triggers"] = [_trigger("App")]
    check(body)


# --- 23-24: conditions ----------------------------------------------------------------------------


def _three_stages(**deploy: Any) -> dict[str, Any]:
    stage: dict[str, Any] = {"name": "Deploy", "actions": [manual()]}
    stage.update(deploy)
    return v2_minimal(
        {"name": "Build", "actions": [codebuild(outputs=("BuildOut",), namespace="BuildVars")]},
        stage,
    )


def _conditions(result: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "conditions": [
            {"result": result, "rules": list(rules) or [rule("Alarm", "CloudWatchAlarm")]}
        ]
    }


@pytest.mark.parametrize(
    ("place", "result", "allowed"),
    [
        ("beforeEntry", "ROLLBACK", "FAIL and SKIP"),
        ("beforeEntry", "RETRY", "FAIL and SKIP"),
        ("onSuccess", "SKIP", "FAIL and ROLLBACK"),
        ("onSuccess", "RETRY", "FAIL and ROLLBACK"),
        ("onFailure", "SKIP", "FAIL, RETRY and ROLLBACK"),
    ],
)
def test_condition_results_depend_on_where_they_are(place: str, result: str, allowed: str) -> None:
    body = _three_stages(**{place: _conditions(result)})
    if place == "onFailure":
        body["stages"][2]["onFailure"]["result"] = "RETRY"

    message = rejects(
        body,
        InvalidStageDeclarationException,
        f"The {place} condition of stage 'Deploy' has result {result}",
    )
    assert message.endswith(f"allowed results are {allowed}")


@pytest.mark.parametrize(
    ("place", "result"),
    [
        ("beforeEntry", "FAIL"),
        ("onSuccess", "ROLLBACK"),
        ("onSuccess", "FAIL"),
        ("onFailure", "ROLLBACK"),
    ],
)
def test_allowed_condition_results_pass(place: str, result: str) -> None:
    body = _three_stages(**{place: _conditions(result)})
    check(body)


def test_on_failure_result_and_retry_configuration() -> None:
    rejects(
        _three_stages(onFailure={"result": "SKIP"}),
        InvalidStageDeclarationException,
        "Stage 'Deploy' declares onFailure result SKIP",
    )
    rejects(
        _three_stages(
            onFailure={"result": "ROLLBACK", "retryConfiguration": {"retryMode": "ALL_ACTIONS"}}
        ),
        InvalidStageDeclarationException,
        "declares a retryConfiguration, which needs onFailure result RETRY",
    )
    check(
        _three_stages(
            onFailure={"result": "RETRY", "retryConfiguration": {"retryMode": "ALL_ACTIONS"}}
        )
    )
    check(_three_stages(onFailure={"result": "FAIL"}))


def test_the_first_stage_cannot_roll_back() -> None:
    body = _three_stages()
    body["stages"][0]["onFailure"] = {"result": "ROLLBACK"}
    rejects(
        body,
        InvalidStageDeclarationException,
        "Stage 'Source' is the first stage, which cannot be rolled back",
    )
    body = _three_stages()
    body["stages"][0]["onSuccess"] = _conditions("ROLLBACK")
    rejects(body, InvalidStageDeclarationException, "the first stage cannot be rolled back")


def test_rules_must_be_known_and_uniquely_named() -> None:
    rejects(
        _three_stages(beforeEntry=_conditions("FAIL", rule("Odd", "Astrology"))),
        InvalidStageDeclarationException,
        "RuleType (Category: 'Rule', Provider: 'Astrology', Owner: 'AWS', Version: '1') in rule 'Odd' is not available",
    )
    rejects(
        _three_stages(
            beforeEntry=_conditions(
                "FAIL", rule("R", "CloudWatchAlarm"), rule("R", "DeploymentWindow")
            )
        ),
        InvalidStageDeclarationException,
        "has more than one rule named 'R'",
    )
    rejects(
        _three_stages(beforeEntry={"conditions": [{"result": "FAIL"}]}),
        InvalidStageDeclarationException,
        "The beforeEntry condition of stage 'Deploy' has no rules",
    )


def test_skip_needs_lambda_or_variable_check_rules() -> None:
    rejects(
        _three_stages(beforeEntry=_conditions("SKIP", rule("Alarm", "CloudWatchAlarm"))),
        InvalidStageDeclarationException,
        "rule 'Alarm' is a CloudWatchAlarm rule",
    )
    check(
        _three_stages(
            beforeEntry=_conditions(
                "SKIP",
                rule(
                    "Check",
                    "VariableCheck",
                    configuration={"Variable": "#{BuildVars.X}", "Value": "1", "Operator": "EQ"},
                ),
            )
        )
    )


def test_rule_inputs_and_references_depend_on_where_the_rule_runs() -> None:
    stage_output = {
        "actions": [
            manual(),
            codebuild(
                "Pack", inputs=("SourceArtifact",), outputs=("Packed",), namespace="PackVars"
            ),
        ]
    }
    commands_rule = rule(
        "Verify", "Commands", commands=["test -f x"], inputArtifacts=[{"name": "Packed"}]
    )
    rejects(
        _three_stages(**stage_output, beforeEntry=_conditions("FAIL", commands_rule)),
        InvalidStructureException,
        "Input artifact 'Packed' of rule 'Verify' of the beforeEntry condition of stage 'Deploy' is not the output of an action that runs before it",
    )
    check(_three_stages(**stage_output, onSuccess=_conditions("FAIL", commands_rule)))

    variable_rule = rule(
        "Check",
        "VariableCheck",
        configuration={"Variable": "#{PackVars.X}", "Value": "1", "Operator": "EQ"},
    )
    rejects(
        _three_stages(**stage_output, beforeEntry=_conditions("FAIL", variable_rule)),
        InvalidStructureException,
        "Rule 'Check' of the beforeEntry condition of stage 'Deploy' references '#{PackVars.X}'",
    )
    check(_three_stages(**stage_output, onSuccess=_conditions("FAIL", variable_rule)))


# --- 25: regions ----------------------------------------------------------------------------------


def _cross_region(stores: dict[str, Any] | None, deploy: dict[str, Any]) -> dict[str, Any]:
    body = minimal({"name": "Deploy", "actions": [deploy]})
    if stores is not None:
        del body["artifactStore"]
        body["artifactStores"] = stores
    return body


STORES = {
    "us-east-1": {"type": "S3", "location": "bucket-us"},
    "eu-west-1": {"type": "S3", "location": "bucket-eu"},
}


def test_cross_region_actions_need_a_store_in_their_region() -> None:
    remote = codebuild(region="eu-west-1")
    check(_cross_region(STORES, remote), region="us-east-1")
    # Without a region the checks that need one are skipped.
    check(_cross_region(None, remote))

    rejects(
        _cross_region(None, remote),
        InvalidStructureException,
        "Action 'Build' in stage 'Deploy' runs in region 'eu-west-1'; cross-region actions need artifactStores",
        region="us-east-1",
    )
    rejects(
        _cross_region({"us-east-1": STORES["us-east-1"]}, remote),
        InvalidStructureException,
        "runs in region 'eu-west-1', which has no artifact store in artifactStores",
        region="us-east-1",
    )
    rejects(
        _cross_region({"eu-west-1": STORES["eu-west-1"]}, remote),
        InvalidStructureException,
        "artifactStores must include an artifact store for the pipeline's region 'us-east-1'",
        region="us-east-1",
    )
    # The action's region spelled out as the pipeline's own is not cross-region.
    check(_cross_region(None, codebuild(region="us-east-1")), region="us-east-1")


def test_some_actions_cannot_be_cross_region() -> None:
    source = _cross_region(STORES, codebuild())
    source["stages"][0]["actions"][0]["region"] = "eu-west-1"
    rejects(
        source,
        InvalidActionDeclarationException,
        "Action 'Source' in stage 'Source' cannot run in another region",
        region="us-east-1",
    )
    commands = _cross_region(STORES, commands_action(region="eu-west-1"))
    commands["pipelineType"] = "V2"
    rejects(
        commands,
        InvalidActionDeclarationException,
        "cannot run in another region ('eu-west-1')",
        region="us-east-1",
    )
    custom = _cross_region(STORES, jenkins({"ProjectName": "p"}) | {"region": "eu-west-1"})
    rejects(
        custom,
        InvalidActionDeclarationException,
        "cannot run in another region",
        region="us-east-1",
        find_type=with_jenkins,
    )


# --- order and robustness ----------------------------------------------------------------------


def test_the_first_violation_in_rule_order_is_raised() -> None:
    body = minimal({"name": "Build", "actions": [codebuild(run_order=0), codebuild("Build")]})
    body["variables"] = [{"name": "Env"}]  # V2-only on V1 comes before duplicate names
    rejects(body, ValidationException, "Pipeline declares variables")
    del body["variables"]
    rejects(body, InvalidStageDeclarationException, "more than one action named 'Build'")


def test_validation_does_not_change_the_declaration() -> None:
    declaration = parse_pipeline(v2())
    before = copy.deepcopy(declaration.to_api())
    validate_pipeline(declaration, region="us-east-1")
    assert declaration.to_api() == before


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 1200)
    | st.text(max_size=6)
    | st.sampled_from(
        [
            "#{variables.DeployStage}",
            "#{Nope.X}",
            "SourceArtifact",
            "Dist",
            "V1",
            "PARALLEL",
            "ROLLBACK",
            "Source",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_paths(v2())[1:] + _paths(v1())[1:]), json_values, st.booleans())
def test_validation_of_any_parsed_declaration_raises_only_aws_errors(
    path: tuple[object, ...], value: object, which: bool
) -> None:
    document = v2() if which else v1()
    parent: Any = document
    try:
        for step in path[:-1]:
            parent = parent[step]  # the path may belong to the other document
        parent[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        return
    try:
        declaration = parse_pipeline(document)
    except AwsError:
        return
    try:
        validate_pipeline(declaration, region="us-east-1")
    except AwsError as error:
        failure: AwsError | None = error
    else:
        failure = None
    assert failure is None or (failure.status == 400 and failure.message)
