"""Pipeline declarations for the model tests, written the way `get-pipeline` prints them."""

from __future__ import annotations

import copy
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/service-role/AWSCodePipelineServiceRole-us-east-1-web"

# A console-made V1 pipeline: CodeCommit -> CodeBuild -> approval -> CloudFormation + S3,
# a GitHub (v1) source with its OAuth token masked as GetPipeline masks secrets.
V1_PIPELINE: dict[str, Any] = {
    "name": "web-frontend",
    "roleArn": ROLE,
    "artifactStore": {
        "type": "S3",
        "location": "codepipeline-us-east-1-538312745124",
        "encryptionKey": {
            "id": "arn:aws:kms:us-east-1:123456789012:alias/aws/s3",
            "type": "KMS",
        },
    },
    "stages": [
        {
            "name": "Source",
            "actions": [
                {
                    "name": "Source",
                    "actionTypeId": {
                        "category": "Source",
                        "owner": "AWS",
                        "provider": "CodeCommit",
                        "version": "1",
                    },
                    "runOrder": 1,
                    "configuration": {
                        "BranchName": "main",
                        "OutputArtifactFormat": "CODE_ZIP",
                        "PollForSourceChanges": "false",
                        "RepositoryName": "web-frontend",
                    },
                    "outputArtifacts": [{"name": "SourceArtifact"}],
                    "inputArtifacts": [],
                    "region": "us-east-1",
                    "namespace": "SourceVariables",
                },
                {
                    "name": "Themes",
                    "actionTypeId": {
                        "category": "Source",
                        "owner": "ThirdParty",
                        "provider": "GitHub",
                        "version": "1",
                    },
                    "runOrder": 1,
                    "configuration": {
                        "Branch": "release",
                        "OAuthToken": "****",
                        "Owner": "example-org",
                        "PollForSourceChanges": "false",
                        "Repo": "themes",
                    },
                    "outputArtifacts": [{"name": "ThemesArtifact"}],
                    "inputArtifacts": [],
                },
            ],
        },
        {
            "name": "Build",
            "actions": [
                {
                    "name": "Build",
                    "actionTypeId": {
                        "category": "Build",
                        "owner": "AWS",
                        "provider": "CodeBuild",
                        "version": "1",
                    },
                    "runOrder": 1,
                    "configuration": {
                        "EnvironmentVariables": '[{"name":"COMMIT","value":"#{SourceVariables.CommitId}","type":"PLAINTEXT"}]',
                        "PrimarySource": "SourceArtifact",
                        "ProjectName": "web-frontend-build",
                    },
                    "outputArtifacts": [{"name": "BuildArtifact"}],
                    "inputArtifacts": [{"name": "SourceArtifact"}, {"name": "ThemesArtifact"}],
                    "region": "us-east-1",
                    "namespace": "BuildVariables",
                },
                {
                    "name": "UnitTests",
                    "actionTypeId": {
                        "category": "Test",
                        "owner": "AWS",
                        "provider": "CodeBuild",
                        "version": "1",
                    },
                    "runOrder": 2,
                    "configuration": {"ProjectName": "web-frontend-test"},
                    "outputArtifacts": [],
                    "inputArtifacts": [{"name": "BuildArtifact"}],
                },
            ],
        },
        {
            "name": "Approve",
            "blockers": [{"name": "NightlyFreeze", "type": "Schedule"}],
            "actions": [
                {
                    "name": "ReleaseSignOff",
                    "actionTypeId": {
                        "category": "Approval",
                        "owner": "AWS",
                        "provider": "Manual",
                        "version": "1",
                    },
                    "runOrder": 1,
                    "configuration": {
                        "CustomData": "Build #{BuildVariables.BUILD_ID} is ready for production",
                        "ExternalEntityLink": "https://staging.example.com",
                        "NotificationArn": "arn:aws:sns:us-east-1:123456789012:release-approvals",
                    },
                    "outputArtifacts": [],
                    "inputArtifacts": [],
                    "timeoutInMinutes": 1440,
                },
            ],
        },
        {
            "name": "Deploy",
            "actions": [
                {
                    "name": "Stack",
                    "actionTypeId": {
                        "category": "Deploy",
                        "owner": "AWS",
                        "provider": "CloudFormation",
                        "version": "1",
                    },
                    "runOrder": 1,
                    "configuration": {
                        "ActionMode": "CREATE_UPDATE",
                        "Capabilities": "CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND",
                        "OutputFileName": "stack-outputs.json",
                        "RoleArn": "arn:aws:iam::123456789012:role/cfn-deploy",
                        "StackName": "web-frontend-prod",
                        "TemplatePath": "BuildArtifact::packaged.yaml",
                    },
                    "outputArtifacts": [{"name": "StackOutputs"}],
                    "inputArtifacts": [{"name": "BuildArtifact"}],
                    "roleArn": "arn:aws:iam::123456789012:role/pipeline-deploy",
                    "namespace": "StackVariables",
                },
                {
                    "name": "Site",
                    "actionTypeId": {
                        "category": "Deploy",
                        "owner": "AWS",
                        "provider": "S3",
                        "version": "1",
                    },
                    "runOrder": 2,
                    "configuration": {
                        "BucketName": "www.example.com",
                        "CacheControl": "max-age=300",
                        "Extract": "true",
                    },
                    "outputArtifacts": [],
                    "inputArtifacts": [{"name": "BuildArtifact"}],
                },
            ],
        },
    ],
    "version": 7,
    "executionMode": "SUPERSEDED",
    "pipelineType": "V1",
}

