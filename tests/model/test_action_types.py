from __future__ import annotations

import botocore.session
import pytest
from botocore.validate import ParamValidator

from tui.model.action_types import (
    ActionTypeSettings,
    ActionTypeSpec,
    ArtifactDetails,
    ConfigurationProperty,
    aws_action_types,
    find_aws_action_type,
    find_aws_action_type_by_id,
)
from tui.model.declaration import ActionTypeId

_MODEL = botocore.session.get_session().get_service_model("codepipeline")


def test_every_item_has_the_list_action_types_shape() -> None:
    shape = _MODEL.shape_for("ActionType")
    for spec in aws_action_types():
        report = ParamValidator().validate(spec.to_api(), shape)
        assert not report.has_errors(), (spec.id, report.generate_report())


def test_items_respect_the_model_limits_botocore_does_not_check() -> None:
    for spec in aws_action_types():
        assert len(spec.configuration_properties) <= 10, spec.id
        for prop in spec.configuration_properties:
            assert 1 <= len(prop.name) <= 50
            assert prop.description is None or 1 <= len(prop.description) <= 160, prop.name
        settings = spec.to_api().get("settings", {})
        assert all(1 <= len(url) <= 2048 for url in settings.values())


def test_ids_are_unique_and_version_1() -> None:
    ids = [spec.id for spec in aws_action_types()]
    assert len(ids) == len(set(ids))
    assert {i.version for i in ids} == {"1"}
    assert {i.owner for i in ids} == {"AWS", "ThirdParty"}


@pytest.mark.parametrize(
    ("category", "owner", "provider", "inputs", "outputs"),
    [
        ("Source", "AWS", "S3", (0, 0), (1, 1)),
        ("Source", "AWS", "CodeCommit", (0, 0), (1, 1)),
        ("Source", "AWS", "CodeStarSourceConnection", (0, 0), (1, 1)),
        ("Source", "AWS", "ECR", (0, 0), (1, 1)),
        ("Source", "ThirdParty", "GitHub", (0, 0), (1, 1)),
        ("Build", "AWS", "CodeBuild", (1, 5), (0, 5)),
        ("Test", "AWS", "CodeBuild", (1, 5), (0, 5)),
        ("Test", "AWS", "DeviceFarm", (1, 1), (0, 0)),
        ("Approval", "AWS", "Manual", (0, 0), (0, 0)),
        ("Deploy", "AWS", "S3", (1, 1), (0, 0)),
        ("Deploy", "AWS", "CloudFormation", (0, 10), (0, 1)),
        ("Deploy", "AWS", "CodeDeploy", (1, 1), (0, 0)),
        ("Deploy", "AWS", "ElasticBeanstalk", (1, 1), (0, 0)),
        ("Deploy", "AWS", "OpsWorks", (1, 1), (0, 0)),
        ("Deploy", "AWS", "ECS", (1, 1), (0, 0)),
        ("Deploy", "AWS", "ServiceCatalog", (1, 1), (0, 0)),
        ("Deploy", "ThirdParty", "AlexaSkillsKit", (0, 2), (0, 0)),
        ("Invoke", "AWS", "Lambda", (0, 5), (0, 5)),
        ("Compute", "AWS", "Commands", (1, 10), (0, 1)),
    ],
)
def test_artifact_counts_follow_the_aws_table(
    category: str, owner: str, provider: str, inputs: tuple[int, int], outputs: tuple[int, int]
) -> None:
    spec = find_aws_action_type(category, owner, provider, "1")

    assert spec is not None
    assert (spec.input_artifacts.minimum_count, spec.input_artifacts.maximum_count) == inputs
    assert (spec.output_artifacts.minimum_count, spec.output_artifacts.maximum_count) == outputs


@pytest.mark.parametrize(
    ("category", "provider", "required"),
    [
        ("Source", "S3", ["S3Bucket", "S3ObjectKey"]),
        ("Source", "CodeCommit", ["RepositoryName", "BranchName"]),
        ("Source", "CodeStarSourceConnection", ["ConnectionArn", "FullRepositoryId", "BranchName"]),
        ("Source", "ECR", ["RepositoryName"]),
        ("Build", "CodeBuild", ["ProjectName"]),
        ("Approval", "Manual", []),
        ("Deploy", "S3", ["BucketName", "Extract"]),
        ("Deploy", "CloudFormation", ["ActionMode", "StackName"]),
        ("Deploy", "ECS", ["ClusterName", "ServiceName"]),
        ("Invoke", "Lambda", ["FunctionName"]),
        ("Compute", "Commands", []),
    ],
)
def test_required_configuration_keys(category: str, provider: str, required: list[str]) -> None:
    spec = find_aws_action_type(category, "AWS", provider, "1")

    assert spec is not None
    assert spec.required_keys == required


