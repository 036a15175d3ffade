"""Replies back to the blog over the wire: real discord.py against the fake Discord, a
WordPress-like REST API on 127.0.0.1 (tests/reply_helpers.py) that takes comments with an
application password. `/feed connect`, "Post to the blog" and `/reply`, what comes back
through the comment watcher (shown once), withdrawing, and what members of this or another
server must not be able to do.
"""

from __future__ import annotations

import json
import logging

import pytest

from bot.__main__ import QUIET_LOGGERS
from tests.discussion_helpers import follow, mirrored, publish_and_announce, read_comments_now
from tests.harness import MEMBER, eventually, settle
from tests.reply_helpers import PASSWORD, USER, USER_ID, ReplyBlog


async def connected(world, blog, *, connect=True):
    """Gazette started, following the blog, an article announced with its thread, and (by
    default) the feed connected; returns (post, thread)."""
    await world.start()
    world.bot.replies.timeout = 1.0  # a slow blog gives up in a second here
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    if connect:
        result = await world.command(
            "feed connect", {"feed": blog.feed_url, "username": USER, "password": PASSWORD}
        )
        assert "as **Gazette Bot**" in result.content, result.content
    return post, thread


def menu(world, message_id, name="Post to the blog", user=None, perms=MEMBER, wait=True):
    return world.fake.invoke_message_command(
        message_id,
        name,
        user_id=user,
        user_permissions=perms,
        check_default_permissions=False,
        wait=wait,
    )


async def test_connect_checks_the_password_and_never_shows_it(gazette_world, caplog):
    world = gazette_world
    caplog.set_level(logging.DEBUG)
    for name in QUIET_LOGGERS:  # as python -m bot sets them, whatever LOG_LEVEL says
        logging.getLogger(name).setLevel(logging.INFO)
    blog = ReplyBlog(world.site)
    await connected(world, blog, connect=False)
    wrong = await world.command(
        "feed connect", {"feed": blog.feed_url, "username": USER, "password": "nope nope"}
    )
    assert wrong.ephemeral and "refused that login or application password" in wrong.content
    blog.app_passwords = False
    off = await world.command(
        "feed connect", {"feed": blog.feed_url, "username": USER, "password": PASSWORD}
    )
    assert "Application passwords are not available" in off.content
    blog.app_passwords = True
    ok = await world.command(
        "feed connect", {"feed": blog.feed_url, "username": USER, "password": PASSWORD}
    )
    assert ok.ephemeral and "as **Gazette Bot**" in ok.content
    assert "can moderate comments" in ok.content
    listing = await world.command("feed list")
    field = listing.embeds[0]["fields"][0]["value"]
    assert "Replies to the blog: connected as **Gazette Bot**" in field
    secret = "".join(PASSWORD.split())
    sent_to_discord = json.dumps([r.json for r in world.fake.requests], ensure_ascii=False)
    for text in [sent_to_discord, str(listing.embeds), caplog.text]:
        assert PASSWORD not in text and secret not in text
    assert "connect" in [c["name"] for c in _feed_subcommands(world)]

    gone = await world.command("feed disconnect", {"feed": blog.feed_url})
    assert "Disconnected" in gone.content
    listing = await world.command("feed list")
    assert "Replies to the blog" not in listing.embeds[0]["fields"][0]["value"]


def _feed_subcommands(world):
    [feed] = [c for c in world.fake.commands(world.guild) if c["name"] == "feed"]
    return feed["options"]


async def test_plain_http_blogs_are_refused_where_private_feeds_are_not_allowed(gazette_world):
    world = gazette_world
    world.allow_private = False
    world.allow_hosts = ("127.0.0.1",)  # the blog is reachable, but not over HTTPS
    blog = ReplyBlog(world.site)
    await connected(world, blog, connect=False)
    result = await world.command(
        "feed connect", {"feed": blog.feed_url, "username": USER, "password": PASSWORD}
    )
    assert "without HTTPS" in result.content
    assert blog.requests == []  # the password never left


