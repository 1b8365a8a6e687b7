"""What every script shares: exit codes, one-line errors, Ctrl-C, a closed pipe.

    return run_script("watch", connection, lambda pipelines: follow(pipelines, ...))

`run_script` opens one AWS connection, hands the body a `PipelineClient` and turns every way
out into an exit code and at most one line on stderr:

- the body's own `ScriptFailed(code, message)`: the message, the code;
- a client-layer exception: `aws.describe(exc)` as `pipetop NAME: title: detail (hint)`, exit
  `EXIT_NOT_FOUND` for a missing pipeline/execution, `EXIT_AWS` for anything else;
- Ctrl-C (SIGINT): `EXIT_INTERRUPTED` (130, as shells report it), without a traceback;
- stdout closed by the reader (`pipetop watch ... | head -3`): `EXIT_BROKEN_PIPE` (141, a
  shell's SIGPIPE status) and nothing more is written. [I]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable
from enum import IntEnum

from tui.aws.errors import NotFound
from tui.aws.pipelines import PipelineClient
from tui.aws.session import AwsContext, ConnectionSettings


class ExitCode(IntEnum):
    """Exit codes of `pipetop approve` and `pipetop watch` (documented in their --help)."""

    OK = 0  # approved/rejected; the watched execution succeeded
    FAILED = 1  # the watched execution failed
    USAGE = 2  # bad arguments (argparse's own code)
    NOT_FOUND = 3  # no such pipeline, stage, action or execution
    AWS = 4  # the call failed: credentials, access, network, throttling, a refusal
    STOPPED = 5  # the watched execution was stopped
    SUPERSEDED = 6  # the watched execution was superseded by a newer one
    CANCELLED = 7  # the watched execution was cancelled (the pipeline was updated)
    NO_PENDING = 8  # approve: no approval is waiting on that action
    STALE = 9  # approve: the approval was answered or expired meanwhile
    INTERRUPTED = 130  # Ctrl-C
    BROKEN_PIPE = 141  # whoever read stdout stopped reading


class ScriptFailed(Exception):
    """An expected way for a script to end unsuccessfully: `message` goes to stderr."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Body = Callable[[PipelineClient], Awaitable[int]]


def run_script(name: str, connection: ConnectionSettings, body: Body) -> int:
    """Run `body` on a fresh connection; returns the exit code (see the module docstring)."""
    prefix = f"pipetop {name}"
    try:
        return asyncio.run(_run(prefix, connection, body))
    except KeyboardInterrupt:
        _say(f"{prefix}: interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.BROKEN_PIPE


async def _run(prefix: str, connection: ConnectionSettings, body: Body) -> int:
    async with AwsContext(connection) as aws:
        try:
            return await body(PipelineClient(aws))
        except ScriptFailed as failed:
            _say(f"{prefix}: {failed.message}")
            return failed.code
        except (KeyboardInterrupt, BrokenPipeError, asyncio.CancelledError):
            raise
        except Exception as exc:  # every client-layer failure, described, never a traceback
            problem = aws.describe(exc)
            _say(f"{prefix}: {problem.title}: {problem.detail} ({problem.hint})")
            return ExitCode.NOT_FOUND if isinstance(problem, NotFound) else ExitCode.AWS


def _say(line: str) -> None:
    with contextlib.suppress(OSError):
        print(" ".join(line.split()), file=sys.stderr, flush=True)


def _silence_stdout() -> None:
    # Python flushes stdout again at exit; pointing it at /dev/null keeps that flush from
    # printing a second BrokenPipeError.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
