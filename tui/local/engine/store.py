"""Persistence of the engine's records in the shared SQLite database.

Each record is one row holding its JSON; the few columns beside it exist for lookups. The
engine keeps live records in memory and writes every changed one back in a single
transaction at the end of each step (`EngineStore.flush`), so a crash leaves the database
at a step boundary, never between two halves of a transition.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from tui.local.engine.db import transaction
from tui.local.engine.records import (
    ActionRun,
    ExecutionRecord,
    PipelineRecord,
    PipelineRuntime,
    action_run_from_json,
    execution_from_json,
    pipeline_from_json,
    runtime_from_json,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS cp_pipelines (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cp_pipeline_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created REAL NOT NULL,
    declaration TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS cp_runtime (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cp_executions (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    start_time REAL NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cp_executions_by_pipeline ON cp_executions (pipeline, start_time);
CREATE INDEX IF NOT EXISTS cp_executions_by_status ON cp_executions (status);
CREATE TABLE IF NOT EXISTS cp_action_runs (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    start_time REAL NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cp_action_runs_by_execution ON cp_action_runs (execution_id, start_time);
CREATE INDEX IF NOT EXISTS cp_action_runs_by_pipeline ON cp_action_runs (pipeline, start_time);
CREATE TABLE IF NOT EXISTS cp_client_tokens (
    pipeline TEXT NOT NULL,
    token TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    PRIMARY KEY (pipeline, token)
);
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _record_fields(value: Any) -> dict[str, Any]:
    """A record (or a record inside one) as its fields, for `json.dumps`'s `default`."""
    cls = type(value)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(value):
            raise TypeError(f"Object of type {cls.__name__} is not JSON serializable")
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(value))
    return {name: getattr(value, name) for name in names}


def _dumps_record(record: object) -> str:
    """The same JSON text as `_dumps(to_json(record))`, about four times faster.

    `dataclasses.asdict` deep-copies every value before the encoder walks it again; here the
    encoder walks the records themselves, asking for each nested record's fields as it meets
    them. Serialising the changed records was the largest part of every commit.
    """
    return json.dumps(record, default=_record_fields, separators=(",", ":"))


