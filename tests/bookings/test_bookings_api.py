"""api.md "Bookings": booking within capacity, who sees and cancels what, the pass as QR and calendar."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
import pytest
import vobject
import zxingcpp
from PIL import Image

from tests.api_support import assert_error, assert_instants, at
from tests.conftest import Clock
from tests.helpers import World, iso

SLOT_START = at(10, days=2)
SLOT_END = at(12, days=2)


@pytest.fixture
async def world(client: httpx.AsyncClient, frozen: Clock) -> World:
    frozen.set(at(8))
    return await World(client).build()


async def slot_of(w: World, capacity: int = 40, venue: str = "a") -> dict[str, Any]:
    return await w.slot(capacity=capacity, venue=venue, starts_at=SLOT_START, ends_at=SLOT_END)


async def remaining(w: World, slot_id: int) -> int:
    r = await w.get("auditor", f"/api/v1/slots/{slot_id}")
    assert r.status_code == 200
    body = r.json()
    assert body["remaining"] == body["capacity"] - body["booked"]
    return int(body["remaining"])


async def test_create_booking(world: World) -> None:
    slot = await slot_of(world)
    r = await world.book(slot["id"], 30, 2, grade="五年级", class_name="3班")
    assert r.status_code == 201, r.text
    b = r.json()
    assert isinstance(b["id"], int)
    assert b["slot_id"] == slot["id"]
    assert b["status"] == "confirmed"
    assert (b["students"], b["chaperones"]) == (30, 2)
    assert (b["grade"], b["class_name"]) == ("五年级", "3班")
    assert isinstance(b["code"], str) and len(b["code"]) >= 6
    assert isinstance(b["qr_token"], str) and len(b["qr_token"]) > len(b["code"])
    assert b["qr_token"] != b["code"]
    # The same booking, read back.
    got = await world.get("teacher_a", f"/api/v1/bookings/{b['id']}")
    assert got.status_code == 200
    assert {
        k: got.json()[k] for k in ("id", "slot_id", "status", "students", "chaperones", "code", "qr_token")
    } == {k: b[k] for k in ("id", "slot_id", "status", "students", "chaperones", "code", "qr_token")}


async def test_codes_and_tokens_differ_between_bookings(world: World) -> None:
    slot = await slot_of(world, capacity=100)
    one = (await world.book(slot["id"], 10, 1)).json()
    two = (await world.book(slot["id"], 10, 1, who="teacher_b")).json()
    assert one["code"] != two["code"]
    assert one["qr_token"] != two["qr_token"]


async def test_capacity_counts_students_and_chaperones(world: World) -> None:
    slot = await slot_of(world, capacity=40)
    assert (await world.book(slot["id"], 30, 2)).status_code == 201
    assert await remaining(world, slot["id"]) == 8
    # 8 students would fit, but not with their teacher.
    r = await world.book(slot["id"], 8, 1, who="teacher_b")
    assert_error(r, 409)
    assert await remaining(world, slot["id"]) == 8
    assert (await world.book(slot["id"], 0, 8, who="teacher_b")).status_code == 201
    assert await remaining(world, slot["id"]) == 0
    assert_error(await world.book(slot["id"], 1, 0, who="teacher_a2"), 409)


async def test_exact_fit_and_overflow_hold_nothing(world: World) -> None:
    slot = await slot_of(world, capacity=40)
    r = await world.book(slot["id"], 41, 0)
    assert_error(r, 409)
    assert await remaining(world, slot["id"]) == 40
    assert (await world.get("teacher_a", "/api/v1/bookings")).json() == {"items": []}
    r = await world.book(slot["id"], 38, 2)
    assert r.status_code == 201, r.text
    assert await remaining(world, slot["id"]) == 0


async def test_a_slot_that_has_started_cannot_be_booked(world: World) -> None:
    # In progress, started a minute ago, starting this very second, already over.
    for starts, ends in ((at(7), at(9)), (at(7, 59), at(8, 30)), (at(8), at(9)), (at(6), at(7))):
        slot = await world.slot(capacity=40, starts_at=starts, ends_at=ends)
        assert_error(await world.book(slot["id"], 10, 1))
        assert await remaining(world, slot["id"]) == 40
    assert (await world.get("auditor", "/api/v1/bookings")).json() == {"items": []}


async def test_a_slot_starting_in_a_minute_can_be_booked(world: World) -> None:
    slot = await world.slot(capacity=40, starts_at=at(8, 1), ends_at=at(9))
    assert (await world.book(slot["id"], 10, 1)).status_code == 201


async def test_a_booking_has_at_least_one_person(world: World) -> None:
    slot = await slot_of(world)
    assert_error(await world.book(slot["id"], 0, 0))
    assert await remaining(world, slot["id"]) == 40
    assert (await world.book(slot["id"], 1, 0)).status_code == 201
    assert (await world.book(slot["id"], 0, 1)).status_code == 201
    assert await remaining(world, slot["id"]) == 38


async def test_staff_and_auditors_cannot_book(world: World) -> None:
    slot = await slot_of(world)
    for who in ("staff_a", "staff_b", "auditor"):
        assert_error(await world.book(slot["id"], 10, 1, who=who), 403)
    assert await remaining(world, slot["id"]) == 40
    assert (await world.get("auditor", "/api/v1/bookings")).json() == {"items": []}


async def test_unknown_slot_is_404(world: World) -> None:
    assert_error(await world.book(999999, 10, 1), 404)


# -- who sees what ---------------------------------------------------------------------------------


async def test_booking_visibility(world: World) -> None:
    slot = await slot_of(world)
    booking = (await world.book(slot["id"], 20, 2)).json()
    missing = assert_error(await world.get("teacher_a", "/api/v1/bookings/999999"), 404)
    for who in ("teacher_a", "staff_a", "auditor"):
        for suffix in ("", "/qr.png", "/calendar.ics"):
            r = await world.get(who, f"/api/v1/bookings/{booking['id']}{suffix}")
            assert r.status_code == 200, (who, suffix, r.text)
        got = (await world.get(who, f"/api/v1/bookings/{booking['id']}")).json()
        assert (got["id"], got["code"], got["qr_token"]) == (
            booking["id"],
            booking["code"],
            booking["qr_token"],
        )
    # Another teacher of the same school, a teacher of another school, staff of another venue.
    for who in ("teacher_a2", "teacher_b", "staff_b"):
        for suffix in ("", "/qr.png", "/calendar.ics"):
            r = await world.get(who, f"/api/v1/bookings/{booking['id']}{suffix}")
            # Never 403, and the same answer as for a booking that does not exist at all.
            body = assert_error(r, 404)
            assert booking["qr_token"] not in r.text and booking["code"] not in r.text
            if suffix == "":
                assert body["detail"] == missing["detail"]


async def test_list_is_scoped_per_role(world: World) -> None:
    slot_a = await slot_of(world, capacity=200)
    slot_b = await slot_of(world, capacity=200, venue="b")
    a1 = (await world.book(slot_a["id"], 10, 1, who="teacher_a")).json()["id"]
    a2 = (await world.book(slot_a["id"], 10, 1, who="teacher_a2")).json()["id"]
    b1 = (await world.book(slot_b["id"], 10, 1, who="teacher_b")).json()["id"]
    a3 = (await world.book(slot_b["id"], 10, 1, who="teacher_a")).json()["id"]

    async def listed(who: str) -> set[int]:
        r = await world.get(who, "/api/v1/bookings")
        assert r.status_code == 200
        return {b["id"] for b in r.json()["items"]}

    assert await listed("teacher_a") == {a1, a3}
    assert await listed("teacher_a2") == {a2}
    assert await listed("teacher_b") == {b1}
    assert await listed("staff_a") == {a1, a2}
    assert await listed("staff_b") == {b1, a3}
    assert await listed("auditor") == {a1, a2, a3, b1}


# -- cancelling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["teacher_a", "staff_a", "auditor"])
async def test_cancel_returns_places(world: World, who: str) -> None:
    slot = await slot_of(world, capacity=40)
    booking = (await world.book(slot["id"], 30, 2)).json()
    assert await remaining(world, slot["id"]) == 8
    r = await world.post(who, f"/api/v1/bookings/{booking['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert r.json()["id"] == booking["id"]
    assert await remaining(world, slot["id"]) == 40
    got = await world.get("teacher_a", f"/api/v1/bookings/{booking['id']}")
    assert got.json()["status"] == "cancelled"
    # The freed places can be booked by someone else.
    assert (await world.book(slot["id"], 38, 2, who="teacher_b")).status_code == 201
    # Cancelling twice is a conflict and returns nothing a second time.
    assert_error(await world.post(who, f"/api/v1/bookings/{booking['id']}/cancel"), 409)
    assert await remaining(world, slot["id"]) == 0


async def test_others_cannot_cancel(world: World) -> None:
    slot = await slot_of(world, capacity=40)
    booking = (await world.book(slot["id"], 30, 2)).json()
    for who in ("teacher_a2", "teacher_b", "staff_b"):
        assert_error(await world.post(who, f"/api/v1/bookings/{booking['id']}/cancel"), 404)
    assert (await world.get("teacher_a", f"/api/v1/bookings/{booking['id']}")).json()["status"] == "confirmed"
    assert await remaining(world, slot["id"]) == 8


async def test_cancel_unknown_booking_is_404(world: World) -> None:
    assert_error(await world.post("auditor", "/api/v1/bookings/999999/cancel"), 404)


# -- the pass: QR code and calendar ----------------------------------------------------------------


async def test_qr_png_decodes_to_the_token(world: World) -> None:
    slot = await slot_of(world)
    booking = (await world.book(slot["id"], 30, 2)).json()
    for who in ("teacher_a", "staff_a"):
        r = await world.get(who, f"/api/v1/bookings/{booking['id']}/qr.png")
        assert r.status_code == 200
        assert r.headers["content-type"].split(";")[0] == "image/png"
        assert r.content.startswith(b"\x89PNG\r\n\x1a\n")
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(r.content)))
        assert len(found) == 1
        assert found[0].format == zxingcpp.BarcodeFormat.QRCode
        assert found[0].text == booking["qr_token"]


def _ical_event(data: bytes) -> Any:
    cal = icalendar.Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


async def test_calendar_ics(world: World) -> None:
    slot = await slot_of(world)
    booking = (await world.book(slot["id"], 30, 2)).json()
    url = f"/api/v1/bookings/{booking['id']}/calendar.ics"
    r = await world.get("teacher_a", url)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0].strip() == "text/calendar"

    cal, event = _ical_event(r.content)
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert start == SLOT_START and end == SLOT_END
    for prop in ("dtstart", "dtend"):
        value = event[prop]
        # Never floating: either TZID=Asia/Shanghai with its VTIMEZONE, or UTC.
        tzid = value.params.get("TZID")
        if tzid is not None:
            assert tzid == "Asia/Shanghai"
            assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
        else:
            assert value.dt.utcoffset() == timedelta(0)
    location = str(event["location"])
    assert "厦门科技馆" in location and "体育路95号" in location

    parsed = vobject.readOne(r.content.decode("utf-8"))
    vevents = [c for c in parsed.getChildren() if c.name == "VEVENT"]
    assert len(vevents) == 1
    vevent = vevents[0]
    assert vevent.dtstart.value.tzinfo is not None
    assert vevent.dtstart.value == SLOT_START
    assert vevent.dtend.value == SLOT_END
    assert "厦门科技馆" in vevent.location.value and "体育路95号" in vevent.location.value

    # The UID does not change between downloads (a calendar updates the event instead of adding one).
    again = await world.get("staff_a", url)
    _, event2 = _ical_event(again.content)
    assert str(event2["uid"]) == str(event["uid"]) == vevent.uid.value
    assert str(event["uid"]).strip()
    other = (await world.book(slot["id"], 5, 1, who="teacher_b")).json()
    _, other_event = _ical_event(
        (await world.get("teacher_b", f"/api/v1/bookings/{other['id']}/calendar.ics")).content
    )
    assert str(other_event["uid"]) != str(event["uid"])


async def test_calendar_of_a_venue_without_address_and_a_utc_slot(world: World) -> None:
    starts = datetime(2030, 5, 23, 1, 15, 30, tzinfo=UTC)
    r = await world.post(
        "auditor",
        f"/api/v1/venues/{world.venue_b}/slots",
        {"starts_at": "2030-05-23T01:15:30Z", "ends_at": iso(starts + timedelta(minutes=90)), "capacity": 20},
    )
    assert r.status_code == 201
    booking = (await world.book(r.json()["id"], 10, 1, who="teacher_b")).json()
    ics = await world.get("teacher_b", f"/api/v1/bookings/{booking['id']}/calendar.ics")
    _, event = _ical_event(ics.content)
    assert event.decoded("dtstart") == starts
    assert event.decoded("dtend") == starts + timedelta(minutes=90)
    assert "集美学村科普基地" in str(event["location"])
    text = ics.content.decode()
    vevent = text[text.index("BEGIN:VEVENT") : text.index("END:VEVENT")]
    # No floating times in the event: its DTSTART/DTEND carry a TZID or end in Z.
    lines = re.findall(r"^(?:DTSTART|DTEND)[^\r\n]*", vevent, flags=re.M)
    assert len(lines) == 2
    for line in lines:
        assert "TZID=" in line or line.endswith("Z"), line


async def test_instants_in_bookings_are_offset_aware(world: World) -> None:
    slot = await slot_of(world)
    booking = (await world.book(slot["id"], 3, 1)).json()
    cancelled = (await world.post("teacher_a", f"/api/v1/bookings/{booking['id']}/cancel")).json()
    got = (await world.get("teacher_a", f"/api/v1/bookings/{booking['id']}")).json()
    listed = (await world.get("auditor", "/api/v1/bookings")).json()
    assert assert_instants([booking, cancelled, got, listed]) >= 8
    for key in ("starts_at", "ends_at"):
        if key in got:
            value = datetime.fromisoformat(got[key].replace("Z", "+00:00"))
            assert value == (SLOT_START if key == "starts_at" else SLOT_END)


async def test_a_pass_code_already_taken_is_drawn_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The random pass code of a new booking colliding with an existing one (the unique index refuses
    it): the booking is written once with another code, the places taken once, its e-mail queued once."""
    from accounts.tables import User
    from bookings import services
    from messaging.tables import Outbox

    slot = await slot_of(world)
    first = (await world.book(slot["id"], 10, 1)).json()
    await User.update({User.email: "teacher.a@school.example"}).where(User.username == "teacher_a")
    drawn = iter([first["code"], first["code"], "K7Q2M9X4"])
    monkeypatch.setattr(services, "new_pass_code", lambda: next(drawn))
    r = await world.book(slot["id"], 20, 2)
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["code"] == "K7Q2M9X4" and second["id"] != first["id"]
    assert (second["students"], second["chaperones"], second["status"]) == (20, 2, "confirmed")
    assert await remaining(world, slot["id"]) == 40 - 11 - 22
    got = await world.get("teacher_a", f"/api/v1/bookings/{second['id']}")
    assert got.json()["code"] == "K7Q2M9X4" and got.json()["qr_token"] == second["qr_token"]
    mails = await Outbox.select(Outbox.kind).where(Outbox.booking_id == second["id"])
    assert mails == [{"kind": "confirmed"}]
