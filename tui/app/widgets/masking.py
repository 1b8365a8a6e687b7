"""Ids hidden on screen (`Settings.mask_ids`), so a screen can be shown, shared or captured
without leaking them: execution ids, approval tokens, clientRequestTokens, revision ids and
the local endpoint's port (the ids the engine draws at random, which is also why snapshot
tests mask them).

    Execution  ••••••••-••••-••••-••••-••••••••••••
    aws --endpoint-url http://127.0.0.1:••••• codepipeline put-approval-result ... --token •••…

Decisions recorded here:

- A masked value keeps its length, one `•` per character: the screen is laid out as it is
  with the real ids, so a screenshot shows the real widths and wrapping.
- Masking is for the screen only: what is sent to AWS, what a screen or dialog keeps in its
  attributes and what is copied to the clipboard stay the real values.
- `hide` masks known values wherever they appear in a longer text (a decision restated, an
  AWS CLI command, AWS's own error message naming an id, CustomData with a resolved
  `#{codepipeline.PipelineExecutionId}`), longest first, so a value that contains another
  is masked whole. It does not guess: a value not handed to it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "•"


def mask(value: str) -> str:
    """An id replaced by a placeholder of the same length."""
    return MASK * len(value)


def masked_if(value: str, masked: bool) -> str:
    """`value` as a screen shows it: masked when `masked` (`Settings.mask_ids`)."""
    return mask(value) if masked else value


def short_id(value: str, masked: bool) -> str:
    """An execution id as the screens show it: its first 8 characters, masked or not."""
    return masked_if(value[:8], masked)


def mask_port(url: str) -> str:
    """`http://127.0.0.1:40123` -> `http://127.0.0.1:•••••` (a random port is an id too)."""
    head, colon, port = url.rpartition(":")
    if colon and port.isdigit() and "//" in head:
        return f"{head}:{mask(port)}"
    return url


def hide(text: str, values: Iterable[str | None], urls: Iterable[str | None] = ()) -> str:
    """`text` with each of `values` masked and each of `urls` shown with its port masked,
    wherever they appear (None and empty values are skipped)."""
    for url in {u for u in urls if u}:
        text = text.replace(url, mask_port(url))
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = text.replace(value, mask(value))
    return text


def mask_ids_of(app: object) -> bool:
    """Whether the app's settings ask for masked ids (False for an app without settings)."""
    return bool(getattr(getattr(app, "settings", None), "mask_ids", False))
