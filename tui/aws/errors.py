"""Every failure of the client layer as a typed, user-readable problem: `describe(exc)`.

The app shows `title` (a few words), `detail` (what happened, with the operation) and `hint`
(what to do about it) and never a traceback. The subclasses carry what the app acts on:
`Throttled.retry_after`, `AccessDenied.iam_action`, `EndpointUnreachable.url`, ...

Decisions recorded here:

- botocore is imported inside `describe()`, not at module level: the app imports this module
  for the types before its first frame, and botocore costs tens of milliseconds to import.
- Throttling codes are botocore's own list of throttling codes (standard retry mode), so a
  problem is `Throttled` exactly when botocore already retried it as throttling. [I] Except
  `LimitExceededException`: botocore retries it, but CodePipeline uses it for resource quotas
  (too many pipelines, executions), which waiting does not fix: it is a `ServiceError`.
- [I] `retry_after` comes from a `Retry-After` header when the service sends one, else
  `DEFAULT_RETRY_AFTER` seconds: botocore has already spent its attempts with backoff, so the
  next try should wait noticeably longer than those did.
- The IAM action an operation needs comes from the service's own words when it names one
  ("... is not authorized to perform: codepipeline:GetPipelineState ..."), else from
  `IAM_ACTIONS`, the operations this layer calls. They are not always `<service>:<Operation>`:
  DeleteMessageBatch needs `sqs:DeleteMessage`, HeadObject `s3:GetObject`.
- [I] Rejected keys or signatures (UnrecognizedClientException, InvalidClientTokenId,
  SignatureDoesNotMatch, ...) are `InvalidCredentials`, a kind of their own: neither expired
  nor missing, and the fix differs. A skewed clock (RequestTimeTooSkewed) is `Misconfigured`.
- An exception that is none of botocore's, aiohttp's or the OS's network errors is a bug of
  ours; it is still described (`ServiceError` titled "Unexpected error"), never raised again.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

DEFAULT_RETRY_AFTER = 5.0

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "AWS.SimpleQueueService.RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AWS.SimpleQueueService.AccessDenied",
        "UnauthorizedOperation",
        "NotAuthorized",
    }
)
EXPIRED_TOKEN_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "RequestExpiredToken"}
)
INVALID_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "IncompleteSignatureException",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
        "AuthFailure",
    }
)
CLOCK_SKEW_CODES = frozenset({"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"})
NOT_FOUND_CODES = frozenset(
    {
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "NoSuchKey",
        "NoSuchBucket",
        "NoSuchVersion",
        "NotFound",
        "404",
    }
)

# The operations this layer calls and the IAM action each needs, where it is not
# `<service>:<Operation>` or the service is ambiguous from the operation's name alone.
IAM_ACTIONS: dict[str, str] = {
    # CodePipeline
    **{
        op: f"codepipeline:{op}"
        for op in (
            "ListPipelines",
            "GetPipeline",
            "GetPipelineState",
            "ListPipelineExecutions",
            "GetPipelineExecution",
            "ListActionExecutions",
            "StartPipelineExecution",
            "StopPipelineExecution",
            "RetryStageExecution",
            "PutApprovalResult",
            "EnableStageTransition",
            "DisableStageTransition",
            "RollbackStage",
        )
    },
    # SQS: the batch calls are authorised as their single counterparts.
    "GetQueueUrl": "sqs:GetQueueUrl",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
    "ReceiveMessage": "sqs:ReceiveMessage",
    "DeleteMessage": "sqs:DeleteMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    # CloudWatch Logs and CodeBuild
    "GetLogEvents": "logs:GetLogEvents",
    "FilterLogEvents": "logs:FilterLogEvents",
    "BatchGetBuilds": "codebuild:BatchGetBuilds",
    # S3
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
}

_PERFORM = re.compile(r"not authorized to perform:?\s+([a-z0-9-]+:[A-Za-z0-9*]+)")


class ProblemKind(StrEnum):
    THROTTLED = "throttled"
    ACCESS_DENIED = "access-denied"
    EXPIRED_CREDENTIALS = "expired-credentials"
    INVALID_CREDENTIALS = "invalid-credentials"
    NO_CREDENTIALS = "no-credentials"
    MISCONFIGURED = "misconfigured"
    ENDPOINT_UNREACHABLE = "endpoint-unreachable"
    NOT_FOUND = "not-found"
    READ_ONLY = "read-only"
    SERVICE_ERROR = "service-error"


class ReadOnlyRefused(Exception):
    """A mutating call refused before anything was sent: the client runs read-only."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation} was not sent: pipetop runs read-only.")
        self.operation = operation


