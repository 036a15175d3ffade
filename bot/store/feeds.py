"""Feeds, subscriptions, posts and the delivery outbox."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable

import aiosqlite

from ..models import Delivery, Entry, Feed, FeedCheck, Post, Subscription, SubscriptionStatus
from ..text import html_to_text


class AlreadySubscribed(Exception):
    pass


_FEED_COLUMNS = (
    "id, url, title, site_url, etag, last_modified, body_hash, poll_interval, next_check_at,"
    " last_checked_at, last_new_post_at, failure_count, last_error, failing_notified"
)
_SUB_COLUMNS = (
    "s.id, s.feed_id, s.guild_id, s.channel_id, s.mention_role_id, s.threads,"
    " s.auto_archive_minutes, f.url, f.title, s.poll_interval"
)
_SUB_WIDTH = 10  # columns of _SUB_COLUMNS
_POST_COLUMNS = (
    "id, feed_id, entry_key, title, link, author, published_at, updated_at, categories, tags,"
    " summary_html, content_html, image_url, comments_feed, wp_id"
)


def _feed(row) -> Feed:
    return Feed(*row[:13], failing_notified=bool(row[13]))


def _subscription(row) -> Subscription:
    return Subscription(
        id=row[0],
        feed_id=row[1],
        guild_id=row[2],
        channel_id=row[3],
        mention_role_id=row[4],
        threads=bool(row[5]),
        auto_archive_minutes=row[6],
        feed_url=row[7],
        feed_title=row[8],
        poll_interval=row[9],
    )


def _post(row) -> Post:
    values = list(row)
    values[8] = json.loads(values[8])
    values[9] = json.loads(values[9])
    return Post(*values)


# A Delivery's columns, in its order, with its subscription and feed
_DELIVERIES = (
    "SELECT d.id, d.post_id, d.subscription_id, d.nonce, d.attempts, d.state,"
    " d.last_error, d.message_id, s.channel_id, s.guild_id, s.mention_role_id, s.threads,"
    " s.auto_archive_minutes, f.title, d.started_at FROM deliveries d"
    " JOIN subscriptions s ON s.id = d.subscription_id JOIN feeds f ON f.id = s.feed_id"
)


def new_nonce() -> str:
    # Discord accepts nonces of up to 25 characters; enforce_nonce dedups a resend
    return secrets.token_hex(12)


class FeedQueries:
    conn: aiosqlite.Connection

    # --- bot-wide facts -------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        async with self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # --- feeds ----------------------------------------------------------------------

    async def get_feed(self, feed_id: int) -> Feed | None:
        async with self.conn.execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds WHERE id = ?", (feed_id,)
        ) as cur:
            row = await cur.fetchone()
        return _feed(row) if row else None

    async def get_feed_by_url(self, url: str) -> Feed | None:
        async with self.conn.execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,)
        ) as cur:
            row = await cur.fetchone()
        return _feed(row) if row else None

    async def add_feed(
        self,
        url: str,
        *,
        title: str | None,
        site_url: str | None,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        next_check_at: float,
    ) -> Feed:
        """The feed with this URL, created if new (validators kept from the first fetch)."""
        now = time.time()
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO feeds(url, title, site_url, etag, last_modified, body_hash,"
                " next_check_at, last_checked_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(url) DO UPDATE SET title = coalesce(excluded.title, title)",
                (url, title, site_url, etag, last_modified, body_hash, next_check_at, now, now),
            )
        feed = await self.get_feed_by_url(url)
        assert feed is not None
        return feed

    async def due_feeds(self, now: float, limit: int) -> list[Feed]:
        """Feeds whose next check has come and that someone still follows."""
        async with self._reading(
            f"SELECT {_FEED_COLUMNS} FROM feeds WHERE next_check_at <= ?"
            " AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = feeds.id)"
            " ORDER BY next_check_at LIMIT ?",
            (now, limit),
        ) as cur:
            return [_feed(row) for row in await cur.fetchall()]

    async def record_checks(self, checks: Iterable[FeedCheck]) -> None:
        """Write a poll cycle's outcomes in one transaction (a few statements, not 1,000s)."""
        now = time.time()
        ok = [c for c in checks if c.error is None]
        failed = [c for c in checks if c.error is not None]
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE feeds SET next_check_at = ?, last_checked_at = ?, failure_count = 0,"
                " last_error = NULL, failing_notified = 0 WHERE id = ?",
                [(c.next_check_at, now, c.feed_id) for c in ok],
            )
            # a new body brings new validators; the server may have dropped them
            await db.executemany(
                "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ?,"
                " title = coalesce(?, title), site_url = coalesce(?, site_url) WHERE id = ?",
                [
                    (c.etag, c.last_modified, c.body_hash, c.title, c.site_url, c.feed_id)
                    for c in ok
                    if c.fetched
                ],
            )
            await db.executemany(
                "UPDATE feeds SET failure_count = failure_count + 1, last_error = ?,"
                " last_checked_at = ?, next_check_at = ?,"
                " failing_notified = max(failing_notified, ?) WHERE id = ?",
                [
                    (c.error[:500], now, c.next_check_at, int(c.notify_failing), c.feed_id)
                    for c in failed
                ],
            )

    async def schedule_check(self, feed_id: int, at: float) -> None:
        """Check a feed at `at` (now, when an admin asks) without touching its failure count."""
        async with self.transaction() as db:
            await db.execute("UPDATE feeds SET next_check_at = ? WHERE id = ?", (at, feed_id))

    async def count_feeds(self) -> int:
        async with self.conn.execute(
            "SELECT count(*) FROM feeds WHERE EXISTS"
            " (SELECT 1 FROM subscriptions s WHERE s.feed_id = feeds.id)"
        ) as cur:
            (value,) = await cur.fetchone()
        return value

    # --- subscriptions --------------------------------------------------------------

    async def add_subscription(
        self,
        feed_id: int,
        guild_id: int,
        channel_id: int,
        *,
        mention_role_id: int | None = None,
        threads: bool = True,
        auto_archive_minutes: int = 10080,
        poll_interval: int | None = None,
    ) -> Subscription:
        """`poll_interval` in seconds (None follows POLL_INTERVAL); the feed's own interval is
        then refresh_poll_interval()'s to recompute."""
        try:
            async with self.transaction() as db:
                cur = await db.execute(
                    "INSERT INTO subscriptions(feed_id, guild_id, channel_id, mention_role_id,"
                    " threads, auto_archive_minutes, created_at, poll_interval)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        feed_id,
                        guild_id,
                        channel_id,
                        mention_role_id,
                        int(threads),
                        auto_archive_minutes,
                        time.time(),
                        poll_interval,
                    ),
                )
        except aiosqlite.IntegrityError:
            raise AlreadySubscribed from None
        sub = await self.get_subscription(guild_id, cur.lastrowid)
        assert sub is not None
        return sub

    async def get_subscription(self, guild_id: int, subscription_id: int) -> Subscription | None:
        """Scoped to one server: another server's id finds nothing."""
        async with self.conn.execute(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
            " WHERE s.id = ? AND s.guild_id = ?",
            (subscription_id, guild_id),
        ) as cur:
            row = await cur.fetchone()
        return _subscription(row) if row else None

    async def update_subscription(
        self,
        guild_id: int,
        subscription_id: int,
        *,
        threads: bool | None = None,
        auto_archive_minutes: int | None = None,
        mention_role_id: int | None = None,
        clear_mention: bool = False,
        poll_interval: int | None = None,
    ) -> Subscription | None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE subscriptions SET threads = coalesce(?, threads),"
                " auto_archive_minutes = coalesce(?, auto_archive_minutes),"
                " mention_role_id = CASE WHEN ? THEN NULL ELSE coalesce(?, mention_role_id) END,"
                " poll_interval = coalesce(?, poll_interval)"
                " WHERE id = ? AND guild_id = ?",
                (
                    None if threads is None else int(threads),
                    auto_archive_minutes,
                    int(clear_mention),
                    mention_role_id,
                    poll_interval,
                    subscription_id,
                    guild_id,
                ),
            )
        return await self.get_subscription(guild_id, subscription_id)

    async def guild_subscriptions(self, guild_id: int) -> list[Subscription]:
        async with self.conn.execute(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
            " WHERE s.guild_id = ? ORDER BY s.id",
            (guild_id,),
        ) as cur:
            return [_subscription(row) for row in await cur.fetchall()]

    async def feed_subscriptions(self, feed_id: int) -> list[Subscription]:
        async with self.conn.execute(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
            " WHERE s.feed_id = ? ORDER BY s.id",
            (feed_id,),
        ) as cur:
            return [_subscription(row) for row in await cur.fetchall()]

    async def guild_status(self, guild_id: int) -> list[SubscriptionStatus]:
        async with self.conn.execute(
            f"SELECT {_SUB_COLUMNS}, f.last_checked_at, f.last_new_post_at, f.last_error,"
            " (SELECT count(*) FROM deliveries d WHERE d.subscription_id = s.id"
            "   AND d.state = 'pending' AND d.attempts > 0),"
            " (SELECT d.last_error FROM deliveries d WHERE d.subscription_id = s.id"
            "   AND d.state = 'pending' AND d.attempts > 0 ORDER BY d.id DESC LIMIT 1),"
            " s.poll_interval,"
            " s.archived_silently"
            " FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
            " WHERE s.guild_id = ? ORDER BY s.id",
            (guild_id,),
        ) as cur:
            rows = await cur.fetchall()
        statuses = [
            SubscriptionStatus(_subscription(row[:_SUB_WIDTH]), *row[_SUB_WIDTH:]) for row in rows
        ]
        await self._add_skips(guild_id, statuses)
        return statuses

    async def remove_subscription(self, guild_id: int, subscription_id: int) -> bool:
        async with self.transaction() as db:
            cur = await db.execute(
                "DELETE FROM subscriptions WHERE id = ? AND guild_id = ?",
                (subscription_id, guild_id),
            )
        return cur.rowcount > 0

    # --- posts ----------------------------------------------------------------------

    async def known_keys(self, feed_id: int) -> set[str]:
        async with self._reading(
            "SELECT entry_key FROM posts WHERE feed_id = ?", (feed_id,)
        ) as cur:
            return {row[0] for row in await cur.fetchall()}

    async def store_entries(
        self, feed_id: int, entries: Iterable[Entry], *, announce: bool
    ) -> list[int]:
        """Insert the entries not seen before; returns the new posts' ids, oldest first.

        With `announce`, every subscription of the feed gets a pending delivery of each new
        post in the same transaction, so a crash cannot separate "stored" from "owed".
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
            known = await self._existing_keys(db, feed_id, list(unique))
            fresh = [entry for key, entry in unique.items() if key not in known]
            if not fresh:
                return []
            await db.executemany(
                "INSERT INTO posts(feed_id, entry_key, title, link, author, published_at,"
                " updated_at, categories, tags, summary_html, content_html, content_text,"
                " image_url, comments_feed, wp_id, discovered_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
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
                    for entry in fresh
                ],
            )
            ids = await self._existing_keys(db, feed_id, [entry.key for entry in fresh])
            new_ids = sorted(ids.values())
            if announce:
                subs = await (
                    await db.execute("SELECT id FROM subscriptions WHERE feed_id = ?", (feed_id,))
                ).fetchall()
                await db.executemany(
                    "INSERT OR IGNORE INTO deliveries(post_id, subscription_id, nonce,"
                    " created_at) VALUES (?, ?, ?, ?)",
                    [(post_id, sub[0], new_nonce(), now) for post_id in new_ids for sub in subs],
                )
                await db.execute(
                    "UPDATE feeds SET last_new_post_at = ? WHERE id = ?", (now, feed_id)
                )
        return new_ids

    @staticmethod
    async def _existing_keys(db, feed_id: int, keys: list[str]) -> dict[str, int]:
        """entry key → post id, for those of `keys` already stored in the feed."""
        found: dict[str, int] = {}
        for start in range(0, len(keys), 500):  # SQLite caps the number of parameters
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            async with db.execute(
                f"SELECT entry_key, id FROM posts WHERE feed_id = ? AND entry_key IN ({marks})",
                (feed_id, *chunk),
            ) as cur:
                found.update({row[0]: row[1] for row in await cur.fetchall()})
        return found

    async def get_post(self, post_id: int) -> Post | None:
        async with self.conn.execute(
            f"SELECT {_POST_COLUMNS} FROM posts WHERE id = ?", (post_id,)
        ) as cur:
            row = await cur.fetchone()
        return _post(row) if row else None

    async def latest_post(self, feed_id: int) -> Post | None:
        async with self.conn.execute(
            f"SELECT {_POST_COLUMNS} FROM posts WHERE feed_id = ?"
            " ORDER BY coalesce(published_at, discovered_at) DESC, id DESC LIMIT 1",
            (feed_id,),
        ) as cur:
            row = await cur.fetchone()
        return _post(row) if row else None

    async def newest_published(self, feed_id: int) -> float | None:
        async with self.conn.execute(
            "SELECT max(published_at) FROM posts WHERE feed_id = ?", (feed_id,)
        ) as cur:
            (value,) = await cur.fetchone()
        return value

    async def count_posts(self, feed_id: int) -> int:
        async with self.conn.execute(
            "SELECT count(*) FROM posts WHERE feed_id = ?", (feed_id,)
        ) as cur:
            (value,) = await cur.fetchone()
        return value

    # --- deliveries -----------------------------------------------------------------

    async def due_deliveries(self, now: float, limit: int = 50) -> list[Delivery]:
        async with self._reading(
            _DELIVERIES + " WHERE d.state = 'pending' AND d.next_attempt_at <= ?"
            " ORDER BY d.next_attempt_at, d.id LIMIT ?",
            (now, limit),
        ) as cur:
            return [Delivery(*row) for row in await cur.fetchall()]

    async def mark_delivered(
        self,
        delivery_id: int,
        message_id: int,
        thread_id: int | None = None,
        *,
        followups_owed: bool = False,
    ) -> None:
        """The post is in the channel; `followups_owed`: publishing or its thread still to do
        (see `owed_followups`)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET state = 'sent', message_id = ?, thread_id = ?, sent_at = ?,"
                " last_error = NULL, followups_owed = ? WHERE id = ?",
                (message_id, thread_id, time.time(), int(followups_owed), delivery_id),
            )

    async def set_delivery_thread(self, delivery_id: int, thread_id: int) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET thread_id = ? WHERE id = ?", (thread_id, delivery_id)
            )

    async def mark_delivery_failed(
        self, delivery_id: int, error: str, *, next_attempt_at: float, settled: bool = False
    ) -> None:
        """A failed try; `settled` when Discord surely created nothing (no send is pending)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?,"
                " next_attempt_at = ?, started_at = CASE WHEN ? THEN NULL ELSE started_at END"
                " WHERE id = ?",
                (error[:500], next_attempt_at, int(settled), delivery_id),
            )

    async def retry_subscription_now(self, subscription_id: int) -> None:
        """Bring a subscription's failing deliveries forward (after the admin fixed it)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET next_attempt_at = 0 WHERE subscription_id = ?"
                " AND state = 'pending'",
                (subscription_id,),
            )

    # --- check intervals, per subscription ---------------------------------------------

    async def refresh_poll_interval(self, default: int, feed_id: int | None = None) -> None:
        """Check the feed (every feed without `feed_id`) at the shortest interval any of its
        subscriptions asks for, `default` (POLL_INTERVAL) for those that ask for none.

        Stored NULL when that is the default, so a new POLL_INTERVAL applies at once. A check
        now further away than the new interval comes forward, unless the feed is failing
        (its backoff stands).
        """
        wanted = (
            "(SELECT min(coalesce(s.poll_interval, :default)) FROM subscriptions s"
            " WHERE s.feed_id = feeds.id)"
        )
        which = "1" if feed_id is None else "id = :feed"
        async with self.transaction() as db:
            await db.execute(
                f"UPDATE feeds SET poll_interval = nullif({wanted}, :default),"
                " next_check_at = CASE WHEN failure_count > 0 THEN next_check_at"
                f" ELSE min(next_check_at, coalesce(last_checked_at, 0)"
                f" + coalesce({wanted}, :default)) END"
                f" WHERE {which}",
                {"default": default, "feed": feed_id},
            )

    async def force_check(self, feed_id: int, now: float, min_gap: float) -> bool:
        """Check the feed now ("check now"), unless a check was forced less than `min_gap`
        seconds ago, whoever asked: False then."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE feeds SET next_check_at = min(next_check_at, ?), forced_check_at = ?"
                " WHERE id = ? AND coalesce(forced_check_at, 0) <= ?",
                (now, now, feed_id, now - min_gap),
            )
        return cur.rowcount == 1

    # --- items Discord refuses, forum posts after a crash ------------------------------

    async def refuse_delivery(
        self, delivery_id: int, error: str, *, next_attempt_at: float, give_up_after: int
    ) -> bool:
        """Discord refused the post's payload, plain version included; after `give_up_after`
        refusals the delivery is skipped for good. Returns whether it was skipped now."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET refusals = refusals + 1, attempts = attempts + 1,"
                " last_error = ?, next_attempt_at = ?, started_at = NULL,"
                " state = CASE WHEN refusals + 1 >= ? THEN 'skipped' ELSE state END"
                " WHERE id = ? AND state = 'pending'",
                (error[:500], next_attempt_at, give_up_after, delivery_id),
            )
            async with db.execute(
                "SELECT state FROM deliveries WHERE id = ?", (delivery_id,)
            ) as cur:
                row = await cur.fetchone()
        return row is not None and row[0] == "skipped"

    async def begin_deliveries(self, delivery_ids: list[int]) -> None:
        """Record, before their requests, that these deliveries may now reach Discord."""
        if not delivery_ids:
            return
        now = time.time()
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE deliveries SET started_at = coalesce(started_at, ?) WHERE id = ?",
                [(now, delivery_id) for delivery_id in delivery_ids],
            )

    async def recorded_messages(self, message_ids: Iterable[int]) -> set[int]:
        """Those of `message_ids` that a delivery already holds."""
        ids = list(message_ids)
        found: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            async with self.conn.execute(
                "SELECT message_id FROM deliveries"
                f" WHERE message_id IN ({','.join('?' * len(chunk))})",
                chunk,
            ) as cur:
                found.update(row[0] for row in await cur.fetchall())
        return found

    async def recorded_threads(self, thread_ids: Iterable[int]) -> set[int]:
        """Those of `thread_ids` that a delivery or a discussion already holds."""
        ids = list(thread_ids)
        found: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            async with self.conn.execute(
                f"SELECT thread_id FROM deliveries WHERE thread_id IN ({marks})"
                f" UNION SELECT thread_id FROM discussions WHERE thread_id IN ({marks})",
                (*chunk, *chunk),
            ) as cur:
                found.update(row[0] for row in await cur.fetchall())
        return found

    async def _add_skips(self, guild_id: int, statuses: list[SubscriptionStatus]) -> None:
        """Fill in how many posts and comments each subscription gave up, and the last why."""
        async with self.conn.execute(
            "SELECT subscription_id, count(*), max(at), last_reason FROM ("
            "  SELECT d.subscription_id, coalesce(d.sent_at, d.next_attempt_at) AS at,"
            "   first_value(d.last_error) OVER (PARTITION BY d.subscription_id"
            "     ORDER BY d.next_attempt_at DESC, d.id DESC) AS last_reason"
            "  FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id"
            "  WHERE s.guild_id = ? AND d.state = 'skipped'"
            ") GROUP BY subscription_id",
            (guild_id,),
        ) as cur:
            posts = {row[0]: (row[1], row[2], row[3]) for row in await cur.fetchall()}
        async with self.conn.execute(
            "SELECT subscription_id, count(*), max(at), last_reason FROM ("
            "  SELECT d.subscription_id, m.mirrored_at AS at,"
            "   first_value(m.skipped_reason) OVER (PARTITION BY d.subscription_id"
            "     ORDER BY m.mirrored_at DESC) AS last_reason"
            "  FROM mirrored_comments m JOIN discussions d ON d.id = m.discussion_id"
            "  JOIN subscriptions s ON s.id = d.subscription_id"
            "  WHERE s.guild_id = ? AND m.skipped_reason IS NOT NULL"
            ") GROUP BY subscription_id",
            (guild_id,),
        ) as cur:
            comments = {row[0]: (row[1], row[2], row[3]) for row in await cur.fetchall()}
        for status in statuses:
            sub_id = status.subscription.id
            found = [x for x in (posts.get(sub_id), comments.get(sub_id)) if x]
            if found:
                status.skipped = sum(count for count, _, _ in found)
                status.skip_reason = max(found, key=lambda x: x[1] or 0)[2]

    # --- what is owed after an announcement ---------------------------------------------

    async def owed_followups(self, limit: int = 50) -> list[Delivery]:
        """Sent announcements whose publishing or thread a crash left undone."""
        async with self._reading(
            _DELIVERIES + " WHERE d.followups_owed = 1 AND d.state = 'sent' ORDER BY d.id LIMIT ?",
            (limit,),
        ) as cur:
            return [Delivery(*row) for row in await cur.fetchall()]

    async def followups_done(self, delivery_id: int) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE deliveries SET followups_owed = 0 WHERE id = ?", (delivery_id,)
            )

    async def count_archived_silently(self, feed_id: int, count: int) -> None:
        """`count` new posts of the feed were archived without being announced (over the cap)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE subscriptions SET archived_silently = archived_silently + ?"
                " WHERE feed_id = ?",
                (count, feed_id),
            )

    async def recent_keys(self, feed_id: int, limit: int) -> set[str]:
        """Entry keys of the feed's newest posts: `limit` dated ones, by date, and `limit`
        undated ones, newest stored first. What a feed shows is among them, and a long
        history (50,000 keys of 2 KB: 100 MB) is not read into memory at every check."""
        keys: set[str] = set()
        for sql in (
            "SELECT entry_key FROM posts WHERE feed_id = ? AND published_at IS NOT NULL"
            " ORDER BY published_at DESC LIMIT ?",
            "SELECT entry_key FROM posts WHERE feed_id = ? AND published_at IS NULL"
            " ORDER BY id DESC LIMIT ?",
        ):
            async with self._reading(sql, (feed_id, limit)) as cur:
                keys.update(row[0] for row in await cur.fetchall())
        return keys

    async def stored_keys(self, feed_id: int, keys: list[str]) -> set[str]:
        """Those of `keys` already stored in the feed."""
        found: set[str] = set()
        for start in range(0, len(keys), 500):  # SQLite caps the number of parameters
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            async with self._reading(
                f"SELECT entry_key FROM posts WHERE feed_id = ? AND entry_key IN ({marks})",
                (feed_id, *chunk),
            ) as cur:
                found.update(row[0] for row in await cur.fetchall())
        return found
