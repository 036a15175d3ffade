"""WordPress export files (WXR) -> Entry objects, streamed: a file of any size in little memory.

Only published posts are kept (no drafts, pending, private or scheduled posts, pages,
attachments, menu items or custom post types). Each post's key is its `<guid>`, the identity
the blog's feed uses for the same post, so polling the feed later finds nothing new twice.
Pure and synchronous: callers run it in a thread.
"""

from __future__ import annotations

import calendar
import html
import pickle
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import mktime_tz, parsedate_tz
from pathlib import Path
from typing import BinaryIO

from .feeds import EntityWatch, comment_feed_url, entry_key
from .limits import clamp_entry
from .models import Entry
from .text import squash_spaces

_NS_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_NS_DC = "http://purl.org/dc/elements/1.1/"
_WP_NS = re.compile(r"^https?://wordpress\.(?:org|com)/export/[\d.]+/(excerpt/)?$")
# [^<>]: one unclosed <img is not scanned again for every later one (linear time)
_IMG = re.compile(r"<img\b[^<>]*?\bsrc\s*=\s*[\"']([^\"'<>]+)[\"']", re.IGNORECASE)
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
    terms: list[tuple[str, str]] = field(default_factory=list)  # (domain, name)
    # comments (<wp:comment>) are left out for now; _read_item is where they would be read


class _Stream:
    """A binary reader that counts bytes (for progress) and drops what expat rejects.

    It also refuses a file that declares XML entities, before the parser can expand one
    (a few bytes that grow into gigabytes, or a read of another file).
    """

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.bytes_read = 0
        self._started = False
        self._entities = EntityWatch()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.bytes_read += len(data)
        while not self._started and data:
            data = data.lstrip()  # a newline before <?xml ...?> is a classic WP bug
            if data:
                self._started = True
            else:
                data = self.raw.read(size)
                self.bytes_read += len(data)
        data = data.translate(None, _CONTROL)
        if self._entities.feed(data, final=not data):
            raise WxrError("the export declares XML entities, which Gazette refuses")
        return data


_TAGS: dict[str, str] = {}


def _tag(tag: str) -> str:
    """'{namespace}name' as 'wp:name', 'content:name', 'excerpt:name', 'dc:name' or 'name'."""
    known = _TAGS.get(tag)
    if known is not None:
        return known
    name = tag
    if tag[0] == "{":
        uri, _, local = tag[1:].partition("}")
        m = _WP_NS.match(uri)
        if uri == _NS_CONTENT:
            name = "content:" + local
        elif uri == _NS_DC:
            name = "dc:" + local
        elif m:
            name = ("excerpt:" if m.group(1) else "wp:") + local
        else:
            name = "?:" + local
    if len(_TAGS) < 1000:
        _TAGS[tag] = name
    return name


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
        self._remote_bytes = 0
        self.path = Path(source) if isinstance(source, str | Path) else None
        self._keys: set[str] = set()

    @property
    def bytes_read(self) -> int:
        return self._stream.bytes_read if self._stream else self._remote_bytes

    def stats(self) -> dict:
        """What the reader learnt so far (to send from a parsing process)."""
        return {
            "site_title": self.site_title,
            "site_link": self.site_link,
            "skipped": dict(self.skipped),
            "posts": self.posts,
            "size": self.size,
            "bytes_read": self.bytes_read,
        }

    def update(self, stats: dict) -> None:
        """Take over what a reader in another process learnt."""
        self.site_title = stats["site_title"]
        self.site_link = stats["site_link"]
        self.skipped = Counter(stats["skipped"])
        self.posts = stats["posts"]
        self.size = stats["size"]
        self._remote_bytes = stats["bytes_read"]

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
        items = 0
        seen_channel = False
        try:
            # "end" events only: an element is complete when it ends. Items are emptied once
            # read, so memory stays small whatever the size of the file.
            for _, elem in ET.iterparse(self._stream, events=("end",)):
                tag = _tag(elem.tag)
                if tag == "item":
                    items += 1
                    yield _read_item(elem)
                    elem.clear()
                elif tag == "wp:author":
                    login = _child_text(elem, "wp:author_login")
                    name = squash_spaces(_child_text(elem, "wp:author_display_name"))
                    if login and name:
                        self.authors[login.casefold()] = name
                    elem.clear()
                elif items == 0 and tag in ("title", "link"):
                    # the channel's own title and link come before any item
                    if tag == "title" and self.site_title is None:
                        self.site_title = squash_spaces(html.unescape(elem.text or "")) or None
                    elif tag == "link" and self.site_link is None:
                        self.site_link = (elem.text or "").strip() or None
                elif tag == "channel":
                    seen_channel = True
        except ET.ParseError as exc:
            raise WxrError(f"not a readable WordPress export: {exc}") from None
        if not seen_channel:
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
            name = squash_spaces(html.unescape(name))
            target = (
                tags if domain == "post_tag" else categories if domain in ("", "category") else None
            )
            if target is not None and name and name not in target:
                target.append(name)
        creator = item.creator.strip()
        image = _IMG.search(content) if content else None
        entry = Entry(
            key=key,
            title=squash_spaces(html.unescape(item.title)),
            link=link,
            author=self.authors.get(creator.casefold()) or squash_spaces(creator) or None,
            published_at=_wxr_date(item.post_date_gmt)
            or _rfc822(item.pub_date)
            or _wxr_date(item.post_date),
            updated_at=_wxr_date(item.modified_gmt),
            categories=categories,
            tags=tags,
            summary_html=excerpt,
            content_html=content,
            image_url=html.unescape(image.group(1)) if image else None,
            comments_feed=comment_feed_url(link, self.site_link, item.post_id),
            wp_id=item.post_id,
        )
        return clamp_entry(entry)


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
        elif tag == "wp:post_id":
            try:
                item.post_id = int(text.strip())
            except ValueError:
                item.post_id = None
        else:
            attr = _FIELDS.get(tag)
            if attr is not None:
                setattr(item, attr, text.strip() if attr in _STRIPPED else text)
    return item


_FIELDS = {
    "title": "title",
    "link": "link",
    "guid": "guid",
    "pubDate": "pub_date",
    "dc:creator": "creator",
    "content:encoded": "content",
    "excerpt:encoded": "excerpt",
    "wp:post_type": "post_type",
    "wp:status": "status",
    "wp:post_password": "password",
    "wp:post_date": "post_date",
    "wp:post_date_gmt": "post_date_gmt",
    "wp:post_modified_gmt": "modified_gmt",
}
_STRIPPED = {"post_type", "status", "password", "post_date", "post_date_gmt", "modified_gmt"}


def _child_text(elem: ET.Element, tag: str) -> str:
    for child in elem:
        if _tag(child.tag) == tag:
            return (child.text or "").strip()
    return ""


def _wxr_date(value: str) -> float | None:
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


def main(argv: list[str]) -> int:
    """`python -m bot.wxr FILE BATCH`: the published posts of FILE as pickled batches on
    stdout (8-byte length, then the pickle), for bot.importing to store in another process."""
    path, batch_size = argv[0], int(argv[1])
    out = sys.stdout.buffer
    reader = WxrReader(path)

    def send(kind: str, payload) -> None:
        data = pickle.dumps((kind, payload, reader.stats()), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(len(data).to_bytes(8, "big") + data)
        out.flush()

    try:
        batch: list[Entry] = []
        for entry in reader:
            batch.append(entry)
            if len(batch) >= batch_size:
                send("batch", batch)
                batch = []
        send("batch", batch)
    except WxrError as exc:
        send("error", str(exc))
        return 1
    send("done", None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
