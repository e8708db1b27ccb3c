"""Issue 8, permissions: every route of the app (pages and API, read from the app's own route table) as
each of anonymous, teacher of school A, teacher of school B, staff of venue A, staff of venue B and
an auditor, against the expectations in `tests/permissions_table.py` (its docstring explains the
format; a new route is one new line there).

Path parameters are filled with objects of school A / venue A, so the B-actors meet someone else's
objects. Permission must be decided before validation: every mutation is sent with an empty body,
and a role that should be refused must be refused, not told its input is wrong. Routes that change
or delete their object get a fresh one for every request (`PREPARE`), so the walk never wears the
world down for the routes after it. Set `KEPU_PERMISSIONS_DUMP=1` to print what every route answered
in the table's format (a starting point for a new entry — check it against the rules before copying).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

import httpx
from litestar import Litestar
from litestar.routes import HTTPRoute

from accounts import registration
from accounts import services as accounts
from accounts.schemas import UserView
from auditlog.tables import AdminAction
from bookings import feedback, waitlist
from bookings.tickets import format_code
from bookings.waitlist import WaitlistForm
from kepu.auth import load_actor
from messaging import feeds
from privacy import namelists
from registry import imports
from registry.defaults import ensure_profiles
from registry.tables import ThresholdProfile
from tests.activities.walk import activity_id, fresh_activity
from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World, token
from tests.pages.browser_session import CSRF_RE
from tests.permissions_table import CODES, ROLES, SKIPPED, TABLE, route_key
from timetable import services as timetable
from timetable.services import SeriesDraft
from timetable.tables import YouthDay
from venues import programmes
from venues import services as venues
from venues.programmes import ProgrammeForm, RoomForm
from venues.schemas import BlackoutForm

API = "/api/"
# Actor name per role (teacher_a2 stays out of the walk: it fills the slot teacher_a waits for).
ACTOR: dict[str, str | None] = {
    "anon": None,
    "teacher_a": "teacher_a",
    "teacher_b": "teacher_b",
    "staff_a": "staff_a",
    "staff_b": "staff_b",
    "auditor": "auditor",
}
CLASS_A = "甲校三年二班"
FEEDBACK_A = "甲校老师的反馈：讲解员很专业"
CLOSURE_DAY = date(2030, 6, 3)
BLACKOUT_DAY = date(2030, 6, 4)
HOLIDAY_DAY = date(2030, 6, 5)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
# GET routes that need a query to answer at all (a missing year is a 4xx by api.md).
QUERY: dict[str, dict[str, Any]] = {
    "GET /api/v1/reports/venues": {"year": 2030},
    "GET /audit/report.csv": {"year": 2030},
}


# Answers that carry school A's passes to whoever holds the address: its secret is school A's own key.
OWN_SECRET_ADDRESS = {"GET /calendar/{name}"}


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


# ---- the routes ----------------------------------------------------------------------------------------


def app_routes(app: Litestar) -> list[str]:
    """'METHOD /path' of every route the app serves but those under SKIPPED, in the app's order."""
    found = []
    for route in app.routes:
        if isinstance(route, HTTPRoute) and not any(route.path.startswith(s) for s in SKIPPED):
            found += [route_key(method, route.path) for method in sorted(route.methods - {"HEAD", "OPTIONS"})]
    return found


def coverage_problems(routes: list[str]) -> list[str]:
    missing = [f"route {key} has no entry in the permission table" for key in routes if key not in TABLE]
    gone = [f"table entry {key} names a route that no longer exists" for key in TABLE if key not in routes]
    return missing + gone


async def test_every_route_has_an_entry(app: Litestar) -> None:
    problems = coverage_problems(app_routes(app))
    assert not problems, "\n".join(problems)


def test_the_table_is_well_formed() -> None:
    for key, row in TABLE.items():
        method, _, path = key.partition(" ")
        assert method in ("GET", "POST", "PUT", "PATCH", "DELETE") and path.startswith("/"), key
        assert len(row.split()) == len(ROLES), f"{key}: one outcome per role {ROLES}"
        assert all(code in CODES for code in row.split()), f"{key}: outcomes are {sorted(CODES)}"


# ---- the world -----------------------------------------------------------------------------------------


@dataclass
class Permissions:
    w: World
    params: dict[str, Any]
    clients: dict[str, httpx.AsyncClient]
    csrf: dict[str, str]
    serial: int = 0

    def next(self) -> int:
        self.serial += 1
        return self.serial


