"""Filters per subscription: stored specs, and which subscriptions a new post is owed to."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

import aiosqlite

from ..filters import Compiled, Verdict, compiled, judge, passes, post_facts
from ..models import Entry, Post
from .words import WordIndex

# a feed's subscriptions with their filters (NULL: none), as store_entries reads them
SUBSCRIPTIONS_WITH_FILTERS = (
    "SELECT s.id, sf.spec, s.digest != 'off' AS in_digest FROM subscriptions s"
    " LEFT JOIN subscription_filters sf ON sf.subscription_id = s.id WHERE s.feed_id = ?"
)


class FilterQueries:
    conn: aiosqlite.Connection
    _word_index: WordIndex | None = None

    async def close(self) -> None:
        if self._word_index is not None:
            self._word_index.close()
            self._word_index = None
        await super().close()

    async def set_filters(self, guild_id: int, subscription_id: int, spec: str | None) -> bool:
        """Set (None: remove) a subscription's filters, if it is this server's."""
        async with self.transaction() as db:
            found = await self._value(
                "SELECT 1 FROM subscriptions WHERE id = ? AND guild_id = ?",
                (subscription_id, guild_id),
                conn=db,
            )
            if not found:
                return False
            if spec is None:
                await db.execute(
                    "DELETE FROM subscription_filters WHERE subscription_id = ?",
                    (subscription_id,),
                )
            else:
                await db.execute(
                    "INSERT INTO subscription_filters(subscription_id, spec, updated_at)"
                    " VALUES (?, ?, ?) ON CONFLICT(subscription_id)"
                    " DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
                    (subscription_id, spec, time.time()),
                )
        return True

    async def subscription_filters(self, subscription_id: int) -> str | None:
        return await self._value(
            "SELECT spec FROM subscription_filters WHERE subscription_id = ?",
            (subscription_id,),
            conn=self.conn,
        )

    async def guild_filters(self, guild_id: int) -> dict[int, str]:
        """subscription id -> spec, for this server's subscriptions that have filters."""
        rows = await self._all(
            "SELECT sf.subscription_id, sf.spec FROM subscription_filters sf"
            " JOIN subscriptions s ON s.id = sf.subscription_id WHERE s.guild_id = ?",
            (guild_id,),
            conn=self.conn,
        )
        return {row["subscription_id"]: row["spec"] for row in rows}

    async def post_text(self, post_id: int) -> str:
        """A post's plain text, as the search index reads it."""
        return (
            await self._value(
                "SELECT content_text FROM posts WHERE id = ?", (post_id,), conn=self.conn
            )
            or ""
        )

    async def owed_deliveries(
        self,
        entries: Iterable[Entry],
        post_ids: dict[str, int],
        texts: dict[str, str],
        subs: Sequence[aiosqlite.Row],
    ) -> list[tuple[int, int]]:
        """(post id, subscription id) for each new post each subscription announces, by post
        id: every subscription without filters, and those whose filters the post passes.
        `subs` are SUBSCRIPTIONS_WITH_FILTERS rows. Called inside the write transaction,
        which makes the calls one at a time."""
        rules = [(sub["id"], compiled(sub["spec"])) for sub in subs]
        ordered = sorted(entries, key=lambda e: post_ids[e.key])
        if all(r is None for _, r in rules):
            return [(post_ids[e.key], sub_id) for e in ordered for sub_id, _ in rules]
        if any(r is not None and r.needs_words for _, r in rules):
            # indexing a long post's words takes milliseconds: off the event loop
            return await asyncio.to_thread(self.judge_entries, ordered, post_ids, texts, rules)
        return self.judge_entries(ordered, post_ids, texts, rules)

    def judge_entries(
        self,
        entries: list[Entry],
        post_ids: dict[str, int],
        texts: dict[str, str],
        rules: list[tuple[int, Compiled | None]],
    ) -> list[tuple[int, int]]:
        """owed_deliveries' evaluation (on one thread at a time: the word index is shared)."""
        if self._word_index is None:
            self._word_index = WordIndex()
        owed: list[tuple[int, int]] = []
        for entry in entries:
            post_id = post_ids[entry.key]
            with self._word_index.post(entry.title, texts.get(entry.key, "")) as words:
                facts = post_facts(entry.author, entry.categories, entry.tags, words.has)
                owed += [(post_id, sub_id) for sub_id, r in rules if passes(r, facts)]
        return owed

    async def explain_filters(self, subscription_id: int, post: Post) -> Verdict | None:
        """Whether the subscription's filters let `post` through, and why (`/feed test`);
        None when it has no filters."""
        rules = compiled(await self.subscription_filters(subscription_id))
        if rules is None:
            return None
        text = await self.post_text(post.id) if rules.needs_words else ""
        # a long post takes milliseconds to index: off the event loop, with its own index
        return await asyncio.to_thread(_judge_post, rules, post, text)


def _judge_post(rules: Compiled | None, post: Post, text: str) -> Verdict:
    index = WordIndex()
    try:
        with index.post(post.title, text) as words:
            return judge(rules, post_facts(post.author, post.categories, post.tags, words.has))
    finally:
        index.close()
