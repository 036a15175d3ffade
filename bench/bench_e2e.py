"""What users wait for, end to end: Gazette (the real discord.py bot) against the fake Discord,
1,000 feeds from the farm in 50 text channels with threads on, each in its own process.

    python bench/bench_e2e.py [--feeds 1000] [--channels 50]

Setup takes the fast path: feeds and subscriptions are written through the store's API (as
`/feed add` would leave them, threads on), not followed one command at a time. Phases:
  baseline   FeedPoller.poll_due alone on its own store (cold, then changed), as
             bench_poll.py runs it: the poll cycle without Discord, in a process of its
             own (the bot's peak RSS is then the bot's alone)
  cold       the bot's first cycle: every post archived silently, nothing announced
  search     `/archive search` through the fake's interaction API, one at a time, idle bot
  changed    one new post in every feed: polled, announced, thread opened; CPU of the
             bot's process from the bump until the last thread, latencies post served →
             announcement created (the burst without Discord's limits)
  +search    the same with a search load beside it (a few searches per second)
  limited    the burst again with Discord's rate limits on in the fake (5 per 5 s per
             channel for messages and threads, 50 requests per second overall) and the
             bot's own budget for them (bot/discord_pacing.py; off in the phases before);
             its last announcement against the bound those limits allow

The comment cycle is stopped (it has bench_comments.py): right after following, the
comments of every archived post would be read during whichever phase its round falls in.

Prints CPU per changed feed, latency percentiles, search CPU and reply latency, loop lag p99
per phase, peak RSS of the bot's process, and ratios against the baseline of the same run.
`--memory native` adds, after each phase, where the RSS lies (pymalloc's arenas and the
objects in them, glibc's heap in use and free, SQLite's own, mapped files, threads);
`--memory` also runs tracemalloc from the changed cycle on (slower, and its own records
add some MiB to the RSS printed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import ctypes
import ctypes.util
import json
import logging
import math
import multiprocessing
import os
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import aiohttp
import aiosqlite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_poll import LoopLag, setup_store  # noqa: E402
from farm import start_farm  # noqa: E402

from bot.app import Gazette, Timing, point_discord_at  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.discord_pacing import REQUESTS_PER_SECOND, RequestPacer  # noqa: E402
from bot.fetch import Fetcher, create_session  # noqa: E402
from bot.poller import FeedPoller  # noqa: E402
from bot.startup import limit_malloc_arenas, tune_for_the_event_loop  # noqa: E402
from bot.store import Store  # noqa: E402

UNPACED = 10**9  # the bot's budget while the fake has no limits: none
TITLE = re.compile(r"Post (\d+) of blog (\d+)")
QUERIES = ("garden recipe", "river mountain", "election report", "music science", "winter")

# --- the fake Discord, in its own process --------------------------------------------


def _serve_fake(channels: int, queue) -> None:
    from aiohttp import web  # in the fake's process only: the bot's RSS is measured here

    from tests.fakediscord import ChannelType, FakeDiscord, RateLimits

    async def main() -> None:
        fake = FakeDiscord()
        guild = fake.add_guild("Readers")
        ids = [fake.add_channel(guild, f"blog-{n}", type=ChannelType.TEXT) for n in range(channels)]
        await fake.start()

        async def info(_request):
            return web.json_response(
                {
                    "api_base": fake.api_base,
                    "gateway_url": fake.gateway_url,
                    "token": fake.token,
                    "guild": guild,
                    "channels": ids,
                }
            )

        async def limits(request):
            fake.rate_limits = RateLimits() if request.query.get("on") == "1" else None
            return web.json_response({})

        async def count(_request):
            sent = sum(1 for cid in ids for m in fake.messages(cid) if m.get("embeds"))
            return web.json_response({"announced": sent, "threads": len(fake.threads())})

        async def announcements(_request):
            rows = []
            for cid in ids:
                threads = {int(t["id"]) for t in fake.threads(cid)}
                for m in fake.messages(cid):
                    if m.get("embeds"):
                        mid = int(m["id"])
                        rows.append([cid, mid, m["embeds"][0].get("title", ""), mid in threads])
            hits = fake.rate_limits.hits if fake.rate_limits else {}
            return web.json_response({"rows": rows, "hits": hits, "errors": len(fake.errors)})

        async def search(request):
            started = time.perf_counter()
            try:
                result = await fake.invoke(
                    guild, ids[0], "archive search", {"query": request.query["q"]}, timeout=30
                )
                ok = bool(result.content or result.embeds)
            except Exception as exc:  # a timeout is a figure, not a crash
                ok = repr(exc)
            return web.json_response({"ms": (time.perf_counter() - started) * 1000, "ok": ok})

        control = web.Application()
        control.router.add_get("/info", info)
        control.router.add_post("/limits", limits)
        control.router.add_get("/count", count)
        control.router.add_get("/announcements", announcements)
        control.router.add_post("/search", search)
        runner = web.AppRunner(control, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        queue.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


def start_fake(channels: int) -> tuple[multiprocessing.Process, str]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_serve_fake, args=(channels, queue), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{queue.get(timeout=30)}"


# --- the baseline, in its own process ---------------------------------------------------


def _run_baseline(args, farm: str, tmp: str, queue) -> None:
    """The poll cycle alone, in a process of its own: the bot's peak RSS is then its own."""

    async def main() -> tuple[float, float]:
        limit_malloc_arenas()  # as `python -m bot` does before its threads start
        tune_for_the_event_loop()
        async with aiohttp.ClientSession() as http:
            return await Bench(args, http, farm, "").baseline(Path(tmp))

    queue.put(asyncio.run(main()))


