"""Screenshots of pipetop for the README, made from the demo: `python -m tui.screenshots`.

    python -m tui.screenshots                 # SVGs (and PNGs if cairosvg is installed)
    python -m tui.screenshots --out /tmp/shots

What it does: starts the local endpoint in this process (on a free loopback port, a temporary
data dir), loads the demo exactly as `pipetop demo` does (`tui.demo.set_up`: the sample
pipelines, their sources, the event queue and rule), runs the app headless at 120x36 and
saves, in order:

1. `pipelines.svg`: the pipelines list once every demo pipeline has settled;
2. `approval.svg`: web-app waiting at its manual approval;
3. `failed.svg`: payments-api, whose unit tests fail;
4. `running.svg`: web-app with a new execution building (its build waits on a file this
   script creates, so the stage is caught running, not raced);
5. `logs.svg`: that build's log, following;
6. `history.svg`: web-app's executions, the older one chosen.

Decisions recorded here:

- [I] The clock starts at a fixed moment (`EPOCH`, 09:30 UTC on a Monday) and runs in real
  time from there, for the engine and the app alike: times of day and dates are the same on
  every run, durations are the real ones (a build takes its seconds). Times are shown in UTC.
- The endpoint runs in a thread of this process rather than a child process, so the engine
  gets that clock; everything else (the samples, the setup calls, the app) is the demo's.
- PNGs are written only if `cairosvg` can be imported; it is not a dependency of pipetop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SIZE = (120, 36)
EPOCH = datetime(2026, 1, 5, 9, 30, tzinfo=UTC).timestamp()
WAIT_SECONDS = 120.0
SHOTS = ("pipelines", "approval", "failed", "running", "logs", "history")


def default_out() -> Path:
    """`screenshots/` at the repository root when run from a checkout, else here."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file():
        return root / "screenshots"
    return Path.cwd() / "screenshots"


def _shifted_clock() -> Any:
    from tui.local.clock import Clock

    class ShiftedClock(Clock):
        """Real time, starting at `EPOCH`."""

        def __init__(self) -> None:
            self.started = time.monotonic()

        def now(self) -> float:
            return EPOCH + (time.monotonic() - self.started)

    return ShiftedClock()


