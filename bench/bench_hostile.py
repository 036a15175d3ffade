"""Peak memory and event-loop lag while 20 hostile feeds are followed beside 1,000 normal ones.

    python bench/bench_hostile.py [--feeds 1000] [--hostile 20] [--cycles 2] [--attacks a,b]

The normal feeds come from bench/farm.py, the hostile ones from tests/hostile.py (slowloris,
endless bodies, gzip and brotli bombs, redirect loops and redirects inside the network,
entity expansion, a 5 MB entry, 50,000 items, deep nesting...), each server in a process of
its own. Gazette's own poller runs a cold cycle and then `--cycles - 1` cycles after every
normal feed got one new post, with production settings (fetch timeouts, 5 MB cap, private
addresses refused but 127.0.0.1), and the posts the hostile feeds left are rendered as the
announcer would. The same is done first with the 1,000 normal feeds alone, in the same
process: the figures and their ratios are printed. A task sleeping 10 ms measures the lag.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_poll import LoopLag, setup_store  # noqa: E402
from farm import start_farm  # noqa: E402

from bot.fetch import Fetcher, create_session  # noqa: E402
from bot.poller import FeedPoller  # noqa: E402
from bot.render.announcement import render_announcement  # noqa: E402
from bot.startup import tune_for_the_event_loop  # noqa: E402
from bot.store import Store  # noqa: E402

# the attacks followed, in this order, until --hostile is reached (each on its own blog)
ATTACKS = (
    "slowloris",
    "endless",
    "gzip_bomb",
    "brotli_bomb",
    "redirect_loop",
    "redirect_private",
    "entity_expansion",
    "big_entry",
    "invalid_utf8",
    "many_items",
    "deep_nesting",
    "big_attribute",
    "rtl_title",
    "mentions",
    "markdown_error",
    "huge_error",
    "wrong_content_type",
    "slowloris",
    "many_items",
    "gzip_bomb",
)


# --------------------------------------------------------------------------- the hostile site


def _serve_hostile(attacks: list[str], port_queue) -> None:
    from tests.hostile import HostileBlog
    from tests.httpserver import LocalSite

    async def main() -> None:
        async with LocalSite() as site:
            urls = []
            for n, attack in enumerate(attacks):
                blog = HostileBlog(site, f"/h{n}", title=f"Hostile {n}")
                blog.publish("An honest start")
                blog.attack(attack)
                urls.append((attack, blog.feed_url))
            port_queue.put(urls)
            await asyncio.Event().wait()

    asyncio.run(main())


def start_hostile(attacks: list[str]) -> tuple[multiprocessing.Process, list[tuple[str, str]]]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_serve_hostile, args=(attacks, queue), daemon=True)
    process.start()
    return process, queue.get(timeout=60)


# --------------------------------------------------------------------------- measuring


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def reset_peak() -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Lag(LoopLag):
    def p50_ms(self) -> float:
        return statistics.median(self.lags) * 1000 if self.lags else 0.0


class Run:
    """One scenario's figures."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lag = Lag()
        self.cycles: list[tuple[float, str]] = []
        self.start_rss = 0.0
        self.peak_rss = 0.0
        self.rendered = self.render_failures = 0

    def line(self) -> str:
        walls = " + ".join(f"{wall:.1f}" for wall, _ in self.cycles)
        return (
            f"  {self.name:<28} cycles {walls} s   lag p50 {self.lag.p50_ms():5.1f} ms"
            f"  p99 {self.lag.p99_ms():6.1f} ms  max {self.lag.max_ms():7.1f} ms"
            f"   peak RSS {self.peak_rss:6.0f} MiB (+{self.peak_rss - self.start_rss:.0f})"
        )


