from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.aws.moto_server import MotoServer
from tests.endpoint import Endpoint
from tui.aws.session import AwsContext, ConnectionSettings


@pytest.fixture(scope="session")
def moto_session() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def moto(moto_session: MotoServer) -> MotoServer:
    """moto's server, emptied for this test."""
    moto_session.reset()
    return moto_session


@pytest.fixture
async def aws(endpoint: Endpoint) -> AsyncIterator[AwsContext]:
    """The client layer's connection to the test's endpoint (dummy credentials from the env)."""
    async with AwsContext(ConnectionSettings(endpoint_url=endpoint.url, max_attempts=1)) as ctx:
        yield ctx


@pytest.fixture
async def moto_aws(moto: MotoServer) -> AsyncIterator[AwsContext]:
    async with AwsContext(ConnectionSettings(endpoint_url=moto.url, max_attempts=1)) as ctx:
        yield ctx
