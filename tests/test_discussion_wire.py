"""The discussion of each article, over the wire: real discord.py against the fake Discord,
a WordPress-like blog on 127.0.0.1 (REST comments with `_envelope`, per-post comment feeds
with the newest 10 and "In reply to" prefixes, a home page linking the REST root).

The second half tests the comment service (bot/comments.py) on its own, without Discord.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from pathlib import Path

import pytest
from aiohttp import web

from bot.comments import CommentWatcher, check_interval
from bot.fetch import Fetcher, create_session, trustworthy_validators
from bot.models import Comment, Entry
from bot.render.comment import render_comment, webhook_username
from bot.store import Store
from bot.store.base import _migrations
from tests.fakediscord import Perm
from tests.harness import MEMBER, eventually, settle
from tests.httpserver import LocalSite

FIXTURES = Path(__file__).parent / "fixtures" / "discussion"
T0 = 1_750_000_000
MENTION = re.compile(r"<(@[!&]?|#)\d+>")


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
    """Make every followed post's comments due; the bot's loop picks them up within a tick."""
    await world.store.schedule_comment_checks(0)


async def announced_thread(world, channel: int | None = None) -> int:
    channel = channel or world.text
    threads = await eventually(lambda: world.fake.threads(channel), what="the article's thread")
    thread = int(threads[-1]["id"])
    # and recorded by the bot (a test that stops it next must not stop it in between)
    await eventually(lambda: world.store.discussion_by_thread(thread), what="the thread recorded")
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


# =========================================================================== over the wire


async def test_comments_appear_in_the_thread_under_their_authors_with_replies(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog, "Fresh article")
    assert world.fake.channel(thread)["name"] == "Fresh article"

    ann = blog.comment(post, "<p>First! <strong>Great</strong> read.</p>", author="Ann")
    blog.comment(post, "<p>I disagree.</p><p>Second paragraph.</p>", author="Bob")
    reply = blog.comment(post, "<p>Why, Ann?</p>", author="Cy", parent=ann)
    await read_comments_now(world)
    messages = await eventually(
        lambda: len(mirrored(world, thread)) == 3 and mirrored(world, thread), what="3 comments"
    )

    assert [m["author"]["username"] for m in messages] == ["Ann", "Bob", "Cy"]
    assert all(m.get("webhook_id") for m in messages)
    [hook] = world.fake.webhooks(world.text)
    assert hook["name"] == "Gazette"
    first = world.fake.message_request(int(messages[0]["id"]))
    assert first["avatar_url"] == "https://gravatar.test/1.png"
    assert first["allowed_mentions"]["parse"] == []
    assert "**Great**" in messages[0]["content"]
    assert blog.comment_link(ann) in messages[0]["content"]
    assert f"<t:{int(ann.date)}:f>" in messages[0]["content"]
    assert "I disagree.\n\nSecond paragraph." in messages[1]["content"]
    # the reply says whom it answers, quotes the first line and links the mirrored parent
    head = messages[2]["content"].split("\n")[0]
    assert "Reply to **Ann**" in head and "First! Great read." in head
    jump = f"https://discord.com/channels/{world.guild}/{thread}/{messages[0]['id']}"
    assert jump in head
    assert blog.comment_link(reply) in messages[2]["content"]

    # nothing new: nothing posted, one request per check
    before = len(world.site.requests_for("/wp-json/wp/v2/comments"))
    await read_comments_now(world)
    await eventually(lambda: len(world.site.requests_for("/wp-json/wp/v2/comments")) > before)
    await settle(0.4)
    assert len(mirrored(world, thread)) == 3


async def test_a_burst_longer_than_a_rest_page_is_mirrored_whole_and_in_order(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    burst = [blog.comment(post, f"<p>Comment number {n}</p>", author=f"R{n}") for n in range(115)]
    await read_comments_now(world)
    messages = await eventually(
        lambda: len(mirrored(world, thread)) == 115 and mirrored(world, thread),
        within=15,
        what="115 comments",
    )
    assert [m["author"]["username"] for m in messages] == [c.author for c in burst]
    pages = [r.query_string for r in world.site.requests_for("/wp-json/wp/v2/comments")]
    assert any("page=2" in q for q in pages)


async def test_edited_comment_edits_its_message_and_a_restart_repeats_nothing(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    c1 = blog.comment(post, "<p>Typo in thsi post.</p>", author="Ann")
    blog.comment(post, "<p>Agreed.</p>", author="Bob")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) == 2)

    c1.html = "<p>Typo in this post (fixed).</p>"
    await read_comments_now(world)
    first = await eventually(
        lambda: "(fixed)" in mirrored(world, thread)[0]["content"] and mirrored(world, thread)[0]
    )
    assert first["edited_timestamp"] is not None
    assert len(mirrored(world, thread)) == 2

    await world.restart()
    blog.comment(post, "<p>After the restart.</p>", author="Cy")
    await read_comments_now(world)
    messages = await eventually(
        lambda: len(mirrored(world, thread)) == 3 and mirrored(world, thread)
    )
    await world.poll_now()
    await read_comments_now(world)
    await settle()
    assert [m["author"]["username"] for m in mirrored(world, thread)] == ["Ann", "Bob", "Cy"]
    assert messages[2]["content"].startswith("After the restart.")
    assert len(world.announcements()) == 1 and len(world.fake.threads(world.text)) == 1
    assert len(world.fake.webhooks(world.text)) == 1  # the channel's webhook is reused


async def test_without_rest_the_comment_feed_is_read_with_conditional_gets(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site, rest="error")
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    ann = blog.comment(post, "<p>Hello from the feed.</p>", author="Ann")
    blog.comment(post, "<p>Answer.</p>", author="Bob", parent=ann)
    await read_comments_now(world)
    messages = await eventually(
        lambda: len(mirrored(world, thread)) == 2 and mirrored(world, thread)
    )
    assert [m["author"]["username"] for m in messages] == ["Ann", "Bob"]
    assert "Reply to **Ann**" in messages[1]["content"].split("\n")[0]
    assert "In reply to" not in messages[1]["content"]
    assert world.site.requests_for("/wp-json/wp/v2/comments") == []

    feed = f"/{post.id}/feed/"
    before = len(world.site.requests_for(feed))
    await read_comments_now(world)
    await eventually(lambda: len(world.site.requests_for(feed)) > before)
    assert world.site.requests_for(feed)[-1].headers.get("If-None-Match")
    await settle(0.3)
    assert len(mirrored(world, thread)) == 2


async def test_rest_switched_off_later_falls_back_to_the_comment_feed(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    blog.comment(post, "<p>Over REST.</p>", author="Ann")
    await read_comments_now(world)
    await eventually(lambda: has(world, thread, 1))

    blog.rest = "error"  # a security plugin switched the REST API off
    blog.comment(post, "<p>Over the feed.</p>", author="Bob")
    await read_comments_now(world)
    messages = await eventually(lambda: has(world, thread, 2))
    assert [m["author"]["username"] for m in messages] == ["Ann", "Bob"]
    assert world.site.requests_for(f"/{post.id}/feed/")


async def test_one_read_serves_every_server_discussing_the_article(gazette_world):
    world = gazette_world
    world.global_commands = True
    other_guild = world.fake.add_guild("Elsewhere")
    other_channel = world.fake.add_channel(other_guild, "reading")
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    await history_imported(
        await world.fake.invoke(
            other_guild,
            other_channel,
            "feed add",
            {"url": blog.feed_url, "channel": other_channel},
        )
    )
    post, thread = await publish_and_announce(world, blog)
    other_thread = await announced_thread(world, other_channel)
    blog.comment(post, "<p>Seen twice.</p>", author="Ann")
    before = len(world.site.requests_for("/wp-json/wp/v2/comments"))
    await read_comments_now(world)
    here = await eventually(lambda: has(world, thread, 1))
    there = await eventually(lambda: has(world, other_thread, 1))
    assert here[0]["content"] == there[0]["content"]
    assert len(world.site.requests_for("/wp-json/wp/v2/comments")) == before + 1


async def test_without_manage_webhooks_comments_are_the_bots_embeds(gazette_world):
    world = gazette_world
    world.fake.set_bot_overwrite(world.text, deny=Perm.MANAGE_WEBHOOKS)
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    ann = blog.comment(post, "<p>Plain <em>embed</em>.</p>", author="Ann")
    blog.comment(post, "<p>Reply.</p>", author="Bob", parent=ann)
    await read_comments_now(world)
    messages = await eventually(
        lambda: len(mirrored(world, thread)) == 2 and mirrored(world, thread)
    )
    assert not world.fake.webhooks()
    assert all(m["author"]["id"] == str(world.fake.bot_user_id) for m in messages)
    first, second = (m["embeds"][0] for m in messages)
    assert first["author"]["name"] == "Ann"
    assert first["author"]["icon_url"] == "https://gravatar.test/1.png"
    assert "*embed*" in first["description"] and blog.comment_link(ann) in first["description"]
    assert "Reply to **Ann**" in second["description"]

    listing = await world.command("feed list")
    text = "\n".join(f["value"] for e in listing.embeds for f in e["fields"])
    assert "Manage Webhooks" in text

    ann.html = "<p>Edited embed.</p>"
    await read_comments_now(world)
    await eventually(
        lambda: "Edited embed." in mirrored(world, thread)[0]["embeds"][0]["description"]
    )


async def test_an_archived_thread_is_reopened_by_a_new_comment(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    world.fake.update_channel(thread, archived=True)
    await settle(0.2)
    blog.comment(post, "<p>Wake up.</p>", author="Ann")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) == 1)
    assert world.fake.channel(thread)["thread_metadata"]["archived"] is False
    assert world.fake.requests_to("PATCH", rf"/channels/{thread}")


async def test_a_thread_deleted_by_a_moderator_stays_deleted(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog, "Deleted talk")
    blog.comment(post, "<p>Before.</p>", author="Ann")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) == 1)

    world.fake.remove_channel(thread)
    await settle(0.2)
    blog.comment(post, "<p>After.</p>", author="Bob")
    await read_comments_now(world)
    await settle()
    assert world.fake.threads(world.text) == []

    choices = await world.fake.autocomplete(
        world.guild, world.text, "discuss", option="article", value="Deleted"
    )
    assert [c["name"] for c in choices] == ["Deleted talk"]
    member = world.fake.add_user("reader")
    for user in (None, member):  # neither the owner nor a member can bring it back
        result = await world.command("discuss", {"article": choices[0]["value"]}, user_id=user)
        assert result.ephemeral and "closed by this server's moderators" in result.content
    await settle()
    assert world.fake.threads(world.text) == []
    assert world.fake.messages(world.text) == world.announcements()  # no new starter message


async def test_a_thread_deleted_while_gazette_was_away_stays_deleted(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog, "Gone quietly")
    await world.stop()
    world.fake.remove_channel(thread)  # no client connected: no THREAD_DELETE reaches it
    await world.start()
    result = await world.command("discuss", {"article": "Gone quietly"})
    assert "closed by this server's moderators" in result.content
    assert world.fake.threads(world.text) == []


async def test_discuss_opens_the_discussion_of_an_old_archive_article_once(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    old = blog.publish("An old favourite")
    blog.publish("Something else")
    blog.comment(old, "<p>Still relevant.</p>", author="Ann")
    await world.start()
    await follow(world, blog)
    await settle(0.3)
    assert world.fake.threads(world.text) == [] and world.announcements() == []

    member = world.fake.add_user("reader")
    choices = await world.fake.autocomplete(
        world.guild, world.text, "discuss", option="article", value="old", user_id=member
    )
    assert [c["name"] for c in choices] == ["An old favourite"]
    result = await world.command(
        "discuss",
        {"article": choices[0]["value"]},
        user_id=member,
        user_permissions=MEMBER,
    )
    assert result.ephemeral
    thread = await announced_thread(world)
    assert f"/{thread}" in result.messages[-1]["content"]
    assert world.fake.channel(thread)["name"] == "An old favourite"
    [message] = await eventually(lambda: mirrored(world, thread))
    assert message["author"]["username"] == "Ann"

    again = await world.command("discuss", {"article": choices[0]["value"]}, user_id=member)
    assert (
        "is here" in again.messages[-1]["content"] and f"/{thread}" in again.messages[-1]["content"]
    )
    assert len(world.fake.threads(world.text)) == 1

    nothing = await world.command("discuss", {"article": "no such thing"})
    assert "No such article" in nothing.content


async def test_forum_posts_get_matching_tags_and_comments(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog, world.forum)
    post, thread = await publish_and_announce(
        world, blog, "Forum article", channel=world.forum, categories=["Travel", "Food"]
    )
    forum_post = world.fake.channel(thread)
    assert forum_post["name"] == "Forum article"
    assert forum_post["applied_tags"] == [str(world.fake.tag_id(world.forum, "Travel"))]
    blog.comment(post, "<p>Into the forum.</p>", author="Ann")
    await read_comments_now(world)
    [message] = await eventually(lambda: mirrored(world, thread))
    assert message["author"]["username"] == "Ann" and message.get("webhook_id")
    assert world.fake.webhooks(world.forum)


async def test_nothing_a_commenter_writes_pings_or_escapes_its_message(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    member = world.fake.add_user("victim")
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    hostile = (
        f"<p>@everyone @here <@{member}> <@&{world.role}> <#{world.text}></p>"
        "<pre>``` unclosed\n" + "x " * 3000 + "</pre><p>||spoiler</p>"
    )
    blog.comment(post, hostile, author="@everyone Discord Clyde")
    blog.comment(post, "<p>next</p>", author="here")
    await read_comments_now(world)
    first, second = await eventually(
        lambda: len(mirrored(world, thread)) == 2 and mirrored(world, thread)
    )
    request = world.fake.message_request(int(first["id"]))
    assert request["allowed_mentions"]["parse"] == []
    assert first["mention_everyone"] is False and first["mentions"] == []
    assert first["mention_roles"] == []
    content = first["content"]
    assert len(content) <= 2000
    assert "@everyone" not in content and "@here" not in content
    assert f"<@{member}>" not in content and f"<@&{world.role}>" not in content
    # the link to the comment closes the message, outside any code block
    assert content.rstrip().split("\n")[-1].startswith("-# [Comment on the blog]")
    assert content.count("```") % 2 == 0
    name = first["author"]["username"]
    assert "discord" not in name.lower() and "clyde" not in name.lower()
    assert "@everyone" not in name
    assert second["author"]["username"] not in ("here", "everyone")


async def test_missing_thread_permission_is_listed_then_the_thread_opens_when_allowed(
    gazette_world,
):
    world = gazette_world
    world.fake.set_bot_overwrite(world.text, deny=Perm.CREATE_PUBLIC_THREADS)
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post = blog.publish("No thread yet")
    await world.poll_now()
    [announcement] = await eventually(world.announcements)
    await settle(0.2)
    assert world.fake.threads(world.text) == []

    listing = await world.command("feed list")
    text = "\n".join(f["value"] for e in listing.embeds for f in e["fields"])
    assert "Create Public Threads" in text

    blog.comment(post, "<p>Where do I talk?</p>", author="Ann")
    await read_comments_now(world)
    await eventually(
        lambda: _listing_has(world, "Create Public Threads"), what="the failure listed"
    )
    assert world.fake.threads(world.text) == []
    [choice] = await world.fake.autocomplete(
        world.guild, world.text, "discuss", option="article", value="No thread"
    )
    refused = await world.command("discuss", {"article": choice["value"]})
    assert "missing Create Public Threads" in refused.messages[-1]["content"]

    world.fake.set_bot_overwrite(world.text)  # permission back
    thread = await announced_thread(world)
    assert thread == int(announcement["id"])  # on the announcement itself
    [message] = await eventually(lambda: mirrored(world, thread))
    assert message["author"]["username"] == "Ann"


async def _listing_has(world, text: str) -> bool:
    listing = await world.command("feed list")
    return any(
        text in f["value"] and "retrying" in f["value"] for e in listing.embeds for f in e["fields"]
    )


async def test_killed_mid_send_the_comment_is_shown_once_after_restart(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    await eventually(lambda: world.fake.channel(thread))
    stall = world.fake.stall("POST", r"/webhooks/\d+/[^/]+")
    blog.comment(post, "<p>Sent while crashing.</p>", author="Ann")
    await read_comments_now(world)
    await asyncio.wait_for(stall.reached.wait(), 5)
    await world.stop()
    stall.release.set()
    assert len(mirrored(world, thread)) == 1

    await world.restart()
    blog.comment(post, "<p>Later.</p>", author="Bob")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) >= 2)
    await settle()
    assert [m["author"]["username"] for m in mirrored(world, thread)] == ["Ann", "Bob"]


async def test_talk_in_the_thread_keeps_the_discussion_live(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    discussion = await world.store.discussion_by_thread(thread)
    before = discussion.last_activity_at
    await asyncio.sleep(0.01)
    world.fake.post_user_message(thread, "What do you all think?")
    await eventually(
        lambda: _activity_after(world, discussion.id, before), what="activity recorded"
    )


async def _activity_after(world, discussion_id: int, before: float) -> bool:
    found = await world.store.get_discussion(discussion_id)
    return found.last_activity_at > before


# =========================================================================== the service alone


@pytest.fixture
async def service(tmp_path):
    store = await Store.open(tmp_path / "s.sqlite3")
    async with create_session(allow_private=True) as session, LocalSite() as site:
        yield store, Fetcher(session), site
    await store.close()


async def _followed_posts(store: Store, blog: WPBlog, posts: list[WPPost], *, threads=True):
    """Store the blog's posts and a discussion for each (as the announcer's trigger does)."""
    feed = await store.add_feed(
        blog.feed_url,
        title="WP",
        site_url=blog.site.url("/"),
        etag=None,
        last_modified=None,
        body_hash=None,
        next_check_at=0,
    )
    sub = await store.add_subscription(feed.id, 1, 2, threads=threads)
    entries = [
        Entry(
            key=f"p{p.id}",
            title=p.title,
            link=blog.link(p),
            published_at=time.time(),
            comments_feed=blog.link(p) + "feed/",
            wp_id=p.id,
        )
        for p in posts
    ]
    ids = await store.store_entries(feed.id, entries, announce=True)
    for delivery in await store.due_deliveries(time.time()):
        await store.mark_delivered(delivery.id, 1000 + delivery.post_id)
        await store.set_delivery_thread(delivery.id, 2000 + delivery.post_id)
    return ids, sub


async def test_service_reads_each_due_post_with_one_request_and_discovers_rest_once(service):
    store, fetcher, site = service
    blog = WPBlog(site)
    posts = [blog.publish(f"Post {n}") for n in range(30)]
    for p in posts[:3]:
        blog.comment(p, "<p>hi</p>")
    ids, _ = await _followed_posts(store, blog, posts)
    watcher = CommentWatcher(store, fetcher)

    report = await watcher.poll_due()
    assert report.checked == 30 and report.new_comments == 3 and report.failed == 0
    assert report.requests == 30 + 2  # one per post, plus the site's REST discovery
    assert len(site.requests_for("/")) == 1
    # the discussions know they have comments to show
    waiting = [d for d in await store.due_mirrors(time.time() + 1, 0, 100)]
    with_items = [d.post_id for d in waiting if await store.mirror_items(d.id)]
    assert sorted(with_items) == sorted(ids[:3])

    # not due again before their time; made due, unchanged posts cost one request each
    assert (await watcher.poll_due()).checked == 0
    await store.schedule_comment_checks(0)
    again = await watcher.poll_due()
    assert (again.checked, again.unchanged, again.requests) == (30, 30, 30)


async def test_service_keeps_a_reply_parent_and_survives_a_broken_post(service):
    store, fetcher, site = service
    blog = WPBlog(site)
    good, broken = blog.publish("Good"), blog.publish("Broken")
    a = blog.comment(good, "<p>a</p>", author="A")
    blog.comment(good, "<p>b</p>", author="B", parent=a)
    ids, _ = await _followed_posts(store, blog, [good, broken])
    site.route(f"/{broken.id}/feed/", "not a feed", status=500)
    blog.rest = "off"
    watcher = CommentWatcher(store, fetcher)
    report = await watcher.poll_due()
    assert (report.checked, report.failed, report.new_comments) == (2, 1, 2)
    stored = await store.post_comments(ids[0])
    assert [(s.comment.author, s.comment.parent_id) for s in stored] == [("A", None), ("B", a.id)]
    watch = await store.get_comment_watch(ids[1])
    assert watch.failure_count == 1


async def test_service_retires_posts_whose_discussions_are_no_longer_live(service):
    store, fetcher, site = service
    blog = WPBlog(site)
    ids, _ = await _followed_posts(store, blog, [blog.publish("Quiet")])
    watcher = CommentWatcher(store, fetcher, live_days=-1)  # everything is already too old
    report = await watcher.poll_due()
    assert (report.retired, report.checked, report.requests) == (1, 0, 0)
    await store.schedule_comment_checks(0)  # only followed posts are made due
    assert (await watcher.poll_due()).retired == 0
    # talk in its thread wakes it up
    assert await store.touch_thread(2000 + ids[0], time.time())
    assert (await store.get_comment_watch(ids[0])) is not None
    assert (await CommentWatcher(store, fetcher).poll_due()).checked == 1


async def test_service_reads_comment_feeds_whole_now_and_then_to_see_edits(service):
    store, fetcher, site = service
    blog = WPBlog(site, rest="off")
    post = blog.publish("Feed only")
    c = blog.comment(post, "<p>Frist</p>", author="Ann")
    ids, _ = await _followed_posts(store, blog, [post])
    feed = f"/{post.id}/feed/"
    assert (await CommentWatcher(store, fetcher).poll_due()).new_comments == 1

    c.html = "<p>First (edited)</p>"  # WordPress's Last-Modified does not move on an edit
    await store.schedule_comment_checks(0)
    soon = await CommentWatcher(store, fetcher).poll_due()
    assert site.requests_for(feed)[-1].headers.get("If-None-Match")
    assert (soon.unchanged, soon.edited_comments) == (1, 0)  # a 304 hides the edit ...

    await store.schedule_comment_checks(0)
    later = await CommentWatcher(store, fetcher, full_every=0).poll_due()  # ... until read whole
    assert "If-None-Match" not in site.requests_for(feed)[-1].headers
    assert later.edited_comments == 1
    [stored] = await store.post_comments(ids[0])
    assert "edited" in stored.comment.content_html


def test_fresh_validators_are_not_trusted():
    now = 1_800_000_000.0
    assert trustworthy_validators(formatdate(now - 60, usegmt=True), now)
    assert not trustworthy_validators(formatdate(now, usegmt=True), now)
    assert not trustworthy_validators("yesterday-ish", now)
    assert trustworthy_validators(None, now)


async def test_announcements_sent_before_the_upgrade_keep_their_threads(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for number, _, sql in _migrations():
        if number <= 2:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.executescript(
        "INSERT INTO feeds(id, url, created_at) VALUES (1, 'http://blog.test/feed/', 0);"
        "INSERT INTO subscriptions(id, feed_id, guild_id, channel_id, created_at)"
        " VALUES (1, 1, 10, 20, 0);"
        "INSERT INTO posts(id, feed_id, entry_key, discovered_at)"
        " VALUES (1, 1, 'a', 0), (2, 1, 'b', 0);"
        "INSERT INTO deliveries(post_id, subscription_id, state, nonce, message_id, thread_id,"
        " created_at, sent_at) VALUES (1, 1, 'sent', 'n1', 500, 500, 0, 0),"
        " (2, 1, 'sent', 'n2', 600, NULL, 0, 0);"
    )
    conn.close()
    store = await Store.open(path)
    try:
        [discussion] = await store.post_discussions(1)
        assert (discussion.thread_id, discussion.state) == (500, "open")
        assert await store.post_discussions(2) == []
        assert await store.get_comment_watch(1) is not None
    finally:
        await store.close()


def test_checks_slow_down_with_age():
    hour, day = 3600, 86400
    steps = [check_interval(age) for age in (0, hour, day, 3 * day, 7 * day, 14 * day)]
    assert steps == sorted(steps) and steps[0] == 300 and 4 * hour < steps[-1] <= 6 * hour
    assert check_interval(60 * day) == 6 * hour
    assert check_interval(day) < 1800


def test_rendering_fixture_comments():
    cases = json.loads((FIXTURES / "hostile-comments.json").read_text(encoding="utf-8"))
    for case in cases:
        comment = Comment(
            id=case["id"],
            post_wp_id=1,
            parent_id=case.get("parent"),
            author=case["author"],
            author_url=case.get("author_url"),
            avatar_url=None,
            published_at=T0,
            content_html=case["html"],
            link=f"https://blog.test/p/#comment-{case['id']}",
        )
        rendered = render_comment(comment, parent_author=case.get("parent_author"))
        content = rendered.as_content()
        description = rendered.as_description()
        assert len(content) <= 2000 and len(description) <= 4096, case["why"]
        for text in (content, description, rendered.author, rendered.username):
            assert "@everyone" not in text and "@here" not in text, case["why"]
            assert not MENTION.search(text), case["why"]
        assert content.endswith(f"<t:{T0}:f>"), case["why"]
        assert 1 <= len(rendered.username) <= 80, case["why"]
        for word in ("discord", "clyde"):
            assert word not in rendered.username.lower(), case["why"]
        for expected in case.get("expect", []):
            assert expected in content, case["why"]


def test_webhook_usernames():
    assert webhook_username("Ann") == "Ann"
    assert webhook_username("  ") == "Anonymous"
    assert webhook_username("everyone") == "everyone (comment)"
    assert len(webhook_username("x" * 200)) == 80
