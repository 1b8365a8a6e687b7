"""Git source actions: CodeCommit, and CodeStarSourceConnection (also CodeConnections).

Both read a git repository on this machine with the real `git` binary (no shell, no network):

- CodeCommit (`RepositoryName`, `BranchName`, `OutputArtifactFormat`) reads the repository
  mapped to `RepositoryName` in the `[repositories]` section of the endpoint config file,
  else `<data-dir>/repos/<RepositoryName>`.
- CodeStarSourceConnection (`ConnectionArn`, `FullRepositoryId` "owner/name", `BranchName`,
  `OutputArtifactFormat`, `DetectChanges`) reads the repository mapped to `FullRepositoryId`,
  else `<data-dir>/repos/<owner>/<name>`. The connection ARN is reported, never checked
  (there is no CodeConnections service here).

The repository may be bare or have a work tree; only committed objects are read, so the
work tree, the index and uncommitted changes of a developer's checkout are never touched.

Decisions recorded here:

- The artifact (`OutputArtifactFormat` CODE_ZIP, the default) is `git archive --format=zip`
  of the commit: the committed tree at the zip's root, executable bits and symlinks kept.
  As with GitHub's own archives, `export-ignore` and `export-subst` attributes of the tree
  apply. Submodules are not included (CodePipeline's CODE_ZIP does not include them either).
- [I] CODEBUILD_CLONE_REF: AWS hands CodeBuild a reference to clone the repository itself;
  locally the artifact is the clone. The zip holds a full `git clone` of the repository
  (every branch as `origin/*`, the `origin` remote pointing at the local repository path)
  with the source branch checked out at the commit: the work tree at the zip's root and the
  repository in `.git/`, so `git log`, `git describe` and the like work in a build. A
  symlink in the tree that points outside it fails the action (the artifact packer never
  stores such links).
- Revision: `revisionId` = the commit id, `revisionChangeIdentifier` = the committer date
  (ISO 8601, UTC), `created` = the committer time, no URL. The revision summary and the
  action's summary are the commit message (cut to 2048 characters, the API's limit); for a
  connection they are the JSON string `{"ProviderType": ..., "CommitMessage": ...}` AWS
  sends. The external execution id is the commit id.
- Output variables: CommitId, CommitMessage, AuthorDate, CommitterDate (ISO 8601 UTC,
  `2025-01-02T03:04:05Z`), BranchName, and RepositoryName (CodeCommit) or FullRepositoryName,
  ConnectionArn, AuthorId, AuthorEmail, AuthorDisplayName, ProviderType (connection).
  [I] git knows no user ids: AuthorId is the author's email address. [I] ProviderType is
  "GitHub": a connection ARN does not say which host it stands for.
- A revision override (StartPipelineExecution `sourceRevisions`, passed by the engine in
  `job.env`) of type COMMIT_ID selects that commit instead of the branch head. It must be a
  commit id (4 to 40 hex digits, unambiguous) reachable from the branch; anything else fails
  the action naming the commit and the branch. [I] Change detection (source_watch.py) uses
  an override type of its own, PUSH_OVERRIDE_TYPE, whose value is the JSON
  `{"commit": ..., "ref": ...}` of the push that matched a trigger filter: the run uses
  that commit and reports the pushed branch as BranchName, as AWS does for filtered pushes.
- A missing repository or branch fails the action with a summary naming the path looked at
  and how to map the repository in the config file.
- git never reads the user's or the system's config (GIT_CONFIG_GLOBAL=/dev/null,
  GIT_CONFIG_NOSYSTEM=1), so no credential helper, alias or hook from there runs; it never
  prompts (GIT_TERMINAL_PROMPT=0), takes no optional locks in the repository, and does not
  look for a repository above the configured path (GIT_CEILING_DIRECTORIES).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from tui.local.config import CONFIG_NAME, LocalConfig
from tui.local.engine.artifacts import ArtifactError, zip_directory
from tui.local.engine.providers.job import ActionJob, ActionOutcome, SourceRevision
from tui.model.declaration import ActionDeclaration

REVISION_OVERRIDE = "PIPETOP_SOURCE_REVISION"
REVISION_OVERRIDE_TYPE = "PIPETOP_SOURCE_REVISION_TYPE"
# The override type change detection uses for a push that matched a trigger filter.
PUSH_OVERRIDE_TYPE = "PIPETOP_GIT_PUSH"
SUMMARY_MAX = 2048
PROVIDER_TYPE = "GitHub"
SOURCE_TIMEOUT_SECONDS = 60 * 60
CODE_ZIP = "CODE_ZIP"
CLONE_REF = "CODEBUILD_CLONE_REF"

SourceKind = Literal["CodeCommit", "CodeStarSourceConnection"]

_NAME_PART = re.compile(r"[A-Za-z0-9._-]+")
_COMMIT_ID = re.compile(r"[0-9a-fA-F]{4,40}")
# The fields one `git show` prints per commit, NUL-separated; the message comes last.
_COMMIT_FORMAT = "%H%x00%an%x00%ae%x00%at%x00%ct%x00%B"


class GitError(Exception):
    """A git command failed; the message carries git's own words."""


