"""Source change detection: new commits and new object versions start executions.

Every `interval` seconds of the engine clock the watcher looks at each watched source of
every pipeline and compares what it finds with what it saw last time (kept in SQLite, so a
change made while the endpoint was down starts an execution at the next look). A change
calls `engine.start_triggered(pipeline, trigger type, trigger detail, overrides)`.

Which sources are watched, and how a change starts an execution:

- S3 source: `PollForSourceChanges` true or omitted (AWS's default). A new latest version of
  the object (in a bucket that was never versioned, where every write is version "null":
  new bytes, a new ETag) starts an execution with trigger PollForSourceChanges. [I] The
  trigger detail is the object's ARN `arn:aws:s3:::<bucket>/<key>`.
- CodeCommit: `PollForSourceChanges` true or omitted (AWS polls when it is omitted). A new
  head of the branch starts an execution with trigger PollForSourceChanges and the
  repository's ARN as detail. As on AWS, the source action then reads the branch head when
  it runs.
- CodeStarSourceConnection: `DetectChanges` true or omitted. A new head of the branch starts
  an execution with trigger Webhook (WebhookV2 when the pipeline is V2 and declares
  triggers) and the connection ARN as detail; the run reads exactly the pushed commit.
  A V2 trigger naming the action replaces that rule (AWS: "defining triggers disables
  default change detection"): with no push filter the branch is watched as above; with push
  filters, any branch or tag push that a filter matches starts a WebhookV2 execution on the
  pushed commit (filters OR together; inside a filter branches/tags AND file paths; excludes
  win over includes; a missing includes list includes everything). File paths are the files
  changed between the old and the new commit of the ref ([I] for a new branch, the files
  its head commit changed). Patterns are AWS's globs: `*` and `?` within a path component,
  `**` across components, `[...]`, `{a,b}`, `\\` escapes. [I] Pull-request filters never
  match: there are no pull requests here. [I] A trigger applies whatever `DetectChanges` says.

Decisions [I]:
- The first sight of a source only records what is there: CreatePipeline already started an
  execution. A pipeline's sources are looked at right after CreatePipeline's execution
  starts (not only at the next tick), so a commit made just after is not taken for the
  baseline. A source whose repository, branch, bucket or key changes (UpdatePipeline), or a
  pipeline deleted and created again, starts over from a first sight. Deleted pipelines and
  actions stop being watched and their records go.
- A missing repository, branch or object is recorded as "nothing there"; when it appears,
  that is a change. A ref or object that disappears starts nothing.
- Several changes seen in one look start one execution each, in ref-name order.
- When the engine refuses to start (the pipeline is at its concurrency limit) the change is
  not recorded as seen, so the next look tries again. A crash between the start and the
  record starts the same change twice at the next look rather than losing it.
- Looks never overlap: the next tick is armed `interval` seconds after a look ends.
- Configuration values are used as declared: a `#{...}` reference in a watched key is not
  resolved (the source then looks absent).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tui.local.clock import Clock, Timer
from tui.local.engine.events import PIPELINE_DETAIL_TYPE
from tui.local.engine.objects import ObjectStore
from tui.local.engine.providers.git_source import (
    PUSH_OVERRIDE_TYPE,
    GitError,
    GitRepository,
    RepositoryLocator,
    RepositoryNotFound,
    SourceKind,
    source_name,
    trigger_detail,
)
from tui.model.declaration import (
    ActionDeclaration,
    GitPushFilter,
    PipelineDeclaration,
)
from tui.model.errors import AwsError

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS source_watch (
    pipeline TEXT NOT NULL,
    action TEXT NOT NULL,
    identity TEXT NOT NULL,
    pipeline_created REAL NOT NULL,
    seen TEXT NOT NULL,
    PRIMARY KEY (pipeline, action)
)
"""


class Engine(Protocol):
    """What the watcher needs of the pipeline engine."""

    state: Any

    def start_triggered(
        self,
        name: str,
        trigger_type: str,
        trigger_detail: str,
        source_overrides: list[dict[str, str]] | None = None,
    ) -> str | None: ...


# ---------------------------------------------------------------------------------------
# Globs


def glob_regex(pattern: str) -> re.Pattern[str]:
    """AWS's trigger glob (Java's glob syntax) as a regex over the whole name."""
    out: list[str] = []
    i = 0
    in_group = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                negate = body.startswith("!")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\").replace("^", "\\^")
                out.append(f"[{'^' if negate else ''}{body}]")
                i = end
        elif c == "{" and not in_group:
            in_group = True
            out.append("(?:")
        elif c == "}" and in_group:
            in_group = False
            out.append(")")
        elif c == "," and in_group:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    if in_group:
        # An unclosed group matches its text literally, like an unmatched bracket.
        return re.compile(re.escape(pattern))
    return re.compile("".join(out))