class ThreadedEndpoint:
    """The local endpoint on its own event loop in a thread of this process."""

    def __init__(self, data_dir: Path, clock: Any) -> None:
        self.data_dir = data_dir
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.url = ""
        self._runner: Any = None
        self._backend: Any = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def start(self) -> str:
        self.thread.start()
        self.run(self._start())
        return self.url

    async def _start(self) -> None:
        from aiohttp import web

        from tui.local.api.server import build_app
        from tui.local.assembly import open_backend

        self._backend = await open_backend(self.data_dir, self.clock)
        self._runner = web.AppRunner(build_app(self._backend), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._backend.endpoint_url = self.url

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._backend is not None:
            await self._backend.close()

    def stop(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)


async def _until(pilot: Any, predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        await pilot.pause(0.1)


def _gated_source(gate: Path) -> bytes:
    """web-app's source with a build that prints its tests, then waits for `gate`."""
    from tui.local.samples import PROJECT_DIR, project_zip

    build = (PROJECT_DIR / "build.sh").read_text()
    waiting = (
        "python3 -m unittest discover -v -s tests -t . 2>&1\n"
        f'echo "==> Packing the release"\nwhile [ ! -e {gate} ]; do sleep 0.1; done\n'
    )
    build = build.replace('echo "Built', waiting + 'echo "Built', 1)
    return project_zip({"build.sh": build})


async def capture(out: Path, work_dir: Path) -> list[Path]:
    """Run the demo headless and save the screenshots; returns the SVGs written."""
    from tui.app.app import make_app
    from tui.app.messages import ActionRef
    from tui.app.screens.history import HistoryScreen
    from tui.app.screens.logs import LogsScreen
    from tui.app.screens.pipeline import PipelineScreen
    from tui.app.settings import Settings
    from tui.app.widgets.action_row import ActionRow
    from tui.aws.session import AwsContext, ConnectionSettings
    from tui.demo import DEMO_REGION, REVISION_SUMMARY, set_up, use_demo_credentials
    from tui.local.samples import SOURCE_BUCKET, demo_samples

    use_demo_credentials()
    clock = _shifted_clock()
    endpoint = ThreadedEndpoint(work_dir / "data", clock)
    url = endpoint.start()
    saved: list[Path] = []
    try:
        queue_url = await set_up(url, demo_samples())
        connection = ConnectionSettings(endpoint_url=url, region=DEMO_REGION)
        app = make_app(
            Settings(events_queue=queue_url, animations=False),
            connection,
            clock=lambda: datetime.fromtimestamp(clock.now(), UTC),
        )

        def shot(name: str) -> None:
            path = Path(app.save_screenshot(filename=f"{name}.svg", path=str(out)))
            saved.append(path)
            print(f"saved {path}", file=sys.stderr)

        def status(name: str) -> str | None:
            view = app.workspace.pipeline(name)
            return view.status if view is not None else None

        def action(pipeline: str, stage: str, name: str) -> Any:
            view = app.workspace.pipeline(pipeline)
            found = view.stage(stage) if view is not None else None
            return found.action(name) if found is not None else None

        async with app.run_test(size=SIZE) as pilot:
            await _until(
                pilot,
                lambda: (
                    status("web-app") == "AwaitingApproval"
                    and status("payments-api") == "Failed"
                    and status("release-train") == "Succeeded"
                    and not any(
                        e.active for e in app.workspace.pipelines["release-train"].executions
                    )
                ),
                "the demo pipelines to settle",
            )
            await pilot.pause(1.2)
            shot("pipelines")

            app.open_pipeline("web-app")
            await _until(
                pilot,
                lambda: (
                    isinstance(app.screen, PipelineScreen)
                    and isinstance(app.focused, ActionRow)
                    and app.focused.action_name == "ReleaseApproval"
                ),
                "web-app's approval",
            )
            await pilot.pause(1.2)
            shot("approval")
            await app.pop_screen()

            app.open_pipeline("payments-api")
            await _until(pilot, lambda: isinstance(app.screen, PipelineScreen), "payments-api")
            await pilot.pause(1.2)
            shot("failed")
            await app.pop_screen()

            gate = work_dir / "release-the-build"
            async with AwsContext(connection) as aws:
                s3 = await aws.client("s3")
                await s3.put_object(
                    Bucket=SOURCE_BUCKET,
                    Key="web-app.zip",
                    Body=_gated_source(gate),
                    Metadata={REVISION_SUMMARY: "Render the greeting page in bold"},
                )
                codepipeline = await aws.client("codepipeline")
                await codepipeline.start_pipeline_execution(name="web-app")
            app.open_pipeline("web-app")
            await _until(
                pilot,
                lambda: (
                    (a := action("web-app", "Build", "Compile")) is not None
                    and a.status == "InProgress"
                ),
                "web-app's build to run",
            )
            await pilot.pause(1.2)
            shot("running")

            compile_view = action("web-app", "Build", "Compile")
            app.open_logs(
                ActionRef("web-app", "Build", "Compile", compile_view.execution_id, compile_view)
            )
            await _until(
                pilot,
                lambda: (
                    isinstance(app.screen, LogsScreen)
                    and app.screen.tail is not None
                    and "==> Packing the release" in app.screen.log_view.lines
                ),
                "the build's log",
            )
            await pilot.pause(1.2)
            shot("logs")
            gate.touch()
            await app.pop_screen()
            await app.pop_screen()

            app.open_history("web-app")
            await _until(
                pilot,
                lambda: (
                    isinstance(app.screen, HistoryScreen)
                    and app.screen.list_worker is not None
                    and len(app.screen.executions) >= 2
                ),
                "web-app's history",
            )
            await pilot.press("down")
            await _until(
                pilot,
                lambda: (
                    isinstance(app.screen, HistoryScreen)
                    and app.screen.chosen == app.screen.executions[1].execution_id
                    and bool(app.screen.shown_stages)
                ),
                "the older execution's stages",
            )
            await pilot.pause(1.2)
            shot("history")
    finally:
        endpoint.stop()
    return saved


def to_png(svgs: list[Path]) -> list[Path]:
    """PNG copies of the SVGs, if cairosvg is installed (else none)."""
    try:
        import cairosvg  # type: ignore[import-not-found]
    except ImportError:
        print("cairosvg is not installed: SVGs only", file=sys.stderr)
        return []
    pngs = []
    for svg in svgs:
        png = svg.with_suffix(".png")
        cairosvg.svg2png(url=str(svg), write_to=str(png))
        pngs.append(png)
    return pngs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.screenshots", description=__doc__)
    parser.add_argument("--out", type=Path, default=default_out(), help="where to save them")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    os.environ["TZ"] = "UTC"
    time.tzset()
    work_dir = Path(tempfile.mkdtemp(prefix="pipetop-screenshots-"))
    try:
        svgs = asyncio.run(capture(out, work_dir))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    to_png(svgs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
