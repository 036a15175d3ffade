"""Discussions and the blog's comments: what is read, what is mirrored where."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import aiosqlite

from ..models import Comment, CommentCheck, CommentWatch, DiscussionInfo, MirrorItem
from .rows import error_text, from_row, new_nonce

# A DiscussionInfo's columns, named as its fields
_DISCUSSIONS = (
    "SELECT d.id, d.post_id, d.subscription_id, s.guild_id, s.channel_id, d.thread_id,"
    " d.starter_message_id, d.state, d.created_at, d.last_activity_at, d.mirror_due_at,"
    " d.mirror_failures, d.last_error, s.auto_archive_minutes"
    " FROM discussions d JOIN subscriptions s ON s.id = d.subscription_id"
)
# A CommentWatch's columns, named as its fields
_WATCHES = (
    "SELECT w.post_id, coalesce(p.wp_id, w.wp_id) AS wp_id, w.source, w.etag,"
    " w.last_modified, w.full_read_at, w.failure_count, w.last_comment_at,"
    " p.link AS post_link, p.comments_feed, p.published_at, f.site_url, f.url AS feed_url,"
    " (SELECT max(d.last_activity_at) FROM discussions d"
    "   WHERE d.post_id = w.post_id AND d.state = 'open') AS activity_at,"
    " (SELECT min(s.poll_interval) FROM discussions d JOIN subscriptions s"
    "   ON s.id = d.subscription_id WHERE d.post_id = w.post_id AND d.state = 'open')"
    "   AS interval,"
    " coalesce((SELECT max(s.poll_interval IS NULL) FROM discussions d JOIN subscriptions s"
    "   ON s.id = d.subscription_id WHERE d.post_id = w.post_id AND d.state = 'open'), 1)"
    "   AS follows_default"
    " FROM comment_watches w JOIN posts p ON p.id = w.post_id"
    " JOIN feeds f ON f.id = p.feed_id"
)
_COMMENT_COLUMNS = (
    "c.comment_id, c.post_id, c.parent_id, c.author, c.author_url, c.avatar_url,"
    " c.published_at, c.content_html, c.link"
)


# The content hash of a mirrored comment whose message was edited to say it was removed (the
# blog no longer shows it): approved again, its text differs, so the message is edited back.
REMOVED = "removed"


def _comment(row: aiosqlite.Row, wp_id: int | None = None) -> Comment:
    return from_row(Comment, row, id=row["comment_id"], post_wp_id=wp_id)


class CommentQueries:
    conn: aiosqlite.Connection

    # --- sites ----------------------------------------------------------------------

    async def get_comment_site(self, site_url: str) -> tuple[str | None, float] | None:
        """(REST root or None, when it was looked up), or None when never looked up."""
        row = await self._one(
            "SELECT rest_root, checked_at FROM comment_sites WHERE site_url = ?",
            (site_url,),
            conn=self.conn,
        )
        return (row["rest_root"], row["checked_at"]) if row else None

    async def set_comment_site(self, site_url: str, rest_root: str | None) -> None:
        await self._write(
            "INSERT INTO comment_sites(site_url, rest_root, checked_at) VALUES (?, ?, ?)"
            " ON CONFLICT(site_url) DO UPDATE SET rest_root = excluded.rest_root,"
            " checked_at = excluded.checked_at",
            (site_url, rest_root, time.time()),
        )

    # --- reading comments -----------------------------------------------------------

    async def due_comment_watches(self, now: float, limit: int) -> list[CommentWatch]:
        rows = await self._all(
            _WATCHES + " WHERE w.next_check_at IS NOT NULL AND w.next_check_at <= ?"
            " ORDER BY w.next_check_at LIMIT ?",
            (now, limit),
        )
        return [CommentWatch(**row) for row in rows]

    async def get_comment_watch(self, post_id: int) -> CommentWatch | None:
        """The watch of one post, due or not (None when it has no discussion ever)."""
        row = await self._one(_WATCHES + " WHERE w.post_id = ?", (post_id,), conn=self.conn)
        return CommentWatch(**row) if row else None

    async def schedule_comment_checks(self, at: float, post_id: int | None = None) -> None:
        """Read the comments of one post (or of every followed post) at `at`."""
        async with self.transaction() as db:
            if post_id is None:
                await db.execute(
                    "UPDATE comment_watches SET next_check_at = ? WHERE next_check_at IS NOT NULL",
                    (at,),
                )
            else:
                await db.execute(
                    "INSERT INTO comment_watches(post_id, next_check_at) VALUES (?, ?)"
                    " ON CONFLICT(post_id) DO UPDATE SET next_check_at = excluded.next_check_at",
                    (post_id, at),
                )

    async def record_comment_checks(
        self, checks: Iterable[CommentCheck]
    ) -> dict[int, tuple[list[int], list[int]]]:
        """The outcome of a round of checks, in one transaction; returns, per post read,
        (ids of new comments, ids of edited comments).

        New and changed comments are stored and the post's open discussions marked as having
        comments to mirror in the same transaction, so a crash cannot lose them. A reply's
        parent read before (REST) is kept when the comment feed cannot tell it. A 304 keeps
        the feed's validators; a whole read replaces them (None: none).
        """
        checks = list(checks)
        now = time.time()
        read = [c for c in checks if c.error is None and c.source is not None]
        async with self.transaction() as db:
            # a removed comment's hash is not its own: read again, it is shown again
            known = await self._all_in(
                "SELECT post_id, comment_id,"
                " CASE WHEN removed_at IS NULL THEN content_hash END AS content_hash"
                " FROM comments WHERE post_id IN ({marks})",
                {c.post_id for c in read if c.comments},
                conn=db,
            )
            # a batch holds up to hundreds of posts' comments: diffed in a thread, so the
            # event loop never runs it in one piece
            results, rows, touched, watch_rows, removed = await asyncio.to_thread(
                _diff_checks, read, known, now
            )
            if rows:
                await db.executemany(
                    "INSERT INTO comments(post_id, comment_id, parent_id, author, author_url,"
                    " avatar_url, published_at, content_html, link, content_hash,"
                    " first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(post_id, comment_id) DO UPDATE SET"
                    " parent_id = coalesce(excluded.parent_id, parent_id),"
                    " author = excluded.author,"
                    " author_url = coalesce(excluded.author_url, author_url),"
                    " avatar_url = coalesce(excluded.avatar_url, avatar_url),"
                    " content_html = excluded.content_html, link = excluded.link,"
                    " content_hash = excluded.content_hash, removed_at = NULL",
                    rows,
                )
            if removed:
                # the blog no longer shows them: never mirrored again (unless read again),
                # and each message showing one is owed a removal (see mirror_items)
                await db.executemany(
                    "UPDATE comments SET removed_at = ?"
                    " WHERE post_id = ? AND comment_id = ? AND removed_at IS NULL",
                    removed,
                )
            if touched:
                await db.executemany(
                    "UPDATE discussions SET mirror_due_at = max(coalesce(mirror_due_at, 0), ?),"
                    " last_activity_at = CASE WHEN ? THEN max(last_activity_at, ?)"
                    "   ELSE last_activity_at END"
                    " WHERE post_id = ? AND state = 'open'",
                    touched,
                )
            if watch_rows:
                await db.executemany(
                    "UPDATE comment_watches SET source = ?, next_check_at = ?,"
                    " last_checked_at = ?, failure_count = 0, last_error = NULL,"
                    " wp_id = coalesce(?, wp_id),"
                    " etag = CASE WHEN ? THEN ? ELSE etag END,"
                    " last_modified = CASE WHEN ? THEN ? ELSE last_modified END,"
                    " full_read_at = CASE WHEN ? THEN ? ELSE full_read_at END,"
                    " last_comment_at = CASE WHEN ? THEN ? ELSE last_comment_at END"
                    " WHERE post_id = ?",
                    watch_rows,
                )
            failed = [
                (error_text(c.error), now, c.next_check_at, c.post_id) for c in checks if c.error
            ]
            if failed:
                await db.executemany(
                    "UPDATE comment_watches SET failure_count = failure_count + 1,"
                    " last_error = ?, last_checked_at = ?, next_check_at = ? WHERE post_id = ?",
                    failed,
                )
            retired = [(c.post_id,) for c in checks if c.error is None and c.source is None]
            if retired:
                # no live discussion: not read again until a discussion wakes it
                await db.executemany(
                    "UPDATE comment_watches SET next_check_at = NULL WHERE post_id = ?",
                    retired,
                )
        return results

    # --- discussions ----------------------------------------------------------------

    async def get_discussion(self, discussion_id: int) -> DiscussionInfo | None:
        row = await self._one(_DISCUSSIONS + " WHERE d.id = ?", (discussion_id,), conn=self.conn)
        return DiscussionInfo(**row) if row else None

    async def find_discussion(self, post_id: int, subscription_id: int) -> DiscussionInfo | None:
        row = await self._one(
            _DISCUSSIONS + " WHERE d.post_id = ? AND d.subscription_id = ?",
            (post_id, subscription_id),
            conn=self.conn,
        )
        return DiscussionInfo(**row) if row else None

    async def post_discussions(self, post_id: int) -> list[DiscussionInfo]:
        rows = await self._all(
            _DISCUSSIONS + " WHERE d.post_id = ? ORDER BY d.id", (post_id,), conn=self.conn
        )
        return [DiscussionInfo(**row) for row in rows]

    async def announcement_message(self, post_id: int, subscription_id: int) -> int | None:
        """The message that announced the post in the subscription's channel, if sent."""
        return await self._value(
            "SELECT message_id FROM deliveries WHERE post_id = ? AND subscription_id = ?"
            " AND state = 'sent'",
            (post_id, subscription_id),
            conn=self.conn,
        )

    async def open_discussion(
        self,
        post_id: int,
        subscription_id: int,
        thread_id: int,
        *,
        starter_message_id: int | None,
    ) -> DiscussionInfo:
        """Record a discussion opened in `thread_id` (replacing a deleted one).

        Comments mirrored into an earlier thread are forgotten, so the new thread gets them
        all; the post's comments are read again at once.
        """
        now = time.time()
        async with self.transaction() as db:
            row = await self._one(
                "SELECT id, thread_id FROM discussions WHERE post_id = ? AND subscription_id = ?",
                (post_id, subscription_id),
                conn=db,
            )
            if row is None:
                await db.execute(
                    "INSERT INTO discussions(post_id, subscription_id, thread_id,"
                    " starter_message_id, created_at, last_activity_at, mirror_due_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (post_id, subscription_id, thread_id, starter_message_id, now, now, now),
                )
            else:
                if row["thread_id"] != thread_id:
                    await db.execute(
                        "DELETE FROM mirrored_comments WHERE discussion_id = ?", (row["id"],)
                    )
                await db.execute(
                    "UPDATE discussions SET thread_id = ?, starter_message_id = ?,"
                    " state = 'open', last_activity_at = ?, mirror_due_at = ?,"
                    " mirror_failures = 0, last_error = NULL WHERE id = ?",
                    (thread_id, starter_message_id, now, now, row["id"]),
                )
            await db.execute(
                "INSERT INTO comment_watches(post_id, next_check_at) VALUES (?, 0)"
                " ON CONFLICT(post_id) DO UPDATE SET next_check_at = 0",
                (post_id,),
            )
        found = await self.find_discussion(post_id, subscription_id)
        assert found is not None
        return found

    async def set_discussion_thread(self, discussion_id: int, thread_id: int) -> None:
        await self._write(
            "UPDATE discussions SET thread_id = ? WHERE id = ? AND state = 'open'",
            (thread_id, discussion_id),
        )

    async def mark_thread_deleted(self, thread_id: int) -> int:
        """The thread is gone (a moderator deleted it): its discussions stop. Returns how many."""
        cur = await self._write(
            "UPDATE discussions SET state = 'deleted', mirror_due_at = NULL"
            " WHERE thread_id = ? AND state = 'open'",
            (thread_id,),
        )
        return cur.rowcount

    async def mark_discussion_deleted(self, discussion_id: int) -> None:
        await self._write(
            "UPDATE discussions SET state = 'deleted', mirror_due_at = NULL WHERE id = ?",
            (discussion_id,),
        )

    async def touch_thread(self, thread_id: int, at: float) -> bool:
        """Someone wrote in a discussion's thread: it stays live, its comments are read again."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE discussions SET last_activity_at = max(last_activity_at, ?)"
                " WHERE thread_id = ? AND state = 'open'",
                (at, thread_id),
            )
            if cur.rowcount:
                await db.execute(
                    "UPDATE comment_watches SET next_check_at = ? WHERE next_check_at IS NULL"
                    " AND post_id IN (SELECT post_id FROM discussions WHERE thread_id = ?)",
                    (at, thread_id),
                )
        return cur.rowcount > 0

    # --- mirroring ------------------------------------------------------------------

    async def due_mirrors(self, now: float, live_since: float, limit: int) -> list[DiscussionInfo]:
        """Open, live discussions with comments waiting to be posted or edited."""
        rows = await self._all(
            _DISCUSSIONS + " WHERE d.mirror_due_at IS NOT NULL AND d.mirror_due_at <= ?"
            " AND d.state = 'open' AND d.last_activity_at >= ? ORDER BY d.mirror_due_at LIMIT ?",
            (now, live_since, limit),
        )
        return [DiscussionInfo(**row) for row in rows]

    async def mirror_items(self, discussion_id: int) -> list[MirrorItem]:
        """The discussion's comments not yet shown, or shown with an older text, in order;
        and those the blog no longer shows that the discussion still shows (`removed`: a
        message, or a send begun, to remove; a message already edited to say it was removed
        has the content hash REMOVED)."""
        rows = await self._all(
            f"SELECT {_COMMENT_COLUMNS}, c.content_hash, m.message_id,"
            " m.content_hash AS mirrored_hash, m.nonce, m.via_webhook,"
            " pc.author AS parent_author, pc.content_html AS parent_html,"
            " pc.link AS parent_link, pm.message_id AS parent_message_id,"
            " m.mirrored_at AS started_at, c.removed_at IS NOT NULL AS removed"
            " FROM discussions d JOIN comments c ON c.post_id = d.post_id"
            " LEFT JOIN mirrored_comments m"
            "   ON m.discussion_id = d.id AND m.comment_id = c.comment_id"
            " LEFT JOIN comments pc ON pc.post_id = c.post_id AND pc.comment_id = c.parent_id"
            "   AND pc.removed_at IS NULL"
            " LEFT JOIN mirrored_comments pm"
            "   ON pm.discussion_id = d.id AND pm.comment_id = c.parent_id"
            # a member's own reply (from_discord) is their message: never edited or removed
            " WHERE d.id = ? AND coalesce(m.from_discord, 0) = 0"
            " AND CASE WHEN c.removed_at IS NULL THEN"
            "   m.comment_id IS NULL OR (m.message_id IS NULL AND m.skipped_reason IS NULL)"
            "   OR m.content_hash != c.content_hash"
            " ELSE m.comment_id IS NOT NULL AND m.content_hash != ? END"
            " ORDER BY c.published_at, c.comment_id",
            (discussion_id, REMOVED),
        )
        return [
            from_row(
                MirrorItem,
                row,
                comment=_comment(row),
                via_webhook=bool(row["via_webhook"]),
                removed=bool(row["removed"]),
            )
            for row in rows
        ]

    async def begin_mirror(
        self, discussion_id: int, post_id: int, comment_id: int, *, via_webhook: bool
    ) -> str:
        """Record that a comment is about to be sent; returns the send's nonce (kept on retry)."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO mirrored_comments(discussion_id, comment_id, post_id, nonce,"
                " via_webhook, content_hash, mirrored_at) VALUES (?, ?, ?, ?, ?, '', ?)"
                " ON CONFLICT(discussion_id, comment_id) DO UPDATE SET"
                " via_webhook = excluded.via_webhook",
                (discussion_id, comment_id, post_id, new_nonce(), int(via_webhook), time.time()),
            )
            return await self._value(
                "SELECT nonce FROM mirrored_comments WHERE discussion_id = ? AND comment_id = ?",
                (discussion_id, comment_id),
                conn=db,
            )

    async def finish_mirror(
        self,
        discussion_id: int,
        comment_id: int,
        *,
        message_id: int | None,
        content_hash: str,
        via_webhook: bool,
    ) -> None:
        """The comment is shown by `message_id` (None keeps the message already recorded)."""
        await self._write(
            "UPDATE mirrored_comments SET message_id = coalesce(?, message_id),"
            " content_hash = ?, via_webhook = ?, mirrored_at = ?, skipped_reason = NULL"
            " WHERE discussion_id = ? AND comment_id = ?",
            (message_id, content_hash, int(via_webhook), time.time(), discussion_id, comment_id),
        )

    async def mirror_done(self, discussion_id: int, seen_due_at: float | None) -> None:
        """Everything read so far is mirrored; comments stored meanwhile keep it due."""
        await self._write(
            "UPDATE discussions SET mirror_due_at = CASE"
            " WHEN mirror_due_at IS NOT NULL AND mirror_due_at > coalesce(?, 0)"
            " THEN mirror_due_at END, mirror_failures = 0, last_error = NULL WHERE id = ?",
            (seen_due_at, discussion_id),
        )

    async def mirror_failed(self, discussion_id: int, error: str, *, retry_at: float) -> None:
        await self._write(
            "UPDATE discussions SET mirror_failures = mirror_failures + 1, last_error = ?,"
            " mirror_due_at = ? WHERE id = ?",
            (error_text(error), retry_at, discussion_id),
        )

    async def refuse_mirror(
        self,
        discussion_id: int,
        post_id: int,
        comment_id: int,
        error: str,
        *,
        content_hash: str,
        give_up_after: int,
    ) -> bool:
        """Discord refused the comment's message (or its edit), plain version included; after
        `give_up_after` refusals it is skipped until the comment changes on the blog. Returns
        whether it was skipped now."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO mirrored_comments(discussion_id, comment_id, post_id, nonce,"
                " content_hash, mirrored_at, refusals) VALUES (?, ?, ?, ?, '', ?, 1)"
                " ON CONFLICT(discussion_id, comment_id) DO UPDATE SET refusals = refusals + 1",
                (discussion_id, comment_id, post_id, new_nonce(), time.time()),
            )
            cur = await db.execute(
                "UPDATE mirrored_comments SET skipped_reason = ?, content_hash = ?, refusals = 0"
                " WHERE discussion_id = ? AND comment_id = ? AND refusals >= ?",
                (error_text(error), content_hash, discussion_id, comment_id, give_up_after),
            )
        return cur.rowcount > 0

    async def mirror_floor(self, discussion_id: int, before: float) -> int | None:
        """The newest message of the discussion confirmed before `before`: a send begun then
        can only have landed after it."""
        return await self._value(
            "SELECT max(message_id) FROM mirrored_comments WHERE discussion_id = ?"
            " AND message_id IS NOT NULL AND mirrored_at < ?",
            (discussion_id, before),
            conn=self.conn,
        )

    # --- comments the blog no longer shows ------------------------------------------

    async def shown_comment_dates(self, post_id: int) -> dict[int, float]:
        """The post's comments as last read, removed ones aside: {comment id: published_at}."""
        rows = await self._all(
            "SELECT comment_id, published_at FROM comments"
            " WHERE post_id = ? AND removed_at IS NULL",
            (post_id,),
        )
        return {row["comment_id"]: row["published_at"] for row in rows}

    async def forget_mirror(self, discussion_id: int, comment_id: int) -> None:
        """The comment's message is gone from the discussion (it was removed): approved
        again, the comment is sent anew, once."""
        await self._write(
            "DELETE FROM mirrored_comments WHERE discussion_id = ? AND comment_id = ?",
            (discussion_id, comment_id),
        )

    async def mirror_removed(self, discussion_id: int, comment_id: int, message_id: int) -> None:
        """The comment's message now says it was removed (it could not be deleted)."""
        await self._write(
            "UPDATE mirrored_comments SET message_id = ?, content_hash = ?, mirrored_at = ?,"
            " skipped_reason = NULL WHERE discussion_id = ? AND comment_id = ?",
            (message_id, REMOVED, time.time(), discussion_id, comment_id),
        )

    async def next_comment_check(self, after: float) -> float | None:
        """When the next post's comments are due, after `after` (None: none followed)."""
        return await self._value(
            "SELECT min(next_check_at) FROM comment_watches WHERE next_check_at > ?",
            (after,),
        )


