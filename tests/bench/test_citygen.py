"""The city generator at small scale, so it does not rot: consistent and loadable on both engines."""

from __future__ import annotations

from bench.citygen import SCALES, generate

from bookings import keys
from bookings.tables import Booking, CheckIn
from bookings.tickets import verify_pass
from venues.tables import Slot, Venue


async def test_small_city_is_consistent(running: object) -> None:
    counts = await generate(SCALES["small"], 2025, seed=7)
    assert counts.venues == await Venue.count() == 12
    assert counts.bookings == await Booking.count() >= 1000
    assert counts.checkins == await CheckIn.count() > 0
    venues = await Venue.select(Venue.district, Venue.kind)
    assert len({r["district"] for r in venues}) == 6
    assert len({r["kind"] for r in venues}) == 6

    # Every slot's booked places are its confirmed bookings' people, within capacity.
    slots = {r["id"]: r for r in await Slot.select(Slot.id, Slot.booked, Slot.capacity)}
    booked: dict[int, int] = {}
    rows = await Booking.select(
        Booking.id, Booking.slot, Booking.venue, Booking.status, Booking.students, Booking.chaperones,
        Booking.admitted_students, Booking.admitted_chaperones, Booking.qr_token,
    )  # fmt: skip
    for b in rows:
        if b["status"] == "confirmed":
            booked[b["slot"]] = booked.get(b["slot"], 0) + b["students"] + b["chaperones"]
        assert b["admitted_students"] <= b["students"] and b["admitted_chaperones"] <= b["chaperones"]
    for sid, slot in slots.items():
        assert slot["booked"] == booked.get(sid, 0) <= slot["capacity"]

    # Admissions add up to what the bookings say, and every pass verifies.
    admitted: dict[int, int] = {}
    for c in await CheckIn.select(CheckIn.booking, CheckIn.result, CheckIn.students, CheckIn.chaperones):
        if c["result"] == "admitted":
            admitted[c["booking"]] = admitted.get(c["booking"], 0) + c["students"] + c["chaperones"]
    public = await keys.public_keys()
    for b in rows:
        assert admitted.get(b["id"], 0) == b["admitted_students"] + b["admitted_chaperones"]
        claims = verify_pass(b["qr_token"], public)
        assert claims is not None and (claims.booking_id, claims.venue_id) == (b["id"], b["venue"])
    # All in the requested year, and about 8% of the past confirmed bookings are no-shows.
    no_shows = sum(1 for b in rows if b["status"] == "confirmed" and b["admitted_students"] == 0)
    confirmed = sum(1 for b in rows if b["status"] == "confirmed")
    assert 0.03 < no_shows / confirmed < 0.15
