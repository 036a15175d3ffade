"""Archive search against a real SQLite: what a user typing in /archive search would see."""

from __future__ import annotations

import calendar

import pytest

import bot.store.archive as archive_module
from bot.models import Entry
from bot.search import (
    MAX_TERMS,
    SearchPage,
    escape_markdown,
    parse_date,
    parse_query,
    render_snippet,
)
from bot.store import Store

GUILD, OTHER, LONELY = 1, 2, 3


def utc(y, mo=1, d=1) -> float:
    return float(calendar.timegm((y, mo, d, 0, 0, 0, 0, 0, 0)))


def post(key, title, body, *, author=None, cats=(), tags=(), year=2020, month=1, day=1):
    return Entry(
        key=key,
        title=title,
        link=f"https://blog.example/{key}/",
        author=author,
        published_at=utc(year, month, day),
        categories=list(cats),
        tags=list(tags),
        content_html=body,
    )


BLOG = [
    post("espresso", "Espresso at home", "<p>Grind fine, tamp firmly, pull a short shot.</p>",
         author="José García", cats=["Coffee"], tags=["brewing"], year=2019),
    post("cafe", "Cafés of Zürich", "<p>We spent a week running between the cafés of the old"
         " town, drinking espresso and reading.</p>", author="Zoë Müller", cats=["Travel"],
         year=2020),
    post("tea", "A cup of tea", "<p>Tea is not coffee, but the state of the art of brewing"
         " tea matters as much.</p>", author="Bob Smith", cats=["Tea"], year=2021),
    post("garden", "Tomatoes in the garden", "<p>The garden gives tomatoes; the art of the"
         " state fair is another story. Coffee grounds help the soil.</p>",
         author="Bob Smith", cats=["Gardening"], year=2022),
    post("markdown", "Stars *and* underscores_here", "<p>Text with *stars*, _underscores_,"
         " `ticks`, a [link](x) and @everyone in it, about espresso.</p>",
         author="Bob Smith", year=2023),
    post("arabic", "مرحبا بالعالم", "<p>السلام عليكم and an emoji 🚀 near espresso.</p>",
         author="يوسف", cats=["Culture"], year=2023, month=6),
]  # fmt: skip
OTHER_BLOG = [
    post(
        "secret",
        "Espresso secrets of another server",
        "<p>Espresso espresso espresso.</p>",
        author="Mallory",
        cats=["Coffee"],
        year=2024,
    ),
]


@pytest.fixture
async def store(tmp_path):
    store = await Store.open(tmp_path / "archive.sqlite3")
    feed = await store.add_feed("https://blog.example/feed/", **_FEED)
    other = await store.add_feed("https://other.example/feed/", **_FEED)
    await store.add_feed("https://unfollowed.example/feed/", **_FEED)
    await store.add_subscription(feed.id, GUILD, 10)
    await store.add_subscription(other.id, OTHER, 20)
    await store.store_entries(feed.id, BLOG, announce=False)
    await store.store_entries(other.id, OTHER_BLOG, announce=False)
    store.test_feed_id = feed.id
    store.test_other_id = other.id
    yield store
    await store.close()


_FEED = dict(
    title=None, site_url=None, etag=None, last_modified=None, body_hash=None, next_check_at=0
)


def titles(page: SearchPage) -> list[str]:
    return [h.title for h in page.results]


# --- understanding what was typed ----------------------------------------------------------


def test_parse_query_words_phrases_and_operators():
    q = parse_query('espresso "old town" -tea NOT milk bean*')
    assert [t.text for t in q.groups[0]] == ["espresso", "old town", "bean"]
    assert q.groups[0][1].phrase and q.groups[0][2].prefix
    assert [t.text for t in q.excluded] == ["tea", "milk"]
    assert q.fts() == '("espresso" AND "old town" AND "bean" *) NOT "tea" NOT "milk"'


