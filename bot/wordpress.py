"""WordPress: REST API discovery, posts for backfill, comments (REST, else the comment feed).

Everything here goes through an injected fetcher (`bot.fetch.Fetcher` or anything with the same
`get`), so address checks, size limits and timeouts stay in one place. Failures come out as
`WordPressError` (or `RestUnavailable` when the site does not offer the REST API at all).

Facts this module relies on (checked against WordPress 6.1):

* REST requests carry `_envelope`: WordPress then answers 200 with
  `{"status": N, "headers": {"X-WP-Total": ...}, "body": ...}`, so totals and error codes reach
  us through a fetcher that only returns bodies (and refuses non-200 answers).
* Post entries get the key the RSS feed would give them: the feed's `<guid>` is the post's
  `guid` column, which REST shows as `guid.rendered` (`http://host/?p=ID` for posts written in
  the editor, the permalink for posts created already published). REST backfill and feed
  polling therefore never store one post twice.
* Anonymous REST lists only approved comments, and only of type `comment`; asking for another
  type is refused (401 rest_forbidden_param), so pingbacks never come through REST.
* The per-post comment feed has at most the newest 10 comments, newest first, no parent field
  (only an "In reply to <a href=...#comment-N>NAME</a>." first paragraph, translated on
  localized blogs), and pingbacks look like comments ("By: Source title"); WordPress writes
  their text as "[…] excerpt […]", which is how they are told apart here.
"""

from __future__ import annotations

import asyncio
import calendar
import functools
import html
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

from bot.feeds import FeedParseError, comment_feed_url, entry_key, parse_document
from bot.fetch import FetchError, HTTPStatusError, TooLarge
from bot.limits import (
    BACKFILL_MAX_PAGES,
    COMMENT_MAX_PAGES,
    MAX_COMMENT_HTML,
    MAX_DISCOVERY_CANDIDATES,
    MAX_TITLE,
    clamp_comment,
    clamp_entry,
    row_id,
)
from bot.models import Entry
from bot.text import one_line, squash_spaces

from .models import Comment

log = logging.getLogger(__name__)

API_REL = "https://api.w.org/"
JSON_ACCEPT = "application/json, */*;q=0.5"
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
MAX_PER_PAGE = 100  # WordPress's cap for per_page
_SMALLER_PAGES = (50, 25, 10, 5, 1)  # per_page to fall back to when a page is too large

# ids are at most 19 digits (SQLite's integers), which also keeps int() off huge numbers;
# [^<>] keeps one unclosed tag from being scanned again for every later one (linear time)
# [0-9], not \d: \d takes every script's digits, which int() reads and WordPress does not
_WP_ID = re.compile(r"[?&]p=([0-9]{1,19})(?:&|#|$)")
_COMMENT_ID = re.compile(r"#comment-([0-9]{1,19})\s*$")
_IMG = re.compile(r"<img\b[^<>]*?\bsrc\s*=\s*[\"']([^\"'<>]+)[\"']", re.IGNORECASE)
_LINK_TAG = re.compile(r"<link\b[^<>]*>", re.IGNORECASE)
# a name starts after a non-name character: otherwise every position inside a long run of
# letters with no "=" is tried again, quadratic (500 KB of them held the event loop 45 min)
_ATTR = re.compile(r"""(?<![a-zA-Z:-])([a-zA-Z:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""")
# "In reply to <a href="...#comment-N">NAME</a>." as the first paragraph (the words around the
# link are translated on localized blogs, so only their length is checked)
_REPLY_PREFIX = re.compile(
    r"""^\s*(?:<p>)?(?P<pre>[^<]{0,60})<a\s[^<>]*?href\s*=\s*["'][^"'<>]*"""
    r"""#comment-(?P<id>\d{1,19})["']"""
    r"""[^>]*>(?P<name>.*?)</a>(?P<post>[^<]{0,30}?)(?:</p>|<br\s*/?>|\n\s*\n)\s*""",
    re.IGNORECASE | re.DOTALL,
)

