"""A full disk (SQLite's max_page_count) while posts arrive, over the wire with the fake Discord."""

from __future__ import annotations

import logging

from tests.harness import eventually, settle

UNLIMITED = 1073741823  # SQLite's largest max_page_count


async def fill_the_disk(store) -> None:
    """No page beyond those in use: every write that needs a new page fails as on a full disk."""
    (pages,) = await (await store.conn.execute("PRAGMA page_count")).fetchone()
    await store.conn.execute(f"PRAGMA max_page_count = {pages}")


async def free_space(store) -> None:
    await store.conn.execute(f"PRAGMA max_page_count = {UNLIMITED}")


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
    full = [r for r in caplog.records if "database or disk is full" in r.getMessage()]
    assert full, "no log line names the full disk"
    assert any(r.name == "bot.store.base" and r.levelno == logging.ERROR for r in full)
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) <= 2, [r.getMessage() for r in tracebacks]

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
