"""`pipetop demo`: the local endpoint in a child process, the sample pipelines, and the app.

    pipetop demo          # everything in a temporary data dir, removed on quit
    pipetop demo --keep   # keep the data dir (its path is printed on quit)

Steps, in this order:

1. start `pipetop local serve --port 0 --data-dir <tmp>` as a child process and read its
   `listening on http://HOST:PORT` line (its log goes to `<tmp>/serve.log`);
2. create the demo's buckets (the source bucket versioned) and upload every sample's source
   zip, with its revision summary as the object's `codepipeline-artifact-revision-summary`
   metadata (the S3 source action shows it as the commit message);
3. create the SQS queue `pipetop-demo-events`, and an EventBridge rule on the default bus with
   CodePipeline's event pattern (reference 7.3) and the queue as its target, with the queue
   policy AWS would need. This comes before the pipelines so their first events are caught;
4. create the pipelines (each CreatePipeline starts an execution) and their extra executions;
5. run the app on that endpoint with that queue.

Quitting the app stops the child (SIGTERM, then SIGKILL after `STOP_GRACE` seconds) and
removes the data dir unless `--keep`. A failure during setup prints one line and exits 1,
with the child stopped.

Decisions recorded here:

- [I] The demo talks to its endpoint with fixed dummy credentials (`pipetop-demo`), set in
  this process's environment (and AWS_PROFILE / AWS_SESSION_TOKEN dropped): the local endpoint
  checks no signatures, and a developer's own profile (SSO, a role) must neither be needed nor
  be exercised. The caller ARN the engine records is then `user/pipetop-demo`.
- The child gets its own session (`start_new_session`): a ctrl+c meant for the app never
  kills the endpoint under it; the app stops it on the way out.
- Setup calls go through the client layer (`tui.aws`), the same clients the app uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from tui.aws.feed import DEMO_QUEUE_NAME
from tui.aws.session import AwsContext, ConnectionSettings
from tui.local.samples import ARTIFACT_BUCKET, SITE_BUCKET, SOURCE_BUCKET, Sample, demo_samples

LISTENING = "listening on "
STARTUP_TIMEOUT = 30.0
STOP_GRACE = 5.0
DEMO_REGION = "us-east-1"
DEMO_ACCESS_KEY = "pipetop-demo"
RULE_NAME = "pipetop-demo-events"
TARGET_ID = "pipetop-demo-queue"
REVISION_SUMMARY = "codepipeline-artifact-revision-summary"
EVENT_PATTERN = {
    "source": ["aws.codepipeline"],
    "detail-type": [
        "CodePipeline Pipeline Execution State Change",
        "CodePipeline Stage Execution State Change",
        "CodePipeline Action Execution State Change",
    ],
}


class DemoError(Exception):
    """The demo cannot start; the message is one line for the user."""


class EndpointProcess:
    """`pipetop local serve` as a child process, on a free loopback port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir / "serve.log"
        self.process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def start(self, timeout: float = STARTUP_TIMEOUT) -> str:
        """Start the child; its URL once it listens, else `DemoError`."""
        command = [
            sys.executable,
            "-m",
            "tui.cli",
            "local",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
        ]
        try:
            self._log = self.log_path.open("w", encoding="utf-8")
        except OSError as exc:
            raise DemoError(f"cannot write {self.log_path}: {exc.strerror or exc}") from None
        try:
            self.process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=self._log,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise DemoError(f"cannot start the local endpoint: {exc.strerror or exc}") from None
        line = self._first_line(timeout)
        if line is None:
            raise DemoError(
                f"the local endpoint did not start within {timeout:g} s; see {self.log_path}"
            )
        if not line.startswith(LISTENING):
            try:
                # It closed its output: it is exiting (a refused data dir or address).
                code: int | None = self.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                code = None
            why = f"it exited with code {code}" if code is not None else f"it said {line!r}"
            raise DemoError(f"the local endpoint did not start ({why}); see {self.log_path}")
        return line[len(LISTENING) :].strip()

    def _first_line(self, timeout: float) -> str | None:
        """The child's first line ("" when it closed its output), None on a timeout."""
        process = self.process
        assert process is not None
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return None
        return process.stdout.readline().strip()

    def stop(self, grace: float = STOP_GRACE) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; the exit code (None: never started)."""
        process = self.process
        if process is None:
            return None
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(grace)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            return process.returncode
        finally:
            if process.stdout is not None:
                process.stdout.close()
            if self._log is not None:
                self._log.close()


def use_demo_credentials(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Dummy keys for the local endpoint (see the module docstring)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        environ.pop(name, None)
    environ["AWS_ACCESS_KEY_ID"] = DEMO_ACCESS_KEY
    environ["AWS_SECRET_ACCESS_KEY"] = DEMO_ACCESS_KEY


def queue_policy(queue_arn: str, rule_arn: str) -> str:
    """The policy that lets the rule send to the queue (what AWS requires, reference 7.3)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "pipetop-demo-events",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
    )


