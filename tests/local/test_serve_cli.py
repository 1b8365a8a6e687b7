"""`pipetop local serve` as users run it: a real process, real signals, real sockets."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.process import ServerFailed, ServerProcess
from tui.cli import main
from tui.local.serve import LOCK_NAME, StartupError, check_host, default_data_dir, is_loopback

SERVE = [sys.executable, "-m", "tui.cli", "local", "serve"]


def run_serve(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a serve that is expected to refuse to start."""
    return subprocess.run(
        [*SERVE, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def raw_target(url: str, target: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url,
        data=b"{}",
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --------------------------------------------------------------------------------------------
# Running and stopping


def test_serves_until_sigterm_then_releases_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.health()["status"] == "ok"
        status, body = raw_target(server.url, "Nothing_20200101.Do")
        assert (status, body["__type"]) == (400, "UnknownOperationException")
        assert "pipelines" in server.client("codepipeline").list_pipelines()
        assert (data / LOCK_NAME).read_text().strip() == str(server.process.pid)  # type: ignore[union-attr]
        started = time.monotonic()
        assert server.terminate() == 0
        assert time.monotonic() - started < 5
        assert "Traceback" not in server.stderr_text()
    # The lock went with the process: the same data dir serves again.
    with ServerProcess(data) as again:
        assert again.health()["status"] == "ok"
        assert again.terminate() == 0


def test_sigint_is_a_clean_shutdown(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data") as server:
        started = time.monotonic()
        assert server.interrupt() == 0
        assert time.monotonic() - started < 5
        assert "Traceback" not in server.stderr_text()
        assert "KeyboardInterrupt" not in server.stderr_text()


def test_sigkill_leaves_no_stale_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServerProcess(data) as crashed:
        assert crashed.kill() == -9
    with ServerProcess(data) as server:
        assert server.health()["status"] == "ok"


def test_stdout_is_exactly_the_listening_line(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data") as server:
        server.health()
        assert server.terminate() == 0
        assert server.process is not None
        assert server.process.stdout is not None
        assert server.process.stdout.read() == ""
        # Logs went to stderr instead.
        assert "shutting down" in server.stderr_text()


def test_fixed_port_and_localhost(tmp_path: Path) -> None:
    port = free_port()
    with ServerProcess(tmp_path / "data", "--host", "localhost", port=port) as server:
        assert server.url == f"http://localhost:{port}"
        assert server.health()["status"] == "ok"


def test_default_data_dir_follows_xdg(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    with ServerProcess(None, env={"XDG_DATA_HOME": str(xdg)}) as server:
        lock = xdg / "pipetop" / "local" / LOCK_NAME
        assert lock.read_text().strip() == str(server.process.pid)  # type: ignore[union-attr]


def test_manual_clock_is_driven_over_http(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data", manual_clock=True) as server:
        before = server.control("clock")
        assert before["manual"] is True
        assert server.advance(90) == before["now"] + 90
    with ServerProcess(tmp_path / "real") as real:
        with pytest.raises(urllib.error.HTTPError) as refused:
            real.advance(5)
        assert refused.value.code == 400
        assert json.loads(refused.value.read())["__type"] == "InvalidClockException"


# --------------------------------------------------------------------------------------------
# Refusals: one line on stderr, exit code 2, nothing on stdout


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    for fragment in fragments:
        assert fragment in message


def test_non_loopback_host_is_refused(tmp_path: Path) -> None:
    result = run_serve("--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path / "d"))
    assert_refused(result, "0.0.0.0", "--allow-remote")
    assert not (tmp_path / "d").exists()


def test_locked_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServerProcess(data) as first:
        result = run_serve("--port", "0", "--data-dir", str(data))
        assert_refused(result, "in use", str(first.process.pid))  # type: ignore[union-attr]
        assert first.health()["status"] == "ok"


def test_data_dir_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_serve("--port", "0", "--data-dir", str(blocker / "data"))
    assert_refused(result, "cannot create data dir", str(blocker / "data"))


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_serve("--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert_refused(result, f"cannot listen on 127.0.0.1:{port}")


def test_bad_arguments_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["local", "serve", "--port", "70000"],
        ["local", "serve", "--account", "123"],
        ["local", "serve", "--region", "mars"],
        ["local"],
    ):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2, argv
    assert "error:" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# Help and the pieces serve is made of


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["local", "serve", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for option in ("--host", "--port", "--data-dir", "--allow-remote", "--region", "--account"):
        assert option in text
    assert "--manual-clock" in text
    assert "for tests" in text


def test_console_script_help() -> None:
    script = shutil.which("pipetop", path=str(Path(sys.executable).parent))
    assert script is not None
    result = subprocess.run(
        [script, "local", "serve", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert "listening on http://HOST:PORT" in result.stdout


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    # A bare `pipetop` opens the TUI; `--help` says what else there is.
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "local" in out
    assert "demo" in out


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.1", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    if loopback:
        check_host(host, allow_remote=False)
    else:
        with pytest.raises(StartupError):
            check_host(host, allow_remote=False)
        check_host(host, allow_remote=True)


def test_default_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_data_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "pipetop" / "local"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local" / "share" / "pipetop" / "local"
    assert default_data_dir({}) == expected
    # The XDG spec says a relative value is invalid and must be ignored.
    assert default_data_dir({"XDG_DATA_HOME": "relative/dir"}) == expected


def test_startup_failure_shows_stderr(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "d", "--host", "0.0.0.0")
    with pytest.raises(ServerFailed) as failed:
        server.start()
    assert "--allow-remote" in str(failed.value)
    assert os.path.exists(tmp_path)
    assert server.process is not None
    assert server.process.returncode == 2
