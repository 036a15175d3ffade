"""The archive: full-text search, newest, random and autocomplete, always within a scope.

A scope is a server (`guild_id`: the feeds it is subscribed to) or an explicit list of feed
ids (the operator's CLI). A server only ever sees the posts of its own feeds, and a member
only those of feeds announced in a channel they can view (`channels`: the cog works them out
from Discord's permissions; a feed followed in two channels is visible through either).

Speed at 100,000 posts comes from never doing per-match work for more than a bounded number
of matches: counts stop at a cap, BM25 ranks at most RANK_ALL rows, snippets are made for
the page's rows only, and a server's scope is a token in the index (no row lookups).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import aiosqlite

from ..models import Post
from ..search import (
    HL_CLOSE,
    HL_OPEN,
    PLAIN_SNIPPET_CHARS,
    ParsedQuery,
    SearchHit,
    SearchPage,
    column_filter,
    feed_token,
    fold,
    parse_query,
    phrase_of,
    title_prefix_query,
    title_words,
    words_query,
)
from .base import marks
from .rows import POST_COLUMNS, post_from_row

log = logging.getLogger(__name__)

# Rank every match by BM25 when there are at most this many; beyond, see search().
RANK_ALL = 1000
TITLE_RANK_ALL = 300  # the same for title autocomplete
_HIGH_COLUMNS = ["title", "author", "terms"]  # the columns that weigh more than the body
# BM25 column weights, as set for `rank` in migration 002
_WEIGHTS = {"posts_fts": "8.0, 1.0, 3.0, 3.0, 0.0", "titles_fts": "8.0, 3.0, 3.0, 0.0"}
SNIPPET_TOKENS = 20
_HIT_COLUMNS = "p.id, p.title, p.link, p.author, p.published_at, p.categories, p.feed_id"

# A scope's feeds: a server's (those announced in the channels of a JSON list, when given;
# only those of a second list, when given), or the operator's list of feed ids.
_GUILD_SCOPE = (
    "SELECT DISTINCT s.feed_id FROM subscriptions s WHERE s.guild_id = ?"
    " AND (? IS NULL OR s.channel_id IN (SELECT value FROM json_each(?)))"
    " AND (? IS NULL OR s.feed_id IN (SELECT value FROM json_each(?)))"
)
_CLI_SCOPE = "SELECT f.id FROM feeds f WHERE f.id IN (SELECT value FROM json_each(?))"
# What _scope decides with, as one row built in SQL (1,000 feeds as rows cost 3-4 ms a
# search). The feeds outside the scope that have posts, and the posts on either side, are
# only looked up when the scope is not every feed (CASE runs its subquery only then).
_OUTSIDE = (
    " FROM feeds f CROSS JOIN archive_facets c"  # CROSS: the feeds are the outer loop
    " ON c.feed_id = f.id AND c.kind = 'posts' AND c.name = '' WHERE f.id NOT IN scope"
)
_SCOPE_FIGURES = (
    ", counted AS (SELECT (SELECT group_concat(id) FROM scope) AS feeds,"
    "  (SELECT count(*) FROM scope) < (SELECT count(*) FROM feeds) AS partial)"
    " SELECT feeds,"
    f" CASE WHEN partial THEN (SELECT group_concat(f.id) {_OUTSIDE} AND c.posts > 0) END"
    "  AS others,"
    f" CASE WHEN partial THEN (SELECT total(c.posts) {_OUTSIDE}) END AS outside,"
    " CASE WHEN partial THEN (SELECT total(c.posts) FROM scope CROSS JOIN archive_facets c"
    "  ON c.feed_id = scope.id AND c.kind = 'posts' AND c.name = '') END AS inside,"
    " (SELECT coalesce(max(id), 0) > (SELECT indexed_upto FROM archive_state) FROM posts)"
    "  AS pending"
    " FROM counted"
)

# Reads are on the reader connection (committed data only): a search never waits for the
# poll cycle's writes. Only indexing (a write) uses the writer.


@dataclass
class _Scope:
    listed: str | None  # the scope's feed ids, as SQLite's group_concat gives them
    everything: bool  # every feed there is: no restriction needed
    include: str = ""  # FTS5: AND this...
    exclude: str = ""  # ...or NOT this (whichever names fewer posts)
    pending: bool = False  # posts wait to be indexed
    hidden: bool = False  # the server follows feeds, none in a channel the member can view

    @cached_property
    def feeds(self) -> list[int]:
        """The scope's feed ids, in order; read only when needed (1,000 cost 0.3 ms)."""
        return sorted(_ids_of(self.listed))


