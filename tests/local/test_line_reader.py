"""The shell providers' output reader: bytes from a pipe into log lines, however they arrive."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.local.engine.providers.shell import MAX_LINE_BYTES, LineReader


def read_lines(chunks: list[bytes]) -> list[str]:
    """The lines a LineReader makes of `chunks` arriving one by one on a StreamReader."""

    async def run() -> list[str]:
        lines: list[str] = []
        stream = asyncio.StreamReader()
        for chunk in chunks:
            stream.feed_data(chunk)
        stream.feed_eof()
        await LineReader(lines.append).pump(stream)
        return lines

    return asyncio.run(run())


def one_line_at_a_time(data: bytes) -> list[str]:
    """The rule, line by line: split at newlines, each line decoded on its own (undecodable
    bytes replaced), a trailing CR dropped, a last line without newline kept."""
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    lines = [part.decode("utf-8", errors="replace") for part in parts]
    return [line[:-1] if line.endswith("\r") else line for line in lines]


_PIECES = st.sampled_from(
    [
        *(b"\n", b"\r", b"\r\n", b"a", b"ok ", "é".encode(), "€".encode(), "😀".encode()),
        # undecodable: sequences cut short, stray continuation bytes, bytes never in UTF-8
        *(b"\xe2\x82", b"\xf0\x9f", b"\x80", b"\xc3", b"\xff"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(_PIECES, max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_lines_are_the_same_however_the_bytes_are_chunked(
    pieces: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(pieces)
    bounds = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    assert read_lines(chunks) == one_line_at_a_time(data)


@pytest.mark.parametrize("extra", [10, 100_000])
def test_a_line_over_a_mebibyte_is_cut_between_characters(extra: int) -> None:
    """However far past 1 MiB the line goes before its newline arrives (10 characters: in
    the very chunk that brings the newline)."""
    # 3-byte characters: a cut at exactly 1 MiB would fall inside one.
    line = "€" * (MAX_LINE_BYTES // 3 + extra)
    data = line.encode() + b"\nnext\n"
    lines = read_lines([data[i : i + 65536] for i in range(0, len(data), 65536)])
    assert lines[-1] == "next"
    assert "".join(lines[:-1]) == line
    assert all(len(part.encode()) <= MAX_LINE_BYTES for part in lines[:-1])
    assert len(lines) == 3  # two pieces of the long line, then "next"
