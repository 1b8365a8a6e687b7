"""One connection to AWS (or the local endpoint): settings, one session, one client per service.

    async with AwsContext(ConnectionSettings(profile="dev", region="eu-west-1")) as aws:
        codepipeline = await aws.client("codepipeline")
        if await aws.is_local(): ...

Decisions recorded here:

- aiobotocore is imported inside `AwsContext` methods, never at module level: the app must
  paint its first frame before aiobotocore (hundreds of milliseconds) is imported.
- Clients are opened lazily, on the first `client(service)`, and kept for the context's life
  (their connection pools are reused); `close()` closes them all. botocore's data loader
  (service models, endpoint rules: parsed JSON, read-only) is shared by every context of the
  process, so a new connection does not parse them again.
- Settings follow the standard chain and botocore does most of it itself: `profile` None lets
  botocore read AWS_PROFILE; credentials come from botocore's chain (env, profile, SSO,
  process, container, instance); AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (e.g.
  AWS_ENDPOINT_URL_SQS) are honoured by botocore when no explicit endpoint is given (verified
  in tests). Region is the exception: botocore 1.4x reads only AWS_DEFAULT_REGION (and the
  profile's `region`), so AWS_REGION, which the CLI v2 and the other SDKs prefer, is read
  here first: explicit `region` > AWS_REGION > AWS_DEFAULT_REGION > the profile's region.
- [I] With an endpoint URL and no region anywhere, the region is `us-east-1` (the local
  endpoint's default), so `pipetop --endpoint-url ...` works on a machine without AWS config.
- One botocore Config for every client: connect timeout 5 s, read timeout 30 s, retry mode
  `standard` with 3 attempts (botocore backs off throttling and 5xx itself). SQS gets a read
  timeout above the feed's 20 s long poll. With an endpoint URL, S3 uses path-style
  addressing (no `bucket.127.0.0.1` host names) and host prefixes are not injected (Logs'
  StartLiveTail would otherwise send to `stream-127.0.0.1`).
- `is_local()` is true when the endpoint is on a loopback address (127.0.0.0/8, ::1,
  `localhost`) and answers `GET /_local/health` with `{"status": "ok"}`: a loopback proxy
  to AWS or moto is not our endpoint, and our endpoint on another host is not trusted as
  one. The answer is cached for the context's life.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from tui.aws.errors import ClientProblem

LONG_POLL_SECONDS = 20
LOCAL_DEFAULT_REGION = "us-east-1"
HEALTH_PATH = "/_local/health"


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and as whom to connect; None means "as the standard AWS chain says"."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 3
    """Attempts per call in botocore's `standard` retry mode (1 = no retries)."""


def resolve_region(settings: ConnectionSettings, profile_region: str | None) -> str | None:
    """explicit > AWS_REGION > AWS_DEFAULT_REGION/profile (`profile_region`, from botocore)."""
    if settings.region:
        return settings.region
    env_region = os.environ.get("AWS_REGION")
    if env_region:
        return env_region
    if profile_region:
        return profile_region
    if settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"):
        return LOCAL_DEFAULT_REGION
    return None


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AwsContext:
    """One aiobotocore session and one client per service, for the app's life."""

    def __init__(self, settings: ConnectionSettings | None = None) -> None:
        self.settings = settings or ConnectionSettings()
        self._session: Any = None
        self._region: str | None = None
        self._clients: dict[str, Any] = {}
        self._stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()
        self._is_local: bool | None = None
        self._closed = False

    async def __aenter__(self) -> AwsContext:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def profile(self) -> str | None:
        """The profile in use: the explicit one, else AWS_PROFILE (None: the default)."""
        return (
            self.settings.profile
            or os.environ.get("AWS_PROFILE")
            or os.environ.get("AWS_DEFAULT_PROFILE")
        )

    @property
    def region(self) -> str | None:
        """The region clients use (known once the first client is open)."""
        return self._region

    def _open_session(self) -> Any:
        if self._session is None:
            from aiobotocore.session import AioSession

            session = AioSession(profile=self.settings.profile)
            session.register_component(
                "data_loader", _shared_loader(session.get_config_variable("data_path"))
            )
            # ProfileNotFound surfaces here, before any client exists.
            profile_region = session.get_config_variable("region")
            self._region = resolve_region(self.settings, profile_region)
            self._session = session
        return self._session

    def _config(self, service: str) -> Any:
        from aiobotocore.config import AioConfig

        read_timeout = self.settings.read_timeout
        if service == "sqs":
            read_timeout = max(read_timeout, LONG_POLL_SECONDS + 10)
        options: dict[str, Any] = {
            "connect_timeout": self.settings.connect_timeout,
            "read_timeout": read_timeout,
            "retries": {"mode": "standard", "total_max_attempts": self.settings.max_attempts},
        }
        if self.settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"):
            options["s3"] = {"addressing_style": "path"}
            options["inject_host_prefix"] = False
        return AioConfig(**options)

    async def client(self, service: str) -> Any:
        """The client for a botocore service name (`codepipeline`, `sqs`, `logs`, ...)."""
        existing = self._clients.get(service)
        if existing is not None:
            return existing
        async with self._lock:
            existing = self._clients.get(service)
            if existing is not None:
                return existing
            if self._closed:
                raise RuntimeError("AwsContext is closed")
            session = self._open_session()
            client = await self._stack.enter_async_context(
                session.create_client(
                    service,
                    region_name=self._region,
                    endpoint_url=self.settings.endpoint_url,
                    config=self._config(service),
                )
            )
            self._clients[service] = client
            return client

    async def endpoint_url(self, service: str = "codepipeline") -> str:
        """The URL a service's requests go to (explicit, from the environment, or AWS's)."""
        client = await self.client(service)
        return str(client.meta.endpoint_url)

    async def is_local(self) -> bool:
        """Whether this connection talks to pipetop's local endpoint (see module docstring)."""
        if self._is_local is None:
            url = await self.endpoint_url("codepipeline")
            self._is_local = is_loopback_url(url) and await _answers_health(url)
        return self._is_local

    def describe(self, exc: BaseException) -> ClientProblem:
        """`errors.describe` with this connection's profile and endpoint named in hints."""
        url = self.settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        # Imported here: the app imports this module before its first frame, errors later.
        from tui.aws.errors import describe

        return describe(exc, profile=self.profile, endpoint_url=url)

    async def close(self) -> None:
        self._closed = True
        self._clients.clear()
        await self._stack.aclose()


_LOADERS: dict[str | None, Any] = {}


def _shared_loader(data_path: str | None) -> Any:
    """One botocore data loader per data path for the process: service models and endpoint
    rules are parsed once, not again by every new connection (a profile or region switch)."""
    loader = _LOADERS.get(data_path)
    if loader is None:
        from botocore.loaders import create_loader

        loader = _LOADERS[data_path] = create_loader(data_path)
    return loader


async def _answers_health(url: str) -> bool:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=2)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(url.rstrip("/") + HEALTH_PATH) as response,
        ):
            if response.status != 200:
                return False
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False
    return isinstance(body, dict) and body.get("status") == "ok"
