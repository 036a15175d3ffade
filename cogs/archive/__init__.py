"""`/archive`: search and read the history of the blogs this server follows.

_cog (the commands) with _views (results, Share buttons, an article's pages).
"""

from __future__ import annotations

from bot.app import Gazette

from ._cog import Archive


async def setup(bot: Gazette) -> None:
    await bot.add_cog(Archive(bot))
