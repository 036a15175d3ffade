"""Operator commands: `python -m bot import FILE --feed URL`, `python -m bot search WORDS` and
`python -m bot opml import|export` (subscription lists)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import sys
import time
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from .backfill import Quota
from .bulk import BulkFollower, import_histories, plan
from .config import ConfigError, Settings
from .fetch import Fetcher, create_session
from .importing import import_wxr
from .limits import MAX_OPML_BYTES
from .models import Outline
from .opml import OpmlError, read_opml, write_opml
from .poller import FeedPoller
from .search import QueryError, SearchPage, parse_date
from .store import Store, StoreError
from .wxr import WxrError, WxrReader


class CliError(Exception):
    """Something the operator can fix; printed without a traceback."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Gazette operator tools")
    sub = parser.add_subparsers(dest="command", required=True)

    imp = sub.add_parser(
        "import",
        help="import a WordPress export (WXR) into the archive",
        description="Import the published posts of a WordPress export file (Tools → Export)"
        " into the archive of a feed. Posts already there are skipped; nothing is announced.",
    )
    imp.add_argument("file", type=Path, help="the .xml export file")
    imp.add_argument(
        "--feed", required=True, metavar="URL", help="the blog's feed URL, as subscribed"
    )
    imp.add_argument("--db", type=Path, metavar="PATH", help="database (default: DATABASE_PATH)")
    imp.add_argument(
        "--no-optimize", action="store_true", help="do not merge the search index afterwards"
    )

    search = sub.add_parser(
        "search",
        help="search the archive",
        description='Ranked full-text search: words must all match; "quoted phrases",'
        " -excluded, word* prefixes, OR between alternatives.",
    )
    search.add_argument("words", nargs="*", help="what to look for")
    search.add_argument("--feed", metavar="URL", help="only this feed (default: every feed)")
    search.add_argument("--author", help="only posts by this author")
    search.add_argument("--category", help="only posts in this category or tag")
    search.add_argument("--after", metavar="YYYY-MM-DD", help="published on or after this day")
    search.add_argument("--before", metavar="YYYY-MM-DD", help="published before this day")
    search.add_argument("--page", type=int, default=1, help="page of results (default 1)")
    search.add_argument("--per-page", type=int, default=5, help="results a page (default 5)")
    search.add_argument(
        "--format",
        choices=["auto", "plain", "ansi", "discord"],
        default="auto",
        help="highlighting of matched words (auto: bold in a terminal)",
    )
    search.add_argument("--db", type=Path, metavar="PATH", help="database (default: DATABASE_PATH)")
    _opml_parsers(sub)
    return parser


def _opml_parsers(sub) -> None:
    opml = sub.add_parser(
        "opml",
        help="import or export subscriptions as OPML",
        description="Subscription lists in OPML, the format every feed reader imports and exports.",
    )
    actions = opml.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import",
        help="follow every feed of an OPML file in one channel",
        description="Follow every feed of an OPML file in one channel of a server (feeds it"
        " already follows are skipped). Existing posts are archived, never announced; then"
        " each feed's whole history is imported, a few feeds at a time.",
    )
    imp.add_argument("file", type=Path, help="the .opml file")
    imp.add_argument("--guild", type=int, required=True, metavar="ID", help="the server's id")
    imp.add_argument(
        "--channel", type=int, required=True, metavar="ID", help="the channel to announce in"
    )
    imp.add_argument(
        "--no-history", action="store_true", help="do not import the feeds' older posts"
    )
    imp.add_argument("--db", type=Path, metavar="PATH", help="database (default: DATABASE_PATH)")
    exp = actions.add_parser(
        "export",
        help="write the subscriptions as OPML",
        description="Write the subscriptions of a server (default: of every server) as an OPML"
        " 2.0 file, one category per channel, named by the channel's id.",
    )
    exp.add_argument("file", type=Path, nargs="?", help="where to write (default: standard output)")
    exp.add_argument("--guild", type=int, metavar="ID", help="only this server's subscriptions")
    exp.add_argument("--db", type=Path, metavar="PATH", help="database (default: DATABASE_PATH)")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "import":
            _check_import(args)
            return asyncio.run(_import(args, sys.stdout, sys.stderr))
        if args.command == "opml":
            return _opml(args)
        _check_search(args)
        return asyncio.run(_search(args, sys.stdout))
    except (CliError, ConfigError, StoreError, QueryError, WxrError, OpmlError) as exc:
        print(f"gazette: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gazette: interrupted", file=sys.stderr)
        return 130


