"""One comment-polling cycle over 200 live articles on 127.0.0.1, through Gazette's own
CommentWatcher (bot/comments.py) and store: no new comments, then one new comment each.

    python bench/bench_comments.py [--posts 200] [--comments 8] [--cycles 7] [--untuned]

A WordPress-like site (REST API with `_envelope`, per-post comment feeds with WordPress's
validators) runs in another process, so the CPU time measured is Gazette's alone. Two rounds:
the REST API (the usual case), then the same site with REST switched off (comment feeds,
conditional GET). Prints wall time, CPU time (and how much of it ran on the event loop's
thread: the rest is the parse thread and SQLite's), requests made, the event loop's lag and the
garbage collector's full collections.

A lag spike on a shared machine is told apart from work the bot does on its loop two ways:
a baseline event loop in another thread of this process, doing nothing, samples its own lag
at the same moments (it only suffers the machine's load and the GIL's hand-overs); and every
callback the bot's loop runs is timed (`LoopSlices`: wall and thread CPU time of the longest
slice, and the event loop's CPU per cycle). The cycle "one new comment each" runs `--cycles`
times; its summary gives the median of the per-cycle lag p99s and the worst, beside the
baseline loop's. The interpreter is tuned first as `python -m bot` does
(bot.startup.tune_for_the_event_loop: start-up objects frozen, 1 ms GIL switch interval);
`--untuned` to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import hashlib
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.comments import CommentWatcher  # noqa: E402
from bot.fetch import Fetcher, create_session  # noqa: E402
from bot.models import Entry  # noqa: E402
from bot.poller import parse_thread  # noqa: E402
from bot.startup import tune_for_the_event_loop  # noqa: E402
from bot.store import Store  # noqa: E402

T0 = 1_700_000_000
WORDS = "thanks great post agree disagree link source more detail question answer later".split()


# --------------------------------------------------------------------------- the site


def make_site(posts: int, per_post: int) -> web.Application:
    state = {"rest": True, "requests": 0, "next": 0}
    comments: dict[int, list[dict]] = {p: [] for p in range(1, posts + 1)}

    def add(post: int) -> None:
        state["next"] += 1
        n = state["next"]
        parent = comments[post][-1]["id"] if comments[post] and n % 3 == 0 else 0
        words = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(40))
        comments[post].append(
            {
                "id": n,
                "parent": parent,
                "author": f"Reader {n % 97}",
                "date": T0 + n * 7,
                "html": f"<p>{words.capitalize()}.</p><p><a href='https://x.test/{n}'>see</a></p>",
            }
        )

    for post in comments:
        for _ in range(per_post):
            add(post)

    def link(request, post: int, cid: int | None = None) -> str:
        tail = f"#comment-{cid}" if cid else ""
        return f"http://{request.host}/{post}/{tail}"

    @web.middleware
    async def count(request, handler):
        if not request.path.startswith("/_"):
            state["requests"] += 1
        return await handler(request)

    async def home(request):
        api = f'<link rel="https://api.w.org/" href="http://{request.host}/wp-json/" />'
        return web.Response(
            text=f"<html><head>{api if state['rest'] else ''}</head></html>",
            content_type="text/html",
        )

    async def root(request):
        if not state["rest"]:
            raise web.HTTPNotFound()
        return web.json_response({"namespaces": ["wp/v2"]})

    async def rest_comments(request):
        if not state["rest"]:
            raise web.HTTPNotFound()
        post = int(request.query["post"])
        body = [
            {
                "id": c["id"],
                "post": post,
                "parent": c["parent"],
                "author_name": c["author"],
                "author_url": "",
                "date_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(c["date"])),
                "content": {"rendered": c["html"] + "\n"},
                "link": link(request, post, c["id"]),
                "type": "comment",
                "author_avatar_urls": {"96": f"https://gravatar.test/{c['author']}.png"},
            }
            for c in comments[post]
        ]
        envelope = {
            "status": 200,
            "body": body,
            "headers": {"X-WP-Total": len(body), "X-WP-TotalPages": 1},
        }
        return web.Response(text=json.dumps(envelope), content_type="application/json")

    async def comment_feed(request):
        post = int(request.match_info["post"])
        newest = comments[post][::-1][:10]
        modified = formatdate(max([c["date"] for c in newest] + [T0]), usegmt=True)
        etag = '"' + hashlib.md5(modified.encode()).hexdigest() + '"'
        headers = {"ETag": etag, "Last-Modified": modified}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        items = "".join(
            f"<item><title>By: {c['author']}</title><link>{link(request, post, c['id'])}</link>"
            f"<dc:creator><![CDATA[{c['author']}]]></dc:creator>"
            f"<pubDate>{formatdate(c['date'], usegmt=True)}</pubDate>"
            f'<guid isPermaLink="false">{link(request, post, c["id"])}</guid>'
            f"<content:encoded><![CDATA[{c['html']}]]></content:encoded></item>"
            for c in newest
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>c</title>'
            f"<link>http://{request.host}/</link>{items}</channel></rss>"
        )
        return web.Response(text=body, content_type="application/rss+xml", headers=headers)

    async def control(request):
        action = request.match_info["action"]
        if action == "add":
            for post in comments:
                add(post)
        elif action == "rest":
            state["rest"] = request.query["on"] == "1"
        return web.json_response({"requests": state["requests"]})

    app = web.Application(middlewares=[count])
    app.router.add_get("/", home)
    app.router.add_get("/wp-json/", root)
    app.router.add_get("/wp-json/wp/v2/comments", rest_comments)
    app.router.add_get("/{post:\\d+}/feed/", comment_feed)
    app.router.add_post("/_/{action}", control)
    return app


def _serve(queue, posts: int, per_post: int) -> None:
    async def main() -> None:
        runner = web.AppRunner(make_site(posts, per_post), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        queue.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


# --------------------------------------------------------------------------- the bot side


class LoopLag:
    def __init__(self) -> None:
        self.lags: list[float] = []

    async def run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            self.lags.append(time.perf_counter() - start - 0.005)

    def worst_ms(self) -> float:
        return max(self.lags, default=0.0) * 1000

    def p99_ms(self) -> float:
        if len(self.lags) < 2:
            return 0.0
        return statistics.quantiles(self.lags, n=100, method="inclusive")[98] * 1000


class LoopSlices:
    """Every callback the event loop runs (a task step, a future's callback) timed alone: the
    longest one is the longest time the loop could not answer anything, whatever the machine
    is doing meanwhile (its CPU time is the bot's own work; its wall time adds the machine's
    and the GIL's waits)."""

    def __init__(self, keep: int = 3) -> None:
        self.keep = keep
        self.cpu = 0.0  # the loop thread's CPU in callbacks
        self.count = 0
        self.longest: list[tuple[float, float, str]] = []  # (wall, cpu, what), most CPU first
        self.longest_wall = 0.0
        self.longest_turn = 0.0  # CPU of the loop's longest turn: its callbacks run back to back
        self._run = None
        self._loop = asyncio.get_running_loop()

    def __enter__(self) -> LoopSlices:
        handle = asyncio.events.Handle
        self._run = run = handle._run
        slices = self

        thread = threading.get_ident()

        def timed(h) -> None:
            if threading.get_ident() != thread:  # the baseline loop's: not the bot's work
                run(h)
                return
            wall, cpu = time.perf_counter(), time.thread_time()
            run(h)
            cpu = time.thread_time() - cpu
            wall = time.perf_counter() - wall
            slices.cpu += cpu
            slices.count += 1
            slices.longest_wall = max(slices.longest_wall, wall)
            if len(slices.longest) < slices.keep or cpu > slices.longest[-1][1]:
                slices.longest.append((wall, cpu, _what(h)))
                slices.longest.sort(key=lambda s: -s[1])
                del slices.longest[slices.keep :]

        handle._run = timed
        run_once = self._loop._run_once

        def turn() -> None:  # a timer waits for every callback of the turn before it
            cpu = time.thread_time()
            run_once()  # the wait for events in it costs no CPU
            slices.longest_turn = max(slices.longest_turn, time.thread_time() - cpu)

        self._loop._run_once = turn
        return self

    def __exit__(self, *exc) -> None:
        asyncio.events.Handle._run = self._run
        del self._loop._run_once

    def longest_ms(self) -> tuple[float, float]:
        """The longest slice's wall time, and the most CPU one slice took."""
        return self.longest_wall * 1000, (self.longest[0][1] if self.longest else 0.0) * 1000


def _what(handle) -> str:
    """A callback in words: for a task's step, the coroutine it runs and where it stopped."""
    task = getattr(handle._callback, "__self__", None)
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    if coro is None:
        return repr(handle)[:160]
    frame = getattr(coro, "cr_frame", None)
    where = f" (at line {frame.f_lineno} of {frame.f_code.co_name})" if frame else ""
    return f"step of task {task.get_name()}: {coro.__qualname__}{where}"


class BaselineLoop:
    """An event loop in another thread of this process that does nothing but sample its own
    lag (as `LoopLag`): what the machine's load and the GIL alone impose, at the same time."""

    def __init__(self) -> None:
        self.lag = LoopLag()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, name="baseline loop", daemon=True)

    def _main(self) -> None:
        asyncio.run(self._sample())

    async def _sample(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = self._loop.create_future()
        task = asyncio.create_task(self.lag.run())
        self._started.set()
        await self._stopped
        task.cancel()

    def start(self) -> None:
        self._thread.start()
        self._started.wait()

    def reset(self) -> None:
        self.lag.lags = []

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stopped.set_result, None)
        self._thread.join()


class GcPauses:
    """The garbage collector's full (generation 2) collections and their longest pause."""

    def __init__(self) -> None:
        self.full = 0
        self.longest = 0.0
        self._started = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.full += 1
            self.longest = max(self.longest, time.perf_counter() - self._started)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._callback)


