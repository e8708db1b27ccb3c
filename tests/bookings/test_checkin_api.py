"""api.md "Check-in": every result, in order, with its HTTP status; counts, parts, typed codes, roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from bookings.tables import Booking
from bookings.tickets import PassClaims, generate_signing_key, issue_pass, pass_kid
from tests.api_support import (
    DAY,
    assert_error,
    at,
    refresh_tokens,
    report_row,
    scan,
)
from tests.conftest import Clock
from tests.helpers import World

YEAR = DAY.year
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class Door:
    """A World with a slot today 10:00-12:00 at venue A, booked 30 + 2 by teacher_a at 08:00."""

    def __init__(self, w: World, frozen: Clock) -> None:
        self.w = w
        self.frozen = frozen
        self.booking: dict[str, Any] = {}
        self.signed_in_at = at(8)

    async def book(
        self,
        students: int = 30,
        chaperones: int = 2,
        *,
        days: int = 0,
        who: str = "teacher_a",
        venue: str = "a",
    ) -> dict[str, Any]:
        slot = await self.w.slot(
            capacity=200, venue=venue, starts_at=at(10, days=days), ends_at=at(12, days=days)
        )
        r = await self.w.book(slot["id"], students, chaperones, who=who)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def at(self, hour: int, minute: int = 0, *, days: int = 0) -> None:
        """Move the clock; sign everyone in again where their tokens (12 h) would have expired."""
        when = at(hour, minute, days=days)
        self.frozen.set(when)
        if when > self.signed_in_at + timedelta(hours=11):
            await refresh_tokens(self.w)
            self.signed_in_at = when


@pytest.fixture
async def door(client: httpx.AsyncClient, frozen: Clock) -> Door:
    frozen.set(at(8))
    d = Door(await World(client).build(), frozen)
    d.booking = await d.book()
    await d.at(10, 15)
    return d


def result(r: httpx.Response, expected: str, status: int, booking_id: int | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["result"] == expected, body
    if status != 200:
        assert_error(r, status)
    if booking_id is None:
        assert "booking_id" not in body or body["booking_id"] is None, body
    else:
        assert body["booking_id"] == booking_id, body
    return dict(body)


async def admitted(door: Door, venue: str = "a") -> tuple[int, int]:
    """(people admitted, students admitted) at a venue this year, as the report counts them."""
    row = await report_row(door.w, YEAR, door.w.venue_a if venue == "a" else door.w.venue_b)
    return row["people_admitted"], row["students_admitted"]


def altered(token: str, position: int) -> str:
    ch = token[position]
    if ch not in B32:
        return token[:position] + "A" + token[position + 1 :]
    return token[:position] + B32[(B32.index(ch) + 1) % 32] + token[position + 1 :]


# -- invalid ---------------------------------------------------------------------------------------


async def test_garbage_is_invalid(door: Door) -> None:
    for text in ("garbage", "KP1.", "KP1.AAAA", "https://example.com/", "x" * 200, " ", "", "abcd-efg"):
        result(await scan(door.w, "staff_a", text), "invalid", 400)
        result(await scan(door.w, "staff_a", text, students=1), "invalid", 400)
    assert await admitted(door) == (0, 0)


async def test_altered_token_is_invalid(door: Door) -> None:
    token = door.booking["qr_token"]
    # Flip one character anywhere in the signed body: payload (booking id, venue, day) or signature.
    for position in (len("KP1."), len("KP1.") + 5, len(token) // 2, len(token) - 2, len(token) - 1):
        forged = altered(token, position)
        assert forged != token
        result(await scan(door.w, "staff_a", forged), "invalid", 400)
    assert await admitted(door) == (0, 0)
    result(await scan(door.w, "staff_a", token), "admitted", 200, door.booking["id"])


async def test_pass_signed_by_another_key_is_invalid(door: Door) -> None:
    real_kid = pass_kid(door.booking["qr_token"])
    assert real_kid is not None
    claims = PassClaims(booking_id=door.booking["id"], venue_id=door.w.venue_a, day=DAY.date())
    for kid in (real_kid, real_kid + 1, 999):
        forged = issue_pass(claims, generate_signing_key(kid))
        assert forged != door.booking["qr_token"]
        result(await scan(door.w, "staff_a", forged), "invalid", 400)
    assert await admitted(door) == (0, 0)


async def test_a_code_that_was_never_issued_is_invalid(door: Door) -> None:
    code = door.booking["code"]
    other = "".join("b" if c != "b" else "c" for c in code)
    result(await scan(door.w, "staff_a", other), "invalid", 400)


# -- wrong_venue, cancelled, not_confirmed, wrong_day ----------------------------------------------


async def test_wrong_venue_reveals_no_booking(door: Door) -> None:
    for token in (door.booking["qr_token"], door.booking["code"]):
        body = result(await scan(door.w, "staff_b", token), "wrong_venue", 409)
        assert door.booking["code"] not in body["detail"]
    assert await admitted(door) == (0, 0)
    result(await scan(door.w, "staff_a", door.booking["qr_token"]), "admitted", 200, door.booking["id"])


async def test_wrong_venue_comes_before_cancelled(door: Door) -> None:
    await door.w.post("teacher_a", f"/api/v1/bookings/{door.booking['id']}/cancel")
    result(await scan(door.w, "staff_b", door.booking["qr_token"]), "wrong_venue", 409)


async def test_cancelled_pass_stops_admitting(door: Door) -> None:
    await door.at(8, 30)
    r = await door.w.post("teacher_a", f"/api/v1/bookings/{door.booking['id']}/cancel")
    assert r.status_code == 200
    await door.at(10, 15)
    for token in (door.booking["qr_token"], door.booking["code"]):
        result(await scan(door.w, "staff_a", token), "cancelled", 409, door.booking["id"])
        result(await scan(door.w, "staff_a", token, students=5), "cancelled", 409, door.booking["id"])
    assert await admitted(door) == (0, 0)


async def test_cancelled_comes_before_wrong_day(door: Door) -> None:
    await door.at(8)
    tomorrow = await door.book(days=1)
    await door.w.post("teacher_a", f"/api/v1/bookings/{tomorrow['id']}/cancel")
    await door.at(10, 15)
    result(await scan(door.w, "staff_a", tomorrow["qr_token"]), "cancelled", 409, tomorrow["id"])


@pytest.mark.parametrize("status", ["requested", "declined"])
async def test_not_confirmed(door: Door, status: str) -> None:
    await Booking.update({Booking.status: status}).where(Booking.id == door.booking["id"])
    result(await scan(door.w, "staff_a", door.booking["qr_token"]), "not_confirmed", 409, door.booking["id"])
    result(
        await scan(door.w, "staff_a", door.booking["code"], students=1),
        "not_confirmed",
        409,
        door.booking["id"],
    )
    assert await admitted(door) == (0, 0)


async def test_not_confirmed_comes_before_wrong_day(door: Door) -> None:
    await door.at(8)
    tomorrow = await door.book(days=1)
    await Booking.update({Booking.status: "requested"}).where(Booking.id == tomorrow["id"])
    await door.at(10, 15)
    result(await scan(door.w, "staff_a", tomorrow["qr_token"]), "not_confirmed", 409, tomorrow["id"])


async def test_wrong_day_tomorrow_and_yesterday(door: Door) -> None:
    await door.at(8)
    tomorrow = await door.book(days=1)
    await door.at(10, 15)
    result(await scan(door.w, "staff_a", tomorrow["qr_token"]), "wrong_day", 409, tomorrow["id"])
    result(await scan(door.w, "staff_a", tomorrow["code"], students=3), "wrong_day", 409, tomorrow["id"])
    # The next day, today's booking is yesterday's.
    await door.at(10, 15, days=1)
    result(await scan(door.w, "staff_a", door.booking["qr_token"]), "wrong_day", 409, door.booking["id"])
    result(await scan(door.w, "staff_a", tomorrow["qr_token"]), "admitted", 200, tomorrow["id"])


async def test_today_is_the_shanghai_date(door: Door) -> None:
    # 00:05 in Xiamen is still the previous day in UTC; 23:55 is the same day in UTC.
    await door.at(0, 5)
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"], students=1, chaperones=0),
        "admitted",
        200,
        door.booking["id"],
    )
    await door.at(23, 55)
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"], students=1),
        "admitted",
        200,
        door.booking["id"],
    )
    await door.at(0, 5, days=1)
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"], students=1),
        "wrong_day",
        409,
        door.booking["id"],
    )
    assert await admitted(door) == (2, 2)


# -- outside_window --------------------------------------------------------------------------------


async def set_window(door: Door, before: int | None, after: int | None) -> None:
    r = await door.w.client.patch(
        f"/api/v1/venues/{door.w.venue_a}",
        json={"arrival_before_start_minutes": before, "arrival_after_end_minutes": after},
        headers=door.w.h["auditor"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["arrival_before_start_minutes"] == before
    assert r.json()["arrival_after_end_minutes"] == after


async def test_outside_the_arrival_window(door: Door) -> None:
    await set_window(door, 30, 15)  # slot 10:00-12:00: arrivals 09:30-12:15
    token = door.booking["qr_token"]
    for hour, minute in ((0, 1), (8, 0), (9, 29)):
        await door.at(hour, minute)
        result(await scan(door.w, "staff_a", token), "outside_window", 409, door.booking["id"])
        result(await scan(door.w, "staff_a", token, students=3), "outside_window", 409, door.booking["id"])
    await door.at(12, 16)
    result(await scan(door.w, "staff_a", token), "outside_window", 409, door.booking["id"])
    await door.at(23, 59)
    result(await scan(door.w, "staff_a", token), "outside_window", 409, door.booking["id"])
    assert await admitted(door) == (0, 0)
    await door.at(9, 31)
    result(await scan(door.w, "staff_a", token, students=20), "admitted", 200, door.booking["id"])
    await door.at(12, 14)
    result(await scan(door.w, "staff_a", token, students=10), "admitted", 200, door.booking["id"])
    assert await admitted(door) == (32, 30)


async def test_a_window_on_one_side_only(door: Door) -> None:
    await set_window(door, 60, None)  # from 09:00 to the end of the day
    await door.at(8, 59)
    result(await scan(door.w, "staff_a", door.booking["code"]), "outside_window", 409, door.booking["id"])
    await door.at(23, 50)
    result(await scan(door.w, "staff_a", door.booking["code"]), "admitted", 200, door.booking["id"])


async def test_no_window_admits_all_day(door: Door) -> None:
    await door.at(0, 1)
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"], students=1),
        "admitted",
        200,
        door.booking["id"],
    )
    await door.at(23, 59)
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"], students=1),
        "admitted",
        200,
        door.booking["id"],
    )


async def test_wrong_day_comes_before_outside_window(door: Door) -> None:
    await door.at(8)
    tomorrow = await door.book(days=1)
    await set_window(door, 30, 15)
    await door.at(6)
    result(await scan(door.w, "staff_a", tomorrow["qr_token"]), "wrong_day", 409, tomorrow["id"])


async def test_outside_window_comes_before_already_checked_in(door: Door) -> None:
    result(await scan(door.w, "staff_a", door.booking["qr_token"]), "admitted", 200, door.booking["id"])
    await set_window(door, 0, 0)
    await door.at(12, 30)
    result(await scan(door.w, "staff_a", door.booking["qr_token"]), "outside_window", 409, door.booking["id"])


# -- admitted, already_checked_in, too_many --------------------------------------------------------


async def test_first_scan_admits_everyone_booked(door: Door) -> None:
    body = result(
        await scan(door.w, "staff_a", door.booking["qr_token"]), "admitted", 200, door.booking["id"]
    )
    assert isinstance(body["detail"], str)
    assert await admitted(door) == (32, 30)


async def test_rescan_without_counts_is_already_checked_in(door: Door) -> None:
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"], students=20),
        "admitted",
        200,
        door.booking["id"],
    )
    assert await admitted(door) == (22, 20)
    # An accidental rescan (QR or code) never adds people, even though 10 students are still out.
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"]), "already_checked_in", 409, door.booking["id"]
    )
    result(await scan(door.w, "staff_a", door.booking["code"]), "already_checked_in", 409, door.booking["id"])
    assert await admitted(door) == (22, 20)


async def test_everyone_in_is_already_checked_in_even_with_counts(door: Door) -> None:
    result(await scan(door.w, "staff_a", door.booking["qr_token"]), "admitted", 200, door.booking["id"])
    for counts in ({"students": 1}, {"chaperones": 1}, {"students": 0, "chaperones": 0}, {}):
        result(
            await scan(door.w, "staff_a", door.booking["qr_token"], **counts),
            "already_checked_in",
            409,
            door.booking["id"],
        )
    assert await admitted(door) == (32, 30)


async def test_too_many_on_the_first_scan_records_nothing(door: Door) -> None:
    await door.at(8)
    bookings = [door.booking] + [await door.book() for _ in range(4)]
    await door.at(10, 15)
    attempts: list[dict[str, int]] = [
        {"students": 31},
        {"chaperones": 3},
        {"students": 31, "chaperones": 0},
        {"students": 0, "chaperones": 0},
        {"students": 10000},
    ]
    for booking, counts in zip(bookings, attempts, strict=True):
        result(await scan(door.w, "staff_a", booking["qr_token"], **counts), "too_many", 422, booking["id"])
    assert await admitted(door) == (0, 0)
    # Nothing was recorded, so the next scan is still each booking's first admission.
    for booking in bookings:
        result(await scan(door.w, "staff_a", booking["qr_token"]), "admitted", 200, booking["id"])
    assert await admitted(door) == (5 * 32, 5 * 30)


async def test_partial_arrival_in_parts(door: Door) -> None:
    token = door.booking["qr_token"]
    # First bus: 20 students; chaperones default to what was booked on the first admission.
    body = result(await scan(door.w, "staff_a", token, students=20), "admitted", 200, door.booking["id"])
    assert await admitted(door) == (22, 20)
    # Second part: only 10 students remain; a count not given on a later part is 0.
    result(await scan(door.w, "staff_a", token, students=11), "too_many", 422, door.booking["id"])
    result(await scan(door.w, "staff_a", token, chaperones=1), "too_many", 422, door.booking["id"])
    result(
        await scan(door.w, "staff_a", token, students=0, chaperones=0), "too_many", 422, door.booking["id"]
    )
    result(await scan(door.w, "staff_a", token, students=0), "too_many", 422, door.booking["id"])
    assert await admitted(door) == (22, 20)
    result(await scan(door.w, "staff_a", token, students=4), "admitted", 200, door.booking["id"])
    assert await admitted(door) == (26, 24)
    result(
        await scan(door.w, "staff_a", door.booking["code"], students=6), "admitted", 200, door.booking["id"]
    )
    assert await admitted(door) == (32, 30)
    result(await scan(door.w, "staff_a", token, students=1), "already_checked_in", 409, door.booking["id"])
    assert await admitted(door) == (32, 30)
    assert body["result"] == "admitted"


async def test_parts_with_explicit_chaperones(door: Door) -> None:
    token = door.booking["qr_token"]
    result(
        await scan(door.w, "staff_a", token, students=15, chaperones=1), "admitted", 200, door.booking["id"]
    )
    assert await admitted(door) == (16, 15)
    result(await scan(door.w, "staff_a", token, chaperones=1), "admitted", 200, door.booking["id"])
    assert await admitted(door) == (17, 15)
    result(await scan(door.w, "staff_a", token, chaperones=1), "too_many", 422, door.booking["id"])
    result(
        await scan(door.w, "staff_a", token, students=15, chaperones=1), "too_many", 422, door.booking["id"]
    )
    result(
        await scan(door.w, "staff_a", token, students=15, chaperones=0), "admitted", 200, door.booking["id"]
    )
    assert await admitted(door) == (32, 30)


async def test_first_scan_with_counts_given_records_them(door: Door) -> None:
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"], students=25, chaperones=0),
        "admitted",
        200,
        door.booking["id"],
    )
    assert await admitted(door) == (25, 25)
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"]), "already_checked_in", 409, door.booking["id"]
    )


async def test_a_booking_of_chaperones_only(door: Door) -> None:
    await door.at(8)
    adults = await door.book(0, 3)
    await door.at(10, 15)
    result(await scan(door.w, "staff_a", adults["code"]), "admitted", 200, adults["id"])
    assert await admitted(door) == (3, 0)


# -- typed codes -----------------------------------------------------------------------------------


async def test_typed_code_works_as_token(door: Door) -> None:
    await door.at(8)
    bookings = [door.booking] + [await door.book() for _ in range(4)]
    await door.at(10, 15)
    spellings = [
        lambda c: c,
        str.upper,
        lambda c: f"{c[:4]}-{c[4:]}",
        lambda c: f"{c[:4]}-{c[4:]}".upper(),
        lambda c: f" {c[:4]} {c[4:]} ",
    ]
    for booking, spelling in zip(bookings, spellings, strict=True):
        typed = spelling(booking["code"])
        result(await scan(door.w, "staff_a", typed), "admitted", 200, booking["id"])
        result(await scan(door.w, "staff_a", typed), "already_checked_in", 409, booking["id"])
    assert await admitted(door) == (5 * 32, 5 * 30)


# -- roles and errors ------------------------------------------------------------------------------


async def test_only_staff_check_in(door: Door) -> None:
    for who in ("teacher_a", "auditor"):
        r = await scan(door.w, who, door.booking["qr_token"])
        assert_error(r, 403)
        assert r.json().get("result") != "admitted"
    assert await admitted(door) == (0, 0)


async def test_every_result_has_its_http_status(door: Door) -> None:
    """The whole table of api.md in one pass, each row's status and body shape."""
    w = door.w
    await door.at(8)
    cancelled = await door.book(5, 1)
    await w.post("teacher_a", f"/api/v1/bookings/{cancelled['id']}/cancel")
    requested = await door.book(5, 1)
    await Booking.update({Booking.status: "requested"}).where(Booking.id == requested["id"])
    tomorrow = await door.book(5, 1, days=1)
    other_venue = await door.book(5, 1, venue="b")
    await door.at(10, 15)
    rows = [
        ("staff_a", "not a pass", {}, "invalid", 400, None),
        ("staff_a", other_venue["qr_token"], {}, "wrong_venue", 409, None),
        ("staff_a", cancelled["qr_token"], {}, "cancelled", 409, cancelled["id"]),
        ("staff_a", requested["qr_token"], {}, "not_confirmed", 409, requested["id"]),
        ("staff_a", tomorrow["qr_token"], {}, "wrong_day", 409, tomorrow["id"]),
        ("staff_a", door.booking["qr_token"], {"students": 31}, "too_many", 422, door.booking["id"]),
        ("staff_a", door.booking["qr_token"], {}, "admitted", 200, door.booking["id"]),
        ("staff_a", door.booking["qr_token"], {}, "already_checked_in", 409, door.booking["id"]),
        ("staff_b", other_venue["code"], {}, "admitted", 200, other_venue["id"]),
    ]
    for who, token, counts, expected, status, booking_id in rows:
        result(await scan(w, who, token, **counts), expected, status, booking_id)
    await set_window(door, 0, 0)
    await door.at(9, 0)
    result(await scan(w, "staff_a", door.booking["qr_token"]), "outside_window", 409, door.booking["id"])


