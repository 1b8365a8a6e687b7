"""The latency floor: a bare aiohttp app answering `{}` to everything (run as a subprocess).

python -m tests.bench.floor_server PORT
"""

from __future__ import annotations

import sys

from aiohttp import web

BODY = b"{}"
HEADERS = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "floor"}


async def answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BODY, headers=HEADERS)


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
