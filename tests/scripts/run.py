"""Run `pipetop` as a real subprocess against an endpoint (anything with a `url`)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

PIPETOP = [sys.executable, "-m", "tui.cli"]


def pipetop(*args: str, url: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`pipetop ARGS --endpoint-url URL`, stdout and stderr captured (a pipe: not a TTY)."""
    return subprocess.run(
        [*PIPETOP, *args, "--endpoint-url", url],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def spawn(*args: str, url: str, **options: Any) -> subprocess.Popen[str]:
    """The same, left running (the caller waits, signals or kills it)."""
    return subprocess.Popen(
        [*PIPETOP, *args, "--endpoint-url", url],
        stdout=options.pop("stdout", subprocess.PIPE),
        stderr=options.pop("stderr", subprocess.PIPE),
        stdin=subprocess.DEVNULL,
        text=True,
        **options,
    )


def one_line_error(stderr: str) -> str:
    """The single line a failing script writes; fails the test on a traceback or more lines."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]
