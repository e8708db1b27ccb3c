"""City targets of the science-literacy plan (issue 6) against a hand-built city, on both engines.

Year 2030. Venues (World's two plus five):
- A 厦门科技馆 (science_museum, 思明区), accredited active: two slots with admissions → 2 sessions.
- B 集美学村科普基地 (education_base, 集美区), accredited active under the *venue* profile (so it counts
  as a general venue): one slot with two admitted groups → 1 session; one withdrawn activity (not counted);
  a 2031 slot with an admission (another year).
- L1 lab (laboratory, 湖里区): one slot with an admission + one recorded activity → opened; 2 in 湖里.
- L2 lab (laboratory, 海沧区): one recorded activity only → opened.
- L3 lab (laboratory, 同安区): its only admission reversed, and one waiting for review → not opened.
- L4 (education_base, 海沧区) accredited under the *lab* profile: one recorded activity → opened.
- M 华侨博物院 (museum, 湖里区), accredited but under rectification → not a counted general venue.
The lab profile is made easy (1 open day = 100 points), so L1 is graded excellent and L2/L4 are not.

With the targets {labs 3, activities 2 per district, general venues 1 per district, excellent 1}:
labs 3 (L1, L2, L4) → met; activities: 思明 2, 湖里 2, 海沧 2 reach it, 集美 1, 同安 0, 翔安 0 do not → 3/6,
not met; general venues: 思明 and 集美 → 2/6, not met; excellent: 1 → met.
With the plan's figures (5, 50, 1, 20) none of the four is met.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import httpx
import pytest

from activities.tables import Activity
from bookings.tables import CheckIn
from core import clock
from evaluation import targets
from registry.defaults import ensure_profiles
from registry.tables import Accreditation, CityTarget, ThresholdProfile
from tests.api_support import refresh_tokens, scan
from tests.conftest import Clock
from tests.helpers import PASSWORD, World, iso, make_user, token
from tests.pages.browser_session import PageSession

YEAR = 2030


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=clock.TZ)


async def _venue(w: World, name: str, kind: str, district: str) -> int:
    r = await w.post("auditor", "/api/v1/venues", {"name": name, "kind": kind, "district": district})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _slot(w: World, venue_id: int, day: date) -> int:
    r = await w.post(
        "auditor",
        f"/api/v1/venues/{venue_id}/slots",
        {"starts_at": iso(at(day, 10)), "ends_at": iso(at(day, 12)), "capacity": 100},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _admit(w: World, frozen: Clock, day: date, slot_id: int, staff: str, who: str = "teacher_a") -> int:
    frozen.set(at(date(YEAR, 2, 1), 8))
    await refresh_tokens(w)
    r = await w.book(slot_id, 20, 2, who=who)
    assert r.status_code == 201, r.text
    booking = r.json()
    frozen.set(at(day, 9))
    await refresh_tokens(w)
    r = await scan(w, staff, booking["code"], students=20, chaperones=2)
    assert r.status_code == 200, r.text
    row = await CheckIn.select(CheckIn.id).where(CheckIn.booking == booking["id"]).first()
    assert row is not None
    return int(row["id"])


async def _activity(venue_id: int, day: date, *, withdrawn: bool = False) -> None:
    now = clock.now()
    await Activity.insert(
        Activity(
            venue=venue_id,
            kind="lecture",
            title="科普讲座",
            starts_on=day,
            ends_on=day,
            attendance=80,
            created_at=now,
            updated_at=now,
            withdrawn_at=now if withdrawn else None,
            withdraw_reason="重复" if withdrawn else "",
        )
    )


async def _accredit(venue_id: int, status: str = "active", profile_code: str | None = None) -> None:
    await ensure_profiles()
    profile = None
    if profile_code:
        row = (
            await ThresholdProfile.select(ThresholdProfile.id)
            .where(ThresholdProfile.code == profile_code)
            .first()
        )
        assert row is not None
        profile = row["id"]
    now = clock.now()
    await Accreditation.insert(
        Accreditation(venue=venue_id, status=status, profile=profile, created_at=now, updated_at=now)
    )


@pytest.fixture
async def city(client: httpx.AsyncClient, frozen: Clock) -> dict[str, Any]:
    frozen.set(at(date(YEAR, 1, 10), 8))
    w = await World(client).build()
    v: dict[str, int] = {"A": w.venue_a, "B": w.venue_b}
    v["L1"] = await _venue(w, "厦门大学海洋实验室", "laboratory", "湖里区")
    v["L2"] = await _venue(w, "海沧生物医药实验室", "laboratory", "海沧区")
    v["L3"] = await _venue(w, "同安农科所实验室", "laboratory", "同安区")
    v["L4"] = await _venue(w, "海沧企业研发中心", "education_base", "海沧区")
    v["M"] = await _venue(w, "华侨博物院", "museum", "湖里区")
    for name in ("L1", "L3"):
        await make_user(f"staff_{name}", "staff", venue_id=v[name])
        w.h[f"staff_{name}"] = await token(client, f"staff_{name}")
    await make_user("super_L3", "staff", venue_id=v["L3"], staff_role="supervisor")
    w.h["super_L3"] = await token(client, "super_L3")

    await _accredit(v["A"])
    await _accredit(v["B"], profile_code="venue")
    await _accredit(v["L4"], profile_code="lab")
    await _accredit(v["M"], status="rectification")
    # The lab profile made easy: one open day earns every point.
    config = {
        "metrics": {"open_days": {"threshold": 1, "weight": 1}},
        "bands": {"excellent": 90, "good": 70, "pass": 60},
    }
    await ThresholdProfile.update({ThresholdProfile.config: json.dumps(config)}).where(
        ThresholdProfile.code == "lab"
    )

    a1, a2 = await _slot(w, v["A"], date(YEAR, 3, 4)), await _slot(w, v["A"], date(YEAR, 4, 8))
    await _admit(w, frozen, date(YEAR, 3, 4), a1, "staff_a")
    await _admit(w, frozen, date(YEAR, 4, 8), a2, "staff_a")
    b1 = await _slot(w, v["B"], date(YEAR, 5, 6))
    await _admit(w, frozen, date(YEAR, 5, 6), b1, "staff_b", who="teacher_a")
    await _admit(w, frozen, date(YEAR, 5, 6), b1, "staff_b", who="teacher_b")
    b_next = await _slot(w, v["B"], date(YEAR + 1, 1, 8))
    l1 = await _slot(w, v["L1"], date(YEAR, 6, 3))
    await _admit(w, frozen, date(YEAR, 6, 3), l1, "staff_L1")
    l3 = await _slot(w, v["L3"], date(YEAR, 6, 10))
    reversed_id = await _admit(w, frozen, date(YEAR, 6, 10), l3, "staff_L3")
    r = await w.post("super_L3", f"/api/v1/checkins/{reversed_id}/reverse", {"reason": "扫错了"})
    assert r.status_code == 200, r.text
    l3b = await _slot(w, v["L3"], date(YEAR, 6, 17))
    frozen.set(at(date(YEAR, 2, 1), 8))
    await refresh_tokens(w)
    r = await w.book(l3b, 10, 1, who="teacher_b")
    assert r.status_code == 201, r.text
    await CheckIn.insert(
        CheckIn(
            booking=r.json()["id"],
            venue=v["L3"],
            result="admitted",
            students=10,
            chaperones=1,
            needs_review=True,
            offline=True,
            created_at=at(date(YEAR, 6, 17), 9),
        )
    )
    await _admit(w, frozen, date(YEAR + 1, 1, 8), b_next, "staff_b")

    await _activity(v["L1"], date(YEAR, 9, 1))
    await _activity(v["L2"], date(YEAR, 10, 1))
    await _activity(v["L4"], date(YEAR, 11, 1))
    await _activity(v["B"], date(YEAR, 7, 1), withdrawn=True)
    await _activity(v["L2"], date(YEAR - 1, 12, 31))  # another year
    frozen.set(at(date(YEAR + 1, 1, 20), 9))
    await refresh_tokens(w)
    return {"w": w, "v": v}


def _result(city_targets: targets.CityTargets, code: str) -> targets.TargetResult:
    return next(r for r in city_targets.results if r.code == code)


def _districts(result: targets.TargetResult) -> dict[str, tuple[int, bool]]:
    return {line.district: (line.figure, line.met) for line in result.districts}


async def test_figures_against_the_plans_targets(city: dict[str, Any]) -> None:
    v = city["v"]
    got = await targets.city_targets(YEAR)
    assert [r.code for r in got.results] == list(targets.TARGETS)
    labs = _result(got, "lab_organisations")
    assert (labs.target, labs.figure, labs.met) == (5, 3, False)
    assert {b.venue_id for b in labs.bases} == {v["L1"], v["L2"], v["L4"]}
    assert [b.venue_id for b in labs.others] == [v["L3"]]
    l1 = next(b for b in labs.bases if b.venue_id == v["L1"])
    assert (l1.sessions, l1.activities) == (1, 1)

    acts = _result(got, "district_activities")
    assert (acts.target, acts.figure, acts.out_of, acts.met) == (50, 0, 6, False)
    assert {d: f for d, (f, _m) in _districts(acts).items()} == {
        "思明区": 2,
        "湖里区": 2,
        "集美区": 1,
        "海沧区": 2,
        "同安区": 0,
        "翔安区": 0,
    }

    general = _result(got, "general_venues")
    assert (general.target, general.figure, general.met) == (1, 2, False)
    lines = {line.district: line for line in general.districts}
    assert [b.venue_id for b in lines["思明区"].bases] == [v["A"]]
    assert [b.venue_id for b in lines["集美区"].bases] == [v["B"]]
    assert lines["湖里区"].bases == [] and [b.venue_id for b in lines["湖里区"].others] == [v["M"]]

    excellent = _result(got, "excellent_bases")
    assert (excellent.target, excellent.figure, excellent.met) == (20, 1, False)
    assert [b.venue_id for b in excellent.bases] == [v["L1"]]
    assert got.met_count == 0

    # The next year has its own figures: B's 2031 session and nothing else.
    later = await targets.city_targets(YEAR + 1)
    assert _districts(_result(later, "district_activities"))["集美区"] == (1, False)
    assert _result(later, "lab_organisations").figure == 0


async def auditor_session(client: httpx.AsyncClient) -> PageSession:
    s = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await s.sign_in("auditor", PASSWORD)
    await s.get("/lang/en?next=/audit")
    return s


async def test_page_shows_figures_and_auditor_sets_targets(
    city: dict[str, Any], client: httpx.AsyncClient
) -> None:
    v = city["v"]
    s = await auditor_session(client)
    page = await s.get(f"/audit/targets?year={YEAR}")
    assert page.status_code == 200, page.text[:500]
    assert "0/4" in page.text  # targets met
    assert f'href="/audit/scorecards/{v["L1"]}?year={YEAR}"' in page.text
    assert f'href="/audit/bases/{v["B"]}"' in page.text
    assert 'name="target_lab_organisations"' in page.text and 'value="5"' in page.text

    # Bad input: a clear 400 with the form again, nothing saved.
    bad = {
        "year": str(YEAR),
        "target_lab_organisations": "-1",
        "target_district_activities": "abc",
        "target_general_venues": "1",
        "target_excellent_bases": "20",
    }
    r = await s.post("/audit/targets", bad)
    assert r.status_code == 400
    assert "Enter a whole number from 0 to" in r.text
    assert await CityTarget.count() == 0

    good = {
        "year": str(YEAR),
        "target_lab_organisations": "3",
        "target_district_activities": "2",
        "target_general_venues": "1",
        "target_excellent_bases": "1",
    }
    r = await s.post("/audit/targets", good)
    assert r.status_code == 303 and r.headers["location"] == f"/audit/targets?year={YEAR}"
    assert await targets.load_targets() == {
        "lab_organisations": 3,
        "district_activities": 2,
        "general_venues": 1,
        "excellent_bases": 1,
    }
    got = await targets.city_targets(YEAR)
    assert [(r.code, r.figure, r.met) for r in got.results] == [
        ("lab_organisations", 3, True),
        ("district_activities", 3, False),
        ("general_venues", 2, False),
        ("excellent_bases", 1, True),
    ]
    assert _districts(_result(got, "district_activities")) == {
        "思明区": (2, True),
        "湖里区": (2, True),
        "集美区": (1, False),
        "海沧区": (2, True),
        "同安区": (0, False),
        "翔安区": (0, False),
    }
    page = await s.get(f"/audit/targets?year={YEAR}")
    assert "2/4" in page.text
    # Saving again updates the same rows.
    r = await s.post("/audit/targets", {**good, "target_excellent_bases": "2"})
    assert r.status_code == 303
    assert await CityTarget.count() == 4
    assert (await targets.load_targets())["excellent_bases"] == 2
    assert not _result(await targets.city_targets(YEAR), "excellent_bases").met

    # A year out of range is a clear 4xx, not a 500.
    r = await s.get("/audit/targets?year=1800")
    assert 400 <= r.status_code < 500


async def test_teachers_and_staff_cannot_see_or_change_targets(
    city: dict[str, Any], client: httpx.AsyncClient
) -> None:
    for who in ("teacher_a", "staff_a"):
        s = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
        await s.sign_in(who, PASSWORD)
        for url in (f"/audit/targets?year={YEAR}", f"/audit/campaigns?year={YEAR}"):
            assert (await s.get(url)).status_code == 403, (who, url)
        r = await s.post("/audit/targets", {"year": str(YEAR), "target_lab_organisations": "0"})
        assert r.status_code == 403
        r = await s.post("/audit/campaigns", {"year": str(YEAR), "science_week_from": f"{YEAR}-05-01"})
        assert r.status_code == 403
    assert await CityTarget.count() == 0
    anon = await client.get("/audit/targets")
    assert anon.status_code in (302, 303) and anon.headers["location"].startswith("/login")
