"""api.md "Reports": the auditor's yearly table per venue, counted from slots, bookings and check-ins."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from core import clock
from tests.api_support import assert_error, refresh_tokens, scan
from tests.conftest import Clock
from tests.helpers import World

URL = "/api/v1/reports/venues"
KEYS = [
    "venue_id",
    "venue_name",
    "district",
    "kind",
    "slots",
    "bookings",
    "people_booked",
    "people_admitted",
    "students_admitted",
    "no_show_bookings",
]
FIGURES = KEYS[4:]


def t(month: int, day: int, hour: int, minute: int = 0, year: int = 2030) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=clock.TZ)


async def new_slot(w: World, starts: datetime, ends: datetime, venue: str = "a", capacity: int = 200) -> int:
    return int((await w.slot(capacity=capacity, venue=venue, starts_at=starts, ends_at=ends))["id"])


async def new_booking(w: World, slot_id: int, students: int, chaperones: int, who: str = "teacher_a") -> Any:
    r = await w.book(slot_id, students, chaperones, who=who)
    assert r.status_code == 201, r.text
    return r.json()


async def report(w: World, year: int, **params: Any) -> dict[str, Any]:
    r = await w.get("auditor", URL, params={"year": year, **params})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["year"] == year
    return dict(body)


def by_venue(body: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {row["venue_id"]: row for row in body["items"]}


def figures(row: dict[str, Any]) -> dict[str, int]:
    return {k: row[k] for k in FIGURES}


@pytest.fixture
async def world(client: httpx.AsyncClient, frozen: Clock) -> World:
    frozen.set(t(3, 1, 8))
    return await World(client).build()


async def test_auditors_only(world: World) -> None:
    for who in ("teacher_a", "staff_a", "staff_b"):
        assert_error(await world.get(who, URL, params={"year": 2030}), 403)
        assert_error(await world.get(who, URL, params={"year": 2030, "format": "csv"}), 403)
    assert (await world.get("auditor", URL, params={"year": 2030})).status_code == 200


async def test_one_row_per_venue_with_zeros(world: World) -> None:
    r = await world.post(
        "auditor",
        "/api/v1/venues",
        {"name": "海沧区青少年宫", "kind": "community_site", "district": "海沧区"},
    )
    empty = r.json()["id"]
    await new_slot(world, t(3, 2, 10), t(3, 2, 12))
    body = await report(world, 2030)
    rows = by_venue(body)
    assert len(body["items"]) == 3
    assert set(rows) == {world.venue_a, world.venue_b, empty}
    for row in body["items"]:
        assert set(KEYS) <= set(row), row
    assert rows[empty]["venue_name"] == "海沧区青少年宫"
    assert rows[empty]["district"] == "海沧区"
    assert rows[empty]["kind"] == "community_site"
    assert figures(rows[empty]) == dict.fromkeys(FIGURES, 0)
    assert figures(rows[world.venue_b]) == dict.fromkeys(FIGURES, 0)
    assert rows[world.venue_a]["slots"] == 1
    assert (
        rows[world.venue_a]["venue_name"],
        rows[world.venue_a]["district"],
        rows[world.venue_a]["kind"],
    ) == ("厦门科技馆", "思明区", "science_museum")
    # Another year: every venue is still listed, with zeros.
    other = await report(world, 2029)
    assert len(other["items"]) == 3
    assert all(figures(row) == dict.fromkeys(FIGURES, 0) for row in other["items"])


async def test_figures(world: World, frozen: Clock) -> None:
    w = world
    s1 = await new_slot(w, t(3, 1, 10), t(3, 1, 12))
    s2 = await new_slot(w, t(3, 2, 10), t(3, 2, 12))
    s3 = await new_slot(w, t(4, 1, 10), t(4, 1, 12))
    s_empty = await new_slot(w, t(5, 1, 10), t(5, 1, 12))  # noqa: F841  (a slot nobody booked)
    b1 = await new_booking(w, s1, 30, 2)
    await new_booking(w, s1, 20, 3, who="teacher_b")  # no-show
    b3 = await new_booking(w, s2, 10, 1)  # cancelled: not counted at all
    await new_booking(w, s2, 15, 1, who="teacher_a2")  # no-show
    await new_booking(w, s3, 5, 0)  # its slot has not ended yet
    assert (await w.post("teacher_a", f"/api/v1/bookings/{b3['id']}/cancel")).status_code == 200
    vb = await new_slot(w, t(3, 5, 9), t(3, 5, 11), venue="b")
    await new_booking(w, vb, 10, 2, who="teacher_b")
    next_year = await new_slot(w, t(1, 10, 9, year=2031), t(1, 10, 11, year=2031), venue="b")
    await new_booking(w, next_year, 40, 4, who="teacher_b")

    # Before anything happened: booked, nothing admitted, no slot over yet.
    rows = by_venue(await report(w, 2030))
    assert figures(rows[w.venue_a]) == {
        "slots": 4,
        "bookings": 4,
        "people_booked": 32 + 23 + 16 + 5,
        "people_admitted": 0,
        "students_admitted": 0,
        "no_show_bookings": 0,
    }

    # Only part of b1's class comes, in two parts: admissions count what the door recorded.
    frozen.set(t(3, 1, 10, 5))
    assert (await scan(w, "staff_a", b1["qr_token"], students=20, chaperones=1)).status_code == 200
    assert (await scan(w, "staff_a", b1["qr_token"], students=5)).status_code == 200
    assert (await scan(w, "staff_a", b1["qr_token"])).status_code == 409  # a rescan adds nobody
    frozen.set(t(3, 2, 13))
    await refresh_tokens(w)
    rows = by_venue(await report(w, 2030))
    assert figures(rows[w.venue_a]) == {
        "slots": 4,
        "bookings": 4,
        "people_booked": 76,
        "people_admitted": 26,
        "students_admitted": 25,
        "no_show_bookings": 2,  # b2 (slot 1 over, nobody came) and the booking in slot 2
    }
    assert figures(rows[w.venue_b]) == {
        "slots": 1,
        "bookings": 1,
        "people_booked": 12,
        "people_admitted": 0,
        "students_admitted": 0,
        "no_show_bookings": 0,
    }
    rows_2031 = by_venue(await report(w, 2031))
    assert figures(rows_2031[w.venue_b]) == {
        "slots": 1,
        "bookings": 1,
        "people_booked": 44,
        "people_admitted": 0,
        "students_admitted": 0,
        "no_show_bookings": 0,
    }
    assert figures(rows_2031[w.venue_a]) == dict.fromkeys(FIGURES, 0)

    # Once every slot is over, the bookings nobody came for are no-shows; the cancelled one is not.
    frozen.set(t(12, 31, 23, 59))
    await refresh_tokens(w)
    rows = by_venue(await report(w, 2030))
    assert rows[w.venue_a]["no_show_bookings"] == 3
    assert rows[w.venue_b]["no_show_bookings"] == 1
    assert rows[w.venue_a]["people_admitted"] == 26


async def test_a_slot_in_progress_is_not_a_no_show_yet(world: World, frozen: Clock) -> None:
    s = await new_slot(world, t(3, 1, 10), t(3, 1, 12))
    await new_booking(world, s, 10, 1)
    frozen.set(t(3, 1, 11, 59))
    assert by_venue(await report(world, 2030))[world.venue_a]["no_show_bookings"] == 0
    frozen.set(t(3, 1, 12, 1))
    assert by_venue(await report(world, 2030))[world.venue_a]["no_show_bookings"] == 1


async def test_year_bounds_are_shanghai(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(t(12, 30, 12, year=2025))
    w = await World(client).build()
    new_year = await new_slot(w, t(1, 1, 0, 30, year=2026), t(1, 1, 2, year=2026))  # 2025-12-31 16:30 UTC
    old_year = await new_slot(w, t(12, 31, 23, 30, year=2025), t(1, 1, 1, year=2026))  # 15:30 UTC
    await new_booking(w, new_year, 7, 1)
    await new_booking(w, old_year, 10, 0)
    in_2026 = by_venue(await report(w, 2026))[w.venue_a]
    in_2025 = by_venue(await report(w, 2025))[w.venue_a]
    assert (in_2026["slots"], in_2026["bookings"], in_2026["people_booked"]) == (1, 1, 8)
    assert (in_2025["slots"], in_2025["bookings"], in_2025["people_booked"]) == (1, 1, 10)
    # The first slot is still in 2025 in UTC: the year is Xiamen's, not UTC's.
    r = await w.get("auditor", f"/api/v1/slots/{new_year}")
    starts = datetime.fromisoformat(r.json()["starts_at"].replace("Z", "+00:00"))
    assert starts.astimezone(UTC) == datetime(2025, 12, 31, 16, 30, tzinfo=UTC)
    assert by_venue(await report(w, 2024))[w.venue_a]["slots"] == 0
    assert by_venue(await report(w, 2027))[w.venue_a]["slots"] == 0


async def test_missing_or_absurd_year(world: World) -> None:
    assert_error(await world.get("auditor", URL))
    for year in ("", "abc", "-1", "0", "99999", "10" + "0" * 30, "2026.5", "true", "1e3", "20 26", "1899"):
        r = await world.get("auditor", URL, params={"year": year})
        assert_error(r)
        r = await world.get("auditor", URL, params={"year": year, "format": "csv"})
        assert_error(r)


async def as_auditor(w: World, headers: dict[str, str]) -> httpx.Response:
    return await w.client.get(URL, params={"year": 2030}, headers={**w.h["auditor"], **headers})


def parse_csv(r: httpx.Response) -> list[list[str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0].strip() == "text/csv"
    assert r.content.startswith(b"\xef\xbb\xbf"), r.content[:10]
    text = r.content.decode("utf-8-sig")
    assert not text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_csv(world: World, frozen: Clock) -> None:
    w = world
    await w.post(
        "auditor", "/api/v1/venues", {"name": '同安, "影视"城', "kind": "museum", "district": "同安区"}
    )
    s = await new_slot(w, t(3, 1, 10), t(3, 1, 12))
    b = await new_booking(w, s, 30, 2)
    frozen.set(t(3, 1, 10, 30))
    assert (await scan(w, "staff_a", b["code"], students=28)).status_code == 200
    body = await report(w, 2030)
    keys = list(body["items"][0])

    by_param = parse_csv(await w.get("auditor", URL, params={"year": 2030, "format": "csv"}))
    by_accept = parse_csv(await as_auditor(w, {"Accept": "text/csv"}))
    assert by_param == by_accept
    header, *lines = by_param
    assert header == keys
    assert set(KEYS) <= set(header)
    assert len(lines) == len(body["items"]) == 3
    for line, row in zip(lines, body["items"], strict=True):
        assert line == [str(row[k]) for k in keys]
    names = [line[header.index("venue_name")] for line in lines]
    assert "厦门科技馆" in names and '同安, "影视"城' in names
    mine = dict(zip(header, lines[names.index("厦门科技馆")], strict=True))
    assert (mine["people_admitted"], mine["students_admitted"], mine["people_booked"]) == ("30", "28", "32")
    # JSON stays the default.
    plain = await as_auditor(w, {"Accept": "application/json"})
    assert plain.headers["content-type"].startswith("application/json")


async def test_csv_by_accept_weights_and_unknown_format(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    for accept, media in (
        ("text/csv, application/json;q=0.5", "text/csv"),
        ("application/json, text/csv;q=0.5", "application/json"),
    ):
        headers = {"Accept": accept, **w.h["auditor"]}
        r = await client.get(URL, params={"year": 2030}, headers=headers)
        assert r.headers["content-type"].startswith(media)
    r = await w.get("auditor", URL, params={"year": 2030, "format": "xml"})
    assert_error(r, 400)