@dataclass(slots=True)
class _Query:
    """One search's FTS5 expression in parts, and its date filter (a join on posts)."""

    words: str  # the user's words ('' for none)
    filters: list[str]
    scope: _Scope
    after: float | None = None
    before: float | None = None
    id_range: tuple[int, int] | None = None  # posts published in [after, before) lie here
    sql: str = ""
    args: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.after is not None:
            self.sql += " AND p.published_at >= ?"
            self.args.append(float(self.after))
        if self.before is not None:
            self.sql += " AND p.published_at < ?"
            self.args.append(float(self.before))
        if self.id_range is not None:
            self.sql += " AND f.rowid BETWEEN ? AND ?"
            self.args += list(self.id_range)

    @property
    def dated(self) -> bool:
        return self.after is not None or self.before is not None

    def match(self, words: str | None = None) -> str:
        words = self.words if words is None else words
        # every part in parentheses: FTS5's AND binds tighter than OR, and "a OR b AND
        # scope" would let `a` match outside the scope
        expr = " AND ".join(f"({p})" for p in [words, *self.filters, self.scope.include] if p)
        if self.scope.exclude:
            expr = f"({expr}) NOT ({self.scope.exclude})"
        return expr

    def from_where(self, join: bool = False, table: str = "posts_fts") -> str:
        join = join or self.dated
        return (
            f"FROM {table} f"
            # CROSS JOIN keeps the index as the outer loop (SQLite would otherwise start
            # from posts and query the index once per row)
            + (" CROSS JOIN posts p ON p.id = f.rowid" if join else "")
            + f" WHERE {table} MATCH ?"
            + self.sql
        )


class _Raced(Exception):
    pass


