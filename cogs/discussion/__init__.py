"""Each article's discussion on Discord: its thread, with the blog's comments mirrored into it.

The background side reads comments (bot/comments.py) and posts what is new, or edits what
changed, into the discussion threads: through the channel's "Gazette" webhook under the
commenter's name and avatar where the bot may manage webhooks, else as the bot's own embeds.
`/discuss` finds or opens the discussion of any article of the server's archive.

_cog (loops, listeners, /discuss) → _mirror (one discussion's round) → _messages (send,
edit, find a send cut short) with _comments (how a comment looks), _webhooks, _threads.
"""

from __future__ import annotations

from bot.app import Gazette

from ._cog import Discussion


async def setup(bot: Gazette) -> None:
    await bot.add_cog(Discussion(bot))