def run_baseline(args, farm: str, tmp: Path) -> tuple[float, float]:
    """(cold, changed) CPU seconds of poll_due alone; the farm's generation moves on by one."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run_baseline, args=(args, farm, str(tmp), queue))
    process.start()
    result = queue.get(timeout=600)
    process.join()
    return result


# --- figures ----------------------------------------------------------------------------


def percentile(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


class WorkCounts:
    """Work a phase asked of the machinery, counted rather than timed (the same on a loaded
    machine): round trips to the database threads and turns of the event loop."""

    def __init__(self) -> None:
        self.round_trips = 0
        self.turns = 0
        counts = self
        execute = aiosqlite.Connection._execute

        async def counted(connection, fn, *args, **kwargs):
            counts.round_trips += 1
            return await execute(connection, fn, *args, **kwargs)

        aiosqlite.Connection._execute = counted
        loop = asyncio.get_running_loop()
        run_once = loop._run_once

        def turn() -> None:
            counts.turns += 1
            run_once()

        loop._run_once = turn

    def since(self, before: tuple[int, int], per: int) -> str:
        trips, turns = self.round_trips - before[0], self.turns - before[1]
        return f"per feed: {trips / per:.1f} database round trips, {turns / per:.1f} loop turns"

    def now(self) -> tuple[int, int]:
        return self.round_trips, self.turns


def peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: glibc's struct mallinfo2 (malloc.h), field by field
MALLINFO2 = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in MALLINFO2.split()]  # noqa: RUF012


def pymalloc() -> str:
    """Python's small-object allocator: its 1 MiB arenas (a RSS only an empty arena gives
    back) and what live objects fill of them (sys._debugmallocstats writes to fd 2)."""
    with tempfile.TemporaryFile("w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    figures = {
        m.group(1): int(m.group(2).replace(",", ""))
        for m in re.finditer(
            r"# (arenas allocated current|bytes in allocated blocks)\s*=\s*([\d,]+)", text
        )
    }
    if len(figures) < 2:  # tracemalloc's hooks hide pymalloc's statistics
        return "pymalloc not shown"
    return (
        f"pymalloc arenas {figures['arenas allocated current']} MiB"
        f" (objects {figures['bytes in allocated blocks'] / 2**20:.1f})"
    )


def native_memory() -> str:
    """Where the process's RSS lies outside Python objects: SQLite's own allocator (page
    caches of every connection), glibc's heap in use and free, threads, mapped libraries."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    kib = {k: int(status[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}
    sqlite = ctypes.CDLL(ctypes.util.find_library("sqlite3"))
    sqlite.sqlite3_memory_used.restype = sqlite.sqlite3_memory_highwater.restype = ctypes.c_int64
    used, high = sqlite.sqlite3_memory_used(), sqlite.sqlite3_memory_highwater(0)
    heap = ""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if hasattr(libc, "mallinfo2"):  # glibc >= 2.33: arena = sbrk + mmap'd arenas, in use, free
        libc.mallinfo2.restype = MallInfo2
        info = libc.mallinfo2()
        heap = (
            f", malloc in use {info.uordblks / 2**20:.1f} MiB + mmapped {info.hblkhd / 2**20:.1f},"
            f" free {info.fordblks / 2**20:.1f}"
        )
    return (
        f"RSS {kib['VmRSS']:.1f} MiB (peak {kib['VmHWM']:.1f}; anon {kib['RssAnon']:.1f},"
        f" files {kib['RssFile']:.1f}), {pymalloc()}, threads {threading.active_count()}"
        f"/{status['Threads'].strip()}, SQLite {used / 2**20:.1f} MiB (peak {high / 2**20:.1f})"
        + heap
    )


