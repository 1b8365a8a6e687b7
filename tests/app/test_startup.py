"""The first frame waits for nothing it does not show: building the app imports no AWS SDK,
and the `pipetop` command paints its first frame (the list, empty, loading) before it imports
the model, the client layer, the pipeline screen or the palette's providers (the app builds
its watchers right after, `tui.app.app`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from textual import events

from tests.app.support import app_for, plain, wait_until
from tests.endpoint import Endpoint
from tui.app.screens.pipelines import PipelinesScreen
from tui.app.widgets.status_bar import StatusBar

HEAVY = ("aiobotocore", "botocore", "boto3", "aiohttp")
SIZE = (120, 36)

PROBE = f"""
import sys
from tui.app.app import make_app
from tui.aws.session import ConnectionSettings
make_app(connection=ConnectionSettings(endpoint_url="http://127.0.0.1:9"))
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
print(",".join(loaded))
"""

FIRST_FRAME = """
import json, sys
from textual import events
from textual._context import active_app, message_hook
from textual.app import App

def ready(message):
    if isinstance(message, events.Ready):
        print(json.dumps(sorted(sys.modules)), flush=True)
        active_app.get().exit()

message_hook.set(ready)
run = App.run
App.run = lambda self, *a, **k: run(self, headless=True, size=(120, 36))
from tui.cli import main
main(["--endpoint-url", "http://127.0.0.1:9"])
"""

AFTER_THE_FIRST_FRAME = (
    "tui.model",
    "tui.aws.watch",
    "tui.aws.feed",
    "tui.aws.pipelines",
    "tui.aws.reconcile",
    "tui.aws.budget",
    "tui.app.commands",
    "tui.app.notifier",
    "tui.app.screens.pipeline",
    "tui.app.screens.logs",
    *HEAVY,
)


def test_building_the_app_imports_no_aws_sdk() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_first_frame_of_the_command_imports_neither_the_model_nor_the_client_layer(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "PIPETOP_CONFIG": str(tmp_path / "none.toml")}
    result = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    modules: list[str] = json.loads(result.stdout.splitlines()[0])
    assert "tui.app.screens.pipelines" in modules  # what the first frame shows
    early = [m for m in modules if m.split(".")[0] in HEAVY or m in AFTER_THE_FIRST_FRAME]
    early += [m for m in modules if m.startswith("tui.model.")]
    assert early == []


async def test_the_first_frame_says_loading_and_the_watcher_status_follows(
    endpoint: Endpoint,
) -> None:
    app = app_for(endpoint)
    first_frame: list[tuple[str, str, object]] = []

    def on_ready(message: Any) -> None:
        if isinstance(message, events.Ready) and not first_frame:
            screen = app.screen
            assert isinstance(screen, PipelinesScreen)
            summary = plain(screen.query_one("#summary").render())
            bar = plain(screen.query_one(StatusBar).render())
            first_frame.append((summary, bar, app.status_for(screen)))

    async with app.run_test(size=SIZE, message_hook=on_ready) as pilot:
        await wait_until(pilot, lambda: bool(first_frame), what="the first frame")
        summary, bar, status = first_frame[0]
        assert summary.startswith("Loading pipelines…")
        assert bar == "connecting…"
        assert status is None
        # Right after it, the watcher's status (before any answer from the endpoint).
        await wait_until(
            pilot,
            lambda: endpoint.url in plain(app.screen.query_one(StatusBar).render()),
            what="the watcher's status",
        )
        await wait_until(
            pilot, lambda: "0 pipelines" in plain(app.screen.query_one("#summary").render())
        )
