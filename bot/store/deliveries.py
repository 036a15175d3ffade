"""The delivery outbox: one post owed to one subscription, from pending to sent or skipped."""

from __future__ import annotations

import time
from collections.abc import Iterable

import aiosqlite

from ..models import Delivery
from .base import IN_CHUNK, marks
from .rows import error_text

# A Delivery's columns, named as its fields, with its subscription and feed
_DELIVERIES = (
    "SELECT d.id, d.post_id, d.subscription_id, d.nonce, d.attempts, d.state,"
    " d.last_error, d.message_id, s.channel_id, s.guild_id, s.mention_role_id, s.threads,"
    " s.auto_archive_minutes, f.title AS feed_title, d.started_at, s.style, s.template,"
    # whether the announcement needs its subscription's topic roles read (bot/store/topics.py)
    " EXISTS (SELECT 1 FROM topic_roles t WHERE t.subscription_id = s.id) AS has_topics"
    " FROM deliveries d"
    " JOIN subscriptions s ON s.id = d.subscription_id JOIN feeds f ON f.id = s.feed_id"
)


class DeliveryQueries:
    conn: aiosqlite.Connection

    # --- what is due ----------------------------------------------------------------

    async def due_deliveries(
        self, now: float, limit: int = 50, *, skip_channels: Iterable[int] = ()
    ) -> list[Delivery]:
        """Pending deliveries whose time has come, oldest first; none to `skip_channels`
        (those whose deliveries are already being sent), and none behind a post of the same
        channel that waits for a retry (so a channel's posts keep their order)."""
        skip = list(skip_channels)[:IN_CHUNK]  # a few dozen busy channels at most
        rows = await self._all(
            _DELIVERIES + " WHERE d.state = 'pending' AND d.next_attempt_at <= ?"
            f" AND s.channel_id NOT IN ({marks(skip)})"
            # a channel's order holds: nothing goes out behind an earlier post of the same
            # channel postponed for the channel's sake (a post Discord refused, refusals > 0,
            # waits alone)
            " AND NOT EXISTS (SELECT 1 FROM deliveries e JOIN subscriptions t"
            " ON t.id = e.subscription_id WHERE e.state = 'pending' AND e.next_attempt_at > ?"
            " AND e.refusals = 0 AND e.id < d.id AND t.channel_id = s.channel_id)"
            " ORDER BY d.id LIMIT ?",  # oldest first: a channel's posts in their order
            (now, *skip, now, limit),
        )
        return [Delivery(**row) for row in rows]

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

    # --- outcomes -------------------------------------------------------------------

    async def mark_delivered(
        self,
        delivery_id: int,
        message_id: int,
        thread_id: int | None = None,
        *,
        followups_owed: bool = False,
        style: str | None = None,
    ) -> None:
        """The post is in the channel; `followups_owed`: publishing or its thread still to do
        (see `owed_followups`); `style`: the message style it was sent in (its edits keep it)."""
        await self._write(
            "UPDATE deliveries SET state = 'sent', message_id = ?, thread_id = ?, sent_at = ?,"
            " last_error = NULL, followups_owed = ?, sent_style = ? WHERE id = ?",
            (message_id, thread_id, time.time(), int(followups_owed), style, delivery_id),
        )

    async def set_delivery_thread(self, delivery_id: int, thread_id: int) -> None:
        await self._write(
            "UPDATE deliveries SET thread_id = ? WHERE id = ?", (thread_id, delivery_id)
        )

    async def mark_delivery_failed(
        self, delivery_id: int, error: str, *, next_attempt_at: float, settled: bool = False
    ) -> None:
        """A failed try; `settled` when Discord surely created nothing (no send is pending)."""
        await self._write(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = ?,"
            " next_attempt_at = ?, started_at = CASE WHEN ? THEN NULL ELSE started_at END"
            " WHERE id = ?",
            (error_text(error), next_attempt_at, int(settled), delivery_id),
        )

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
                (error_text(error), next_attempt_at, give_up_after, delivery_id),
            )
            state = await self._value(
                "SELECT state FROM deliveries WHERE id = ?", (delivery_id,), conn=db
            )
        return state == "skipped"

    async def retry_subscription_now(self, subscription_id: int) -> None:
        """Bring a subscription's failing deliveries forward (after the admin fixed it)."""
        await self._write(
            "UPDATE deliveries SET next_attempt_at = 0 WHERE subscription_id = ?"
            " AND state = 'pending'",
            (subscription_id,),
        )

    # --- what is owed after an announcement ---------------------------------------------

    async def owed_followups(self, limit: int = 50) -> list[Delivery]:
        """Sent announcements whose publishing or thread a crash left undone."""
        rows = await self._all(
            _DELIVERIES + " WHERE d.followups_owed = 1 AND d.state = 'sent' ORDER BY d.id LIMIT ?",
            (limit,),
        )
        return [Delivery(**row) for row in rows]

    async def followups_done(self, delivery_id: int, thread_id: int | None = None) -> None:
        """Publishing and the thread are done; `thread_id`: the thread opened (one write)."""
        await self._write(
            "UPDATE deliveries SET followups_owed = 0, thread_id = coalesce(?, thread_id)"
            " WHERE id = ?",
            (thread_id, delivery_id),
        )

    # --- messages and threads found in Discord after a crash ----------------------------

    async def recorded_messages(self, message_ids: Iterable[int]) -> set[int]:
        """Those of `message_ids` that a delivery or a digest already holds."""
        rows = await self._all_in(
            "SELECT message_id FROM deliveries WHERE message_id IN ({marks})"
            " UNION SELECT message_id FROM digests WHERE message_id IN ({marks})",
            message_ids,
            conn=self.conn,
        )
        return {row["message_id"] for row in rows}

    async def recorded_threads(self, thread_ids: Iterable[int]) -> set[int]:
        """Those of `thread_ids` that a delivery, a discussion or a digest already holds."""
        rows = await self._all_in(
            "SELECT thread_id FROM deliveries WHERE thread_id IN ({marks})"
            " UNION SELECT thread_id FROM discussions WHERE thread_id IN ({marks})"
            " UNION SELECT thread_id FROM digests WHERE thread_id IN ({marks})",
            thread_ids,
            conn=self.conn,
        )
        return {row["thread_id"] for row in rows}
