"""Words in a post's title and text, found the way the archive's search finds them.

Filters on words must match exactly the posts `/archive search` finds for those words, so
they use the search index's own analyser: the post is indexed in a private in-memory FTS5
table made with the same tokenizer as `posts_fts` (migration 002), and each filter word is
an FTS5 phrase (bot.search.phrase_of) matched against it. No rule of SQLite's tokenizer
(what a word is, which accents fold, porter's word endings) is copied, so none can drift.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

#: posts_fts's tokenizer (migration 002); tests/test_filters.py checks they are the same
SEARCH_TOKENIZER = "porter unicode61 remove_diacritics 2"


class WordIndex:
    """One post at a time, indexed only when a word filter asks; used by one thread at a
    time (the store's by whichever thread evaluates filters for the write transaction)."""

    def __init__(self) -> None:
        self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        # contentless and without column sizes (no ranking here): only what MATCH needs
        self._conn.execute(
            "CREATE VIRTUAL TABLE post USING fts5(title, body, content='', columnsize=0,"
            f" tokenize='{SEARCH_TOKENIZER}')"
        )

    @contextmanager
    def post(self, title: str, text: str) -> Iterator[_PostWords]:
        """`has(phrase)` for this post's title and text; the post is indexed on the first
        question, and forgotten (rolled back) at the end."""
        words = _PostWords(self._conn, title or "", text or "")
        try:
            yield words
        finally:
            if words.indexed:
                self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()


class _PostWords:
    __slots__ = ("_conn", "_title", "_text", "indexed", "_answers")

    def __init__(self, conn: sqlite3.Connection, title: str, text: str) -> None:
        self._conn, self._title, self._text = conn, title, text
        self.indexed = False
        self._answers: dict[str, bool] = {}

    def has(self, query: str) -> bool:
        """Whether the title or the text matches the FTS5 query (phrases, maybe ORed)."""
        answer = self._answers.get(query)
        if answer is None:
            if not self.indexed:
                self._conn.execute("BEGIN")
                self.indexed = True
                self._conn.execute(
                    "INSERT INTO post(rowid, title, body) VALUES (1, ?, ?)",
                    (self._title, self._text),
                )
            row = self._conn.execute("SELECT 1 FROM post WHERE post MATCH ?", (query,))
            answer = self._answers[query] = row.fetchone() is not None
        return answer
