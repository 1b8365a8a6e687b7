"""Real git repositories for source-action tests, and builders of the actions under test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tests.endpoint import Endpoint, wait_for
from tests.local.pipelines import ARTIFACT_BUCKET, ROLE

CONNECTION_ARN = "arn:aws:codestar-connections:us-east-1:000000000000:connection/5c5d1d7e-0000-4000-8000-000000000001"


def git_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }


class EndpointStarter:
    """Starts endpoints on one data dir (after writing its config file, if given) and stops
    them all at the end; a test may stop one and start another on the same data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.started: list[Endpoint] = []

    def __call__(self, config: str | None = None) -> Endpoint:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if config is not None:
            (self.data_dir / "config.toml").write_text(config)
        endpoint = Endpoint(self.data_dir).start()
        self.started.append(endpoint)
        return endpoint

    def stop(self, endpoint: Endpoint) -> None:
        self.started.remove(endpoint)
        endpoint.stop()

    def stop_all(self) -> None:
        for endpoint in self.started:
            endpoint.stop()
        self.started.clear()


def watch_tick(endpoint: Endpoint) -> None:
    """Move the clock one watch interval and wait until that look at the sources is done."""
    watcher = endpoint.backend.source_watch
    before = endpoint.call(lambda: watcher.ticks)
    endpoint.advance(watcher.interval)
    wait_for(lambda: endpoint.call(lambda: watcher.ticks) > before)


class GitRepo:
    """A repository made with the real git binary: a work tree, or a bare one fed by a clone."""

    def __init__(self, path: Path, *, bare: bool = False, branch: str = "main") -> None:
        self.path = path
        self.bare = bare
        path.mkdir(parents=True, exist_ok=True)
        if bare:
            self.git("init", "--quiet", "--bare", f"--initial-branch={branch}")
            self.work = path.parent / f"{path.name}-work"
            self._run(["git", "clone", "--quiet", str(path), str(self.work)], cwd=path.parent)
            self._configure(self.work)
            self._run(["git", "checkout", "--quiet", "-b", branch], cwd=self.work)
        else:
            self.git("init", "--quiet", f"--initial-branch={branch}")
            self.work = path
            self._configure(path)

    def _configure(self, where: Path) -> None:
        self._run(["git", "config", "user.name", "Ada Lovelace"], cwd=where)
        self._run(["git", "config", "user.email", "ada@example.com"], cwd=where)

    def _run(self, argv: list[str], *, cwd: Path, extra: dict[str, str] | None = None) -> str:
        env = git_env() | (extra or {})
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{argv} failed: {done.stderr}")
        return done.stdout

    def git(self, *args: str) -> str:
        return self._run(["git", *args], cwd=self.path)

    def work_git(self, *args: str) -> str:
        return self._run(["git", *args], cwd=self.work)

    def commit(
        self,
        files: dict[str, str | None],
        message: str,
        *,
        branch: str | None = None,
        author: tuple[str, str] = ("Ada Lovelace", "ada@example.com"),
        date: str = "2025-01-02T03:04:05Z",
        executable: tuple[str, ...] = (),
        symlinks: dict[str, str] | None = None,
    ) -> str:
        """Write files (None deletes), commit them on `branch` (default: current), return the id."""
        if branch is not None:
            existing = self.work_git("branch", "--list", branch).strip()
            self.work_git("checkout", "--quiet", *(() if existing else ("-b",)), branch)
        for name, text in files.items():
            target = self.work / name
            if text is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            if name in executable:
                target.chmod(0o755)
        for name, link_target in (symlinks or {}).items():
            link = self.work / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(link_target)
        self.work_git("add", "-A")
        self._run(
            [
                "git",
                "commit",
                "--quiet",
                "--allow-empty",
                "-m",
                message,
                f"--author={author[0]} <{author[1]}>",
            ],
            cwd=self.work,
            extra={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )
        head = self.work_git("rev-parse", "HEAD").strip()
        if self.bare:
            current = self.work_git("rev-parse", "--abbrev-ref", "HEAD").strip()
            self.work_git("push", "--quiet", "origin", f"{current}:{current}")
        return head

    def tag(self, name: str, commit: str) -> None:
        self.work_git("tag", "-a", name, "-m", name, commit)
        if self.bare:
            self.work_git("push", "--quiet", "origin", name)


def codecommit_source(
    repository: str,
    *,
    branch: str = "main",
    output: str = "SourceOut",
    namespace: str | None = "Source",
    name: str = "Fetch",
    **configuration: str,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {
            "category": "Source",
            "owner": "AWS",
            "provider": "CodeCommit",
            "version": "1",
        },
        "configuration": {"RepositoryName": repository, "BranchName": branch, **configuration},
        "outputArtifacts": [{"name": output}],
    }
    if namespace:
        action["namespace"] = namespace
    return action


def connection_source(
    full_repository_id: str,
    *,
    branch: str = "main",
    output: str = "SourceOut",
    namespace: str | None = "Source",
    name: str = "Fetch",
    **configuration: str,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {
            "category": "Source",
            "owner": "AWS",
            "provider": "CodeStarSourceConnection",
            "version": "1",
        },
        "configuration": {
            "ConnectionArn": CONNECTION_ARN,
            "FullRepositoryId": full_repository_id,
            "BranchName": branch,
            **configuration,
        },
        "outputArtifacts": [{"name": output}],
    }
    if namespace:
        action["namespace"] = namespace
    return action


def s3_deploy(
    name: str, bucket: str, *, extract: bool, input_name: str = "SourceOut", **configuration: str
) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {
            "BucketName": bucket,
            "Extract": "true" if extract else "false",
            **configuration,
        },
        "inputArtifacts": [{"name": input_name}],
    }


def lambda_invoke(
    name: str,
    function: str,
    *,
    user_parameters: str | None = None,
    inputs: tuple[str, ...] = (),
    outputs: tuple[str, ...] = (),
    namespace: str | None = None,
    run_order: int = 1,
) -> dict[str, Any]:
    configuration = {"FunctionName": function}
    if user_parameters is not None:
        configuration["UserParameters"] = user_parameters
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {
            "category": "Invoke",
            "owner": "AWS",
            "provider": "Lambda",
            "version": "1",
        },
        "configuration": configuration,
        "runOrder": run_order,
        "inputArtifacts": [{"name": i} for i in inputs],
        "outputArtifacts": [{"name": o} for o in outputs],
    }
    if namespace:
        action["namespace"] = namespace
    return action


def pipeline_with(
    name: str,
    sources: list[dict[str, Any]],
    *stages: dict[str, Any],
    pipeline_type: str = "V2",
    triggers: list[dict[str, Any]] | None = None,
    mode: str | None = None,
) -> dict[str, Any]:
    """A pipeline whose first stage holds `sources` (any source actions) and then `stages`."""
    declaration: dict[str, Any] = {
        "name": name,
        "roleArn": ROLE,
        "artifactStore": {"type": "S3", "location": ARTIFACT_BUCKET},
        "stages": [{"name": "Source", "actions": sources}, *stages],
        "pipelineType": pipeline_type,
    }
    if triggers is not None:
        declaration["triggers"] = triggers
    if mode:
        declaration["executionMode"] = mode
    return declaration
