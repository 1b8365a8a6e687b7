"""Shell sessions for the providers that run commands on this machine (Commands, CodeBuild).

What both need: a shell started in its own session and process group, its stdout and
stderr merged and split into log lines, markers the provider prints between the commands'
output, and a teardown that leaves no process of the group behind.

Decisions recorded here:

- The shell leads its own process group (`start_new_session`). When the shell ends, or the
  run is cancelled, the group gets SIGTERM, then SIGKILL after a grace period, as a
  container teardown would; a signal is only sent while a member is alive, so the group id
  cannot have been reused.
- Output lines: undecodable bytes replaced, a trailing CR dropped, a final line without
  newline flushed at the end. [I] A line longer than 1 MiB is split into 1 MiB events (never
  inside a UTF-8 sequence) rather than cut.
- Markers: a provider prints `<marker> <fields...>` lines; text before a marker on the same
  line (a command's last line without newline) is output of its own.
- The shell's environment is exactly what the provider passes: nothing of the server's
  own environment (so no AWS credentials) unless the provider copies it in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.local.engine.orphans import GroupTracker

KILL_GRACE_SECONDS = 3.0
MAX_LINE_BYTES = 1024 * 1024
# How long to keep reading output after the commands' process group is gone; only a
# process that left the group (setsid, daemonize) can hold the pipe open that long.
DRAIN_SECONDS = 2.0


def container_date(seconds: float) -> str:
    """CodeBuild's `[Container]` timestamp: `2026/01/01 12:00:00.123456` (UTC)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y/%m/%d %H:%M:%S.%f")


def find_shell() -> str:
    return shutil.which("bash") or shutil.which("sh") or "/bin/sh"


def shell_argv(shell: str, script: str) -> list[str]:
    """The shell running `script`, with no profile or rc files."""
    return [shell, *(["--noprofile", "--norc"] if Path(shell).name == "bash" else []), "-c", script]


def split_marker(text: str, marker: str) -> tuple[str | None, list[str] | None]:
    """(output before the marker or the whole line, the marker's fields or None)."""
    at = text.find(marker)
    if at == -1:
        return text, None
    before = text[:at] if at > 0 else None
    return before, text[at + len(marker) :].split()


