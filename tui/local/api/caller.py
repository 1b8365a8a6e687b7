"""Who is calling: the identity AWS would record in lastChangedBy, updatedBy, triggerDetail.

The local endpoint checks no signatures [I]: any credentials work, and the caller is named
after the access key id in the request's SigV4 `Credential=` scope, as
`arn:aws:iam::<account>:user/<access key id>`. The server sets it per request, and with it the
Host the request was sent to (SQS builds queue URLs from it, as AWS does from its endpoint).
"""

from __future__ import annotations

import re
from contextvars import ContextVar

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")

DEFAULT_CALLER_KEY = "anonymous"

current_access_key: ContextVar[str] = ContextVar("current_access_key", default=DEFAULT_CALLER_KEY)
current_host: ContextVar[str] = ContextVar("current_host", default="localhost")


def access_key_of(authorization: str | None) -> str:
    if not authorization:
        return DEFAULT_CALLER_KEY
    match = _CREDENTIAL.search(authorization)
    return match.group(1) if match else DEFAULT_CALLER_KEY


def caller_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:user/{current_access_key.get()}"
