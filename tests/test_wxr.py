"""WordPress export files: what the reader keeps, and importing them into a real archive."""

from __future__ import annotations

import calendar
import io
from pathlib import Path

import pytest

from bot.importing import import_wxr
from bot.store import Store
from bot.wxr import WxrError, WxrReader, autop

FIXTURES = Path(__file__).parent / "fixtures" / "wxr"
CAFE = FIXTURES / "cafe-fixture.wxr"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "wxr"

# Published posts (post_type "post", status "publish") counted by hand in each sample, with
# grep over <wp:post_type> and <wp:status> of every <item>; the rest by type/status.
SAMPLE_COUNTS = {
    "pelican-wordpressexport_wp3.3.1.wxr": (
        7,
        {"attachment": 4, "draft post": 4, "page": 2, "custom1": 2, "custom2": 1},
    ),
    "small-export_wp3.1.wxr": (5, {"page": 5, "private post": 1}),
    "theme-unit-test-data_wordpress.com.wxr": (
        56,
        {"nav_menu_item": 70, "attachment": 37, "page": 21, "draft post": 1, "future post": 1},
    ),
    "valid-wxr-1.1.wxr": (1, {"page": 1}),
    "wxr-utf-8-challenges_wp6.5.wxr": (1, {}),
}


def utc(y, mo, d, h=0, mi=0, s=0) -> float:
    return float(calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)))


def read(path: Path = CAFE):
    reader = WxrReader(path)
    return reader, {e.wp_id: e for e in reader}


def test_only_published_posts_are_kept():
    reader, posts = read()
    assert sorted(posts) == [101, 102, 103, 104, 105]
    assert reader.posts == 5
    assert dict(reader.skipped) == {
        "draft post": 1,
        "pending post": 1,
        "private post": 1,
        "future post": 1,
        "page": 1,
        "attachment": 1,
        "nav_menu_item": 1,
        "product": 1,
        "wp_block": 1,
    }
    assert reader.site_title == "Le Café des Lettres & Co"
    assert reader.site_link == "https://cafe.example"


def test_fields_map_to_the_entry_a_feed_would_give():
    _, posts = read()
    post = posts[101]
    assert post.key == "https://cafe.example/?p=101"  # the guid: what the feed calls it
    assert post.title == "Le café crème parfait"
    assert post.link == "https://cafe.example/2023/03/cafe-creme/"
    assert post.author == "Amélie Poulain"  # display name, not the login
    assert post.published_at == utc(2023, 3, 15, 8, 30)  # post_date_gmt
    assert post.updated_at == utc(2023, 4, 1, 10)
    assert post.categories == ["Recettes"]
    assert post.tags == ["café", "lait"]  # post formats are not tags
    assert post.summary_html == "<p>Le secret du café crème.</p>"
    assert "<strong>café crème</strong>" in post.content_html
    assert "wp:paragraph" not in post.content_html  # block comments dropped
    assert post.image_url == "https://cafe.example/wp-content/uploads/creme.jpg"
    assert post.comments_feed == "https://cafe.example/2023/03/cafe-creme/feed/"
    assert post.wp_id == 101


def test_utf8_emoji_rtl_and_entities_survive():
    _, posts = read()
    post = posts[102]
    assert post.title == "Tom & Jerry’s <guide> to RTL: مرحبا بالعالم 🚀"
    assert post.author == "يوسف الحداد"  # login matched case-insensitively
    assert "🎉" in post.content_html and "السلام عليكم" in post.content_html
    assert "\x0c" not in post.content_html  # the control character XML forbids is gone


def test_classic_content_becomes_paragraphs_and_shortcodes_go():
    _, posts = read()
    body = posts[102].content_html
    assert body.startswith("<p>First paragraph with an emoji")
    assert "Arabic: السلام عليكم.<br />\nSecond line" in body
    assert "[caption" not in body and "[/caption]" not in body and "[gallery" not in body
    assert "A captioned picture" in body
    assert "<pre>code\n    stays\n\nas is</pre>" in body  # blank lines inside <pre> kept


def test_protected_posts_keep_title_but_not_their_text():
    _, posts = read()
    post = posts[103]
    assert post.title == "Réservé aux abonnés"
    assert post.content_html == "" and post.summary_html == ""


def test_duplicate_guid_and_missing_guid_still_give_distinct_keys():
    _, posts = read()
    assert posts[104].key == "https://cafe.example/2023/07/copie/"  # guid taken: the link
    assert posts[105].key == "https://cafe.example/2023/08/sans-guid/"
    assert posts[105].author == "inconnu"  # a login without an <wp:author> entry
    assert posts[105].published_at == utc(2023, 8, 1, 7)  # zeros in post_date_gmt: pubDate
    assert posts[105].content_html == "<p>Texte brut sans balises.</p>"


def test_reads_from_a_binary_stream_and_counts_bytes():
    data = CAFE.read_bytes()
    reader = WxrReader(io.BytesIO(data))
    assert len(list(reader)) == 5
    assert reader.bytes_read == len(data)


