"""Wires one endpoint together: stores, engine, and the services the API routes to."""

from __future__ import annotations

from pathlib import Path

from tui.local.api.s3 import S3Api
from tui.local.backend import DEFAULT_ACCOUNT, DEFAULT_REGION, Backend
from tui.local.clock import Clock
from tui.local.engine.objects import ObjectStore


async def open_backend(
    data_dir: Path,
    clock: Clock | None = None,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
) -> Backend:
    backend = await Backend.open(data_dir, clock, region, account)
    objects = ObjectStore(backend.db, backend.data_dir / "objects", backend.clock)
    backend.objects = objects
    backend.s3_api = S3Api(objects, region=region, account=account)
    return backend
