"""Every kind of administrative action writes exactly one audit entry with the right before and after,
in the action's own transaction: a refused action writes none. Both engines."""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from accounts import schools
from accounts import services as accounts
from accounts.schemas import UserView
from auditlog.tables import AdminAction
from bookings import keys, reversal
from bookings import services as bookings
from bookings.tables import CheckIn
from core import clock
from core.errors import DomainError
from kepu.auth import load_actor
from registry import imports
from registry import services as registry
from registry.tables import ThresholdProfile
from tests.conftest import Clock
from tests.helpers import PASSWORD, World, make_user
from timetable import services as timetable
from timetable.services import SeriesDraft
from venues import programmes
from venues import services as venues
from venues.programmes import ProgrammeForm, RoomForm, VenueInfoForm
from venues.schemas import BlackoutForm, SlotForm, VenueForm, VenueUpdate

TZ = clock.TZ
NOW = datetime(2027, 2, 20, 8, 0, tzinfo=TZ)
VISIT = date(2027, 3, 4)


async def user(username: str) -> UserView:
    found = await accounts.get_user_by_username(username)
    assert found is not None
    actor = await load_actor(found.id)
    assert actor is not None
    return actor


@dataclass
class Ctx:
    w: World
    frozen: Clock
    auditor: UserView
    staff: UserView
    sup: UserView
    ids: dict[str, Any] = field(default_factory=dict)

    @property
    def a(self) -> int:
        return self.w.venue_a


@pytest.fixture
async def ctx(client: httpx.AsyncClient, frozen: Clock) -> Ctx:
    frozen.set(NOW)
    w = await World(client).build()
    await make_user("sup_a", "staff", venue_id=w.venue_a, staff_role="supervisor")
    return Ctx(w, frozen, await user("auditor"), await user("staff_a"), await user("sup_a"))


async def entries() -> list[dict[str, Any]]:
    rows = await AdminAction.select().order_by(AdminAction.id)
    for r in rows:
        r["before"] = None if r["before"] is None else json.loads(r["before"])
        r["after"] = None if r["after"] is None else json.loads(r["after"])
    return list(rows)


def slot_form(day: date = VISIT, start: int = 10, capacity: int = 60) -> SlotForm:
    starts = datetime.combine(day, time(start), tzinfo=TZ)
    return SlotForm(starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=capacity)


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


def draft(**extra: Any) -> SeriesDraft:
    values: dict[str, Any] = {
        "rule": "FREQ=WEEKLY;BYDAY=MO;COUNT=3",
        "first_day": date(2027, 3, 1),
        "start": time(9, 30),
        "end": time(11, 0),
        "capacity": 80,
        "title": "少年科学院",
    }
    return SeriesDraft(**(values | extra))


async def nothing(c: Ctx) -> None:
    return None


# ---- setups -------------------------------------------------------------------------------------------


async def with_blackout(c: Ctx) -> None:
    await venues.set_blackout(c.auditor, c.a, BlackoutForm(day=VISIT, reason="布展"))


async def with_room(c: Ctx) -> None:
    c.ids["room"] = (await programmes.save_room(c.staff, c.a, RoomForm(name="一号实验室", capacity=40))).id


async def with_programme(c: Ctx) -> None:
    form = ProgrammeForm(title="机器人入门", grade_bands=["primary_upper"])
    c.ids["programme"] = (await programmes.save_programme(c.staff, c.a, form)).id


async def with_file(c: Ctx) -> None:
    await with_programme(c)
    f = await programmes.add_file(c.staff, c.a, c.ids["programme"], "photo", "p.png", png())
    c.ids["file"] = f.id


async def with_slot(c: Ctx) -> None:
    c.ids["slot"] = (await venues.create_slot(c.staff, c.a, slot_form())).id


async def with_series(c: Ctx) -> None:
    c.ids["series"], _ = await timetable.create_series(c.staff, c.a, draft())


