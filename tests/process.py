"""`pipetop local serve` as a real subprocess, for tests that need a separate server process.

    with ServerProcess(tmp_path / "data", manual_clock=True) as server:
        server.client("codepipeline").list_pipelines()
        server.advance(60)
        assert server.terminate() == 0

`start()` waits for the one `listening on http://HOST:PORT` line the command prints; on a
timeout or an early exit it raises with the server's stderr. stderr goes to a file (never a
pipe nobody drains), readable any time with `stderr_text()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import boto3

from tests.endpoint import CLIENT_CONFIG

LISTENING = "listening on "


class ServerFailed(AssertionError):
    """The server did not come up (or died); the message carries its stderr."""


class ServerProcess:
    def __init__(
        self,
        data_dir: Path | None,
        *args: str,
        manual_clock: bool = False,
        port: int = 0,
        env: dict[str, str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        command = [sys.executable, "-m", "tui.cli", "local", "serve", "--port", str(port)]
        if data_dir is not None:
            command += ["--data-dir", str(data_dir)]
        if manual_clock:
            command.append("--manual-clock")
        self.command = [*command, *args]
        self.env = {**os.environ, **(env or {})}
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self._stderr: IO[str] | None = None

    # Lifecycle ---------------------------------------------------------------------------

    def start(self) -> ServerProcess:
        # Closed in __exit__ (the object outlives this call, so no `with` here).
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            env=self.env,
            text=True,
        )
        line = self._read_line(self.startup_timeout)
        if not line.startswith(LISTENING):
            self.kill()
            raise ServerFailed(
                f"unexpected first line {line!r}\n--- stderr ---\n{self.stderr_text()}"
            )
        self.url = line[len(LISTENING) :].strip()
        return self

    def _read_line(self, timeout: float) -> str:
        assert self.process is not None
        assert self.process.stdout is not None
        stdout = self.process.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.kill()
                raise ServerFailed(
                    f"no listening line within {timeout}s\n--- stderr ---\n{self.stderr_text()}"
                )
        line = stdout.readline()
        if not line:
            code = self.process.wait(timeout=10)
            raise ServerFailed(
                f"server exited with {code} before listening\n--- stderr ---\n{self.stderr_text()}"
            )
        return line

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the process to exit on its own; returns its exit code."""
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait; returns the exit code (raises if it does not exit in time)."""
        return self.signal(signal.SIGTERM, timeout)

    def interrupt(self, timeout: float = 10.0) -> int:
        """SIGINT (Ctrl-C), then wait; returns the exit code."""
        return self.signal(signal.SIGINT, timeout)

    def signal(self, signum: int, timeout: float = 10.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerFailed(
                f"server ignored signal {signum} for {timeout}s\n--- stderr ---\n{self.stderr_text()}"
            ) from None

    def kill(self) -> int:
        """SIGKILL (a crash, as far as the data dir can tell); returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait(timeout=10)

    def stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def __enter__(self) -> ServerProcess:
        return self.start() if self.process is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ServerFailed):
                self.terminate()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # Talking to it -----------------------------------------------------------------------

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=CLIENT_CONFIG,
        )

    def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a `/_local/...` route (POST when a body is given); returns the JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/_local/{path.lstrip('/')}",
            data=data,
            method="POST" if data is not None else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer

    def advance(self, seconds: float) -> float:
        """Move the server's manual clock forward; returns its new time."""
        now: float = self.control("clock/advance", {"seconds": seconds})["now"]
        return now

    def health(self) -> dict[str, Any]:
        return self.control("health")

    def events(self) -> list[dict[str, Any]]:
        """Every event in the engine's durable event log, in order."""
        collected: list[dict[str, Any]] = []
        after = 0
        while True:
            answer = self.control(f"events?after={after}&limit=10000")
            collected.extend(answer["events"])
            if not answer["events"]:
                return collected
            after = answer["last"]
