"""Archive benchmark: import rate, search and autocomplete latency, size on disk.

    /work/venv/bin/python bench/bench_archive.py [--posts 100000] [--reuse-db]

Builds a synthetic archive (three feeds: one big blog and two small ones) by importing
generated WordPress export files through the real import path, then measures, in the same
run and on the same data:
- WXR import rate (posts/s) against a plain FTS5 table filled from the same posts;
- `/archive search` through Store.search (count + ranked page + snippets, scoped to a server)
  against one bare FTS5 statement (`MATCH ... ORDER BY rank LIMIT 5` with snippet());
- title/author/category autocomplete;
- the database's size against a plain FTS5 table holding the same posts.
Generated files are cached under --dir between runs (the WXR files always; the database
with --reuse-db).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive_corpus import GEN_VERSION, Corpus, write_wxr  # noqa: E402

from bot.importing import import_wxr  # noqa: E402
from bot.search import column_filter, parse_date, parse_query, phrase_of  # noqa: E402
from bot.store import Store  # noqa: E402

SMALL = 2000  # posts in each of the two small feeds
GUILD = 1  # follows the big blog and one small one (not every feed: the scope filter works)

QUERIES: list[tuple[str, dict]] = [
    ("coffee", {}),
    ("lighthouse", {}),
    ("{rare}", {}),  # a rare word of the long tail
    ("garden election", {}),
    ('"climate change"', {}),
    ("running", {}),  # stemming: run, runs, running
    ("cafe zurich", {}),  # diacritics folded
    ("garcia", {}),  # an author's name
    ("people", {}),  # in almost every post
    ("people work life", {}),
    ("photo*", {}),
    ("coffee -tea", {}),
    ("coffee OR tea", {}),
    ("python database performance", {}),
    ('"state of the art"', {}),
    ("xylophonezzz", {}),  # no match
    ('(coffee) AND NEAR "unterminated', {}),
    ("🚀 مرحبا coffee", {}),
    ("bread", {"author": "Zoë Müller", "category": "Food"}),
    ("river", {"after": "2012-01-01", "before": "2016-01-01"}),
]
LONG_QUERY = " ".join(["harbour", "village", "the", "(", "*", "NEAR", "-", ":"] * 40)[:1000]

TITLE_INPUTS = ["c", "co", "cof", "coffee", "coffee ga", "the", "p", "wed", "zz", "mü",
                "garden wil", "lighthouse", "x", "ra", "history of"]  # fmt: skip
FACET_INPUTS = ["", "j", "jos", "mü", "guest", "writer 1", "o", "zz"]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def mib(n: int) -> str:
    return f"{n / 1024 / 1024:8.1f} MiB"


def file_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


async def build(args, db: Path, files: dict[str, Path]) -> dict:
    for p in db.parent.glob(db.name + "*"):
        p.unlink()
    figures: dict = {}
    store = await Store.open(db)
    try:
        t = time.perf_counter()
        cpu = _cpu()
        big, reader = await import_wxr(
            store, files["big"], "https://bench.example/feed/", optimize=False
        )
        figures["import_posts"] = big.added
        figures["import_s"] = time.perf_counter() - t
        figures["import_cpu"], figures["import_cpu_child"] = _cpu(cpu)
        figures["wxr_bytes"] = reader.size
        small_b, _ = await import_wxr(
            store, files["b"], "https://small-b.example/feed/", optimize=False
        )
        small_c, _ = await import_wxr(
            store, files["c"], "https://small-c.example/feed/", optimize=False
        )
        t = time.perf_counter()
        again, _ = await import_wxr(
            store, files["b"], "https://small-b.example/feed/", optimize=False
        )
        figures["reimport_rate"] = again.read / (time.perf_counter() - t)
        figures["reimport_added"] = again.added
        await store.add_subscription(big.feed_id, GUILD, 100)
        await store.add_subscription(small_b.feed_id, GUILD, 100)
        await store.add_subscription(small_b.feed_id, 2, 200)
        await store.add_subscription(small_c.feed_id, 3, 300)
        figures["size_before_optimize"] = _checkpointed_size(db)
        t = time.perf_counter()
        await store.optimize_archive()
        figures["optimize_s"] = time.perf_counter() - t
    finally:
        await store.close()
    figures["size"] = _checkpointed_size(db)
    return figures


def _cpu(since: tuple[float, float] | None = None) -> tuple[float, float]:
    """CPU seconds of this process and of its finished children (the WXR parser)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    now = (me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime)
    return now if since is None else (now[0] - since[0], now[1] - since[1])


