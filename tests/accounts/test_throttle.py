"""Sign-in throttling (issue 8; api.md "Auth": failed attempts only, a correct sign-in is never refused)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from accounts import throttle
from accounts.tables import SignInFailure, StoreEntry
from tests.api_support import assert_error
from tests.conftest import Clock
from tests.helpers import PASSWORD, make_user
from tests.pages.browser_session import PageSession
from tests.servers import Server, run_kepu, running_servers, server_count

TOKEN_URL = "/api/v1/auth/token"
T0 = datetime(2026, 3, 2, 9, 0)


@pytest.fixture(autouse=True)
def no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "LIMITS", throttle.Limits(locked_delay=0))


def client_from(app: Any, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 4711)),
        base_url="http://testserver",
        follow_redirects=False,
    )


@pytest.fixture
async def other(running: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_from(running, "10.1.2.3") as c:
        yield c


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(TOKEN_URL, data={"username": username, "password": password})


async def fail(client: httpx.AsyncClient, username: str, times: int) -> list[int]:
    return [(await sign_in(client, username, "wrong-password-1")).status_code for _ in range(times)]


async def test_five_failures_lock_the_name_with_429_and_retry_after(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(T0)
    await make_user("alice", "teacher")
    assert await fail(client, "alice", 5) == [401] * 5
    r = await sign_in(client, "alice", "wrong-password-1")
    body = assert_error(r, 429)
    # The sentence says how long to wait (English or Chinese, as the catalogue has it).
    assert "15" in body["detail"] and int(r.headers["Retry-After"]) == 15 * 60
    assert "access_token" not in body
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60
    # Case and spaces do not give a fresh allowance.
    assert_error(await sign_in(client, " ALICE ", "wrong-password-1"), 429)


async def test_a_correct_password_is_never_refused_and_clears_the_name(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(T0)
    await make_user("alice", "teacher")
    await fail(client, "alice", 8)
    r = await sign_in(client, "alice", PASSWORD)
    assert r.status_code == 200, r.text
    assert r.json()["access_token"]
    # The name's failures are wiped by the right password: a slip afterwards is a plain 401 again.
    assert_error(await sign_in(client, "alice", "wrong-password-1"), 401)


async def test_unknown_names_are_throttled_exactly_like_known_ones(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(T0)
    await make_user("alice", "teacher")
    known = await fail(client, "alice", 5)
    unknown = await fail(client, "nobody", 5)
    assert known == unknown == [401] * 5
    r_known = await sign_in(client, "alice", "wrong-password-1")
    r_unknown = await sign_in(client, "nobody", "wrong-password-1")
    assert r_known.status_code == r_unknown.status_code == 429
    assert r_known.json() == r_unknown.json()
    assert r_known.headers["Retry-After"] == r_unknown.headers["Retry-After"]


async def test_retry_after_counts_from_the_failures_and_the_lock_ends(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(T0)
    await make_user("alice", "teacher")
    for _ in range(5):  # at 9:00, 9:01, ..., 9:04
        assert_error(await sign_in(client, "alice", "wrong-password-1"), 401)
        frozen.advance(timedelta(minutes=1))
    r = await sign_in(client, "alice", "wrong-password-1")  # 9:05, refused
    assert_error(r, 429)
    # The five newest failures are now 9:01 ... 9:05: the name is free at 9:16, in 11 minutes.
    assert int(r.headers["Retry-After"]) == 11 * 60
    frozen.advance(timedelta(minutes=10, seconds=59))
    assert_error(await sign_in(client, "alice", "wrong-password-1"), 429)  # 9:15:59, and counted
    frozen.advance(timedelta(minutes=16))
    assert_error(await sign_in(client, "alice", "wrong-password-1"), 401)


async def test_twenty_failures_from_one_address_lock_that_address_only(
    client: httpx.AsyncClient, other: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(T0)
    await make_user("alice", "teacher")
    for i in range(20):
        assert_error(await sign_in(client, f"guess{i}", "wrong-password-1"), 401)
    body = assert_error(await sign_in(client, "guess-new", "wrong-password-1"), 429)
    assert body["detail"]
    # alice has no failures of her own, but this address is locked for wrong attempts ...
    assert_error(await sign_in(client, "alice", "wrong-password-1"), 429)
    # ... while her right password still gets in from it, and another address is unaffected.
    assert (await sign_in(client, "alice", PASSWORD)).status_code == 200
    assert_error(await sign_in(other, "guess-new", "wrong-password-1"), 401)
    frozen.advance(timedelta(minutes=16))
    assert_error(await sign_in(client, "guess-new-2", "wrong-password-1"), 401)


async def test_the_sign_in_page_is_throttled_too(running: Any, frozen: Clock) -> None:
    frozen.set(T0)
    await make_user("alice", "teacher")
    async with client_from(running, "192.0.2.7") as c:
        page = PageSession(c)
        await page.get("/login")
        for _ in range(5):
            r = await page.post("/login", {"username": "alice", "password": "wrong-password-1", "next": "/"})
            assert r.status_code == 401
        r = await page.post("/login", {"username": "alice", "password": "wrong-password-1", "next": "/"})
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) > 0
        assert 'role="alert"' in r.text and "<form" in r.text
        # The page and the API share the counter: the token endpoint refuses the name as well.
        assert_error(await sign_in(c, "alice", "wrong-password-1"), 429)
        r = await page.post("/login", {"username": "alice", "password": PASSWORD, "next": "/account"})
        assert r.status_code == 303 and r.headers["location"] == "/account"


async def test_unconfirmed_account_with_right_password_is_not_a_failure(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(T0)
    user_id = await make_user("carol", "teacher")
    from accounts.tables import User

    await User.update({User.must_confirm_email: True}).where(User.id == user_id)
    for _ in range(7):
        assert_error(await sign_in(client, "carol", PASSWORD), 401)
    assert await SignInFailure.count() == 0


async def test_old_failures_are_deleted(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(T0)
    await fail(client, "alice", 3)
    assert await SignInFailure.count() == 6  # one row for the name, one for the address, each time
    frozen.advance(timedelta(minutes=20))
    await fail(client, "bob", 1)
    assert await SignInFailure.count() == 2
    gates = await StoreEntry.count().where(StoreEntry.namespace == throttle.GATE_NAMESPACE)
    assert gates == 2  # the two of bob's attempt; alice's expired gates went with the old rows


async def test_while_locked_every_attempt_waits_and_the_right_one_still_gets_in(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "LIMITS", throttle.Limits(locked_delay=0.4))
    await make_user("alice", "teacher")
    start = time.monotonic()
    await fail(client, "alice", 5)
    assert time.monotonic() - start < 2.0  # not locked yet: no waiting
    start = time.monotonic()
    assert_error(await sign_in(client, "alice", "wrong-password-1"), 429)
    assert time.monotonic() - start >= 0.4
    start = time.monotonic()
    assert (await sign_in(client, "alice", PASSWORD)).status_code == 200
    assert time.monotonic() - start >= 0.4


async def test_simultaneous_failures_are_counted_exactly(client: httpx.AsyncClient) -> None:
    await make_user("alice", "teacher")
    replies = await asyncio.gather(*(sign_in(client, "alice", f"wrong-{i}-password") for i in range(12)))
    codes = sorted(r.status_code for r in replies)
    assert codes == [401] * 5 + [429] * 7, codes
    key = throttle.account_key("alice")
    assert await SignInFailure.count().where(SignInFailure.key == key) == 12


def test_simultaneous_failures_across_server_processes(database_url: str, tmp_path: Path) -> None:
    """Real `kepu serve` processes (two on PostgreSQL) sharing the database count every failure."""
    with running_servers(database_url, server_count(), tmp_path / "servers") as servers:
        codes = _burst_against(servers, database_url)
    assert codes == [401] * 5 + [429] * 9, codes


def _burst_against(kepu_servers: list[Server], database_url: str) -> list[int]:
    done = run_kepu(
        database_url,
        "user", "add", "dora", "--password", PASSWORD, "--role", "teacher",
        "--school", "厦门市第一中学", "--district", "思明区",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as http:
            replies = await asyncio.gather(
                *(
                    http.post(
                        f"{kepu_servers[i % len(kepu_servers)].url}{TOKEN_URL}",
                        data={"username": "dora", "password": f"wrong-{i}-password"},
                    )
                    for i in range(14)
                )
            )
            right = await http.post(
                f"{kepu_servers[0].url}{TOKEN_URL}", data={"username": "dora", "password": PASSWORD}
            )
            assert right.status_code == 200, right.text
            return sorted(r.status_code for r in replies)

    return asyncio.run(burst())
