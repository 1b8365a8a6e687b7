"""A small real HTTP server answering AWS-shaped errors, for faults no well-behaved server makes.

Throttling, expired tokens and access denials cannot be provoked from our endpoint or moto on
demand, so this peer answers every request with the status, `__type` and message it is given
(the JSON protocols' error shape, reference section 0) and records what it received: the
client under test is real aiobotocore over real HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web


@dataclass
class Answer:
    status: int = 400
    code: str = "ThrottlingException"
    message: str = "Rate exceeded"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    target: str | None
    body: bytes


class AwsShapedPeer:
    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer or Answer()
        self.received: list[Received] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.headers.get("X-Amz-Target"), await request.read()))
        body = {"__type": self.answer.code, "message": self.answer.message}
        target = request.headers.get("X-Amz-Target", "")
        content_type = (
            "application/x-amz-json-1.0"
            if target.startswith("AmazonSQS")
            else "application/x-amz-json-1.1"
        )
        return web.Response(
            status=self.answer.status,
            body=json.dumps(body).encode(),
            headers={"Content-Type": content_type, **self.answer.headers},
        )

    async def __aenter__(self) -> AwsShapedPeer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
