"""Replies back to the blog: "Post to the blog" / "Withdraw from the blog" on a member's
message in an article's thread, and `/reply post` / `/reply withdraw` there.

_cog (the commands) → bot/replies.py (the service, no Discord) → bot/store/replies.py.
`/feed connect` and `/feed disconnect`, which switch it on per server and feed, are in
cogs/feeds.
"""

from __future__ import annotations

from bot.app import Gazette

from ._cog import Replies


async def setup(bot: Gazette) -> None:
    await bot.add_cog(Replies(bot))
