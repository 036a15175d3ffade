"""Servers are isolated, and what comes from outside is escaped, over the wire.

One server can neither slow nor force the checks of a feed another server follows; inside a
server, `/archive` and `/discuss` only show the posts of feeds announced in channels the
member can view; a thread a moderator deleted stays deleted (see test_discussion_threads_wire.py);
blog text is escaped and cut in notices, results and `/feed list`, which pages.
"""

from __future__ import annotations

import copy
import re
import sqlite3
import sys
import time

from bot.models import Entry, FeedCheck
from bot.store import Store
from bot.store.base import _migrations
from tests.fakediscord import Perm
from tests.harness import button, eventually, settle

EVIL_LINK = "[click](https://evil.example/)"
MASKED_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")  # an unescaped [text](
STAFF_VIEW = Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES | Perm.EMBED_LINKS


def embed_size(embed: dict) -> int:
    fields = embed.get("fields", [])
    return (
        len(embed.get("title") or "")
        + len(embed.get("description") or "")
        + len((embed.get("footer") or {}).get("text") or "")
        + len((embed.get("author") or {}).get("name") or "")
        + sum(len(f["name"]) + len(f["value"]) for f in fields)
    )


def within_limits(embed: dict) -> bool:
    fields = embed.get("fields", [])
    return (
        embed_size(embed) <= 6000
        and len(fields) <= 25
        and all(1 <= len(f["name"]) <= 256 and 1 <= len(f["value"]) <= 1024 for f in fields)
    )


async def imported(result) -> None:
    await eventually(lambda: "History imported" in (result.content or ""), what="the backfill")


# =========================================================================== check intervals


async def test_one_server_cannot_slow_another_servers_feed(gazette_world):
    world = gazette_world
    other = world.fake.add_guild("Elsewhere")
    other_channel = world.fake.add_channel(other, "general")
    blog = world.blog()
    blog.publish("A post")
    world.global_commands = True
    await world.start()
    await imported(await world.command("feed add", {"url": blog.feed_url, "channel": world.text}))
    slow = await world.fake.invoke(
        other, other_channel, "feed add", {"url": blog.feed_url, "channel": other_channel}
    )
    await imported(slow)
    [theirs] = await world.store.guild_subscriptions(other)
    await world.fake.invoke(
        other, other_channel, "feed edit", {"feed": str(theirs.id), "interval": 1440}
    )
    [sub] = await world.store.guild_subscriptions(world.guild)

    # a check made now is followed by the next one a POLL_INTERVAL (60 s) later, not a day
    checked = (await world.store.get_feed(sub.feed_id)).last_checked_at
    await world.store._write("UPDATE feeds SET next_check_at = 0 WHERE id = ?", (sub.feed_id,))
    feed = await eventually(
        lambda: _checked_after(world, sub.feed_id, checked), what="a check of the feed"
    )
    assert feed.next_check_at < time.time() + 70

    # each server sees its own interval
    mine = await world.command("feed list")
    assert "Checked every 1 min" in mine.embeds[0]["fields"][0]["value"]
    theirs = await world.fake.invoke(other, other_channel, "feed list", {})
    assert "Checked every 1 day" in theirs.embeds[0]["fields"][0]["value"]

    # once the eager server leaves, the feed follows the one that is left
    await world.command("feed remove", {"feed": str(sub.id)})
    assert (await world.store.get_feed(sub.feed_id)).poll_interval == 86400


async def _checked_after(world, feed_id: int, when: float | None):
    feed = await world.store.get_feed(feed_id)
    return feed if (feed.last_checked_at or 0) > (when or 0) else None


async def test_a_shorter_interval_asked_later_brings_the_next_check_forward(gazette_world):
    world = gazette_world
    blog = world.blog()
    blog.publish("A post")
    other_channel = world.fake.add_channel(world.guild, "second")
    await world.start()
    await imported(
        await world.command(
            "feed add", {"url": blog.feed_url, "channel": world.text, "interval": 1440}
        )
    )
    [sub] = await world.store.guild_subscriptions(world.guild)
    feed = await world.store.get_feed(sub.feed_id)
    await world.store.record_checks([FeedCheck(feed.id, next_check_at=time.time() + 86400)])

    await imported(
        await world.command(
            "feed add", {"url": blog.feed_url, "channel": other_channel, "interval": 5}
        )
    )
    feed = await world.store.get_feed(sub.feed_id)
    assert feed.poll_interval == 300 and feed.next_check_at <= time.time() + 300


