"""bot.feeds' feedparser-rs path: the same entries as feedparser wherever it is taken, and
the same guarantees (bytes only, never a path or URL; entities refused before it runs)."""

from __future__ import annotations

import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import feeds
from bot.feeds import FeedParseError, FeedRefused, parse_feed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from farm import feed_xml  # noqa: E402

from tests.test_parse_properties import SETTINGS  # noqa: E402
from tests.test_parse_properties import feeds as feeds_strategy  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
SAMPLES = Path("/work/shared/samples")
SAMPLE_FILES = sorted(SAMPLES.glob("feeds-*/*")) if SAMPLES.is_dir() else []
URL = "http://127.0.0.1:8080/feed/"
FEED = (
    b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>SECRET</title>'
    b"<item><title>SECRET</title><link>https://blog.example/a/</link></item></channel></rss>"
)


NO_BASE = re.compile(rb' xml:base="[^"]*"')


def test_wordpress_atom_sets_xml_base_and_is_read_by_feedparser():
    fast, slow = both_paths((FIXTURES / "wordpress.atom").read_bytes())
    assert fast is None and slow.entries


def both_paths(body: bytes):
    """(feedparser-rs result or None, feedparser's result) for one body."""
    data = feeds._prepare(body)
    return feeds._rs_full(data, URL, frozenset()), feeds._full(data, URL, ())


@pytest.mark.parametrize(
    "body",
    [pytest.param((FIXTURES / n).read_bytes(), id=n) for n in ("wordpress.rss", "seed-article.rss")]
    # WordPress's Atom sets xml:base (read by feedparser, below); Atom without it
    + [pytest.param(NO_BASE.sub(b"", (FIXTURES / "wordpress.atom").read_bytes()), id="atom")]
    + [pytest.param(feed_xml(3, 12, "127.0.0.1:9"), id="farm")],
)
def test_wordpress_rss_and_atom_take_the_fast_path_with_identical_entries(body):
    fast, slow = both_paths(body)
    assert fast is not None  # the class this path is for
    assert fast == slow and fast.entries


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*")), ids=lambda p: p.name)
def test_every_fixture_reads_the_same_whichever_path(path):
    try:
        fast, slow = both_paths(path.read_bytes())
    except FeedParseError:
        return  # refused or not a feed: parse_feed says so through feedparser
    assert fast is None or fast == slow


@pytest.mark.skipif(not SAMPLE_FILES, reason="no /work/shared/samples")
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_sample_reads_the_same_whichever_path(path):
    try:
        fast, slow = both_paths(path.read_bytes())
    except FeedParseError:
        return
    assert fast is None or fast == slow


def test_known_entries_are_left_out_on_the_fast_path():
    body = (FIXTURES / "wordpress.rss").read_bytes()
    keys = [e.key for e in parse_feed(body, URL).entries]
    assert [e.key for e in parse_feed(body, URL, set(keys[1:])).entries] == keys[:1]
    assert parse_feed(body, URL, set(keys)).entries == []


@pytest.mark.parametrize(
    "quirk",
    [
        b"<content:encoded>a&#13;b</content:encoded>",  # a reference to CR: kept by feedparser
        b"<atom:updated>2024-05-01T10:00:00Z</atom:updated>",  # an RSS item's own update date
        b'<enclosure url="https://e.example/i.jpg?a=1&amp;b=2" type="image/jpeg" length="1"/>',
    ],
)
def test_what_feedparser_rs_reads_differently_goes_to_feedparser(quirk):
    body = FEED.replace(b"</item>", quirk + b"</item>").replace(
        b"<rss ",
        b'<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        b'xmlns:atom="http://www.w3.org/2005/Atom" ',
    )
    fast, slow = both_paths(body)
    assert fast is None and slow.entries


def test_entities_are_refused_before_feedparser_rs_runs(monkeypatch):
    def never(*_):
        raise AssertionError("feedparser-rs was given a document declaring entities")

    monkeypatch.setattr(feeds.feedparser_rs, "parse", never)
    body = FEED.replace(b"<rss", b'<!DOCTYPE rss [<!ENTITY a "x">]><rss', 1)
    with pytest.raises(FeedRefused):
        parse_feed(body, URL)


