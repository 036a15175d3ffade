"""`/feed import` end to end: an OPML file attached to the command in the fake Discord, blogs
on 127.0.0.1, the real bot and store."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.models import Outline
from bot.opml import write_opml
from tests.fakediscord import ChannelType
from tests.harness import MEMBER, eventually, settle


async def finished(result, what: str = "Followed ") -> str:
    await eventually(lambda: what in (result.content or ""), within=30, what=what)
    return result.content


async def test_fifty_feeds_by_category_skip_followed_and_announce_only_new_posts(gazette_world):
    world = gazette_world
    tech = world.fake.add_channel(world.guild, "tech", type=ChannelType.TEXT)
    cooking = world.fake.add_channel(world.guild, "cooking-notes", type=ChannelType.TEXT)
    blogs = [world.blog(f"Blog {n}", prefix=f"/b{n}") for n in range(50)]
    for blog in blogs:
        blog.publish("Already there")
        blog.publish("Also already there")
    categories = ["Tech"] * 25 + ["Cooking Notes"] * 15 + ["Nowhere *bold*"] * 10
    outlines = [Outline(b.feed_url, b.title, c) for b, c in zip(blogs, categories, strict=True)]
    outlines.append(outlines[0])  # a list may repeat a feed
    opml = world.fake.upload("feeds.opml", write_opml(outlines))
    await world.start()
    await world.command("feed add", {"url": blogs[0].feed_url, "channel": tech})

    result = await world.command(
        "feed import",
        {"file": opml, "channel": world.text, "by_category": True},
        timeout=30,
    )
    assert result.deferred and result.ephemeral
    answer = await finished(result)
    assert "Followed 49 of the 50 feeds" in answer
    assert "1 skipped (already followed in their channel), 0 failed" in answer
    assert "existing posts were stored in the archive without announcing them" in answer
    # the category no channel is named after, escaped, and where its feeds went
    assert f"their feeds went to <#{world.text}>: Nowhere \\*bold\\*" in answer

    subs = await world.store.guild_subscriptions(world.guild)
    where = {s.feed_url: s.channel_id for s in subs}
    assert len(subs) == 50
    assert [where[b.feed_url] for b in blogs] == [tech] * 25 + [cooking] * 15 + [world.text] * 10
    assert await world.store._value("SELECT count(*) FROM posts") == 100

    await finished(result, "History imported: 49 of 49 feeds")
    await settle()
    assert world.announcements(tech) == world.announcements(cooking) == []
    assert world.announcements() == []

    blogs[30].publish("Fresh from the kitchen")
    await world.poll_now()
    [message] = await eventually(lambda: world.announcements(cooking), what="the announcement")
    assert message["embeds"][0]["title"] == "Fresh from the kitchen"
    assert world.announcements(tech) == world.announcements() == []

    again = await world.command(
        "feed import", {"file": opml, "channel": world.text, "by_category": True}
    )
    assert "Followed 0 of the 50 feeds in the file; 50 skipped" in await finished(again)


async def test_hostile_lists_are_refused_with_a_clear_message(gazette_world):
    world = gazette_world
    world.allow_private = False
    world.allow_hosts = ("127.0.0.1",)  # the blog on loopback; other private addresses refused
    blog = world.blog()
    blog.publish("A post")
    await world.start()

    bomb = world.fake.upload(
        "bomb.opml",
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><opml><body>'
        b'<outline text="&b;" xmlUrl="https://a.example/"/></body></opml>',
    )
    result = await world.command("feed import", {"file": bomb, "channel": world.text})
    assert "declares XML entities, which Gazette refuses" in result.content

    big = world.fake.upload("big.opml", b"<opml>" + b" " * (1024 * 1024) + b"</opml>")
    result = await world.command("feed import", {"file": big, "channel": world.text})
    assert "over 1,024 KB" in result.content

    outlines_2001 = b"<opml><body>" + b"<outline/>" * 2001 + b"</body></opml>"
    many = world.fake.upload("many.opml", outlines_2001)
    result = await world.command("feed import", {"file": many, "channel": world.text})
    assert "more than 2,000 outlines" in result.content

    outlines = [
        Outline("javascript:alert(document.cookie)", "@everyone **Evil** <@&1>"),
        Outline("http://10.0.0.1/feed/", "Inside"),
        Outline("http://169.254.169.254/latest/meta-data/", "Metadata"),
        Outline(blog.feed_url, "Fine"),
    ]
    mixed = world.fake.upload("mixed.opml", write_opml(outlines))
    result = await world.command("feed import", {"file": mixed, "channel": world.text})
    answer = await finished(result)
    assert "Followed 1 of the 4 feeds" in answer and "3 failed" in answer
    assert "not http(s)" in answer
    assert "10.0.0.1 is a private address" in answer and "169.254.169.254" in answer
    assert "@everyone" not in answer.replace("@\u200beveryone", "")  # neutralised
    assert "\\*\\*Evil\\*\\*" in answer
    subs = await world.store.guild_subscriptions(world.guild)
    assert [s.feed_url for s in subs] == [blog.feed_url]


async def test_only_managers_may_import(gazette_world):
    world = gazette_world
    await world.start()
    opml = world.fake.upload("feeds.opml", write_opml([Outline("https://a.example/feed/", "A")]))
    result = await world.command(
        "feed import",
        {"file": opml, "channel": world.text},
        user_permissions=int(MEMBER),
        check_default_permissions=False,
    )
    assert "Manage Server" in result.content
    assert await world.store.guild_subscriptions(world.guild) == []


async def test_a_feed_whose_history_an_import_is_reading_is_not_backfilled_twice(gazette_world):
    world = gazette_world
    blog = world.blog("Long history", prefix="/long")
    for n in range(15):
        blog.publish(f"Post {n}")
    release = asyncio.Event()
    older_pages: list[str] = []

    async def feed(request: web.Request) -> web.Response:
        if request.query.get("paged", "1") != "1":
            older_pages.append(request.query["paged"])
            await release.wait()  # the history import is still reading
        body = blog.rss(int(request.query.get("paged", "1")))
        return web.Response(text=body, content_type="application/rss+xml", charset="utf-8")

    blog.site.route("/long/feed/", handler=feed)
    opml = world.fake.upload("one.opml", write_opml([Outline(blog.feed_url, blog.title, "")]))
    await world.start()
    result = await world.command("feed import", {"file": opml, "channel": world.text})
    await finished(result)
    await eventually(lambda: older_pages == ["2"], what="the import reading older pages")

    again = await world.command("feed backfill", {"feed": blog.feed_url})
    assert again.ephemeral
    assert "already being imported" in again.content
    release.set()
    await finished(result, "History imported: 1 of 1 feeds")
    assert len(older_pages) == len(set(older_pages))  # each page read once, by the import
