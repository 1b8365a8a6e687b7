"""The S3 deploy action, into the endpoint's own S3, read back through a real S3 client."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.endpoint import Endpoint
from tests.local.pipelines import (
    SOURCE_BUCKET,
    SOURCE_KEY,
    action_executions,
    latest_execution_id,
    pipeline,
    stage,
    upload_source,
    wait_status,
)
from tests.local.sources import (
    EndpointStarter,
    GitRepo,
    codecommit_source,
    pipeline_with,
    s3_deploy,
)


@pytest.fixture
def start_endpoint(tmp_path: Path) -> Iterator[EndpointStarter]:
    starter = EndpointStarter(tmp_path / "data")
    yield starter
    starter.stop_all()


SITE = {
    "index.html": "<h1>home</h1>\n",
    "css/site.css": "body {}\n",
    "js/app.js": "console.log(1)\n",
    "data/blob.unknownext": "raw\n",
}


def deploy(endpoint: Endpoint, name: str, action: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Run a pipeline (S3 source -> the deploy action); returns its status and the deploy run."""
    client = endpoint.client("codepipeline")
    client.create_pipeline(pipeline=pipeline(name, stage("Deploy", action)))
    execution_id = latest_execution_id(client, name)
    status = wait_status(client, name, execution_id)
    run = next(
        r for r in action_executions(client, name, execution_id) if r["stageName"] == "Deploy"
    )
    return status, run


def test_extract_deploys_every_file_under_the_prefix(endpoint: Endpoint) -> None:
    upload_source(endpoint, SITE)
    s3 = endpoint.client("s3")
    s3.create_bucket(Bucket="website")
    s3.put_object(Bucket="website", Key="web/old.txt", Body=b"kept")
    status, run = deploy(
        endpoint,
        "site",
        s3_deploy(
            "Publish",
            "website",
            extract=True,
            ObjectKey="/web/",
            CacheControl="max-age=60",
            CannedACL="public-read",
            KMSEncryptionKeyARN="arn:aws:kms:us-east-1:000000000000:key/abc",
        ),
    )
    assert status == "Succeeded"
    assert run["output"]["executionResult"]["externalExecutionSummary"] == (
        "Deployed 4 objects to s3://website/web/"
    )
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="website")["Contents"])
    assert keys == [
        "web/css/site.css",
        "web/data/blob.unknownext",
        "web/index.html",
        "web/js/app.js",
        "web/old.txt",
    ]
    page = s3.get_object(Bucket="website", Key="web/index.html")
    assert page["Body"].read() == b"<h1>home</h1>\n"
    assert page["ContentType"] == "text/html"
    assert page["CacheControl"] == "max-age=60"
    assert s3.head_object(Bucket="website", Key="web/css/site.css")["ContentType"] == "text/css"
    assert (
        s3.head_object(Bucket="website", Key="web/data/blob.unknownext")["ContentType"]
        == "binary/octet-stream"
    )


def test_extract_without_a_key_deploys_to_the_bucket_root(endpoint: Endpoint) -> None:
    upload_source(endpoint, {"a.txt": "a\n"})
    s3 = endpoint.client("s3")
    s3.create_bucket(Bucket="rooted")
    status, run = deploy(endpoint, "rooted", s3_deploy("Publish", "rooted", extract=True))
    assert status == "Succeeded"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="rooted")["Contents"]] == ["a.txt"]
    assert "CacheControl" not in s3.head_object(Bucket="rooted", Key="a.txt")
    assert run["output"]["executionResult"]["externalExecutionSummary"] == (
        "Deployed 1 object to s3://rooted/"
    )


def test_without_extract_the_zip_itself_is_the_object(endpoint: Endpoint) -> None:
    upload_source(endpoint, SITE)
    s3 = endpoint.client("s3")
    s3.create_bucket(Bucket="archive")
    status, run = deploy(
        endpoint,
        "archive",
        s3_deploy(
            "Publish",
            "archive",
            extract=False,
            ObjectKey="builds/{datetime}/app-{uuid}.zip",
            CacheControl="no-cache",
        ),
    )
    assert status == "Succeeded"
    (listed,) = s3.list_objects_v2(Bucket="archive")["Contents"]
    key = listed["Key"]
    # The endpoint's ManualClock starts at 2026-01-01T00:00:00Z.
    assert re.fullmatch(r"builds/2026-01-01_00-00-00/app-[0-9a-f-]{36}\.zip", key), key
    body = s3.get_object(Bucket="archive", Key=key)
    source = s3.get_object(Bucket=SOURCE_BUCKET, Key=SOURCE_KEY)["Body"].read()
    assert body["Body"].read() == source
    assert sorted(zipfile.ZipFile(io.BytesIO(source)).namelist()) == sorted(SITE)
    assert body["ContentType"] == "application/zip"
    assert body["CacheControl"] == "no-cache"
    assert run["output"]["executionResult"]["externalExecutionSummary"] == (
        f"Deployed the artifact to s3://archive/{key}"
    )


def test_a_missing_bucket_fails_without_creating_it(endpoint: Endpoint) -> None:
    upload_source(endpoint, SITE)
    status, run = deploy(endpoint, "nobucket", s3_deploy("Publish", "not-there", extract=True))
    assert status == "Failed"
    summary = run["output"]["executionResult"]["externalExecutionSummary"]
    assert "'not-there' does not exist" in summary
    assert "create it first" in summary
    names = [b["Name"] for b in endpoint.client("s3").list_buckets()["Buckets"]]
    assert "not-there" not in names


def test_bad_configuration_values_fail(endpoint: Endpoint) -> None:
    upload_source(endpoint, SITE)
    endpoint.client("s3").create_bucket(Bucket="target")
    status, run = deploy(
        endpoint, "badextract", s3_deploy("Publish", "target", extract=True, Extract="maybe")
    )
    assert status == "Failed"
    assert (
        "Extract must be true or false"
        in run["output"]["executionResult"]["externalExecutionSummary"]
    )
    status, run = deploy(
        endpoint, "badacl", s3_deploy("Publish", "target", extract=True, CannedACL="everyone")
    )
    assert status == "Failed"
    assert "CannedACL 'everyone'" in run["output"]["executionResult"]["externalExecutionSummary"]
    assert "Contents" not in endpoint.client("s3").list_objects_v2(Bucket="target")


def test_links_deploy_the_files_they_point_to(start_endpoint: EndpointStarter) -> None:
    endpoint = start_endpoint()
    repo = GitRepo(endpoint.data_dir / "repos" / "linked")
    repo.commit(
        {"docs/guide.txt": "# guide\n"},
        "Docs with links",
        symlinks={"latest.txt": "docs/guide.txt", "manual": "docs"},
    )
    endpoint.client("s3").create_bucket(Bucket="linked-site")
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline_with(
            "linked",
            [codecommit_source("linked")],
            stage("Deploy", s3_deploy("Publish", "linked-site", extract=True)),
        )
    )
    execution_id = latest_execution_id(client, "linked")
    assert wait_status(client, "linked", execution_id) == "Succeeded"
    s3 = endpoint.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="linked-site")["Contents"])
    assert keys == ["docs/guide.txt", "latest.txt"]
    assert s3.get_object(Bucket="linked-site", Key="latest.txt")["Body"].read() == b"# guide\n"
    assert s3.head_object(Bucket="linked-site", Key="latest.txt")["ContentType"] == "text/plain"
