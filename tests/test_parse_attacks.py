"""Each known attack on the parsers, one test apiece: a blog's bytes never reach the filesystem,
entity declarations are refused wherever they hide, and every stored field has its cap."""

from __future__ import annotations

import hashlib
import io
import sys

import pytest

from bot import limits
from bot.feeds import ENTITIES_REFUSED, FeedParseError, FeedRefused, parse_document, parse_feed
from bot.poller import SubscribeError
from bot.wordpress import (
    WordPressError,
    _Names,
    _post_to_entry,
    _rest_comment,
    parse_comment_feed,
)
from bot.wxr import WxrError, WxrReader
from tests.blog import Blog

URL = "http://127.0.0.1:8080/feed/"
GUILD, CHANNEL = 1, 10


def rss(*items: str, prolog: str = "", title: str = "A blog") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://127.0.0.1:8080/</link>{''.join(items)}"
        "</channel></rss>"
    ).encode()


def item(n: int, title: str = "", guid: str = "", body: str = "<p>Hello</p>") -> str:
    return (
        f"<item><title>{title or f'Post {n}'}</title><link>http://127.0.0.1:8080/p{n}/</link>"
        f"<guid>{guid or f'http://127.0.0.1:8080/?p={n}'}</guid>"
        f"<description><![CDATA[{body}]]></description></item>"
    )


def comment_item(cid: int, body: str = "<p>Nice post</p>") -> str:
    return (
        f"<item><title>By: Ann</title><link>http://127.0.0.1:8080/p1/#comment-{cid}</link>"
        f"<guid>http://127.0.0.1:8080/p1/#comment-{cid}</guid>"
        f"<pubDate>Mon, 08 Jan 2024 10:00:00 +0000</pubDate>"
        f"<description><![CDATA[{body}]]></description></item>"
    )


# Nested declarations that would grow 10 bytes into 10**7 (billion laughs, made smaller), on
# the DOCTYPE's own line: feedparser strips only declarations that start a line.
LAUGHS = (
    '<!DOCTYPE rss [<!ENTITY a "haha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
    '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>'
)


# --------------------------------------------------------------------------- no file is read


class OpenedFiles:
    """Records (and blocks) every open of the watched paths, through Python's audit hook."""

    def __init__(self) -> None:
        self.watched: set[str] = set()
        self.opened: list[str] = []

    def __call__(self, event: str, args: tuple) -> None:
        if event == "open" and self.watched and str(args[0]) in self.watched:
            self.opened.append(str(args[0]))
            raise PermissionError(f"a test refused opening {args[0]}")


_OPENS = OpenedFiles()
sys.addaudithook(_OPENS)  # hooks stay for the session: inert while nothing is watched


@pytest.fixture
def opens():
    yield _OPENS
    _OPENS.watched.clear()
    _OPENS.opened.clear()


@pytest.fixture
def secret_feed(tmp_path):
    """A file holding a valid feed and comment feed with a marker only this file contains."""
    path = tmp_path / "secret.xml"
    path.write_bytes(rss(comment_item(5, "<p>SECRET-MARKER</p>"), title="SECRET-MARKER"))
    return path


def test_a_body_that_is_a_file_path_is_never_opened(secret_feed, opens):
    opens.watched.update({str(secret_feed), "/dev/zero"})
    for body in (str(secret_feed).encode(), f"file://{secret_feed}".encode(), b"/dev/zero"):
        with pytest.raises(FeedParseError):
            parse_feed(body, URL)
        with pytest.raises(FeedParseError):
            parse_feed(body, URL, {"a known key"})
        with pytest.raises(WordPressError):
            parse_comment_feed(body, URL)
        assert b"SECRET" not in repr(parse_document(body)).encode()
    assert opens.opened == []


def test_the_marker_file_is_a_feed_read_as_a_body(secret_feed):
    # the counterpart of the test above: read as bytes, the same file does parse
    assert parse_feed(secret_feed.read_bytes(), URL).title == "SECRET-MARKER"
    assert [c.id for c in parse_comment_feed(secret_feed.read_bytes(), URL)] == [5]


def test_parse_document_takes_bytes_only():
    with pytest.raises(TypeError):
        parse_document("/etc/hostname")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- entities


def test_billion_laughs_off_the_start_of_a_line_is_refused_both_paths():
    body = rss(item(1, title="&f;"), item(2), prolog=LAUGHS)
    with pytest.raises(FeedParseError, match=ENTITIES_REFUSED):
        parse_feed(body, URL)
    with pytest.raises(FeedParseError, match=ENTITIES_REFUSED):
        parse_feed(body, URL, {"http://127.0.0.1:8080/?p=2"})


