"""A hostile blog on 127.0.0.1: a WordPress-like site whose feed, comments and pages attack.

    async with LocalSite() as site:
        blog = HostileBlog(site)              # honest until told otherwise
        post = blog.publish("Hello")          # a post, with a REST API and a comment feed
        ... follow blog.feed_url ...
        blog.attack("slowloris")              # from now on /feed/ trickles a byte a second
        blog.comments_attack(post, "file_path", path="/etc/hostname")
        blog.in_flight["slowloris"]           # answers of that attack still being sent

Every feed attack is also a route of its own (`blog.url_of(name)`; `blog.attacks` names
them all). `RawSite` answers with raw bytes, for what aiohttp's server will not send
(HTTP/1.0 without a length, huge headers).

Nothing here reaches beyond 127.0.0.1. The private-address redirect (`secret_url`) names
either an address that answers nothing here (169.254.169.254, 10.0.0.1) or this site's own
/secret/feed/ under a name the bot must refuse (`localhost`): `served["secret"]` then
shows whether the bot fetched it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape

from aiohttp import web

from tests.httpserver import LocalSite

try:  # aiohttp decodes brotli only when one of these is installed
    import brotli  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the venv
    brotli = None

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RSS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/">'
)
#: What every attack's text tries to smuggle into Discord
MENTIONS = "@everyone @here <@&123456789012345678> <@123456789012345678>"
MASKED_LINK = "[Free Nitro](https://evil.test/steal)"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "gpj.exe" shows as "exe.jpg"
NESTING = 500
BOMB_SIZE = 256 * 1024 * 1024  # decoded size of the gzip bomb
BIG_ENTRY = 5 * 1024 * 1024 - 64 * 1024  # just under the fetcher's 5 MB cap
MANY_ITEMS = 50_000
BIG_ATTRIBUTE = 1024 * 1024
HUGE_ERROR = 100_000

_bombs: dict[str, bytes] = {}  # made once per process: they take a second to compress


def gzip_bomb(size: int = BOMB_SIZE) -> bytes:
    """A gzip body that decodes to `size` bytes of a feed title (made once, ~size/1000 bytes)."""
    key = f"gzip-{size}"
    if key not in _bombs:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip wrapper
        head = (RSS_HEAD + "<channel><title>").encode()
        parts = [packer.compress(head)]
        block = b" " * (1024 * 1024)
        for _ in range(size // len(block)):
            parts.append(packer.compress(block))
        parts.append(packer.flush())
        _bombs[key] = b"".join(parts)
    return _bombs[key]


def brotli_bomb(size: int = BOMB_SIZE) -> bytes:
    """A brotli body decoding to `size` bytes, or (no brotli module) bytes no one can decode."""
    if brotli is None:
        return b"\x1b\xff\xff\x7f" + b"\x00" * 64
    key = f"br-{size}"
    if key not in _bombs:
        _bombs[key] = brotli.compress(b" " * size, quality=5)
    return _bombs[key]


def entity_bomb(levels: int = 5) -> bytes:
    """A 500-byte feed whose item title, guid and text each expand to 10 * 10**levels characters.

    The DOCTYPE follows the XML declaration on the same line: feedparser only strips one
    that starts a line, so expat expands the entities (below expat's own billion-laughs
    guard, which starts at 8 MiB of expansion).
    """
    names = "abcdefghij"[: levels + 1]
    entities = f'<!ENTITY {names[0]} "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {cur} "{("&" + prev + ";") * 10}">' for prev, cur in itertools.pairwise(names)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?> <!DOCTYPE rss [{entities}]>'
        '<rss version="2.0"><channel><title>Laughs</title><link>http://laughs.test/</link>'
        f"<item><title>&{names[-1]};</title><guid>laugh-&{names[-1]};</guid>"
        f"<description>&{names[-1]};</description></item></channel></rss>"
    ).encode()


def deep_html(depth: int = NESTING, text: str = "deep") -> str:
    return "<p>" + "<b>" * depth + text + "</b>" * depth + "</p>"


def markdown_error_feed(encoding: str) -> bytes:
    """Not a feed; feedparser's complaint quotes the declared encoding (the blog's text)."""
    return f'<?xml version="1.0" encoding="{encoding}"?><notafeed><x/></notafeed>'.encode()


def rfc822(ts: float) -> str:
    return formatdate(ts, usegmt=True)


@dataclass
class HostilePost:
    id: int
    title: str
    html: str
    published: float
    author: str = "Mallory"


@dataclass
class HostileComment:
    id: int
    post: int
    author: str
    html: str
    date: float
    parent: int = 0


@dataclass
class _Attack:
    name: str
    handler: Handler


class HostileBlog:
    """A WordPress-like blog (home page, RSS with comment feeds, REST API) that can turn.

    While no attack is set it is an ordinary blog, so it can be followed; `attack(name)`
    makes its /feed/ serve that attack from then on (`calm()` undoes it). Comment attacks
    are set per post (`comments_attack`) or on the REST comments route (`rest_attack`).
    Each attack is also served at its own path, `url_of(name)`.
    """

    def __init__(
        self,
        site: LocalSite,
        prefix: str = "",
        *,
        title: str = "Hostile Blog",
        trickle: float = 1.0,
        page_delay: float = 0.5,
        secret_url: str | None = None,
    ) -> None:
        self.site = site
        self.prefix = prefix
        self.title = title
        self.trickle = trickle  # seconds between bytes of the slowloris
        self.page_delay = page_delay  # seconds per page of the 10,000-page REST answer
        #: where the private-address redirect points (a URL the bot must never fetch)
        self.secret_url = secret_url or "http://169.254.169.254/latest/meta-data/"
        self.posts: dict[int, HostilePost] = {}
        self.comments: dict[int, HostileComment] = {}
        self.in_flight: Counter[str] = Counter()  # answers still being sent, by attack
        self.served: Counter[str] = Counter()  # answers started, by attack
        self.pages_served: list[int] = []  # page numbers asked of the 10,000-page answer
        self.feed_attack: str | None = None
        self.rest_comments_attack: str | None = None
        self._comment_attacks: dict[int, tuple[str, dict]] = {}
        self._attack_posts: dict[str, HostilePost] = {}
        self._bodies: dict[str, bytes] = {}  # big attack bodies, made once
        self._next_post = 500
        self._next_comment = 9000
        self._clock = time.time() - 3600
        self._generation = 0  # the changing feed's counter
        self.attacks: dict[str, Handler] = self._feed_attacks()
        self._serve()

    # -- addresses ---------------------------------------------------------------------

    def path(self, tail: str = "/") -> str:
        return f"{self.prefix}{tail}"

    def url(self, tail: str = "/") -> str:
        return self.site.url(self.path(tail))

    @property
    def home_url(self) -> str:
        return self.url("/")

    @property
    def feed_url(self) -> str:
        return self.url("/feed/")

    def url_of(self, attack: str) -> str:
        """The attack's own feed URL (always hostile)."""
        return self.url(f"/attack/{attack}/feed/")

    def link(self, post: HostilePost) -> str:
        return self.url(f"/{post.id}/")

    def comment_link(self, comment: HostileComment) -> str:
        return self.url(f"/{comment.post}/#comment-{comment.id}")

    def comments_feed_url(self, post: HostilePost) -> str:
        return self.url(f"/{post.id}/feed/")

    # -- writing the blog --------------------------------------------------------------

    def publish(self, title: str, html: str = "<p>Hello.</p>", **fields) -> HostilePost:
        self._next_post += 1
        self._clock += 60
        post = HostilePost(self._next_post, title, html, fields.pop("published", self._clock))
        for key, value in fields.items():
            setattr(post, key, value)
        self.posts[post.id] = post
        self.site.route(self.path(f"/{post.id}/feed/"), handler=self.comment_feed)
        return post

    def comment(self, post: HostilePost, html: str, *, author: str = "Reader") -> HostileComment:
        self._next_comment += 1
        self._clock += 10
        c = HostileComment(self._next_comment, post.id, author, html, self._clock)
        self.comments[c.id] = c
        return c

    def attack(self, name: str) -> None:
        """From now on /feed/ serves this attack."""
        if name not in self.attacks:
            raise KeyError(f"no such attack: {name} (known: {', '.join(sorted(self.attacks))})")
        self.feed_attack = name

    def calm(self) -> None:
        self.feed_attack = None
        self.rest_comments_attack = None
        self._comment_attacks.clear()

    def comments_attack(self, post: HostilePost, name: str, **options) -> None:
        """The post's comment feed serves an attack: "file_path" (path=...) or "bytes"."""
        self._comment_attacks[post.id] = (name, options)

    def rest_attack(self, name: str | None) -> None:
        """The REST comments route: "many_pages" (10,000 slow pages) or None (honest)."""
        self.rest_comments_attack = name

    # -- honest content ------------------------------------------------------------------

    def rss(self, posts: list[HostilePost] | None = None, *, channel_title: str | None = None):
        posts = posts if posts is not None else list(self.posts.values())
        items = []
        for post in sorted(posts, key=lambda p: p.published, reverse=True)[:10]:
            items.append(
                f"<item><title>{escape(post.title)}</title><link>{self.link(post)}</link>"
                f"<dc:creator><![CDATA[{post.author}]]></dc:creator>"
                f"<pubDate>{rfc822(post.published)}</pubDate>"
                f'<guid isPermaLink="false">{self.url("/")}?p={post.id}</guid>'
                f"<content:encoded><![CDATA[{post.html}]]></content:encoded>"
                f"<wfw:commentRss>{self.comments_feed_url(post)}</wfw:commentRss></item>"
            )
        title = escape(channel_title or self.title)
        return (
            f"{RSS_HEAD}<channel><title>{title}</title><link>{self.home_url}</link>"
            "<description>Hostile</description>" + "".join(items) + "</channel></rss>"
        ).encode("utf-8", "surrogateescape")  # lone surrogates \udc80-\udcff: invalid bytes

    def _serve(self) -> None:
        route = self.site.route
        route(self.path("/"), handler=self._home)
        route(self.path("/feed/"), handler=self._feed)
        route(self.path("/wp-json/"), handler=self._rest_root)
        route(self.path("/wp-json/wp/v2/posts"), handler=self._rest_posts)
        route(self.path("/wp-json/wp/v2/comments"), handler=self._rest_comments)
        route(self.path("/links/"), handler=self._many_links)
        route(self.path("/secret/feed/"), handler=self._secret)
        for name in self.attacks:
            route(self.path(f"/attack/{name}/feed/"), handler=self._attack_route(name))
        for n in range(300):
            route(self.path(f"/links/{n}/feed/"), handler=self._not_a_feed(f"link-{n}"))

    def _attack_route(self, name: str) -> Handler:
        async def serve(request: web.Request) -> web.StreamResponse:
            return await self._run(name, request)

        return serve

    async def _run(
        self, name: str, request: web.Request, handler: Handler | None = None
    ) -> web.StreamResponse:
        self.served[name] += 1
        self.in_flight[name] += 1
        try:
            return await (handler or self.attacks[name])(request)
        finally:
            self.in_flight[name] -= 1

    async def _home(self, request: web.Request) -> web.Response:
        return web.Response(
            text=(
                f"<html><head><title>{escape(self.title)}</title>"
                f'<link rel="alternate" type="application/rss+xml" href="{self.feed_url}">'
                f'<link rel="https://api.w.org/" href="{self.url("/wp-json/")}"></head>'
                "<body>Home</body></html>"
            ),
            content_type="text/html",
        )

    async def _feed(self, request: web.Request) -> web.StreamResponse:
        if self.feed_attack is not None:
            return await self._run(self.feed_attack, request)
        if request.query.get("paged", "1") != "1":
            return web.Response(status=404, text="not found")
        return web.Response(body=self.rss(), content_type="application/rss+xml")

    async def _rest_root(self, request: web.Request) -> web.Response:
        return web.json_response({"name": self.title, "namespaces": ["wp/v2"]})

    async def _rest_posts(self, request: web.Request) -> web.Response:
        # the blog's history is what its feed shows: nothing more to import
        body: list = []
        if "_envelope" in request.query:
            headers = {"X-WP-Total": 0, "X-WP-TotalPages": 0}
            return web.json_response({"body": body, "status": 200, "headers": headers})
        return web.json_response(body)

    def _comment_json(self, c: HostileComment) -> dict:
        return {
            "id": c.id,
            "post": c.post,
            "parent": c.parent,
            "author_name": c.author,
            "author_url": "",
            "date_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(c.date)),
            "content": {"rendered": c.html},
            "link": self.comment_link(c),
            "type": "comment",
            "author_avatar_urls": {},
        }

    async def _rest_comments(self, request: web.Request) -> web.StreamResponse:
        if self.rest_comments_attack == "many_pages":
            return await self._run("many_pages", request, self._many_pages)
        post_id = int(request.query.get("post", 0))
        page = int(request.query.get("page", 1))
        comments = sorted(
            (c for c in self.comments.values() if c.post == post_id), key=lambda c: (c.date, c.id)
        )
        if page > 1:
            body = {"code": "rest_comment_invalid_page_number", "message": "Bad page"}
            return web.json_response({"body": body, "status": 400, "headers": {}})
        headers = {"X-WP-Total": len(comments), "X-WP-TotalPages": 1}
        body = [self._comment_json(c) for c in comments]
        return web.json_response({"body": body, "status": 200, "headers": headers})

    async def _many_pages(self, request: web.Request) -> web.Response:
        """Every page exists (10,000 of them, slowly), each with a comment of its own."""
        await asyncio.sleep(self.page_delay)
        page = int(request.query.get("page", 1))
        self.pages_served.append(page)
        post_id = int(request.query.get("post", 0))
        fake = HostileComment(10_000_000 + page, post_id, f"Page {page}", "<p>more</p>", 1e9)
        headers = {"X-WP-Total": 1_000_000, "X-WP-TotalPages": 10_000}
        body = [self._comment_json(fake)]
        return web.json_response({"body": body, "status": 200, "headers": headers})

    async def comment_feed(self, request: web.Request) -> web.StreamResponse:
        post_id = int(request.path[len(self.prefix) :].strip("/").split("/")[0])
        attack = self._comment_attacks.get(post_id)
        if attack is not None:
            name, options = attack
            self.served[f"comments:{name}"] += 1
            if name == "file_path":  # the body names a file (feedparser would open it)
                return web.Response(body=options["path"].encode(), content_type="text/xml")
            if name == "bytes":
                return web.Response(body=options["body"], content_type="application/rss+xml")
            raise KeyError(name)
        comments = sorted(
            (c for c in self.comments.values() if c.post == post_id), key=lambda c: (c.date, c.id)
        )
        items = "".join(
            f"<item><title>By: {escape(c.author)}</title><link>{self.comment_link(c)}</link>"
            f"<dc:creator><![CDATA[{c.author}]]></dc:creator><pubDate>{rfc822(c.date)}</pubDate>"
            f'<guid isPermaLink="false">{self.comment_link(c)}</guid>'
            f"<content:encoded><![CDATA[{c.html}]]></content:encoded></item>"
            for c in comments[-10:]
        )
        body = (
            f"{RSS_HEAD}<channel><title>Comments on {post_id}</title><link>{self.home_url}</link>"
            f"<description>c</description>{items}</channel></rss>"
        )
        return web.Response(text=body, content_type="application/rss+xml")

    async def _many_links(self, request: web.Request) -> web.Response:
        """A page announcing 300 feeds: each costs a request if the bot tries them all."""
        self.served["many_links"] += 1
        links = "".join(
            f'<link rel="alternate" type="application/rss+xml" title="Feed {n}" '
            f'href="{self.url(f"/links/{n}/feed/")}">'
            for n in range(300)
        )
        return web.Response(
            text=f"<html><head><title>Links</title>{links}</head><body>x</body></html>",
            content_type="text/html",
        )

    def _not_a_feed(self, name: str) -> Handler:
        async def serve(request: web.Request) -> web.Response:
            self.served[name] += 1
            return web.Response(text="<html><body>nope</body></html>", content_type="text/html")

        return serve

    async def _secret(self, request: web.Request) -> web.Response:
        """What an internal service would hold: a bot that shows it has leaked it."""
        self.served["secret"] += 1
        post = HostilePost(1, "SECRET internal data", "<p>SECRET token 42</p>", time.time())
        return web.Response(body=self.rss([post]), content_type="application/rss+xml")

    # -- the feed attacks -------------------------------------------------------------

    def _feed_attacks(self) -> dict[str, Handler]:
        return {
            "slowloris": self._slowloris,
            "endless": self._endless,
            "gzip_bomb": self._gzip_bomb,
            "brotli_bomb": self._brotli_bomb,
            "redirect_loop": self._redirect_loop,
            "redirect_private": self._redirect_private,
            "entity_expansion": self._entity_expansion,
            "big_entry": self._big_entry,
            "invalid_utf8": self._invalid_utf8,
            "many_items": self._many_items,
            "deep_nesting": self._deep_nesting,
            "big_attribute": self._big_attribute,
            "rtl_title": self._rtl_title,
            "mentions": self._mentions,
            "markdown_error": self._markdown_error,
            "huge_error": self._huge_error,
            "wrong_content_type": self._wrong_content_type,
        }

    async def _stream(self, request: web.Request, chunks, delay: float, **headers):
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml", **headers})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for chunk in chunks:
                if request.transport is None or request.transport.is_closing():
                    break  # the bot hung up
                await response.write(chunk)
                await asyncio.sleep(delay)
        return response

    async def _slowloris(self, request: web.Request) -> web.StreamResponse:
        """A valid feed, a byte a second, then spaces a byte a second, forever."""
        feed = self.rss(channel_title="Slow")
        trickle = itertools.chain(
            (feed[i : i + 1] for i in range(len(feed))), itertools.repeat(b" ")
        )
        return await self._stream(request, trickle, self.trickle)

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        """A feed whose items never stop coming, as fast as the bot reads."""
        item = b"<item><title>again</title><guid>same</guid></item>" * 1000
        return await self._stream(
            request, itertools.chain([RSS_HEAD.encode(), b"<channel>"], itertools.repeat(item)), 0
        )

    async def _gzip_bomb(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(gzip_bomb)
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}
        return web.Response(body=body, headers=headers)

    async def _brotli_bomb(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(brotli_bomb)
        headers = {"Content-Encoding": "br", "Content-Type": "application/rss+xml"}
        return web.Response(body=body, headers=headers)

    async def _redirect_loop(self, request: web.Request) -> web.Response:
        hop = int(request.query.get("hop", 0))
        location = self.url(f"/attack/redirect_loop/feed/?hop={(hop + 1) % 2}")
        return web.Response(status=302, headers={"Location": location})

    async def _redirect_private(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": self.secret_url})

    async def _entity_expansion(self, request: web.Request) -> web.Response:
        return web.Response(body=entity_bomb(), content_type="application/rss+xml")

    def _one(self, attack: str, title: str, html: str) -> bytes:
        """The blog's posts and one more, the attack's (the same post at every request)."""
        post = self._attack_posts.get(attack)
        if post is None:
            self._next_post += 1
            post = HostilePost(self._next_post, title, html, time.time() - 60)
            self._attack_posts[attack] = post
        return self.rss([*self.posts.values(), post])

    async def _big_entry(self, request: web.Request) -> web.Response:
        filler = "<p>" + "word " * (BIG_ENTRY // 5) + "</p>"
        body = self._cached("big_entry", lambda: self._one("big_entry", "A 5 MB post", filler))
        return web.Response(body=body, content_type="application/rss+xml")

    def _cached(self, name: str, make: Callable[[], bytes]) -> bytes:
        if name not in self._bodies:
            self._bodies[name] = make()
        return self._bodies[name]

    async def _invalid_utf8(self, request: web.Request) -> web.Response:
        html = "<p>caf\udce9 \udcff\udcfe end</p>"
        body = self._one("invalid_utf8", "Broken \udcff bytes", html)
        return web.Response(
            body=body, headers={"Content-Type": "application/rss+xml; charset=utf-8"}
        )

    async def _many_items(self, request: web.Request) -> web.Response:
        """50,000 tiny items, all new at every request (a feed that changes every time)."""
        self._generation += 1
        g = self._generation
        now = rfc822(time.time() - 60)
        items = "".join(
            f"<item><title>{g}.{n}</title><guid>{g}-{n}</guid><pubDate>{now}</pubDate></item>"
            for n in range(MANY_ITEMS)
        )
        body = f"{RSS_HEAD}<channel><title>Many</title>{items}</channel></rss>".encode()
        return web.Response(body=body, content_type="application/rss+xml")

    async def _deep_nesting(self, request: web.Request) -> web.Response:
        body = self._one("deep_nesting", "Deeply nested", deep_html())
        return web.Response(body=body, content_type="application/rss+xml")

    async def _big_attribute(self, request: web.Request) -> web.Response:
        html = f'<p title="{"x" * BIG_ATTRIBUTE}">A modest paragraph.</p>'
        body = self._cached(
            "big_attribute", lambda: self._one("big_attribute", "One big attribute", html)
        )
        return web.Response(body=body, content_type="application/rss+xml")

    async def _rtl_title(self, request: web.Request) -> web.Response:
        body = self._one("rtl_title", f"Holiday photos {RLO}gpj.exe", f"<p>Open {RLO}gpj.exe</p>")
        return web.Response(body=body, content_type="application/rss+xml")

    async def _mentions(self, request: web.Request) -> web.Response:
        title = f"{MENTIONS} {MASKED_LINK}"
        html = f"<p>{escape(MENTIONS)} {escape(MASKED_LINK)} ```</p><p>**bold** ||spoiler||</p>"
        body = self._one("mentions", title, html)
        return web.Response(body=body, content_type="application/rss+xml")

    async def _markdown_error(self, request: web.Request) -> web.Response:
        # no spaces: expat would refuse the declaration before anyone quotes it
        body = markdown_error_feed("[Free-Nitro](https://evil.test/steal)@everyone")
        return web.Response(body=body, content_type="application/rss+xml")

    async def _huge_error(self, request: web.Request) -> web.Response:
        body = markdown_error_feed("x" * HUGE_ERROR)
        return web.Response(body=body, content_type="application/rss+xml")

    async def _wrong_content_type(self, request: web.Request) -> web.Response:
        body = self._one("wrong_content_type", "Served as a picture", "<p>Still a feed.</p>")
        return web.Response(body=body, content_type="image/png")


# --------------------------------------------------------------------------- raw answers


@dataclass
class RawSite:
    """A TCP server on 127.0.0.1 answering each path with raw bytes, then closing.

    For what aiohttp's own server will not send: an HTTP/1.0 answer with no length (the body
    ends when the connection closes), headers of any size, malformed status lines.
    """

    answers: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    port: int = 0
    _server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> RawSite:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def http10(self, path: str, body: bytes, content_type: str = "application/rss+xml") -> None:
        self.answers[path] = (
            f"HTTP/1.0 200 OK\r\nContent-Type: {content_type}\r\n\r\n".encode() + body
        )

    def huge_headers(self, path: str, body: bytes, size: int = 1024 * 1024) -> None:
        filler = "".join(f"X-Filler-{n}: {'y' * 1000}\r\n" for n in range(size // 1000))
        self.answers[path] = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            f"Content-Length: {len(body)}\r\n{filler}Connection: close\r\n\r\n"
        ).encode() + body

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = head.split(b" ", 2)[1].decode("latin-1").split("?")[0]
            self.requests.append(path)
            writer.write(self.answers.get(path, b"HTTP/1.0 404 Not Found\r\n\r\n"))
            await writer.drain()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


__all__ = [
    "MASKED_LINK",
    "MENTIONS",
    "NESTING",
    "RLO",
    "HostileBlog",
    "HostileComment",
    "HostilePost",
    "RawSite",
    "brotli_bomb",
    "deep_html",
    "entity_bomb",
    "gzip_bomb",
]
