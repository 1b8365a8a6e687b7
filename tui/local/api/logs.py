"""CloudWatch Logs' JSON 1.1 operations over the endpoint's `LogStore`.

What the TUI reads to show an action's log (GetLogEvents, FilterLogEvents, DescribeLogGroups,
DescribeLogStreams), and the writes a client needs to make logs of its own (CreateLogGroup,
CreateLogStream, PutLogEvents, DeleteLogGroup, DeleteLogStream). Requests arrive validated
against botocore's `logs` model; other operations of the model answer
UnknownOperationException (the server's funnel).

Decisions recorded here:

- GetLogEvents tokens look like AWS's: `f/<56 digits>` (forward) and `b/<56 digits>`
  (backward). The digits are the stream's id (16), an event's timestamp (16) and its
  sequence number plus one (24): a keyset position, so pages stay exact while events are
  appended. A forward token means "events after this position", a backward one "events before
  it". A page with events answers the tokens of its last and first events; a forward page
  with no events answers the very token it was sent, which is AWS's "caught up" signal (and a
  backward page with none its backward token). [I] The token decides the direction even when
  `startFromHead` disagrees with it (AWS asks clients to send `startFromHead=true` with a
  forward token). A token that does not parse, or belongs to another stream (including a
  stream deleted and created again), is InvalidParameterException `The specified nextToken is
  invalid.` A trailing `/s`, which newer AWS tokens carry, is accepted. [I] Tokens never
  expire (AWS's expire after 24 hours).
- Without a token GetLogEvents returns the last `limit` events of the range (oldest first
  within the page) unless `startFromHead` is true, AWS's default. Pages hold at most `limit`
  events and 1 MB counted as AWS counts (UTF-8 bytes + 26 per event).
- FilterLogEvents: results are ordered by time across streams, oldest first, or newest first
  with `startFromHead=false` (then a `startTime` before 2024-01-01 is InvalidParameterException,
  as the model documents). Its `nextToken` is opaque; a token carries its direction, which
  wins over `startFromHead`. An absent `nextToken` means done. A page may be short (at most
  100 000 events are examined per call). `searchedLogStreams` is always empty, as on AWS
  since 2020. [I] Names in `logStreamNames` that do not exist match nothing (no error).
- Filter patterns: terms (each must occur, case-sensitive, as a substring), `"quoted
  phrases"` (`\\"` and `\\\\` escapes), `?term` (at least one of the `?` terms must occur), and
  `-term` (must not occur); `%regex%` is searched with Python's `re` ([I] a superset of
  AWS's regex subset). JSON (`{ $.x = ... }`) and space-delimited (`[a, b]`) patterns are
  InvalidParameterException saying they are not supported locally.
- DescribeLogGroups / DescribeLogStreams page by offset with opaque tokens (a bad one is
  InvalidParameterException). A stream's `storedBytes` is 0 (AWS stopped reporting it in
  2019); a group's is the UTF-8 size of its messages. Log groups never expire: no
  `retentionInDays`; [I] CreateLogGroup accepts `kmsKeyId`, `tags` and `logGroupClass` but
  keeps none of them (every group reports class STANDARD).
- PutLogEvents follows AWS's batch rules: events in chronological order, spanning at most
  24 hours, at most 1 MB; events more than 2 hours ahead of the endpoint's clock or older than
  14 days are not stored and reported in `rejectedLogEventsInfo`. The sequence token is
  ignored (AWS ignores it since 2023); `nextSequenceToken` is still answered.
- `logGroupIdentifier` is a name or an ARN (the model's pattern keeps out the trailing `:*`
  of DescribeLogGroups' `arn`); an ARN of another region or account names a group that does
  not exist here.
- StartLiveTail answers UnknownOperationException: it replies with an event stream, which the
  local endpoint does not serve. Poll GetLogEvents (forward tokens) or FilterLogEvents.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from operator import attrgetter, itemgetter
from typing import Any, Literal, TypeVar

from tui.local.clock import Clock
from tui.local.engine.logs import MAX_PAGE, EventPosition, LogStore, group_arn
from tui.model.errors import AwsError, ResourceNotFoundException, UnknownOperationException

Request = dict[str, Any]
Response = dict[str, Any]
# A GetLogEvents row or a FilterLogEvents event, as `_within_page_bytes` trims a page of them.
_Item = TypeVar("_Item")


class InvalidParameterException(AwsError):
    code = "InvalidParameterException"


class ResourceAlreadyExistsException(AwsError):
    code = "ResourceAlreadyExistsException"


# AWS counts each event as its UTF-8 message plus 26 bytes, against 1 MB per page and batch.
EVENT_OVERHEAD = 26
MAX_BYTES = 1_048_576
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
TOO_NEW_MS = 2 * 3600 * 1000
TOO_OLD_MS = 14 * 24 * 3600 * 1000
# FilterLogEvents with startFromHead=false needs a startTime on or after this (ms).
NEWEST_FIRST_SINCE_MS = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
BAD_TOKEN = "The specified nextToken is invalid."

_TOKEN = re.compile(r"([fb])/(\d{16})(\d{16})(\d{24})(?:/s)?")


def _event_size(message: str) -> int:
    return len(message.encode()) + EVENT_OVERHEAD


# --- GetLogEvents tokens ----------------------------------------------------------------


def encode_stream_token(direction: Literal["f", "b"], stream_id: int, pos: EventPosition) -> str:
    return f"{direction}/{stream_id:016d}{pos[0]:016d}{pos[1] + 1:024d}"


def decode_stream_token(token: str, stream_id: int) -> tuple[str, EventPosition]:
    match = _TOKEN.fullmatch(token)
    if match is None or int(match.group(2)) != stream_id:
        raise InvalidParameterException(BAD_TOKEN)
    return match.group(1), (int(match.group(3)), int(match.group(4)) - 1)


# --- opaque tokens (FilterLogEvents, Describe*) -------------------------------------------


def _encode_opaque(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def _decode_opaque(token: str, scope: str) -> dict[str, Any]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidParameterException(BAD_TOKEN) from None
    if not isinstance(payload, dict) or payload.get("s") != scope:
        raise InvalidParameterException(BAD_TOKEN)
    return payload


def _offset_page(token: str | None, scope: str) -> int:
    if not token:
        return 0
    offset = _decode_opaque(token, scope).get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidParameterException(BAD_TOKEN)
    return offset


# --- filter patterns --------------------------------------------------------------------


def compile_filter_pattern(pattern: str | None) -> Callable[[str], bool] | None:
    """The matcher for a FilterLogEvents pattern; None matches every event."""
    text = (pattern or "").strip()
    if not text:
        return None
    if text.startswith("{"):
        raise InvalidParameterException(
            "JSON filter patterns ({ $.field = value }) are not supported by the local "
            'endpoint; use terms, "quoted phrases", ?term, -term or %regex%.'
        )
    if text.startswith("["):
        raise InvalidParameterException(
            "Space-delimited filter patterns ([field1, field2]) are not supported by the local "
            'endpoint; use terms, "quoted phrases", ?term, -term or %regex%.'
        )
    if len(text) >= 2 and text.startswith("%") and text.endswith("%"):
        try:
            regex = re.compile(text[1:-1])
        except re.error as error:
            raise InvalidParameterException(f"Invalid regex filter pattern: {error}") from None
        return lambda message: regex.search(message) is not None
    required: list[str] = []
    any_of: list[str] = []
    excluded: list[str] = []
    for marker, term in _terms(text):
        {"": required, "?": any_of, "-": excluded}[marker].append(term)

    def match(message: str) -> bool:
        return (
            all(term in message for term in required)
            and (not any_of or any(term in message for term in any_of))
            and not any(term in message for term in excluded)
        )

    return match


def _terms(text: str) -> list[tuple[str, str]]:
    """(marker, term) pairs: marker is "", "?" or "-"; quoted phrases are unquoted."""
    terms: list[tuple[str, str]] = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        marker = ""
        if text[index] in "?-" and index + 1 < len(text) and not text[index + 1].isspace():
            marker = text[index]
            index += 1
        if text[index] == '"':
            term, index = _quoted(text, index + 1)
        else:
            end = index
            while end < len(text) and not text[end].isspace():
                end += 1
            term, index = text[index:end], end
        terms.append((marker, term))
    return terms


def _quoted(text: str, index: int) -> tuple[str, int]:
    chars: list[str] = []
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            chars.append(text[index + 1])
            index += 2
        elif char == '"':
            return "".join(chars), index + 1
        else:
            chars.append(char)
            index += 1
    raise InvalidParameterException(
        f"Invalid filter pattern: unterminated quoted phrase in {text!r}"
    )


# --- the service ------------------------------------------------------------------------


class LogsService:
    validation_error_code = "InvalidParameterException"
    target_prefix = "Logs_20140328"
    service_name = "logs"

    def __init__(self, logs: LogStore, clock: Clock, region: str, account: str) -> None:
        self.logs = logs
        self.clock = clock
        self.region = region
        self.account = account

    def _now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def _group_from_identifier(self, identifier: str) -> str | None:
        """The group name a logGroupIdentifier names here; None for another place's ARN."""
        if not identifier.startswith("arn:"):
            return identifier
        parts = identifier.split(":", 6)
        if len(parts) != 7 or parts[2] != "logs" or parts[5] != "log-group" or not parts[6]:
            raise InvalidParameterException(f"Invalid log group identifier: {identifier}")
        if parts[3] != self.region or parts[4] != self.account:
            return None
        return parts[6]

    def _group(self, request: Request) -> str:
        name = request.get("logGroupName")
        identifier = request.get("logGroupIdentifier")
        if name is not None and identifier is not None:
            raise InvalidParameterException(
                "LogGroup name and LogGroup ARN are mutually exclusive parameters."
            )
        if identifier is not None:
            group = self._group_from_identifier(identifier)
            if group is None:
                raise ResourceNotFoundException("The specified log group does not exist.")
            return group
        if name is None:
            raise InvalidParameterException(
                "Either logGroupName or logGroupIdentifier must be specified."
            )
        return str(name)

    # Writing ----------------------------------------------------------------------------
    def create_log_group(self, request: Request) -> Response:
        name = request["logGroupName"]
        if self.logs.group_exists(name):
            raise ResourceAlreadyExistsException("The specified log group already exists")
        self.logs.ensure_group(name)
        return {}

    def create_log_stream(self, request: Request) -> Response:
        group, stream = request["logGroupName"], request["logStreamName"]
        if not self.logs.group_exists(group):
            raise ResourceNotFoundException("The specified log group does not exist.")
        if self.logs.stream_exists(group, stream):
            raise ResourceAlreadyExistsException("The specified log stream already exists")
        self.logs.ensure_stream(group, stream)
        return {}

    def delete_log_group(self, request: Request) -> Response:
        self.logs.delete_group(request["logGroupName"])
        return {}

    def delete_log_stream(self, request: Request) -> Response:
        self.logs.delete_stream(request["logGroupName"], request["logStreamName"])
        return {}

    def put_log_events(self, request: Request) -> Response:
        group, stream = request["logGroupName"], request["logStreamName"]
        stream_id = self.logs.stream_id(group, stream)
        events: list[dict[str, Any]] = request["logEvents"]
        previous: int | None = None
        size = 0
        for event in events:
            if previous is not None and event["timestamp"] < previous:
                raise InvalidParameterException(
                    "Log events in a single PutLogEvents request must be in chronological order."
                )
            previous = event["timestamp"]
            size += _event_size(event["message"])
        if events[-1]["timestamp"] - events[0]["timestamp"] > MAX_BATCH_SPAN_MS:
            raise InvalidParameterException(
                "The batch of log events in a single PutLogEvents request cannot span more "
                "than 24 hours."
            )
        if size > MAX_BYTES:
            raise InvalidParameterException(
                f"Upload too large: {size} bytes exceeds the maximum of {MAX_BYTES} bytes "
                "(each event counts its UTF-8 message plus 26 bytes)."
            )
        now = self._now_ms()
        rejected: dict[str, int] = {}
        accepted: list[tuple[int, str]] = []
        for index, event in enumerate(events):
            if event["timestamp"] < now - TOO_OLD_MS:
                rejected["tooOldLogEventEndIndex"] = index
            elif event["timestamp"] > now + TOO_NEW_MS:
                rejected.setdefault("tooNewLogEventStartIndex", index)
            else:
                accepted.append((event["timestamp"], event["message"]))
        self.logs.put_events(group, stream, accepted)
        response: Response = {"nextSequenceToken": f"{stream_id:016d}{now:040d}"}
        if rejected:
            response["rejectedLogEventsInfo"] = rejected
        return response

    # Reading ----------------------------------------------------------------------------
    def get_log_events(self, request: Request) -> Response:
        group = self._group(request)
        stream = request["logStreamName"]
        stream_id = self.logs.stream_id(group, stream)
        limit = request.get("limit") or MAX_PAGE
        start_ms = request.get("startTime")
        end_ms = request.get("endTime")
        token = request.get("nextToken")
        direction: str | None = None
        position: EventPosition = (start_ms or 0, -1)
        if token is not None:
            direction, position = decode_stream_token(token, stream_id)
        forward = direction == "f" or (direction is None and bool(request.get("startFromHead")))
        rows = self.logs.page(
            stream_id,
            start_ms=start_ms,
            end_ms=end_ms,
            after=position if direction == "f" else None,
            before=position if direction == "b" else None,
            limit=limit,
            from_head=forward,
        )
        rows = _within_page_bytes(rows, itemgetter(3), keep_first=forward)
        if rows:
            forward_token = encode_stream_token("f", stream_id, (rows[-1][0], rows[-1][1]))
            backward_token = encode_stream_token("b", stream_id, (rows[0][0], rows[0][1]))
        elif token is not None and direction == "f":
            forward_token = token
            backward_token = encode_stream_token("b", stream_id, (position[0], position[1] + 1))
        elif token is not None:
            # Seqs start at 0, so "after (t, -1)" already takes in everything at time t.
            forward_token = encode_stream_token(
                "f", stream_id, (position[0], max(position[1] - 1, -1))
            )
            backward_token = token
        else:
            forward_token = encode_stream_token("f", stream_id, position)
            backward_token = encode_stream_token("b", stream_id, position)
        return {
            "events": [
                {"timestamp": stamp, "message": message, "ingestionTime": ingestion}
                for stamp, _, ingestion, message in rows
            ],
            "nextForwardToken": forward_token,
            "nextBackwardToken": backward_token,
        }

    def filter_log_events(self, request: Request) -> Response:
        group = self._group(request)
        names = request.get("logStreamNames")
        prefix = request.get("logStreamNamePrefix")
        if names is not None and prefix is not None:
            raise InvalidParameterException(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
            )
        match = compile_filter_pattern(request.get("filterPattern"))
        scope = f"filter:{group}"
        token = request.get("nextToken")
        after: tuple[int, int, int] | None = None
        if token is not None:
            payload = _decode_opaque(token, scope)
            descending = payload.get("d") is True
            position = payload.get("p")
            if (
                not isinstance(position, list)
                or len(position) != 3
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in position)
            ):
                raise InvalidParameterException(BAD_TOKEN)
            after = (position[0], position[1], position[2])
        else:
            descending = request.get("startFromHead") is False
            start = request.get("startTime")
            if descending and start is not None and start < NEWEST_FIRST_SINCE_MS:
                raise InvalidParameterException(
                    "startFromHead=false is supported only with a startTime on or after "
                    "Jan 1, 2024 00:00:00 UTC."
                )
        page = self.logs.filter_events(
            group,
            stream_names=names,
            stream_prefix=prefix,
            start_ms=request.get("startTime"),
            end_ms=request.get("endTime"),
            after=after,
            limit=request.get("limit") or MAX_PAGE,
            match=match,
            descending=descending,
        )
        kept = _within_page_bytes(page.events, attrgetter("message"), keep_first=True)
        next_after = page.next_after
        if len(kept) < len(page.events):
            next_after = kept[-1].filter_position
        events = [
            {
                "logStreamName": event.stream,
                "timestamp": event.timestamp_ms,
                "message": event.message,
                "ingestionTime": event.ingestion_ms,
                "eventId": event.event_id,
            }
            for event in kept
        ]
        response: Response = {"events": events, "searchedLogStreams": []}
        if next_after is not None:
            response["nextToken"] = _encode_opaque(
                {"s": scope, "d": descending, "p": list(next_after)}
            )
        return response

    def describe_log_groups(self, request: Request) -> Response:
        prefix = request.get("logGroupNamePrefix")
        pattern = request.get("logGroupNamePattern")
        identifiers = request.get("logGroupIdentifiers")
        if prefix is not None and pattern is not None:
            raise InvalidParameterException(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        names: list[str] | None = None
        if identifiers is not None:
            if prefix is not None or pattern is not None:
                raise InvalidParameterException(
                    "logGroupIdentifiers cannot be used with logGroupNamePrefix or "
                    "logGroupNamePattern."
                )
            names = [
                name
                for name in (self._group_from_identifier(i) for i in identifiers)
                if name is not None
            ]
        limit = request.get("limit") or 50
        scope = "groups:" + json.dumps([prefix, pattern, names])
        offset = _offset_page(request.get("nextToken"), scope)
        infos = self.logs.describe_groups(
            prefix=prefix, pattern=pattern, names=names, offset=offset, limit=limit + 1
        )
        groups = [
            {
                "logGroupName": info.name,
                "creationTime": info.created_ms,
                "metricFilterCount": 0,
                "arn": group_arn(self.region, self.account, info.name) + ":*",
                "storedBytes": info.stored_bytes,
                "logGroupClass": "STANDARD",
                "logGroupArn": group_arn(self.region, self.account, info.name),
            }
            for info in infos[:limit]
        ]
        response: Response = {"logGroups": groups}
        if len(infos) > limit:
            response["nextToken"] = _encode_opaque({"s": scope, "o": offset + limit})
        return response

    def describe_log_streams(self, request: Request) -> Response:
        group = self._group(request)
        prefix = request.get("logStreamNamePrefix")
        order_by: Literal["LogStreamName", "LastEventTime"] = (
            "LastEventTime" if request.get("orderBy") == "LastEventTime" else "LogStreamName"
        )
        if prefix is not None and order_by == "LastEventTime":
            raise InvalidParameterException(
                "Cannot order by LastEventTime with a logStreamNamePrefix."
            )
        descending = bool(request.get("descending"))
        limit = request.get("limit") or 50
        scope = "streams:" + json.dumps([group, prefix, order_by, descending])
        offset = _offset_page(request.get("nextToken"), scope)
        infos = self.logs.describe_streams(
            group,
            prefix=prefix,
            order_by=order_by,
            descending=descending,
            offset=offset,
            limit=limit + 1,
        )
        streams = []
        for info in infos[:limit]:
            stream: dict[str, Any] = {"logStreamName": info.name, "creationTime": info.created_ms}
            if info.first_event_ms is not None:
                stream["firstEventTimestamp"] = info.first_event_ms
            if info.last_event_ms is not None:
                stream["lastEventTimestamp"] = info.last_event_ms
            if info.last_ingestion_ms is not None:
                stream["lastIngestionTime"] = info.last_ingestion_ms
            stream["arn"] = self.logs.stream_arn(self.region, self.account, group, info.name)
            stream["storedBytes"] = 0
            streams.append(stream)
        response: Response = {"logStreams": streams}
        if len(infos) > limit:
            response["nextToken"] = _encode_opaque({"s": scope, "o": offset + limit})
        return response

    def start_live_tail(self, request: Request) -> Response:
        raise UnknownOperationException(
            "StartLiveTail is not supported by the local endpoint: it answers with an event "
            "stream, which the local endpoint does not serve. Poll GetLogEvents with "
            "nextForwardToken (or FilterLogEvents) instead."
        )


def _within_page_bytes(
    items: list[_Item], message: Callable[[_Item], str], *, keep_first: bool
) -> list[_Item]:
    """The events (`message` reads one's text) that fit AWS's 1 MB page, from the page's
    start (forward) or end."""
    # A page of short lines fits whole: one count of its UTF-8 bytes instead of one a line.
    whole = len("".join([message(item) for item in items]).encode()) + EVENT_OVERHEAD * len(items)
    if whole <= MAX_BYTES:
        return items
    ordered = items if keep_first else items[::-1]
    kept: list[_Item] = []
    size = 0
    for item in ordered:
        size += _event_size(message(item))
        if kept and size > MAX_BYTES:
            break
        kept.append(item)
    return kept if keep_first else kept[::-1]