async def actor(username: str) -> UserView:
    found = await accounts.get_user_by_username(username)
    assert found is not None
    loaded = await load_actor(found.id)
    assert loaded is not None
    return loaded


async def build_world(client: httpx.AsyncClient, frozen: Clock) -> Permissions:
    frozen.set(at(8))
    w = await World(client).build()
    # Both staff are supervisors: the walk shows what a venue's own staff may do at most.
    for name, venue_id in (("staff_a", w.venue_a), ("staff_b", w.venue_b)):
        await venues.add_staff(venue_id, (await actor(name)).id, "supervisor")
    staff_a, auditor_ = await actor("staff_a"), await actor("auditor")
    future = await w.slot(capacity=100, days=7)
    booking = (await w.book(future["id"], 20, 2, class_name=CLASS_A)).json()
    full = await w.slot(capacity=10, days=8)
    assert (await w.book(full["id"], 9, 1, who="teacher_a2")).status_code == 201
    entry = await waitlist.join(
        await actor("teacher_a"), WaitlistForm(slot_id=full["id"], students=5, chaperones=1)
    )
    today = await w.slot(capacity=100, starts_at=at(10), ends_at=at(12))
    visited = (await w.book(today["id"], 30, 2, class_name=CLASS_A)).json()
    room = await programmes.save_room(staff_a, w.venue_a, RoomForm(name="海洋厅", capacity=40))
    programme = await programmes.save_programme(staff_a, w.venue_a, ProgrammeForm(title="海洋探秘"))
    material = await programmes.add_file(staff_a, w.venue_a, programme.id, "pre_visit", "guide.pdf", PDF)
    photo = await programmes.add_file(staff_a, w.venue_a, programme.id, "photo", "hall.png", png())
    series_id, _ = await timetable.create_series(
        staff_a,
        w.venue_a,
        SeriesDraft(
            rule="FREQ=WEEKLY;BYDAY=MO;UNTIL=20300630",
            first_day=date(2030, 5, 27),
            start=time(14, 0),
            end=time(15, 30),
            capacity=60,
            title="少年科学院",
        ),
    )
    await timetable.add_youth_day(staff_a, w.venue_a, weekday=None, day=date(2030, 6, 1), kind="free")
    youth = await YouthDay.select(YouthDay.id).where(YouthDay.venue == w.venue_a).first()
    assert youth is not None
    job_id = await imports.check_file(auditor_, "bases.csv", "名称\n".encode())
    await ensure_profiles()  # PostgreSQL test runs empty the seeded tables too
    profile = await ThresholdProfile.select(ThresholdProfile.id).first()
    assert profile is not None
    feed = await feeds.create((await actor("teacher_a")).id)
    # The visit happens: admitted at 10:05, feedback given; every actor signs in on the walk's clock.
    frozen.set(at(10, 5))
    for name in list(w.h):
        w.h[name] = await token(client, name)
    teacher_a2 = await actor("teacher_a2")
    verify_token = await registration._new_token(teacher_a2.id, "verify_email", timedelta(days=1))
    reset_token = await registration._new_token(teacher_a2.id, "reset_password", timedelta(hours=1))
    r = await w.post("staff_a", "/api/v1/checkins", {"token": visited["qr_token"]})
    assert r.status_code == 200, r.text
    scans = (await w.get("staff_a", f"/api/v1/bookings/{visited['id']}/checkins")).json()["items"]
    await feedback.give(await actor("teacher_a"), visited["id"], 5, FEEDBACK_A)
    await timetable.record_walk_in(await actor("staff_a"), adults=2, youth=3)
    await timetable.set_closure(staff_a, w.venue_a, CLOSURE_DAY, "布展")
    await venues.set_blackout(staff_a, w.venue_a, BlackoutForm(day=BLACKOUT_DAY, reason="检修"))
    await timetable.set_holiday(auditor_, HOLIDAY_DAY, "测试假日")
    # Venue A asks for name lists (an administrative action: the audit log's entry of the world).
    await namelists.set_requirement(staff_a, w.venue_a, True)
    logged = (
        await AdminAction.select(AdminAction.id)
        .where(AdminAction.action == "namelist.requirement")
        .order_by(AdminAction.id, ascending=False)
        .first()
    )
    assert logged is not None
    params: dict[str, Any] = {
        "venue_id": w.venue_a,
        "slot_id": future["id"],
        "booking_id": booking["id"],
        "checkin_id": scans[0]["id"],
        "entry_id": entry.id,
        "room_id": room.id,
        "programme_id": programme.id,
        "file_id": material.id,
        "photo_id": photo.id,
        "verify_token": verify_token,
        "reset_token": reset_token,
        "series_id": series_id,
        "youth_id": youth["id"],
        "job_id": job_id,
        "profile_id": profile["id"],
        "day": CLOSURE_DAY.isoformat(),
        "metric": "open_days",
        "token": "no-such-token",
        "code": "en",
        "name": f"{feed}.ics",
        "visited_booking_id": visited["id"],
        "log_entry_id": logged["id"],
        # What only school A, venue A and the auditor may read: passes, the class, the feedback.
        "secrets": [
            *(b[k] for b in (booking, visited) for k in ("code", "qr_token")),
            format_code(booking["code"]),  # as the pass page prints it
            CLASS_A,
            FEEDBACK_A,
        ],
        "activity_id": await activity_id(),
    }
    clients: dict[str, httpx.AsyncClient] = {}
    csrf: dict[str, str] = {}
    for role, username in ACTOR.items():
        clients[role] = session(client)
        csrf[role] = await sign_in(clients[role], username)
    return Permissions(w, params, clients, csrf)


