"""Opaque nextToken paging over an ordered list, as the AWS list operations page."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import TypeVar

from tui.model.errors import InvalidNextTokenException

T = TypeVar("T")


def _encode(scope: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"s": scope, "o": offset}).encode()).decode()


def _decode(scope: str, token: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["o"]
        if data["s"] != scope or not isinstance(offset, int) or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise InvalidNextTokenException(f"The next token '{token}' is not valid") from None
    return offset


def page(
    items: Sequence[T], scope: str, token: str | None, limit: int
) -> tuple[list[T], str | None]:
    """One page of `items` from `token`, and the token of the next page (None at the end).

    `scope` ties a token to the listing that issued it, so a token of one pipeline's listing
    is rejected by another's.
    """
    offset = _decode(scope, token) if token else 0
    if offset > len(items):
        raise InvalidNextTokenException(f"The next token '{token}' is not valid")
    chunk = list(items[offset : offset + limit])
    end = offset + len(chunk)
    return chunk, (_encode(scope, end) if end < len(items) else None)
