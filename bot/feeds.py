"""Feed bytes -> Entry objects (pure and synchronous: callers run it in a thread)."""

from __future__ import annotations

import calendar
import hashlib
import logging
import re
from collections.abc import Collection
from urllib.parse import urljoin

import feedparser

from bot.models import Entry, ParsedFeed

log = logging.getLogger(__name__)

_WS = re.compile(r"\s+")
_WP_ID = re.compile(r"[?&]p=(\d+)(?:&|#|$)")
_IMG = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


class FeedParseError(Exception):
    """The body is not a feed we can read."""


def _clean(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def entry_key(guid: str | None, link: str | None, title: str | None, date: str | None) -> str:
    """guid, else link, else sha1 of title and date string."""
    guid = (guid or "").strip()
    if guid:
        return guid
    link = (link or "").strip()
    if link:
        return link
    raw = f"{_clean(title)}\n{(date or '').strip()}"
    return "sha1:" + hashlib.sha1(raw.encode("utf-8")).hexdigest()


def _ts(parsed) -> float | None:
    return float(calendar.timegm(parsed)) if parsed else None


def _to_entry(e, base: str) -> Entry:
    link = e.get("link") or ""
    link = urljoin(base, link.strip()) if link else None
    date_str = e.get("published") or e.get("updated") or ""
    key = entry_key(e.get("id"), e.get("link"), e.get("title"), date_str)
    content = e.get("content") or []
    content_html = content[0].get("value", "") if content else ""
    summary_html = e.get("summary", "") or ""
    cats: list[str] = []
    for t in e.get("tags") or []:
        term = _clean(t.get("term"))
        if term and term not in cats:
            cats.append(term)
    image = None
    for m in (e.get("media_content") or []) + (e.get("media_thumbnail") or []):
        if m.get("url") and (m.get("medium", "image") == "image" or "image" in m.get("type", "")):
            image = m["url"]
            break
    if not image:
        for enc in e.get("enclosures") or []:
            if (enc.get("type") or "").startswith("image/") and enc.get("href"):
                image = enc["href"]
                break
    if not image:
        m = _IMG.search(content_html) or _IMG.search(summary_html)
        if m:
            image = m.group(1)
    if image:
        image = urljoin(link or base, image.strip())
    wp = None
    for s in (e.get("id"), e.get("link")):
        if s and (m := _WP_ID.search(s)):
            wp = int(m.group(1))
            break
    comments = e.get("wfw_commentrss")
    return Entry(
        key=key,
        title=_clean(e.get("title")),
        link=link,
        author=_clean(e.get("author")) or None,
        published_at=_ts(e.get("published_parsed")),
        updated_at=_ts(e.get("updated_parsed")),
        categories=cats,
        summary_html=summary_html,
        content_html=content_html,
        image_url=image,
        comments_feed=urljoin(link or base, comments) if comments else None,
        wp_id=wp,
    )


def parse_feed(body: bytes, url: str, known_keys: Collection[str] = ()) -> ParsedFeed:
    """Parse a feed body; entries whose key is in known_keys are left out."""
    if not body or not body.strip():
        raise FeedParseError("empty body")
    d = feedparser.parse(body.lstrip(), sanitize_html=False, resolve_relative_uris=False)
    if not d.get("version") and not d.entries:
        raise FeedParseError(f"not a feed: {d.get('bozo_exception') or 'no feed elements'}")
    base = d.feed.get("link") or url
    base = urljoin(url, base)
    known = set(known_keys)
    entries = [en for en in (_to_entry(e, base) for e in d.entries) if en.key not in known]
    return ParsedFeed(
        title=_clean(d.feed.get("title")),
        site_url=base if d.feed.get("link") else None,
        entries=entries,
    )
