"""The database gone for a while (issue 8, "Faults"): requests fail with 503 and a sentence, not 500;
/readyz says so; service resumes by itself once the database is back.

PostgreSQL: a real `kepu serve` reaches the database through a small TCP proxy run by the test, which
is stopped (every connection cut, new ones refused) and started again. SQLite: another process holds
the write lock past the busy timeout, so "database is locked" must become 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg
import httpx
import pytest

from core import db
from kepu.errors import _is_db_unavailable
from tests.conftest import ENGINE, IS_PG
from tests.helpers import PASSWORD, World, in_days, iso, make_user
from tests.pages.browser_session import PageSession
from tests.servers import free_port, running_servers

UNAVAILABLE_ZH = "数据库暂时无响应"


# --- which errors mean "the database is unavailable" ---------------------------------------------


def _wrapped(inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as e:
            raise RuntimeError("while running a query") from e
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    "exc",
    [
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("unable to open database file"),
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        ConnectionResetError(104, "Connection reset by peer"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 5432)"),
        TimeoutError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ObjectNotInPrerequisiteStateError(
            'database "kepu" is not currently accepting connections'
        ),
        asyncpg.exceptions.InterfaceError("connection is closed"),
    ],
    ids=repr,
)
def test_unavailable_database_errors_are_recognised(exc: Exception) -> None:
    assert _is_db_unavailable(exc)
    assert _is_db_unavailable(_wrapped(exc))


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad value"),
        KeyError("x"),
        sqlite3.OperationalError("no such column: foo"),
        sqlite3.IntegrityError("UNIQUE constraint failed: accounts_user.username"),
        asyncpg.exceptions.UndefinedColumnError('column "foo" does not exist'),
        asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
        asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
        FileNotFoundError(2, "No such file or directory"),
    ],
    ids=repr,
)
def test_bugs_are_not_taken_for_an_outage(exc: Exception) -> None:
    assert not _is_db_unavailable(exc)
    assert not _is_db_unavailable(_wrapped(exc))


def _assert_api_503(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:500])
    body = r.json()
    assert body["status_code"] == 503
    assert "database" in body["detail"].lower() or UNAVAILABLE_ZH in body["detail"], body
    assert r.headers.get("retry-after")


def _assert_page_503(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("text/html")
    assert UNAVAILABLE_ZH in r.text, r.text[:1000]


# --- SQLite: another process holds the write lock --------------------------------------------------


@pytest.fixture
def short_busy_timeout(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy timeout of 0.3 s instead of 30 s for the app's connections (opened after this fixture)."""
    if IS_PG:
        pytest.skip("SQLite's write lock")
    monkeypatch.setitem(ENGINE.connection_kwargs, "timeout", 0.3)  # type: ignore[attr-defined]


@contextlib.contextmanager
def write_lock_held_elsewhere() -> Iterator[None]:
    """Another connection (as another process would) holds SQLite's write lock until the block ends."""
    conn = sqlite3.connect(ENGINE.path, isolation_level=None)  # type: ignore[attr-defined]
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


