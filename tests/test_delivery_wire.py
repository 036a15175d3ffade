"""A bad item never blocks the ones behind it, and nothing is doubled after a crash: over the
wire, real discord.py against the fake Discord, blogs on 127.0.0.1.

Discord refuses a payload with 400 (invalid form body): the announcement or comment then goes
out as plain text; refused again, it is skipped after a few tries and listed in /feed list,
while what follows is delivered. Forum posts (which take no nonce) and comments are recovered,
not sent twice, when the bot dies between Discord acting and the bot recording it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time

import pytest

from bot.limits import MAX_REFUSALS
from bot.render.announcement import Announcement
from cogs.common.embeds import announcement_text
from tests.discussion_helpers import (
    WPBlog,
    follow,
    mirrored,
    publish_and_announce,
    read_comments_now,
)
from tests.harness import eventually, settle

KINDS = ["text", "news", "forum"]


def _route(world, kind: str) -> str:
    """Where an announcement is sent in that kind of channel."""
    channel = getattr(world, kind)
    return rf"/channels/{channel}/threads" if kind == "forum" else rf"/channels/{channel}/messages"


def _shown(world, kind: str) -> list[dict]:
    """What the bot showed in the channel: its messages, or a forum's posts' first messages."""
    if kind == "forum":
        return [world.fake.message(int(t["id"])) for t in world.fake.threads(world.forum)]
    return world.fake.messages(getattr(world, kind))


def _with_embed(body) -> bool:
    return bool((body.get("message") or body).get("embeds"))


def _about(text: str):
    return lambda body: text in json.dumps(body)


async def _listing(world) -> str:
    result = await world.command("feed list")
    return "\n".join(f["value"] for e in result.embeds for f in e.get("fields", []))


@pytest.mark.parametrize("kind", KINDS)
async def test_an_embed_discord_refuses_is_announced_as_plain_text(gazette_world, kind):
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": getattr(world, kind)})
    world.fake.fail("POST", _route(world, kind), 400, times=None, when=_with_embed)
    post = blog.publish("Strange embed", "<p>The body of it.</p>", image="https://img.test/a.png")
    await world.poll_now()

    [message] = await eventually(lambda: _shown(world, kind), what="the plain announcement")
    assert message["embeds"] == []
    content = message["content"]
    assert len(content) <= 2000
    assert "**Strange embed**" in content and f"<{blog.link(post)}>" in content
    assert "The body of it." in content
    if kind == "news":
        await eventually(lambda: world.fake.is_published(int(message["id"])), what="crosspost")
    await settle()
    assert len(_shown(world, kind)) == 1
    assert await world.store.due_deliveries(time.time() + 3600) == []
    assert "skipped" not in await _listing(world)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_post_refused_even_plainly_is_skipped_and_the_next_goes_out(gazette_world, kind):
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": getattr(world, kind)})
    refusal = world.fake.fail(
        "POST", _route(world, kind), 400, times=None, when=_about("Poison pill")
    )
    blog.publish("Poison pill")
    blog.publish("Good news")
    await world.poll_now()

    # the refused post holds up nothing: the next one goes out at once
    [message] = await eventually(lambda: _shown(world, kind), what="the next post")
    assert "Good news" in json.dumps(message)
    listing = await eventually(lambda: _skipped_listing(world), what="the skip listed")
    assert "1 post(s) or comment(s) skipped" in listing and "Invalid Form Body" in listing
    # a few tries, each with the rich and the plain version, then never again
    assert refusal.hits == 2 * MAX_REFUSALS
    await settle()
    assert refusal.hits == 2 * MAX_REFUSALS
    assert await world.store.due_deliveries(time.time() + 3600) == []

    # later posts keep coming, after a restart too
    await world.restart()
    blog.publish("More news")
    await world.poll_now()
    await eventually(lambda: len(_shown(world, kind)) == 2, what="the post after the skip")
    await settle()
    assert refusal.hits == 2 * MAX_REFUSALS and len(_shown(world, kind)) == 2


async def _skipped_listing(world) -> str | None:
    text = await _listing(world)
    return text if "skipped" in text else None


async def test_missing_permission_is_still_the_channels_problem_and_retried(gazette_world):
    """A 403 is not the post's fault: nothing is skipped, it goes out once allowed."""
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.forum})
    denied = world.fake.fail("POST", _route(world, "forum"), 403, times=MAX_REFUSALS + 1)
    blog.publish("Patient post")
    await world.poll_now()
    [message] = await eventually(
        lambda: _shown(world, "forum"), within=10, what="the post once allowed"
    )
    assert message["embeds"][0]["title"] == "Patient post"
    assert denied.hits == MAX_REFUSALS + 1
    assert "skipped" not in await _listing(world)


