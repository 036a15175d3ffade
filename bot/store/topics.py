"""Topic roles and their panels (`/feed roles`): which role stands for which topic."""

from __future__ import annotations

from collections.abc import Iterable

import aiosqlite

from ..topics import TopicRole, merge_topics, topic_key

# the facets read to rank a feed's topics: enough that folding variants together and
# dropping a few cannot starve the 25 offered
_FACETS_READ = 200

_TOPIC_ROLES = (
    "SELECT t.id, t.subscription_id, s.guild_id, t.topic, t.role_id, t.created"
    " FROM topic_roles t JOIN subscriptions s ON s.id = t.subscription_id"
)


def _topic_role(row: aiosqlite.Row) -> TopicRole:
    return TopicRole(**{**dict(row), "created": bool(row["created"])})


class TopicQueries:
    conn: aiosqlite.Connection

    async def popular_topics(self, feed_id: int, limit: int = 25) -> list[str]:
        """The feed's categories and tags in the archive, most used first (one read of the
        archive's per-feed counts, kept up to date by triggers: cheap at any size)."""
        rows = await self._all(
            "SELECT name, sum(posts) AS n FROM archive_facets WHERE feed_id = ?"
            " AND kind IN ('category', 'tag') GROUP BY name ORDER BY n DESC, name LIMIT ?",
            (feed_id, _FACETS_READ),
        )
        return merge_topics(((row["name"], row["n"]) for row in rows), limit)

    async def topic_roles(self, subscription_id: int) -> list[TopicRole]:
        """The subscription's topics with their roles, in the panel's order."""
        rows = await self._all(
            _TOPIC_ROLES + " WHERE t.subscription_id = ? ORDER BY t.position, t.id",
            (subscription_id,),
        )
        return [_topic_role(row) for row in rows]

    async def topic_role(self, topic_id: int) -> TopicRole | None:
        row = await self._one(_TOPIC_ROLES + " WHERE t.id = ?", (topic_id,))
        return _topic_role(row) if row else None

    async def topic_role_map(self, subscription_id: int) -> dict[str, int]:
        """Topic key → role id: what an announcement of the subscription is matched with."""
        rows = await self._all(
            "SELECT topic_key, role_id FROM topic_roles WHERE subscription_id = ?",
            (subscription_id,),
        )
        return {row["topic_key"]: row["role_id"] for row in rows}

    async def delivery_topic_role_map(self, delivery_id: int) -> dict[str, int]:
        """The same, for the subscription of a delivery (an announcement being edited)."""
        rows = await self._all(
            "SELECT t.topic_key, t.role_id FROM deliveries d"
            " JOIN topic_roles t ON t.subscription_id = d.subscription_id WHERE d.id = ?",
            (delivery_id,),
        )
        return {row["topic_key"]: row["role_id"] for row in rows}

    async def set_topic_roles(
        self, subscription_id: int, topics: Iterable[tuple[str, int, bool]]
    ) -> None:
        """The subscription's topics become exactly `topics` (name, role id, whether Gazette
        created the role), in this order."""
        topics = list(topics)
        async with self.transaction() as db:
            await db.execute(
                "DELETE FROM topic_roles WHERE subscription_id = ?", (subscription_id,)
            )
            await db.executemany(
                "INSERT INTO topic_roles(subscription_id, topic, topic_key, role_id, created,"
                " position) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (subscription_id, name, topic_key(name), role_id, int(created), position)
                    for position, (name, role_id, created) in enumerate(topics)
                ],
            )

    async def forget_topic_role(self, role_id: int) -> list[int]:
        """A role was deleted: the topics it stood for are dropped. Returns the
        subscriptions whose topics changed (their panels are out of date)."""
        async with self.transaction() as db:
            rows = await self._all(
                "SELECT DISTINCT subscription_id FROM topic_roles WHERE role_id = ?",
                (role_id,),
                conn=db,
            )
            await db.execute("DELETE FROM topic_roles WHERE role_id = ?", (role_id,))
        return [row["subscription_id"] for row in rows]

    # --- panels -------------------------------------------------------------------

    async def topic_panel(self, subscription_id: int) -> tuple[int, int] | None:
        """(channel id, message id) of the subscription's panel, if it has one."""
        row = await self._one(
            "SELECT channel_id, message_id FROM topic_panels WHERE subscription_id = ?",
            (subscription_id,),
        )
        return (row["channel_id"], row["message_id"]) if row else None

    async def set_topic_panel(self, subscription_id: int, channel_id: int, message_id: int) -> None:
        await self._write(
            "INSERT INTO topic_panels(subscription_id, channel_id, message_id) VALUES (?, ?, ?)"
            " ON CONFLICT (subscription_id) DO UPDATE SET channel_id = excluded.channel_id,"
            " message_id = excluded.message_id",
            (subscription_id, channel_id, message_id),
        )

    async def forget_topic_panel(self, subscription_id: int) -> None:
        await self._write("DELETE FROM topic_panels WHERE subscription_id = ?", (subscription_id,))
