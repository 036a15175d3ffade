"""The background side: poll due feeds, then empty the outbox into Discord.

_cog (loops, retries, feed notices) → _delivery (send once, find a send cut short) with
_forum (forum posts), _followups (publish, open the thread); _digests (a digest per period
for subscriptions that ask for one).
"""

from __future__ import annotations

from bot.app import Gazette

from ._cog import Announcer
from ._digests import Digests


async def setup(bot: Gazette) -> None:
    await bot.add_cog(Announcer(bot))
    await bot.add_cog(Digests(bot))
