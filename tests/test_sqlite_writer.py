"""SQLite's kept writer: BEGIN and COMMIT on the event loop's thread while the write lock is free, a wait
off the loop while another process holds it, and the WAL checkpointed off the loop."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core import db
from core.sql import Statement
from tests.conftest import ENGINE, IS_PG

pytestmark = pytest.mark.skipif(IS_PG, reason="SQLite's write lock and WAL")

_WRITE = Statement("INSERT INTO ledger_tip (venue, seq, hash) VALUES ($1, 0, 'x')")
_COUNT = "SELECT COUNT(*) FROM ledger_tip"
_COUNT_QUICK = Statement("SELECT COUNT(*) AS n FROM ledger_tip", quick=True)  # on the loop's thread
_COUNT_READ = Statement("SELECT COUNT(*) AS n FROM ledger_tip")  # on the reader's thread


@pytest.fixture
async def lifespan(fresh_db: str) -> AsyncIterator[db._WriterSlot]:
    async with db.database_lifespan():
        writer = ENGINE.kept_writer()  # type: ignore[attr-defined]
        assert writer is not None
        yield writer


def _outside_count() -> int:
    """What another process sees committed."""
    with sqlite3.connect(ENGINE.path) as conn:  # type: ignore[attr-defined]
        return int(conn.execute(_COUNT).fetchone()[0])


def _database_file() -> bytes:
    return Path(ENGINE.path).read_bytes()  # type: ignore[attr-defined]


def _busy_ms(writer: db._WriterSlot) -> int:
    row = writer.conn._conn.execute("PRAGMA busy_timeout").fetchone()  # a dict: Piccolo's row factory
    return int(next(iter(row.values())))


async def _write(venue: int) -> db._KeptWriterTransaction:
    async with db.write_transaction():
        tx = ENGINE.current_transaction.get()
        await _WRITE.execute(venue)
    assert isinstance(tx, db._KeptWriterTransaction)
    return tx


async def test_a_free_write_lock_is_taken_on_the_loop_and_the_commit_is_seen(
    lifespan: db._WriterSlot,
) -> None:
    tx = await _write(1)
    assert tx._in_loop and lifespan.wal
    assert _outside_count() == 1
    with pytest.raises(RuntimeError):
        async with db.write_transaction():
            await _WRITE.execute(2)
            raise RuntimeError("refused half-way")
    assert _outside_count() == 1, "a failed transaction is rolled back"
    assert not lifespan.conn._conn.in_transaction


async def test_a_write_lock_held_elsewhere_is_waited_for_off_the_loop(lifespan: db._WriterSlot) -> None:
    await _write(1)  # the writer's connection is open
    configured = _busy_ms(lifespan)
    assert configured > 0
    other = sqlite3.connect(ENGINE.path, isolation_level=None)  # type: ignore[attr-defined]
    try:
        other.execute("BEGIN IMMEDIATE")
        waiting = asyncio.create_task(_write(2))
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(10):  # the loop keeps serving while the write waits for the lock…
            await asyncio.sleep(0.02)
        # …instead of sleeping in SQLite's busy handler on the loop's thread for the busy timeout
        assert loop.time() - started < configured / 1000 / 3
        assert not waiting.done()
        other.execute("COMMIT")
        tx = await asyncio.wait_for(waiting, 5)
    finally:
        other.close()
    assert not tx._in_loop
    assert _outside_count() == 2
    assert _busy_ms(lifespan) == configured, "the busy timeout is put back after the quick attempt"


async def test_the_wal_is_checkpointed_off_the_loop_every_so_many_commits(
    lifespan: db._WriterSlot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "CHECKPOINT_EVERY", 5)
    await _write(1)
    row = lifespan.conn._conn.execute("PRAGMA wal_autocheckpoint").fetchone()
    assert next(iter(row.values())) == 0, "the writer never checkpoints on the loop"
    if lifespan.checkpoint is not None:
        await lifespan.checkpoint
    lifespan.commits = 0
    before = _database_file()
    for venue in range(2, 6):
        await _write(venue)
    # Four commits: all in the WAL, the database file untouched (no automatic checkpoint).
    assert lifespan.checkpoint is None or lifespan.checkpoint.done()
    assert _database_file() == before
    await _write(6)  # the fifth
    assert lifespan.checkpoint is not None
    await lifespan.checkpoint
    assert _database_file() != before, "the checkpoint copied the commits into the database file"
    assert _outside_count() == 6
    # The reader that ran the checkpoint was handed back with nothing left open: every reader sees each
    # new commit. (A statement left unfinished on it keeps the read transaction that its next quick
    # read opens, on the loop's thread, so from the second quick read on it answered an old count.)
    pool = ENGINE.reader_pool()  # type: ignore[attr-defined]
    assert pool is not None and pool.opened
    for venue in range(7, 10):
        await _write(venue)
        for _ in pool.opened:  # each reader in turn (the pool hands them out in order)
            assert (await _COUNT_QUICK.fetchrow()) == {"n": venue}
    for _ in pool.opened:
        assert (await _COUNT_READ.fetchrow()) == {"n": 9}