# WordPress writes a pingback's text as "[&#8230;] excerpt [&#8230;]"
_ELLIPSIS = r"\[\s*(?:&#8230;|&#x2026;|&hellip;|\u2026|\.\.\.)\s*\]"
_PINGBACK = re.compile(
    rf"^\s*(?:<p>)?\s*{_ELLIPSIS}.*{_ELLIPSIS}\s*(?:</p>)?\s*$", re.IGNORECASE | re.DOTALL
)


class WordPressError(Exception):
    """A WordPress request failed or answered something unusable; str() is readable."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status  # HTTP status (from the envelope when there is one)
        self.code = code  # WordPress error code, e.g. "rest_disabled"


class RestUnavailable(WordPressError):
    """The REST API answers with an error for the whole site (disabled, forbidden, gone)."""


class _Fetcher(Protocol):
    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = ...,
    ) -> Any: ...


# --------------------------------------------------------------------------- small helpers


def _rest_text(rendered: Any) -> str:
    """REST 'rendered' title or name -> text (tags out, entities decoded, spaces collapsed).

    Only the start of a long value is read: its text is cut to a few hundred characters anyway.
    """
    return one_line(rendered[: 8 * MAX_TITLE]) if isinstance(rendered, str) else ""


def _rest_date(value: Any) -> float | None:
    """'2024-01-02T03:04:05' (REST *_gmt fields, UTC without zone) -> unix seconds."""
    if not value or not isinstance(value, str):
        return None
    try:
        return float(calendar.timegm(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def _rendered(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("rendered")
    return value if isinstance(value, str) else ""


def _json_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: float("inf") in JSON
        return None


def _str(value: Any) -> str:
    """A JSON value that should be a string, or "" (a hostile API can send anything)."""
    return value.strip() if isinstance(value, str) else ""


def api_url(api_root: str, route: str, params: dict[str, Any] | None = None) -> str:
    """URL of `route` (e.g. "wp/v2/posts") under a REST root, in either of its two forms.

    `http://host/wp-json/` + route, or `http://host/?rest_route=/` (plain permalinks) with
    rest_route=/route.
    """
    base, query = _api_base(api_root, route.lstrip("/"))
    for k, v in (params or {}).items():
        if v is None:
            continue
        value = str(v).lower() if isinstance(v, bool) else str(v)
        # a comment read builds one URL a page: urlencode quotes each name and value
        plain = _URL_PLAIN.fullmatch(k) and _URL_PLAIN.fullmatch(value)
        query.append(f"{k}={value}" if plain else urlencode([(k, value)], safe="/,:"))
    return f"{base}?{'&'.join(query)}" if query else base


_URL_PLAIN = re.compile(r"[A-Za-z0-9_.~/,:-]*")  # what urlencode(safe="/,:") leaves as it is


def _api_base(api_root: str, route: str) -> tuple[str, list[str]]:
    """(the URL without its query, the query's encoded pairs) of `route` under a REST root."""
    base, query = _api_base_cached(api_root, route)
    return base, list(query)


@functools.lru_cache(maxsize=256)
def _api_base_cached(api_root: str, route: str) -> tuple[str, tuple[str, ...]]:
    parts = urlsplit(api_root)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == "rest_route" for k, _ in query):
        base_route = next(v for k, v in query if k == "rest_route")
        full = base_route.rstrip("/") + "/" + route if route else base_route
        query = [(k, full if k == "rest_route" else v) for k, v in query]
        path = parts.path
    else:
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        path += route
    base = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return base, tuple(urlencode([pair], safe="/,:") for pair in query)


def _error_from(payload: Any, status: int | None, what: str) -> WordPressError:
    code = message = None
    if isinstance(payload, dict):
        code = payload.get("code") if isinstance(payload.get("code"), str) else None
        message = payload.get("message")
    text = f"{what}: HTTP {status}" if status else f"{what} failed"
    if code or message:
        text += f" ({code or ''}{': ' if code and message else ''}{_rest_text(message)[:200]})"
    cls = RestUnavailable if status in (401, 403) or code == "rest_disabled" else WordPressError
    return cls(text, status=status, code=code)


