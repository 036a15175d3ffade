"""Gazette itself, started against the fake Discord and a blog on 127.0.0.1.

`gazette_world` gives a `World`: the fake Discord with one server (admin, a text channel,
an announcement channel, a forum, a role), a local web site for blogs, and `start()` /
`stop()` / `restart()` of the real bot (real store file, real HTTP session) with fast loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import Gazette, Timing
from bot.config import Settings
from bot.fetch import create_session
from bot.store import Store
from tests.blog import Blog
from tests.fakediscord import ALL_PERMISSIONS, ChannelType, FakeDiscord, Perm
from tests.fakediscord_fixtures import point_discord_py_at
from tests.httpserver import LocalSite

FAST = Timing(poll_tick=0.1, delivery_tick=0.1, delivery_backoff=0.3, delivery_backoff_cap=0.6)
#: What an ordinary member may do (no Manage Server)
MEMBER = Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES | Perm.USE_APPLICATION_COMMANDS


@dataclass
class World:
    fake: FakeDiscord
    site: LocalSite
    db_path: Path
    guild: int
    text: int
    news: int
    forum: int
    role: int
    bot: Gazette | None = None
    store: Store | None = None
    allow_private: bool = True
    global_commands: bool = False
    #: with allow_private False: hosts still allowed (e.g. "127.0.0.1": loopback blogs, while
    #: redirects to other private addresses are refused as in production)
    allow_hosts: tuple[str, ...] = ()
    poll_interval: int = 60
    #: attributes set on the bot's Fetcher (read_timeout, total_timeout, ...)
    fetcher_options: dict = field(default_factory=dict)
    #: the store's clock for digest periods (tests move it forward instead of waiting)
    clock: Callable[[], float] | None = None
    _stack: contextlib.AsyncExitStack | None = field(default=None, repr=False)

    def blog(self, title: str = "The Test Blog", prefix: str = "") -> Blog:
        return Blog(self.site, title, prefix)

    def settings(self) -> Settings:
        return Settings(
            discord_token=self.fake.token,
            database_path=self.db_path,
            poll_interval=self.poll_interval,
            command_guild_id=None if self.global_commands else self.guild,
            discord_api_base=self.fake.api_base,
            discord_gateway_url=self.fake.gateway_url,
            allow_private_feeds=self.allow_private,
        )

    async def start(self) -> Gazette:
        stack = contextlib.AsyncExitStack()
        settings = self.settings()
        self.store = await Store.open(settings.database_path)
        if self.clock is not None:
            self.store.clock = self.clock
        stack.push_async_callback(self.store.close)
        session = await stack.enter_async_context(
            create_session(allow_private=settings.allow_private_feeds, allow_hosts=self.allow_hosts)
        )
        self.bot = Gazette(settings, self.store, session, timing=FAST, guild_ready_timeout=0.05)
        for name, value in self.fetcher_options.items():
            setattr(self.bot.fetcher, name, value)
        await stack.enter_async_context(self.fake.run_client(self.bot))
        self._stack = stack
        return self.bot

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
            self.bot = None

    async def restart(self) -> Gazette:
        await self.stop()
        return await self.start()

    async def command(self, name: str, options: dict | None = None, **kwargs):
        """Run a slash command as the server's owner (Manage Server) in the text channel."""
        channel = kwargs.pop("channel", self.text)
        return await self.fake.invoke(self.guild, channel, name, options or {}, **kwargs)

    async def poll_now(self) -> None:
        """Make every followed feed due; the bot's loop picks them up within a tick."""
        for sub in await self.store.guild_subscriptions(self.guild):
            await self.store._write(
                "UPDATE feeds SET next_check_at = 0 WHERE id = ?", (sub.feed_id,)
            )

    def announcements(self, channel: int | None = None) -> list[dict]:
        """Messages the bot sent in a channel that carry an embed (announcements)."""
        return [m for m in self.fake.messages(channel or self.text) if m.get("embeds")]


async def eventually(check: Callable[[], object], within: float = 5.0, what: str = "condition"):
    """Wait until `check()` (sync or async) is truthy; returns its value."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def settle(seconds: float = 0.6) -> None:
    """Give the bot's loops several ticks to do something they should not."""
    await asyncio.sleep(seconds)


def button(message: dict, label: str) -> dict:
    """The button labelled `label` in a message's components."""
    for row in message.get("components", []):
        for component in row.get("components", []):
            if component.get("label") == label:
                return component
    raise AssertionError(f"no button {label!r} in {message.get('components')}")


@pytest.fixture
async def gazette_world(tmp_path, monkeypatch) -> AsyncIterator[World]:
    fake = FakeDiscord()
    guild = fake.add_guild("Readers")
    text = fake.add_channel(guild, "blog", type=ChannelType.TEXT)
    news = fake.add_channel(guild, "news", type=ChannelType.NEWS)
    forum = fake.add_channel(guild, "articles", type=ChannelType.FORUM, tags=["News", "Travel"])
    role = fake.add_role(guild, "Subscribers")
    await fake.start()
    point_discord_py_at(fake, monkeypatch)
    async with LocalSite() as site:
        world = World(fake, site, tmp_path / "gazette.sqlite3", guild, text, news, forum, role)
        try:
            yield world
        finally:
            await world.stop()
            await fake.stop()
    fake.assert_clean()


__all__ = ["ALL_PERMISSIONS", "MEMBER", "World", "eventually", "gazette_world", "settle"]
