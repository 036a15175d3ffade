"""The connection and the numbered migrations; the query mixins build on it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import aiosqlite

from ..search import fold

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The database cannot be opened or migrated; the message says what to fix."""


class Database:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time on the shared connection.

        Tasks share one connection; without the lock one task's commit or rollback would
        land in the middle of another's transaction.
        """
        async with self._write_lock:
            try:
                yield self.conn
            except BaseException:
                await self.conn.rollback()
                raise
            await self.conn.commit()

    @classmethod
    async def open(cls, path: str | Path):
        """Open (creating folders and file as needed) and migrate to the newest schema."""
        if str(path) != ":memory:":
            path = Path(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = await aiosqlite.connect(path)
                await conn.execute("PRAGMA journal_mode=WAL")
                await conn.execute("BEGIN IMMEDIATE")  # proves the file is writable
                await conn.rollback()
            except (OSError, aiosqlite.Error) as exc:
                raise StoreError(f"cannot open DATABASE_PATH={path}: {exc}") from exc
        else:
            conn = await aiosqlite.connect(":memory:")
        conn.row_factory = aiosqlite.Row
        # fold(): case and accents ignored, as search compares words ("emile" finds "Émile")
        await conn.create_function("fold", 1, _fold_or_null, deterministic=True)
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=5000")
        store = cls(conn)
        try:
            await store.migrate()
        except aiosqlite.Error as exc:
            await conn.close()
            raise StoreError(f"cannot prepare the database at {path}: {exc}") from exc
        return store

    async def close(self) -> None:
        await self.conn.close()

    async def migrate(self) -> None:
        async with self.conn.execute("PRAGMA user_version") as cur:
            (current,) = await cur.fetchone()
        for number, name, sql in _migrations():
            if number <= current:
                continue
            log.info("applying migration %s", name)
            # executescript commits first; wrap the script and the version bump in one transaction
            await self.conn.executescript(
                f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;"
            )


def _fold_or_null(text: str | None) -> str | None:
    return None if text is None else fold(text)


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for item in resources.files(__package__).joinpath("migrations").iterdir():
        if item.name.endswith(".sql"):
            number = int(item.name.split("_", 1)[0])
            found.append((number, item.name, item.read_text(encoding="utf-8")))
    found.sort()
    return found