def session(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A browser of its own (its own cookies) on the app the fixture's client talks to."""
    return httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver", follow_redirects=False
    )


async def sign_in(c: httpx.AsyncClient, username: str | None) -> str:
    """Signs a page session in (or leaves it anonymous); returns its CSRF token."""
    page = await c.get("/login")
    m = CSRF_RE.search(page.text)
    assert m, page.text[:300]
    if username is None:
        return m.group(1)
    form = {"username": username, "password": PASSWORD, "next": "/", "_csrf_token": m[1]}
    r = await c.post("/login", data=form)
    assert r.status_code == 303, r.text[:300]
    page = await c.get("/account")
    m = CSRF_RE.search(page.text)
    assert m, page.text[:300]
    return m.group(1)


# ---- fresh objects for routes that use theirs up ------------------------------------------------------

Prepare = Callable[[Permissions], Awaitable[dict[str, Any]]]


async def fresh_booking(p: Permissions) -> dict[str, Any]:
    slot = await p.w.slot(capacity=100, days=10 + p.next() % 20)
    r = await p.w.book(slot["id"], 10, 1)
    assert r.status_code == 201, r.text
    return {"booking_id": r.json()["id"], "slot_id": slot["id"]}


async def fresh_entry(p: Permissions) -> dict[str, Any]:
    full = await p.w.slot(capacity=2, days=40 + p.next() % 20)
    assert (await p.w.book(full["id"], 1, 1, who="teacher_a2")).status_code == 201
    form = WaitlistForm(slot_id=full["id"], students=1, chaperones=1)
    entry = await waitlist.join(await actor("teacher_a"), form)
    return {"entry_id": entry.id}


async def fresh_checkin(p: Permissions) -> dict[str, Any]:
    slot = await p.w.slot(capacity=100, starts_at=at(11), ends_at=at(12))  # today, not yet begun
    booking = (await p.w.book(slot["id"], 5, 1)).json()
    r = await p.w.post("staff_a", "/api/v1/checkins", {"token": booking["qr_token"]})
    assert r.status_code == 200, r.text
    items = (await p.w.get("staff_a", f"/api/v1/bookings/{booking['id']}/checkins")).json()["items"]
    return {"checkin_id": items[0]["id"]}


async def fresh_slot(p: Permissions) -> dict[str, Any]:
    return {"slot_id": (await p.w.slot(capacity=50, days=30 + p.next() % 20))["id"]}


async def fresh_programme(p: Permissions) -> dict[str, Any]:
    staff = await actor("staff_a")
    programme = await programmes.save_programme(staff, p.w.venue_a, ProgrammeForm(title=f"课程{p.next()}"))
    material = await programmes.add_file(staff, p.w.venue_a, programme.id, "pre_visit", "guide.pdf", PDF)
    return {"programme_id": programme.id, "file_id": material.id}


async def fresh_series(p: Permissions) -> dict[str, Any]:
    series_id, _ = await timetable.create_series(
        await actor("staff_a"),
        p.w.venue_a,
        SeriesDraft(
            rule="FREQ=WEEKLY;BYDAY=TU;UNTIL=20300630",
            first_day=date(2030, 5, 28),
            start=time(9, 0) if p.next() % 2 else time(16, 0),
            end=time(9, 50) if p.serial % 2 else time(16, 50),
            capacity=30,
            title=f"系列{p.serial}",
        ),
    )
    return {"series_id": series_id}


