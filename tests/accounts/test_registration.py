"""Teacher self-registration: every rule of the form, e-mail confirmation before sign-in (once, 48 h),
no account enumeration, the privacy notice, the account page."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import registration, services
from accounts.tables import AccountToken, School, User
from core import clock
from messaging.tables import Outbox
from tests.conftest import Clock
from tests.helpers import PASSWORD, make_user, token
from tests.pages.browser_session import PageSession

GOOD_PASSWORD = "haixi-kexue-2026"


@pytest.fixture(autouse=True)
def in_english(client: httpx.AsyncClient) -> None:
    """Messages are checked in English, the catalogue's ids (the Chinese ones arrive with the catalogue)."""
    client.cookies.set("lang", "en")


async def a_school(name: str = "厦门实验小学", district: str = "思明区", stage: str = "primary") -> int:
    rows = await School.insert(
        School(name=name, district=district, stage=stage, created_at=clock.now())
    ).returning(School.id)
    return int(rows[0]["id"])


def form(school: int, **changes: Any) -> dict[str, Any]:
    values = {
        "name": "林雅婷",
        "phone": "13812345678",
        "email": "lin.yating@example.edu.cn",
        "school_id": str(school),
        "password": GOOD_PASSWORD,
        "password_again": GOOD_PASSWORD,
        "consent": "on",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


async def register(client: httpx.AsyncClient, data: dict[str, Any]) -> httpx.Response:
    s = PageSession(client)
    await s.get("/register")
    return await s.post("/register", data)


async def mails(kind: str | None = None) -> list[dict[str, Any]]:
    query = Outbox.select().order_by(Outbox.id)
    if kind:
        query = query.where(Outbox.kind == kind)
    return list(await query)


def link_in(body: str, prefix: str) -> str:
    m = re.search(rf"https?://\S+({re.escape(prefix)}[A-Za-z0-9_\-]+)", body)
    assert m, body
    return m.group(1)


@pytest.mark.parametrize(
    ("changes", "field", "needle"),
    [
        ({"password": "short-1", "password_again": "short-1"}, "password", "10"),
        ({"password": "1234567890123", "password_again": "1234567890123"}, "password", "digits"),
        ({"password": "x13812345678y", "password_again": "x13812345678y"}, "password", "phone"),
        (
            {"password": "lin.yating@example.edu.cn", "password_again": "lin.yating@example.edu.cn"},
            "password",
            "e-mail",
        ),
        ({"password_again": "haixi-kexue-2027"}, "password_again", "differ"),
        ({"phone": "12812345678"}, "phone", "mobile"),
        ({"phone": "1381234567"}, "phone", "mobile"),
        ({"phone": ""}, "phone", "mobile"),
        ({"email": "not-an-address"}, "email", "e-mail"),
        ({"email": ""}, "email", "e-mail"),
        ({"email": "a" * 140 + "@example.com"}, "email", "e-mail"),
        ({"name": ""}, "name", "name"),
        ({"name": "长" * 101}, "name", "100"),
        ({"school_id": ""}, "school_id", "school"),
        ({"school_id": "abc"}, "school_id", "school"),
        ({"school_id": "999999"}, "school_id", "school"),
        ({"consent": None}, "consent", "privacy"),
    ],
)
async def test_each_rule_is_named(
    client: httpx.AsyncClient, changes: dict[str, Any], field: str, needle: str
) -> None:
    school_id = await a_school()
    r = await register(client, form(school_id, **changes))
    assert r.status_code == 400, r.text[:300]
    m = re.search(rf'id="e-{field}">([^<]+)<', r.text)
    assert m, r.text
    assert needle in m.group(1), m.group(1)
    assert await User.count() == 0
    assert await Outbox.count() == 0
    # What was typed comes back (but never the password).
    if field != "name":
        assert "林雅婷" in r.text
    assert GOOD_PASSWORD not in r.text


def test_password_rules_in_english_too() -> None:
    from core.i18n import language

    with language("en"):
        assert "10" in (registration.password_problem("short") or "")
        assert "digits" in (registration.password_problem("12345678901") or "")
        assert "phone" in (registration.password_problem("a13812345678", phone="138 1234 5678") or "")
        assert "e-mail" in (registration.password_problem("Me@School.cn", email="me@school.cn") or "")
        assert registration.password_problem("a-good-passphrase", phone="13812345678", email="x@y.cn") is None


async def test_register_confirm_sign_in(client: httpx.AsyncClient) -> None:
    school_id = await a_school()
    r = await register(client, form(school_id, phone="+86 138-1234-5678", email="Lin.Yating@Example.edu.cn"))
    assert r.status_code == 303 and r.headers["location"] == "/register/sent"
    user = await User.select().first()
    assert user is not None
    assert (user["username"], user["email"], user["phone"], user["role"], user["school"]) == (
        "lin.yating@example.edu.cn",
        "lin.yating@example.edu.cn",
        "13812345678",
        "teacher",
        school_id,
    )
    assert user["email_verified_at"] is None and user["must_confirm_email"] is True
    assert user["password_hash"].startswith("$argon2id$")

    # Not confirmed: the right password gets a clear message and a way to a new link, but no session.
    s = PageSession(client)
    await s.get("/login")
    r = await s.post("/login", {"username": "lin.yating@example.edu.cn", "password": GOOD_PASSWORD})
    assert r.status_code == 403
    assert "not confirmed" in r.text and "/verify-resend" in r.text
    r = await client.post(
        "/api/v1/auth/token", data={"username": "lin.yating@example.edu.cn", "password": GOOD_PASSWORD}
    )
    assert r.status_code == 401
    # The wrong password says only that.
    r = await s.post("/login", {"username": "lin.yating@example.edu.cn", "password": "wrong-password-1"})
    assert r.status_code == 401 and "/verify-resend" not in r.text

    [mail] = await mails("verify_email")
    assert mail["recipient"] == "lin.yating@example.edu.cn"
    path = link_in(mail["body"], "/verify/")
    assert path.split("/")[-1] not in mail["masked_body"]
    assert "/verify/" not in mail["masked_body"]
    # Only the token's hash is stored.
    [stored] = await AccountToken.select(AccountToken.token_hash, AccountToken.expires_at)
    assert stored["token_hash"] != path.split("/")[-1] and len(stored["token_hash"]) == 64

    page = await s.get(path)
    assert page.status_code == 200 and 'action="' + path + '"' in page.text
    r = await s.post(path, {})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "is confirmed" in (await s.get("/login")).text
    # A link works once.
    assert (await s.get(path)).status_code == 400
    assert (await s.post(path, {})).status_code == 400

    # Signs in with the e-mail address (any case) or as username; the API works too.
    home = await s.follow(await s.sign_in("LIN.YATING@example.edu.cn", GOOD_PASSWORD))
    assert home.status_code == 200
    account = await s.get("/account")
    assert "林雅婷" in account.text and "13812345678" in account.text and "厦门实验小学" in account.text
    assert "Primary school" in account.text
    await token(client, "lin.yating@example.edu.cn", GOOD_PASSWORD)


async def test_verify_link_expires_after_48_hours(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(clock.now())
    school_id = await a_school()
    assert (await register(client, form(school_id))).status_code == 303
    path = link_in((await mails("verify_email"))[0]["body"], "/verify/")
    frozen.advance(timedelta(hours=48, seconds=1))
    s = PageSession(client)
    page = await s.get(path)
    assert page.status_code == 400 and "48" in page.text
    assert (await s.post(path, {})).status_code == 400
    assert (await User.select(User.email_verified_at).first())["email_verified_at"] is None  # type: ignore[index]
    # A new link from the sign-in page works.
    r = await s.post("/verify-resend", {"email": "lin.yating@example.edu.cn"})
    assert r.status_code == 303 and r.headers["location"] == "/register/sent"
    newest = (await mails("verify_email"))[-1]
    new_path = link_in(newest["body"], "/verify/")
    assert new_path != path
    assert (await s.post(new_path, {})).status_code == 303
    await s.sign_in("lin.yating@example.edu.cn", GOOD_PASSWORD)


async def test_taken_address_gets_a_mail_not_a_hint(client: httpx.AsyncClient) -> None:
    school_id = await a_school()
    first = await register(client, form(school_id))
    path = link_in((await mails("verify_email"))[0]["body"], "/verify/")
    s = PageSession(client)
    await s.get(path)
    await s.post(path, {})
    again = await register(
        client, form(school_id, name="冒名者", password="another-pass-99", password_again="another-pass-99")
    )
    # The same answer as for a new address ...
    assert (again.status_code, again.headers["location"]) == (first.status_code, first.headers["location"])
    # ... no second account, and the owner is told by mail.
    assert await User.count() == 1
    [exists] = await mails("account_exists")
    assert exists["recipient"] == "lin.yating@example.edu.cn"
    assert "/password/forgot" in exists["body"]
    assert (await User.select(User.display_name).first())["display_name"] == "林雅婷"  # type: ignore[index]


async def test_unconfirmed_address_registering_again_replaces_the_pending_one(
    client: httpx.AsyncClient,
) -> None:
    first_school = await a_school()
    second_school = await a_school("集美中学", "集美区", "complete")
    await register(
        client, form(first_school, name="冒名者", password="squatter-pw-1", password_again="squatter-pw-1")
    )
    r = await register(client, form(second_school))
    assert r.status_code == 303
    assert await User.count() == 1
    first, second = (link_in(m["body"], "/verify/") for m in await mails("verify_email"))
    # Only the newest link works, and it confirms what was typed last.
    s = PageSession(client)
    assert (await s.post(first, {})).status_code == 400
    assert (await s.post(second, {})).status_code == 303
    user = await User.select(User.display_name, User.school).first()
    assert user == {"display_name": "林雅婷", "school": second_school}
    assert await services.authenticate("lin.yating@example.edu.cn", "squatter-pw-1") is None
    assert await services.authenticate("lin.yating@example.edu.cn", GOOD_PASSWORD) is not None


async def test_console_accounts_count_as_confirmed(client: httpx.AsyncClient) -> None:
    await make_user("teacher1", "teacher")
    # Even with an address set on them later (e.g. for notifications), without any link followed.
    await User.update({User.email: "teacher1@example.edu.cn"}).where(User.username == "teacher1")
    user_id, unconfirmed = await services.check_sign_in("teacher1", PASSWORD)
    assert user_id is not None and not unconfirmed
    s = PageSession(client)
    await s.sign_in("teacher1", PASSWORD)
    page = await s.get("/account")
    assert "teacher1" in page.text


async def test_mails_per_hour_are_limited(client: httpx.AsyncClient) -> None:
    school_id = await a_school()
    await register(client, form(school_id))
    s = PageSession(client)
    for _ in range(5):
        r = await s.post("/verify-resend", {"email": "lin.yating@example.edu.cn"})
        assert r.status_code == 303 and r.headers["location"] == "/register/sent"
    assert len(await mails("verify_email")) == registration.MAILS_PER_HOUR


async def test_resend_for_unknown_address_looks_the_same(client: httpx.AsyncClient) -> None:
    s = PageSession(client)
    r = await s.post("/verify-resend", {"email": "nobody@example.com"})
    assert r.status_code == 303 and r.headers["location"] == "/register/sent"
    assert await Outbox.count() == 0


async def test_school_choice_without_javascript(client: httpx.AsyncClient) -> None:
    await a_school("厦门实验小学", "思明区", "primary")
    await a_school("集美中学", "集美区", "complete")
    page = await client.get("/register")
    assert page.status_code == 200
    assert "厦门实验小学" in page.text and "集美中学" in page.text and "<optgroup" in page.text
    page = await client.get("/register", params={"district": "集美区"})
    assert "集美中学" in page.text and "厦门实验小学" not in page.text
    page = await client.get("/register", params={"q": "实验"})
    assert "厦门实验小学" in page.text and "集美中学" not in page.text
    page = await client.get("/register", params={"district": "火星区"})  # ignored, not an error
    assert page.status_code == 200 and "集美中学" in page.text


async def test_public_pages_and_login_links(client: httpx.AsyncClient) -> None:
    login = await client.get("/login")
    assert 'href="/register"' in login.text and 'href="/password/forgot"' in login.text
    for url in ("/register", "/privacy", "/password/forgot", "/register/sent", "/password/forgot/sent"):
        assert (await client.get(url)).status_code == 200, url
    privacy = await client.get("/privacy")
    assert "Privacy notice" in privacy.text and "names" in privacy.text
    r = await client.get("/account")
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")


async def test_change_password_needs_the_current_one(client: httpx.AsyncClient) -> None:
    await make_user("teacher1", "teacher")
    s = PageSession(client)
    await s.sign_in("teacher1", PASSWORD)
    await s.get("/account")
    r = await s.post(
        "/account/password",
        {"current_password": "wrong", "new_password": GOOD_PASSWORD, "new_password_again": GOOD_PASSWORD},
    )
    assert r.status_code == 400 and 'id="e-current_password"' in r.text
    r = await s.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "1234567890", "new_password_again": "1234567890"},
    )
    assert r.status_code == 400 and 'id="e-new_password"' in r.text
    r = await s.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": GOOD_PASSWORD, "new_password_again": GOOD_PASSWORD},
    )
    assert r.status_code == 303
    assert await services.authenticate("teacher1", PASSWORD) is None
    assert await services.authenticate("teacher1", GOOD_PASSWORD) is not None