def _loads(body: bytes) -> Any:
    return json.loads(body.decode("utf-8-sig"))


async def _get_json(fetcher: _Fetcher, url: str, what: str) -> tuple[Any, dict[str, Any]]:
    """GET a REST URL with `_envelope` -> (body, headers); errors -> WordPressError."""
    result = await _get_rest(fetcher, url, what)
    if len(result.body) > 256 * 1024:  # a page of 100 posts: decode off the event loop
        return await asyncio.to_thread(_unwrap, result, what)
    return _unwrap(result, what)


async def _get_rest(fetcher: _Fetcher, url: str, what: str) -> Any:
    """GET a REST URL (its FetchResult); HTTP and network errors -> WordPressError."""
    try:
        return await fetcher.get(url, accept=JSON_ACCEPT)
    except HTTPStatusError as exc:
        raise WordPressError(f"{what}: {exc}", status=exc.status) from exc
    except FetchError as exc:
        raise WordPressError(f"{what}: {exc}") from exc


def _unwrap(result: Any, what: str) -> tuple[Any, dict[str, Any]]:
    """A REST answer's JSON, out of its `_envelope` -> (body, headers); errors ->
    WordPressError. Pure: runs in a thread where the body may be large."""
    try:
        payload = _loads(result.body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # deep nesting: Recursion
        raise WordPressError(f"{what}: the answer is not JSON Gazette can read") from exc
    headers: dict[str, Any] = {}
    status = getattr(result, "status", 200)
    if isinstance(payload, dict) and "body" in payload and "status" in payload:
        headers = payload.get("headers") or {}  # PHP sends [] for no headers
        headers = headers if isinstance(headers, dict) else {}
        status = _json_int(payload.get("status")) or 200
        payload = payload["body"]
    else:  # no envelope (a proxy or another implementation): take the real headers if any
        headers = dict(getattr(result, "headers", None) or {})
    if status >= 400 or (isinstance(payload, dict) and "code" in payload and "message" in payload):
        raise _error_from(payload, status, what)
    return payload, headers


def _header(headers: dict[str, Any], name: str) -> Any:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


# --------------------------------------------------------------------------- discovery


def _links_in_html(body: bytes) -> list[str]:
    """hrefs of <link rel="https://api.w.org/"> in a page's head."""
    text = body[: 512 * 1024].decode("utf-8", "replace")
    found = []
    for tag in _LINK_TAG.findall(text):
        attrs = {k.lower(): v.strip("\"'") for k, v in _ATTR.findall(tag)}
        if API_REL in attrs.get("rel", "").split() and attrs.get("href"):
            found.append(html.unescape(attrs["href"]))
    return found


async def _looks_like_root(fetcher: _Fetcher, root: str) -> bool:
    try:
        index, _ = await _get_json(fetcher, api_url(root, "", {"_fields": "namespaces"}), "REST")
    except WordPressError as exc:
        log.debug("no REST root at %s: %s", root, exc)
        return False
    namespaces = index.get("namespaces") if isinstance(index, dict) else None
    return isinstance(namespaces, list) and "wp/v2" in namespaces


async def find_rest_root(fetcher: _Fetcher, site_url: str, page: Any = None) -> str | None:
    """The site's REST API root (e.g. "http://host/wp-json/"), or None when it has none.

    Looks for the `Link: <...>; rel="https://api.w.org/"` header (when the fetcher exposes
    headers) and `<link rel="https://api.w.org/">` in the home page, then tries `/wp-json/`
    and `/?rest_route=/`. A root counts only if it answers with the wp/v2 namespace, so a REST
    API disabled by a plugin (401 rest_disabled while the links stay) gives None.

    `page`: a page of the site already read (the one a user pasted to follow the blog),
    looked in instead of fetching the home page again.
    """
    site = site_url if site_url.endswith("/") else site_url + "/"
    candidates: list[str] = []
    if page is not None and _origin(page.url) != _origin(site):
        page = None  # another site's page (the feed is hosted elsewhere): not this one's links
    try:
        page = page or await fetcher.get(site, accept=HTML_ACCEPT)
    except FetchError as exc:
        log.debug("REST discovery: %s: %s", site, exc)
    else:
        link_header = _header(dict(getattr(page, "headers", None) or {}), "Link") or ""
        pattern = r"<([^>]+)>\s*;[^,]*rel=\"?https://api\.w\.org/\"?"
        candidates += [urljoin(page.url, m.group(1)) for m in re.finditer(pattern, link_header)]
        candidates += [urljoin(page.url, h) for h in _links_in_html(page.body)]
    # a handful at most (a page full of links must not turn into as many requests), the
    # two places WordPress always answers included
    defaults = [urljoin(site, "wp-json/"), urljoin(site, "?rest_route=/")]
    linked = list(dict.fromkeys(candidates))[: MAX_DISCOVERY_CANDIDATES - len(defaults)]
    for root in dict.fromkeys(linked + defaults):
        if await _looks_like_root(fetcher, root):
            return root
    return None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


# --------------------------------------------------------------------------- posts


class _Names:
    """id -> name for categories, tags and users not resolved through `_embed`."""

    def __init__(self, fetcher: _Fetcher, api_root: str) -> None:
        self.fetcher = fetcher
        self.api_root = api_root
        self.known: dict[str, dict[int, str]] = {"categories": {}, "tags": {}, "users": {}}

    def learn(self, route: str, items: Iterable[dict]) -> None:
        for item in items:
            if isinstance(item, dict) and _json_int(item.get("id")) is not None and "name" in item:
                self.known[route][int(item["id"])] = _rest_text(item["name"])

    async def resolve(self, route: str, ids: Iterable[int]) -> None:
        missing = sorted({i for i in ids if i not in self.known[route]})
        for start in range(0, len(missing), MAX_PER_PAGE):
            chunk = missing[start : start + MAX_PER_PAGE]
            url = api_url(
                self.api_root,
                f"wp/v2/{route}",
                {
                    "include": ",".join(map(str, chunk)),
                    "per_page": MAX_PER_PAGE,
                    "_fields": "id,name",
                    "_envelope": 1,
                },
            )
            try:
                items, _ = await _get_json(self.fetcher, url, f"WordPress {route}")
            except WordPressError as exc:  # users are often hidden by security plugins
                log.info("could not resolve %s %s: %s", route, chunk, exc)
                items = []
            self.learn(route, items if isinstance(items, list) else [])
            for i in chunk:  # do not ask again
                self.known[route].setdefault(i, "")


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _ids(value: Any) -> list[int]:
    """Term or user ids from a post: positive integers only."""
    return [i for v in _list(value) if (i := row_id(_json_int(v))) is not None]


def _post_to_entry(post: dict, names: _Names) -> Entry:
    embedded = post.get("_embedded")
    embedded = embedded if isinstance(embedded, dict) else {}
    guid = html.unescape(_rendered(post.get("guid"))).strip()
    link = _str(post.get("link")) or None
    title = _rest_text(_rendered(post.get("title")))
    date_gmt = _str(post.get("date_gmt"))
    author = None
    authors = _list(embedded.get("author"))
    if authors and isinstance(authors[0], dict) and _str(authors[0].get("name")):
        author = _rest_text(authors[0]["name"])
    elif user := _ids([post.get("author")]):
        author = names.known["users"].get(user[0]) or None
    categories = [names.known["categories"].get(i, "") for i in _ids(post.get("categories"))]
    tags = [names.known["tags"].get(i, "") for i in _ids(post.get("tags"))]
    terms = _list(embedded.get("wp:term"))
    if terms:
        by_tax: dict[str, list[str]] = {"category": [], "post_tag": []}
        for group in terms:
            for term in _list(group):
                if isinstance(term, dict) and term.get("taxonomy") in ("category", "post_tag"):
                    by_tax[term["taxonomy"]].append(_rest_text(term.get("name")))
        categories = by_tax["category"] or categories
        tags = by_tax["post_tag"] or tags
    content_html = _rendered(post.get("content"))
    image = None
    media = _list(embedded.get("wp:featuredmedia"))
    if media and isinstance(media[0], dict) and _str(media[0].get("source_url")):
        image = _str(media[0]["source_url"])
    elif m := _IMG.search(content_html):
        image = urljoin(link or "", html.unescape(m.group(1)).strip())
    entry = Entry(
        key=entry_key(guid, link, title, date_gmt),
        title=title,
        link=link,
        author=author,
        published_at=_rest_date(date_gmt),
        updated_at=_rest_date(post.get("modified_gmt")),
        categories=[c for c in dict.fromkeys(categories) if c],
        tags=[t for t in dict.fromkeys(tags) if t],
        summary_html=_rendered(post.get("excerpt")),
        content_html=content_html,
        image_url=image,
        comments_feed=comment_feed_url(link),
        wp_id=_json_int(post.get("id")),
    )
    return clamp_entry(entry)


async def _map_posts(posts: list[dict], names: _Names) -> list[Entry]:
    missing: dict[str, set[int]] = {"categories": set(), "tags": set(), "users": set()}
    posts = [p for p in posts if isinstance(p, dict)]
    for post in posts:
        embedded = post.get("_embedded")
        embedded = embedded if isinstance(embedded, dict) else {}
        if not embedded.get("wp:term"):
            missing["categories"].update(_ids(post.get("categories")))
            missing["tags"].update(_ids(post.get("tags")))
        authors = _list(embedded.get("author"))
        if not (authors and isinstance(authors[0], dict) and _str(authors[0].get("name"))):
            missing["users"].update(_ids([post.get("author")]))
    for route, ids in missing.items():
        if ids:
            await names.resolve(route, ids)
    return [_post_to_entry(p, names) for p in posts]


class RestPostPages:
    """Async iterator over a site's published posts, one list of Entry per REST page.

    Oldest first (by id, so posts published meanwhile land at the end instead of shifting the
    pages). `total` (posts) and `total_pages` are known after the first page; `done` counts
    the entries yielded so far. At most `max_pages` pages are read (a site may advertise
    any number); each page is yielded as it arrives, none kept.
    """

    def __init__(
        self,
        fetcher: _Fetcher,
        api_root: str,
        *,
        per_page: int = MAX_PER_PAGE,
        max_pages: int = BACKFILL_MAX_PAGES,
    ):
        self.fetcher = fetcher
        self.api_root = api_root
        self.per_page = max(1, min(MAX_PER_PAGE, per_page))
        self.max_pages = max_pages
        self.total: int | None = None
        self.total_pages: int | None = None
        self.done = 0
        self.requests = 0
        self._names = _Names(fetcher, api_root)
        self._iter: AsyncIterator[list[Entry]] | None = None

    def __aiter__(self) -> RestPostPages:
        return self

    async def __anext__(self) -> list[Entry]:
        if self._iter is None:
            self._iter = self._pages()
        return await self._iter.__anext__()

    async def _pages(self) -> AsyncIterator[list[Entry]]:
        page = 1
        while self.requests < self.max_pages:
            url = api_url(
                self.api_root,
                "wp/v2/posts",
                {
                    "per_page": self.per_page,
                    "page": page,
                    "orderby": "id",
                    "order": "asc",
                    "_embed": "author,wp:term,wp:featuredmedia",
                    "_envelope": 1,
                },
            )
            try:
                posts, headers = await _get_json(self.fetcher, url, f"WordPress posts page {page}")
            except WordPressError as exc:
                if exc.code == "rest_post_invalid_page_number":
                    return  # past the last page (the total changed while paging)
                smaller = [n for n in _SMALLER_PAGES if n < self.per_page and self.done % n == 0]
                if isinstance(exc.__cause__, TooLarge) and smaller:
                    # long posts: 100 of them with their bodies can pass the size limit
                    log.info("%s: page too large at per_page=%d", self.api_root, self.per_page)
                    self.per_page = smaller[0]
                    page = self.done // self.per_page + 1
                    continue
                raise
            self.requests += 1
            if not isinstance(posts, list):
                raise WordPressError(f"WordPress posts page {page}: not a list of posts")
            total = _json_int(_header(headers, "X-WP-Total"))
            pages = _json_int(_header(headers, "X-WP-TotalPages"))
            if total is not None:
                self.total = total
            if pages is not None:
                self.total_pages = pages
            if not posts:
                return
            entries = await _map_posts(posts, self._names)
            self.done += len(entries)
            yield entries
            if self.total_pages is not None:
                if page >= self.total_pages:
                    return
            elif len(posts) < self.per_page:
                return
            page += 1


def iter_rest_posts(
    fetcher: _Fetcher,
    api_root: str,
    *,
    per_page: int = MAX_PER_PAGE,
    max_pages: int = BACKFILL_MAX_PAGES,
) -> RestPostPages:
    """Every published post of the site, page by page: `async for entries in ...`.

    Each Entry has the key the RSS feed gives the same post, author name, categories and tags
    (resolved through `_embed`, else by id), featured image, excerpt and body. The returned
    object's `total` / `total_pages` show progress once the first page has arrived.
    """
    return RestPostPages(fetcher, api_root, per_page=per_page, max_pages=max_pages)


async def find_rest_post_id(fetcher: _Fetcher, api_root: str, link: str) -> int | None:
    """The WordPress id of the post at `link` (for feed entries whose guid does not tell it).

    `?p=ID` links answer without a request; otherwise the post is looked up by its slug (the
    link's last path segment) and matched on its link.
    """
    if m := _WP_ID.search(link):
        return row_id(int(m.group(1)))
    segments = [s for s in urlsplit(link).path.split("/") if s]
    if not segments:
        return None
    params = {"slug": unquote(segments[-1]), "_fields": "id,link", "_envelope": 1}
    items, _ = await _get_json(
        fetcher, api_url(api_root, "wp/v2/posts", params), "WordPress post lookup"
    )
    if not isinstance(items, list):
        return None
    want = link.split("#")[0].rstrip("/")
    # the id is stored with the post: one SQLite cannot hold is no id
    for item in items:
        if isinstance(item, dict) and _str(item.get("link")).rstrip("/") == want:
            return row_id(_json_int(item.get("id")))
    if len(items) == 1 and isinstance(items[0], dict):
        return row_id(_json_int(items[0].get("id")))
    return None


# --------------------------------------------------------------------------- comments


def _avatar(urls: Any) -> str | None:
    if not isinstance(urls, dict) or not urls:
        return None
    best = max(urls, key=lambda k: _json_int(k) or 0)
    return _str(urls[best]) or None


def _rest_comment(c: dict) -> Comment | None:
    """A comment from a REST answer, every field within its cap; None if it has no usable id."""
    cid = _json_int(c.get("id"))
    if cid is None:
        return None
    comment = Comment(
        id=cid,
        post_wp_id=_json_int(c.get("post")),
        parent_id=_json_int(c.get("parent")) or None,
        author=_rest_text(c.get("author_name")) or "Anonymous",
        author_url=_str(c.get("author_url")) or None,
        avatar_url=_avatar(c.get("author_avatar_urls")),
        published_at=_rest_date(c.get("date_gmt")) or 0.0,
        content_html=_rendered(c.get("content")),
        link=_str(c.get("link")),
        type=_str(c.get("type")) or "comment",
    )
    return clamp_comment(comment)


def _comment_page(
    result: Any, what: str, then: Callable[[list[Comment]], Any] | None = None
) -> tuple[Any, int, dict[str, Any]]:
    """A REST page of comments -> (its comments, or what `then` makes of them; how many
    items it had; headers)."""
    items, headers = _unwrap(result, what)
    if not isinstance(items, list):
        raise WordPressError(f"{what}: not a list")
    comments = [c for item in items if isinstance(item, dict) and (c := _rest_comment(item))]
    return comments if then is None else then(comments), len(items), headers


async def rest_comment_pages(
    fetcher: _Fetcher,
    api_root: str,
    post_wp_id: int,
    *,
    max_pages: int = COMMENT_MAX_PAGES,
    pool: Executor | None = None,
    then: Callable[[list[Comment]], Any] | None = None,
    on_complete: Callable[[], None] | None = None,
) -> AsyncIterator[Any]:
    """The post's approved comments (type "comment"), one REST page of 100 at a time,
    oldest first, `max_pages` pages at most.

    A post with more pages than that (a site may advertise 10,000) is read from its first
    page and its newest ones, so the comments people write now keep coming through; what
    is skipped is logged. Pages are yielded as they arrive, so a caller with a deadline
    keeps what was read. Each page is decoded in `pool` (None: asyncio's default threads),
    and given to `then` there if set: what `then` returns is yielded (one hand-over to a
    thread per page, not two).
    `on_complete` is called once the last page was read with none skipped (a whole read).
    """
    page, last, read = 1, None, 0
    while read < max_pages:
        url = api_url(
            api_root,
            "wp/v2/comments",
            {
                "post": post_wp_id,
                "per_page": MAX_PER_PAGE,
                "page": page,
                "orderby": "date_gmt",  # WordPress adds comment_ID as the tie-break
                "order": "asc",
                "type": "comment",
                "_envelope": 1,
            },
        )
        what = f"WordPress comments of post {post_wp_id}"
        try:
            result = await _get_rest(fetcher, url, what)
            # JSON decoding and the comments' text: in a thread, never on the event loop
            comments, count, headers = await asyncio.get_running_loop().run_in_executor(
                pool, _comment_page, result, what, then
            )
        except WordPressError as exc:
            if (exc.code or "").endswith("invalid_page_number"):
                if last is None and on_complete is not None:
                    on_complete()  # fewer pages than announced: the end was reached
                return
            raise
        read += 1
        yield comments
        pages = _json_int(_header(headers, "X-WP-TotalPages"))
        if (
            not count
            or (pages is not None and page >= pages)
            or (pages is None and count < MAX_PER_PAGE)
        ):
            if last is None and on_complete is not None:
                on_complete()
            return
        if page == 1 and pages is not None and pages > max_pages:
            # the newest pages after the first, within the cap
            last = pages
            log.info(
                "comments of post %s: %d pages advertised, reading the first and the newest"
                " %d (COMMENT_MAX_PAGES)",
                post_wp_id,
                pages,
                max_pages - 1,
            )
            page = pages - max_pages + 2
            continue
        page += 1
    if last is None:
        log.info(
            "comments of post %s: stopped after %d pages (COMMENT_MAX_PAGES); the rest unread",
            post_wp_id,
            read,
        )


# What WordPress answers for a comment it does not show: deleted for good, or not approved
# (held, spam, trash). Any other answer (errors, a plugin's own codes) proves nothing.
_GONE = {"rest_comment_invalid_id": {404}, "rest_cannot_read": {401, 403}}


async def rest_comment_shown(
    fetcher: _Fetcher, api_root: str, comment_id: int, post_wp_id: int
) -> bool | None:
    """Whether the blog still shows the comment on the post, asked of the comment itself:
    True, False (deleted, held, spam, trash, or moved to another post), or None when the
    answer proves neither (network, server or unknown errors)."""
    what = f"WordPress comment {comment_id}"
    url = api_url(api_root, f"wp/v2/comments/{comment_id}", {"_envelope": 1, "_fields": "id,post"})
    try:
        item, _ = _unwrap(await _get_rest(fetcher, url, what), what)
    except WordPressError as exc:
        if exc.status in _GONE.get(exc.code or "", ()):
            return False
        return None
    if not isinstance(item, dict) or _json_int(item.get("id")) != comment_id:
        return None
    return _json_int(item.get("post")) == post_wp_id


def sorted_comments(comments: Iterable[Comment]) -> list[Comment]:
    return sorted(comments, key=lambda c: (c.published_at, c.id))


def _struct_ts(parsed: Any) -> float | None:
    return float(calendar.timegm(parsed)) if parsed else None


def parse_comment_feed(
    body: bytes,
    url: str,
    *,
    post_wp_id: int | None = None,
    include_pingbacks: bool = False,
) -> list[Comment]:
    """A post's comment feed (wfw:commentRss) -> its comments, oldest first.

    Pure and synchronous: run it in a thread. The comment id comes from the item link's
    `#comment-N`; the parent from the "In reply to <a href=...#comment-N>" first paragraph,
    which is removed from the content. Pingbacks are left out unless include_pingbacks.
    post_wp_id is used where the feed does not tell it (`?p=ID` in the link or guid).
    """
    if not body or not body.strip():
        raise WordPressError(f"empty comment feed: {url}")
    try:
        d = parse_document(body.lstrip())
    except FeedParseError as exc:
        raise WordPressError(f"comment feed {url}: {exc}") from None
    if not d.get("version") and not d.entries:
        raise WordPressError(f"not a comment feed: {url}")
    out: list[Comment] = []
    for e in d.entries:
        link = (e.get("link") or "").strip()
        guid = (e.get("id") or "").strip()
        m = _COMMENT_ID.search(link) or _COMMENT_ID.search(guid)
        if not m:
            continue
        cid = int(m.group(1))
        content = e.get("content") or []
        content_html = content[0].get("value", "") if content else (e.get("summary") or "")
        # cut before the patterns below run: a comment is stored at this size at most
        content_html = content_html[: 2 * MAX_COMMENT_HTML]
        parent_id = None
        rm = _REPLY_PREFIX.match(content_html)
        if rm and squash_spaces(rm.group("pre") + rm.group("post")):
            parent_id = int(rm.group("id"))
            content_html = content_html[rm.end() :]
        kind = "pingback" if _PINGBACK.match(content_html) else "comment"
        if kind != "comment" and not include_pingbacks:
            continue
        author = squash_spaces((e.get("author") or "")[: 8 * MAX_TITLE])
        if not author:
            title = squash_spaces((e.get("title") or "")[: 8 * MAX_TITLE])
            author = title[4:].strip() if title.lower().startswith("by: ") else title
        wp_id = post_wp_id
        if wp_id is None:
            pm = _WP_ID.search(guid) or _WP_ID.search(link)
            wp_id = int(pm.group(1)) if pm else None
        comment = clamp_comment(
            Comment(
                id=cid,
                post_wp_id=wp_id,
                parent_id=parent_id,
                author=author or "Anonymous",
                author_url=None,
                avatar_url=None,
                published_at=_struct_ts(e.get("published_parsed") or e.get("updated_parsed"))
                or 0.0,
                content_html=content_html.strip(),
                link=link or guid,
                type=kind,
            )
        )
        if comment is not None:
            out.append(comment)
    out.sort(key=lambda c: (c.published_at, c.id))
    return out


# --------------------------------------------------------------------------- a post's state


async def rest_post_status(fetcher: _Fetcher, api_root: str, wp_id: int) -> str:
    """The post's status as the site shows it to anyone ("publish", or "trash" and others
    where the site tells them). A post the site no longer shows raises WordPressError with
    its HTTP status: 404 (deleted), 401/403 `rest_forbidden` (trashed, drafted, private)."""
    params = {"_fields": "id,status", "_envelope": 1}
    body, _ = await _get_json(
        fetcher, api_url(api_root, f"wp/v2/posts/{int(wp_id)}", params), "WordPress post"
    )
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str):
        raise WordPressError("WordPress post: the answer has no status")
    return status[:20]


__all__ = [
    "Comment",
    "RestPostPages",
    "RestUnavailable",
    "WordPressError",
    "api_url",
    "find_rest_post_id",
    "find_rest_root",
    "iter_rest_posts",
    "parse_comment_feed",
    "rest_comment_pages",
    "rest_comment_shown",
    "rest_post_status",
]