async def with_closure(c: Ctx) -> None:
    await timetable.set_closure(c.staff, c.a, VISIT, "停电检修")


async def with_youth_day(c: Ctx) -> None:
    await timetable.add_youth_day(c.staff, c.a, weekday=2, day=None, kind="free", note="周三免费")
    rows = await timetable.list_youth_days(c.a)
    c.ids["youth_day"] = rows[0]["id"]


async def with_holiday(c: Ctx) -> None:
    await timetable.set_holiday(c.auditor, date(2027, 6, 15), "科普开放日")


async def with_accreditation(c: Ctx) -> None:
    await registry.save_accreditation(c.auditor, c.a, {"level": "municipal", "batch": "2024年第一批"})


async def with_import(c: Ctx) -> None:
    data = "名称,类型,所在区,地址,级别\n海沧科普馆,科技馆,海沧区,海沧大道1号,市级\n".encode()
    c.ids["job"] = await imports.check_file(c.auditor, "bases.csv", data)


async def with_started_import(c: Ctx) -> None:
    await with_import(c)
    await imports.start(c.auditor, c.ids["job"], clean_only=False)


async def with_request(c: Ctx) -> None:
    await venues.update_venue(c.auditor, c.a, VenueUpdate(approval_mode="request"))
    await with_slot(c)
    r = await c.w.book(c.ids["slot"], 30, 2)
    assert r.status_code == 201, r.text
    c.ids["booking"] = r.json()["id"]


async def with_checkin(c: Ctx) -> None:
    today = clock.today()
    starts = datetime.combine(today, time(10), tzinfo=TZ)
    form = SlotForm(starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=100)
    slot = await venues.create_slot(c.auditor, c.a, form)
    booking = (await c.w.book(slot.id, 30, 2)).json()
    c.frozen.set(datetime.combine(today, time(9, 50), tzinfo=TZ))
    r = await c.w.post(
        "staff_a", "/api/v1/checkins", {"token": booking["code"], "students": 20, "chaperones": 1}
    )
    assert r.status_code == 200, r.text
    row = await CheckIn.select(CheckIn.id).where(CheckIn.booking == booking["id"]).first()
    assert row is not None
    c.ids["checkin"] = row["id"]


# ---- the actions --------------------------------------------------------------------------------------

Act = Callable[[Ctx], Awaitable[Any]]

