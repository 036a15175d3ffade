"""Hostile text from a blog over the wire: real discord.py against the fake Discord (which
refuses what Discord refuses), blogs on loopback. Nothing a post or a comment holds may stop
it, or the ones behind it, from being shown."""

from __future__ import annotations

import re

from tests.discussion_helpers import (
    WPBlog,
    follow,
    mirrored,
    publish_and_announce,
    read_comments_now,
)
from tests.harness import eventually

DEEP = "<b>" * 500 + "deep words" + "</b>" * 500  # 3.5 KB: RecursionError in markdownify
HIDDEN = re.compile("[\u202a-\u202e\u2066-\u2069\u200b]")


async def test_deeply_nested_post_and_overridden_title_are_announced(gazette_world):
    world = gazette_world
    blog = world.blog()
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    blog.publish("\u202eevil\u202c title", DEEP)
    blog.publish("The next post", "<p>Plain.</p>")
    await world.poll_now()

    first, second = await eventually(
        lambda: len(world.announcements()) == 2 and world.announcements(), what="2 posts"
    )
    assert first["embeds"][0]["title"] == "evil title"
    assert first["embeds"][0]["description"] == "**deep words**"
    assert second["embeds"][0]["title"] == "The next post"
    names = [t["name"] for t in await eventually(lambda: world.fake.threads(world.text))]
    assert "evil title" in names and not any(HIDDEN.search(n) for n in names)


async def test_hostile_commenters_are_mirrored_and_the_thread_goes_on(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)

    blog.comment(post, DEEP, author="discordiscord")
    blog.comment(post, "<p>Second.</p>", author="clclydeyde\u202e")
    blog.comment(post, "<p>Third.</p>", author="Ann")
    await read_comments_now(world)
    messages = await eventually(
        lambda: len(mirrored(world, thread)) == 3 and mirrored(world, thread), what="3 comments"
    )

    names = [m["author"]["username"] for m in messages]
    assert names[2] == "Ann"
    for name in names:  # the fake Discord refuses these words as Discord does
        assert "discord" not in name.lower() and "clyde" not in name.lower()
        assert not HIDDEN.search(name)
    assert messages[0]["content"].startswith("**deep words**")
    assert all(m.get("webhook_id") for m in messages)