async def test_post_to_the_blog_from_a_members_own_message_shown_once(gazette_world):
    world = gazette_world
    blog = ReplyBlog(world.site)
    member = world.fake.add_user("mia")
    post, thread = await connected(world, blog)
    text = f"I agree with <@{world.fake.owner_id}> & <b>the author</b>.\n\nSecond paragraph."
    message = world.fake.post_user_message(thread, text, user_id=member)

    result = await menu(world, message, user=member)
    assert result.ephemeral and "Posted on the blog" in result.content, result.content
    [body] = blog.posted
    assert body["post"] == post.id and body["author"] == USER_ID
    assert body["author_name"] == "mia (via Discord)"
    assert "&lt;b&gt;the author&lt;/b&gt;" in body["content"] and "<b>" not in body["content"]
    assert "<@" not in body["content"] and "@" in body["content"]
    assert "\n\nSecond paragraph." in body["content"]

    # the comment comes back through the comment watcher: the member's message shows it
    blog.comment(post, "<p>Someone else.</p>", author="Ann")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) == 2, within=10, what="Ann's")
    await read_comments_now(world)
    await settle()
    shown = mirrored(world, thread)
    assert [m["author"]["username"] for m in shown] == ["mia", "Ann"]

    again = await menu(world, message, user=member)
    assert "already on the blog" in again.content and len(blog.posted) == 1


async def test_a_discord_reply_to_a_mirrored_comment_answers_it_on_the_blog(gazette_world):
    world = gazette_world
    blog = ReplyBlog(world.site)
    member = world.fake.add_user("mia")
    post, thread = await connected(world, blog)
    ann = blog.comment(post, "<p>What do you think?</p>", author="Ann")
    await read_comments_now(world)
    [shown] = await eventually(lambda: mirrored(world, thread) or None, within=10)
    message = world.fake.post_user_reply(thread, "I think so.", int(shown["id"]), user_id=member)
    result = await menu(world, message, user=member)
    assert "Posted on the blog" in result.content
    assert blog.posted[-1]["parent"] == ann.id


async def test_held_for_moderation_then_approved_is_still_shown_once(gazette_world):
    world = gazette_world
    blog = ReplyBlog(world.site, moderate=False, hold=True)
    member = world.fake.add_user("mia")
    post, thread = await connected(world, blog)
    message = world.fake.post_user_message(thread, "Held, then approved.", user_id=member)
    result = await menu(world, message, user=member)
    assert "awaits the blog's moderation" in result.content
    [comment] = [c for c in blog.comments.values()]
    comment.approved = True  # a moderator approves it on the blog
    await read_comments_now(world)
    await settle(1.0)
    assert len(mirrored(world, thread)) == 1
    # an account that cannot moderate cannot trash it: the member is told why
    withdraw = await menu(world, message, "Withdraw from the blog", user=member)
    assert "does not let Gazette's account (Gazette Bot) remove comments" in withdraw.content


async def test_what_members_cannot_post(gazette_world):
    world = gazette_world
    blog = ReplyBlog(world.site)
    mia, bob = world.fake.add_user("mia"), world.fake.add_user("bob")
    post, thread = await connected(world, blog)
    theirs = world.fake.post_user_message(thread, "Bob's words.", user_id=bob)
    refused = await menu(world, theirs, user=mia)
    assert "only your own messages" in refused.content
    outside = world.fake.post_user_message(world.text, "Not in a thread.", user_id=mia)
    refused = await menu(world, outside, user=mia)
    assert "works only in the discussion thread" in refused.content
    for empty in ("   ", "\u202e\u0000"):
        message = world.fake.post_user_message(thread, empty, user_id=mia)
        refused = await menu(world, message, user=mia)
        assert "no text to post" in refused.content
    # only invisible characters (zero-width, word joiner, BOM, Hangul filler, Braille blank)
    cy = world.fake.add_user("cy")
    for empty in ("\u200b\u2060 \ufeff", "\u3164\u2800\u00ad"):
        message = world.fake.post_user_message(thread, empty, user_id=cy)
        refused = await menu(world, message, user=cy)
        assert "no text to post" in refused.content
    huge = world.fake.post_user_message(thread, "x" * 4001, user_id=bob)
    refused = await menu(world, huge, user=bob)
    assert "too long for a comment: 4,000 characters at most" in refused.content
    assert blog.posted == []
    # the comments Gazette mirrored are not the member's either
    blog.comment(post, "<p>Mirrored.</p>", author="Ann")
    await read_comments_now(world)
    [shown] = await eventually(lambda: _hooked(world, thread) or None, within=10)
    refused = await menu(world, int(shown["id"]), user=mia)
    assert "only your own messages" in refused.content
    # without /feed connect nothing goes anywhere
    await world.command("feed disconnect", {"feed": blog.feed_url})
    message = world.fake.post_user_message(thread, "Hello blog.", user_id=bob)
    refused = await menu(world, message, user=bob)
    assert "not switched on for this feed" in refused.content
    assert blog.posted == []


