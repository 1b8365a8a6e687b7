"""S3's multipart upload operations on the wire (state in `tui.local.engine.multipart`).

CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
AbortMultipartUpload, ListParts, ListMultipartUploads. A checksum header on
CompleteMultipartUpload describes the whole object (FULL_OBJECT uploads), not the XML body.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from aiohttp import web

from tui.local.api import s3_xml as xml
from tui.local.api.s3_body import CHECKSUM_HEADER_PREFIX, read_rules, receive, receive_small
from tui.local.api.s3_request import (
    S3Call,
    check_write_conditions,
    parse_max_keys,
    refuse_unsupported_headers,
    stored_http_headers,
    url_encoding_requested,
    user_metadata,
)
from tui.local.engine.checksums import ALGORITHMS
from tui.local.engine.multipart import CompletedPart, Upload, validate_part_number
from tui.local.engine.objects import DEFAULT_CONTENT_TYPE, Checksum, S3Error, invalid_argument

if TYPE_CHECKING:
    from tui.local.api.s3 import S3Api

_COPY_CHUNK = 1024 * 1024


def _checksum_element(algorithm: str) -> str:
    return f"Checksum{algorithm}"


class MultipartApi:
    def __init__(self, api: S3Api) -> None:
        self.api = api
        self.objects = api.objects
        self.uploads = api.objects.multipart

    def _upload(self, call: S3Call) -> Upload:
        bucket = self.api.require_bucket(call)
        key = self.api.object_key(call)
        return self.uploads.get(bucket, key, call.arg("uploadId"))

    async def create_multipart_upload(self, call: S3Call) -> web.StreamResponse:
        bucket = self.api.require_bucket(call)
        key = self.api.object_key(call)
        request = call.request
        refuse_unsupported_headers(request)
        algorithm = request.headers.get("x-amz-checksum-algorithm")
        if algorithm is not None:
            algorithm = algorithm.upper()
            if algorithm not in ALGORITHMS:
                raise invalid_argument(
                    "Checksum algorithm provided is unsupported.",
                    "x-amz-checksum-algorithm",
                    algorithm,
                )
        checksum_type = request.headers.get("x-amz-checksum-type")
        if checksum_type is not None:
            checksum_type = checksum_type.upper()
            if checksum_type not in ("COMPOSITE", "FULL_OBJECT"):
                raise invalid_argument(
                    "Value for x-amz-checksum-type header is invalid.",
                    "x-amz-checksum-type",
                    checksum_type,
                )
        upload = self.uploads.create(
            bucket,
            key,
            content_type=request.headers.get("Content-Type", DEFAULT_CONTENT_TYPE),
            metadata=user_metadata(request),
            http_headers=stored_http_headers(request),
            checksum_algorithm=algorithm,
            checksum_type=checksum_type,
        )
        root = xml.document("InitiateMultipartUploadResult")
        xml.add(root, "Bucket", bucket)
        xml.add(root, "Key", key)
        xml.add(root, "UploadId", upload.upload_id)
        headers: dict[str, str] = {}
        if upload.checksum_algorithm is not None and upload.checksum_type is not None:
            headers["x-amz-checksum-algorithm"] = upload.checksum_algorithm
            headers["x-amz-checksum-type"] = upload.checksum_type
        return self.api.xml_response(call, root, headers)

    def _check_part_arguments(self, call: S3Call) -> int:
        if "uploadId" not in call.query or "partNumber" not in call.query:
            missing = "uploadId" if "uploadId" not in call.query else "partNumber"
            raise S3Error(
                f"A part upload must name both partNumber and uploadId; {missing} is missing.",
                code="InvalidRequest",
                status=400,
            )
        return validate_part_number(call.arg("partNumber"))

    async def upload_part(self, call: S3Call) -> web.StreamResponse:
        part_number = self._check_part_arguments(call)
        if "x-amz-copy-source" in call.request.headers:
            return await self.upload_part_copy(call, part_number)
        upload = self._upload(call)
        rules = read_rules(call.request)
        wanted = upload.checksum_algorithm
        if wanted is not None and rules.algorithm is not None and rules.algorithm != wanted:
            raise S3Error(
                f"Checksum Type mismatch occurred, expected checksum Type: {wanted.lower()}, "
                f"actual checksum Type: {rules.algorithm.lower()}",
                code="InvalidRequest",
                status=400,
            )
        algorithms = rules.digest_algorithms + ([wanted] if wanted else [])
        with self.objects.begin_write(dict.fromkeys(algorithms)) as writer:
            await receive(call.request, rules, writer.write, writer)
            value = writer.checksum(wanted) if wanted else None
            part = self.uploads.put_part(upload, part_number, writer, value)
        headers = call.headers | {"ETag": part.etag}
        if wanted is not None and value is not None:
            headers[f"{CHECKSUM_HEADER_PREFIX}{wanted.lower()}"] = value
        return web.Response(headers=headers)

    async def upload_part_copy(self, call: S3Call, part_number: int) -> web.StreamResponse:
        upload = self._upload(call)
        source = self.api.copy_source(call)
        first, last = 0, source.size - 1
        requested = call.request.headers.get("x-amz-copy-source-range")
        if requested is not None:
            match = re.fullmatch(r"bytes=(\d+)-(\d+)", requested.strip())
            if (
                match is None
                or int(match.group(1)) > int(match.group(2))
                or int(match.group(2)) >= source.size
            ):
                raise invalid_argument(
                    f"Range specified is not valid for source object of size: {source.size}",
                    "x-amz-copy-source-range",
                    requested,
                )
            first, last = int(match.group(1)), int(match.group(2))
        wanted = upload.checksum_algorithm
        with (
            self.objects.begin_write([wanted] if wanted else []) as writer,
            self.objects.open_object(source) as handle,
        ):
            handle.seek(first)
            remaining = last - first + 1
            while remaining > 0:
                data = handle.read(min(_COPY_CHUNK, remaining))
                if not data:
                    break
                remaining -= len(data)
                writer.write(data)
            value = writer.checksum(wanted) if wanted else None
            part = self.uploads.put_part(upload, part_number, writer, value)
        root = xml.document("CopyPartResult")
        xml.add(root, "ETag", part.etag)
        xml.add(root, "LastModified", xml.iso8601(part.last_modified))
        if wanted is not None and value is not None:
            xml.add(root, _checksum_element(wanted), value)
        headers: dict[str, str] = {}
        if self.objects.get_bucket(source.bucket).versioning is not None:
            headers["x-amz-copy-source-version-id"] = source.version_id
        return self.api.xml_response(call, root, headers)

    async def complete_multipart_upload(self, call: S3Call) -> web.StreamResponse:
        if "uploadId" not in call.query:
            raise S3Error(
                "POST on an object needs ?uploads or ?uploadId.",
                code="InvalidRequest",
                status=400,
            )
        upload = self._upload(call)
        body, _ = await receive_small(call.request, xml.MAX_XML_BODY, body_checksums=False)
        document = xml.parse(body, "CompleteMultipartUpload")
        element = _checksum_element(upload.checksum_algorithm or "")
        requested: list[CompletedPart] = []
        for entry in xml.children(document, "Part"):
            number_text = xml.child_text(entry, "PartNumber")
            etag = xml.child_text(entry, "ETag")
            if number_text is None or etag is None:
                raise xml.malformed_xml()
            number = validate_part_number(number_text)
            value = xml.child_text(entry, element) if upload.checksum_algorithm else None
            requested.append(CompletedPart(number, etag, value))
        full_object = self._full_object_checksum(call)
        check_write_conditions(self.objects, call.request, upload.bucket, upload.key)
        obj = self.uploads.complete(upload, requested, full_object_checksum=full_object)
        root = xml.document("CompleteMultipartUploadResult")
        host = call.request.headers.get("Host", "localhost")
        xml.add(root, "Location", f"http://{host}/{upload.bucket}/{upload.key}")
        xml.add(root, "Bucket", upload.bucket)
        xml.add(root, "Key", upload.key)
        xml.add(root, "ETag", obj.etag)
        if obj.checksum is not None:
            xml.add(root, _checksum_element(obj.checksum.algorithm), obj.checksum.value)
            xml.add(root, "ChecksumType", obj.checksum.type)
        headers = self.api.version_headers(obj.bucket, obj.version_id)
        return self.api.xml_response(call, root, headers)

    def _full_object_checksum(self, call: S3Call) -> Checksum | None:
        for name, value in call.request.headers.items():
            lower = name.lower()
            if lower.startswith(CHECKSUM_HEADER_PREFIX) and lower not in (
                "x-amz-checksum-type",
                "x-amz-checksum-algorithm",
            ):
                algorithm = lower.removeprefix(CHECKSUM_HEADER_PREFIX).upper()
                if algorithm not in ALGORITHMS:
                    raise S3Error(
                        f"Value for {lower} header is invalid.", code="InvalidRequest", status=400
                    )
                if "-" in value:
                    return None  # a composite value the client computed: checked part by part
                return Checksum(algorithm, value, "FULL_OBJECT")
        return None

    async def abort_multipart_upload(self, call: S3Call) -> web.StreamResponse:
        self.uploads.abort(self._upload(call))
        return web.Response(status=204, headers=call.headers)

    async def list_parts(self, call: S3Call) -> web.StreamResponse:
        upload = self._upload(call)
        max_parts = parse_max_keys(call, "max-parts", 1000)
        marker_text = call.arg("part-number-marker", "0") or "0"
        try:
            marker = int(marker_text)
        except ValueError:
            raise invalid_argument(
                "Provided part-number-marker not an integer or within integer range",
                "part-number-marker",
                marker_text,
            ) from None
        page = self.uploads.list_parts(upload, part_number_marker=marker, max_parts=max_parts)
        root = xml.document("ListPartsResult")
        xml.add(root, "Bucket", upload.bucket)
        xml.add(root, "Key", upload.key)
        xml.add(root, "UploadId", upload.upload_id)
        xml.add(root, "PartNumberMarker", marker)
        if page.next_part_number_marker is not None:
            xml.add(root, "NextPartNumberMarker", page.next_part_number_marker)
        xml.add(root, "MaxParts", max_parts)
        xml.add(root, "IsTruncated", page.is_truncated)
        for part in page.parts:
            entry = xml.add(root, "Part", None)
            xml.add(entry, "PartNumber", part.part_number)
            xml.add(entry, "LastModified", xml.iso8601(part.last_modified))
            xml.add(entry, "ETag", part.etag)
            xml.add(entry, "Size", part.size)
            if upload.checksum_algorithm is not None and part.checksum_value is not None:
                xml.add(entry, _checksum_element(upload.checksum_algorithm), part.checksum_value)
        self._add_people(root)
        xml.add(root, "StorageClass", "STANDARD")
        if upload.checksum_algorithm is not None and upload.checksum_type is not None:
            xml.add(root, "ChecksumAlgorithm", upload.checksum_algorithm)
            xml.add(root, "ChecksumType", upload.checksum_type)
        return self.api.xml_response(call, root)

    def _add_people(self, parent: Element) -> None:
        initiator = xml.add(parent, "Initiator", None)
        xml.add(initiator, "ID", self.api.owner_id)
        xml.add(initiator, "DisplayName", self.api.owner_name)
        self.api.add_owner(parent)

    async def list_multipart_uploads(self, call: S3Call) -> web.StreamResponse:
        bucket = self.api.require_bucket(call)
        encode = url_encoding_requested(call)
        enc = xml.url_encode if encode else str
        max_uploads = parse_max_keys(call, "max-uploads", 1000)
        prefix, delimiter = call.arg("prefix"), call.arg("delimiter")
        key_marker, upload_id_marker = call.arg("key-marker"), call.arg("upload-id-marker")
        page = self.uploads.list_uploads(
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )
        root = xml.document("ListMultipartUploadsResult")
        xml.add(root, "Bucket", bucket)
        xml.add(root, "KeyMarker", enc(key_marker))
        xml.add(root, "UploadIdMarker", upload_id_marker)
        if page.is_truncated:
            xml.add(root, "NextKeyMarker", enc(page.next_key_marker or ""))
            xml.add(root, "NextUploadIdMarker", page.next_upload_id_marker or "")
        xml.add(root, "Prefix", enc(prefix))
        if delimiter:
            xml.add(root, "Delimiter", enc(delimiter))
        xml.add(root, "MaxUploads", max_uploads)
        xml.add(root, "IsTruncated", page.is_truncated)
        for upload in page.uploads:
            entry = xml.add(root, "Upload", None)
            xml.add(entry, "Key", enc(upload.key))
            xml.add(entry, "UploadId", upload.upload_id)
            self._add_people(entry)
            xml.add(entry, "StorageClass", "STANDARD")
            xml.add(entry, "Initiated", xml.iso8601(upload.initiated))
            if upload.checksum_algorithm is not None and upload.checksum_type is not None:
                xml.add(entry, "ChecksumAlgorithm", upload.checksum_algorithm)
                xml.add(entry, "ChecksumType", upload.checksum_type)
        for common in page.common_prefixes:
            xml.add(xml.add(root, "CommonPrefixes", None), "Prefix", enc(common))
        if encode:
            xml.add(root, "EncodingType", "url")
        return self.api.xml_response(call, root)
