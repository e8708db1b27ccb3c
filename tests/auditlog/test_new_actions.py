"""The administrative actions of activities, self-reports, city targets, campaign dates and name lists
each write exactly one audit entry with the right before and after, in the action's own transaction; a
refused action writes none; the worker's purge logs a count, never a name. Both engines."""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from accounts import services as accounts
from accounts.schemas import UserView
from activities import services as activities
from activities.services import ActivityForm, SelfReportForm
from activities.tables import Activity, SelfReport
from auditlog.tables import AdminAction
from core.errors import DomainError
from evaluation import campaigns, targets
from kepu.auth import load_actor
from privacy import namelists
from privacy.tables import NameList, VenuePolicy
from registry.tables import CampaignPeriod, CityTarget
from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import World
from tests.privacy.support import NAMES

NOW = at(8)  # 2030-05-20 08:00, Asia/Shanghai
YEAR = NOW.year


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
    teacher: UserView
    ids: dict[str, Any] = field(default_factory=dict)

    @property
    def a(self) -> int:
        return self.w.venue_a


@pytest.fixture
async def ctx(client: httpx.AsyncClient, frozen: Clock) -> Ctx:
    frozen.set(NOW)
    w = await World(client).build()
    return Ctx(w, frozen, await user("auditor"), await user("staff_a"), await user("teacher_a"))


