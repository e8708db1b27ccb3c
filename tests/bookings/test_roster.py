"""The day roster: slots of the day, groups arrived / partly / not yet, occupancy, notes, CSV, print."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession


async def _scene(
    client: httpx.AsyncClient, frozen: Clock
) -> tuple[World, dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    frozen.set(at(8))
    w = await World(client).build()
    morning = await w.slot(capacity=100, starts_at=at(9, 30), ends_at=at(11, 30), title="上午场")
    afternoon = await w.slot(capacity=50, starts_at=at(14), ends_at=at(16))
    await w.slot(capacity=40, starts_at=at(10, days=1), ends_at=at(12, days=1))  # tomorrow: not listed
    await w.slot(capacity=40, venue="b", starts_at=at(10), ends_at=at(12))  # other venue: not listed
    b1 = (
        await w.book(
            morning["id"],
            30,
            2,
            class_name="三班",
            buses=2,
            arrival_time="09:15",
            lunch_space=True,
            accessibility="一名学生使用轮椅",
            special_requests="希望安排讲解员",
            lead_teacher_name="林老师",
        )
    ).json()
    b2 = (await w.book(morning["id"], 20, 2, who="teacher_b", class_name="五班")).json()
    b3 = (await w.book(morning["id"], 10, 1, who="teacher_a2", class_name="七班")).json()
    cancelled = (await w.book(morning["id"], 5, 1, who="teacher_a2", class_name="退订班")).json()
    assert (await w.post("teacher_a2", f"/api/v1/bookings/{cancelled['id']}/cancel")).status_code == 200
    frozen.set(at(9, 20))
    assert (await w.post("staff_a", "/api/v1/checkins", {"token": b1["qr_token"]})).status_code == 200
    r = await w.post("staff_a", "/api/v1/checkins", {"token": b2["code"], "students": 10, "chaperones": 1})
    assert r.status_code == 200
    return w, morning, afternoon, [b1, b2, b3]


async def test_roster_page(client: httpx.AsyncClient, frozen: Clock) -> None:
    _w, morning, afternoon, (b1, b2, b3) = await _scene(client, frozen)
    s = PageSession(client)
    await s.sign_in("staff_a", PASSWORD)
    r = await s.get("/staff/roster")
    assert r.status_code == 200, r.text[:500]
    text = r.text
    assert "2030-05-20" in text
    assert f'data-testid="roster-slot-{morning["id"]}"' in text
    assert f'data-testid="roster-slot-{afternoon["id"]}"' in text
    assert text.count('data-testid="roster-slot-') == 2
    assert f'data-testid="roster-group-{b1["id"]}" data-arrival="arrived"' in text
    assert f'data-testid="roster-group-{b2["id"]}" data-arrival="partly"' in text
    assert f'data-testid="roster-group-{b3["id"]}" data-arrival="not_yet"' in text
    assert "退订班" not in text
    for note in ("一名学生使用轮椅", "希望安排讲解员", "09:15", "林老师"):
        assert note in text, note
    # Chinese first: labels and occupancy (32 + 11 admitted of 100 in the morning slot).
    assert "已到齐" in text and "部分到达" in text and "未到" in text
    assert "43" in text and "/staff/roster.csv?date=2030-05-20" in text
    assert f"/staff/bookings/{b1['id']}/checkins" in text
    # Another day, and a bad date.
    tomorrow = await s.get("/staff/roster?date=2030-05-21")
    assert tomorrow.status_code == 200 and 'data-testid="roster-slot-' in tomorrow.text
    assert (await s.get("/staff/roster?date=garbage")).status_code == 400
    assert (await s.get("/staff/roster?date=2030-13-01")).status_code == 400
    # Linked from the dashboard and the nav.
    assert 'href="/staff/roster"' in (await s.get("/staff")).text


async def test_roster_csv(client: httpx.AsyncClient, frozen: Clock) -> None:
    _w, _morning, _afternoon, (b1, b2, b3) = await _scene(client, frozen)
    s = PageSession(client)
    await s.sign_in("staff_a", PASSWORD)
    r = await s.get("/staff/roster.csv?date=2030-05-20")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 1 + 3 + 1  # header, three groups, the empty afternoon slot
    by_code = {row[11]: row for row in rows[1:] if row[11]}
    assert by_code[b1["code"]][10] == "已到齐"
    assert by_code[b2["code"]][10] == "部分到达"
    assert by_code[b3["code"]][8:11] == ["0", "0", "未到"]
    assert "一名学生使用轮椅" in by_code[b1["code"]][12]
    assert (await s.get("/staff/roster.csv?date=nope")).status_code == 400


async def test_roster_is_for_staff_only(client: httpx.AsyncClient, frozen: Clock) -> None:
    await _scene(client, frozen)
    anon = await client.get("/staff/roster")
    assert anon.status_code in (302, 303, 401)
    s = PageSession(client)
    await s.sign_in("teacher_a", PASSWORD)
    assert (await s.get("/staff/roster")).status_code == 403
    assert (await s.get("/staff/roster.csv")).status_code == 403


async def test_roster_is_one_query(
    client: httpx.AsyncClient, frozen: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accounts.schemas import UserView
    from bookings import roster
    from bookings.tables import Booking

    w, *_ = await _scene(client, frozen)
    calls = []
    real = Booking.raw

    def counting(*a: Any, **k: Any) -> Any:
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(Booking, "raw", counting)
    actor = UserView(id=1, username="x", role="staff", display_name="x", venue_id=w.venue_a)
    result = await roster.day_roster(actor)
    assert len(calls) == 1
    assert [len(s.groups) for s in result.slots] == [3, 0]
    assert result.occupancy == 43 and result.capacity == 150 and result.expected == 32 + 22 + 11
