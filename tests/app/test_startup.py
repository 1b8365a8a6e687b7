"""The first frame does not wait for aiobotocore: building the app imports none of it (the
watcher imports it on its first call, which the app makes after its first refresh)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("aiobotocore", "botocore", "boto3", "aiohttp")

PROBE = f"""
import sys
from tui.app.app import make_app
from tui.aws.session import ConnectionSettings
make_app(connection=ConnectionSettings(endpoint_url="http://127.0.0.1:9"))
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
print(",".join(loaded))
"""


def test_building_the_app_imports_no_aws_sdk() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