async def follow(store: Store, base: str, posts: int) -> None:
    """The site's posts, each announced with a thread: a live discussion per post."""
    feed = await store.add_feed(
        base + "/feed/",
        title="Bench",
        site_url=base + "/",
        etag=None,
        last_modified=None,
        body_hash=None,
        next_check_at=0,
    )
    await store.add_subscription(feed.id, 1, 2)
    now = time.time()
    entries = [
        Entry(
            key=f"p{p}",
            title=f"Post {p}",
            link=f"{base}/{p}/",
            published_at=now - p * 3600,
            comments_feed=f"{base}/{p}/feed/",
            wp_id=p,
        )
        for p in range(1, posts + 1)
    ]
    await store.store_entries(feed.id, entries, announce=True)
    for delivery in await store.due_deliveries(now + 1, limit=posts):
        await store.mark_delivered(delivery.id, 10_000 + delivery.post_id)
        await store.set_delivery_thread(delivery.id, 10_000 + delivery.post_id)


@dataclass
class CycleFigures:
    lag_p99: float
    lag_worst: float
    baseline_p99: float
    loop_cpu: float
    slice_wall: float
    slice_cpu: float
    turn_cpu: float
    callbacks: int


async def cycle(
    label: str,
    watcher: CommentWatcher,
    store: Store,
    session,
    base: str,
    baseline: BaselineLoop,
    *,
    show_slices: bool = False,
    profile: cProfile.Profile | None = None,
) -> CycleFigures:
    await store.schedule_comment_checks(0)
    await asyncio.sleep(0.05)  # the scheduling write's callbacks are not the cycle's
    baseline.reset()
    lag = LoopLag()
    lag_task = asyncio.create_task(lag.run())
    async with session.post(base + "/_/count") as resp:
        before = (await resp.json())["requests"]
    cpu, wall = time.process_time(), time.perf_counter()
    on_loop = time.thread_time()  # this thread runs the event loop: its CPU is the loop's
    with GcPauses() as gc_pauses, LoopSlices() as slices:
        if profile is not None:
            profile.enable()  # this thread only: the event loop's own work
        report = await watcher.poll_due()
        if profile is not None:
            profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    on_loop = time.thread_time() - on_loop
    lag_task.cancel()
    baseline_p99 = baseline.lag.p99_ms()
    async with session.post(base + "/_/count") as resp:
        served = (await resp.json())["requests"] - before
    print(
        f"  {label:<28} wall {wall * 1000:7.1f} ms   CPU {cpu * 1000:7.1f} ms "
        f"(on the event loop {on_loop * 1000:6.1f} ms)   "
        f"requests {report.requests:4d} (server saw {served})   "
        f"posts {report.checked}, new {report.new_comments}, unchanged {report.unchanged}, "
        f"failed {report.failed}   loop lag p99 {lag.p99_ms():.1f} ms, worst {lag.worst_ms():.1f}"
        f"   full GCs {gc_pauses.full} (longest {gc_pauses.longest * 1000:.1f} ms)"
        f"   baseline loop lag p99 {baseline_p99:.1f} ms   longest loop slice "
        "{:.1f} ms (most CPU in one: {:.1f})".format(*slices.longest_ms())
        + f", longest turn CPU {slices.longest_turn * 1000:.1f} ms, {slices.count} callbacks"
    )
    if show_slices:
        for slice_wall, slice_cpu, what in slices.longest:
            print(f"      slice {slice_wall * 1000:5.1f} ms (CPU {slice_cpu * 1000:5.1f}): {what}")
    return CycleFigures(
        lag.p99_ms(),
        lag.worst_ms(),
        baseline_p99,
        on_loop * 1000,
        *slices.longest_ms(),
        slices.longest_turn * 1000,
        slices.count,
    )


