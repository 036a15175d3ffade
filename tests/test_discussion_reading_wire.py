"""How the blog's comments are read, over the wire: REST pages, the comment feed with
conditional GETs when REST is off, one read for every server, and talk in the thread keeping
the discussion live.
"""

from __future__ import annotations

import asyncio

from tests.discussion_helpers import (
    WPBlog,
    announced_thread,
    follow,
    has,
    history_imported,
    mirrored,
    publish_and_announce,
    read_comments_now,
)
from tests.harness import eventually, settle


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


async def test_talk_in_the_thread_keeps_the_discussion_live(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    discussion = await world.store._one(
        "SELECT id, last_activity_at FROM discussions WHERE thread_id = ? ORDER BY id DESC LIMIT 1",
        (thread,),
    )
    before = discussion["last_activity_at"]
    await asyncio.sleep(0.01)
    world.fake.post_user_message(thread, "What do you all think?")
    await eventually(
        lambda: _activity_after(world, discussion["id"], before), what="activity recorded"
    )


async def _activity_after(world, discussion_id: int, before: float) -> bool:
    found = await world.store.get_discussion(discussion_id)
    return found.last_activity_at > before
