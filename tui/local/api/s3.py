"""S3's REST wire protocol over the object store (`tui.local.engine.objects`).

Addressing: path-style (`/<bucket>/<key>`) and virtual-host style when the Host header is
`<bucket>.localhost[:port]`. Keys are taken from the raw (still percent-encoded) path and
decoded once, so slashes, spaces, `+`, `%` and unicode survive. Query parameters are
form-decoded (`+` is a space), as S3 does.

Served: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
Put/GetBucketVersioning, PutObject, GetObject, HeadObject, CopyObject, DeleteObject,
DeleteObjects, ListObjects, ListObjectsV2, ListObjectVersions and multipart uploads
(`tui.local.api.s3_multipart`). Any other operation is a 501 NotImplemented naming it (from
botocore's S3 model); a method S3 has no operation for is a 405 MethodNotAllowed. Every error is
S3's XML `<Error>` (no body on HEAD, as S3); an internal fault is a 500 InternalError with the
traceback only in the endpoint's log.

Decisions [I]:
- Signatures are not verified (every credential is accepted); ACL, storage class and
  server-side-encryption headers are accepted and have no effect; `x-amz-tagging` and object
  lock headers are refused (NotImplemented), since nothing would honour them.
- `x-amz-version-id` is sent for objects in buckets whose versioning was ever configured
  ("null" included), and not otherwise, as S3 does.
- Continuation tokens are opaque base64 of the last key (or common prefix) returned.
- A flexible checksum sent with a PutObject is stored and returned by GetObject/HeadObject
  when the client sends `x-amz-checksum-mode: ENABLED` (not for ranged reads).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, unquote
from xml.etree.ElementTree import Element

from aiohttp import web

from tui.local.api import s3_xml as xml
from tui.local.api.s3_body import read_rules, receive, receive_small
from tui.local.api.s3_multipart import MultipartApi
from tui.local.api.s3_request import (
    NotModified,
    S3Call,
    check_read_conditions,
    check_write_conditions,
    decode_token,
    encode_token,
    parse_max_keys,
    refuse_unsupported_headers,
    stored_http_headers,
    url_encoding_requested,
    user_metadata,
)
from tui.local.engine.objects import (
    DEFAULT_CONTENT_TYPE,
    ObjectStore,
    S3Error,
    StoredObject,
    http_date,
    invalid_argument,
    no_such_key,
    validate_key,
    validate_version_id,
)
from tui.model.errors import AwsError

log = logging.getLogger(__name__)

_VIRTUAL_HOST = re.compile(r"(?P<bucket>.+)\.localhost(?::\d+)?", re.IGNORECASE)
_MAX_DELETE_OBJECTS = 1000
_SEND_SIZE = 256 * 1024

# Query parameters that are arguments, not sub-resources naming an operation.
_ARGUMENTS = frozenset(
    {
        "versionId",
        "list-type",
        "prefix",
        "delimiter",
        "max-keys",
        "continuation-token",
        "start-after",
        "fetch-owner",
        "encoding-type",
        "marker",
        "key-marker",
        "version-id-marker",
        "max-uploads",
        "upload-id-marker",
        "part-number-marker",
        "max-parts",
        "partNumber",
        "uploadId",
        "max-buckets",
        "bucket-region",
        "x-id",
        "response-content-type",
        "response-content-language",
        "response-expires",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        # Presigned URLs: signatures are not verified.
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "X-Amz-Checksum-Mode",
        "AWSAccessKeyId",
        "Signature",
        "Expires",
    }
)
_RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def _uri_error() -> S3Error:
    return S3Error("Couldn't parse the specified URI.", code="InvalidURI", status=400)


def _address(request: web.Request) -> tuple[str | None, str | None, dict[str, str]]:
    raw_path, _, raw_query = request.raw_path.partition("?")
    try:
        path = unquote(raw_path, errors="strict")
        pairs = parse_qsl(raw_query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise _uri_error() from None
    query: dict[str, str] = {}
    for name, value in pairs:
        query.setdefault(name, value)
    path = path.removeprefix("/")
    virtual = _VIRTUAL_HOST.fullmatch(request.headers.get("Host", ""))
    if virtual is not None:
        bucket: str | None = virtual.group("bucket")
        key = path
    else:
        bucket, _, key = path.partition("/")
        bucket = bucket or None
    return bucket, key or None, query


@functools.cache
def _operation_names() -> dict[tuple[str, str, str], str]:
    """(method, scope, sub-resource) -> S3 operation name, from botocore's model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("s3")
    names: dict[tuple[str, str, str], str] = {}
    for name in model.operation_names:
        operation = model.operation_model(name)
        uri = operation.http["requestUri"]
        path, _, query = uri.partition("?")
        if "{Bucket}" not in path and path != "/":
            continue  # WriteGetObjectResponse: a different host, not this endpoint's routes
        scope = "object" if "{Key+}" in path else "bucket" if "{Bucket}" in path else "service"
        subs = [part for part in query.split("&") if part and "=" not in part]
        key = (operation.http["method"], scope, subs[0] if subs else "")
        if key not in names or not operation.deprecated:
            names[key] = name
    return names


