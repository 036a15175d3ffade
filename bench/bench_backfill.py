"""Import rate of a REST backfill: a WordPress-like REST API on 127.0.0.1 (another process)
serving N posts of ~4 KB in pages of 100 with `_embed`, imported by `bot.backfill`.

    python bench/bench_backfill.py [--posts 20000]

Prints posts per second and, in the same run, the rate of storing the same entries straight
into the store (no HTTP, no JSON): the ratio is what fetching and mapping cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from farm import post_html  # noqa: E402

from bot.backfill import backfill  # noqa: E402
from bot.fetch import Fetcher, create_session  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.wordpress import iter_rest_posts  # noqa: E402


def rest_post(number: int, host: str) -> dict:
    rng = random.Random(number)
    body = post_html(rng, 1, number)
    date = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_500_000_000 + number * 3600))
    return {
        "id": number,
        "date_gmt": date,
        "modified_gmt": date,
        "guid": {"rendered": f"http://{host}/?p={number}"},
        "link": f"http://{host}/{number}/",
        "title": {"rendered": f"Post {number} about {rng.choice(['tea', 'rivers', 'code'])}"},
        "content": {"rendered": body},
        "excerpt": {"rendered": body[:300]},
        "author": 1 + number % 5,
        "categories": [1 + number % 4],
        "tags": [],
        "_embedded": {
            "author": [{"id": 1 + number % 5, "name": f"Author {number % 5}"}],
            "wp:term": [
                [{"id": 1 + number % 4, "name": f"Topic {number % 4}", "taxonomy": "category"}],
                [],
            ],
        },
    }


def make_app(total: int) -> web.Application:
    pages: dict[tuple[int, int], bytes] = {}

    def envelope(body, headers=None) -> web.Response:
        text = json.dumps({"status": 200, "headers": headers or {}, "body": body})
        return web.Response(text=text, content_type="application/json")

    async def root(request: web.Request) -> web.Response:
        return envelope({"namespaces": ["oembed/1.0", "wp/v2"]})

    async def posts(request: web.Request) -> web.Response:
        page = int(request.query.get("page", 1))
        per_page = int(request.query.get("per_page", 10))
        if (page, per_page) not in pages:
            first = (page - 1) * per_page + 1
            items = [
                rest_post(n, request.host)
                for n in range(first, min(total, first + per_page - 1) + 1)
            ]
            headers = {"X-WP-Total": total, "X-WP-TotalPages": -(-total // per_page)}
            pages[(page, per_page)] = json.dumps(
                {"status": 200, "headers": headers, "body": items}
            ).encode()
        return web.Response(body=pages[(page, per_page)], content_type="application/json")

    async def home(request: web.Request) -> web.Response:
        return web.Response(
            text="<html><head></head><body>blog</body></html>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/wp-json/", root)
    app.router.add_get("/wp-json/wp/v2/posts", posts)
    app.router.add_get("/", home)
    return app


def _serve(total: int, queue) -> None:
    async def main() -> None:
        runner = web.AppRunner(make_app(total), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        queue.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


async def main(total: int) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    server = context.Process(target=_serve, args=(total, queue), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{queue.get(timeout=30)}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with create_session(allow_private=True) as session:
                fetcher = Fetcher(session, max_bytes=50 * 1024 * 1024)
                # warm the server's page cache so the run measures Gazette, not the server
                async for _ in iter_rest_posts(fetcher, base + "/wp-json/"):
                    pass
                store = await Store.open(Path(tmp) / "backfill.db")
                feed = await store.add_feed(
                    base + "/feed/",
                    title="Bench",
                    site_url=base + "/",
                    etag=None,
                    last_modified=None,
                    body_hash=None,
                    next_check_at=1e12,
                )
                wall, cpu = time.perf_counter(), time.process_time()
                progress = await backfill(store, fetcher, feed)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                assert progress.error is None, progress.error
                print(
                    f"REST backfill of {progress.stored:,} posts ({progress.pages} pages of 100)"
                    f" via {progress.source}: {progress.stored / wall:,.0f} posts/s"
                    f" (wall {wall:.2f} s, cpu {cpu:.2f} s)"
                )

                # the same entries stored directly, same run: the floor for the store
                entries = [
                    e async for page in iter_rest_posts(fetcher, base + "/wp-json/") for e in page
                ]
                other = await Store.open(Path(tmp) / "direct.db")
                direct_feed = await other.add_feed(
                    "http://direct/feed/",
                    title=None,
                    site_url=None,
                    etag=None,
                    last_modified=None,
                    body_hash=None,
                    next_check_at=1e12,
                )
                wall2 = time.perf_counter()
                for start in range(0, len(entries), 100):
                    await other.store_entries(
                        direct_feed.id, entries[start : start + 100], announce=False
                    )
                await other.index_pending()
                wall2 = time.perf_counter() - wall2
                print(
                    f"Storing the same entries directly: {len(entries) / wall2:,.0f} posts/s;"
                    f" backfill runs at {wall2 / wall:.0%} of that"
                )
                await store.close()
                await other.close()
    finally:
        server.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=20000)
    asyncio.run(main(parser.parse_args().posts))