async def set_up(url: str, samples: list[Sample]) -> str:
    """Buckets, sources, the event queue and rule, the pipelines; returns the queue URL."""
    connection = ConnectionSettings(endpoint_url=url, region=DEMO_REGION, max_attempts=2)
    async with AwsContext(connection) as aws:
        try:
            return await _set_up(aws, samples)
        except DemoError:
            raise
        except Exception as exc:
            problem = aws.describe(exc)
            raise DemoError(f"setting up the demo failed: {problem}") from None


async def _set_up(aws: AwsContext, samples: list[Sample]) -> str:
    s3 = await aws.client("s3")
    for bucket in (SOURCE_BUCKET, ARTIFACT_BUCKET, SITE_BUCKET):
        await s3.create_bucket(Bucket=bucket)
    await s3.put_bucket_versioning(
        Bucket=SOURCE_BUCKET, VersioningConfiguration={"Status": "Enabled"}
    )
    for sample in samples:
        for key, (body, summary) in sample.sources.items():
            await s3.put_object(
                Bucket=SOURCE_BUCKET, Key=key, Body=body, Metadata={REVISION_SUMMARY: summary}
            )

    sqs = await aws.client("sqs")
    queue_url = str((await sqs.create_queue(QueueName=DEMO_QUEUE_NAME))["QueueUrl"])
    attributes = await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    queue_arn = str(attributes["Attributes"]["QueueArn"])
    events = await aws.client("events")
    rule = await events.put_rule(
        Name=RULE_NAME,
        EventPattern=json.dumps(EVENT_PATTERN),
        State="ENABLED",
        Description="CodePipeline events for the pipetop demo",
    )
    rule_arn = str(rule["RuleArn"])
    await sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": queue_policy(queue_arn, rule_arn)}
    )
    targets = await events.put_targets(
        Rule=RULE_NAME, Targets=[{"Id": TARGET_ID, "Arn": queue_arn}]
    )
    if targets.get("FailedEntryCount"):
        failed: dict[str, Any] = (targets.get("FailedEntries") or [{}])[0]
        raise DemoError(f"the event rule refused the queue: {failed.get('ErrorMessage')}")

    codepipeline = await aws.client("codepipeline")
    for sample in samples:
        await codepipeline.create_pipeline(pipeline=sample.declaration)
    for sample in samples:
        for _ in range(sample.extra_executions):
            await codepipeline.start_pipeline_execution(name=sample.name)
    return queue_url


def _hang_up(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def run_demo(*, keep: bool = False, read_only: bool = False, config: Path | None = None) -> int:
    """The whole demo; the exit code."""
    from tui.app.app import make_app
    from tui.app.settings import SettingsError, load_settings

    data_dir = Path(tempfile.mkdtemp(prefix="pipetop-demo-"))
    endpoint = EndpointProcess(data_dir)
    code = 0
    # A closed terminal (SIGHUP) ends the demo like a quit: the child is stopped, the data
    # dir removed (by default SIGHUP would end this process and leave the child running).
    previous = signal.signal(signal.SIGHUP, _hang_up)
    try:
        use_demo_credentials()
        print("Starting the local endpoint…", file=sys.stderr, flush=True)
        url = endpoint.start()
        print(f"Loading the demo pipelines into {url}…", file=sys.stderr, flush=True)
        queue_url = asyncio.run(set_up(url, demo_samples()))
        settings = load_settings(
            path=config, flags={"events_queue": queue_url, "read_only": read_only or None}
        )
        connection = ConnectionSettings(endpoint_url=url, region=DEMO_REGION)
        make_app(settings, connection).run()
    except (DemoError, SettingsError) as exc:
        print(f"pipetop demo: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    finally:
        signal.signal(signal.SIGHUP, previous)
        endpoint.stop()
        if keep:
            print(f"The demo's data is kept in {data_dir}", file=sys.stderr)
        else:
            with contextlib.suppress(OSError):
                shutil.rmtree(data_dir)
    return code