async def test_forced_checks_are_rate_limited_whoever_asks(gazette_world):
    world = gazette_world
    other = world.fake.add_guild("Elsewhere")
    other_channel = world.fake.add_channel(other, "general")
    blog = world.blog()
    blog.publish("A post")
    world.global_commands = True
    await world.start()
    await imported(await world.command("feed add", {"url": blog.feed_url, "channel": world.text}))
    await imported(
        await world.fake.invoke(
            other, other_channel, "feed add", {"url": blog.feed_url, "channel": other_channel}
        )
    )
    await settle()
    [mine] = await world.store.guild_subscriptions(world.guild)
    [theirs] = await world.store.guild_subscriptions(other)

    before = len(world.site.requests_for("/feed/"))
    first = await world.command("feed edit", {"feed": str(mine.id)})
    assert "checked now" in first.content
    await eventually(lambda: len(world.site.requests_for("/feed/")) > before, what="the check")

    count = len(world.site.requests_for("/feed/"))
    for invoke in (
        lambda: world.fake.invoke(other, other_channel, "feed edit", {"feed": str(theirs.id)}),
        lambda: world.command("feed edit", {"feed": str(mine.id)}),
    ):
        again = await invoke()
        assert "Updated" in again.content and "not checked at once" in again.content
    await settle()
    assert len(world.site.requests_for("/feed/")) == count