def test_optional_keys_are_listed_but_not_required() -> None:
    s3 = find_aws_action_type("Source", "AWS", "S3", "1")
    assert s3 is not None
    poll = s3.configuration_property("PollForSourceChanges")
    assert poll is not None
    assert not poll.required
    assert not poll.key
    assert s3.configuration_property("Nope") is None


def test_secret_properties_are_marked() -> None:
    github = find_aws_action_type("Source", "ThirdParty", "GitHub", "1")
    assert github is not None
    assert github.secret_keys == {"OAuthToken"}
    token = github.configuration_property("OAuthToken")
    assert token is not None
    assert token.secret
    assert not token.key
    codebuild = find_aws_action_type("Build", "AWS", "CodeBuild", "1")
    assert codebuild is not None
    assert codebuild.secret_keys == frozenset()


def test_lookups_miss_for_unknown_types() -> None:
    assert find_aws_action_type("Build", "AWS", "CodeBuild", "2") is None
    assert find_aws_action_type("Build", "Custom", "CodeBuild", "1") is None
    assert find_aws_action_type("Deploy", "AWS", "CodeBuild", "1") is None
    assert find_aws_action_type("Source", "ThirdParty", "CodeStarSourceConnection", "1") is None
    assert find_aws_action_type_by_id(
        ActionTypeId(category="Invoke", owner="AWS", provider="Lambda", version="1")
    ) is find_aws_action_type("Invoke", "AWS", "Lambda", "1")
    assert (
        find_aws_action_type_by_id(
            ActionTypeId(category="Invoke", owner="AWS", provider="Lambada", version="1")
        )
        is None
    )


def test_to_api_matches_the_published_example_for_s3_source() -> None:
    spec = find_aws_action_type("Source", "AWS", "S3", "1")
    assert spec is not None

    item = spec.to_api()

    assert item["id"] == {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"}
    assert item["inputArtifactDetails"] == {"minimumCount": 0, "maximumCount": 0}
    assert item["outputArtifactDetails"] == {"minimumCount": 1, "maximumCount": 1}
    bucket = item["actionConfigurationProperties"][0]
    assert {k: bucket[k] for k in ("name", "required", "key", "secret", "queryable")} == {
        "name": "S3Bucket",
        "required": True,
        "key": True,
        "secret": False,
        "queryable": False,
    }
    assert "type" not in bucket  # AWS leaves it out for its own types
    assert item["settings"] == {"entityUrlTemplate": "https://console.aws.amazon.com/s3/home?#"}


def test_settings_are_left_out_when_there_are_none() -> None:
    commands = find_aws_action_type("Compute", "AWS", "Commands", "1")
    assert commands is not None
    assert "settings" not in commands.to_api()
    assert commands.to_api()["actionConfigurationProperties"] == []


def test_a_custom_type_round_trips_through_its_api_form() -> None:
    spec = ActionTypeSpec(
        id=ActionTypeId(category="Build", owner="Custom", provider="JenkinsBuild", version="2"),
        input_artifacts=ArtifactDetails(0, 5),
        output_artifacts=ArtifactDetails(0, 5),
        configuration_properties=(
            ConfigurationProperty(
                "ProjectName", required=True, key=True, queryable=True, type="String"
            ),
            ConfigurationProperty("Token", required=False, secret=True, description="API token"),
        ),
        settings=ActionTypeSettings(
            entity_url_template="https://jenkins.example.com/job/{Config:ProjectName}",
            execution_url_template="https://jenkins.example.com/job/{Config:ProjectName}/{ExternalExecutionId}",
        ),
    )

    item = spec.to_api()

    assert ActionTypeSpec.from_api(item) == spec
    assert item["actionConfigurationProperties"][0]["type"] == "String"
    assert item["actionConfigurationProperties"][0]["queryable"] is True
    assert not ParamValidator().validate(item, _MODEL.shape_for("ActionType")).has_errors()


def test_every_builtin_spec_round_trips() -> None:
    for spec in aws_action_types():
        assert ActionTypeSpec.from_api(spec.to_api()) == spec


def test_catalogue_is_a_fresh_list_each_time() -> None:
    first = aws_action_types()
    first.clear()
    assert aws_action_types()