def test_entities_in_the_pre_scan_path_with_every_key_known():
    # every item known: the expat pre-scan alone answers, and it must refuse too
    body = rss(item(1), item(2), prolog=LAUGHS, title="&f;")
    known = {"http://127.0.0.1:8080/?p=1", "http://127.0.0.1:8080/?p=2"}
    with pytest.raises(FeedParseError, match=ENTITIES_REFUSED):
        parse_feed(body, URL, known)


@pytest.mark.parametrize(
    "prolog",
    [
        LAUGHS,
        "\n<!DOCTYPE rss [\n<!ENTITY a 'small and safe-looking'>\n]>\n",  # line-start: stripped
        "<!DOCTYPE rss [<!ENTITY % p \"<!ENTITY x 'y'>\"> %p;]>",  # parameter entity
        '<!DOCTYPE rss [<!ENTITY ext SYSTEM "file:///etc/hostname">]>',  # external entity
        '<!-- <a> --><!DOCTYPE rss [<!-- <b> --><!ENTITY a "x">]>',  # tags in comments
    ],
    ids=["laughs", "line-start", "parameter", "external", "comments"],
)
def test_every_entity_declaration_is_refused(prolog):
    body = rss(item(1, title="&a;" if "ENTITY a" in prolog else "x"), item(2), prolog=prolog)
    with pytest.raises(FeedParseError, match=ENTITIES_REFUSED):
        parse_feed(body, URL)


# codec -> the label the XML declaration gives (utf-16-le/be: no BOM, the label tells)
ENCODINGS = {
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16LE",
    "utf-16-be": "UTF-16BE",
    "utf-32": "UTF-32",
    "utf-8-sig": "UTF-8",
}


@pytest.mark.parametrize("codec", ENCODINGS)
def test_entities_hidden_in_another_encoding_are_refused(codec):
    text = rss(item(1, title="&f;"), item(2), prolog=LAUGHS).decode()
    body = text.replace('encoding="UTF-8"', f'encoding="{ENCODINGS[codec]}"').encode(codec)
    with pytest.raises(FeedParseError, match=ENTITIES_REFUSED):
        parse_feed(body, URL)
    with pytest.raises(FeedParseError, match=ENTITIES_REFUSED):
        parse_feed(body, URL, {"http://127.0.0.1:8080/?p=2"})


def test_a_utf16_feed_without_declarations_still_parses():
    text = rss(item(1), item(2)).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    feed = parse_feed(text.encode("utf-16"), URL)
    assert [e.title for e in feed.entries] == ["Post 1", "Post 2"]


def test_an_external_doctype_still_parses():
    # RSS 0.91 feeds name Netscape's DTD; it is never fetched and declares nothing here
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS'
        b' 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91">'
        b"<channel><title>Old &amp; fine</title><link>http://127.0.0.1:8080/</link>"
        b"<item><title>First</title><link>http://127.0.0.1:8080/first</link></item>"
        b"</channel></rss>"
    )
    feed = parse_feed(body, URL)
    assert feed.title == "Old & fine"
    assert [e.link for e in feed.entries] == ["http://127.0.0.1:8080/first"]
    assert parse_feed(body, URL, {"http://127.0.0.1:8080/first"}).entries == []


def test_an_internal_subset_without_entities_still_parses():
    body = rss(item(1), prolog="<!DOCTYPE rss [ <!-- nothing declared --> ]>")
    assert [e.title for e in parse_feed(body, URL).entries] == ["Post 1"]


# --------------------------------------------------------------------------- costly shapes


def test_a_flood_of_elements_is_refused_on_both_paths():
    # 5 MB of "<a/>" held feedparser for a minute; the flood is refused before it runs
    flood = "<a/>" * (limits.MAX_FEED_ELEMENTS + 1)
    body = rss(item(1).replace("</item>", flood + "</item>"), item(2))
    for known in ((), {"http://127.0.0.1:8080/?p=2"}):
        with pytest.raises(FeedRefused, match="more than 100,000 XML elements"):
            parse_feed(body, URL, known)
    with pytest.raises(WordPressError, match="XML elements"):
        parse_comment_feed(body, URL)


def test_a_tag_of_huge_attributes_is_refused_on_both_paths():
    many = "".join(f' a{n}=">"' for n in range(20_000))  # ">" in values: still one tag
    for tag in (f"<x{many}/>", f'<x y="{"v" * 100_000}"/>'):
        body = rss(item(1).replace("</item>", tag + "</item>"), item(2))
        for known in ((), {"http://127.0.0.1:8080/?p=2"}):
            with pytest.raises(FeedRefused, match="tag longer than 64 KB"):
                parse_feed(body, URL, known)


