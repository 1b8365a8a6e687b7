"""Helpers for the app's tests: a test app on the test's endpoint, and waiting on it.

The test settings remove what is not deterministic: no animations (spinners are still
glyphs), ids masked (execution ids and S3 version ids are random), a fixed clock five
minutes after the endpoint's ManualClock start (every age and elapsed time is fixed), and
short poll intervals so the tests wait on reads, not on timers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text
from textual.pilot import Pilot

from tests.endpoint import Endpoint
from tui.app.app import PipetopApp, make_app
from tui.app.settings import PollSettings, Settings
from tui.aws.session import ConnectionSettings

ENGINE_START = datetime.fromtimestamp(1_767_225_600, UTC)  # ManualClock's default start
FIXED_NOW = ENGINE_START + timedelta(minutes=5)


def fixed_clock() -> datetime:
    return FIXED_NOW


def fast_poll(**overrides: float) -> PollSettings:
    values: dict[str, float] = {
        "interval": 0.5,
        "visible": 0.3,
        "visible_active": 0.2,
        "round_robin": 0.5,
        "round_robin_cycle": 0.0,
        "pipelines": 1.0,
        "max_rate": 50.0,
        "event_debounce": 0.1,
        "event_debounce_max": 0.5,
    }
    values.update(overrides)
    return PollSettings(**values)


def app_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"animations": False, "mask_ids": False, "poll": fast_poll()}
    values.update(overrides)
    return Settings(**values)


def app_for(
    endpoint: Endpoint | str,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = fixed_clock,
) -> PipetopApp:
    url = endpoint if isinstance(endpoint, str) else endpoint.url
    connection = ConnectionSettings(endpoint_url=url, max_attempts=1, connect_timeout=1.0)
    return make_app(settings or app_settings(), connection, clock=clock)


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], object], *, within: float = 30.0, what: str = ""
) -> None:
    """Let the app run until `predicate()` holds (the engine runs in real time meanwhile)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or predicate}")
        await pilot.pause(0.05)


def plain(value: object) -> str:
    return value.plain if isinstance(value, Text) else str(value)