def _diff_checks(read: list[CommentCheck], known_rows: list, now: float):
    """What a batch of reads changes: (new and edited comment ids by post, comment rows to
    upsert, discussions to mark, watch rows to update, comments to mark removed). Pure:
    runs in a thread."""
    known: dict[int, dict[int, str | None]] = {c.post_id: {} for c in read if c.comments}
    for post_id, comment_id, content_hash in known_rows:
        known[post_id][comment_id] = content_hash
    results: dict[int, tuple[list[int], list[int]]] = {}
    rows, touched, watch_rows, removed = [], [], [], []
    for check in read:
        new: list[int] = []
        edited: list[int] = []
        for stored in check.comments or ():
            c = stored.comment
            old = known[check.post_id].get(c.id)
            if old == stored.content_hash:
                continue
            (new if old is None else edited).append(c.id)
            rows.append(
                (
                    check.post_id,
                    c.id,
                    c.parent_id,
                    c.author,
                    c.author_url,
                    c.avatar_url,
                    c.published_at,
                    c.content_html,
                    c.link,
                    stored.content_hash,
                    now,
                )
            )
        results[check.post_id] = (new, edited)
        removed += [(now, check.post_id, cid) for cid in check.removed]
        if new or edited or check.removed:
            touched.append((now, bool(new), now, check.post_id))
        whole = check.comments is not None
        next_check = check.next_check_at
        if new and check.sooner_if_new is not None:
            next_check = check.sooner_if_new
        watch_rows.append(
            (
                check.source,
                next_check,
                now,
                check.wp_id,
                whole,
                check.etag,
                whole,
                check.last_modified,
                whole,
                now,
                bool(new),
                now,
                check.post_id,
            )
        )
    return results, rows, touched, watch_rows, removed
