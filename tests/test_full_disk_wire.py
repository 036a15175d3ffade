"""A full disk (SQLite's max_page_count) while posts arrive, over the wire with the fake Discord."""

from __future__ import annotations

import logging

from tests.discussion_helpers import (
    WPBlog,
    follow,
    has,
    mirrored,
    publish_and_announce,
    read_comments_now,
)
from tests.harness import eventually, settle

UNLIMITED = 1073741823  # SQLite's largest max_page_count


async def fill_the_disk(store) -> None:
    """No page beyond those in use: every write that needs a new page fails as on a full disk."""
    (pages,) = await (await store.conn.execute("PRAGMA page_count")).fetchone()
    await store.conn.execute(f"PRAGMA max_page_count = {pages}")


async def free_space(store) -> None:
    await store.conn.execute(f"PRAGMA max_page_count = {UNLIMITED}")


def assert_one_clear_line(caplog) -> None:
    """The full disk is named once (not once per write), and no traceback buries it."""
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    full = [r for r in loud if "database or disk is full" in r.getMessage()]
    assert [r.name for r in full] == ["bot.store.base"], [r.getMessage() for r in loud]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def titles(world) -> list[str]:
    return [m["embeds"][0]["title"] for m in world.announcements()]


async def test_full_disk_fails_clearly_and_each_post_is_announced_once_space_returns(
    gazette_world, caplog
):
    world = gazette_world
    caplog.set_level(logging.INFO)
    blog = world.blog()
    blog.publish("Already there")
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})

    # the first post reaches Discord; its answer is held until the disk is full
    held = world.fake.stall("POST", r"/channels/\d+/messages")
    blog.publish("Sent as the disk fills", "<p>First.</p>")
    await world.poll_now()
    await held.reached.wait()
    await fill_the_disk(world.store)
    held.release.set()

    body = "<p>" + "A long article. " * 400 + "</p>"
    for n in range(3):
        blog.publish(f"Written while full {n}", body)
    for _ in range(5):  # the feed is checked again and again while nothing can be stored
        await world.poll_now()
        await settle(0.3)
    assert titles(world) == ["Sent as the disk fills"]
    # our disk is not the blog's fault: its followers are not told the feed is failing
    assert not [m for m in world.fake.messages(world.text) if not m.get("embeds")]
    assert world.bot.is_ready() and not world.bot.is_closed()
    assert_one_clear_line(caplog)

    await free_space(world.store)
    await world.poll_now()
    expected = ["Sent as the disk fills"] + [f"Written while full {n}" for n in range(3)]
    await eventually(lambda: len(titles(world)) >= 4, within=10, what="the posts written later")
    await world.poll_now()
    await settle()
    assert titles(world) == expected

    # and nothing comes back after a restart either
    await world.restart()
    await world.poll_now()
    await settle()
    assert titles(world) == expected


async def test_comments_read_while_full_are_shown_once_when_space_returns(gazette_world, caplog):
    world = gazette_world
    caplog.set_level(logging.INFO)
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog, "Discussed")

    await fill_the_disk(world.store)
    long = "<p>" + "A considered opinion. " * 300 + "</p>"
    comments = [blog.comment(post, long, author=f"Reader {n}") for n in range(3)]
    for _ in range(5):
        await read_comments_now(world)
        await settle(0.3)
    assert mirrored(world, thread) == []  # not stored, so not shown: nothing half-done
    assert_one_clear_line(caplog)

    await free_space(world.store)
    await read_comments_now(world)
    shown = await eventually(lambda: has(world, thread, 3), within=10, what="the 3 comments")
    assert [m["author"]["username"] for m in shown] == [c.author for c in comments]
    await read_comments_now(world)
    await settle()
    assert len(mirrored(world, thread)) == 3