class LineReader:
    """Splits a byte stream into text lines and hands each to `on_line`.

    The complete lines of a chunk are decoded at once, then split: the same text as decoding
    each line (a newline byte is never part of a UTF-8 sequence, so no invalid sequence spans
    one), with one decoder call a chunk instead of one a line.
    """

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self._on_line = on_line
        self._pending = b""

    async def pump(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            data = self._pending + chunk if self._pending else chunk
            end = data.rfind(b"\n")
            if end == -1:
                self._pending = data
            else:
                self._pending = data[end + 1 :]
                complete = data[:end]
                if len(complete) <= MAX_LINE_BYTES:
                    self._lines(complete)
                else:
                    # Only after a long unfinished line: cut whatever line is too long.
                    for line in complete.split(b"\n"):
                        self._lines(self._cut(line))
            if len(self._pending) > MAX_LINE_BYTES:
                self._pending = self._cut(self._pending)
            # `read` does not wait while the pipe's buffer holds more (asyncio reads up to
            # 256 KiB at a time): let requests in between chunks, not only between buffers.
            await asyncio.sleep(0)
        self.flush()

    def _cut(self, line: bytes) -> bytes:
        """Hands on `line`'s first MAX_LINE_BYTES-long pieces as lines; returns the rest."""
        while len(line) > MAX_LINE_BYTES:
            cut = MAX_LINE_BYTES
            # Never cut inside a UTF-8 sequence: back up over continuation bytes.
            while cut > MAX_LINE_BYTES - 4 and (line[cut] & 0xC0) == 0x80:
                cut -= 1
            self._lines(line[:cut])
            line = line[cut:]
        return line

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, b""
            self._lines(pending)

    def _lines(self, raw: bytes) -> None:
        """Hands on the lines of `raw`, newline-separated, without a trailing CR each."""
        text = raw.decode("utf-8", errors="replace")
        on_line = self._on_line
        if "\r" not in text:
            for line in text.split("\n"):
                on_line(line)
            return
        for line in text.split("\n"):
            on_line(line[:-1] if line.endswith("\r") else line)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies count as gone).

    The kernel answers "no member at all" in one call; only a group that still has members
    (perhaps only zombies) needs the scan of /proc, which reads every process's stat and
    would otherwise block the event loop for milliseconds on each check of every run.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        signalable = False
    else:
        signalable = True
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return signalable
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            return True
    return False


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _wait_until_gone(process: asyncio.subprocess.Process, seconds: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    # Polled: nothing notifies us when the last member of a process group exits.
    while process.returncode is None or group_alive(process.pid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def terminate_group(
    process: asyncio.subprocess.Process, grace: float, tracker: GroupTracker | None = None
) -> None:
    """SIGTERM the shell's process group, SIGKILL whatever is left after `grace` seconds, and
    return once nothing of the group runs any more (then `tracker` strikes it off)."""
    pgid = process.pid
    try:
        if process.returncode is None or group_alive(pgid):
            signal_group(pgid, signal.SIGTERM)
            await _wait_until_gone(process, grace)
    finally:
        # Even if this wait is itself cancelled, nothing of the group may survive.
        if process.returncode is None or group_alive(pgid):
            signal_group(pgid, signal.SIGKILL)
    # SIGKILL takes effect asynchronously.
    if await _wait_until_gone(process, 2.0) and tracker is not None:
        tracker.ended(pgid)


class _ShellProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Tells when the shell itself exits: `Process.wait()` also waits for every process that
    still holds the output pipe (a background job), which is exactly what must be killed."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=2**16, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


@dataclass
class Shell:
    process: asyncio.subprocess.Process
    transport: asyncio.SubprocessTransport
    # Set when the shell process itself has exited (its children may live on).
    exited: asyncio.Event
    # Where the group is written down until it is gone (see tui/local/engine/orphans.py).
    tracker: GroupTracker | None = None

    def close(self) -> None:
        """Stop reading a pipe that a process outside the group keeps open."""
        self.transport.close()


async def spawn(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    stdin_pipe: bool = False,
    tracker: GroupTracker | None = None,
) -> Shell:
    """Start the shell in its own session (so its process group can be killed as a whole),
    stdout and stderr merged into one pipe, stdin from /dev/null unless `stdin_pipe`; the
    group is written down with `tracker` before anything reads its output."""
    loop = asyncio.get_running_loop()
    protocol = _ShellProtocol(loop)
    transport, _ = await loop.subprocess_exec(
        lambda: protocol,
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin_pipe else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    process = asyncio.subprocess.Process(transport, protocol, loop)
    if tracker is not None:
        tracker.started(process.pid)
    return Shell(process, transport, protocol.exited, tracker)


async def start_shielded(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    stdin_pipe: bool = False,
    grace: float,
    tracker: GroupTracker | None = None,
) -> Shell:
    """`spawn`, safe against cancellation: a cancellation while asyncio is still connecting the
    pipes would otherwise kill only the shell and orphan whatever it had already started, so
    the start is shielded and, once it completes, its whole group is ended before the
    CancelledError propagates. Raises OSError/ValueError when the shell cannot start."""
    start = asyncio.ensure_future(
        spawn(argv, cwd=cwd, env=env, stdin_pipe=stdin_pipe, tracker=tracker)
    )
    try:
        return await asyncio.shield(start)
    except asyncio.CancelledError:
        started = await _finish_starting(start)
        if started is not None:
            try:
                await terminate_group(started.process, grace, started.tracker)
            finally:
                started.close()
        raise


async def _finish_starting(start: asyncio.Future[Shell]) -> Shell | None:
    """The shell of a start that a cancellation interrupted, once it exists (None if it failed)."""
    try:
        return await start
    except asyncio.CancelledError:
        # Cancelled again while waiting: kill the group as soon as the start completes.
        start.add_done_callback(_kill_when_started)
        raise
    except (OSError, ValueError):
        return None


def _kill_when_started(start: asyncio.Future[Shell]) -> None:
    if start.cancelled() or start.exception() is not None:
        return
    shell = start.result()
    signal_group(shell.process.pid, signal.SIGKILL)
    shell.close()


async def stop_shell(shell: Shell, reader: asyncio.Task[None] | None, grace: float) -> None:
    """End the whole group and stop reading its output (cancellation path)."""
    try:
        await terminate_group(shell.process, grace, shell.tracker)
    finally:
        if reader is not None:
            reader.cancel()
        shell.close()


async def drain(
    shell: Shell, reader: asyncio.Task[None], lines: LineReader, seconds: float
) -> bool:
    """Wait up to `seconds` for the output to end after the group is gone; False when a
    process outside the group still held the pipe and reading was abandoned."""
    try:
        await asyncio.wait_for(asyncio.shield(reader), seconds)
    except TimeoutError:
        reader.cancel()
        lines.flush()
        shell.close()
        return False
    return True


@dataclass(frozen=True)
class StepResult:
    """How one command of a `ShellSession` ended."""

    # The command's exit status; when the command ended the shell itself, the shell's
    # (negative: killed by that signal).
    status: int
    # The command ended the shell session (`exit`, `exec`, a failure under `set -e`).
    ended_session: bool = False

    @property
    def reason(self) -> str:
        if self.status < 0:
            return f"killed by signal {-self.status}"
        return f"exit status {self.status}"


# The session's driver loop. Commands arrive on stdin as a header line `<step> <line count>`
# followed by that many lines, and are eval'ed with stdin from /dev/null. Only builtins are
# used, so a command that empties PATH cannot break the loop. Markers go to fd 9, a copy of
# the original stdout, so they still arrive (in order with the output) after a command
# redirects the shell's own stdout; the format string splits the marker so that a `set -x`
# trace of the printf never contains it.
_SESSION_LOOP = """exec 9>&1
while IFS=' ' read -r __pipetop_step __pipetop_count; do
  __pipetop_command=''
  while [ "$__pipetop_count" -gt 0 ]; do
    IFS= read -r __pipetop_line || break
    __pipetop_command="$__pipetop_command$__pipetop_line
"
    __pipetop_count=$((__pipetop_count - 1))
  done
  printf '##pipetop-%s## start %s\\n' {token} "$__pipetop_step" >&9
  eval "$__pipetop_command" </dev/null
  __pipetop_rc=$?
  printf '##pipetop-%s## end %s %s\\n' {token} "$__pipetop_step" "$__pipetop_rc" >&9
done
"""


class ShellSession:
    """One shell that runs commands one at a time, keeping its state (`cd`, variables,
    background jobs) between them, as CodeBuild's buildspec version 0.2 does.

    The shell starts on the first `run`. A command that ends the shell ends the session: the
    rest of its process group is ended, and the next `run` starts a fresh shell from `cwd`
    with `env` (both may be changed in between). `close` ends the session normally (its
    leftover processes get SIGTERM, then SIGKILL); `kill` is for cancellation.
    """

    def __init__(
        self,
        shell: str,
        *,
        cwd: Path,
        env: dict[str, str],
        log: Callable[[str], None],
        notice: Callable[[str], None],
        grace: float = KILL_GRACE_SECONDS,
        drain_seconds: float = DRAIN_SECONDS,
        tracker: GroupTracker | None = None,
    ) -> None:
        self.shell = shell
        self._tracker = tracker
        self.cwd = cwd
        self.env = env
        self._log = log
        self._notice = notice
        self._grace = grace
        self._drain_seconds = drain_seconds
        self._token = os.urandom(16).hex()
        self._marker = f"##pipetop-{self._token}##"
        self._steps = 0
        self._on_start: dict[int, Callable[[], None] | None] = {}
        self._ends: dict[int, asyncio.Future[int]] = {}
        self._shell: Shell | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lines = LineReader(self._line)

    @property
    def running(self) -> bool:
        return self._shell is not None

    def _line(self, text: str) -> None:
        before, fields = split_marker(text, self._marker)
        if before is not None:
            self._log(before)
        if fields is None or len(fields) < 2 or not fields[1].isdigit():
            return
        step = int(fields[1])
        if fields[0] == "start":
            on_start = self._on_start.pop(step, None)
            if on_start is not None:
                on_start()
        elif fields[0] == "end" and len(fields) >= 3:
            end = self._ends.get(step)
            if end is not None and not end.done():
                try:
                    end.set_result(int(fields[2]))
                except ValueError:
                    end.set_result(1)

    async def _start(self) -> Shell:
        script = _SESSION_LOOP.format(token=self._token)
        shell = await start_shielded(
            shell_argv(self.shell, script),
            cwd=self.cwd,
            env=dict(self.env),
            stdin_pipe=True,
            grace=self._grace,
            tracker=self._tracker,
        )
        assert shell.process.stdout is not None
        self._lines = LineReader(self._line)
        self._shell = shell
        self._reader = asyncio.create_task(self._lines.pump(shell.process.stdout))
        return shell

    async def run(self, command: str, on_start: Callable[[], None] | None = None) -> StepResult:
        """Run one command; `on_start` is called when it starts, in order with the output.

        Raises OSError/ValueError when a shell cannot be started.
        """
        shell = self._shell or await self._start()
        self._steps += 1
        step = self._steps
        end: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._ends[step] = end
        self._on_start[step] = on_start
        lines = command.split("\n")
        payload = f"{step} {len(lines)}\n" + "".join(f"{line}\n" for line in lines)
        stdin = shell.process.stdin
        assert stdin is not None
        try:
            stdin.write(payload.encode())
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # The shell is gone; `exited` says so below.
        exited = asyncio.ensure_future(shell.exited.wait())
        waits: list[asyncio.Future[Any]] = [end, exited]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
            self._on_start.pop(step, None)
        if end.done():
            self._ends.pop(step, None)
            return StepResult(end.result())
        returncode = shell.process.returncode
        await self._end(shell)
        self._ends.pop(step, None)
        return StepResult(-1 if returncode is None else returncode, ended_session=True)

    async def _end(self, shell: Shell) -> None:
        """After the shell exited: end the rest of its group and read its last output."""
        await terminate_group(shell.process, self._grace, self._tracker)
        assert self._reader is not None
        if not await drain(shell, self._reader, self._lines, self._drain_seconds):
            self._notice(
                "Output is still open after the shell ended (a process left the group); stopped reading it"
            )
        await shell.process.wait()
        self._shell = None
        self._reader = None

    async def close(self) -> None:
        """End the session between commands: the shell exits, its leftovers are ended."""
        shell = self._shell
        if shell is None:
            return
        stdin = shell.process.stdin
        assert stdin is not None
        stdin.close()
        await shell.exited.wait()
        await self._end(shell)

    async def kill(self) -> None:
        """End the whole process group now (cancellation, timeout)."""
        shell = self._shell
        if shell is None:
            return
        self._shell = None
        await stop_shell(shell, self._reader, self._grace)
        self._reader = None