def memory_report(label: str, top: int = 12) -> None:
    """--memory: what Python allocations hold now (tracemalloc, started before the changed
    cycle: what the cycle added), beside the process's RSS now and at its peak."""
    if not tracemalloc.is_tracing():
        print(f"  memory after {label}: {native_memory()}")
        return
    current, peak = tracemalloc.get_traced_memory()
    print(
        f"  memory after {label}: {native_memory()};"
        f" traced since the changed cycle began: now {current / 2**20:.1f} MiB,"
        f" peak {peak / 2**20:.1f} MiB; largest holders now:"
    )
    for stat in tracemalloc.take_snapshot().statistics("lineno")[:top]:
        frame = stat.traceback[0]
        print(
            f"    {stat.size / 2**20:6.2f} MiB {stat.count:7d} blocks"
            f"  {frame.filename}:{frame.lineno}"
        )


def snowflake_time(snowflake: int) -> float:
    return ((snowflake >> 22) + 1420070400000) / 1000


class Bench:
    def __init__(self, args, session: aiohttp.ClientSession, farm: str, control: str) -> None:
        self.args = args
        self.feeds = args.feeds
        self.http = session
        self.farm = farm
        self.control = control
        self.lag = LoopLag()
        self.counts = WorkCounts()
        self.generation = 0
        self.store: Store | None = None
        self.bot: Gazette | None = None

    async def get(self, base: str, path: str, method: str = "GET"):
        async with self.http.request(method, base + path) as response:
            return json.loads(await response.text())

    async def bump(self) -> None:
        async with self.http.post(f"{self.farm}/_bump?feeds={self.feeds}") as response:
            self.generation = int(await response.text())

    # --- the baseline: the poll cycle alone ---------------------------------------------

    async def baseline(self, tmp: Path) -> tuple[float, float]:
        async with create_session(allow_private=True, max_connections=64, max_per_host=64) as s:
            store = await setup_store(tmp / "baseline.db", self.farm, self.feeds)
            poller = FeedPoller(store, Fetcher(s), default_interval=0.0, max_concurrency=16)
            cold = await self.phase("baseline cold (poll_due alone)", poller.poll_due)
            await self.bump()
            changed = await self.phase("baseline changed (poll_due alone)", poller.poll_due)
            await store.close()
        return cold[1], changed[1]

    async def phase(self, label: str, work, extra: str = "") -> tuple[float, float, float]:
        counted = self.counts.now()
        cpu, wall = time.process_time(), time.perf_counter()
        with self.lag:
            result = await work()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if isinstance(result, str):
            extra = result
        print(
            f"  {label:<36} wall {wall:6.2f} s  cpu {cpu:6.2f} s  loop lag p99"
            f" {self.lag.p99_ms():5.1f} ms max {self.lag.max_ms():6.1f} ms"
            f"  peak RSS so far {peak_rss():3.0f} MiB  {extra}",
            f"\n  {'':<36} {self.counts.since(counted, self.args.feeds)}",
            flush=True,
        )
        if self.args.memory:
            print(f"    {native_memory()}", flush=True)
        return wall, cpu, self.lag.p99_ms()

    # --- the bot --------------------------------------------------------------------------

    async def start_bot(self, tmp: Path, stack: contextlib.AsyncExitStack) -> None:
        info = await self.get(self.control, "/info")
        self.info = info
        point_discord_at(info["api_base"], info["gateway_url"])
        settings = Settings(
            discord_token=info["token"],
            database_path=tmp / "gazette.db",
            poll_interval=3600,
            command_guild_id=info["guild"],
            discord_api_base=info["api_base"],
            discord_gateway_url=info["gateway_url"],
            allow_private_feeds=True,
        )
        self.store = await Store.open(settings.database_path)
        stack.push_async_callback(self.store.close)
        session = await stack.enter_async_context(
            create_session(allow_private=True, max_connections=64, max_per_host=64)
        )
        timing = Timing(poll_tick=0.5, delivery_tick=1.0)
        # the phases without Discord's limits run without the bot's budget for them too
        # (`/limits?on=1` sets both): they measure the bot, not the 48 requests a second
        self.bot = Gazette(
            settings, self.store, session, timing=timing, pacer=RequestPacer(limit=UNPACED)
        )
        await self.bot.login(info["token"])
        task = asyncio.create_task(self.bot.connect())

        async def close() -> None:
            await self.bot.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

        stack.push_async_callback(close)
        await asyncio.wait_for(self.bot.wait_until_ready(), 30)
        # the comment cycle (bench_comments.py) would read the comments of all 10,000 posts
        # just archived, whenever its round falls: left out, so the phases time what they say
        # (a thread opened still reads its post's comments, as it does for users)
        self.bot.get_cog("Discussion").comment_loop.cancel()

    async def follow(self) -> str:
        """Following, the fast path: the poller's own subscribe (what `/feed add` calls after
        its checks), 16 at a time: each feed fetched, its posts archived, none announced."""
        channels = self.info["channels"]
        limit = asyncio.Semaphore(16)

        async def one(number: int) -> None:
            async with limit:
                await self.bot.poller.subscribe(
                    f"{self.farm}/feed/{number}",
                    guild_id=self.info["guild"],
                    channel_id=channels[number % len(channels)],
                    threads=True,
                )

        await asyncio.gather(*(one(n) for n in range(self.feeds)))
        return f"feeds followed: {await self.store.count_feeds()}"

    async def all_due(self) -> None:
        await self.store._write("UPDATE feeds SET next_check_at = 0")

    async def checked_since(self, since: float) -> int:
        return await self.store._value(
            "SELECT count(*) FROM feeds WHERE last_checked_at >= ?", (since,)
        )

    async def cold(self) -> str:
        """Every feed fetched and parsed whole (validators dropped), nothing new in it."""
        since = time.time()
        await self.store._write(
            "UPDATE feeds SET etag = NULL, last_modified = NULL, body_hash = NULL,"
            " next_check_at = 0"
        )
        while await self.checked_since(since) < self.feeds:  # noqa: ASYNC110 (another task)
            await asyncio.sleep(0.1)
        await self.store.index_pending()
        posts = await self.store._value("SELECT count(*) FROM posts")
        count = await self.get(self.control, "/count")
        return f"posts archived: {posts}, announced: {count['announced']}"

    async def wait_announced(self, total: int) -> None:
        while True:
            count = await self.get(self.control, "/count")
            if count["announced"] >= total and count["threads"] >= total:
                return
            await asyncio.sleep(0.2)

    async def changed(self, total: int) -> str:
        await self.bump()
        await self.all_due()
        await self.wait_announced(total)
        return f"announced and threaded: {total}"

    async def latencies(self, generation: int) -> dict:
        served = {
            int(k): v
            for k, v in (await self.get(self.farm, f"/_served?generation={generation}")).items()
        }
        report = await self.get(self.control, "/announcements")
        latencies, per_channel, unthreaded = [], {}, 0
        newest = 10 + generation
        last = 0.0
        for channel, message, title, threaded in report["rows"]:
            match = TITLE.search(title)
            per_channel.setdefault(channel, []).append(int(match.group(1)) if match else -1)
            if not match or int(match.group(1)) != newest:
                continue
            created = snowflake_time(message)
            last = max(last, created)
            latencies.append(created - served[int(match.group(2))])
            unthreaded += not threaded
        # where the time went, from the bot's own records: served → stored (fetch, parse,
        # store), stored → picked up by a channel's worker, picked up → sent
        stages: dict[str, list[float]] = {"stored": [], "picked up": [], "sent": []}
        rows = await self.store._all(
            "SELECT p.title, d.created_at, d.started_at, d.sent_at FROM deliveries d"
            " JOIN posts p ON p.id = d.post_id WHERE p.title LIKE ?",
            (f"Post {newest} of blog %",),
        )
        for row in rows:
            blog = int(TITLE.search(row["title"]).group(2))
            if row["started_at"] is None or row["sent_at"] is None:
                continue
            stages["stored"].append(row["created_at"] - served[blog])
            stages["picked up"].append(row["started_at"] - row["created_at"])
            stages["sent"].append(row["sent_at"] - row["started_at"])
        return {
            "stages": stages,
            "latencies": latencies,
            "unthreaded": unthreaded,
            "first_served": min(served.values()),
            "last": last,
            "hits": report["hits"],
            "fake_errors": report["errors"],
        }

    def print_latencies(self, label: str, figures: dict) -> None:
        lat = figures["latencies"]
        print(
            f"  {label}: {len(lat)} posts, served → announced p50 {percentile(lat, 50):.2f} s"
            f"  p95 {percentile(lat, 95):.2f} s  p99 {percentile(lat, 99):.2f} s"
            f"  max {max(lat, default=float('nan')):.2f} s"
            f"  without thread: {figures['unthreaded']}",
            flush=True,
        )
        print(
            "    of which (p50, p95): "
            + ", ".join(
                f"{stage} {percentile(values, 50):.2f} s {percentile(values, 95):.2f} s"
                for stage, values in figures["stages"].items()
            ),
            flush=True,
        )

    # --- searches -------------------------------------------------------------------------

    async def one_search(self, number: int) -> dict:
        query = QUERIES[number % len(QUERIES)]
        return await self.get(self.control, f"/search?q={query.replace(' ', '+')}", "POST")

    async def searches_alone(self, count: int) -> tuple[float, list[float]]:
        cpu = time.process_time()
        results = [await self.one_search(n) for n in range(count)]
        cpu = time.process_time() - cpu
        failed = [r["ok"] for r in results if r["ok"] is not True]
        if failed:
            print(f"  searches failed: {len(failed)} ({failed[0]})")
        return cpu / count, [r["ms"] for r in results]

    async def search_load(self, stop: asyncio.Event, per_second: float, out: list) -> None:
        tasks = []
        number = 0
        while not stop.is_set():
            tasks.append(asyncio.create_task(self.one_search(number)))
            number += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1 / per_second)
        out.extend(await asyncio.gather(*tasks))