def _included(name: str, includes: list[str] | None, excludes: list[str] | None) -> bool:
    if any(glob_regex(p).fullmatch(name) for p in excludes or []):
        return False
    if includes is None:
        return True
    return any(glob_regex(p).fullmatch(name) for p in includes)


# ---------------------------------------------------------------------------------------
# What is watched


@dataclass(frozen=True)
class WatchedSource:
    action: str
    provider: str  # "S3" | "CodeCommit" | "CodeStarSourceConnection"
    trigger_type: str
    trigger_detail: str
    configuration: Mapping[str, str]
    # Git push filters of a V2 trigger (None: watch the configured branch only).
    filters: tuple[GitPushFilter, ...] | None = None

    def identity(self, where: str) -> str:
        """What is watched; when it changes, the recorded baseline no longer applies."""
        filters = [f.model_dump(mode="json") for f in self.filters] if self.filters else None
        branch = self.configuration.get("BranchName", "")
        return json.dumps([self.provider, where, branch, filters], sort_keys=True)


def _flag(configuration: Mapping[str, str], key: str) -> bool:
    """A boolean configuration value; omitted means true (AWS's default for these keys)."""
    return configuration.get(key, "true").strip().lower() != "false"


def watched_sources(
    declaration: PipelineDeclaration, region: str, account: str
) -> list[WatchedSource]:
    """The source actions of a pipeline whose changes start executions, and how."""
    triggers = {t.git_configuration.source_action_name: t for t in declaration.triggers or []}
    has_triggers = declaration.pipeline_type == "V2" and bool(triggers)
    found: list[WatchedSource] = []
    for action in declaration.stages[0].actions if declaration.stages else []:
        watched = _watched(action, triggers, has_triggers, region, account)
        if watched is not None:
            found.append(watched)
    return found


def _watched(
    action: ActionDeclaration,
    triggers: Mapping[str, Any],
    has_triggers: bool,
    region: str,
    account: str,
) -> WatchedSource | None:
    type_id = action.action_type_id
    if type_id.category != "Source" or type_id.owner != "AWS":
        return None
    configuration = action.configuration
    if type_id.provider == "S3":
        if not _flag(configuration, "PollForSourceChanges"):
            return None
        detail = f"arn:aws:s3:::{configuration.get('S3Bucket', '')}/{configuration.get('S3ObjectKey', '')}"
        return WatchedSource(action.name, "S3", "PollForSourceChanges", detail, configuration)
    if type_id.provider == "CodeCommit":
        if not _flag(configuration, "PollForSourceChanges"):
            return None
        detail = trigger_detail("CodeCommit", configuration, region, account)
        return WatchedSource(
            action.name, "CodeCommit", "PollForSourceChanges", detail, configuration
        )
    if type_id.provider == "CodeStarSourceConnection":
        detail = trigger_detail("CodeStarSourceConnection", configuration, region, account)
        trigger = triggers.get(action.name) if has_triggers else None
        if trigger is not None:
            git = trigger.git_configuration
            if git.push:
                filters: tuple[GitPushFilter, ...] | None = tuple(git.push)
            elif git.pull_request:
                return None
            else:
                filters = None
            return WatchedSource(
                action.name, "CodeStarSourceConnection", "WebhookV2", detail, configuration, filters
            )
        if not _flag(configuration, "DetectChanges"):
            return None
        trigger_type = "WebhookV2" if has_triggers else "Webhook"
        return WatchedSource(
            action.name, "CodeStarSourceConnection", trigger_type, detail, configuration
        )
    return None


# ---------------------------------------------------------------------------------------
# The watcher


@dataclass
class _Seen:
    identity: str
    pipeline_created: float
    # Git: full ref name -> commit id. S3: {"version": ..., "etag": ...}. Empty: nothing there.
    seen: dict[str, str]


