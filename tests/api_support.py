"""Shared pieces of the JSON API contract tests: error-body checks, a fixed day, frozen scenes, snapshots."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx

from accounts.tables import AccessToken, School, User
from bookings.tables import Booking, CheckIn, Strike
from core import clock
from tests.helpers import World, token
from venues.tables import Blackout, Slot, StaffMembership, Venue

# A fixed day far from today, so tests never depend on the real date. A Monday in Xiamen.
DAY = datetime(2030, 5, 20, tzinfo=clock.TZ)


def at(hour: int, minute: int = 0, *, days: int = 0) -> datetime:
    """A local (Asia/Shanghai) instant on DAY (+ days)."""
    return DAY + timedelta(days=days, hours=hour, minutes=minute)


ISO_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
LOOKS_LIKE_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT")


def assert_instants(value: Any) -> int:
    """api.md "time": every instant in a response is ISO 8601 with an offset, to the second. Returns how
    many instants were seen, so a caller can make sure the check did look at something."""
    if isinstance(value, dict):
        return sum(assert_instants(v) for v in value.values())
    if isinstance(value, list):
        return sum(assert_instants(v) for v in value)
    if isinstance(value, str) and LOOKS_LIKE_INSTANT.match(value):
        assert ISO_SECONDS.match(value), value
        return 1
    return 0


def assert_error(r: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """api.md "Errors": a 4xx/5xx whose JSON body holds an int status_code and a sentence in detail."""
    if status is not None:
        assert r.status_code == status, (r.status_code, r.text)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    body = r.json()
    assert isinstance(body, dict), body
    assert type(body["status_code"]) is int, body
    assert body["status_code"] == r.status_code, body
    assert isinstance(body["detail"], str), body
    assert body["detail"].strip(), body
    return dict(body)


async def refresh_tokens(w: World) -> None:
    """New bearer tokens for everyone: a frozen clock moved by more than a token's lifetime expires them."""
    for name in list(w.h):
        w.h[name] = await token(w.client, name)


async def scan(w: World, who: str, tok: str, **counts: int) -> httpx.Response:
    return await w.post(who, "/api/v1/checkins", {"token": tok, **counts})


async def report_row(w: World, year: int, venue_id: int) -> dict[str, Any]:
    r = await w.get("auditor", "/api/v1/reports/venues", params={"year": year})
    assert r.status_code == 200, r.text
    rows = [row for row in r.json()["items"] if row["venue_id"] == venue_id]
    assert len(rows) == 1, r.json()
    return dict(rows[0])


async def snapshot() -> dict[str, Any]:
    """Everything a request could write, to compare before and after a refused one.

    Denied scans are recorded by design (architecture.md §5), so only admissions are compared.
    """
    return {
        "users": await User.select().order_by(User.id),
        "schools": await School.select().order_by(School.id),
        "tokens": await AccessToken.count(),
        "venues": await Venue.select().order_by(Venue.id),
        "staff": await StaffMembership.select().order_by(StaffMembership.id),
        "slots": await Slot.select().order_by(Slot.id),
        "blackouts": await Blackout.select().order_by(Blackout.id),
        "bookings": await Booking.select().order_by(Booking.id),
        "strikes": await Strike.select().order_by(Strike.id),
        "admissions": await CheckIn.select().where(CheckIn.result == "admitted").order_by(CheckIn.id),
    }
