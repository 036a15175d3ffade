"""How a subscription's announcements look: its message style and template (/feed style)."""

from __future__ import annotations

import aiosqlite


class StyleQueries:
    conn: aiosqlite.Connection

    async def set_subscription_style(
        self, guild_id: int, subscription_id: int, style: str, template: str | None
    ) -> bool:
        """The style and template (None: none) of a subscription of this server; False if
        it has none such (removed meanwhile, or another server's)."""
        cur = await self._write(
            "UPDATE subscriptions SET style = ?, template = ? WHERE id = ? AND guild_id = ?",
            (style, template, subscription_id, guild_id),
        )
        return cur.rowcount > 0
