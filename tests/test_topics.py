"""Topic roles without Discord: which roles a post mentions, and the store's topic rows."""

from __future__ import annotations

from bot.models import Entry
from bot.topics import MAX_ROLE_MENTIONS, merge_topics, role_mentions, roles_to_mention, topic_key
from tests.test_store import followed_feed


def test_topics_match_as_whole_names_case_and_accents_aside():
    roles = {topic_key("Café"): 1, topic_key("Travel  Notes"): 2}
    assert roles_to_mention(None, roles, ["CAFE"]) == [1]
    assert roles_to_mention(None, roles, ["travel notes"]) == [2]
    # never a part of a name, nor a name containing it
    assert roles_to_mention(None, roles, ["Cafés", "Café noir", "Travel"]) == []


def test_the_mention_role_comes_first_and_each_role_once():
    roles = {topic_key("A"): 10, topic_key("B"): 11, topic_key("b "): 11}
    assert roles_to_mention(7, roles, ["B", "A", "b", "Z"]) == [7, 11, 10]
    assert roles_to_mention(10, roles, ["A"]) == [10]
    assert roles_to_mention(7, {}, ["A"]) == [7]
    assert roles_to_mention(None, {}, []) == []


def test_never_more_than_the_cap():
    roles = {topic_key(f"t{n}"): 100 + n for n in range(20)}
    topics = [f"t{n}" for n in range(20)]
    assert roles_to_mention(None, roles, topics) == [100 + n for n in range(MAX_ROLE_MENTIONS)]
    assert roles_to_mention(5, roles, topics) == [5] + [100 + n for n in range(4)]
    assert role_mentions([5, 100]) == "<@&5> <@&100>"


def test_topics_offered_most_used_first_variants_merged():
    counted = [("news", 2), ("News", 5), ("Café", 3), ("cafe", 1), ("  ", 9), ("Zed", 3)]
    # "News" (7 with its variant) first, under the spelling used most; ties by name
    assert merge_topics(counted) == ["News", "Café", "Zed"]
    assert merge_topics(counted, limit=1) == ["News"]


def entry(key: str, categories: list[str], tags: list[str] = ()) -> Entry:
    return Entry(key=key, title=key, link=None, categories=categories, tags=list(tags))


async def test_store_ranks_a_feeds_topics_and_forgets_deleted_roles(store):
    feed_id = await followed_feed(store)  # followed in server 1
    [sub] = await store.guild_subscriptions(1)
    other = await store.add_subscription(feed_id, guild_id=3, channel_id=4)
    await store.store_entries(
        feed_id,
        [
            entry("a", ["Travel"], ["food"]),
            entry("b", ["Travel", "Food"]),
            entry("c", ["Travel"]),
            entry("d", ["Misc"]),
        ],
        announce=False,
    )
    assert await store.popular_topics(feed_id) == ["Travel", "Food", "Misc"]

    await store.set_topic_roles(sub.id, [("Travel", 50, True), ("Food", 51, False)])
    await store.set_topic_roles(other.id, [("Travel", 60, True)])
    await store.set_topic_panel(sub.id, 2, 99)
    assert await store.topic_role_map(sub.id) == {"travel": 50, "food": 51}
    [travel, food] = await store.topic_roles(sub.id)
    assert (travel.topic, travel.guild_id, travel.created) == ("Travel", 1, True)
    assert food.created is False
    assert (await store.topic_role(food.id)).role_id == 51

    assert await store.forget_topic_role(51) == [sub.id]
    assert await store.topic_role_map(sub.id) == {"travel": 50}
    assert await store.topic_role_map(other.id) == {"travel": 60}
    # a subscription removed takes its topics and panel with it
    await store.remove_subscription(1, sub.id)
    assert await store.topic_role_map(sub.id) == {}
    assert await store.topic_panel(sub.id) is None
    assert await store.topic_role(travel.id) is None
