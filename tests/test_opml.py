"""OPML lists read and written (bot/opml.py), and `python -m bot opml import|export`."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest

from bot import cli
from bot.models import Outline
from bot.opml import OpmlError, read_opml, write_opml
from bot.store import Store
from tests.blog import Blog
from tests.httpserver import LocalSite

READER_EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="Tech" title="Tech">
      <outline type="rss" text="Blog &amp; Co" title="Blog &amp; Co"
               xmlUrl="https://a.example/feed/" htmlUrl="https://a.example/"/>
      <outline text="Deeper">
        <outline type="rss" text="Nested" xmlurl="https://b.example/rss"/>
      </outline>
    </outline>
    <outline type="rss" title="Loose" xmlUrl="https://c.example/atom.xml"/>
    <outline text="Not a feed"/>
  </body>
</opml>
"""


def test_reads_feeds_with_their_categories():
    assert read_opml(READER_EXPORT) == [
        Outline("https://a.example/feed/", "Blog & Co", "Tech", "https://a.example/"),
        Outline("https://b.example/rss", "Nested", "Deeper", None),
        Outline("https://c.example/atom.xml", "Loose", None, None),
    ]


def test_written_lists_read_back_the_same():
    outlines = [
        Outline("https://a.example/feed/", 'Quotes " <and> & more', "news", "https://a.example/"),
        Outline("https://b.example/feed/", "Bell \x07 and surrogate \udc00", "news"),
        Outline("https://c.example/feed/", "", None),
    ]
    data = write_opml(outlines)
    assert ET.fromstring(data).get("version") == "2.0"
    back = read_opml(data)
    assert [o.url for o in back] == [o.url for o in outlines]
    assert back[0].title == outlines[0].title and back[0].category == "news"
    assert back[1].title == "Bell  and surrogate ?"
    assert back[2].title == "https://c.example/feed/" and back[2].category is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<opml><body><outline text="&b;" xmlUrl="https://a.example/"/></body></opml>',
            "declares XML entities",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<opml><body><outline text="&x;" xmlUrl="https://a.example/"/></body></opml>',
            "declares XML entities",
        ),
        (b"<opml><body>" + b"<outline/>" * 2001 + b"</body></opml>", "more than 2,000 outlines"),
        (b"<opml>" + b" " * (1024 * 1024) + b"</opml>", "over 1,024 KB"),
        (b'<rss><outline xmlUrl="https://a.example/"/></rss>', "root element is not <opml>"),
        (b"<opml><body><outline text='x'></body></opml>", "XML error at line 1"),
        (b"<opml><body><outline text='only a folder'/></body></opml>", "lists no feeds"),
        (b"<html><body>hello", "XML error"),
    ],
)
def test_hostile_or_wrong_files_are_refused_with_the_reason(data, reason):
    with pytest.raises(OpmlError, match=reason):
        read_opml(data)


# --------------------------------------------------------------------------- the CLI


@pytest.fixture(autouse=True)
def no_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_PATH", raising=False)
    monkeypatch.setenv("ALLOW_PRIVATE_FEEDS", "true")  # the blogs are on 127.0.0.1


async def cli_run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = await asyncio.to_thread(cli.main, argv)  # it runs its own event loop
    out, err = capsys.readouterr()
    return code, out, err


async def test_cli_import_then_export_round_trip(tmp_path, capsys):
    db = tmp_path / "gazette.sqlite3"
    async with LocalSite() as site:
        blogs = [Blog(site, f"Blog {n}", prefix=f"/b{n}") for n in range(5)]
        for blog in blogs:
            blog.publish("An older post")
        outlines = [Outline(b.feed_url, b.title, "Reading") for b in blogs[:4]]
        outlines.append(Outline(blogs[4].home_url, "A home page, not a feed"))  # discovered
        outlines.append(Outline("javascript:alert(1)", "Evil"))
        opml = tmp_path / "in.opml"
        opml.write_bytes(write_opml(outlines))
        argv = ["opml", "import", str(opml), "--guild", "1", "--channel", "2", "--db", str(db)]

        code, out, err = await cli_run(argv, capsys)
        assert code == 0, err
        assert "Followed 5 of the 6 feeds in in.opml; 0 skipped" in out
        assert "1 failed" in out and "failed: javascript:alert(1): not http(s)" in out

        code, out, err = await cli_run(argv, capsys)  # again: all already followed
        assert code == 0, err
        assert "Followed 0 of the 6 feeds in in.opml; 5 skipped" in out

    store = await Store.open(db)
    try:
        subs = await store.guild_subscriptions(1)
        assert sorted(s.feed_url for s in subs) == sorted(b.feed_url for b in blogs)
        assert {s.channel_id for s in subs} == {2}
        # each feed's post archived, none owed to the channel
        assert await store._value("SELECT count(*) FROM posts") == 5
        assert await store._value("SELECT count(*) FROM deliveries") == 0
    finally:
        await store.close()

    code, out, err = await cli_run(["opml", "export", "--db", str(db)], capsys)
    assert code == 0, err
    back = read_opml(out.encode())
    assert sorted(o.url for o in back) == sorted(b.feed_url for b in blogs)
    assert {o.category for o in back} == {"2"}  # the channel's id
    assert {o.title for o in back} == {b.title for b in blogs}

    target = tmp_path / "out.opml"
    code, _, err = await cli_run(
        ["opml", "export", str(target), "--guild", "3", "--db", str(db)], capsys
    )
    assert code == 0 and "Wrote 0 subscriptions" in err


async def test_cli_refuses_a_hostile_file(tmp_path, capsys):
    opml = tmp_path / "evil.opml"
    opml.write_bytes(
        b'<!DOCTYPE opml [<!ENTITY a "x">]><opml><body><outline xmlUrl="https://a.example/"/>'
        b"</body></opml>"
    )
    db = tmp_path / "gazette.sqlite3"
    argv = ["opml", "import", str(opml), "--guild", "1", "--channel", "2", "--db", str(db)]
    code, _, err = await cli_run(argv, capsys)
    assert code == 1 and "declares XML entities" in err