class ArchiveQueries:
    conn: aiosqlite.Connection
    _reader: aiosqlite.Connection | None
    _write_lock: asyncio.Lock

    # --- scope -----------------------------------------------------------------------

    async def archive_feed_ids(self) -> list[int]:
        """Every feed there is (the operator's scope)."""
        rows = await self._all("SELECT id FROM feeds ORDER BY id")
        return [row["id"] for row in rows]

    async def _scope(
        self,
        guild_id: int | None,
        feed_ids: Iterable[int] | None,
        channels: Iterable[int] | None = None,
    ) -> _Scope:
        """The scope's feeds, how to restrict the index to them, and whether posts wait to
        be indexed: one round trip. With `channels`, only the server's feeds announced in
        one of them."""
        if guild_id is None and feed_ids is None:
            raise ValueError("an archive query needs a guild_id or feed_ids")
        if guild_id is None:
            source, args = _CLI_SCOPE, (json.dumps(sorted({int(f) for f in feed_ids})),)
        else:
            seen = None if channels is None else json.dumps(sorted({int(c) for c in channels}))
            wanted = None if feed_ids is None else json.dumps(sorted({int(f) for f in feed_ids}))
            source, args = _GUILD_SCOPE, (guild_id, seen, seen, wanted, wanted)
        [row] = await self._all(f"WITH scope(id) AS ({source}){_SCOPE_FIGURES}", args)
        pending = bool(row["pending"])
        if not row["feeds"]:
            hidden = False
            if channels is not None and guild_id is not None:
                hidden = bool(
                    await self._value(
                        "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE guild_id = ?)",
                        (guild_id,),
                    )
                )
            return _Scope(None, False, pending=pending, hidden=hidden)
        others = _ids_of(row["others"])
        scope = _Scope(row["feeds"], not others, pending=pending)
        if scope.everything:
            return scope

        def tokens(ids: list[int]) -> str:
            return column_filter(["feed"], " OR ".join(f'"{feed_token(f)}"' for f in ids))

        # "AND feed" must walk the scope's whole token list, "NOT feed" the others': the
        # shorter one is cheaper
        if row["outside"] < row["inside"]:
            scope.exclude = tokens(sorted(others))
        else:
            scope.include = tokens(scope.feeds)
        return scope

    # --- indexing --------------------------------------------------------------------

    async def index_pending(self, chunk: int = 5000) -> int:
        """Add posts stored since the last call to the search indexes; returns how many.

        Cheap when there is nothing to do. Searches call it first; bulk writers (imports,
        backfills) call it after each batch, the poller may call it after a cycle.
        """
        done = 0
        while True:
            row = await self._one(
                "SELECT (SELECT indexed_upto FROM archive_state) AS upto,"
                " (SELECT max(id) FROM posts) AS top",
                conn=self.conn,
            )
            upto, top = row["upto"], row["top"]
            if top is None or top <= upto:
                return done
            until = min(top, upto + chunk)
            try:
                async with self.transaction() as db:
                    cur = await db.execute(
                        "UPDATE archive_state SET indexed_upto = ? WHERE indexed_upto = ?",
                        (until, upto),
                    )
                    if cur.rowcount != 1:
                        raise _Raced
                    await db.execute(
                        "INSERT INTO posts_fts(rowid, title, body, author, terms, feed)"
                        " SELECT id, title, body, author, terms, feed FROM posts_search_source"
                        " WHERE id > ? AND id <= ?",
                        (upto, until),
                    )
                    await db.execute(
                        "INSERT INTO titles_fts(rowid, title, author, terms, feed)"
                        " SELECT id, title, author, terms, feed FROM posts_search_source"
                        " WHERE id > ? AND id <= ?",
                        (upto, until),
                    )
            except _Raced:  # another process (an import) indexed them meanwhile
                continue
            done += until - upto

    async def _index_unless_busy(self) -> None:
        """Index what waits, unless the bot's index loop does it (`searches_index`) or a write
        is under way: a search must not queue behind a poll cycle's writes (until the index
        loop's next round the newest posts are simply not found yet)."""
        if self.searches_index and (self._reader is None or not self._write_lock.locked()):
            await self.index_pending()

    # --- search ----------------------------------------------------------------------

    async def search(
        self,
        guild_id: int | None,
        text: str,
        *,
        feed_ids: Iterable[int] | None = None,
        channels: Iterable[int] | None = None,
        author: str | None = None,
        category: str | None = None,
        after: float | None = None,
        before: float | None = None,
        page: int = 0,
        per_page: int = 5,
    ) -> SearchPage:
        """Ranked matches for what the user typed, one page of them, with snippets.

        `author` and `category` (or tag) match as phrases in those fields; `after` is
        inclusive and `before` exclusive (unix seconds). Whatever the text, no SQLite error
        escapes: an unusable query gives an empty page with a `notice`.

        Ranking is BM25 (title x8, author and categories x3, body x1) over every match when
        there are at most RANK_ALL. A query matching more (a very common word) shows first
        the posts with the words in their title, author or categories, ranked by BM25 when
        those are few enough, then the others newest first; its total is then given as a
        lower bound (`total_exact` False).
        """
        # far past any archive's last page, and page * per_page stays a SQLite integer
        page = max(0, min(int(page), 10**9))
        per_page = max(1, min(int(per_page), 25))
        parsed = parse_query(text)
        empty = SearchPage([], page, 0, per_page, parsed)
        filters: list[str] = []
        for column, value in (("author", author), ("terms", category)):
            if value is None or not value.strip():
                continue
            phrase = phrase_of(value)
            if not phrase:
                kind = "author" if column == "author" else "category"
                empty.notice = f"No post matches the {kind} {value!r}."
                return empty
            filters.append(column_filter([column], phrase))
        if parsed.is_empty and not filters and after is None and before is None:
            empty.notice = (
                "There is nothing to search for in that query (emoji and punctuation are"
                " ignored): try some words."
            )
            return empty
        try:
            scope = await self._scope(guild_id, feed_ids, channels)
            if not scope.listed:
                empty.notice = (
                    "The feeds of this server are announced in channels you cannot view."
                    if scope.hidden
                    else "This server does not follow any feed yet."
                )
                return empty
            if scope.pending:
                await self._index_unless_busy()
            if not parsed.is_empty or filters:
                id_range = None
                if after is not None or before is not None:
                    id_range = await self._id_range(scope, after, before)
                    if id_range is None:
                        return empty
                query = _Query(parsed.fts(), filters, scope, after, before, id_range)
                if parsed.is_empty:
                    return await self._search_filtered(parsed, query, page, per_page)
                return await self._search_ranked(parsed, query, page, per_page)
            return await self._search_dates(parsed, scope, after, before, page, per_page)
        except aiosqlite.Error:
            # the query is built from quoted literals, so this is not expected; log it, but
            # do not let SQLite's message reach the user
            log.exception("archive search failed for %r", text)
            empty.notice = "The search failed; try other words."
            return empty

    async def _id_range(self, scope: _Scope, after: float | None, before: float | None):
        """The smallest id range holding every post of the scope published in
        [after, before): posts are mostly stored in date order, so this narrows the index
        scan a lot."""
        feed_sql, feed_args = _feed_filter(scope, "feed_id IN (SELECT id FROM feeds)")
        row = await self._one(
            "SELECT min(id) AS low, max(id) AS high FROM posts INDEXED BY posts_feed_published"
            f" WHERE {feed_sql} AND published_at >= ? AND published_at < ?",
            (*feed_args, -1e18 if after is None else after, 1e18 if before is None else before),
        )
        return None if row["low"] is None else (row["low"], row["high"])

    async def _count(self, query: _Query, match: str, cap: int, table="posts_fts") -> int:
        """Matches, counted up to `cap` (the index stops there)."""
        # _all: one round trip to the database thread (_value takes three)
        [(count,)] = await self._all(
            f"SELECT count(*) FROM (SELECT 1 {query.from_where(table=table)} LIMIT ?)",
            (match, *query.args, cap),
        )
        return count

    async def _ids(
        self,
        query: _Query,
        match: str,
        ranked: bool,
        limit: int,
        offset: int = 0,
        table: str = "posts_fts",
    ) -> list[int]:
        if limit <= 0:
            return []
        if not ranked:
            order = "f.rowid DESC"
        elif query.dated:
            # rank only the rows that pass the date filter (ORDER BY rank would make FTS5
            # rank every match first)
            order = f"bm25({table}, {_WEIGHTS[table]})"
        else:
            order = "f.rank"
        rows = await self._all(
            f"SELECT f.rowid {query.from_where(table=table)} ORDER BY {order} LIMIT ? OFFSET ?",
            (match, *query.args, limit, offset),
        )
        return [row["rowid"] for row in rows]

    async def _search_ranked(
        self, parsed: ParsedQuery, query: _Query, page: int, per_page: int
    ) -> SearchPage:
        offset = page * per_page
        want = per_page + 1  # one more tells whether a next page exists
        everything = query.match()
        total = await self._count(query, everything, RANK_ALL + 1)
        if total <= RANK_ALL:
            ids = await self._ids(query, everything, True, want, offset)
            exact = True
        else:
            ids = await self._tiered(parsed, query, offset, want)
            total, exact = RANK_ALL, False
        more = len(ids) > per_page
        ids = ids[:per_page]
        if not exact:
            total = max(total, offset + len(ids) + int(more))
        hits = await self._hits_with_snippets(ids, query.words)
        return SearchPage(hits, page, total, per_page, parsed, total_exact=exact, more=more)

    async def _tiered(self, parsed: ParsedQuery, query: _Query, offset: int, want: int):
        """More than RANK_ALL matches. First tier: the posts with the words in their title,
        author or categories, ranked by BM25 when at most RANK_ALL, else newest first; then
        every other match, newest first."""
        if parsed.excluded:
            # exclusions concern the whole post: the full index decides (stemmed)
            table = "posts_fts"
            high = query.match(column_filter(_HIGH_COLUMNS, query.words))
        else:
            # the small unstemmed index of titles, authors and categories is much cheaper
            table = "titles_fts"
            high = query.match(column_filter(_HIGH_COLUMNS, parsed.fts()))
        if query.dated:
            # the join on posts is the cost: one pass, up to RANK_ALL + 1 first-tier
            # matches with their BM25 score, ranked here
            rows = await self._all(
                f"SELECT f.rowid, bm25({table}, {_WEIGHTS[table]}) AS score"
                f" {query.from_where(table=table)} LIMIT ?",
                (high, *query.args, RANK_ALL + 1),
            )
            n_high = len(rows)
            rows.sort(key=lambda row: (row["score"], -row["rowid"]))
            tier_a = [row["rowid"] for row in rows]
        else:
            n_high = await self._count(query, high, RANK_ALL + 1, table)
            tier_a = []
            if n_high <= RANK_ALL:
                # the ranked first tier as far as this page needs (all of it if it ends here)
                tier_a = await self._ids(query, high, True, offset + want, 0, table)
        if n_high > RANK_ALL:
            if offset + want <= RANK_ALL:
                return await self._ids(query, high, False, want, offset, table)
            # deep paging past a huge first tier: the slow path, only here
            tier_a = await self._ids(query, high, False, 1 << 62, 0, table)
        ids = tier_a[offset : offset + want]
        if len(ids) < want:
            # the rest, newest first, skipping the first tier's posts
            skip = max(0, offset - len(tier_a))
            seen = set(tier_a)
            rest = await self._ids(
                query, query.match(), False, skip + want - len(ids) + len(seen), 0
            )
            rest = [i for i in rest if i not in seen]
            ids += rest[skip : skip + want - len(ids)]
        return ids

    async def _search_filtered(
        self, parsed: ParsedQuery, query: _Query, page: int, per_page: int
    ) -> SearchPage:
        """An author or a category without words: newest first."""
        match = query.match()
        offset = page * per_page
        total = await self._count(query, match, RANK_ALL + 1)
        exact = total <= RANK_ALL
        if exact:
            # few enough to sort by publication date
            rows = await self._all(
                f"SELECT f.rowid {query.from_where(join=True)}"
                " ORDER BY p.published_at DESC, p.id DESC LIMIT ? OFFSET ?",
                (match, *query.args, per_page + 1, offset),
            )
            ids = [row["rowid"] for row in rows]
        else:
            ids = await self._ids(query, match, False, per_page + 1, offset)
        more = len(ids) > per_page
        ids = ids[:per_page]
        total = max(total if exact else RANK_ALL, offset + len(ids) + int(more and not exact))
        hits = await self._hits_plain(ids)
        return SearchPage(hits, page, total, per_page, parsed, total_exact=exact, more=more)

    async def _search_dates(
        self,
        parsed: ParsedQuery,
        scope: _Scope,
        after: float | None,
        before: float | None,
        page: int,
        per_page: int,
    ) -> SearchPage:
        """Only a date range: newest first."""
        low = -1e18 if after is None else after
        high = 1e18 if before is None else before
        feeds = scope.feeds if not scope.everything else await self.archive_feed_ids()
        total = await self._value(
            "SELECT count(*) FROM posts INDEXED BY posts_feed_published"
            f" WHERE feed_id IN ({marks(feeds)}) AND published_at >= ? AND published_at < ?",
            (*feeds, low, high),
        )
        ids = await self._newest(feeds, page * per_page + per_page, low, high)
        ids = ids[page * per_page :]
        more = (page + 1) * per_page < total
        hits = await self._hits_plain(ids)
        return SearchPage(hits, page, total, per_page, parsed, more=more)

    async def _newest(self, feeds: list[int], count: int, low=-1e18, high=1e18) -> list[int]:
        """The `count` newest post ids of these feeds (published in [low, high)): each
        feed's newest through its index, merged."""
        found: list[tuple[float, int]] = []
        for start in range(0, len(feeds), 400):  # SQLite allows 500 terms in a UNION
            chunk = feeds[start : start + 400]
            sql = " UNION ALL ".join(
                "SELECT * FROM (SELECT published_at, id FROM posts INDEXED BY"
                " posts_feed_published WHERE feed_id = ? AND published_at >= ?"
                " AND published_at < ? ORDER BY published_at DESC LIMIT ?)"
                for _ in chunk
            )
            args = [v for f in chunk for v in (f, low, high, count)]
            rows = await self._all(sql, args)
            found += [(row["published_at"], row["id"]) for row in rows]
        found.sort(reverse=True)
        return [i for _, i in found[:count]]

    async def _hits_with_snippets(self, ids: list[int], match: str) -> list[SearchHit]:
        """Snippets for one page's rows only: FTS5 looks up each rowid, not every match."""
        if not ids:
            return []
        rows = await self._all(
            f"SELECT {_HIT_COLUMNS}, snippet(posts_fts, 1, ?, ?, '…', ?) AS marked"
            f" FROM posts_fts f CROSS JOIN posts p ON p.id = f.rowid"
            f" WHERE posts_fts MATCH ? AND f.rowid IN ({marks(ids)})",
            (HL_OPEN, HL_CLOSE, SNIPPET_TOKENS, match, *ids),
        )
        found = {row["id"]: row for row in rows}
        return [
            SearchHit.highlighted(found[i]["marked"], **_hit(found[i])) for i in ids if i in found
        ]

    async def _hits_plain(self, ids: list[int]) -> list[SearchHit]:
        """Hits whose snippet is the start of the text (no words to highlight)."""
        if not ids:
            return []
        rows = await self._all(
            f"SELECT {_HIT_COLUMNS}, substr(p.content_text, 1, ?) AS text FROM posts p"
            f" WHERE p.id IN ({marks(ids)})",
            (PLAIN_SNIPPET_CHARS + 40, *ids),
        )
        found = {row["id"]: row for row in rows}
        return [SearchHit.opening(found[i]["text"], **_hit(found[i])) for i in ids if i in found]

    # --- browsing --------------------------------------------------------------------

    async def latest(
        self,
        guild_id: int | None,
        count: int = 5,
        *,
        feed_ids: Iterable[int] | None = None,
        channels: Iterable[int] | None = None,
    ) -> list[SearchHit]:
        """The newest posts of the scope, newest first (posts without a date are left out)."""
        scope = await self._scope(guild_id, feed_ids, channels)
        if not scope.listed:
            return []
        count = max(1, min(int(count), 50))
        feeds = scope.feeds if not scope.everything else await self.archive_feed_ids()
        return await self._hits_plain(await self._newest(feeds, count))

    async def random_post(
        self,
        guild_id: int | None,
        *,
        feed_ids: Iterable[int] | None = None,
        channels: Iterable[int] | None = None,
    ) -> Post | None:
        scope = await self._scope(guild_id, feed_ids, channels)
        if not scope.listed:
            return None
        rows = await self._all(
            "SELECT feed_id, posts FROM archive_facets WHERE kind = 'posts' AND name = ''"
            f" AND feed_id IN ({marks(scope.feeds)})",
            scope.feeds,
        )
        counts = [(row["feed_id"], row["posts"]) for row in rows if row["posts"] > 0]
        if not counts:
            return None
        # a feed in proportion to its posts, then a post of it, both through indexes
        pick = random.randrange(sum(n for _, n in counts))
        chosen = counts[-1][0]
        for feed_id, n in counts:
            if pick < n:
                chosen = feed_id
                break
            pick -= n
        post_id = await self._value(
            "SELECT id FROM posts INDEXED BY posts_feed_published WHERE feed_id = ?"
            " LIMIT 1 OFFSET ?",
            (chosen, pick),
        )
        if post_id is None:
            return None
        found = await self._one(f"SELECT {POST_COLUMNS} FROM posts WHERE id = ?", (post_id,))
        return post_from_row(found) if found else None

    async def get_post_for_guild(
        self,
        guild_id: int | None,
        post_id: int,
        *,
        feed_ids: Iterable[int] | None = None,
        channels: Iterable[int] | None = None,
    ) -> Post | None:
        """The post, if it belongs to a feed of the scope (another server's post is None)."""
        scope = await self._scope(guild_id, feed_ids, channels)
        if not scope.listed:
            return None
        row = await self._one(
            f"SELECT {POST_COLUMNS} FROM posts WHERE id = ? AND feed_id IN ({marks(scope.feeds)})",
            (post_id, *scope.feeds),
        )
        return post_from_row(row) if row else None

    # --- autocomplete ----------------------------------------------------------------

    async def titles_like(
        self,
        guild_id: int | None,
        text: str,
        limit: int = 25,
        *,
        feed_ids: Iterable[int] | None = None,
        channels: Iterable[int] | None = None,
    ) -> list[tuple[int, str]]:
        """(post id, title) whose words start with what was typed: titles that begin with
        it first, then the others; each group ranked by BM25 when small, else newest first.
        Nothing usable typed: the newest titles."""
        limit = max(1, min(int(limit), 25))
        scope = await self._scope(guild_id, feed_ids, channels)
        if not scope.listed:
            return []
        words = title_words(text)
        if not words:
            newest = await self.latest(None, limit, feed_ids=scope.feeds)
            return [(h.post_id, h.title) for h in newest]
        query = _Query("", [], scope)
        try:
            if scope.pending:
                await self._index_unless_busy()
            if len(words) > 1 and len(words[-1]) <= 2:
                # "coffee g": a one- or two-letter prefix expands to thousands of words;
                # the whole words go through the index, the fragment is checked here
                found = await self._titles(
                    query.match(column_filter(["title"], words_query(words[:-1]))), 200
                )
                return _prefix_first(found, words, limit)
            starts = column_filter(["title"], title_prefix_query(words, anchored=True))
            anywhere = column_filter(["title"], title_prefix_query(words))
            found = await self._titles(query.match(starts), limit)
            if len(found) < limit:
                seen = {i for i, _ in found}
                more = await self._titles(query.match(anywhere), limit + len(seen))
                found += [(i, t) for i, t in more if i not in seen][: limit - len(found)]
            return found
        except aiosqlite.Error:
            log.exception("title autocomplete failed for %r", text)
            return []

    async def _titles(self, match: str, limit: int) -> list[tuple[int, str]]:
        count = await self._value(
            "SELECT count(*) FROM (SELECT 1 FROM titles_fts WHERE titles_fts MATCH ? LIMIT ?)",
            (match, TITLE_RANK_ALL + 1),
        )
        order = "f.rank" if count <= TITLE_RANK_ALL else "f.rowid DESC"
        rows = await self._all(
            "SELECT p.id, p.title FROM (SELECT f.rowid FROM titles_fts f"
            f" WHERE titles_fts MATCH ? ORDER BY {order} LIMIT ?) t CROSS JOIN posts p"
            " ON p.id = t.rowid",
            (match, limit),
        )
        return [(row["id"], row["title"]) for row in rows]

    async def names_like(
        self,
        kind: Literal["author", "category"],
        guild_id: int | None,
        text: str,
        limit: int = 25,
        *,
        feed_ids: Iterable[int] | None = None,
        channels: Iterable[int] | None = None,
    ) -> list[str]:
        """Authors or categories containing the text, ignoring case and accents ("emi" finds
        "Émile"): those starting with it first, then the most used."""
        limit = max(1, min(int(limit), 25))
        scope = await self._scope(guild_id, feed_ids, channels)
        if not scope.listed:
            return []
        text = fold((text or "").strip()[:100].encode("utf-8", "replace").decode("utf-8"))
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self._all(
            "SELECT name, sum(posts) AS n FROM archive_facets"
            f" WHERE kind = ? AND feed_id IN ({marks(scope.feeds)}) AND fold(name) LIKE ?"
            " ESCAPE '\\' GROUP BY name ORDER BY fold(name) LIKE ? ESCAPE '\\' DESC, n DESC,"
            " name LIMIT ?",
            (kind, *scope.feeds, f"%{escaped}%", f"{escaped}%", limit),
        )
        return [row["name"] for row in rows]

    # --- maintenance -----------------------------------------------------------------

    async def optimize_archive(self) -> None:
        """Merge the search indexes into one segment each (after a large import)."""
        await self.index_pending()
        async with self.transaction() as db:
            await db.execute("INSERT INTO posts_fts(posts_fts) VALUES ('optimize')")
            await db.execute("INSERT INTO titles_fts(titles_fts) VALUES ('optimize')")