async def test_signed_in_person_is_sent_home_from_register(client: httpx.AsyncClient) -> None:
    await make_user("teacher1", "teacher")
    s = PageSession(client)
    await s.sign_in("teacher1", PASSWORD)
    r = await s.get("/register")
    assert r.status_code in (302, 303)


async def test_simultaneous_registrations_of_one_address_make_one_account(client: httpx.AsyncClient) -> None:
    school_id = await a_school()
    # Each session needs its own cookies: separate clients on the same app.
    clients = [
        httpx.AsyncClient(transport=client._transport, base_url="http://testserver", cookies={"lang": "en"})
        for _ in range(4)
    ]
    pages = [PageSession(c) for c in clients]
    for p in pages:
        await p.get("/register")
    results = await asyncio.gather(*(p.post("/register", form(school_id)) for p in pages))
    assert [r.status_code for r in results] == [303] * 4
    assert await User.count() == 1
    assert 1 <= len(await mails("verify_email")) <= 4
    for c in clients:
        await c.aclose()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.text(max_size=20), st.text(max_size=30))
def test_password_rules_never_raise(password: str, phone: str, email: str) -> None:
    problem = registration.password_problem(password, phone=phone, email=email)
    if problem is None:
        assert len(password) >= registration.MIN_LENGTH and not password.isdigit()
