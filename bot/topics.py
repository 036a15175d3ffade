"""Topic roles: which roles an announcement mentions. Knows nothing of Discord.

A subscription may have topic roles (`/feed roles`): one role per category or tag of its
blog. A post mentions the subscription's own mention role first, then the roles of the
topics it carries, in the order the blog lists them (categories, then tags), never more
than MAX_ROLE_MENTIONS roles in one message. Topics are compared as whole names, case and
accents aside ("Café" is "cafe", never "Cafés" nor "Café noir").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .search import fold

#: Roles one announcement mentions at most (the mention role included): a post with many
#: tags must not turn into a wall of pings
MAX_ROLE_MENTIONS = 5
#: Topics one panel offers (Discord's limit: 25 buttons in a message, 25 menu options)
MAX_TOPICS = 25


def topic_key(name: str) -> str:
    """What a topic is matched on: folded (case and accents aside), spaces collapsed."""
    return fold(" ".join(name.split()))


@dataclass(frozen=True, slots=True)
class TopicRole:
    """One topic of a subscription and the role that stands for it."""

    id: int
    subscription_id: int
    guild_id: int
    topic: str
    role_id: int
    created: bool  # Gazette made the role (so it may delete it); False: an admin linked it


def roles_to_mention(
    mention_role_id: int | None,
    topic_roles: Mapping[str, int],
    topics: Iterable[str],
    cap: int = MAX_ROLE_MENTIONS,
) -> list[int]:
    """The role ids an announcement mentions, at most `cap`: the subscription's own mention
    role, then the role of each of the post's `topics` (its categories, then its tags)
    found in `topic_roles` (topic key → role id), each role once."""
    chosen: list[int] = [mention_role_id] if mention_role_id else []
    if topic_roles:
        for topic in topics:
            if len(chosen) >= cap:
                break
            role_id = topic_roles.get(topic_key(topic))
            if role_id is not None and role_id not in chosen:
                chosen.append(role_id)
    return chosen[:cap]


def role_mentions(role_ids: Iterable[int]) -> str:
    """The message text that mentions these roles."""
    return " ".join(f"<@&{role_id}>" for role_id in role_ids)


def merge_topics(counted: Iterable[tuple[str, int]], limit: int = MAX_TOPICS) -> list[str]:
    """Topic names with their post counts (a category and a tag may share a name, or differ
    by case or accents) as one list of distinct topics, most used first, at most `limit`;
    each under the spelling the blog uses most."""
    totals: dict[str, int] = {}
    spelling: dict[str, tuple[int, str]] = {}
    for name, count in counted:
        name = " ".join(name.split())
        key = topic_key(name)
        if not key:
            continue
        totals[key] = totals.get(key, 0) + count
        if count > spelling.get(key, (-1, ""))[0]:
            spelling[key] = (count, name)
    ranked = sorted(totals, key=lambda key: (-totals[key], key))
    return [spelling[key][1] for key in ranked[:limit]]
