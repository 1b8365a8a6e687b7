"""EventBridge events for every pipeline, stage and action state change.

Shaped exactly as AWS sends them (reference section 5): envelope `version "0"`, a uuid `id`,
`detail-type`, `source "aws.codepipeline"`, `account`, `time` (`YYYY-MM-DDTHH:MM:SSZ`),
`region`, `resources [pipelineArn]`, `detail`. The API's statuses map to event states
(`Cancelled` becomes `CANCELED`; a retry emits `RESUMED`).

Every event is appended to a durable, ordered log (`cp_events`, in the same transaction as the
state change it reports) and then handed to subscribers (the EventBridge rules of a later
issue). Decision [I]: a stage that ends `Skipped` emits no event, as AWS documents none.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

SOURCE = "aws.codepipeline"
PIPELINE_DETAIL_TYPE = "CodePipeline Pipeline Execution State Change"
STAGE_DETAIL_TYPE = "CodePipeline Stage Execution State Change"
ACTION_DETAIL_TYPE = "CodePipeline Action Execution State Change"

SCHEMA = """
CREATE TABLE IF NOT EXISTS cp_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    detail_type TEXT NOT NULL,
    body TEXT NOT NULL
);
"""

STATE_OF_STATUS = {
    "InProgress": "STARTED",
    "Stopping": "STOPPING",
    "Stopped": "STOPPED",
    "Succeeded": "SUCCEEDED",
    "Failed": "FAILED",
    "Superseded": "SUPERSEDED",
    "Cancelled": "CANCELED",
    "Abandoned": "ABANDONED",
}

Subscriber = Callable[[dict[str, Any]], None]


def event_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class EventLog:
    def __init__(self, db: sqlite3.Connection, region: str, account: str) -> None:
        self.db = db
        self.region = region
        self.account = account
        db.executescript(SCHEMA)
        self._pending: list[dict[str, Any]] = []
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def envelope(
        self, detail_type: str, when: float, arn: str, detail: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": SOURCE,
            "account": self.account,
            "time": event_time(when),
            "region": self.region,
            "resources": [arn],
            "detail": detail,
        }

    def emit(self, event: dict[str, Any], when: float) -> None:
        """Queue an event; it is written with the next flush of the engine's records."""
        event["_when"] = when
        self._pending.append(event)

    def take_statements(self) -> list[tuple[str, tuple[Any, ...]]]:
        statements = []
        for event in self._pending:
            when = event.pop("_when")
            statements.append(
                (
                    "INSERT INTO cp_events (time, detail_type, body) VALUES (?, ?, ?)",
                    (when, event["detail-type"], json.dumps(event, separators=(",", ":"))),
                )
            )
        return statements

    def deliver(self) -> None:
        """Hand the flushed events to subscribers; one failing subscriber never stops the rest."""
        pending, self._pending = self._pending, []
        for event in pending:
            for subscriber in list(self._subscribers):
                try:
                    subscriber(event)
                except Exception:
                    log.exception("event subscriber failed")

    def read(self, after: int = 0, limit: int = 1000) -> list[tuple[int, dict[str, Any]]]:
        rows = self.db.execute(
            "SELECT seq, body FROM cp_events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()
        return [(seq, json.loads(body)) for seq, body in rows]
