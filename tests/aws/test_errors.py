"""Every failure becomes a typed, readable problem. Real faults from real servers: our endpoint,
moto, a closed port, botocore's own credential chain, and an AWS-shaped peer for the faults
no well-behaved server makes on demand (throttling, expired tokens, denials)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import botocore.credentials
import pytest

from tests.aws.moto_server import MotoServer, free_port
from tests.aws.peer import Answer, AwsShapedPeer
from tests.endpoint import Endpoint
from tui.aws.errors import (
    DEFAULT_RETRY_AFTER,
    AccessDenied,
    EndpointUnreachable,
    ExpiredCredentials,
    InvalidCredentials,
    Misconfigured,
    NoCredentials,
    NotFound,
    ProblemKind,
    ReadOnly,
    ReadOnlyRefused,
    ServiceError,
    Throttled,
    describe,
)
from tui.aws.session import AwsContext, ConnectionSettings


async def _fail(aws: AwsContext, service: str, operation: str, **kwargs: object) -> BaseException:
    client = await aws.client(service)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - any failure; describe() judges it
        await getattr(client, operation)(**kwargs)
    return caught.value


async def test_throttling_after_botocore_retries() -> None:
    async with AwsShapedPeer(Answer(400, "ThrottlingException", "Rate exceeded")) as peer:
        settings = ConnectionSettings(endpoint_url=peer.url, max_attempts=2)
        async with AwsContext(settings) as aws:
            exc = await _fail(aws, "codepipeline", "get_pipeline_state", name="demo")
            problem = aws.describe(exc)
    # botocore retried it (standard mode) before it reached us.
    assert len(peer.received) == 2
    assert isinstance(problem, Throttled)
    assert problem.kind is ProblemKind.THROTTLED
    assert problem.retry_after == DEFAULT_RETRY_AFTER
    assert problem.operation == "GetPipelineState"
    assert "Rate exceeded" in problem.detail
    assert problem.transient


async def test_throttling_honours_retry_after() -> None:
    answer = Answer(429, "TooManyRequestsException", "Slow down", {"Retry-After": "12"})
    async with (
        AwsShapedPeer(answer) as peer,
        AwsContext(ConnectionSettings(endpoint_url=peer.url, max_attempts=1)) as aws,
    ):
        problem = aws.describe(
            await _fail(aws, "logs", "get_log_events", logGroupName="g", logStreamName="s")
        )
    assert isinstance(problem, Throttled)
    assert problem.retry_after == 12.0


async def test_sqs_request_throttled() -> None:
    async with (
        AwsShapedPeer(Answer(400, "RequestThrottled", "Too many requests")) as peer,
        AwsContext(ConnectionSettings(endpoint_url=peer.url, max_attempts=1)) as aws,
    ):
        exc = await _fail(aws, "sqs", "receive_message", QueueUrl=f"{peer.url}/000000000000/q")
    assert isinstance(describe(exc), Throttled)


async def test_quota_limit_is_not_throttling() -> None:
    async with (
        AwsShapedPeer(Answer(400, "LimitExceededException", "Too many pipelines")) as peer,
        AwsContext(ConnectionSettings(endpoint_url=peer.url, max_attempts=1)) as aws,
    ):
        problem = describe(await _fail(aws, "codepipeline", "list_pipelines"))
    assert isinstance(problem, ServiceError)
    assert problem.code == "LimitExceededException"
    assert "Too many pipelines" in problem.detail
    assert not problem.transient


async def test_access_denied_names_the_iam_action_from_the_message() -> None:
    message = (
        "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: "
        "codepipeline:GetPipelineState on resource: arn:aws:codepipeline:eu-west-1:123456789012:demo"
    )
    async with (
        AwsShapedPeer(Answer(400, "AccessDeniedException", message)) as peer,
        AwsContext(ConnectionSettings(endpoint_url=peer.url)) as aws,
    ):
        problem = describe(await _fail(aws, "codepipeline", "get_pipeline_state", name="demo"))
    # Not retried: a denial does not go away by itself.
    assert len(peer.received) == 1
    assert isinstance(problem, AccessDenied)
    assert problem.iam_action == "codepipeline:GetPipelineState"
    assert "codepipeline:GetPipelineState" in problem.hint
    assert "GetPipelineState" in problem.detail


async def test_access_denied_without_message_uses_the_table() -> None:
    async with (
        AwsShapedPeer(Answer(400, "AccessDenied", "")) as peer,
        AwsContext(ConnectionSettings(endpoint_url=peer.url, max_attempts=1)) as aws,
    ):
        exc = await _fail(
            aws,
            "sqs",
            "delete_message_batch",
            QueueUrl=f"{peer.url}/000000000000/q",
            Entries=[{"Id": "1", "ReceiptHandle": "r"}],
        )
    problem = describe(exc)
    assert isinstance(problem, AccessDenied)
    # The batch call is authorised as DeleteMessage.
    assert problem.iam_action == "sqs:DeleteMessage"
    assert "sqs:DeleteMessage" in problem.hint


async def test_expired_token_names_sso_login_for_the_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "aws-config").write_text("[profile dev]\nregion = eu-west-1\n")
    (tmp_path / "aws-credentials").write_text(
        "[dev]\naws_access_key_id = AKIDEV\naws_secret_access_key = s\naws_session_token = t\n"
    )
    answer = Answer(
        400, "ExpiredTokenException", "The security token included in the request is expired"
    )
    async with (
        AwsShapedPeer(answer) as peer,
        AwsContext(ConnectionSettings(profile="dev", endpoint_url=peer.url)) as aws,
    ):
        problem = aws.describe(await _fail(aws, "codepipeline", "list_pipelines"))
    assert isinstance(problem, ExpiredCredentials)
    assert problem.profile == "dev"
    assert "aws sso login --profile dev" in problem.hint
    assert "expired" in problem.detail


def _sso_profile(tmp_path: Path, name: str, start_url: str) -> None:
    (tmp_path / "aws-config").write_text(
        f"[profile {name}]\n"
        f"sso_start_url = {start_url}\n"
        "sso_region = eu-west-1\n"
        "sso_account_id = 123456789012\n"
        "sso_role_name = Developer\n"
        "region = eu-west-1\n"
    )


async def test_expired_sso_session(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: Endpoint
) -> None:
    # No keys in the environment: the SSO profile is the only source.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    start_url = "https://pipetop-test.awsapps.com/start"
    _sso_profile(tmp_path, "sso-dev", start_url)
    cache = tmp_path / "sso-cache"
    cache.mkdir()
    key = __import__("hashlib").sha1(start_url.encode()).hexdigest()
    expired = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    (cache / f"{key}.json").write_text(
        json.dumps(
            {"startUrl": start_url, "region": "eu-west-1", "accessToken": "x", "expiresAt": expired}
        )
    )
    # botocore computes its token cache path from $HOME at import; point it at this test's.
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    async with AwsContext(ConnectionSettings(profile="sso-dev", endpoint_url=endpoint.url)) as aws:
        problem = aws.describe(await _fail(aws, "codepipeline", "list_pipelines"))
    assert isinstance(problem, ExpiredCredentials)
    assert problem.hint == "Run `aws sso login --profile sso-dev`, then retry."


async def test_sso_never_logged_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: Endpoint
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    _sso_profile(tmp_path, "fresh", "https://pipetop-never-logged-in.awsapps.com/start")
    monkeypatch.setattr(
        botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(tmp_path / "empty-cache")
    )
    async with AwsContext(ConnectionSettings(profile="fresh", endpoint_url=endpoint.url)) as aws:
        problem = aws.describe(await _fail(aws, "codepipeline", "list_pipelines"))
    assert isinstance(problem, ExpiredCredentials)
    assert "aws sso login --profile fresh" in problem.hint


async def test_no_credentials(monkeypatch: pytest.MonkeyPatch, endpoint: Endpoint) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # Without this botocore would ask the EC2 instance metadata service, and wait for it.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    async with AwsContext(ConnectionSettings(endpoint_url=endpoint.url)) as aws:
        problem = aws.describe(await _fail(aws, "codepipeline", "list_pipelines"))
    assert isinstance(problem, NoCredentials)
    assert "aws configure" in problem.hint
    assert "AWS_ACCESS_KEY_ID" in problem.hint


async def test_rejected_keys() -> None:
    answer = Answer(
        400, "UnrecognizedClientException", "The security token included in the request is invalid."
    )
    async with (
        AwsShapedPeer(answer) as peer,
        AwsContext(ConnectionSettings(endpoint_url=peer.url)) as aws,
    ):
        problem = describe(await _fail(aws, "codepipeline", "list_pipelines"))
    assert isinstance(problem, InvalidCredentials)
    assert "aws sts get-caller-identity" in problem.hint


async def test_connection_refused_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with AwsContext(ConnectionSettings(endpoint_url=url, max_attempts=1)) as aws:
        problem = aws.describe(await _fail(aws, "codepipeline", "list_pipelines"))
    assert isinstance(problem, EndpointUnreachable)
    assert problem.url is not None
    assert problem.url.startswith(url)
    assert url in problem.detail
    assert problem.transient


async def test_read_timeout_is_unreachable() -> None:
    # A listening socket that never answers: the connection opens, the read times out.
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        settings = ConnectionSettings(endpoint_url=url, max_attempts=1, read_timeout=0.3)
        async with AwsContext(settings) as aws:
            problem = describe(await _fail(aws, "codepipeline", "list_pipelines"))
    assert isinstance(problem, EndpointUnreachable)
    assert url in problem.detail


async def test_pipeline_not_found_from_our_endpoint(aws: AwsContext) -> None:
    problem = aws.describe(await _fail(aws, "codepipeline", "get_pipeline_state", name="gone"))
    assert isinstance(problem, NotFound)
    assert problem.title == "Pipeline not found"
    assert problem.code == "PipelineNotFoundException"
    assert "gone" in problem.detail


async def test_queue_does_not_exist_from_moto(moto_aws: AwsContext, moto: MotoServer) -> None:
    exc = await _fail(moto_aws, "sqs", "get_queue_url", QueueName="missing")
    problem = describe(exc)
    assert isinstance(problem, NotFound)
    assert problem.title == "Queue not found"
    assert "pipetop events setup" in problem.hint


async def test_missing_s3_key_from_our_endpoint(aws: AwsContext, endpoint: Endpoint) -> None:
    endpoint.client("s3").create_bucket(Bucket="artifact-bucket")
    problem = describe(await _fail(aws, "s3", "get_object", Bucket="artifact-bucket", Key="nope"))
    assert isinstance(problem, NotFound)
    assert problem.code == "NoSuchKey"


async def test_server_error_after_retries_is_transient() -> None:
    async with (
        AwsShapedPeer(Answer(503, "ServiceUnavailableException", "Try later")) as peer,
        AwsContext(ConnectionSettings(endpoint_url=peer.url, max_attempts=1)) as aws,
    ):
        problem = describe(await _fail(aws, "codepipeline", "list_pipelines"))
    assert isinstance(problem, ServiceError)
    assert problem.status == 503
    assert problem.transient


async def test_validation_error_from_our_endpoint(aws: AwsContext) -> None:
    problem = describe(await _fail(aws, "codepipeline", "get_pipeline_state", name="bad name!"))
    assert isinstance(problem, ServiceError)
    assert problem.code == "ValidationException"
    assert not problem.transient


async def test_unknown_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    async with AwsContext(ConnectionSettings(profile="nobody")) as aws:
        with pytest.raises(Exception) as caught:  # noqa: PT011
            await aws.client("codepipeline")
    problem = describe(caught.value)
    assert isinstance(problem, Misconfigured)
    assert "nobody" in problem.detail
    assert "list-profiles" in problem.hint


async def test_no_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    async with AwsContext() as aws:
        with pytest.raises(Exception) as caught:  # noqa: PT011
            await aws.client("codepipeline")
    problem = describe(caught.value)
    assert isinstance(problem, Misconfigured)
    assert "AWS_REGION" in problem.hint


def test_read_only_refusal_and_unexpected_errors() -> None:
    problem = describe(ReadOnlyRefused("StopPipelineExecution"))
    assert isinstance(problem, ReadOnly)
    assert "StopPipelineExecution" in problem.detail
    unexpected = describe(KeyError("pipelineExecutionId"))
    assert isinstance(unexpected, ServiceError)
    assert unexpected.title == "Unexpected error"
    assert "KeyError" in unexpected.detail
