"""core.sql statements and the SQLite reader pool: the same answers as Piccolo, in and out of transactions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from accounts.tables import School
from core import clock
from core.db import TunedSQLiteEngine, engine, write_transaction
from core.sql import Statement

COUNT = Statement("SELECT COUNT(*) AS n FROM accounts_school WHERE district = $1")
INSERT = Statement("INSERT INTO accounts_school (name, district, created_at) VALUES ($1, $2, $3)")


def test_placeholders_must_be_numbered_in_order() -> None:
    assert Statement("SELECT $1, $2").sqlite == "SELECT ?, ?"
    for bad in ("SELECT $2", "SELECT $1, $1", "SELECT $2, $1"):
        with pytest.raises(ValueError, match="placeholders"):
            Statement(bad)


async def _count(district: str) -> int:
    row = await COUNT.fetchrow(district)
    assert row is not None
    return int(row["n"])


async def test_statements_join_the_transaction_and_roll_back_with_it(running: Any) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with write_transaction():
            await INSERT.execute("一中", "思明区", clock.now())
            assert await _count("思明区") == 1  # seen inside: the same connection
            raise Boom
    assert await _count("思明区") == 0
    async with write_transaction():
        await INSERT.execute("二中", "思明区", clock.now())
    assert await _count("思明区") == 1
    # What Piccolo reads agrees with what the statement wrote.
    rows = await School.select(School.name).where(School.district == "思明区")
    assert [r["name"] for r in rows] == ["二中"]


async def test_a_burst_of_reads_opens_no_more_connections_than_the_pool_holds(running: Any) -> None:
    db = engine()
    if not isinstance(db, TunedSQLiteEngine):
        pytest.skip("the reader pool is SQLite's")
    pool = next(iter(db._readers.values()))
    results = await asyncio.gather(*(_count("集美区") for _ in range(200)))
    assert results == [0] * 200
    assert len(pool.opened) <= pool.size


async def test_a_transaction_cut_off_mid_way_leaves_nothing_behind(running: Any) -> None:
    """A request cancelled inside its transaction (client gone) rolls back; the next one starts clean."""
    inside = asyncio.Event()

    async def interrupted() -> None:
        async with write_transaction():
            await INSERT.execute("三中", "湖里区", clock.now())
            inside.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(interrupted())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with write_transaction():
        await INSERT.execute("四中", "湖里区", clock.now())
    rows = await School.select(School.name).where(School.district == "湖里区")
    assert [r["name"] for r in rows] == ["四中"]


async def test_sqlite_gets_index_statistics_at_most_hourly(running: Any) -> None:
    """`kepu migrate` and the worker refresh SQLite's statistics (PostgreSQL's autovacuum does its own)."""
    from core import db

    if not db.is_sqlite():
        assert await db.refresh_statistics(force=True) is False
        return
    async with write_transaction():
        for n in range(30):
            await School.insert(School(name=f"统计学校{n}", district="思明区"))
    assert await db.refresh_statistics(force=True) is True
    rows = await Statement("SELECT tbl FROM sqlite_stat1").fetch()
    assert "accounts_school" in {r["tbl"] for r in rows}
    assert await db.refresh_statistics() is False  # analysed a moment ago
