"""Feeds, bot-wide facts, subscriptions and what `/feed list` shows of them."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterable

import aiosqlite

from ..models import Feed, FeedCheck, NewFeed, Outline, Subscription, SubscriptionStatus
from .rows import error_text, from_row


class AlreadySubscribed(Exception):
    pass


# A Feed's columns, named as its fields
_FEED_COLUMNS = (
    "id, url, title, site_url, etag, last_modified, body_hash, poll_interval, next_check_at,"
    " last_checked_at, last_new_post_at, failure_count, last_error, failing_notified"
)
_SUB_COLUMNS = (
    "s.id, s.feed_id, s.guild_id, s.channel_id, s.mention_role_id, s.threads,"
    " s.auto_archive_minutes, f.url AS feed_url, f.title AS feed_title, s.poll_interval,"
    " s.style, s.template"
)
_SUBSCRIPTIONS = f"SELECT {_SUB_COLUMNS} FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"


def _feed(row: aiosqlite.Row) -> Feed:
    return from_row(Feed, row, failing_notified=bool(row["failing_notified"]))


def _subscription(row: aiosqlite.Row) -> Subscription:
    return from_row(Subscription, row, threads=bool(row["threads"]))


class FeedQueries:
    conn: aiosqlite.Connection

    # --- bot-wide facts -------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        return await self._value("SELECT value FROM meta WHERE key = ?", (key,), conn=self.conn)

    async def set_meta(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO meta(key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- feeds ----------------------------------------------------------------------

    async def get_feed(self, feed_id: int) -> Feed | None:
        row = await self._one(
            f"SELECT {_FEED_COLUMNS} FROM feeds WHERE id = ?", (feed_id,), conn=self.conn
        )
        return _feed(row) if row else None

    async def get_feed_by_url(self, url: str) -> Feed | None:
        row = await self._one(
            f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,), conn=self.conn
        )
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
        await self._write(
            "INSERT INTO feeds(url, title, site_url, etag, last_modified, body_hash,"
            " next_check_at, last_checked_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(url) DO UPDATE SET title = coalesce(excluded.title, title)",
            (url, title, site_url, etag, last_modified, body_hash, next_check_at, now, now),
        )
        feed = await self.get_feed_by_url(url)
        assert feed is not None
        return feed

    async def due_feeds(self, now: float, limit: int, *, skip: Collection[int] = ()) -> list[Feed]:
        """Feeds whose next check has come and that someone still follows, but for those of
        `skip` (being checked: their rows would be built every tick for nothing)."""
        rows = await self._all(
            f"SELECT {_FEED_COLUMNS} FROM feeds WHERE next_check_at <= ?"
            " AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = feeds.id)"
            " AND id NOT IN (SELECT value FROM json_each(?))"
            " ORDER BY next_check_at LIMIT ?",
            (now, json.dumps(list(skip)), limit),
        )
        return [_feed(row) for row in rows]

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
            # ... and says which WebSub hub it uses now (none: NULL)
            await db.executemany(
                "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ?,"
                " title = coalesce(?, title), site_url = coalesce(?, site_url),"
                " hub_url = ?, topic_url = ? WHERE id = ?",
                [
                    (c.etag, c.last_modified, c.body_hash, c.title, c.site_url)
                    + (c.hub_url, c.topic_url, c.feed_id)
                    for c in ok
                    if c.fetched
                ],
            )
            await db.executemany(
                "UPDATE feeds SET failure_count = failure_count + 1, last_error = ?,"
                " last_checked_at = ?, next_check_at = ?,"
                " failing_notified = max(failing_notified, ?) WHERE id = ?",
                [
                    (error_text(c.error), now, c.next_check_at, int(c.notify_failing), c.feed_id)
                    for c in failed
                ],
            )

    async def count_feeds(self) -> int:
        return await self._value(
            "SELECT count(*) FROM feeds WHERE EXISTS"
            " (SELECT 1 FROM subscriptions s WHERE s.feed_id = feeds.id)",
            conn=self.conn,
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
        await self._write(
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
        cur = await self._write(
            "UPDATE feeds SET next_check_at = min(next_check_at, ?), forced_check_at = ?"
            " WHERE id = ? AND coalesce(forced_check_at, 0) <= ?",
            (now, now, feed_id, now - min_gap),
        )
        return cur.rowcount == 1

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
            cur = await self._write(
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
        row = await self._one(
            _SUBSCRIPTIONS + " WHERE s.id = ? AND s.guild_id = ?",
            (subscription_id, guild_id),
            conn=self.conn,
        )
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
        await self._write(
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
        rows = await self._all(
            _SUBSCRIPTIONS + " WHERE s.guild_id = ? ORDER BY s.id", (guild_id,), conn=self.conn
        )
        return [_subscription(row) for row in rows]

    async def feed_subscriptions(self, feed_id: int) -> list[Subscription]:
        rows = await self._all(
            _SUBSCRIPTIONS + " WHERE s.feed_id = ? ORDER BY s.id", (feed_id,), conn=self.conn
        )
        return [_subscription(row) for row in rows]

    async def remove_subscription(self, guild_id: int, subscription_id: int) -> bool:
        cur = await self._write(
            "DELETE FROM subscriptions WHERE id = ? AND guild_id = ?",
            (subscription_id, guild_id),
        )
        return cur.rowcount > 0

    async def count_archived_silently(self, feed_id: int, count: int) -> None:
        """`count` new posts of the feed were archived without being announced (over the cap)."""
        await self._write(
            "UPDATE subscriptions SET archived_silently = archived_silently + ? WHERE feed_id = ?",
            (count, feed_id),
        )

    # --- what /feed list shows ------------------------------------------------------

    async def guild_status(self, guild_id: int) -> list[SubscriptionStatus]:
        rows = await self._all(
            f"SELECT {_SUB_COLUMNS}, f.last_checked_at, f.last_new_post_at,"
            " f.last_error AS feed_error,"
            " (SELECT count(*) FROM deliveries d WHERE d.subscription_id = s.id"
            "   AND d.state = 'pending' AND d.attempts > 0) AS failing_deliveries,"
            " (SELECT d.last_error FROM deliveries d WHERE d.subscription_id = s.id"
            "   AND d.state = 'pending' AND d.attempts > 0 ORDER BY d.id DESC LIMIT 1)"
            "   AS delivery_error,"
            " s.archived_silently,"
            " (SELECT dd.last_error FROM discussions dd WHERE dd.subscription_id = s.id"
            "   AND dd.state = 'open' AND dd.last_error IS NOT NULL"
            "   ORDER BY dd.mirror_due_at DESC LIMIT 1) AS discussion_error,"
            " (SELECT bc.wp_user_name FROM blog_connections bc"
            "   WHERE bc.guild_id = s.guild_id AND bc.feed_id = s.feed_id) AS blog_account"
            " FROM subscriptions s JOIN feeds f ON f.id = s.feed_id"
            " WHERE s.guild_id = ? ORDER BY s.id",
            (guild_id,),
            conn=self.conn,
        )
        statuses = [
            from_row(SubscriptionStatus, row, subscription=_subscription(row)) for row in rows
        ]
        await self._add_skips(guild_id, statuses)
        await self._add_digests(guild_id, statuses)
        return statuses

    async def _add_skips(self, guild_id: int, statuses: list[SubscriptionStatus]) -> None:
        """Fill in how many posts and comments each subscription gave up, and the last why."""
        posts = await self._all(
            "SELECT subscription_id, count(*) AS skipped, max(at) AS latest, last_reason FROM ("
            "  SELECT d.subscription_id, coalesce(d.sent_at, d.next_attempt_at) AS at,"
            "   first_value(d.last_error) OVER (PARTITION BY d.subscription_id"
            "     ORDER BY d.next_attempt_at DESC, d.id DESC) AS last_reason"
            "  FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id"
            "  WHERE s.guild_id = ? AND d.state = 'skipped'"
            ") GROUP BY subscription_id",
            (guild_id,),
            conn=self.conn,
        )
        comments = await self._all(
            "SELECT subscription_id, count(*) AS skipped, max(at) AS latest, last_reason FROM ("
            "  SELECT d.subscription_id, m.mirrored_at AS at,"
            "   first_value(m.skipped_reason) OVER (PARTITION BY d.subscription_id"
            "     ORDER BY m.mirrored_at DESC) AS last_reason"
            "  FROM mirrored_comments m JOIN discussions d ON d.id = m.discussion_id"
            "  JOIN subscriptions s ON s.id = d.subscription_id"
            "  WHERE s.guild_id = ? AND m.skipped_reason IS NOT NULL"
            ") GROUP BY subscription_id",
            (guild_id,),
            conn=self.conn,
        )
        skips: dict[int, list[aiosqlite.Row]] = {}
        for row in [*posts, *comments]:
            skips.setdefault(row["subscription_id"], []).append(row)
        for status in statuses:
            found = skips.get(status.subscription.id)
            if found:
                status.skipped = sum(row["skipped"] for row in found)
                status.skip_reason = max(found, key=lambda row: row["latest"] or 0)["last_reason"]

    # --- bulk import and export (OPML) --------------------------------------------------

    async def add_feeds(self, feeds: list[NewFeed]) -> list[Feed]:
        """add_feed for many feeds in one transaction; the Feed of each, in order."""
        now = time.time()
        async with self.transaction() as db:
            await db.executemany(
                "INSERT INTO feeds(url, title, site_url, etag, last_modified, body_hash,"
                " next_check_at, last_checked_at, created_at, hub_url, topic_url)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(url) DO UPDATE SET title = coalesce(excluded.title, title),"
                " hub_url = excluded.hub_url, topic_url = excluded.topic_url",
                [
                    (f.url, f.title, f.site_url, f.etag, f.last_modified, f.body_hash)
                    + (f.next_check_at, now, now, f.hub_url, f.topic_url)
                    for f in feeds
                ],
            )
            rows = await self._all_in(
                f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url IN ({{marks}})",
                [f.url for f in feeds],
                conn=db,
            )
        by_url = {row["url"]: _feed(row) for row in rows}
        return [by_url[f.url] for f in feeds]

    async def add_subscriptions(self, wanted: list[tuple[int, int, int]]) -> list[bool]:
        """Follow each (feed id, guild id, channel id) with the default settings, in one
        transaction; True for each one added, False for one the channel already had."""
        now = time.time()
        added = []
        async with self.transaction() as db:
            for feed_id, guild_id, channel_id in wanted:
                cur = await db.execute(
                    "INSERT OR IGNORE INTO subscriptions(feed_id, guild_id, channel_id,"
                    " created_at) VALUES (?, ?, ?, ?)",
                    (feed_id, guild_id, channel_id, now),
                )
                added.append(cur.rowcount == 1)
        return added

    async def export_outlines(self, guild_id: int | None = None) -> list[Outline]:
        """Every subscription (of one server, or of all), as outlines whose category is
        the channel's id."""
        rows = await self._all(
            "SELECT f.url, f.title, f.site_url, s.channel_id FROM subscriptions s"
            " JOIN feeds f ON f.id = s.feed_id WHERE ? IS NULL OR s.guild_id = ?"
            " ORDER BY s.channel_id, s.id",
            (guild_id, guild_id),
            conn=self.conn,
        )
        return [
            Outline(row["url"], row["title"] or "", str(row["channel_id"]), row["site_url"])
            for row in rows
        ]
