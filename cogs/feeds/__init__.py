"""`/feed`: what a server follows, and where it is announced. Manage Server only.

_cog (the commands) with _listing (`/feed list`) and _backfill (history imports).
"""

from __future__ import annotations

from bot.app import Gazette

from ._cog import Feeds


async def setup(bot: Gazette) -> None:
    await bot.add_cog(Feeds(bot))