def test_parse_query_or_and_curly_quotes_and_unclosed_quote():
    assert parse_query("coffee OR tea").fts() == '("coffee") OR ("tea")'
    assert parse_query("“state of the art”").fts() == '"state of the art"'
    assert parse_query('espresso "old town').fts() == '"espresso" AND "old town"'


def test_parse_query_never_passes_syntax_through():
    q = parse_query('NEAR(a b, 3) {title}:x ^start col:value AND OR "quo""te')
    # everything is inside string literals (the tokenizer splits them as it splits posts)
    assert q.fts() == (
        '("NEAR(a" AND "b," AND "3)" AND "{title}:x" AND "^start" AND "col:value")'
        ' OR ("quo" AND "te")'
    )


def test_parse_query_drops_what_cannot_be_searched():
    q = parse_query("🚀 ((( *** - :")
    assert q.is_empty and q.fts() == ""
    assert parse_query("ab*").groups[0][0].prefix is False  # prefixes need 3 letters
    assert parse_query("the coffee").words() == ["coffee"]  # stopword dropped
    assert parse_query("the").words() == ["the"]  # ...unless nothing else is left
    assert parse_query("bad\ud800surrogate").words() == ["bad?surrogate"]


def test_parse_query_caps_long_input():
    q = parse_query(" ".join(f"word{n}" for n in range(500)))
    assert len(q.words()) == MAX_TERMS


def test_snippet_rendering_escapes_markdown_and_bidi():
    marked = "a *star* \x02match\x03 \x02next\x03 \u202eflipped @everyone"
    assert render_snippet(marked) == "a \\*star\\* **match next** flipped @\u200beveryone"
    assert render_snippet(marked, "plain") == "a *star* match next flipped @everyone"
    assert escape_markdown("[x](y)").startswith("\\[x\\]")  # no masked link can form


def test_parse_date():
    assert parse_date("2024-03-31") == utc(2024, 3, 31)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date("31/03/2024")


# --- searching -------------------------------------------------------------------------------


async def test_ranked_title_first_with_highlighted_short_snippet(store):
    page = await store.search(GUILD, "espresso")
    assert titles(page)[0] == "Espresso at home"  # title match outranks body mentions
    assert page.total == 4 and page.page == 0 and not page.has_more
    hit = page.results[1]
    assert "**espresso**" in hit.snippet
    assert len(hit.snippet) < 300
    assert hit.link and hit.published_at and hit.post_id


async def test_diacritics_and_stemming(store):
    assert titles(await store.search(GUILD, "zurich cafe")) == ["Cafés of Zürich"]
    assert titles(await store.search(GUILD, "run")) == ["Cafés of Zürich"]  # "running"
    assert titles(await store.search(GUILD, "Muller")) == ["Cafés of Zürich"]  # the author
    assert titles(await store.search(GUILD, "gardening tomato")) == ["Tomatoes in the garden"]


async def test_phrases_are_honoured(store):
    page = await store.search(GUILD, '"state of the art"')
    assert titles(page) == ["A cup of tea"]  # the garden post has the words, not the phrase
    assert "**state of the art**" in page.results[0].snippet
    assert len((await store.search(GUILD, "state art")).results) == 2


async def test_exclusion_or_and_prefix(store):
    assert "A cup of tea" not in titles(await store.search(GUILD, "coffee -tea"))
    assert set(titles(await store.search(GUILD, "tomatoes OR zurich"))) == {
        "Tomatoes in the garden",
        "Cafés of Zürich",
    }
    assert titles(await store.search(GUILD, "tomat*")) == ["Tomatoes in the garden"]


async def test_snippets_cannot_break_discord_markdown(store):
    hit = (await store.search(GUILD, "underscores")).results[0]
    assert "\\*stars\\*" in hit.snippet and "\\_" in hit.snippet and "\\`" in hit.snippet
    assert "@everyone" not in hit.snippet
    assert "**underscores**" in hit.snippet


async def test_rtl_and_emoji_queries(store):
    assert titles(await store.search(GUILD, "مرحبا")) == ["مرحبا بالعالم"]
    assert titles(await store.search(GUILD, "🚀 السلام")) == ["مرحبا بالعالم"]


