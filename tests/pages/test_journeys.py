"""Each person's journey through the pages, as a browser would do it (forms, CSRF, redirects)."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from bookings.tables import Booking
from core import clock
from tests.conftest import Clock
from tests.helpers import PASSWORD, in_days, make_user
from tests.pages.browser_session import PageSession


async def test_anonymous_is_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    r = await client.get("/bookings")
    assert r.status_code in (302, 303)
    assert r.headers["location"].startswith("/login?next=%2Fbookings")
    page = await client.get("/login")
    assert page.status_code == 200
    assert "登录" in page.text  # Chinese by default


async def test_wrong_password_is_told_in_chinese(client: httpx.AsyncClient) -> None:
    await make_user("teacher1", "teacher")
    s = PageSession(client)
    await s.get("/login")
    r = await s.post("/login", {"username": "teacher1", "password": "nope", "next": "/"})
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text


async def test_form_without_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await make_user("teacher1", "teacher")
    await client.get("/login")
    r = await client.post("/login", data={"username": "teacher1", "password": PASSWORD})
    assert r.status_code == 403


async def test_auditor_registers_venue_creates_staff_and_sees_year(client: httpx.AsyncClient) -> None:
    await make_user("auditor", "auditor")
    s = PageSession(client)
    home = await s.follow(await s.sign_in("auditor", PASSWORD))
    assert home.status_code == 200
    assert "年度" in home.text
    await s.get("/audit/venues")
    r = await s.post("/audit/venues", {"name": "", "kind": "museum", "district": "思明区"})
    assert r.status_code == 400
    assert "请填写" in r.text
    r = await s.post(
        "/audit/venues",
        {"name": "华侨博物院", "kind": "museum", "district": "思明区", "address": "思明南路493号"},
    )
    venue_page = await s.follow(r)
    assert "华侨博物院" in venue_page.text
    venue_id = int(re.search(r"/audit/venues/(\d+)", str(r.headers["location"])).group(1))  # type: ignore[union-attr]
    r = await s.post(
        f"/audit/venues/{venue_id}/staff", {"username": "hq_staff", "password": "short", "role": "door"}
    )
    assert r.status_code == 400
    assert "8" in r.text
    r = await s.post(
        f"/audit/venues/{venue_id}/staff",
        {"username": "hq_staff", "password": "door-pass-123", "display_name": "王老师", "role": "door"},
    )
    page = await s.follow(r)
    assert "hq_staff" in page.text
    year = await s.get("/audit")
    assert "华侨博物院" in year.text
    csv = await s.get(f"/audit/report.csv?year={clock.today().year}")
    assert csv.content.startswith(b"\xef\xbb\xbf")
    assert "华侨博物院" in csv.content.decode("utf-8-sig")
    # The new staff member can sign in.
    staff = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await staff.sign_in("hq_staff", "door-pass-123")


async def test_teacher_books_gets_pass_and_cancels_staff_checks_in(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(in_days(0, 8, 0) - timedelta(days=3))
    await make_user("auditor", "auditor")
    a = PageSession(client)
    await a.sign_in("auditor", PASSWORD)
    r = await a.post("/audit/venues", {"name": "厦门科技馆", "kind": "science_museum", "district": "思明区"})
    venue_id = int(str(r.headers["location"]).rsplit("/", 1)[1])
    await make_user("staff1", "staff", venue_id=venue_id)
    await make_user("teacher1", "teacher", school="厦门实验小学")

    # Staff publish a slot three days ahead.
    staff = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await staff.follow(await staff.sign_in("staff1", PASSWORD))
    slot_day = in_days(3)
    r = await staff.post(
        f"/venues/{venue_id}/slots/new",
        {
            "date": slot_day.date().isoformat(),
            "start": "09:30",
            "end": "11:00",
            "capacity": "60",
            "title": "海洋探秘",
        },
    )
    dashboard = await staff.follow(r)
    assert "海洋探秘" in dashboard.text

    # The teacher finds it and books.
    t = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    venues_page = await t.follow(await t.sign_in("teacher1", PASSWORD))
    assert "厦门科技馆" in venues_page.text
    detail = await t.get(f"/venues/{venue_id}")
    slot_id = int(re.search(r"/slots/(\d+)/book", detail.text).group(1))  # type: ignore[union-attr]
    assert "剩余 60 个名额" in detail.text
    r = await t.post(f"/slots/{slot_id}/book", {"students": "70", "chaperones": "3", "grade": "四年级"})
    assert r.status_code == 409
    assert "名额" in r.text
    r = await t.post(f"/slots/{slot_id}/book", {"students": "-1", "chaperones": "3"})
    assert r.status_code == 400
    r = await t.post(
        f"/slots/{slot_id}/book",
        {"students": "40", "chaperones": "3", "grade": "四年级", "class_name": "2班"},
    )
    pass_page = await t.follow(r)
    booking_id = int(str(r.headers["location"]).rsplit("/", 1)[1])
    assert "<svg" in pass_page.text
    code = re.search(r'data-testid="pass-code">([a-z0-9-]+)<', pass_page.text).group(1)  # type: ignore[union-attr]
    ics = await t.get(f"/bookings/{booking_id}/calendar.ics")
    assert ics.headers["content-type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in ics.content
    png = await t.get(f"/bookings/{booking_id}/qr.png")
    assert png.content.startswith(b"\x89PNG")

    # Staff see who booked, and on the day admit part of the class by typing the code.
    slot_page = await staff.get(f"/slots/{slot_id}")
    assert "厦门实验小学" in slot_page.text
    frozen.set(slot_day - timedelta(minutes=10))
    # Three days later the page sessions have timed out (idle timeout): sign in again.
    assert (await staff.get("/staff/checkin")).status_code == 302
    await staff.sign_in("staff1", PASSWORD)
    await staff.get("/staff/checkin")
    r = await staff.post("/staff/checkin", {"token": code.upper(), "students": "35", "chaperones": "3"})
    assert r.status_code == 200, r.text[:800]
    assert 'data-result="admitted"' in r.text
    r = await staff.post("/staff/checkin", {"token": code, "students": "5", "chaperones": "0"})
    assert 'data-result="admitted"' in r.text
    r = await staff.post("/staff/checkin", {"token": code})
    assert 'data-result="already_checked_in"' in r.text
    row = await Booking.select(Booking.admitted_students, Booking.admitted_chaperones).first()
    assert row == {"admitted_students": 40, "admitted_chaperones": 3}

    # A second booking is cancelled by the teacher; its places return.
    frozen.set(slot_day - timedelta(days=1))
    await t.sign_in("teacher1", PASSWORD)
    r = await t.post(f"/slots/{slot_id}/book", {"students": "10", "chaperones": "1"})
    second = int(str(r.headers["location"]).rsplit("/", 1)[1])
    r = await t.post(f"/bookings/{second}/cancel")
    page = await t.follow(r)
    assert "已取消" in page.text
    detail = await t.get(f"/venues/{venue_id}")
    assert "剩余 17 个名额" in detail.text


async def test_other_teachers_booking_is_not_found(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(in_days(0, 8, 0))
    await make_user("auditor", "auditor")
    from venues import services as venues
    from venues.schemas import SlotForm, VenueForm

    auditor = await _actor("auditor")
    venue = await venues.create_venue(auditor, VenueForm(name="馆", kind="museum", district="湖里区"))
    slot = await venues.create_slot(
        auditor,
        venue.id,
        SlotForm(starts_at=in_days(2), ends_at=in_days(2) + timedelta(hours=1), capacity=50),
    )
    await make_user("t1", "teacher")
    await make_user("t2", "teacher")
    from bookings import services as bookings
    from bookings.schemas import BookingForm

    b = await bookings.create_booking(
        await _actor("t1"), BookingForm(slot_id=slot.id, students=5, chaperones=1)
    )
    s = PageSession(client)
    await s.sign_in("t2", PASSWORD)
    r = await s.get(f"/bookings/{b.id}")
    assert r.status_code == 404
    r = await s.post(f"/bookings/{b.id}/cancel")
    assert r.status_code == 404


async def _actor(username: str):  # type: ignore[no-untyped-def]
    from accounts import services as accounts
    from kepu.auth import load_actor

    user = await accounts.get_user_by_username(username)
    assert user is not None
    actor = await load_actor(user.id)
    assert actor is not None
    return actor


async def test_sign_in_gives_a_new_session_id_and_sign_out_ends_it(client: httpx.AsyncClient) -> None:
    await make_user("teacher1", "teacher")
    s = PageSession(client)
    await s.get("/login")
    client.cookies.set("kepu_session", "a" * 64, domain="testserver.local")  # planted before sign-in
    await s.sign_in("teacher1", PASSWORD)
    ids = {c.value for c in client.cookies.jar if c.name == "kepu_session"}
    assert len(ids) == 1
    session_id = ids.pop()
    assert session_id != "a" * 64
    assert (await s.get("/bookings")).status_code == 200
    r = await s.post("/logout")
    assert r.status_code == 303
    # The old id no longer works, even if replayed.
    client.cookies.set("kepu_session", session_id, domain="testserver.local")
    assert (await client.get("/bookings")).status_code == 302
