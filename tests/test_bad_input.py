"""api.md "Errors": bad input to any endpoint is a 4xx with a JSON error body — never a 500, never a write.

Table-driven: for every endpoint that takes a body or parameters, wrong types, missing fields, negative
and absurd numbers, unknown ids, over-long strings, malformed JSON, bodies that are not objects, empty
bodies and unknown enum values. Each table runs against one World; everything a request could write is
compared before and after the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.api_support import (
    assert_error,
    at,
    report_row,
    snapshot,
)
from tests.conftest import Clock
from tests.helpers import World, iso

LONG = "x" * 201
LONG_ZH = "馆" * 201
BIG = 10**30
INT32_OVER = 2**31
INT64_OVER = 2**63
# Values that are not a whole number from 0 to 10,000 (True is not a number either).
BAD_COUNTS: list[Any] = [-1, 10001, BIG, 1.5, True, "5", None, [], {}]
BAD_IDS: list[Any] = [999999, 0, -1, INT32_OVER, INT64_OVER, BIG, 1.5, True, "1", None, [], {}]
PATH_IDS: list[Any] = [999999, 0, -1, INT32_OVER, INT64_OVER, BIG, "abc", "1.5", "%20"]
NOT_OBJECTS = [b"{", b'{"name": ', b"not json", b"", b"[]", b"[1, 2]", b"null", b"123", b'"text"', b"true"]


RULE_BAD: dict[str, list[Any]] = {
    "min_lead_days": [-1, 731, BIG, 1.5, True, "3", []],
    "max_lead_days": [-1, 731, BIG, 1.5, True, "120", []],
    "group_min": [0, -1, 10001, BIG, 1.5, True, "10", []],
    "group_max": [0, -1, 10001, BIG, 1.5, True, "60", []],
    "daily_cap": [0, -1, 10001, BIG, 1.5, True, "300", []],
    "students_per_adult": [0, -1, 1001, BIG, 1.5, True, "20", []],
    "preschool_students_per_adult": [0, -1, 1001, BIG, 1.5, True, "10", []],
    "approval_mode": ["manual", "", 1, "AUTO", "Request", []],
    "final_count_days": [-1, 731, BIG, 1.5, True, "7", []],
    "free_cancel_days": [-1, 731, BIG, 1.5, True, "2", []],
}
# Rules that contradict each other: the smallest above the largest.
RULE_CONTRADICTIONS: list[dict[str, Any]] = [
    {"group_min": 61, "group_max": 60},
    {"min_lead_days": 121, "max_lead_days": 120},
]


@dataclass
class Case:
    label: str
    who: str
    method: str
    url: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    status: int | None = None  # None: any 4xx


@dataclass
class Ctx:
    w: World
    slot: dict[str, Any]
    booking: dict[str, Any]

    @property
    def venue(self) -> int:
        return self.w.venue_a


def json_body(label: str, who: str, method: str, url: str, body: Any, status: int | None = None) -> Case:
    return Case(label, who, method, url, {"json": body}, status)


def raw_bodies(who: str, method: str, url: str) -> list[Case]:
    cases = [
        Case(
            f"raw {raw[:12]!r}",
            who,
            method,
            url,
            {"content": raw, "headers": {"Content-Type": "application/json"}},
        )
        for raw in NOT_OBJECTS
    ]
    cases.append(Case("no body at all", who, method, url, {}))
    cases.append(Case("a form instead of JSON", who, method, url, {"data": {"name": "x", "capacity": "5"}}))
    return cases


def variants(
    who: str, method: str, url: str, base: dict[str, Any], changes: dict[str, list[Any]], required: list[str]
) -> list[Case]:
    """The base body with one field replaced by each bad value, and with each required field left out."""
    cases = []
    for key, values in changes.items():
        for value in values:
            cases.append(json_body(f"{key}={value!r:.40}", who, method, url, {**base, key: value}))
    for key in required:
        cases.append(
            json_body(f"without {key}", who, method, url, {k: v for k, v in base.items() if k != key})
        )
    return cases


# -- the tables ------------------------------------------------------------------------------------


def token_cases(c: Ctx) -> list[Case]:
    url = "/api/v1/auth/token"
    return [
        Case("no fields", "", "POST", url, {"data": {}}),
        Case("no password", "", "POST", url, {"data": {"username": "teacher_a"}}),
        Case("no username", "", "POST", url, {"data": {"password": "correct-horse-9"}}),
        Case("empty body", "", "POST", url, {}),
        Case(
            "JSON body", "", "POST", url, {"json": {"username": "teacher_a", "password": "correct-horse-9"}}
        ),
        Case(
            "malformed JSON",
            "",
            "POST",
            url,
            {"content": b"{", "headers": {"Content-Type": "application/json"}},
        ),
        Case(
            "long username", "", "POST", url, {"data": {"username": "u" * 151, "password": "correct-horse-9"}}
        ),
        Case("huge password", "", "POST", url, {"data": {"username": "teacher_a", "password": "p" * 5000}}),
        Case("unknown user", "", "POST", url, {"data": {"username": "nobody", "password": "x"}}, 401),
    ]


def venue_create_cases(c: Ctx) -> list[Case]:
    url = "/api/v1/venues"
    base = {"name": "新馆", "kind": "museum", "district": "思明区", "address": "路1号"}
    minutes: list[Any] = [-1, 10001, BIG, 1.5, True, "30", []]
    return [
        *variants(
            "auditor",
            "POST",
            url,
            base,
            {
                "name": [5, None, "", "   ", LONG, LONG_ZH, ["a"], {"a": 1}, True],
                "kind": ["planetarium", "", "SCIENCE_MUSEUM", 1, None, ["museum"]],
                "district": ["厦门", "思明", "Siming", "", 1, None, "思明区 "],
                "address": [LONG, LONG_ZH, 5, ["路"]],
                "arrival_before_start_minutes": minutes,
                "arrival_after_end_minutes": minutes,
                **RULE_BAD,
            },
            ["name", "kind", "district"],
        ),
        *[
            json_body(f"contradicting {r}", "auditor", "POST", url, {**base, **r}, 422)
            for r in RULE_CONTRADICTIONS
        ],
        *raw_bodies("auditor", "POST", url),
        json_body("empty object", "auditor", "POST", url, {}),
    ]


def venue_list_cases(c: Ctx) -> list[Case]:
    url = "/api/v1/venues"
    return [
        Case(f"{key}={value!r}", "teacher_a", "GET", url, {"params": {key: value}})
        for key, values in {
            "district": ["厦门", "Siming", "1", "x" * 300],
            "kind": ["planetarium", "MUSEUM", "1"],
        }.items()
        for value in values
    ]


def venue_get_cases(c: Ctx) -> list[Case]:
    return [Case(f"id {i!r}", "teacher_a", "GET", f"/api/v1/venues/{i}", status=404) for i in PATH_IDS]


def venue_patch_cases(c: Ctx) -> list[Case]:
    url = f"/api/v1/venues/{c.venue}"
    minutes: list[Any] = [-1, 1441, 10001, BIG, 1.5, True, "30", []]
    return [
        *[
            json_body(f"{k}={v!r:.30}", "auditor", "PATCH", url, {k: v})
            for k, vs in {
                "name": ["", "   ", LONG, LONG_ZH, 5, None, []],
                "kind": ["planetarium", "", 1, None],
                "district": ["厦门", "", 1, None],
                "address": [LONG, LONG_ZH, 5, None],
                "arrival_before_start_minutes": minutes,
                "arrival_after_end_minutes": minutes,
                **RULE_BAD,
                "door_ratio_policy": ["deny", "", 1, "WARN", True, []],
            }.items()
            for v in vs
        ],
        *[json_body(f"contradicting {r}", "auditor", "PATCH", url, r, 422) for r in RULE_CONTRADICTIONS],
        *[c_ for c_ in raw_bodies("auditor", "PATCH", url) if c_.label != "no body at all"],
        *[
            Case(f"id {i!r}", "auditor", "PATCH", f"/api/v1/venues/{i}", {"json": {"name": "新名"}}, 404)
            for i in PATH_IDS
        ],
        json_body("teacher", "teacher_a", "PATCH", url, {"name": "新名"}, 403),
        json_body("staff of another venue", "staff_b", "PATCH", url, {"name": "新名"}, 403),
    ]


def slot_create_cases(c: Ctx) -> list[Case]:
    url = f"/api/v1/venues/{c.venue}/slots"
    starts, ends = iso(at(10, days=3)), iso(at(12, days=3))
    base = {"starts_at": starts, "ends_at": ends, "capacity": 50, "title": "参观", "kind": "school_visit"}
    bad_times: list[Any] = [
        "garbage",
        "",
        5,
        None,
        True,
        [],
        "2030-13-01T10:00:00+08:00",
        "2030-05-23T25:00:00+08:00",
        "2030-05-23",
        "0001-01-01T00:00:00+08:00",
        "9999-12-31T23:59:59-08:00",
    ]
    return [
        *variants(
            "auditor",
            "POST",
            url,
            base,
            {
                "starts_at": bad_times,
                "ends_at": [*bad_times, starts, iso(at(9, days=3)), iso(at(11, days=5))],
                "capacity": [-1, 0, *BAD_COUNTS],
                "title": [LONG, LONG_ZH, 5, ["t"]],
                "kind": ["tour", "", 1, "SCHOOL_VISIT"],
                "programme_id": [0, -1, 2**31, 2**63, 99999, "1", 1.5, True, [1]],
                "room_id": [0, -1, 2**31, 2**63, 99999, "1", 1.5, True, [1]],
            },
            ["starts_at", "ends_at", "capacity"],
        ),
        *[
            json_body(f"both in {a[:4]}", "auditor", "POST", url, {**base, "starts_at": a, "ends_at": b})
            for a, b in [
                ("0001-01-01T00:00:00+08:00", "0001-01-01T02:00:00+08:00"),
                ("9999-12-31T20:00:00-08:00", "9999-12-31T22:00:00-08:00"),
                ("2101-03-01T09:00:00+08:00", "2101-03-01T10:00:00+08:00"),
                ("1970-01-01T00:00:00Z", "1970-01-01T01:00:00Z"),
            ]
        ],
        json_body("two days long", "auditor", "POST", url, {**base, "ends_at": iso(at(10, days=5))}),
        *raw_bodies("auditor", "POST", url),
        *[
            Case(f"venue {i!r}", "auditor", "POST", f"/api/v1/venues/{i}/slots", {"json": base}, 404)
            for i in PATH_IDS
        ],
    ]


def slot_list_cases(c: Ctx) -> list[Case]:
    url = f"/api/v1/venues/{c.venue}/slots"
    values = [
        "garbage",
        "2030-13-01",
        "2030-02-30",
        "x" * 100,
        "0001-01-01",
        "9999-12-31",
        "0001-01-01T00:00:00+08:00",
        "9999-12-31T23:59:59-08:00",
        "2030-05-20T10:00:00+25:00",
        "-1",
        "1e9",
    ]
    return [
        *[
            Case(f"{key}={v!r:.30}", "teacher_a", "GET", url, {"params": {key: v}})
            for key in ("from", "to")
            for v in values
        ],
        *[
            Case(f"venue {i!r}", "teacher_a", "GET", f"/api/v1/venues/{i}/slots", status=404)
            for i in PATH_IDS
        ],
    ]


def slot_get_cases(c: Ctx) -> list[Case]:
    return [Case(f"id {i!r}", "teacher_a", "GET", f"/api/v1/slots/{i}", status=404) for i in PATH_IDS]


def booking_create_cases(c: Ctx) -> list[Case]:
    url = "/api/v1/bookings"
    base = {"slot_id": c.slot["id"], "students": 10, "chaperones": 1, "grade": "五年级", "class_name": "2班"}
    return [
        *variants(
            "teacher_a",
            "POST",
            url,
            base,
            {
                "slot_id": BAD_IDS,
                "students": BAD_COUNTS,
                "chaperones": BAD_COUNTS,
                "grade": [LONG, LONG_ZH, 5, []],
                "class_name": [LONG, LONG_ZH, 5, []],
                "grade_band": ["kindergarten", "", 1, "PRESCHOOL", "primary", []],
                "lead_teacher_name": [LONG, LONG_ZH, 5, []],
                "lead_teacher_phone": ["x" * 33, "电话", "abc", "1;DROP", 5, []],
                "buses": [-1, 51, BIG, 1.5, True, "2", []],
                "arrival_time": ["24:00", "9:30", "09:60", "0930", "morning", "", 930, []],
                "lunch_space": ["yes", 2, None, []],
                "accessibility": [LONG, LONG_ZH, 5, []],
                "special_requests": [LONG, LONG_ZH, 5, []],
            },
            ["slot_id", "students", "chaperones"],
        ),
        json_body("nobody", "teacher_a", "POST", url, {**base, "students": 0, "chaperones": 0}),
        json_body("more than the slot holds", "teacher_a", "POST", url, {**base, "students": 10000}, 409),
        json_body(
            "a slot that has started", "teacher_a", "POST", url, {**base, "slot_id": c.booking["slot_id"]}
        ),
        *raw_bodies("teacher_a", "POST", url),
    ]


def booking_by_id_cases(c: Ctx) -> list[Case]:
    cases = []
    for i in PATH_IDS:
        cases += [
            Case(f"get {i!r}", "auditor", "GET", f"/api/v1/bookings/{i}", status=404),
            Case(f"cancel {i!r}", "auditor", "POST", f"/api/v1/bookings/{i}/cancel", status=404),
            Case(f"qr {i!r}", "auditor", "GET", f"/api/v1/bookings/{i}/qr.png", status=404),
            Case(f"ics {i!r}", "auditor", "GET", f"/api/v1/bookings/{i}/calendar.ics", status=404),
        ]
    return cases


def blackout_set_cases(c: Ctx) -> list[Case]:
    url = f"/api/v1/venues/{c.venue}/blackouts"
    base = {"day": "2030-10-01", "reason": "国庆节"}
    return [
        *variants(
            "staff_a",
            "POST",
            url,
            base,
            {
                "day": ["garbage", "", 5, None, [], "2030-13-01", "2030-02-30", "0001-01-01", "9999-12-31"],
                "reason": [LONG, LONG_ZH, 5, None, []],
            },
            ["day"],
        ),
        json_body("a day in the past", "staff_a", "POST", url, {**base, "day": "2030-05-19"}, 422),
        *raw_bodies("staff_a", "POST", url),
        json_body("teacher", "teacher_a", "POST", url, base, 403),
        json_body("staff of another venue", "staff_b", "POST", url, base, 403),
        *[
            Case(f"venue {i!r}", "auditor", "POST", f"/api/v1/venues/{i}/blackouts", {"json": base}, 404)
            for i in PATH_IDS
        ],
    ]


def blackout_delete_cases(c: Ctx) -> list[Case]:
    url = f"/api/v1/venues/{c.venue}/blackouts"
    return [
        *[
            Case(f"day {d!r}", "staff_a", "DELETE", f"{url}/{d}")
            for d in ["garbage", "2030-13-01", "1", "%20"]
        ],
        Case("teacher", "teacher_a", "DELETE", f"{url}/2030-10-01", status=403),
        Case("staff of another venue", "staff_b", "DELETE", f"{url}/2030-10-01", status=403),
        *[
            Case(f"venue {i!r}", "auditor", "DELETE", f"/api/v1/venues/{i}/blackouts/2030-10-01", status=404)
            for i in PATH_IDS
        ],
    ]


def decline_cases(c: Ctx) -> list[Case]:
    bid = c.booking["id"]
    url = f"/api/v1/bookings/{bid}/decline"
    base = {"reason": "当天场馆维修"}
    return [
        *variants(
            "staff_a", "POST", url, base, {"reason": ["", "   ", LONG, LONG_ZH, 5, None, []]}, ["reason"]
        ),
        *raw_bodies("staff_a", "POST", url),
        json_body("a confirmed booking", "staff_a", "POST", url, base, 409),
        Case("approve a confirmed booking", "staff_a", "POST", f"/api/v1/bookings/{bid}/approve", status=409),
        json_body("the teacher", "teacher_a", "POST", url, base, 403),
        json_body("an auditor", "auditor", "POST", url, base, 403),
        json_body("staff of another venue", "staff_b", "POST", url, base, 404),
        Case(
            "approve by staff of another venue",
            "staff_b",
            "POST",
            f"/api/v1/bookings/{bid}/approve",
            status=404,
        ),
        *[
            Case(f"id {i!r}", "staff_a", "POST", f"/api/v1/bookings/{i}/decline", {"json": base}, 404)
            for i in PATH_IDS
        ],
        *[
            Case(f"approve id {i!r}", "staff_a", "POST", f"/api/v1/bookings/{i}/approve", status=404)
            for i in PATH_IDS
        ],
    ]


def headcount_cases(c: Ctx) -> list[Case]:
    # The Ctx booking's slot has started (today 10:00, clock 10:15): book one in the later slot.
    url = "/api/v1/bookings/{id}"
    bid = c.booking["id"]
    return [
        *[
            json_body(f"{k}={v!r:.30}", "teacher_a", "PATCH", url.format(id=bid), {k: v})
            for k in ("students", "chaperones")
            for v in [-1, 10001, BIG, 1.5, True, "5", [], {}]
        ],
        *[c_ for c_ in raw_bodies("teacher_a", "PATCH", url.format(id=bid)) if c_.label != "no body at all"],
        json_body("a slot that has started", "teacher_a", "PATCH", url.format(id=bid), {"students": 31}, 409),
        json_body("nobody", "teacher_a", "PATCH", url.format(id=bid), {"students": 0, "chaperones": 0}),
        json_body(
            "another teacher of the school", "teacher_a2", "PATCH", url.format(id=bid), {"students": 1}, 404
        ),
        json_body("an auditor", "auditor", "PATCH", url.format(id=bid), {"students": 1}, 403),
        json_body("staff of another venue", "staff_b", "PATCH", url.format(id=bid), {"students": 1}, 404),
        *[
            Case(f"id {i!r}", "teacher_a", "PATCH", f"/api/v1/bookings/{i}", {"json": {"students": 1}}, 404)
            for i in PATH_IDS
        ],
    ]


def checkin_cases(c: Ctx) -> list[Case]:
    url = "/api/v1/checkins"
    base = {"token": c.booking["qr_token"], "students": 5, "chaperones": 1}
    return [
        *variants(
            "staff_a",
            "POST",
            url,
            base,
            {
                "token": [5, None, LONG, [], {}, True],
                "students": [*BAD_COUNTS[:-3], [], {}],
                "chaperones": [*BAD_COUNTS[:-3], [], {}],
            },
            ["token"],
        ),
        json_body("counts above what was booked", "staff_a", "POST", url, {**base, "students": 31}, 422),
        json_body("not a pass", "staff_a", "POST", url, {"token": "garbage"}, 400),
        *raw_bodies("staff_a", "POST", url),
    ]


def reverse_cases(c: Ctx) -> list[Case]:
    # No check-in exists in this scene: bad bodies are refused before any lookup; good ones are 404.
    url = "/api/v1/checkins/1/reverse"
    base = {"reason": "扫错了班级"}
    return [
        *variants(
            "staff_a",
            "POST",
            url,
            base,
            {"reason": ["", "   ", LONG, LONG_ZH, 5, None, [], {}, True]},
            ["reason"],
        ),
        *raw_bodies("staff_a", "POST", url),
        json_body("no such check-in", "staff_a", "POST", url, base, 404),
        json_body("a teacher", "teacher_a", "POST", url, base, 403),
        json_body("an auditor", "auditor", "POST", url, base, 403),
        *[
            Case(f"id {i!r}", "staff_a", "POST", f"/api/v1/checkins/{i}/reverse", {"json": base}, 404)
            for i in PATH_IDS
        ],
    ]


def booking_checkins_cases(c: Ctx) -> list[Case]:
    bid = c.booking["id"]
    return [
        Case("a teacher", "teacher_a", "GET", f"/api/v1/bookings/{bid}/checkins", status=403),
        Case("staff of another venue", "staff_b", "GET", f"/api/v1/bookings/{bid}/checkins", status=404),
        *[
            Case(f"id {i!r}", "staff_a", "GET", f"/api/v1/bookings/{i}/checkins", status=404)
            for i in PATH_IDS
        ],
    ]


def report_cases(c: Ctx) -> list[Case]:
    url = "/api/v1/reports/venues"
    years = ["", "abc", "-1", "0", "99999", str(BIG), "2026.5", "true", "1e3", "[]"]
    return [
        Case("no year", "auditor", "GET", url),
        *[Case(f"year={y!r:.20}", "auditor", "GET", url, {"params": {"year": y}}) for y in years],
        *[
            Case(f"csv year={y!r:.20}", "auditor", "GET", url, {"params": {"year": y, "format": "csv"}})
            for y in years
        ],
    ]


def programme_list_cases(c: Ctx) -> list[Case]:
    url = "/api/v1/programmes"
    bad = {
        "district": ["火星", "x" * 300],
        "kind": ["zoo", ""],
        "band": ["kindergarten", "[]"],
        "people": ["0", "-1", "abc", str(BIG), "10001"],
        "from": ["2026-02-30", "tomorrow", str(BIG)],
        "to": ["13/01/2026"],
        "tag": ["x" * 51],
        "q": ["x" * 51],
    }
    return [
        Case(f"{k}={v!r:.20}", "teacher_a", "GET", url, {"params": {k: v}})
        for k, values in bad.items()
        for v in values
    ]


TABLES: dict[str, Callable[[Ctx], list[Case]]] = {
    "POST /api/v1/auth/token": token_cases,
    "POST /api/v1/venues": venue_create_cases,
    "GET /api/v1/venues": venue_list_cases,
    "GET /api/v1/venues/{venue_id}": venue_get_cases,
    "PATCH /api/v1/venues/{venue_id}": venue_patch_cases,
    "POST /api/v1/venues/{venue_id}/slots": slot_create_cases,
    "GET /api/v1/venues/{venue_id}/slots": slot_list_cases,
    "GET /api/v1/slots/{slot_id}": slot_get_cases,
    "POST /api/v1/venues/{venue_id}/blackouts": blackout_set_cases,
    "DELETE /api/v1/venues/{venue_id}/blackouts/{day}": blackout_delete_cases,
    "POST /api/v1/bookings": booking_create_cases,
    "POST /api/v1/bookings/{booking_id}/decline": decline_cases,
    "PATCH /api/v1/bookings/{booking_id}": headcount_cases,
    "* /api/v1/bookings/{booking_id}...": booking_by_id_cases,
    "POST /api/v1/checkins": checkin_cases,
    "POST /api/v1/checkins/{checkin_id}/reverse": reverse_cases,
    "GET /api/v1/bookings/{booking_id}/checkins": booking_checkins_cases,
    "GET /api/v1/reports/venues": report_cases,
    "GET /api/v1/programmes": programme_list_cases,
}


@pytest.fixture
async def ctx(client: httpx.AsyncClient, frozen: Clock) -> Ctx:
    """A slot today 10:00-12:00 booked 30 + 2 at 08:00, the clock at 10:15 (so a pass could admit);
    another slot in three days with room."""
    frozen.set(at(8))
    w = await World(client).build()
    today = await w.slot(capacity=40, starts_at=at(10), ends_at=at(12))
    booking = (await w.book(today["id"], 30, 2)).json()
    later = await w.slot(capacity=40, starts_at=at(10, days=3), ends_at=at(12, days=3))
    frozen.set(at(10, 15))
    return Ctx(w, later, booking)


@pytest.mark.parametrize("table", list(TABLES))
async def test_bad_input_is_a_4xx_and_writes_nothing(ctx: Ctx, table: str) -> None:
    cases = TABLES[table](ctx)
    assert cases
    before = await snapshot()
    failures = []
    for case in cases:
        headers = dict(ctx.w.h.get(case.who, {}))
        kwargs = dict(case.kwargs)
        headers.update(kwargs.pop("headers", {}))
        r = await ctx.w.client.request(case.method, case.url, headers=headers, **kwargs)
        try:
            assert_error(r, case.status)
        except (AssertionError, ValueError, KeyError) as exc:
            failures.append(f"{case.label}: {r.status_code} {r.text[:200]} ({exc!s:.100})")
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures)
    assert await snapshot() == before
    # The pass still admits the class: nothing on the way admitted anyone.
    row = await report_row(ctx.w, 2030, ctx.venue)
    assert row["people_admitted"] == 0


async def test_limits_themselves_are_accepted(ctx: Ctx) -> None:
    """The edges of api.md's limits are valid input: 200 characters, 0 and 10,000 people."""
    w = ctx.w
    r = await w.post(
        "auditor",
        "/api/v1/venues",
        {"name": "馆" * 200, "kind": "museum", "district": "湖里区", "address": "路" * 200},
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "馆" * 200
    big = await w.post(
        "auditor",
        f"/api/v1/venues/{ctx.venue}/slots",
        {
            "starts_at": iso(at(10, days=4)),
            "ends_at": iso(at(12, days=4)),
            "capacity": 10000,
            "title": "题" * 200,
        },
    )
    assert big.status_code == 201, big.text
    r = await w.book(big.json()["id"], 10000, 0, grade="年" * 200, class_name="班" * 200)
    assert r.status_code == 201, r.text
    assert (r.json()["grade"], r.json()["class_name"]) == ("年" * 200, "班" * 200)
    assert (await w.get("auditor", f"/api/v1/slots/{big.json()['id']}")).json()["remaining"] == 0
    r = await w.post(
        "staff_a", "/api/v1/checkins", {"token": ctx.booking["qr_token"], "students": 0, "chaperones": 2}
    )
    assert r.status_code == 200, r.text


async def test_every_api_operation_with_input_has_a_table(client: httpx.AsyncClient) -> None:
    """A new endpoint that takes a body or parameters needs its row of bad input here."""
    schema = (await client.get("/schema/openapi.json")).json()
    covered = {key.split(" ", 1)[1] for key in TABLES}
    missing = []
    for path, item in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            takes_input = "requestBody" in op or any(p.get("in") == "query" for p in op.get("parameters", []))
            under_bookings = path.startswith("/api/v1/bookings/{booking_id}")
            if takes_input and path not in covered and not under_bookings:
                missing.append(f"{method.upper()} {path}")
    assert not missing, missing


async def test_unknown_addresses_methods_and_huge_bodies_answer_in_json(ctx: Ctx) -> None:
    w = ctx.w
    before = await snapshot()
    assert_error(await w.get("auditor", "/api/v1/no-such-thing"), 404)
    assert_error(await w.get("auditor", "/api/v1/venues/1/nothing"), 404)
    r = await w.client.delete(f"/api/v1/venues/{ctx.venue}", headers=w.h["auditor"])
    assert_error(r, 405)
    r = await w.client.put("/api/v1/bookings", json={}, headers=w.h["teacher_a"])
    assert_error(r, 405)
    huge = b'{"name": "' + b"x" * (11 * 1024 * 1024) + b'", "kind": "museum", "district": "\xe6\x80\x9d"}'
    r = await w.client.post(
        "/api/v1/venues", content=huge, headers={**w.h["auditor"], "Content-Type": "application/json"}
    )
    assert_error(r)
    assert await snapshot() == before