@pytest.mark.parametrize("archived", [False, True], ids=["active", "archived"])
async def test_killed_between_forum_post_and_record_posts_it_once(gazette_world, archived):
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.forum})
    # Discord creates the forum post, but the bot dies before it hears back
    stall = world.fake.stall("POST", rf"/channels/{world.forum}/threads")
    blog.publish("Sent while crashing")
    await world.poll_now()
    await asyncio.wait_for(stall.reached.wait(), 5)
    await world.stop()
    stall.release.set()
    [thread] = world.fake.threads(world.forum)
    if archived:  # auto-archived while the bot was down
        world.fake.update_channel(int(thread["id"]), archived=True)

    await world.restart()
    blog.publish("After the crash")
    await world.poll_now()
    await eventually(lambda: len(world.fake.threads(world.forum)) == 2, what="the next post")
    await settle()
    names = [t["name"] for t in world.fake.threads(world.forum)]
    assert names == ["Sent while crashing", "After the crash"]
    assert len(world.fake.requests_to("POST", rf"/channels/{world.forum}/threads")) == 2
    assert await world.store.due_deliveries(time.time() + 3600) == []
    # the recovered post is the article's discussion: its comments go there
    assert await world.store._one(
        "SELECT id FROM discussions WHERE thread_id = ?", (int(thread["id"]),)
    )


async def test_a_forum_post_that_never_reached_discord_is_posted_after_restart(gazette_world):
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.forum})
    # the intent is recorded, the request fails on the way: nothing exists on Discord
    failed = world.fake.fail("POST", rf"/channels/{world.forum}/threads", 503)
    blog.publish("Lost on the way")
    await world.poll_now()
    await eventually(lambda: failed.hits == 1, what="the failed request")
    await world.restart()
    [thread] = await eventually(lambda: world.fake.threads(world.forum), what="the post")
    assert thread["name"] == "Lost on the way"
    await settle()
    assert len(world.fake.threads(world.forum)) == 1


@pytest.mark.parametrize("kind", ["text", "news"])
async def test_killed_mid_send_and_down_past_the_nonce_window_announces_once(gazette_world, kind):
    """Discord's nonce only dedups a resend for a few minutes: after a longer outage the
    channel is read back for the announcement instead of trusting it."""
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": getattr(world, kind)})
    stall = world.fake.stall("POST", _route(world, kind))
    blog.publish("Sent while crashing")
    await world.poll_now()
    await asyncio.wait_for(stall.reached.wait(), 5)
    await world.stop()
    stall.release.set()
    for n in range(120):  # the channel goes on meanwhile, past a page of history
        world.fake.post_user_message(getattr(world, kind), f"chat {n}")
    # an hour later: the nonce no longer dedups, the send began long ago
    world.fake.nonce_window = 0
    with sqlite3.connect(world.db_path) as db:
        db.execute("UPDATE deliveries SET started_at = started_at - 3600")

    await world.restart()
    blog.publish("After the outage")
    await world.poll_now()
    await eventually(lambda: len(world.announcements(getattr(world, kind))) == 2)
    await settle()
    titles = [m["embeds"][0]["title"] for m in world.announcements(getattr(world, kind))]
    assert titles == ["Sent while crashing", "After the outage"]
    assert await world.store.due_deliveries(time.time() + 3600) == []


# =========================================================================== comments


def _comment_link_in(world, thread: int, link: str) -> list[dict]:
    return [m for m in mirrored(world, thread) if f"<{link}>" in m["content"]]


async def test_comment_1_is_not_mistaken_for_comment_12(gazette_world):
    """A comment whose send was begun is looked for by its exact link: #comment-12 in the
    thread does not count as #comment-1 (the old substring match lost #comment-1)."""
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    other = blog.publish("Another article")
    first = blog.comment(post, "<p>Comment one.</p>", author="Ann", date=time.time() - 600)
    for n in range(10):  # ids 2-11 elsewhere, so the next one here is #comment-12
        blog.comment(other, f"<p>Elsewhere {n}</p>")
    twelfth = blog.comment(post, "<p>Comment twelve.</p>", author="Bob", date=time.time() - 300)
    assert blog.comment_link(first).endswith("#comment-1")
    assert blog.comment_link(twelfth).endswith("#comment-12")
    # #comment-1 is refused on its first try (webhook, then plain): its send was begun
    # before #comment-12's message landed in the thread
    refusal = world.fake.fail(
        "POST",
        r"/webhooks/\d+/[^/]+|/channels/\d+/messages",
        400,
        times=2,
        when=_about(blog.comment_link(first) + ">"),
    )
    await read_comments_now(world)
    await eventually(lambda: _comment_link_in(world, thread, blog.comment_link(first)))
    await settle()
    assert refusal.hits == 2
    messages = mirrored(world, thread)
    assert [m["author"]["username"] for m in messages] == ["Bob", "Ann"]
    assert len(_comment_link_in(world, thread, blog.comment_link(first))) == 1
    assert len(_comment_link_in(world, thread, blog.comment_link(twelfth))) == 1


