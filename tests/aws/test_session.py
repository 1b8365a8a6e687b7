"""The connection: settings from flags and the standard environment, one client per service,
local endpoint detection. Real aiobotocore clients against the real endpoint."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.aws.moto_server import MotoServer
from tests.endpoint import Endpoint
from tui.aws.session import AwsContext, ConnectionSettings, is_loopback_url


async def test_explicit_endpoint_serves_codepipeline(endpoint: Endpoint) -> None:
    async with AwsContext(ConnectionSettings(endpoint_url=endpoint.url)) as aws:
        client = await aws.client("codepipeline")
        assert (await client.list_pipelines())["pipelines"] == []
        assert await aws.endpoint_url() == endpoint.url


async def test_aws_endpoint_url_from_the_environment(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    async with AwsContext() as aws:
        client = await aws.client("codepipeline")
        assert (await client.list_pipelines())["pipelines"] == []
        assert await aws.endpoint_url("codepipeline") == endpoint.url
        assert await aws.is_local()


async def test_service_specific_endpoint_url_from_the_environment(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", endpoint.url)
    async with AwsContext() as aws:
        assert await aws.endpoint_url("codepipeline") == endpoint.url
        # Other services keep AWS's own endpoint.
        assert (await aws.endpoint_url("sqs")).startswith("https://sqs.us-east-1.amazonaws.com")


async def test_region_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    async with AwsContext() as aws:
        client = await aws.client("codepipeline")
        assert client.meta.region_name == "eu-west-1"
    # botocore itself ignores AWS_REGION; the connection honours it above AWS_DEFAULT_REGION.
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    async with AwsContext() as aws:
        client = await aws.client("codepipeline")
        assert client.meta.region_name == "eu-central-1"
        assert aws.region == "eu-central-1"
    async with AwsContext(ConnectionSettings(region="ap-southeast-2")) as aws:
        client = await aws.client("codepipeline")
        assert client.meta.region_name == "ap-southeast-2"


async def test_profile_from_aws_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "aws-config").write_text("[profile dev]\nregion = sa-east-1\n")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_PROFILE", "dev")
    async with AwsContext() as aws:
        client = await aws.client("sqs")
        assert client.meta.region_name == "sa-east-1"
        assert aws.profile == "dev"


async def test_endpoint_without_region_defaults_to_us_east_1(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    async with AwsContext(ConnectionSettings(endpoint_url=endpoint.url)) as aws:
        client = await aws.client("codepipeline")
        assert client.meta.region_name == "us-east-1"


async def test_one_client_per_service_even_when_asked_concurrently(endpoint: Endpoint) -> None:
    async with AwsContext(ConnectionSettings(endpoint_url=endpoint.url)) as aws:
        clients = await asyncio.gather(*(aws.client("codepipeline") for _ in range(5)))
        assert all(c is clients[0] for c in clients)
        assert await aws.client("s3") is not clients[0]
        assert await aws.client("codepipeline") is clients[0]
    with pytest.raises(RuntimeError, match="closed"):
        await aws.client("codepipeline")


async def test_client_config_timeouts_and_retries(endpoint: Endpoint) -> None:
    async with AwsContext(ConnectionSettings(endpoint_url=endpoint.url)) as aws:
        codepipeline = await aws.client("codepipeline")
        sqs = await aws.client("sqs")
        assert codepipeline.meta.config.retries["mode"] == "standard"
        assert codepipeline.meta.config.read_timeout == 30
        # The feed long-polls 20 s: the SQS read timeout must outlast it.
        assert sqs.meta.config.read_timeout > 20
        assert (await aws.client("s3")).meta.config.s3["addressing_style"] == "path"


async def test_is_local_against_our_endpoint_and_others(
    endpoint: Endpoint, moto: MotoServer
) -> None:
    async with AwsContext(ConnectionSettings(endpoint_url=endpoint.url)) as aws:
        assert await aws.is_local()
    # moto is on loopback but is not our endpoint.
    async with AwsContext(ConnectionSettings(endpoint_url=moto.url)) as aws:
        assert not await aws.is_local()
    # AWS itself: not loopback, so no health request is even made.
    async with AwsContext(ConnectionSettings(region="eu-west-1")) as aws:
        assert not await aws.is_local()


def test_loopback_urls() -> None:
    assert is_loopback_url("http://127.0.0.1:4599")
    assert is_loopback_url("http://127.8.9.1")
    assert is_loopback_url("http://[::1]:4599/")
    assert is_loopback_url("http://localhost:4599")
    assert not is_loopback_url("http://10.0.0.5:4599")
    assert not is_loopback_url("https://codepipeline.eu-west-1.amazonaws.com")


def test_importing_the_client_layer_does_not_import_aiobotocore() -> None:
    """The app paints its first frame before aiobotocore (hundreds of ms) is imported."""
    import subprocess
    import sys

    modules = ["session", "errors", "pipelines", "feed", "reconcile", "logtail", "artifacts"]
    code = (
        "import sys\n"
        + "".join(f"import tui.aws.{m}\n" for m in modules)
        + "print(sorted(m for m in ('aiobotocore', 'botocore', 'aiohttp') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
