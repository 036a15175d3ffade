"""Replies back to the blog: servers' WordPress connections and what members sent."""

from __future__ import annotations

import time

import aiosqlite

from ..models import BlogConnection, BlogReply, DiscussionInfo
from .comments import _DISCUSSIONS
from .rows import error_text, from_row, new_nonce

# A BlogConnection's columns without the secret (with_secret adds it)
_CONNECTIONS = (
    "SELECT guild_id, feed_id, rest_root, username, wp_user_id, wp_user_name, can_moderate,"
    " connected_by, connected_at, names_kept{secret} FROM blog_connections"
)
_REPLIES = "SELECT * FROM blog_replies"


def _connection(row: aiosqlite.Row) -> BlogConnection:
    return from_row(
        BlogConnection,
        row,
        can_moderate=bool(row["can_moderate"]),
        names_kept=bool(row["names_kept"]),
    )


class ReplyQueries:
    conn: aiosqlite.Connection

    # --- connections ----------------------------------------------------------------

    async def set_blog_connection(self, c: BlogConnection) -> None:
        """Connect (or reconnect) a server's feed to a WordPress account."""
        await self._write(
            "INSERT INTO blog_connections(guild_id, feed_id, rest_root, username, app_password,"
            " wp_user_id, wp_user_name, can_moderate, connected_by, connected_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(guild_id, feed_id) DO UPDATE SET rest_root = excluded.rest_root,"
            " username = excluded.username, app_password = excluded.app_password,"
            " wp_user_id = excluded.wp_user_id, wp_user_name = excluded.wp_user_name,"
            " can_moderate = excluded.can_moderate, connected_by = excluded.connected_by,"
            " connected_at = excluded.connected_at, names_kept = 1",
            (
                c.guild_id,
                c.feed_id,
                c.rest_root,
                c.username,
                c.app_password,
                c.wp_user_id,
                c.wp_user_name,
                int(c.can_moderate),
                c.connected_by,
                c.connected_at,
            ),
        )

    async def blog_connection(
        self, guild_id: int, feed_id: int, *, with_secret: bool = False
    ) -> BlogConnection | None:
        """The server's connection for a feed; the secret only when asked for (to use it)."""
        sql = _CONNECTIONS.format(secret=", app_password" if with_secret else "")
        row = await self._one(
            sql + " WHERE guild_id = ? AND feed_id = ?", (guild_id, feed_id), conn=self.conn
        )
        return _connection(row) if row else None

    async def names_not_kept(self, guild_id: int, feed_id: int) -> None:
        """The blog shows replies under its own name for the account: say who in the text."""
        await self._write(
            "UPDATE blog_connections SET names_kept = 0 WHERE guild_id = ? AND feed_id = ?",
            (guild_id, feed_id),
        )

    async def remove_blog_connection(self, guild_id: int, feed_id: int) -> bool:
        cur = await self._write(
            "DELETE FROM blog_connections WHERE guild_id = ? AND feed_id = ?", (guild_id, feed_id)
        )
        return cur.rowcount > 0

    # --- where a member writes ------------------------------------------------------

    async def thread_discussion(self, guild_id: int, thread_id: int) -> DiscussionInfo | None:
        """The open discussion held in a thread of this server (None elsewhere)."""
        row = await self._one(
            _DISCUSSIONS + " WHERE d.thread_id = ? AND s.guild_id = ? AND d.state = 'open'"
            " ORDER BY d.id DESC LIMIT 1",
            (thread_id, guild_id),
            conn=self.conn,
        )
        return DiscussionInfo(**row) if row else None

    async def comment_shown_by(self, discussion_id: int, message_id: int) -> int | None:
        """The blog comment a message of the discussion shows (mirrored or sent from Discord)."""
        return await self._value(
            "SELECT comment_id FROM mirrored_comments WHERE discussion_id = ? AND message_id = ?"
            " ORDER BY mirrored_at DESC LIMIT 1",
            (discussion_id, message_id),
            conn=self.conn,
        )

    async def post_wp_id(self, post_id: int) -> int | None:
        """The post's WordPress id, when the feed or a comment read told it."""
        return await self._value(
            "SELECT coalesce(p.wp_id, w.wp_id) FROM posts p"
            " LEFT JOIN comment_watches w ON w.post_id = p.id WHERE p.id = ?",
            (post_id,),
            conn=self.conn,
        )

    # --- replies --------------------------------------------------------------------

    async def begin_reply(
        self,
        *,
        guild_id: int,
        discussion_id: int,
        post_id: int,
        source_key: str,
        message_id: int | None,
        member_id: int,
        author_name: str,
        content: str,
        parent_comment_id: int | None,
        retry_after: float,
    ) -> tuple[BlogReply, bool, bool]:
        """Record that a reply is about to be sent: (its row, whether to send it now, whether
        an earlier try's outcome is unknown: it may be on the blog already).

        Written before the REST request. A source already sent (or being sent) is not sent
        again; one that failed or was withdrawn, or whose outcome stayed unknown for
        `retry_after` seconds, may be sent again (the text is the one asked for now).
        """
        now = time.time()
        async with self.transaction() as db:
            row = await self._one(_REPLIES + " WHERE source_key = ?", (source_key,), conn=db)
            if row is None:
                cur = await db.execute(
                    "INSERT INTO blog_replies(guild_id, discussion_id, post_id, source_key,"
                    " message_id, member_id, author_name, content, parent_comment_id, state,"
                    " created_at, attempted_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sending', ?, ?)",
                    (
                        guild_id,
                        discussion_id,
                        post_id,
                        source_key,
                        message_id,
                        member_id,
                        author_name,
                        content,
                        parent_comment_id,
                        now,
                        now,
                    ),
                )
                reply_id, go, unknown = cur.lastrowid, True, False
            else:
                reply_id = row["id"]
                # failed or withdrawn: sent anew (a member fixes a typo by withdrawing and
                # posting the edited message again)
                unknown = row["state"] == "sending"
                go = row["state"] in ("failed", "withdrawn") or (
                    unknown and row["attempted_at"] < now - retry_after
                )
                if go:
                    await db.execute(
                        "UPDATE blog_replies SET state = 'sending', attempted_at = ?,"
                        " author_name = ?, content = ?, parent_comment_id = ?, last_error = NULL,"
                        " comment_id = CASE WHEN state = 'withdrawn' THEN NULL ELSE comment_id END"
                        " WHERE id = ?",
                        (now, author_name, content, parent_comment_id, reply_id),
                    )
            reply = await self._one(_REPLIES + " WHERE id = ?", (reply_id,), conn=db)
        return from_row(BlogReply, reply), go, unknown

    async def finish_reply(
        self, reply: BlogReply, *, comment_id: int, state: str, link: str | None
    ) -> bool:
        """The blog has the reply as `comment_id`: recorded, and its message recorded as the
        comment's mirror (so the comment watcher never shows it again). Returns False when
        the comment was already shown otherwise (recognised too late)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE blog_replies SET comment_id = ?, state = ?, link = coalesce(?, link),"
                " last_error = NULL WHERE id = ?",
                (comment_id, state, link, reply.id),
            )
            if reply.message_id is None:
                return True
            cur = await db.execute(
                "INSERT INTO mirrored_comments(discussion_id, comment_id, post_id, message_id,"
                " nonce, via_webhook, content_hash, mirrored_at, from_discord)"
                " VALUES (?, ?, ?, ?, ?, 0, '', ?, 1)"
                " ON CONFLICT(discussion_id, comment_id) DO UPDATE SET"
                " message_id = excluded.message_id, from_discord = 1"
                " WHERE mirrored_comments.message_id IS NULL",
                (
                    reply.discussion_id,
                    comment_id,
                    reply.post_id,
                    reply.message_id,
                    new_nonce(),
                    time.time(),
                ),
            )
            return cur.rowcount > 0

    async def reply_failed(self, reply_id: int, error: str, *, unknown: bool = False) -> None:
        """The blog refused the reply ('failed'), or its outcome is unknown (stays 'sending':
        recognised if it comes back, never sent again by itself)."""
        await self._write(
            "UPDATE blog_replies SET state = CASE WHEN ? THEN state ELSE 'failed' END,"
            " last_error = ? WHERE id = ?",
            (int(unknown), error_text(error), reply_id),
        )

    async def set_reply_state(self, reply_id: int, state: str) -> None:
        await self._write("UPDATE blog_replies SET state = ? WHERE id = ?", (state, reply_id))

    async def pending_replies(self, discussion_id: int) -> list[BlogReply]:
        """Replies of the discussion whose comment id is not known yet."""
        rows = await self._all(
            _REPLIES + " WHERE discussion_id = ? AND state = 'sending'", (discussion_id,)
        )
        return [from_row(BlogReply, row) for row in rows]

    async def get_reply(self, reply_id: int) -> BlogReply | None:
        row = await self._one(_REPLIES + " WHERE id = ?", (reply_id,), conn=self.conn)
        return from_row(BlogReply, row) if row else None

    async def reply_for_message(self, guild_id: int, message_id: int) -> BlogReply | None:
        """The reply a message of this server sent (or shows), if any."""
        row = await self._one(
            _REPLIES + " WHERE guild_id = ? AND message_id = ? ORDER BY id DESC LIMIT 1",
            (guild_id, message_id),
            conn=self.conn,
        )
        return from_row(BlogReply, row) if row else None

    async def member_replies(
        self, guild_id: int, member_id: int | None, limit: int = 25
    ) -> list[BlogReply]:
        """Replies on the blog that can be withdrawn, newest first: a member's, or (None)
        everyone's in the server."""
        rows = await self._all(
            _REPLIES + " WHERE guild_id = ? AND (? IS NULL OR member_id = ?)"
            " AND state IN ('held', 'approved') ORDER BY created_at DESC LIMIT ?",
            (guild_id, member_id, member_id, limit),
        )
        return [from_row(BlogReply, row) for row in rows]

    async def remove_guild_connections(self, guild_id: int) -> int:
        """Gazette left the server (kicked, or the server deleted): its secrets go."""
        cur = await self._write("DELETE FROM blog_connections WHERE guild_id = ?", (guild_id,))
        return cur.rowcount