def _db_path(args: argparse.Namespace) -> Path:
    if args.db is not None:
        return args.db
    return Settings.from_env(require_token=False).database_path


class ProgressBar:
    """One line on stderr redrawn in place (only on a terminal; otherwise silent)."""

    def __init__(self, reader: WxrReader, out: TextIO) -> None:
        self.reader = reader
        self.out = out
        self.live = out.isatty()
        self.start = time.perf_counter()
        self._last = 0.0

    def __call__(self, read: int, added: int) -> None:
        now = time.perf_counter()
        if not self.live or now - self._last < 0.1:
            return
        self._last = now
        size = self.reader.size or 0
        done = min(1.0, self.reader.bytes_read / size) if size else 0.0
        bar = "#" * int(done * 30)
        rate = read / max(now - self.start, 1e-9)
        self.out.write(
            f"\r[{bar:<30}] {done:4.0%}  {read:,} posts read, {added:,} new  {rate:,.0f}/s "
        )
        self.out.flush()

    def close(self) -> None:
        if self.live:
            self.out.write("\r" + " " * 79 + "\r")
            self.out.flush()


def _check_import(args: argparse.Namespace) -> None:
    args.feed = args.feed.strip()
    parts = urlsplit(args.feed)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(f"--feed {args.feed!r} is not a feed URL (https://blog.example/feed/)")
    if not args.file.is_file():
        raise CliError(f"{args.file}: no such file")
    args.db = _db_path(args)


def _check_search(args: argparse.Namespace) -> None:
    args.after = parse_date(args.after) if args.after else None
    args.before = parse_date(args.before) if args.before else None
    if args.page < 1:
        raise CliError("--page starts at 1")
    args.db = _db_path(args)
    if not args.db.exists():
        raise CliError(f"no database at {args.db} (set DATABASE_PATH or pass --db)")


async def _import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    url = args.feed
    store = await Store.open(args.db)
    try:
        reader = WxrReader(args.file)
        bar = ProgressBar(reader, err)
        try:
            result, reader = await import_wxr(
                store, reader, url, progress=bar, optimize=not args.no_optimize
            )
        finally:
            bar.close()
    finally:
        await store.close()
    skipped = ", ".join(f"{n} {what}" for what, n in reader.skipped.most_common())
    print(
        f"Imported {_n(result.added, 'new post')} into {url} ({_n(result.read, 'published post')}"
        f" in the file, {result.read - result.added:,} already archived)"
        f" in {result.seconds:.1f} s.",
        file=out,
    )
    if skipped:
        print(f"Skipped (not published posts): {skipped}.", file=out)
    return 0