class SourceWatcher:
    def __init__(
        self,
        engine: Engine,
        db: sqlite3.Connection,
        clock: Clock,
        objects: ObjectStore,
        repositories: RepositoryLocator,
        *,
        region: str,
        account: str,
        interval: float = DEFAULT_INTERVAL_SECONDS,
    ) -> None:
        if interval <= 0:
            raise ValueError("the watch interval must be positive")
        self.engine = engine
        self.db = db
        self.clock = clock
        self.objects = objects
        self.repositories = repositories
        self.region = region
        self.account = account
        self.interval = interval
        # Ticks whose look is complete and whose next tick is armed (tests wait on it after
        # moving the clock).
        self.ticks = 0
        db.execute(_SCHEMA)
        self._timer: Timer | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False

    # Life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Arm the first tick; must be called on the event loop."""
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.engine.state.events.subscribe(self._on_event)
        self._arm()

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _arm(self) -> None:
        if not self._closed:
            self._timer = self.clock.call_at(self.clock.now() + self.interval, self._tick)

    def _spawn(self, coro: Any) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _tick(self) -> None:
        self._timer = None
        self._spawn(self._look_and_rearm())

    async def _look_and_rearm(self) -> None:
        try:
            await self.look()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("looking for source changes failed")
        finally:
            self._arm()
        self.ticks += 1

    def _on_event(self, event: dict[str, Any]) -> None:
        if self._closed or event.get("detail-type") != PIPELINE_DETAIL_TYPE:
            return
        detail = event.get("detail", {})
        trigger = detail.get("execution-trigger", {})
        if detail.get("state") == "STARTED" and trigger.get("trigger-type") == "CreatePipeline":
            self._spawn(self.look(str(detail.get("pipeline"))))

    # Looking --------------------------------------------------------------------------
    async def look(self, pipeline: str | None = None) -> None:
        """Look at every watched source (or one pipeline's) once."""
        async with self._lock:
            state = self.engine.state
            names = [pipeline] if pipeline is not None else sorted(state.pipelines)
            refs: dict[Path, dict[str, str] | None] = {}
            for name in names:
                try:
                    await self._look_at_pipeline(name, refs)
                except Exception:
                    # One pipeline's trouble never keeps the others from being looked at.
                    log.exception("looking at the sources of pipeline %s failed", name)
            if pipeline is None:
                self._forget_pipelines(set(state.pipelines))

    async def _look_at_pipeline(self, name: str, refs: dict[Path, dict[str, str] | None]) -> None:
        state = self.engine.state
        record = state.pipelines.get(name)
        if record is None:
            return
        sources = watched_sources(state.declaration(name), self.region, self.account)
        seen = self._load(name)
        for action in set(seen) - {s.action for s in sources}:
            self.db.execute(
                "DELETE FROM source_watch WHERE pipeline = ? AND action = ?", (name, action)
            )
        for source in sources:
            try:
                await self._look_at_source(
                    name, record.created, source, seen.get(source.action), refs
                )
            except (GitError, OSError) as exc:
                log.warning("cannot look at source %s of pipeline %s: %s", source.action, name, exc)

    async def _look_at_source(
        self,
        pipeline: str,
        created: float,
        source: WatchedSource,
        before: _Seen | None,
        refs: dict[Path, dict[str, str] | None],
    ) -> None:
        if source.provider == "S3":
            where = f"{source.configuration.get('S3Bucket', '')}/{source.configuration.get('S3ObjectKey', '')}"
            now = self._object_version(source.configuration)
            repository = None
        else:
            kind: SourceKind = (
                "CodeCommit" if source.provider == "CodeCommit" else "CodeStarSourceConnection"
            )
            name = source_name(kind, source.configuration)
            try:
                path = self.repositories.path_for(kind, name)
            except RepositoryNotFound:
                return
            where = str(path)
            repository = GitRepository(path)
            all_refs = await self._refs(repository, refs)
            now = self._relevant(source, all_refs)
        identity = source.identity(where)
        # The pipeline may have gone, or changed, while git ran.
        record = self.engine.state.pipelines.get(pipeline)
        if record is None or record.created != created:
            return
        if before is None or before.identity != identity or before.pipeline_created != created:
            self._save(pipeline, source.action, _Seen(identity, created, now))
            return
        if source.provider == "S3":
            # One object: a new version (or new bytes) is one change, never one per field.
            if now and now != before.seen and not self._start(pipeline, source, "", ""):
                return
            self._save(pipeline, source.action, _Seen(identity, created, now))
            return
        recorded = dict(before.seen)
        for ref, value in sorted(now.items()):
            if before.seen.get(ref) == value:
                continue
            if not await self._matches(source, repository, ref, before.seen.get(ref), value):
                recorded[ref] = value
                continue
            if self._start(pipeline, source, ref, value):
                recorded[ref] = value
        for ref in set(recorded) - set(now):
            del recorded[ref]
        self._save(pipeline, source.action, _Seen(identity, created, recorded))

    def _object_version(self, configuration: Mapping[str, str]) -> dict[str, str]:
        bucket = configuration.get("S3Bucket", "")
        key = configuration.get("S3ObjectKey", "")
        try:
            obj = self.objects.head_object(bucket, key)
        except AwsError:
            return {}
        # The ETag too: in a bucket that was never versioned every write is version "null".
        return {"version": obj.version_id, "etag": obj.etag}

    async def _refs(
        self, repository: GitRepository, cache: dict[Path, dict[str, str] | None]
    ) -> dict[str, str]:
        """Every ref of the repository ({} when there is none); GitError when git fails."""
        key = repository.real_path
        if key not in cache:
            cache[key] = None
            if await repository.is_repository():
                cache[key] = await repository.refs()
        return cache[key] or {}

    @staticmethod
    def _relevant(source: WatchedSource, refs: Mapping[str, str]) -> dict[str, str]:
        if source.filters is None:
            ref = f"refs/heads/{source.configuration.get('BranchName', '')}"
            return {ref: refs[ref]} if ref in refs else {}
        return dict(refs)

    async def _matches(
        self,
        source: WatchedSource,
        repository: GitRepository | None,
        ref: str,
        old: str | None,
        new: str,
    ) -> bool:
        if source.filters is None:
            return True
        assert repository is not None
        changed: list[str] | None = None
        for push in source.filters:
            if ref.startswith("refs/tags/"):
                if push.tags is None:
                    continue
                tag = ref.removeprefix("refs/tags/")
                if _included(tag, push.tags.includes, push.tags.excludes):
                    return True
                continue
            if push.tags is not None and push.branches is None:
                continue
            branch = ref.removeprefix("refs/heads/")
            if push.branches is None:
                # [I] A filter on file paths alone applies to the configured branch.
                if branch != source.configuration.get("BranchName"):
                    continue
            elif not _included(branch, push.branches.includes, push.branches.excludes):
                continue
            if push.file_paths is None:
                return True
            if changed is None:
                changed = await repository.changed_paths(old, new)
            paths = push.file_paths
            if any(_included(path, paths.includes, paths.excludes) for path in changed):
                return True
        return False

    def _start(self, pipeline: str, source: WatchedSource, ref: str, value: str) -> bool:
        overrides: list[dict[str, str]] = []
        if source.provider == "CodeStarSourceConnection":
            overrides.append(
                {
                    "actionName": source.action,
                    "revisionType": PUSH_OVERRIDE_TYPE,
                    "revisionValue": json.dumps({"commit": value, "ref": ref}),
                }
            )
        execution_id = self.engine.start_triggered(
            pipeline, source.trigger_type, source.trigger_detail, overrides
        )
        if execution_id is None:
            log.info("pipeline %s did not start for a change of %s; trying again", pipeline, ref)
            return False
        log.info(
            "pipeline %s started %s (%s) for %s %s",
            pipeline,
            execution_id,
            source.trigger_type,
            ref,
            value,
        )
        return True

    # Records --------------------------------------------------------------------------
    def _load(self, pipeline: str) -> dict[str, _Seen]:
        rows = self.db.execute(
            "SELECT action, identity, pipeline_created, seen FROM source_watch WHERE pipeline = ?",
            (pipeline,),
        ).fetchall()
        return {row[0]: _Seen(row[1], row[2], json.loads(row[3])) for row in rows}

    def _save(self, pipeline: str, action: str, seen: _Seen) -> None:
        self.db.execute(
            "INSERT INTO source_watch (pipeline, action, identity, pipeline_created, seen) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (pipeline, action) DO UPDATE SET "
            "identity = excluded.identity, pipeline_created = excluded.pipeline_created, "
            "seen = excluded.seen",
            (pipeline, action, seen.identity, seen.pipeline_created, json.dumps(seen.seen)),
        )

    def _forget_pipelines(self, existing: Iterable[str]) -> None:
        keep = set(existing)
        names = [r[0] for r in self.db.execute("SELECT DISTINCT pipeline FROM source_watch")]
        for name in names:
            if name not in keep:
                self.db.execute("DELETE FROM source_watch WHERE pipeline = ?", (name,))

    def seen(self, pipeline: str, action: str) -> dict[str, str] | None:
        """What was last seen of a source (None: not looked at yet)."""
        record = self._load(pipeline).get(action)
        return None if record is None else dict(record.seen)
