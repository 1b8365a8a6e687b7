"""Wires one endpoint together: stores, engine, and the services the API routes to."""

from __future__ import annotations

from pathlib import Path

from tui.local.backend import DEFAULT_ACCOUNT, DEFAULT_REGION, Backend
from tui.local.clock import Clock


async def open_backend(
    data_dir: Path,
    clock: Clock | None = None,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
) -> Backend:
    backend = await Backend.open(data_dir, clock, region, account)
    return backend
