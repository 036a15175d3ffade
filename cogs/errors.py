"""The one place every slash-command error is answered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.store import StoreWriteError

log = logging.getLogger(__name__)


def explain(error: app_commands.AppCommandError) -> str | None:
    """The short answer for a user-side problem, or None for the unexpected."""
    if isinstance(error, app_commands.CommandInvokeError) and isinstance(error.original, UserError):
        return str(error.original)
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the **Manage Server** permission to use this command."
    if isinstance(error, app_commands.BotMissingPermissions):
        missing = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"I am missing permissions here: {missing}."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works inside a server."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.TransformerError):
        return f"{error.value!r} is not a valid value here."
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this command here."
    return None


async def answer(interaction: discord.Interaction, text: str) -> None:
    """Reply ephemerally, whether or not the interaction was already answered."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not answer interaction %s", interaction.id, exc_info=True)


async def suggestions(lookup: Awaitable[list]) -> list:
    """Autocomplete answers no error (discord.py would only log it): an empty list."""
    try:
        return await lookup
    except Exception:
        log.exception("autocomplete lookup failed")
        return []


# 400s that come from the channel, not from what was sent: slowmode, a forum that takes no
# message or requires a tag, a channel type that cannot take it, an archived or locked
# thread, too many active threads. Retried as the channel's problem, never skipped.
CHANNEL_REFUSALS = frozenset({20016, 40058, 40067, 50024, 50083, 160005, 160006, 160007})


class ItemRefused(Exception):
    """Discord refused this one item, its plain version too: retried a few times, then skipped.
    Never the channel's fault, so it holds up nothing behind it."""


def payload_refused(exc: discord.HTTPException) -> bool:
    """Whether Discord refused what was sent (400: invalid form body, say), not where."""
    return exc.status == 400 and exc.code not in CHANNEL_REFUSALS


async def send_plainly(rich: Callable[[], Awaitable], plain: Callable[[], Awaitable], what: str):
    """`rich()`; if Discord refuses its payload, `plain()` (the same item as bare text); if
    that is refused too, ItemRefused. Every other error is raised as it is."""
    try:
        return await rich()
    except discord.HTTPException as exc:
        if not payload_refused(exc):
            raise
        log.warning("%s refused (%s): sending it plainly", what, exc.text)
    try:
        return await plain()
    except discord.HTTPException as exc:
        if not payload_refused(exc):
            raise
        raise ItemRefused(f"Discord refused it, plain text too ({exc.code}): {exc.text}") from exc


async def paced_round(
    work: Callable[[], Awaitable[object]], wake: asyncio.Event, tick: float, what: str
) -> None:
    """One round of a background loop: the work (an exception is logged, never raised: it
    would end the tasks.loop for good), then a wait for `wake` or `tick` seconds."""
    try:
        await work()
    except StoreWriteError as exc:  # the store logs the cause; a traceback a round is noise
        log.debug("%s stopped: %s", what, exc)
    except Exception:
        log.exception("%s failed", what)
    try:
        await asyncio.wait_for(wake.wait(), timeout=tick)
    except TimeoutError:
        pass
    wake.clear()


class Errors(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error
        bot.tree.on_error = self.on_app_command_error

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._previous

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        text = explain(error)
        if text is None:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.exception("/%s failed", command, exc_info=error)
            text = "Something went wrong on my side; it has been logged. Please try again later."
        await answer(interaction, text)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Errors(bot))
