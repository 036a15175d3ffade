"""Edit detection without Discord: what the parser tells of watched items on each of its
paths, what the poller owes, and the owed edits in a real SQLite file across a restart."""

from __future__ import annotations

import time
from email.utils import formatdate

from bot.edits import compare, shown_hash
from bot.feeds import parse_feed
from bot.models import Entry, Revised, Revision
from bot.store import Store
from tests.test_store import followed_feed

NOW = time.time()


def rss(
    items: list[tuple[int, str]], pad: int = 0, encoding: str = "UTF-8", extra: str = ""
) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>http://blog.test/{n}/</link>{extra}"
        f"<guid isPermaLink='false'>http://blog.test/?p={n}</guid>"
        f"<pubDate>{formatdate(NOW - 3600 + n, usegmt=True)}</pubDate>"
        f"<category>News</category><description>Excerpt {n}{' ' * pad}</description></item>"
        for n, title in items
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        f"<title>Blog</title><link>http://blog.test/</link>{body}</channel></rss>"
    ).encode(encoding.lower())


def watch(body: bytes, url: str = "http://blog.test/feed/") -> dict[str, str | None]:
    """Every item's key and bytes hash, as read the first time."""
    parsed = parse_feed(body, url, (), {})
    return parsed.item_hashes or {e.key: None for e in parsed.entries}


KEYS = {n: f"http://blog.test/?p={n}" for n in range(1, 5)}


def check_paths(make) -> None:
    """On a feed of 3 items read before, item 2 retitled, item 4 new."""
    before = make([(1, "One"), (2, "Two"), (3, "Three")])
    watched = watch(before)
    after = make([(1, "One"), (2, "Two, corrected"), (3, "Three"), (4, "Four")])
    parsed = parse_feed(after, "http://blog.test/feed/", set(watched), watched)
    assert [e.key for e in parsed.entries] == [KEYS[4]]
    assert parsed.keys == {KEYS[n] for n in range(1, 5)}
    changed = {e.key: e.title for e in parsed.changed}
    if parsed.item_hashes:  # the pre-scan read the items: only the changed one is parsed
        assert changed == {KEYS[2]: "Two, corrected"}
    else:  # the full parse reads everything: every watched entry, compared by shown fields
        assert changed[KEYS[2]] == "Two, corrected" and set(changed) == set(watched)
    # the same bytes again: nothing to compare where the hashes tell
    again = parse_feed(before, "http://blog.test/feed/", set(watched), watched)
    if again.item_hashes:
        assert again.changed == []


def test_feedparser_rs_path_reads_only_the_changed_watched_items():
    check_paths(rss)


def test_feedparser_prescan_path_reads_only_the_changed_watched_items():
    check_paths(lambda items: rss(items, pad=30_000))  # over 64 KB: feedparser, pre-scanned


def test_feedparser_prescan_path_on_a_latin1_feed():
    check_paths(lambda items: rss(items, encoding="ISO-8859-1"))  # not UTF-8: feedparser


def test_full_parse_path_gives_every_watched_entry():
    # a <source> in an item: the pre-scan cannot promise the keys, feedparser reads it all
    check_paths(lambda items: rss(items, extra="<source url='http://o.test/'>O</source>"))


def revision(post_id: int, entry: Entry, item_hash: str | None = "old") -> Revision:
    return Revision(post_id, entry.key, shown_hash(entry), item_hash, True, post_id, None)


def test_compare_owes_an_edit_only_for_shown_fields_and_tells_who_left():
    one = Entry(key="a", title="A", summary_html="<p>x</p>", categories=["News"])
    two = Entry(key="b", title="B")
    gone = Entry(key="c", title="C")
    watched = {e.key: revision(n, e) for n, e in enumerate((one, two, gone), 1)}
    retitled = Entry(key="a", title="A!", summary_html="<p>x</p>", categories=["News"])
    recategorised = Entry(key="b", title="B", categories=["Travel"])
    from bot.models import ParsedFeed

    parsed = ParsedFeed("Blog", None, [], changed=[retitled, recategorised, retitled])
    parsed.keys = {"a", "b"}
    parsed.item_hashes = {"a": "new-a", "b": "new-b"}
    revised, left = compare(watched, parsed)
    assert [(r.post_id, r.entry.title, r.item_hash) for r in revised] == [
        (1, "A!", "new-a"),  # once, though the feed repeats it
        (2, "B", "new-b"),
    ]
    assert left == [3]
    # new bytes, same shown fields (a comment count, the author): no edit, the hash kept
    parsed = ParsedFeed(
        "Blog",
        None,
        [],
        changed=[
            Entry(key="a", title="A", summary_html="<p>x</p>", categories=["News"], author="Z")
        ],
    )
    parsed.keys, parsed.item_hashes = {"a", "b", "c"}, {"a": "newer", "b": "old", "c": "old"}
    revised, left = compare(watched, parsed)
    assert [(r.post_id, r.entry, r.item_hash) for r in revised] == [(1, None, "newer")]
    assert left == []


async def test_an_owed_edit_and_its_content_survive_a_restart(tmp_path):
    path = tmp_path / "gazette.sqlite3"
    store = await Store.open(path)
    feed_id = await followed_feed(store)
    entry = Entry(key="k", title="Before", published_at=NOW, summary_html="<p>x</p>")
    [post_id] = await store.store_entries(
        feed_id, [entry], announce=True, revisions={"k": (shown_hash(entry), "h1")}
    )
    [delivery] = await store.due_deliveries(NOW + 1)
    await store.mark_delivered(delivery.id, 555)
    [watched] = (await store.revisions(feed_id, NOW - 86400)).values()
    assert (watched.post_id, watched.item_hash) == (post_id, "h1")

    edited = Entry(key="k", title="After", published_at=NOW, summary_html="<p>y</p>")
    owed = await store.record_revisions([Revised(post_id, edited, shown_hash(edited), "h2")], [])
    assert owed == 1
    await store.close()  # the bot dies before any request

    store = await Store.open(path)
    try:
        [edit] = await store.due_edits(time.time())
        assert (edit.delivery_id, edit.message_id, edit.removed) == (delivery.id, 555, False)
        post = await store.get_post(post_id)
        assert (post.title, post.summary_html) == ("After", "<p>y</p>")  # the new content
        # a newer edit owed while this one was being made is not forgotten with it
        await store.record_revisions(
            [Revised(post_id, Entry(key="k", title="Again"), "s3", "h3")], []
        )
        await store.edit_done(edit)
        [newer] = await store.due_edits(time.time())
        await store.edit_done(newer)
        assert await store.due_edits(time.time()) == []
        # removed from the blog: owed once, shown as removed, watched no more
        assert await store.mark_removed([post_id]) == 1
        [removal] = await store.due_edits(time.time())
        assert removal.removed
        [watched] = (await store.revisions(feed_id, NOW - 86400)).values()
        assert watched.removed and not watched.in_feed
        await store.edit_done(removal)
        # restored on the blog (back in the feed): shown again
        assert await store.record_revisions([], [], [post_id]) == 1
        [restored] = await store.due_edits(time.time())
        assert not restored.removed
    finally:
        await store.close()
