"""Everything one endpoint serves, opened from one data dir.

The API layer (`tui.local.api`) is built from a `Backend`: the JSON services it routes
`X-Amz-Target` requests to, and the S3 object store it serves path-style. A JSON service is
any object with a `target_prefix` (the `X-Amz-Target` prefix, e.g. `CodePipeline_20150709`),
a `service_name` (botocore's name, whose model validates requests) and one method per
operation it implements, named in snake_case (`CreatePipeline` -> `create_pipeline`), taking
the request dict and returning the response dict (or a coroutine of it).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.local.clock import Clock
from tui.local.config import LocalConfig
from tui.local.engine.db import open_database

if TYPE_CHECKING:
    from tui.local.api.faults import Faults
    from tui.local.api.s3 import S3Api
    from tui.local.engine.objects import ObjectStore

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"


@dataclass
class Backend:
    data_dir: Path
    clock: Clock
    db: sqlite3.Connection
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    json_services: dict[str, Any] = field(default_factory=dict)
    # The S3 object store and the S3 REST API over it (set by `tui.local.assembly`).
    objects: ObjectStore | None = None
    s3_api: S3Api | None = None
    # The pipeline engine and the log store (set by `tui.local.assembly`).
    engine: Any = None
    logs: Any = None
    # CodeBuild projects and builds (`tui.local.engine.builds.BuildStore`).
    builds: Any = None
    # What stands in for AWS resources on this machine (repositories, functions, secrets).
    config: LocalConfig = field(default_factory=LocalConfig)
    # The URL clients reach this endpoint at, once it listens (Lambda functions call back here).
    endpoint_url: str = ""
    # Source change detection (`tui.local.engine.source_watch.SourceWatcher`).
    source_watch: Any = None
    # Every AWS request received, by `<service>.<Operation>` (`GET /_local/calls`).
    calls: Counter[str] = field(default_factory=Counter)
    # Injected faults (`/_local/faults`, `tui.local.api.faults`); None until first configured
    # on a backend the assembly did not open.
    faults: Faults | None = None

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        clock: Clock | None = None,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
    ) -> Backend:
        data_dir = data_dir.resolve()
        backend = cls(data_dir, clock or Clock(), open_database(data_dir), region, account)
        return backend

    def add_service(self, service: Any) -> None:
        self.json_services[service.target_prefix] = service

    async def close(self) -> None:
        if self.source_watch is not None:
            await self.source_watch.close()
        if self.engine is not None:
            await self.engine.close()
        self.db.close()