def summary(figures: list[CycleFigures]) -> str:
    def med(values) -> float:
        return statistics.median(values)

    return (
        f"  over {len(figures)} cycles: loop lag p99 median {med(f.lag_p99 for f in figures):.1f}"
        f" ms, worst {max(f.lag_p99 for f in figures):.1f} ms (baseline loop: median "
        f"{med(f.baseline_p99 for f in figures):.1f}, worst "
        f"{max(f.baseline_p99 for f in figures):.1f} ms; ratio of medians "
        f"{med(f.lag_p99 for f in figures) / max(med(f.baseline_p99 for f in figures), 0.01):.1f}x)"
        f"   event-loop CPU median {med(f.loop_cpu for f in figures):.1f} ms"
        f"   longest loop slice median {med(f.slice_wall for f in figures):.1f} ms, worst "
        f"{max(f.slice_wall for f in figures):.1f} ms (most CPU in one: median "
        f"{med(f.slice_cpu for f in figures):.1f}, worst {max(f.slice_cpu for f in figures):.1f})"
        f"   longest turn CPU median {med(f.turn_cpu for f in figures):.1f} ms, worst "
        f"{max(f.turn_cpu for f in figures):.1f}"
        f"   callbacks median {med(f.callbacks for f in figures):.0f}"
    )