async def _search(args: argparse.Namespace, out: TextIO) -> int:
    store = await Store.open(args.db)
    try:
        if args.feed:
            feed = await store.get_feed_by_url(args.feed.strip())
            if feed is None:
                raise CliError(f"no feed {args.feed!r} in the archive")
            feed_ids = [feed.id]
        else:
            feed_ids = await store.archive_feed_ids()
        page = await store.search(
            None,
            " ".join(args.words),
            feed_ids=feed_ids,
            author=args.author,
            category=args.category,
            after=args.after,
            before=args.before,
            page=args.page - 1,
            per_page=max(1, min(args.per_page, 25)),
        )
    finally:
        await store.close()
    style = args.format
    if style == "auto":
        style = "ansi" if out.isatty() else "plain"
    out.write(format_page(page, " ".join(args.words), style))
    return 0


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def format_page(page: SearchPage, text: str, style: str = "plain") -> str:
    """A page of results as terminal text."""
    if page.notice and not page.results:
        return page.notice + "\n"
    if page.total == 0:
        return f"No posts match {text!r}.\n" if text.strip() else "No posts match.\n"
    if not page.results:
        return f"No page {page.page + 1}: there are {page.total_text()}.\n"
    first = page.page * page.per_page + 1
    of = f" of {page.pages}" if page.pages else ""
    lines = [
        f"{page.total_text()[:1].upper()}{page.total_text()[1:]} (page {page.page + 1}{of})",
        "",
    ]
    for n, hit in enumerate(page.results, start=first):
        lines.append(f"{n}. {hit.title or '(untitled)'}")
        meta = []
        if hit.author:
            meta.append(hit.author)
        if hit.published_at is not None:
            meta.append(dt.datetime.fromtimestamp(hit.published_at, dt.UTC).strftime("%Y-%m-%d"))
        if hit.categories:
            meta.append(", ".join(hit.categories))
        if meta:
            lines.append("   " + " · ".join(meta))
        if hit.link:
            lines.append(f"   {hit.link}")
        snippet = hit.snippet if style == "discord" else hit.snippet_as(style)
        if snippet:
            lines.append(f"   {snippet}")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- opml


def _opml(args: argparse.Namespace) -> int:
    settings = Settings.from_env(require_token=False)
    args.db = args.db if args.db is not None else settings.database_path
    if args.action == "export":
        if not args.db.exists():
            raise CliError(f"no database at {args.db} (set DATABASE_PATH or pass --db)")
        return asyncio.run(_opml_export(args, sys.stdout))
    if not args.file.is_file():
        raise CliError(f"{args.file}: no such file")
    with args.file.open("rb") as f:
        data = f.read(MAX_OPML_BYTES + 1)  # read_opml refuses it whole if over
    outlines = read_opml(data)
    return asyncio.run(_opml_import(args, settings, outlines, sys.stdout))


async def _opml_import(
    args: argparse.Namespace, settings: Settings, outlines: list[Outline], out: TextIO
) -> int:
    store = await Store.open(args.db)
    try:
        async with create_session(allow_private=settings.allow_private_feeds) as session:
            fetcher = Fetcher(session)
            poller = FeedPoller(store, fetcher, default_interval=settings.poll_interval)
            try:
                follower = BulkFollower(poller, args.guild)
                report = await follower.follow(plan(outlines, lambda _: args.channel))
                print(
                    f"Followed {report.followed:,} of the {report.total:,} feeds in"
                    f" {args.file.name}; {report.skipped:,} skipped (already followed in that"
                    f" channel), {len(report.failed):,} failed.",
                    file=out,
                )
                for item in report.failed:
                    print(f"  failed: {item.outline.url}: {item.error}", file=out)
                if follower.followed and not args.no_history:
                    print(f"Importing the history of {len(follower.followed):,} feeds…", file=out)
                    await import_histories(
                        store,
                        fetcher,
                        list(follower.followed.values()),
                        report,
                        Quota.from_settings(settings),
                    )
                    print(f"{report.history_posts:,} older posts added to the archive.", file=out)
            finally:
                poller.close()
    finally:
        await store.close()
    return 0


async def _opml_export(args: argparse.Namespace, out: TextIO) -> int:
    store = await Store.open(args.db)
    try:
        outlines = await store.export_outlines(args.guild)
    finally:
        await store.close()
    data = write_opml(outlines)
    if args.file is None:
        out.write(data.decode("utf-8"))
    else:
        args.file.write_bytes(data)
        print(f"Wrote {_n(len(outlines), 'subscription')} to {args.file}.", file=sys.stderr)
    return 0
