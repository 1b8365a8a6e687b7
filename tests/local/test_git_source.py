"""CodeCommit and CodeStarSourceConnection source actions on real git repositories."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.endpoint import Endpoint
from tests.local.pipelines import (
    action_executions,
    commands,
    latest_execution_id,
    stage,
    wait_status,
)
from tests.local.sources import (
    CONNECTION_ARN,
    EndpointStarter,
    GitRepo,
    codecommit_source,
    connection_source,
    pipeline_with,
)

StartEndpoint = EndpointStarter


@pytest.fixture
def start_endpoint(tmp_path: Path) -> Iterator[EndpointStarter]:
    starter = EndpointStarter(tmp_path / "data")
    yield starter
    starter.stop_all()


def source_action_run(client: Any, name: str, execution_id: str) -> dict[str, Any]:
    runs = action_executions(client, name, execution_id)
    return next(r for r in runs if r["stageName"] == "Source")


def artifact_zip(endpoint: Endpoint, run: dict[str, Any]) -> zipfile.ZipFile:
    location = run["output"]["outputArtifacts"][0]["s3location"]
    body = endpoint.client("s3").get_object(Bucket=location["bucket"], Key=location["key"])["Body"]
    return zipfile.ZipFile(io.BytesIO(body.read()))


def run_pipeline(endpoint: Endpoint, declaration: dict[str, Any], **start: Any) -> tuple[str, str]:
    """Create the pipeline (which starts it) or start it again; returns (execution id, status)."""
    client = endpoint.client("codepipeline")
    name = declaration["name"]
    if start:
        execution_id = client.start_pipeline_execution(name=name, **start)["pipelineExecutionId"]
    else:
        client.create_pipeline(pipeline=declaration)
        execution_id = latest_execution_id(client, name)
    return execution_id, wait_status(client, name, execution_id)


def test_codecommit_branch_head_from_the_default_path(start_endpoint: StartEndpoint) -> None:
    endpoint = start_endpoint()
    repo = GitRepo(endpoint.data_dir / "repos" / "my-app")
    repo.commit({"README.md": "old\n"}, "First commit")
    head = repo.commit(
        {"README.md": "hello\n", "bin/run.sh": "#!/bin/sh\necho run\n"},
        "Second commit\n\nWith a body.",
        executable=("bin/run.sh",),
        symlinks={"docs/readme-link": "../README.md"},
        author=("Grace Hopper", "grace@example.com"),
        date="2025-03-04T05:06:07Z",
    )
    repo.commit({"README.md": "on another branch\n"}, "Elsewhere", branch="feature")
    declaration = pipeline_with(
        "git-app",
        [codecommit_source("my-app")],
        stage(
            "Check",
            commands(
                "Inspect",
                [
                    'test "$(cat README.md)" = hello',
                    "test -x bin/run.sh",
                    'test "$(readlink docs/readme-link)" = ../README.md',
                    'test "#{Source.CommitId}" = ' + head,
                ],
            ),
        ),
    )
    execution_id, status = run_pipeline(endpoint, declaration)
    client = endpoint.client("codepipeline")
    assert status == "Succeeded"

    run = source_action_run(client, "git-app", execution_id)
    assert run["output"]["executionResult"]["externalExecutionId"] == head
    assert run["output"]["executionResult"]["externalExecutionSummary"] == (
        "Second commit\n\nWith a body."
    )
    assert run["output"]["outputVariables"] == {
        "CommitId": head,
        "CommitMessage": "Second commit\n\nWith a body.",
        "AuthorDate": "2025-03-04T05:06:07Z",
        "CommitterDate": "2025-03-04T05:06:07Z",
        "BranchName": "main",
        "RepositoryName": "my-app",
    }

    with artifact_zip(endpoint, run) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        assert archive.read("README.md") == b"hello\n"
        assert stat.S_IMODE(infos["bin/run.sh"].external_attr >> 16) & 0o111
        link = infos["docs/readme-link"]
        assert stat.S_ISLNK(link.external_attr >> 16)
        assert archive.read(link) == b"../README.md"

    execution = client.get_pipeline_execution(
        pipelineName="git-app", pipelineExecutionId=execution_id
    )
    revision = execution["pipelineExecution"]["artifactRevisions"][0]
    assert revision["name"] == "SourceOut"
    assert revision["revisionId"] == head
    assert revision["revisionSummary"] == "Second commit\n\nWith a body."
    assert revision["revisionChangeIdentifier"] == "2025-03-04T05:06:07Z"
    assert revision["created"].timestamp() == 1741064767
    summary = client.list_pipeline_executions(pipelineName="git-app")["pipelineExecutionSummaries"][
        0
    ]
    assert summary["sourceRevisions"] == [
        {
            "actionName": "Fetch",
            "revisionId": head,
            "revisionSummary": "Second commit\n\nWith a body.",
        }
    ]
    state = client.get_pipeline_state(name="git-app")["stageStates"][0]["actionStates"][0]
    assert state["currentRevision"]["revisionId"] == head


def test_connection_source_from_a_configured_bare_repository(
    start_endpoint: StartEndpoint, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "elsewhere" / "web.git", bare=True)
    head = repo.commit(
        {"index.html": "<h1>hi</h1>\n"},
        'Say "hi"',
        author=("Linus T", "linus@example.com"),
        date="2025-06-07T08:09:10Z",
    )
    endpoint = start_endpoint(f'[repositories]\n"octo/web" = "{repo.path}"\n')
    declaration = pipeline_with(
        "web",
        [connection_source("octo/web", OutputArtifactFormat="CODE_ZIP")],
        stage("Check", commands("Inspect", ["grep -q hi index.html"])),
    )
    execution_id, status = run_pipeline(endpoint, declaration)
    assert status == "Succeeded"
    client = endpoint.client("codepipeline")
    run = source_action_run(client, "web", execution_id)
    expected_summary = json.dumps({"ProviderType": "GitHub", "CommitMessage": 'Say "hi"'})
    assert json.loads(run["output"]["executionResult"]["externalExecutionSummary"]) == json.loads(
        expected_summary
    )
    assert run["output"]["outputVariables"] == {
        "CommitId": head,
        "CommitMessage": 'Say "hi"',
        "AuthorDate": "2025-06-07T08:09:10Z",
        "CommitterDate": "2025-06-07T08:09:10Z",
        "BranchName": "main",
        "FullRepositoryName": "octo/web",
        "ConnectionArn": CONNECTION_ARN,
        "AuthorId": "linus@example.com",
        "AuthorEmail": "linus@example.com",
        "AuthorDisplayName": "Linus T",
        "ProviderType": "GitHub",
    }
    execution = client.get_pipeline_execution(pipelineName="web", pipelineExecutionId=execution_id)
    revision_summary = execution["pipelineExecution"]["artifactRevisions"][0]["revisionSummary"]
    assert json.loads(revision_summary) == {"ProviderType": "GitHub", "CommitMessage": 'Say "hi"'}


def test_commit_id_override_selects_a_commit_on_the_branch(start_endpoint: StartEndpoint) -> None:
    endpoint = start_endpoint()
    repo = GitRepo(endpoint.data_dir / "repos" / "octo" / "api")
    first = repo.commit({"VERSION": "1\n"}, "Version 1")
    repo.commit({"VERSION": "2\n"}, "Version 2")
    other = repo.commit({"VERSION": "side\n"}, "Side branch", branch="side")
    declaration = pipeline_with(
        "api",
        [connection_source("octo/api")],
        stage("Check", commands("Inspect", ['echo "version $(cat VERSION)"'])),
    )
    _, status = run_pipeline(endpoint, declaration)
    assert status == "Succeeded"
    client = endpoint.client("codepipeline")

    override = [{"actionName": "Fetch", "revisionType": "COMMIT_ID", "revisionValue": first}]
    execution_id, status = run_pipeline(endpoint, declaration, sourceRevisions=override)
    assert status == "Succeeded"
    run = source_action_run(client, "api", execution_id)
    assert run["output"]["outputVariables"]["CommitId"] == first
    with artifact_zip(endpoint, run) as archive:
        assert archive.read("VERSION") == b"1\n"

    # An abbreviated id works too.
    short = [{"actionName": "Fetch", "revisionType": "COMMIT_ID", "revisionValue": first[:10]}]
    execution_id, status = run_pipeline(endpoint, declaration, sourceRevisions=short)
    assert status == "Succeeded"
    assert (
        source_action_run(client, "api", execution_id)["output"]["outputVariables"]["CommitId"]
        == first
    )

    off_branch = [{"actionName": "Fetch", "revisionType": "COMMIT_ID", "revisionValue": other}]
    execution_id, status = run_pipeline(endpoint, declaration, sourceRevisions=off_branch)
    assert status == "Failed"
    summary = source_action_run(client, "api", execution_id)["output"]["executionResult"][
        "externalExecutionSummary"
    ]
    assert other in summary
    assert "not on the branch 'main'" in summary

    unknown = [{"actionName": "Fetch", "revisionType": "COMMIT_ID", "revisionValue": "0" * 40}]
    execution_id, status = run_pipeline(endpoint, declaration, sourceRevisions=unknown)
    assert status == "Failed"
    summary = source_action_run(client, "api", execution_id)["output"]["executionResult"][
        "externalExecutionSummary"
    ]
    assert "0" * 40 in summary
    assert "does not exist" in summary

    not_a_commit = [{"actionName": "Fetch", "revisionType": "COMMIT_ID", "revisionValue": "main~1"}]
    execution_id, status = run_pipeline(endpoint, declaration, sourceRevisions=not_a_commit)
    assert status == "Failed"
    summary = source_action_run(client, "api", execution_id)["output"]["executionResult"][
        "externalExecutionSummary"
    ]
    assert "is not a commit id" in summary


def test_missing_repository_and_branch_fail_naming_what_to_fix(
    start_endpoint: StartEndpoint, tmp_path: Path
) -> None:
    endpoint = start_endpoint(f'[repositories]\n"mapped" = "{tmp_path / "nowhere"}"\n')
    client = endpoint.client("codepipeline")
    check = stage("Check", commands("Inspect", ["true"]))

    execution_id, status = run_pipeline(
        endpoint, pipeline_with("absent", [codecommit_source("absent")], check)
    )
    assert status == "Failed"
    summary = source_action_run(client, "absent", execution_id)["output"]["executionResult"][
        "externalExecutionSummary"
    ]
    assert str(endpoint.data_dir / "repos" / "absent") in summary
    assert "(no such directory)" in summary
    assert "[repositories]" in summary
    assert "config.toml" in summary

    execution_id, status = run_pipeline(
        endpoint, pipeline_with("mapped", [codecommit_source("mapped")], check)
    )
    assert status == "Failed"
    summary = source_action_run(client, "mapped", execution_id)["output"]["executionResult"][
        "externalExecutionSummary"
    ]
    assert str(tmp_path / "nowhere") in summary
    assert "maps 'mapped' there" in summary

    # A directory that is only inside another repository is not a repository.
    outer = GitRepo(tmp_path / "outer")
    outer.commit({"inner/file": "x\n"}, "Outer")
    (endpoint.data_dir / "repos").mkdir(exist_ok=True)
    (endpoint.data_dir / "repos" / "inner").symlink_to(outer.path / "inner")
    execution_id, status = run_pipeline(
        endpoint, pipeline_with("inner", [codecommit_source("inner")], check)
    )
    assert status == "Failed"
    summary = source_action_run(client, "inner", execution_id)["output"]["executionResult"][
        "externalExecutionSummary"
    ]
    assert "not a git repository" in summary

    repo = GitRepo(endpoint.data_dir / "repos" / "branchless")
    repo.commit({"a": "a\n"}, "Only main")
    declaration = pipeline_with(
        "branchless", [codecommit_source("branchless", branch="release")], check
    )
    execution_id, status = run_pipeline(endpoint, declaration)
    assert status == "Failed"
    summary = source_action_run(client, "branchless", execution_id)["output"]["executionResult"][
        "externalExecutionSummary"
    ]
    assert "'release'" in summary
    assert str(repo.path) in summary

    escaping = pipeline_with("escaping", [connection_source("../../etc")], check)
    execution_id, status = run_pipeline(endpoint, escaping)
    assert status == "Failed"
    summary = source_action_run(client, "escaping", execution_id)["output"]["executionResult"][
        "externalExecutionSummary"
    ]
    assert "not a repository name" in summary


def test_clone_ref_artifact_is_a_working_clone(start_endpoint: StartEndpoint) -> None:
    endpoint = start_endpoint()
    repo = GitRepo(endpoint.data_dir / "repos" / "cloned")
    first = repo.commit({"a.txt": "1\n"}, "One")
    head = repo.commit({"a.txt": "2\n", "tool.sh": "#!/bin/sh\n"}, "Two", executable=("tool.sh",))
    declaration = pipeline_with(
        "cloned",
        [codecommit_source("cloned", OutputArtifactFormat="CODEBUILD_CLONE_REF")],
        stage(
            "Check",
            commands(
                "Inspect",
                [
                    f'test "$(git rev-parse HEAD)" = {head}',
                    'test "$(git rev-parse --abbrev-ref HEAD)" = main',
                    f'test "$(git rev-parse HEAD~1)" = {first}',
                    'test -z "$(git status --porcelain)"',
                    "test -x tool.sh",
                ],
            ),
        ),
    )
    execution_id, status = run_pipeline(endpoint, declaration)
    assert status == "Succeeded"
    run = source_action_run(endpoint.client("codepipeline"), "cloned", execution_id)
    with artifact_zip(endpoint, run) as archive:
        names = archive.namelist()
    assert "a.txt" in names
    assert "tool.sh" in names
    assert any(n.startswith(".git/objects/") for n in names)


def test_bad_output_artifact_format_fails(start_endpoint: StartEndpoint) -> None:
    endpoint = start_endpoint()
    GitRepo(endpoint.data_dir / "repos" / "fmt").commit({"a": "a\n"}, "A")
    declaration = pipeline_with(
        "fmt",
        [codecommit_source("fmt", OutputArtifactFormat="TARBALL")],
        stage("Check", commands("Inspect", ["true"])),
    )
    execution_id, status = run_pipeline(endpoint, declaration)
    assert status == "Failed"
    summary = source_action_run(endpoint.client("codepipeline"), "fmt", execution_id)["output"][
        "executionResult"
    ]["externalExecutionSummary"]
    assert "TARBALL" in summary


def test_git_never_reads_the_users_config_or_environment(
    start_endpoint: StartEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A global config that would drop every file from archives, and a stray GIT_DIR.
    (tmp_path / "attributes").write_text("* export-ignore\n")
    (tmp_path / "gitconfig").write_text(f"[core]\n\tattributesFile = {tmp_path / 'attributes'}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".gitconfig").write_text((tmp_path / "gitconfig").read_text())
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "not-a-repository"))
    endpoint = start_endpoint()
    GitRepo(endpoint.data_dir / "repos" / "isolated").commit({"kept.txt": "kept\n"}, "Keep")
    declaration = pipeline_with(
        "isolated",
        [codecommit_source("isolated")],
        stage("Check", commands("Inspect", ["test -f kept.txt"])),
    )
    execution_id, status = run_pipeline(endpoint, declaration)
    assert status == "Succeeded"
    run = source_action_run(endpoint.client("codepipeline"), "isolated", execution_id)
    with artifact_zip(endpoint, run) as archive:
        assert archive.namelist() == ["kept.txt"]
