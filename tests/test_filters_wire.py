"""Filters per subscription over the wire: `/feed filter`, `/feed test`, `/feed list`, and
which new posts are announced (real discord.py, the fake Discord, a blog on loopback)."""

from __future__ import annotations

from tests.harness import eventually, settle


async def followed_blog(world):
    """A blog with a post, followed in the text channel by the started bot; the blog and the
    subscription's id (the `feed` option)."""
    blog = world.blog()
    blog.publish("Older post")
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    [sub] = await world.store.guild_subscriptions(world.guild)
    return blog, str(sub.id)


def titles(world) -> list[str]:
    return [m["embeds"][0]["title"] for m in world.announcements()]


async def search_titles(world, query: str) -> list[str]:
    result = await world.command("archive search", {"query": query})
    return [e.get("title", "") for e in result.messages[-1].get("embeds", [])]


async def test_skipped_category_is_archived_and_searchable_not_announced(gazette_world):
    world = gazette_world
    blog, feed = await followed_blog(world)

    answer = await world.command("feed filter", {"feed": feed, "skip_categories": "sport, Météo"})
    text = answer.messages[-1]["content"]
    assert answer.ephemeral and "skip categories or tags: “sport”, “Météo”" in text

    blog.publish("Garden news", "<p>Tomatoes are ripe.</p>", categories=["News"])
    blog.publish("Match report", "<p>Penalties again.</p>", categories=["News", "Sport"])
    await world.poll_now()
    await eventually(lambda: titles(world) == ["Garden news"], what="the garden announcement")
    await settle()
    assert titles(world) == ["Garden news"]  # never the post in a skipped category
    # ...which is in the archive all the same
    found = await eventually(lambda: search_titles(world, "penalties"), what="the search")
    assert any("Match report" in title for title in found)

    preview = await world.command("feed test", {"feed": feed})
    assert preview.embeds[0]["title"] == "Match report"
    assert "would NOT announce" in preview.content
    assert "in “Sport”, a category skipped" in preview.content

    listing = await world.command("feed list")
    field = listing.embeds[0]["fields"][0]["value"]
    assert "Filters: skip categories or tags: “sport”, “Météo”" in field

    # the filters are in the database: a restart keeps them
    await world.restart()
    blog.publish("Weather today", "<p>Rain.</p>", categories=["METEO"])
    blog.publish("Library hours", "<p>Open late.</p>", categories=["News"])
    await world.poll_now()
    await eventually(lambda: titles(world) == ["Garden news", "Library hours"], what="library")
    await settle()
    assert titles(world) == ["Garden news", "Library hours"]


async def test_only_authors_and_words_as_search_matches_them(gazette_world):
    world = gazette_world
    blog, feed = await followed_blog(world)

    # an author written without accents or capitals matches the blog's "Émile Gardener"
    await world.command("feed filter", {"feed": feed, "authors": "emile  GARDENER"})
    blog.publish("By Ada", "<p>Hello.</p>", author="Ada Writer")
    blog.publish("By Émile", "<p>Hello.</p>", author="Émile Gardener")
    await world.poll_now()
    await eventually(lambda: titles(world) == ["By Émile"], what="Émile's post")
    preview = await world.command("feed test", {"feed": feed})
    assert "let this post through" in preview.content
    assert "by “Émile Gardener”, an author announced" in preview.content

    # words: accents and case aside, whole words only; an apostrophe splits words both ways
    changed = await world.command(
        "feed filter", {"feed": feed, "authors": "none", "words": "Café", "skip_words": "don't"}
    )
    text = changed.messages[-1]["content"]
    assert "only by authors" not in text and "only with words: “Café”" in text
    blog.publish("Morning", "<p>Un CAFE crème, s'il vous plaît.</p>")
    blog.publish("Cafeteria", "<p>The cafeteria opens.</p>")  # not the word "cafe"
    blog.publish("Warning", "<p>Café: don’t miss it.</p>")  # a curly apostrophe
    await world.poll_now()
    await eventually(lambda: "Morning" in titles(world), what="the café post")
    await settle()
    assert titles(world) == ["By Émile", "Morning"]
    preview = await world.command("feed test", {"feed": feed})
    assert preview.embeds[0]["title"] == "Warning"
    assert "has “don't”, a word skipped" in preview.content

    cleared = await world.command("feed filter", {"feed": feed, "clear": True})
    assert "every new post is announced" in cleared.messages[-1]["content"]
    assert await world.store.subscription_filters(int(feed)) is None
    blog.publish("Anything", "<p>Whatever.</p>", author="Ada Writer")
    await world.poll_now()
    await eventually(lambda: titles(world)[-1:] == ["Anything"], what="an unfiltered post")


async def test_filter_mistakes_get_short_answers(gazette_world):
    world = gazette_world
    blog, feed = await followed_blog(world)

    shown = await world.command("feed filter", {"feed": feed})
    assert "has no filters" in shown.messages[-1]["content"]
    many = ", ".join(f"word{n}" for n in range(21))
    for options, expected in (
        ({"words": many}, "at most 20 (you gave 21)"),
        ({"skip_words": "!!, ??"}, "has no letters or digits"),
        ({"authors": "x" * 101}, "at most 100 characters"),
        ({"categories": " , ,"}, "No entries"),
        ({"categories": "News", "clear": True}, "not both"),
    ):
        refused = await world.command("feed filter", {"feed": feed, **options})
        assert refused.ephemeral and expected in refused.messages[-1]["content"], options
    assert await world.store.subscription_filters(int(feed)) is None


async def test_invisible_characters_do_not_smuggle_a_skipped_word_through(gazette_world):
    # a blog hides "sponsored" from a filter (and from search) with a soft hyphen, written
    # as an HTML entity in the text, or a zero-width space in the title: both still count
    world = gazette_world
    blog, feed = await followed_blog(world)
    await world.command("feed filter", {"feed": feed, "skip_words": "sponsored"})
    blog.publish("Garden news", "<p>Tomatoes are ripe.</p>")
    blog.publish("Spon\u200bsored: a mower", "<p>Buy it.</p>")
    blog.publish("A new hose", "<p>Spon&shy;sored post.</p>")
    blog.publish("Library hours", "<p>Open late.</p>")
    await world.poll_now()
    await eventually(lambda: "Library hours" in titles(world), what="the library announcement")
    await settle()
    assert titles(world) == ["Garden news", "Library hours"]
    found = await eventually(lambda: search_titles(world, "sponsored"), what="the search")
    assert len(found) == 2