@dataclass(frozen=True, kw_only=True)
class ClientProblem:
    """What went wrong, for a person: `title` (short), `detail` (what), `hint` (what to do)."""

    kind: ClassVar[ProblemKind] = ProblemKind.SERVICE_ERROR
    title: str
    detail: str
    hint: str
    operation: str | None = None
    code: str | None = None

    @property
    def transient(self) -> bool:
        """Whether the same call may work later without anyone changing anything."""
        return False

    def __str__(self) -> str:
        return f"{self.title}: {self.detail}"


@dataclass(frozen=True, kw_only=True)
class Throttled(ClientProblem):
    kind: ClassVar[ProblemKind] = ProblemKind.THROTTLED
    retry_after: float = DEFAULT_RETRY_AFTER

    @property
    def transient(self) -> bool:
        return True


@dataclass(frozen=True, kw_only=True)
class AccessDenied(ClientProblem):
    kind: ClassVar[ProblemKind] = ProblemKind.ACCESS_DENIED
    iam_action: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExpiredCredentials(ClientProblem):
    kind: ClassVar[ProblemKind] = ProblemKind.EXPIRED_CREDENTIALS
    profile: str | None = None


@dataclass(frozen=True, kw_only=True)
class InvalidCredentials(ClientProblem):
    kind: ClassVar[ProblemKind] = ProblemKind.INVALID_CREDENTIALS


@dataclass(frozen=True, kw_only=True)
class NoCredentials(ClientProblem):
    kind: ClassVar[ProblemKind] = ProblemKind.NO_CREDENTIALS


@dataclass(frozen=True, kw_only=True)
class Misconfigured(ClientProblem):
    kind: ClassVar[ProblemKind] = ProblemKind.MISCONFIGURED


@dataclass(frozen=True, kw_only=True)
class EndpointUnreachable(ClientProblem):
    kind: ClassVar[ProblemKind] = ProblemKind.ENDPOINT_UNREACHABLE
    url: str | None = None

    @property
    def transient(self) -> bool:
        return True


@dataclass(frozen=True, kw_only=True)
class NotFound(ClientProblem):
    kind: ClassVar[ProblemKind] = ProblemKind.NOT_FOUND


@dataclass(frozen=True, kw_only=True)
class ReadOnly(ClientProblem):
    kind: ClassVar[ProblemKind] = ProblemKind.READ_ONLY


@dataclass(frozen=True, kw_only=True)
class ServiceError(ClientProblem):
    kind: ClassVar[ProblemKind] = ProblemKind.SERVICE_ERROR
    status: int | None = None

    @property
    def transient(self) -> bool:
        return self.status is not None and self.status >= 500


def _profile_flag(profile: str | None) -> str:
    return f" --profile {profile}" if profile else ""


def iam_action_for(operation: str | None, message: str = "") -> str | None:
    """The IAM action a denied call needed: from the service's message, else `IAM_ACTIONS`."""
    found = _PERFORM.search(message)
    if found:
        return found.group(1)
    if operation is None:
        return None
    return IAM_ACTIONS.get(operation)


