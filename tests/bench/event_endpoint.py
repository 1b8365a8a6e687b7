"""The endpoint as a benchmark's child process, printing every event the engine delivers.

A benchmark that times something from the engine's state change needs the moment of the
commit on a clock both processes share: the child prints `EVENT <monotonic> <json>` per
event (Linux's CLOCK_MONOTONIC is the same for every process), and the parent's
`EventEndpoint` reads those lines on a thread and hands each to `on_event`.

    # in the benchmark module
    if args.serve: serve_printing_events(Path(args.serve))
    class Endpoint(EventEndpoint):
        module = "tests.bench.bench_x"
        def on_event(self, when, event): ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from tests.bench.harness import CREDENTIALS, REGION, ROOT
from tests.endpoint import CLIENT_CONFIG


def serve_printing_events(
    data_dir: Path, prepare: Callable[[Any, Any], None] | None = None
) -> None:
    """`--serve`: the endpoint (real clock) on a free port; prints `listening on URL`, then
    one `EVENT <monotonic> <json>` line per event the engine delivers (type, pipeline,
    execution, stage, action, state). `prepare(backend, app)` runs before it listens."""

    async def main() -> None:
        from aiohttp import web

        from tui.local.api.server import build_app
        from tui.local.assembly import open_backend

        backend = await open_backend(data_dir)

        def delivered(event: dict[str, Any]) -> None:
            detail = event.get("detail") or {}
            line = {
                "type": event.get("detail-type"),
                "pipeline": detail.get("pipeline"),
                "execution": detail.get("execution-id"),
                "stage": detail.get("stage"),
                "action": detail.get("action"),
                "state": detail.get("state"),
            }
            sys.stdout.write(f"EVENT {time.monotonic():.6f} {json.dumps(line)}\n")
            sys.stdout.flush()

        backend.engine.state.events.subscribe(delivered)
        app = build_app(backend)
        if prepare is not None:
            prepare(backend, app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        port = server.sockets[0].getsockname()[1]
        backend.endpoint_url = f"http://127.0.0.1:{port}"
        print(f"listening on {backend.endpoint_url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            await backend.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


class EventEndpoint:
    """`python -m <module> --serve DIR` as a child process on a fresh data dir; every
    `EVENT` line goes to `on_event(when, event)`, any other line to `on_line(line)`."""

    module = ""
    """The benchmark module whose `--serve` calls `serve_printing_events`."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"pipetop-{self.module.rsplit('.', 1)[-1]}-"))
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.lock = threading.Lock()

    def __enter__(self) -> EventEndpoint:
        command = [sys.executable, "-m", self.module, "--serve", str(self.data_dir)]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the endpoint did not start: {line!r}")
        self.url = line.removeprefix("listening on ")
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("EVENT "):
                _, when, payload = line.split(" ", 2)
                self.on_event(float(when), json.loads(payload))
            else:
                self.on_line(line)

    def on_event(self, when: float, event: dict[str, Any]) -> None:
        """One event the engine delivered, at `when` (time.monotonic in the child)."""

    def on_line(self, line: str) -> None:
        """Any other line the child printed."""

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def client(self, service: str) -> Any:
        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION, config=CLIENT_CONFIG, **CREDENTIALS
        )
