"""Filters per subscription without Discord: the pure matcher, its words matched exactly as
`/archive search` finds them, and the deliveries a new post gets."""

from __future__ import annotations

import re
import time

import pytest

from bot.errors import UserError
from bot.filters import Filters, compiled, judge, parse_entries, passes, post_facts, updated
from bot.models import Entry
from bot.store import Store
from bot.store.words import SEARCH_TOKENIZER, WordIndex
from tests.test_store import GUILD, followed_feed


def spec(**lists: str) -> str:
    return updated(Filters(), lists).to_json()


def facts(author="Ada Writer", categories=("News",), tags=(), title="", text=""):
    index = WordIndex()
    words = index.post(title, text).__enter__()  # closed with the index (the test's life)
    return post_facts(author, categories, tags, words.has)


# --- the lists ---------------------------------------------------------------------------


def test_entries_are_comma_separated_trimmed_and_deduplicated_case_and_accents_aside():
    assert parse_entries("categories", " News ,  Café  crème,news, CAFE CREME,\nTech") == (
        "News",
        "Café crème",
        "Tech",
    )
    assert parse_entries("skip_words", "none") == ()
    assert parse_entries("authors", " - ") == ()


@pytest.mark.parametrize(
    ("kind", "text", "why"),
    [
        ("words", ", ".join(f"w{n}" for n in range(21)), "at most 20 (you gave 21)"),
        ("authors", "a" * 101, "at most 100 characters"),
        ("skip_words", "🎉, !!", "no letters or digits"),
        ("words", " ".join(["w"] * 13), "at most 12 words"),
        ("categories", ",,", "No entries"),
    ],
)
def test_lists_have_limits_with_clear_errors(kind, text, why):
    with pytest.raises(UserError, match=re.escape(why)):
        parse_entries(kind, text)


def test_a_spec_is_stored_as_json_and_compiled_once():
    filters = updated(Filters(), {"categories": "News", "skip_words": "war"})
    text = filters.to_json()
    assert Filters.from_json(text) == filters
    assert compiled(text) is compiled(text)
    assert Filters().to_json() is None and compiled(None) is None
    # a list given replaces that list only
    again = updated(filters, {"words": "peace"})
    assert again.categories == ("News",) and again.words == ("peace",)


# --- the rules -----------------------------------------------------------------------------


def test_an_only_list_passes_a_post_carrying_any_of_its_entries():
    rules = compiled(spec(categories="Sport, Garden"))
    assert passes(rules, facts(categories=["garden"]))
    assert passes(rules, facts(categories=["News"], tags=["SPORT"]))  # tags count as much
    assert not passes(rules, facts(categories=["News"]))
    assert not passes(rules, facts(categories=["Gardening"]))  # whole names only


def test_a_skip_list_drops_a_post_carrying_any_of_its_entries():
    rules = compiled(spec(skip_categories="Sport, Météo", skip_authors="Bot"))
    assert not passes(rules, facts(categories=["News", "meteo"]))
    assert not passes(rules, facts(author="bot"))
    assert passes(rules, facts(categories=["News"], author="Bottom"))


def test_every_list_must_agree():
    rules = compiled(spec(categories="News", authors="Émile Gardener", skip_words="war"))
    assert passes(rules, facts(author="emile gardener", text="peace"))
    assert not passes(rules, facts(author="Ada Writer", text="peace"))  # the author list
    assert not passes(rules, facts(author="Emile Gardener", categories=["Tech"]))
    assert not passes(rules, facts(author="Emile Gardener", title="War!"))  # the words


def test_words_are_looked_for_only_when_the_names_let_the_post_through():
    asked = []
    rules = compiled(spec(categories="News", words="peace"))
    drop = post_facts("Ada", ["Sport"], [], lambda phrase: asked.append(phrase) or True)
    assert not passes(rules, drop) and asked == []
    keep = post_facts("Ada", ["News"], [], lambda phrase: asked.append(phrase) or True)
    assert passes(rules, keep) and asked == ['"peace"']