def describe(
    exc: BaseException, *, profile: str | None = None, endpoint_url: str | None = None
) -> ClientProblem:
    """Map any exception from the client layer to a `ClientProblem` (never raises).

    `profile` and `endpoint_url` are the connection's, named in hints when the exception does
    not carry them (`AwsContext.describe` passes both).
    """
    if isinstance(exc, ReadOnlyRefused):
        return ReadOnly(
            title="Read-only",
            detail=f"{exc.operation} was not sent: pipetop runs with --read-only.",
            hint="Start pipetop without --read-only to approve, stop, retry or start.",
            operation=exc.operation,
        )
    import botocore.exceptions as bce

    if isinstance(exc, bce.ClientError):
        return _describe_client_error(exc, profile)
    if isinstance(
        exc, (bce.UnauthorizedSSOTokenError, bce.SSOTokenLoadError, bce.TokenRetrievalError)
    ):
        return ExpiredCredentials(
            title="SSO session expired",
            detail=f"The SSO session of profile {profile or 'default'} has expired or was never started ({exc}).",
            hint=f"Run `aws sso login{_profile_flag(profile)}`, then retry.",
            profile=profile,
        )
    if isinstance(exc, bce.NoCredentialsError):
        return NoCredentials(
            title="No AWS credentials",
            detail="No credentials were found in the environment, the profile or the instance.",
            hint=(
                f"Run `aws configure{_profile_flag(profile)}`, set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or pick a profile with --profile or AWS_PROFILE."
            ),
        )
    if isinstance(exc, bce.PartialCredentialsError):
        return NoCredentials(
            title="Incomplete AWS credentials",
            detail=str(exc),
            hint=f"Complete them with `aws configure{_profile_flag(profile)}` or the AWS_* variables.",
        )
    if isinstance(exc, bce.CredentialRetrievalError):
        return NoCredentials(
            title="Credentials unavailable",
            detail=str(exc),
            hint="Check the credential source of the profile (credential_process, role, SSO).",
        )
    if isinstance(exc, bce.ProfileNotFound):
        return Misconfigured(
            title="Unknown profile",
            detail=str(exc),
            hint="List the profiles with `aws configure list-profiles`, or pass another --profile.",
        )
    if isinstance(exc, bce.NoRegionError):
        return Misconfigured(
            title="No AWS region",
            detail="No region is configured for this connection.",
            hint="Pass --region, set AWS_REGION, or set `region` in the profile.",
        )
    if isinstance(exc, (bce.ConnectionError, bce.HTTPClientError)):
        url = exc.kwargs.get("endpoint_url") or endpoint_url
        return _unreachable(str(url) if url else None, str(exc))
    if isinstance(exc, bce.ParamValidationError):
        return ServiceError(
            title="Invalid request",
            detail=str(exc),
            hint="This is a bug in pipetop; please report it with the detail above.",
            code="ParamValidationError",
        )
    if isinstance(exc, bce.BotoCoreError):
        return Misconfigured(
            title="AWS configuration problem",
            detail=str(exc),
            hint="Check the profile, region and endpoint settings.",
        )
    return _describe_transport_error(exc, endpoint_url)


def _unreachable(url: str | None, detail: str) -> EndpointUnreachable:
    where = url or "the AWS endpoint"
    return EndpointUnreachable(
        title="Endpoint unreachable",
        detail=f"Could not reach {where}: {detail}",
        hint=(
            f"Check that {where} is up and reachable (network, VPN, proxy); pipetop keeps retrying."
        ),
        url=url,
    )


def _describe_transport_error(exc: BaseException, endpoint_url: str | None) -> ClientProblem:
    import aiohttp

    if isinstance(exc, aiohttp.ClientConnectorError):
        url = endpoint_url or f"http://{exc.host}:{exc.port}"
        return _unreachable(url, str(exc))
    if isinstance(
        exc, (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, ConnectionError, OSError)
    ):
        return _unreachable(endpoint_url, str(exc) or type(exc).__name__)
    return ServiceError(
        title="Unexpected error",
        detail=f"{type(exc).__name__}: {exc}",
        hint="This is a bug in pipetop; please report it with the detail above.",
    )


