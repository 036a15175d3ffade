"""Running the bot: open the store and the HTTP session, log in, connect to the gateway.

Only `python -m bot` without a subcommand comes here: the operator commands (bot.cli) never
load discord.py.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import signal
import sys

import aiohttp
import discord
import yarl

from .app import Gazette, point_discord_at
from .config import Settings
from .fetch import create_session
from .scheduling import create_task
from .store import Store, StoreError
from .websub import ListenerError


class StartupError(Exception):
    """Start-up cannot go on; the message tells the operator what to fix."""


async def run(settings: Settings) -> None:
    limit_malloc_arenas()  # before the store's and the parser's threads start
    point_discord_at(settings.discord_api_base, settings.discord_gateway_url)
    try:
        store = await Store.open(settings.database_path)
    except StoreError as exc:
        raise StartupError(str(exc)) from exc
    try:
        async with create_session(allow_private=settings.allow_private_feeds) as session:
            bot = Gazette(settings, store, session)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(
                    sig, lambda: create_task(bot.close(), name="close on signal")
                )
            async with bot:
                await _login_and_connect(bot, settings)
    finally:
        await store.close()


async def _login_and_connect(bot: Gazette, settings: Settings) -> None:
    try:
        await bot.login(settings.discord_token)
    except discord.LoginFailure as exc:
        raise StartupError(
            "Discord rejected DISCORD_TOKEN: check the token in .env (Developer Portal → Bot → "
            "Reset Token)"
        ) from exc
    except ListenerError as exc:  # from setup_hook: HTTP_LISTEN taken or not allowed
        raise StartupError(str(exc)) from exc
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise StartupError(
            f"cannot reach Discord's API at {settings.discord_api_base}: "
            f"{exc or type(exc).__name__}"
        ) from exc
    except discord.HTTPException as exc:
        raise StartupError(
            f"Discord's API at {settings.discord_api_base} answered {exc.status}: {exc.text}"
        ) from exc
    tune_for_the_event_loop()
    await _check_gateway(settings.discord_gateway_url)
    try:
        await bot.connect()
    except AttributeError as exc:
        # discord.py 2.7 fails this way when the very first gateway connection cannot be made
        if bot.ws is None:
            raise StartupError(
                f"cannot connect to Discord's gateway at {settings.discord_gateway_url}"
            ) from exc
        raise
    except discord.PrivilegedIntentsRequired as exc:
        raise StartupError(f"Discord refused the gateway connection: {exc}") from exc
    except discord.GatewayNotFound as exc:
        raise StartupError(
            f"cannot connect to Discord's gateway at {settings.discord_gateway_url}"
        ) from exc


def tune_for_the_event_loop() -> None:
    """Two interpreter settings that keep the event loop's lag low (run once started).

    Start-up's objects (modules, classes, commands: some 54,000 that live as long as the
    process) are frozen out of the garbage collector's full collections: walking them
    paused the loop 26-73 ms (2 cores), whichever round a collection fell in. Garbage is
    collected first so none of it is kept.

    The loop shares the GIL with the parse thread: the thread keeps it up to the switch
    interval each time the loop wants it back (after every socket call), 5 ms by default;
    1 ms brought the comment round's lag p99 from 17-24 ms to 7 ms at the same CPU time.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(0.001)


#: glibc's mallopt option for the number of malloc arenas (malloc.h)
_M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = 1) -> None:
    """Let the bot's threads share one malloc arena (glibc gives each thread its own, up to
    8 per core): the parse thread, the store's connections and asyncio's threads each kept
    their own freed memory. bench_e2e at 1,000 feeds: peak RSS 92 -> 87-88 MiB with two
    arenas; one arena (with two asyncio threads, an experiment not kept: a few slow DNS
    lookups, which run in those threads, would then hold up every rendering) 80.3 -> 77.0
    MiB after the changed phase, at the same CPU time. The threads allocate mostly while
    holding the GIL, so they seldom wait for the arena's lock.

    Run before those threads start; nothing to do where the C library is not glibc."""
    if not sys.platform.startswith("linux") or not (name := ctypes.util.find_library("c")):
        return
    libc = ctypes.CDLL(name)
    if hasattr(libc, "mallopt"):
        libc.mallopt(_M_ARENA_MAX, arenas)


async def _check_gateway(url: str) -> None:
    """Open the gateway once and wait for its HELLO, so a wrong address fails clearly.

    discord.py retries a failed first connection with a traceback and then dies with an
    unrelated AttributeError; a bad DISCORD_GATEWAY_URL deserves one plain sentence.
    """
    probe = yarl.URL(url).update_query(v=10, encoding="json")
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(probe, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws,
        ):
            hello = await ws.receive(timeout=10)
            if hello.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                raise StartupError(f"Discord's gateway at {url} closed the connection")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise StartupError(
            f"cannot connect to Discord's gateway at {url}: {exc or type(exc).__name__}"
        ) from exc
