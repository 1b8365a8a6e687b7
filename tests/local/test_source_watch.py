"""Source change detection: real repositories and objects change, the clock moves, runs start."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import (
    SOURCE_BUCKET,
    SOURCE_KEY,
    action_executions,
    commands,
    stage,
    upload_source,
    wait_status,
    zip_bytes,
)
from tests.local.sources import (
    CONNECTION_ARN,
    EndpointStarter,
    GitRepo,
    codecommit_source,
    connection_source,
    pipeline_with,
    watch_tick,
)
from tests.process import ServerProcess
from tui.local.engine.source_watch import glob_regex


@pytest.fixture
def start_endpoint(tmp_path: Path) -> Iterator[EndpointStarter]:
    starter = EndpointStarter(tmp_path / "data")
    yield starter
    starter.stop_all()


def summaries(endpoint: Endpoint, name: str) -> list[dict[str, Any]]:
    """Executions of a pipeline, newest first."""
    client = endpoint.client("codepipeline")
    return list(client.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"])


def create_and_settle(
    endpoint: Endpoint, declaration: dict[str, Any], *, watched: bool = True
) -> None:
    """Create the pipeline, let its first execution finish and the watcher see its sources."""
    client = endpoint.client("codepipeline")
    client.create_pipeline(pipeline=declaration)
    name = declaration["name"]
    first = summaries(endpoint, name)[0]["pipelineExecutionId"]
    wait_status(client, name, first)
    watcher = endpoint.backend.source_watch
    for action in declaration["stages"][0]["actions"] if watched else []:
        wait_for(lambda a=action: endpoint.call(lambda: watcher.seen(name, a["name"])) is not None)


def check_stage() -> dict[str, Any]:
    return stage("Check", commands("Inspect", ["true"]))


def source_variables(endpoint: Endpoint, name: str, execution_id: str) -> dict[str, str]:
    runs = action_executions(endpoint.client("codepipeline"), name, execution_id)
    run = next(r for r in runs if r["stageName"] == "Source")
    return dict(run["output"]["outputVariables"])


def test_a_new_commit_starts_a_polling_codecommit_pipeline(start_endpoint: EndpointStarter) -> None:
    endpoint = start_endpoint()
    repo = GitRepo(endpoint.data_dir / "repos" / "polled")
    repo.commit({"a.txt": "1\n"}, "One")
    create_and_settle(
        endpoint, pipeline_with("polled", [codecommit_source("polled")], check_stage())
    )
    watch_tick(endpoint)
    assert len(summaries(endpoint, "polled")) == 1

    second = repo.commit({"a.txt": "2\n"}, "Two")
    repo.commit({"b.txt": "elsewhere\n"}, "Not watched", branch="other")
    watch_tick(endpoint)
    runs = summaries(endpoint, "polled")
    assert len(runs) == 2
    assert runs[0]["trigger"] == {
        "triggerType": "PollForSourceChanges",
        "triggerDetail": "arn:aws:codecommit:us-east-1:000000000000:polled",
    }
    client = endpoint.client("codepipeline")
    assert wait_status(client, "polled", runs[0]["pipelineExecutionId"]) == "Succeeded"
    assert (
        source_variables(endpoint, "polled", runs[0]["pipelineExecutionId"])["CommitId"] == second
    )

    watch_tick(endpoint)
    assert len(summaries(endpoint, "polled")) == 2


def test_connection_push_starts_a_webhook_run_on_the_pushed_commit(
    start_endpoint: EndpointStarter,
) -> None:
    endpoint = start_endpoint()
    repo = GitRepo(endpoint.data_dir / "repos" / "octo" / "hooked", bare=True)
    repo.commit({"a.txt": "1\n"}, "One")
    create_and_settle(
        endpoint, pipeline_with("hooked", [connection_source("octo/hooked")], check_stage())
    )
    pushed = repo.commit({"a.txt": "2\n"}, "Two")
    watch_tick(endpoint)
    runs = summaries(endpoint, "hooked")
    assert len(runs) == 2
    assert runs[0]["trigger"] == {"triggerType": "Webhook", "triggerDetail": CONNECTION_ARN}
    # Another commit before the run reads its source: the run still uses the pushed commit.
    repo.commit({"a.txt": "3\n"}, "Three")
    execution_id = runs[0]["pipelineExecutionId"]
    assert wait_status(endpoint.client("codepipeline"), "hooked", execution_id) == "Succeeded"
    variables = source_variables(endpoint, "hooked", execution_id)
    assert variables["CommitId"] == pushed
    assert variables["BranchName"] == "main"


def test_sources_that_do_not_ask_for_detection_never_start(
    start_endpoint: EndpointStarter,
) -> None:
    endpoint = start_endpoint()
    quiet = GitRepo(endpoint.data_dir / "repos" / "quiet")
    quiet.commit({"a": "1\n"}, "One")
    silent = GitRepo(endpoint.data_dir / "repos" / "octo" / "silent")
    silent.commit({"a": "1\n"}, "One")
    upload_source(endpoint)
    create_and_settle(
        endpoint,
        pipeline_with(
            "quiet", [codecommit_source("quiet", PollForSourceChanges="false")], check_stage()
        ),
        watched=False,
    )
    create_and_settle(
        endpoint,
        pipeline_with(
            "silent", [connection_source("octo/silent", DetectChanges="false")], check_stage()
        ),
        watched=False,
    )
    client = endpoint.client("codepipeline")
    client.create_pipeline(
        pipeline=pipeline_with(
            "unpolled",
            [
                {
                    "name": "Fetch",
                    "actionTypeId": {
                        "category": "Source",
                        "owner": "AWS",
                        "provider": "S3",
                        "version": "1",
                    },
                    "configuration": {
                        "S3Bucket": SOURCE_BUCKET,
                        "S3ObjectKey": SOURCE_KEY,
                        "PollForSourceChanges": "false",
                    },
                    "outputArtifacts": [{"name": "SourceOut"}],
                }
            ],
            check_stage(),
        )
    )
    quiet.commit({"a": "2\n"}, "Two")
    silent.commit({"a": "2\n"}, "Two")
    upload_source(endpoint, {"README.md": "changed\n"})
    watch_tick(endpoint)
    watch_tick(endpoint)
    for name in ("quiet", "silent", "unpolled"):
        assert len(summaries(endpoint, name)) == 1, name
    watcher = endpoint.backend.source_watch
    assert endpoint.call(lambda: watcher.seen("quiet", "Fetch")) is None


def test_a_new_object_version_starts_a_polling_s3_pipeline(start_endpoint: EndpointStarter) -> None:
    endpoint = start_endpoint()
    upload_source(endpoint)
    source = {
        "name": "Fetch",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"S3Bucket": SOURCE_BUCKET, "S3ObjectKey": SOURCE_KEY},
        "outputArtifacts": [{"name": "SourceOut"}],
    }
    create_and_settle(endpoint, pipeline_with("objects", [source], check_stage()))
    watch_tick(endpoint)
    assert len(summaries(endpoint, "objects")) == 1
    version = upload_source(endpoint, {"README.md": "v2\n"})
    watch_tick(endpoint)
    runs = summaries(endpoint, "objects")
    assert len(runs) == 2
    assert runs[0]["trigger"] == {
        "triggerType": "PollForSourceChanges",
        "triggerDetail": f"arn:aws:s3:::{SOURCE_BUCKET}/{SOURCE_KEY}",
    }
    client = endpoint.client("codepipeline")
    assert wait_status(client, "objects", runs[0]["pipelineExecutionId"]) == "Succeeded"
    assert runs[0]["pipelineExecutionId"]
    assert (
        source_variables(endpoint, "objects", runs[0]["pipelineExecutionId"])["VersionId"]
        == version
    )
    # Deleting the object starts nothing.
    endpoint.client("s3").delete_object(Bucket=SOURCE_BUCKET, Key=SOURCE_KEY)
    watch_tick(endpoint)
    assert len(summaries(endpoint, "objects")) == 2


def test_trigger_filters_choose_branches_tags_and_file_paths(
    start_endpoint: EndpointStarter,
) -> None:
    endpoint = start_endpoint()
    repo = GitRepo(endpoint.data_dir / "repos" / "octo" / "mono")
    repo.commit({"src/app.py": "1\n", "docs/readme.md": "1\n"}, "Start")
    triggers = [
        {
            "providerType": "CodeStarSourceConnection",
            "gitConfiguration": {
                "sourceActionName": "Fetch",
                "push": [
                    {
                        "branches": {"includes": ["release/**"], "excludes": ["release/old*"]},
                        "filePaths": {"includes": ["src/**"]},
                    },
                    {"tags": {"includes": ["v*"]}},
                ],
            },
        }
    ]
    declaration = pipeline_with(
        "mono",
        [connection_source("octo/mono", DetectChanges="false")],
        check_stage(),
        triggers=triggers,
    )
    create_and_settle(endpoint, declaration)

    repo.commit({"src/app.py": "main\n"}, "On main", branch="main")
    repo.commit({"src/app.py": "feature\n"}, "On a feature", branch="feature/x")
    repo.commit({"docs/readme.md": "docs only\n"}, "Docs", branch="release/1")
    repo.commit({"src/app.py": "old\n"}, "Old release", branch="release/old-1")
    watch_tick(endpoint)
    assert len(summaries(endpoint, "mono")) == 1

    release = repo.commit({"src/app.py": "release\n"}, "Release code", branch="release/1")
    watch_tick(endpoint)
    runs = summaries(endpoint, "mono")
    assert len(runs) == 2
    assert runs[0]["trigger"] == {"triggerType": "WebhookV2", "triggerDetail": CONNECTION_ARN}
    client = endpoint.client("codepipeline")
    assert wait_status(client, "mono", runs[0]["pipelineExecutionId"]) == "Succeeded"
    variables = source_variables(endpoint, "mono", runs[0]["pipelineExecutionId"])
    assert variables["CommitId"] == release
    assert variables["BranchName"] == "release/1"

    repo.tag("v1.0", release)
    repo.tag("build-7", release)
    watch_tick(endpoint)
    runs = summaries(endpoint, "mono")
    assert len(runs) == 3
    assert wait_status(client, "mono", runs[0]["pipelineExecutionId"]) == "Succeeded"
    assert source_variables(endpoint, "mono", runs[0]["pipelineExecutionId"])["CommitId"] == release


def test_changes_while_stopped_start_after_restart_and_deleted_pipelines_are_forgotten(
    start_endpoint: EndpointStarter,
) -> None:
    endpoint = start_endpoint()
    repo = GitRepo(endpoint.data_dir / "repos" / "durable")
    repo.commit({"a": "1\n"}, "One")
    create_and_settle(
        endpoint, pipeline_with("durable", [codecommit_source("durable")], check_stage())
    )
    create_and_settle(
        endpoint, pipeline_with("doomed", [codecommit_source("durable")], check_stage())
    )
    start_endpoint.stop(endpoint)

    repo.commit({"a": "2\n"}, "Two")
    endpoint = start_endpoint()
    endpoint.client("codepipeline").delete_pipeline(name="doomed")
    watch_tick(endpoint)
    runs = summaries(endpoint, "durable")
    assert len(runs) == 2
    assert runs[0]["trigger"]["triggerType"] == "PollForSourceChanges"
    watcher = endpoint.backend.source_watch
    assert endpoint.call(lambda: watcher.seen("doomed", "Fetch")) is None

    # The same name created again starts from a first sight, not from the old record.
    repo.commit({"a": "3\n"}, "Three")
    create_and_settle(
        endpoint, pipeline_with("doomed", [codecommit_source("durable")], check_stage())
    )
    watch_tick(endpoint)
    assert len(summaries(endpoint, "doomed")) == 1


def test_an_updated_source_is_seen_afresh(start_endpoint: EndpointStarter) -> None:
    endpoint = start_endpoint()
    repo = GitRepo(endpoint.data_dir / "repos" / "moving")
    repo.commit({"a": "1\n"}, "One")
    repo.commit({"a": "dev\n"}, "Dev", branch="develop")
    create_and_settle(
        endpoint, pipeline_with("moving", [codecommit_source("moving")], check_stage())
    )
    client = endpoint.client("codepipeline")
    client.update_pipeline(
        pipeline=pipeline_with(
            "moving", [codecommit_source("moving", branch="develop")], check_stage()
        )
    )
    watch_tick(endpoint)
    assert len(summaries(endpoint, "moving")) == 1
    repo.commit({"a": "main 2\n"}, "Main moves", branch="main")
    watch_tick(endpoint)
    assert len(summaries(endpoint, "moving")) == 1
    developed = repo.commit({"a": "dev 2\n"}, "Dev moves", branch="develop")
    watch_tick(endpoint)
    runs = summaries(endpoint, "moving")
    assert len(runs) == 2
    assert wait_status(client, "moving", runs[0]["pipelineExecutionId"]) == "Succeeded"
    assert (
        source_variables(endpoint, "moving", runs[0]["pipelineExecutionId"])["CommitId"]
        == developed
    )


def test_a_repository_created_later_is_a_change(start_endpoint: EndpointStarter) -> None:
    endpoint = start_endpoint()
    create_and_settle(endpoint, pipeline_with("late", [codecommit_source("late")], check_stage()))
    assert summaries(endpoint, "late")[0]["status"] == "Failed"
    watch_tick(endpoint)
    GitRepo(endpoint.data_dir / "repos" / "late").commit({"a": "1\n"}, "Finally")
    watch_tick(endpoint)
    runs = summaries(endpoint, "late")
    assert len(runs) == 2
    assert (
        wait_status(endpoint.client("codepipeline"), "late", runs[0]["pipelineExecutionId"])
        == "Succeeded"
    )


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("release/**", ["release/1", "release/a/b"], ["releases/1", "main"]),
        ("release/*", ["release/1"], ["release/a/b"]),
        ("src/**/*.js", ["src/a/b.js", "src/a/b/c.js"], ["src/a.ts", "lib/a.js"]),
        ("*.{js,ts}", ["a.js", "b.ts"], ["a.py", "dir/a.js"]),
        ("v?", ["v1"], ["v10"]),
        ("[!a]bc", ["xbc"], ["abc"]),
        ("a\\*b", ["a*b"], ["axb"]),
        ("**", ["anything/at/all"], []),
    ],
)
def test_trigger_globs(pattern: str, matches: list[str], misses: list[str]) -> None:
    regex = glob_regex(pattern)
    for name in matches:
        assert regex.fullmatch(name), (pattern, name)
    for name in misses:
        assert not regex.fullmatch(name), (pattern, name)


def test_a_served_endpoint_watches_on_the_wall_clock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    repo = GitRepo(data / "repos" / "served")
    repo.commit({"a": "1\n"}, "One")
    with ServerProcess(data, "--watch-interval", "0.2") as server:
        client = server.client("codepipeline")
        client.create_pipeline(
            pipeline=pipeline_with("served", [codecommit_source("served")], check_stage())
        )
        first = client.list_pipeline_executions(pipelineName="served")[
            "pipelineExecutionSummaries"
        ][0]["pipelineExecutionId"]
        assert wait_status(client, "served", first) == "Succeeded"
        time.sleep(0.5)  # at least one look after the first run: the baseline is recorded
        repo.commit({"a": "2\n"}, "Two")

        def second() -> list[dict[str, Any]] | None:
            runs = client.list_pipeline_executions(pipelineName="served")[
                "pipelineExecutionSummaries"
            ]
            return runs if len(runs) == 2 else None

        runs = wait_for(second)
        assert runs[0]["trigger"]["triggerType"] == "PollForSourceChanges"
        assert server.terminate() == 0


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan"])
def test_serve_refuses_a_bad_watch_interval(tmp_path: Path, value: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "local",
            "serve",
            "--data-dir",
            str(tmp_path / "d"),
            "--watch-interval",
            value,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--watch-interval" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_overwrite_in_an_unversioned_bucket_is_a_change(
    start_endpoint: EndpointStarter,
) -> None:
    endpoint = start_endpoint()
    s3 = endpoint.client("s3")
    s3.create_bucket(Bucket="plain")
    first = zip_bytes({"a": "1\n"})
    s3.put_object(Bucket="plain", Key="src.zip", Body=first)
    source = {
        "name": "Fetch",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"S3Bucket": "plain", "S3ObjectKey": "src.zip"},
        "outputArtifacts": [{"name": "SourceOut"}],
    }
    create_and_settle(endpoint, pipeline_with("plain", [source], check_stage()))
    # The same bytes again: version "null" and the same ETag, so nothing changed.
    s3.put_object(Bucket="plain", Key="src.zip", Body=first)
    watch_tick(endpoint)
    assert len(summaries(endpoint, "plain")) == 1
    s3.put_object(Bucket="plain", Key="src.zip", Body=zip_bytes({"a": "2\n"}))
    watch_tick(endpoint)
    runs = summaries(endpoint, "plain")
    assert len(runs) == 2
    assert runs[0]["trigger"]["triggerType"] == "PollForSourceChanges"