def _describe_client_error(exc: Any, profile: str | None) -> ClientProblem:
    response: dict[str, Any] = exc.response or {}
    error: dict[str, Any] = response.get("Error") or {}
    metadata: dict[str, Any] = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    status = metadata.get("HTTPStatusCode")
    operation: str | None = exc.operation_name
    what = f"{operation}: {message}" if message else f"{operation} failed ({code})"

    if code in THROTTLING_CODES:
        headers: dict[str, str] = metadata.get("HTTPHeaders") or {}
        return Throttled(
            title="Throttled",
            detail=f"AWS is limiting the request rate ({what}).",
            hint="pipetop slows down and retries on its own.",
            operation=operation,
            code=code,
            retry_after=_retry_after(headers.get("retry-after")),
        )
    if code in EXPIRED_TOKEN_CODES:
        return ExpiredCredentials(
            title="Credentials expired",
            detail=f"The session token has expired ({what}).",
            hint=(
                f"Run `aws sso login{_profile_flag(profile)}` (or refresh your temporary "
                "credentials), then retry."
            ),
            operation=operation,
            code=code,
            profile=profile,
        )
    if code in INVALID_CREDENTIAL_CODES:
        return InvalidCredentials(
            title="Credentials rejected",
            detail=f"AWS did not accept the access key or its signature ({what}).",
            hint=(
                f"Check the keys with `aws sts get-caller-identity{_profile_flag(profile)}`; "
                "a typo in AWS_SECRET_ACCESS_KEY or a deleted key are the usual causes."
            ),
            operation=operation,
            code=code,
        )
    if code in CLOCK_SKEW_CODES:
        return Misconfigured(
            title="Clock out of sync",
            detail=f"AWS rejected the request time ({what}).",
            hint="Synchronise the system clock (NTP); AWS accepts at most 5 minutes of skew.",
            operation=operation,
            code=code,
        )
    if code in ACCESS_DENIED_CODES or (status == 403 and code in ("", "403", "Forbidden")):
        action = iam_action_for(operation, message)
        needed = action or f"the IAM permission for {operation}"
        return AccessDenied(
            title="Access denied",
            detail=f"Not allowed to call {operation}" + (f": {message}" if message else "."),
            hint=f"Ask for {needed} on this resource in your IAM policy.",
            operation=operation,
            code=code,
            iam_action=action,
        )
    if (
        code in NOT_FOUND_CODES
        or code.endswith("NotFoundException")
        or code.endswith("NotFound")
        or (status == 404 and not code)
    ):
        return NotFound(
            title=_not_found_title(code),
            detail=what,
            hint=_not_found_hint(code),
            operation=operation,
            code=code,
        )
    if isinstance(status, int) and status >= 500:
        return ServiceError(
            title="AWS service error",
            detail=f"{what} (HTTP {status})",
            hint="The service failed on its side; pipetop retries later.",
            operation=operation,
            code=code,
            status=status,
        )
    return ServiceError(
        title=code or "Request failed",
        detail=what,
        hint="AWS refused the request as sent; the detail says why.",
        operation=operation,
        code=code,
        status=status if isinstance(status, int) else None,
    )


def _retry_after(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_RETRY_AFTER
    try:
        seconds = float(raw)
    except ValueError:
        return DEFAULT_RETRY_AFTER
    return seconds if seconds > 0 else DEFAULT_RETRY_AFTER


def _not_found_title(code: str) -> str:
    if code in ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"):
        return "Queue not found"
    if code.startswith("NoSuch"):
        return "Object not found"
    if code.startswith("Pipeline"):
        return "Pipeline not found" if "Execution" not in code else "Execution not found"
    if code == "ResourceNotFoundException":
        return "Resource not found"
    return "Not found"


def _not_found_hint(code: str) -> str:
    if code in ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"):
        return "Create it with `pipetop events setup`, or pass another --events-queue."
    if code.startswith("NoSuch"):
        return "The artifact may have expired or been removed by a bucket lifecycle rule."
    if code == "PipelineNotFoundException":
        return "It may have been deleted; the pipeline list refreshes on its own."
    return "It may have been deleted or not be created yet."
