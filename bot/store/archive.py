"""The archive: full-text search, newest, random and autocomplete, always within a scope.

A scope is a server (`guild_id`: the feeds it is subscribed to) or an explicit list of feed
ids (the operator's CLI). A server only ever sees the posts of its own feeds.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable

import aiosqlite

from ..models import Post
from ..search import (
    HL_CLOSE,
    HL_OPEN,
    ParsedQuery,
    SearchHit,
    SearchPage,
    column_filter,
    feed_token,
    parse_query,
    phrase_of,
    render_snippet,
    title_prefix_query,
)
from .feeds import _POST_COLUMNS, _post

log = logging.getLogger(__name__)

_TEXT_COLUMNS = ["title", "body", "author", "terms"]
SNIPPET_TOKENS = 20
PLAIN_SNIPPET_CHARS = 180
_HIT_COLUMNS = "p.id, p.title, p.link, p.author, p.published_at, p.categories, p.feed_id"


class ArchiveQueries:
    conn: aiosqlite.Connection

    # --- scope -----------------------------------------------------------------------

    async def archive_feed_ids(self) -> list[int]:
        """Every feed that has posts (the operator's scope)."""
        async with self.conn.execute("SELECT DISTINCT feed_id FROM archive_facets") as cur:
            ids = {row[0] for row in await cur.fetchall()}
        async with self.conn.execute("SELECT id FROM feeds") as cur:
            ids |= {row[0] for row in await cur.fetchall()}
        return sorted(ids)

    async def _scope(
        self, guild_id: int | None, feed_ids: Iterable[int] | None
    ) -> tuple[list[int], bool]:
        """(feed ids in scope, whether that is every feed there is)."""
        if guild_id is None and feed_ids is None:
            raise ValueError("an archive query needs a guild_id or feed_ids")
        if guild_id is not None:
            async with self.conn.execute(
                "SELECT DISTINCT feed_id FROM subscriptions WHERE guild_id = ?", (guild_id,)
            ) as cur:
                feeds = {row[0] for row in await cur.fetchall()}
            if feed_ids is not None:
                feeds &= set(feed_ids)
        else:
            feeds = set(feed_ids or ())
        if not feeds:
            return [], False
        async with self.conn.execute("SELECT id FROM feeds") as cur:
            every = {row[0] for row in await cur.fetchall()}
        return sorted(feeds), every <= feeds

    @staticmethod
    def _feed_match(feeds: list[int], everything: bool) -> str:
        if everything:
            return ""
        return column_filter(["feed"], " OR ".join(f'"{feed_token(f)}"' for f in feeds))

    # --- search ----------------------------------------------------------------------

    async def search(
        self,
        guild_id: int | None,
        text: str,
        *,
        feed_ids: Iterable[int] | None = None,
        author: str | None = None,
        category: str | None = None,
        after: float | None = None,
        before: float | None = None,
        page: int = 0,
        per_page: int = 5,
    ) -> SearchPage:
        """Ranked matches for what the user typed, one page of them, with snippets.

        `after` is inclusive and `before` exclusive (unix seconds). Whatever the text, no
        SQLite error escapes: an unusable query gives an empty page with a `notice`.
        """
        page = max(0, int(page))
        per_page = max(1, min(int(per_page), 25))
        parsed = parse_query(text)
        empty = SearchPage([], page, 0, per_page, parsed)
        feeds, everything = await self._scope(guild_id, feed_ids)
        if not feeds:
            empty.notice = "This server does not follow any feed yet."
            return empty
        parts: list[str] = []
        if not parsed.is_empty:
            parts.append(column_filter(_TEXT_COLUMNS, parsed.fts()))
        for column, value in (("author", author), ("terms", category)):
            if value is None or not value.strip():
                continue
            phrase = phrase_of(value)
            if not phrase:
                kind = "author" if column == "author" else "category"
                empty.notice = f"No post matches the {kind} {value!r}."
                return empty
            parts.append(column_filter([column], phrase))
        if not parts and after is None and before is None:
            empty.notice = (
                "There is nothing to search for in that query (emoji and punctuation are"
                " ignored): try some words."
            )
            return empty
        try:
            if parts:
                return await self._search_fts(
                    parsed, parts, feeds, everything, after, before, page, per_page
                )
            return await self._search_dates(
                parsed, feeds, everything, after, before, page, per_page
            )
        except aiosqlite.Error:
            # the query is built from quoted literals, so this is not expected; log it, but
            # do not let SQLite's message reach the user
            log.exception("archive search failed for %r", text)
            empty.notice = "The search failed; try other words."
            return empty

    async def _search_fts(
        self,
        parsed: ParsedQuery,
        parts: list[str],
        feeds: list[int],
        everything: bool,
        after: float | None,
        before: float | None,
        page: int,
        per_page: int,
    ) -> SearchPage:
        feed_part = self._feed_match(feeds, everything)
        match = " AND ".join(parts + ([feed_part] if feed_part else []))
        date_sql, date_args = _date_filter(after, before)
        ranked = not parsed.is_empty
        join = " JOIN posts p ON p.id = f.rowid" if date_sql or not ranked else ""
        order = "f.rank" if ranked else "p.published_at DESC, p.id DESC"
        async with self.conn.execute(
            f"SELECT count(*) FROM posts_fts f{join} WHERE posts_fts MATCH ?{date_sql}",
            (match, *date_args),
        ) as cur:
            (total,) = await cur.fetchone()
        if total == 0 or page * per_page >= total:
            return SearchPage([], page, total, per_page, parsed)
        async with self.conn.execute(
            f"SELECT f.rowid FROM posts_fts f{join} WHERE posts_fts MATCH ?{date_sql}"
            f" ORDER BY {order} LIMIT ? OFFSET ?",
            (match, *date_args, per_page, page * per_page),
        ) as cur:
            ids = [row[0] for row in await cur.fetchall()]
        if ranked:
            hits = await self._hits_with_snippets(ids, column_filter(_TEXT_COLUMNS, parsed.fts()))
        else:
            hits = await self._hits_plain(ids)
        return SearchPage(hits, page, total, per_page, parsed)

    async def _search_dates(
        self,
        parsed: ParsedQuery,
        feeds: list[int],
        everything: bool,
        after: float | None,
        before: float | None,
        page: int,
        per_page: int,
    ) -> SearchPage:
        date_sql, date_args = _date_filter(after, before, prefix="")
        feed_sql, feed_args = _feed_filter(feeds, everything)
        where = "published_at IS NOT NULL" + date_sql + feed_sql
        async with self.conn.execute(
            f"SELECT count(*) FROM posts INDEXED BY posts_published WHERE {where}",
            (*date_args, *feed_args),
        ) as cur:
            (total,) = await cur.fetchone()
        async with self.conn.execute(
            f"SELECT id FROM posts INDEXED BY posts_published WHERE {where}"
            " ORDER BY published_at DESC LIMIT ? OFFSET ?",
            (*date_args, *feed_args, per_page, page * per_page),
        ) as cur:
            ids = [row[0] for row in await cur.fetchall()]
        return SearchPage(await self._hits_plain(ids), page, total, per_page, parsed)

    async def _hits_with_snippets(self, ids: list[int], match: str) -> list[SearchHit]:
        """Snippets for one page's rows only: FTS5 looks up each rowid, not every match."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        async with self.conn.execute(
            f"SELECT {_HIT_COLUMNS}, snippet(posts_fts, 1, ?, ?, '…', ?)"
            f" FROM posts_fts f JOIN posts p ON p.id = f.rowid"
            f" WHERE posts_fts MATCH ? AND f.rowid IN ({marks})",
            (HL_OPEN, HL_CLOSE, SNIPPET_TOKENS, match, *ids),
        ) as cur:
            rows = {row[0]: row for row in await cur.fetchall()}
        return [_hit(rows[i], rows[i][7]) for i in ids if i in rows]

    async def _hits_plain(self, ids: list[int]) -> list[SearchHit]:
        """Hits whose snippet is the start of the text (no words to highlight)."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        async with self.conn.execute(
            f"SELECT {_HIT_COLUMNS}, substr(p.content_text, 1, ?) FROM posts p"
            f" WHERE p.id IN ({marks})",
            (PLAIN_SNIPPET_CHARS + 40, *ids),
        ) as cur:
            rows = {row[0]: row for row in await cur.fetchall()}
        return [_hit(rows[i], _cut(rows[i][7])) for i in ids if i in rows]

    # --- browsing --------------------------------------------------------------------

    async def latest(
        self, guild_id: int | None, count: int = 5, *, feed_ids: Iterable[int] | None = None
    ) -> list[SearchHit]:
        """The newest posts of the scope, newest first (posts without a date come last)."""
        feeds, everything = await self._scope(guild_id, feed_ids)
        if not feeds:
            return []
        count = max(1, min(int(count), 50))
        feed_sql, feed_args = _feed_filter(feeds, everything)
        async with self.conn.execute(
            f"SELECT id FROM posts INDEXED BY posts_published WHERE 1{feed_sql}"
            " ORDER BY published_at DESC LIMIT ?",
            (*feed_args, count),
        ) as cur:
            ids = [row[0] for row in await cur.fetchall()]
        return await self._hits_plain(ids)

    async def random_post(
        self, guild_id: int | None, *, feed_ids: Iterable[int] | None = None
    ) -> Post | None:
        feeds, everything = await self._scope(guild_id, feed_ids)
        if not feeds:
            return None
        feed_sql, feed_args = _feed_filter(feeds, everything, prefix=" WHERE ")
        async with self.conn.execute(
            f"SELECT count(*) FROM posts INDEXED BY posts_feed_published{feed_sql}", feed_args
        ) as cur:
            (total,) = await cur.fetchone()
        if not total:
            return None
        async with self.conn.execute(
            f"SELECT id FROM posts INDEXED BY posts_feed_published{feed_sql} LIMIT 1 OFFSET ?",
            (*feed_args, random.randrange(total)),
        ) as cur:
            row = await cur.fetchone()
        return await self.get_post_for_guild(guild_id, row[0], feed_ids=feeds) if row else None

    async def get_post_for_guild(
        self, guild_id: int | None, post_id: int, *, feed_ids: Iterable[int] | None = None
    ) -> Post | None:
        """The post, if it belongs to a feed of the scope (another server's post is None)."""
        feeds, _ = await self._scope(guild_id, feed_ids)
        if not feeds:
            return None
        marks = ",".join("?" * len(feeds))
        async with self.conn.execute(
            f"SELECT {_POST_COLUMNS} FROM posts WHERE id = ? AND feed_id IN ({marks})",
            (post_id, *feeds),
        ) as cur:
            row = await cur.fetchone()
        return _post(row) if row else None

    # --- autocomplete ----------------------------------------------------------------

    async def titles_like(
        self,
        guild_id: int | None,
        text: str,
        limit: int = 25,
        *,
        feed_ids: Iterable[int] | None = None,
    ) -> list[tuple[int, str]]:
        """(post id, title) of titles whose words start with what was typed, best first."""
        limit = max(1, min(int(limit), 25))
        feeds, everything = await self._scope(guild_id, feed_ids)
        if not feeds:
            return []
        query = title_prefix_query(text)
        if not query:
            return [(h.post_id, h.title) for h in await self.latest(None, limit, feed_ids=feeds)]
        feed_part = self._feed_match(feeds, everything)
        match = column_filter(["title"], query) + (f" AND {feed_part}" if feed_part else "")
        try:
            async with self.conn.execute(
                "SELECT p.id, p.title FROM (SELECT rowid FROM titles_fts WHERE titles_fts MATCH ?"
                " ORDER BY rank LIMIT ?) t JOIN posts p ON p.id = t.rowid",
                (match, limit),
            ) as cur:
                return [(row[0], row[1]) for row in await cur.fetchall()]
        except aiosqlite.Error:
            log.exception("title autocomplete failed for %r", text)
            return []

    async def authors_like(
        self,
        guild_id: int | None,
        prefix: str,
        limit: int = 25,
        *,
        feed_ids: Iterable[int] | None = None,
    ) -> list[str]:
        return await self._facets_like("author", guild_id, prefix, limit, feed_ids)

    async def categories_like(
        self,
        guild_id: int | None,
        prefix: str,
        limit: int = 25,
        *,
        feed_ids: Iterable[int] | None = None,
    ) -> list[str]:
        return await self._facets_like("category", guild_id, prefix, limit, feed_ids)

    async def _facets_like(
        self,
        kind: str,
        guild_id: int | None,
        text: str,
        limit: int,
        feed_ids: Iterable[int] | None,
    ) -> list[str]:
        """Names containing the text (case-insensitive): those starting with it first, then
        the most used."""
        limit = max(1, min(int(limit), 25))
        feeds, _ = await self._scope(guild_id, feed_ids)
        if not feeds:
            return []
        text = (text or "").strip()[:100]
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        marks = ",".join("?" * len(feeds))
        async with self.conn.execute(
            "SELECT name, sum(posts) AS n FROM archive_facets"
            f" WHERE kind = ? AND feed_id IN ({marks}) AND name LIKE ? ESCAPE '\\'"
            " GROUP BY name ORDER BY name LIKE ? ESCAPE '\\' DESC, n DESC, name LIMIT ?",
            (kind, *feeds, f"%{escaped}%", f"{escaped}%", limit),
        ) as cur:
            return [row[0] for row in await cur.fetchall()]

    # --- maintenance -----------------------------------------------------------------

    async def optimize_archive(self) -> None:
        """Merge the search indexes into one segment each (after a large import)."""
        await self.conn.execute("INSERT INTO posts_fts(posts_fts) VALUES ('optimize')")
        await self.conn.execute("INSERT INTO titles_fts(titles_fts) VALUES ('optimize')")
        await self.conn.commit()