def _prefix_first(
    found: list[tuple[int, str]], words: list[str], limit: int
) -> list[tuple[int, str]]:
    """Titles with a word starting with the last (short) word typed, those beginning with
    the typed text first."""
    typed = [fold(w) for w in words]
    first, rest = [], []
    for post_id, title in found:
        have = re.findall(r"\w+", fold(title))
        if not any(w.startswith(typed[-1]) for w in have):
            continue
        starts = have[: len(typed) - 1] == typed[:-1] and len(have) >= len(typed)
        (first if starts and have[len(typed) - 1].startswith(typed[-1]) else rest).append(
            (post_id, title)
        )
    return (first + rest)[:limit]


def _feed_filter(scope: _Scope, everything_sql: str = "1") -> tuple[str, list[int]]:
    if scope.everything:
        return everything_sql, []
    return f"feed_id IN ({marks(scope.feeds)})", list(scope.feeds)


def _hit(row: aiosqlite.Row) -> dict:
    """A hit's fields but its snippet, which bot.search makes from the text the index gave."""
    try:
        categories = json.loads(row["categories"])
    except (TypeError, ValueError):
        categories = []
    return {
        "post_id": row["id"],
        "title": row["title"],
        "link": row["link"],
        "author": row["author"],
        "published_at": row["published_at"],
        "categories": categories,
        "feed_id": row["feed_id"],
    }


def _ids_of(listed: str | None) -> list[int]:
    """Ids from SQLite's group_concat (None: none)."""
    return list(map(int, listed.split(","))) if listed else []