HOSTILE = [
    '"',
    '""',
    '"""',
    "*",
    "***",
    "espresso*",
    "(",
    ")",
    "(espresso",
    "espresso)",
    "NEAR",
    "NEAR(espresso tea)",
    "NEAR(espresso tea, 2)",
    "AND",
    "OR",
    "NOT",
    "espresso AND",
    "OR espresso",
    "espresso NOT",
    "-",
    "-espresso",
    "--espresso",
    ":",
    "title:espresso",
    "{title}: espresso",
    "^espresso",
    "espresso + tea",
    "a'b",
    "\\",
    "\x00",
    "\ud83d",  # a lone surrogate, as JSON can carry
    "🚀",
    "🚀🚀🚀 espresso",
    "\u202eespresso",
    "مرحبا",
    "x" * 1000,
    ("espresso " * 200)[:1000],
    " ".join(['"a', "b)", "NEAR(", "*", "-", ":", "OR", "AND"] * 60)[:1000],
    "",
    "   ",
]


@pytest.mark.parametrize("text", HOSTILE)
async def test_any_input_gives_a_page_never_an_error(store, text):
    page = await store.search(GUILD, text)
    assert isinstance(page, SearchPage)
    assert page.total >= len(page.results)
    if page.notice:
        assert "SQL" not in page.notice and "fts5" not in page.notice.lower()
    for hit in page.results:
        assert hit.post_id


async def test_a_long_query_of_real_words_still_finds(store):
    page = await store.search(GUILD, "espresso " + "zz " * 400)
    assert page.total == 0  # every word must match
    page = await store.search(GUILD, ("espresso " * 120)[:1000])
    assert page.total == 4


async def test_nothing_to_search_gives_a_friendly_notice(store):
    page = await store.search(GUILD, "🚀 ((( ***")
    assert page.results == [] and page.total == 0
    assert "nothing to search for" in page.notice
    assert (await store.search(GUILD, "xylophone")).notice is None  # simply no match


# --- filters and paging ----------------------------------------------------------------------


async def test_author_category_and_tag_filters(store):
    page = await store.search(GUILD, "", author="Bob Smith")
    assert titles(page) == [
        "Stars *and* underscores_here",
        "Tomatoes in the garden",
        "A cup of tea",
    ]  # newest first without words
    assert titles(await store.search(GUILD, "coffee", author="bob smith")) == [
        "A cup of tea",
        "Tomatoes in the garden",
    ] or titles(await store.search(GUILD, "coffee", author="bob smith")) == [
        "Tomatoes in the garden",
        "A cup of tea",
    ]
    assert titles(await store.search(GUILD, "", author="jose garcia")) == ["Espresso at home"]
    assert titles(await store.search(GUILD, "espresso", category="travel")) == ["Cafés of Zürich"]
    assert titles(await store.search(GUILD, "", category="brewing")) == ["Espresso at home"]
    page = await store.search(GUILD, "espresso", author="🚀")
    assert page.total == 0 and "author" in page.notice


async def test_date_filters_after_inclusive_before_exclusive(store):
    page = await store.search(GUILD, "espresso", after=utc(2020), before=utc(2023))
    assert titles(page) == ["Cafés of Zürich"]
    page = await store.search(GUILD, "", after=utc(2022), before=utc(2023, 6, 1))
    assert titles(page) == ["Stars *and* underscores_here", "Tomatoes in the garden"]
    assert (await store.search(GUILD, "", before=utc(2019, 1, 1))).total == 0


async def test_paging(store):
    first = await store.search(GUILD, "espresso", per_page=3)
    assert first.total == 4 and first.total_exact and first.pages == 2 and first.has_more
    second = await store.search(GUILD, "espresso", page=1, per_page=3)
    assert len(second.results) == 1 and not second.has_more and second.has_previous
    assert not set(titles(first)) & set(titles(second))
    beyond = await store.search(GUILD, "espresso", page=5, per_page=3)
    assert beyond.results == [] and beyond.total == 4 and not beyond.has_more


