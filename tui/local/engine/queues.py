"""SQS standard queues: attributes, messages, receipt handles, visibility, long-poll waiters.

Everything lives in the endpoint's SQLite database (`sqs_queues`, `sqs_messages`,
`sqs_deleted_queues`), so queue contents survive a restart; a message that was in flight when
the endpoint stopped becomes visible again once its visibility timeout has passed. Every time
here (sent, visible-at, first receive, retention, the 60-second rules) is the engine's clock,
so a `ManualClock` drives visibility timeouts and delays in tests.

Semantics (AWS's, as documented for standard queues):
- A receive hands out visible messages (oldest first) and hides each for the visibility
  timeout (the request's, else the queue's); each receive issues a new receipt handle and
  bumps `ApproximateReceiveCount`.
- DeleteMessage needs the handle of the *latest* receive: an older handle of a message that
  was received again since "succeeds, but the message is not deleted" (DeleteMessage's
  documentation). A handle of a message already gone also succeeds. A handle that is not one of
  ours (or of another queue) is `ReceiptHandleIsInvalid`.
- ChangeMessageVisibility on a message that is visible again is `MessageNotInflight`; on a
  message that is gone or was received again since that handle, `InvalidParameterValue`
  ("Message does not exist or is not available for visibility timeout change").
- Messages older than `MessageRetentionPeriod` are dropped; `DelaySeconds` (queue or message)
  hides a new message; a `RedrivePolicy` moves a message whose receive count has reached
  `maxReceiveCount` to the dead-letter queue instead of handing it out again.
- A queue name is free again 60 s after DeleteQueue (`QueueDeletedRecently` before that);
  PurgeQueue may run once per 60 s (`PurgeQueueInProgress`).

Decisions [I]:
- FIFO queues are not served: `FifoQueue=true` (or a `.fifo` name) is refused with
  `InvalidParameterValue` saying so. `MessageGroupId` on a standard queue is kept and returned
  as a system attribute (fair queues); `MessageDeduplicationId` is refused as AWS does.
- `Policy` is stored as given (it must be a JSON object) and never enforced; so are the SSE
  attributes (`KmsMasterKeyId`, `SqsManagedSseEnabled`...): nothing is encrypted locally.
- `SenderId` is the access key id that signed the request (AWS shows the IAM user or role id).
- Receipt handles are opaque base64 text naming the queue, the message and that receive.
- Long polling (`receive_wait`): the wait is real time, at most WaitTimeSeconds, because a
  client's HTTP read timeout is real time. It ends early when a message can be handed out: on
  a send to the queue, a visibility change, or a clock timer set for the moment the next
  hidden (in flight or delayed) message becomes visible, which on a `ManualClock` fires when a
  test advances past it. When the endpoint shuts down, every long poll returns empty at once
  (`end_long_polls`), so a client that always keeps one open never delays a shutdown.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import re
import secrets
import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tui.local.clock import Clock, Timer
from tui.local.engine.db import transaction
from tui.model.errors import AwsError

SCHEMA = """
CREATE TABLE IF NOT EXISTS sqs_queues (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    last_purge REAL
);
CREATE TABLE IF NOT EXISTS sqs_deleted_queues (
    name TEXT PRIMARY KEY,
    deleted REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sqs_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    system_attributes TEXT NOT NULL,
    md5_body TEXT NOT NULL,
    md5_attributes TEXT,
    md5_system_attributes TEXT,
    sender_id TEXT NOT NULL,
    sent REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive REAL,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS sqs_messages_by_queue ON sqs_messages (queue, visible_at, seq);
"""

QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
BATCH_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
ATTRIBUTE_TYPE = re.compile(r"(String|Number|Binary)(\..+)?")
INVALID_BODY_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

MAX_VISIBILITY_TIMEOUT = 43_200
MAX_DELAY_SECONDS = 900
MAX_WAIT_SECONDS = 20
MAX_MESSAGE_ATTRIBUTES = 10
MAX_BATCH_ENTRIES = 10
RECREATE_AFTER_SECONDS = 60
PURGE_INTERVAL_SECONDS = 60

# The attributes a client may set, with AWS's defaults for a standard queue.
DEFAULT_ATTRIBUTES = {
    "VisibilityTimeout": "30",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "ReceiveMessageWaitTimeSeconds": "0",
    "SqsManagedSseEnabled": "true",
}
INTEGER_ATTRIBUTES = {
    "VisibilityTimeout": (0, MAX_VISIBILITY_TIMEOUT),
    "MaximumMessageSize": (1024, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600),
    "DelaySeconds": (0, MAX_DELAY_SECONDS),
    "ReceiveMessageWaitTimeSeconds": (0, MAX_WAIT_SECONDS),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
OPTIONAL_ATTRIBUTES = ("Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId")
SETTABLE_ATTRIBUTES = frozenset(
    [*DEFAULT_ATTRIBUTES, *OPTIONAL_ATTRIBUTES, "KmsDataKeyReusePeriodSeconds"]
)
COMPUTED_ATTRIBUTES = (
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
)
# The order GetQueueAttributes(All) lists them in, as SQS does.
ALL_ATTRIBUTES_ORDER = (
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "Policy",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)
FIFO_ATTRIBUTES = frozenset(
    {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
)
SYSTEM_ATTRIBUTE_NAMES = frozenset(
    {
        "SenderId",
        "SentTimestamp",
        "ApproximateReceiveCount",
        "ApproximateFirstReceiveTimestamp",
        "AWSTraceHeader",
        "MessageGroupId",
        "DeadLetterQueueSourceArn",
    }
)


# --------------------------------------------------------------------------------------------
# Errors: the JSON shape name in `__type`, the legacy query code in `x-amzn-query-error`.


class SqsError(AwsError):
    """An SQS error: `code` is `com.amazonaws.sqs#<shape>`, `query_code` the awsQuery code.

    botocore reads the shape from `__type` to pick the exception class and reports the query
    code (from the `x-amzn-query-error` header) as the error's Code, as it does against AWS.
    Errors SQS does not model (InvalidParameterValue, MissingParameter) use the query code as
    the shape name too.
    """

    shape = "InternalError"
    query_code = "InternalError"
    sender_fault = True

    def __init__(self, message: str) -> None:
        super().__init__(message, code=f"com.amazonaws.sqs#{self.shape}", status=self.status)


class QueueDoesNotExist(SqsError):
    shape = "QueueDoesNotExist"
    query_code = "AWS.SimpleQueueService.NonExistentQueue"

    def __init__(self, message: str = "The specified queue does not exist.") -> None:
        super().__init__(message)


class QueueNameExists(SqsError):
    shape = "QueueNameExists"
    query_code = "QueueAlreadyExists"


class QueueDeletedRecently(SqsError):
    shape = "QueueDeletedRecently"
    query_code = "AWS.SimpleQueueService.QueueDeletedRecently"


class PurgeQueueInProgress(SqsError):
    shape = "PurgeQueueInProgress"
    query_code = "AWS.SimpleQueueService.PurgeQueueInProgress"
    status = 403


class ReceiptHandleIsInvalid(SqsError):
    shape = "ReceiptHandleIsInvalid"
    query_code = "ReceiptHandleIsInvalid"


class MessageNotInflight(SqsError):
    shape = "MessageNotInflight"
    query_code = "AWS.SimpleQueueService.MessageNotInflight"


class InvalidAttributeName(SqsError):
    shape = "InvalidAttributeName"
    query_code = "InvalidAttributeName"


class InvalidAttributeValue(SqsError):
    shape = "InvalidAttributeValue"
    query_code = "InvalidAttributeValue"


class InvalidMessageContents(SqsError):
    shape = "InvalidMessageContents"
    query_code = "InvalidMessageContents"


class InvalidAddress(SqsError):
    shape = "InvalidAddress"
    query_code = "InvalidAddress"
    status = 404


class EmptyBatchRequest(SqsError):
    shape = "EmptyBatchRequest"
    query_code = "AWS.SimpleQueueService.EmptyBatchRequest"


class TooManyEntriesInBatchRequest(SqsError):
    shape = "TooManyEntriesInBatchRequest"
    query_code = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(SqsError):
    shape = "BatchEntryIdsNotDistinct"
    query_code = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


class InvalidBatchEntryId(SqsError):
    shape = "InvalidBatchEntryId"
    query_code = "AWS.SimpleQueueService.InvalidBatchEntryId"


class BatchRequestTooLong(SqsError):
    shape = "BatchRequestTooLong"
    query_code = "AWS.SimpleQueueService.BatchRequestTooLong"


class InvalidParameterValue(SqsError):
    shape = "InvalidParameterValue"
    query_code = "InvalidParameterValue"


class MissingParameter(SqsError):
    shape = "MissingParameter"
    query_code = "MissingParameter"


def invalid_value(name: str, value: Any, reason: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Value {value} for parameter {name} is invalid. Reason: {reason}")


# --------------------------------------------------------------------------------------------
# Digests


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def md5_of_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str | None:
    """SQS's MD5OfMessageAttributes: per attribute in name order, length-prefixed name and
    type, a transport byte (1 string, 2 binary) and the length-prefixed value."""
    if not attributes:
        return None
    buffer = bytearray()
    for name in sorted(attributes):
        value = attributes[name]
        buffer += _length_prefixed(name.encode())
        buffer += _length_prefixed(value["DataType"].encode())
        if "BinaryValue" in value:
            buffer += b"\x02" + _length_prefixed(base64.b64decode(value["BinaryValue"]))
        else:
            buffer += b"\x01" + _length_prefixed(value["StringValue"].encode())
    return md5_hex(bytes(buffer))


# --------------------------------------------------------------------------------------------
# Records


@dataclass
class Queue:
    name: str
    created: float
    modified: float
    attributes: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)
    last_purge: float | None = None

    def setting(self, name: str) -> int:
        return int(self.attributes.get(name, DEFAULT_ATTRIBUTES.get(name, "0")))


@dataclass(frozen=True)
class SentMessage:
    message_id: str
    md5_body: str
    md5_attributes: str | None
    md5_system_attributes: str | None


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    receipt_handle: str
    body: str
    md5_body: str
    attributes: dict[str, dict[str, Any]]
    md5_attributes: str | None
    system: dict[str, str]


@dataclass(frozen=True)
class OutgoingMessage:
    """A validated message ready to be stored (see `QueueStore.prepare`)."""

    body: str
    attributes: dict[str, dict[str, Any]]
    system_attributes: dict[str, str]
    delay: int | None
    md5_body: str
    md5_attributes: str | None
    md5_system_attributes: str | None
    size: int


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class _Handle:
    @staticmethod
    def encode(queue: str, message_id: str, receipt: str) -> str:
        raw = f"{queue}/{message_id}/{receipt}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(handle: str) -> tuple[str, str, str]:
        try:
            padded = handle + "=" * (-len(handle) % 4)
            queue, message_id, receipt = (
                base64.urlsafe_b64decode(padded.encode("ascii")).decode().split("/")
            )
        except (ValueError, UnicodeError, binascii.Error):
            raise ReceiptHandleIsInvalid(
                f'The input receipt handle "{handle}" is not a valid receipt handle.'
            ) from None
        return queue, message_id, receipt


# --------------------------------------------------------------------------------------------
# The store


class QueueStore:
    def __init__(self, db: sqlite3.Connection, clock: Clock, region: str, account: str) -> None:
        self.db = db
        self.clock = clock
        self.region = region
        self.account = account
        db.executescript(SCHEMA)
        self._queues: dict[str, Queue] = {}
        for name, created, modified, attributes, tags, last_purge in db.execute(
            "SELECT name, created, modified, attributes, tags, last_purge FROM sqs_queues"
        ):
            self._queues[name] = Queue(
                name, created, modified, json.loads(attributes), json.loads(tags), last_purge
            )
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._closing = False

    # Names and ARNs ---------------------------------------------------------------------
    def queue_arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{name}"

    def name_of_arn(self, arn: str) -> str | None:
        """The queue name of an SQS queue ARN of this region and account, else None."""
        prefix = f"arn:aws:sqs:{self.region}:{self.account}:"
        if not arn.startswith(prefix):
            return None
        name = arn[len(prefix) :]
        return name if QUEUE_NAME.fullmatch(name) else None

    def queue(self, name: str) -> Queue:
        queue = self._queues.get(name)
        if queue is None:
            raise QueueDoesNotExist()
        return queue

    def exists(self, name: str) -> bool:
        return name in self._queues

    # Queues -----------------------------------------------------------------------------
    def create_queue(
        self,
        name: str,
        attributes: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Queue:
        """Create a queue, or return the existing one when the given attributes agree."""
        attributes = dict(attributes or {})
        fifo = attributes.get("FifoQueue", "").lower() == "true" or name.endswith(".fifo")
        if fifo:
            raise InvalidParameterValue(
                "FIFO queues are not supported by the local endpoint; create a standard queue."
            )
        if not QUEUE_NAME.fullmatch(name):
            raise InvalidParameterValue(
                "Can only include alphanumeric characters, hyphens, or underscores. "
                "1 to 80 in length"
            )
        if attributes.get("FifoQueue", "").lower() == "false":
            del attributes["FifoQueue"]
        settings = self._checked_attributes(attributes)
        existing = self._queues.get(name)
        now = self.clock.now()
        if existing is not None:
            for key, value in settings.items():
                if not _same_setting(key, value, existing.attributes.get(key)):
                    raise QueueNameExists(
                        "A queue already exists with the same name and a different value for "
                        f"attribute {key}"
                    )
            return existing
        deleted = self.db.execute(
            "SELECT deleted FROM sqs_deleted_queues WHERE name = ?", (name,)
        ).fetchone()
        if deleted is not None and now < deleted[0] + RECREATE_AFTER_SECONDS:
            raise QueueDeletedRecently(
                "You must wait 60 seconds after deleting a queue before you can create "
                "another queue with the same name."
            )
        effective = {**DEFAULT_ATTRIBUTES, **settings}
        queue = Queue(name, now, now, {k: v for k, v in effective.items() if v != ""})
        queue.tags = dict(tags or {})
        with transaction(self.db):
            self.db.execute("DELETE FROM sqs_deleted_queues WHERE name = ?", (name,))
            self._save(queue)
        self._queues[name] = queue
        return queue

    def _save(self, queue: Queue) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO sqs_queues (name, created, modified, attributes, tags, "
            "last_purge) VALUES (?, ?, ?, ?, ?, ?)",
            (
                queue.name,
                queue.created,
                queue.modified,
                _dumps(queue.attributes),
                _dumps(queue.tags),
                queue.last_purge,
            ),
        )

    def _checked_attributes(self, attributes: Mapping[str, str]) -> dict[str, str]:
        """Validated settable attributes, values normalized as SQS reports them."""
        settings: dict[str, str] = {}
        for key, raw in attributes.items():
            if key not in SETTABLE_ATTRIBUTES:
                raise InvalidAttributeName(f"Unknown Attribute {key}.")
            value = str(raw)
            if key in INTEGER_ATTRIBUTES:
                low, high = INTEGER_ATTRIBUTES[key]
                try:
                    number = int(value.strip())
                except ValueError:
                    number = low - 1
                if not low <= number <= high:
                    raise InvalidAttributeValue(f"Invalid value for the parameter {key}.")
                value = str(number)
            elif key == "SqsManagedSseEnabled":
                if value.lower() not in ("true", "false"):
                    raise InvalidAttributeValue(f"Invalid value for the parameter {key}.")
                value = value.lower()
            elif key in ("Policy", "RedriveAllowPolicy") and value:
                if not isinstance(_json_object(value), dict):
                    raise InvalidAttributeValue(f"Invalid value for the parameter {key}.")
            elif key == "RedrivePolicy" and value:
                value = self._checked_redrive_policy(value)
            settings[key] = value
        if settings.get("SqsManagedSseEnabled") == "true" and settings.get("KmsMasterKeyId"):
            raise InvalidAttributeName(
                "You can use one type of server-side encryption (SSE) at one time. You can "
                "either enable KMS SSE or SQS SSE."
            )
        if settings.get("KmsMasterKeyId") and "SqsManagedSseEnabled" not in settings:
            settings["SqsManagedSseEnabled"] = "false"
        return settings

    def _checked_redrive_policy(self, value: str) -> str:
        policy = _json_object(value)
        if not isinstance(policy, dict):
            raise invalid_value("RedrivePolicy", value, "Redrive policy is not a valid JSON map.")
        target = policy.get("deadLetterTargetArn")
        dlq = self.name_of_arn(target) if isinstance(target, str) else None
        if dlq is None:
            raise invalid_value("RedrivePolicy", value, "Invalid value for deadLetterTargetArn.")
        if dlq not in self._queues:
            raise invalid_value("RedrivePolicy", value, "Dead letter target does not exist.")
        count = policy.get("maxReceiveCount")
        try:
            max_receive = int(str(count))
        except ValueError:
            max_receive = 0
        if not 1 <= max_receive <= 1000:
            raise invalid_value(
                "RedrivePolicy", value, "Invalid value for maxReceiveCount: must be 1 to 1000."
            )
        return _dumps({"deadLetterTargetArn": target, "maxReceiveCount": max_receive})

    def set_attributes(self, name: str, attributes: Mapping[str, str]) -> None:
        queue = self.queue(name)
        for key in attributes:
            if key in FIFO_ATTRIBUTES:
                raise InvalidAttributeName(f"Unknown Attribute {key}.")
        settings = self._checked_attributes(attributes)
        for key, value in settings.items():
            if value == "" and key in OPTIONAL_ATTRIBUTES:
                queue.attributes.pop(key, None)
            else:
                queue.attributes[key] = value
        if (
            queue.attributes.get("KmsMasterKeyId")
            and settings.get("SqsManagedSseEnabled") == "true"
        ):
            queue.attributes.pop("KmsMasterKeyId", None)
        queue.modified = self.clock.now()
        with transaction(self.db):
            self._save(queue)
        self.wake(name)

    def attributes(self, name: str, wanted: Iterable[str]) -> dict[str, str]:
        """GetQueueAttributes: `All`, or the named ones (unset optional ones are left out)."""
        queue = self.queue(name)
        names = list(wanted)
        for key in names:
            if key != "All" and key not in SETTABLE_ATTRIBUTES and key not in COMPUTED_ATTRIBUTES:
                raise InvalidAttributeName(f"Unknown Attribute {key}.")
        selected = set(ALL_ATTRIBUTES_ORDER) if "All" in names else set(names)
        counts = self._counts(name) if selected & set(COMPUTED_ATTRIBUTES[1:4]) else (0, 0, 0)
        values = {
            "QueueArn": self.queue_arn(name),
            "ApproximateNumberOfMessages": str(counts[0]),
            "ApproximateNumberOfMessagesNotVisible": str(counts[1]),
            "ApproximateNumberOfMessagesDelayed": str(counts[2]),
            "CreatedTimestamp": str(int(queue.created)),
            "LastModifiedTimestamp": str(int(queue.modified)),
            **queue.attributes,
        }
        return {
            key: values[key] for key in ALL_ATTRIBUTES_ORDER if key in selected and key in values
        }

    def _counts(self, name: str) -> tuple[int, int, int]:
        now = self.clock.now()
        self._expire(name, now)
        visible, in_flight, delayed = self.db.execute(
            "SELECT "
            "COALESCE(SUM(visible_at <= ?), 0), "
            "COALESCE(SUM(visible_at > ? AND receive_count > 0), 0), "
            "COALESCE(SUM(visible_at > ? AND receive_count = 0), 0) "
            "FROM sqs_messages WHERE queue = ?",
            (now, now, now, name),
        ).fetchone()
        return int(visible), int(in_flight), int(delayed)

    def list_queues(self, prefix: str = "") -> list[str]:
        return sorted(name for name in self._queues if name.startswith(prefix))

    def delete_queue(self, name: str) -> None:
        self.queue(name)
        with transaction(self.db):
            self.db.execute("DELETE FROM sqs_messages WHERE queue = ?", (name,))
            self.db.execute("DELETE FROM sqs_queues WHERE name = ?", (name,))
            self.db.execute(
                "INSERT OR REPLACE INTO sqs_deleted_queues (name, deleted) VALUES (?, ?)",
                (name, self.clock.now()),
            )
        del self._queues[name]
        self.wake(name)

    def purge(self, name: str) -> None:
        queue = self.queue(name)
        now = self.clock.now()
        if queue.last_purge is not None and now < queue.last_purge + PURGE_INTERVAL_SECONDS:
            raise PurgeQueueInProgress(
                f"Only one PurgeQueue operation on {name} is allowed every 60 seconds."
            )
        queue.last_purge = now
        with transaction(self.db):
            self.db.execute("DELETE FROM sqs_messages WHERE queue = ?", (name,))
            self._save(queue)

    def tag(self, name: str, tags: Mapping[str, str]) -> None:
        queue = self.queue(name)
        queue.tags.update(tags)
        with transaction(self.db):
            self._save(queue)

    def untag(self, name: str, keys: Iterable[str]) -> None:
        queue = self.queue(name)
        for key in keys:
            queue.tags.pop(key, None)
        with transaction(self.db):
            self._save(queue)

    def dead_letter_sources(self, name: str) -> list[str]:
        arn = self.queue_arn(self.queue(name).name)
        sources = []
        for queue in self._queues.values():
            policy = queue.attributes.get("RedrivePolicy")
            if policy and json.loads(policy).get("deadLetterTargetArn") == arn:
                sources.append(queue.name)
        return sorted(sources)

    # Messages ---------------------------------------------------------------------------
    def prepare(
        self,
        queue_name: str,
        body: Any,
        attributes: Mapping[str, Any] | None = None,
        system_attributes: Mapping[str, Any] | None = None,
        delay: int | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> OutgoingMessage:
        """Validate one message for `queue_name` as SendMessage does; raises the SQS error."""
        queue = self.queue(queue_name)
        if not isinstance(body, str) or body == "":
            raise MissingParameter("The request must contain the parameter MessageBody.")
        bad = INVALID_BODY_CHAR.search(body)
        if bad is not None:
            raise InvalidMessageContents(
                f"Invalid binary character '#x{ord(bad.group()):X}' was found in the message "
                "body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | "
                "#xE000 to #xFFFD | #x10000 to #x10FFFF"
            )
        if delay is not None and not 0 <= delay <= MAX_DELAY_SECONDS:
            raise invalid_value("DelaySeconds", delay, "DelaySeconds must be >= 0 and <= 900.")
        if deduplication_id is not None:
            raise invalid_value(
                "MessageDeduplicationId",
                deduplication_id,
                "The request includes a parameter that is not valid for this queue type.",
            )
        message_attributes, size = _checked_message_attributes(attributes or {})
        system, md5_system = _checked_system_attributes(system_attributes or {})
        if group_id is not None:
            system["MessageGroupId"] = group_id
        size += len(body.encode())
        limit = queue.setting("MaximumMessageSize")
        if size > limit:
            raise InvalidParameterValue(
                f"One or more parameters are invalid. Reason: Message must be shorter than "
                f"{limit} bytes."
            )
        return OutgoingMessage(
            body,
            message_attributes,
            system,
            delay,
            md5_hex(body.encode()),
            md5_of_attributes(message_attributes),
            md5_system,
            size,
        )

    def send(
        self, queue_name: str, messages: list[OutgoingMessage], sender_id: str
    ) -> list[SentMessage]:
        """Store prepared messages in one transaction and wake the queue's long polls."""
        with transaction(self.db):
            sent = self.add_messages(queue_name, messages, sender_id)
        self.wake(queue_name)
        return sent

    def add_messages(
        self, queue_name: str, messages: list[OutgoingMessage], sender_id: str
    ) -> list[SentMessage]:
        """Insert prepared messages inside the caller's transaction; the caller then calls
        `wake(queue_name)` once it has committed."""
        queue = self.queue(queue_name)
        now = self.clock.now()
        sent = []
        rows = []
        for message in messages:
            message_id = str(uuid.uuid4())
            delay = message.delay if message.delay is not None else queue.setting("DelaySeconds")
            rows.append(
                (
                    queue_name,
                    message_id,
                    message.body,
                    _dumps(message.attributes),
                    _dumps(message.system_attributes),
                    message.md5_body,
                    message.md5_attributes,
                    message.md5_system_attributes,
                    sender_id,
                    now,
                    now + delay,
                )
            )
            sent.append(
                SentMessage(
                    message_id,
                    message.md5_body,
                    message.md5_attributes,
                    message.md5_system_attributes,
                )
            )
        self.db.executemany(
            "INSERT INTO sqs_messages (queue, message_id, body, attributes, "
            "system_attributes, md5_body, md5_attributes, md5_system_attributes, sender_id, "
            "sent, visible_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return sent

    def _expire(self, name: str, now: float) -> None:
        retention = self.queue(name).setting("MessageRetentionPeriod")
        self.db.execute(
            "DELETE FROM sqs_messages WHERE queue = ? AND sent <= ?", (name, now - retention)
        )

    def receive(
        self, name: str, max_messages: int = 1, visibility: int | None = None
    ) -> list[ReceivedMessage]:
        """Hand out up to `max_messages` visible messages now (no waiting)."""
        queue = self.queue(name)
        timeout = visibility if visibility is not None else queue.setting("VisibilityTimeout")
        now = self.clock.now()
        redrive = _redrive(queue, self)
        received: list[ReceivedMessage] = []
        with transaction(self.db):
            self._expire(name, now)
            after = 0
            while len(received) < max_messages:
                # Walk forward by seq: a message received with a zero timeout stays visible.
                rows = self.db.execute(
                    "SELECT seq, message_id, body, attributes, system_attributes, md5_body, "
                    "md5_attributes, sender_id, sent, receive_count, first_receive "
                    "FROM sqs_messages WHERE queue = ? AND visible_at <= ? AND seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (name, now, after, max_messages - len(received)),
                ).fetchall()
                if not rows:
                    break
                after = rows[-1][0]
                for row in rows:
                    seq, message_id, body, attrs, system_text, md5_body, md5_attrs = row[:7]
                    sender_id, sent, count, first = row[7:]
                    if redrive is not None and count >= redrive[1]:
                        self._move_to_dead_letter_queue(seq, name, redrive[0], now)
                        continue
                    receipt = secrets.token_hex(16)
                    first = first if first is not None else now
                    self.db.execute(
                        "UPDATE sqs_messages SET receive_count = ?, first_receive = ?, "
                        "receipt = ?, visible_at = ? WHERE seq = ?",
                        (count + 1, first, receipt, now + timeout, seq),
                    )
                    system = {
                        "SenderId": sender_id,
                        "SentTimestamp": str(int(sent * 1000)),
                        "ApproximateReceiveCount": str(count + 1),
                        "ApproximateFirstReceiveTimestamp": str(int(first * 1000)),
                        **json.loads(system_text),
                    }
                    received.append(
                        ReceivedMessage(
                            message_id,
                            _Handle.encode(name, message_id, receipt),
                            body,
                            md5_body,
                            json.loads(attrs),
                            md5_attrs,
                            system,
                        )
                    )
        if redrive is not None:
            self.wake(redrive[0])
        return received

    def _move_to_dead_letter_queue(self, seq: int, source: str, target: str, now: float) -> None:
        row = self.db.execute(
            "SELECT system_attributes FROM sqs_messages WHERE seq = ?", (seq,)
        ).fetchone()
        system = json.loads(row[0])
        system["DeadLetterQueueSourceArn"] = self.queue_arn(source)
        # A moved message keeps its id and its original send time (retention counts from it).
        self.db.execute(
            "UPDATE sqs_messages SET queue = ?, visible_at = ?, receive_count = 0, "
            "first_receive = NULL, receipt = NULL, system_attributes = ? WHERE seq = ?",
            (target, now, _dumps(system), seq),
        )

    async def receive_wait(
        self, name: str, max_messages: int, visibility: int | None, wait_seconds: float
    ) -> list[ReceivedMessage]:
        """Receive, waiting up to `wait_seconds` of real time for a message (long polling)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            if self._closing:
                return []
            messages = self.receive(name, max_messages, visibility)
            remaining = deadline - loop.time()
            if messages or remaining <= 0:
                return messages
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(name, set()).add(waiter)
            timer = self._timer_for_next_visible(name)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                waiters = self._waiters.get(name)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiters[name]
                if timer is not None:
                    timer.cancel()

    def _timer_for_next_visible(self, name: str) -> Timer | None:
        row = self.db.execute(
            "SELECT MIN(visible_at) FROM sqs_messages WHERE queue = ? AND visible_at > ?",
            (name, self.clock.now()),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return self.clock.call_at(row[0], lambda: self.wake(name))

    def end_long_polls(self) -> None:
        """The endpoint is shutting down: every long poll returns now, empty-handed."""
        self._closing = True
        for name in list(self._waiters):
            self.wake(name)

    def wake(self, name: str) -> None:
        """Let every long poll on the queue look again."""
        for waiter in self._waiters.get(name, ()):
            if not waiter.done():
                waiter.set_result(None)

    def _find_receipt(self, name: str, handle: str) -> tuple[str, str]:
        queue, message_id, receipt = _Handle.decode(handle)
        if queue != name:
            raise ReceiptHandleIsInvalid(
                f'The input receipt handle "{handle}" is not a valid receipt handle.'
            )
        return message_id, receipt

    def delete_message(self, name: str, handle: str) -> None:
        self.queue(name)
        message_id, receipt = self._find_receipt(name, handle)
        with transaction(self.db):
            self.db.execute(
                "DELETE FROM sqs_messages WHERE queue = ? AND message_id = ? AND receipt = ?",
                (name, message_id, receipt),
            )

    def change_visibility(self, name: str, handle: str, timeout: int) -> None:
        self.queue(name)
        if not 0 <= timeout <= MAX_VISIBILITY_TIMEOUT:
            raise invalid_value(
                "VisibilityTimeout", timeout, f"Must be between 0 and {MAX_VISIBILITY_TIMEOUT}."
            )
        message_id, receipt = self._find_receipt(name, handle)
        row = self.db.execute(
            "SELECT seq, visible_at FROM sqs_messages WHERE queue = ? AND message_id = ? "
            "AND receipt = ?",
            (name, message_id, receipt),
        ).fetchone()
        if row is None:
            raise invalid_value(
                "ReceiptHandle",
                handle,
                "Message does not exist or is not available for visibility timeout change.",
            )
        now = self.clock.now()
        if row[1] <= now:
            raise MessageNotInflight("The message referred to isn't in flight.")
        with transaction(self.db):
            self.db.execute(
                "UPDATE sqs_messages SET visible_at = ? WHERE seq = ?", (now + timeout, row[0])
            )
        self.wake(name)


def _json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _same_setting(key: str, given: str, existing: str | None) -> bool:
    current = existing if existing is not None else DEFAULT_ATTRIBUTES.get(key, "")
    if key in ("Policy", "RedrivePolicy", "RedriveAllowPolicy") and given and current:
        return bool(_json_object(given) == _json_object(current))
    return given == current


def _redrive(queue: Queue, store: QueueStore) -> tuple[str, int] | None:
    policy = queue.attributes.get("RedrivePolicy")
    if not policy:
        return None
    parsed = json.loads(policy)
    target = store.name_of_arn(parsed["deadLetterTargetArn"])
    if target is None or not store.exists(target):
        return None
    return target, int(parsed["maxReceiveCount"])


def _checked_message_attributes(
    attributes: Mapping[str, Any],
) -> tuple[dict[str, dict[str, Any]], int]:
    """Validated message attributes (binary values stay base64 text) and their byte size."""
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
            f"[{MAX_MESSAGE_ATTRIBUTES}]."
        )
    checked: dict[str, dict[str, Any]] = {}
    size = 0
    for name, value in attributes.items():
        lowered = name.lower()
        if (
            not ATTRIBUTE_NAME.fullmatch(name)
            or name.startswith(".")
            or name.endswith(".")
            or ".." in name
            or lowered.startswith(("aws.", "amazon."))
        ):
            raise InvalidParameterValue(
                f"Message (user) attribute name '{name}' is invalid. The attribute name can "
                "contain A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters; "
                "it must not start or end with a period, contain consecutive periods, or start "
                "with AWS. or Amazon."
            )
        data_type = value.get("DataType", "")
        match = ATTRIBUTE_TYPE.fullmatch(data_type)
        if match is None:
            raise InvalidParameterValue(
                f"The type of message (user) attribute '{name}' is invalid. You must use only "
                "the following supported type prefixes: Binary, Number, String."
            )
        if value.get("StringListValues") or value.get("BinaryListValues"):
            raise InvalidParameterValue(
                "Message attribute list values in SendMessage operation are not supported."
            )
        kind = match.group(1)
        if kind == "Binary":
            binary = value.get("BinaryValue")
            if not binary:
                raise InvalidParameterValue(
                    f"The message attribute '{name}' must contain non-empty message attribute "
                    "value for message attribute type 'Binary'."
                )
            checked[name] = {"DataType": data_type, "BinaryValue": binary}
            size += len(base64.b64decode(binary))
        else:
            text = value.get("StringValue")
            if not isinstance(text, str) or text == "":
                raise InvalidParameterValue(
                    f"The message attribute '{name}' must contain non-empty message attribute "
                    f"value for message attribute type '{kind}'."
                )
            if kind == "Number":
                try:
                    Decimal(text)
                except InvalidOperation:
                    raise InvalidParameterValue(
                        f"Can't cast the value of message (user) attribute '{name}' to a number."
                    ) from None
            checked[name] = {"DataType": data_type, "StringValue": text}
            size += len(text.encode())
        size += len(name.encode()) + len(data_type.encode())
    return checked, size


def _checked_system_attributes(
    attributes: Mapping[str, Any],
) -> tuple[dict[str, str], str | None]:
    """Only AWSTraceHeader may be sent (a String); returns it and its MD5 as SQS computes it."""
    for name in attributes:
        if name != "AWSTraceHeader":
            raise InvalidParameterValue(f"Message system attribute name '{name}' is invalid.")
    if not attributes:
        return {}, None
    value = attributes["AWSTraceHeader"]
    if value.get("DataType") != "String" or not value.get("StringValue"):
        raise InvalidParameterValue(
            "Message system attribute 'AWSTraceHeader' must be of type String with a "
            "non-empty value."
        )
    trace = str(value["StringValue"])
    md5 = md5_of_attributes({"AWSTraceHeader": {"DataType": "String", "StringValue": trace}})
    return {"AWSTraceHeader": trace}, md5


def check_batch_ids(entries: list[Mapping[str, Any]], kind: str) -> None:
    """The request-level checks of every SQS batch operation."""
    if not entries:
        raise EmptyBatchRequest(f"There should be at least one {kind}RequestEntry in the request.")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent "
            f"{len(entries)}."
        )
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry.get("Id", "")
        if not BATCH_ENTRY_ID.fullmatch(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long."
            )
        if entry_id in seen:
            raise BatchEntryIdsNotDistinct(f"Id {entry_id} repeated.")
        seen.add(entry_id)
