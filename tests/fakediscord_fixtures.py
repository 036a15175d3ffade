"""pytest fixtures for the fake Discord in ``tests/fakediscord/``.

Import the fixture where it is needed (a test module or a conftest)::

    from tests.fakediscord_fixtures import fake_discord  # noqa: F401

``fake_discord`` is a started :class:`~tests.fakediscord.FakeDiscord` with discord.py
pointed at it (``Route.BASE`` and ``DEFAULT_GATEWAY``, restored afterwards). At teardown it
stops the fake and fails the test if a request hit a route the fake does not implement
or the fake itself raised (see ``FakeDiscord.assert_clean``). Build guilds and channels
with ``fake.add_guild``/``add_channel`` before the bot connects, then use
``async with fake.run_client(bot):``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
import yarl

from tests.fakediscord import FakeDiscord


def point_discord_py_at(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point discord.py's REST base and default gateway at ``fake`` for this test."""
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A running fake Discord that discord.py talks to; checked for surprises at teardown."""
    fake = FakeDiscord()
    await fake.start()
    point_discord_py_at(fake, monkeypatch)
    try:
        yield fake
    finally:
        await fake.stop()
    fake.assert_clean()
