"""Do the faster feed parsers give the entries Gazette's feedparser path gives?

    python bench/compare_parsers.py [--repeat 5] [--samples ../shared/samples]

For every feed of the samples directory (feeds only: its REST JSON, WXR and HTML are not
feeds), the repo's fixtures, the farm's feed (bench/farm.py) and the hostile bodies of
bench/bench_hostile_parse.py (at 0.2 MB), each parser's result is read into Entry objects the
way Gazette reads feedparser's (bot.feeds._to_entry, so caps and link/image/date rules are the
same), then compared field by field with the current path (bot.feeds._full: feedparser).

Columns, per parser: "same" is the number of Entry fields identical on every entry (of 13),
"differs" names the others ("n" when the entry count differs, "-" when the parser refused or
failed, "x" when it gave nothing comparable); "speed" is feedparser's time / that parser's
time, on the same bytes in the same run (> 1: faster). "fast path" says whether
bot.feeds would take the feedparser-rs path (its guards and consistency check passed).
The machine is shared: times are noisy, ratios less so.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_hostile_parse import CASES  # noqa: E402
from farm import feed_xml  # noqa: E402

try:  # not a dependency of Gazette: compared when installed (pip install fastfeedparser)
    import fastfeedparser
except ImportError:
    fastfeedparser = None

from bot import feeds  # noqa: E402
from bot.feeds import FeedParseError, _feed_base, _full, _rs_parse, _to_entry  # noqa: E402
from bot.models import Entry, ParsedFeed  # noqa: E402
from bot.text import squash_spaces  # noqa: E402

URL = "https://blog.example/feed/"
FIELDS = [f.name for f in dataclasses.fields(Entry) if f.compare]
FEED_SUFFIXES = (".rss", ".atom", ".xml", ".rdf")


def _ffp_parse(data: bytes, url: str) -> ParsedFeed:
    """fastfeedparser (bytes only: given a str that looks like a URL it fetches it)."""
    d = fastfeedparser.parse(bytes(data))
    base, site_url = _feed_base(url, d.feed.get("link"))
    entries = []
    for e in d.entries:
        fp = dict(e)
        fp.setdefault("summary", e.get("description", ""))
        fp["title_detail"] = {"type": "text/plain"}
        fp.setdefault("author_detail", {"name": e.get("author")})
        entry = _to_entry(fp, base, None)
        if entry is not None:
            entries.append(entry)
    title = squash_spaces(d.feed.get("title") or "")
    return ParsedFeed(title=title, site_url=site_url, entries=entries)


def _feedparser(data: bytes, url: str) -> ParsedFeed:
    return _full(data, url, ())


def _rs_raw(data: bytes, url: str) -> ParsedFeed:
    """feedparser-rs read the way bot.feeds reads it (its quirk-replaying adapter), without
    the guards that send doubtful feeds to feedparser (the "fast path" column has those)."""
    try:
        parsed = _rs_parse(data, url, feeds._scan(data))
    except feeds._Unsure:
        parsed = None
    if parsed is None:
        raise ValueError("not exact by its own checks (class, well-formedness, keys, links)")
    return parsed


PARSERS = {"feedparser-rs": _rs_raw}
if fastfeedparser is not None:
    PARSERS["fastfeedparser"] = _ffp_parse


def corpus(samples: Path | None) -> list[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    if samples and samples.is_dir():
        files += [
            (f"samples/{path.relative_to(samples)}", path.read_bytes())
            for path in sorted(samples.rglob("*"))
            if path.suffix in FEED_SUFFIXES and path.parent.name.startswith("feeds")
        ]
    files += [
        (f"fixtures/{path.name}", path.read_bytes())
        for path in sorted((ROOT / "tests" / "fixtures" / "feeds").glob("*"))
    ]
    files.append(("farm/feed-1 (10 x 4 KB)", feed_xml(1, 10, "127.0.0.1:8080")))
    for name, make in CASES.items():
        if name != "comment_feed":
            files.append((f"hostile/{name}", make(200 * 1024)))
    return files


def timed(fn, data: bytes, repeat: int):
    best = float("inf")
    result = error = None
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            result = fn(feeds._prepare(data), URL)
        except Exception as exc:  # noqa: BLE001 - any failure is a row of the table
            error = exc
        best = min(best, time.perf_counter() - start)
    return result, error, best


def diff(ref: ParsedFeed, other: ParsedFeed) -> tuple[int, list[str]]:
    if len(ref.entries) != len(other.entries):
        return 0, ["n"]
    pairs = list(zip(ref.entries, other.entries, strict=True))
    differing = [f for f in FIELDS if any(getattr(a, f) != getattr(b, f) for a, b in pairs)]
    if ref.title != other.title:
        differing.append("feed.title")
    if ref.site_url != other.site_url:
        differing.append("feed.site")
    return len(FIELDS) - len([d for d in differing if not d.startswith("feed.")]), differing


def _failure(exc: Exception | None) -> str:
    if exc is None:
        return "x"
    return "declined" if isinstance(exc, ValueError) else type(exc).__name__


def _parse_only(data: bytes, repeat: int) -> str:
    data = feeds._prepare(data)
    try:
        _, error, t_fp = timed(lambda d, _u: feeds.parse_document(d), data, repeat)
        _, rs_error, t_rs = timed(
            lambda d, _u: feeds.feedparser_rs.parse_with_limits(
                bytes(d), limits=feeds._RS_LIMITS, sanitize_html=False, resolve_relative_uris=False
            ),
            data,
            repeat,
        )
    except FeedParseError:
        return ""
    return "" if error or rs_error else f"{t_fp / t_rs:.0f}x"


def fast_path_taken(data: bytes) -> str:
    try:
        return "yes" if feeds._rs_full(feeds._prepare(data), URL, frozenset()) else "no"
    except FeedParseError:
        return "refused"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--samples", type=Path, default=ROOT.parent.parent / "shared" / "samples")
    ap.add_argument("--verbose", action="store_true", help="print the first differing values")
    args = ap.parse_args()
    rows = []
    for name, data in corpus(args.samples):
        ref, error, t_ref = timed(_feedparser, data, args.repeat)
        n = len(ref.entries) if not error else 0
        row = [name, str(n) if not error else "-", f"{t_ref / n * 1e6:.0f}" if n else ""]
        for parser in PARSERS.values():
            got, perr, t = timed(parser, data, args.repeat)
            if error or perr or got is None:
                row += ["-", _failure(perr), ""]
                continue
            same, differing = diff(ref, got)
            row += [f"{same}/{len(FIELDS)}", ",".join(differing) or "none", f"{t_ref / t:.0f}x"]
            if args.verbose and differing and differing != ["n"]:
                for a, b in zip(ref.entries, got.entries, strict=True):
                    for f in differing:
                        if not f.startswith("feed.") and getattr(a, f) != getattr(b, f):
                            va, vb = repr(getattr(a, f))[:90], repr(getattr(b, f))[:90]
                            print(f"  {name} {parser.__name__} {f}: {va} != {vb}")
                            break
        row.append(fast_path_taken(data))
        row.append(_parse_only(data, args.repeat))
        rows.append(row)
    head = ["file", "entries", "fp us/entry"]
    for p in PARSERS:
        head += [f"{p} same", "differs", "speed"]
    head += ["fast path", "parse only"]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(f"{len(FIELDS)} Entry fields: {', '.join(FIELDS)}.")
    print("speed: feedparser path time / that parser's path time, Entry building included;")
    print("parse only: feedparser.parse / feedparser_rs.parse alone (Gazette's settings); both")
    print("best of --repeat runs on the same bytes in this process (higher is faster).")
    print("'declined': the feedparser-rs reading declined the file (not RSS 2.0/Atom 1.0, not")
    print("well-formed, or disagreeing with the pre-scan); 'x': no comparable result.")


if __name__ == "__main__":
    main()
