"""Digests: a subscription's posts held, then claimed once per period into one digest, sent once.

A post found while its subscription is in digest mode gets a 'held' delivery (in the same
transaction as the post: `hold_for_digests`). At the period's end ONE transaction creates the
digest row and moves the period's held deliveries into it ('digest'); the digest is then
sent like a delivery (nonce, started_at recorded before any request, found again after a
crash). A post belongs to the period in which it was found (`held_at`, by `clock`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiosqlite

from ..digests import DEFAULT_ZONE, next_due
from ..models import Digest, DigestSchedule, Post, SubscriptionStatus
from .rows import POST_COLUMNS, error_text, from_row, new_nonce, post_from_row

# A Digest's columns, named as its fields, with its subscription, feed and server's zone
_DIGESTS = (
    "SELECT g.id, g.subscription_id, g.period_end, g.nonce, g.attempts, g.state, g.message_id,"
    " g.started_at, s.channel_id, s.guild_id, s.threads, s.auto_archive_minutes,"
    " f.title AS feed_title, f.url AS feed_url, coalesce(z.timezone, 'UTC') AS zone"
    " FROM digests g JOIN subscriptions s ON s.id = g.subscription_id"
    " JOIN feeds f ON f.id = s.feed_id LEFT JOIN guild_settings z ON z.guild_id = s.guild_id"
)
# A post as a digest lists it: its title, link and author, no text
_DIGEST_POST_COLUMNS = POST_COLUMNS.replace(
    "summary_html, content_html", "'' AS summary_html, '' AS content_html"
)
assert "'' AS content_html" in _DIGEST_POST_COLUMNS
# A subscription's schedule, as DigestSchedule's fields
_SCHEDULES = (
    "SELECT s.id, s.digest AS schedule, s.digest_hour AS hour, s.digest_weekday AS weekday,"
    " s.digest_due_at AS due_at, coalesce(z.timezone, 'UTC') AS zone,"
    " (SELECT count(*) FROM deliveries d WHERE d.subscription_id = s.id"
    "   AND d.state = 'held') AS held,"
    " (SELECT g.last_error FROM digests g WHERE g.subscription_id = s.id"
    "   AND g.state = 'pending' AND g.attempts > 0 ORDER BY g.id DESC LIMIT 1) AS error"
    " FROM subscriptions s LEFT JOIN guild_settings z ON z.guild_id = s.guild_id"
)


def _schedule(row: aiosqlite.Row) -> DigestSchedule:
    return from_row(DigestSchedule, row)


def _digest(row: aiosqlite.Row) -> Digest:
    return Digest(**{**dict(row), "threads": bool(row["threads"])})


class DigestQueries:
    conn: aiosqlite.Connection

    #: "now" for digest periods and schedules (tests move it forward instead of waiting);
    #: sends and their retries keep real time
    clock: Callable[[], float] = staticmethod(time.time)

    @property
    def digests_changed(self) -> asyncio.Event:
        """Set when a schedule or a server's zone changed: the digest loop recomputes its wait."""
        try:
            return self._digests_changed
        except AttributeError:
            self._digests_changed = asyncio.Event()
            return self._digests_changed

    # --- the server's time zone -------------------------------------------------------

    async def guild_timezone(self, guild_id: int, *, conn=None) -> str:
        zone = await self._value(
            "SELECT timezone FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
            conn=conn or self.conn,
        )
        return zone or DEFAULT_ZONE

    async def set_guild_timezone(self, guild_id: int, zone: str) -> dict[int, DigestSchedule]:
        """Set the server's zone (a valid IANA name) and move its digests to it; returns its
        digest schedules by subscription id."""
        now = self.clock()
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO guild_settings(guild_id, timezone) VALUES (?, ?)"
                " ON CONFLICT(guild_id) DO UPDATE SET timezone = excluded.timezone",
                (guild_id, zone),
            )
            rows = await self._all(
                "SELECT id, digest, digest_hour, digest_weekday FROM subscriptions"
                " WHERE guild_id = ? AND digest != 'off'",
                (guild_id,),
                conn=db,
            )
            await db.executemany(
                "UPDATE subscriptions SET digest_due_at = ? WHERE id = ?",
                [
                    (
                        next_due(r["digest"], r["digest_hour"], r["digest_weekday"], zone, now),
                        r["id"],
                    )
                    for r in rows
                ],
            )
        self.digests_changed.set()
        return await self.guild_digests(guild_id)

    # --- schedules ---------------------------------------------------------------------

    async def guild_digests(self, guild_id: int) -> dict[int, DigestSchedule]:
        """The server's subscriptions in digest mode: subscription id → schedule."""
        rows = await self._all(
            _SCHEDULES + " WHERE s.guild_id = ? AND s.digest != 'off' ORDER BY s.id",
            (guild_id,),
            conn=self.conn,
        )
        return {row["id"]: _schedule(row) for row in rows}

    async def _add_digests(self, guild_id: int, statuses: list[SubscriptionStatus]) -> None:
        """Fill in `/feed list`'s digest schedules."""
        schedules = await self.guild_digests(guild_id)
        for status in statuses:
            status.digest = schedules.get(status.subscription.id)

    async def set_digest(
        self, guild_id: int, subscription_id: int, schedule: str, hour: int, weekday: int
    ) -> DigestSchedule | None:
        """Set a subscription's digest schedule (None: no such subscription in this server).

        On: posts found from now on are held for the next digest (those already owed go out
        post by post, as they were). Off: what is held goes out at once as a last digest,
        in the same transaction, and new posts are announced one by one again."""
        now = self.clock()
        async with self.transaction() as db:
            if not await self._value(
                "SELECT 1 FROM subscriptions WHERE id = ? AND guild_id = ?",
                (subscription_id, guild_id),
                conn=db,
            ):
                return None
            if schedule == "off":
                await self._claim_held(db, subscription_id, held_before=None, period_end=now)
                due = None
            else:
                zone = await self.guild_timezone(guild_id, conn=db)
                due = next_due(schedule, hour, weekday, zone, now)
            await db.execute(
                "UPDATE subscriptions SET digest = ?, digest_hour = ?, digest_weekday = ?,"
                " digest_due_at = ? WHERE id = ?",
                (schedule, hour, weekday, due, subscription_id),
            )
            row = await self._one(_SCHEDULES + " WHERE s.id = ?", (subscription_id,), conn=db)
        self.digests_changed.set()
        return _schedule(row)

    # --- holding and claiming -------------------------------------------------------------

    async def hold_for_digests(
        self, db: aiosqlite.Connection, in_digest: set[int], post_ids: list[int]
    ) -> None:
        """Inside store_entries' transaction: the new deliveries of the feed's digest
        subscriptions (`in_digest`, read with the feed's subscriptions) are held for their
        next digest instead of pending. Only the feed's subscriptions are looked at: a
        post's cost must not grow with every subscription of every server."""
        if not in_digest:
            return
        held_at = self.clock()
        await db.executemany(
            "UPDATE deliveries SET state = 'held', held_at = ? WHERE post_id = ?"
            " AND subscription_id = ? AND state = 'pending' AND started_at IS NULL",
            [(held_at, post_id, sub_id) for post_id in post_ids for sub_id in in_digest],
        )

    async def _claim_held(
        self,
        db: aiosqlite.Connection,
        subscription_id: int,
        *,
        held_before: float | None,
        period_end: float,
    ) -> int | None:
        """Inside a transaction: a digest of the subscription's posts held before
        `held_before` (None: all), if there are any; its id."""
        cutoff = float("inf") if held_before is None else held_before
        if not await self._value(
            "SELECT 1 FROM deliveries WHERE subscription_id = ? AND state = 'held'"
            " AND held_at < ? LIMIT 1",
            (subscription_id, cutoff),
            conn=db,
        ):
            return None
        cur = await db.execute(
            "INSERT INTO digests(subscription_id, period_end, nonce, created_at)"
            " VALUES (?, ?, ?, ?)",
            (subscription_id, period_end, new_nonce(), time.time()),
        )
        digest_id = cur.lastrowid
        await db.execute(
            "UPDATE deliveries SET state = 'digest', digest_id = ? WHERE subscription_id = ?"
            " AND state = 'held' AND held_at < ?",
            (digest_id, subscription_id, cutoff),
        )
        return digest_id

    async def claim_due_digests(self) -> int:
        """Every subscription whose digest time has come: its period's held posts claimed
        into a digest (one transaction each) and its next time set. A period without posts
        makes no digest. Returns how many digests were made."""
        now = self.clock()
        due = await self._all(
            "SELECT id FROM subscriptions WHERE digest_due_at <= ? ORDER BY digest_due_at",
            (now,),
        )
        made = 0
        for row in due:
            async with self.transaction() as db:
                sub = await self._one(
                    "SELECT s.id, s.digest, s.digest_hour, s.digest_weekday, s.digest_due_at,"
                    " coalesce(z.timezone, 'UTC') AS zone FROM subscriptions s"
                    " LEFT JOIN guild_settings z ON z.guild_id = s.guild_id WHERE s.id = ?",
                    (row["id"],),
                    conn=db,
                )
                # changed since (switched off, rescheduled): not due any more
                if sub is None or sub["digest_due_at"] is None or sub["digest_due_at"] > now:
                    continue
                end = sub["digest_due_at"]
                if await self._claim_held(db, sub["id"], held_before=end, period_end=end):
                    made += 1
                # down for several periods: the next one from now (the missed ones were empty)
                after = max(now, end)
                await db.execute(
                    "UPDATE subscriptions SET digest_due_at = ? WHERE id = ?",
                    (
                        next_due(
                            sub["digest"],
                            sub["digest_hour"],
                            sub["digest_weekday"],
                            sub["zone"],
                            after,
                        ),
                        sub["id"],
                    ),
                )
        return made

    async def next_digest_times(self) -> tuple[float | None, float | None]:
        """The next digest time (by `clock`) and the next retry of a pending digest (real time)."""
        row = await self._one(
            "SELECT (SELECT min(digest_due_at) FROM subscriptions) AS due,"
            " (SELECT min(next_attempt_at) FROM digests WHERE state = 'pending') AS retry"
        )
        return row["due"], row["retry"]

    # --- sending ---------------------------------------------------------------------------

    async def due_digests(self, now: float, limit: int = 50) -> list[Digest]:
        """Pending digests whose (re)try time has come (real time), oldest first."""
        rows = await self._all(
            _DIGESTS + " WHERE g.state = 'pending' AND g.next_attempt_at <= ?"
            " ORDER BY g.next_attempt_at, g.id LIMIT ?",
            (now, limit),
        )
        return [_digest(row) for row in rows]

    async def digest_posts(self, digest_id: int, limit: int = -1) -> tuple[list[Post], int]:
        """The digest's first `limit` posts (-1: all) in the order they were found, and how
        many it has. Only what a digest shows is read: a week of a busy blog is thousands
        of posts, their text hundreds of MB, and one message lists a few hundred at most."""
        rows = await self._all(
            f"SELECT {_DIGEST_POST_COLUMNS}, count(*) OVER () AS total FROM posts"
            " WHERE id IN (SELECT post_id FROM deliveries WHERE digest_id = ?)"
            " ORDER BY id LIMIT ?",
            (digest_id, limit),
        )
        posts = [post_from_row(row) for row in rows]
        return posts, rows[0]["total"] if rows else 0

    async def begin_digest(self, digest_id: int) -> None:
        """Record, before its request, that the digest may now reach Discord."""
        await self._write(
            "UPDATE digests SET started_at = coalesce(started_at, ?) WHERE id = ?",
            (time.time(), digest_id),
        )

    async def mark_digest_sent(
        self,
        digest_id: int,
        message_id: int,
        thread_id: int | None = None,
        *,
        followups_owed: bool = False,
    ) -> None:
        await self._write(
            "UPDATE digests SET state = 'sent', message_id = ?, thread_id = ?, sent_at = ?,"
            " last_error = NULL, followups_owed = ? WHERE id = ?",
            (message_id, thread_id, time.time(), int(followups_owed), digest_id),
        )

    async def mark_digest_failed(
        self, digest_id: int, error: str, *, next_attempt_at: float, settled: bool = False
    ) -> None:
        """A failed try; `settled` when Discord surely created nothing."""
        await self._write(
            "UPDATE digests SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
            " started_at = CASE WHEN ? THEN NULL ELSE started_at END WHERE id = ?",
            (error_text(error), next_attempt_at, int(settled), digest_id),
        )

    async def refuse_digest(
        self, digest_id: int, error: str, *, next_attempt_at: float, give_up_after: int
    ) -> bool:
        """Discord refused the digest, plain version included; after `give_up_after` times it
        is skipped, and its posts with it (`/feed list` counts them). Whether skipped now."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE digests SET refusals = refusals + 1, attempts = attempts + 1,"
                " last_error = ?, next_attempt_at = ?, started_at = NULL,"
                " state = CASE WHEN refusals + 1 >= ? THEN 'skipped' ELSE state END"
                " WHERE id = ? AND state = 'pending'",
                (error_text(error), next_attempt_at, give_up_after, digest_id),
            )
            state = await self._value(
                "SELECT state FROM digests WHERE id = ?", (digest_id,), conn=db
            )
            if state == "skipped":
                await db.execute(
                    "UPDATE deliveries SET state = 'skipped', last_error = ?,"
                    " next_attempt_at = ? WHERE digest_id = ?",
                    (error_text(f"its digest was refused: {error}"), time.time(), digest_id),
                )
        return state == "skipped"

    async def owed_digest_followups(self, limit: int = 50) -> list[Digest]:
        """Sent digests whose publishing or thread a crash left undone."""
        rows = await self._all(
            _DIGESTS + " WHERE g.followups_owed = 1 AND g.state = 'sent' ORDER BY g.id LIMIT ?",
            (limit,),
        )
        return [_digest(row) for row in rows]

    async def digest_followups_done(self, digest_id: int, thread_id: int | None = None) -> None:
        await self._write(
            "UPDATE digests SET followups_owed = 0, thread_id = coalesce(?, thread_id)"
            " WHERE id = ?",
            (thread_id, digest_id),
        )
