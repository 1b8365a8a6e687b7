"""SQS over AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Operation>`), over `engine.queues`.

Served: CreateQueue, GetQueueUrl, ListQueues, GetQueueAttributes, SetQueueAttributes,
DeleteQueue, PurgeQueue, SendMessage, SendMessageBatch, ReceiveMessage (long polling),
DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility, ChangeMessageVisibilityBatch,
TagQueue, UntagQueue, ListQueueTags, ListDeadLetterSourceQueues. The other operations of the
model (permissions, message move tasks) answer UnknownOperationException (server funnel).

Queue URLs are `http://<Host of the request>/<account>/<name>`, as AWS builds them from the
endpoint the client called. A QueueUrl is read leniently: its last path segment is the queue
name, and a 12-digit segment before it must be this endpoint's account (otherwise the queue
does not exist here). A URL with no path is `InvalidAddress`.

Errors are SQS's awsQueryCompatible pair: `__type` `com.amazonaws.sqs#<Shape>` (botocore raises
`client.exceptions.<Shape>`) and the header `x-amzn-query-error: <query code>;Sender`
(botocore's error Code), added by `error_headers`. Batch failures carry the query code.

Decision [I]: queue policies are stored and returned, never enforced (no IAM locally).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from tui.local.api.caller import current_access_key, current_host
from tui.local.api.paging import page
from tui.local.engine import queues
from tui.local.engine.queues import (
    InvalidAddress,
    InvalidParameterValue,
    MissingParameter,
    QueueDoesNotExist,
    QueueStore,
    ReceivedMessage,
    SqsError,
    check_batch_ids,
    invalid_value,
)
from tui.model.errors import AwsError

Request = dict[str, Any]
Response = dict[str, Any]

MAX_BATCH_BYTES = 1_048_576
MAX_LIST_RESULTS = 1000


def queue_name_of_url(url: str, account: str) -> str:
    """The queue name in a QueueUrl (see the module docstring for the lenient rules)."""
    path = urlsplit(url).path if "://" in url else url
    parts = [part for part in path.split("/") if part]
    if not parts:
        raise InvalidAddress(f"The address {url} is not valid for this endpoint.")
    if len(parts) >= 2 and len(parts[-2]) == 12 and parts[-2].isdigit() and parts[-2] != account:
        raise QueueDoesNotExist()
    return parts[-1]


def _wanted_message_attributes(
    attributes: dict[str, dict[str, Any]], names: list[str]
) -> dict[str, dict[str, Any]]:
    if not names:
        return {}
    if "All" in names or ".*" in names:
        return attributes
    prefixes = tuple(name[:-2] for name in names if name.endswith(".*"))
    exact = set(names)
    return {
        key: value
        for key, value in attributes.items()
        if key in exact or (prefixes and key.startswith(prefixes))
    }


def _checked_range(name: str, value: Any, low: int, high: int, reason: str) -> int | None:
    if value is None:
        return None
    if not low <= value <= high:
        raise invalid_value(name, value, reason)
    return int(value)


class SqsService:
    target_prefix = "AmazonSQS"
    service_name = "sqs"

    def __init__(self, store: QueueStore) -> None:
        self.store = store

    def shutdown(self) -> None:
        """Long polls end at once when the endpoint stops (they would hold it up to 20 s)."""
        self.store.end_long_polls()

    def error_headers(self, error: AwsError) -> Mapping[str, str]:
        if isinstance(error, SqsError):
            fault = "Sender" if error.sender_fault else "Receiver"
            return {"x-amzn-query-error": f"{error.query_code};{fault}"}
        return {}

    # Helpers ------------------------------------------------------------------------------
    def queue_url(self, name: str) -> str:
        return f"http://{current_host.get()}/{self.store.account}/{name}"

    def _queue(self, request: Request) -> str:
        name = queue_name_of_url(request["QueueUrl"], self.store.account)
        self.store.queue(name)
        return name

    # Queues -------------------------------------------------------------------------------
    def create_queue(self, request: Request) -> Response:
        queue = self.store.create_queue(
            request["QueueName"], request.get("Attributes"), request.get("tags")
        )
        return {"QueueUrl": self.queue_url(queue.name)}

    def get_queue_url(self, request: Request) -> Response:
        owner = request.get("QueueOwnerAWSAccountId")
        if owner is not None and owner != self.store.account:
            raise QueueDoesNotExist()
        queue = self.store.queue(request["QueueName"])
        return {"QueueUrl": self.queue_url(queue.name)}

    def list_queues(self, request: Request) -> Response:
        names = self.store.list_queues(request.get("QueueNamePrefix") or "")
        limit = _checked_range(
            "MaxResults",
            request.get("MaxResults"),
            1,
            MAX_LIST_RESULTS,
            "MaxResults must be an integer between 1 and 1000.",
        )
        token = request.get("NextToken")
        if limit is None and token is None:
            chunk, next_token = names[:MAX_LIST_RESULTS], None
        else:
            try:
                chunk, next_token = page(
                    names, f"queues:{request.get('QueueNamePrefix') or ''}", token, limit or 1000
                )
            except AwsError:
                raise InvalidParameterValue("Invalid NextToken value.") from None
        response: Response = {}
        if chunk:
            response["QueueUrls"] = [self.queue_url(name) for name in chunk]
        if next_token:
            response["NextToken"] = next_token
        return response

    def get_queue_attributes(self, request: Request) -> Response:
        name = self._queue(request)
        attributes = self.store.attributes(name, request.get("AttributeNames") or [])
        return {"Attributes": attributes} if attributes else {}

    def set_queue_attributes(self, request: Request) -> Response:
        self.store.set_attributes(self._queue(request), request["Attributes"])
        return {}

    def delete_queue(self, request: Request) -> Response:
        self.store.delete_queue(self._queue(request))
        return {}

    def purge_queue(self, request: Request) -> Response:
        self.store.purge(self._queue(request))
        return {}

    def tag_queue(self, request: Request) -> Response:
        self.store.tag(self._queue(request), request["Tags"])
        return {}

    def untag_queue(self, request: Request) -> Response:
        self.store.untag(self._queue(request), request["TagKeys"])
        return {}

    def list_queue_tags(self, request: Request) -> Response:
        tags = self.store.queue(self._queue(request)).tags
        return {"Tags": dict(tags)} if tags else {}

    def list_dead_letter_source_queues(self, request: Request) -> Response:
        names = self.store.dead_letter_sources(self._queue(request))
        limit = _checked_range(
            "MaxResults",
            request.get("MaxResults"),
            1,
            MAX_LIST_RESULTS,
            "MaxResults must be an integer between 1 and 1000.",
        )
        try:
            chunk, token = page(names, "dlq-sources", request.get("NextToken"), limit or 1000)
        except AwsError:
            raise InvalidParameterValue("Invalid NextToken value.") from None
        response: Response = {"queueUrls": [self.queue_url(name) for name in chunk]}
        if token:
            response["NextToken"] = token
        return response

    # Sending ------------------------------------------------------------------------------
    def _prepare(self, name: str, entry: Mapping[str, Any]) -> queues.OutgoingMessage:
        return self.store.prepare(
            name,
            entry.get("MessageBody"),
            entry.get("MessageAttributes"),
            entry.get("MessageSystemAttributes"),
            entry.get("DelaySeconds"),
            entry.get("MessageGroupId"),
            entry.get("MessageDeduplicationId"),
        )

    def send_message(self, request: Request) -> Response:
        name = self._queue(request)
        message = self._prepare(name, request)
        (sent,) = self.store.send(name, [message], current_access_key.get())
        response: Response = {"MD5OfMessageBody": sent.md5_body, "MessageId": sent.message_id}
        if sent.md5_attributes:
            response["MD5OfMessageAttributes"] = sent.md5_attributes
        if sent.md5_system_attributes:
            response["MD5OfMessageSystemAttributes"] = sent.md5_system_attributes
        return response

    def send_message_batch(self, request: Request) -> Response:
        name = self._queue(request)
        entries = request.get("Entries") or []
        check_batch_ids(entries, "SendMessageBatch")
        prepared: list[tuple[str, queues.OutgoingMessage]] = []
        failed: list[Response] = []
        for entry in entries:
            try:
                prepared.append((entry["Id"], self._prepare(name, entry)))
            except SqsError as error:
                failed.append(_failure(entry["Id"], error))
        total = sum(message.size for _, message in prepared)
        if total > MAX_BATCH_BYTES:
            raise queues.BatchRequestTooLong(
                f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent "
                f"{total} bytes."
            )
        sent = self.store.send(name, [message for _, message in prepared], current_access_key.get())
        successful = []
        for (entry_id, _), result in zip(prepared, sent, strict=True):
            item: Response = {
                "Id": entry_id,
                "MessageId": result.message_id,
                "MD5OfMessageBody": result.md5_body,
            }
            if result.md5_attributes:
                item["MD5OfMessageAttributes"] = result.md5_attributes
            if result.md5_system_attributes:
                item["MD5OfMessageSystemAttributes"] = result.md5_system_attributes
            successful.append(item)
        return {"Successful": successful, "Failed": failed}

    # Receiving ----------------------------------------------------------------------------
    async def receive_message(self, request: Request) -> Response:
        name = self._queue(request)
        max_messages = _checked_range(
            "MaxNumberOfMessages",
            request.get("MaxNumberOfMessages"),
            1,
            10,
            "Must be between 1 and 10, if provided.",
        )
        visibility = _checked_range(
            "VisibilityTimeout",
            request.get("VisibilityTimeout"),
            0,
            queues.MAX_VISIBILITY_TIMEOUT,
            f"Must be >= 0 and <= {queues.MAX_VISIBILITY_TIMEOUT}, if provided.",
        )
        wait = _checked_range(
            "WaitTimeSeconds",
            request.get("WaitTimeSeconds"),
            0,
            queues.MAX_WAIT_SECONDS,
            f"Must be >= 0 and <= {queues.MAX_WAIT_SECONDS}, if provided.",
        )
        if wait is None:
            wait = self.store.queue(name).setting("ReceiveMessageWaitTimeSeconds")
        received = await self.store.receive_wait(name, max_messages or 1, visibility, wait)
        if not received:
            return {}
        system_names = [
            *(request.get("AttributeNames") or []),
            *(request.get("MessageSystemAttributeNames") or []),
        ]
        attribute_names = request.get("MessageAttributeNames") or []
        return {
            "Messages": [_rendered(message, system_names, attribute_names) for message in received]
        }

    def delete_message(self, request: Request) -> Response:
        self.store.delete_message(self._queue(request), request["ReceiptHandle"])
        return {}

    def delete_message_batch(self, request: Request) -> Response:
        name = self._queue(request)
        entries = request.get("Entries") or []
        check_batch_ids(entries, "DeleteMessageBatch")
        successful, failed = [], []
        for entry in entries:
            try:
                self.store.delete_message(name, entry.get("ReceiptHandle") or "")
                successful.append({"Id": entry["Id"]})
            except SqsError as error:
                failed.append(_failure(entry["Id"], error))
        return {"Successful": successful, "Failed": failed}

    def change_message_visibility(self, request: Request) -> Response:
        self.store.change_visibility(
            self._queue(request), request["ReceiptHandle"], request["VisibilityTimeout"]
        )
        return {}

    def change_message_visibility_batch(self, request: Request) -> Response:
        name = self._queue(request)
        entries = request.get("Entries") or []
        check_batch_ids(entries, "ChangeMessageVisibilityBatch")
        successful, failed = [], []
        for entry in entries:
            try:
                timeout = entry.get("VisibilityTimeout")
                if timeout is None:
                    raise MissingParameter(
                        "The request must contain the parameter VisibilityTimeout."
                    )
                self.store.change_visibility(name, entry.get("ReceiptHandle") or "", timeout)
                successful.append({"Id": entry["Id"]})
            except SqsError as error:
                failed.append(_failure(entry["Id"], error))
        return {"Successful": successful, "Failed": failed}


def _failure(entry_id: str, error: SqsError) -> Response:
    return {
        "Id": entry_id,
        "SenderFault": error.sender_fault,
        "Code": error.query_code,
        "Message": error.message,
    }


def _rendered(
    message: ReceivedMessage, system_names: list[str], attribute_names: list[str]
) -> Response:
    item: Response = {
        "MessageId": message.message_id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.md5_body,
        "Body": message.body,
    }
    if system_names:
        everything = "All" in system_names
        system = {
            key: value for key, value in message.system.items() if everything or key in system_names
        }
        if system:
            item["Attributes"] = system
    attributes = _wanted_message_attributes(message.attributes, attribute_names)
    if attributes:
        item["MD5OfMessageAttributes"] = queues.md5_of_attributes(attributes)
        item["MessageAttributes"] = attributes
    return item
