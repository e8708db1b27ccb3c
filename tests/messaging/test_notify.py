"""Every booking event queues exactly one e-mail to the teacher, in the same transaction as the change,
with the visit's .ics attached; SEQUENCE rises with each change (both engines)."""

from __future__ import annotations

import datetime

import httpx
import icalendar
import pytest

from bookings.tables import Booking
from core import clock, i18n
from messaging import notify
from messaging.outbox import Attachment, enqueue
from messaging.tables import Outbox
from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import World
from tests.messaging.support import give_email, only_event, outbox

TEACHER = "teacher.a@school.example"


def event_of(row: dict[str, object]) -> icalendar.Event:
    assert row["attachment_name"] == f"kepu-booking-{row['booking_id']}.ics"
    assert str(row["attachment_type"]).startswith("text/calendar")
    data = row["attachment"]
    assert isinstance(data, bytes | bytearray | memoryview)
    return only_event(icalendar.Calendar.from_ical(bytes(data)))


def subject(msgid: str, **params: object) -> str:
    with i18n.language("zh_CN"):
        return i18n.gettext(msgid) % params


async def world(client: httpx.AsyncClient, frozen: Clock) -> World:
    frozen.set(at(8))
    w = await World(client).build()
    await give_email("teacher_a", TEACHER)
    r = await w.client.patch(
        f"/api/v1/venues/{w.venue_b}", json={"approval_mode": "request"}, headers=w.h["staff_b"]
    )
    assert r.status_code == 200, r.text
    return w


async def test_book_change_cancel_each_queue_one_message(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen)
    slot = await w.slot(capacity=80, starts_at=at(10, days=3), ends_at=at(12, days=3))
    booking = (await w.book(slot["id"], 30, 2)).json()
    rows = await outbox()
    assert [r["kind"] for r in rows] == ["confirmed"]
    first = rows[0]
    assert first["recipient"] == TEACHER
    assert first["booking_id"] == booking["id"]
    assert first["state"] == "pending" and first["attempts"] == 0
    assert "厦门科技馆" in first["subject"]
    day = notify._day(at(10, days=3))
    assert first["subject"] == subject("Booking confirmed: %(venue)s, %(day)s", venue="厦门科技馆", day=day)
    assert booking["code"] in first["body"] and "厦门市第一中学" in first["body"]
    assert first["masked_body"] == first["body"]
    confirmed = event_of(first)
    assert str(confirmed["UID"]) == f"booking-{booking['id']}@kepu"
    assert str(confirmed["STATUS"]) == "CONFIRMED"
    assert confirmed.start == at(10, days=3)
    assert len(confirmed.walk("VALARM")) == 1

    frozen.advance(datetime.timedelta(minutes=5))
    r = await w.client.patch(
        f"/api/v1/bookings/{booking['id']}", json={"students": 35}, headers=w.h["teacher_a"]
    )
    assert r.status_code == 200, r.text
    rows = await outbox()
    assert [r["kind"] for r in rows] == ["confirmed", "changed"]
    assert "35" in rows[1]["body"]
    changed = event_of(rows[1])
    assert changed.sequence > confirmed.sequence
    assert "35" in str(changed["DESCRIPTION"])

    frozen.advance(datetime.timedelta(minutes=5))
    assert (await w.post("teacher_a", f"/api/v1/bookings/{booking['id']}/cancel")).status_code == 200
    rows = await outbox()
    assert [r["kind"] for r in rows] == ["confirmed", "changed", "cancelled"]
    cancelled = event_of(rows[2])
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled.sequence > changed.sequence
    assert cancelled.walk("VALARM") == []
    assert all(r["recipient"] == TEACHER for r in rows)


async def test_request_approve_and_decline(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen)
    slot = await w.slot(capacity=80, venue="b", starts_at=at(10, days=3), ends_at=at(12, days=3))
    one = (await w.book(slot["id"], 20, 2)).json()
    two = (await w.book(slot["id"], 20, 2)).json()
    assert one["status"] == two["status"] == "requested"
    rows = await outbox()
    assert [r["kind"] for r in rows] == ["pending", "pending"]
    assert str(event_of(rows[0])["STATUS"]) == "TENTATIVE"
    assert one["code"] not in rows[0]["body"]  # no pass before the venue approves

    frozen.advance(datetime.timedelta(minutes=1))
    assert (await w.post("staff_b", f"/api/v1/bookings/{one['id']}/approve")).status_code == 200
    r = await w.post("staff_b", f"/api/v1/bookings/{two['id']}/decline", {"reason": "当天馆内布展"})
    assert r.status_code == 200, r.text
    rows = await outbox()
    assert [(r["kind"], r["booking_id"]) for r in rows] == [
        ("pending", one["id"]),
        ("pending", two["id"]),
        ("approved", one["id"]),
        ("declined", two["id"]),
    ]
    approved, declined = event_of(rows[2]), event_of(rows[3])
    assert str(approved["STATUS"]) == "CONFIRMED" and approved.sequence > event_of(rows[0]).sequence
    assert one["code"] in rows[2]["body"]
    assert "当天馆内布展" in rows[3]["body"]
    assert str(declined["STATUS"]) == "CANCELLED"
    assert rows[3]["subject"] == subject(
        "Booking declined: %(venue)s, %(day)s", venue="集美学村科普基地", day=notify._day(at(10, days=3))
    )


