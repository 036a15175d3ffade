"""Property-based tests of feed and comment parsing: whatever bytes a blog serves, the parsers
return entries and comments whose every field is within its cap, or say why they cannot
(FeedParseError, WordPressError), and never read a file."""

from __future__ import annotations

import json
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import limits
from bot.feeds import FeedParseError, parse_feed
from bot.models import Comment, Entry
from bot.wordpress import WordPressError, _Names, _post_to_entry, _rest_comment, parse_comment_feed

URL = "http://127.0.0.1:8080/feed/"
# modest by default so the suite stays fast; raise it to hunt: GAZETTE_EXAMPLES=2000 pytest ...
SETTINGS = settings(
    max_examples=int(os.environ.get("GAZETTE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


# --------------------------------------------------------------------------- what must hold


def assert_entry_within_caps(entry: Entry) -> None:
    assert 0 < len(entry.key) <= limits.MAX_ENTRY_KEY
    assert len(entry.title) <= limits.MAX_TITLE
    assert entry.author is None or len(entry.author) <= limits.MAX_AUTHOR
    for url in (entry.link, entry.image_url, entry.comments_feed):
        assert url is None or len(url) <= limits.MAX_URL
    for terms in (entry.categories, entry.tags):
        assert len(terms) <= limits.MAX_CATEGORIES
        assert all(len(t) <= limits.MAX_CATEGORY for t in terms)
    assert len(entry.summary_html) <= limits.MAX_POST_HTML
    assert len(entry.content_html) <= limits.MAX_POST_HTML
    assert entry.wp_id is None or 0 < entry.wp_id < 2**63
    for text in (entry.key, entry.title, entry.author or "", entry.content_html):
        text.encode("utf-8")  # storable in SQLite: no lone surrogate


def assert_comment_within_caps(comment: Comment) -> None:
    assert 0 < comment.id < 2**63
    for other in (comment.post_wp_id, comment.parent_id):
        assert other is None or 0 < other < 2**63
    assert len(comment.author) <= limits.MAX_AUTHOR
    assert len(comment.content_html) <= limits.MAX_COMMENT_HTML
    assert len(comment.link) <= limits.MAX_URL
    for url in (comment.author_url, comment.avatar_url):
        assert url is None or len(url) <= limits.MAX_URL
    comment.content_html.encode("utf-8")
    comment.author.encode("utf-8")


def check_feed(body: bytes, known: frozenset[str] = frozenset()) -> None:
    try:
        parsed = parse_feed(body, URL, known)
    except FeedParseError:
        return
    assert len(parsed.title) <= limits.MAX_TITLE
    assert parsed.site_url is None or len(parsed.site_url) <= limits.MAX_URL
    for entry in parsed.entries:
        assert_entry_within_caps(entry)
        assert entry.key not in known


def check_comment_feed(body: bytes) -> None:
    try:
        comments = parse_comment_feed(body, URL)
    except WordPressError:
        return
    for comment in comments:
        assert_comment_within_caps(comment)


# --------------------------------------------------------------------------- strategies

# Text with the characters that hurt: XML specials, controls, NUL, invalid UTF-8 once encoded
# (surrogates are not encodable: they come as raw bytes below), right-to-left overrides.
ODD_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("<>&;\"'=/![]?-#: \n\t\r\x00\x0b\u202e\u200b\ufeffpé€😀"),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=40,
)
ODD_BYTES = st.one_of(
    ODD_TEXT.map(lambda t: t.encode("utf-8")),
    st.binary(max_size=40),
    st.sampled_from([b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\xc3\x28", b"\xed\xa0\x80"]),
)
NAMES = st.sampled_from(
    [
        "rss",
        "channel",
        "item",
        "entry",
        "feed",
        "title",
        "link",
        "guid",
        "id",
        "description",
        "content:encoded",
        "category",
        "dc:creator",
        "author",
        "name",
        "pubDate",
        "summary",
        "content",
        "a",
        "x:y",
    ]
)
ENTITY_DECLS = st.sampled_from(
    [
        b'<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        b'<!DOCTYPE rss [\n<!ENTITY a "x">\n]>',
        b"<!DOCTYPE rss [<!ENTITY % p \"<!ENTITY q 'z'>\"> %p;]>",
        b'<!DOCTYPE rss [<!ENTITY e SYSTEM "file:///etc/hostname">]>',
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "rss.dtd">',
        b"",
    ]
)


@st.composite
def xmlish(draw, depth: int = 0) -> bytes:
    """An XML-like fragment: feed-ish element names, odd text, odd attributes, entity
    references, CDATA, sometimes unclosed or mismatched."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["element", "text", "bytes", "ref", "cdata", "big"]))
        if kind == "element" and depth < 5:
            name = draw(NAMES).encode()
            attrs = b"".join(
                b' %s="%s"' % (draw(st.sampled_from([b"href", b"rel", b"type", b"xml:base",
                                                     b"isPermaLink", b"url", b"term"])),
                               draw(ODD_TEXT).replace('"', "").encode())
                for _ in range(draw(st.integers(0, 3)))
            )  # fmt: skip
            inner = draw(xmlish(depth + 1))
            close = draw(st.sampled_from([b"</%s>" % name, b"", b"</other>"]))
            parts.append(b"<%s%s>%s%s" % (name, attrs, inner, close))
        elif kind in ("text", "element"):
            parts.append(draw(ODD_TEXT).encode())
        elif kind == "bytes":
            parts.append(draw(ODD_BYTES))
        elif kind == "ref":
            parts.append(draw(st.sampled_from([b"&a;", b"&b;", b"&amp;", b"&#0;", b"&#x1F600;",
                                               b"&nbsp;", b"&q;", b"&e;", b"&"])))  # fmt: skip
        elif kind == "cdata":
            parts.append(b"<![CDATA[" + draw(ODD_BYTES) + b"]]>")
        else:  # something huge: a long value, deep nesting, many attributes
            n = draw(st.sampled_from([3_000, 20_000]))
            parts.append(
                draw(
                    st.sampled_from(
                        [
                            b"k" * n,
                            b"<b>" * (n // 10),
                            b"<a " + b" ".join(b"a%d='1'" % i for i in range(n // 20)) + b"/>",
                            b'<link href="http://127.0.0.1/' + b"u" * n + b'"/>',
                            b"<img " * (n // 10),
                            b"&lt;script" * (n // 20),
                        ]
                    )
                )
            )
    return b"".join(parts)


@st.composite
def feeds(draw) -> bytes:
    """A feed-shaped document (RSS or Atom) whose items are made of xmlish parts."""
    atom = draw(st.booleans())
    item = b"entry" if atom else b"item"
    items = b"".join(
        b"<%s><title>%s</title><%s>%s</%s>%s</%s>"
        % (
            item,
            draw(xmlish()),
            b"id" if atom else b"guid",
            draw(st.one_of(st.just(b"http://127.0.0.1:8080/?p=%d" % i), xmlish())),
            b"id" if atom else b"guid",
            draw(xmlish()),
            item,
        )
        for i in range(draw(st.integers(0, 4)))
    )
    if atom:
        doc = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>' + items + b"</feed>"
    else:
        doc = b'<rss version="2.0"><channel><title>t</title>' + items + b"</channel></rss>"
    prolog = draw(ENTITY_DECLS)
    head = draw(st.sampled_from([b'<?xml version="1.0"?>', b"", b"\n\n", b"\xef\xbb\xbf"]))
    body = head + prolog + doc
    encoding = draw(st.sampled_from([None, "utf-16", "utf-16-be", "utf-32"]))
    if encoding:
        body = body.decode("utf-8", "replace").encode(encoding)
    return body


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(st.binary(max_size=2000))
def test_any_bytes_give_capped_entries_or_feed_parse_error(body):
    check_feed(body)
    check_comment_feed(body)


@SETTINGS
@given(feeds())
def test_feed_shaped_documents_give_capped_entries_or_feed_parse_error(body):
    check_feed(body)


@SETTINGS
@given(feeds(), st.data())
def test_the_pre_scan_path_agrees_or_refuses_the_same_way(body, data):
    """With some keys known (a followed feed), the result is the cold one minus those keys."""
    try:
        cold = parse_feed(body, URL)
    except FeedParseError as exc:
        refused = str(exc)
        with pytest.raises(FeedParseError) as info:
            parse_feed(body, URL, {"http://127.0.0.1:8080/?p=0", "another key"})
        if "entities" in refused:
            assert "entities" in str(info.value)
        return
    keys = [e.key for e in cold.entries]
    known = frozenset(data.draw(st.sets(st.sampled_from(keys))) if keys else ())
    warm = parse_feed(body, URL, known)
    assert [e.key for e in warm.entries] == [k for k in keys if k not in known]
    for entry in warm.entries:
        assert_entry_within_caps(entry)


@SETTINGS
@given(feeds())
def test_comment_feeds_give_capped_comments_or_wordpress_error(body):
    body = body.replace(b"?p=", b"?p=1#comment-")
    check_comment_feed(body)


@SETTINGS
@given(ENTITY_DECLS.filter(lambda d: b"ENTITY" in d), st.sampled_from(["utf-8", "utf-16"]))
def test_entity_declarations_are_always_refused(decl, encoding):
    body = (
        b'<?xml version="1.0"?>'
        + decl
        + b'<rss version="2.0"><channel><title>&a;</title><item><guid>g</guid>'
        b"<title>&b;</title></item></channel></rss>"
    ).decode()
    if encoding != "utf-8":
        body = body.replace('version="1.0"?>', f'version="1.0" encoding="{encoding}"?>')
    for known in (frozenset(), frozenset({"g"}), frozenset({"other"})):
        with pytest.raises(FeedParseError, match="entities"):
            parse_feed(body.encode(encoding), URL, known)
    with pytest.raises(WordPressError, match="entities"):
        parse_comment_feed(body.encode(encoding), URL)


# JSON as a hostile REST API could send it: any type where a string is expected
JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True),
        ODD_TEXT,
        st.text(alphabet=st.characters(), max_size=10),  # lone surrogates, as json.loads gives
        st.sampled_from(["k" * 5000, "<img " * 2000, "http://127.0.0.1/" + "u" * 3000]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["rendered", "x"]), inner)
    ),
    max_leaves=8,
)
POST_KEYS = ["id", "guid", "link", "title", "date_gmt", "modified_gmt", "author", "categories",
             "tags", "excerpt", "content", "_embedded"]  # fmt: skip
COMMENT_KEYS = ["id", "post", "parent", "author_name", "author_url", "author_avatar_urls",
                "date_gmt", "content", "link", "type"]  # fmt: skip
EMBEDDED = st.fixed_dictionaries(
    {},
    optional={
        "author": st.lists(st.dictionaries(st.just("name"), JSON), max_size=2),
        "wp:term": st.lists(
            st.lists(
                st.fixed_dictionaries(
                    {"taxonomy": st.sampled_from(["category", "post_tag", "x"]), "name": JSON}
                ),
                max_size=3,
            ),
            max_size=2,
        ),
        "wp:featuredmedia": st.lists(st.dictionaries(st.just("source_url"), JSON), max_size=2),
    },
)


@SETTINGS
@given(st.fixed_dictionaries({}, optional={k: JSON for k in POST_KEYS} | {"_embedded": EMBEDDED}))
def test_rest_posts_of_any_shape_give_capped_entries(post):
    names = _Names(None, "http://127.0.0.1:8080/wp-json/")
    entry = _post_to_entry(json.loads(json.dumps(post)), names)
    assert_entry_within_caps(entry)


@SETTINGS
@given(st.fixed_dictionaries({}, optional={k: JSON for k in COMMENT_KEYS}))
def test_rest_comments_of_any_shape_are_capped_or_skipped(raw):
    comment = _rest_comment(json.loads(json.dumps(raw)))
    if comment is not None:
        assert_comment_within_caps(comment)


# --------------------------------------------------------------------------- no file is read


@pytest.fixture(scope="module")
def marker_file(tmp_path_factory):
    """A file holding a valid feed with a marker only it contains."""
    path = tmp_path_factory.mktemp("marker") / "feed.xml"
    path.write_text(
        '<rss version="2.0"><channel><title>MARKER-7b1f</title><item>'
        "<link>http://127.0.0.1/p/#comment-3</link><guid>MARKER-7b1f</guid>"
        "<description>MARKER-7b1f</description></item></channel></rss>"
    )
    return path


class _Opens:
    def __init__(self) -> None:
        self.watched: str | None = None
        self.hits = 0

    def __call__(self, event: str, args: tuple) -> None:
        if event == "open" and self.watched and str(args[0]).endswith(self.watched):
            self.hits += 1


_OPENS = _Opens()
sys.addaudithook(_OPENS)  # hooks stay for the session: inert while nothing is watched


@SETTINGS
@given(
    prefix=st.sampled_from(["", "file://", " ", "\n", "./", "file:"]),
    suffix=st.sampled_from(["", " ", "\n", "\x00", "#x", "?y"]),
)
def test_a_body_naming_a_file_never_yields_its_content(marker_file, prefix, suffix):
    body = (prefix + str(marker_file) + suffix).encode()
    _OPENS.watched, _OPENS.hits = marker_file.name, 0
    try:
        for known in (frozenset(), frozenset({"x"})):
            try:
                parsed = parse_feed(body, URL, known)
            except FeedParseError:
                pass
            else:
                assert "MARKER" not in repr(parsed)
        try:
            comments = parse_comment_feed(body, URL)
        except WordPressError:
            pass
        else:
            assert "MARKER" not in repr(comments)
        assert _OPENS.hits == 0
    finally:
        _OPENS.watched = None
