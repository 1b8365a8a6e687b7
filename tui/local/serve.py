"""`pipetop local serve`: run one endpoint until SIGTERM or SIGINT.

Contract with whoever starts it (people, `pipetop demo`, `tests/process.py`):
- Binds loopback unless `allow_remote`; a non-loopback host without it is refused.
- Prints exactly one line to stdout, `listening on http://HOST:PORT`, flushed, once the
  socket accepts connections (with port 0 the kernel's choice is printed). Logs go to stderr.
- SIGTERM and SIGINT shut down cleanly: stop accepting, give in-flight requests
  `SHUTDOWN_GRACE` seconds, close the backend, exit 0.
- One server per data dir: `serve.lock` in the data dir is held with `fcntl.flock` for the
  server's lifetime (the kernel drops it if the process dies, so a crash never leaves a stale
  lock). The file records the holder's pid for the refusal message.
- Exit codes: 0 after a clean shutdown; 2 when the server cannot start (refused host, data dir
  that cannot be created or is in use, address already in use); 1 for anything unexpected.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import ipaddress
import logging
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from tui.local.api.server import build_app
from tui.local.assembly import open_backend
from tui.local.backend import DEFAULT_ACCOUNT, DEFAULT_REGION, Backend
from tui.local.clock import Clock, ManualClock
from tui.local.config import ConfigError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599
LOCK_NAME = "serve.lock"
SHUTDOWN_GRACE = 1.0


@dataclass(frozen=True)
class ServeOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path | None = None
    allow_remote: bool = False
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    manual_clock: bool = False
    config: Path | None = None
    access_log: bool = False
    # Seconds between looks at watched sources (None: the watcher's default).
    watch_interval: float | None = None


class StartupError(Exception):
    """The server cannot start; the message is one line for the user."""


def default_data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """`$XDG_DATA_HOME/pipetop/local`, or `~/.local/share/pipetop/local`."""
    base = environ.get("XDG_DATA_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "pipetop" / "local"


def _addresses(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise StartupError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    return [str(info[4][0]) for info in infos]


def is_loopback(host: str) -> bool:
    """True when every address `host` stands for is a loopback address."""
    addresses = _addresses(host)
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def check_host(host: str, allow_remote: bool) -> None:
    if allow_remote or is_loopback(host):
        return
    raise StartupError(
        f"refusing to listen on {host}, which is not a loopback address: the endpoint has no "
        "authentication; pass --allow-remote to do it anyway"
    )


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[Path]:
    """Create the data dir if needed and hold its lock; StartupError if either is impossible."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"cannot create data dir {data_dir}: {exc.strerror or exc}") from None
    lock_path = data_dir / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StartupError(f"cannot use data dir {data_dir}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise StartupError(f"cannot lock data dir {data_dir}: {exc.strerror}") from None
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            owner = f" (pid {holder})" if holder.isdigit() else ""
            raise StartupError(
                f"data dir {data_dir} is in use by another pipetop local serve{owner}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield data_dir
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _listen(host: str, port: int) -> socket.socket:
    address = _addresses(host)[0]
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        return socket.create_server((host.strip("[]"), port), family=family, backlog=128)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _url(host: str, port: int) -> str:
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _announce(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def serve(
    options: ServeOptions,
    *,
    announce: Callable[[str], None] = _announce,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the endpoint until `stop` is set (by SIGTERM/SIGINT when running on the main thread)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, RuntimeError):  # not on the main thread
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    try:
        check_host(options.host, options.allow_remote)
        data_dir = options.data_dir or default_data_dir()
        with data_dir_lock(data_dir):
            sock = _listen(options.host, options.port)
            try:
                clock = ManualClock() if options.manual_clock else Clock()
                try:
                    backend = await open_backend(
                        data_dir,
                        clock,
                        options.region,
                        options.account,
                        options.config,
                        watch_interval=options.watch_interval,
                    )
                except sqlite3.DatabaseError as exc:
                    raise StartupError(f"cannot open the database in {data_dir}: {exc}") from None
                except ConfigError as exc:
                    raise StartupError(str(exc)) from None
                try:
                    await _run_site(backend, sock, options, announce, stop)
                finally:
                    await backend.close()
            finally:
                sock.close()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


async def _run_site(
    backend: Backend,
    sock: socket.socket,
    options: ServeOptions,
    announce: Callable[[str], None],
    stop: asyncio.Event,
) -> None:
    runner = web.AppRunner(
        build_app(backend),
        access_log=logging.getLogger("aiohttp.access") if options.access_log else None,
        shutdown_timeout=SHUTDOWN_GRACE,
    )
    await runner.setup()
    try:
        site = web.SockSite(runner, sock)
        await site.start()
        port = sock.getsockname()[1]
        log.info(
            "serving data dir %s on port %d (region %s, account %s, %s clock)",
            backend.data_dir,
            port,
            backend.region,
            backend.account,
            "manual" if options.manual_clock else "real",
        )
        backend.endpoint_url = _url(options.host, port)
        announce(f"listening on {backend.endpoint_url}")
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()


def run(options: ServeOptions) -> int:
    """Serve until signalled; returns the process exit code."""
    try:
        asyncio.run(serve(options))
    except StartupError as exc:
        print(f"pipetop local serve: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        # SIGINT before the handler was installed: nothing was started yet.
        return 0
    except Exception:
        log.exception("the endpoint stopped on an unexpected error")
        return 1
    return 0
