"""S3's XML: documents in the 2006-03-01 namespace, error bodies, timestamps, request bodies.

Timestamps in XML are ISO 8601 UTC with milliseconds (`2026-01-01T00:00:00.000Z`), as S3
writes them. Empty elements are written open-and-close (`<Prefix></Prefix>`), as S3 does.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from urllib.parse import quote

from tui.local.engine.objects import S3Error

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_XML_BODY = 2 * 1024 * 1024


def iso8601(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def document(tag: str) -> ET.Element:
    """The root element of a response document, in S3's namespace."""
    return ET.Element(tag, xmlns=NAMESPACE)


def add(parent: ET.Element, tag: str, text: str | int | bool | None = "") -> ET.Element:
    element = ET.SubElement(parent, tag)
    if isinstance(text, bool):
        element.text = "true" if text else "false"
    elif text is not None:
        element.text = str(text)
    return element


def render(root: ET.Element) -> bytes:
    return _DECLARATION + ET.tostring(root, encoding="unicode", short_empty_elements=False).encode()


def error_body(error: S3Error, request_id: str, host_id: str) -> bytes:
    root = ET.Element("Error")
    add(root, "Code", error.code)
    add(root, "Message", error.message)
    for name, value in error.fields.items():
        add(root, name, value)
    add(root, "RequestId", request_id)
    add(root, "HostId", host_id)
    return render(root)


def url_encode(value: str) -> str:
    """`encoding-type=url`: what botocore's list decoders undo (`unquote_plus`)."""
    return quote(value, safe="/")


def malformed_xml() -> S3Error:
    return S3Error(
        "The XML you provided was not well-formed or did not validate against our published schema",
        code="MalformedXML",
        status=400,
    )


def local_name(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def parse(body: bytes, root_tag: str) -> ET.Element:
    """A request document whose root is `root_tag` (namespace optional); MalformedXML else."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise malformed_xml() from None
    if local_name(root) != root_tag:
        raise malformed_xml()
    return root


def children(element: ET.Element, tag: str) -> list[ET.Element]:
    return [child for child in element if local_name(child) == tag]


def child_text(element: ET.Element, tag: str) -> str | None:
    found = children(element, tag)
    if not found:
        return None
    return found[0].text or ""