async def fresh_days(p: Permissions) -> dict[str, Any]:
    staff = await actor("staff_a")
    await timetable.set_closure(staff, p.w.venue_a, CLOSURE_DAY, "布展")
    await venues.set_blackout(staff, p.w.venue_a, BlackoutForm(day=BLACKOUT_DAY, reason="检修"))
    await timetable.set_holiday(await actor("auditor"), HOLIDAY_DAY, "测试假日")
    await timetable.add_youth_day(staff, p.w.venue_a, weekday=None, day=date(2030, 6, 8), kind="free")
    youth = await YouthDay.select(YouthDay.id).where(YouthDay.venue == p.w.venue_a).first()
    return {"youth_id": youth["id"] if youth else 0}


async def fresh_job(p: Permissions) -> dict[str, Any]:
    return {"job_id": await imports.check_file(await actor("auditor"), "bases.csv", "名称\n".encode())}


async def fresh_session(p: Permissions) -> dict[str, Any]:
    return {"__fresh_session__": True}


def use(**names: str) -> Prepare:
    """Path parameters taken from other objects of the world: use(file_id="photo_id")."""

    async def prepare(p: Permissions) -> dict[str, Any]:
        return {param: p.params[name] for param, name in names.items()}

    return prepare


async def fresh_feed(p: Permissions) -> dict[str, Any]:
    return {"name": f"{await feeds.create((await actor('teacher_a')).id)}.ics"}


async def visited_booking(p: Permissions) -> dict[str, Any]:
    return {"booking_id": p.params["visited_booking_id"]}


def day_of(day: date) -> Prepare:
    async def prepare(p: Permissions) -> dict[str, Any]:
        return {**(await fresh_days(p)), "day": day.isoformat()}

    return prepare


PREPARE: dict[str, Prepare] = {
    "POST /api/v1/bookings/{booking_id}/approve": fresh_booking,
    "POST /api/v1/bookings/{booking_id}/decline": fresh_booking,
    "POST /api/v1/bookings/{booking_id}/cancel": fresh_booking,
    "PATCH /api/v1/bookings/{booking_id}": fresh_booking,
    "POST /bookings/{booking_id}/cancel": fresh_booking,
    "POST /bookings/{booking_id}/headcount": fresh_booking,
    "POST /staff/requests/{booking_id}/approve": fresh_booking,
    "POST /staff/requests/{booking_id}/decline": fresh_booking,
    "GET /bookings/{booking_id}/feedback": visited_booking,
    "POST /bookings/{booking_id}/feedback": visited_booking,
    "POST /waitlist/{entry_id}/accept": fresh_entry,
    "POST /waitlist/{entry_id}/decline": fresh_entry,
    "POST /waitlist/{entry_id}/leave": fresh_entry,
    "POST /api/v1/checkins/{checkin_id}/reverse": fresh_checkin,
    "POST /staff/checkins/{checkin_id}/reverse": fresh_checkin,
    "POST /slots/{slot_id}/cancel": fresh_slot,
    "POST /slots/{slot_id}/manage": fresh_slot,
    "POST /series/{series_id}/cancel": fresh_series,
    "POST /series/{series_id}/edit": fresh_series,
    "POST /venues/{venue_id}/programmes/{programme_id}/retire": fresh_programme,
    "POST /venues/{venue_id}/programmes/{programme_id}/files/{file_id}/delete": fresh_programme,
    "POST /venues/{venue_id}/closures/{day}/delete": day_of(CLOSURE_DAY),
    "POST /venues/{venue_id}/blackouts/{day}/delete": day_of(BLACKOUT_DAY),
    "DELETE /api/v1/venues/{venue_id}/blackouts/{day}": day_of(BLACKOUT_DAY),
    "POST /venues/{venue_id}/youth-days/{youth_id}/delete": fresh_days,
    "POST /audit/holidays/{day}/delete": day_of(HOLIDAY_DAY),
    "POST /audit/bases/import/{job_id}/start": fresh_job,
    "POST /audit/bases/import/{job_id}/step": fresh_job,
    "GET /programme-files/{file_id}/thumbnail": use(file_id="photo_id"),
    "GET /verify/{token}": use(token="verify_token"),
    "POST /verify/{token}": use(token="verify_token"),
    "GET /password/reset/{token}": use(token="reset_token"),
    "POST /password/reset/{token}": use(token="reset_token"),
    "GET /calendar/{name}": fresh_feed,
    "GET /audit/log/{entry_id}": use(entry_id="log_entry_id"),
    "POST /staff/activities/{activity_id}/withdraw": fresh_activity,
    "POST /logout": fresh_session,
    "POST /account/delete": fresh_session,
    "POST /account/password": fresh_session,
    "POST /account/calendar/revoke": fresh_session,
}


