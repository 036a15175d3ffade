"""`/archive` over the wire: search with pages and buttons, reading, autocomplete, scope."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot.models import Entry
from tests.fakediscord import MessageFlag
from tests.harness import MEMBER, button, eventually

TOPICS = ["garden", "kitchen", "travel"]


@pytest.fixture
async def archive_world(gazette_world):
    """A server following a blog of 14 posts (10 in the feed, 4 more by backfill)."""
    world = gazette_world
    blog = world.blog("Green Thumb")
    for n in range(14):
        topic = TOPICS[n % 3]
        blog.publish(
            f"Notes on the {topic} number {n}",
            f"<p>All about the {topic}: tomatoes and café crème, part {n}.</p>"
            + "".join(f"<p>Paragraph {k} of a long article about {topic}.</p>" for k in range(80)),
            author="Ada Writer" if n % 2 else "Émile Gardener",
            categories=[topic.title(), "Weekly"],
        )
    await world.start()
    result = await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    await eventually(lambda: "History imported" in (result.content or ""), what="backfill")
    # the index loop makes the imported posts searchable soon after; the tests count them all
    await world.store.index_pending()
    return world


async def test_search_pages_with_buttons_only_the_asker_can_press(archive_world):
    world = archive_world
    result = await world.command("archive search", {"query": "tomatoes"})
    message = result.messages[-1]
    assert message["flags"] & MessageFlag.EPHEMERAL
    assert "14 results" in message["content"] and "page 1 of 3" in message["content"]
    assert len(message["embeds"]) == 5
    assert "**tomatoes**" in message["embeds"][0]["description"]
    assert button(message, "◀ Previous").get("disabled")
    first_titles = [e["title"] for e in message["embeds"]]

    stranger = world.fake.add_user("stranger")
    refused = await world.fake.click(
        result, button(message, "Next ▶")["custom_id"], user_id=stranger
    )
    assert refused.ephemeral and "someone else" in refused.content

    turned = await world.fake.click(result, button(message, "Next ▶")["custom_id"])
    page2 = turned.message
    assert "page 2 of 3" in page2["content"]
    assert not {e["title"] for e in page2["embeds"]} & set(first_titles)
    assert page2["embeds"][0]["title"].startswith("6. ")

    shared = await world.fake.click(turned, button(page2, "Share 1")["custom_id"])
    assert shared.ephemeral
    [public] = [
        m for m in world.fake.messages(world.text) if "shared from the archive" in m["content"]
    ]
    assert public["embeds"][0]["title"] == page2["embeds"][0]["title"][3:]
    assert world.fake.message_request(int(public["id"]))["allowed_mentions"]["parse"] == []


async def test_a_slow_search_is_deferred_then_answered(archive_world, monkeypatch):
    """A search answers at once; one slower than DEFER_AFTER shows "thinking…" first."""
    world = archive_world
    quick = await world.command("archive search", {"query": "tomatoes"})
    assert quick.type == 4 and quick.ephemeral and "14 results" in quick.content
    nothing = await world.command("archive search", {"query": "zzzz"})
    assert nothing.type == 4 and nothing.ephemeral and "No results" in nothing.content
    # the module the running bot loaded (discord.py re-imports an extension on each start)
    monkeypatch.setattr(sys.modules["cogs.archive._cog"], "DEFER_AFTER", 0.0)
    slow = await world.command("archive search", {"query": "tomatoes"})
    assert slow.type == 5 and slow.ephemeral
    assert slow.messages[-1]["content"] == quick.content
    assert [e["title"] for e in slow.messages[-1]["embeds"]] == [e["title"] for e in quick.embeds]
    assert button(slow.messages[-1], "Share 1")
    slow_nothing = await world.command("archive search", {"query": "zzzz"})
    assert slow_nothing.type == 5 and slow_nothing.messages[-1]["content"] == nothing.content


async def test_filters_by_author_category_and_date(archive_world):
    world = archive_world
    result = await world.command(
        "archive search", {"query": "tomatoes", "author": "Ada Writer", "category": "Garden"}
    )
    content = result.messages[-1]["content"]
    # odd posts are Ada's; garden posts are n % 3 == 0: 3 and 9
    assert "2 results" in content
    later = await world.command("archive search", {"query": "tomatoes", "after": "2999-01-01"})
    assert "No results" in later.messages[-1]["content"]
    bad = await world.command("archive search", {"query": "tomatoes", "before": "last week"})
    assert bad.ephemeral and "YYYY-MM-DD" in bad.content


@pytest.mark.parametrize(
    "query",
    [
        '"unclosed phrase',
        "NEAR(garden kitchen, 3)",
        "garden AND -",
        "title:garden",
        "(((",
        "*",
        "g" * 1000,
        "🌱 garden 🍅",
        "حديقة الطماطم",
        "café",
        "\u202egarden",
    ],
)
async def test_any_input_gets_an_answer_not_an_error(archive_world, query):
    result = await archive_world.command("archive search", {"query": query})
    text = result.messages[-1]["content"]
    assert "went wrong" not in text and "Traceback" not in text and "fts5" not in text.lower()


async def test_diacritics_and_phrases(archive_world):
    world = archive_world
    plain = await world.command("archive search", {"query": "cafe creme"})
    assert "14 results" in plain.messages[-1]["content"]
    phrase = await world.command("archive search", {"query": '"crème tomatoes"'})
    assert "No results" in phrase.messages[-1]["content"]


async def test_nothing_found_is_a_friendly_answer(archive_world):
    result = await archive_world.command("archive search", {"query": "submarine"})
    text = result.messages[-1]["content"]
    assert "No results" in text and result.messages[-1]["flags"] & MessageFlag.EPHEMERAL


async def test_read_a_whole_article_in_pages(archive_world):
    world = archive_world
    choices = await world.fake.autocomplete(
        world.guild, world.text, "archive post", option="article", value="kitchen number 1"
    )
    assert choices and "kitchen number 1" in choices[0]["name"]
    result = await world.command("archive post", {"article": choices[0]["value"]})
    message = result.messages[-1]
    embed = message["embeds"][0]
    assert embed["title"] == choices[0]["name"]
    assert "Paragraph 0" in embed["description"]
    assert "Page 1 of" in embed["footer"]["text"] and "Page 1 of 1" not in embed["footer"]["text"]
    links = {f["name"]: f["value"] for f in embed["fields"]}["Links"]
    assert "Read on the blog" in links
    turned = await world.fake.click(result, button(message, "Next ▶")["custom_id"])
    assert "Page 2 of" in turned.message["embeds"][0]["footer"]["text"]


async def test_autocomplete_of_authors_and_categories(archive_world):
    world = archive_world
    authors = await world.fake.autocomplete(
        world.guild,
        world.text,
        "archive search",
        option="author",
        value="emi",
        options={"query": "x"},
    )
    assert [c["value"] for c in authors] == ["Émile Gardener"]
    categories = await world.fake.autocomplete(
        world.guild,
        world.text,
        "archive search",
        option="category",
        value="tra",
        options={"query": "x"},
    )
    assert [c["value"] for c in categories] == ["Travel"]


async def test_latest_and_random(archive_world):
    world = archive_world
    latest = await world.command("archive latest", {"count": 3})
    assert [e["title"] for e in latest.embeds] == [
        "1. Notes on the kitchen number 13",
        "2. Notes on the garden number 12",
        "3. Notes on the travel number 11",
    ]
    member = world.fake.add_user("reader")
    random = await world.command("archive random", user_id=member, user_permissions=MEMBER)
    assert random.embeds[0]["title"].startswith("Notes on the")


async def test_a_server_searches_only_its_own_feeds(archive_world):
    world = archive_world
    other = world.fake.add_guild("Elsewhere")
    channel = world.fake.add_channel(other, "general")
    await world.restart()  # commands are registered for the first server only
    world.bot.tree.copy_global_to(guild=__import__("discord").Object(other))
    await world.bot.tree.sync(guild=__import__("discord").Object(other))
    result = await world.fake.invoke(other, channel, "archive search", {"query": "tomatoes"})
    assert "No results" in result.messages[-1]["content"]
    empty = await world.fake.invoke(other, channel, "archive random", {})
    assert empty.ephemeral and "empty" in empty.content


async def test_buttons_disable_themselves_on_timeout(archive_world, monkeypatch):
    # the buttons are cogs/common/pages.py's, shared by every cog
    monkeypatch.setattr(sys.modules["cogs.common.pages"], "VIEW_TIMEOUT", 0.3)
    result = await archive_world.command("archive search", {"query": "tomatoes"})

    def disabled():
        message = archive_world.fake.message(int(result.messages[-1]["id"]))
        return button(message, "Next ▶").get("disabled")

    await eventually(disabled, what="buttons disabled after the timeout")


async def test_search_answers_while_a_long_write_is_open(archive_world):
    """Searches read committed data on their own connection: one held-open write
    transaction (a poll cycle's batch, an import) does not hold up the answer, even with
    a post stored and not yet indexed (the index loop indexes it; the answer does not wait)."""
    world = archive_world
    [sub] = await world.store.guild_subscriptions(world.guild)
    fresh = Entry(key="fresh", title="Fresh tomatoes", content_html="<p>tomatoes</p>")
    await world.store.store_entries(sub.feed_id, [fresh], announce=False)
    entered, release = asyncio.Event(), asyncio.Event()

    async def long_write():
        async with world.store.transaction() as db:
            await db.execute("UPDATE archive_state SET indexed_upto = indexed_upto")
            entered.set()
            await release.wait()

    writer = asyncio.create_task(long_write())
    await entered.wait()
    try:
        result = await world.command("archive search", {"query": "tomatoes"})
        assert "14 results" in result.messages[-1]["content"]  # the fresh post: soon
        assert not writer.done()  # answered while the write was still open
    finally:
        release.set()
        await writer

    async def fresh_post_found() -> bool:
        result = await world.command("archive search", {"query": "tomatoes"})
        return "15 results" in result.messages[-1]["content"]

    # indexed by the bot's index loop, never by a member's search (which would wait)
    await eventually(fresh_post_found, what="the fresh post searchable")
