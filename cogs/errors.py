"""The one place every slash-command error is answered."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError

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