def test_the_verdict_says_which_list_passed_or_dropped_the_post():
    rules = compiled(spec(skip_categories="Sport", words="garden, tomato"))
    verdict = judge(rules, facts(categories=["News"], title="Tomato season"))
    assert verdict.passed
    assert verdict.reasons == ["in no category skipped", "has “tomato”, a word announced"]
    verdict = judge(rules, facts(categories=["Sport"], title="Tomato season"))
    assert not verdict.passed and verdict.reasons[0] == "in “Sport”, a category skipped"
    verdict = judge(compiled(spec(authors="Ada")), facts(author=None))
    assert not verdict.passed and verdict.reasons[0].startswith("without an author")


# --- words: exactly what /archive search finds ---------------------------------------------

POSTS = [
    ("Un café crème", "Morning coffee."),
    ("The CAFETERIA", "Lunch."),
    ("Notes", "I don’t know."),  # a curly apostrophe
    ("Don't panic", "A towel."),
    ("Category theory", "Arrows."),
    ("Two cats", "Purring."),
    ("Summer", "L'été indien, naïve."),
    ("Contact", "Write an e-mail."),
    ("Address", "Your email, please."),
    ("Dogs", "Not a cat in sight: a DOG."),
]
WORDS = [
    "cafe", "CAFÉ", "cafeteria", "don't", "don’t", "don", "cat", "cats", "category",
    "categories", "été", "ETE", "naive", "e-mail", "email", "mail", "dog", "l'été",
]  # fmt: skip


async def test_a_filter_word_matches_the_posts_a_search_for_it_finds(tmp_path):
    store = await Store.open(tmp_path / "words.sqlite3")
    try:
        feed_id = await followed_feed(store)
        entries = [
            Entry(key=str(n), title=title, content_text=text, author="Ada", categories=["X"])
            for n, (title, text) in enumerate(POSTS)
        ]
        ids = await store.store_entries(feed_id, entries, announce=False)
        by_title = {title: post_id for post_id, (title, _) in zip(ids, POSTS, strict=True)}
        for word in WORDS:
            page = await store.search(None, word, feed_ids=[feed_id], per_page=25)
            searched = {hit.post_id for hit in page.results}
            rules = compiled(spec(words=word))
            filtered = {
                by_title[title]
                for title, text in POSTS
                if passes(rules, facts(author="Ada", categories=["X"], title=title, text=text))
            }
            assert filtered == searched, word
            assert searched or word == "mail", word  # the cases are not vacuous
        # and the tricky ones do what a reader expects
        assert passes(compiled(spec(words="cafe")), facts(title="Un café crème"))
        assert not passes(compiled(spec(words="cafe")), facts(title="The CAFETERIA"))
        assert not passes(compiled(spec(words="cat")), facts(title="Category theory"))
        assert passes(compiled(spec(words="don't")), facts(text="I don’t know."))
        # the index is the search index's: same tokenizer as posts_fts
        sql = await store._value("SELECT sql FROM sqlite_master WHERE name = 'posts_fts'")
        assert f"tokenize = '{SEARCH_TOKENIZER}'" in sql
    finally:
        await store.close()


# --- deliveries ----------------------------------------------------------------------------


async def test_a_new_post_is_owed_only_to_the_subscriptions_it_passes(tmp_path):
    store = await Store.open(tmp_path / "owed.sqlite3")
    try:
        feed_id = await followed_feed(store)
        [plain] = await store.feed_subscriptions(feed_id)
        sport_free = await store.add_subscription(feed_id, GUILD, 11)
        assert await store.set_filters(GUILD, sport_free.id, spec(skip_categories="sport"))
        assert not await store.set_filters(2, sport_free.id, None)  # another server's
        now = time.time()
        match, garden = await store.store_entries(
            feed_id,
            [
                Entry(key="m", title="Match", categories=["Sport"], published_at=now - 2),
                Entry(key="g", title="Garden", categories=["Home"], published_at=now - 1),
            ],
            announce=True,
        )
        owed = await store._all("SELECT post_id, subscription_id FROM deliveries ORDER BY id")
        assert [tuple(row) for row in owed] == [
            (match, plain.id),
            (garden, plain.id),
            (garden, sport_free.id),
        ]
        assert await store.count_posts(feed_id) == 2  # the filtered post is archived
        await store.remove_subscription(GUILD, sport_free.id)  # its filters go with it
        assert await store._value("SELECT count(*) FROM subscription_filters") == 0
    finally:
        await store.close()
