"""The `pipetop` command.

Subcommands are grouped (`pipetop local serve`); each leaf parser sets `handler`, a function
taking the parsed arguments and returning the exit code, so adding a command is adding a
parser and its handler. Heavy modules are imported by the handler, not here, so `--help`
stays fast.

The bare `pipetop` opens the app (`_run_app`). The connection options (`--profile`,
`--region`, `--endpoint-url`) are accepted before the subcommand and after its name: a
subcommand that talks to AWS adds `parents=[connection_options()]`, whose defaults are
suppressed so a value given before the subcommand is not reset by the one after it, and
reads them with `connection_settings(args)`.

`--profile` and `--region` may be repeated: the app then watches every profile in every
region at once (`tui.app.contexts`). A command that talks to one account refuses several
(`connection_settings` raises `ConnectionOptionsError`, which `main` prints; exit code 2).

`pipetop events setup|teardown` with `[[contexts]]` in the config (decisions [I]):
- `--context NAME` (a context's label, as the app shows it) runs against that entry's profile,
  region and endpoint and remembers (forgets) the queue URL in that entry's `events_queue`;
  connection options beside it are refused (exit 2): the queue would belong to another
  account or region than the entry it is written into.
- Without `--context`, connection options mean what they mean without contexts: that account
  and region, remembered in the top-level `events_queue` (what the app reads when the same
  options are given to it, which replace the config's contexts).
- Without either, the command is refused (exit 2) with the context names: the top-level key is
  not read while the config's contexts are watched, so guessing would set up a queue nothing
  reads. Also with a single `[[contexts]]` entry, so the rule is one rule.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.aws.events_setup import EventsSpec
    from tui.aws.session import ConnectionSettings

_LOG_LEVELS = ("debug", "info", "warning", "error")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {port}")
    return port


def _interval(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(
            f"the interval must be a positive number of seconds: {text!r}"
        )
    return seconds


def _account(text: str) -> str:
    if re.fullmatch(r"[0-9]{12}", text) is None:
        raise argparse.ArgumentTypeError(f"an AWS account id is 12 digits: {text!r}")
    return text


def _region(text: str) -> str:
    if re.fullmatch(r"[a-z]{2}(-[a-z]+)+-[0-9]+", text) is None:
        raise argparse.ArgumentTypeError(f"not an AWS region name: {text!r}")
    return text


def _endpoint_url(text: str) -> str:
    if re.fullmatch(r"https?://[^\s/]+(/\S*)?", text) is None:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text


class ConnectionOptionsError(Exception):
    """Connection options a command cannot use (e.g. two profiles for one account)."""


def add_connection_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """`--profile`, `--region`, `--endpoint-url` (see the module docstring)."""
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--profile",
        action="append",
        default=default,
        help=(
            "AWS profile (default: AWS_PROFILE or the default); repeat it to watch several "
            "accounts at once"
        ),
    )
    group.add_argument(
        "--region",
        action="append",
        type=_region,
        default=default,
        help=(
            "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's); repeat it "
            "to watch several, each with every --profile"
        ),
    )
    group.add_argument(
        "--endpoint-url",
        type=_endpoint_url,
        default=default,
        metavar="URL",
        help="send every call there, e.g. the local endpoint http://127.0.0.1:4599",
    )


def connection_options() -> argparse.ArgumentParser:
    """A parent parser with the connection options, for subcommands that talk to AWS."""
    parent = argparse.ArgumentParser(add_help=False)
    add_connection_options(parent, suppress=True)
    return parent


def _given(args: argparse.Namespace, option: str) -> list[str]:
    """Every value of a connection option, in order, once each (a single value as well)."""
    value = getattr(args, option, None)
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    return list(dict.fromkeys(values))


def connection_settings(args: argparse.Namespace) -> ConnectionSettings:
    """The one connection a command talks to; `ConnectionOptionsError` for several."""
    from tui.aws.session import ConnectionSettings

    chosen: dict[str, str | None] = {}
    for option in ("profile", "region"):
        values = _given(args, option)
        if len(values) > 1:
            raise ConnectionOptionsError(
                f"this command talks to one account and region; --{option} was given "
                f"{len(values)} times ({', '.join(values)})"
            )
        chosen[option] = values[0] if values else None
    return ConnectionSettings(
        profile=chosen["profile"],
        region=chosen["region"],
        endpoint_url=getattr(args, "endpoint_url", None),
    )


def _run_app(args: argparse.Namespace) -> int:
    from tui.app.app import make_app
    from tui.app.contexts import watch_contexts
    from tui.app.settings import SettingsError, load_settings

    try:
        settings = load_settings(
            path=args.config,
            flags={"events_queue": args.events_queue, "read_only": args.read_only or None},
        )
        contexts = watch_contexts(
            settings,
            profiles=_given(args, "profile"),
            regions=_given(args, "region"),
            endpoint_url=getattr(args, "endpoint_url", None),
        )
    except SettingsError as exc:
        print(f"pipetop: {exc}", file=sys.stderr)
        return 2
    make_app(settings, contexts=contexts).run()
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from tui.demo import run_demo

    return run_demo(keep=args.keep, read_only=args.read_only, config=args.config)


def _add_app_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="never send a mutating call (approve, stop, retry, start, transitions)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        metavar="PATH",
        help="settings file (default: $PIPETOP_CONFIG or ~/.config/pipetop/config.toml)",
    )


def _add_demo_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="try pipetop on sample pipelines run by the local engine",
        description=(
            "Start the local endpoint in a child process with a temporary data dir, load the "
            "sample pipelines, start their executions, and open the app on it. Quitting stops "
            "the endpoint and removes the data dir."
        ),
    )
    demo.add_argument(
        "--keep", action="store_true", help="keep the data dir (its path is printed on quit)"
    )
    _add_app_options(demo, suppress=True)
    demo.set_defaults(handler=_run_demo)


def _queue_name(text: str) -> str:
    from tui.aws.events_setup import check_queue_name

    try:
        return check_queue_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rule_name(text: str) -> str:
    from tui.aws.events_setup import check_rule_name

    try:
        return check_rule_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pipeline_name(text: str) -> str:
    from tui.aws.events_setup import check_pipeline_name

    try:
        return check_pipeline_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run_events(args: argparse.Namespace) -> int:
    """`pipetop events setup|teardown`: plan, print, apply, remember the queue in the config."""
    import asyncio

    from tui.app.settings import SettingsError, default_config_path
    from tui.aws.events_setup import EventsSpec, SetupRefused, default_name

    spec = EventsSpec(
        queue_name=args.queue_name or default_name(),
        rule_name=args.rule_name,
        pipelines=tuple(getattr(args, "pipeline", None) or ()),
    )
    config = args.config or default_config_path()
    teardown = args.events_command == "teardown"
    try:
        connection, context = _events_connection(args, config)
    except ConnectionOptionsError as exc:
        print(f"pipetop: {exc}", file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(f"pipetop: {exc}", file=sys.stderr)
        return 1
    try:
        return asyncio.run(
            _events_command(spec, connection, config, args.dry_run, teardown, context)
        )
    except SetupRefused as exc:
        print(f"pipetop: {exc}", file=sys.stderr)
        return 1
    except SettingsError as exc:
        print(f"pipetop: {exc}", file=sys.stderr)
        return 1


def _events_connection(
    args: argparse.Namespace, config: Path
) -> tuple[ConnectionSettings, str | None]:
    """Where `events setup|teardown` connects, and the context whose entry remembers the queue
    (None: the top-level key). See the module docstring for the rules."""
    from tui.app.contexts import config_context, label_of
    from tui.app.settings import SettingsError, load_settings

    wanted: str | None = getattr(args, "context", None)
    options = [
        f"--{option.replace('_', '-')}"
        for option in ("profile", "region", "endpoint_url")
        if getattr(args, option, None)
    ]
    if wanted is None and options:
        return connection_settings(args), None
    if wanted is not None and options:
        raise ConnectionOptionsError(
            f"--context {wanted} connects as its config entry says; drop {', '.join(options)} "
            "(or drop --context to set up that connection's queue in the top-level events_queue)"
        )
    settings = load_settings(path=config)
    entries = {
        label_of(entry.profile, entry.region, entry.name): entry for entry in settings.contexts
    }
    if len(entries) != len(settings.contexts):
        raise SettingsError(f"{config}: two contexts share a name; give each a different name")
    if wanted is None:
        if not entries:
            return connection_settings(args), None
        raise ConnectionOptionsError(
            f"{config} watches several contexts ({', '.join(entries)}); name the one whose "
            "queue this is with --context NAME (or give --profile/--region/--endpoint-url for "
            "the top-level events_queue)"
        )
    entry = entries.get(wanted)
    if entry is None:
        there = ", ".join(entries) if entries else "none"
        raise ConnectionOptionsError(f"{config} has no context {wanted!r} (its contexts: {there})")
    return config_context(settings, entry).connection, wanted


async def _events_command(
    spec: EventsSpec,
    connection: ConnectionSettings,
    config: Path,
    dry_run: bool,
    teardown: bool,
    context: str | None = None,
) -> int:
    from tui.app import config_edit
    from tui.aws.events_setup import Change, EventsSetup, SetupRefused, Step
    from tui.aws.session import AwsContext

    command = "teardown" if teardown else "setup"
    key = "events_queue"
    remembered = config_edit.current(config, key, context=context)
    async with AwsContext(connection) as aws:
        setup = EventsSetup(aws, spec)
        try:
            plan = await (setup.plan_teardown() if teardown else setup.plan())
            endpoint = await aws.endpoint_url("sqs")
            print(
                f"pipetop events {command}{' (dry run)' if dry_run else ''}: "
                + (f"context {context}, " if context is not None else "")
                + f"region {aws.region}, {endpoint}"
            )
            if dry_run:
                steps = list(plan.steps)
                queue_url = plan.queue_url
            else:
                result = await (setup.apply_teardown(plan) if teardown else setup.apply(plan))
                steps = list(result.steps)
                queue_url = result.queue_url
        except SetupRefused:
            raise
        except Exception as exc:
            print(f"pipetop: events {command} failed: {aws.describe(exc)}", file=sys.stderr)
            return 1
    if teardown:
        held = queue_url is not None and remembered == queue_url
        change = Change.REMOVE if held else Change.ABSENT
        if held and not dry_run:
            config_edit.forget(config, key, queue_url, context=context)
    else:
        if remembered == queue_url and queue_url is not None:
            change = Change.EXISTS
        else:
            change = Change.UPDATE if remembered is not None else Change.CREATE
        if queue_url is not None and not dry_run:
            config_edit.remember(config, key, queue_url, context=context)
    where = key if context is None else f"{key} of context {context}"
    steps.append(Step("config", str(config), change, where))
    for step in steps:
        print("  " + step.line(done=not dry_run))
    if teardown:
        return 0
    if queue_url is None:
        print("Queue URL: known once the queue exists (run without --dry-run)")
    else:
        print(f"Queue URL: {queue_url}")
    return 0


def _add_events_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = commands.add_parser(
        "events",
        help="the SQS queue and EventBridge rule that bring CodePipeline events live",
        description=(
            "Live events: an SQS queue, filled by an EventBridge rule with CodePipeline's "
            "events, that pipetop reads instead of polling."
        ),
    )
    events_commands = events.add_subparsers(dest="events_command", metavar="COMMAND", required=True)
    setup = events_commands.add_parser(
        "setup",
        parents=[connection_options()],
        help="create the queue, its policy, the rule and its target (idempotent)",
        description=(
            "Create what is missing of: the SQS queue, the queue policy that lets only the "
            "rule send to it, the EventBridge rule matching CodePipeline's events and its "
            "target, the queue. Prints what exists and what it created, and remembers the "
            "queue URL in the config file (events_queue). The default names are per user and "
            "host: SQS hands each message to one reader, so a shared queue would split the "
            "events between its readers."
        ),
    )
    teardown = events_commands.add_parser(
        "teardown",
        parents=[connection_options()],
        help="remove what setup created",
        description=(
            "Remove the rule's target, the rule and the queue if setup created them (their "
            "tag says so), or setup's queue policy statement from a queue it did not create, "
            "and the queue URL from the config file."
        ),
    )
    for parser in (setup, teardown):
        parser.add_argument(
            "--queue-name",
            type=_queue_name,
            metavar="NAME",
            help="SQS queue name (default: pipetop-events-<user>-<host>)",
        )
        parser.add_argument(
            "--rule-name",
            type=_rule_name,
            metavar="NAME",
            help="EventBridge rule name (default: the queue name)",
        )
        parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
        parser.add_argument(
            "--config",
            type=Path,
            metavar="PATH",
            help="settings file to remember the queue in (default: $PIPETOP_CONFIG or "
            "~/.config/pipetop/config.toml)",
        )
        parser.add_argument(
            "--context",
            metavar="NAME",
            help="the config's [[contexts]] entry to connect as and remember the queue in "
            "(required when the config has contexts, unless connection options are given)",
        )
        parser.set_defaults(handler=_run_events)
    setup.add_argument(
        "--pipeline",
        action="append",
        type=_pipeline_name,
        metavar="NAME",
        help="only this pipeline's events (repeat for several; default: every pipeline)",
    )


_NAME = re.compile(r"[A-Za-z0-9.@\-_]{1,100}")
_EXECUTION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SCRIPT_EXITS = (
    "exit status: 0 done; 2 bad arguments; 3 no such pipeline, stage, action or execution; "
    "4 AWS problem (credentials, access, network, refusal); 130 interrupted"
)


def _stage_or_action(text: str) -> str:
    if _NAME.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(
            f"not a stage or action name (1-100 of A-Z a-z 0-9 . @ - _): {text!r}"
        )
    return text


def _execution_id(text: str) -> str:
    if _EXECUTION_ID.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(
            f"not a pipeline execution id (a lowercase uuid): {text!r}"
        )
    return text


def _summary(text: str) -> str:
    from tui.scripts.approve import MAX_SUMMARY

    if len(text) > MAX_SUMMARY:
        raise argparse.ArgumentTypeError(
            f"the summary is {len(text)} characters; at most {MAX_SUMMARY} are allowed"
        )
    return text


def _run_approve(args: argparse.Namespace) -> int:
    from tui.scripts.approve import ApprovalRequest, approve
    from tui.scripts.script import run_script

    request = ApprovalRequest(
        pipeline=args.pipeline,
        stage=args.stage,
        action=args.action,
        summary=args.summary,
        status="Rejected" if args.reject else "Approved",
        execution_id=args.execution,
    )
    return run_script(
        "approve",
        connection_settings(args),
        lambda pipelines: approve(pipelines, request, sys.stdout),
    )


def _run_watch(args: argparse.Namespace) -> int:
    from tui.scripts.script import run_script
    from tui.scripts.watch import WatchOptions, watch

    options = WatchOptions(
        pipeline=args.pipeline,
        execution_id=args.execution,
        interval=args.interval,
        exit_status=args.exit_status,
    )
    return run_script(
        "watch", connection_settings(args), lambda pipelines: watch(pipelines, options, sys.stdout)
    )


def _add_script_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    approve = commands.add_parser(
        "approve",
        parents=[connection_options()],
        help="approve or reject a pending manual approval",
        description=(
            "Answer the manual approval waiting on ACTION of STAGE: the token is looked up "
            "(GetPipelineState, or ListActionExecutions for PARALLEL pipelines), never typed."
        ),
        epilog=(
            f"{_SCRIPT_EXITS}; 8 no approval pending on that action; 9 the approval was "
            "answered or expired meanwhile"
        ),
    )
    approve.add_argument("pipeline", type=_pipeline_name, metavar="PIPELINE")
    approve.add_argument("--stage", required=True, type=_stage_or_action, metavar="STAGE")
    approve.add_argument("--action", required=True, type=_stage_or_action, metavar="ACTION")
    approve.add_argument(
        "--summary", required=True, type=_summary, metavar="TEXT", help="recorded with the answer"
    )
    approve.add_argument("--reject", action="store_true", help="reject instead of approving")
    approve.add_argument(
        "--execution",
        type=_execution_id,
        metavar="ID",
        help="answer only this execution's approval (needed when several wait, PARALLEL mode)",
    )
    approve.set_defaults(handler=_run_approve)

    watch = commands.add_parser(
        "watch",
        parents=[connection_options()],
        help="follow an execution in plain text until it ends",
        description=(
            "Print one line per stage or action change of an execution (UTC time, subject, "
            "status, detail) until it ends; colour only on a terminal without NO_COLOR. "
            "Without --execution, follows the newest execution in flight, else the newest."
        ),
        epilog=(
            f"{_SCRIPT_EXITS}. With --exit-status: 0 succeeded, 1 failed, 5 stopped, "
            "6 superseded, 7 cancelled."
        ),
    )
    watch.add_argument("pipeline", type=_pipeline_name, metavar="PIPELINE")
    watch.add_argument(
        "--execution", type=_execution_id, metavar="ID", help="the execution to follow"
    )
    watch.add_argument(
        "--interval",
        type=_interval,
        default=5.0,
        metavar="SECONDS",
        help="seconds between polls (default: 5)",
    )
    watch.add_argument(
        "--exit-status",
        action="store_true",
        help="exit with a status saying how the execution ended (else 0 once it ends)",
    )
    watch.set_defaults(handler=_run_watch)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _run_local_serve(args: argparse.Namespace) -> int:
    _configure_logging(args.log_level)
    # Imported here, not at the top: the engine's modules would delay the app's first frame.
    from tui.local.backend import DEFAULT_ACCOUNT, DEFAULT_REGION
    from tui.local.serve import ServeOptions, run

    return run(
        ServeOptions(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            allow_remote=args.allow_remote,
            region=args.region or DEFAULT_REGION,
            account=args.account or DEFAULT_ACCOUNT,
            manual_clock=args.manual_clock,
            config=args.config,
            access_log=args.log_level == "debug",
            watch_interval=args.watch_interval,
        )
    )


def _add_local_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    local = commands.add_parser(
        "local",
        help="the embedded CodePipeline-compatible engine",
        description="The embedded CodePipeline-compatible engine and its AWS endpoint.",
    )
    local_commands = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)
    serve = local_commands.add_parser(
        "serve",
        help="run the local endpoint until interrupted",
        description=(
            "Run the local endpoint (CodePipeline, S3 and friends over AWS's own protocols) "
            "until SIGTERM or SIGINT. Prints 'listening on http://HOST:PORT' once it accepts "
            "connections; logs go to stderr. Point clients at it with --endpoint-url."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=4599, help="TCP port; 0 picks a free one (default: 4599)"
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=(
            "where pipelines, executions, logs and artifacts live; one server per data dir "
            "(default: $XDG_DATA_HOME/pipetop/local or ~/.local/share/pipetop/local)"
        ),
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the endpoint has no authentication)",
    )
    serve.add_argument(
        "--region", type=_region, default=None, help="region in ARNs (default: us-east-1)"
    )
    serve.add_argument(
        "--account",
        type=_account,
        default=None,
        help="account id in ARNs (default: 000000000000)",
    )
    serve.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="the endpoint's config file (repositories, functions, parameters, secrets; "
        "default <data-dir>/config.toml)",
    )
    serve.add_argument(
        "--manual-clock",
        action="store_true",
        help=(
            'for tests: time stands still until POST /_local/clock/advance {"seconds": N} '
            "moves it (timeouts and timestamps follow that clock)"
        ),
    )
    serve.add_argument(
        "--watch-interval",
        type=_interval,
        default=None,
        metavar="SECONDS",
        help="how often source repositories and objects are checked for changes (default: 10)",
    )
    serve.add_argument(
        "--log-level",
        choices=_LOG_LEVELS,
        default="info",
        help="stderr log level; debug also logs every request (default: info)",
    )
    serve.set_defaults(handler=_run_local_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipetop",
        description=(
            "A terminal UI for AWS CodePipeline, with an embedded compatible engine. Without a "
            "command, opens the app."
        ),
    )
    add_connection_options(parser, suppress=False)
    parser.add_argument(
        "--events-queue",
        type=_endpoint_url,
        metavar="URL",
        help="SQS queue of CodePipeline events (see `pipetop events setup`); without it, poll",
    )
    _add_app_options(parser, suppress=False)
    parser.set_defaults(handler=_run_app)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo_command(commands)
    _add_events_commands(commands)
    _add_script_commands(commands)
    _add_local_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        code: int = handler(args)
    except ConnectionOptionsError as exc:
        print(f"pipetop: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
