"""WebSub: the hub each feed advertises, and our subscriptions at hubs (bot/websub.py)."""

from __future__ import annotations

import secrets

import aiosqlite

from ..models import PushLease
from .rows import error_text, from_row

_LEASE_COLUMNS = (
    "callback, feed_id, hub_url, topic_url, secret, mode, pending, lease_expires_at, due_at,"
    " failures, last_error"
)
# a feed that someone follows and that advertises a hub
_WANTED = (
    "f.hub_url IS NOT NULL AND f.topic_url IS NOT NULL"
    " AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.feed_id = f.id)"
)


def _lease(row: aiosqlite.Row) -> PushLease:
    return from_row(PushLease, row, pending=bool(row["pending"]))


class WebSubQueries:
    conn: aiosqlite.Connection

    async def set_feed_hub(self, feed_id: int, hub_url: str | None, topic_url: str | None) -> None:
        """The hub (and topic) the feed advertised when it was read for following."""
        await self._write(
            "UPDATE feeds SET hub_url = ?, topic_url = ? WHERE id = ?",
            (hub_url, topic_url, feed_id),
        )

    async def websub_plan(self, now: float) -> None:
        """Bring the rows in line with the feeds: a subscription wanted for each followed
        feed that advertises a hub, and undone (unsubscribed) for a feed nobody follows any
        more or that moved to another hub or topic. New rows get an unguessable callback and
        secret; both are due at once."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE websub SET mode = 'unsubscribe', pending = 0, failures = 0,"
                " last_error = NULL, due_at = :now WHERE mode = 'subscribe' AND NOT EXISTS"
                f" (SELECT 1 FROM feeds f WHERE f.id = websub.feed_id AND {_WANTED}"
                "  AND f.hub_url = websub.hub_url AND f.topic_url = websub.topic_url)",
                {"now": now},
            )
            wanted = await db.execute_fetchall(
                f"SELECT f.id, f.hub_url, f.topic_url FROM feeds f WHERE {_WANTED}"
                " AND NOT EXISTS (SELECT 1 FROM websub w WHERE w.feed_id = f.id"
                "  AND w.mode = 'subscribe')"
            )
            await db.executemany(
                "INSERT INTO websub(callback, feed_id, hub_url, topic_url, secret, mode,"
                " due_at, created_at) VALUES (?, ?, ?, ?, ?, 'subscribe', ?, ?)",
                [
                    (secrets.token_urlsafe(32), feed_id, hub, topic, secrets.token_hex(32))
                    + (now, now)
                    for feed_id, hub, topic in wanted
                ],
            )

    async def websub_due(self, now: float, limit: int) -> list[PushLease]:
        rows = await self._all(
            f"SELECT {_LEASE_COLUMNS} FROM websub WHERE due_at <= ? ORDER BY due_at LIMIT ?",
            (now, limit),
        )
        return [_lease(row) for row in rows]

    async def websub_lease(self, callback: str) -> PushLease | None:
        row = await self._one(
            f"SELECT {_LEASE_COLUMNS} FROM websub WHERE callback = ?", (callback,)
        )
        return _lease(row) if row else None

    async def websub_live(self, now: float) -> dict[int, float]:
        """Feed id → end of its lease, for each feed pushed to us now."""
        rows = await self._all(
            "SELECT feed_id, lease_expires_at FROM websub"
            " WHERE mode = 'subscribe' AND lease_expires_at > ?",
            (now,),
        )
        return {row[0]: row[1] for row in rows}

    async def websub_sending(
        self, callback: str, due_at: float, failures: int, error: str | None = None
    ) -> None:
        """A request is about to go to the hub: its verification is awaited until `due_at`
        (then the request is sent again; `failures` and `error` count a previous request
        that was never verified). Written before the request: a hub may verify before it
        answers."""
        await self._write(
            "UPDATE websub SET pending = 1, due_at = ?, failures = ?,"
            " last_error = coalesce(?, last_error) WHERE callback = ?",
            (due_at, failures, error and error_text(error), callback),
        )

    async def websub_renew_all(self, now: float) -> None:
        """Every subscription due at once (PUBLIC_URL changed: hubs must learn the new
        callback addresses)."""
        await self._write("UPDATE websub SET due_at = ? WHERE mode = 'subscribe'", (now,))

    async def websub_failed(self, callback: str, error: str, due_at: float) -> None:
        await self._write(
            "UPDATE websub SET pending = 0, failures = failures + 1, last_error = ?, due_at = ?"
            " WHERE callback = ?",
            (error_text(error), due_at, callback),
        )

    async def websub_verified(
        self, callback: str, mode: str, lease_expires_at: float, due_at: float
    ) -> bool:
        """The hub verified our pending request of `mode` (False: none was pending). A
        subscription is live until `lease_expires_at` and renewed at `due_at`; a verified
        unsubscription ends the row."""
        async with self.transaction() as db:
            if mode == "unsubscribe":
                cur = await db.execute(
                    "DELETE FROM websub WHERE callback = ? AND mode = 'unsubscribe'"
                    " AND pending = 1",
                    (callback,),
                )
            else:
                cur = await db.execute(
                    "UPDATE websub SET pending = 0, failures = 0, last_error = NULL,"
                    " lease_expires_at = ?, due_at = ? WHERE callback = ?"
                    " AND mode = 'subscribe' AND pending = 1",
                    (lease_expires_at, due_at, callback),
                )
            return cur.rowcount > 0

    async def websub_forget(self, callback: str) -> None:
        await self._write("DELETE FROM websub WHERE callback = ?", (callback,))

    async def websub_count(self) -> int:
        return await self._value("SELECT count(*) FROM websub") or 0
