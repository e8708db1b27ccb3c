"""Every scorecard metric against a hand-computed fixture (issue 6), on both engines.

Venue A (science museum → 场馆类 profile), year 2030, every slot has room for 100:
- s1, Monday 4 March: b1 30+2 (一中, 思明区) admitted in one scan; b2 20+3 (集美中学, 集美区) arrives
  in two scans, 10+1 then 5+1 (partial arrival), plus a denied rescan.
- s2, Saturday 9 March: b3 15+1 (一中) admitted, then the admission is reversed → a no-show.
- s3, Saturday of Science Week: b4 10+1 (一中) admitted.
- s4, Tuesday 12 March: b5 8+1 admitted, reversed, then cancelled → counted nowhere.
- s5, Wednesday 13 March: b6 5+1 (集美中学), nobody comes → a no-show.
- an admitted check-in of b1 flagged needs_review (50 people) → not counted.
Venue B (education base → 公共场所类): b7 10+2 admitted in December. Venue C: nothing at all.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import openpyxl
import pytest

from bookings.tables import CheckIn
from core import clock
from evaluation import scorecard
from tests.api_support import refresh_tokens, scan
from tests.conftest import Clock
from tests.helpers import PASSWORD, World, make_user, token
from tests.pages.browser_session import PageSession


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=clock.TZ)


def weekday_in(year: int, month: int, day: int, weekday: int) -> date:
    d = date(year, month, day)
    return d + timedelta(days=(weekday - d.weekday()) % 7)


MON = weekday_in(2030, 3, 4, 0)
SAT = weekday_in(2030, 3, 9, 5)
TUE = MON + timedelta(days=8)
WED = MON + timedelta(days=9)
WEEK_SAT = scorecard.campaign_periods(2030)["science_week"][0] + timedelta(days=5)
DEC = date(2030, 12, 10)


async def _slot(w: World, day: date, venue: str = "a") -> int:
    return int((await w.slot(capacity=100, venue=venue, starts_at=at(day, 10), ends_at=at(day, 12)))["id"])


async def _book(w: World, slot_id: int, students: int, chaperones: int, who: str) -> dict[str, Any]:
    r = await w.book(slot_id, students, chaperones, who=who)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _admit(
    w: World, frozen: Clock, day: date, booking: dict[str, Any], staff: str = "staff_a", **n: int
) -> int:
    frozen.set(at(day, 9, 50))
    await refresh_tokens(w)
    r = await scan(w, staff, booking["code"], **n)
    assert r.status_code == 200, r.text
    row = (
        await CheckIn.select(CheckIn.id)
        .where(CheckIn.booking == booking["id"])
        .order_by(CheckIn.id, ascending=False)
        .first()
    )
    assert row is not None
    return int(row["id"])


@pytest.fixture
async def city(client: httpx.AsyncClient, frozen: Clock) -> dict[str, Any]:
    frozen.set(at(date(2030, 2, 1), 8))
    w = await World(client).build()
    await make_user("super_a", "staff", venue_id=w.venue_a, staff_role="supervisor")
    w.h["super_a"] = await token(client, "super_a")
    r = await w.post(
        "auditor",
        "/api/v1/venues",
        {"name": "海沧区青少年宫", "kind": "community_site", "district": "海沧区"},
    )
    venue_c = r.json()["id"]
    s1, s2, s3, s4, s5 = [await _slot(w, d) for d in (MON, SAT, WEEK_SAT, TUE, WED)]
    s7 = await _slot(w, DEC, venue="b")
    s_next = await _slot(w, date(2031, 1, 6), venue="b")
    b1 = await _book(w, s1, 30, 2, "teacher_a")
    b2 = await _book(w, s1, 20, 3, "teacher_b")
    b3 = await _book(w, s2, 15, 1, "teacher_a2")
    b4 = await _book(w, s3, 10, 1, "teacher_a")
    b5 = await _book(w, s4, 8, 1, "teacher_a")
    b6 = await _book(w, s5, 5, 1, "teacher_b")
    b7 = await _book(w, s7, 10, 2, "teacher_b")
    b_next = await _book(w, s_next, 40, 4, "teacher_b")

    first = await _admit(w, frozen, MON, b1, students=30, chaperones=2)
    await _admit(w, frozen, MON, b2, students=10, chaperones=1)
    await _admit(w, frozen, MON, b2, students=5, chaperones=1)
    assert (await scan(w, "staff_a", b1["code"])).status_code == 409  # denied: recorded, not counted
    # A conflicting offline admission waiting for review: kept, never counted.
    await CheckIn.insert(
        CheckIn(
            booking=b1["id"],
            venue=w.venue_a,
            result="admitted",
            students=40,
            chaperones=10,
            needs_review=True,
            offline=True,
            created_at=clock.now(),
        )
    )
    reversed_b3 = await _admit(w, frozen, SAT, b3, students=15, chaperones=1)
    r = await w.post("super_a", f"/api/v1/checkins/{reversed_b3}/reverse", {"reason": "扫错了"})
    assert r.status_code == 200, r.text
    await _admit(w, frozen, WEEK_SAT, b4, students=10, chaperones=1)
    reversed_b5 = await _admit(w, frozen, TUE, b5, students=8, chaperones=1)
    r = await w.post("super_a", f"/api/v1/checkins/{reversed_b5}/reverse", {"reason": "误扫"})
    assert r.status_code == 200, r.text
    r = await w.post("teacher_a", f"/api/v1/bookings/{b5['id']}/cancel")
    assert r.status_code == 200, r.text
    await _admit(w, frozen, DEC, b7, staff="staff_b", students=10, chaperones=2)
    frozen.set(at(date(2031, 1, 10), 9))
    await refresh_tokens(w)
    del first, b_next
    return {"w": w, "venue_c": venue_c, "b3": b3, "b6": b6, "b1": b1}


def _card(city_year: scorecard.CityYear, venue_id: int) -> scorecard.Scorecard:
    return next(c for c in city_year.cards if c.venue_id == venue_id)


EXPECTED_A = {
    "open_days": 2,  # MON and the Science Week Saturday (SAT's only admission was reversed)
    "weekend_open_days": 1,
    "visitors": 32 + 17 + 11,
    "students": 30 + 15 + 10,
    "adults": 2 + 2 + 1,
    "school_groups": 3,  # b1, b2, b4
    "distinct_schools": 2,
    "districts_reached": 2,
    "partnership_sessions": 2,  # s1 and s3 (school visits with admissions)
    "campaign_activities": 1,
    "fulfilment_rate": round(100 * 60 / (32 + 23 + 16 + 11 + 6), 1),  # 68.2; b5 was cancelled
    "no_show_rate": 40.0,  # b3 (reversed) and b6 of 5 confirmed bookings
    "capacity_use": 12.0,  # 60 people in 5 slots of 100
}
EXPECTED_B = {
    "open_days": 1,
    "weekend_open_days": 0,
    "visitors": 12,
    "students": 10,
    "adults": 2,
    "school_groups": 1,
    "distinct_schools": 1,
    "districts_reached": 1,
    "partnership_sessions": 1,
    "campaign_activities": 0,
    "fulfilment_rate": 100.0,
    "no_show_rate": 0.0,
    "capacity_use": 12.0,
}


async def test_every_metric_against_the_fixture(city: dict[str, Any]) -> None:
    w = city["w"]
    year = await scorecard.city_year(2030)
    a, b, c = _card(year, w.venue_a), _card(year, w.venue_b), _card(year, city["venue_c"])
    assert {k: a.figures[k] for k in EXPECTED_A} == EXPECTED_A
    assert {k: b.figures[k] for k in EXPECTED_B} == EXPECTED_B
    assert {k: c.figures[k] for k in scorecard.METRICS if k not in scorecard.RATES} == dict.fromkeys(
        [k for k in scorecard.METRICS if k not in scorecard.RATES], 0
    )
    assert (c.figures["fulfilment_rate"], c.figures["no_show_rate"], c.figures["capacity_use"]) == (
        None,
        None,
        None,
    )
    assert (c.score, c.grade) == (0.0, "fail")
    # Profiles follow the venue's kind.
    assert (a.profile_code, b.profile_code, c.profile_code) == ("venue", "public_place", "public_place")
    # Series: per month and by school stage (the World's bookings give no grade band).
    assert a.by_month[2] == 32 + 17 and a.by_month[4] == 11 and sum(a.by_month) == 60
    assert b.by_month[11] == 12
    assert a.by_stage["other"] == 55
    assert year.by_month[2] == 49 and year.by_district["思明区"] == 60 and year.by_district["集美区"] == 12
    assert year.by_district["海沧区"] == 0
    assert sum(year.grades.values()) == 3


async def test_other_years_are_empty_and_next_year_counts_apart(city: dict[str, Any]) -> None:
    w = city["w"]
    y2029 = await scorecard.city_year(2029)
    assert all(c.figures["visitors"] == 0 for c in y2029.cards)
    y2031 = await scorecard.city_year(2031)
    b = _card(y2031, w.venue_b)
    # 2031's slot ended on 6 January with nobody admitted: one confirmed booking, one no-show.
    assert b.figures["visitors"] == 0
    assert (b.figures["no_show_rate"], b.figures["fulfilment_rate"]) == (100.0, 0.0)


async def test_score_and_grade_against_the_profile(city: dict[str, Any]) -> None:
    w = city["w"]
    a = _card(await scorecard.city_year(2030), w.venue_a)
    marks = {m.code: m for m in a.marks}
    assert marks["open_days"].met is False and marks["open_days"].threshold == 200
    assert marks["no_show_rate"].met is False  # 40% > 10%
    assert marks["adults"].met is None  # weight 0: shown, not scored
    expected = 0.0
    weights = 0.0
    for m in a.marks:
        if m.met is None:
            continue
        weights += m.weight
        expected += m.weight * m.credit
    assert a.score == round(100 * expected / weights, 1)
    assert a.grade == "fail"


def test_assess_bands_and_directions() -> None:
    config = {
        "metrics": {
            "open_days": {"threshold": 100, "weight": 50},
            "no_show_rate": {"threshold": 10, "weight": 50},
        },
        "bands": {"excellent": 90, "good": 70, "pass": 60},
    }
    figures = dict.fromkeys(scorecard.METRICS, 0) | {"open_days": 100, "no_show_rate": 5.0}
    marks, score, grade = scorecard.assess(figures, config)
    assert (score, grade) == (100.0, "excellent")
    figures |= {"open_days": 50, "no_show_rate": 20.0}
    marks, score, grade = scorecard.assess(figures, config)
    assert (score, grade) == (50.0, "fail")
    assert {m.code: m.met for m in marks if m.met is not None} == {"open_days": False, "no_show_rate": False}
    figures |= {"open_days": 80, "no_show_rate": 10.0}
    assert scorecard.assess(figures, config)[1:] == (90.0, "excellent")
    figures |= {"open_days": 40, "no_show_rate": 10.0}
    assert scorecard.assess(figures, config)[1:] == (70.0, "good")
    figures |= {"open_days": 20}
    assert scorecard.assess(figures, config)[1:] == (60.0, "pass")
    # A rate with nothing to measure is left out of the score.
    figures |= {"open_days": 100, "no_show_rate": None}
    assert scorecard.assess(figures, config)[1:] == (100.0, "excellent")


def test_campaign_periods() -> None:
    p = scorecard.campaign_periods(2030)
    week, day = p["science_week"], p["science_day"]
    assert week[0].month == 5 and (week[1] - week[0]).days == 6 and week[0].weekday() == 0
    assert day[0].month == 9 and day[0].weekday() == 3 and (day[1] - day[0]).days == 5


# ---- pages: the dashboard, a base's report, the drill-down, CSV and XLSX read back ------------------


async def _auditor(client: httpx.AsyncClient) -> PageSession:
    """Signed in, in English: the Chinese catalogue of the new pages is merged separately."""
    s = PageSession(client)
    await s.sign_in("auditor", PASSWORD)
    await s.get("/lang/en?next=/audit")
    return s


async def test_dashboard_and_base_report(city: dict[str, Any], client: httpx.AsyncClient) -> None:
    w = city["w"]
    s = await _auditor(client)
    r = await s.get("/audit/scorecards?year=2030")
    assert r.status_code == 200
    assert r.text.count('role="img"') == 4 and "<title" in r.text and "<desc" in r.text
    assert "厦门科技馆" in r.text and "Fail" in r.text
    r = await s.get(f"/audit/scorecards/{w.venue_a}?year=2030")
    assert r.status_code == 200
    assert "场馆类" in r.text and "68.2%" in r.text and "Not met" in r.text
    assert r.text.count('role="img"') == 2
    assert (await s.get("/audit/scorecards/999999?year=2030")).status_code == 404
    assert (await s.get("/audit/scorecards?year=1800")).status_code == 422


async def test_drill_down_lists_the_records_behind_a_figure(
    city: dict[str, Any], client: httpx.AsyncClient
) -> None:
    w = city["w"]
    s = await _auditor(client)
    r = await s.get(f"/audit/scorecards/{w.venue_a}/no_show_rate?year=2030")
    assert r.status_code == 200
    assert city["b3"]["code"] in r.text and city["b6"]["code"] in r.text
    assert city["b1"]["code"] not in r.text
    r = await s.get(f"/audit/scorecards/{w.venue_a}/visitors?year=2030")
    # b1 once, b2 twice, b4 once: the reversed, cancelled and under-review rows are not listed.
    assert r.text.count("<tr><td>") == 4
    assert city["b3"]["code"] not in r.text
    r = await s.get(f"/audit/scorecards/{w.venue_a}/weekend_open_days?year=2030")
    assert r.text.count("<tr><td>") == 1
    assert (await s.get(f"/audit/scorecards/{w.venue_a}/nonsense?year=2030")).status_code == 404


async def test_exports_read_back(city: dict[str, Any], client: httpx.AsyncClient) -> None:
    w = city["w"]
    s = await _auditor(client)
    r = await s.get("/audit/scorecards.csv?year=2030")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["编号", "基地名称", "所在区"] and "接待人次" in rows[0]
    by_id = {int(row[0]): dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    a = by_id[w.venue_a]
    assert (a["接待人次"], a["开放天数"], a["履约率(%)"], a["等级"]) == ("60", "2", "68.2", "不合格")
    assert by_id[city["venue_c"]]["履约率(%)"] == ""

    r = await s.get("/audit/scorecards.xlsx?year=2030")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["2030年考核", "按月接待", "按区接待", "按学段", "等级分布", "全国科普统计"]
    ws = wb["2030年考核"]
    header = [c.value for c in ws[1]]
    assert header[1] == "基地名称"
    sheet_rows = {
        row[0]: dict(zip(header, row, strict=True)) for row in ws.iter_rows(min_row=2, values_only=True)
    }
    assert sheet_rows[w.venue_a]["接待人次"] == 60 and sheet_rows[w.venue_a]["履约率(%)"] == 68.2
    col = header.index("接待人次") + 1
    assert ws.cell(2, col).number_format == "#,##0"
    assert ws.cell(1, col).font.b and not ws.cell(2, col).font.b  # a bold header row
    assert ws.freeze_panes == "B2"  # the names and the header stay in view
    assert ws.column_dimensions["B"].width == 10 and ws.column_dimensions[ws.cell(1, col).column_letter].width
    months = list(wb["按月接待"].iter_rows(min_row=2, values_only=True))
    assert months[2] == ("3月", 49) and len(months) == 12
    # Teachers and staff get neither.
    teacher = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await teacher.sign_in("teacher_a", PASSWORD)
    for url in (
        "/audit/scorecards",
        "/audit/scorecards.csv",
        "/audit/scorecards.xlsx",
        f"/audit/scorecards/{w.venue_a}",
    ):
        assert (await teacher.get(url)).status_code in (302, 303, 403)
