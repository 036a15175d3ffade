"""A farm of WordPress-style feeds on 127.0.0.1, run in its own process by the benchmarks.

Feed i lives at /feed/i. Each has 10 posts of about 4 KB of HTML, an ETag and a
Last-Modified, and is gzip-compressed when asked. POST /_bump?feeds=N adds one new post to every
feed (the oldest drops out, as in a real feed; the others stay as they were); POST
/_edit?feeds=N changes the title of every feed's newest post (an author's correction, kept
by later generations);
POST /_warm?feeds=N builds the bodies ahead.
GET /_served?generation=G: when each feed's body of that generation was first served (Unix
seconds, for delivery latencies).
"""

from __future__ import annotations

import gzip
import multiprocessing
import random
import time
from email.utils import formatdate
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

WORDS = (
    "blog post server discord feed archive thread comment reader writer history article news "
    "review weekly update release notes community garden recipe travel photo music science "
    "policy city council school library market river mountain winter summer election report"
).split()


def post_html(rng: random.Random, feed: int, number: int) -> str:
    paragraphs = []
    while sum(len(p) for p in paragraphs) < 4000:
        words = " ".join(rng.choice(WORDS) for _ in range(60))
        paragraphs.append(f"<p>{words.capitalize()}, <a href='/p/{number}'>more</a>.</p>")
    return f"<p><img src='/img/{feed}-{number}.jpg' alt=''></p>" + "".join(paragraphs)


# posts are dated in the last days, as fresh posts are (older ones are archived silently)
DATE_BASE = int(time.time()) - 3 * 86400


def feed_xml(feed: int, newest: int, host: str, edits: dict[int, int] | None = None) -> bytes:
    """The feed's body; `edits`: post number -> how many times its title was corrected."""
    items = []
    for number in range(newest, max(newest - 10, 0), -1):
        date = formatdate(DATE_BASE + number * 60, usegmt=True)
        # each post its own text, the same in every generation (a post does not change
        # when a newer one is published)
        html = post_html(random.Random((feed * 100_003 + number) * 7919), feed, number)
        corrections = (edits or {}).get(number)
        edited = f" (correction {corrections})" if corrections else ""
        items.append(
            f"<item><title>Post {number} of blog {feed}{edited}</title>"
            f"<link>http://{host}/blog{feed}/post-{number}/</link>"
            f"<dc:creator><![CDATA[Author {feed % 17}]]></dc:creator>"
            f"<pubDate>{date}</pubDate>"
            "<category><![CDATA[News]]></category>"
            f"<category><![CDATA[Topic {number % 7}]]></category>"
            f'<guid isPermaLink="false">http://{host}/blog{feed}/?p={number}</guid>'
            f"<description><![CDATA[{html[:300]}]]></description>"
            f"<content:encoded><![CDATA[{html}]]></content:encoded>"
            f"<wfw:commentRss>http://{host}/blog{feed}/post-{number}/feed/</wfw:commentRss>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Blog {feed}</title><link>http://{host}/blog{feed}/</link>"
        f"<description>Blog number {feed}</description>" + "".join(items) + "</channel></rss>"
    ).encode()


def make_app() -> web.Application:
    # aiohttp.web imported here, in the farm's process: the benchmarks that start a farm
    # measure their own RSS (bench_e2e: the bot's), which the farm's server is no part of
    from aiohttp import web

    state = {"generation": 0, "edits": 0}
    corrected: dict[int, int] = {}  # post number -> corrections of its title (every feed)
    cache: dict[tuple[int, int, int], tuple[bytes, bytes]] = {}
    served: dict[int, dict[int, float]] = {}  # generation → feed → first served at

    async def feed(request: web.Request) -> web.Response:
        number = int(request.match_info["n"])
        generation, edits = state["generation"], state["edits"]
        etag = f'"{number}-{generation}-{edits}"'
        modified = formatdate(1_700_000_000 + (generation + edits) * 60, usegmt=True)
        headers = {"ETag": etag, "Last-Modified": modified, "Content-Type": "application/rss+xml"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        key = (number, generation, edits)
        if key not in cache:
            body = feed_xml(number, 10 + generation, request.host, corrected)
            cache[key] = (body, gzip.compress(body, 5))
        plain, packed = cache[key]
        served.setdefault(generation, {}).setdefault(number, time.time())
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return web.Response(body=packed, headers=headers)
        return web.Response(body=plain, headers=headers)

    def prepare(feeds: int, host: str) -> None:
        # bodies are built ahead, so the measured cycle pays for serving, not for writing
        generation, edits = state["generation"], state["edits"]
        for number in range(feeds):
            body = feed_xml(number, 10 + generation, host, corrected)
            cache[(number, generation, edits)] = (body, gzip.compress(body, 5))

    async def bump(request: web.Request) -> web.Response:
        state["generation"] += 1
        prepare(int(request.query.get("feeds", 0)), request.host)
        return web.Response(text=str(state["generation"]))

    async def edit(request: web.Request) -> web.Response:
        state["edits"] += 1
        newest = 10 + state["generation"]
        corrected[newest] = corrected.get(newest, 0) + 1
        prepare(int(request.query.get("feeds", 0)), request.host)
        return web.Response(text=str(state["edits"]))

    async def warm(request: web.Request) -> web.Response:
        prepare(int(request.query.get("feeds", 0)), request.host)
        return web.Response(text=str(state["generation"]))

    async def served_at(request: web.Request) -> web.Response:
        return web.json_response(served.get(int(request.query["generation"]), {}))

    app = web.Application()
    app.router.add_get("/_served", served_at)
    app.router.add_get("/feed/{n}", feed)
    app.router.add_post("/_bump", bump)
    app.router.add_post("/_edit", edit)
    app.router.add_post("/_warm", warm)
    return app


def _serve(port_queue) -> None:
    import asyncio

    from aiohttp import web

    async def main() -> None:
        runner = web.AppRunner(make_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_queue.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


def start_farm() -> tuple[multiprocessing.Process, str]:
    """Start the farm in a child process; returns it and its base URL."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_serve, args=(queue,), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{queue.get(timeout=30)}"