class RepositoryNotFound(Exception):
    """No usable repository for a source action; the message says where and how to fix it."""


def git_environment(repository: Path) -> dict[str, str]:
    """The whole environment git runs with: nothing of the user's git setup gets in."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LC_ALL": "C",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_CEILING_DIRECTORIES": str(repository.parent),
    }


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class CommitInfo:
    id: str
    author_name: str
    author_email: str
    author_time: int
    committer_time: int
    message: str


class GitRepository:
    """A local repository, read through the `git` binary."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # git works in the real directory: the search ceiling must be the real parent too.
        self.real_path = path.resolve()

    async def git(self, *args: str, cwd: Path | None = None) -> str:
        """Run `git -C <repo> args...`; returns stdout, raises GitError on a non-zero exit."""
        where = cwd.resolve() if cwd is not None else self.real_path
        argv = ["git", "-C", str(where), *args]
        env = git_environment(where)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            raise GitError(f"cannot run git: {exc}") from None
        try:
            out, err = await process.communicate()
        except asyncio.CancelledError:
            if process.returncode is None:
                process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            message = err.decode("utf-8", "replace").strip() or f"exit status {process.returncode}"
            raise GitError(message)
        return out.decode("utf-8", "replace")

    async def is_repository(self) -> bool:
        return await self.problem() is None

    async def problem(self) -> str | None:
        """Why this is not a usable repository (None when it is)."""
        if not self.path.is_dir():
            return "no such directory"
        try:
            await self.git("rev-parse", "--git-dir")
        except GitError as exc:
            # e.g. "not a git repository", or git's refusal of a repository owned by
            # another user ("detected dubious ownership").
            return str(exc).splitlines()[0] if str(exc) else "not a git repository"
        return None

    async def resolve(self, revision: str) -> str | None:
        """The commit id `revision` names, or None."""
        try:
            out = await self.git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
        except GitError:
            return None
        return out.strip() or None

    async def branch_head(self, branch: str) -> str | None:
        return await self.resolve(f"refs/heads/{branch}")

    async def is_ancestor(self, commit: str, descendant: str) -> bool:
        try:
            await self.git("merge-base", "--is-ancestor", commit, descendant)
        except GitError:
            return False
        return True

    async def commit(self, commit_id: str) -> CommitInfo:
        out = await self.git(
            "show", "-s", "--no-show-signature", f"--format={_COMMIT_FORMAT}", commit_id
        )
        fields = out.split("\x00", 5)
        if len(fields) != 6:
            raise GitError(f"unexpected output of git show for {commit_id}")
        sha, name, email, author_time, committer_time, message = fields
        return CommitInfo(
            id=sha,
            author_name=name,
            author_email=email,
            author_time=int(author_time),
            committer_time=int(committer_time),
            message=message.rstrip("\n"),
        )

    async def refs(self) -> dict[str, str]:
        """Every branch and tag: full ref name -> the commit it points at (tags peeled)."""
        out = await self.git(
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(*objectname)",
            "refs/heads",
            "refs/tags",
        )
        refs: dict[str, str] = {}
        for line in out.splitlines():
            parts = line.split("\x00")
            if len(parts) != 3:
                continue
            name, target, peeled = parts
            refs[name] = peeled or target
        return refs

    async def changed_paths(self, old: str | None, new: str) -> list[str]:
        """Files that differ between two commits (with no `old`, the files `new` itself changed)."""
        if old is not None:
            out = await self.git("diff", "--name-only", "-z", "--no-renames", old, new, "--")
        else:
            out = await self.git(
                "diff-tree", "--no-commit-id", "--name-only", "-z", "-r", "--root", new
            )
        return [p for p in out.split("\x00") if p]

    async def archive(self, commit_id: str, destination: Path) -> None:
        await self.git("archive", "--format=zip", "-o", str(destination), commit_id)

    async def clone(self, destination: Path, branch: str, commit_id: str) -> None:
        """A full clone at `destination` with `branch` checked out at `commit_id`."""
        await self.git(
            "clone",
            "--quiet",
            "--no-checkout",
            str(self.real_path),
            str(destination),
            cwd=destination.parent,
        )
        await self.git("checkout", "--quiet", "-B", branch, commit_id, cwd=destination)