async def test_sqlite_locked_by_another_process_is_503_then_recovers(
    short_busy_timeout: None, client: httpx.AsyncClient
) -> None:
    world = await World(client).build()
    slot = await world.slot(capacity=100)
    page = PageSession(client)
    await page.sign_in("teacher_a", PASSWORD)

    with write_lock_held_elsewhere():
        _assert_api_503(await world.book(slot["id"], 10, 1))
        # Reading a page writes nothing (its session was renewed a moment ago), so it still answers ...
        assert (await page.get("/bookings")).status_code == 200
        # ... but a page that writes gets the error page, in Chinese.
        _assert_page_503(await page.post(f"/slots/{slot['id']}/book", {"students": "10", "chaperones": "1"}))
        # Readers are not blocked by a writer (WAL): what needs no write still answers.
        assert (await world.get("auditor", f"/api/v1/slots/{slot['id']}")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200

    booked = await world.book(slot["id"], 10, 1)
    assert booked.status_code == 201, booked.text
    fresh = (await world.get("auditor", f"/api/v1/slots/{slot['id']}")).json()
    assert fresh["booked"] == 11, "the refused booking must have left nothing behind"
    assert (await page.get("/bookings")).status_code == 200


# --- PostgreSQL: a real server whose database goes away --------------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:port to the database on its own thread and event loop (the servers' start-up
    blocks the test's loop). `stop()` refuses new connections and cuts the open ones, as a database
    host that went down would; `start()` serves again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self.writers -= {writer, up_writer}

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    def start(self) -> None:
        self._run(self._start())

    def stop(self) -> None:
        self._run(self._stop())

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def proxied_url(database_url: str) -> Iterator[tuple[str, TcpProxy]]:
    if not IS_PG:
        pytest.skip("a PostgreSQL server to cut off")
    parts = urlparse(database_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.start()
    netloc = f"{parts.username}@" if parts.username else ""
    if parts.password:
        netloc = f"{parts.username}:{parts.password}@"
    try:
        yield urlunparse(parts._replace(netloc=f"{netloc}127.0.0.1:{proxy.port}")), proxy
    finally:
        proxy.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as c:
        yield c


async def _ready_again(http: httpx.AsyncClient, base: str, within_s: float = 30) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if (await http.get(f"{base}/readyz")).status_code == 200:
            return True
        await asyncio.sleep(0.2)
    return False


async def _bearer(http: httpx.AsyncClient, base: str, username: str) -> dict[str, str]:
    r = await http.post(f"{base}/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_postgres_gone_is_503_and_service_resumes(
    proxied_url: tuple[str, TcpProxy], http: httpx.AsyncClient, tmp_path: Path
) -> None:
    url, proxy = proxied_url
    await make_user("auditor", "auditor")
    await make_user("teacher_a", "teacher")
    with running_servers(url, 1, tmp_path / "servers") as servers:
        base = servers[0].url
        page = PageSession(http)
        page.client = httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False)
        async with page.client:
            await page.sign_in("teacher_a", PASSWORD)
            auditor = await _bearer(http, base, "auditor")
            teacher = await _bearer(http, base, "teacher_a")
            venue = await http.post(
                f"{base}/api/v1/venues",
                json={"name": "厦门科技馆", "kind": "science_museum", "district": "思明区"},
                headers=auditor,
            )
            starts = in_days(5)
            slot = await http.post(
                f"{base}/api/v1/venues/{venue.json()['id']}/slots",
                json={"starts_at": iso(starts), "ends_at": iso(starts.replace(hour=11)), "capacity": 50},
                headers=auditor,
            )
            assert slot.status_code == 201, slot.text
            booking = {"slot_id": slot.json()["id"], "students": 10, "chaperones": 1}
            assert (
                await http.post(f"{base}/api/v1/bookings", json=booking, headers=teacher)
            ).status_code == 201

            proxy.stop()
            ready = await http.get(f"{base}/readyz")
            assert ready.status_code == 503 and ready.json()["status_code"] == 503, ready.text
            _assert_api_503(await http.post(f"{base}/api/v1/bookings", json=booking, headers=teacher))
            _assert_api_503(await http.get(f"{base}/api/v1/bookings", headers=teacher))
            _assert_page_503(await page.get("/bookings"))
            assert (await http.get(f"{base}/healthz")).status_code == 200, "the process itself is up"

            proxy.start()
            assert await _ready_again(http, base), servers[0].output()[-3000:]
            again = await http.post(f"{base}/api/v1/bookings", json=booking, headers=teacher)
            assert again.status_code == 201, again.text
            listing = await http.get(f"{base}/api/v1/bookings", headers=teacher)
            assert len(listing.json()["items"]) == 2, "the refused booking must have left nothing behind"
            assert (await page.get("/bookings")).status_code == 200
        # Logged as an outage (a warning), never as an unhandled error (a 500).
        assert "database unavailable" in servers[0].output()
        assert "unhandled error" not in servers[0].output(), servers[0].output()[-3000:]


async def test_ping_fails_fast_without_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """/readyz relies on ping(): it must answer False (not raise) when the engine cannot connect."""

    class Gone:
        async def run_querystring(self, *_: Any, **__: Any) -> Any:
            raise ConnectionRefusedError(111, "Connect call failed")

    monkeypatch.setattr(db, "_engine", Gone())
    assert await db.ping() is False