# A V2 pipeline: connection source with triggers, variables, QUEUED, a Commands action,
# Lambda invoke, stage conditions, automatic retry and rollback.
V2_PIPELINE: dict[str, Any] = {
    "name": "payments-service",
    "roleArn": "arn:aws:iam::123456789012:role/payments-pipeline",
    "artifactStores": {
        "us-east-1": {"type": "S3", "location": "payments-artifacts-us-east-1"},
        "eu-west-1": {"type": "S3", "location": "payments-artifacts-eu-west-1"},
    },
    "stages": [
        {
            "name": "Source",
            "actions": [
                {
                    "name": "App",
                    "actionTypeId": {
                        "category": "Source",
                        "owner": "AWS",
                        "provider": "CodeStarSourceConnection",
                        "version": "1",
                    },
                    "runOrder": 1,
                    "configuration": {
                        "BranchName": "main",
                        "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/6f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8",
                        "DetectChanges": "false",
                        "FullRepositoryId": "example-org/payments-service",
                        "OutputArtifactFormat": "CODEBUILD_CLONE_REF",
                    },
                    "outputArtifacts": [{"name": "AppSource"}],
                    "inputArtifacts": [],
                    "namespace": "AppSource_Vars",
                },
                {
                    "name": "BaseImage",
                    "actionTypeId": {
                        "category": "Source",
                        "owner": "AWS",
                        "provider": "ECR",
                        "version": "1",
                    },
                    "runOrder": 1,
                    "configuration": {"ImageTag": "stable", "RepositoryName": "payments-base"},
                    "outputArtifacts": [{"name": "BaseImageDetail"}],
                    "inputArtifacts": [],
                },
            ],
        },
        {
            "name": "Build",
            "actions": [
                {
                    "name": "Lint",
                    "actionTypeId": {
                        "category": "Compute",
                        "owner": "AWS",
                        "provider": "Commands",
                        "version": "1",
                    },
                    "runOrder": 1,
                    "configuration": {},
                    "commands": ["make lint", "make test", "make dist"],
                    "outputArtifacts": [{"name": "Dist", "files": ["dist/**/*", "appspec.yml"]}],
                    "inputArtifacts": [{"name": "AppSource"}],
                    "outputVariables": ["CODEBUILD_BUILD_ID", "DIST_VERSION"],
                    "namespace": "LintVars",
                    "environmentVariables": [
                        {"name": "STAGE", "value": "#{variables.DeployStage}", "type": "PLAINTEXT"},
                        {
                            "name": "API_TOKEN",
                            "value": "payments/api-token",
                            "type": "SECRETS_MANAGER",
                        },
                    ],
                },
                {
                    "name": "Image",
                    "actionTypeId": {
                        "category": "Build",
                        "owner": "AWS",
                        "provider": "CodeBuild",
                        "version": "1",
                    },
                    "runOrder": 2,
                    "configuration": {
                        "EnvironmentVariables": '[{"name":"VERSION","value":"#{LintVars.DIST_VERSION}","type":"PLAINTEXT"}]',
                        "PrimarySource": "Dist",
                        "ProjectName": "payments-image",
                    },
                    "outputArtifacts": [{"name": "ImageDefinitions"}],
                    "inputArtifacts": [{"name": "Dist"}, {"name": "BaseImageDetail"}],
                    "namespace": "ImageVars",
                },
            ],
            "onFailure": {"result": "RETRY", "retryConfiguration": {"retryMode": "FAILED_ACTIONS"}},
        },
        {
            "name": "Staging",
            "actions": [
                {
                    "name": "Deploy",
                    "actionTypeId": {
                        "category": "Deploy",
                        "owner": "AWS",
                        "provider": "ECS",
                        "version": "1",
                    },
                    "runOrder": 1,
                    "configuration": {
                        "ClusterName": "payments-staging",
                        "FileName": "imagedefinitions.json",
                        "ServiceName": "payments",
                    },
                    "outputArtifacts": [],
                    "inputArtifacts": [{"name": "ImageDefinitions"}],
                    "region": "eu-west-1",
                },
                {
                    "name": "Smoke",
                    "actionTypeId": {
                        "category": "Invoke",
                        "owner": "AWS",
                        "provider": "Lambda",
                        "version": "1",
                    },
                    "runOrder": 2,
                    "configuration": {
                        "FunctionName": "payments-smoke-test",
                        "UserParameters": '{"image":"#{ImageVars.IMAGE_URI}","run":"#{codepipeline.PipelineExecutionId}"}',
                    },
                    "outputArtifacts": [],
                    "inputArtifacts": [],
                    "namespace": "SmokeVars",
                },
            ],
            "onFailure": {"result": "ROLLBACK"},
            "onSuccess": {
                "conditions": [
                    {
                        "result": "ROLLBACK",
                        "rules": [
                            {
                                "name": "NoAlarms",
                                "ruleTypeId": {
                                    "category": "Rule",
                                    "owner": "AWS",
                                    "provider": "CloudWatchAlarm",
                                    "version": "1",
                                },
                                "configuration": {
                                    "AlarmName": "payments-staging-5xx",
                                    "WaitTime": "5",
                                },
                                "inputArtifacts": [],
                                "region": "us-east-1",
                            }
                        ],
                    }
                ]
            },
        },
        {
            "name": "Production",
            "actions": [
                {
                    "name": "Deploy",
                    "actionTypeId": {
                        "category": "Deploy",
                        "owner": "AWS",
                        "provider": "ECS",
                        "version": "1",
                    },
                    "runOrder": 1,
                    "configuration": {
                        "ClusterName": "payments-prod",
                        "DeploymentTimeout": "30",
                        "ServiceName": "payments",
                    },
                    "outputArtifacts": [],
                    "inputArtifacts": [{"name": "ImageDefinitions"}],
                }
            ],
            "beforeEntry": {
                "conditions": [
                    {
                        "result": "FAIL",
                        "rules": [
                            {
                                "name": "BusinessHours",
                                "ruleTypeId": {
                                    "category": "Rule",
                                    "owner": "AWS",
                                    "provider": "DeploymentWindow",
                                    "version": "1",
                                },
                                "configuration": {
                                    "Cron": "0 9-16 ? * MON-THU *",
                                    "TimeZone": "Europe/Berlin",
                                },
                            },
                            {
                                "name": "SmokePassed",
                                "ruleTypeId": {
                                    "category": "Rule",
                                    "owner": "AWS",
                                    "provider": "VariableCheck",
                                    "version": "1",
                                },
                                "configuration": {
                                    "Operator": "EQ",
                                    "Value": "passed",
                                    "Variable": "#{SmokeVars.STATUS}",
                                },
                            },
                        ],
                    }
                ]
            },
        },
    ],
    "version": 12,
    "executionMode": "QUEUED",
    "pipelineType": "V2",
    "variables": [
        {
            "name": "DeployStage",
            "defaultValue": "staging",
            "description": "Environment name passed to the build",
        },
        {"name": "ReleaseNote"},
    ],
    "triggers": [
        {
            "providerType": "CodeStarSourceConnection",
            "gitConfiguration": {
                "sourceActionName": "App",
                "push": [
                    {
                        "branches": {
                            "includes": ["main", "release/*"],
                            "excludes": ["release/old-*"],
                        },
                        "filePaths": {"includes": ["src/**", "Dockerfile"]},
                    },
                    {"tags": {"includes": ["v*"]}},
                ],
                "pullRequest": [
                    {
                        "events": ["OPEN", "UPDATED"],
                        "branches": {"includes": ["main"]},
                    }
                ],
            },
        }
    ],
}