class RepositoryLocator:
    """Where the repository behind a source action lives on this machine."""

    def __init__(self, data_dir: Path, config: LocalConfig) -> None:
        self.data_dir = data_dir
        self.config = config

    @property
    def config_file(self) -> Path:
        return self.config.source or self.data_dir / CONFIG_NAME

    def path_for(self, kind: SourceKind, name: str) -> Path:
        """The configured path for `name`, else its default place; RepositoryNotFound for a
        name that cannot be a path under the data dir."""
        configured = self.config.repositories.get(name)
        if configured is not None:
            return configured
        parts = name.split("/")
        if kind == "CodeCommit":
            valid = len(parts) == 1
            what = "RepositoryName"
        else:
            valid = len(parts) >= 2
            what = "FullRepositoryId (owner/name)"
        if not valid or not all(_NAME_PART.fullmatch(p) and p not in (".", "..") for p in parts):
            raise RepositoryNotFound(
                f"The {what} '{name}' is not a repository name this endpoint can look up under "
                f"{self.data_dir / 'repos'}. Map it to a local git repository in the [repositories] "
                f'section of {self.config_file}: "{name}" = "/path/to/repository".'
            )
        return self.data_dir.joinpath("repos", *parts)

    def not_found(self, name: str, path: Path, problem: str) -> RepositoryNotFound:
        if name in self.config.repositories:
            how = (
                f"The [repositories] section of {self.config_file} maps '{name}' there; "
                "correct the path or create the repository (git init)."
            )
        else:
            how = (
                f"Create the repository there (git init, or git clone --bare), or map '{name}' "
                f"to a local git repository in the [repositories] section of {self.config_file}: "
                f'"{name}" = "/path/to/repository".'
            )
        return RepositoryNotFound(
            f"No git repository found for '{name}' at {path} ({problem}). {how}"
        )

    async def open(self, kind: SourceKind, name: str) -> GitRepository:
        path = self.path_for(kind, name)
        repository = GitRepository(path)
        problem = await repository.problem()
        if problem is not None:
            raise self.not_found(name, path, problem)
        return repository


def source_name(kind: SourceKind, configuration: Mapping[str, str]) -> str:
    """The configuration value that names the repository."""
    key = "RepositoryName" if kind == "CodeCommit" else "FullRepositoryId"
    return configuration.get(key, "")


def trigger_detail(
    kind: SourceKind, configuration: Mapping[str, str], region: str, account: str
) -> str:
    """What an execution started by a change of this source names as its trigger detail."""
    if kind == "CodeCommit":
        return f"arn:aws:codecommit:{region}:{account}:{configuration.get('RepositoryName', '')}"
    return configuration.get("ConnectionArn", "")


def _cut(text: str) -> str:
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 3] + "..."


def _failed(summary: str, external_execution_id: str | None = None) -> ActionOutcome:
    return ActionOutcome(
        status="Failed",
        summary=_cut(summary),
        error_code="JobFailed",
        external_execution_id=external_execution_id,
    )


