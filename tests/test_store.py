"""The data layer's transactions on a real SQLite file: what readers see, what a failure undoes."""

from __future__ import annotations

import asyncio
import logging
import time

import aiosqlite
import pytest

from bot.models import Entry
from bot.store import Store, StoreWriteError

GUILD, CHANNEL = 1, 10


async def followed_feed(store: Store) -> int:
    feed = await store.add_feed(
        "http://127.0.0.1/feed",
        title="Blog",
        site_url=None,
        etag=None,
        last_modified=None,
        body_hash=None,
        next_check_at=0,
    )
    await store.add_subscription(feed.id, GUILD, CHANNEL)
    return feed.id


def entry(key: str) -> Entry:
    return Entry(key=key, title=f"Post {key}", published_at=time.time())


async def test_a_write_that_fails_is_never_seen_by_the_loops(store):
    """The delivery loop reading while a write is under way must not act on rows that a
    failure is about to take back (it would send a post whose record then disappears)."""
    feed_id = await followed_feed(store)
    [post_id] = await store.store_entries(feed_id, [entry("a")], announce=False)
    [sub] = await store.feed_subscriptions(feed_id)
    written, looked = asyncio.Event(), asyncio.Event()
    seen = {}

    async def loops():  # other tasks, as the delivery and poll loops are
        await written.wait()
        seen["due"] = await store.due_deliveries(time.time() + 1)
        seen["known"] = await store.known_keys(feed_id)
        seen["feeds"] = await store.due_feeds(time.time() + 1, 10)
        looked.set()

    reader = asyncio.create_task(loops())
    with pytest.raises(RuntimeError):
        async with store.transaction() as db:
            await db.execute(
                "INSERT INTO deliveries(post_id, subscription_id, nonce, created_at)"
                " VALUES (?, ?, 'n', 0)",
                (post_id, sub.id),
            )
            await db.execute(
                "INSERT INTO posts(feed_id, entry_key, title, categories, tags, discovered_at)"
                " VALUES (?, 'b', 'B', '[]', '[]', 0)",
                (feed_id,),
            )
            await db.execute("UPDATE feeds SET next_check_at = 1e18 WHERE id = ?", (feed_id,))
            written.set()
            await looked.wait()
            raise RuntimeError("the rest of the write failed")
    await reader
    assert seen["due"] == []
    assert seen["known"] == {"a"}
    assert [f.id for f in seen["feeds"]] == [feed_id]
    assert await store.due_deliveries(time.time() + 1) == []
    assert await store.known_keys(feed_id) == {"a"}


async def test_the_writer_reads_its_own_rows_and_everyone_sees_them_once_committed(store):
    feed_id = await followed_feed(store)
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO posts(feed_id, entry_key, title, categories, tags, discovered_at)"
            " VALUES (?, 'inside', 'In', '[]', '[]', 0)",
            (feed_id,),
        )
        assert await store.known_keys(feed_id) == {"inside"}
    # read-your-writes: the very next read after a commit sees it, from any task
    [post_id] = await store.store_entries(feed_id, [entry("new")], announce=True)
    assert await asyncio.create_task(store.known_keys(feed_id)) == {"inside", "new"}
    [due] = await store.due_deliveries(time.time() + 1)
    assert due.post_id == post_id
    await store.mark_delivered(due.id, 123)
    assert await store.due_deliveries(time.time() + 1) == []


async def test_a_failed_commit_rolls_back_and_the_connection_stays_usable(store):
    feed_id = await followed_feed(store)
    with pytest.raises(aiosqlite.IntegrityError):
        async with store.transaction() as db:
            # a deferred foreign key is checked at COMMIT, which then fails
            await db.execute("PRAGMA defer_foreign_keys=ON")
            await db.execute(
                "INSERT INTO deliveries(post_id, subscription_id, nonce, created_at)"
                " VALUES (999, 999, 'n', 0)"
            )
            await db.execute("UPDATE feeds SET title = 'half-written' WHERE id = ?", (feed_id,))
    assert not store.conn.in_transaction
    assert (await store.get_feed(feed_id)).title == "Blog"
    await store.set_meta("after", "yes")  # the next write works and commits on its own
    assert await store.get_meta("after") == "yes"
    assert (await store.get_feed(feed_id)).title == "Blog"