def test_a_long_html_tag_inside_cdata_is_content_not_a_refusal():
    # a post with an inline base64 image: a 200 KB <img> that expat sees as text
    image = f'<p><img src="data:image/png;base64,{"A" * 200_000}"> An inline picture</p>'
    body = rss(item(1, body=image), item(2))
    for known in ((), {"http://127.0.0.1:8080/?p=2"}):
        [entry, *_] = parse_feed(body, URL, known).entries
        assert entry.key == "http://127.0.0.1:8080/?p=1"
        assert "An inline picture" in entry.summary_html


def test_a_post_cut_to_its_cap_keeps_its_text_when_an_attribute_is_huge():
    # cutting inside a 1 MB attribute would lose the whole post; the value goes first
    huge = f'<p title="{"x" * 1_048_576}">A modest paragraph.</p>'
    [entry, *_] = parse_feed(rss(item(1, body=huge), item(2)), URL).entries
    assert len(entry.summary_html) <= limits.MAX_POST_HTML
    assert "A modest paragraph." in entry.summary_html


def test_broken_xml_too_big_for_the_lenient_parser_is_refused():
    # feedparser's lenient parser took 72 s on 0.5 MB of tags after a stray "&"
    tags = "<a/>" * (limits.MAX_LENIENT_TAGS + 1)
    broken = rss(item(1, title="AT&T").replace("</item>", tags + "</item>"), item(2))
    for known in ((), {"http://127.0.0.1:8080/?p=2"}):
        with pytest.raises(FeedRefused, match="not well-formed XML .* too big to read leniently"):
            parse_feed(broken, URL, known)
    # a broken feed of a normal size is still read leniently
    small = rss(item(1, title="AT&T"), item(2))
    assert [e.key for e in parse_feed(small, URL).entries] == [
        "http://127.0.0.1:8080/?p=1",
        "http://127.0.0.1:8080/?p=2",
    ]


def test_text_full_of_character_references_reads_whole():
    # one text, not one call per reference, yet the same text
    body = rss(item(1, title="&lt;b&gt;" * 3000 + "&amp;"))
    assert parse_feed(body, URL).entries[0].title.startswith("<b><b>")


def test_a_comment_feed_declaring_entities_is_refused():
    body = rss(comment_item(1, "&f;"), prolog=LAUGHS)
    with pytest.raises(WordPressError, match=ENTITIES_REFUSED):
        parse_comment_feed(body, URL)


def test_a_wxr_export_declaring_entities_is_refused():
    export = rss(item(1), prolog=LAUGHS)
    with pytest.raises(WxrError, match="declares XML entities"):
        list(WxrReader(io.BytesIO(export)))


def test_wxr_entries_are_cut_to_the_caps():
    post = (
        "<item><title>{title}</title><link>http://127.0.0.1:8080/p1/</link><guid>{guid}</guid>"
        "<wp:post_type>post</wp:post_type><wp:status>publish</wp:status>"
        "<wp:post_id>99999999999999999999</wp:post_id>{cats}"
        "<content:encoded><![CDATA[{body}]]></content:encoded></item>"
    ).format(
        title="T" * 5000,
        guid="g" * 10_000,
        cats="".join(f"<category>c{n}</category>" for n in range(70)),
        body="b" * (limits.MAX_POST_HTML + 10),
    )
    export = rss(post).replace(
        b"<rss ",
        b'<rss xmlns:wp="http://wordpress.org/export/1.2/" '
        b'xmlns:content="http://purl.org/rss/1.0/modules/content/" ',
    )
    (entry,) = list(WxrReader(io.BytesIO(export)))
    assert entry.key == "sha1:" + hashlib.sha1(("g" * 10_000).encode()).hexdigest()
    assert entry.title == "T" * limits.MAX_TITLE
    assert len(entry.categories) == limits.MAX_CATEGORIES
    assert len(entry.content_html) == limits.MAX_POST_HTML
    assert entry.wp_id is None


# --------------------------------------------------------------------------- keys and caps


def test_a_huge_key_becomes_its_hash_the_same_way_on_both_paths():
    # the 90 MB key attempt without entities: a 3 MB guid, as large as the fetch limit allows
    guid = "k" * 3_000_000
    body = rss(item(1, guid=guid), item(2))
    cold = parse_feed(body, URL)
    key = "sha1:" + hashlib.sha1(guid.encode()).hexdigest()
    assert [e.key for e in cold.entries] == [key, "http://127.0.0.1:8080/?p=2"]
    # the next poll knows post 2 only: the pre-scan and feedparser agree on the hashed key
    assert [e.key for e in parse_feed(body, URL, {"http://127.0.0.1:8080/?p=2"}).entries] == [key]
    # and with the hashed key known, nothing is new, so nothing is announced twice
    assert parse_feed(body, URL, {key, "http://127.0.0.1:8080/?p=2"}).entries == []