@pytest.fixture
def http_hits():
    """A server on 127.0.0.1 that serves FEED and records every request it gets."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(FEED)

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_a_body_that_is_a_url_or_path_is_never_fetched_or_opened(http_hits, tmp_path):
    # feedparser-rs fetches a str that looks like a URL, from Rust (no Python audit event):
    # Gazette gives it bytes only, so such a body is text that is not a feed
    base, hits = http_hits
    secret = tmp_path / "secret.xml"
    secret.write_bytes(FEED)
    for body in (
        f"{base}/x".encode(),
        f"{base}/feed/".encode(),
        str(secret).encode(),
        f"file://{secret}".encode(),
        b"/etc/passwd",
    ):
        for known in ((), {"a known key"}):
            with pytest.raises(FeedParseError):
                parse_feed(body, URL, known)
        assert feeds._rs_full(body, URL, ()) is None
    assert hits == []
    assert parse_feed(secret.read_bytes(), URL).title == "SECRET"  # the file is a feed


def test_an_item_over_feedparser_rs_default_limits_reads_whole():
    # 150 categories: feedparser-rs keeps 100 unless told
    cats = b"".join(b"<category>c%d</category>" % i for i in range(150))
    item = b"<item><title>t</title><link>https://blog.example/t</link>%s</item>" % cats
    fast, slow = both_paths(FEED.replace(b"<item>", item + b"<item>", 1))
    assert fast is not None and fast == slow
    assert len(fast.entries[0].categories) == 50  # our cap


def test_a_long_feed_goes_to_feedparser_and_reads_whole():
    # 12,000 items (feedparser-rs keeps 10,000 unless told): far over the size one
    # feedparser-rs call may hold the event loop for, so feedparser reads it, every item
    items = b"".join(
        b"<item><title>t%d</title><link>https://blog.example/%d</link></item>" % (i, i)
        for i in range(12_000)
    )
    body = FEED.replace(b"<item>", items + b"<item>", 1)
    assert len(body) > feeds.RS_MAX_BYTES
    fast, slow = both_paths(body)
    assert fast is None and len(slow.entries) == 12_001
    assert len(parse_feed(body, URL).entries) == 12_001


@pytest.mark.parametrize(
    "title, item",
    [
        # elements inside an RSS field: feedparser writes them back as markup
        (b"T", b"<title>a <b>x</b> c</title><description>hi <p>para<br/></p></description>"),
        # UTF-8 read as latin-1 (mojibake in the bytes): feedparser re-decodes it
        (b"F\xc3\x83\xc2\xb3rmula", b"<title>F\xc3\x83\xc2\xb3rmula \xe2\x80\x99</title>"),
        (b"Caf\xc3\xa9", b"<title>Caf\xc3\xa9</title><author>bob@x.example (Bob)</author>"),
        (b"T", b"<title>x</title><author>Bob (Robert)</author>"),
        (
            b"T",
            b'<media:group><media:content url="https://e.example/a.jpg" medium="image"/>'
            b"</media:group><comments>https://e.example/c</comments>",
        ),
    ],
)
def test_fields_feedparser_reads_its_own_way_come_out_the_same(title, item):
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        b'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>%s</title><item>%s'
        b"<link>https://e.example/a</link></item></channel></rss>" % (title, item)
    )
    fast, slow = both_paths(body)
    assert fast is None or fast == slow
    assert parse_feed(body, URL) == slow


# text an XML document can hold, odd on purpose: markup-like, entities, CR LF, non-ASCII,
# mojibake, cp1252 code points, e-mail-like authors
XML_TEXT = st.lists(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from(["<b>", "&amp;", "&", "\r\n", "\r", "\n", " ", "@", "(x)", "Ã³", "\x85"]),
    max_size=12,
).map("".join)
DATES = st.sampled_from(
    ["Mon, 06 May 2024 10:00:00 +0000", "2024-05-06T10:00:00Z", "Sun, 10 Dec 17", "1714989600",
     "2020/1/10 14:33:00", "yesterday", ""]
)  # fmt: skip
LINKS = st.sampled_from(
    ["https://blog.example/a?x=1&y=2", "/relative/p", "http://127.0.0.1:8080/p/1/", "", "tag:x"]
)


def text_node(value: str, cdata: bool) -> str:
    if cdata and "]]>" not in value:
        return f"<![CDATA[{value}]]>"
    return escape(value)


@st.composite
def well_formed_feeds(draw) -> bytes:
    """Well-formed RSS 2.0 or Atom 1.0 with odd field values: the documents the
    feedparser-rs path is for."""
    atom = draw(st.booleans())
    items = []
    for i in range(draw(st.integers(1, 4))):
        f = {k: draw(XML_TEXT) for k in ("title", "summary", "content", "author", "cat")}
        node = {k: text_node(v, draw(st.booleans())) for k, v in f.items()}
        link = escape(draw(LINKS), {'"': "&quot;"})
        date = draw(DATES)
        guid = draw(st.sampled_from(["", f"https://blog.example/?p={i}", f"id-{i}"]))
        if atom:
            items.append(
                f"<entry><title type='{draw(st.sampled_from(['text', 'html']))}'>{node['title']}"
                f'</title><link rel="alternate" href="{link}/{i}"/>'
                + (f"<id>{guid}</id>" if guid else "")
                + f"<published>{date}</published><updated>{draw(DATES)}</updated>"
                f"<author><name>{node['author']}</name></author>"
                f'<category term="{escape(f["cat"].replace("&", "+"), {chr(34): "&quot;"})}"/>'
                f"<summary type='html'>{node['summary']}</summary>"
                f"<content type='html'>{node['content']}</content></entry>"
            )
        else:
            items.append(
                f"<item><title>{node['title']}</title>"
                + (f"<link>{escape(link)}{i}</link>" if draw(st.booleans()) else "")
                + (f'<guid isPermaLink="{draw(st.sampled_from(["true", "false"]))}">{guid}</guid>'
                   if guid else "")
                + f"<pubDate>{date}</pubDate><dc:creator>{node['author']}</dc:creator>"
                f"<category>{node['cat']}</category><description>{node['summary']}</description>"
                f"<content:encoded>{node['content']}</content:encoded>"
                f"<wfw:commentRss>{escape(link)}{i}/feed/</wfw:commentRss>"
                f'<enclosure url="https://cdn.example/{i}.jpg" type="image/jpeg" length="1"/>'
                "</item>"
            )  # fmt: skip
    title = text_node(draw(XML_TEXT), draw(st.booleans()))
    if atom:
        doc = (
            f'<feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>'
            f'<link rel="alternate" href="https://blog.example/"/>{"".join(items)}</feed>'
        )
    else:
        doc = (
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:wfw="http://wellformedweb.org/CommentAPI/"><channel>'
            f"<title>{title}</title><link>https://blog.example/</link>"
            f"{''.join(items)}</channel></rss>"
        )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + doc).encode()


@SETTINGS
@given(well_formed_feeds())
def test_odd_values_in_well_formed_feeds_read_the_same_or_go_to_feedparser(body):
    data = feeds._prepare(body)
    fast = feeds._rs_full(data, URL, frozenset())
    if fast is not None:
        assert fast == feeds._full(data, URL, ())


@SETTINGS
@given(feeds_strategy())
def test_odd_feed_shaped_documents_read_the_same_or_go_to_feedparser(body):
    try:
        data = feeds._prepare(body)
        fast = feeds._rs_full(data, URL, frozenset())
    except FeedParseError:
        with pytest.raises(FeedParseError):  # refused by the guards: feedparser refuses too
            feeds._full(feeds._prepare(body), URL, ())
        return
    if fast is not None:
        assert fast == feeds._full(data, URL, ())