async def test_a_full_disk_fails_writes_with_one_clear_line_and_loses_nothing(store, caplog):
    feed_id = await followed_feed(store)
    (pages,) = await (await store.conn.execute("PRAGMA page_count")).fetchone()
    await store.conn.execute(f"PRAGMA max_page_count = {pages}")
    big = [Entry(key=f"k{n}", title="x" * 2000, published_at=time.time()) for n in range(20)]
    with caplog.at_level(logging.INFO, logger="bot.store"):
        for _ in range(3):
            with pytest.raises(StoreWriteError, match="database or disk is full"):
                await store.store_entries(feed_id, big, announce=True)
            assert not store.conn.in_transaction
    full = [r for r in caplog.records if "database or disk is full" in r.getMessage()]
    assert len(full) == 1 and full[0].levelno == logging.ERROR and full[0].exc_info is None
    assert await store.due_deliveries(time.time() + 1) == []

    await store.conn.execute("PRAGMA max_page_count = 1073741823")
    assert len(await store.store_entries(feed_id, big, announce=True)) == 20
    assert len(await store.due_deliveries(time.time() + 1, limit=100)) == 20


async def test_without_a_file_reads_wait_for_the_open_write():
    store = await Store.open(":memory:")
    try:
        feed_id = await followed_feed(store)
        async with store.transaction() as db:
            await db.execute(
                "INSERT INTO posts(feed_id, entry_key, title, categories, tags, discovered_at)"
                " VALUES (?, 'late', 'Late', '[]', '[]', 0)",
                (feed_id,),
            )
            read = asyncio.create_task(store.known_keys(feed_id))
            await asyncio.sleep(0.05)
            assert not read.done()
        assert await read == {"late"}
    finally:
        await store.close()


async def test_read_helpers_see_committed_rows_only(store):
    await store.set_meta("motto", "old")
    sql, args = "SELECT value FROM meta WHERE key = ?", ("motto",)
    writing, read = asyncio.Event(), asyncio.Event()
    seen = []

    async def elsewhere():
        await writing.wait()
        seen.append((await store._value(sql, args), await store._all(sql, args)))
        seen.append((await store._one(sql, args))[0])
        # conn= reads that connection as it is: the writer's includes the write under way
        seen.append(await store._value(sql, args, conn=store.conn))
        read.set()

    task = asyncio.create_task(elsewhere())
    async with store.transaction() as db:
        await db.execute("UPDATE meta SET value = 'new' WHERE key = 'motto'")
        assert await store._value(sql, args) == "new"  # the writer sees its own change
        writing.set()
        await read.wait()
    await task
    assert seen[0][0] == "old" and [tuple(r) for r in seen[0][1]] == [("old",)]
    assert seen[1] == "old"
    assert seen[2] == "new"
    assert await store._value(sql, args) == "new"
    assert await store._value(sql, ("nothing",)) is None


async def test_a_bug_in_a_statement_is_not_taken_for_a_full_disk(store):
    with pytest.raises(aiosqlite.OperationalError, match="no such column") as info:
        async with store.transaction() as db:
            await db.execute("UPDATE feeds SET no_such_column = 1")
    assert not isinstance(info.value, StoreWriteError)
    assert not store.conn.in_transaction


async def test_long_lists_are_read_a_chunk_at_a_time(store):
    """More values than one statement takes (SQLite caps its parameters): every chunk read."""
    feed_id = await followed_feed(store)
    keys = [f"k{i}" for i in range(1_201)]
    await store.store_entries(feed_id, [entry(k) for k in keys[:1]], announce=True)
    await store.store_entries(feed_id, [entry(k) for k in keys[1:]], announce=False)
    found = await store.stored_keys(feed_id, [*keys, "never stored"])
    assert sorted(found) == sorted(keys) and len(set(found.values())) == len(keys)
    [delivery] = await store.due_deliveries(time.time() + 1)
    await store.mark_delivered(delivery.id, 5_000, 7_000)
    assert await store.recorded_messages(range(4_000, 5_201)) == {5_000}
    assert await store.recorded_threads(range(6_000, 7_201)) == {7_000}


async def test_nothing_overtakes_a_post_postponed_for_its_channel(store):
    """A channel that failed keeps its order: posts found after its postponed post wait for
    it; a post Discord refused (its own fault) waits alone."""
    feed_id = await followed_feed(store)
    [first] = await store.store_entries(feed_id, [entry("a")], announce=True)
    [due] = await store.due_deliveries(time.time() + 1)
    await store.mark_delivery_failed(
        due.id, "Discord answered 503", next_attempt_at=time.time() + 60
    )
    [second] = await store.store_entries(feed_id, [entry("b")], announce=True)
    assert await store.due_deliveries(time.time() + 1) == []
    # its time comes: both go, in order
    later = await store.due_deliveries(time.time() + 61)
    assert [d.post_id for d in later] == [first, second]

    await store.refuse_delivery(
        later[0].id, "Invalid Form Body", next_attempt_at=time.time() + 60, give_up_after=3
    )
    assert [d.post_id for d in await store.due_deliveries(time.time() + 1)] == [second]
