"""From whatever URL a user pastes (home page, post, feed) to the blog's posts feed."""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

from .feeds import FeedParseError, FeedRefused, parse_feed
from .fetch import Fetcher, FetchError
from .limits import MAX_DISCOVERY_CANDIDATES
from .models import Discovered, FetchResult, ParsedFeed

log = logging.getLogger(__name__)

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/rdf+xml",
    }
)
# Titles of comment feeds, as WordPress writes them in a few languages.
_COMMENTS_TITLE = re.compile(
    r"comment|coment|kommentar|reacties|komentar|коммент|評論|评论|コメント", re.IGNORECASE
)
_COMMENTS_HREF = re.compile(r"/comments/feed/?$|[?&]feed=comments-", re.IGNORECASE)
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head)\b", re.I | re.S)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.IGNORECASE)
_HEAD_LIMIT = 512 * 1024  # feed links sit in <head>; never look further than this


class DiscoveryError(Exception):
    """No feed could be found behind a URL; str() is shown to the user."""


class NotAFeed(DiscoveryError):
    pass


@dataclass(slots=True)
class FeedLink:
    href: str  # absolute
    type: str
    title: str

    @property
    def is_comments(self) -> bool:
        return bool(_COMMENTS_TITLE.search(self.title) or _COMMENTS_HREF.search(self.href))


async def discover(fetcher: Fetcher, url: str) -> Discovered:
    """Fetch `url`; return it if it is a feed, else the posts feed the page points to.

    Raises FetchError when `url` itself cannot be fetched, NotAFeed when it is not a feed
    and no feed could be found from it.
    """
    url = url.strip()
    if "://" not in url:
        url = "https://" + url  # "blog.example" typed by hand
    result = await fetcher.get(url)
    parsed = await _try_parse(result)
    if parsed is not None:
        return Discovered(feed_url=result.url, parsed=parsed, result=result)

    links = await asyncio.to_thread(find_feed_links, result.body, result.url, result.content_type)
    posts = [link.href for link in links if not link.is_comments]
    comments = [link.href for link in links if link.is_comments]
    fallback = _root_feed(result.url)
    # the page's own posts feeds, then WordPress's default place, then (last) comment feeds;
    # a handful at most: a page listing 300 feeds must not make Gazette send 300 requests
    ordered = [*posts[: MAX_DISCOVERY_CANDIDATES - 1], fallback, *posts, *comments]
    candidates = [c for c in dict.fromkeys(ordered) if c != result.url]
    if len(candidates) > MAX_DISCOVERY_CANDIDATES:
        log.info(
            "%s links to %d feeds; trying the first %d",
            result.url,
            len(candidates),
            MAX_DISCOVERY_CANDIDATES,
        )
    for candidate in candidates[:MAX_DISCOVERY_CANDIDATES]:
        found = await _try_candidate(fetcher, candidate, guessed=candidate == fallback)
        if found is not None:
            found.page = result  # kept: the history import looks in it for the REST API
            return found
    if links:
        raise NotAFeed(f"{url} is not a feed, and the feeds it links to could not be read")
    raise NotAFeed(f"{url} is not a feed and links to none")


async def _try_candidate(fetcher: Fetcher, url: str, *, guessed: bool) -> Discovered | None:
    try:
        result = await fetcher.get(url)
    except FetchError as exc:
        if not guessed:
            log.info("feed %s linked from a page could not be fetched: %s", url, exc)
        return None
    parsed = await _try_parse(result)
    if parsed is None:
        return None
    return Discovered(feed_url=result.url, parsed=parsed, result=result)


async def _try_parse(result: FetchResult) -> ParsedFeed | None:
    if looks_like_html(result.body):
        return None
    try:
        return await asyncio.to_thread(parse_feed, result.body, result.url)
    except FeedRefused as exc:  # a feed, but one Gazette will not read: say why
        raise DiscoveryError(f"{result.url}: {exc}") from exc
    except FeedParseError:
        return None


def _root_feed(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/feed/", "", ""))


def looks_like_html(body: bytes) -> bool:
    """An HTML document (not a feed) by its first bytes."""
    return bool(_HTML_START.match(body[:4096].lstrip(b"\xef\xbb\xbf")))


def find_feed_links(body: bytes, base_url: str, content_type: str | None = None) -> list[FeedLink]:
    """The feeds an HTML page announces with <link rel="alternate">, in page order.

    Only the <head> is read. Relative hrefs are resolved against <base href> or base_url.
    """
    parser = _LinkParser(base_url)
    text = _decode(body[:_HEAD_LIMIT], content_type)
    step = 8192
    for start in range(0, len(text), step):
        parser.feed(text[start : start + step])
        if parser.done:
            break
    seen: set[str] = set()
    links = []
    for link in parser.links:
        link.href = urljoin(parser.base, link.href)
        if link.href not in seen and urlsplit(link.href).scheme in ("http", "https"):
            seen.add(link.href)
            links.append(link)
    return links


def _decode(body: bytes, content_type: str | None) -> str:
    charset = None
    if content_type and "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=", 1)[1].split(";")[0].strip(" \"'")
    if not charset and (m := _META_CHARSET.search(body[:4096])):
        charset = m.group(1).decode("ascii", "replace")
    try:
        codecs.lookup(charset or "utf-8")
    except LookupError:
        charset = None
    return body.decode(charset or "utf-8", errors="replace")


class _LinkParser(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base_url
        self.links: list[FeedLink] = []
        self.done = False
        self._based = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "body":
            self.done = True
            return
        a = {k: (v or "") for k, v in attrs}
        if tag == "base" and a.get("href") and not self._based:  # only the first counts
            self._based = True
            self.base = urljoin(self.base, a["href"].strip())
        elif tag == "link":
            rel = a.get("rel", "").lower().split()
            kind = a.get("type", "").lower().split(";")[0].strip()
            href = a.get("href", "").strip()
            if "alternate" in rel and kind in FEED_TYPES and href:
                self.links.append(FeedLink(href=href, type=kind, title=a.get("title", "").strip()))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.done = True
