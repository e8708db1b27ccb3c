"""A teacher's own data (issue 8, PIPL): download it, and delete the account (anonymised, visits kept)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx

from accounts.tables import AccessToken, StoreEntry, User
from bookings.tables import Booking
from tests.api_support import assert_error, refresh_tokens, report_row
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession

T0 = datetime(2026, 3, 2, 8, 0)


async def world_with_bookings(client: httpx.AsyncClient) -> tuple[World, dict[str, Any]]:
    """teacher_a: two bookings (one with a lead teacher); teacher_a2 (same school) and teacher_b one each."""
    w = await World(client).build()
    slot = await w.slot(capacity=400, days=3)
    other = await w.slot(capacity=400, days=4, venue="b")
    mine = await w.book(
        slot["id"],
        28,
        3,
        lead_teacher_name="王老师",
        lead_teacher_phone="13800000001",
        class_name="三年级2班",
    )
    mine2 = await w.book(other["id"], 20, 2)
    theirs = await w.book(slot["id"], 30, 2, who="teacher_a2", lead_teacher_name="陈老师")
    far = await w.book(other["id"], 25, 2, who="teacher_b")
    for r in (mine, mine2, theirs, far):
        assert r.status_code == 201, r.text
    return w, {
        "slot": slot,
        "mine": [mine.json(), mine2.json()],
        "theirs": theirs.json(),
        "far": far.json(),
    }


async def page_for(client: httpx.AsyncClient, username: str) -> PageSession:
    page = PageSession(client)
    await page.sign_in(username, PASSWORD)
    return page


async def test_download_holds_the_account_and_only_its_own_bookings(client: httpx.AsyncClient) -> None:
    _, b = await world_with_bookings(client)
    page = await page_for(client, "teacher_a")
    account = await page.get("/account")
    assert "/account/data" in account.text and "/account/delete" in account.text
    r = await page.get("/account/data")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "no-store" in r.headers.get("cache-control", "")
    data = json.loads(r.content)
    assert data["account"]["username"] == "teacher_a"
    assert data["account"]["role"] == "teacher"
    assert data["school"]["name"] == "厦门市第一中学"
    assert sorted(x["id"] for x in data["bookings"]) == sorted(x["id"] for x in b["mine"])
    first = next(x for x in data["bookings"] if x["id"] == b["mine"][0]["id"])
    assert (first["students"], first["chaperones"]) == (28, 3)
    assert first["lead_teacher_name"] == "王老师" and first["class_name"] == "三年级2班"
    assert first["venue"] == "厦门科技馆" and first["starts_at"].endswith("+08:00")
    assert isinstance(data["feedback"], list) and isinstance(data["waitlist"], list)
    text = r.content.decode()
    for foreign in ("teacher_a2", "teacher_b", "陈老师", b["theirs"]["code"], b["far"]["code"]):
        assert foreign not in text
    assert "password" not in text and "argon2" not in text
    # Only for the signed-in person.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as anonymous:
        r = await anonymous.get("/account/data")
        assert r.status_code in (302, 303)


async def test_delete_is_refused_while_visits_are_upcoming(client: httpx.AsyncClient) -> None:
    w, b = await world_with_bookings(client)
    page = await page_for(client, "teacher_a")
    r = await page.post("/account/delete", {"delete_password": PASSWORD})
    assert r.status_code == 409
    assert 'role="alert"' in r.text and "/account/delete" in r.text
    row = await User.select(User.is_active, User.username).where(User.username == "teacher_a").first()
    assert row is not None and row["is_active"]
    # Cancelling one still leaves the other.
    assert (await w.post("teacher_a", f"/api/v1/bookings/{b['mine'][0]['id']}/cancel")).status_code == 200
    assert (await page.post("/account/delete", {"delete_password": PASSWORD})).status_code == 409
    assert (await w.post("teacher_a", f"/api/v1/bookings/{b['mine'][1]['id']}/cancel")).status_code == 200
    r = await page.post("/account/delete", {"delete_password": PASSWORD})
    assert r.status_code == 303, r.text[:300]


async def test_delete_needs_the_password(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    page = await page_for(client, "teacher_a")
    r = await page.post("/account/delete", {"delete_password": "not-my-password"})
    assert r.status_code == 400 and 'id="e-delete_password"' in r.text
    assert await User.exists().where((User.username == "teacher_a") & (User.is_active.eq(True)))
    assert (await w.get("teacher_a", "/api/v1/bookings")).status_code == 200


async def test_staff_cannot_delete_themselves(client: httpx.AsyncClient) -> None:
    await World(client).build()
    page = await page_for(client, "staff_a")
    assert "/account/delete" not in (await page.get("/account")).text
    r = await page.post("/account/delete", {"delete_password": PASSWORD})
    assert r.status_code == 409
    assert await User.exists().where((User.username == "staff_a") & (User.is_active.eq(True)))


async def test_delete_anonymises_keeps_the_visits_and_ends_every_sign_in(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(T0)
    w, b = await world_with_bookings(client)
    user_id = (await User.select(User.id).where(User.username == "teacher_a").first() or {})["id"]
    frozen.advance(timedelta(days=6))  # both visits are over
    await refresh_tokens(w)
    year = T0.year
    before_a = await report_row(w, year, w.venue_a)
    before_b = await report_row(w, year, w.venue_b)
    other_browser = await page_for(
        httpx.AsyncClient(transport=client._transport, base_url="http://testserver"), "teacher_a"
    )
    api_token = w.h["teacher_a"]
    page = await page_for(client, "teacher_a")
    r = await page.post("/account/delete", {"delete_password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    login = await page.get("/login")
    assert 'class="flash flash-success" role="status"' in login.text

    row = await User.select().where(User.id == user_id).first()
    assert row is not None
    assert row["display_name"] == "已删除的用户"
    assert row["username"].startswith("deleted-") and "teacher_a" not in row["username"]
    assert row["email"] == "" and row["phone"] == ""
    assert row["is_active"] is False
    assert row["school"] is not None  # the school is not a person
    # The visits stay for the statistics, without the lead teacher's name and phone.
    kept = await Booking.select().where(Booking.teacher == user_id).order_by(Booking.id)
    assert [k["id"] for k in kept] == sorted(x["id"] for x in b["mine"])
    assert [(k["students"], k["chaperones"]) for k in kept] == [(28, 3), (20, 2)]
    assert all(k["lead_teacher_name"] == "" and k["lead_teacher_phone"] == "" for k in kept)
    assert await Booking.exists().where(Booking.lead_teacher_name == "陈老师")  # others untouched
    assert await report_row(w, year, w.venue_a) == before_a
    assert await report_row(w, year, w.venue_b) == before_b

    # Signed out everywhere: tokens and sessions are gone; the old name and password lead nowhere.
    assert await AccessToken.count().where(AccessToken.user == user_id) == 0
    for entry in await StoreEntry.select(StoreEntry.value).where(StoreEntry.namespace == "session"):
        assert json.loads(bytes(entry["value"])).get("user_id") != user_id
    assert_error(await client.get("/api/v1/bookings", headers=api_token), 401)
    r = await other_browser.get("/account")
    assert r.status_code in (302, 303)
    await other_browser.client.aclose()
    assert_error(
        await client.post("/api/v1/auth/token", data={"username": "teacher_a", "password": PASSWORD}), 401
    )
    again = PageSession(client)
    await again.get("/login")
    r = await again.post("/login", {"username": "teacher_a", "password": PASSWORD, "next": "/"})
    assert r.status_code == 401
    # The other teacher of the school carries on.
    assert (await w.get("teacher_a2", "/api/v1/bookings")).status_code == 200


async def test_privacy_page_explains_download_and_deletion(client: httpx.AsyncClient) -> None:
    r = await client.get("/privacy")
    assert r.status_code == 200
    assert "JSON" in r.text