def _not_implemented(call: S3Call, sub: str) -> S3Error:
    method = call.request.method
    operation = _operation_names().get((method, call.scope, sub))
    what = operation or f"{method} {call.scope}" + (f" ?{sub}" if sub else "")
    return S3Error(
        f"{what} is not implemented by the local endpoint.",
        code="NotImplemented",
        status=501,
        fields={"Operation": what} | ({"SubResource": sub} if sub else {}),
    )


def _method_not_allowed(call: S3Call) -> S3Error:
    return S3Error(
        "The specified method is not allowed against this resource.",
        code="MethodNotAllowed",
        status=405,
        fields={"Method": call.request.method, "ResourceType": call.scope.upper()},
    )


def _iso(epoch: float) -> str:
    return xml.iso8601(epoch)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) for a single `bytes=` range; None to send the whole object (no range, or
    one S3 ignores: malformed or several). InvalidRange (416) when it can not be satisfied."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first_text, last_text = match.groups()
    if first_text:
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
        if last_text and last < first:
            return None
    else:
        suffix = int(last_text)
        first, last = max(0, size - suffix), size - 1
        if suffix == 0:
            first = size
    if first >= size:
        raise S3Error(
            "The requested range is not satisfiable",
            code="InvalidRange",
            status=416,
            fields={"RangeRequested": header.strip(), "ActualObjectSize": str(size)},
        )
    return first, min(last, size - 1)


Handler = Callable[[S3Call], Awaitable[web.StreamResponse]]


