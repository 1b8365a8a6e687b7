"""The catalogue of AWS-owned action types, as data.

`ActionTypeSpec.to_api()` is one `actionTypes[]` item of ListActionTypes (botocore shape
`ActionType`). Custom action types, created at run time by CreateCustomActionType, use the
same class.

Where the facts come from:
- artifact counts: the AWS user guide's "valid input and output artifacts" table
  (shared reference §2.3), with CodeStarSourceConnection under owner AWS, as the action
  reference and real events have it;
- configuration properties: the action structure reference (§2.4) and the ListActionTypes
  example AWS publishes (descriptions here are our own words);
- settings: console URL templates in the form AWS's own examples use
  (`{Config:<Key>}`, `{ExternalExecutionId}`, `{RevisionId}`) [I for the exact URLs].

[I] ListActionTypes caps a type at 10 configuration properties; providers with more
optional keys (DeviceFarm, CodeDeployToECS) list the 10 most used. Validation therefore
never rejects an unlisted configuration key of an AWS-owned type (see validation.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from tui.model.declaration import ActionTypeId

ConfigurationPropertyType = Literal["String", "Number", "Boolean"]


@dataclass(frozen=True)
class ArtifactDetails:
    minimum_count: int
    maximum_count: int

    def to_api(self) -> dict[str, int]:
        return {"minimumCount": self.minimum_count, "maximumCount": self.maximum_count}


@dataclass(frozen=True)
class ConfigurationProperty:
    name: str
    required: bool
    key: bool = False
    secret: bool = False
    queryable: bool = False
    description: str | None = None
    type: ConfigurationPropertyType | None = None

    def to_api(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "name": self.name,
            "required": self.required,
            "key": self.key,
            "secret": self.secret,
            "queryable": self.queryable,
        }
        if self.description is not None:
            item["description"] = self.description
        if self.type is not None:
            item["type"] = self.type
        return item


@dataclass(frozen=True)
class ActionTypeSettings:
    third_party_configuration_url: str | None = None
    entity_url_template: str | None = None
    execution_url_template: str | None = None
    revision_url_template: str | None = None

    def to_api(self) -> dict[str, str]:
        pairs = {
            "thirdPartyConfigurationUrl": self.third_party_configuration_url,
            "entityUrlTemplate": self.entity_url_template,
            "executionUrlTemplate": self.execution_url_template,
            "revisionUrlTemplate": self.revision_url_template,
        }
        return {name: value for name, value in pairs.items() if value is not None}


@dataclass(frozen=True)
class ActionTypeSpec:
    id: ActionTypeId
    input_artifacts: ArtifactDetails
    output_artifacts: ArtifactDetails
    configuration_properties: tuple[ConfigurationProperty, ...] = ()
    settings: ActionTypeSettings = field(default_factory=ActionTypeSettings)

    @property
    def required_keys(self) -> list[str]:
        return [p.name for p in self.configuration_properties if p.required]

    @property
    def secret_keys(self) -> frozenset[str]:
        """Keys GetPipeline masks as `****`."""
        return frozenset(p.name for p in self.configuration_properties if p.secret)

    def configuration_property(self, name: str) -> ConfigurationProperty | None:
        return next((p for p in self.configuration_properties if p.name == name), None)

    def to_api(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.id.to_api(),
            "actionConfigurationProperties": [p.to_api() for p in self.configuration_properties],
            "inputArtifactDetails": self.input_artifacts.to_api(),
            "outputArtifactDetails": self.output_artifacts.to_api(),
        }
        settings = self.settings.to_api()
        if settings:
            item["settings"] = settings
        return item

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> ActionTypeSpec:
        """The inverse of `to_api`, for specs the engine stored itself."""
        settings = cast(Mapping[str, Any], item.get("settings") or {})
        return cls(
            id=ActionTypeId.model_validate(item["id"]),
            input_artifacts=_details_from_api(item["inputArtifactDetails"]),
            output_artifacts=_details_from_api(item["outputArtifactDetails"]),
            configuration_properties=tuple(
                ConfigurationProperty(
                    name=p["name"],
                    required=p["required"],
                    key=p["key"],
                    secret=p["secret"],
                    queryable=p.get("queryable", False),
                    description=p.get("description"),
                    type=p.get("type"),
                )
                for p in item.get("actionConfigurationProperties", [])
            ),
            settings=ActionTypeSettings(
                third_party_configuration_url=settings.get("thirdPartyConfigurationUrl"),
                entity_url_template=settings.get("entityUrlTemplate"),
                execution_url_template=settings.get("executionUrlTemplate"),
                revision_url_template=settings.get("revisionUrlTemplate"),
            ),
        )


def _details_from_api(item: Mapping[str, Any]) -> ArtifactDetails:
    return ArtifactDetails(int(item["minimumCount"]), int(item["maximumCount"]))


# ---------------------------------------------------------------------------
# The catalogue.

_CONSOLE = "https://console.aws.amazon.com"


def _required(name: str, description: str, *, secret: bool = False) -> ConfigurationProperty:
    return ConfigurationProperty(
        name, required=True, key=not secret, secret=secret, description=description
    )


def _optional(name: str, description: str, *, secret: bool = False) -> ConfigurationProperty:
    return ConfigurationProperty(name, required=False, secret=secret, description=description)


def _spec(
    category: str,
    provider: str,
    inputs: tuple[int, int],
    outputs: tuple[int, int],
    properties: tuple[ConfigurationProperty, ...] = (),
    *,
    owner: str = "AWS",
    entity: str | None = None,
    execution: str | None = None,
    revision: str | None = None,
    third_party: str | None = None,
) -> ActionTypeSpec:
    return ActionTypeSpec(
        id=ActionTypeId.model_validate(
            {"category": category, "owner": owner, "provider": provider, "version": "1"}
        ),
        input_artifacts=ArtifactDetails(*inputs),
        output_artifacts=ArtifactDetails(*outputs),
        configuration_properties=properties,
        settings=ActionTypeSettings(
            third_party_configuration_url=third_party,
            entity_url_template=entity,
            execution_url_template=execution,
            revision_url_template=revision,
        ),
    )


_POLL = _optional("PollForSourceChanges", "Whether the pipeline polls the source for changes")
_ARTIFACT_FORMAT = _optional(
    "OutputArtifactFormat", "CODE_ZIP (default) or CODEBUILD_CLONE_REF for a full clone"
)


def _codebuild(category: str) -> ActionTypeSpec:
    return _spec(
        category,
        "CodeBuild",
        (1, 5),
        (0, 5),
        (
            _required("ProjectName", "The CodeBuild project name"),
            _optional("PrimarySource", "The input artifact used as the primary source"),
            _optional("BatchEnabled", "Whether the build runs as a batch"),
            _optional("CombineArtifacts", "Whether a batch build combines its artifacts"),
            _optional("EnvironmentVariables", "JSON list of environment variable overrides"),
        ),
        entity=f"{_CONSOLE}/codebuild/home?#/projects/{{Config:ProjectName}}/view",
        execution=f"{_CONSOLE}/codebuild/home?#/builds/{{ExternalExecutionId}}/view/new",
    )


_CATALOGUE: tuple[ActionTypeSpec, ...] = (
    # Source
    _spec(
        "Source",
        "S3",
        (0, 0),
        (1, 1),
        (
            _required("S3Bucket", "The versioned bucket holding the source object"),
            _required("S3ObjectKey", "The key of the source zip object"),
            _POLL,
            _optional("AllowOverrideForS3ObjectKey", "Whether a run may override the key"),
        ),
        entity=f"{_CONSOLE}/s3/home?#",
    ),
    _spec(
        "Source",
        "CodeCommit",
        (0, 0),
        (1, 1),
        (
            _required("RepositoryName", "The CodeCommit repository name"),
            _required("BranchName", "The tracked branch"),
            _POLL,
            _ARTIFACT_FORMAT,
        ),
        entity=f"{_CONSOLE}/codecommit/home#/repository/{{Config:RepositoryName}}/browse/{{Config:BranchName}}/--/",
        revision=f"{_CONSOLE}/codecommit/home#/repository/{{Config:RepositoryName}}/commit/{{RevisionId}}",
    ),
    _spec(
        "Source",
        "CodeStarSourceConnection",
        (0, 0),
        (1, 1),
        (
            _required("ConnectionArn", "The connection to the repository host"),
            _required("FullRepositoryId", "owner/repository"),
            _required("BranchName", "The tracked branch"),
            _ARTIFACT_FORMAT,
            _optional("DetectChanges", "Whether a push starts the pipeline"),
        ),
        entity=f"{_CONSOLE}/codesuite/settings/connections",
    ),
    _spec(
        "Source",
        "ECR",
        (0, 0),
        (1, 1),
        (
            _required("RepositoryName", "The ECR repository name"),
            _optional("ImageTag", "The tracked image tag (default latest)"),
        ),
        entity=f"{_CONSOLE}/ecr/repositories/{{Config:RepositoryName}}",
    ),
    _spec(
        "Source",
        "GitHub",
        (0, 0),
        (1, 1),
        (
            _required("Owner", "The repository owner (user or organization)"),
            _required("Repo", "The repository name"),
            _required("Branch", "The tracked branch"),
            _required("OAuthToken", "The OAuth token", secret=True),
            _POLL,
        ),
        owner="ThirdParty",
        entity="https://github.com/{Config:Owner}/{Config:Repo}/tree/{Config:Branch}",
        revision="https://github.com/{Config:Owner}/{Config:Repo}/commit/{RevisionId}",
    ),
    # Build and test
    _codebuild("Build"),
    _codebuild("Test"),
    _spec(
        "Build",
        "ECRBuildAndPublish",
        (1, 1),
        (0, 0),
        (
            _required("ECRRepositoryName", "The repository the image is pushed to"),
            _optional("DockerFilePath", "The directory holding the Dockerfile"),
            _optional("ImageTags", "Comma-separated tags for the image"),
            _optional("RegistryType", "private (default) or public"),
        ),
    ),
    _spec(
        "Test",
        "DeviceFarm",
        (1, 1),
        (0, 0),
        (
            _required("ProjectId", "The Device Farm project id"),
            _required("DevicePoolArn", "The device pool to test on"),
            _required("AppType", "iOS, Android or Web"),
            _required("App", "The app file in the input artifact"),
            _required("TestType", "The test framework"),
            _optional("Test", "The test package in the input artifact"),
            _optional("AppiumVersion", "The Appium version"),
            _optional("RecordVideo", "Whether to record video"),
            _optional("RecordAppPerformanceData", "Whether to record performance data"),
            _optional("JobTimeoutMinutes", "The per-device timeout"),
        ),
    ),
    # Approval
    _spec(
        "Approval",
        "Manual",
        (0, 0),
        (0, 0),
        (
            _optional("NotificationArn", "The SNS topic notified when approval is needed"),
            _optional("ExternalEntityLink", "A URL for the reviewer"),
            _optional("CustomData", "Comments shown to the reviewer"),
        ),
    ),
    # Deploy
    _spec(
        "Deploy",
        "S3",
        (1, 1),
        (0, 0),
        (
            _required("BucketName", "The bucket deployed to"),
            _required("Extract", "true to unzip the artifact, false to copy it"),
            _optional("ObjectKey", "The key when Extract is false"),
            _optional("KMSEncryptionKeyARN", "The KMS key for the objects"),
            _optional("CannedACL", "The canned ACL applied to the objects"),
            _optional("CacheControl", "The Cache-Control header of the objects"),
        ),
        entity=f"{_CONSOLE}/s3/home?#",
    ),
    _spec(
        "Deploy",
        "CloudFormation",
        (0, 10),
        (0, 1),
        (
            _required("ActionMode", "CREATE_UPDATE, DELETE_ONLY, CHANGE_SET_REPLACE, ..."),
            _required("StackName", "The stack name"),
            _optional("Capabilities", "CAPABILITY_IAM, CAPABILITY_NAMED_IAM, ..."),
            _optional("ChangeSetName", "The change set name"),
            _optional("TemplatePath", "ArtifactName::path of the template"),
            _optional("TemplateConfiguration", "ArtifactName::path of a configuration file"),
            _optional("ParameterOverrides", "JSON object of parameter values"),
            _optional("RoleArn", "The role CloudFormation assumes"),
            _optional("OutputFileName", "The file receiving the stack outputs"),
        ),
        entity=f"{_CONSOLE}/cloudformation/home?#/stacks",
    ),
    _spec(
        "Deploy",
        "CodeDeploy",
        (1, 1),
        (0, 0),
        (
            _required("ApplicationName", "The CodeDeploy application"),
            _required("DeploymentGroupName", "The deployment group"),
        ),
        entity=f"{_CONSOLE}/codedeploy/home?#/applications/{{Config:ApplicationName}}/deployment-groups/{{Config:DeploymentGroupName}}",
        execution=f"{_CONSOLE}/codedeploy/home?#/deployments/{{ExternalExecutionId}}",
    ),
    _spec(
        "Deploy",
        "CodeDeployToECS",
        (1, 5),
        (0, 0),
        (
            _required("ApplicationName", "The CodeDeploy application"),
            _required("DeploymentGroupName", "The deployment group"),
            _required("TaskDefinitionTemplateArtifact", "The artifact with the task definition"),
            _required("AppSpecTemplateArtifact", "The artifact with the AppSpec file"),
            _optional("TaskDefinitionTemplatePath", "The task definition file name"),
            _optional("AppSpecTemplatePath", "The AppSpec file name"),
            _optional("Image1ArtifactName", "The artifact naming the first image"),
            _optional("Image1ContainerName", "The placeholder for the first image"),
            _optional("Image2ArtifactName", "The artifact naming the second image"),
            _optional("Image2ContainerName", "The placeholder for the second image"),
        ),
    ),
    _spec(
        "Deploy",
        "ECS",
        (1, 1),
        (0, 0),
        (
            _required("ClusterName", "The ECS cluster"),
            _required("ServiceName", "The ECS service"),
            _optional("FileName", "The image definitions file (imagedefinitions.json)"),
            _optional("DeploymentTimeout", "Minutes before the deployment times out"),
        ),
    ),
    _spec(
        "Deploy",
        "ElasticBeanstalk",
        (1, 1),
        (0, 0),
        (
            _required("ApplicationName", "The Elastic Beanstalk application"),
            _required("EnvironmentName", "The Elastic Beanstalk environment"),
        ),
        entity=f"{_CONSOLE}/elasticbeanstalk/r/application/{{Config:ApplicationName}}",
        execution=f"{_CONSOLE}/elasticbeanstalk/r/application/{{Config:ApplicationName}}",
    ),
    _spec(
        "Deploy",
        "OpsWorks",
        (1, 1),
        (0, 0),
        (
            _required("Stack", "The OpsWorks stack"),
            _required("App", "The OpsWorks app"),
            _optional("Layer", "The OpsWorks layer"),
        ),
    ),
    _spec(
        "Deploy",
        "ServiceCatalog",
        (1, 1),
        (0, 0),
        (
            _required("ProductId", "The Service Catalog product"),
            _optional("ConfigurationFilePath", "The product configuration file"),
            _optional("TemplateFilePath", "The product template"),
            _optional("ProductVersionName", "The new product version"),
            _optional("ProductType", "CLOUD_FORMATION_TEMPLATE"),
            _optional("ProductVersionDescription", "The product version description"),
        ),
    ),
    _spec(
        "Deploy",
        "AlexaSkillsKit",
        (0, 2),
        (0, 0),
        (
            _required("ClientId", "The Login with Amazon client id"),
            _required("ClientSecret", "The Login with Amazon client secret", secret=True),
            _required("RefreshToken", "The refresh token", secret=True),
            _required("SkillId", "The Alexa skill id"),
        ),
        owner="ThirdParty",
    ),
    # Invoke
    _spec(
        "Invoke",
        "Lambda",
        (0, 5),
        (0, 5),
        (
            _required("FunctionName", "The Lambda function"),
            _optional("UserParameters", "A string passed to the function"),
        ),
        entity=f"{_CONSOLE}/lambda/home#/functions/{{Config:FunctionName}}",
    ),
    _spec(
        "Invoke",
        "StepFunctions",
        (0, 1),
        (0, 1),
        (
            _required("StateMachineArn", "The state machine"),
            _optional("ExecutionNamePrefix", "A prefix for the execution name"),
            _optional("InputType", "Literal (default) or FilePath"),
            _optional("Input", "The input, or the file holding it"),
        ),
    ),
    # Compute (V2 pipelines): no configuration, the action carries `commands`.
    _spec("Compute", "Commands", (1, 10), (0, 1)),
)

_BY_KEY: dict[tuple[str, str, str, str], ActionTypeSpec] = {
    (s.id.category, s.id.owner, s.id.provider, s.id.version): s for s in _CATALOGUE
}


def aws_action_types() -> list[ActionTypeSpec]:
    """The built-in action types (owners AWS and ThirdParty), in a stable order."""
    return list(_CATALOGUE)


def find_aws_action_type(
    category: str, owner: str, provider: str, version: str
) -> ActionTypeSpec | None:
    return _BY_KEY.get((category, owner, provider, version))


def find_aws_action_type_by_id(type_id: ActionTypeId) -> ActionTypeSpec | None:
    """The default `find_type` of validation: the built-in catalogue."""
    return find_aws_action_type(type_id.category, type_id.owner, type_id.provider, type_id.version)