def test_keys_at_the_cap_are_kept_as_they_are():
    guid = "g" * limits.MAX_ENTRY_KEY
    assert parse_feed(rss(item(1, guid=guid)), URL).entries[0].key == guid


def test_every_field_of_an_oversized_entry_is_cut():
    cats = "".join(f"<category>{'c' * 500}{n}</category>" for n in range(80))
    body = rss(
        item(1, title="T" * 50_000, body="<p>" + "x" * 2_000_000 + "</p>").replace(
            "</item>", f"<dc:creator>{'A' * 10_000}</dc:creator>{cats}</item>"
        )
    ).replace(b"<rss ", b'<rss xmlns:dc="http://purl.org/dc/elements/1.1/" ')
    body = body.replace(b"http://127.0.0.1:8080/p1/", b"http://127.0.0.1:8080/" + b"l" * 5000)
    (entry,) = parse_feed(body, URL).entries
    assert entry.title == "T" * limits.MAX_TITLE
    assert entry.author == "A" * limits.MAX_AUTHOR
    assert len(entry.summary_html) == limits.MAX_POST_HTML
    assert entry.link is None  # a cut URL would lead elsewhere
    assert len(entry.categories) == limits.MAX_CATEGORIES
    assert all(len(c) == limits.MAX_CATEGORY for c in entry.categories)


def test_ids_too_large_for_sqlite_are_dropped():
    body = rss(item(1, guid="http://127.0.0.1:8080/?p=99999999999999999999"))
    assert parse_feed(body, URL).entries[0].wp_id is None
    feed = rss(comment_item(99999999999999999999), comment_item(7))
    assert [c.id for c in parse_comment_feed(feed, URL)] == [7]


def test_an_oversized_comment_is_cut():
    (comment,) = parse_comment_feed(rss(comment_item(3, "<p>" + "y" * 500_000 + "</p>")), URL)
    assert len(comment.content_html) == limits.MAX_COMMENT_HTML


def test_rest_fields_of_any_type_or_size_are_made_safe():
    post = {
        "id": 10**30,
        "guid": {"rendered": "g" * 10_000},
        "link": ["not", "a", "string"],
        "title": {"rendered": "bad \ud800 surrogate " + "t" * 5000},
        "date_gmt": 12345,
        "categories": ["x", None, 3.5, 10**40],
        "content": {"rendered": 7},
        "_embedded": {"author": [{"name": "N" * 1000}], "wp:term": "nope"},
    }
    entry = _post_to_entry(post, _Names(None, "http://127.0.0.1:8080/wp-json/"))
    assert entry.key == "sha1:" + hashlib.sha1(("g" * 10_000).encode()).hexdigest()
    assert entry.link is None and entry.wp_id is None and entry.content_html == ""
    assert len(entry.title) == limits.MAX_TITLE and "\ufffd" in entry.title
    assert entry.title.encode("utf-8")  # storable: no lone surrogate left
    assert entry.author == "N" * limits.MAX_AUTHOR

    comment = _rest_comment(
        {
            "id": 5,
            "author_name": {"rendered": "x"},
            "author_url": "http://127.0.0.1:8080/" + "u" * 5000,
            "content": {"rendered": "c" * 200_000},
            "link": 42,
            "type": "t" * 1000,
            "date_gmt": None,
        }
    )
    assert comment.author == "Anonymous" and comment.author_url is None and comment.link == ""
    assert len(comment.content_html) == limits.MAX_COMMENT_HTML
    assert len(comment.type) == limits.MAX_CATEGORY
    assert _rest_comment({"id": 2**64}) is None


# --------------------------------------------------------------------------- as users see it


async def test_feed_list_shows_why_an_entity_feed_is_refused(site, store, poller):
    blog = Blog(site)
    blog.publish("Before")
    await poller.subscribe(blog.feed_url, guild_id=GUILD, channel_id=CHANNEL)
    site.route("/feed/", rss(item(9, title="&f;"), prolog=LAUGHS), content_type="text/xml")
    sub = (await store.guild_subscriptions(GUILD))[0]
    await store._write("UPDATE feeds SET next_check_at = 0 WHERE id = ?", (sub.feed_id,))
    report = await poller.poll_due()
    assert report.failed == 1
    status = (await store.guild_status(GUILD))[0]
    assert status.feed_error == ENTITIES_REFUSED


async def test_feed_add_says_why_an_entity_feed_is_refused(site, poller):
    site.route("/feed/", rss(item(1, title="&f;"), prolog=LAUGHS), content_type="text/xml")
    with pytest.raises(SubscribeError, match=ENTITIES_REFUSED):
        await poller.subscribe(site.url("/feed/"), guild_id=GUILD, channel_id=CHANNEL)
