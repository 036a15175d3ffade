"""bot.feeds: real-world samples, hand-written fixtures, and the known-entries fast path."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.feeds import FeedParseError, entry_key, parse_feed

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
SAMPLES = Path("/work/shared/samples")
SAMPLE_FILES = sorted(SAMPLES.glob("feeds-*/*")) if SAMPLES.is_dir() else []
WP_FILES = [p for p in SAMPLE_FILES if p.parent.name == "feeds-wordpress"]
URL = "http://127.0.0.1:8080/feed/"

# Sample files that are not usable feeds, with the reason the parser must give.
# Broken XML that yields no entry is an error (a feed going bad must not look empty).
NOT_FEEDS: dict[str, str] = {"incomplete-cdata_SYNTHETIC.rss": "malformed XML"}
EMPTY_OK: set[str] = set()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def ids(paths):
    return [p.name for p in paths]


needs_samples = pytest.mark.skipif(not SAMPLE_FILES, reason="no /work/shared/samples")


# --------------------------------------------------------------------------- samples


@needs_samples
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=ids(SAMPLE_FILES))
def test_sample_parses_or_says_why(path: Path):
    body = path.read_bytes()
    if path.name in NOT_FEEDS:
        with pytest.raises(FeedParseError, match=NOT_FEEDS[path.name]):
            parse_feed(body, URL)
        return
    feed = parse_feed(body, URL)
    assert feed.title
    if path.name not in EMPTY_OK:
        assert feed.entries
    keys = [e.key for e in feed.entries]
    assert len(keys) == len(set(keys)), "keys must be unique within a feed"
    for e in feed.entries:
        assert e.title == e.title.strip() and "\n" not in e.title and "  " not in e.title
        if e.link:
            assert e.link.startswith(("http://", "https://")), e.link
        if e.image_url:
            assert e.image_url.startswith(("http://", "https://")), e.image_url


@needs_samples
@pytest.mark.parametrize("path", WP_FILES, ids=ids(WP_FILES))
def test_wordpress_sample_entries_are_complete(path: Path):
    body = path.read_bytes()
    feed = parse_feed(body, URL)
    assert feed.entries and feed.site_url
    has_dates = b"<pubDate>" in body or b"<published>" in body
    for e in feed.entries:
        assert e.link and e.link.startswith("http")
        assert e.summary_html or e.content_html
        if has_dates:
            assert e.published_at and e.published_at > 1e9
        assert e.author
    if b"?p=" in body:
        assert any(e.wp_id for e in feed.entries)
    if b"wfw:commentRss" in body:
        assert any(e.comments_feed for e in feed.entries)


@needs_samples
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=ids(SAMPLE_FILES))
def test_fast_path_gives_the_same_new_entries(path: Path):
    """known_keys = all / half / none: same result as filtering a full parse."""
    if path.name in NOT_FEEDS:
        pytest.skip("not a feed")
    assert_fast_path_equivalent(path.read_bytes())


def assert_fast_path_equivalent(body: bytes) -> None:
    full = parse_feed(body, URL)
    keys = [e.key for e in full.entries]
    cases = {
        "none": set(),
        "all": set(keys),
        "even": set(keys[::2]),
        "odd": set(keys[1::2]),
        "all but the newest": set(keys[1:]),
        "unrelated": {"http://elsewhere.invalid/?p=1"},
    }
    for label, known in cases.items():
        got = parse_feed(body, URL, known)
        want = [e for e in full.entries if e.key not in known]
        assert got.entries == want, label
        assert got.title == full.title, label
        assert got.site_url == full.site_url, label


def test_gb2312_sample_is_decoded():
    path = SAMPLES / "feeds-tricky" / "gb2312-encoding_slash-dates.rss"
    if not path.exists():
        pytest.skip("no sample")
    feed = parse_feed(path.read_bytes(), URL)
    assert "纪念币" in feed.title
    assert all(e.published_at for e in feed.entries)  # '2020/1/10 14:33:00'


def test_cdata_pubdate_with_trailing_space():
    path = SAMPLES / "feeds-tricky" / "livemint_cdata-pubdate.rss"
    if not path.exists():
        pytest.skip("no sample")
    first = parse_feed(path.read_bytes(), URL).entries[0]
    assert first.published_at == 1559124960.0  # Wed, 29 May 2019 10:16:00 GMT
    assert first.author == "Elizabeth Roche"


def test_unescaped_ampersand_is_bozo_but_usable():
    path = SAMPLES / "feeds-tricky" / "unescaped-ampersand_SYNTHETIC.rss"
    if not path.exists():
        pytest.skip("no sample")
    feed = parse_feed(path.read_bytes(), URL)
    assert [e.title for e in feed.entries] == ["Good Item", "Bad Item", "Item After Error"]


# --------------------------------------------------------------------------- fixtures


def test_wordpress_rss_fixture():
    feed = parse_feed(fixture("wordpress.rss"), URL)
    assert feed.title == "Gazette Test Blog"
    assert feed.site_url == "http://127.0.0.1:8080"
    first, untitled, hello = feed.entries
    assert first.key == "http://127.0.0.1:8080/?p=42"
    assert first.title == "Café notes: a post with “quotes”"
    assert first.link == "http://127.0.0.1:8080/2024/05/cafe-notes/"
    assert first.author == "Ada Writer"
    assert first.published_at == 1715074200.0  # Tue, 07 May 2024 09:30:00 +0000
    assert first.categories == ["News", "coffee"]
    assert first.wp_id == 42
    assert first.comments_feed == "http://127.0.0.1:8080/2024/05/cafe-notes/feed/"
    assert first.summary_html.startswith("The short version")
    assert "<strong>bold</strong>" in first.content_html
    assert first.image_url == "http://127.0.0.1:8080/wp-content/uploads/2024/05/cup.jpg"
    assert untitled.title == "" and untitled.wp_id == 41
    assert untitled.published_at == 1715018400.0  # CDATA date with a trailing space
    assert hello.categories == ["Uncategorized"]


def test_leading_whitespace_and_bom_are_tolerated():
    body = fixture("wordpress.rss")
    assert body.startswith(b"\n")  # the fixture has the classic WordPress blank line
    clean = parse_feed(body.lstrip(), URL)
    for variant in (body, b"\xef\xbb\xbf" + body.lstrip(), b"\xef\xbb\xbf\r\n  " + body.lstrip()):
        assert parse_feed(variant, URL) == clean
        assert_fast_path_equivalent(variant)


def test_wordpress_atom_fixture():
    feed = parse_feed(fixture("wordpress.atom"), URL)
    assert feed.site_url == "http://127.0.0.1:8080"
    fish, hello = feed.entries
    assert fish.key == "http://127.0.0.1:8080/?p=43" and fish.wp_id == 43
    assert fish.title == "Fish & chips tonight"  # type="html" title: markup and entities gone
    assert fish.link == "http://127.0.0.1:8080/2024/05/fish-chips/"
    assert fish.published_at == 1715074200.0 and fish.updated_at == 1715076000.0
    assert fish.categories == ["Food", "fish"]
    assert fish.summary_html.startswith("Fish and chips")
    assert fish.content_html.startswith("<p>Fish.</p>")
    # relative to the content's xml:base
    assert fish.image_url == "http://127.0.0.1:8080/2024/05/fish-chips/wp-content/uploads/fish.png"
    assert hello.author == "admin"
    assert_fast_path_equivalent(fixture("wordpress.atom"))


def test_feed_without_guids():
    feed = parse_feed(fixture("no-guid.rss"), "https://feeds.example.org/rss")
    linked, bare, other = feed.entries
    assert linked.key == "/posts/linked.html"
    assert linked.link == "https://example.org/posts/linked.html"
    assert linked.image_url == "https://example.org/media/photo.jpg"  # enclosure image/jpeg
    assert bare.link is None and bare.key.startswith("sha1:")
    assert other.key == "https://example.org/posts/another.html?a=1&b=2"
    assert other.image_url == "https://example.org/pic.png"
    assert_fast_path_equivalent(fixture("no-guid.rss"))
    # the hash key is stable across fetches
    assert parse_feed(fixture("no-guid.rss"), URL).entries[1].key == bare.key


def test_changed_date_or_content_keeps_the_key():
    body = fixture("wordpress.rss")
    edited = body.replace(
        b"Tue, 07 May 2024 09:30:00 +0000</pubDate>", b"Wed, 08 May 2024 11:00:00 +0000</pubDate>"
    )
    edited = edited.replace(b"The long version", b"The edited, longer version")
    assert edited != body
    before = parse_feed(body, URL).entries[0]
    after = parse_feed(edited, URL).entries[0]
    assert after.published_at != before.published_at
    assert after.key == before.key
    # and with every key known, the edit does not make it new
    known = {e.key for e in parse_feed(body, URL).entries}
    assert parse_feed(edited, URL, known).entries == []


def test_new_item_on_top_is_the_only_new_entry():
    body = fixture("wordpress.rss")
    known = {e.key for e in parse_feed(body, URL).entries}
    new_item = b"""<item>
		<title>Brand new</title>
		<link>http://127.0.0.1:8080/2024/05/brand-new/</link>
		<pubDate>Wed, 08 May 2024 12:00:00 +0000</pubDate>
		<guid isPermaLink="false">http://127.0.0.1:8080/?p=44</guid>
		<description><![CDATA[New!]]></description>
	</item>
	<item>"""
    grown = body.replace(b"<item>", new_item, 1)
    feed = parse_feed(grown, URL, known)
    assert [e.key for e in feed.entries] == ["http://127.0.0.1:8080/?p=44"]
    assert feed.entries[0].title == "Brand new"
    assert feed.title == "Gazette Test Blog"
    assert_fast_path_equivalent(grown)


def test_entry_key_rules():
    assert entry_key(" guid ", "http://x/", "t", "d") == "guid"
    assert entry_key("", "http://x/", "t", "d") == "http://x/"
    hashed = entry_key(None, None, "A  title", "Mon, 01 Jan 2024")
    assert hashed == entry_key(None, "", "A title", "Mon, 01 Jan 2024")
    assert hashed != entry_key(None, None, "A title", "Tue, 02 Jan 2024")


# --------------------------------------------------------------------------- not feeds


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"  \r\n\t ", "empty"),
        (b"\x00\x01garbage\xff", "not"),
        (b'{"posts": []}', "not"),
        (b"<?xml version='1.0'?><config><item>1</item></config>", "not"),
    ],
)
def test_not_a_feed(body: bytes, reason: str):
    with pytest.raises(FeedParseError, match=reason):
        parse_feed(body, URL)
    with pytest.raises(FeedParseError):
        parse_feed(body, URL, {"some-key"})


def test_html_page_is_not_a_feed():
    with pytest.raises(FeedParseError, match="HTML page"):
        parse_feed(fixture("not-a-feed.html"), URL)


def test_empty_but_valid_feed():
    feed = parse_feed(b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>', URL)
    assert feed.title == "Quiet" and feed.entries == []


# --------------------------------------------------------------------------- the fast path itself


class CountingFeedparser:
    """Wraps bot.feeds.parse_document to record the documents feedparser is given."""

    def __init__(self, real):
        self.real = real
        self.docs: list[bytes] = []

    def __call__(self, data: bytes):
        self.docs.append(data)
        return self.real(data)


@pytest.fixture
def fp_calls(monkeypatch):
    import bot.feeds

    counter = CountingFeedparser(bot.feeds.parse_document)
    monkeypatch.setattr(bot.feeds, "parse_document", counter)
    # these tests are about feedparser's own fast path (the fallback of feedparser-rs)
    monkeypatch.setattr(bot.feeds, "_rs_full", lambda *_: None)
    return counter


def test_known_entries_skip_feedparser(fp_calls):
    body = fixture("wordpress.rss")
    keys = [e.key for e in parse_feed(body, URL).entries]
    fp_calls.docs.clear()

    unchanged = parse_feed(body, URL, set(keys))
    assert unchanged.entries == [] and unchanged.title == "Gazette Test Blog"
    assert fp_calls.docs == []  # all known: feedparser never runs

    changed = parse_feed(body, URL, set(keys[1:]))
    assert [e.key for e in changed.entries] == keys[:1]
    (doc,) = fp_calls.docs
    assert doc.count(b"<item>") == 1 and b"?p=42" in doc  # only the new item...
    assert b"<title>Gazette Test Blog</title>" in doc  # ...and the channel title/link
    assert b"lastBuildDate" not in doc and b"?p=41" not in doc


def test_tricky_rss_fast_path(fp_calls):
    body = fixture("tricky.rss")
    feed = parse_feed(body, URL)
    guid, relative, two_links, spaced = feed.entries
    assert feed.title == "Channel title after the items"  # channel elements after items
    assert guid.key == "tag:blog.example,2024:a&b"
    assert guid.link == "https://blog.example/a?x=1&y=2"
    assert "<item>" in guid.summary_html  # CDATA talking about tags is just text
    assert relative.key == "/?p=7" and relative.link == "https://blog.example/?p=7"
    assert relative.image_url == "https://cdn.example/a.jpg"
    assert two_links.key == "https://blog.example/second"  # the last link wins, as feedparser
    assert spaced.key == "https://blog.example/spaced" and spaced.title == "Whitespace everywhere"
    assert spaced.image_url == "https://blog.example/thumbs/t.png"
    fp_calls.docs.clear()
    assert parse_feed(body, URL, {e.key for e in feed.entries}).entries == []
    assert fp_calls.docs == []  # the pre-scan understood this feed
    assert_fast_path_equivalent(body)


def test_relative_ids_under_xml_base_fall_back(fp_calls):
    body = fixture("atom-relative.atom")
    feed = parse_feed(body, URL)
    first, second = feed.entries
    assert first.key == "https://site.example/blog/posts/1"  # resolved by xml:base
    assert first.link == "https://site.example/blog/posts/1.html"
    assert first.author == second.author == "Feed Author"  # inherited from the feed
    assert "<b>content</b>" in first.content_html
    assert first.image_url == "https://site.example/blog/img/1.png"
    assert second.image_url == "https://cdn.example/2.png"  # enclosure image/png
    assert second.published_at == 1714631400.0
    assert feed.title == "A <b>relative</b> Atom feed"  # escaped markup is text
    fp_calls.docs.clear()
    assert parse_feed(body, URL, {first.key, second.key}).entries == []
    assert len(fp_calls.docs) == 1  # the pre-scan could not be sure: full parse
    assert_fast_path_equivalent(body)


def test_item_without_identity_falls_back():
    first_item = b"<item>\n    <title>Guid"
    body = fixture("tricky.rss").replace(
        first_item, b"<item><title>Bare</title></item>" + first_item
    )
    feed = parse_feed(body, URL)
    assert feed.entries[0].key.startswith("sha1:") and feed.entries[0].title == "Bare"
    assert_fast_path_equivalent(body)


def test_duplicate_guids_fall_back():
    body = fixture("wordpress.rss").replace(b"?p=41</guid>", b"?p=42</guid>")
    full = parse_feed(body, URL)
    assert [e.key for e in full.entries].count("http://127.0.0.1:8080/?p=42") == 2
    assert parse_feed(body, URL, {"http://127.0.0.1:8080/?p=42"}).entries == full.entries[2:]


@pytest.mark.parametrize(
    ("name", "old", "new", "title"),
    [
        (
            "wordpress.atom",
            b'<title type="text">Gazette Test Blog</title>',
            b'<title type="html">Fish &amp;amp; Chips &lt;em&gt;blog&lt;/em&gt;</title>',
            "Fish & Chips blog",
        ),
        (
            "wordpress.rss",
            b"<title>Gazette Test Blog</title>",
            b"<title>AT&amp;amp;T &amp; friends</title>",
            "AT&T & friends",
        ),
    ],
)
def test_feed_title_is_the_same_without_feedparser(fp_calls, name, old, new, title):
    body = fixture(name).replace(old, new)
    full = parse_feed(body, URL)
    assert full.title == title
    fp_calls.docs.clear()
    assert parse_feed(body, URL, {e.key for e in full.entries}).title == title
    assert fp_calls.docs == []
