"""The cost of edit detection (announcements follow the article) per poll cycle over 1,000
feeds on 127.0.0.1: the same cycles through two pollers in the same run, one with edits off
(EDIT_WINDOW_DAYS=0, the baseline) and one with the default window (7 days), each with a
subscription per feed (so each announces and, with edits on, watches the 5 newest posts).

    python bench/bench_edits.py [--feeds 1000] [--rounds 3]

Cycles: "changed" (one new post in every feed, the others as they were: what most cycles
that read a body are) and "edited" (the newest post of every feed retitled: 1,000 edits
found and owed). The two pollers take turns, in alternating order, on the same farm state;
the figure is the median over the rounds of (edits on - edits off) / edits off, for wall and
CPU time. Between cycles every announcement owed is marked sent (as Discord would have it),
so edits are owed as in the bot. The unchanged cycle (304s) reads no body and so compares
nothing: not measured.

The machine's other load moves such differences by tens of percent, so the detection's own
CPU is also counted directly in the "on" cycles: the thread CPU time of the parser's item
hashing (bot.feeds._watch), of shown_hash and compare (bot.poller), plus the reads of the
watched posts (store.revisions) replayed for every feed right after the cycle; printed as a
share of the same cycle's CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_poll import LoopLag, setup_store  # noqa: E402
from farm import start_farm  # noqa: E402

import bot.feeds  # noqa: E402
import bot.poller  # noqa: E402
from bot.fetch import Fetcher, create_session  # noqa: E402
from bot.poller import FeedPoller  # noqa: E402
from bot.startup import tune_for_the_event_loop  # noqa: E402

WINDOW = 7 * 86400.0
DETECTION: dict[str, float] = {}  # piece -> thread CPU seconds in the current cycle


def counted(module, name: str) -> None:
    """module.name, its thread CPU time added to DETECTION[name] at each call."""
    original = getattr(module, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            DETECTION[name] = DETECTION.get(name, 0.0) + time.thread_time() - started

    setattr(module, name, wrapper)


async def replay_reads(poller: FeedPoller, feed_ids: list[int]) -> float:
    """CPU seconds of the cycle's reads of watched posts, made again for every feed."""
    started = time.process_time()
    since = time.time() - WINDOW
    for feed_id in feed_ids:
        await poller.store.revisions(feed_id, since)
    return time.process_time() - started


async def deliver_all(poller: FeedPoller) -> None:
    """Every owed announcement marked sent (message id = delivery id), as Discord would."""
    while due := await poller.store.due_deliveries(time.time() + 1, limit=5000):
        for delivery in due:
            await poller.store.mark_delivered(delivery.id, delivery.id)


async def cycle(label: str, poller: FeedPoller, feeds: int, lag: LoopLag) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    with lag:
        report = await poller.poll_due(limit=feeds)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"    {label:<10} wall {wall:6.2f} s  cpu {cpu:6.2f} s  lag p99 {lag.p99_ms():5.1f} ms"
        f"  polled={report.polled} new={report.new_posts} edits_owed={report.edits_owed}"
        f" failed={report.failed}",
        flush=True,
    )
    return wall, cpu


def ratio(on: list[float], off: list[float]) -> float:
    return statistics.median((a - b) / b for a, b in zip(on, off, strict=True))


async def main(feeds: int, rounds: int) -> None:
    farm, base = start_farm()
    tune_for_the_event_loop()
    lag = LoopLag()
    print(f"{feeds} feeds, 10 posts each (~4 KB HTML), served from {base} in another process")
    print("(2 shared cores: compare only the ratios, measured in this run)")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with create_session(
                allow_private=True, max_connections=64, max_per_host=64
            ) as session:
                fetcher = Fetcher(session)
                async with session.post(f"{base}/_warm?feeds={feeds}"):
                    pass
                pollers = {}
                for name, window in (("off", 0.0), ("on", WINDOW)):
                    store = await setup_store(Path(tmp) / f"{name}.db", base, feeds)
                    poller = FeedPoller(store, fetcher, default_interval=0.0, max_concurrency=16)
                    poller.follow_edits(window)
                    pollers[name] = poller
                print("cold cycle (all new), edits off then on")
                for name, poller in pollers.items():
                    await cycle(name, poller, feeds, lag)
                    await deliver_all(poller)
                feed_ids = [f.id for f in await pollers["on"].store.due_feeds(time.time(), feeds)]
                counted(bot.feeds, "_watch")
                counted(bot.poller, "shown_hash")
                counted(bot.poller, "compare")
                shares: dict[str, list[float]] = {"changed": [], "edited": []}
                figures = {
                    (kind, name): ([], []) for kind in ("changed", "edited") for name in pollers
                }
                for n in range(rounds):
                    for kind, route in (("changed", "_bump"), ("edited", "_edit")):
                        async with session.post(f"{base}/{route}?feeds={feeds}"):
                            pass
                        print(f"round {n + 1}: {kind}")
                        order = ["off", "on"] if n % 2 == 0 else ["on", "off"]
                        for name in order:
                            DETECTION.clear()
                            wall, cpu = await cycle(name, pollers[name], feeds, lag)
                            figures[(kind, name)][0].append(wall)
                            figures[(kind, name)][1].append(cpu)
                            if name == "on":
                                reads = await replay_reads(pollers[name], feed_ids)
                                direct = sum(DETECTION.values()) + reads
                                shares[kind].append(direct / cpu)
                                pieces = ", ".join(
                                    f"{k} {v * 1000:.0f} ms" for k, v in DETECTION.items()
                                )
                                print(
                                    f"      detection, counted: {direct * 1000:.0f} ms"
                                    f" ({pieces}, reads {reads * 1000:.0f} ms)"
                                    f" = {direct / cpu:.1%} of the cycle's CPU"
                                )
                            await deliver_all(pollers[name])
                for poller in pollers.values():
                    await poller.store.close()
                    poller.close()
        print("Edit detection's own CPU, counted, as a share of the cycle's CPU (median):")
        for kind, values in shares.items():
            rounds_text = ", ".join(f"{v:.1%}" for v in values)
            print(f"  {kind:<8} {statistics.median(values):6.1%}  (rounds: {rounds_text})")
        print("Edit detection's cost, (on - off) / off, median over the rounds:")
        for kind in ("changed", "edited"):
            on, off = figures[(kind, "on")], figures[(kind, "off")]
            print(
                f"  {kind:<8} wall {ratio(on[0], off[0]):+7.1%}   cpu {ratio(on[1], off[1]):+7.1%}"
                f"   (off: wall {statistics.median(off[0]):.2f} s, cpu"
                f" {statistics.median(off[1]):.2f} s)"
            )
    finally:
        farm.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.feeds, args.rounds))
