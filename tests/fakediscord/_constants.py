"""Discord's numbers the fake uses: channel and callback types, flags, permissions."""

from __future__ import annotations

import re

import discord

API_VERSION = 10
DISCORD_EPOCH_MS = 1420070400000
HEARTBEAT_INTERVAL_MS = 41250


class ChannelType:
    """Discord channel type numbers."""

    TEXT = 0
    CATEGORY = 4
    NEWS = 5  # announcement channel
    NEWS_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    FORUM = 15
    MEDIA = 16

    THREADS = frozenset({NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD})
    FORUMS = frozenset({FORUM, MEDIA})


class CallbackType:
    """Interaction callback (response) types, as in ``InteractionResult.type``."""

    PONG = 1
    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9


class MessageFlag:
    CROSSPOSTED = 1 << 0
    SUPPRESS_EMBEDS = 1 << 2
    HAS_THREAD = 1 << 5
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7


class Perm:
    """Permission bits the fake checks (same values as ``discord.Permissions``)."""

    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL_PERMISSIONS = discord.Permissions.all().value

#: Permissions of a new guild's @everyone role.
DEFAULT_EVERYONE_PERMISSIONS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)

#: Permissions of the bot's own (managed) role in a new guild: what a feed bot is invited with.
DEFAULT_BOT_PERMISSIONS = (
    DEFAULT_EVERYONE_PERMISSIONS
    | Perm.MANAGE_MESSAGES
    | Perm.MANAGE_THREADS
    | Perm.MANAGE_WEBHOOKS
    | Perm.MENTION_EVERYONE
)

THREAD_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)

_INTERACTION_APPLICATION_COMMAND = 2
_INTERACTION_COMPONENT = 3
_INTERACTION_AUTOCOMPLETE = 4
_INTERACTION_MODAL_SUBMIT = 5

_OPTION_SUBCOMMAND = 1
_OPTION_GROUP = 2
_OPTION_STRING = 3
_OPTION_INTEGER = 4
_OPTION_BOOLEAN = 5
_OPTION_USER = 6
_OPTION_CHANNEL = 7
_OPTION_ROLE = 8
_OPTION_MENTIONABLE = 9
_OPTION_NUMBER = 10
_OPTION_ATTACHMENT = 11

_MENTION_RE = re.compile(r"<@!?(\d+)>|<@&(\d+)>|@(everyone|here)")
