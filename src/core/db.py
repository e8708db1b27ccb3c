"""Database engines from DATABASE_URL, SQLite tuning, and the one way to open a write transaction."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType
from piccolo.querystring import QueryString
from piccolo.table import Table

DEFAULT_SQLITE_PATH = "data/kepu.sqlite3"
BUSY_TIMEOUT_S = 30
READERS = 4  # long-lived SQLite connections for statements outside transactions, per process
# The kept writer commits on the event loop's thread with WAL auto-checkpoints off (a checkpoint
# writes and syncs pages: milliseconds); the WAL is checkpointed on a reader's thread instead, after
# this many of its commits.
CHECKPOINT_EVERY = 200
# Every PostgreSQL connection's settings: the anomaly flags sort a year's check-ins (~300,000 in a
# city), which spilled to disk with the default 4 MB; JIT compilation cost more than it saved on every
# query kepu runs (bench/RESULTS.md).
PG_SESSION_SETTINGS = {
    "work_mem": os.environ.get("KEPU_PG_WORK_MEM", "64MB"),
    "jit": "off",
}
SQLITE_MMAP_BYTES = int(os.environ.get("KEPU_SQLITE_MMAP_MB", "0")) * 1024 * 1024
# Each connection's page cache (SQLite's default is 2 MiB): a process keeps five or six connections
# open, and their caches count in its RSS while the kernel's page cache holds the file anyway.
SQLITE_CACHE_KIB = int(os.environ.get("KEPU_SQLITE_CACHE_KB", "1024"))
# Row ids are PostgreSQL integers; a larger number names nothing, and the drivers fail on it (asyncpg
# beyond 32 bits, sqlite3 beyond 64) instead of finding no row.
MAX_ID = 2**31 - 1
_RETURNING = sqlite3.sqlite_version_info >= (3, 35)  # INSERT … RETURNING gives inserted keys


def valid_id(value: int) -> bool:
    """Whether a number from outside could be the id of a row (else: treat it as not found)."""
    return 1 <= value <= MAX_ID


class TunedSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine with the per-connection settings measured in recipes/litestar-piccolo.md.

    synchronous=NORMAL is safe in WAL mode and removes an fsync per commit; the busy timeout lets
    writers from other processes wait instead of failing at once.
    """

    async def get_connection(self) -> Any:
        conn = await super().get_connection()  # sets foreign_keys = 1 and the dict row factory
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        # Off unless KEPU_SQLITE_MMAP_MB is set: reading through a memory map made whole-table scans
        # 2–3× faster, but the evaluation now adds up running totals instead, and every connection's
        # mapped pages count in the process's RSS (up to 750 MB for a city; bench/RESULTS.md).
        if SQLITE_MMAP_BYTES:
            await conn.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
        return conn

    async def _run_in_existing_connection(
        self,
        connection: Any,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        """A statement inside a transaction in one trip to the connection's thread. Piccolo's own version
        makes four (it sets foreign_keys again before every statement, which get_connection did once,
        then executes, fetches and closes the cursor in separate trips)."""
        if _RETURNING:
            return await connection.execute_fetchall(query, args or [])
        return await super()._run_in_existing_connection(connection, query, args, query_type, table)

    # Outside a transaction Piccolo opens a connection (and its thread) for every statement, which
    # cost more than most statements themselves (bench/RESULTS.md). While the app runs
    # (database_lifespan), such statements borrow one of a few long-lived connections instead. They are
    # in autocommit mode, so every statement is still its own transaction; transactions keep their own
    # connection, since they hold SQLite's write lock.
    _readers: dict[tuple[int, str], _ReaderPool]
    _writers: dict[tuple[int, str], _WriterSlot]

    def open_readers(self, size: int) -> None:
        if not hasattr(self, "_readers"):
            self._readers = {}
            self._writers = {}
        key = (id(asyncio.get_running_loop()), self.path)
        self._readers[key] = _ReaderPool(self, size)
        self._writers[key] = _WriterSlot(self)

    async def close_readers(self) -> None:
        key = (id(asyncio.get_running_loop()), self.path)
        pool = getattr(self, "_readers", {}).pop(key, None)
        if pool is not None:
            await pool.close()
        writer = getattr(self, "_writers", {}).pop(key, None)
        if writer is not None:
            await writer.close()

    def reader_pool(self) -> _ReaderPool | None:
        pool = getattr(self, "_readers", {}).get((id(asyncio.get_running_loop()), self.path))
        return None if pool is None or pool.closed else pool

    def kept_writer(self) -> _WriterSlot | None:
        """The long-lived connection for write transactions while the app runs (else None)."""
        return getattr(self, "_writers", {}).get((id(asyncio.get_running_loop()), self.path))

    async def quick_read(self, query: str, args: Sequence[Any]) -> list[dict[str, Any]] | None:
        """Run a unique-key lookup on a reader connection from the event loop's thread (None when the
        app's readers are not open: the caller goes the usual way)."""
        pool = self.reader_pool()
        if pool is None:
            return None
        conn = await pool.borrow()
        try:
            cursor = conn._conn.execute(query, args)
            try:
                return list(cursor.fetchall())
            finally:
                cursor.close()
        finally:
            await pool.give_back(conn)

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic", table: Any = None
    ) -> Any:
        pool = self.reader_pool()
        if pool is None:
            return await super()._run_in_new_connection(query, args, query_type, table)
        conn = await pool.borrow()
        try:
            # One trip to the connection's thread (execute, fetch and close the cursor there).
            return await conn.execute_fetchall(query, args or [])
        finally:
            await pool.give_back(conn)