CASES: list[tuple[str, Act, Act, str, dict[str, Any] | None, dict[str, Any] | None]] = [
    (
        "venue.create",
        nothing,
        lambda c: venues.create_venue(
            c.auditor, VenueForm(name="同安科普馆", kind="museum", district="同安区")
        ),
        "venue.create",
        None,
        {"name": "同安科普馆", "kind": "museum", "district": "同安区"},
    ),
    (
        "venue.update (rules)",
        nothing,
        lambda c: venues.update_venue(c.staff, c.a, VenueUpdate(group_max=45, name="厦门科技馆")),
        "venue.update",
        {"group_max": None},
        {"group_max": 45},
    ),
    (
        "venue.info_update",
        nothing,
        lambda c: programmes.update_venue_info(
            c.staff, c.a, VenueInfoForm(address="体育路96号", directions="BRT")
        ),
        "venue.info_update",
        {"address": "体育路95号", "directions": ""},
        {"address": "体育路96号", "directions": "BRT"},
    ),
    (
        "blackout.set",
        nothing,
        lambda c: venues.set_blackout(c.staff, c.a, BlackoutForm(day=VISIT, reason="布展")),
        "blackout.set",
        None,
        {"day": "2027-03-04", "reason": "布展"},
    ),
    (
        "blackout.set (changed reason)",
        with_blackout,
        lambda c: venues.set_blackout(c.staff, c.a, BlackoutForm(day=VISIT, reason="消防演练")),
        "blackout.set",
        {"reason": "布展"},
        {"reason": "消防演练"},
    ),
    (
        "blackout.remove",
        with_blackout,
        lambda c: venues.remove_blackout(c.staff, c.a, VISIT),
        "blackout.remove",
        {"day": "2027-03-04", "reason": "布展"},
        None,
    ),
    (
        "user.create (staff account)",
        nothing,
        lambda c: venues.create_staff_user(c.auditor, c.a, "door_new", PASSWORD, "新门岗", "door"),
        "user.create",
        None,
        {"username": "door_new", "display_name": "新门岗", "role": "staff", "staff_role": "door"},
    ),
    (
        "staff.assign",
        nothing,
        lambda c: venues.add_staff(c.w.venue_b, c.staff.id, "supervisor", actor=c.auditor),
        "staff.assign",
        {"staff_role": "door"},
        {"staff_role": "supervisor"},
    ),
    (
        "room.create",
        nothing,
        lambda c: programmes.save_room(c.staff, c.a, RoomForm(name="一号实验室", capacity=40)),
        "room.create",
        None,
        {"name": "一号实验室", "capacity": 40},
    ),
    (
        "room.update",
        with_room,
        lambda c: programmes.save_room(c.staff, c.a, RoomForm(name="一号实验室", capacity=50), c.ids["room"]),
        "room.update",
        {"capacity": 40},
        {"capacity": 50},
    ),
    (
        "room.retire",
        with_room,
        lambda c: programmes.set_room_retired(c.staff, c.a, c.ids["room"], True),
        "room.retire",
        {"retired_at": None},
        {"retired_at": "2027-02-20T08:00:00+08:00"},
    ),
    (
        "programme.create",
        nothing,
        lambda c: programmes.save_programme(c.staff, c.a, ProgrammeForm(title="机器人入门")),
        "programme.create",
        None,
        {"title": "机器人入门"},
    ),
    (
        "programme.update",
        with_programme,
        lambda c: programmes.save_programme(
            c.staff, c.a, ProgrammeForm(title="机器人进阶", grade_bands=["primary_upper"]), c.ids["programme"]
        ),
        "programme.update",
        {"title": "机器人入门"},
        {"title": "机器人进阶"},
    ),
    (
        "programme.retire",
        with_programme,
        lambda c: programmes.set_programme_retired(c.staff, c.a, c.ids["programme"], True),
        "programme.retire",
        {"retired_at": None},
        {"retired_at": "2027-02-20T08:00:00+08:00"},
    ),
    (
        "file.add",
        with_programme,
        lambda c: programmes.add_file(c.staff, c.a, c.ids["programme"], "photo", "p.png", png()),
        "file.add",
        None,
        {"kind": "photo", "filename": "p.jpg"},
    ),
    (
        "file.remove",
        with_file,
        lambda c: programmes.remove_file(c.staff, c.a, c.ids["programme"], c.ids["file"]),
        "file.remove",
        {"kind": "photo", "filename": "p.jpg"},
        None,
    ),
    (
        "slot.create",
        nothing,
        lambda c: venues.create_slot(c.staff, c.a, slot_form()),
        "slot.create",
        None,
        {"starts_at": "2027-03-04T10:00:00+08:00", "capacity": 60},
    ),
    (
        "slot.update",
        with_slot,
        lambda c: timetable.edit_occurrence(c.staff, c.ids["slot"], time(10), time(12), 80),
        "slot.update",
        {"capacity": 60},
        {"capacity": 80},
    ),
    (
        "slot.cancel",
        with_slot,
        lambda c: timetable.cancel_slot(c.staff, c.ids["slot"], "台风停课"),
        "slot.cancel",
        {"cancelled": False},
        {"cancelled": True, "bookings_cancelled": 0},
    ),
    (
        "series.create",
        nothing,
        lambda c: timetable.create_series(c.staff, c.a, draft()),
        "series.create",
        None,
        {"title": "少年科学院", "capacity": 80, "slots_made": 3, "start": "09:30"},
    ),
    (
        "series.update",
        with_series,
        lambda c: timetable.update_series(c.staff, c.ids["series"], draft(capacity=90)),
        "series.update",
        {"capacity": 80},
        {"capacity": 90},
    ),
    (
        "series.cancel",
        with_series,
        lambda c: timetable.cancel_series(c.staff, c.ids["series"], "场馆维修"),
        "series.cancel",
        {"cancelled": False},
        {"cancelled": True, "slots_cancelled": 3},
    ),
    (
        "hours.update",
        nothing,
        lambda c: timetable.set_weekly_hours(
            c.staff, c.a, [(True, "", "")] + [(False, "09:00", "17:00")] * 6
        ),
        "hours.update",
        {"Monday": "", "Tuesday": ""},
        {"Monday": "closed", "Tuesday": "09:00–17:00"},
    ),
    (
        "closure.set",
        nothing,
        lambda c: timetable.set_closure(c.staff, c.a, VISIT, "停电检修"),
        "closure.set",
        None,
        {"day": "2027-03-04", "reason": "停电检修"},
    ),
    (
        "closure.remove",
        with_closure,
        lambda c: timetable.remove_closure(c.staff, c.a, VISIT),
        "closure.remove",
        {"day": "2027-03-04", "reason": "停电检修"},
        None,
    ),
    (
        "youth_day.add",
        nothing,
        lambda c: timetable.add_youth_day(c.staff, c.a, weekday=2, day=None, kind="free", note="周三免费"),
        "youth_day.add",
        None,
        {"weekday": 2, "kind": "free", "note": "周三免费"},
    ),
    (
        "youth_day.remove",
        with_youth_day,
        lambda c: timetable.remove_youth_day(c.staff, c.a, c.ids["youth_day"]),
        "youth_day.remove",
        {"weekday": 2, "kind": "free"},
        None,
    ),
    (
        "holiday.set",
        nothing,
        lambda c: timetable.set_holiday(c.auditor, date(2027, 6, 15), "科普开放日"),
        "holiday.set",
        None,
        {"day": "2027-06-15", "name": "科普开放日"},
    ),
    (
        "holiday.remove",
        with_holiday,
        lambda c: timetable.remove_holiday(c.auditor, date(2027, 6, 15)),
        "holiday.remove",
        {"day": "2027-06-15", "name": "科普开放日"},
        None,
    ),
    (
        "accreditation.create",
        nothing,
        lambda c: registry.save_accreditation(c.auditor, c.a, {"level": "national", "batch": "2024年第一批"}),
        "accreditation.create",
        None,
        {"level": "national", "batch": "2024年第一批", "status": "active"},
    ),
    (
        "accreditation.update",
        with_accreditation,
        lambda c: registry.save_accreditation(c.auditor, c.a, {"level": "national", "batch": "2024年第一批"}),
        "accreditation.update",
        {"level": "municipal"},
        {"level": "national"},
    ),
    (
        "status.change",
        with_accreditation,
        lambda c: registry.change_status(c.auditor, c.a, "rectification", "接待人次未达标"),
        "status.change",
        {"status": "active"},
        {"status": "rectification"},
    ),
    (
        "base_import.start",
        with_import,
        lambda c: imports.start(c.auditor, c.ids["job"], clean_only=False),
        "base_import.start",
        None,
        {"filename": "bases.csv", "rows": 1},
    ),
    (
        "base_import.row",
        with_started_import,
        lambda c: imports.step(c.auditor, c.ids["job"]),
        "base_import.row",
        None,
        {"name": "海沧科普馆", "kind": "science_museum", "district": "海沧区"},
    ),
    (
        "school.import",
        nothing,
        lambda c: schools.import_rows(
            [schools.SchoolRow(row=2, name="海沧实验小学", district="海沧区", stage="primary")],
            actor=c.auditor,
        ),
        "school.import",
        None,
        {"created": 1, "updated": 0},
    ),
    (
        "booking.approve",
        with_request,
        lambda c: bookings.approve_booking(c.staff, c.ids["booking"]),
        "booking.approve",
        {"status": "requested"},
        {"status": "confirmed"},
    ),
    (
        "booking.decline",
        with_request,
        lambda c: bookings.decline_booking(c.staff, c.ids["booking"], "当天已满"),
        "booking.decline",
        {"status": "requested"},
        {"status": "declined"},
    ),
    (
        "checkin.reverse",
        with_checkin,
        lambda c: reversal.reverse_checkin(c.sup, c.ids["checkin"], "扫错了班级"),
        "checkin.reverse",
        {"reversed": False},
        {"reversed": True, "students": 20, "chaperones": 1},
    ),
    (
        "passkey.rotate",
        nothing,
        lambda c: keys.rotate(c.auditor),
        "passkey.rotate",
        None,
        None,
    ),
]