async def entries() -> list[dict[str, Any]]:
    rows = await AdminAction.select().order_by(AdminAction.id)
    for r in rows:
        r["before"] = None if r["before"] is None else json.loads(r["before"])
        r["after"] = None if r["after"] is None else json.loads(r["after"])
    return list(rows)


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (20, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def lecture(**extra: Any) -> ActivityForm:
    values: dict[str, Any] = {
        "kind": "lecture",
        "title": "海洋生物讲座",
        "starts_on": date(YEAR, 5, 10),
        "attendance": 120,
        "students": 100,
        "adults": 20,
    }
    return ActivityForm(**(values | extra))


def report(**extra: Any) -> SelfReportForm:
    values: dict[str, Any] = {
        "fulltime_staff": 5,
        "parttime_staff": 3,
        "volunteers": 10,
        "funding_raised": 200_000,
        "funding_spent": 180_000,
        "exhibit_area": 1_500,
        "note": "含流动展",
    }
    return SelfReportForm(**(values | extra))


def week(lo: date | None, hi: date | None) -> dict[str, date | None]:
    return {"science_week_from": lo, "science_week_to": hi, "science_day_from": None, "science_day_to": None}


async def nothing(c: Ctx) -> None:
    return None


# ---- setups -------------------------------------------------------------------------------------------


async def with_activity(c: Ctx) -> None:
    c.ids["activity"] = (await activities.create_activity(c.staff, lecture())).id


async def with_withdrawn(c: Ctx) -> None:
    await with_activity(c)
    await activities.withdraw_activity(c.staff, c.ids["activity"], "重复录入")


async def with_report(c: Ctx) -> None:
    await activities.save_self_report(c.staff, YEAR, report())


async def with_required(c: Ctx) -> None:
    await namelists.set_requirement(c.auditor, c.a, True)


Act = Callable[[Ctx], Awaitable[Any]]

# (id, setup, action, code, object_id (None: the new activity's id), before, after)
CASES: list[tuple[str, Act, Act, str, Callable[[Ctx], str] | None, Any, Any]] = [
    (
        "activity.create",
        nothing,
        lambda c: activities.create_activity(c.staff, lecture(), png()),
        "activity.create",
        None,
        None,
        {
            "kind": "lecture",
            "title": "海洋生物讲座",
            "starts_on": f"{YEAR}-05-10",
            "ends_on": f"{YEAR}-05-10",
            "attendance": 120,
            "students": 100,
            "adults": 20,
            "online": False,
            "views": None,
            "note": "",
        },
    ),
    (
        "activity.update",
        with_activity,
        lambda c: activities.update_activity(c.staff, c.ids["activity"], lecture(attendance=150)),
        "activity.update",
        lambda c: str(c.ids["activity"]),
        {"attendance": 120},
        {"attendance": 150},
    ),
    (
        "activity.withdraw",
        with_activity,
        lambda c: activities.withdraw_activity(c.staff, c.ids["activity"], "重复录入"),
        "activity.withdraw",
        lambda c: str(c.ids["activity"]),
        {"withdrawn": False},
        {"withdrawn": True},
    ),
    (
        "self_report.save (first)",
        nothing,
        lambda c: activities.save_self_report(c.staff, YEAR, report()),
        "self_report.save",
        lambda c: f"{c.a}/{YEAR}",
        None,
        {
            "fulltime_staff": 5,
            "parttime_staff": 3,
            "volunteers": 10,
            "funding_raised": 200_000,
            "funding_spent": 180_000,
            "exhibit_area": 1_500,
            "note": "含流动展",
        },
    ),
    (
        "self_report.save (correction)",
        with_report,
        lambda c: activities.save_self_report(c.staff, YEAR, report(volunteers=12)),
        "self_report.save",
        lambda c: f"{c.a}/{YEAR}",
        {"volunteers": 10},
        {"volunteers": 12},
    ),
    (
        "targets.update",
        nothing,
        lambda c: targets.save_targets(c.auditor, {**_defaults(), "excellent_bases": 25}),
        "targets.update",
        lambda c: "",
        {"excellent_bases": 20},
        {"excellent_bases": 25},
    ),
    (
        "campaign.update",
        nothing,
        lambda c: campaigns.save(c.auditor, YEAR, week(date(YEAR, 5, 18), date(YEAR, 5, 25))),
        "campaign.update",
        lambda c: str(YEAR),
        {"science_week_from": None, "science_week_to": None},
        {"science_week_from": f"{YEAR}-05-18", "science_week_to": f"{YEAR}-05-25"},
    ),
    (
        "namelist.requirement (on)",
        nothing,
        lambda c: namelists.set_requirement(c.staff, c.a, True),
        "namelist.requirement",
        lambda c: str(c.a),
        {"required": False},
        {"required": True},
    ),
    (
        "namelist.requirement (off)",
        with_required,
        lambda c: namelists.set_requirement(c.auditor, c.a, False),
        "namelist.requirement",
        lambda c: str(c.a),
        {"required": True},
        {"required": False},
    ),
]

# The entry's venue: the activity's, the self-report's, the name-list setting's; none for city-wide ones.
CITY_WIDE = ("targets.update", "campaign.update")


def _defaults() -> dict[str, int]:
    return {code: spec.default for code, spec in targets.TARGETS.items()}


@pytest.mark.parametrize(
    ("setup", "act", "code", "object_id", "before", "after"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
async def test_each_action_writes_one_entry(
    ctx: Ctx,
    setup: Act,
    act: Act,
    code: str,
    object_id: Callable[[Ctx], str] | None,
    before: Any,
    after: Any,
) -> None:
    await setup(ctx)
    known = len(await entries())
    result = await act(ctx)
    new = (await entries())[known:]
    assert [e["action"] for e in new] == [code]
    entry = new[0]
    assert entry["before"] == before
    if code == "activity.create":
        assert {k: entry["after"].get(k, "<missing>") for k in after} == after
        assert entry["object_id"] == str(result.id)
        assert entry["after"]["photo_size"] == result.photo_size > 0  # the size, never the bytes
    else:
        assert entry["after"] == after
        assert object_id is not None and entry["object_id"] == object_id(ctx)
    assert entry["venue_id"] == (None if code in CITY_WIDE else ctx.a)
    assert entry["actor_id"] is not None and entry["actor_name"]


async def test_a_withdrawal_keeps_its_reason(ctx: Ctx) -> None:
    await with_activity(ctx)
    await activities.withdraw_activity(ctx.staff, ctx.ids["activity"], "  重复录入 ")
    entry = (await entries())[-1]
    assert entry["action"] == "activity.withdraw" and entry["reason"] == "重复录入"
    assert entry["actor_role"] == "staff/door"


async def test_saving_the_same_values_again_writes_nothing(ctx: Ctx) -> None:
    await with_activity(ctx)
    await with_report(ctx)
    await with_required(ctx)
    known = len(await entries())
    await activities.update_activity(ctx.staff, ctx.ids["activity"], lecture())
    await activities.save_self_report(ctx.staff, YEAR, report())
    await namelists.set_requirement(ctx.auditor, ctx.a, True)
    await targets.save_targets(ctx.auditor, _defaults())
    await campaigns.save(ctx.auditor, YEAR, week(None, None))
    assert len(await entries()) == known


# ---- refused actions write nothing ---------------------------------------------------------------

FAILURES: list[tuple[str, Act, Act]] = [
    (
        "activity.create in the future",
        nothing,
        lambda c: activities.create_activity(c.staff, lecture(starts_on=date(YEAR, 6, 1))),
    ),
    (
        "activity.create with a file that is not a photo",
        nothing,
        lambda c: activities.create_activity(c.staff, lecture(), b"%PDF-1.4 not a photo"),
    ),
    (
        "activity.create by an auditor",
        nothing,
        lambda c: activities.create_activity(c.auditor, lecture()),
    ),
    (
        "activity.update with more students than attendance",
        with_activity,
        lambda c: activities.update_activity(c.staff, c.ids["activity"], lecture(students=200)),
    ),
    (
        "activity.update of a withdrawn record",
        with_withdrawn,
        lambda c: activities.update_activity(c.staff, c.ids["activity"], lecture(attendance=150)),
    ),
    (
        "activity.withdraw without a reason",
        with_activity,
        lambda c: activities.withdraw_activity(c.staff, c.ids["activity"], "   "),
    ),
    (
        "activity.withdraw twice",
        with_withdrawn,
        lambda c: activities.withdraw_activity(c.staff, c.ids["activity"], "再撤一次"),
    ),
    (
        "self_report.save spending far more than raised",
        nothing,
        lambda c: activities.save_self_report(c.staff, YEAR, report(funding_spent=900_000)),
    ),
    (
        "self_report.save of a closed year",
        nothing,
        lambda c: activities.save_self_report(c.staff, YEAR - 1, report()),
    ),
    (
        "targets.update by staff",
        nothing,
        lambda c: targets.save_targets(c.staff, {**_defaults(), "excellent_bases": 25}),
    ),
    (
        "campaign.update by staff",
        nothing,
        lambda c: campaigns.save(c.staff, YEAR, week(date(YEAR, 5, 18), date(YEAR, 5, 25))),
    ),
    (
        "namelist.requirement for another venue",
        nothing,
        lambda c: namelists.set_requirement(c.staff, c.w.venue_b, True),
    ),
    (
        "namelist.requirement by a teacher",
        nothing,
        lambda c: namelists.set_requirement(c.teacher, c.a, True),
    ),
]


async def _state() -> list[Any]:
    """What the actions above write, besides the log: nothing of it may change on a refusal."""
    return [
        await Activity.select(Activity.id, Activity.attendance, Activity.withdrawn_at).order_by(Activity.id),
        await SelfReport.select(SelfReport.volunteers, SelfReport.funding_spent),
        await CityTarget.select(CityTarget.code, CityTarget.target),
        await CampaignPeriod.count(),
        await VenuePolicy.select(VenuePolicy.venue, VenuePolicy.requires_name_list),
    ]


@pytest.mark.parametrize(("setup", "act"), [pytest.param(*f[1:], id=f[0]) for f in FAILURES])
async def test_a_refused_action_writes_nothing(ctx: Ctx, setup: Act, act: Act) -> None:
    await setup(ctx)
    known = len(await entries())
    state = await _state()
    with pytest.raises(DomainError):
        await act(ctx)
    assert len(await entries()) == known
    assert await _state() == state


# ---- the worker's purge ----------------------------------------------------------------------------


async def _booking_with_list(c: Ctx) -> int:
    await namelists.set_requirement(c.auditor, c.a, True)
    slot = await c.w.slot(capacity=80, starts_at=at(10, days=3), ends_at=at(12, days=3))
    r = await c.w.book(slot["id"], 4, 1)
    assert r.status_code == 201, r.text
    booking_id = int(r.json()["id"])
    count = await namelists.upload(
        c.teacher, booking_id, filename="", data=b"", text="\n".join(NAMES), guardians_informed=True
    )
    assert count == len(NAMES)
    return booking_id


async def test_purge_logs_how_many_lists_went_and_no_name(ctx: Ctx) -> None:
    await _booking_with_list(ctx)
    known = len(await entries())
    assert await namelists.purge() == 0  # nothing expired yet: nothing logged
    assert len(await entries()) == known

    ctx.frozen.set(at(12, days=3) + namelists.retention() + timedelta(minutes=1))
    assert await namelists.purge() == 1
    new = (await entries())[known:]
    assert [e["action"] for e in new] == ["namelist.purge"]
    entry = new[0]
    assert entry["after"] == {"deleted": 1} and entry["before"] is None
    assert entry["actor_id"] is None and entry["actor_role"] == "system"
    assert entry["object_type"] == "namelist" and entry["object_id"] == ""
    assert await NameList.count() == 0
    text = json.dumps(entry, ensure_ascii=False, default=str)
    assert not any(name in text for name in NAMES)

    assert await namelists.purge() == 0  # a pass with nothing to erase writes nothing
    assert len(await entries()) == known + 1


async def test_teacher_upload_and_delete_are_not_admin_actions(ctx: Ctx) -> None:
    booking_id = await _booking_with_list(ctx)
    known = len(await entries())
    assert await namelists.delete(ctx.teacher, booking_id) is True
    assert len(await entries()) == known
    assert not any(
        name in json.dumps([e["before"], e["after"]], ensure_ascii=False)
        for e in await entries()
        for name in NAMES
    )