# ---- the walk ------------------------------------------------------------------------------------------


def outcome(status: int, location: str, *, api: bool, method: str) -> str:
    """What a response means for the table: ok, login, 403, 404 — or what went wrong."""
    if status >= 500:
        return f"5xx({status})"
    if api:
        if status == 401:
            return "login"
    elif status in (302, 303, 307) and location.startswith("/login?next="):
        return "login"  # the guard's redirect (a plain /login is where signing out or the start page go)
    elif status == 401 and method != "GET":
        return "ok"  # a page's own answer to wrong credentials (signed-out guards redirect instead)
    if status in (403, 404):
        return str(status)
    if status < 400:
        return "ok"
    if method != "GET" and status in (400, 409, 413, 415, 422):
        return "ok"  # allowed to ask; the empty body was refused on its merits
    return f"{status}"


def fill(path: str, params: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(params[m.group(1)]), path)


async def request(p: Permissions, role: str, key: str) -> httpx.Response:
    """One request of the walk: the role's session or token, the world's objects in the path, no body."""
    method, _, path = key.partition(" ")
    prepare = PREPARE.get(key)
    params = dict(p.params)
    client, csrf = p.clients[role], p.csrf[role]
    if prepare is not None:
        params |= await prepare(p)
    if params.pop("__fresh_session__", False):
        client = session(client)
        csrf = await sign_in(client, ACTOR[role])
    url = fill(path, params)
    headers: dict[str, str] = {}
    if path.startswith(API):
        if (name := ACTOR[role]) is not None:
            headers.update(p.w.h[name])
        kwargs: dict[str, Any] = {} if method == "GET" else {"json": {}}
    else:
        headers["x-csrftoken"] = csrf
        kwargs = {} if method == "GET" else {"data": {"_csrf_token": csrf}}
    query = QUERY.get(key, {})
    return await client.request(method, url, headers=headers, params=query, **kwargs)


async def test_every_route_as_every_role(app: Litestar, client: httpx.AsyncClient, frozen: Clock) -> None:
    """Each entry of the table, as each role. Routes without an entry are test_every_route_has_an_entry's;
    with KEPU_PERMISSIONS_DUMP=1 they are walked too and every answer is printed in the table's format."""
    p = await build_world(client, frozen)
    dump = bool(os.environ.get("KEPU_PERMISSIONS_DUMP"))
    problems: list[str] = []
    lines = []
    shown: set[str] = set()  # secrets some answer showed to those who may see them
    for key in app_routes(app):
        if key not in TABLE and not dump:
            continue
        method, _, path = key.partition(" ")
        missing = [name for name in re.findall(r"\{(\w+)\}", path) if name not in p.params]
        if missing:
            problems.append(f"{key}: the world has no object for {missing} (add one in build_world)")
            continue
        seen = []
        for role, expected in zip(ROLES, TABLE.get(key, "").split() or [""] * len(ROLES), strict=True):
            r = await request(p, role, key)
            location = r.headers.get("location", "")
            got = outcome(r.status_code, location, api=path.startswith(API), method=method)
            seen.append(got)
            if role in ("anon", "teacher_b", "staff_b") and key not in OWN_SECRET_ADDRESS:
                leaked = [s for s in p.params["secrets"] if s in r.text]
                if leaked:
                    problems.append(f"{key} as {role}: the answer shows school A's {leaked}")
            else:
                shown.update(s for s in p.params["secrets"] if s in r.text)
            if expected and got != expected:
                body = "a page" if r.text.startswith("<!doctype") else repr(r.text[:120])
                answer = f"{r.status_code} {location or body}"
                problems.append(f"{key} as {role}: expected {expected}, got {got} ({answer})")
        lines.append(f'    "{key}": "{" ".join(seen)}",')
    if dump:
        print("\n".join(lines))
    # The leak check can only fail if the secrets are shown at all: each to its owners somewhere.
    problems += [
        f"no answer showed {s!r} even to school A: the leak check is blind to it"
        for s in p.params["secrets"]
        if s not in shown
    ]
    assert not problems, "\n".join(problems)