async def test_the_upgrade_gives_each_subscription_its_feeds_interval(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for number, _, sql in _migrations():
        if number <= 3:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.executescript(
        "INSERT INTO feeds(id, url, poll_interval, created_at) VALUES"
        " (1, 'http://a.test/feed/', 3600, 0), (2, 'http://b.test/feed/', NULL, 0);"
        "INSERT INTO subscriptions(id, feed_id, guild_id, channel_id, created_at) VALUES"
        " (1, 1, 10, 20, 0), (2, 1, 11, 21, 0), (3, 2, 10, 22, 0);"
    )
    conn.close()
    store = await Store.open(path)
    try:
        assert [s.poll_interval for s in await store.guild_subscriptions(10)] == [3600, None]
        assert [s.poll_interval for s in await store.guild_subscriptions(11)] == [3600]
        await store.refresh_poll_interval(300)
        assert (await store.get_feed(1)).poll_interval == 3600
        assert (await store.get_feed(2)).poll_interval is None
    finally:
        await store.close()


# =========================================================================== visibility


async def staff_world(world):
    """The server gets a #staff channel only the Staff role can view, where a blog of staff
    memos is announced; a public blog is announced in #blog."""
    staff_role = world.fake.add_role(world.guild, "Staff")
    staff = world.fake.add_channel(world.guild, "staff")
    world.fake.set_overwrite(staff, world.guild, deny=Perm.VIEW_CHANNEL)
    world.fake.set_overwrite(staff, staff_role, allow=Perm.VIEW_CHANNEL)
    world.fake.set_bot_overwrite(staff, allow=STAFF_VIEW | Perm.READ_MESSAGE_HISTORY)
    public = world.blog("Garden Club", prefix="/garden")
    public.publish("Tomatoes in the sun", author="Ann Public", categories=["Open"])
    memos = world.blog("Staff Memos", prefix="/memos")
    for n in range(5):
        memos.publish(f"Salary review {n} and tomatoes", author="Bob Boss", categories=["Secret"])
    await world.start()
    await imported(await world.command("feed add", {"url": public.feed_url, "channel": world.text}))
    await imported(await world.command("feed add", {"url": memos.feed_url, "channel": staff}))
    return staff, staff_role, memos


async def test_a_staff_only_feed_is_found_only_by_those_who_can_view_its_channel(gazette_world):
    world = gazette_world
    staff, staff_role, memos = await staff_world(world)
    member = world.fake.add_user("reader")
    boss = world.fake.add_user("boss")
    as_member = {"user_id": member}
    as_staff = {"user_id": boss, "roles": [staff_role]}

    async def search(who, query="tomatoes"):
        result = await world.command("archive search", {"query": query}, **who)
        return [e["title"] for e in result.messages[-1].get("embeds", [])]

    assert await search(as_member) == ["1. Tomatoes in the sun"]
    assert len(await search(as_staff)) == 5  # a page of five, the staff memos among them
    assert any("Salary" in t for t in await search(as_staff))
    nothing = await world.command("archive search", {"query": "salary"}, **as_member)
    assert "No results" in nothing.messages[-1]["content"]

    async def complete(option, command="archive search", **who):
        return [
            c["name"]
            for c in await world.fake.autocomplete(
                world.guild, world.text, command, option=option, value="", **who
            )
        ]

    assert await complete("author", **as_member) == ["Ann Public"]
    assert "Bob Boss" in await complete("author", **as_staff)
    assert await complete("category", **as_member) == ["Open"]
    assert await complete("article", "archive post", **as_member) == ["Tomatoes in the sun"]
    assert await complete("article", "discuss", **as_member) == ["Tomatoes in the sun"]
    assert len(await complete("article", "discuss", **as_staff)) == 6

    latest = await world.command("archive latest", {"count": 10}, **as_member)
    assert [e["title"] for e in latest.embeds] == ["1. Tomatoes in the sun"]
    for _ in range(8):  # five memos for one public post: a leak would show at once
        picked = await world.command("archive random", **as_member)
        assert picked.embeds[0]["title"] == "Tomatoes in the sun"

    [memo_sub] = [
        s for s in await world.store.guild_subscriptions(world.guild) if s.channel_id == staff
    ]
    memo = await world.store.latest_post(memo_sub.feed_id)
    read = await world.command("archive post", {"article": str(memo.id)}, **as_member)
    assert "No such article" in read.content
    opened = await world.command("discuss", {"article": str(memo.id)}, **as_member)
    assert "No such article" in opened.content
    assert world.fake.threads(staff) == [] and world.fake.threads(world.text) == []
    staff_read = await world.command("archive post", {"article": str(memo.id)}, **as_staff)
    assert staff_read.embeds[0]["title"] == memo.title

    # the same blog announced in a public channel too: visible through that one
    await imported(await world.command("feed add", {"url": memos.feed_url, "channel": world.text}))
    assert any("Salary" in t for t in await search(as_member, "salary"))


async def test_the_owner_and_administrators_find_every_channels_feed(gazette_world):
    """They view every channel (viewable_channels answers them without a check per channel)."""
    world = gazette_world
    await staff_world(world)
    admin_role = world.fake.add_role(world.guild, "Admins", permissions=Perm.ADMINISTRATOR)
    admin = world.fake.add_user("admin")
    for who in ({}, {"user_id": admin, "roles": [admin_role]}):
        result = await world.command("archive search", {"query": "salary"}, **who)
        assert len(result.messages[-1]["embeds"]) == 5, who
    reader = world.fake.add_user("reader")
    nothing = await world.command("archive search", {"query": "salary"}, user_id=reader)
    assert "No results" in nothing.messages[-1]["content"]


async def test_a_member_who_sees_no_feed_channel_is_told_so(gazette_world):
    world = gazette_world
    await staff_world(world)
    [garden] = [
        s for s in await world.store.guild_subscriptions(world.guild) if s.channel_id == world.text
    ]
    await world.command("feed remove", {"feed": str(garden.id)})
    member = world.fake.add_user("reader")
    result = await world.command("archive search", {"query": "tomatoes"}, user_id=member)
    assert "channels you cannot view" in result.messages[-1]["content"]
    latest = await world.command("archive latest", user_id=member)
    assert latest.ephemeral and "channels you cannot view" in latest.content


async def test_a_hidden_forums_feed_shows_once_the_member_may_view_the_forum(gazette_world):
    world = gazette_world
    world.fake.set_overwrite(world.forum, world.guild, deny=Perm.VIEW_CHANNEL)
    world.fake.set_bot_overwrite(world.forum, allow=STAFF_VIEW)
    blog = world.blog("Forum Notes", prefix="/forum")
    blog.publish("Hidden pancakes")
    await world.start()
    await imported(await world.command("feed add", {"url": blog.feed_url, "channel": world.forum}))
    member = world.fake.add_user("reader")

    async def search():
        result = await world.command("archive search", {"query": "pancakes"}, user_id=member)
        return result.messages[-1]

    assert "channels you cannot view" in (await search())["content"]
    world.fake.set_overwrite(world.forum, world.guild)  # the forum opens to everyone
    await eventually(
        lambda: _has_result(search(), "Hidden pancakes"), what="the post, once the forum opens"
    )


async def _has_result(answer, title: str) -> bool:
    return any(title in e["title"] for e in (await answer).get("embeds", []))


async def test_share_never_posts_a_staff_article_where_others_can_read_it(gazette_world):
    world = gazette_world
    staff, staff_role, memos = await staff_world(world)
    boss = world.fake.add_user("boss")

    public_search = await world.command(
        "archive search", {"query": "salary"}, user_id=boss, roles=[staff_role]
    )
    message = public_search.messages[-1]
    refused = await world.fake.click(
        public_search, button(message, "Share 1")["custom_id"], user_id=boss, roles=[staff_role]
    )
    assert refused.ephemeral and "not everyone here can view" in refused.content
    assert not [m for m in world.fake.messages(world.text) if "shared" in (m["content"] or "")]

    staff_search = await world.command(
        "archive search", {"query": "salary"}, user_id=boss, roles=[staff_role], channel=staff
    )
    shared = await world.fake.click(
        staff_search,
        button(staff_search.messages[-1], "Share 1")["custom_id"],
        user_id=boss,
        roles=[staff_role],
    )
    assert shared.ephemeral and "Shared" in shared.content
    [posted] = [m for m in world.fake.messages(staff) if "shared" in (m["content"] or "")]
    assert "Salary review" in posted["embeds"][0]["title"]


# =========================================================================== escaping


async def test_blog_text_in_results_and_shares_is_escaped(gazette_world):
    world = gazette_world
    blog = world.blog("Tricky")
    blog.publish(
        "Tomatoes **loud** @everyone",
        author=f"Mallory {EVIL_LINK} @everyone",
        categories=[f"<@&{world.role}>", "_under_ `code`", EVIL_LINK],
    )
    await world.start()
    await imported(await world.command("feed add", {"url": blog.feed_url, "channel": world.text}))
    result = await world.command("archive search", {"query": "tomatoes"})
    [embed] = result.messages[-1]["embeds"]
    byline = embed["fields"][0]["value"]
    assert "Mallory" in byline and "\\[click\\]" in byline
    assert not MASKED_LINK.search(byline) and "@everyone" not in byline
    assert f"<@&{world.role}>" not in byline and "\\_under\\_" in byline
    assert "\\*\\*loud\\*\\*" in embed["title"]

    await world.fake.click(result, button(result.messages[-1], "Share 1")["custom_id"])
    [posted] = [m for m in world.fake.messages(world.text) if "shared" in (m["content"] or "")]
    assert posted["embeds"][0]["fields"][0]["value"] == byline
    assert posted["mentions"] == [] and posted["mention_roles"] == []


async def test_failing_feed_notice_quotes_the_error_escaped_and_cut(gazette_world):
    world = gazette_world
    blog = world.blog("Broken Blog")
    blog.publish("Before")
    await world.start()
    await imported(await world.command("feed add", {"url": blog.feed_url, "channel": world.text}))
    # the encoding a blog declares ends up in the error text: a masked link, 100 KB long
    encoding = EVIL_LINK + "x" * 100_000
    world.site.route(
        "/feed/",
        f'<?xml version="1.0" encoding="{encoding}"?><foo>bar</foo>',
        content_type="text/xml",
    )

    def notices():
        return [m["content"] for m in world.fake.messages(world.text) if not m.get("embeds")]

    for _ in range(4):
        before = len(world.site.requests_for("/feed/"))
        await world.poll_now()
        await eventually(lambda b=before: len(world.site.requests_for("/feed/")) > b)
        await settle(0.3)
    [notice] = await eventually(notices, what="the failing-feed notice")
    assert "could not be read" in notice and len(notice) <= 2000
    assert not MASKED_LINK.search(notice) and "\\[click\\]" in notice

    listing = await world.command("feed list")
    value = listing.embeds[0]["fields"][0]["value"]
    assert "Feed error" in value and not MASKED_LINK.search(value)


async def follow_many(world, count: int) -> None:
    """`count` feeds with long hostile titles and errors, a third with an undelivered post;
    written before the bot starts (nothing is fetched or sent)."""
    store = await Store.open(world.db_path)  # filled before the bot runs: nothing is sent
    later = time.time() + 10**6  # never due: nothing fetches these
    title = f"**Loud** {EVIL_LINK} @everyone <@&{world.role}> " + "Word " * 300
    error = f"encoding {EVIL_LINK} " + "x" * 100_000
    for n in range(count):
        feed = await store.add_feed(
            world.site.url(f"/blog{n}/feed/?{'q' * 1800}"),
            title=f"{n:02d} {title}",
            site_url=None,
            etag=None,
            last_modified=None,
            body_hash=None,
            next_check_at=later,
        )
        sub = await store.add_subscription(feed.id, world.guild, world.text)
        await store.record_checks([FeedCheck(feed.id, next_check_at=later, error=error)])
        if n % 3 == 0:  # an undelivered post, refused with a long reason
            await store.store_entries(feed.id, [Entry(key="k", title="Post")], announce=True)
            [delivery] = [
                d for d in await store.due_deliveries(later) if d.subscription_id == sub.id
            ]
            await store.mark_delivery_failed(delivery.id, error, next_attempt_at=later)
    await store.close()
    await world.start()


async def test_feed_list_pages_sixty_feeds_with_long_titles_and_errors(gazette_world):
    world = gazette_world
    await follow_many(world, 60)
    listing = await world.command("feed list")
    assert listing.ephemeral
    pages = [copy.deepcopy(listing.messages[-1])]  # the message is edited in place
    stranger = world.fake.add_user("stranger")
    refused = await world.fake.click(
        listing, button(pages[0], "Next ▶")["custom_id"], user_id=stranger
    )
    assert refused.ephemeral and "someone else" in refused.content
    assert button(pages[0], "◀ Previous").get("disabled")
    turned = listing
    while not button(pages[-1], "Next ▶").get("disabled"):
        turned = await world.fake.click(turned, button(pages[-1], "Next ▶")["custom_id"])
        pages.append(copy.deepcopy(turned.message))
        assert len(pages) <= 60

    embeds = [page["embeds"][0] for page in pages]
    assert all(within_limits(e) for e in embeds)
    assert f"Page 1 of {len(pages)}" in embeds[0]["footer"]["text"]
    names = [f["name"] for e in embeds for f in e["fields"]]
    assert [name[:2] for name in names] == [f"{n:02d}" for n in range(60)]
    values = [f["value"] for e in embeds for f in e["fields"]]
    assert all("Feed error" in v for v in values)
    assert sum("not delivered yet" in v for v in values) == 20
    for text in names + values:
        assert not MASKED_LINK.search(text) and "@everyone" not in text
        assert f"<@&{world.role}>" not in text or "mentions" in text


async def test_feed_list_buttons_disable_themselves_on_timeout(gazette_world, monkeypatch):
    world = gazette_world
    await follow_many(world, 15)
    monkeypatch.setattr(sys.modules["cogs.common.pages"], "VIEW_TIMEOUT", 0.3)
    listing = await world.command("feed list")
    assert not button(listing.messages[-1], "Next ▶").get("disabled")

    def disabled():
        message = world.fake.message(int(listing.messages[-1]["id"]))
        return button(message, "Next ▶").get("disabled")

    await eventually(disabled, what="buttons disabled after the timeout")


async def test_feed_add_quotes_the_reason_escaped_and_cut(gazette_world):
    world = gazette_world
    encoding = EVIL_LINK + "x" * 100_000
    world.site.route(
        "/bad/feed/",
        f'<?xml version="1.0" encoding="{encoding}"?><foo>bar</foo>',
        content_type="text/xml",
    )
    await world.start()
    url = world.site.url(f"/bad/feed/?{EVIL_LINK}")
    url += "q" * (2000 - len(url))  # as long as the option allows
    result = await world.command("feed add", {"url": url, "channel": world.text})
    assert result.ephemeral and "not a feed" in result.content and len(result.content) <= 2000
    assert not MASKED_LINK.search(result.content)
    assert await world.store.guild_subscriptions(world.guild) == []
