"""Custom action types (CreateCustomActionType), persisted, and the lookup validation uses.

Decision [I]: creating a type that exists raises ActionTypeAlreadyExistsException (the
model's error for it); AWS limits an account to 50 custom types per region, and so do we
(LimitExceededException). Deleting a type that pipelines still use is allowed, as on AWS:
their actions then fail when they run.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tui.model.action_types import ActionTypeSpec, find_aws_action_type_by_id
from tui.model.declaration import ActionTypeId
from tui.model.errors import ActionTypeAlreadyExistsException, LimitExceededException

MAX_CUSTOM_TYPES = 50

SCHEMA = """
CREATE TABLE IF NOT EXISTS cp_custom_action_types (
    category TEXT NOT NULL,
    provider TEXT NOT NULL,
    version TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (category, provider, version)
);
"""


class CustomActionTypes:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(SCHEMA)
        self._types: dict[tuple[str, str, str], ActionTypeSpec] = {}
        for (body,) in db.execute("SELECT body FROM cp_custom_action_types"):
            spec = ActionTypeSpec.from_api(json.loads(body))
            self._types[(spec.id.category, spec.id.provider, spec.id.version)] = spec

    def create(self, request: dict[str, Any]) -> ActionTypeSpec:
        key = (request["category"], request["provider"], request["version"])
        if key in self._types:
            raise ActionTypeAlreadyExistsException(
                f"Custom action type {key[0]}/{key[1]}/{key[2]} already exists"
            )
        if len(self._types) >= MAX_CUSTOM_TYPES:
            raise LimitExceededException(
                f"An account can have at most {MAX_CUSTOM_TYPES} custom action types"
            )
        item: dict[str, Any] = {
            "id": {"category": key[0], "owner": "Custom", "provider": key[1], "version": key[2]},
            "settings": request.get("settings") or {},
            "actionConfigurationProperties": request.get("configurationProperties") or [],
            "inputArtifactDetails": request["inputArtifactDetails"],
            "outputArtifactDetails": request["outputArtifactDetails"],
        }
        spec = ActionTypeSpec.from_api(item)
        self.db.execute(
            "INSERT INTO cp_custom_action_types (category, provider, version, body) VALUES (?, ?, ?, ?)",
            (*key, json.dumps(spec.to_api())),
        )
        self._types[key] = spec
        return spec

    def delete(self, category: str, provider: str, version: str) -> None:
        self._types.pop((category, provider, version), None)
        self.db.execute(
            "DELETE FROM cp_custom_action_types WHERE category = ? AND provider = ? AND version = ?",
            (category, provider, version),
        )

    def all(self) -> list[ActionTypeSpec]:
        return [self._types[k] for k in sorted(self._types)]

    def find(self, type_id: ActionTypeId) -> ActionTypeSpec | None:
        """Custom types of this endpoint first, then the AWS catalogue (validation's lookup)."""
        if type_id.owner == "Custom":
            return self._types.get((type_id.category, type_id.provider, type_id.version))
        return find_aws_action_type_by_id(type_id)
