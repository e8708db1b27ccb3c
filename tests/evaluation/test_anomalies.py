"""Anomaly flags (issue 6) against a hand-built fixture, on both engines.

Year 2030. Venue A is clean: it raises nothing. Venue B (arrival window 30 min before start to 30 min
after end; open 09:00–17:00 every day; closed on TUE by a closure) raises each check-in kind once or a
few times; venue C has ten admissions on ten days, nine typed, seven of them of 32 people.

Venue B, the records and the flags they should raise:
- MON 09:00 for a 10:00 slot (window opens 09:30)              → outside_window
- FRI's slot admitted on the Saturday at 10:00                 → outside_window (another day)
- TUE 10:00, a closure day                                     → outside_hours
- WED 17:45 for the 10:00–12:00 slot (closes 17:00 + 30 min)   → outside_window and outside_hours
- WED 17:45 for an 18:00 evening slot: after hours, but the venue published the slot → nothing
- MON, booking of 10+1 admitted 10+1 then 5+0                  → over_admitted (1 booking, 2 check-ins)
- THU 09:45:00, :01, :02 on device door-2                      → fast_scans (3)
- THU 09:46:00 and :01 on device door-3 (only two in a row)     → nothing
- WED, a booking created an hour after its slot began          → booked_after
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from accounts.tables import User
from bookings.tables import Booking, CheckIn
from core import clock
from evaluation import anomalies
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession
from timetable.tables import Closure, OpeningHours
from venues.tables import Venue

MON = date(2030, 3, 4)
TUE, WED, THU, FRI, SAT = (MON + timedelta(days=n) for n in range(1, 6))
# The test thresholds: venue C's ten admissions are enough to be judged.
T = anomalies.Thresholds(typed_min_admissions=5, same_headcount_days=5)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=clock.TZ)


async def _slot(w: World, venue: str, day: date, start: int = 10, end: int = 12) -> int:
    s = await w.slot(capacity=200, venue=venue, starts_at=at(day, start), ends_at=at(day, end))
    return int(s["id"])


async def _book(
    w: World, slot_id: int, students: int = 30, chaperones: int = 2, who: str = "teacher_a"
) -> int:
    r = await w.book(slot_id, students, chaperones, who=who)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _admit(
    venue_id: int,
    booking_id: int,
    when: datetime,
    staff: int,
    students: int = 30,
    chaperones: int = 2,
    *,
    device: str = "door-1",
    method: str = "qr",
    **extra: Any,
) -> int:
    rows = await CheckIn.insert(
        CheckIn(
            booking=booking_id,
            venue=venue_id,
            result=extra.pop("result", "admitted"),
            students=students,
            chaperones=chaperones,
            staff=staff,
            device=device,
            method=method,
            scanned_at=when,
            created_at=when,
            **extra,
        )
    ).returning(CheckIn.id)
    return int(rows[0]["id"])


async def _user_id(name: str) -> int:
    row = await User.select(User.id).where(User.username == name).first()
    assert row is not None
    return int(row["id"])


@pytest.fixture
async def city(client: httpx.AsyncClient, frozen: Clock) -> dict[str, Any]:
    frozen.set(at(date(2030, 2, 1), 8))
    w = await World(client).build()
    a, b = w.venue_a, w.venue_b
    r = await w.post(
        "auditor",
        "/api/v1/venues",
        {"name": "海沧区青少年宫", "kind": "community_site", "district": "海沧区"},
    )
    c = int(r.json()["id"])
    staff_a, staff_b = await _user_id("staff_a"), await _user_id("staff_b")
    for venue in (a, b):
        await Venue.update(
            {Venue.arrival_before_start_minutes: 30, Venue.arrival_after_end_minutes: 30}
        ).where(Venue.id == venue)
        await OpeningHours.insert(
            *(
                OpeningHours(venue=venue, weekday=d, closed=False, opens="09:00", closes="17:00")
                for d in range(7)
            )
        )

    # Venue A: clean. One class in one scan, one in two (one typed), a reversed stray scan at 03:00,
    # a refused scan outside the window, and an admission under review: none of them is an anomaly.
    s = await _slot(w, "a", MON)
    b1, b2 = await _book(w, s), await _book(w, s, 20, 3, who="teacher_b")
    await _admit(a, b1, at(MON, 9, 50), staff_a)
    await _admit(a, b2, at(MON, 9, 52), staff_a, 10, 1)
    await _admit(a, b2, at(MON, 10, 5), staff_a, 10, 2, method="code")
    await _admit(a, b1, at(MON, 3, 0), staff_a, reversed_at=at(MON, 9, 0), reversal_reason="误扫")
    await _admit(a, b1, at(MON, 3, 1), staff_a, result="outside_window")
    await _admit(a, b1, at(MON, 3, 2), staff_a, 40, 10, needs_review=True, offline=True)
    s = await _slot(w, "a", THU)
    b3 = await _book(w, s, 25, 2)
    await _admit(a, b3, at(THU, 9, 40), staff_a, 25, 2)

    # Venue B.
    s_mon, s_tue, s_wed, s_eve, s_thu, s_fri = [
        await _slot(w, "b", d, *hours)
        for d, hours in (
            (MON, (10, 12)),
            (TUE, (10, 12)),
            (WED, (10, 12)),
            (WED, (18, 19)),
            (THU, (10, 12)),
            (FRI, (10, 12)),
        )
    ]
    await Closure.insert(Closure(venue=b, day=TUE, reason="设备检修"))
    early = await _book(w, s_mon, who="teacher_b")
    await _admit(b, early, at(MON, 9, 0), staff_b)
    next_day = await _book(w, s_fri, who="teacher_b")
    await _admit(b, next_day, at(SAT, 10, 0), staff_b)
    closed = await _book(w, s_tue, who="teacher_b")
    await _admit(b, closed, at(TUE, 10, 0), staff_b)
    evening = await _book(w, s_eve, who="teacher_b")
    await _admit(b, evening, at(WED, 17, 45), staff_b)
    after_hours = await _book(w, s_wed, who="teacher_b")
    await _admit(b, after_hours, at(WED, 17, 45, 30), staff_b)
    over = await _book(w, s_mon, 10, 1, who="teacher_b")
    over_ids = [
        await _admit(b, over, at(MON, 10, 10), staff_b, 10, 1),
        await _admit(b, over, at(MON, 10, 40), staff_b, 5, 0),
    ]
    fast = [await _book(w, s_thu, 20, 2, who="teacher_b") for _ in range(5)]
    fast_ids = [
        await _admit(b, fast[n], at(THU, 9, 45, n), staff_b, 20, 2, device="door-2") for n in range(3)
    ]
    await _admit(b, fast[3], at(THU, 9, 46, 0), staff_b, 20, 2, device="door-3")
    await _admit(b, fast[4], at(THU, 9, 46, 1), staff_b, 20, 2, device="door-3")
    late = await _book(w, s_wed, who="teacher_b")
    await Booking.update({Booking.created_at: at(WED, 11)}).where(Booking.id == late)
    late_id = await _admit(b, late, at(WED, 9, 50), staff_b)

    # Venue C: no window, no hours. Ten days, one class a day; nine typed; seven of 32 people.
    sizes = [(30, 2)] * 7 + [(18, 2), (23, 2), (38, 2)]
    day = date(2030, 4, 1)
    for n, (st, ch) in enumerate(sizes):
        slot = int((await w.post("auditor", f"/api/v1/venues/{c}/slots", {
            "starts_at": at(day, 10).isoformat(), "ends_at": at(day, 12).isoformat(), "capacity": 100,
        })).json()["id"])  # fmt: skip
        bid = await _book(w, slot, st, ch)
        await _admit(
            c, bid, at(day, 9, 55), staff_a, st, ch, device="tablet", method="qr" if n == 9 else "code"
        )
        day += timedelta(days=1)
    frozen.set(at(date(2031, 1, 10), 9))
    return {"w": w, "a": a, "b": b, "c": c, "over_ids": over_ids, "fast_ids": fast_ids, "late_id": late_id}


def _flags(summary: anomalies.Summary) -> dict[tuple[str, int], anomalies.Flag]:
    return {(f.kind, f.venue_id): f for f in summary.flags}


async def test_each_kind_is_raised_where_it_happened_and_nowhere_else(city: dict[str, Any]) -> None:
    a, b, c = city["a"], city["b"], city["c"]
    flags = _flags(await anomalies.summary(2030, T))
    assert {k: f.count for k, f in flags.items()} == {
        ("outside_window", b): 3,
        ("outside_hours", b): 2,
        ("over_admitted", b): 1,
        ("fast_scans", b): 3,
        ("booked_after", b): 1,
        ("typed", c): 9,
        ("same_headcount", c): 7,
    }
    assert not any(vid == a for _kind, vid in flags)
    assert flags[("typed", c)].figures == {"total": 10, "share": 90.0}
    assert flags[("same_headcount", c)].figures == {"people": 32, "open_days": 10}
    assert flags[("fast_scans", b)].venue_name == "集美学村科普基地"
    # Another year holds none of it.
    assert (await anomalies.summary(2031, T)).flags == []


async def test_thresholds_move_the_bar(city: dict[str, Any]) -> None:
    b, c = city["b"], city["c"]
    strict = anomalies.Thresholds(typed_share_pct=91, typed_min_admissions=5, same_headcount_days=8)
    flags = _flags(await anomalies.summary(2030, strict))
    assert ("typed", c) not in flags and ("same_headcount", c) not in flags
    # Two in a row on door-3 count once bursts of two are enough; so do the seconds-apart pairs on door-2.
    loose = anomalies.Thresholds(fast_burst=2)
    assert _flags(await anomalies.summary(2030, loose))[("fast_scans", b)].count == 5
    # With the default bar of 20 admissions venue C is not judged on typing.
    assert ("typed", c) not in _flags(await anomalies.summary(2030))


async def test_evidence_lists_the_records(city: dict[str, Any]) -> None:
    b, c = city["b"], city["c"]
    ev = await anomalies.evidence(b, 2030, "fast_scans", T)
    assert ev.shape == "checkins" and ev.flag is not None
    assert [r["checkin_id"] for r in ev.records] == city["fast_ids"]
    first = ev.records[0]
    assert first["device"] == "door-2" and first["staff"] == "staff_b" and first["method"] == "qr"
    assert clock.local(first["scan_time"]).strftime("%H:%M:%S") == "09:45:00"
    assert (first["students"], first["chaperones"], first["booked"]) == (20, 2, 22)
    assert clock.local(first["starts_at"]) == at(THU, 10)
    ev = await anomalies.evidence(b, 2030, "over_admitted", T)
    assert [r["checkin_id"] for r in ev.records] == city["over_ids"]
    ev = await anomalies.evidence(b, 2030, "booked_after", T)
    assert [r["checkin_id"] for r in ev.records] == [city["late_id"]]
    assert ev.records[0]["booked_at"] == at(WED, 11)
    ev = await anomalies.evidence(c, 2030, "same_headcount", T)
    assert ev.shape == "days" and len(ev.records) == 7
    assert {r["people"] for r in ev.records} == {32} and ev.records[0]["d"] == date(2030, 4, 1)
    ev = await anomalies.evidence(c, 2030, "typed", T)
    assert len(ev.records) == 9 and {r["method"] for r in ev.records} == {"code"}
    # The cap.
    capped = anomalies.Thresholds(typed_min_admissions=5, evidence_limit=4)
    assert len((await anomalies.evidence(c, 2030, "typed", capped)).records) == 4
    # A clean base: the flag is absent and nothing is listed, not even its one typed admission.
    ev = await anomalies.evidence(city["a"], 2030, "typed", T)
    assert ev.flag is None and ev.records == []
    with pytest.raises(anomalies.AnomalyError):
        await anomalies.evidence(b, 2030, "nonsense", T)


# ---- pages ---------------------------------------------------------------------------------------


async def _signed_in(client: httpx.AsyncClient, who: str) -> PageSession:
    s = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await s.sign_in(who, PASSWORD)
    await s.get("/lang/en?next=/audit")
    return s


async def test_auditor_pages(city: dict[str, Any], client: httpx.AsyncClient) -> None:
    b = city["b"]
    s = await _signed_in(client, "auditor")
    r = await s.get("/audit/anomalies?year=2030")
    assert r.status_code == 200
    assert "Scans faster than a person can scan" in r.text and "集美学村科普基地" in r.text
    assert f"/audit/anomalies/{b}?year=2030&amp;kind=fast_scans" in r.text
    assert "Check-ins: 3" in r.text
    r = await s.get(f"/audit/anomalies/{b}?year=2030&kind=fast_scans")
    assert r.status_code == 200
    assert r.text.count("door-2") == 3 and "09:45:01" in r.text and "door-3" not in r.text
    for fid in city["fast_ids"]:
        assert f"#{fid} · " in r.text
    r = await s.get(f"/audit/anomalies/{city['a']}?year=2030&kind=fast_scans")
    assert r.status_code == 200 and "raised no flag" in r.text
    assert (await s.get(f"/audit/anomalies/{b}?year=2030&kind=nonsense")).status_code == 404
    # A base's own page: its flags, each linking to its evidence.
    r = await s.get(f"/audit/anomalies/{b}?year=2030")
    assert r.status_code == 200
    assert r.text.count(f"/audit/anomalies/{b}?year=2030&amp;kind=") == 5 and "Bookings: 2" not in r.text
    assert "Bookings: 1" in r.text and "Check-ins: 3" in r.text
    assert (await s.get("/audit/anomalies/999999?year=2030&kind=typed")).status_code == 404
    assert (await s.get("/audit/anomalies?year=1800")).status_code == 422
    assert (await s.get("/audit/anomalies?year=2031")).status_code == 200
    # The dashboard links here (without counting: that would slow the dashboard down).
    r = await s.get("/audit?year=2030")
    assert r.status_code == 200
    assert "/audit/anomalies?year=2030" in r.text


async def test_teachers_and_staff_are_kept_out(city: dict[str, Any], client: httpx.AsyncClient) -> None:
    b = city["b"]
    for who in ("teacher_a", "staff_b"):
        s = await _signed_in(client, who)
        for url in ("/audit/anomalies?year=2030", f"/audit/anomalies/{b}?year=2030&kind=fast_scans"):
            assert (await s.get(url)).status_code in (302, 303, 403)
    anonymous = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    assert (await anonymous.get("/audit/anomalies")).status_code in (302, 303, 401, 403)


# ---- the demo's suspicious admissions ------------------------------------------------------------


async def test_demo_anomalies_raise_flags_and_keep_the_ledger_whole(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    from evaluation.demo_anomalies import add_demo_anomalies
    from ledger import audit

    frozen.set(at(date(2030, 2, 1), 8))
    w = await World(client).build()
    for venue in ("a", "b"):
        await _book(w, await _slot(w, venue, MON), who="teacher_b")
    now = at(date(2030, 6, 10), 15)
    frozen.set(now)
    assert await add_demo_anomalies([w.venue_a, w.venue_b], now) == 6
    flags = _flags(await anomalies.summary(2030))
    assert flags[("fast_scans", w.venue_a)].count == 3
    assert flags[("over_admitted", w.venue_a)].count == 1
    assert flags[("outside_window", w.venue_a)].count == 1
    assert flags[("booked_after", w.venue_b)].count == 1
    assert (await audit.verify()).ok