class S3Api:
    """The S3 REST API of one endpoint, over its object store."""

    def __init__(
        self, objects: ObjectStore, *, region: str = "us-east-1", account: str = "000000000000"
    ) -> None:
        self.objects = objects
        self.region = region
        self.owner_id = hashlib.sha256(f"pipetop-local-{account}".encode()).hexdigest()
        self.owner_name = "local"
        self.multipart = MultipartApi(self)
        self._routes: dict[tuple[str, str, str], Handler] = {
            ("GET", "service", ""): self.list_buckets,
            ("PUT", "bucket", ""): self.create_bucket,
            ("HEAD", "bucket", ""): self.head_bucket,
            ("DELETE", "bucket", ""): self.delete_bucket,
            ("GET", "bucket", "location"): self.get_bucket_location,
            ("PUT", "bucket", "versioning"): self.put_bucket_versioning,
            ("GET", "bucket", "versioning"): self.get_bucket_versioning,
            ("GET", "bucket", ""): self.list_objects,
            ("GET", "bucket", "versions"): self.list_object_versions,
            ("POST", "bucket", "delete"): self.delete_objects,
            ("GET", "bucket", "uploads"): self.multipart.list_multipart_uploads,
            ("PUT", "object", ""): self.put_object,
            ("GET", "object", ""): self.get_object,
            ("HEAD", "object", ""): self.get_object,
            ("DELETE", "object", ""): self.delete_object,
            ("POST", "object", "uploads"): self.multipart.create_multipart_upload,
            ("POST", "object", ""): self.multipart.complete_multipart_upload,
        }

    # ---- the funnel ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        request_id = secrets.token_hex(8).upper()
        host_id = base64.b64encode(secrets.token_bytes(48)).decode()
        call = S3Call(request, None, None, {}, request_id, host_id)
        try:
            call.bucket, call.key, call.query = _address(request)
            return await self._route(call)(call)
        except NotModified:
            return web.Response(status=304, headers=call.headers)
        except S3Error as error:
            return self.error_response(call, error)
        except AwsError as error:
            return self.error_response(
                call, S3Error(error.message, code=error.code, status=error.status)
            )
        except Exception:
            log.exception("unhandled error in S3 %s %s", request.method, request.raw_path)
            internal = S3Error(
                "We encountered an internal error. Please try again.",
                code="InternalError",
                status=500,
            )
            return self.error_response(call, internal)

    def error_response(self, call: S3Call, error: S3Error) -> web.Response:
        headers = call.headers | error.headers
        if call.request.method == "HEAD":
            return web.Response(status=error.status, headers=headers)
        headers["Content-Type"] = "application/xml"
        if error.status == 405 and "Allow" not in headers:
            headers["Allow"] = ", ".join(self._allowed_methods(call))
        body = xml.error_body(error, call.request_id, call.host_id)
        return web.Response(status=error.status, body=body, headers=headers)

    def _allowed_methods(self, call: S3Call) -> list[str]:
        return sorted({method for method, scope, _ in self._routes if scope == call.scope})

    def _route(self, call: S3Call) -> Handler:
        method = call.request.method
        subs = sorted(name for name in call.query if name not in _ARGUMENTS)
        if len(subs) > 1:
            raise _not_implemented(call, "&".join(subs))
        sub = subs[0] if subs else ""
        if call.scope == "object" and method == "PUT" and not sub:
            if "uploadId" in call.query or "partNumber" in call.query:
                return self.multipart.upload_part
            if "x-amz-copy-source" in call.request.headers:
                return self.copy_object
        if call.scope == "object" and not sub and "uploadId" in call.query:
            if method == "GET":
                return self.multipart.list_parts
            if method == "DELETE":
                return self.multipart.abort_multipart_upload
        handler = self._routes.get((method, call.scope, sub))
        if handler is not None:
            return handler
        if method not in ("GET", "PUT", "POST", "DELETE", "HEAD") or (
            not sub and (method, call.scope, "") not in _operation_names()
        ):
            raise _method_not_allowed(call)
        raise _not_implemented(call, sub)

    # ---- helpers shared with the multipart module ----------------------------------------

    def xml_response(
        self, call: S3Call, root: Element, headers: dict[str, str] | None = None
    ) -> web.Response:
        all_headers = call.headers | {"Content-Type": "application/xml"} | (headers or {})
        return web.Response(body=xml.render(root), headers=all_headers)

    def version_headers(self, bucket: str, version_id: str) -> dict[str, str]:
        if self.objects.get_bucket(bucket).versioning is None:
            return {}
        return {"x-amz-version-id": version_id}

    def add_owner(self, parent: Element) -> None:
        owner = xml.add(parent, "Owner", None)
        xml.add(owner, "ID", self.owner_id)
        xml.add(owner, "DisplayName", self.owner_name)

    def require_bucket(self, call: S3Call) -> str:
        assert call.bucket is not None
        self.objects.get_bucket(call.bucket)
        return call.bucket

    def object_key(self, call: S3Call) -> str:
        assert call.key is not None
        validate_key(call.key)
        return call.key

    # ---- buckets -------------------------------------------------------------------------

    async def list_buckets(self, call: S3Call) -> web.StreamResponse:
        prefix = call.arg("prefix")
        limit = parse_max_keys(call, "max-buckets", 10000)
        after = (
            decode_token(call.arg("continuation-token"))
            if "continuation-token" in call.query
            else ""
        )
        region_filter = call.query.get("bucket-region")
        buckets = [
            bucket
            for bucket in self.objects.list_buckets()
            if bucket.name.startswith(prefix)
            and bucket.name > after
            and (region_filter is None or (bucket.location or self.region) == region_filter)
        ]
        root = xml.document("ListAllMyBucketsResult")
        self.add_owner(root)
        listed = xml.add(root, "Buckets", None)
        for bucket in buckets[:limit]:
            entry = xml.add(listed, "Bucket", None)
            xml.add(entry, "Name", bucket.name)
            xml.add(entry, "CreationDate", _iso(bucket.created))
            xml.add(entry, "BucketRegion", bucket.location or self.region)
        if len(buckets) > limit:
            xml.add(root, "ContinuationToken", encode_token(buckets[limit - 1].name))
        if "prefix" in call.query:
            xml.add(root, "Prefix", prefix)
        return self.xml_response(call, root)

    async def create_bucket(self, call: S3Call) -> web.StreamResponse:
        assert call.bucket is not None
        _refuse_bucket_features(call.request)
        body, _ = await receive_small(call.request, xml.MAX_XML_BODY)
        location = ""
        if body.strip():
            config = xml.parse(body, "CreateBucketConfiguration")
            location = xml.child_text(config, "LocationConstraint") or ""
        self.objects.create_bucket(call.bucket, location=location)
        return web.Response(headers=call.headers | {"Location": f"/{call.bucket}"})

    async def head_bucket(self, call: S3Call) -> web.StreamResponse:
        assert call.bucket is not None
        bucket = self.objects.get_bucket(call.bucket)
        region = bucket.location or self.region
        return web.Response(headers=call.headers | {"x-amz-bucket-region": region})

    async def delete_bucket(self, call: S3Call) -> web.StreamResponse:
        assert call.bucket is not None
        self.objects.delete_bucket(call.bucket)
        return web.Response(status=204, headers=call.headers)

    async def get_bucket_location(self, call: S3Call) -> web.StreamResponse:
        assert call.bucket is not None
        bucket = self.objects.get_bucket(call.bucket)
        root = xml.document("LocationConstraint")
        root.text = bucket.location
        return self.xml_response(call, root)

    async def put_bucket_versioning(self, call: S3Call) -> web.StreamResponse:
        bucket = self.require_bucket(call)
        body, _ = await receive_small(call.request, xml.MAX_XML_BODY)
        config = xml.parse(body, "VersioningConfiguration")
        status = xml.child_text(config, "Status")
        if status is None:
            raise S3Error(
                "The Versioning element must be specified",
                code="IllegalVersioningConfigurationException",
                status=400,
            )
        if status not in ("Enabled", "Suspended"):
            raise xml.malformed_xml()
        if xml.child_text(config, "MfaDelete") == "Enabled":
            raise S3Error(
                "MFA delete is not supported by the local endpoint.",
                code="NotImplemented",
                status=501,
                fields={"Header": "MfaDelete"},
            )
        self.objects.set_versioning(bucket, status == "Enabled")
        return web.Response(headers=call.headers)

    async def get_bucket_versioning(self, call: S3Call) -> web.StreamResponse:
        assert call.bucket is not None
        bucket = self.objects.get_bucket(call.bucket)
        root = xml.document("VersioningConfiguration")
        if bucket.versioning is not None:
            xml.add(root, "Status", bucket.versioning)
        return self.xml_response(call, root)

    # ---- listing -------------------------------------------------------------------------

    def _add_object_entry(
        self, parent: Element, tag: str, obj: StoredObject, encode: bool, owner: bool
    ) -> None:
        entry = xml.add(parent, tag, None)
        xml.add(entry, "Key", xml.url_encode(obj.key) if encode else obj.key)
        if tag != "Contents":
            xml.add(entry, "VersionId", obj.version_id)
            xml.add(entry, "IsLatest", obj.is_latest)
        xml.add(entry, "LastModified", _iso(obj.last_modified))
        if obj.is_delete_marker:
            self.add_owner(entry)
            return
        xml.add(entry, "ETag", obj.etag)
        if obj.checksum is not None:
            xml.add(entry, "ChecksumAlgorithm", obj.checksum.algorithm)
            xml.add(entry, "ChecksumType", obj.checksum.type)
        xml.add(entry, "Size", obj.size)
        xml.add(entry, "StorageClass", "STANDARD")
        if owner:
            self.add_owner(entry)

    async def list_objects(self, call: S3Call) -> web.StreamResponse:
        bucket = self.require_bucket(call)
        v2 = "list-type" in call.query
        if v2 and call.arg("list-type") != "2":
            raise invalid_argument(
                "Invalid List Type specified in Request", "list-type", call.arg("list-type")
            )
        encode = url_encoding_requested(call)
        max_keys = parse_max_keys(call)
        prefix, delimiter = call.arg("prefix"), call.arg("delimiter")
        enc = xml.url_encode if encode else str
        if v2:
            token = call.query.get("continuation-token")
            after = decode_token(token) if token is not None else call.arg("start-after")
        else:
            after = call.arg("marker")
        page = self.objects.list_objects(
            bucket, prefix=prefix, delimiter=delimiter, start_after=after, max_keys=max_keys
        )
        root = xml.document("ListBucketResult")
        xml.add(root, "Name", bucket)
        xml.add(root, "Prefix", enc(prefix))
        if v2:
            if token is not None:
                xml.add(root, "ContinuationToken", token)
            if "start-after" in call.query:
                xml.add(root, "StartAfter", enc(call.arg("start-after")))
            if page.is_truncated and page.next_marker is not None:
                xml.add(root, "NextContinuationToken", encode_token(page.next_marker))
            xml.add(root, "KeyCount", len(page.objects) + len(page.common_prefixes))
        else:
            xml.add(root, "Marker", enc(after))
            if page.is_truncated and delimiter and page.next_marker is not None:
                xml.add(root, "NextMarker", enc(page.next_marker))
        xml.add(root, "MaxKeys", max_keys)
        if delimiter:
            xml.add(root, "Delimiter", enc(delimiter))
        if encode:
            xml.add(root, "EncodingType", "url")
        xml.add(root, "IsTruncated", page.is_truncated)
        owner = not v2 or call.arg("fetch-owner") == "true"
        for obj in page.objects:
            self._add_object_entry(root, "Contents", obj, encode, owner)
        for common in page.common_prefixes:
            xml.add(xml.add(root, "CommonPrefixes", None), "Prefix", enc(common))
        return self.xml_response(call, root)

    async def list_object_versions(self, call: S3Call) -> web.StreamResponse:
        bucket = self.require_bucket(call)
        encode = url_encoding_requested(call)
        enc = xml.url_encode if encode else str
        max_keys = parse_max_keys(call)
        prefix, delimiter = call.arg("prefix"), call.arg("delimiter")
        key_marker, version_marker = call.arg("key-marker"), call.arg("version-id-marker")
        page = self.objects.list_object_versions(
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_id_marker=version_marker,
            max_keys=max_keys,
        )
        root = xml.document("ListVersionsResult")
        xml.add(root, "Name", bucket)
        xml.add(root, "Prefix", enc(prefix))
        xml.add(root, "KeyMarker", enc(key_marker))
        xml.add(root, "VersionIdMarker", version_marker)
        if page.is_truncated:
            if page.next_key_marker is not None:
                xml.add(root, "NextKeyMarker", enc(page.next_key_marker))
            if page.next_version_id_marker is not None:
                xml.add(root, "NextVersionIdMarker", page.next_version_id_marker)
        xml.add(root, "MaxKeys", max_keys)
        if delimiter:
            xml.add(root, "Delimiter", enc(delimiter))
        if encode:
            xml.add(root, "EncodingType", "url")
        xml.add(root, "IsTruncated", page.is_truncated)
        for obj in page.versions:
            tag = "DeleteMarker" if obj.is_delete_marker else "Version"
            self._add_object_entry(root, tag, obj, encode, owner=True)
        for common in page.common_prefixes:
            xml.add(xml.add(root, "CommonPrefixes", None), "Prefix", enc(common))
        return self.xml_response(call, root)

    # ---- objects -------------------------------------------------------------------------

    async def put_object(self, call: S3Call) -> web.StreamResponse:
        bucket = self.require_bucket(call)
        key = self.object_key(call)
        request = call.request
        refuse_unsupported_headers(request)
        metadata = user_metadata(request)
        http_headers = stored_http_headers(request)
        rules = read_rules(request)
        with self.objects.begin_write(rules.digest_algorithms) as writer:
            received = await receive(request, rules, writer.write, writer)
            check_write_conditions(self.objects, request, bucket, key)
            obj = self.objects.commit(
                writer,
                bucket,
                key,
                content_type=request.headers.get("Content-Type", DEFAULT_CONTENT_TYPE),
                metadata=metadata,
                http_headers=http_headers,
                checksum=received.checksum,
            )
        headers = call.headers | {"ETag": obj.etag} | self.version_headers(bucket, obj.version_id)
        headers |= self.checksum_headers(obj)
        return web.Response(headers=headers)

    def checksum_headers(self, obj: StoredObject) -> dict[str, str]:
        if obj.checksum is None:
            return {}
        return {
            f"x-amz-checksum-{obj.checksum.algorithm.lower()}": obj.checksum.value,
            "x-amz-checksum-type": obj.checksum.type,
        }

    def _object_headers(self, call: S3Call, obj: StoredObject) -> dict[str, str]:
        headers = call.headers | {
            "Content-Type": obj.content_type,
            "ETag": obj.etag,
            "Last-Modified": http_date(obj.last_modified),
            "Accept-Ranges": "bytes",
        }
        headers |= self.version_headers(obj.bucket, obj.version_id)
        headers |= obj.http_headers
        for name, value in obj.metadata.items():
            headers[f"x-amz-meta-{name}"] = value
        if obj.parts_count is not None:
            headers["x-amz-mp-parts-count"] = str(obj.parts_count)
        return headers

    async def get_object(self, call: S3Call) -> web.StreamResponse:
        """GetObject and HeadObject (the same headers; HEAD sends no body)."""
        bucket = self.require_bucket(call)
        key = self.object_key(call)
        request = call.request
        if "partNumber" in call.query:
            raise _not_implemented(call, "partNumber")
        version_id = call.query.get("versionId")
        obj = self.objects.head_object(bucket, key, version_id)
        check_read_conditions(dict(request.headers), obj)
        headers = self._object_headers(call, obj)
        for parameter, header in _RESPONSE_OVERRIDES.items():
            if parameter in call.query:
                headers[header] = call.query[parameter]
        span = _byte_range(request.headers.get("Range"), obj.size)
        status = 200
        first, last = 0, obj.size - 1
        if span is not None:
            status = 206
            first, last = span
            headers["Content-Range"] = f"bytes {first}-{last}/{obj.size}"
        elif request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers |= self.checksum_headers(obj)
        length = last - first + 1
        handle = self.objects.open_object(obj)
        try:
            response = web.StreamResponse(status=status, headers=headers)
            response.content_length = length
            await response.prepare(request)
            if request.method == "HEAD":
                return response
            handle.seek(first)
            remaining = length
            try:
                while remaining > 0:
                    data = handle.read(min(_SEND_SIZE, remaining))
                    if not data:
                        break
                    remaining -= len(data)
                    await response.write(data)
                await response.write_eof()
            except ConnectionResetError:
                # The client went away mid-body (a cancelled download): nothing to answer.
                log.debug("client left during GET %s/%s", bucket, key)
            return response
        finally:
            handle.close()

    async def delete_object(self, call: S3Call) -> web.StreamResponse:
        bucket = self.require_bucket(call)
        key = self.object_key(call)
        result = self.objects.delete_object(bucket, key, call.query.get("versionId"))
        headers = call.headers
        if result.version_id is not None:
            headers["x-amz-version-id"] = result.version_id
        if result.delete_marker:
            headers["x-amz-delete-marker"] = "true"
        return web.Response(status=204, headers=headers)

    async def delete_objects(self, call: S3Call) -> web.StreamResponse:
        bucket = self.require_bucket(call)
        body, rules = await receive_small(call.request, xml.MAX_XML_BODY)
        if rules.content_md5 is None and rules.algorithm is None:
            raise S3Error(
                "Missing required header for this request: Content-MD5",
                code="InvalidRequest",
                status=400,
            )
        document = xml.parse(body, "Delete")
        quiet = (xml.child_text(document, "Quiet") or "").lower() == "true"
        entries = xml.children(document, "Object")
        if not entries or len(entries) > _MAX_DELETE_OBJECTS:
            raise xml.malformed_xml()
        root = xml.document("DeleteResult")
        for entry in entries:
            key = xml.child_text(entry, "Key")
            if key is None:
                raise xml.malformed_xml()
            version_id = xml.child_text(entry, "VersionId")
            try:
                validate_key(key)
                if version_id is not None:
                    validate_version_id(version_id)
                result = self.objects.delete_object(bucket, key, version_id)
            except S3Error as error:
                failed = xml.add(root, "Error", None)
                xml.add(failed, "Key", key)
                if version_id is not None:
                    xml.add(failed, "VersionId", version_id)
                xml.add(failed, "Code", error.code)
                xml.add(failed, "Message", error.message)
                continue
            if quiet:
                continue
            deleted = xml.add(root, "Deleted", None)
            xml.add(deleted, "Key", key)
            if version_id is not None:
                xml.add(deleted, "VersionId", version_id)
            if result.delete_marker:
                xml.add(deleted, "DeleteMarker", True)
                if result.version_id is not None:
                    xml.add(deleted, "DeleteMarkerVersionId", result.version_id)
        return self.xml_response(call, root)

    def copy_source(self, call: S3Call, header: str = "x-amz-copy-source") -> StoredObject:
        """The object an `x-amz-copy-source` header names: `[/]bucket/key[?versionId=...]`."""
        raw = call.request.headers[header]
        path, _, query = raw.partition("?")
        try:
            source = unquote(path, errors="strict").removeprefix("/")
        except UnicodeDecodeError:
            raise invalid_argument("Invalid copy source encoding", header, raw) from None
        source_bucket, _, source_key = source.partition("/")
        if not source_bucket or not source_key:
            raise invalid_argument(
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                header,
                raw,
            )
        version_id: str | None = None
        if query:
            params = dict(parse_qsl(query, keep_blank_values=True))
            if set(params) != {"versionId"}:
                raise invalid_argument("Invalid copy source", header, raw)
            version_id = params["versionId"]
        obj = self.objects.get_version(source_bucket, source_key, version_id)
        if obj.is_delete_marker:
            if version_id is not None:
                raise S3Error(
                    "The source of a copy request may not specifically refer to a delete marker by version id.",
                    code="InvalidRequest",
                    status=400,
                )
            raise no_such_key(source_key)
        check_read_conditions(dict(call.request.headers), obj, prefix="x-amz-copy-source-")
        return obj

    async def copy_object(self, call: S3Call) -> web.StreamResponse:
        bucket = self.require_bucket(call)
        key = self.object_key(call)
        request = call.request
        refuse_unsupported_headers(request)
        source = self.copy_source(call)
        directive = request.headers.get("x-amz-metadata-directive", "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise invalid_argument(
                "Unknown metadata directive.", "x-amz-metadata-directive", directive
            )
        if directive == "COPY" and (source.bucket, source.key) == (bucket, key):
            raise S3Error(
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes.",
                code="InvalidRequest",
                status=400,
            )
        if directive == "REPLACE":
            obj = self.objects.copy_object(
                source,
                bucket,
                key,
                content_type=request.headers.get("Content-Type", DEFAULT_CONTENT_TYPE),
                metadata=user_metadata(request),
                http_headers=stored_http_headers(request),
            )
        else:
            obj = self.objects.copy_object(source, bucket, key)
        root = xml.document("CopyObjectResult")
        xml.add(root, "ETag", obj.etag)
        xml.add(root, "LastModified", _iso(obj.last_modified))
        if obj.checksum is not None:
            xml.add(root, "ChecksumType", obj.checksum.type)
            xml.add(root, f"Checksum{obj.checksum.algorithm}", obj.checksum.value)
        headers = self.version_headers(bucket, obj.version_id)
        if self.objects.get_bucket(source.bucket).versioning is not None:
            headers["x-amz-copy-source-version-id"] = source.version_id
        return self.xml_response(call, root, headers)


def _refuse_bucket_features(request: web.Request) -> None:
    if request.headers.get("x-amz-bucket-object-lock-enabled", "").lower() == "true":
        raise S3Error(
            "Object lock is not implemented by the local endpoint.",
            code="NotImplemented",
            status=501,
            fields={"Header": "x-amz-bucket-object-lock-enabled"},
        )
