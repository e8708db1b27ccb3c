"""Test set-up: one engine per run (SQLite by default, PostgreSQL with KEPU_TEST_DATABASE), a migrated
database per test, the app on the test's own event loop, and helpers to make people and objects.

`make test` runs the suite once on SQLite and once on PostgreSQL, each spread over two pytest-xdist
workers (see the Makefile); `.ci/run` fails if the PostgreSQL run did not happen. Every worker is a
process of its own with its own database (named after its pid), template and temporary files, and each
browser module runs whole on one worker (pytest_xdist_make_scheduler below).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

TEST_DB = os.environ.get("KEPU_TEST_DATABASE", "sqlite")
IS_PG = TEST_DB.startswith("postgres")
PG_ADMIN_URL = TEST_DB if IS_PG else ""
PG_TEST_DBNAME = f"kepu_test_{os.getpid()}" if IS_PG else ""
SQLITE_TEMPLATE_DIR = Path(os.environ.get("KEPU_TEST_TMP", "/tmp")) / f"kepu-test-{os.getpid()}"


def _pg_url(dbname: str) -> str:
    from urllib.parse import urlparse, urlunparse

    parts = urlparse(PG_ADMIN_URL)
    return urlunparse(parts._replace(path=f"/{dbname}"))


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if IS_PG:
    os.environ["DATABASE_URL"] = _pg_url(PG_TEST_DBNAME)
    # The database exists before Piccolo's engine is made (it asks the server for its version).
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEST_DBNAME}"'))
    asyncio.run(_pg_admin(f'CREATE DATABASE "{PG_TEST_DBNAME}"'))
    # A throw-away database: commits need not wait for the disk.
    asyncio.run(_pg_admin(f'ALTER DATABASE "{PG_TEST_DBNAME}" SET synchronous_commit = off'))
else:
    SQLITE_TEMPLATE_DIR.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{SQLITE_TEMPLATE_DIR / 'template.sqlite3'}"
os.environ.setdefault("KEPU_SECRET_KEY", "test-secret-key-for-the-suite")
os.environ.setdefault("KEPU_FAST_PASSWORD_HASHING", "1")
# While a name or an address is locked, every sign-in attempt waits this long before its password is
# checked: 1 s in production (accounts.throttle), 50 ms here, so that the tests which run into a lock
# (a dozen wrong passwords, Schemathesis's token requests) still wait on every attempt, but not for
# seconds. tests/accounts/test_throttle.py sets its own delays and measures them.
os.environ.setdefault("KEPU_SIGNIN_LOCKED_DELAY_MS", "50")

from core import clock, db  # noqa: E402
from core.db import engine_from_url  # noqa: E402

ENGINE = db.engine()


def pytest_report_header(config: pytest.Config) -> str:
    return f"kepu test database: {'PostgreSQL ' + PG_TEST_DBNAME if IS_PG else 'SQLite'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests live in modules named `*_browser.py`: that is how the xdist scheduler below,
    which sees only test ids, keeps each such module together on one worker."""
    stray = sorted(
        {
            item.nodeid.split("::")[0]
            for item in items
            if item.get_closest_marker("browser") is not None and not item.path.name.endswith("_browser.py")
        }
    )
    if stray:
        raise pytest.UsageError(f"tests marked browser must be in a module named *_browser.py: {stray}")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs `-n 2 --dist loadgroup`: every test goes on its own to whichever worker is
    free, except that each browser module (`*_browser.py`) runs whole, in order, on one worker, as
    it does without xdist: its tests share that worker's `kepu serve` and Chromium (package- or
    module-scoped fixtures) and may build on each other. (This stands in for xdist's own loadgroup,
    whose `xdist_group` marks pytest 9.2's node ids no longer carry; see pytest-xdist issue 1386.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserModulesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module.endswith("_browser.py") else nodeid

    return BrowserModulesTogether(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Drop what this process made at import time even when it ran no test (the xdist controller
    imports this file too, but runs no session fixture)."""
    if IS_PG:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEST_DBNAME}" WITH (FORCE)'))
    else:
        shutil.rmtree(SQLITE_TEMPLATE_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated_db() -> Iterator[Path | None]:
    from kepu.cli import _migrate

    if IS_PG:
        asyncio.run(_migrate())
        yield None
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEST_DBNAME}" WITH (FORCE)'))
        return
    template = SQLITE_TEMPLATE_DIR / "template.sqlite3"
    ENGINE.path = str(template)  # type: ignore[attr-defined]
    asyncio.run(_migrate())
    yield template
    shutil.rmtree(SQLITE_TEMPLATE_DIR, ignore_errors=True)


@pytest.fixture
def database_url(migrated_db: Path | None, tmp_path: Path) -> str:
    """A fresh database for this test: a copy of the migrated template (SQLite) or emptied tables (PG)."""
    from bookings import keys

    keys.forget()
    if IS_PG:
        asyncio.run(_pg_admin_truncate())
        return _pg_url(PG_TEST_DBNAME)
    assert migrated_db is not None
    target = tmp_path / "kepu.sqlite3"
    shutil.copy(migrated_db, target)
    ENGINE.path = str(target)  # type: ignore[attr-defined]
    return f"sqlite:///{target}"


_PG_CLEANUP: str | None = None


async def _pg_admin_truncate() -> None:
    """Empty every table the migrations made (but their own bookkeeping) and restart the id sequences,
    so new tables need no listing. DELETE with triggers off (the append-only triggers and the foreign
    keys) costs a tenth of TRUNCATE, which creates new files for every table: 14 ms against 140 ms a
    test, on a database that is small between tests anyway."""
    import asyncpg

    global _PG_CLEANUP
    conn = await asyncpg.connect(_pg_url(PG_TEST_DBNAME))
    try:
        if _PG_CLEANUP is None:
            tables = [
                r["tablename"]
                for r in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migration'"
                )
            ]
            sequences = [
                r["sequencename"]
                for r in await conn.fetch("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            ]
            _PG_CLEANUP = (
                "SET session_replication_role = replica;"
                + "".join(f'DELETE FROM "{t}";' for t in tables)
                + "".join(f'ALTER SEQUENCE "{q}" RESTART;' for q in sequences)
                + "SET session_replication_role = DEFAULT;"
            )
        await conn.execute(_PG_CLEANUP)
    finally:
        await conn.close()


@pytest.fixture
def fresh_db(database_url: str) -> str:
    return database_url


@pytest.fixture(scope="session")
def app() -> Any:
    from kepu.app import create_app
    from kepu.settings import Settings

    return create_app(Settings.from_env())


@pytest.fixture
async def running(app: Any, fresh_db: str) -> AsyncIterator[Any]:
    """The app's own lifespan (pool, secrets, keys), entered on the test's event loop."""
    async with app.state.kepu_lifespan(app):
        yield app


@pytest.fixture
async def client(running: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=running), base_url="http://testserver", follow_redirects=False
    ) as c:
        yield c


class Clock:
    """Moves kepu's clock (core.clock) for a test; real time otherwise."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.fixed: datetime | None = None

    def set(self, when: datetime) -> None:
        self.fixed = clock.as_aware(when)
        self.monkeypatch.setattr(clock, "_now", lambda: self.fixed)

    def advance(self, delta: timedelta) -> None:
        assert self.fixed is not None
        self.fixed += delta


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


__all__ = ["IS_PG", "engine_from_url"]
