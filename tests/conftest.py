from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.endpoint import Endpoint


@pytest.fixture(autouse=True)
def _isolated_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's own AWS config and credentials out of every test."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[Endpoint]:
    """A real endpoint on 127.0.0.1 with a ManualClock, on a fresh data dir."""
    ep = Endpoint(tmp_path / "data").start()
    try:
        yield ep
    finally:
        ep.stop()
