"""Posts: storing a feed's new entries (with the deliveries they owe) and reading them back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

import aiosqlite

from ..models import Entry, Post
from ..text import html_to_text
from .filters import SUBSCRIPTIONS_WITH_FILTERS
from .rows import POST_COLUMNS, new_nonce, post_from_row

#: Posts per INSERT: 60 rows of 16 values stay under SQLite's smallest cap on a statement's
#: parameters (999, builds before 3.32)
_INSERT_CHUNK = 60


class PostQueries:
    conn: aiosqlite.Connection

    # --- which entries are stored ----------------------------------------------------

    async def known_keys(self, feed_id: int) -> set[str]:
        rows = await self._all("SELECT entry_key FROM posts WHERE feed_id = ?", (feed_id,))
        return {row["entry_key"] for row in rows}

    async def recent_keys(self, feed_id: int, limit: int) -> set[str]:
        """Entry keys of the feed's newest posts: `limit` dated ones, by date, and `limit`
        undated ones, newest stored first. What a feed shows is among them, and a long
        history (50,000 keys of 2 KB: 100 MB) is not read into memory at every check."""
        rows = await self._all(
            # one round trip for both
            "SELECT entry_key FROM (SELECT entry_key FROM posts WHERE feed_id = ?"
            " AND published_at IS NOT NULL ORDER BY published_at DESC LIMIT ?)"
            " UNION ALL SELECT entry_key FROM (SELECT entry_key FROM posts WHERE feed_id = ?"
            " AND published_at IS NULL ORDER BY id DESC LIMIT ?)",
            (feed_id, limit, feed_id, limit),
        )
        return {row["entry_key"] for row in rows}

    async def stored_keys(self, feed_id: int, keys: list[str]) -> dict[str, int]:
        """entry key → post id, for those of `keys` already stored in the feed (inside a
        transaction, its own rows included)."""
        rows = await self._all_in(
            "SELECT entry_key, id FROM posts WHERE feed_id = ? AND entry_key IN ({marks})",
            keys,
            (feed_id,),
        )
        return {row["entry_key"]: row["id"] for row in rows}

    # --- storing ---------------------------------------------------------------------

    async def _insert_posts(
        self,
        db: aiosqlite.Connection,
        feed_id: int,
        entries: list[Entry],
        texts: dict[str, str],
        now: float,
    ) -> dict[str, int]:
        """Inside a transaction: insert the entries not stored yet; entry key → id of those
        inserted. One statement per chunk that inserts and returns (what was stored and the
        new ids were two more round trips to the database thread each)."""
        ids: dict[str, int] = {}
        for start in range(0, len(entries), _INSERT_CHUNK):
            chunk = entries[start : start + _INSERT_CHUNK]
            rows = await self._all(
                "INSERT INTO posts(feed_id, entry_key, title, link, author,"
                " published_at, updated_at, categories, tags, summary_html, content_html,"
                " content_text, image_url, comments_feed, wp_id, discovered_at) VALUES "
                + ",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
                + " ON CONFLICT (feed_id, entry_key) DO NOTHING RETURNING entry_key, id",
                [
                    value
                    for entry in chunk
                    for value in (
                        feed_id,
                        entry.key,
                        entry.title,
                        entry.link,
                        entry.author,
                        entry.published_at,
                        entry.updated_at,
                        json.dumps(entry.categories, ensure_ascii=False),
                        json.dumps(entry.tags, ensure_ascii=False),
                        entry.summary_html,
                        entry.content_html,
                        texts[entry.key],
                        entry.image_url,
                        entry.comments_feed,
                        entry.wp_id,
                        now,
                    )
                ],
                conn=db,
            )
            ids.update((row["entry_key"], row["id"]) for row in rows)
        return ids

    async def store_entries(
        self,
        feed_id: int,
        entries: Iterable[Entry],
        *,
        announce: bool,
        revisions: dict[str, tuple[str, str | None]] | None = None,
        digests_only: bool = False,
    ) -> list[int]:
        """Insert the entries not seen before; returns the new posts' ids, oldest first.

        With `announce`, every subscription of the feed whose filters let a new post through
        (bot/filters.py) gets a pending delivery of it in the same transaction, so a crash
        cannot separate "stored" from "owed";
        with `revisions` (entry key → shown hash, item hash) the announced posts are watched
        for edits (bot/store/edits.py), in the same transaction too;
        with `digests_only` only digest subscriptions are owed them (a burst too big to
        announce post by post still belongs in the period's digest).
        """
        now = time.time()
        unique: dict[str, Entry] = {}
        for entry in sorted(entries, key=lambda e: e.published_at or 0.0):
            unique.setdefault(entry.key, entry)
        if not unique:
            return []
        # plain text before taking the lock, so other writers are not kept waiting (parsers
        # make it off the event loop: bot.limits.clamp_entry)
        texts = {
            key: e.content_text
            if e.content_text is not None
            else html_to_text(e.content_html or e.summary_html)
            for key, e in unique.items()
        }
        async with self.transaction() as db:
            # a few statements per batch instead of one round trip per entry
            ids = await self._insert_posts(db, feed_id, list(unique.values()), texts, now)
            if not ids:
                return []
            fresh = [entry for key, entry in unique.items() if key in ids]
            new_ids = sorted(ids.values())
            if announce:
                subs = await self._all(SUBSCRIPTIONS_WITH_FILTERS, (feed_id,), conn=db)
                in_digest = {sub["id"] for sub in subs if sub["in_digest"]}
                if digests_only:
                    subs = [sub for sub in subs if sub["id"] in in_digest]
                # which subscriptions announce which posts: their filters decide (none: all)
                owed = await self.owed_deliveries(fresh, ids, texts, subs)
                await db.executemany(
                    "INSERT OR IGNORE INTO deliveries(post_id, subscription_id, nonce,"
                    " created_at) VALUES (?, ?, ?, ?)",
                    [(post_id, sub_id, new_nonce(), now) for post_id, sub_id in owed],
                )
                # a digest subscription's delivery waits for its digest (bot/store/digests.py)
                await self.hold_for_digests(db, in_digest, new_ids)
                await db.execute(
                    "UPDATE feeds SET last_new_post_at = ? WHERE id = ?", (now, feed_id)
                )
                announced = {post_id for post_id, _ in owed}
                if revisions and announced:
                    await self.watch_revisions(
                        db,
                        feed_id,
                        [
                            # the window counts from publication (a future date: now)
                            (ids[e.key], min(e.published_at or now, now), *revisions[e.key])
                            for e in fresh
                            if e.key in revisions and ids[e.key] in announced
                        ],
                    )
        return new_ids

    # --- reading ---------------------------------------------------------------------

    async def get_post(self, post_id: int) -> Post | None:
        # committed posts only, on the reader: an announcement's read never queues behind a
        # poll's transaction on the writer
        row = await self._one(f"SELECT {POST_COLUMNS} FROM posts WHERE id = ?", (post_id,))
        return post_from_row(row) if row else None

    async def latest_post(self, feed_id: int) -> Post | None:
        row = await self._one(
            f"SELECT {POST_COLUMNS} FROM posts WHERE feed_id = ?"
            " ORDER BY coalesce(published_at, discovered_at) DESC, id DESC LIMIT 1",
            (feed_id,),
            conn=self.conn,
        )
        return post_from_row(row) if row else None

    async def newest_published(self, feed_id: int) -> float | None:
        return await self._value(
            "SELECT max(published_at) FROM posts WHERE feed_id = ?", (feed_id,), conn=self.conn
        )

    async def count_posts(self, feed_id: int) -> int:
        return await self._value(
            "SELECT count(*) FROM posts WHERE feed_id = ?", (feed_id,), conn=self.conn
        )
