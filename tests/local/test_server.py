from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.endpoint import Endpoint


def post(
    endpoint: Endpoint, target: str, body: bytes
) -> tuple[int, dict[str, object], dict[str, str]]:
    request = urllib.request.Request(
        endpoint.url,
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def test_unknown_target_is_an_aws_shaped_error(endpoint: Endpoint) -> None:
    status, body, headers = post(endpoint, "NoSuchService_20200101.DoThing", b"{}")
    assert status == 400
    assert body["__type"] == "UnknownOperationException"
    assert "NoSuchService_20200101.DoThing" in str(body["message"])
    assert headers.get("x-amzn-RequestId")
