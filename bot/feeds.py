"""Feed bytes -> Entry objects (pure and synchronous: callers run it in a thread).

feedparser does the real parsing, with sanitising and URI resolution off (we never render the
HTML as HTML; links and images are resolved here).  It costs about 1 ms per entry, so
when the caller already knows some entries (``known_keys``), a cheap expat pre-scan computes
every item's key the same way the full parse would; feedparser then sees only the channel's
title and links plus the new items, or nothing at all when every item is known.  Whenever the
pre-scan cannot be sure (broken XML, unusual encodings, no guid and no link, xml:base games),
the full parse runs.

Most feeds (well-formed UTF-8 RSS 2.0 and Atom 1.0) are read by feedparser-rs instead, about
a hundred times faster, read into the same fields with feedparser's quirks replayed; a feed
it might read differently (see _rs_full) goes to feedparser. bench/compare_parsers.py shows
the two agree, field by field, on the sample feeds.

Everything here reads bytes a stranger chose: feedparser is only ever handed a byte stream
(`parse_document`, never a value it might open as a path or URL), feedparser-rs only bytes
(given a str that looks like a URL, it fetches it), entity declarations are
refused before any parser can expand them, and every field is cut to its cap (bot.limits).
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import html
import io
import logging
import re
import time
import xml.sax
import zlib
from collections.abc import Collection, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit
from xml.parsers import expat

import feedparser
import feedparser_rs
from feedparser.datetimes import _parse_date
from feedparser.mixin import _cp1252, _FeedParserMixin
from feedparser.urls import _urljoin

from bot.limits import (
    MAX_FEED_ELEMENTS,
    MAX_FEED_TAG,
    MAX_LENIENT_TAGS,
    MAX_TITLE,
    capped_key,
    capped_url,
    clamp_entry,
    clip,
)
from bot.models import Entry, ParsedFeed
from bot.text import one_line, squash_spaces, without_invisibles

# feedparser's strict parser: expat through bot.sax, which keeps hostile documents linear
# (the default list also asks for libxml2's driver first, on every parse: not installed, and
# a failed import is not cached, so every parse searched sys.path again)
feedparser.api.PREFERRED_XML_PARSERS = ["bot.sax"]

log = logging.getLogger(__name__)

__all__ = [
    "ENTITIES_REFUSED",
    "EntityWatch",
    "FeedParseError",
    "FeedRefused",
    "entry_key",
    "parse_document",
    "parse_feed",
]

_WP_ID = re.compile(r"[?&]p=(\d{1,19})(?![\w])")
# [^<>] and not [^>]: each <img is then scanned only up to the next tag, so a body of
# "<img <img <img ..." costs linear time, not quadratic
_IMG = re.compile(r"<img\b[^<>]*?\bsrc\s*=\s*(?:\"([^\"<>]+)\"|'([^'<>]+)'|([^\s<>'\"]+))", re.I)
_IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|svg)(?:$|[?#])", re.I)
_LINK_AMP = re.compile(r"&([A-Za-z0-9_]+);")
_LATIN1_HIGH = re.compile("[\x80-\xff]")
_BOM = b"\xef\xbb\xbf"
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_RAW_TITLE = 8 * MAX_TITLE  # a title's markup read at most: its text is cut to MAX_TITLE anyway
ENTITIES_REFUSED = "the feed declares XML entities, which Gazette refuses"
TOO_MANY_ELEMENTS = f"the feed has more than {MAX_FEED_ELEMENTS:,} XML elements"
TAG_TOO_LONG = f"the feed has an XML tag longer than {MAX_FEED_TAG // 1024} KB"
NOT_FEED_HTML = "this is an HTML page, not a feed"


class FeedParseError(Exception):
    """The body is not a feed we can read; the message says why."""


class FeedRefused(FeedParseError):
    """A feed Gazette will not read (XML entities, or a shape that would cost too much to
    parse): unlike other parse errors, worth telling as it is to whoever added it."""


# --------------------------------------------------------------------------- safe XML


class _RootReached(Exception):
    """The prolog is over: no declaration can come any more."""


class EntityWatch:
    """Watches the prolog of an XML document, as expat reads it, for entity declarations.

    Entities are the one way a few bytes of XML become megabytes (nested "billion laughs"
    definitions) or a read of another file (external entities); no real feed needs them, so
    any declaration is refused. Declarations only live in the DOCTYPE, before the root
    element, so the watch stops there; a harmless external DOCTYPE (RSS 0.91) passes. expat
    itself does the reading, so a declaration hidden in another encoding (UTF-16, a BOM) or
    off the start of a line is seen exactly as the real parser would see it.
    """

    def __init__(self) -> None:
        self.declared = False
        self.done = False
        parser = expat.ParserCreate()
        # as xml.sax's expat reader does (feedparser's strict parser): declarations after a
        # reference to an unread external entity are then skipped by both, never expanded
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_UNLESS_STANDALONE)
        parser.ExternalEntityRefHandler = lambda *_: 1  # noted, never fetched
        parser.EntityDeclHandler = self._declared
        parser.UnparsedEntityDeclHandler = self._declared
        parser.StartElementHandler = self._root
        self._parser = parser

    def _declared(self, *_) -> None:
        self.declared = True
        raise _RootReached  # nothing more to learn

    def _root(self, *_) -> None:
        raise _RootReached

    def feed(self, data: bytes, final: bool = False) -> bool:
        """Read the next bytes of the document; True once an entity declaration was seen."""
        if not self.done:
            try:
                self._parser.Parse(data, final)
            except _RootReached:
                self.done = True
            except (expat.ExpatError, ValueError, LookupError):
                # not XML expat can read: the strict parser stops at the same place, and the
                # loose one (feedparser's fallback) is never given a declared entity
                self.done = True
            if self.done or final:
                self.done = True
                # the parser and this watch refer to each other: let both go now, not
                # when the garbage collector runs
                self._parser = None
        return self.declared


def _declares_entities(data: bytes) -> bool:
    return EntityWatch().feed(data, final=True)


def _refuse_entities(*_) -> None:
    raise FeedRefused(ENTITIES_REFUSED)


def _refuse_costly(data: bytes) -> None:
    """FeedRefused if the document declares entities or has more than MAX_FEED_ELEMENTS
    elements: feedparser spends tens of microseconds on an element, so 5 MB of "<a/>" would
    hold the parsing thread for a minute. One expat pass that builds no attributes costs
    a fraction of a microsecond an element.
    """
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_UNLESS_STANDALONE)
    parser.ExternalEntityRefHandler = lambda *_: 1
    parser.EntityDeclHandler = parser.UnparsedEntityDeclHandler = _refuse_entities
    parser.buffer_text = True
    parser.CharacterDataHandler = _ignore  # text in one call a run, not through markup()
    elements = 0

    def markup(text: str) -> None:
        # with no start-element handler, expat hands each start tag over as it is written
        nonlocal elements
        if text[:1] == "<" and text[1:2] not in ("!", "?", "/"):
            elements += 1
            if elements > MAX_FEED_ELEMENTS:
                raise FeedRefused(TOO_MANY_ELEMENTS)

    parser.DefaultHandler = markup
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, ValueError, LookupError) as exc:
        # broken XML: feedparser's lenient parser then reads it all, at up to half a
        # millisecond a tag on hostile shapes (5 MB of them: hours)
        if data.count(b"<") > MAX_LENIENT_TAGS:
            if _looks_like_html(data):
                raise FeedParseError(NOT_FEED_HTML) from None
            raise FeedRefused(
                f"the feed is not well-formed XML ({exc}) and too big to read leniently"
            ) from None


def _ignore(_) -> None:
    pass


# A start tag of more than MAX_FEED_TAG bytes: expat itself slows down past linear time on
# its attributes (5 MB of them: seconds), so such tags are looked for before expat runs.
# Only a "<" followed by that many bytes without another "<" can start one; the tag is then
# matched possessively (no backtracking), so the search is linear.
_LONG_TAG = re.compile(
    rb"<(?=[^<]{%d})[^\s<>/!?][^\s<>/]*+" % MAX_FEED_TAG
    + rb"""(?:\s++[^\s<>=/]++\s*+=\s*+(?:"[^"<]*+"|'[^'<]*+'))*+"""
)


def _refuse_long_tags(data: bytes) -> None:
    # a long tag outside CDATA is also one in the whole document (a piece ends where "<"
    # follows, which no tag crosses): one C pass clears a usual feed, for which going piece by
    # piece took 3 times as long (a CDATA section in every item)
    if _LONG_TAG.search(data) is None:
        return
    for part in _outside_cdata(data):
        for m in _LONG_TAG.finditer(part):
            if m.end() - m.start() > MAX_FEED_TAG:
                raise FeedRefused(TAG_TOO_LONG)


def _outside_cdata(data: bytes):
    """The document without its CDATA sections, piece by piece: HTML in CDATA is text to
    expat (a post with an inline base64 image has a long <img> there, and is fine)."""
    start = 0
    while (opening := data.find(b"<![CDATA[", start)) != -1:
        yield data[start:opening]
        closing = data.find(b"]]>", opening + 9)
        if closing == -1:
            return  # unterminated: expat refuses the document anyway
        start = closing + 3
    yield data[start:]


_replace_doctype = feedparser.api.replace_doctype


def _refusing_replace_doctype(data: bytes):
    """feedparser's DOCTYPE step, on the UTF-8 bytes both its parsers read, refusing what
    would make them expand entities or run long.

    feedparser strips only declarations that start a line, and hands the "safe" ones to
    both parsers; this refuses a document that declares any, and gives the loose parser none.
    Long tags are refused first (before expat reads one), then element floods.
    """
    _refuse_long_tags(data)
    if _declares_entities(data):
        raise FeedRefused(ENTITIES_REFUSED)
    version, data, _entities = _replace_doctype(data)
    _refuse_costly(data)  # what the strict parser will read
    return version, data, {}


feedparser.api.replace_doctype = _refusing_replace_doctype


def parse_document(data: bytes) -> feedparser.FeedParserDict:
    """feedparser on a body of bytes: the one way Gazette calls feedparser.

    A stream, never bytes or str: given those, feedparser first tries to open them as a local
    path or a URL, so a body like b"/etc/passwd" would read that file. Raises FeedRefused
    when the document declares XML entities or would cost too much (see _refusing_replace_doctype).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"parse_document takes bytes, not {type(data).__name__}")
    return feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)


def comment_feed_url(
    link: str | None, site: str | None = None, post_id: int | None = None
) -> str | None:
    """Where WordPress serves a post's comment feed (what its feeds call wfw:commentRss).

    A pretty permalink gets ``feed/`` appended; a plain one (``?p=ID``) is asked for
    ``feed=rss2&p=ID``: at the site's home when the caller knows it and the post's id (WXR),
    else at the permalink's own address (REST).
    """
    if link and "?" not in link:
        return link.rstrip("/") + "/feed/"
    if site and post_id:
        return f"{site.rstrip('/')}/?feed=rss2&p={post_id}"
    if link and (m := _WP_ID.search(link)):
        parts = urlsplit(link)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, f"feed=rss2&p={m.group(1)}", ""))
    return None


def entry_key(guid: str | None, link: str | None, title: str | None, date: str | None) -> str:
    """An entry's identity within its feed: guid, else link, else a hash of title and date.

    Dates and content are ignored while a guid or link exists, so edits never change the key.
    A key longer than MAX_ENTRY_KEY becomes its hash (both parse paths come through here).
    """
    guid = (guid or "").strip()
    if guid:
        return capped_key(guid)
    link = (link or "").strip()
    if link:
        return capped_key(link)
    raw = f"{squash_spaces(title)}\n{(date or '').strip()}"
    return "sha1:" + hashlib.sha1(raw.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- full parse


def _date(e, kind: str) -> float | None:
    raw = (dict.get(e, kind) or "").strip()
    if (
        raw.isascii() and raw.isdigit() and 9 <= len(raw) <= 10
    ):  # a bare unix time (seen in dc:date)
        return float(raw)
    parsed = dict.get(e, kind + "_parsed")
    try:
        return float(calendar.timegm(parsed)) if parsed else None
    except (TypeError, ValueError, OverflowError):
        return None


def _field_text(value: str, detail) -> str:
    """A plain-text field from feedparser; html-typed ones (Atom) lose their markup."""
    value = value[:_RAW_TITLE]
    if detail and detail.get("type") in _HTML_TYPES:
        return clip(one_line(value), MAX_TITLE)
    return clip(squash_spaces(without_invisibles(value)), MAX_TITLE)


def _image(e, content_html: str, summary_html: str) -> str | None:
    for m in dict.get(e, "media_content") or ():
        url = (m.get("url") or "").strip()
        kind = m.get("medium") or (m.get("type") or "").split("/")[0]
        if not url or "gravatar.com/avatar" in url:  # wordpress.com adds the author's avatar
            continue
        if kind == "image" or (not kind and _IMAGE_EXT.search(url)):
            return url
    for m in dict.get(e, "media_thumbnail") or ():
        if (m.get("url") or "").strip():
            return m["url"].strip()
    for link in dict.get(e, "links") or ():
        is_image = link.get("rel") == "enclosure" and (link.get("type") or "").startswith("image/")
        if is_image and link.get("href"):
            return link["href"].strip()
    m = _IMG.search(content_html) or _IMG.search(summary_html)
    if m:
        return html.unescape(next(g for g in m.groups() if g)).strip()
    return None


def _to_entry(e, base: str, feed_author: str | None = None) -> Entry | None:
    get = e.get
    raw_link = (dict.get(e, "link") or "").strip()
    link = urljoin(base, raw_link) if raw_link else None
    date_str = dict.get(e, "published") or dict.get(e, "updated") or ""
    key = entry_key(get("id"), raw_link, get("title"), date_str)
    content = dict.get(e, "content") or []
    content_html = content[0].get("value", "") if content else ""
    summary_html = get("summary", "") or ""
    cats: list[str] = []
    for t in get("tags") or ():
        term = squash_spaces(t.get("term") or t.get("label"))
        if term and term not in cats:
            cats.append(term)
    title = _field_text(get("title") or "", get("title_detail"))
    if not (title or link or summary_html.strip() or content_html.strip()):
        return None  # nothing to show (e.g. an item cut short by broken XML)
    image = _image(e, content_html, summary_html)
    if image:
        # relative URLs in content are relative to its xml:base, else to the site, never to
        # the entry link (link blogs point elsewhere)
        detail = content[0] if content else get("summary_detail") or {}
        image = urljoin(detail.get("base") or base, image)
    wp_id = None
    for s in (get("id"), raw_link):
        if s and (m := _WP_ID.search(s)):
            wp_id = int(m.group(1))
            break
    author_detail = get("author_detail") or {}
    comments = (dict.get(e, "wfw_commentrss") or "").strip()
    return clamp_entry(
        Entry(
            key=key,
            title=title,
            link=link,
            author=squash_spaces(author_detail.get("name") or get("author")) or feed_author,
            published_at=_date(e, "published"),
            updated_at=_date(e, "updated"),
            categories=cats,
            summary_html=summary_html,
            content_html=content_html,
            image_url=image,
            comments_feed=urljoin(base, comments) if comments else None,
            wp_id=wp_id,
        )
    )


def _looks_like_html(data: bytes) -> bool:
    head = data[:1024].lower()
    return b"<html" in head or b"<!doctype html" in head


def _not_a_feed(d, data: bytes) -> FeedParseError:
    if _looks_like_html(data):
        return FeedParseError(NOT_FEED_HTML)
    reason = d.get("bozo_exception")
    return FeedParseError(
        f"not a feed (no RSS/Atom elements found{f': {reason}' if reason else ''})"
    )


def _prepare(body: bytes) -> bytes:
    """Drop the leading whitespace that broken themes put before ``<?xml``; keep a BOM."""
    bom = _BOM if body.startswith(_BOM) else b""
    rest = body[len(bom) :].lstrip()
    if not rest:
        raise FeedParseError("empty body")
    if not rest.startswith(b"<"):
        # maybe UTF-16 or garbage: let feedparser judge the untouched bytes
        return body
    return bom + rest


def _feed_base(url: str, site: str | None) -> tuple[str, str | None]:
    """(base for relative links, absolute site URL): the site's address, else the feed's."""
    site_url = capped_url(urljoin(url, site.strip())) if site and site.strip() else None
    return site_url or url, site_url


def _full(
    data: bytes, url: str, known: Collection[str], watched: Watched | None = None
) -> ParsedFeed:
    d = parse_document(data)
    base, site_url = _feed_base(url, d.feed.get("link"))
    feed_author = None
    if d.get("version", "").startswith("atom"):  # Atom entries inherit the feed's author
        feed_author = squash_spaces((d.feed.get("author_detail") or {}).get("name")) or None
    parsed = [en for e in d.entries if (en := _to_entry(e, base, feed_author)) is not None]
    if not d.get("version") and not parsed:
        raise _not_a_feed(d, data)
    if not parsed and isinstance(d.get("bozo_exception"), xml.sax.SAXException):
        # broken XML that yielded nothing must fail loudly, not look like an empty feed
        raise FeedParseError(f"malformed XML: {d['bozo_exception']}")
    entries = [en for en in parsed if en.key not in known]
    title = _field_text(d.feed.get("title") or "", d.feed.get("title_detail"))
    hub = topic = None
    for link in d.feed.get("links") or ():
        rel, href = (link.get("rel") or "").lower(), link.get("href")
        if rel == "hub" and hub is None:
            hub = href
        elif rel == "self" and topic is None:
            topic = href
    result = ParsedFeed(title=title, site_url=site_url, entries=entries)
    if watched is not None:  # every entry was read anyway: the watched ones are compared
        result.changed = [en for en in parsed if en.key in known and en.key in watched]
        result.keys = {en.key for en in parsed}
    return _with_push(result, url, hub, topic)


def push_url(url: str, value: str | None) -> str | None:
    """A WebSub hub or topic link as the subscriber uses it: absolute http(s), capped."""
    if not value or not value.strip():
        return None
    absolute = capped_url(urljoin(url, value.strip()))
    if not absolute or urlsplit(absolute).scheme not in ("http", "https"):
        return None
    return absolute


def _with_push(parsed: ParsedFeed, url: str, hub: str | None, topic: str | None) -> ParsedFeed:
    """`parsed` with the WebSub hub it advertises and its topic (the feed's own URL when it
    names no rel="self"), resolved against `url`."""
    parsed.hub = push_url(url, hub)
    if parsed.hub is not None:
        parsed.topic = push_url(url, topic) or url
    return parsed


# --------------------------------------------------------------------------- fast path

# Namespaces feedparser treats as "the feed's own" (mapped to the empty prefix).
_FEED_NS = {uri.lower() for uri, prefix in _FeedParserMixin.namespaces.items() if prefix == ""}
_FEED_NS.add("")
_ATOM = "http://www.w3.org/2005/atom"
_IDENTITY = {"guid", "id", "link", "item", "entry", "source"}
_XML_BASE = "http://www.w3.org/XML/1998/namespace base"


class _Unsure(Exception):
    """The pre-scan cannot promise the same keys as feedparser."""


@dataclass(slots=True)
class _Child:
    """A child element of the channel (Atom: of the feed), with its byte range."""

    start: int
    kind: str  # "item"; "keep": title, links, author (feedparser needs them); "drop": the rest
    end: int = -1
    guid: str | None = None
    link: tuple[str, str] | None = None  # ("href" | "text", raw value): resolved only if needed
    key: str = ""


@dataclass(slots=True)
class _Scan:
    children: list[_Child] = field(default_factory=list)
    atom: bool = False
    title: str = ""  # raw, as feedparser reads it before typing it
    title_type: str = "text/plain"
    site: str | None = None
    hub: str | None = None  # the first <link rel="hub"> of the channel (WebSub)
    topic: str | None = None  # and its first rel="self"
    has_base: bool = False
    # an item field holding elements (not escaped HTML, not an Atom person or media group):
    # feedparser writes them back as markup, feedparser-rs drops them
    markup: bool = False

    def feed_title(self, utf8: bool = False) -> str:
        """The title exactly as the full parse would give it (utf8: of a UTF-8 document,
        where feedparser also re-decodes what looks like UTF-8 read as latin-1)."""
        kind = self.title_type
        if not self.atom and kind == "text/plain" and _FeedParserMixin.looks_like_html(self.title):
            kind = "text/html"
        title = _fp_str(self.title) if utf8 else self.title.translate(_cp1252)
        return _field_text(title, {"type": kind})

    @property
    def items(self) -> list[_Child]:
        return [c for c in self.children if c.kind == "item"]


def _link_target(attrs: dict) -> tuple[str, str] | None:
    """What a <link> means to feedparser: ("text", "") for a text link, ("href", url) for an
    alternate HTML link, None for other links (self, enclosure, replies...)."""
    # feedparser's _enforce_href, quirks included
    href = attrs.get("url", attrs.get("uri", attrs.get("href"))) or attrs.get("href")
    if href is None:
        return ("text", "")
    rel = attrs.get("rel", "alternate").lower()
    default = "application/atom+xml" if rel == "self" else "text/html"
    kind = _FeedParserMixin.map_content_type(attrs.get("type", default))
    return ("href", href) if rel == "alternate" and kind in _HTML_TYPES else None


def _ns_local(name: str) -> tuple[str, str]:
    ns, _, local = name.rpartition(" ")
    ns = ns.lower()
    if "backend.userland.com/rss" in ns:
        ns = ""
    return ns, local.lower()


# one state machine in closures: the handlers run once per element of every feed polled, and
# locals are the fastest state Python has (bench/bench_poll.py); splitting it costs that
def _scan(data: bytes) -> _Scan:  # noqa: C901
    """One expat pass: byte ranges of the channel's children, items' identities, title, link."""
    scan = _Scan()
    names: dict[str, tuple[str, str]] = {}
    depth = 0
    child_depth = 0  # depth of the channel's children: 3 in RSS, 2 in Atom
    child: _Child | None = None  # the open child of the channel
    item: _Child | None = None  # the same, when it is an item
    capture: str | None = None  # the text being collected, and at which depth
    capture_depth = 0
    field_name = ""  # the item's field being read (child of the item)
    pieces: list[str] = []
    elements = 0
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.EntityDeclHandler = parser.UnparsedEntityDeclHandler = _refuse_entities

    def start(name, attrs):  # noqa: C901
        nonlocal depth, child_depth, child, item, capture, capture_depth, elements, field_name
        depth += 1
        elements += 1
        if elements > MAX_FEED_ELEMENTS:  # as the full parse would refuse it
            raise FeedRefused(TOO_MANY_ELEMENTS)
        if _XML_BASE in attrs or "base" in attrs:
            scan.has_base = True
        if capture is not None:
            if capture != "title":
                raise _Unsure("markup inside an identity element")
            capture = None  # a title with markup: leave it to feedparser
            parser.CharacterDataHandler = None
            return
        if (ns_local := names.get(name)) is None:
            ns_local = names[name] = _ns_local(name)
        ns, local = ns_local
        if depth <= 2 and not child_depth:
            if depth == 1 and (ns, local) == ("", "rss"):
                return
            if depth == 2 and (ns, local) == ("", "channel"):
                child_depth = 3
                return
            if depth == 1 and (ns, local) == (_ATOM, "feed"):
                child_depth = 2
                scan.atom = True
                return
            raise _Unsure(f"not RSS 2.0 or Atom 1.0 ({local})")
        if depth == child_depth:
            feedish = ns in _FEED_NS
            if feedish and local in ("item", "entry"):
                if any(a.endswith(" about") for a in attrs):
                    raise _Unsure("rdf:about on an item")
                child = item = _Child(parser.CurrentByteIndex, "item")
            else:
                kind = "keep" if feedish and local in ("title", "link", "author") else "drop"
                child = _Child(parser.CurrentByteIndex, kind)
            scan.children.append(child)
        elif depth < child_depth:
            raise _Unsure(f"unexpected {local} outside the channel")
        if item is not None:
            if depth == child_depth + 1:
                field_name = local
            elif depth > child_depth + 1 and not (
                "search.yahoo.com/mrss" in ns
                or (scan.atom and field_name in ("author", "contributor"))
            ):
                scan.markup = True
        if ns not in _FEED_NS:
            return
        if local in ("item", "entry") and item is not child:
            raise _Unsure("nested or misplaced item")
        if item is not None:
            if depth != child_depth + 1:
                if depth > child_depth and local in _IDENTITY:
                    raise _Unsure(f"nested {local} in an item")
                return
            if local in ("guid", "id"):
                if item.guid is not None:
                    raise _Unsure("two ids in an item")
                permalink = attrs.get("isPermaLink", attrs.get("ispermalink", "true"))
                capture = "guid" if permalink == "true" else "guid-opaque"
            elif local == "link":
                target = _link_target(attrs)
                if target and target[0] == "text":
                    capture = "link"
                elif target:
                    item.link = target
            elif local == "source":
                raise _Unsure("source element in an item")
        elif depth == child_depth and local == "title" and not scan.title:
            capture = "title"  # the first non-empty title wins, as in feedparser
            scan.title_type = _FeedParserMixin.map_content_type(attrs.get("type", "text/plain"))
        elif depth == child_depth and local == "link":
            rel = (attrs.get("rel") or "").lower()
            if rel == "hub" and scan.hub is None:
                scan.hub = attrs.get("href")
            elif rel == "self" and scan.topic is None:
                scan.topic = attrs.get("href")
            target = _link_target(attrs)
            if target and target[0] == "text":
                capture = "site"
            elif target:
                scan.site = target[1]  # the last link wins, as in feedparser
        if capture is not None:
            capture_depth = depth
            pieces.clear()
            parser.CharacterDataHandler = pieces.append

    def end(name):
        nonlocal depth, child, item, capture
        if capture is not None and depth == capture_depth:
            text = "".join(pieces)
            if capture == "title":
                scan.title = text.strip()
            elif capture == "site":
                scan.site = text.strip()
            elif capture == "link":
                item.link = ("text", text.strip())
            else:  # an item's guid
                value = text.strip()
                if value and capture == "guid":
                    value = _fp_uri(value, scan)
                item.guid = _fp_text(value)
            capture = None
            parser.CharacterDataHandler = None
        if depth == child_depth and child is not None:
            idx = parser.CurrentByteIndex
            # an end tag starts at idx; an empty element <x/> has already ended there
            child.end = data.index(b">", idx) + 1 if data.startswith(b"</", idx) else idx
            child = item = None
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, ValueError, LookupError) as exc:  # multi-byte, unknown encodings
        raise _Unsure(f"expat: {exc}") from None
    finally:
        # the handlers and the parser refer to each other: without this, the cycle (and the
        # document the handlers see) would live until the garbage collector runs
        parser.StartElementHandler = parser.EndElementHandler = None
        parser.CharacterDataHandler = None
    for it in scan.items:
        link = ""
        if not it.guid and it.link:
            kind, raw = it.link
            if kind == "href":
                link = _fp_uri(raw, scan)
            elif raw:
                link = _fp_link(_fp_uri(raw, scan))
        if not (it.guid or link).strip():
            raise _Unsure("item without guid or link: its key needs the date")
        it.key = entry_key(it.guid, link, None, None)
    return scan


def _fp_uri(value: str, scan: _Scan) -> str:
    """What feedparser's resolve_uri makes of value, or _Unsure if it depends on xml:base."""
    out = _urljoin("", value)
    if scan.has_base and not (
        out == _urljoin("http://a.invalid/b/", value) == _urljoin("https://c.invalid/d/", value)
    ):
        raise _Unsure("relative identity under xml:base")
    return out


def _fp_text(value: str) -> str:
    # feedparser re-decodes latin-1-looking text as UTF-8 and maps cp1252 code points:
    # rather than mimic that, refuse such values.
    if _LATIN1_HIGH.search(value):
        raise _Unsure("non-ASCII latin-1 identity")
    return value.translate(_cp1252)


def _fp_link(value: str) -> str:
    return _LINK_AMP.sub(r"&\g<1>", _fp_text(value).replace("&amp;", "&"))


def _fast(
    data: bytes, url: str, known: Collection[str], watched: Watched | None = None
) -> ParsedFeed | None:
    """The known-entries path, or None when the full parse must decide."""
    if b"\x00" in data[:4]:
        return None  # UTF-16 or UTF-32: rare, and the checks below read bytes as ASCII
    _refuse_long_tags(data)
    try:
        scan = _scan(data)
    except _Unsure as exc:
        log.debug("pre-scan of %s unsure (%s): full parse", url, exc)
        return None
    items = scan.items
    if len({it.key for it in items}) != len(items):
        log.debug("pre-scan of %s: duplicate keys, full parse", url)
        return None
    hashes, reread = _watch(data, scan, known, watched)
    todo = [it for it in items if it.key not in known or it.key in reread]
    if not todo:
        _, site_url = _feed_base(url, scan.site)
        parsed = ParsedFeed(scan.feed_title(), site_url, [])
        return _with_push(_watched(parsed, scan, hashes, watched), url, scan.hub, scan.topic)
    if len(todo) == len(items):
        return None
    # feedparser reads only what matters: the channel's title and links, and the new items
    # (and the watched ones whose bytes changed)
    wanted = {it.key for it in todo}
    children = scan.children
    parts = [data[: children[0].start]]
    parts += [
        data[c.start : c.end]
        for c in children
        if c.kind == "keep" or (c.kind == "item" and c.key in wanted)
    ]
    parts.append(data[children[-1].end :])
    parsed = _full(b"".join(parts), url, ())
    if [en.key for en in parsed.entries] != [it.key for it in todo]:
        log.debug("pre-scan of %s disagrees with feedparser: full parse", url)
        return None
    if reread:
        parsed.changed = [en for en in parsed.entries if en.key in reread]
        parsed.entries = [en for en in parsed.entries if en.key not in reread]
    return _watched(parsed, scan, hashes, watched)


# --------------------------------------------------------------------------- watched items
#
# Posts already announced stay watched for edits for a while (bot/edits.py): the caller gives
# their keys with the hash of their item's bytes as last read. An item whose bytes are the
# same is skipped like any known one; the others are read, and returned in `changed`.

Watched = Mapping[str, str | None]  # entry key -> hash of its item's bytes as last read


def item_digest(data) -> str:
    """A fingerprint of an item's bytes, to tell whether they changed (not a defence: a
    blog that forged a collision would only hide its own edit); CRC-32 and the length, five
    times cheaper than blake2b on a 4 KB item, and it runs for every watched item."""
    return f"{zlib.crc32(data):08x}{len(data):x}"


def _watch(
    data: bytes, scan: _Scan, known: Collection[str], watched: Watched | None
) -> tuple[dict[str, str], set[str]]:
    """(each item's bytes hash, the known watched keys whose bytes changed); nothing
    without `watched`."""
    if watched is None:
        return {}, set()
    view = memoryview(data)
    # the watched items and the new ones (stored with theirs); not those left alone
    hashes = {
        it.key: item_digest(view[it.start : it.end])
        for it in scan.items
        if it.key in watched or it.key not in known
    }
    reread = {
        key
        for key, digest in hashes.items()
        if key in known and key in watched and watched[key] != digest
    }
    return hashes, reread


def _watched(
    parsed: ParsedFeed, scan: _Scan, hashes: dict[str, str], watched: Watched | None
) -> ParsedFeed:
    if watched is not None:
        parsed.keys = {it.key for it in scan.items}
        parsed.item_hashes = hashes
    return parsed


def parse_feed(
    body: bytes, url: str, known_keys: Collection[str] = (), watched: Watched | None = None
) -> ParsedFeed:
    """Parse an RSS/Atom body fetched from url; entries whose key is in known_keys are left out.

    With `watched` (known keys -> their item's bytes hash as last read, see above), the result
    also has every item's key, each item's bytes hash (where the pre-scan read them) and, in
    `changed`, the watched entries whose bytes changed (all of them when it cannot tell).

    Raises FeedParseError when the body is not a feed.  CPU-bound: run it in a thread.
    """
    if not body:
        raise FeedParseError("empty body")
    data = _prepare(body)
    known = known_keys if isinstance(known_keys, AbstractSet) else set(known_keys)
    rs = _rs_full(data, url, known, watched)
    if rs is not None:
        return rs
    if known:
        fast = _fast(data, url, known, watched)
        if fast is not None:
            return fast
    parsed = _full(data, url, known, watched)
    if watched is not None:  # the items' hashes, so that the next check compares fewer
        parsed.item_hashes = _scanned_hashes(data, url)
    return parsed


def _scanned_hashes(data: bytes, url: str) -> dict[str, str]:
    """Each item's bytes hash by the pre-scan, or none when it cannot be sure of the keys."""
    if b"\x00" in data[:4]:
        return {}
    try:
        scan = _scan(data)
    except _Unsure as exc:
        log.debug("pre-scan of %s unsure (%s): no item hashes", url, exc)
        return {}
    if len({it.key for it in scan.items}) != len(scan.items):
        return {}
    return _watch(data, scan, (), {})[0]


# --------------------------------------------------------------------------- feedparser-rs
#
# feedparser-rs (Rust) reads a feed ~100 times faster than feedparser. Where bench/
# compare_parsers.py found it exact it is used, with feedparser's own quirks replayed below;
# everything else, and anything the checks in _rs_full doubt, goes to feedparser.

_RS_VERSIONS = {"rss20": False, "atom10": True}  # the classes where it is exact (is Atom)
# feedparser-rs reads a document in one call that holds the GIL: 0.3 ms per 48 KB, 2.6 ms per
# 384 KB, 6.5 ms per 960 KB on a loaded core (/tmp measurements, issue 9); a larger one would
# eat too much of the event loop's 20 ms budget, so it goes to feedparser, which lets the loop
# run every millisecond (bot.startup's switch interval), about 3 times slower
RS_MAX_BYTES = 512 * 1024
# feedparser-rs silently drops what is over its limits (10,000 entries, 100 tags...); no
# document the pre-scan lets through has more elements than this, so nothing is dropped
_RS_LIMITS = feedparser_rs.ParserLimits(
    max_feed_size_bytes=1 << 40,  # the fetcher caps bodies
    max_entries=MAX_FEED_ELEMENTS,
    max_links_per_feed=MAX_FEED_ELEMENTS,
    max_links_per_entry=MAX_FEED_ELEMENTS,
    max_authors=MAX_FEED_ELEMENTS,
    max_contributors=MAX_FEED_ELEMENTS,
    max_tags=MAX_FEED_ELEMENTS,
    max_content_blocks=MAX_FEED_ELEMENTS,
    max_enclosures=MAX_FEED_ELEMENTS,
)
# what feedparser-rs reads differently from feedparser, found in the bytes (case-insensitive
# where XML allows): XHTML and base64 content, a carriage return written as a reference
# (feedparser keeps it; the newline normalisation below would not), RSS update dates
# (plain substring tests first: a regex with alternatives, or ignoring case, reads a 40 KB
# feed in milliseconds)
_RS_CR_REF = re.compile(rb"&#(?:0*13|[xX]0*[dD]);")
_RS_RSS_DATES = re.compile(rb"(?:updated|modified|:date)\s*>")


_XML_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)")


def _declared_utf8(data: bytes) -> bool:
    """Whether the document is UTF-8 as feedparser-rs reads it: declared so, or not declared."""
    declared = _XML_ENCODING.match(data.removeprefix(_BOM)[:200])
    return declared is None or declared.group(1).lower() in (b"utf-8", b"utf8")


def _rs_doubts(data: bytes) -> bool:
    lower = data.lower()
    return b"xhtml" in lower or b"base64" in lower or bool(_RS_CR_REF.search(data))


def _rs_rss_dates(data: bytes) -> bool:
    words = b"updated" in data or b"modified" in data or b":date" in data
    return words and bool(_RS_RSS_DATES.search(data))


def _fp_raw(value: str | None) -> str:
    """Text as feedparser keeps it: XML newlines (feedparser-rs keeps CR LF inside CDATA),
    stripped."""
    if not value:
        return ""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.strip()


def _fp_str(value: str | None) -> str:
    """Text as feedparser hands over an element's text (its pop()): _fp_raw, then UTF-8
    read as latin-1 re-decoded, cp1252 code points mapped."""
    value = _fp_raw(value)
    if not value.isascii():
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            value = value.encode("iso-8859-1").decode("utf-8")
        value = value.translate(_cp1252)
    return value


def _fp_date(raw: str | None) -> tuple[str, time.struct_time | None]:
    raw = _fp_str(raw)
    return raw, (_parse_date(raw) if raw else None)


def _rs_detail(detail, value: str, atom: bool) -> dict:
    """feedparser's *_detail type: Atom's as written; RSS text is plain unless it looks like
    HTML (feedparser's own test)."""
    if atom:
        return {"type": detail.type if detail is not None else "text/plain"}
    return {"type": "text/html" if _FeedParserMixin.looks_like_html(value) else "text/plain"}


def _attribute_values(e, atom: bool) -> list[str]:
    """The entry's values read from attributes: feedparser-rs leaves their references
    (&amp;) undecoded, so any "&" in one sends the feed to feedparser."""
    values = [n.href or "" for n in e.enclosures or ()]
    values += [m.url or "" for m in e.media_content or ()]
    values += [m.url or "" for m in e.media_thumbnail or ()]
    if atom:
        values += [t.term or "" for t in e.tags or ()]
    return values


def _rs_dict(e, atom: bool, link: str) -> dict | None:
    """A feedparser-rs entry in the shape of feedparser's, for _to_entry (the same fields
    are then read the same way, whichever parser ran); None when it cannot be exact."""
    if any("&" in v for v in _attribute_values(e, atom)):
        return None
    title = _fp_str(e.title)
    published, published_parsed = _fp_date(e.published)
    updated, updated_parsed = _fp_date(e.updated) if atom else ("", None)
    if atom:  # a person: its name is written apart, and feedparser keeps it as it is
        author = _fp_raw(e.author_detail.name) if e.author_detail is not None else ""
    else:  # RSS: feedparser reads an e-mail address out of the text its own way
        author = _fp_str(e.author)
        if "@" in author:
            return None
    text = _fp_str if not atom else (lambda v: v or "")  # Atom category terms: attributes
    media = e.media_content or ()
    return {
        "id": e.id,
        "title": title,
        "title_detail": _rs_detail(e.title_detail, title, atom),
        "link": link,
        "published": published,
        "published_parsed": published_parsed,
        "updated": updated,
        "updated_parsed": updated_parsed,
        # no xml:base (see _rs_full): feedparser's content has no base of its own
        "content": [{"value": _fp_str(c.value)} for c in e.content or ()],
        "summary": _fp_str(e.summary),
        "tags": [{"term": text(t.term), "label": t.label} for t in e.tags or ()],
        "author_detail": {"name": author},
        "author": author,
        "wfw_commentrss": e.wfw_commentrss or "",
        # feedparser-rs says "unknown" where the type is not given
        "media_content": [
            {"url": m.url, "medium": m.medium, "type": "" if m.type == "unknown" else m.type}
            for m in media
        ],
        "media_thumbnail": [{"url": m.url} for m in e.media_thumbnail or ()],
        # of the links, _image reads only the enclosures
        "links": [{"rel": "enclosure", "type": n.type, "href": n.href} for n in e.enclosures or ()],
    }


def _scan_link(it: _Child, scan: _Scan) -> str:
    """The item's link as feedparser gives it (_Unsure when that depends on xml:base)."""
    if not it.link:
        return ""
    kind, raw = it.link
    return _fp_uri(raw, scan) if kind == "href" else _fp_link(_fp_uri(raw, scan)) if raw else ""


def _rs_parse(  # noqa: C901
    data: bytes,
    url: str,
    scan: _Scan,
    known: Collection[str] = (),
    watched: Watched | None = None,
) -> ParsedFeed | None:
    """feedparser-rs on the document, read as _full reads feedparser's result, without the
    known entries (told by the pre-scan's keys); None when the document is not of a class
    where it is exact, is not well-formed, or disagrees with the pre-scan on any new item's
    key or link."""
    d = feedparser_rs.parse_with_limits(
        bytes(data), limits=_RS_LIMITS, sanitize_html=False, resolve_relative_uris=False
    )
    atom = _RS_VERSIONS.get(d.version)
    if atom is None or d.bozo or d.encoding != "utf-8" or len(d.entries) != len(scan.items):
        return None
    base, site_url = _feed_base(url, scan.site)
    feed_author = None
    if atom and d.feed.author_detail is not None:
        feed_author = squash_spaces(_fp_raw(d.feed.author_detail.name)) or None
    entries = []
    changed = []
    hashes, reread = _watch(data, scan, known, watched)
    for e, it in zip(d.entries, scan.items, strict=True):
        if it.key in known and it.key not in reread:
            continue  # as feedparser's path, known entries are not read (nor their HTML)
        link = _scan_link(it, scan)
        # feedparser-rs blanks links to private addresses; a guid-made link is its own
        if (e.link or "") not in ("", link) and link:
            return None
        e_dict = _rs_dict(e, atom, link or e.link or "")
        if e_dict is None:
            return None
        entry = _to_entry(e_dict, base, feed_author)
        if entry is None or entry.key != it.key:
            return None
        (changed if it.key in reread else entries).append(entry)
    parsed = ParsedFeed(scan.feed_title(utf8=True), site_url, entries, changed=changed)
    return _with_push(_watched(parsed, scan, hashes, watched), url, scan.hub, scan.topic)


def _rs_full(
    data: bytes, url: str, known: Collection[str], watched: Watched | None = None
) -> ParsedFeed | None:
    """The feed through feedparser-rs, or None when feedparser must read it.

    Only behind the same refusals as feedparser (long tags, entity declarations, element
    floods), only for well-formed UTF-8 RSS 2.0 and Atom 1.0 that the expat pre-scan
    understands (no xml:base games, a guid or link on every item), and only when
    feedparser-rs found the very items the pre-scan found, with the same keys and links.
    """
    if len(data) > RS_MAX_BYTES or b"\x00" in data[:4]:
        return None  # too long to hold the GIL for; UTF-16/32: rare, the checks read ASCII
    _refuse_long_tags(data)
    if _declares_entities(data):
        raise FeedRefused(ENTITIES_REFUSED)
    if _rs_doubts(data):
        return None
    try:
        scan = _scan(data)  # refuses element floods as _refuse_costly does
        # xml:base: feedparser resolves images in content against it, feedparser-rs its own way
        if scan.markup or scan.has_base or (not scan.atom and _rs_rss_dates(data)):
            return None
        if known and _declared_utf8(data) and all(it.key in known for it in scan.items):
            hashes, reread = _watch(data, scan, known, watched)
            if not reread:
                # nothing new nor changed (a feed without validators, or whose body changed
                # but not its items): what _rs_parse would return, from the pre-scan alone (a
                # fifth less of the parse thread's time per such feed, the GIL shared with the
                # event loop)
                _, site_url = _feed_base(url, scan.site)
                parsed = ParsedFeed(scan.feed_title(utf8=True), site_url, [])
                parsed = _watched(parsed, scan, hashes, watched)
                return _with_push(parsed, url, scan.hub, scan.topic)
        parsed = _rs_parse(data, url, scan, known, watched)
    except _Unsure as exc:
        log.debug("pre-scan of %s unsure (%s): feedparser", url, exc)
        return None
    if parsed is None:
        log.debug("feedparser-rs not exact on %s: feedparser", url)
        return None
    return parsed
