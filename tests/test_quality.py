"""The linters are part of the test suite: ruff, ruff format, mypy (strict on tui/), import-linter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("ruff", "check", "tui", "tests"), id="ruff-check"),
        pytest.param(("ruff", "format", "--check", "tui", "tests"), id="ruff-format"),
        pytest.param(("mypy",), id="mypy"),
        pytest.param(("lint-imports",), id="import-linter"),
    ],
)
def test_tool_is_clean(command: tuple[str, ...]) -> None:
    result = run(str(BIN / command[0]), *command[1:])
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