async def test_many_matches_title_hits_first_then_newest(store, monkeypatch):
    monkeypatch.setattr(archive_module, "RANK_ALL", 1)
    pages = [await store.search(GUILD, "espresso", page=n, per_page=1) for n in range(5)]
    order = [t for p in pages for t in titles(p)]
    assert not pages[0].total_exact  # more than RANK_ALL: a lower bound
    assert pages[0].total_text() == "more than 2 results"
    assert [p.has_more for p in pages] == [True, True, True, False, False]
    assert order[0] == "Espresso at home"  # the only one with the word in its title
    # then the others, newest stored first, each exactly once
    assert order[1:4] == ["مرحبا بالعالم", "Stars *and* underscores_here", "Cafés of Zürich"]
    assert pages[4].results == []


async def test_huge_first_tier_pages_through_every_match_once(store, monkeypatch):
    monkeypatch.setattr(archive_module, "RANK_ALL", 0)  # even the first tier is "huge"
    for text in ("espresso", "espresso -tea"):
        order = []
        for n in range(6):
            order += titles(await store.search(GUILD, text, page=n, per_page=1))
        assert order[0] == "Espresso at home"  # title matches still come first
        assert sorted(order) == sorted(set(order)) and len(order) == 4


# --- scope: a server sees only its own feeds ---------------------------------------------------


async def test_a_server_never_sees_another_servers_posts(store):
    assert "Espresso secrets of another server" not in titles(
        await store.search(GUILD, "espresso", per_page=25)
    )
    assert titles(await store.search(OTHER, "espresso")) == ["Espresso secrets of another server"]
    for text in ("espresso OR secrets", "secrets OR espresso", "-tea secrets", "gazettefeed2"):
        page = await store.search(GUILD, text, per_page=25)
        assert "Espresso secrets of another server" not in titles(page), text
    assert (
        await store.get_post_for_guild(
            GUILD, (await store.search(OTHER, "secrets")).results[0].post_id
        )
        is None
    )  # noqa: E501
    assert await store.titles_like(GUILD, "secr") == []
    assert await store.names_like("author", GUILD, "mall") == []


async def test_a_server_without_feeds(store):
    page = await store.search(LONELY, "espresso")
    assert page.results == [] and "does not follow" in page.notice
    assert await store.latest(LONELY, 5) == []
    assert await store.random_post(LONELY) is None
    assert await store.titles_like(LONELY, "esp") == []


async def test_scope_must_be_given(store):
    with pytest.raises(ValueError):
        await store.search(None, "espresso")


async def test_operator_scope_by_feed_ids(store):
    ids = await store.archive_feed_ids()
    page = await store.search(None, "espresso", feed_ids=ids, per_page=25)
    assert page.total == 5
    only = await store.search(None, "espresso", feed_ids=[store.test_other_id])
    assert titles(only) == ["Espresso secrets of another server"]


# --- browsing and autocomplete -----------------------------------------------------------------


async def test_latest_random_and_get_post(store):
    latest = await store.latest(GUILD, 3)
    assert [h.title for h in latest] == [
        "مرحبا بالعالم",
        "Stars *and* underscores_here",
        "Tomatoes in the garden",
    ]
    assert latest[0].snippet.startswith("السلام عليكم")
    seen = {(await store.random_post(GUILD)).key for _ in range(30)}
    assert seen <= {e.key for e in BLOG} and len(seen) > 1
    hit = (await store.search(GUILD, "espresso")).results[0]
    full = await store.get_post_for_guild(GUILD, hit.post_id)
    assert full.title == "Espresso at home" and "tamp firmly" in full.content_html


