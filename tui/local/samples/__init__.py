"""The demo pipelines: real work on a small real project, so the demo shows real logs.

`webapp/` is the project (a greeting service with unit tests, a linter and a build script).
Each sample is a pipeline declaration plus what it needs before it can run: the source zips
to put in the demo's source bucket, and how many extra executions to start so a QUEUED
pipeline shows several in flight. Every pipeline reads its source from S3 (the source
provider that needs nothing but the endpoint itself) and runs Commands actions, so the demo
needs no git, no Docker and no AWS account.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCE_BUCKET = "pipetop-demo-source"
ARTIFACT_BUCKET = "pipetop-demo-artifacts"
SITE_BUCKET = "pipetop-demo-site"
ROLE_ARN = "arn:aws:iam::000000000000:role/pipetop-demo"
PROJECT_DIR = Path(__file__).resolve().parent / "webapp"


@dataclass(frozen=True)
class Sample:
    name: str
    declaration: dict[str, Any]
    # Object key in SOURCE_BUCKET -> (zip bytes, revision summary shown as the commit message).
    sources: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    # Executions to start after CreatePipeline's own one.
    extra_executions: int = 0


def project_zip(overrides: dict[str, str] | None = None) -> bytes:
    """The webapp project as a source zip, with some files replaced (to make a test fail)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(PROJECT_DIR.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                name = path.relative_to(PROJECT_DIR).as_posix()
                if overrides and name in overrides:
                    continue
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.external_attr = (path.stat().st_mode & 0o777) << 16
                archive.writestr(info, path.read_bytes())
        for name, text in (overrides or {}).items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _source(key: str, output: str = "Source") -> dict[str, Any]:
    return {
        "name": "Source",
        "actions": [
            {
                "name": "Checkout",
                "actionTypeId": {
                    "category": "Source",
                    "owner": "AWS",
                    "provider": "S3",
                    "version": "1",
                },
                "configuration": {
                    "S3Bucket": SOURCE_BUCKET,
                    "S3ObjectKey": key,
                    "PollForSourceChanges": "false",
                },
                "outputArtifacts": [{"name": output}],
                "namespace": "SourceVariables",
            }
        ],
    }


def _commands(
    name: str,
    commands: list[str],
    *,
    inputs: tuple[str, ...] = ("Source",),
    output: str | None = None,
    files: list[str] | None = None,
    run_order: int = 1,
    output_variables: list[str] | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {
            "category": "Compute",
            "owner": "AWS",
            "provider": "Commands",
            "version": "1",
        },
        "runOrder": run_order,
        "commands": commands,
        "inputArtifacts": [{"name": i} for i in inputs],
    }
    if output:
        action["outputArtifacts"] = [{"name": output, "files": files or ["**/*"]}]
    if output_variables:
        action["outputVariables"] = output_variables
    if namespace:
        action["namespace"] = namespace
    return action


def _pipeline(
    name: str, stages: list[dict[str, Any]], *, mode: str = "SUPERSEDED"
) -> dict[str, Any]:
    return {
        "name": name,
        "roleArn": ROLE_ARN,
        "artifactStore": {"type": "S3", "location": ARTIFACT_BUCKET},
        "pipelineType": "V2",
        "executionMode": mode,
        "variables": [
            {
                "name": "Environment",
                "defaultValue": "production",
                "description": "Where Deploy ships to",
            }
        ],
        "stages": stages,
    }


def _test_stage() -> dict[str, Any]:
    return {
        "name": "Test",
        "actions": [
            _commands("UnitTests", ["python3 -m unittest discover -v -s tests -t ."]),
            _commands("Lint", ["python3 lint.py"]),
        ],
    }


def _build_stage() -> dict[str, Any]:
    return {
        "name": "Build",
        "actions": [
            _commands(
                "Compile",
                [
                    "sh build.sh",
                    'export VERSION=$(python3 -c "import greeter; print(greeter.__version__)")',
                ],
                output="BuildOutput",
                files=["dist/**/*"],
                output_variables=["VERSION"],
                namespace="BuildVariables",
            )
        ],
    }


def _deploy_stage() -> dict[str, Any]:
    return {
        "name": "Deploy",
        "actions": [
            _commands(
                "Publish",
                [
                    'echo "Deploying greeter #{BuildVariables.VERSION} to #{variables.Environment}"',
                    "ls -l dist/site",
                    "sleep 2",
                    'echo "Released #{BuildVariables.VERSION} (commit #{SourceVariables.VersionId})"',
                ],
                inputs=("BuildOutput",),
            )
        ],
    }


def web_app() -> Sample:
    """Source, build, parallel unit tests and lint, manual approval, deploy."""
    approve = {
        "name": "Approve",
        "actions": [
            {
                "name": "ReleaseApproval",
                "actionTypeId": {
                    "category": "Approval",
                    "owner": "AWS",
                    "provider": "Manual",
                    "version": "1",
                },
                "configuration": {
                    "CustomData": "Release greeter #{BuildVariables.VERSION} to #{variables.Environment}?",
                    "ExternalEntityLink": "https://example.com/greeter/changelog",
                },
            }
        ],
    }
    return Sample(
        name="web-app",
        declaration=_pipeline(
            "web-app",
            [_source("web-app.zip"), _build_stage(), _test_stage(), approve, _deploy_stage()],
        ),
        sources={"web-app.zip": (project_zip(), "Escape user input in the greeting page")},
    )


def flaky_tests() -> Sample:
    """A pipeline whose unit tests fail, so a retry can be shown."""
    broken = (
        (PROJECT_DIR / "tests" / "test_greeter.py")
        .read_text()
        .replace('"Hello, Ada!"', '"Hello, Ada."')
    )
    return Sample(
        name="payments-api",
        declaration=_pipeline(
            "payments-api",
            [_source("payments-api.zip"), _build_stage(), _test_stage(), _deploy_stage()],
        ),
        sources={
            "payments-api.zip": (
                project_zip({"tests/test_greeter.py": broken}),
                "Change the greeting punctuation",
            )
        },
    )


def queued_releases() -> Sample:
    """A QUEUED pipeline with several executions in flight."""
    build = _commands(
        "Package",
        [
            'echo "Packaging a release candidate"',
            "sh build.sh",
            'export VERSION=$(python3 -c "import greeter; print(greeter.__version__)")',
        ],
        output="BuildOutput",
        files=["dist/**/*"],
        output_variables=["VERSION"],
        namespace="BuildVariables",
    )
    return Sample(
        name="release-train",
        declaration=_pipeline(
            "release-train",
            [_source("release-train.zip"), {"name": "Build", "actions": [build]}, _deploy_stage()],
            mode="QUEUED",
        ),
        sources={"release-train.zip": (project_zip(), "Bump the greeter to 1.4.2")},
        extra_executions=2,
    )


def demo_samples() -> list[Sample]:
    return [web_app(), flaky_tests(), queued_releases()]