class GitSourceProvider:
    """One provider object per kind: `GitSourceProvider(locator, "CodeCommit")` and
    `GitSourceProvider(locator, "CodeStarSourceConnection")`."""

    def __init__(self, locator: RepositoryLocator, kind: SourceKind) -> None:
        self.locator = locator
        self.kind = kind

    def default_timeout_seconds(self, declaration: ActionDeclaration) -> float | None:
        # [I] Reading a local repository takes seconds; an hour is the generic action bound.
        return SOURCE_TIMEOUT_SECONDS

    async def run(self, job: ActionJob) -> ActionOutcome:
        configuration = job.configuration
        name = source_name(self.kind, configuration)
        branch = configuration.get("BranchName", "")
        name_key = "RepositoryName" if self.kind == "CodeCommit" else "FullRepositoryId"
        if not name or not branch:
            return _failed(
                f"The {self.kind} source action needs both {name_key} and BranchName in its configuration."
            )
        artifact_format = configuration.get("OutputArtifactFormat", CODE_ZIP) or CODE_ZIP
        if artifact_format not in (CODE_ZIP, CLONE_REF):
            return _failed(
                f"OutputArtifactFormat '{artifact_format}' is not valid; use {CODE_ZIP} or {CLONE_REF}."
            )
        if not job.declaration.output_artifacts:
            return _failed(f"The {self.kind} source action needs one output artifact.")
        artifact_name = job.declaration.output_artifacts[0].name

        try:
            repository = await self.locator.open(self.kind, name)
        except RepositoryNotFound as exc:
            job.log(str(exc))
            return _failed(str(exc))

        try:
            selected = await self._select_commit(repository, branch, job.env)
        except _Refused as exc:
            job.log(exc.summary)
            return _failed(exc.summary)
        commit_id, source_branch = selected

        try:
            commit = await repository.commit(commit_id)
        except GitError as exc:
            return _failed(f"Could not read commit {commit_id} of {repository.path}: {exc}")
        job.log(
            f"Repository {repository.path} ({self.kind} {name}), branch {source_branch}: "
            f"commit {commit.id} {commit.message.splitlines()[0] if commit.message else ''}"
        )

        job.workspace.mkdir(parents=True, exist_ok=True)
        destination = job.workspace / f"{artifact_name}.zip"
        try:
            if artifact_format == CODE_ZIP:
                await repository.archive(commit.id, destination)
            else:
                await self._pack_clone(
                    repository, source_branch, commit.id, job.workspace, destination
                )
        except (GitError, ArtifactError) as exc:
            destination.unlink(missing_ok=True)
            return _failed(
                f"Could not pack commit {commit.id} of {repository.path} as {artifact_format}: {exc}",
                commit.id,
            )
        job.log(
            f"Packed commit {commit.id} as {artifact_name} ({artifact_format}, {destination.stat().st_size} bytes)"
        )

        summary = self._summary(commit.message)
        return ActionOutcome(
            status="Succeeded",
            summary=summary,
            external_execution_id=commit.id,
            output_variables=self._variables(commit, source_branch, name, configuration),
            output_artifacts={artifact_name: destination},
            revision=SourceRevision(
                revision_id=commit.id,
                change_identifier=iso_utc(commit.committer_time),
                summary=summary,
                created=float(commit.committer_time),
            ),
        )

    async def _select_commit(
        self, repository: GitRepository, branch: str, env: Mapping[str, str]
    ) -> tuple[str, str]:
        """The commit to read and the branch it is reported on."""
        override = env.get(REVISION_OVERRIDE)
        override_type = env.get(REVISION_OVERRIDE_TYPE, "COMMIT_ID")
        if override and override_type == PUSH_OVERRIDE_TYPE:
            push = json.loads(override)
            commit_id = await repository.resolve(str(push["commit"]))
            if commit_id is None:
                raise _Refused(
                    f"The pushed commit {push['commit']} is no longer in {repository.path}."
                )
            ref = str(push.get("ref", ""))
            return commit_id, ref.removeprefix("refs/heads/") if ref.startswith(
                "refs/heads/"
            ) else branch

        head = await repository.branch_head(branch)
        if head is None:
            raise _Refused(
                f"The branch '{branch}' does not exist in the git repository at {repository.path}. "
                "Push or create it there, or change BranchName."
            )
        if not override:
            return head, branch
        if override_type != "COMMIT_ID":
            raise _Refused(
                f"The source revision type {override_type} does not apply to a {self.kind} source "
                "action; use COMMIT_ID."
            )
        if not _COMMIT_ID.fullmatch(override):
            raise _Refused(
                f"The source revision '{override}' is not a commit id (4 to 40 hexadecimal digits)."
            )
        commit_id = await repository.resolve(override)
        if commit_id is None:
            raise _Refused(
                f"The commit {override} does not exist in the git repository at {repository.path} "
                "(or the abbreviation is ambiguous)."
            )
        if not await repository.is_ancestor(commit_id, head):
            raise _Refused(
                f"The commit {commit_id} is not on the branch '{branch}' of the git repository at "
                f"{repository.path}."
            )
        return commit_id, branch

    async def _pack_clone(
        self,
        repository: GitRepository,
        branch: str,
        commit_id: str,
        workspace: Path,
        destination: Path,
    ) -> None:
        clone = workspace / "clone"
        clone.mkdir()
        await repository.clone(clone, branch, commit_id)
        await asyncio.to_thread(zip_directory, clone, destination)

    def _summary(self, message: str) -> str:
        if self.kind == "CodeCommit":
            return _cut(message)
        # The JSON must stay valid when cut: shorten the message, not the JSON text.
        text = message
        while True:
            summary = json.dumps(
                {"ProviderType": PROVIDER_TYPE, "CommitMessage": text}, ensure_ascii=False
            )
            if len(summary) <= SUMMARY_MAX:
                return summary
            text = text[: max(0, len(text) - (len(summary) - SUMMARY_MAX) - 3)] + "..."

    def _variables(
        self, commit: CommitInfo, branch: str, name: str, configuration: Mapping[str, str]
    ) -> dict[str, str]:
        variables = {
            "CommitId": commit.id,
            "CommitMessage": commit.message,
            "AuthorDate": iso_utc(commit.author_time),
            "CommitterDate": iso_utc(commit.committer_time),
            "BranchName": branch,
        }
        if self.kind == "CodeCommit":
            variables["RepositoryName"] = name
        else:
            variables.update(
                {
                    "FullRepositoryName": name,
                    "ConnectionArn": configuration.get("ConnectionArn", ""),
                    "AuthorId": commit.author_email,
                    "AuthorEmail": commit.author_email,
                    "AuthorDisplayName": commit.author_name,
                    "ProviderType": PROVIDER_TYPE,
                }
            )
        return variables


class _Refused(Exception):
    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary
