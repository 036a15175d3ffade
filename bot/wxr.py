"""WordPress export files (WXR) -> Entry objects, streamed: a file of any size in little memory.

Only published posts are kept (no drafts, pending, private or scheduled posts, pages,
attachments, menu items or custom post types). Each post's key is its `<guid>`, the identity
the blog's feed uses for the same post, so polling the feed later finds nothing new twice.
Pure and synchronous: callers run it in a thread.
"""

from __future__ import annotations

import calendar
import html
import logging
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import mktime_tz, parsedate_tz
from pathlib import Path
from typing import BinaryIO

from .feeds import entry_key
from .models import Entry

log = logging.getLogger(__name__)

_NS_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_NS_DC = "http://purl.org/dc/elements/1.1/"
_WP_NS = re.compile(r"^https?://wordpress\.(?:org|com)/export/[\d.]+/(excerpt/)?$")
_WS = re.compile(r"\s+")
_IMG = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_BLOCK_COMMENT = re.compile(r"<!--\s*/?wp:.*?-->", re.DOTALL)
_SHORTCODE = re.compile(
    r"\[/?(?:caption|wp_caption|gallery|embed|audio|video|playlist)\b[^\]]*\]", re.IGNORECASE
)
_PRE = re.compile(r"<pre\b.*?</pre>", re.IGNORECASE | re.DOTALL)
_STARTS_BLOCK = re.compile(
    r"<(?:p|div|h[1-6]|ul|ol|li|dl|blockquote|pre|table|figure|hr|iframe|form|section|article"
    r"|aside|header|footer|address|details|style|script|\x00)\b",
    re.IGNORECASE,
)
# bytes that XML 1.0 forbids but WordPress exports sometimes contain (copy-pasted text)
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 13))


class WxrError(Exception):
    """The file is not a WordPress export we can read; the message says where it broke."""


@dataclass(slots=True)
class WxrItem:
    """One `<item>` as the export has it (posts, pages, attachments... all look like this)."""

    post_type: str = ""
    status: str = ""
    password: str = ""
    guid: str = ""
    title: str = ""
    link: str = ""
    creator: str = ""
    pub_date: str = ""
    post_date: str = ""
    post_date_gmt: str = ""
    modified_gmt: str = ""
    content: str = ""
    excerpt: str = ""
    post_id: int | None = None
    post_name: str = ""
    comment_status: str = ""
    terms: list[tuple[str, str]] = field(default_factory=list)  # (domain, name)
    # comments (<wp:comment>) are left out for now; _read_item is where they would be read


