"""Announcements that follow the article: the posts watched for edits, and the edits owed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

import aiosqlite

from ..models import OwedEdit, Revised, Revision
from ..text import html_to_text
from .rows import error_text

# The edits owed whose announcement is in Discord, with where it is and what it shows
_OWED = (
    "SELECT e.delivery_id, d.post_id, e.owed_at, e.attempts, s.channel_id, d.message_id,"
    " coalesce(d.thread_id, (SELECT di.thread_id FROM discussions di"
    "   WHERE di.post_id = d.post_id AND di.subscription_id = d.subscription_id"
    "   AND di.state = 'open')) AS thread_id,"
    " s.mention_role_id, f.title AS feed_title, r.removed_at IS NOT NULL AS removed,"
    " coalesce(d.sent_style, 'full') AS style, s.template"
    " FROM announcement_edits e JOIN deliveries d ON d.id = e.delivery_id"
    " JOIN subscriptions s ON s.id = d.subscription_id JOIN feeds f ON f.id = s.feed_id"
    " LEFT JOIN post_revisions r ON r.post_id = d.post_id"
)


class EditQueries:
    conn: aiosqlite.Connection

    # --- the posts watched ----------------------------------------------------------

    async def watch_revisions(
        self,
        db: aiosqlite.Connection,
        feed_id: int,
        rows: Iterable[tuple[int, float, str, str | None]],
    ) -> None:
        """Inside a transaction: watch these new posts (post id, since, shown hash, item
        hash) for edits."""
        await db.executemany(
            "INSERT OR IGNORE INTO post_revisions(post_id, feed_id, since, shown_hash, item_hash)"
            " VALUES (?, ?, ?, ?, ?)",
            [(post_id, feed_id, since, shown, item) for post_id, since, shown, item in rows],
        )

    async def revisions(self, feed_id: int, since: float) -> dict[str, Revision]:
        """entry key → the feed's watched posts published since `since` (those marked
        removed too: one the blog restores is shown again)."""
        rows = await self._all(
            "SELECT r.post_id, p.entry_key AS key, r.shown_hash, r.item_hash, r.in_feed,"
            " p.wp_id, p.link, r.removed_at IS NOT NULL AS removed"
            " FROM post_revisions r JOIN posts p ON p.id = r.post_id"
            " WHERE r.feed_id = ? AND r.since >= ?",
            (feed_id, since),
        )
        return {row["key"]: Revision(**row) for row in rows}

    async def record_revisions(
        self, revised: list[Revised], left_feed: list[int], back_in_feed: list[int] = ()
    ) -> int:
        """One check's findings, in one transaction: posts whose shown fields changed get
        their new content and an edit owed to each of their announcements (replacing one
        not done yet: one edit per check at most); the others their item's new hash; posts
        that left the feed are marked so, those back in it too (marked removed before:
        restored, their announcements shown again). Returns how many edits are owed."""
        now = time.time()
        edited = [r for r in revised if r.entry is not None]
        texts = {
            r.post_id: r.entry.content_text
            if r.entry.content_text is not None
            else html_to_text(r.entry.content_html or r.entry.summary_html)
            for r in edited
        }
        async with self.transaction() as db:
            if edited:
                await db.executemany(
                    "UPDATE posts SET title = ?, author = coalesce(?, author), categories = ?,"
                    " tags = ?, summary_html = ?, content_html = ?, content_text = ?,"
                    " image_url = ?, updated_at = coalesce(?, updated_at) WHERE id = ?",
                    [
                        (
                            r.entry.title,
                            r.entry.author,
                            json.dumps(r.entry.categories, ensure_ascii=False),
                            json.dumps(r.entry.tags, ensure_ascii=False),
                            r.entry.summary_html,
                            r.entry.content_html,
                            texts[r.post_id],
                            r.entry.image_url,
                            r.entry.updated_at,
                            r.post_id,
                        )
                        for r in edited
                    ],
                )
            await db.executemany(
                "UPDATE post_revisions SET shown_hash = coalesce(?, shown_hash), item_hash = ?,"
                " in_feed = 1 WHERE post_id = ?",
                [(r.shown_hash, r.item_hash, r.post_id) for r in revised],
            )
            await db.executemany(
                "UPDATE post_revisions SET in_feed = 0 WHERE post_id = ?",
                [(post_id,) for post_id in left_feed],
            )
            restored = []
            for post_id in back_in_feed:
                cursor = await db.execute(
                    "UPDATE post_revisions SET in_feed = 1, removed_at = NULL"
                    " WHERE post_id = ? AND removed_at IS NOT NULL",
                    (post_id,),
                )
                if cursor.rowcount:
                    restored.append(post_id)
                else:
                    await db.execute(
                        "UPDATE post_revisions SET in_feed = 1 WHERE post_id = ?", (post_id,)
                    )
            owed = {r.post_id for r in edited} | set(restored)
            return await self._owe_edits(db, sorted(owed), now)

    async def mark_removed(self, post_ids: list[int]) -> int:
        """The blog removed these posts: their announcements are edited to say so (once;
        they are watched no more). Returns how many edits are owed."""
        if not post_ids:
            return 0
        now = time.time()
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE post_revisions SET removed_at = ?, in_feed = 0"
                " WHERE post_id = ? AND removed_at IS NULL",
                [(now, post_id) for post_id in post_ids],
            )
            return await self._owe_edits(db, post_ids, now)

    async def _owe_edits(self, db: aiosqlite.Connection, post_ids: list[int], now: float) -> int:
        if not post_ids:
            return 0
        before = db.total_changes
        await db.executemany(
            "INSERT INTO announcement_edits(delivery_id, owed_at)"
            # sent, or begun (its request may be under way with the old content); one not
            # begun yet is rendered from the new content when it is sent
            " SELECT id, ? FROM deliveries WHERE post_id = ?"
            " AND (state = 'sent' OR (state = 'pending' AND started_at IS NOT NULL))"
            " ON CONFLICT(delivery_id) DO UPDATE SET owed_at = excluded.owed_at,"
            " attempts = 0, next_attempt_at = 0, last_error = NULL",
            [(now, post_id) for post_id in post_ids],
        )
        return db.total_changes - before

    # --- the edits owed -------------------------------------------------------------

    async def due_edits(self, now: float, limit: int = 100) -> list[OwedEdit]:
        """Edits owed to announcements that are in Discord, whose time has come, oldest
        first (an announcement still being sent is edited once it is sent)."""
        rows = await self._all(
            _OWED + " WHERE e.next_attempt_at <= ? AND d.state = 'sent'"
            " AND d.message_id IS NOT NULL ORDER BY e.owed_at, e.delivery_id LIMIT ?",
            (now, limit),
        )
        return [OwedEdit(**{**dict(row), "removed": bool(row["removed"])}) for row in rows]

    async def edit_done(self, edit: OwedEdit) -> None:
        """The edit was made (or given up): forgotten, unless a newer one was owed since."""
        await self._write(
            "DELETE FROM announcement_edits WHERE delivery_id = ? AND owed_at <= ?",
            (edit.delivery_id, edit.owed_at),
        )

    async def edit_failed(self, delivery_id: int, error: str, *, next_attempt_at: float) -> None:
        await self._write(
            "UPDATE announcement_edits SET attempts = attempts + 1, last_error = ?,"
            " next_attempt_at = ? WHERE delivery_id = ?",
            (error_text(error), next_attempt_at, delivery_id),
        )

    async def count_owed_edits(self) -> int:
        return await self._value("SELECT count(*) FROM announcement_edits")

    async def prune_revisions(self, before: float) -> None:
        """Posts out of the edit window are watched no more (their rows only cost), and
        edits owed to announcements that will never be sent are forgotten."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM post_revisions WHERE since < ?", (before,))
            await db.execute(
                "DELETE FROM announcement_edits WHERE delivery_id IN"
                " (SELECT id FROM deliveries WHERE state = 'skipped')"
            )