def subset(expected: dict[str, Any] | None, actual: dict[str, Any] | None) -> None:
    if expected is None:
        return
    assert actual is not None
    assert {k: actual.get(k, "<missing>") for k in expected} == expected


@pytest.mark.parametrize(
    ("setup", "act", "code", "before", "after"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
async def test_each_action_writes_one_entry(
    ctx: Ctx,
    setup: Act,
    act: Act,
    code: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await setup(ctx)
    known = len(await entries())
    await act(ctx)
    new = (await entries())[known:]
    assert [e["action"] for e in new] == [code]
    entry = new[0]
    subset(before, entry["before"])
    subset(after, entry["after"])
    text = json.dumps([entry["before"], entry["after"]])
    assert "password" not in text and "$argon2" not in text and "private" not in text
    assert entry["actor_id"] is not None and entry["actor_name"]


async def test_creation_keeps_nothing_before_and_an_edit_only_what_changed(ctx: Ctx) -> None:
    await venues.update_venue(ctx.staff, ctx.a, VenueUpdate(name="厦门科技馆", group_min=10, group_max=45))
    entry = (await entries())[-1]
    assert entry["before"] == {"group_min": None, "group_max": None}
    assert entry["after"] == {"group_min": 10, "group_max": 45}
    assert entry["actor_role"] == "staff/door" and entry["venue_id"] == ctx.a
    created = [e for e in await entries() if e["action"] == "venue.create"]
    assert len(created) == 2 and all(e["before"] is None for e in created)


async def test_an_edit_that_changes_nothing_writes_nothing(ctx: Ctx) -> None:
    known = len(await entries())
    await venues.update_venue(ctx.staff, ctx.a, VenueUpdate(name="厦门科技馆"))
    await programmes.update_venue_info(ctx.staff, ctx.a, VenueInfoForm(address="体育路95号"))
    assert len(await entries()) == known


async def test_user_accounts_keep_no_secrets(ctx: Ctx) -> None:
    user_id = await accounts.create_user("console_made", "a-long-password", "auditor", actor=ctx.auditor)
    entry = (await entries())[-1]
    assert entry["action"] == "user.create" and entry["object_id"] == str(user_id)
    assert set(entry["after"]) == {"username", "display_name", "role", "school_id"}
    assert "a-long-password" not in json.dumps(entry["after"])


async def test_teacher_self_service_is_not_an_admin_action(ctx: Ctx) -> None:
    known = len(await entries())
    await make_user("teacher_new", "teacher")
    assert len(await entries()) == known


# ---- refused actions write nothing ---------------------------------------------------------------

FAILURES: list[tuple[str, Act, Act]] = [
    (
        "venue.update with bounds the wrong way",
        nothing,
        lambda c: venues.update_venue(c.staff, c.a, VenueUpdate(group_min=50, group_max=10)),
    ),
    (
        "venue.update by staff of another venue",
        nothing,
        lambda c: venues.update_venue(c.staff, c.w.venue_b, VenueUpdate(name="x")),
    ),
    (
        "blackout in the past",
        nothing,
        lambda c: venues.set_blackout(c.staff, c.a, BlackoutForm(day=date(2027, 1, 1))),
    ),
    (
        "staff account with a taken username",
        nothing,
        lambda c: venues.create_staff_user(c.auditor, c.a, "staff_b", PASSWORD, "重名", "door"),
    ),
    (
        "status change to the same status",
        with_accreditation,
        lambda c: registry.change_status(c.auditor, c.a, "active", "再次确认"),
    ),
    ("slot cancel without a reason", with_slot, lambda c: timetable.cancel_slot(c.staff, c.ids["slot"], " ")),
    (
        "slot capacity below what is booked",
        with_request,
        lambda c: timetable.edit_occurrence(c.staff, c.ids["slot"], time(10), time(12), 5),
    ),
    ("approve twice", with_request, lambda c: approve_twice(c)),
    (
        "reversal by door staff",
        with_checkin,
        lambda c: reversal.reverse_checkin(c.staff, c.ids["checkin"], "x"),
    ),
    (
        "programme file that is not an image",
        with_programme,
        lambda c: programmes.add_file(c.staff, c.a, c.ids["programme"], "photo", "x.png", b"not an image"),
    ),
    (
        "series that makes no slots",
        nothing,
        lambda c: timetable.create_series(c.staff, c.a, draft(rule="FREQ=WEEKLY;BYDAY=MO;UNTIL=20270101")),
    ),
    ("profile that does not exist", nothing, lambda c: registry.save_profile(c.auditor, 999_999, {})),
]


async def approve_twice(c: Ctx) -> None:
    await bookings.approve_booking(c.staff, c.ids["booking"])
    c.ids["known"] = len(await entries())
    await bookings.approve_booking(c.staff, c.ids["booking"])


@pytest.mark.parametrize(("setup", "act"), [pytest.param(*f[1:], id=f[0]) for f in FAILURES])
async def test_a_refused_action_writes_no_entry(ctx: Ctx, setup: Act, act: Act) -> None:
    await setup(ctx)
    known = len(await entries())
    with pytest.raises(DomainError):
        await act(ctx)
    assert len(await entries()) == ctx.ids.get("known", known)


async def test_a_failure_after_the_entry_rolls_the_entry_back(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entry is written in the action's transaction: when the action fails after it, neither stays."""
    import auditlog.services

    real = auditlog.services.record

    async def record_then_fail(*args: Any, **kw: Any) -> Any:
        await real(*args, **kw)
        raise RuntimeError("the disk is full")

    for module in (venues, programmes):
        monkeypatch.setattr(module.auditlog, "record", record_then_fail)
    known = len(await entries())
    with pytest.raises(RuntimeError):
        await venues.update_venue(ctx.staff, ctx.a, VenueUpdate(name="改了名字"))
    assert len(await entries()) == known
    assert (await venues.get_venue(ctx.a)).name == "厦门科技馆"


async def test_profile_edit_logs_only_the_changed_thresholds(ctx: Ctx) -> None:
    row = (
        await ThresholdProfile.select(ThresholdProfile.id, ThresholdProfile.config)
        .where(ThresholdProfile.code == "venue")
        .first()
    )
    if row is None:  # PostgreSQL tests empty every table, the seeded profiles too
        ids = await ThresholdProfile.insert(
            ThresholdProfile(
                code="venue",
                name="场馆类",
                config=json.dumps(
                    {"metrics": {"visitors": {"threshold": 5000, "weight": 25}}, "bands": {"excellent": 90}}
                ),
            )
        ).returning(ThresholdProfile.id)
        row = {
            "id": ids[0]["id"],
            "config": json.dumps(
                {"metrics": {"visitors": {"threshold": 5000, "weight": 25}}, "bands": {"excellent": 90}}
            ),
        }
    config = json.loads(row["config"])
    config["metrics"]["visitors"]["threshold"] = 6000
    await registry.save_profile(ctx.auditor, row["id"], config)
    entry = (await entries())[-1]
    assert entry["action"] == "profile.update"
    assert entry["before"] == {"visitors.threshold": 5000} and entry["after"] == {"visitors.threshold": 6000}