async def test_admission_does_not_change_the_slot_places(door: Door) -> None:
    before = (await door.w.get("auditor", f"/api/v1/slots/{door.booking['slot_id']}")).json()
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"], students=10),
        "admitted",
        200,
        door.booking["id"],
    )
    after = (await door.w.get("auditor", f"/api/v1/slots/{door.booking['slot_id']}")).json()
    assert (after["booked"], after["remaining"]) == (before["booked"], before["remaining"]) == (32, 168)


async def test_passes_survive_a_restart_and_a_key_rotation(door: Door) -> None:
    from bookings import keys

    # A new process knows no keys until it reads them from the database.
    keys.forget()
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"], students=10),
        "admitted",
        200,
        door.booking["id"],
    )
    await keys.rotate()
    await door.at(8)
    fresh = await door.book(5, 1)
    await door.at(10, 15)
    assert pass_kid(fresh["qr_token"]) != pass_kid(door.booking["qr_token"])
    keys.forget()
    result(
        await scan(door.w, "staff_a", door.booking["qr_token"], students=20),
        "admitted",
        200,
        door.booking["id"],
    )
    result(await scan(door.w, "staff_a", fresh["qr_token"]), "admitted", 200, fresh["id"])
    assert await admitted(door) == (32 + 6, 30 + 5)