def limit_bound(per_channel: list[int], requests_per_post: int) -> tuple[float, float]:
    """Seconds the last of a burst needs at least under the fake's limits: (per route, global).

    Per channel, messages and threads each have 5 per 5 s: a channel owed k posts sends its
    last in window ceil(k/5)-1. Globally 50 requests a second for all of them.
    """
    route = max((math.ceil(k / 5) - 1) * 5.0 for k in per_channel)
    total = sum(per_channel) * requests_per_post
    return route, max(0.0, (total - 50) / 50)


async def run(args) -> None:
    logging.basicConfig(level=logging.WARNING)
    limit_malloc_arenas()  # as `python -m bot` does before its threads start
    farm_process, farm = start_farm()
    fake_process, control = start_fake(args.channels)
    tune_for_the_event_loop()
    print(
        f"{args.feeds} feeds in {args.channels} text channels (threads on); farm, fake Discord"
        " and bot each in their own process; CPU and RSS are the bot's process"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            async with aiohttp.ClientSession() as http, contextlib.AsyncExitStack() as stack:
                bench = Bench(args, http, farm, control)
                async with http.post(f"{farm}/_warm?feeds={args.feeds}"):
                    pass
                print(
                    "Baseline: the poll cycle alone (FeedPoller.poll_due, no Discord),"
                    " in its own process (its CPU and RSS)"
                )
                _, base_changed_cpu = run_baseline(args, farm, tmp)
                print("End to end: Gazette through the fake Discord")
                await bench.start_bot(tmp, stack)
                if args.memory:
                    print(f"  memory after start-up: {native_memory()}", flush=True)
                await bench.phase("follow (poller.subscribe, fast path)", bench.follow)
                *_, cold_lag = await bench.phase("cold (1,000 x 200, nothing new)", bench.cold)
                search_cpu, alone_ms = await bench.searches_alone(args.searches)
                print(
                    f"  /archive search alone: {args.searches} searches, bot CPU"
                    f" {search_cpu * 1000:.1f} ms per search, reply p50"
                    f" {percentile(alone_ms, 50):.0f} ms p99 {percentile(alone_ms, 99):.0f} ms"
                )
                total = args.feeds
                if args.memory == "trace":
                    tracemalloc.start()
                profile = cProfile.Profile() if args.profile else None
                if profile:
                    profile.enable()
                _, changed_cpu, changed_lag = await bench.phase(
                    "changed (poll, announce, thread)", lambda: bench.changed(total)
                )
                if profile:
                    profile.disable()
                    profile.dump_stats(args.profile)
                burst = await bench.latencies(bench.generation)
                bench.print_latencies("burst without limits", burst)
                if args.memory:
                    memory_report("the changed cycle")

                stop, results = asyncio.Event(), []
                load = asyncio.create_task(bench.search_load(stop, args.search_rate, results))
                total += args.feeds
                _, loaded_cpu, loaded_lag = await bench.phase(
                    "changed + search load", lambda: bench.changed(total)
                )
                stop.set()
                await load
                loaded_ms = [r["ms"] for r in results]
                if args.memory:
                    memory_report("the changed cycle with searches")
                failed = [r["ok"] for r in results if r["ok"] is not True]
                print(
                    f"  /archive search during it: {len(results)} searches, reply p50"
                    f" {percentile(loaded_ms, 50):.0f} ms p99 {percentile(loaded_ms, 99):.0f} ms"
                    f" max {max(loaded_ms, default=0):.0f} ms, failed {len(failed)}"
                )

                await bench.get(control, "/limits?on=1", "POST")
                bench.bot.pacer.limit = REQUESTS_PER_SECOND
                paced_before = bench.bot.pacer.waited
                total += args.feeds
                await bench.phase("changed, Discord's limits on", lambda: bench.changed(total))
                limited = await bench.latencies(bench.generation)
                bench.print_latencies("burst with limits", limited)
                per_channel = [
                    len(range(c, args.feeds, args.channels)) for c in range(args.channels)
                ]
                route, overall = limit_bound(per_channel, 2)
                makespan = limited["last"] - limited["first_served"]
                unlimited = burst["last"] - burst["first_served"]
                bound = max(route, overall, unlimited)
                print(
                    f"  limits allow the last announcement at ≥ {max(route, overall):.1f} s"
                    f" (per channel {route:.1f} s, global {overall:.1f} s); without limits it"
                    f" came at {unlimited:.1f} s; with them at {makespan:.1f} s: ratio to the"
                    f" bound {makespan / bound:.2f} (429s answered: {limited['hits']})"
                )
                pacer = bench.bot.pacer
                print(
                    f"  the bot's own budget, {pacer.limit} requests per {pacer.period:g} s:"
                    f" {pacer.waited - paced_before} requests waited for it"
                )
                if burst["fake_errors"] or limited["fake_errors"]:
                    print(f"  fake Discord errors: {limited['fake_errors']}")

        peak = peak_rss()
        print("Summary")
        print(
            f"  CPU per changed feed, end to end: {changed_cpu / args.feeds * 1000:.2f} ms"
            f" (changed cycle {changed_cpu:.2f} s; poll alone {base_changed_cpu:.2f} s;"
            f" end to end / poll alone {changed_cpu / base_changed_cpu:.2f}x)"
        )
        print(
            f"  with the search load: {loaded_cpu:.2f} s"
            f" ({loaded_cpu / base_changed_cpu:.2f}x poll alone)"
        )
        print(
            f"  loop lag p99: cold {cold_lag:.1f} ms, changed {changed_lag:.1f} ms,"
            f" with searches {loaded_lag:.1f} ms"
        )
        print(f"  peak RSS of the bot's process: {peak:.0f} MiB")
    finally:
        farm_process.terminate()
        fake_process.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--searches", type=int, default=30, help="searches alone")
    parser.add_argument("--profile", help="cProfile the changed cycle into this file")
    parser.add_argument(
        "--memory",
        nargs="?",
        const="trace",
        choices=("trace", "native"),
        help="native memory after each phase; with tracemalloc from the changed cycle on"
        " unless 'native' (its own records weigh some MiB of the RSS it reports)",
    )
    parser.add_argument("--search-rate", type=float, default=3.0, help="per second, under load")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
