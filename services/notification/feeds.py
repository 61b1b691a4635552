"""The public bulletins as an Atom 1.0 feed (RFC 4287), built with the standard library's ElementTree.

Small and fixed in shape, so a dependency (feedgen pulls in lxml) would buy nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from services.common.xmlsafe import xml_text

from .catalog import BULLETIN_KINDS

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"


def _text(parent: ET.Element, tag: str, value: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
    element.text = xml_text(value)
    return element


def atom_feed(items: Sequence, *, self_url: str, title: str, author: str) -> bytes:
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed", {"xml:lang": "zh-CN"})
    _text(feed, "id", "urn:zuofeng:notification:bulletins")
    _text(feed, "title", title)
    updated = max((b.published_at for b in items), default=datetime(2026, 1, 1, tzinfo=UTC))
    _text(feed, "updated", updated.isoformat())
    ET.SubElement(feed, f"{{{ATOM_NS}}}link", {"rel": "self", "href": self_url, "type": ATOM_MEDIA_TYPE})
    author_el = ET.SubElement(feed, f"{{{ATOM_NS}}}author")
    _text(author_el, "name", author)
    for bulletin in items:
        entry = ET.SubElement(feed, f"{{{ATOM_NS}}}entry")
        _text(entry, "id", f"urn:uuid:{bulletin.id}")
        _text(entry, "title", bulletin.title)
        _text(entry, "published", bulletin.published_at.isoformat())
        _text(entry, "updated", bulletin.published_at.isoformat())
        ET.SubElement(entry, f"{{{ATOM_NS}}}category",
                      {"term": xml_text(bulletin.kind),
                       "label": xml_text(BULLETIN_KINDS.get(bulletin.kind, bulletin.kind))})
        _text(entry, "content", bulletin.body, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
