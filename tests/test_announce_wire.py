"""Announcements end to end: real discord.py against the fake Discord, a blog on loopback."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.blog import Blog
from tests.harness import MEMBER, eventually, settle


async def test_add_feed_stores_without_flooding_then_announces_new_post_once(gazette_world):
    world = gazette_world
    blog = world.blog()
    for n in range(3):
        blog.publish(f"Old post {n}")
    await world.start()

    result = await world.command("feed add", {"url": blog.home_url, "channel": world.text})
    assert result.deferred and result.ephemeral
    answer = result.messages[-1]["content"]
    assert "The Test Blog" in answer and blog.feed_url in answer and "3 existing posts" in answer
    await settle()
    assert world.announcements() == []

    post = blog.publish(
        "Fresh news",
        "<p>First paragraph with <b>bold</b> words.</p>",
        image="https://img.test/a.png",
        categories=["News", "Travel"],
    )
    await world.poll_now()
    [message] = await eventually(world.announcements, what="the announcement")
    embed = message["embeds"][0]
    assert embed["title"] == "Fresh news"
    assert embed["url"] == blog.link(post)
    assert embed["author"]["name"] == "Ada Writer"
    assert "**bold**" in embed["description"]
    assert embed["image"]["url"] == "https://img.test/a.png"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert f"<t:{int(post.published)}:" in fields["Published"]
    assert "News" in fields["Categories"] and "Travel" in fields["Categories"]
    request = world.fake.message_request(int(message["id"]))
    assert request["allowed_mentions"]["parse"] == []

    # a restart does not announce anything again
    await world.restart()
    await world.poll_now()
    await settle()
    assert len(world.announcements()) == 1


async def test_edited_and_redated_post_is_not_announced_again(gazette_world):
    world = gazette_world
    blog = world.blog()
    blog.publish("Existing")
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    post = blog.publish("New one")
    await world.poll_now()
    await eventually(world.announcements)

    post.title, post.html, post.published = (
        "New one (updated)",
        "<p>Edited</p>",
        post.published + 86400,
    )
    blog.serve()
    await world.poll_now()
    await settle()
    # never announced again: its announcement follows the edit (tests/test_edits_wire.py)
    [message] = world.announcements()
    await eventually(lambda: message["embeds"][0]["title"] == "New one (updated)")


async def test_mentions_in_posts_ping_nobody_but_the_chosen_role(gazette_world):
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command(
        "feed add", {"url": blog.feed_url, "channel": world.text, "mention": world.role}
    )
    blog.publish(
        f"@everyone look <@&{world.role}> <@123>",
        "<p>@here and @everyone and <@&99> inside</p>",
        author="@everyone",
    )
    await world.poll_now()
    [message] = await eventually(world.announcements)
    assert message["content"] == f"<@&{world.role}>"
    request = world.fake.message_request(int(message["id"]))
    assert request["allowed_mentions"]["parse"] == []
    assert request["allowed_mentions"]["roles"] == [str(world.role)] or request["allowed_mentions"][
        "roles"
    ] == [world.role]
    assert message["mention_everyone"] is False
    embed = message["embeds"][0]
    for text in (embed["title"], embed["description"], embed["author"]["name"]):
        assert "@everyone" not in text and "@here" not in text


async def test_member_without_manage_server_cannot_use_feed(gazette_world):
    world = gazette_world
    await world.start()
    member = world.fake.add_user("reader")
    result = await world.command(
        "feed list", user_id=member, user_permissions=MEMBER, check_default_permissions=False
    )
    assert result.ephemeral and "Manage Server" in result.content
    # and the command is registered as hidden from such members
    [feed] = [c for c in world.fake.commands(world.guild) if c["name"] == "feed"]
    assert int(feed["default_member_permissions"]) & (1 << 5)


async def test_servers_see_and_remove_only_their_own_feeds(gazette_world):
    world = gazette_world
    other_guild = world.fake.add_guild("Elsewhere")
    other_channel = world.fake.add_channel(other_guild, "general")
    blog = world.blog()
    blog.publish("A post")
    world.global_commands = True
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})

    listing = await world.fake.invoke(other_guild, other_channel, "feed list", {})
    assert "follows no feeds" in listing.content
    choices = await world.fake.autocomplete(
        other_guild, other_channel, "feed remove", option="feed", value=""
    )
    assert choices == []
    [sub] = await world.store.guild_subscriptions(world.guild)
    removal = await world.fake.invoke(
        other_guild, other_channel, "feed remove", {"feed": str(sub.id)}
    )
    assert removal.ephemeral and "No such feed" in removal.content
    assert await world.store.guild_subscriptions(world.guild) != []


async def test_not_a_feed_gets_a_clear_answer(gazette_world):
    world = gazette_world
    world.site.route("/page", "<html><body>Just a page</body></html>", content_type="text/html")
    await world.start()
    result = await world.command(
        "feed add", {"url": world.site.url("/page"), "channel": world.text}
    )
    text = result.messages[-1]["content"]
    assert "not a feed" in text
    assert "Traceback" not in text


async def test_private_feed_refused_unless_allowed(gazette_world):
    world = gazette_world
    world.allow_private = False
    blog = world.blog()
    blog.publish("Internal")
    await world.start()
    result = await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    assert "private address" in result.messages[-1]["content"]
    assert await world.store.guild_subscriptions(world.guild) == []


async def test_announcement_channel_messages_are_published(gazette_world):
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.news})
    blog.publish("Big news")
    await world.poll_now()
    [message] = await eventually(lambda: world.announcements(world.news))
    await eventually(lambda: world.fake.is_published(int(message["id"])), what="crosspost")


async def test_killed_between_record_and_send_delivers_once_after_restart(gazette_world):
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    # Discord creates the message, but the bot dies before it hears back
    stall = world.fake.stall("POST", rf"/channels/{world.text}/messages")
    blog.publish("Sent while crashing")
    await world.poll_now()
    await asyncio.wait_for(stall.reached.wait(), 5)
    await world.stop()
    stall.release.set()
    assert len(world.announcements()) == 1

    await world.restart()
    sends = await eventually(
        lambda: world.fake.requests_to("POST", rf"/channels/{world.text}/messages")[1:],
        what="the resend after restart",
    )
    first = world.fake.requests_to("POST", rf"/channels/{world.text}/messages")[0]
    assert sends[0].json["nonce"] == first.json["nonce"] and sends[0].json["enforce_nonce"]
    await settle()
    assert len(world.announcements()) == 1
    [delivery_state] = await world.store.guild_status(world.guild)
    assert delivery_state.failing_deliveries == 0
    assert await world.store.due_deliveries(time.time() + 3600) == []


async def test_forbidden_send_is_kept_listed_and_delivered_when_permission_returns(gazette_world):
    world = gazette_world
    blog = world.blog()
    other = world.blog("Other Blog", prefix="/other")
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    await world.command("feed add", {"url": other.feed_url, "channel": world.news})
    world.fake.fail("POST", rf"/channels/{world.text}/messages", 403, times=None)

    blog.publish("Blocked for now")
    other.publish("Elsewhere fine")
    await world.poll_now()
    # one failing channel holds up nobody else
    await eventually(lambda: world.announcements(world.news), what="the other channel")
    listing = await eventually(
        lambda: _listing_with(world, "not delivered yet"), what="/feed list showing the failure"
    )
    assert "Missing Permissions" in listing

    world.fake.clear_faults()
    [message] = await eventually(world.announcements, what="delivery after the fix")
    assert message["embeds"][0]["title"] == "Blocked for now"
    await settle()
    assert len(world.announcements()) == 1


async def test_rate_limited_send_is_retried(gazette_world):
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    world.fake.rate_limit("POST", rf"/channels/{world.text}/messages", retry_after=0.3)
    blog.publish("Patience")
    await world.poll_now()
    [message] = await eventually(world.announcements)
    assert message["embeds"][0]["title"] == "Patience"
    statuses = [
        r.status for r in world.fake.requests_to("POST", rf"/channels/{world.text}/messages")
    ]
    assert statuses == [429, 200]


async def _listing_with(world, text: str) -> str | None:
    result = await world.command("feed list")
    body = "\n".join(f["value"] for e in result.embeds for f in e.get("fields", []))
    return body if text in body else None


@pytest.mark.parametrize("failure", ["http500", "timeout", "malformed"])
async def test_failing_feed_gets_one_notice_and_one_recovery(gazette_world, failure):
    world = gazette_world
    blog = world.blog()
    blog.publish("Before")
    await world.start()
    world.bot.fetcher.read_timeout = 0.5
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    if failure == "http500":
        world.site.route("/feed/", "down", status=500)
    elif failure == "timeout":
        world.site.route("/feed/", blog.rss(), delay=2.0)
    else:
        world.site.route("/feed/", "<rss><channel><item><title>cut", content_type="text/xml")

    def notices():
        return [m["content"] for m in world.fake.messages(world.text) if not m.get("embeds")]

    for _ in range(5):
        before = len(world.site.requests_for("/feed/"))
        await world.poll_now()
        await eventually(lambda b=before: len(world.site.requests_for("/feed/")) > b)
        await settle(0.3 if failure != "timeout" else 0.8)
    assert len(notices()) == 1 and "could not be read" in notices()[0]
    assert "⚠️" in await _listing_with(world, "Feed error")

    blog.serve()
    await world.poll_now()
    await eventually(lambda: len(notices()) == 2, what="the recovery notice")
    assert "can be read again" in notices()[1]


async def test_adding_a_feed_imports_its_history_with_progress_and_announces_none(gazette_world):
    world = gazette_world
    blog = world.blog()
    for n in range(25):
        blog.publish(f"Archive post {n}")
    await world.start()
    result = await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    await eventually(lambda: "History imported" in (result.content or ""), what="backfill end")
    assert "15 older posts added" in result.content
    [sub] = await world.store.guild_subscriptions(world.guild)
    assert await world.store.count_posts(sub.feed_id) == 25
    await settle()
    assert world.announcements() == []

    again = await world.command("feed backfill", {"feed": str(sub.id)})
    await eventually(lambda: "History imported" in (again.content or ""), what="second backfill")
    assert "0 older posts added" in again.content


async def test_preview_list_and_remove_a_feed(gazette_world):
    world = gazette_world
    blog = world.blog("Kitchen Notes")
    blog.publish("Soup season", "<p>Leeks and <i>potatoes</i>.</p>")
    await world.start()
    await world.command(
        "feed add", {"url": blog.feed_url, "channel": world.text, "mention": world.role}
    )
    choices = await world.fake.autocomplete(
        world.guild, world.text, "feed test", option="feed", value="kitchen"
    )
    assert [c["name"] for c in choices] == ["Kitchen Notes → #blog"]

    preview = await world.command("feed test", {"feed": choices[0]["value"]})
    assert preview.ephemeral
    assert preview.embeds[0]["title"] == "Soup season"
    assert "*potatoes*" in preview.embeds[0]["description"]
    assert f"<@&{world.role}>" in preview.content  # says who would be mentioned...
    assert world.announcements() == []  # ...without announcing anything

    listing = await world.command("feed list")
    assert listing.ephemeral and listing.embeds[0]["fields"][0]["name"] == "Kitchen Notes"

    removed = await world.command("feed remove", {"feed": choices[0]["value"]})
    assert removed.ephemeral and "Stopped announcing" in removed.content
    assert await world.store.guild_subscriptions(world.guild) == []
    blog.publish("After removal")
    await settle()
    assert world.announcements() == []


async def test_thread_named_after_the_plain_title(gazette_world):
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    blog.publish("C++_tips: [part 1] *new* @everyone")
    await world.poll_now()
    [message] = await eventually(world.announcements)
    [thread] = await eventually(lambda: world.fake.threads(world.text), what="the thread")
    assert thread["name"] == "C++_tips: [part 1] *new* @\u200beveryone"


async def test_failing_feed_in_a_forum_gets_a_notice_post_and_polling_goes_on(gazette_world):
    world = gazette_world
    broken = world.blog("Broken Blog", prefix="/broken")
    healthy = world.blog("Healthy Blog", prefix="/healthy")
    await world.start()
    await world.command("feed add", {"url": broken.feed_url, "channel": world.forum})
    await world.command("feed add", {"url": healthy.feed_url, "channel": world.text})
    world.site.route("/broken/feed/", "down", status=500)
    feed = await world.store.get_feed_by_url(broken.feed_url)

    async def failed(times: int) -> bool:
        return (await world.store.get_feed(feed.id)).failure_count >= times

    for n in range(1, 4):
        # wait for the failure to be recorded: the backfill's own requests, or a check still
        # being recorded, would otherwise pass for the next check
        await world.poll_now()
        await eventually(lambda n=n: failed(n), what=f"failure {n} recorded")
    notice = await eventually(
        lambda: [
            t for t in world.fake.threads(world.forum) if t["name"].startswith("Feed problem")
        ],
        what="the notice post in the forum",
    )
    assert "Broken Blog" in notice[0]["name"]
    healthy.publish("Still announced")
    await world.poll_now()
    await eventually(world.announcements, what="announcements after the notice")


async def test_links_discord_cannot_take_are_left_out(gazette_world):
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    post = blog.publish("Write to me", image="javascript:alert(1)")
    blog.link = lambda p: "mailto:editor@blog.test" if p is post else Blog.link(blog, p)
    blog.serve()
    await world.poll_now()
    [message] = await eventually(world.announcements)
    embed = message["embeds"][0]
    assert embed["title"] == "Write to me" and "url" not in embed and "image" not in embed


async def test_add_by_home_page_reads_the_page_and_the_feed_once(gazette_world):
    """Discovery's fetches serve the first store and the history import's REST lookup:
    the blog is not asked for the same page or feed twice."""
    world = gazette_world
    blog = world.blog()
    for n in range(12):
        blog.publish(f"Post {n}")
    await world.start()
    result = await world.command("feed add", {"url": blog.home_url, "channel": world.text})
    assert "10 existing posts" in result.messages[-1]["content"]
    await eventually(lambda: "History imported" in (result.content or ""), what="the import")
    assert "2 older posts" in result.content
    # (the REST API probes, "/wp-json/" and "/?rest_route=/", and "?paged=2" are other URLs)
    assert [r.query_string for r in world.site.requests_for("/")].count("") == 1
    assert [r.query_string for r in world.site.requests_for("/feed/")].count("") == 1