def v1() -> dict[str, Any]:
    return copy.deepcopy(V1_PIPELINE)


def v2() -> dict[str, Any]:
    return copy.deepcopy(V2_PIPELINE)


def action(
    name: str,
    category: str,
    provider: str,
    *,
    owner: str = "AWS",
    inputs: tuple[str, ...] = (),
    outputs: tuple[str, ...] = (),
    configuration: dict[str, str] | None = None,
    run_order: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A create-pipeline action, leaving out what AWS fills in when it is not given."""
    item: dict[str, Any] = {
        "name": name,
        "actionTypeId": {
            "category": category,
            "owner": owner,
            "provider": provider,
            "version": "1",
        },
    }
    if configuration is not None:
        item["configuration"] = configuration
    if inputs:
        item["inputArtifacts"] = [{"name": n} for n in inputs]
    if outputs:
        item["outputArtifacts"] = [{"name": n} for n in outputs]
    if run_order is not None:
        item["runOrder"] = run_order
    item.update(extra)
    return item


def s3_source(name: str = "Source", output: str = "SourceArtifact", **extra: Any) -> dict[str, Any]:
    return action(
        name,
        "Source",
        "S3",
        outputs=(output,),
        configuration={"S3Bucket": "source-bucket", "S3ObjectKey": "app.zip"},
        **extra,
    )


def codebuild(
    name: str = "Build",
    inputs: tuple[str, ...] = ("SourceArtifact",),
    outputs: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    configuration = extra.pop("configuration", {"ProjectName": "app-build"})
    return action(
        name,
        "Build",
        "CodeBuild",
        inputs=inputs,
        outputs=outputs,
        configuration=configuration,
        **extra,
    )


def minimal(*later_stages: dict[str, Any], **pipeline: Any) -> dict[str, Any]:
    """A two-stage create-pipeline body: S3 source, then CodeBuild, or the stages given."""
    stages = [{"name": "Source", "actions": [s3_source()]}]
    stages += list(later_stages) or [{"name": "Build", "actions": [codebuild()]}]
    body: dict[str, Any] = {
        "name": "app",
        "roleArn": ROLE,
        "artifactStore": {"type": "S3", "location": "app-artifacts"},
        "stages": stages,
    }
    body.update(pipeline)
    return body