async def test_another_server_never_uses_the_connection(gazette_world):
    world = gazette_world
    world.global_commands = True  # the commands in both servers
    other = world.fake.add_guild("Elsewhere")
    other_text = world.fake.add_channel(other, "blog")
    blog = ReplyBlog(world.site)
    stranger = world.fake.add_user("stranger")
    await connected(world, blog)
    await world.fake.invoke(
        other, other_text, "feed add", {"url": blog.feed_url, "channel": other_text}
    )
    blog.publish("Second article")
    await world.poll_now()
    await world.store._write("UPDATE feeds SET next_check_at = 0")
    threads = await eventually(lambda: world.fake.threads(other_text), what="their thread")
    their_thread = int(threads[-1]["id"])
    message = world.fake.post_user_message(their_thread, "From elsewhere.", user_id=stranger)
    result = await menu(world, message, user=stranger)
    assert "not switched on for this feed" in result.content
    listing = await world.fake.invoke(other, other_text, "feed list")
    assert "Replies to the blog" not in str(listing.embeds)
    # nor withdraw ours by naming its id
    mine = world.fake.post_user_message(
        int(world.fake.threads(world.text)[0]["id"]), "Mine.", user_id=stranger
    )
    await menu(world, mine, user=stranger)
    [reply_id] = [r.id for r in await world.store.member_replies(world.guild, None)]
    result = await world.fake.invoke(
        other,
        other_text,
        "reply withdraw",
        {"comment": str(reply_id)},
        user_id=stranger,
        user_permissions=MEMBER | (1 << 13),  # Manage Messages, but in their own server
    )
    assert "not posted to the blog from this server" in result.content
    assert all(c.type == "comment" for c in blog.comments.values())


@pytest.mark.parametrize("fault", ["created502", "slow"])
async def test_an_unconfirmed_reply_is_never_sent_twice_nor_shown_twice(gazette_world, fault):
    world = gazette_world
    blog = ReplyBlog(world.site)
    member = world.fake.add_user("mia")
    post, thread = await connected(world, blog)
    blog.fault = fault
    message = world.fake.post_user_message(thread, "Did it arrive?", user_id=member)
    result = await menu(world, message, user=member)
    assert result.ephemeral and "did not confirm" in result.content, result.content
    again = await menu(world, message, user=member)
    assert "being sent to the blog already" in again.content
    if fault == "slow":  # nothing arrived: nothing to recognise
        assert blog.posted == []
        return
    [comment] = blog.comments.values()
    await read_comments_now(world)
    reply = await eventually(
        lambda: world.store.reply_for_message(world.guild, message), what="the reply"
    )
    await eventually(lambda: _claimed(world, message, comment.id), within=10, what="recognised")
    await settle()
    assert mirrored(world, thread) == [world.fake.message(message)]
    assert len(blog.posted) == 1 and reply.member_id == member


def _hooked(world, thread):
    """The comments the mirror posted (through the webhook)."""
    return [m for m in mirrored(world, thread) if m.get("webhook_id")]


async def _claimed(world, message_id, comment_id):
    reply = await world.store.reply_for_message(world.guild, message_id)
    return reply.comment_id == comment_id and reply.state == "approved"


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("wp500", "The blog refused the comment (HTTP 500, rest\\_comment\\_failed\\_create"),
        ("duplicate", "already has exactly this comment from you"),
        ("huge", "did not confirm"),
        ("html500", "did not confirm"),
    ],
)
async def test_a_failing_blog_gets_a_clear_answer(gazette_world, fault, said):
    world = gazette_world
    blog = ReplyBlog(world.site)
    member = world.fake.add_user("mia")
    post, thread = await connected(world, blog)
    blog.fault = fault
    message = world.fake.post_user_message(thread, "Trying.", user_id=member)
    result = await menu(world, message, user=member)
    assert result.ephemeral and said in result.content, result.content
    if fault in ("wp500", "duplicate"):  # a definite refusal may be tried again at once
        blog.fault = None
        retry = await menu(world, message, user=member)
        assert "Posted on the blog" in retry.content


