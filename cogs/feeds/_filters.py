"""`/feed filter`, and what `/feed test` and `/feed list` say of a subscription's filters."""

from __future__ import annotations

from bot.errors import UserError
from bot.filters import Filters, Verdict, updated
from bot.models import Subscription
from bot.render.markdown import inline_markdown
from bot.store import Store

from ._listing import link_text

# /feed filter's options as the client shows them (at most 100 characters each)
_LIST = " (comma-separated; none empties it)"
FILTER_OPTIONS = {
    "feed": "The feed to filter (give no list to see its filters)",
    "categories": "Announce only posts in any of these categories or tags" + _LIST,
    "skip_categories": "Skip posts in any of these categories or tags" + _LIST,
    "authors": "Announce only posts by any of these authors" + _LIST,
    "skip_authors": "Skip posts by any of these authors" + _LIST,
    "words": "Announce only posts with any of these words in title or text" + _LIST,
    "skip_words": "Skip posts with any of these words in their title or text" + _LIST,
    "clear": "Remove every filter: announce all new posts",
}
LIST_FILTERS_CHARS = 300  # of the filters shown in a feed's field of /feed list
REASON_CHARS = 250  # of one reason in /feed test (it quotes the post's names)


def filter_lines(filters: Filters, limit: int = 1300) -> list[str]:
    """The filters, a line per list, escaped (the admin typed them), within `limit` in all."""
    lines, used = [], 0
    for line in filters.lines():
        line = "- " + inline_markdown(line, 400)
        if used + len(line) > limit:
            lines.append("- …")
            break
        lines.append(line)
        used += len(line) + 1
    return lines


def list_line(spec: str | None) -> str | None:
    """`/feed list`'s one line for a subscription's filters (None: it has none)."""
    filters = Filters.from_json(spec)
    if filters.empty:
        return None
    return "Filters: " + inline_markdown(" · ".join(filters.lines()), LIST_FILTERS_CHARS)


async def set_filters(
    store: Store, guild_id: int, sub: Subscription, given: dict[str, str | None], clear: bool
) -> str:
    """Apply `/feed filter`'s options; the answer shows the filters that result."""
    where = f"{link_text(sub.feed_url)} in <#{sub.channel_id}>"
    current = Filters.from_json(await store.subscription_filters(sub.id))
    changing = any(text is not None for text in given.values())
    if clear and changing:
        raise UserError("Either `clear` or lists to set, not both.")
    if clear:
        result = Filters()
    elif changing:
        result = updated(current, given)
    else:  # nothing asked: say what they are
        if current.empty:
            return f"{where} has no filters: every new post is announced."
        return "\n".join([f"Filters of {where}:", *filter_lines(current)])
    if not await store.set_filters(guild_id, sub.id, result.to_json()):
        raise UserError("That feed is no longer followed here (see `/feed list`).")
    if result.empty:
        return f"{where} has no filters any more: every new post is announced."
    return "\n".join(
        [
            f"Filters of {where} (for posts found from now on):",
            *filter_lines(result),
            "A post is announced when every list agrees: any entry of an “only” list lets it"
            " through, any entry of a “skip” list drops it. `/feed test` shows how the newest"
            " post fares.",
        ]
    )


def verdict_text(verdict: Verdict) -> str:
    """`/feed test`'s lines about the filters: the outcome, then each list's reason."""
    head = (
        "✅ Its filters let this post through:"
        if verdict.passed
        else "🚫 Its filters would NOT announce this post:"
    )
    reasons = [f"- {inline_markdown(reason, REASON_CHARS)}" for reason in verdict.reasons]
    return "\n".join([head, *reasons])


__all__ = ["FILTER_OPTIONS", "list_line", "set_filters", "verdict_text"]