async def main(
    posts: int, per_post: int, cycles: int, tuned: bool = True, profile: str | None = None
) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    server = context.Process(target=_serve, args=(queue, posts, per_post), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{queue.get(timeout=30)}"
    print(f"{posts} live articles, {per_post} comments each to start, served from {base}")
    if tuned:
        tune_for_the_event_loop()  # as `python -m bot` does once started
    baseline = BaselineLoop()
    baseline.start()
    # the thread's CPU time, not wall time: waits for the GIL are not counted as work
    profiler = cProfile.Profile(time.thread_time) if profile else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mode in ("rest", "feed"):
                store = await Store.open(Path(tmp) / f"{mode}.sqlite3")
                async with create_session(allow_private=True) as session:
                    async with session.post(base + f"/_/rest?on={int(mode == 'rest')}"):
                        pass
                    await follow(store, base, posts)
                    watcher = CommentWatcher(store, Fetcher(session), parse_pool=parse_thread())
                    print(
                        "REST API (one request per article)"
                        if mode == "rest"
                        else "Comment feeds (REST off; conditional GET)"
                    )
                    await cycle("first read (cold)", watcher, store, session, base, baseline)
                    await cycle("no new comments", watcher, store, session, base, baseline)
                    figures = []
                    for n in range(cycles):
                        async with session.post(base + "/_/add"):
                            pass
                        figures.append(
                            await cycle(
                                "one new comment each",
                                watcher,
                                store,
                                session,
                                base,
                                baseline,
                                show_slices=n == cycles - 1,
                                profile=profiler if mode == "rest" else None,
                            )
                        )
                    print(summary(figures))
                    waiting = await store.due_mirrors(time.time() + 1, 0, posts)
                    start = time.perf_counter()
                    items = [len(await store.mirror_items(d.id)) for d in waiting]
                    took = (time.perf_counter() - start) * 1000
                    print(
                        f"  then: {len(waiting)} discussions with {sum(items)} comments to "
                        f"post, found in {took:.1f} ms"
                    )
                await store.close()
        if profiler is not None:
            profiler.dump_stats(profile)
    finally:
        baseline.stop()
        server.terminate()
        server.join()
    start = time.perf_counter()
    gc.collect()
    print(
        f"a full garbage collection now pauses the loop {(time.perf_counter() - start) * 1000:.1f}"
        f" ms ({len(gc.get_objects())} objects tracked)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--comments", type=int, default=8, help="comments per post to start")
    parser.add_argument(
        "--cycles", type=int, default=7, help="cycles of one new comment on each article"
    )
    parser.add_argument(
        "--profile", help="cProfile the event loop's thread in the REST cycles into this file"
    )
    parser.add_argument(
        "--untuned", action="store_true", help="the interpreter's default GC and GIL settings"
    )
    args = parser.parse_args()
    asyncio.run(main(args.posts, args.comments, args.cycles, not args.untuned, args.profile))
