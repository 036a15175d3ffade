"""A fake Discord (REST API + gateway) on 127.0.0.1 for over-the-wire tests.

The real discord.py client talks to it exactly as it talks to Discord: HTTP requests, the
gateway WebSocket and interaction callbacks all go over loopback, so tests exercise the
code paths that break in production. Nothing here mocks discord.py.

Typical use (see ``tests/fakediscord_fixtures.py`` for the ``fake_discord`` fixture that
does the start/stop and points discord.py at the fake)::

    fake = FakeDiscord()
    guild = fake.add_guild("Blog fans")
    news = fake.add_channel(guild, "news", type=ChannelType.NEWS)
    await fake.start()
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

    async with fake.run_client(bot):            # login + connect + wait until ready
        await bot.tree.sync(guild=discord.Object(guild))
        result = await fake.invoke(guild, news, "feed add", options={"url": "https://x"})
        assert result.ephemeral and "Added" in result.content
        assert fake.messages(news)[0]["content"] == "..."
    await fake.stop()

Conventions:

* Ids are ``int`` in this module's API and strings (snowflakes) on the wire. Stored objects
  (guilds, channels, messages, ...) are the wire-format dicts, returned live: read them,
  don't mutate them (use the state methods, which also tell connected clients).
* State can be built before or after :meth:`FakeDiscord.start`. Changes made while a client
  is connected are dispatched to it (CHANNEL_CREATE, GUILD_ROLE_UPDATE, ...), in order.
* The fake enforces what Discord enforces where a bot can get it wrong: message and embed
  limits (400, code 50035), empty messages (50006), the bot's permissions in the channel
  (403, codes 50001/50013), unknown channels/messages (404, 10003/10008), interactions
  answered twice (40060) or too late (``interaction_deadline``, 10062), autocomplete
  choice limits, nonce deduplication, role mentions only when allowed, roles created,
  deleted, given or taken only with Manage Roles and below the bot's highest role (403).
* Every request is recorded in :attr:`FakeDiscord.requests`. Requests to routes the fake
  does not know get a 404 and are listed in :attr:`FakeDiscord.unhandled`; bugs inside the
  fake answer status 599 and are listed in :attr:`FakeDiscord.errors`.
  :meth:`FakeDiscord.assert_clean` checks both lists are empty.

Layout: ``FakeDiscord`` (``_fake.py``: its attributes and lifecycle) is made of one mixin
per section, each relying on the attributes ``FakeDiscord.__init__`` sets:

* ``_state.py``: users, guilds, roles, channels, threads, messages; permissions.
* ``_gateway.py``: the WebSocket sessions (IDENTIFY, RESUME) and event dispatch.
* ``_interactions.py``: what a user does (invoke, autocomplete, click, submit a modal) and
  the ``InteractionResult`` it returns.
* ``_rest.py``: the route table, fault injection, identity and application commands;
  ``_rest_channels.py``, ``_rest_messages.py``, ``_rest_roles.py``, ``_rest_webhooks.py``:
  the other routes.
* ``_constants.py``, ``_records.py`` and ``_internals.py``: the numbers, the records tests
  read, and the errors and wire helpers the sections share.
"""

from tests.fakediscord._constants import (
    ALL_PERMISSIONS,
    DISCORD_EPOCH_MS,
    CallbackType,
    ChannelType,
    MessageFlag,
    Perm,
)
from tests.fakediscord._fake import FakeDiscord
from tests.fakediscord._interactions import InteractionResult, InteractionTimeout
from tests.fakediscord._ratelimits import RateLimits
from tests.fakediscord._records import CommandSync, Fault, RecordedRequest, Stall

__all__ = [
    "ALL_PERMISSIONS",
    "CallbackType",
    "ChannelType",
    "CommandSync",
    "DISCORD_EPOCH_MS",
    "Fault",
    "FakeDiscord",
    "InteractionResult",
    "InteractionTimeout",
    "MessageFlag",
    "Perm",
    "RateLimits",
    "RecordedRequest",
    "Stall",
]
