"""Buttons under an ephemeral answer: only its owner presses them; Previous/Next pages."""

from __future__ import annotations

import contextlib

import discord

from bot.tree import report

VIEW_TIMEOUT = 600.0  # seconds before the buttons disable themselves


class OwnedView(discord.ui.View):
    """Buttons only the person who asked may press; they disable themselves on timeout."""

    #: The answer to anyone else who presses them
    not_yours = "These buttons belong to someone else's search: run the command yourself."

    def __init__(self, owner: discord.abc.User, interaction: discord.Interaction) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)
        self.owner = owner
        self.interaction = interaction  # to edit the (ephemeral) message on timeout

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner.id:
            await interaction.response.send_message(self.not_yours, ephemeral=True)
            return False
        return True

    async def on_timeout(self) -> None:
        for item in self.children:
            item.disabled = True
        # the message may be gone or the token expired: then there is nothing to disable
        with contextlib.suppress(discord.HTTPException):
            await self.interaction.edit_original_response(view=self)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item) -> None:
        await report(interaction, error, f"button {getattr(item, 'custom_id', item)}")


class PagedView(OwnedView):
    """Previous/Next over `count` pages; a subclass makes page `number`'s embed in `page()`."""

    def __init__(self, owner, interaction, count: int) -> None:
        super().__init__(owner, interaction)
        self.count = count
        self.number = 0

    def page(self, number: int) -> discord.Embed:
        raise NotImplementedError

    def render(self) -> discord.Embed:
        self.previous.disabled = self.number == 0
        self.next.disabled = self.number >= self.count - 1
        return self.page(self.number)

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.primary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.number = max(0, self.number - 1)
        await interaction.response.edit_message(embed=self.render(), view=self)

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.primary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.number = min(self.count - 1, self.number + 1)
        await interaction.response.edit_message(embed=self.render(), view=self)
