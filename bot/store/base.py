"""The connection and the numbered migrations; the query mixins build on it."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sized
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import aiosqlite

from ..search import fold

log = logging.getLogger(__name__)

#: Values per `IN (...)` list: SQLite caps the number of parameters of a statement
IN_CHUNK = 500


#: How often a write failure that keeps happening (a full disk) is logged again
WRITE_FAILURE_LOG_INTERVAL = 60.0
#: SQLite's primary result codes for writes the machine refused, whatever was written
_REFUSED_WRITES = {
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_CORRUPT,
    sqlite3.SQLITE_NOTADB,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_PERM,
    sqlite3.SQLITE_PROTOCOL,
}


class StoreError(Exception):
    """The database cannot be opened or migrated; the message says what to fix."""


class StoreWriteError(StoreError, aiosqlite.OperationalError):
    """A write the database refused (full disk, I/O error); it was rolled back whole.

    Not the data's fault: callers retry later instead of blaming a feed or a message.
    Still an `aiosqlite.OperationalError` for code that catches those.
    """


class Database:
    """The writer connection (one transaction at a time) and a reader for committed data.

    In WAL mode a second connection reads the last committed state while a write is under
    way, so a decision to send something never rests on rows a failing transaction will
    take back. A task inside `transaction()` reads on the writer and sees its own rows.
    """

    def __init__(self, conn: aiosqlite.Connection, reader: aiosqlite.Connection | None = None):
        self.conn = conn
        self._reader = reader  # None for ":memory:": reads wait for the writer instead
        # whether a search first indexes the posts stored since the last indexing; the bot
        # turns it off, as its index loop indexes posts as they are stored (a search must
        # never queue behind writes); one-off users (the CLI, tests) keep it
        self.searches_index = True
        self._write_lock = asyncio.Lock()
        self._write_error: tuple[str, float] | None = None  # last cause logged, and when
        self._unlogged_failures = 0
        self._writer_task: asyncio.Task | None = None  # the task inside `transaction()`

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time on the writer connection.

        Tasks share one connection; without the lock one task's commit or rollback would
        land in the middle of another's transaction. Any error, a failed COMMIT included,
        rolls back, so the connection is never left inside a half-done transaction.
        """
        async with self._write_lock:
            self._writer_task = asyncio.current_task()
            try:
                yield self.conn
                await self.conn.commit()
            except BaseException as exc:
                await self._roll_back()
                if refused := self._refused_write(exc):
                    raise refused from exc
                raise
            finally:
                self._writer_task = None

    def _refused_write(self, exc: BaseException) -> StoreWriteError | None:
        """A failed write that is the database's own trouble (full disk, I/O error, locked),
        logged; None for anything else (a constraint the caller handles, a bug in a
        statement), which is raised as it is."""
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _REFUSED_WRITES:
            return None
        self._log_write_failure(exc)
        return StoreWriteError(f"cannot write to the database: {exc}")

    async def _roll_back(self) -> None:
        try:
            await self.conn.rollback()
        except aiosqlite.Error as exc:  # the original error matters more; say both
            log.error("rolling back a failed write failed too: %s", exc)

    def _log_write_failure(self, exc: aiosqlite.Error) -> None:
        """A line naming the cause, at most once a minute while it lasts (a full disk fails
        write after write: a traceback for each would bury it)."""
        now = time.monotonic()
        last = self._write_error
        if last and last[0] == str(exc) and now - last[1] < WRITE_FAILURE_LOG_INTERVAL:
            self._unlogged_failures += 1
            return
        more = f" ({self._unlogged_failures} more writes failed)" if self._unlogged_failures else ""
        log.error("cannot write to the database: %s%s", exc, more)
        self._write_error = (str(exc), now)
        self._unlogged_failures = 0

    def _read_connection(self) -> aiosqlite.Connection | None:
        """The writer inside its own transaction, else the reader (None: there is none)."""
        if self._writer_task is not None and self._writer_task is asyncio.current_task():
            return self.conn
        return self._reader

    # Reads. Without `conn`: committed data only (see `_read_connection`). With `conn`: that
    # connection as it is, e.g. the writer, whose state includes a transaction under way.

    async def _all(self, sql: str, args=(), *, conn=None) -> list[aiosqlite.Row]:
        """Every row, in one round trip to the database thread."""
        if conn is not None:
            return list(await conn.execute_fetchall(sql, args))
        conn = self._read_connection()
        if conn is None:
            async with self._write_lock:
                return list(await self.conn.execute_fetchall(sql, args))
        return list(await conn.execute_fetchall(sql, args))

    async def _one(self, sql: str, args=(), *, conn=None) -> aiosqlite.Row | None:
        """The first row, or None, in one round trip (a cursor's execute, fetch and close
        were three: 300 µs of CPU against 75)."""
        if conn is None:
            conn = self._read_connection()
            if conn is None:
                async with self._write_lock:
                    return await _in_thread(self.conn, _first_row, sql, args)
        return await _in_thread(conn, _first_row, sql, args)

    async def _value(self, sql: str, args=(), *, conn=None):
        """The first column of the first row, or None."""
        row = await self._one(sql, args, conn=conn)
        return None if row is None else row[0]

    async def _all_in(
        self, sql: str, values: Iterable, args_before=(), *, conn=None
    ) -> list[aiosqlite.Row]:
        """`sql` run for `values` IN_CHUNK at a time (SQLite caps the number of parameters):
        each `{marks}` in it stands for one chunk's placeholders, after `args_before`."""
        values = list(values)
        times = sql.count("{marks}")
        rows: list[aiosqlite.Row] = []
        for start in range(0, len(values), IN_CHUNK):
            chunk = values[start : start + IN_CHUNK]
            rows += await self._all(
                sql.format(marks=marks(chunk)), (*args_before, *(chunk * times)), conn=conn
            )
        return rows

    async def _write(self, sql: str, args=()) -> sqlite3.Cursor:
        """One statement in its own transaction, executed and committed in one round trip to
        the database thread; the cursor tells rowcount and lastrowid."""
        async with self._write_lock:
            try:
                return await _in_thread(self.conn, _execute_and_commit, sql, args)
            except BaseException as exc:
                if refused := self._refused_write(exc):
                    raise refused from exc
                raise

    @classmethod
    async def open(cls, path: str | Path):
        """Open (creating folders and file as needed) and migrate to the newest schema."""
        if str(path) == ":memory:":
            conn = await aiosqlite.connect(":memory:")
            await _prepare(conn)
            store = cls(conn)
            await store._migrate_or_close(path)
            return store
        path = Path(path)
        _check_path(path)
        conn = None
        try:
            conn = await aiosqlite.connect(path)
            async with conn.execute("PRAGMA journal_mode=WAL") as cur:
                (mode,) = await cur.fetchone()
            if mode != "wal":  # readers and writers then wait for each other: slower, correct
                log.warning("the database at %s cannot use WAL (journal mode %s)", path, mode)
            await conn.execute("BEGIN IMMEDIATE")  # proves the file is writable
            await conn.rollback()
        except (OSError, aiosqlite.Error) as exc:
            if conn is not None:
                await conn.close()
            raise StoreError(f"cannot open DATABASE_PATH={path}: {_reason(exc)}") from exc
        await _prepare(conn)
        store = cls(conn)
        await store._migrate_or_close(path)
        try:
            # autocommit: each read sees the latest commit and holds no snapshot afterwards
            reader = await aiosqlite.connect(path, isolation_level=None)
        except aiosqlite.Error as exc:
            await conn.close()
            raise StoreError(f"cannot open DATABASE_PATH={path}: {_reason(exc)}") from exc
        await _prepare(reader)
        await reader.execute("PRAGMA query_only=ON")
        store._reader = reader
        return store

    async def _migrate_or_close(self, path) -> None:
        try:
            await self.migrate()
        except aiosqlite.Error as exc:
            await self.conn.close()
            raise StoreError(f"cannot prepare the database at {path}: {_reason(exc)}") from exc

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
        await self.conn.close()

    async def migrate(self) -> None:
        current = await self._value("PRAGMA user_version", conn=self.conn)
        for number, name, sql in _migrations():
            if number <= current:
                continue
            log.info("applying migration %s", name)
            # executescript commits first; wrap the script and the version bump in one transaction
            try:
                await self.conn.executescript(
                    f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
            except aiosqlite.Error:
                if self.conn.in_transaction:  # a failed script stops before its COMMIT
                    await self.conn.rollback()
                raise


async def _prepare(conn: aiosqlite.Connection) -> None:
    """What every connection needs, the writer's and the reader's alike."""
    conn.row_factory = aiosqlite.Row
    # fold(): case and accents ignored, as search compares words ("emile" finds "Émile")
    await conn.create_function("fold", 1, _fold_or_null, deterministic=True)
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute("PRAGMA synchronous=NORMAL")
    await conn.execute("PRAGMA busy_timeout=5000")
    # a 1 MiB page cache per connection (SQLite's default is 2 MB): the pages read again and
    # again (the indexes' upper levels) fit, the rest comes from the OS's cache; SQLite's
    # memory at 1,000 feeds, writer and reader together: peak 4.6 -> 2.8 MiB (bench_e2e)
    await conn.execute("PRAGMA cache_size=-1024")


async def _in_thread(conn: aiosqlite.Connection, function, *args):
    """`function(sqlite3_connection, *args)` run on the connection's own thread, in one hand-over
    (aiosqlite's `_execute`, the queue its public methods use: each of those is one trip)."""
    return await conn._execute(lambda: function(conn._conn, *args))


def _first_row(db: sqlite3.Connection, sql: str, args) -> sqlite3.Row | None:
    cursor = db.execute(sql, args)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


def _execute_and_commit(db: sqlite3.Connection, sql: str, args) -> sqlite3.Cursor:
    """On the database thread: the statement and its commit, or a rollback of both."""
    try:
        cursor = db.execute(sql, args)
        db.commit()
    except BaseException:
        try:
            db.rollback()
        except sqlite3.Error as exc:  # the original error matters more; say both
            log.error("rolling back a failed write failed too: %s", exc)
        raise
    return cursor


def marks(values: Sized) -> str:
    """The placeholders of an `IN (...)` list of `values`."""
    return ",".join("?" * len(values))


def _check_path(path: Path) -> None:
    """Refuse, in plain words, a DATABASE_PATH that cannot hold the database."""
    if path.is_dir():
        raise StoreError(
            f"DATABASE_PATH={path} is a directory; give a file in it, such as "
            f"{path / 'gazette.sqlite3'}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise StoreError(f"DATABASE_PATH={path}: {exc.filename} is not a directory") from exc
    except OSError as exc:
        raise StoreError(
            f"cannot create the directory of DATABASE_PATH={path}: {_reason(exc)}"
        ) from exc
    try:
        with path.open("ab"):  # the operating system's own reason when it cannot be written
            pass
    except OSError as exc:
        raise StoreError(f"cannot write DATABASE_PATH={path}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    """sqlite's "file is not a database" and OSError's strerror, without the noise."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if "file is not a database" in str(exc):
        return "the file is not an SQLite database (choose another path or move the file away)"
    return str(exc) or type(exc).__name__


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
