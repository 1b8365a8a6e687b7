"""A real endpoint on 127.0.0.1 in a background thread, for tests that use real boto3 clients.

boto3 is synchronous: the endpoint gets its own event loop in its own thread so a test can
block on a boto3 call while the server answers it. `call()` runs a function on the server's
loop (to advance a ManualClock or read engine state) and returns its result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import boto3
from aiohttp import web
from botocore.config import Config

from tui.local.api.server import build_app
from tui.local.backend import Backend
from tui.local.clock import Clock, ManualClock

T = TypeVar("T")

CLIENT_CONFIG = Config(
    retries={"max_attempts": 1, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    s3={"addressing_style": "path"},
)


class Endpoint:
    def __init__(
        self,
        data_dir: Path,
        clock: Clock | None = None,
        *,
        region: str | None = None,
        account: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.clock = clock if clock is not None else ManualClock()
        # The endpoint's own region and account (in ARNs), when not the defaults.
        self.identity = {
            key: value for key, value in (("region", region), ("account", account)) if value
        }
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.backend: Backend
        self.url = ""

    def start(self) -> Endpoint:
        self._thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        from tui.local.assembly import open_backend

        self.backend = await open_backend(self.data_dir, self.clock, **self.identity)
        self._runner = web.AppRunner(build_app(self.backend), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"
        self.backend.endpoint_url = self.url

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.backend.close()

    def stop(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the endpoint's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 30) -> T:
        """Run a plain function on the endpoint's loop (engine state is only touched there)."""
        future: Future[T] = Future()

        def invoke() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(invoke)
        return future.result(timeout)

    def advance(self, seconds: float) -> None:
        """Move a ManualClock forward on the endpoint's loop (timers fire there)."""
        clock = self.clock
        assert isinstance(clock, ManualClock)
        self.call(lambda: clock.advance(seconds))

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=CLIENT_CONFIG,
        )


def wait_for(predicate: Callable[[], T], timeout: float = 20, interval: float = 0.02) -> T:
    """Poll until `predicate()` is truthy; returns its value. For state the engine reaches on its own."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value {value!r}")
        time.sleep(interval)
