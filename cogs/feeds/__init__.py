"""`/feed`: what a server follows, and where it is announced. Manage Server only.

_cog (the commands) with _listing (`/feed list`), _backfill (history imports) and _topics
(`/feed roles` and its panels).
"""

from __future__ import annotations

from bot.app import Gazette

from ._cog import Feeds
from ._topics import TopicButton


async def setup(bot: Gazette) -> None:
    await bot.add_cog(Feeds(bot))
    # the panels' buttons answer across restarts: they are matched by their custom_id
    bot.add_dynamic_items(TopicButton)


async def teardown(bot: Gazette) -> None:
    bot.remove_dynamic_items(TopicButton)
