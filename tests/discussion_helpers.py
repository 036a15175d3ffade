"""A WordPress-like blog with comments, and helpers for the discussion tests over the wire.

WPBlog serves what Gazette reads from a WordPress on 127.0.0.1 (REST comments with
`_envelope`, per-post comment feeds with the newest 10 and "In reply to" prefixes, a home page
linking the REST root); the helpers follow it, announce an article and read its thread.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape

from aiohttp import web

from tests.harness import eventually
from tests.httpserver import LocalSite

# =========================================================================== a blog


@dataclass
class WPComment:
    id: int
    post: int
    author: str
    html: str
    date: float
    parent: int = 0
    avatar: str | None = None
    approved: bool = True
    type: str = "comment"


@dataclass
class WPPost:
    id: int
    title: str
    date: float
    categories: list[str] = field(default_factory=lambda: ["News"])


class WPBlog:
    """What Gazette reads from a WordPress, served by a LocalSite.

    rest: "on" (REST API linked from the home page), "error" (401 rest_disabled, the link
    stays, as with a security plugin) or "off" (no REST at all).
    """

    def __init__(self, site: LocalSite, *, rest: str = "on") -> None:
        self.site = site
        self.rest = rest
        self.posts: dict[int, WPPost] = {}
        self.comments: dict[int, WPComment] = {}
        self._next_post = 40
        self._next_comment = 0
        self._clock = time.time() - 86400  # posts are recent (older ones are not announced)
        site.route("/", handler=self._home)
        site.route("/feed/", handler=self._feed)
        site.route("/wp-json/", handler=self._rest_root)
        site.route("/wp-json/wp/v2/comments", handler=self._rest_comments)

    # -- writing the blog ------------------------------------------------------------

    @property
    def feed_url(self) -> str:
        return self.site.url("/feed/")

    def link(self, post: WPPost) -> str:
        return self.site.url(f"/{post.id}/")

    def comment_link(self, comment: WPComment) -> str:
        return self.site.url(f"/{comment.post}/#comment-{comment.id}")

    def publish(self, title: str, *, categories: list[str] | None = None, **kw) -> WPPost:
        self._next_post += 1
        self._clock += 60
        post = WPPost(self._next_post, title, kw.pop("date", self._clock), **kw)
        if categories is not None:
            post.categories = categories
        self.posts[post.id] = post
        self.site.route(f"/{post.id}/feed/", handler=self._comment_feed)
        return post

    def comment(
        self,
        post: WPPost,
        html: str = "<p>Nice post.</p>",
        *,
        author: str = "Reader",
        parent: WPComment | None = None,
        **kw,
    ) -> WPComment:
        self._next_comment += 1
        self._clock += 10
        c = WPComment(
            self._next_comment,
            post.id,
            author,
            html,
            kw.pop("date", self._clock),
            parent=parent.id if parent else 0,
            avatar=kw.pop("avatar", f"https://gravatar.test/{self._next_comment}.png"),
            **kw,
        )
        self.comments[c.id] = c
        self.site.route(f"/wp-json/wp/v2/comments/{c.id}", handler=self._rest_comment)
        return c

    def approved(self, post_id: int) -> list[WPComment]:
        return sorted(
            (c for c in self.comments.values() if c.post == post_id and c.approved),
            key=lambda c: (c.date, c.id),
        )

    # -- serving it ------------------------------------------------------------------

    async def _home(self, request: web.Request) -> web.Response:
        link = ""
        if self.rest != "off":
            link = f'<link rel="https://api.w.org/" href="{self.site.url("/wp-json/")}" />'
        return web.Response(
            text=f"<html><head><title>WP</title>{link}</head><body>Home</body></html>",
            content_type="text/html",
        )

    def _date(self, ts: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))

    async def _feed(self, request: web.Request) -> web.Response:
        if request.query.get("paged", "1") != "1":
            return web.Response(status=404, text="not found")  # as WordPress, past the end
        items = []
        for post in sorted(self.posts.values(), key=lambda p: p.date, reverse=True)[:10]:
            cats = "".join(f"<category><![CDATA[{c}]]></category>" for c in post.categories)
            items.append(
                f"<item><title>{escape(post.title)}</title><link>{self.link(post)}</link>"
                f"<dc:creator><![CDATA[Ada]]></dc:creator>"
                f"<pubDate>{formatdate(post.date, usegmt=True)}</pubDate>{cats}"
                f'<guid isPermaLink="false">{self.site.url("/")}?p={post.id}</guid>'
                f"<description><![CDATA[<p>About {escape(post.title)}</p>]]></description>"
                f"<wfw:commentRss>{self.link(post)}feed/</wfw:commentRss>"
                f"<slash:comments>{len(self.approved(post.id))}</slash:comments></item>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel>'
            f"<title>WP Blog</title><link>{self.site.url('/')}</link>"
            "<description>Tests</description>" + "".join(items) + "</channel></rss>"
        )
        return web.Response(text=body, content_type="application/rss+xml")

    def _rest_refused(self, request: web.Request) -> web.Response | None:
        if self.rest == "off":
            return web.Response(status=404, text="not found")
        if self.rest == "error":
            body = {
                "code": "rest_disabled",
                "message": "The REST API is disabled on this site.",
                "data": {"status": 401},
            }
            if "_envelope" in request.query:
                return web.json_response({"body": body, "status": 401, "headers": []})
            return web.json_response(body, status=401)
        return None

    async def _rest_root(self, request: web.Request) -> web.Response:
        return self._rest_refused(request) or web.json_response(
            {"name": "WP Blog", "namespaces": ["oembed/1.0", "wp/v2"]}
        )

    async def _rest_comments(self, request: web.Request) -> web.Response:
        refused = self._rest_refused(request)
        if refused:
            return refused
        q = request.query
        assert q.get("type") == "comment" and "_envelope" in q
        post_id, per_page, page = int(q["post"]), int(q["per_page"]), int(q.get("page", 1))
        everything = [c for c in self.approved(post_id) if c.type == "comment"]
        pages = max(1, -(-len(everything) // per_page))
        if page > pages:
            body = {"code": "rest_comment_invalid_page_number", "message": "Bad page"}
            return web.json_response({"body": body, "status": 400, "headers": {}})
        chunk = everything[(page - 1) * per_page : page * per_page]
        body = [
            {
                "id": c.id,
                "post": c.post,
                "parent": c.parent,
                "author_name": c.author,
                "author_url": "",
                "date_gmt": self._date(c.date),
                "content": {"rendered": c.html + "\n"},
                "link": self.comment_link(c),
                "type": c.type,
                "author_avatar_urls": {"48": c.avatar.replace(".png", "-48.png"), "96": c.avatar}
                if c.avatar
                else {},
            }
            for c in chunk
        ]
        headers = {"X-WP-Total": len(everything), "X-WP-TotalPages": pages}
        return web.json_response({"body": body, "status": 200, "headers": headers})

    async def _rest_comment(self, request: web.Request) -> web.Response:
        """One comment, as WordPress answers a visitor: 401 rest_cannot_read when it is not
        approved (held, spam, trash), 404 rest_comment_invalid_id once deleted for good."""
        refused = self._rest_refused(request)
        if refused:
            return refused
        assert "_envelope" in request.query
        c = self.comments.get(int(request.path.rstrip("/").rsplit("/", 1)[-1]))
        if c is None:
            body, status = {"code": "rest_comment_invalid_id", "message": "Invalid ID."}, 404
        elif not c.approved:
            body, status = {"code": "rest_cannot_read", "message": "Not allowed."}, 401
        else:
            body, status = {"id": c.id, "post": c.post}, 200
        return web.json_response({"body": body, "status": status, "headers": {}})

    async def _comment_feed(self, request: web.Request) -> web.Response:
        post_id = int(request.path.strip("/").split("/")[0])
        newest = sorted(self.approved(post_id), key=lambda c: (c.date, c.id), reverse=True)[:10]
        # as WordPress: dated by the newest comment's date (not by edits), to the second
        stamp = max([c.date for c in newest] + [self.posts[post_id].date])
        last_modified = formatdate(stamp, usegmt=True)
        etag = '"' + hashlib.md5(last_modified.encode()).hexdigest() + '"'
        validators = {"ETag": etag, "Last-Modified": last_modified}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=validators)
        items = []
        for c in newest:
            text = c.html
            if c.parent:
                parent = self.comments[c.parent]
                text = (
                    f'<p>In reply to <a href="{self.comment_link(parent)}">'
                    f"{escape(parent.author)}</a>.</p>\n" + text
                )
            items.append(
                f"<item><title>By: {escape(c.author)}</title>"
                f"<link>{self.comment_link(c)}</link>"
                f"<dc:creator><![CDATA[{c.author}]]></dc:creator>"
                f"<pubDate>{formatdate(c.date, usegmt=True)}</pubDate>"
                f'<guid isPermaLink="false">{self.comment_link(c)}</guid>'
                f"<content:encoded><![CDATA[{text}]]></content:encoded></item>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>Comments on: {post_id}</title><link>{self.site.url('/')}</link>"
            "<description>c</description>" + "".join(items) + "</channel></rss>"
        )
        return web.Response(text=body, content_type="application/rss+xml", headers=validators)


# =========================================================================== helpers


async def read_comments_now(world) -> None:
    """Make every followed post's comments due; the bot's loop picks them up within a tick.

    A read already in flight (started before the test's latest comment was written) would
    record its own next check after ours and hide that comment for a whole interval: it is
    let finish first."""
    watcher = getattr(world.bot, "comment_watcher", None)  # None: the bot is not running
    if watcher is not None:
        await eventually(lambda: not len(watcher._in_flight), what="comment reads done")
    await world.store.schedule_comment_checks(0)


async def announced_thread(world, channel: int | None = None) -> int:
    channel = channel or world.text
    threads = await eventually(lambda: world.fake.threads(channel), what="the article's thread")
    thread = int(threads[-1]["id"])
    # and recorded by the bot (a test that stops it next must not stop it in between)
    await eventually(
        lambda: world.store._value("SELECT id FROM discussions WHERE thread_id = ?", (thread,)),
        what="the thread recorded",
    )
    return thread


def mirrored(world, thread_id: int) -> list[dict]:
    """Messages in a thread other than a forum post's first message."""
    return [m for m in world.fake.messages(thread_id) if m["id"] != str(thread_id)]


def has(world, thread_id: int, count: int) -> list[dict] | None:
    """The thread's mirrored messages once there are exactly `count` of them."""
    messages = mirrored(world, thread_id)
    return messages if len(messages) == count else None


async def history_imported(result) -> None:
    """/feed add imports the blog's history in the background and says when it is done;
    a post published meanwhile could be taken for history (see the report)."""
    await eventually(
        lambda: any(mark in result.messages[0]["content"] for mark in ("✅", "⚠️")),
        what="the history import",
    )


async def follow(world, blog: WPBlog, channel: int | None = None) -> None:
    result = await world.command(
        "feed add", {"url": blog.feed_url, "channel": channel or world.text}
    )
    await history_imported(result)


async def publish_and_announce(world, blog: WPBlog, title="Fresh article", channel=None, **kw):
    post = blog.publish(title, **kw)
    await world.poll_now()
    thread = await announced_thread(world, channel)
    return post, thread