async def test_titles_like_prefix_ranked(store):
    def names(found):
        return [title for _, title in found]

    assert names(await store.titles_like(GUILD, "tom")) == ["Tomatoes in the garden"]
    assert names(await store.titles_like(GUILD, "cafes zu")) == ["Cafés of Zürich"]
    assert names(await store.titles_like(GUILD, "cafés z")) == ["Cafés of Zürich"]
    assert names(await store.titles_like(GUILD, "tomatoes g")) == ["Tomatoes in the garden"]
    assert names(await store.titles_like(GUILD, "tomatoes x")) == []
    # titles beginning with the text come before titles containing it
    assert names(await store.titles_like(GUILD, "e"))[0] == "Espresso at home"
    assert names(await store.titles_like(GUILD, "a"))[:1] == ["A cup of tea"]
    found = await store.titles_like(GUILD, "espresso")
    assert names(found) == ["Espresso at home"]
    assert (await store.get_post_for_guild(GUILD, found[0][0])).title == "Espresso at home"
    assert len(await store.titles_like(GUILD, "", limit=4)) == 4  # newest when empty
    assert len(await store.titles_like(GUILD, "((( 🚀")) == 6  # nothing usable: newest
    assert await store.titles_like(GUILD, "zzzz") == []


async def test_authors_and_categories_like(store):
    assert await store.names_like("author", GUILD, "") == [
        "Bob Smith",
        "José García",
        "Zoë Müller",
        "يوسف",
    ]
    assert await store.names_like("author", GUILD, "smi") == ["Bob Smith"]
    assert await store.names_like("author", GUILD, "100%_") == []
    cats = await store.names_like("category", GUILD, "")
    assert set(cats) == {"Coffee", "Travel", "Tea", "Gardening", "Culture"}
    # containing the text, those starting with it first
    assert await store.names_like("category", GUILD, "t") == ["Tea", "Travel", "Culture"]


# --- the index follows every write -------------------------------------------------------------


async def test_posts_stored_by_the_feed_path_are_searchable(store):
    await store.store_entries(
        store.test_feed_id,
        [post("late", "A late arrival about marzipan", "<p>Marzipan.</p>", year=2024)],
        announce=True,
    )
    assert titles(await store.search(GUILD, "marzipan")) == ["A late arrival about marzipan"]
    assert [t for _, t in await store.titles_like(GUILD, "marz")] == [
        "A late arrival about marzipan"
    ]


async def test_edits_and_deletes_follow(store):
    hit = (await store.search(GUILD, "tomatoes")).results[0]
    await store.conn.execute(
        "UPDATE posts SET title = 'Cucumbers in the garden' WHERE id = ?", (hit.post_id,)
    )
    await store.conn.commit()
    assert (await store.search(GUILD, "tomatoes")).total == 1  # still in the body
    assert titles(await store.search(GUILD, "cucumbers")) == ["Cucumbers in the garden"]
    await store.conn.execute("DELETE FROM posts WHERE id = ?", (hit.post_id,))
    await store.conn.commit()
    assert (await store.search(GUILD, "cucumbers")).total == 0
    await store.conn.execute("INSERT INTO posts_fts(posts_fts) VALUES ('integrity-check')")


async def test_a_reused_post_id_is_indexed(store):
    # SQLite hands out max(id) + 1: delete the newest post, store another, find it
    (top,) = await (await store.conn.execute("SELECT max(id) FROM posts")).fetchone()
    await store.conn.execute("DELETE FROM posts WHERE id = ?", (top,))
    await store.conn.commit()
    await store.store_entries(
        store.test_other_id, [post("reuse", "Nougat", "<p>nougat</p>")], announce=False
    )
    (again,) = await (await store.conn.execute("SELECT max(id) FROM posts")).fetchone()
    assert again == top
    assert titles(await store.search(OTHER, "nougat")) == ["Nougat"]
    await store.conn.execute("INSERT INTO posts_fts(posts_fts) VALUES ('integrity-check')")


async def test_facets_follow_deletes(store):
    await store.conn.execute("DELETE FROM posts WHERE author = 'Zoë Müller'")
    await store.conn.commit()
    assert "Zoë Müller" not in await store.names_like("author", GUILD, "")
    assert "Travel" not in await store.names_like("category", GUILD, "")
