"""`kepu backup` / `kepu restore`: a round trip through the real command gives back every row of every table.

Runs on the suite's engine: an SQLite file, or (KEPU_TEST_DATABASE) a PostgreSQL database of its own
made for this test, since a restore replaces the whole database.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

KEPU = Path(sys.executable).parent / "kepu"
PG = os.environ.get("KEPU_TEST_DATABASE", "")
pytestmark = pytest.mark.skipif(not KEPU.exists(), reason=f"no kepu executable beside {sys.executable}")


def kepu(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KEPU_TEST_DATABASE"}
    env["DATABASE_URL"] = url
    return subprocess.run(
        [str(KEPU), *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


async def _pg(url: str, sql: str) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not PG:
        yield f"sqlite:///{tmp_path / 'kepu.sqlite3'}"
        return
    name = f"kepu_backup_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(PG, f'CREATE DATABASE "{name}"'))
    try:
        yield PG.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_pg(PG, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def snapshot(url: str) -> dict[str, list[str]]:
    """Every table's rows, each as text, sorted: two equal snapshots hold the same data."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {n: sorted(map(repr, conn.execute(f'SELECT * FROM "{n}"').fetchall())) for n in names}
    names = [
        r["tablename"]
        for r in asyncio.run(_pg(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    ]
    return {
        n: sorted(repr(tuple(r.values())) for r in asyncio.run(_pg(url, f'SELECT * FROM "{n}"')))
        for n in names
    }


def change_everything(url: str) -> None:
    statements = ["DELETE FROM bookings_checkin", "UPDATE venues_venue SET name = 'changed'"]
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            for s in statements:
                conn.execute(s)
        return
    for s in statements:
        asyncio.run(_pg(url, s))


def test_round_trip_gives_back_every_row(database_url: str, tmp_path: Path) -> None:
    for args in (("migrate",), ("demo",)):
        done = kepu(database_url, *args)
        assert done.returncode == 0, done.stderr
    before = snapshot(database_url)
    assert sum(map(len, before.values())) > 100  # the demo: venues, slots, bookings, check-ins...
    assert before["bookings_checkin"]

    target = tmp_path / "backups" / "kepu.backup"
    done = kepu(database_url, "backup", str(target))
    assert done.returncode == 0, done.stderr
    assert target.is_file() and "wrote" in done.stdout
    # A second backup never overwrites the first.
    again = kepu(database_url, "backup", str(target))
    assert again.returncode == 1 and "exists already" in again.stderr

    change_everything(database_url)
    assert snapshot(database_url) != before

    refused = kepu(database_url, "restore", str(target))
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert snapshot(database_url) != before  # nothing happened without --yes

    done = kepu(database_url, "restore", str(target), "--yes")
    assert done.returncode == 0, done.stderr
    assert snapshot(database_url) == before


def test_restore_refuses_what_is_not_a_backup(database_url: str, tmp_path: Path) -> None:
    assert kepu(database_url, "migrate").returncode == 0
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    done = kepu(database_url, "restore", str(junk), "--yes")
    assert done.returncode == 1 and "not" in done.stderr and "backup" in done.stderr
    missing = kepu(database_url, "restore", str(tmp_path / "nothing.backup"), "--yes")
    assert missing.returncode == 1 and "no backup file" in missing.stderr