def _checkpointed_size(db: Path) -> int:
    """Bytes in use (pages minus the free list: free pages are reused by later writes)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    return (pages - free) * size


def build_plain(db: Path, plain: Path) -> dict:
    """A plain FTS5 table (content stored in the table) of the same posts, one transaction."""
    for p in plain.parent.glob(plain.name + "*"):
        p.unlink()
    conn = sqlite3.connect(plain)
    # every column the archive keeps, the searchable ones indexed (same tokenizer)
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5(feed_id UNINDEXED, entry_key UNINDEXED, title,"
        " link UNINDEXED, author, published_at UNINDEXED, updated_at UNINDEXED, categories,"
        " tags, summary_html UNINDEXED, content_html UNINDEXED, body, image_url UNINDEXED,"
        " comments_feed UNINDEXED, wp_id UNINDEXED, discovered_at UNINDEXED,"
        " tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.execute("ATTACH ? AS src", (str(db),))
    (n,) = conn.execute("SELECT count(*) FROM src.posts").fetchone()
    t = time.perf_counter()
    cpu = _cpu()
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO t(rowid, feed_id, entry_key, title, link, author, published_at,"
        " updated_at, categories, tags, summary_html, content_html, body, image_url,"
        " comments_feed, wp_id, discovered_at) SELECT id, feed_id, entry_key, title, link,"
        " author, published_at, updated_at, categories, tags, summary_html, content_html,"
        " content_text, image_url, comments_feed, wp_id, discovered_at FROM src.posts"
        " ORDER BY id"
    )
    conn.execute("COMMIT")
    insert_s = time.perf_counter() - t
    plain_cpu, _ = _cpu(cpu)
    conn.commit()
    size_unoptimized = _checkpointed_size(plain)
    t = time.perf_counter()
    conn.execute("INSERT INTO t(t) VALUES ('optimize')")
    conn.commit()
    optimize_s = time.perf_counter() - t
    conn.execute("VACUUM")
    conn.close()
    return {
        "plain_rate": n / insert_s,
        "plain_cpu_rate": n / plain_cpu,
        "plain_insert_s": insert_s,
        "plain_size_unoptimized": size_unoptimized,
        "plain_optimize_s": optimize_s,
        "plain_size": _checkpointed_size(plain),
    }


def table_sizes(db: Path) -> list[tuple[str, int]]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
    ).fetchall()
    conn.close()
    return rows


def bare_match(text: str, filters: dict) -> tuple[str, str, list]:
    """The same search as one naive statement: MATCH, dates joined, ORDER BY rank LIMIT 5."""
    parsed = parse_query(text)
    parts = [column_filter(["title", "body", "author", "terms"], parsed.fts())]
    if filters.get("author"):
        parts.append(column_filter(["author"], phrase_of(filters["author"])))
    if filters.get("category"):
        parts.append(column_filter(["terms"], phrase_of(filters["category"])))
    where, args = "", []
    if filters.get("after"):
        where += " AND p.published_at >= ?"
        args.append(parse_date(filters["after"]))
    if filters.get("before"):
        where += " AND p.published_at < ?"
        args.append(parse_date(filters["before"]))
    return " AND ".join(parts), where, args


async def measure(args, db: Path, plain: Path) -> dict:
    store = await Store.open(db)
    bare = sqlite3.connect(db)
    plain_conn = sqlite3.connect(plain)
    out: dict = {"per_query": []}
    rare = Corpus().tail[4000]
    queries = [(t.replace("{rare}", rare), f) for t, f in QUERIES] + [(LONG_QUERY, {})]
    ours_all: list[float] = []
    bare_all: list[float] = []
    plain_all: list[float] = []
    try:
        for text, filters in queries:
            kw = dict(filters)
            for key in ("after", "before"):
                if key in kw:
                    kw[key] = parse_date(kw[key])
            match, where, wargs = bare_match(text, filters)
            bare_sql = (
                "SELECT f.rowid, snippet(posts_fts, 1, '**', '**', '…', 20) FROM posts_fts f"
                + (" JOIN posts p ON p.id = f.rowid" if where else "")
                + f" WHERE posts_fts MATCH ?{where} ORDER BY f.rank LIMIT 5"
            )
            user = parse_query(text).fts()
            plain_sql = (
                "SELECT rowid, snippet(t, -1, '**', '**', '…', 20) FROM t WHERE t MATCH ?"
                " ORDER BY rank LIMIT 5"
            )
            await store.search(GUILD, text, **kw)  # warm
            bare.execute(bare_sql, (match, *wargs)).fetchall()
            if user:
                plain_conn.execute(plain_sql, (user,)).fetchall()
            ours, bares, plains = [], [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                await store.search(GUILD, text, **kw)
                ours.append(time.perf_counter() - t)
                t = time.perf_counter()
                bare.execute(bare_sql, (match, *wargs)).fetchall()
                bares.append(time.perf_counter() - t)
                if user:
                    t = time.perf_counter()
                    plain_conn.execute(plain_sql, (user,)).fetchall()
                    plains.append(time.perf_counter() - t)
            ours_all += ours
            bare_all += bares
            plain_all += plains
            (true_total,) = bare.execute(
                "SELECT count(*) FROM posts_fts f"
                + (" JOIN posts p ON p.id = f.rowid" if where else "")
                + f" WHERE posts_fts MATCH ?{where}",
                (match, *wargs),
            ).fetchone()
            out["per_query"].append(
                (
                    text if len(text) < 40 else text[:37] + "...",
                    filters,
                    true_total,
                    statistics.median(ours),
                    statistics.median(bares),
                    statistics.median(plains) if plains else None,
                )
            )
        # paging: page 3 of a common word
        pages = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            await store.search(GUILD, "coffee", page=2)
            pages.append(time.perf_counter() - t)
        out["paging_p50"] = statistics.median(pages)
        out["ours"] = ours_all
        out["bare"] = bare_all
        out["plain"] = plain_all

        titles, facets = [], []
        for _ in range(args.repeat):
            for text in TITLE_INPUTS:
                t = time.perf_counter()
                await store.titles_like(GUILD, text)
                titles.append(time.perf_counter() - t)
            for text in FACET_INPUTS:
                t = time.perf_counter()
                await store.names_like("author", GUILD, text)
                facets.append(time.perf_counter() - t)
                t = time.perf_counter()
                await store.names_like("category", GUILD, text)
                facets.append(time.perf_counter() - t)
        out["titles"] = titles
        out["facets"] = facets
        out["title_examples"] = {
            text: [title for _, title in (await store.titles_like(GUILD, text))[:3]]
            for text in ("cof", "coffee ga", "mü")
        }
        other = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            await store.latest(GUILD, 10)
            other.append(("latest", time.perf_counter() - t))
            t = time.perf_counter()
            await store.random_post(GUILD)
            other.append(("random", time.perf_counter() - t))
            t = time.perf_counter()
            await store.latest(3, 10)
            other.append(("latest (small server)", time.perf_counter() - t))
        out["other"] = other
    finally:
        await store.close()
        bare.close()
        plain_conn.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gazette-bench"))
    parser.add_argument("--reuse-db", action="store_true", help="skip the import if built")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    big_n = args.posts - 2 * SMALL
    tag = f"v{GEN_VERSION}-{args.posts}"
    files = {
        "big": args.dir / f"big-{tag}.wxr",
        "b": args.dir / f"small-b-{tag}.wxr",
        "c": args.dir / f"small-c-{tag}.wxr",
    }
    db = args.dir / f"archive-{tag}.sqlite3"
    plain = args.dir / f"plain-{tag}.sqlite3"
    print(f"Archive benchmark: {args.posts:,} posts, SQLite {sqlite3.sqlite_version},"
          f" {os.cpu_count()} CPUs")  # fmt: skip
    if not all(f.exists() for f in files.values()):
        t = time.perf_counter()
        corpus = Corpus()
        write_wxr(files["big"], corpus.posts(big_n), title="Big blog")
        write_wxr(files["b"], corpus.posts(SMALL, start=big_n), site="https://small-b.example")
        write_wxr(
            files["c"], corpus.posts(SMALL, start=big_n + SMALL), site="https://small-c.example"
        )
        print(f"generated WXR files in {time.perf_counter() - t:.1f} s")
    figures: dict = {}
    if not (args.reuse_db and db.exists() and plain.exists()):
        figures = asyncio.run(build(args, db, files))
        figures.update(build_plain(db, plain))
        rate = figures["import_posts"] / figures["import_s"]
        print("\n== Import (WXR file -> archive, through bot.importing.import_wxr)")
        print(f"WXR import: {figures['import_posts']:,} posts, {figures['wxr_bytes'] / 2**20:.0f}"
              f" MiB file, {figures['import_s']:.1f} s = {rate:,.0f} posts/s")  # fmt: skip
        print(f"plain FTS5 insert of the same posts (one statement, one transaction):"
              f" {figures['plain_rate']:,.0f} posts/s")  # fmt: skip
        print(f"ratio import / plain FTS5: {rate / figures['plain_rate']:.2f} (bar: >= 0.5)")
        n = figures["import_posts"]
        main_rate = n / figures["import_cpu"]
        print(f"CPU time: import {figures['import_cpu']:.1f} s in the importing process"
              f" + {figures['import_cpu_child']:.1f} s in the parsing process;"
              f" plain FTS5: {figures['plain_cpu_rate']:,.0f} posts per CPU second")  # fmt: skip
        print(f"ratio by CPU time of the busiest process (what 2 free cores give):"
              f" {main_rate / figures['plain_cpu_rate']:.2f}")  # fmt: skip
        print(f"second import of a 2,000-post file: {figures['reimport_added']} added,"
              f" {figures['reimport_rate']:,.0f} posts/s")  # fmt: skip
        print(f"index optimize after import: {figures['optimize_s']:.1f} s"
              f" (plain FTS5 optimize: {figures['plain_optimize_s']:.1f} s)")  # fmt: skip
        print("\n== Size on disk (pages in use; every column of the posts in both)")
        print(f"archive database, before optimize: {mib(figures['size_before_optimize'])}")
        print(f"archive database, optimized:       {mib(figures['size'])}")
        print(f"plain FTS5 table, same posts:      {mib(figures['plain_size_unoptimized'])}"
              f" (optimized: {mib(figures['plain_size'])})")  # fmt: skip
        ratio = figures["size"] / figures["plain_size_unoptimized"]
        ratio_opt = figures["size"] / figures["plain_size"]
        print(f"ratio archive / plain: {ratio:.3f} (optimized vs optimized: {ratio_opt:.3f})")
    else:
        print(f"(reusing {db}; run without --reuse-db for import and size figures)")
    print("\nlargest parts of the archive database:")
    for name, size in table_sizes(db)[:9]:
        print(f"  {name:28} {mib(size)}")

    out = asyncio.run(measure(args, db, plain))
    print(f"\n== Search, top 5 with snippets, {len(out['per_query'])} queries x {args.repeat}")
    print(f"{'query':40} {'matches':>8} {'Store.search':>12} {'bare FTS5':>11} {'plain tbl':>11}")
    for text, filters, total, ours, bare, plain_t in out["per_query"]:
        label = text + (" +filters" if filters else "")
        plain_s = ms(plain_t) if plain_t is not None else "      -   "
        print(f"{label[:40]:40} {total:8,} {ms(ours):>12} {ms(bare):>11} {plain_s:>11}")
    ours, bare, plain_v = out["ours"], out["bare"], out["plain"]
    print(f"\nStore.search (count + page + snippets, server scope): p50 {ms(pct(ours, .5))},"
          f" p95 {ms(pct(ours, .95))}, max {ms(max(ours))}")  # fmt: skip
    print(f"bare FTS5 statement, same index:  p50 {ms(pct(bare, 0.5))}, p95 {ms(pct(bare, 0.95))}")
    print(f"plain FTS5 table (snippet in the ranked query): p50 {ms(pct(plain_v, .5))},"
          f" p95 {ms(pct(plain_v, .95))}")  # fmt: skip
    print(f"overhead ratio Store.search / bare: p50 {pct(ours, .5) / pct(bare, .5):.2f},"
          f" p95 {pct(ours, .95) / pct(bare, .95):.2f}")  # fmt: skip
    print(f"page 3 of 'coffee': p50 {ms(out['paging_p50'])}")
    times = 1300 / (pct(ours, 0.5) * 1000)
    print("reader search_entries at 100,000 posts (performance.md, extrapolated): ~1,300 ms"
          f" p50; ours is {times:.0f}x faster at p50 (bar: 50x)")  # fmt: skip

    print("\n== Autocomplete")
    t = out["titles"]
    print(f"titles_like ({len(TITLE_INPUTS)} inputs x {args.repeat}): p50 {ms(pct(t, .5))},"
          f" p95 {ms(pct(t, .95))}, max {ms(max(t))}")  # fmt: skip
    f = out["facets"]
    print(f"names_like (authors, categories): p50 {ms(pct(f, 0.5))}, p95 {ms(pct(f, 0.95))}")
    for text, titles in out["title_examples"].items():
        print(f"  {text!r}: {titles}")
    by: dict[str, list[float]] = {}
    for name, value in out["other"]:
        by.setdefault(name, []).append(value)
    for name, values in by.items():
        print(f"{name}: p50 {ms(pct(values, 0.5))}, p95 {ms(pct(values, 0.95))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