class _ReaderPool:
    """At most `size` aiosqlite connections, opened on demand and all closed with the pool (their threads
    are not daemons: an unclosed one keeps the process alive)."""

    def __init__(self, engine: TunedSQLiteEngine, size: int) -> None:
        self.engine = engine
        self.size = size
        self.idle: asyncio.Queue[Any] = asyncio.Queue()
        self.opened: list[Any] = []
        self.opening = 0
        self.closed = False

    async def borrow(self) -> Any:
        if self.idle.empty() and self.opening + len(self.opened) < self.size:
            # Count the connection as taken before awaiting it: a burst of requests would otherwise
            # all see room in the pool at once and open a connection (and a thread) each.
            self.opening += 1
            try:
                conn = await self.engine.get_connection()
            finally:
                self.opening -= 1
            self.opened.append(conn)
            return conn
        return await self.idle.get()

    async def give_back(self, conn: Any) -> None:
        if self.closed:
            await conn.close()
        else:
            self.idle.put_nowait(conn)

    async def close(self) -> None:
        self.closed = True
        while not self.idle.empty():
            await self.idle.get_nowait().close()


class _WriterSlot:
    """The process's one long-lived connection for write transactions. Write transactions of one
    process already queue on the per-loop lock (write_transaction), so one connection serves them all,
    and a transaction no longer pays for opening a connection and starting its thread.

    In WAL mode its BEGIN and COMMIT run on the event loop's thread (a trip to the connection's thread
    and back cost 0.1 ms of CPU each, a tenth of a door scan): BEGIN only when the write lock is free
    (else it waits on the connection's thread for the busy timeout), COMMIT without checkpointing,
    the WAL being checkpointed on a reader's thread every CHECKPOINT_EVERY commits."""

    def __init__(self, engine: TunedSQLiteEngine) -> None:
        self.engine = engine
        self.conn: Any = None
        self.wal = False
        self.busy_ms = 0
        self.commits = 0
        self.checkpoint: asyncio.Task[None] | None = None

    async def connection(self) -> Any:
        if self.conn is not None and self.conn.in_transaction:
            # A transaction cut off before it could end (e.g. a cancelled request): start clean.
            await self.discard()
        if self.conn is None:
            conn = await self.engine.get_connection()
            mode = await conn.execute_fetchall("PRAGMA journal_mode")
            self.wal = str(next(iter(mode[0].values()))).lower() == "wal"
            busy = await conn.execute_fetchall("PRAGMA busy_timeout")  # the engine's `timeout`
            self.busy_ms = int(next(iter(busy[0].values())))
            if self.wal:
                await conn.execute_fetchall("PRAGMA wal_autocheckpoint = 0")  # (it answers a row)
            self.conn = conn
        return self.conn

    def begin_in_loop(self) -> bool:
        """BEGIN IMMEDIATE on this thread if the write lock is free right now (True); False when
        another process holds it or the database is not in WAL mode (the caller waits elsewhere)."""
        if not self.wal:
            return False
        raw: sqlite3.Connection = self.conn._conn
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # "database is locked": another process is writing
            return False
        finally:
            raw.execute(f"PRAGMA busy_timeout = {self.busy_ms}")
        return True

    def committed(self) -> None:
        self.commits += 1
        if self.commits >= CHECKPOINT_EVERY and (self.checkpoint is None or self.checkpoint.done()):
            self.commits = 0
            self.checkpoint = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        pool = self.engine.reader_pool()
        if pool is None:
            return
        conn = await pool.borrow()
        try:
            # PASSIVE: copies what no reader still needs and never waits for (or blocks) a writer.
            # Its answer is read to the end here: aiosqlite's thread keeps the last result it made, and
            # while that statement stayed unfinished, the read transaction of this reader's next quick
            # read (on the loop's thread) never ended: later quick reads answered from its snapshot.
            await conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass  # the next one catches up
        finally:
            await pool.give_back(conn)

    async def discard(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # it is being dropped either way
                await conn.close()

    async def close(self) -> None:
        if self.checkpoint is not None:
            with contextlib.suppress(Exception):
                await self.checkpoint
        await self.discard()


class _KeptWriterTransaction(SQLiteTransaction):
    """BEGIN IMMEDIATE … COMMIT on the process's kept writer connection, which stays open afterwards."""

    @property
    def in_loop(self) -> sqlite3.Connection:
        """The writer's sqlite3 connection, for statements run on the event loop's thread. Inside the
        transaction the write lock is held (BEGIN IMMEDIATE), so a statement never waits for another
        writer; it takes microseconds, far less than a trip to the connection's thread and back
        (three of them made a door scan's CPU)."""
        return self.connection._conn

    def __init__(self, engine: SQLiteEngine, slot: _WriterSlot) -> None:
        super().__init__(engine, transaction_type=TransactionType.immediate, allow_nested=True)
        self._slot = slot
        self._in_loop = False

    async def get_connection(self) -> Any:
        return await self._slot.connection()

    async def begin(self) -> None:
        self._in_loop = self._slot.begin_in_loop()
        if not self._in_loop:
            await super().begin()  # on the connection's thread, waiting out the busy timeout

    async def commit(self) -> None:
        if self._in_loop:
            self.in_loop.execute("COMMIT")
            self._committed = True
        else:
            await super().commit()
        self._slot.committed()  # either way, this connection never checkpoints by itself

    async def rollback(self) -> None:
        if self._in_loop:
            self.in_loop.execute("ROLLBACK")
            self._rolled_back = True
        else:
            await super().rollback()

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        except BaseException:
            await self._slot.discard()  # never hand on a connection in an unknown state
            raise
        finally:
            self.engine.current_transaction.reset(self.context)
        return exception is None


def sqlite_path(url: str) -> str:
    """The text after ``sqlite:///`` is the path: relative to the working directory, or absolute."""
    return url[len("sqlite:///") :] if url.startswith("sqlite:///") else DEFAULT_SQLITE_PATH


def engine_from_url(url: str | None) -> Engine:
    if url and url.startswith(("postgres://", "postgresql://")):
        return PostgresEngine(config={"dsn": url, "server_settings": PG_SESSION_SETTINGS}, log_queries=False)
    if url and not url.startswith("sqlite:///"):
        raise ValueError(
            f"DATABASE_URL must start with sqlite:/// or postgresql:// (got {urlparse(url).scheme or url!r})"
        )
    path = sqlite_path(url or "")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # check_same_thread=False: write transactions run kepu's prepared statements on the kept writer
    # connection from the event loop's thread (_KeptWriterTransaction.in_loop), between the aiosqlite
    # thread's turns.
    return TunedSQLiteEngine(path=path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)


_engine: Engine | None = None


def engine() -> Engine:
    """The configured engine, found once (Piccolo's finder re-reads the configuration on every call)."""
    global _engine
    if _engine is None:
        found = engine_finder()
        if found is None:
            raise RuntimeError("no Piccolo engine configured")
        _engine = found
    return _engine


async def _reset_connection(conn: Any) -> None:
    """What a pooled PostgreSQL connection needs before reuse. kepu sets no session state (no SET,
    LISTEN or advisory locks), so asyncpg's default reset (four statements on every release) is
    spared; a transaction left open by an interrupted request is still rolled back."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def is_sqlite(db: Engine | None = None) -> bool:
    return (db or engine()).engine_type == "sqlite"


# SQLite lets one writer in at a time; queueing writers of this process on a lock instead of in
# SQLite's busy handler (which sleeps with back-off) multiplied throughput in the recipe's
# measurements. Correctness across processes still comes from BEGIN IMMEDIATE. One lock per
# event loop, since a lock is bound to the loop it first waits on.
_write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _write_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _write_locks.get(loop)
    if lock is None:
        lock = _write_locks[loop] = asyncio.Lock()
    return lock


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """A transaction that may read, check and write without racing.

    SQLite: BEGIN IMMEDIATE takes the write lock up front (a deferred transaction that upgrades
    fails with "database is locked"). PostgreSQL: READ COMMITTED plus conditional UPDATEs or
    row locks in the services. Nested use joins the outer transaction.
    """
    db = engine()
    if db.current_transaction.get() is not None:
        yield
        return
    if isinstance(db, SQLiteEngine):
        async with _write_lock():
            writer = db.kept_writer() if isinstance(db, TunedSQLiteEngine) else None
            tx = (
                _KeptWriterTransaction(db, writer)
                if writer is not None
                else db.transaction(transaction_type=TransactionType.immediate)
            )
            async with tx:
                yield
    else:
        async with db.transaction():
            yield


_STATISTICS_AT = 0.0
STATISTICS_EVERY_S = 3600


async def refresh_statistics(force: bool = False) -> bool:
    """SQLite keeps no statistics about its indexes unless asked, and without them its planner can pick
    a poor one (a slot's roster scanned every booking of its venue). ANALYZE with an analysis limit
    reads at most 1,000 rows an index (an estimate, enough for the planner), so it stays quick at any
    size. At most hourly unless forced; `kepu migrate` and the worker call it. PostgreSQL's autovacuum
    analyses by itself: nothing to do there. True when it ran."""
    global _STATISTICS_AT
    if not is_sqlite() or (not force and time.monotonic() - _STATISTICS_AT < STATISTICS_EVERY_S):
        return False
    from core.sql import Statement  # it imports this module

    async with write_transaction():
        await Statement("PRAGMA analysis_limit = 1000").execute()
        await Statement("ANALYZE").execute()
    _STATISTICS_AT = time.monotonic()
    return True


class SQLiteKeeper:
    """Holds one idle connection for the app's lifetime.

    Piccolo opens a connection per query; when the last connection to a WAL database closes,
    SQLite checkpoints and deletes the WAL, which cost ~7 ms per query in the recipe.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    def open(self) -> None:
        self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@asynccontextmanager
async def database_lifespan(pool_size: int = 10) -> AsyncIterator[None]:
    """Open the pool (PostgreSQL) or the keeper connection (SQLite); a failure stops startup loudly."""
    db = engine()
    keeper: SQLiteKeeper | None = None
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool(min_size=1, max_size=pool_size, reset=_reset_connection)
    elif isinstance(db, SQLiteEngine):
        keeper = SQLiteKeeper(db.path)
        keeper.open()
        if isinstance(db, TunedSQLiteEngine):
            db.open_readers(READERS)
    try:
        yield
    finally:
        if isinstance(db, PostgresEngine):
            await db.close_connection_pool()
        if isinstance(db, TunedSQLiteEngine):
            await db.close_readers()
        if keeper is not None:
            keeper.close()


async def ping(timeout_s: float = 3.0) -> bool:
    """True when the database answers a trivial query within the timeout."""
    try:
        await asyncio.wait_for(engine().run_querystring(QueryString("SELECT 1")), timeout_s)
    except Exception:
        return False
    return True


async def reserve_ids(table: type[Table], n: int) -> list[int]:
    """Ids for n rows about to be inserted, so a pass (which signs the booking id) goes in with its row."""
    if n == 0:
        return []
    name = table._meta.tablename
    if is_sqlite():
        # BEGIN IMMEDIATE holds SQLite's write lock until commit: no other writer can take these ids.
        assert engine().current_transaction.get() is not None, "reserve ids inside write_transaction()"
        rows = await table.raw(f"SELECT COALESCE(MAX(id), 0) AS top FROM {name}")
        top = int(rows[0]["top"])
        return list(range(top + 1, top + n + 1))
    # The sequence hands out these ids once, whatever other sessions insert meanwhile.
    rows = await table.raw(
        f"SELECT nextval(pg_get_serial_sequence('{name}', 'id')) AS id FROM generate_series(1, {{}})", n
    )
    return [int(r["id"]) for r in rows]


async def insert_chunked(table: type[Table], rows: Sequence[Table], chunk: int = 400) -> None:
    """Insert many rows in statements of `chunk` rows (SQLite allows 32,766 parameters a statement)."""
    for i in range(0, len(rows), chunk):
        await table.insert(*rows[i : i + chunk])
