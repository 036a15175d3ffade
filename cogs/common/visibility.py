"""What a member may see of a server's feeds: the channels they can view, from discord.py's
cache (no request, cheap enough for every autocomplete keystroke).

A feed's posts are the archive of the channel it is announced in: someone who cannot view
that channel must not find them through `/archive` or `/discuss` either.
"""

from __future__ import annotations

import discord


def viewable_channels(interaction: discord.Interaction) -> list[int]:
    """Ids of the server's channels that can carry a feed (text, announcement, forum) and
    that the member who interacts can view. Nothing when the server is not cached."""
    guild = interaction.guild
    member = interaction.user
    if guild is None or not isinstance(member, discord.Member) or not guild.channels:
        return []
    channels = [*guild.text_channels, *guild.forums]  # text_channels include announcement
    # the owner and administrators view every channel (discord.py's permissions_for gives
    # them all permissions, as here): one check instead of one per channel
    if member.guild_permissions.administrator and (
        guild.owner_id == member.id or guild.default_role is not None
    ):
        return [c.id for c in channels]
    return [c.id for c in channels if c.permissions_for(member).view_channel]


def can_view(interaction: discord.Interaction, channel_id: int) -> bool:
    """Whether the member can view the channel (a thread: its parent), from the cache."""
    guild = interaction.guild
    member = interaction.user
    channel = guild.get_channel_or_thread(channel_id) if guild is not None else None
    if channel is None or not isinstance(member, discord.Member):
        return False
    if isinstance(channel, discord.Thread):
        channel = channel.parent
        if channel is None:
            return False
    return channel.permissions_for(member).view_channel