async def test_reply_command_shows_the_text_once_and_withdraw_trashes_it(gazette_world):
    world = gazette_world
    blog = ReplyBlog(world.site)
    mia, bob = world.fake.add_user("mia"), world.fake.add_user("bob")
    post, thread = await connected(world, blog)
    result = await world.command(
        "reply post",
        {"text": "Straight to the blog."},
        channel=thread,
        user_id=mia,
        user_permissions=MEMBER,
    )
    assert not result.ephemeral
    await result.wait_for_followups(1)
    assert "Posted on the blog" in result.followups[-1]["content"]
    shown = world.fake.message(int(result.message["id"]))
    assert shown["content"].startswith("Straight to the blog.\n-# 💬 [On the blog]")
    [body] = blog.posted
    assert body["author_name"] == "mia (via Discord)"
    await read_comments_now(world)
    await settle()
    # /reply's message, nothing else
    assert world.fake.messages(thread, include_interactions=True) == [shown]
    assert mirrored(world, thread) == []

    choices = await world.fake.autocomplete(
        world.guild,
        thread,
        "reply withdraw",
        option="comment",
        value="",
        user_id=bob,
        user_permissions=MEMBER,
    )
    assert choices == []  # bob sees none of mia's
    choices = await world.fake.autocomplete(
        world.guild,
        thread,
        "reply withdraw",
        option="comment",
        value="straight",
        user_id=mia,
        user_permissions=MEMBER,
    )
    assert [c["name"] for c in choices] == ["Straight to the blog. (approved)"]
    refused = await world.command(
        "reply withdraw",
        {"comment": choices[0]["value"]},
        channel=thread,
        user_id=bob,
        user_permissions=MEMBER,
    )
    assert "Only the member who sent it" in refused.content
    done = await world.command(
        "reply withdraw",
        {"comment": choices[0]["value"]},
        channel=thread,
        user_id=mia,
        user_permissions=MEMBER,
    )
    assert "Withdrawn" in done.content
    [comment] = blog.comments.values()
    assert comment.type == "trash"
    twice = await world.command(
        "reply withdraw",
        {"comment": choices[0]["value"]},
        channel=thread,
        user_id=mia,
        user_permissions=MEMBER,
    )
    assert "already withdrawn" in twice.content


async def test_a_moderator_withdraws_a_members_reply_from_its_message(gazette_world):
    world = gazette_world
    blog = ReplyBlog(world.site)
    mia = world.fake.add_user("mia")
    post, thread = await connected(world, blog)
    message = world.fake.post_user_message(thread, "Regrettable words.", user_id=mia)
    await menu(world, message, user=mia)
    bob = world.fake.add_user("bob")
    refused = await menu(world, message, "Withdraw from the blog", user=bob)
    assert "Only the member who sent it" in refused.content
    done = await menu(world, message, "Withdraw from the blog", user=bob, perms=MEMBER | (1 << 13))
    assert "Withdrawn" in done.content
    assert [c.type for c in blog.comments.values()] == ["trash"]
    # withdrawn, then posted again (a typo fixed): a new comment, the same message
    again = await menu(world, message, user=mia)
    assert "Posted on the blog" in again.content
    assert [c.type for c in blog.comments.values()] == ["trash", "comment"]
    await read_comments_now(world)
    await settle()
    assert mirrored(world, thread) == [world.fake.message(message)]


async def test_the_password_goes_only_to_the_blogs_own_address(gazette_world):
    world = gazette_world
    blog = ReplyBlog(world.site)
    await connected(world, blog, connect=False)
    elsewhere = f"http://localhost:{world.site.port}/wp-json/"  # another host name
    world.site.route(
        "/",
        f'<html><head><link rel="https://api.w.org/" href="{elsewhere}"></head></html>',
        content_type="text/html",
    )
    result = await world.command(
        "feed connect", {"feed": blog.feed_url, "username": USER, "password": PASSWORD}
    )
    assert "another address" in result.content, result.content
    assert blog.requests == []