async def test_killed_mid_send_then_60_messages_the_comment_is_found_not_doubled(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    blog.comment(post, "<p>Before.</p>", author="Ann")
    await read_comments_now(world)
    await eventually(lambda: mirrored(world, thread), what="the first comment")
    stall = world.fake.stall("POST", r"/webhooks/\d+/[^/]+")
    crashing = blog.comment(post, "<p>Sent while crashing.</p>", author="Bob")
    await read_comments_now(world)
    await asyncio.wait_for(stall.reached.wait(), 5)
    await world.stop()
    stall.release.set()
    for n in range(60):  # the thread goes on without the bot: past one page of history
        world.fake.post_user_message(thread, f"chat {n}")

    await world.restart()
    blog.comment(post, "<p>Later.</p>", author="Cy")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) == 63, what="the later comment")
    await settle()
    bots = [m for m in mirrored(world, thread) if m.get("webhook_id")]
    assert [m["author"]["username"] for m in bots] == ["Ann", "Bob", "Cy"]
    assert len(_comment_link_in(world, thread, blog.comment_link(crashing))) == 1


class LongLinkBlog(WPBlog):
    """A blog whose comment links are too long for a message to show (over 400 characters)."""

    def comment_link(self, comment) -> str:
        return super().comment_link(comment).replace("/#", f"/?ref={'y' * 450}#")


async def test_killed_mid_send_a_comment_with_a_link_too_long_to_show_is_not_doubled(
    gazette_world,
):
    world = gazette_world
    blog = LongLinkBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    stall = world.fake.stall("POST", r"/webhooks/\d+/[^/]+")
    blog.comment(post, "<p>Sent while crashing.</p>", author="Bob")
    await read_comments_now(world)
    await asyncio.wait_for(stall.reached.wait(), 5)
    await world.stop()
    stall.release.set()
    await eventually(lambda: len(mirrored(world, thread)) == 1, what="the cut-short send landed")

    await world.restart()
    blog.comment(post, "<p>Later.</p>", author="Cy")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) >= 2, what="the later comment")
    await settle()
    assert [m["author"]["username"] for m in mirrored(world, thread)] == ["Bob", "Cy"]


async def test_a_comment_refused_even_plainly_is_skipped_and_the_next_shown(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    bad = blog.comment(post, "<p>Discord will not take this.</p>", author="Ann")
    refusal = world.fake.fail(
        "POST",
        r"/webhooks/\d+/[^/]+|/channels/\d+/messages",
        400,
        times=None,
        when=_about(blog.comment_link(bad) + ">"),
    )
    blog.comment(post, "<p>Fine.</p>", author="Bob")
    await read_comments_now(world)
    [shown] = await eventually(lambda: mirrored(world, thread), what="the next comment")
    assert shown["author"]["username"] == "Bob"
    listing = await eventually(lambda: _skipped_listing(world), what="the skip listed")
    assert "1 post(s) or comment(s) skipped" in listing
    assert refusal.hits == 2 * MAX_REFUSALS
    blog.comment(post, "<p>Still flowing.</p>", author="Cy")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) == 2, what="a later comment")
    await settle()
    assert refusal.hits == 2 * MAX_REFUSALS
    assert [m["author"]["username"] for m in mirrored(world, thread)] == ["Bob", "Cy"]


async def test_a_webhook_name_discord_refuses_is_shown_as_the_bots_plain_text(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    comment = blog.comment(post, "<p>Hello.</p>", author="Ann")
    world.fake.fail(
        "POST", r"/webhooks/\d+/[^/]+", 400, times=None, when=lambda b: bool(b.get("username"))
    )
    await read_comments_now(world)
    [message] = await eventually(lambda: mirrored(world, thread), what="the plain comment")
    assert message.get("webhook_id") is None and message["embeds"] == []
    assert message["content"].startswith("**Ann**\n") and "Hello." in message["content"]
    assert message["content"].endswith(f"<t:{int(comment.date)}:f>")
    assert len(message["content"]) <= 2000


# =========================================================================== plain text


def test_the_plain_announcement_fits_in_a_message_whatever_the_post():
    announcement = Announcement(
        title="T" * 256,
        url="https://blog.test/" + "p" * 2100,
        description="word " * 1000,
        feed_title="F" * 300,
    )
    text = announcement_text(announcement, "<@&123>")
    assert len(text) <= 2000 and text.startswith("<@&123>\n**TTT")
    short = announcement_text(Announcement(title="Hi", url=None, description=""))
    assert short == "**Hi**"