async def test_refused_change_queues_nothing(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen)
    slot = await w.slot(capacity=40, starts_at=at(10, days=3), ends_at=at(12, days=3))
    booking = (await w.book(slot["id"], 30, 2)).json()
    r = await w.client.patch(
        f"/api/v1/bookings/{booking['id']}", json={"students": 60}, headers=w.h["teacher_a"]
    )
    assert r.status_code == 409
    assert [r["kind"] for r in await outbox()] == ["confirmed"]
    assert (await w.book(slot["id"], 30, 2)).status_code == 409  # full: no booking, no message
    assert len(await outbox()) == 1


async def test_teacher_without_an_address_gets_no_message(client: httpx.AsyncClient, frozen: Clock) -> None:
    w = await world(client, frozen)
    slot = await w.slot(capacity=80, starts_at=at(10, days=3), ends_at=at(12, days=3))
    r = await w.book(slot["id"], 20, 2, who="teacher_b")  # teacher_b has no e-mail
    assert r.status_code == 201
    assert await outbox() == []


async def test_message_exists_only_if_the_change_does(client: httpx.AsyncClient, frozen: Clock) -> None:
    """Queued in the caller's transaction: a rolled-back change leaves no message behind."""
    from core.db import write_transaction

    w = await world(client, frozen)
    slot = await w.slot(capacity=80, starts_at=at(10, days=3), ends_at=at(12, days=3))
    booking = (await w.book(slot["id"], 20, 2)).json()
    with pytest.raises(RuntimeError):
        async with write_transaction():
            await Booking.update({Booking.students: 10}).where(Booking.id == booking["id"])
            assert await notify.booking_event("changed", booking["id"])
            raise RuntimeError("something after it failed")
    assert [r["kind"] for r in await outbox()] == ["confirmed"]


async def test_english_and_chinese_texts() -> None:
    """The same template in both languages (the recipient's language decides; Chinese by default)."""
    from bookings.schemas import BookingView

    starts = datetime.datetime(2030, 5, 23, 10, 0, tzinfo=clock.TZ)
    b = BookingView(
        id=7, slot_id=1, venue_id=1, venue_name="厦门科技馆", venue_address="体育路95号", school_id=1,
        school_name="厦门一中", teacher_id=1, teacher_name="王老师", status="declined", students=30,
        chaperones=2, grade="初二", class_name="3班", grade_band=None, decline_reason="闭馆维护",
        lead_teacher_name="", lead_teacher_phone="", buses=None, arrival_time="", lunch_space=False,
        accessibility="", special_requests="", code="ABCD2345", qr_token="", starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=2), slot_title="", admitted_students=0,
        admitted_chaperones=0, created_at=starts, cancelled_at=None,
    )  # fmt: skip
    context = {"b": b, "teacher_name": "王老师", "directions": "", "contact_phone": "", "pass_url": ""}
    en_subject, en_body = notify.render("declined", context, "en")
    assert en_subject == "Booking declined: 厦门科技馆, 2030-05-23 Thu"
    assert "Their reason: 闭馆维护" in en_body and en_body.startswith("Dear 王老师,")
    zh_subject, zh_body = notify.render("declined", context, "zh_CN")
    assert "闭馆维护" in zh_body and "厦门科技馆" in zh_subject
    for event in notify.EVENTS:
        s, body = notify.render(event, context, "en")
        assert s and "\n" not in s and body.strip()
    with pytest.raises(ValueError):
        notify.render("nonsense", context, "en")


async def test_enqueue_dedupe_key_adds_once(running: object) -> None:
    for _ in range(2):
        await enqueue(
            kind="reminder", recipient="a@b.example", subject="s", body="b", dedupe_key="reminder:1",
            attachment=Attachment("x.ics", "text/calendar", b"BEGIN:VCALENDAR"),
        )  # fmt: skip
    assert await Outbox.count() == 1