async def test_stopped_while_the_blog_takes_the_reply_it_is_shown_once_never_sent_twice(
    gazette_world,
):
    """Gazette goes away between the blog storing the comment and its answer: the reply was
    recorded before the request, so nothing is sent again, and the comment, read back after
    the restart, is recognised as the member's."""
    world = gazette_world
    blog = ReplyBlog(world.site)
    member = world.fake.add_user("mia")
    post, thread = await connected(world, blog)
    blog.fault = "created_hang"
    message = world.fake.post_user_message(thread, "Sent as the lights go out.", user_id=member)
    await menu(world, message, user=member, wait=False)
    await eventually(lambda: blog.posted, what="the blog to take it")
    await world.stop()
    blog.fault = None
    await world.start()
    again = await menu(world, message, user=member)
    # not sent again: pending still, or already recognised if the comments were read first
    said = again.content
    assert "being sent to the blog already" in said or "already on the blog" in said, said
    [comment] = blog.comments.values()
    await read_comments_now(world)
    await eventually(
        lambda: _claimed(world, message, comment.id), within=10, what="recognised as mia's"
    )
    await settle()
    assert mirrored(world, thread) == [world.fake.message(message)]
    again = await menu(world, message, user=member)
    assert "already on the blog" in again.content
    assert len(blog.posted) == 1


async def test_a_refused_reply_command_leaves_nothing_in_the_thread(gazette_world):
    world = gazette_world
    blog = ReplyBlog(world.site)
    mia = world.fake.add_user("mia")
    post, thread = await connected(world, blog)
    blog.fault = "wp500"
    result = await world.command(
        "reply post", {"text": "Refused."}, channel=thread, user_id=mia, user_permissions=MEMBER
    )
    await result.wait_for_followups(1)
    assert "The blog refused the comment" in result.followups[-1]["content"]
    assert result.followups[-1]["flags"] & 64  # only mia sees why
    await eventually(
        lambda: world.fake.messages(thread, include_interactions=True) == [],
        what="/reply's message gone",
    )
    outside = await world.command(
        "reply post", {"text": "Here?"}, user_id=mia, user_permissions=MEMBER
    )
    assert outside.ephemeral and "works only in the discussion thread" in outside.content


async def test_a_blog_that_ignores_author_names_gets_the_name_in_the_text(gazette_world):
    world = gazette_world
    blog = ReplyBlog(world.site)
    blog.keep_names = False
    mia = world.fake.add_user("mia")
    post, thread = await connected(world, blog)
    first = world.fake.post_user_message(thread, "First.", user_id=mia)
    assert "Posted on the blog" in (await menu(world, first, user=mia)).content
    second = world.fake.post_user_message(thread, "Second.", user_id=mia)
    assert "Posted on the blog" in (await menu(world, second, user=mia)).content
    assert [b["content"] for b in blog.posted] == ["First.", "mia (via Discord): Second."]
    await read_comments_now(world)
    await settle()
    assert mirrored(world, thread) == [world.fake.message(first), world.fake.message(second)]


async def test_the_password_is_forgotten_when_the_server_stops_following_the_feed(
    gazette_world,
):
    world = gazette_world
    blog = ReplyBlog(world.site)
    await connected(world, blog)
    [sub] = await world.store.guild_subscriptions(world.guild)
    assert await world.store.blog_connection(world.guild, sub.feed_id, with_secret=True)
    await world.command("feed remove", {"feed": blog.feed_url})
    assert await world.store.blog_connection(world.guild, sub.feed_id) is None
    assert await world.store._value("SELECT count(*) FROM blog_connections") == 0


async def test_the_password_is_forgotten_when_gazette_is_removed_from_the_server(gazette_world):
    world = gazette_world
    blog = ReplyBlog(world.site)
    await connected(world, blog)
    assert await world.store._value("SELECT count(*) FROM blog_connections") == 1
    world.fake.remove_guild(world.guild)  # kicked, or the server deleted

    async def forgotten():
        return await world.store._value("SELECT count(*) FROM blog_connections") == 0

    await eventually(forgotten, what="the secret forgotten")


async def test_a_member_cannot_double_the_rate_by_switching_commands(gazette_world):
    """ "Post to the blog" and `/reply post` share one allowance: five comments a minute."""
    world = gazette_world
    blog = ReplyBlog(world.site)
    mia = world.fake.add_user("mia")
    post, thread = await connected(world, blog)
    for n in range(5):
        message = world.fake.post_user_message(thread, f"Comment {n}.", user_id=mia)
        result = await menu(world, message, user=mia)
        assert "Posted on the blog" in result.content, result.content
    refused = await world.command(
        "reply post",
        {"text": "One more."},
        channel=thread,
        user_id=mia,
        user_permissions=MEMBER,
    )
    assert refused.ephemeral and "Slow down" in refused.content, refused.content
    assert len(blog.posted) == 5
