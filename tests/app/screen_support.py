"""Helpers for the tests of the logs, artifacts, history and help screens, on top of
`tests.app.support` (the test app on the test's endpoint, fixed clock, fast polls)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from textual.pilot import Pilot
from textual.widget import Widget

from tests.app.support import app_for, app_settings
from tests.endpoint import Endpoint
from tui.app.app import PipetopApp
from tui.app.messages import ActionRef

T = TypeVar("T")
SIZE = (120, 36)


def app_on(endpoint: Endpoint, **settings: Any) -> PipetopApp:
    """The test app with ids masked (execution ids are random)."""
    return app_for(endpoint, app_settings(**{"mask_ids": True, **settings}))


async def until(pilot: Pilot[Any], predicate: Callable[[], T], *, within: float = 30.0) -> T:
    """Let the app run until `predicate()` is truthy (for what a real process or the
    endpoint does in its own time); returns its value."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {within}s; last value {value!r}")
        await pilot.pause(0.02)


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A blocking boto3 call (or wait) without blocking the app's loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


def action_ref(app: PipetopApp, pipeline: str, stage: str, action: str) -> ActionRef | None:
    """The ref the pipeline screen would hand over for an action, from the workspace."""
    view = app.workspace.pipeline(pipeline)
    stage_view = view.stage(stage) if view is not None else None
    action_view = stage_view.action(action) if stage_view is not None else None
    if action_view is None or action_view.execution_id is None:
        return None
    return ActionRef(pipeline, stage, action, action_view.execution_id, action_view)


def running_action_ref(app: PipetopApp, pipeline: str, stage: str, action: str) -> ActionRef | None:
    """`action_ref` once the action shows as running (for `until`)."""
    ref = action_ref(app, pipeline, stage, action)
    return ref if ref is not None and ref.view.status == "InProgress" else None


def rendered_lines(widget: Widget) -> list[str]:
    """The text of each line the widget shows now (what the terminal gets), right-trimmed."""
    strips = widget.render_lines(widget.size.region)
    return [strip.text.rstrip() for strip in strips]


def screen_text(app: PipetopApp) -> str:
    """Everything on screen as plain text, line by line."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