async def scenario(
    run: Run, store: Store, fetcher: Fetcher, farm: str, feeds: int, cycles: int, hostile_ids
) -> None:
    poller = FeedPoller(store, fetcher, default_interval=0.0, max_concurrency=16)
    reset_peak()
    run.start_rss = _status_mib("VmRSS")
    with run.lag:
        for n in range(cycles):
            if n:
                async with fetcher.session.post(f"{farm}/_bump?feeds={feeds}"):
                    pass
            start = time.perf_counter()
            report = await poller.poll_due(limit=feeds + len(hostile_ids) + 10)
            wall = time.perf_counter() - start
            summary = (
                f"polled={report.polled} new={report.new_posts} failed={report.failed}"
                f" unchanged={report.unchanged}"
            )
            run.cycles.append((wall, summary))
            print(f"    {run.name} cycle {n + 1}: {wall:6.1f} s  {summary}", flush=True)
            # interval 0: every feed (failing ones too, their backoff is 0 s) is due again
        # what the announcer would do with the hostile feeds' posts
        for feed_id in hostile_ids:
            post = await store.latest_post(feed_id)
            if post is None:
                continue
            try:
                await asyncio.to_thread(render_announcement, post, "Hostile")
                run.rendered += 1
            except Exception as exc:  # noqa: BLE001 - counted: rendering must never raise
                run.render_failures += 1
                print(f"    rendering post {post.id} failed: {type(exc).__name__}", flush=True)
    poller.close()
    run.peak_rss = _status_mib("VmHWM")


async def main(feeds: int, attack_names: list[str], cycles: int) -> None:
    hostile = len(attack_names)
    farm, base = start_farm()
    tune_for_the_event_loop()  # as `python -m bot` does once started
    hostile_process, attacks = start_hostile(attack_names)
    print(
        f"{feeds} normal feeds ({base}) and {hostile} hostile ones"
        f" ({', '.join(sorted({a for a, _ in attacks}))}), {cycles} poll cycles each"
    )
    baseline = Run(f"{feeds:,} normal feeds alone")
    attacked = Run(f"... and {hostile} hostile ones")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with create_session(
                allow_private=False, allow_hosts=["127.0.0.1"], max_connections=64
            ) as session:
                fetcher = Fetcher(session)  # production limits and timeouts
                async with session.post(f"{base}/_warm?feeds={feeds}"):
                    pass
                store = await setup_store(Path(tmp) / "baseline.db", base, feeds)
                await scenario(baseline, store, fetcher, base, feeds, cycles, [])
                await store.close()

                store = await setup_store(Path(tmp) / "hostile.db", base, feeds)
                ids = []
                for n, (_, url) in enumerate(attacks):
                    feed = await store.add_feed(
                        url,
                        title=None,
                        site_url=None,
                        etag=None,
                        last_modified=None,
                        body_hash=None,
                        next_check_at=0,
                    )
                    await store.add_subscription(feed.id, 2, 5000 + n)
                    ids.append(feed.id)
                await scenario(attacked, store, fetcher, base, feeds, cycles, ids)
                await store.close()
    finally:
        farm.terminate()
        hostile_process.terminate()

    print("Figures (wall time per cycle, loop lag over the whole run, peak RSS of this process):")
    print(baseline.line())
    print(attacked.line())
    print(f"  hostile posts rendered: {attacked.rendered}, failed: {attacked.render_failures}")

    def ratio(a: float, b: float) -> str:
        return f"{a / b:5.1f}x" if b else "   n/a"

    wall_b = sum(w for w, _ in baseline.cycles)
    wall_h = sum(w for w, _ in attacked.cycles)
    print("Ratios (with hostile feeds / normal feeds alone):")
    print(
        f"  wall {ratio(wall_h, wall_b)}"
        f"   lag p50 {ratio(attacked.lag.p50_ms(), baseline.lag.p50_ms())}"
        f"   p99 {ratio(attacked.lag.p99_ms(), baseline.lag.p99_ms())}"
        f"   max {ratio(attacked.lag.max_ms(), baseline.lag.max_ms())}"
        f"   peak RSS {ratio(attacked.peak_rss, baseline.peak_rss)}"
        f" ({attacked.peak_rss - baseline.peak_rss:+.0f} MiB; issue #7 asks for +50 MiB at most)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hostile", type=int, default=20, help="how many hostile feeds")
    parser.add_argument("--attacks", help="comma-separated attacks instead (to find a culprit)")
    parser.add_argument("--cycles", type=int, default=2)
    args = parser.parse_args()
    chosen = args.attacks.split(",") if args.attacks else None
    chosen = chosen or [ATTACKS[n % len(ATTACKS)] for n in range(args.hostile)]
    asyncio.run(main(args.feeds, chosen, args.cycles))
