"""Pages: the auditor's outbox (masked bodies only), and a teacher's calendar subscription whose feed
follows changes and cancellations and dies when revoked (both engines)."""

from __future__ import annotations

import datetime
import re

import httpx
import icalendar

from messaging.outbox import enqueue
from messaging.tables import CalendarFeed, Outbox
from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World, make_user
from tests.pages.browser_session import PageSession

FEED_RE = re.compile(r'value="(http://testserver/calendar/([A-Za-z0-9_-]+)\.ics)"')


async def test_auditor_sees_the_outbox_with_masked_bodies(client: httpx.AsyncClient) -> None:
    await make_user("auditor", "auditor")
    await make_user("teacher1", "teacher")
    await enqueue(
        kind="reset_password",
        recipient="t@school.example",
        subject="重置您的登录密码",
        body="Open https://kepu.example/reset/SECRET-TOKEN-123 to choose a new password.",
        masked_body="Open https://kepu.example/reset/•••••• to choose a new password.",
    )
    await enqueue(kind="confirmed", recipient="u@school.example", subject="预约成功", body="正文")
    await Outbox.update({Outbox.state: "sent"}).where(Outbox.subject == "预约成功")
    error = "ConnectionRefusedError: [Errno 111]"
    await Outbox.update({Outbox.last_error: error, Outbox.attempts: 2}).where(
        Outbox.subject == "重置您的登录密码"
    )
    s = PageSession(client)
    await s.sign_in("auditor", PASSWORD)
    r = await s.get("/audit/outbox")
    assert r.status_code == 200
    assert "重置您的登录密码" in r.text and "预约成功" in r.text
    assert "SECRET-TOKEN-123" not in r.text
    assert "kepu.example/reset/••••••" in r.text
    assert "Errno 111" in r.text and "t@school.example" in r.text
    assert 'href="/audit/outbox"' in r.text  # in the auditor's menu
    r = await s.get("/audit/outbox?state=sent")
    assert "预约成功" in r.text and "重置您的登录密码" not in r.text
    r = await s.get("/audit/outbox?state=pending")
    assert "预约成功" not in r.text and "重置您的登录密码" in r.text
    r = await s.get("/audit/outbox?state=nonsense&page=abc")
    assert r.status_code == 200 and "预约成功" in r.text

    async with another(client) as other:
        anonymous = await other.get("/audit/outbox")
        assert anonymous.status_code in (302, 303, 401)
        t = PageSession(other)
        await t.sign_in("teacher1", PASSWORD)
        assert (await t.get("/audit/outbox")).status_code == 403


def another(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A second browser (own cookies) on the same app."""
    return httpx.AsyncClient(transport=client._transport, base_url="http://testserver")


def feed_events(data: bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(data)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


async def test_calendar_subscription_follows_changes(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(capacity=80, starts_at=at(10, days=3), ends_at=at(12, days=3))
    keep = (await w.book(slot["id"], 30, 2)).json()
    drop = (await w.book(slot["id"], 20, 2)).json()
    await w.book(slot["id"], 10, 1, who="teacher_b")  # another teacher's visit is not in this feed

    s = PageSession(client)
    await s.sign_in("teacher_a", PASSWORD)
    bookings = await s.get("/bookings")
    assert 'href="/account/calendar"' in bookings.text
    page = await s.get("/account/calendar")
    assert page.status_code == 200 and FEED_RE.search(page.text) is None
    made = await s.post("/account/calendar")
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    found = FEED_RE.search(made.text)
    assert found, made.text
    url, secret = found.group(1), found.group(2)
    assert f'href="webcal://testserver/calendar/{secret}.ics"' in made.text
    # Only a fingerprint is kept, and the address is not shown again.
    stored = await CalendarFeed.select(CalendarFeed.token_hash).first()
    assert stored is not None and secret not in stored["token_hash"]
    assert secret not in (await s.get("/account/calendar")).text

    feed = await client.get(url.removeprefix("http://testserver"))
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    events = feed_events(feed.content)
    assert set(events) == {f"booking-{keep['id']}@kepu", f"booking-{drop['id']}@kepu"}
    before = events[f"booking-{drop['id']}@kepu"]
    assert str(before["STATUS"]) == "CONFIRMED" and len(before.walk("VALARM")) == 1
    assert before.start == at(10, days=3)
    assert "X-WR-CALNAME" in icalendar.Calendar.from_ical(feed.content)

    frozen.advance(datetime.timedelta(minutes=3))
    assert (await w.post("teacher_a", f"/api/v1/bookings/{drop['id']}/cancel")).status_code == 200
    after = feed_events((await client.get(f"/calendar/{secret}.ics")).content)
    cancelled = after[f"booking-{drop['id']}@kepu"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled.sequence > before.sequence
    assert cancelled.walk("VALARM") == []
    kept = after[f"booking-{keep['id']}@kepu"]
    assert kept.sequence == events[f"booking-{keep['id']}@kepu"].sequence  # unchanged visit, same SEQUENCE

    # A new address switches the old one off; revoking switches it off too.
    again = FEED_RE.search((await s.post("/account/calendar")).text)
    assert again and again.group(2) != secret
    assert (await client.get(f"/calendar/{secret}.ics")).status_code == 404
    assert (await client.get(f"/calendar/{again.group(2)}.ics")).status_code == 200
    r = await s.post("/account/calendar/revoke")
    assert r.status_code == 303
    assert (await client.get(f"/calendar/{again.group(2)}.ics")).status_code == 404
    assert await CalendarFeed.count() == 0
    for bad in ("nothing", "x.ics", "a" * 300 + ".ics", "%00.ics", f"{secret}.ICS"):
        assert (await client.get(f"/calendar/{bad}")).status_code == 404, bad


async def test_only_teachers_manage_a_subscription(client: httpx.AsyncClient) -> None:
    await make_user("auditor", "auditor")
    s = PageSession(client)
    await s.sign_in("auditor", PASSWORD)
    assert (await s.get("/account/calendar")).status_code == 403
    assert (await s.post("/account/calendar")).status_code == 403
