"""OPML subscription lists (what every feed reader imports and exports) read and written.

Reading is guarded as feeds are: a size cap, an outline cap, and no entity declarations at
all (expat reads the file; a DOCTYPE that declares an entity is refused before anything is
expanded, with the same watch bot/feeds.py uses). The feed URLs are not checked here: the
bulk follow checks them as `/feed add` does. Pure and synchronous; knows nothing of Discord.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from email.utils import formatdate
from pyexpat import ExpatError, ParserCreate

from .errors import UserError
from .feeds import EntityWatch
from .limits import MAX_OPML_BYTES, MAX_OPML_OUTLINES, MAX_TITLE, clip
from .models import Outline

# characters XML 1.0 cannot carry, even escaped (a blog title may hold them)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class OpmlError(UserError):
    """The file is not an OPML list Gazette will read; the message says why."""


class _TooMany(Exception):
    pass


def read_opml(
    data: bytes, *, max_bytes: int = MAX_OPML_BYTES, max_outlines: int = MAX_OPML_OUTLINES
) -> list[Outline]:
    """The feeds of an OPML file, in file order, each with its category (the text of the
    outline it is nested in, if any). Raises OpmlError for a file it will not read."""
    if len(data) > max_bytes:
        raise OpmlError(f"the file is over {max_bytes // 1024:,} KB")
    if EntityWatch().feed(data, final=True):
        raise OpmlError("the file declares XML entities, which Gazette refuses")
    reader = _Reader(max_outlines)
    parser = ParserCreate()
    parser.buffer_text = True
    parser.EntityDeclHandler = parser.UnparsedEntityDeclHandler = _refuse_entities
    parser.ExternalEntityRefHandler = lambda *_: 1  # never fetched
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    try:
        parser.Parse(data, True)
    except _TooMany:
        raise OpmlError(f"the file has more than {max_outlines:,} outlines") from None
    except ExpatError as exc:
        raise OpmlError(f"not an OPML file: XML error at line {exc.lineno} ({exc})") from None
    if not reader.is_opml:
        raise OpmlError("not an OPML file (its root element is not <opml>)")
    if not reader.outlines:
        raise OpmlError("the file lists no feeds (no outline with an xmlUrl)")
    return reader.outlines


def _refuse_entities(*_) -> None:
    raise ExpatError("entity declarations are refused")


class _Reader:
    def __init__(self, max_outlines: int) -> None:
        self.max_outlines = max_outlines
        self.count = 0
        self.depth = 0
        self.is_opml = False
        self.outlines: list[Outline] = []
        # the open outlines: their text when they are categories (no xmlUrl), else None
        self.stack: list[str | None] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth == 1:
            self.is_opml = name == "opml"
        if name != "outline":
            return
        self.count += 1
        if self.count > self.max_outlines:
            raise _TooMany
        attrs = {k.lower(): v.strip() for k, v in attrs.items()}
        text = clip(attrs.get("text") or attrs.get("title") or "", MAX_TITLE)
        url = attrs.get("xmlurl")
        if url:
            category = next((c for c in reversed(self.stack) if c), None)
            self.outlines.append(Outline(url, text, category, attrs.get("htmlurl") or None))
        self.stack.append(None if url else text)

    def end(self, name: str) -> None:
        self.depth -= 1
        if name == "outline":
            self.stack.pop()


def write_opml(outlines: list[Outline], title: str = "Gazette subscriptions") -> bytes:
    """An OPML 2.0 list of the feeds, grouped in category outlines (those without a
    category at the top level), as UTF-8 bytes."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _xml_text(title)
    ET.SubElement(head, "dateCreated").text = formatdate(time.time(), usegmt=True)
    body = ET.SubElement(root, "body")
    groups: dict[str | None, ET.Element] = {}
    for outline in outlines:
        parent = body
        if outline.category:
            parent = groups.get(outline.category)
            if parent is None:
                name = _xml_text(outline.category)
                parent = groups[outline.category] = ET.SubElement(
                    body, "outline", text=name, title=name
                )
        attrs = {"type": "rss", "text": _xml_text(outline.title or outline.url)}
        attrs["title"] = attrs["text"]
        attrs["xmlUrl"] = _xml_text(outline.url)
        if outline.site_url:
            attrs["htmlUrl"] = _xml_text(outline.site_url)
        ET.SubElement(parent, "outline", attrs)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _xml_text(text: str) -> str:
    """Text XML can carry (ElementTree escapes markup, not characters XML forbids)."""
    return _NOT_XML.sub("", text.encode("utf-8", "replace").decode("utf-8"))