class _Stream:
    """A binary reader that counts bytes (for progress) and drops what expat rejects."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.bytes_read = 0
        self._started = False

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.bytes_read += len(data)
        if not self._started and data:
            stripped = data.lstrip()  # a newline before <?xml ...?> is a classic WP bug
            if stripped:
                self._started = True
            data = stripped
            if not data:
                return b" "  # not EOF yet: expat would take b"" as the end
        return data.translate(None, _CONTROL)


def _tag(tag: str) -> str:
    """'{namespace}name' as 'wp:name', 'content:name', 'excerpt:name', 'dc:name' or 'name'."""
    if tag[0] != "{":
        return tag
    uri, _, name = tag[1:].partition("}")
    if uri == _NS_CONTENT:
        return "content:" + name
    if uri == _NS_DC:
        return "dc:" + name
    m = _WP_NS.match(uri)
    if m:
        return ("excerpt:" if m.group(1) else "wp:") + name
    return "?:" + name


class WxrReader:
    """Iterate over the published posts of an export; counts of the rest in `skipped`.

    >>> reader = WxrReader("export.xml")
    >>> for entry in reader: ...
    """

    def __init__(self, source: str | Path | BinaryIO) -> None:
        self._source = source
        self.site_title: str | None = None
        self.site_link: str | None = None
        self.authors: dict[str, str] = {}  # login (casefolded) -> display name
        self.skipped: Counter[str] = Counter()
        self.posts = 0
        self.size: int | None = None
        self._stream: _Stream | None = None
        self._keys: set[str] = set()

    @property
    def bytes_read(self) -> int:
        return self._stream.bytes_read if self._stream else 0

    def __iter__(self) -> Iterator[Entry]:
        for item in self.items():
            reason = _not_published(item)
            if reason:
                self.skipped[reason] += 1
                continue
            self.posts += 1
            yield self._entry(item)

    def items(self) -> Iterator[WxrItem]:
        """Every item of the export, whatever its type (the published posts' filter is
        in __iter__)."""
        if isinstance(self._source, str | Path):
            path = Path(self._source)
            self.size = path.stat().st_size
            with path.open("rb") as raw:
                yield from self._walk(raw)
        else:
            yield from self._walk(self._source)

    def _walk(self, raw: BinaryIO) -> Iterator[WxrItem]:
        self._stream = _Stream(raw)
        depth = 0
        channel = None
        try:
            for event, elem in ET.iterparse(self._stream, events=("start", "end")):
                if event == "start":
                    depth += 1
                    if depth == 2 and elem.tag == "channel":
                        channel = elem
                    continue
                depth -= 1
                if depth != 2 or channel is None:
                    continue
                # a direct child of <channel> is complete
                tag = _tag(elem.tag)
                if tag == "item":
                    yield _read_item(elem)
                elif tag == "wp:author":
                    login = _text(elem, "wp:author_login")
                    name = _clean(_text(elem, "wp:author_display_name"))
                    if login and name:
                        self.authors[login.casefold()] = name
                elif tag == "title" and self.site_title is None:
                    self.site_title = _clean(html.unescape(elem.text or "")) or None
                elif tag == "link" and self.site_link is None:
                    self.site_link = (elem.text or "").strip() or None
                channel.remove(elem)  # the tree never grows past one item
        except ET.ParseError as exc:
            raise WxrError(f"not a readable WordPress export: {exc}") from None
        if channel is None:
            raise WxrError("not a WordPress export: no <rss><channel>")

    def _entry(self, item: WxrItem) -> Entry:
        guid = item.guid.strip()
        link = item.link.strip() or None
        key = entry_key(guid, link, item.title, item.pub_date)
        if key in self._keys:
            # two posts with one guid (a post duplicated in the admin): keep both
            candidates = [link, f"{key}#wp-{item.post_id}" if item.post_id else None]
            key = next((k for k in candidates if k and k not in self._keys), None) or (
                f"{key}#{len(self._keys)}"
            )
        self._keys.add(key)
        protected = bool(item.password)
        content = "" if protected else _tidy(item.content)
        excerpt = "" if protected else _tidy(item.excerpt)
        categories: list[str] = []
        tags: list[str] = []
        for domain, name in item.terms:
            name = _clean(html.unescape(name))
            target = (
                tags if domain == "post_tag" else categories if domain in ("", "category") else None
            )
            if target is not None and name and name not in target:
                target.append(name)
        creator = item.creator.strip()
        image = _IMG.search(content) if content else None
        return Entry(
            key=key,
            title=_clean(html.unescape(item.title)),
            link=link,
            author=self.authors.get(creator.casefold()) or _clean(creator) or None,
            published_at=_gmt(item.post_date_gmt) or _rfc822(item.pub_date) or _gmt(item.post_date),
            updated_at=_gmt(item.modified_gmt),
            categories=categories,
            tags=tags,
            summary_html=excerpt,
            content_html=content,
            image_url=html.unescape(image.group(1)) if image else None,
            comments_feed=_comments_feed(link, self.site_link, item.post_id),
            wp_id=item.post_id,
        )


def _not_published(item: WxrItem) -> str | None:
    """Why an item is not a published post ('page', 'draft post', ...), None if it is."""
    if item.post_type != "post":
        return item.post_type or "item without type"
    if item.status != "publish":
        return f"{item.status or 'unknown'} post"
    return None


def _read_item(elem: ET.Element) -> WxrItem:
    item = WxrItem()
    for child in elem:
        tag = _tag(child.tag)
        text = child.text or ""
        if tag == "category":
            item.terms.append((child.get("domain", ""), text))
        elif tag == "title":
            item.title = text
        elif tag == "link":
            item.link = text
        elif tag == "guid":
            item.guid = text
        elif tag == "pubDate":
            item.pub_date = text
        elif tag == "dc:creator":
            item.creator = text
        elif tag == "content:encoded":
            item.content = text
        elif tag == "excerpt:encoded":
            item.excerpt = text
        elif tag.startswith("wp:"):
            name = tag[3:]
            if name == "post_id":
                try:
                    item.post_id = int(text.strip())
                except ValueError:
                    item.post_id = None
            elif name in _WP_FIELDS:
                setattr(item, _WP_FIELDS[name], text.strip())
    return item


_WP_FIELDS = {
    "post_type": "post_type",
    "status": "status",
    "post_password": "password",
    "post_date": "post_date",
    "post_date_gmt": "post_date_gmt",
    "post_modified_gmt": "modified_gmt",
    "post_name": "post_name",
    "comment_status": "comment_status",
}


def _text(elem: ET.Element, tag: str) -> str:
    for child in elem:
        if _tag(child.tag) == tag:
            return (child.text or "").strip()
    return ""


def _clean(text: str) -> str:
    return _WS.sub(" ", text or "").strip()


def _gmt(value: str) -> float | None:
    """'2024-06-05 16:04:48' (UTC) -> unix seconds; WordPress writes zeros for 'never'."""
    value = (value or "").strip()
    if not value or value.startswith("0000"):
        return None
    try:
        date, _, clock = value.partition(" ")
        y, mo, d = (int(x) for x in date.split("-"))
        h, mi, s = (int(x) for x in (clock or "0:0:0").split(":"))
        return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))
    except ValueError:
        return None


def _rfc822(value: str) -> float | None:
    parsed = parsedate_tz(value or "")
    if not parsed:
        return None
    stamp = float(mktime_tz(parsed))
    return stamp if stamp > 0 else None  # drafts carry 'Thu, 01 Jan 1970'


def _tidy(markup: str) -> str:
    """The stored body as a feed would show it: block comments and shortcodes gone,
    paragraphs as <p> (WordPress keeps bare blank lines in the database)."""
    if not markup:
        return ""
    markup = _BLOCK_COMMENT.sub("", markup)
    markup = _SHORTCODE.sub("", markup)
    return autop(markup)


def autop(markup: str) -> str:
    """A small wpautop: blank-line separated text becomes paragraphs, line breaks <br />."""
    markup = markup.strip()
    if "\n" not in markup:
        return markup if _STARTS_BLOCK.match(markup) or not markup else f"<p>{markup}</p>"
    kept: list[str] = []

    def hold(m: re.Match[str]) -> str:
        kept.append(m.group(0))
        return f"<\x00{len(kept) - 1}>"

    markup = _PRE.sub(hold, markup.replace("\r\n", "\n"))
    out = []
    for block in re.split(r"\n\s*\n", markup):
        block = block.strip()
        if not block:
            continue
        if _STARTS_BLOCK.match(block):
            out.append(block)
        else:
            out.append("<p>" + re.sub(r"\s*\n\s*", "<br />\n", block) + "</p>")
    text = "\n".join(out)
    return re.sub(r"<\x00(\d+)>", lambda m: kept[int(m.group(1))], text)


def _comments_feed(link: str | None, site: str | None, post_id: int | None) -> str | None:
    """Where WordPress serves a post's comment feed (what the blog's feed calls
    wfw:commentRss)."""
    if link and "?" not in link:
        return link.rstrip("/") + "/feed/"
    if site and post_id:
        return f"{site.rstrip('/')}/?feed=rss2&p={post_id}"
    return None
