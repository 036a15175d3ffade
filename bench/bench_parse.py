"""Per-entry cost of turning feed bytes into announcements.

    python bench/bench_parse.py [--rounds N]

A WordPress-style RSS feed of 10 posts (~4 KB of HTML each, as in the shared performance
notes) is measured five ways, all in this run:
  (a) feedparser.parse(bytes) with its defaults          (what the peers pay)
  (b) feedparser with sanitize_html / resolve_relative_uris off
  (c) parse_feed + render_announcement, cold feed         (no known keys)
  (d) the same, changed feed: 9 entries known, 1 new
  (e) the same, unchanged feed: all 10 known
Figures are µs per entry of the feed (10 entries), best of N rounds; ratios are against (a).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import feedparser  # noqa: E402

from bot.feeds import parse_feed  # noqa: E402
from bot.render.announcement import render_announcement  # noqa: E402

SITE = "http://127.0.0.1:8080"
WORDS = (
    "the quick brown fox jumps over a lazy dog while bloggers write about coffee, code, "
    "gardens, trains, elections, recipes and the weather in long winding sentences"
).split()


def post_html(rng: random.Random, post_id: int, size: int = 4000) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 80)))
        para = (
            f'<p>{words} <a href="{SITE}/2024/05/related-{total}/">a related post</a> '
            f"with <strong>bold</strong> and <em>emphasis</em>.</p>"
        )
        if total == 0:
            para += (
                f'\n<figure class="wp-block-image size-large"><img src="{SITE}/wp-content/'
                f'uploads/2024/05/photo-{post_id}.jpg" alt="Photo {post_id}" /></figure>'
            )
        parts.append(para)
        total += len(para)
    return "\n".join(parts)


def wordpress_feed(newest: int, count: int = 10) -> bytes:
    """RSS 2.0 as WordPress 6 writes it, posts newest..newest-count+1."""
    items = []
    for post_id in range(newest, newest - count, -1):
        rng = random.Random(post_id)
        body = post_html(rng, post_id)
        excerpt = " ".join(rng.choice(WORDS) for _ in range(55))
        slug = f"post-{post_id}"
        items.append(
            f"""	<item>
		<title>Post number {post_id}: notes &#038; thoughts</title>
		<link>{SITE}/2024/05/{slug}/</link>
		<comments>{SITE}/2024/05/{slug}/#respond</comments>
		<dc:creator><![CDATA[Ada Writer]]></dc:creator>
		<pubDate>Mon, 06 May 2024 {post_id % 24:02d}:00:00 +0000</pubDate>
		<category><![CDATA[News]]></category>
		<category><![CDATA[tag-{post_id % 5}]]></category>
		<guid isPermaLink="false">{SITE}/?p={post_id}</guid>
		<description><![CDATA[{excerpt} [&#8230;]]]></description>
		<content:encoded><![CDATA[{body}]]></content:encoded>
		<wfw:commentRss>{SITE}/2024/05/{slug}/feed/</wfw:commentRss>
		<slash:comments>0</slash:comments>
	</item>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>
<channel>
	<title>Bench Blog</title>
	<atom:link href="{SITE}/feed/" rel="self" type="application/rss+xml" />
	<link>{SITE}</link>
	<description>Just another WordPress site</description>
	<lastBuildDate>Mon, 06 May 2024 12:00:00 +0000</lastBuildDate>
	<language>en-US</language>
	<sy:updatePeriod>
	hourly	</sy:updatePeriod>
	<sy:updateFrequency>
	1	</sy:updateFrequency>
	<generator>https://wordpress.org/?v=6.1.9</generator>
{chr(10).join(items)}
	</channel>
</rss>
""".encode()


def best_us_per_entry(fn, rounds: int, entries: int) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best / entries * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()

    url = f"{SITE}/feed/"
    old = wordpress_feed(109)  # posts 109..100
    new = wordpress_feed(110)  # post 110 published: 110..101
    n = 10
    known_old = {e.key for e in parse_feed(old, url).entries}
    known_new = {e.key for e in parse_feed(new, url).entries}
    assert len(known_old) == n and len(known_new - known_old) == 1

    def ours(body: bytes, known) -> int:
        feed = parse_feed(body, url, known)
        for e in feed.entries:
            render_announcement(e, feed.title)
        return len(feed.entries)

    assert ours(new, ()) == 10 and ours(new, known_old) == 1 and ours(new, known_new) == 0
    cases = [
        ("(a) feedparser.parse, defaults", lambda: feedparser.parse(new)),
        (
            "(b) feedparser, sanitize/resolve off",
            lambda: feedparser.parse(new, sanitize_html=False, resolve_relative_uris=False),
        ),
        ("(c) ours, cold (parse + render 10)", lambda: ours(new, ())),
        ("(d) ours, changed (9 known, 1 new)", lambda: ours(new, known_old)),
        ("(e) ours, unchanged (all known)", lambda: ours(new, known_new)),
    ]
    print(f"feed: {len(new):,} bytes, {n} entries; best of {args.rounds} rounds")
    print(f"{'case':40} {'µs/entry':>10} {'vs (a)':>8}")
    base = None
    for label, fn in cases:
        us = best_us_per_entry(fn, args.rounds, n)
        base = base or us
        print(f"{label:40} {us:10.1f} {base / us:7.1f}×")


if __name__ == "__main__":
    main()
