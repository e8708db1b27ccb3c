"""Page sessions (issue 8): sign-out ends the session on the server, and an absolute lifetime."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from accounts.tables import StoreEntry
from core.sessions import SIGNED_IN_AT_KEY
from tests.conftest import Clock
from tests.helpers import PASSWORD, make_user
from tests.pages.browser_session import PageSession

COOKIE = "kepu_session"
T0 = datetime(2026, 3, 2, 8, 0)


async def stored(session_id: str) -> bool:
    return bool(await StoreEntry.exists().where(StoreEntry.key == f"session:{session_id}"))


def session_cookie(client: httpx.AsyncClient) -> str:
    value = client.cookies.get(COOKIE)
    assert value and value != "null", client.cookies
    return str(value)


async def test_sign_out_deletes_the_session_on_the_server(client: httpx.AsyncClient) -> None:
    await make_user("alice", "teacher")
    page = PageSession(client)
    await page.sign_in("alice", PASSWORD)
    sid = session_cookie(client)
    assert await stored(sid)
    assert (await page.get("/account")).status_code == 200
    r = await page.post("/logout")
    assert r.status_code == 303
    assert not await stored(sid)
    # Replaying the old cookie (say, copied before sign-out) gets nobody in.
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver", cookies={COOKIE: sid}
    ) as replay:
        r = await replay.get("/account")
        assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")


async def test_sign_in_records_when_and_gets_a_new_session_id(client: httpx.AsyncClient) -> None:
    await make_user("alice", "teacher")
    page = PageSession(client)
    await page.get("/login")
    await page.post("/login", {"username": "alice", "password": "wrong-password-1", "next": "/"})
    before = client.cookies.get(COOKIE)
    await page.sign_in("alice", PASSWORD)
    after = session_cookie(client)
    assert after != before
    if before and before != "null":
        assert not await stored(before)
    row = await StoreEntry.select(StoreEntry.value).where(StoreEntry.key == f"session:{after}").first()
    assert row is not None and SIGNED_IN_AT_KEY.encode() in bytes(row["value"])


async def test_an_active_session_still_ends_twelve_hours_after_sign_in(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(T0)
    await make_user("alice", "teacher")
    page = PageSession(client)
    await page.sign_in("alice", PASSWORD)
    sid = session_cookie(client)
    # Used every hour, the idle timeout (8 hours) never strikes ...
    for hour in range(1, 13):
        frozen.advance(timedelta(hours=1))
        r = await page.get("/account")
        assert r.status_code == 200, (hour, r.status_code)
    # ... but 12 hours and a minute after sign-in, the session is over and gone from the store.
    frozen.advance(timedelta(minutes=1))
    r = await page.get("/account")
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")
    assert not await stored(sid)
    # Signing in again works at once.
    await page.sign_in("alice", PASSWORD)
    assert (await page.get("/account")).status_code == 200


async def test_the_idle_timeout_still_applies(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(T0)
    await make_user("alice", "teacher")
    page = PageSession(client)
    await page.sign_in("alice", PASSWORD)
    frozen.advance(timedelta(hours=8, minutes=1))
    r = await page.get("/account")
    assert r.status_code in (302, 303)


async def test_absolute_lifetime_follows_the_setting(running: Any, fresh_db: str, frozen: Clock) -> None:
    from kepu.app import create_app
    from kepu.settings import Settings

    app = create_app(Settings(**{**Settings.from_env().__dict__, "session_max_hours": 1}))
    frozen.set(T0)
    await make_user("alice", "teacher")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", follow_redirects=False
    ) as c:
        page = PageSession(c)
        await page.sign_in("alice", PASSWORD)
        frozen.advance(timedelta(minutes=59))
        assert (await page.get("/account")).status_code == 200
        frozen.advance(timedelta(minutes=2))
        assert (await page.get("/account")).status_code in (302, 303)


async def _expiry(session_id: str) -> Any:
    row = (
        await StoreEntry.select(StoreEntry.expires_at)
        .where(StoreEntry.key == f"session:{session_id}")
        .first()
    )
    assert row is not None
    return row["expires_at"]


async def test_reading_pages_renews_the_session_at_most_once_a_minute(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    """A page view that changes nothing writes the session only when its last renewal is a minute old,
    so reading is not a database write each time, and the idle timeout still slides."""
    frozen.set(T0)
    await make_user("alice", "teacher")
    page = PageSession(client)
    await page.sign_in("alice", PASSWORD)
    sid = session_cookie(client)
    first = await _expiry(sid)
    frozen.advance(timedelta(seconds=30))
    assert (await page.get("/account")).status_code == 200
    assert await _expiry(sid) == first  # renewed 30 s ago: nothing written
    frozen.advance(timedelta(seconds=31))
    assert (await page.get("/account")).status_code == 200
    renewed = await _expiry(sid)
    assert renewed == first + timedelta(seconds=61)
    # Used every 5 hours, the 8-hour idle timeout does not strike (10 hours in, within the 12-hour limit).
    for _ in range(2):
        frozen.advance(timedelta(hours=5))
        assert (await page.get("/account")).status_code == 200
    assert session_cookie(client) == sid
