"""The one error path: every slash command's and every button's error is answered here.

Beside bot/app.py, the only other bot/ module that knows discord.py; cogs import `report`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import discord
from discord import app_commands

from .errors import UserError

log = logging.getLogger(__name__)

APOLOGY = "Something went wrong on my side; it has been logged. Please try again later."


def permission_names(names: Iterable[str]) -> str:
    """discord.py's permission names as Discord shows them: "Manage Webhooks, Send Messages"."""
    return ", ".join(name.replace("_", " ").title() for name in names)


def explain(error: Exception) -> str | None:
    """The short answer for a user-side problem, or None for the unexpected."""
    # a command's own UserError comes wrapped; a button's is raised as it is. Nothing else is
    # unwrapped: any other error inside a command body is unexpected, logged with its cause
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, UserError):
        return str(original)
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the **Manage Server** permission to use this command."
    if isinstance(error, app_commands.BotMissingPermissions):
        return f"I am missing permissions here: {permission_names(error.missing_permissions)}."
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


async def report(interaction: discord.Interaction, error: Exception, what: str) -> None:
    """Tell the member what went wrong: their mistake in a word, the unexpected logged with
    its traceback (`what` names the command or button) and apologised for."""
    text = explain(error)
    if text is None:
        log.exception("%s failed", what, exc_info=error)
        text = APOLOGY
    await answer(interaction, text)


class GazetteTree(app_commands.CommandTree):
    """The bot's command tree (passed as `tree_cls`): its errors go through `report`."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        await report(interaction, error, f"/{command}")
