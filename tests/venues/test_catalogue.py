"""The teachers' catalogue, a programme's page and the availability calendars: every filter, which
slots count as open, and a fixed number of queries whatever the number of programmes."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from core import clock, db
from tests.conftest import Clock
from tests.helpers import PASSWORD, World, in_days
from tests.pages.browser_session import PageSession
from venues.catalogue import calendar_range, clean_filters
from venues.tables import Blackout, Programme, Slot, Venue


async def programme(venue_id: int, title: str, **fields: Any) -> int:
    now = clock.now()
    rows = await Programme.insert(
        Programme(venue=venue_id, title=title, created_at=now, updated_at=now, **fields)
    ).returning(Programme.id)
    return int(rows[0]["id"])


async def slot_for(w: World, programme_id: int, venue: str = "a", **kw: Any) -> int:
    s = await w.slot(venue=venue, **kw)
    await Slot.update({Slot.programme: programme_id}).where(Slot.id == s["id"])
    return int(s["id"])


async def teacher(client: httpx.AsyncClient, who: str = "teacher_a") -> PageSession:
    s = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await s.sign_in(who, PASSWORD)
    return s


def titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/programmes/\d+[^"]*">([^<]+)</a></h2>', html)


@pytest.fixture
async def city(client: httpx.AsyncClient, frozen: Clock) -> dict[str, Any]:
    frozen.set(in_days(0, 8, 0))
    w = await World(client).build()
    ocean = await programme(
        w.venue_a,
        "海洋生物探秘",
        grade_bands="primary_high,junior",
        tags="生物·海洋,生态",
        description="认识白鹭与中华白海豚",
    )
    force = await programme(
        w.venue_b, "力学小实验", grade_bands="primary_low", tags="物理·力学", group_max=30
    )
    stars = await programme(w.venue_a, "星空课堂", tags="天文")
    retired = await programme(w.venue_a, "旧展览", retired_at=clock.now())
    slots = {
        "ocean_7": await slot_for(w, ocean, capacity=60, days=7),
        "ocean_20": await slot_for(w, ocean, capacity=60, days=20),
        "force_10": await slot_for(w, force, venue="b", capacity=50, days=10),
        "stars_full": await slot_for(w, stars, capacity=10, days=5),
        "retired": await slot_for(w, retired, capacity=60, days=5),
    }
    await Slot.update({Slot.booked: 10}).where(Slot.id == slots["stars_full"])
    return {"w": w, "ocean": ocean, "force": force, "stars": stars, "retired": retired, "slots": slots}


async def test_catalogue_lists_programmes_with_next_open_slots(
    client: httpx.AsyncClient, city: dict[str, Any]
) -> None:
    t = await teacher(client)
    page = await t.get("/programmes")
    assert page.status_code == 200
    assert sorted(titles(page.text)) == sorted(
        ["海洋生物探秘", "力学小实验", "星空课堂"]
    )  # not the retired one
    assert f"/slots/{city['slots']['ocean_7']}/book" in page.text
    assert f"/slots/{city['slots']['stars_full']}/book" not in page.text  # full
    assert "集美区" in page.text or "Jimei" in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("district=集美区", ["力学小实验"]),
        ("kind=science_museum", ["海洋生物探秘", "星空课堂"]),
        ("band=junior", ["海洋生物探秘", "星空课堂"]),  # an empty band list suits every grade
        ("band=primary_low", ["力学小实验", "星空课堂"]),
        ("tag=力学", ["力学小实验"]),
        ("tag=生物·海洋", ["海洋生物探秘"]),
        ("q=白海豚", ["海洋生物探秘"]),  # description
        ("q=集美学村", ["力学小实验"]),  # venue name
        ("q=%25", ["海洋生物探秘", "力学小实验", "星空课堂"]),  # a LIKE wildcard is not a filter
        ("people=40", ["海洋生物探秘"]),  # force: group max 30; stars: full
        ("people=25", ["海洋生物探秘", "力学小实验"]),
        ("district=nowhere&band=x&people=-3&from=bad", ["海洋生物探秘", "力学小实验", "星空课堂"]),
    ],
)
async def test_each_filter(
    client: httpx.AsyncClient, city: dict[str, Any], query: str, expected: list[str]
) -> None:
    t = await teacher(client)
    page = await t.get(f"/programmes?{query}")
    assert page.status_code == 200
    assert sorted(titles(page.text)) == sorted(expected)


async def test_date_range_and_room_for_n(client: httpx.AsyncClient, city: dict[str, Any]) -> None:
    t = await teacher(client)
    day = lambda n: (clock.today() + timedelta(days=n)).isoformat()  # noqa: E731
    page = await t.get(f"/programmes?from={day(15)}&to={day(25)}")
    assert titles(page.text) == ["海洋生物探秘"]
    assert f"/slots/{city['slots']['ocean_20']}/book" in page.text
    assert f"/slots/{city['slots']['ocean_7']}/book" not in page.text
    page = await t.get(f"/programmes?from={day(8)}&to={day(12)}")
    assert titles(page.text) == ["力学小实验"]
    # 55 people: ocean's slots hold 60 each; fill one and only the other remains.
    await Slot.update({Slot.booked: 10}).where(Slot.id == city["slots"]["ocean_7"])
    page = await t.get("/programmes?people=55")
    assert f"/slots/{city['slots']['ocean_20']}/book" in page.text
    assert f"/slots/{city['slots']['ocean_7']}/book" not in page.text


async def test_open_slots_exclude_cancelled_past_lead_time_and_blackouts(
    client: httpx.AsyncClient, city: dict[str, Any], frozen: Clock
) -> None:
    w: World = city["w"]
    t = await teacher(client)
    s7, s20 = city["slots"]["ocean_7"], city["slots"]["ocean_20"]
    await Slot.update({Slot.cancelled_at: clock.now()}).where(Slot.id == s7)
    page = await t.get(f"/programmes/{city['ocean']}")
    assert f"/slots/{s7}/book" not in page.text and f"/slots/{s20}/book" in page.text
    # The programme's own min lead time (25 days) hides the slot in 20 days.
    await Programme.update({Programme.min_lead_days: 25}).where(Programme.id == city["ocean"])
    page = await t.get(f"/programmes/{city['ocean']}")
    assert f"/slots/{s20}/book" not in page.text
    await Programme.update({Programme.min_lead_days: None}).where(Programme.id == city["ocean"])
    # A blackout day of the venue hides it too.
    await Blackout.insert(Blackout(venue=w.venue_a, day=clock.today() + timedelta(days=20), reason="闭馆"))
    page = await t.get(f"/programmes/{city['ocean']}")
    assert f"/slots/{s20}/book" not in page.text
    # And a slot that has started.
    await Blackout.delete(force=True)
    frozen.set(in_days(20, 10, 0))
    page = await t.get(f"/programmes/{city['ocean']}")
    assert f"/slots/{s20}/book" not in page.text


async def test_programme_page_shows_rules_directions_and_retired_is_hidden(
    client: httpx.AsyncClient, city: dict[str, Any]
) -> None:
    w: World = city["w"]
    await Venue.update(
        {Venue.directions: "地铁1号线文灶站", Venue.contact_phone: "0592-5551234", Venue.min_lead_days: 3}
    ).where(Venue.id == w.venue_b)
    t = await teacher(client)
    page = await t.get(f"/programmes/{city['force']}")
    assert page.status_code == 200
    assert "地铁1号线文灶站" in page.text and "0592-5551234" in page.text
    rules = re.search(r'data-testid="rules">(.*?)</ul>', page.text, re.S)
    assert rules is not None
    assert "30" in rules.group(1) and "3" in rules.group(1)  # programme's group max, venue's lead time
    assert f"/slots/{city['slots']['force_10']}/book" in page.text
    assert (await t.get(f"/programmes/{city['retired']}")).status_code == 404
    assert (await t.get(f"/programmes/{city['retired']}/calendar")).status_code == 404
    assert (await t.get("/programmes/99999999999")).status_code == 404
    # The venue's staff still open a retired programme's page.
    staff = await teacher(client, "staff_a")
    assert (await staff.get(f"/programmes/{city['retired']}")).status_code == 200
    assert (await staff.get(f"/programmes/{city['retired']}/calendar")).status_code == 200


async def test_calendar_month_and_week(client: httpx.AsyncClient, city: dict[str, Any]) -> None:
    t = await teacher(client)
    s7 = city["slots"]["ocean_7"]
    day7 = (clock.today() + timedelta(days=7)).isoformat()
    await Slot.update({Slot.booked: 30}).where(Slot.id == s7)  # 30 of 60 left
    for view in ("month", "week"):
        page = await t.get(f"/programmes/{city['ocean']}/calendar?view={view}&date={day7}&people=25")
        assert page.status_code == 200
        assert re.search(rf'href="/slots/{s7}/book" data-state="room"', page.text)
        page = await t.get(f"/programmes/{city['ocean']}/calendar?view={view}&date={day7}&people=45")
        assert re.search(rf'href="/slots/{s7}/book" data-state="few"', page.text)
    # The venue's calendar has every programme's slots; a full slot is marked, not linked.
    day5 = (clock.today() + timedelta(days=5)).isoformat()
    page = await t.get(f"/venues/{city['w'].venue_a}/calendar?view=week&date={day5}")
    assert f"/slots/{city['slots']['stars_full']}/book" not in page.text
    assert 'data-state="full"' in page.text
    # Bad parameters fall back, never a 500.
    for q in ("view=year&date=2026-13-45&people=abc", "date=1800-01-01", "people=0"):
        assert (await t.get(f"/venues/{city['w'].venue_a}/calendar?{q}")).status_code == 200
    assert (await t.get("/programmes/99999/calendar")).status_code == 404


def test_calendar_range_covers_whole_weeks() -> None:
    from datetime import date

    first, last = calendar_range("month", date(2026, 12, 15))
    assert first.weekday() == 0 and last.weekday() == 6
    assert first <= date(2026, 12, 1) and last >= date(2026, 12, 31)
    first, last = calendar_range("week", date(2026, 12, 17))
    assert (first, last) == (date(2026, 12, 14), date(2026, 12, 20))


def test_clean_filters_ignores_junk() -> None:
    f = clean_filters({"district": "火星", "people": "99999", "from": "2026-02-30", "q": "a%_b\\"})
    assert f.district is None and f.people is None and f.date_from is None and f.q == "ab"


async def test_catalogue_queries_do_not_grow_with_programmes(
    client: httpx.AsyncClient, city: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    t = await teacher(client)
    engine_class = type(db.engine())
    count = {"n": 0}
    original = engine_class.run_querystring

    async def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        count["n"] += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(engine_class, "run_querystring", counting)
    await t.get("/programmes?people=10")
    few = count["n"]
    for i in range(15):
        pid = await programme(city["w"].venue_a, f"课程{i}", tags=f"标签{i}")
        await slot_for(city["w"], pid, capacity=40, days=3 + i)
    count["n"] = 0
    page = await t.get("/programmes?people=10")
    assert len(titles(page.text)) == 12  # a page of the 17
    assert re.search(r"17\D", re.search(r'data-testid="result-count">([^<]*)<', page.text).group(1))  # type: ignore[union-attr]
    assert count["n"] == few, (few, count["n"])
    second = await t.get("/programmes?people=10&page=2")
    assert len(titles(second.text)) == 5
    # Without slot filters a page reads only its own programmes' slots; the count is still of all.
    first = await t.get("/programmes")
    assert len(titles(first.text)) == 12 and "18" in first.text  # 17 and the full one
    assert len(titles((await t.get("/programmes?page=2")).text)) == 6
    assert len(titles((await t.get("/programmes?page=99")).text)) == 6  # past the end: the last page


async def test_programmes_api(client: httpx.AsyncClient, city: dict[str, Any]) -> None:
    w: World = city["w"]
    r = await w.get("teacher_a", "/api/v1/programmes", params={"people": 25})
    assert r.status_code == 200, r.text
    items = {i["title"]: i for i in r.json()["items"]}
    assert sorted(items) == ["力学小实验", "海洋生物探秘"]
    force = items["力学小实验"]
    assert force["group_max"] == 30 and force["tags"] == ["物理·力学"] and force["district"] == "集美区"
    assert [s["id"] for s in force["next_slots"]] == [city["slots"]["force_10"]]
    assert force["next_slots"][0]["remaining"] == 50
    r = await w.get("teacher_a", "/api/v1/programmes", params={"band": "primary_low", "tag": "力学"})
    assert [i["title"] for i in r.json()["items"]] == ["力学小实验"]
    for bad in ({"band": "kindergarten"}, {"people": "0"}, {"from": "2026-02-30"}, {"district": "火星"}):
        r = await w.get("teacher_a", "/api/v1/programmes", params=bad)
        assert r.status_code == 400, (bad, r.text)
    assert (await client.get("/api/v1/programmes")).status_code == 401
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/programmes" in schema["paths"]
