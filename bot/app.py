"""The bot: owns the resources, loads the cogs, syncs commands when they change."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

import aiohttp
import discord
import yarl
from discord.ext import commands

from .comments import CommentWatcher
from .config import Settings
from .discord_pacing import RequestPacer
from .fetch import Fetcher
from .poller import FeedPoller, parse_thread
from .replies import Replies
from .store import Store
from .tree import GazetteTree
from .websub import WebSub

log = logging.getLogger(__name__)

#: feeds checked at once (FeedPoller's max_concurrency)
POLL_CONCURRENCY = 16

EXTENSIONS = (
    "cogs.feeds",
    "cogs.announcer",
    "cogs.discussion",
    "cogs.archive",
    "cogs.replies",
)


@dataclass(frozen=True, slots=True)
class Timing:
    """How often the background loops run; tests shorten these."""

    poll_tick: float = 15.0  # how often due feeds are looked for
    delivery_tick: float = 5.0  # how often the outbox is looked at
    delivery_backoff: float = 30.0  # first retry of a failed send; doubles up to the cap
    delivery_backoff_cap: float = 3600.0
    # a post's comments falling due between two ticks are read on time, but the comment loop
    # is woken at most this often (many posts due apart must not mean a round each)
    comment_wake_gap: float = 1.0


def point_discord_at(api_base: str, gateway_url: str) -> None:
    """Send discord.py's REST and gateway traffic to the configured addresses (proxies, tests).

    discord.py has no per-client setting for these; they are class attributes.
    """
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class Gazette(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        store: Store,
        session: aiohttp.ClientSession,
        *,
        timing: Timing | None = None,
        pacer: RequestPacer | None = None,
        **options,
    ) -> None:
        # no message cache (max_messages): nothing reads a message back from it (on_message
        # gets its message with the event); the 1,000 announcements it kept cost ~4 MiB
        intents = discord.Intents.default()
        intents.message_content = False
        intents.members = False
        intents.presences = False
        # every REST request to Discord waits for the global budget: no burst of 429s
        pacer = pacer or RequestPacer()
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            # nothing a blog writes may ping anyone; a role is allowed per message when asked
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=GazetteTree,  # one error path for every command
            http_trace=pacer.trace_config(lambda: discord.http.Route.BASE),
            **{"max_messages": None, **options},
        )
        self.pacer = pacer
        self.settings = settings
        self.store = store
        self.session = session
        self.timing = timing or Timing()
        self.fetcher = Fetcher(session)
        # one thread parses feeds and comment feeds: more would fight the event loop
        self.parse_pool = parse_thread()
        self.poller = FeedPoller(
            store,
            self.fetcher,
            default_interval=settings.poll_interval,
            parse_pool=self.parse_pool,
            # 16 checks at once, as bench_poll times the cycle: each holds its body (a
            # farm feed: 48 KB unpacked) and its parse until stored; 32 cost bench_e2e
            # 1 MiB of peak RSS (81 -> 80 MiB; after the changed phase 75.2 -> 73.9)
            max_concurrency=POLL_CONCURRENCY,
        )
        self.comment_watcher = CommentWatcher(
            store,
            self.fetcher,
            live_days=settings.comment_live_days,
            base_interval=settings.poll_interval,  # a new post's comments: as often as its feed
            parse_pool=self.parse_pool,
        )
        # replies back to the blog; plain-HTTP blogs only where private feeds are allowed
        self.replies = Replies(store, self.fetcher, allow_http=settings.allow_private_feeds)
        # WebSub push, only where hubs can reach us (PUBLIC_URL)
        self.websub: WebSub | None = None
        if settings.public_url:
            self.websub = WebSub(
                store,
                session,
                self.poller,
                public_url=settings.public_url,
                listen=settings.http_listen,
                tick=self.timing.poll_tick,
            )
            self.poller.pushed_live = self.websub.is_live
        # announcements follow their post (the comment watcher knows each site's REST API)
        self.poller.follow_edits(
            settings.edit_window_days * 86400.0, rest_root=self.comment_watcher.rest_root
        )
        self._ready_logged = False

    async def setup_hook(self) -> None:
        if self.websub is not None:
            await self.websub.start()
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands_if_changed()

    async def sync_commands_if_changed(self) -> bool:
        """Sync the slash commands only when their definition differs from the last sync."""
        guild = None
        if self.settings.command_guild_id:
            guild = discord.Object(self.settings.command_guild_id)
            self.tree.copy_global_to(guild=guild)
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        target = f"{self.application_id}:{guild.id if guild else 'global'}"
        digest = hashlib.sha256(json.dumps([target, payload], sort_keys=True).encode()).hexdigest()
        if await self.store.get_meta("commands_synced") == digest:
            log.debug("slash commands unchanged since the last sync")
            return False
        synced = await self.tree.sync(guild=guild)
        await self.store.set_meta("commands_synced", digest)
        log.info("synced %d slash commands (%s)", len(synced), "one server" if guild else "global")
        return True

    async def close(self) -> None:
        if self.websub is not None:
            await self.websub.close()
        await super().close()
        self.parse_pool.shutdown(wait=False, cancel_futures=True)

    async def on_ready(self) -> None:
        if self._ready_logged:
            return
        self._ready_logged = True
        log.info(
            "ready as %s (id %s) in %d servers, following %d feeds",
            self.user,
            self.user.id if self.user else "?",
            len(self.guilds),
            await self.store.count_feeds(),
        )
