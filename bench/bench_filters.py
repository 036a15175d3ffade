"""The cost of filters per subscription in a changed poll cycle over 1,000 feeds on 127.0.0.1
(one new post in every feed, each feed followed by one subscription): the same cycles
through three pollers in the same run, taking turns in alternating order on the same farm:

- "none": no filters (the baseline), and "none2" the same again (the two differ by what the
  machine's other load does: the noise any other difference is within);
- "mixed": every subscription filtered as servers would: a quarter skip two categories, a
  quarter announce only three categories, a quarter announce only posts with one of three
  words and skip a phrase, a quarter announce only some authors and skip a word (half of
  the subscriptions have word filters, which index the post's text to match words as
  search does);
- "words": every subscription with word filters only (the worst case: every new post's
  title and text indexed).

    python bench/bench_filters.py [--feeds 1000] [--rounds 3]

Figures: CPU per cycle of each poller, the ratio (filtered - none) / none (median over the
rounds; the machine's other load moves it by several percent either way), and the filters'
own cost counted directly: the thread CPU time of `owed_deliveries` (compiling, evaluating,
indexing words) per new post, and as a share of the cycle's CPU (the goal: under 5 %).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_poll import LoopLag, setup_store  # noqa: E402
from farm import start_farm  # noqa: E402

from bot.fetch import Fetcher, create_session  # noqa: E402
from bot.filters import Filters, updated  # noqa: E402
from bot.poller import FeedPoller  # noqa: E402
from bot.startup import tune_for_the_event_loop  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store.filters import FilterQueries  # noqa: E402

GUILD = 1  # bench_poll.setup_store's server
COUNTED = {"seconds": 0.0, "posts": 0, "judged": 0}


def mixed_filters(number: int) -> dict[str, str]:
    """Realistic filters for the farm's posts (categories "News" and "Topic 0".."Topic 6",
    authors "Author 0".."Author 16", text drawn from farm.WORDS)."""
    return [
        {"skip_categories": "Topic 3, Topic 5"},
        {"categories": "Topic 1, Topic 2, Topic 4"},
        {"words": "garden, election, mountain", "skip_words": "city council report"},
        {"authors": "Author 1, Author 2, Author 3, Author 5, Author 8", "skip_words": "winter"},
    ][number % 4]


def word_filters(number: int) -> dict[str, str]:
    return {"words": "garden, election, mountain, recipe", "skip_words": "city council report"}


async def set_filters(store: Store, choose) -> None:
    for sub in await store.guild_subscriptions(GUILD):
        spec = updated(Filters(), choose(sub.id - 1)).to_json()
        await store.set_filters(GUILD, sub.id, spec)


def count_filters() -> None:
    """Time the filters' work into COUNTED: the evaluation (judge_entries) in the thread
    that runs it (a worker thread when words are matched), and owed_deliveries on the event
    loop when it evaluates nothing (no filters). The hop to the thread is in the cycle's
    CPU only."""
    owed, judge = FilterQueries.owed_deliveries, FilterQueries.judge_entries

    async def counted_owed(self, entries, post_ids, texts, subs):
        entries = list(entries)
        judged, started = COUNTED["judged"], time.thread_time()
        try:
            return await owed(self, entries, post_ids, texts, subs)
        finally:
            if COUNTED["judged"] == judged:  # nothing to evaluate: it all ran here, at once
                COUNTED["seconds"] += time.thread_time() - started
            COUNTED["posts"] += len(entries)

    def counted_judge(self, entries, post_ids, texts, rules):
        started = time.thread_time()
        try:
            return judge(self, entries, post_ids, texts, rules)
        finally:
            COUNTED["seconds"] += time.thread_time() - started
            COUNTED["judged"] += 1

    FilterQueries.owed_deliveries = counted_owed
    FilterQueries.judge_entries = counted_judge


async def deliver_all(store: Store) -> int:
    """Every owed announcement marked sent, as Discord would; how many there were."""
    sent = 0
    while due := await store.due_deliveries(time.time() + 1, limit=5000):
        for delivery in due:
            await store.mark_delivered(delivery.id, delivery.id)
        sent += len(due)
    return sent


async def cycle(label: str, poller: FeedPoller, feeds: int, lag: LoopLag) -> tuple[float, int]:
    COUNTED.update(seconds=0.0, posts=0)
    cpu, wall = time.process_time(), time.perf_counter()
    with lag:
        report = await poller.poll_due(limit=feeds)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    announced = await deliver_all(poller.store)
    print(
        f"    {label:<6} wall {wall:6.2f} s  cpu {cpu:6.2f} s  lag p99 {lag.p99_ms():5.1f} ms"
        f"  polled={report.polled} new={report.new_posts} announced={announced}"
        f"  filters {COUNTED['seconds'] * 1000:6.1f} ms"
        f" ({COUNTED['seconds'] / max(1, COUNTED['posts']) * 1e6:5.1f} µs a new post,"
        f" {COUNTED['seconds'] / cpu:.2%} of the cycle's CPU)",
        flush=True,
    )
    return cpu, announced


async def main(feeds: int, rounds: int) -> None:
    farm, base = start_farm()
    tune_for_the_event_loop()
    lag = LoopLag()
    print(f"{feeds} feeds, 10 posts each (~4 KB HTML), one subscription each, farm at {base}")
    print("(2 shared cores: compare only the ratios, measured in this run)")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with create_session(
                allow_private=True, max_connections=64, max_per_host=64
            ) as session:
                fetcher = Fetcher(session)
                async with session.post(f"{base}/_warm?feeds={feeds}"):
                    pass
                pollers: dict[str, FeedPoller] = {}
                for name, choose in (
                    ("none", None),
                    ("none2", None),
                    ("mixed", mixed_filters),
                    ("words", word_filters),
                ):
                    store = await setup_store(Path(tmp) / f"{name}.db", base, feeds)
                    if choose is not None:
                        await set_filters(store, choose)
                    pollers[name] = FeedPoller(
                        store, fetcher, default_interval=0.0, max_concurrency=16
                    )
                print("cold cycle (every entry new; the newest five of each feed announced)")
                for name, poller in pollers.items():
                    await cycle(name, poller, feeds, lag)
                count_filters()
                cpu: dict[str, list[float]] = {name: [] for name in pollers}
                shares: dict[str, list[float]] = {name: [] for name in pollers}
                per_post: dict[str, list[float]] = {name: [] for name in pollers}
                per_announcement: dict[str, list[float]] = {name: [] for name in pollers}
                for n in range(rounds):
                    async with session.post(f"{base}/_bump?feeds={feeds}"):
                        pass
                    print(f"round {n + 1}: changed (one new post in every feed)")
                    order = list(pollers) if n % 2 == 0 else list(reversed(pollers))
                    for name in order:
                        seconds, announced = await cycle(name, pollers[name], feeds, lag)
                        cpu[name].append(seconds)
                        shares[name].append(COUNTED["seconds"] / seconds)
                        per_post[name].append(COUNTED["seconds"] / max(1, COUNTED["posts"]))
                        per_announcement[name].append(COUNTED["seconds"] / max(1, announced))
                for poller in pollers.values():
                    await poller.store.close()
                    poller.close()
        base_cpu = cpu["none"]
        print("Changed cycle, median over the rounds:")
        for name in pollers:
            ratio = statistics.median((a - b) / b for a, b in zip(cpu[name], base_cpu, strict=True))
            print(
                f"  {name:<6} cpu {statistics.median(cpu[name]):5.2f} s a cycle"
                f"  vs none {ratio:+6.1%}"
                f"  filters counted: {statistics.median(shares[name]):6.2%} of the cycle's CPU,"
                f" {statistics.median(per_post[name]) * 1e6:6.1f} µs a new post,"
                f" {statistics.median(per_announcement[name]) * 1e6:6.1f} µs an announcement"
            )
    finally:
        farm.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.feeds, args.rounds))
