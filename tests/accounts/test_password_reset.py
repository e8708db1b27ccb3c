"""Password reset by e-mail: the same answer for any address, a hashed single-use link that expires
in an hour, the password rules, and every session and API token of the account ended."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
import pytest

from accounts import services
from accounts.tables import AccessToken, AccountToken, User
from core import clock
from messaging.tables import Outbox
from tests.conftest import Clock
from tests.helpers import PASSWORD, make_user, token
from tests.pages.browser_session import PageSession

EMAIL = "chen.zhiqiang@example.edu.cn"
NEW_PASSWORD = "gulangyu-qin-88"


@pytest.fixture(autouse=True)
def in_english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")


async def teacher_with_email(email: str = EMAIL, *, confirmed: bool = True) -> int:
    user_id = await make_user("chen", "teacher")
    await User.update(
        {
            User.email: email,
            User.phone: "13912345678",
            User.email_verified_at: clock.now() if confirmed else None,
            User.must_confirm_email: not confirmed,
        }
    ).where(User.id == user_id)
    return user_id


async def ask(client: httpx.AsyncClient, email: str) -> httpx.Response:
    s = PageSession(client)
    await s.get("/password/forgot")
    return await s.post("/password/forgot", {"email": email})


async def reset_mails() -> list[dict[str, object]]:
    return list(await Outbox.select().where(Outbox.kind == "reset_password").order_by(Outbox.id))


def reset_path(body: object) -> str:
    m = re.search(r"https?://\S+(/password/reset/[A-Za-z0-9_\-]+)", str(body))
    assert m, body
    return m.group(1)


async def test_same_answer_for_known_and_unknown_addresses(client: httpx.AsyncClient) -> None:
    await teacher_with_email()
    known = await ask(client, EMAIL.upper())
    unknown = await ask(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"] == "/password/forgot/sent"
    a = await client.get(known.headers["location"])
    b = await client.get(unknown.headers["location"])
    assert a.text == b.text and "If an account has this e-mail address" in a.text
    [mail] = await reset_mails()
    assert mail["recipient"] == EMAIL
    empty = await ask(client, "")
    assert empty.status_code == 400 and 'id="e-email"' in empty.text


async def test_reset_end_to_end_ends_every_session(client: httpx.AsyncClient) -> None:
    user_id = await teacher_with_email()
    # Signed in on a phone and through the API before the reset.
    phone = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await phone.sign_in("chen", PASSWORD)
    assert (await phone.get("/account")).status_code == 200
    headers = await token(client, "chen")
    assert (await client.get("/api/v1/bookings", headers=headers)).status_code == 200

    await ask(client, EMAIL)
    [mail] = await reset_mails()
    path = reset_path(mail["body"])
    secret = path.rsplit("/", 1)[1]
    assert secret not in str(mail["masked_body"]) and "/password/reset/" not in str(mail["masked_body"])
    assert not await AccountToken.exists().where(AccountToken.token_hash == secret)

    s = PageSession(client)
    page = await s.get(path)
    assert page.status_code == 200 and 'type="password"' in page.text
    # The rules apply, each named.
    r = await s.post(path, {"password": "short", "password_again": "short"})
    assert r.status_code == 400 and "10" in r.text
    r = await s.post(path, {"password": "12345678901234", "password_again": "12345678901234"})
    assert r.status_code == 400 and "digits" in r.text
    r = await s.post(path, {"password": "my13912345678", "password_again": "my13912345678"})
    assert r.status_code == 400 and "phone" in r.text
    r = await s.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD + "x"})
    assert r.status_code == 400 and "differ" in r.text
    r = await s.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "signed out everywhere" in (await s.get("/login")).text

    assert await services.authenticate("chen", PASSWORD) is None
    assert await services.authenticate(EMAIL, NEW_PASSWORD) == user_id
    # The phone's session and the API token are gone.
    r = await phone.client.get("/account")
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")
    assert (await client.get("/api/v1/bookings", headers=headers)).status_code == 401
    assert not await AccessToken.exists().where(AccessToken.user == user_id)
    # The link worked once.
    assert (await s.get(path)).status_code == 400
    r = await s.post(path, {"password": "another-one-77", "password_again": "another-one-77"})
    assert r.status_code == 400
    assert await services.authenticate(EMAIL, NEW_PASSWORD) == user_id


async def test_link_expires_after_an_hour(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(clock.now())
    await teacher_with_email()
    await ask(client, EMAIL)
    path = reset_path((await reset_mails())[0]["body"])
    frozen.advance(timedelta(minutes=61))
    s = PageSession(client)
    page = await s.get(path)
    assert page.status_code == 400 and "/password/forgot" in page.text
    r = await s.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert r.status_code == 400
    assert await services.authenticate("chen", PASSWORD) is not None


async def test_a_newer_reset_spends_the_older_links(client: httpx.AsyncClient) -> None:
    await teacher_with_email()
    await ask(client, EMAIL)
    await ask(client, EMAIL)
    first, second = (reset_path(m["body"]) for m in await reset_mails())
    s = PageSession(client)
    await s.get(second)
    assert (
        await s.post(second, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    ).status_code == 303
    assert (await s.get(first)).status_code == 400


async def test_unknown_and_malformed_tokens_are_refused(client: httpx.AsyncClient) -> None:
    await teacher_with_email()
    s = PageSession(client)
    for path in ("/password/reset/nope", "/password/reset/" + "x" * 300, "/verify/nope"):
        page = await s.get(path)
        assert page.status_code == 400, path
        assert (
            await s.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
        ).status_code == 400


async def test_reset_confirms_an_unconfirmed_address(client: httpx.AsyncClient) -> None:
    await teacher_with_email(confirmed=False)
    assert await services.authenticate("chen", PASSWORD) is None
    await ask(client, EMAIL)
    path = reset_path((await reset_mails())[0]["body"])
    s = PageSession(client)
    await s.get(path)
    await s.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert await services.authenticate("chen", NEW_PASSWORD) is not None


async def test_inactive_accounts_get_no_link(client: httpx.AsyncClient) -> None:
    user_id = await teacher_with_email()
    await User.update({User.is_active: False}).where(User.id == user_id)
    r = await ask(client, EMAIL)
    assert r.headers["location"] == "/password/forgot/sent"
    assert await reset_mails() == []


async def test_reset_rate_is_limited(client: httpx.AsyncClient) -> None:
    await teacher_with_email()
    for _ in range(6):
        await ask(client, EMAIL)
    assert len(await reset_mails()) == 3


async def test_one_link_used_twice_at_once_changes_the_password_once(client: httpx.AsyncClient) -> None:
    await teacher_with_email()
    await ask(client, EMAIL)
    path = reset_path((await reset_mails())[0]["body"])
    clients = [httpx.AsyncClient(transport=client._transport, base_url="http://testserver") for _ in range(2)]
    pages = [PageSession(c) for c in clients]
    for p in pages:
        await p.get(path)
    passwords = ["first-choice-11", "second-choice-22"]
    results = await asyncio.gather(
        *(
            p.post(path, {"password": pw, "password_again": pw})
            for p, pw in zip(pages, passwords, strict=True)
        )
    )
    assert sorted(r.status_code for r in results) == [303, 400]
    winner = passwords[[r.status_code for r in results].index(303)]
    loser = passwords[[r.status_code for r in results].index(400)]
    assert await services.authenticate(EMAIL, winner) is not None
    assert await services.authenticate(EMAIL, loser) is None
    for c in clients:
        await c.aclose()
