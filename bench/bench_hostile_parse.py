"""Time and peak memory of parsing hostile feed bodies, against a normal feed.

    python bench/bench_hostile_parse.py [--mb 5] [--only NAME]

Each body is at most --mb MB (5 MB is the fetch limit, bot/fetch.py). Every case runs in a
fresh child process, so its peak RSS (ru_maxrss) is its own: "RSS +MiB" is the peak during
the parse minus the RSS just before it (the body already built). "traced" is tracemalloc's
peak of Python allocations during a second, traced run. Both paths are measured: a cold
parse (no known entries) and a poll of a followed feed (every other item known, so the
expat pre-scan runs first). Comment bodies go through parse_comment_feed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.feeds import FeedParseError, parse_feed  # noqa: E402
from bot.wordpress import WordPressError, parse_comment_feed  # noqa: E402

URL = "http://127.0.0.1:8080/feed/"
HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
RSS = b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
END = b"</channel></rss>"


def item(i: int, body: bytes = b"<p>A short post.</p>", guid: bytes | None = None) -> bytes:
    guid = guid if guid is not None else f"http://127.0.0.1:8080/?p={i}".encode()
    return (
        b"<item><title>Post %d</title><link>http://127.0.0.1:8080/post-%d/</link>"
        b"<guid>%s</guid><pubDate>Mon, 06 May 2024 10:00:00 +0000</pubDate>"
        b"<description><![CDATA[%s]]></description></item>" % (i, i, guid, body)
    )


def feed(*items: bytes, prolog: bytes = b"") -> bytes:
    return HEAD + prolog + RSS + b"<title>Hostile</title>" + b"".join(items) + END


def normal(size: int) -> bytes:
    """A WordPress-like feed of 10 posts of ~4 KB each (the normal case)."""
    para = b"<p>" + b"words of a blog post " * 50 + b'<a href="http://127.0.0.1:8080/x/">x</a></p>'
    return feed(*(item(i, para * 4) for i in range(10)))


def laughs(size: int) -> bytes:
    """Billion laughs, the declarations not at the start of a line (feedparser keeps them)."""
    decl = b'<!DOCTYPE rss [<!ENTITY a "' + b"ha" * 500 + b'">'
    for level in "bcdefgh":
        prev = chr(ord(level) - 1).encode()
        decl += b"<!ENTITY " + level.encode() + b' "' + (b"&" + prev + b";") * 10 + b'">'
    decl += b"]>"
    return feed(item(1, b"&h;", guid=b"&h;"), item(2), prolog=decl)


def wide_entity(size: int) -> bytes:
    """One big "safe" entity (no & in it) referenced as often as the size allows."""
    value = b"x" * (size // 2)
    refs = b"&w;" * ((size // 2) // 3)
    return feed(item(1, refs), item(2), prolog=b'<!DOCTYPE rss [<!ENTITY w "' + value + b'">]>')


def utf16_laughs(size: int) -> bytes:
    text = laughs(size).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    return text.encode("utf-16")


def huge_entry(size: int) -> bytes:
    """One post of the whole size, markup included."""
    para = b"<p>" + b"a long, long post " * 40 + b"</p>\n"
    return feed(item(1, para * (size // len(para))), item(2))


def huge_key(size: int) -> bytes:
    """A guid of the whole size (the 90 MB key attempt without entities)."""
    return feed(item(1, guid=b"k" * (size - 600)), item(2))


def huge_title(size: int) -> bytes:
    title = b"&lt;script" * (size // 12)  # markup in the title: the text extraction's worst case
    return HEAD + RSS + b"<title>" + title + b"</title>" + item(1) + item(2) + END


def huge_attribute(size: int) -> bytes:
    attr = b"<source url='" + b"u" * (size - 600) + b"'>s</source>"
    return feed(item(1).replace(b"</item>", attr + b"</item>"), item(2))


def many_attributes(size: int) -> bytes:
    attrs = b"".join(b' a%d="v"' % i for i in range(size // 12))
    return feed(item(1).replace(b"<item>", b"<item" + attrs + b">"), item(2))


def deep_nesting(size: int) -> bytes:
    depth = size // 8
    return feed(item(1).replace(b"</item>", b"<x>" * depth + b"</x>" * depth + b"</item>"), item(2))


def deep_html(size: int) -> bytes:
    depth = size // 8
    return feed(item(1, b"<b>" * depth + b"deep" + b"</b>" * depth), item(2))


def many_elements(size: int) -> bytes:
    """Empty elements in one item, 4 bytes each."""
    return feed(item(1).replace(b"</item>", b"<a/>" * (size // 4) + b"</item>"), item(2))


def broken_many_elements(size: int) -> bytes:
    """The same after an XML error, for feedparser's loose parser."""
    broken = item(1).replace(b"</title>", b" AT&T</title>")  # a bare & outside CDATA
    return feed(broken.replace(b"</item>", b"<a/>" * (size // 4) + b"</item>"), item(2))


def tiny_items(size: int) -> bytes:
    """As many minimal items as fit: 50,000 at 5 MB."""
    one = b"<item><guid>g%d</guid><title>t</title></item>"
    return feed(*(one % i for i in range(min(50_000, size // 50))))


def image_tags(size: int) -> bytes:
    """Unclosed <img tags: the image lookup's worst case."""
    return feed(item(1, b"<img " * (size // 5)), item(2))


def invalid_utf8(size: int) -> bytes:
    junk = bytes(range(128, 256)) * (size // 256)
    return feed(item(1, junk), item(2))


def loose_parser(size: int) -> bytes:
    """Broken XML (an unescaped & early on): feedparser falls back to its loose parser."""
    para = b"<p>" + b"<i>x</i> " * 40 + b"</p>"
    items = [item(1).replace(b"</title>", b" AT&T</title>")]
    while sum(map(len, items)) < size - 1000:
        items.append(item(len(items) + 1, para))
    return feed(*items)


def garbage(size: int) -> bytes:
    return bytes((i * 7919) % 251 for i in range(size))


def comment_feed(size: int) -> bytes:
    """A comment feed whose one comment is the whole size."""
    para = b"<p>" + b"a long comment " * 40 + b"</p>\n"
    return feed(
        b"<item><title>By: Someone</title><link>http://127.0.0.1:8080/a/#comment-7</link>"
        b"<description><![CDATA[" + para * (size // len(para)) + b"]]></description></item>"
    )


CASES = {
    "normal": normal,
    "laughs": laughs,
    "wide_entity": wide_entity,
    "utf16_laughs": utf16_laughs,
    "huge_entry": huge_entry,
    "huge_key": huge_key,
    "huge_title": huge_title,
    "huge_attribute": huge_attribute,
    "many_attributes": many_attributes,
    "deep_nesting": deep_nesting,
    "deep_html": deep_html,
    "many_elements": many_elements,
    "broken_many_elements": broken_many_elements,
    "tiny_items": tiny_items,
    "image_tags": image_tags,
    "invalid_utf8": invalid_utf8,
    "loose_parser": loose_parser,
    "garbage": garbage,
    "comment_feed": comment_feed,
}


def _parse(name: str, body: bytes, known: frozenset[str]) -> str:
    try:
        if name == "comment_feed":
            return f"{len(parse_comment_feed(body, URL))} comments"
        parsed = parse_feed(body, URL, known)
        return f"{len(parsed.entries)} entries"
    except (FeedParseError, WordPressError) as exc:
        return f"refused: {str(exc)[:60]}"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(name: str, mb: float, known_path: bool) -> dict:
    body = CASES[name](int(mb * 1024 * 1024))
    known = frozenset()
    if known_path:
        # a followed feed: the even items are known, so the pre-scan decides what to parse
        try:
            keys = [e.key for e in parse_feed(body, URL).entries]
        except FeedParseError:  # refused bodies and comment feeds: known keys change nothing
            keys = []
        known = frozenset(keys[::2]) or frozenset({"a key the feed does not have"})
    before = _rss_mib()
    start = time.perf_counter()
    outcome = _parse(name, body, known)
    ms = (time.perf_counter() - start) * 1000
    rss = _rss_mib() - before
    tracemalloc.start()
    _parse(name, body, known)
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"ms": ms, "rss": rss, "traced": traced, "size": len(body), "outcome": outcome}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=5.0)
    ap.add_argument("--only")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per case")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--known", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.mb, args.known)))
        return
    names = [args.only] if args.only else list(CASES)
    header = f"{'body':16} {'size MB':>8} {'path':>6} {'ms':>9} {'RSS +MiB':>9} {'traced MiB':>11}"
    print(header + "  outcome")
    worst_rss = worst_ms = 0.0
    for name in names:
        for known in (False, True):
            cmd = [sys.executable, __file__, "--child", name, "--mb", str(args.mb)]
            try:
                out = subprocess.run(
                    cmd + (["--known"] if known else []), capture_output=True, timeout=args.timeout
                )
            except subprocess.TimeoutExpired:
                print(f"{name:16} still parsing after {args.timeout:.0f} s", flush=True)
                continue
            if out.returncode:
                print(f"{name:16} FAILED: {out.stderr.decode()[-500:]}")
                continue
            r = json.loads(out.stdout)
            path = "poll" if known else "cold"
            print(
                f"{name:16} {r['size'] / 2**20:8.2f} {path:>6} {r['ms']:9.1f} {r['rss']:9.1f}"
                f" {r['traced']:11.1f}  {r['outcome']}",
                flush=True,
            )
            if name != "normal":
                worst_rss, worst_ms = max(worst_rss, r["rss"]), max(worst_ms, r["ms"])
    print(f"worst hostile body: {worst_ms:.0f} ms, RSS +{worst_rss:.1f} MiB")


if __name__ == "__main__":
    main()
