"""Discussions against a real WordPress (scripts/wordpress.sh) and the fake Discord.

Skipped, with the reason, where WordPress cannot start (GAZETTE_REQUIRE_WORDPRESS=1 makes that
a failure, as in CI).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.discussion_helpers import has, mirrored, read_comments_now
from tests.harness import eventually, settle

pytest_plugins = ["tests.wordpress_fixture"]  # the wordpress and wp_blog fixtures
pytestmark = pytest.mark.wordpress


async def next_second() -> None:
    """WordPress's feed validators (Last-Modified, ETag) have one-second resolution: a post
    written in the second the feed was last fetched would get a 304 (see the report)."""
    now = time.time()
    await asyncio.sleep(int(now) + 1.01 - now)


async def follow_and_publish(world, wp, title: str, *, channel=None, **post):
    channel = channel or world.text
    await world.start()
    result = await world.command("feed add", {"url": wp.url + "/feed/", "channel": channel})
    assert "Following" in result.messages[-1]["content"], result.messages[-1]["content"]
    # the history import runs in the background: a post published meanwhile would be
    # taken for history; the answer says when it is done
    await eventually(lambda: "✅" in result.messages[0]["content"], what="history imported")
    await next_second()
    created = await wp.create_post(title, **post)
    await world.poll_now()
    threads = await eventually(lambda: world.fake.threads(channel), what="the article's thread")
    return created, int(threads[-1]["id"])


async def twelve_comments(wp, post_id: int) -> list[tuple[str, str | None]]:
    """12 comments, 4 of them replies, a minute apart: [(author, parent author)]."""
    base = int(time.time()) - 3600
    ops, expected = [], []
    replies = {3: 0, 5: 3, 8: 1, 11: 0}  # comment index -> the index it answers
    for n in range(12):
        author = f"Reader {n}"
        parent = replies.get(n)
        ops.append(
            wp.comment_op(
                post_id,
                f"<p>Comment {n} says <strong>hello</strong>.</p>",
                author=author,
                date=base + 60 * n,
                parent_ref=parent,
            )
        )
        expected.append((author, f"Reader {parent}" if parent is not None else None))
    # neither a pingback nor a comment held for moderation is shown
    ops.append(wp.comment_op(post_id, "<p>[&#8230;] linked […]</p>", type="pingback"))
    ops.append(wp.comment_op(post_id, "<p>Held.</p>", author="Spammer", approved=False))
    await wp.create_comments(ops)
    return expected


async def test_published_post_is_announced_with_its_thread_and_twelve_comments_follow(
    gazette_world, wp_blog
):
    world = gazette_world
    post, thread = await follow_and_publish(world, wp_blog, "A real WordPress post")
    [announcement] = world.announcements()
    assert announcement["embeds"][0]["url"] == post.link
    assert int(announcement["id"]) == thread
    assert world.fake.channel(thread)["name"] == "A real WordPress post"

    expected = await twelve_comments(wp_blog, post.id)
    await read_comments_now(world)
    messages = await eventually(lambda: has(world, thread, 12), within=10, what="12")
    assert [m["author"]["username"] for m in messages] == [a for a, _ in expected]
    by_author = {m["author"]["username"]: m for m in messages}
    for (_, parent), message in zip(expected, messages, strict=True):
        head = message["content"].split("\n")[0]
        assert "Comment" in message["content"] and "**hello**" in message["content"]
        if parent is None:
            assert "Reply to" not in head
        else:
            assert f"Reply to **{parent}**" in head
            assert by_author[parent]["id"] in head  # the jump link to the parent's message
    assert all(m.get("webhook_id") for m in messages)


async def test_edited_comment_edits_its_message_and_restart_duplicates_nothing(
    gazette_world, wp_blog
):
    world = gazette_world
    post, thread = await follow_and_publish(world, wp_blog, "Edits and restarts")
    first = await wp_blog.create_comment(post.id, "<p>Frist!</p>", author="Ann")
    await wp_blog.create_comment(post.id, "<p>Hello.</p>", author="Bob")
    await read_comments_now(world)
    await eventually(lambda: has(world, thread, 2), within=10)

    await wp_blog.edit_comment(first.id, content="<p>First (edited).</p>")
    await read_comments_now(world)
    edited = await eventually(
        lambda: (
            "First (edited)." in mirrored(world, thread)[0]["content"]
            and mirrored(world, thread)[0]
        ),
        within=10,
        what="the edit",
    )
    assert edited["edited_timestamp"] is not None

    held = await wp_blog.create_comment(post.id, "<p>Held back.</p>", author="Dee", approved=False)
    await wp_blog.create_comment(post.id, "<p>Hello again.</p>", author="Bob")
    await read_comments_now(world)
    await eventually(lambda: has(world, thread, 3), within=10)
    await wp_blog.edit_comment(held.id, approved=True)  # approved later: shown then
    await read_comments_now(world)
    await eventually(lambda: has(world, thread, 4), within=10)

    await world.restart()
    await world.poll_now()
    await read_comments_now(world)
    await settle()
    assert len(mirrored(world, thread)) == 4
    assert len(world.announcements()) == 1 and len(world.fake.threads(world.text)) == 1
    await wp_blog.create_comment(post.id, "<p>After the restart.</p>", author="Cy")
    await read_comments_now(world)
    messages = await eventually(lambda: has(world, thread, 5), within=10)
    assert [m["author"]["username"] for m in messages] == ["Ann", "Bob", "Bob", "Dee", "Cy"]


@pytest.mark.parametrize("mode", ["error", "off"])
async def test_without_the_rest_api_the_comment_feed_is_used(gazette_world, wp_blog, mode):
    world = gazette_world
    await wp_blog.set_rest(mode)
    post, thread = await follow_and_publish(world, wp_blog, "No REST here")
    ann = await wp_blog.create_comment(post.id, "<p>From the feed.</p>", author="Ann")
    await wp_blog.create_comment(post.id, "<p>Answer.</p>", author="Bob", parent=ann.id)
    await read_comments_now(world)
    first, second = await eventually(lambda: has(world, thread, 2), within=10)
    assert (first["author"]["username"], second["author"]["username"]) == ("Ann", "Bob")
    assert "Reply to **Ann**" in second["content"].split("\n")[0]
    assert "In reply to" not in second["content"]
    watch = await world.store.get_comment_watch(
        await world.store._value(
            "SELECT post_id FROM discussions WHERE thread_id = ? ORDER BY id DESC LIMIT 1",
            (thread,),
        )
    )
    assert watch.source == "feed"


async def test_forum_channel_gets_a_forum_post_with_matching_tags(gazette_world, wp_blog):
    world = gazette_world
    post, thread = await follow_and_publish(
        world, wp_blog, "Forum trip", channel=world.forum, categories=["Travel", "Food"]
    )
    forum_post = world.fake.channel(thread)
    assert forum_post["name"] == "Forum trip"
    assert forum_post["applied_tags"] == [str(world.fake.tag_id(world.forum, "Travel"))]
    starter = world.fake.message(thread)
    assert starter["embeds"][0]["url"] == post.link
    await wp_blog.create_comment(post.id, "<p>Into the forum.</p>", author="Ann")
    await read_comments_now(world)
    [message] = await eventually(lambda: has(world, thread, 1), within=10)
    assert message["author"]["username"] == "Ann"