def _date_filter(
    after: float | None, before: float | None, prefix: str = "p."
) -> tuple[str, list[float]]:
    sql, args = "", []
    if after is not None:
        sql += f" AND {prefix}published_at >= ?"
        args.append(float(after))
    if before is not None:
        sql += f" AND {prefix}published_at < ?"
        args.append(float(before))
    return sql, args


def _feed_filter(
    feeds: list[int], everything: bool, prefix: str = " AND "
) -> tuple[str, list[int]]:
    if everything:
        return "", []
    return f"{prefix}feed_id IN ({','.join('?' * len(feeds))})", list(feeds)


def _cut(text: str | None) -> str:
    text = " ".join((text or "").split())
    if len(text) <= PLAIN_SNIPPET_CHARS:
        return text
    cut = text[:PLAIN_SNIPPET_CHARS].rsplit(" ", 1)[0]
    return cut + " …"


def _hit(row, marked: str) -> SearchHit:
    try:
        categories = json.loads(row[5])
    except (TypeError, ValueError):
        categories = []
    marked = marked or ""
    return SearchHit(
        post_id=row[0],
        title=row[1],
        link=row[2],
        author=row[3],
        published_at=row[4],
        categories=categories,
        snippet=render_snippet(marked),
        feed_id=row[6],
        marked=marked,
    )