class EngineStore:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(SCHEMA)
        self._pipelines: dict[str, PipelineRecord] = {}
        self._versions: list[tuple[str, int, float, dict[str, Any]]] = []
        self._runtimes: dict[str, PipelineRuntime] = {}
        self._executions: dict[str, ExecutionRecord] = {}
        self._runs: dict[str, ActionRun] = {}
        self._tokens: list[tuple[str, str, str]] = []
        self._deleted: list[str] = []
        self._after_flush: list[Any] = []

    # Marking: the engine calls these when it changes a record; flush writes them.
    def pipeline_changed(self, record: PipelineRecord) -> None:
        self._pipelines[record.name] = record

    def version_added(
        self, name: str, version: int, created: float, declaration: dict[str, Any]
    ) -> None:
        self._versions.append((name, version, created, declaration))

    def runtime_changed(self, runtime: PipelineRuntime) -> None:
        self._runtimes[runtime.name] = runtime

    def execution_changed(self, execution: ExecutionRecord) -> None:
        self._executions[execution.id] = execution

    def action_run_changed(self, run: ActionRun) -> None:
        self._runs[run.id] = run

    def client_token_used(self, pipeline: str, token: str, execution_id: str) -> None:
        self._tokens.append((pipeline, token, execution_id))

    def pipeline_deleted(self, name: str) -> None:
        self._pipelines.pop(name, None)
        self._runtimes.pop(name, None)
        self._executions = {k: v for k, v in self._executions.items() if v.pipeline_name != name}
        self._runs = {k: v for k, v in self._runs.items() if v.pipeline_name != name}
        self._deleted.append(name)

    @property
    def dirty(self) -> bool:
        return bool(
            self._pipelines
            or self._versions
            or self._runtimes
            or self._executions
            or self._runs
            or self._tokens
            or self._deleted
        )

    def flush(self, extra: Iterable[tuple[str, tuple[Any, ...]]] = ()) -> None:
        """Write every changed record (and `extra` statements) in one transaction."""
        statements = list(extra)
        if not self.dirty and not statements:
            return
        with transaction(self.db) as db:
            for name in self._deleted:
                for table, column in (
                    ("cp_pipelines", "name"),
                    ("cp_pipeline_versions", "name"),
                    ("cp_runtime", "name"),
                    ("cp_executions", "pipeline"),
                    ("cp_action_runs", "pipeline"),
                    ("cp_client_tokens", "pipeline"),
                ):
                    db.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))
            db.executemany(
                "INSERT OR REPLACE INTO cp_pipelines (name, body) VALUES (?, ?)",
                [(p.name, _dumps_record(p)) for p in self._pipelines.values()],
            )
            db.executemany(
                "INSERT INTO cp_pipeline_versions (name, version, created, declaration) VALUES (?, ?, ?, ?)",
                [(n, v, c, _dumps(d)) for n, v, c, d in self._versions],
            )
            db.executemany(
                "INSERT OR REPLACE INTO cp_runtime (name, body) VALUES (?, ?)",
                [(r.name, _dumps_record(r)) for r in self._runtimes.values()],
            )
            db.executemany(
                "INSERT OR REPLACE INTO cp_executions (id, pipeline, start_time, status, body) VALUES (?, ?, ?, ?, ?)",
                [
                    (e.id, e.pipeline_name, e.start_time, e.status, _dumps_record(e))
                    for e in self._executions.values()
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO cp_action_runs (id, execution_id, pipeline, start_time, status, body) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.id,
                        r.execution_id,
                        r.pipeline_name,
                        r.start_time,
                        r.status,
                        _dumps_record(r),
                    )
                    for r in self._runs.values()
                ],
            )
            db.executemany(
                "INSERT OR IGNORE INTO cp_client_tokens (pipeline, token, execution_id) VALUES (?, ?, ?)",
                self._tokens,
            )
            for sql, params in statements:
                db.execute(sql, params)
        self._pipelines.clear()
        self._versions.clear()
        self._runtimes.clear()
        self._executions.clear()
        self._runs.clear()
        self._tokens.clear()
        self._deleted.clear()

    # Loading (start-up) and history reads.
    def load_pipelines(self) -> Iterator[PipelineRecord]:
        for (body,) in self.db.execute("SELECT body FROM cp_pipelines ORDER BY name"):
            yield pipeline_from_json(json.loads(body))

    def load_runtime(self, name: str) -> PipelineRuntime | None:
        row = self.db.execute("SELECT body FROM cp_runtime WHERE name = ?", (name,)).fetchone()
        return runtime_from_json(json.loads(row[0])) if row else None

    def pipeline_version(self, name: str, version: int) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT declaration FROM cp_pipeline_versions WHERE name = ? AND version = ?",
            (name, version),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def load_executions(self, pipeline: str) -> Iterator[ExecutionRecord]:
        """Every execution of a pipeline, oldest first."""
        for (body,) in self.db.execute(
            "SELECT body FROM cp_executions WHERE pipeline = ? ORDER BY start_time, rowid",
            (pipeline,),
        ):
            yield execution_from_json(json.loads(body))

    def load_action_runs(self, pipeline: str) -> Iterator[ActionRun]:
        for (body,) in self.db.execute(
            "SELECT body FROM cp_action_runs WHERE pipeline = ? ORDER BY start_time, rowid",
            (pipeline,),
        ):
            yield action_run_from_json(json.loads(body))

    def client_token(self, pipeline: str, token: str) -> str | None:
        row = self.db.execute(
            "SELECT execution_id FROM cp_client_tokens WHERE pipeline = ? AND token = ?",
            (pipeline, token),
        ).fetchone()
        return row[0] if row else None