def test_leading_whitespace_read_in_tiny_chunks():
    class Trickle(io.BytesIO):
        def read(self, size=-1):
            return super().read(3)

    assert len(list(WxrReader(Trickle(b"\n \n\t\n" + CAFE.read_bytes())))) == 5


def test_a_broken_file_is_a_clear_error():
    with pytest.raises(WxrError, match="not a readable WordPress export"):
        list(WxrReader(io.BytesIO(b"<rss><channel><item><title>x</item></channel></rss>")))
    with pytest.raises(WxrError, match="no <rss><channel>"):
        list(WxrReader(io.BytesIO(b"<html><body>hello</body></html>")))


def test_autop_leaves_block_markup_alone():
    assert autop("<p>a</p>\n\n<p>b</p>") == "<p>a</p>\n<p>b</p>"
    assert autop("one\ntwo\n\nthree") == "<p>one<br />\ntwo</p>\n<p>three</p>"
    assert autop("single line") == "<p>single line</p>"
    assert autop("") == ""


@pytest.mark.parametrize("name", sorted(SAMPLE_COUNTS))
def test_real_exports(name):
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    published, skipped = SAMPLE_COUNTS[name]
    reader = WxrReader(path)
    entries = list(reader)
    assert len(entries) == published
    assert dict(reader.skipped) == skipped
    assert len({e.key for e in entries}) == published  # duplicated guids still distinct
    assert all(e.published_at for e in entries)


def test_theme_unit_test_details():
    path = SAMPLES / "theme-unit-test-data_wordpress.com.wxr"
    if not path.exists():
        pytest.skip(f"{path} not present")
    posts = {e.wp_id: e for e in WxrReader(path)}
    # two posts share the guid ?p=568 (one was copied from the other in the admin)
    assert posts[568].key == "https://wpthemetestdata.wordpress.com/?p=568"
    assert posts[1158].key == "https://wpthemetestdata.wordpress.com/2010/08/08/post-format-image/"
    assert posts[1169].title == ""  # "Edge Case: No Title" has no <title> at all
    assert posts[1169].content_html.startswith("<p>This post has no title")
    assert posts[1169].author == "Theme Buster"


async def test_import_is_idempotent_and_never_announces(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        first, reader = await import_wxr(store, CAFE, "https://cafe.example/feed/")
        assert (first.read, first.added) == (5, 5)
        feed = await store.get_feed_by_url("https://cafe.example/feed/")
        assert feed.title == "Le Café des Lettres & Co"
        assert feed.site_url == "https://cafe.example"
        await store.add_subscription(feed.id, guild_id=1, channel_id=10)
        second, _ = await import_wxr(store, CAFE, "https://cafe.example/feed/")
        assert (second.read, second.added) == (5, 0)
        assert await store.count_posts(feed.id) == 5
        assert await store.due_deliveries(now=1e12) == []  # imported posts are not announced
        page = await store.search(1, "creme")
        assert {h.title for h in page.results} == {"Le café crème parfait", "Copie du café crème"}
        # the protected post's text is not searchable, its title is
        assert (await store.search(1, "tiramisu")).total == 0
        assert (await store.search(1, "abonnés")).total == 1
        for word in ("brouillonword", "pendingword", "privateword", "futureword", "pageword"):
            assert (await store.search(1, word)).total == 0
    finally:
        await store.close()


async def test_import_of_every_sample_into_one_archive(tmp_path):
    present = [SAMPLES / n for n in sorted(SAMPLE_COUNTS) if (SAMPLES / n).exists()]
    if not present:
        pytest.skip("no samples")
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        for path in present:
            url = f"https://{path.stem}.example/feed/"
            result, _ = await import_wxr(store, path, url, batch_size=7)
            assert result.added == SAMPLE_COUNTS[path.name][0]
            again, _ = await import_wxr(store, path, url, batch_size=7)
            assert again.added == 0
    finally:
        await store.close()


async def test_import_parsed_in_a_separate_process(tmp_path):
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        result, reader = await import_wxr(
            store, CAFE, "https://cafe.example/feed/", process_above=0, batch_size=2
        )
        assert (result.read, result.added) == (5, 5)
        assert reader.posts == 5 and reader.skipped["draft post"] == 1
        assert reader.site_title == "Le Café des Lettres & Co"
        assert reader.bytes_read == reader.size == CAFE.stat().st_size
        page = await store.search(None, "tiramisu OR abonnés", feed_ids=[result.feed_id])
        assert [h.title for h in page.results] == ["Réservé aux abonnés"]
        bad = tmp_path / "bad.xml"
        bad.write_bytes(b"<rss><channel><item><title>x</title></item><item>")
        with pytest.raises(WxrError, match="not a readable WordPress export"):
            await import_wxr(store, bad, "https://bad.example/feed/", process_above=0)
    finally:
        await store.close()
