"""Yearly figures of activities and self-reports, computed by hand and compared with the queries."""

from __future__ import annotations

from datetime import date

from activities import services
from activities.services import ActivityForm, SelfReportForm
from tests.helpers import World

from .conftest import user


def form(kind: str, day: date, attendance: int, **kw: object) -> ActivityForm:
    return ActivityForm(kind=kind, title=f"{kind} {day}", starts_on=day, attendance=attendance, **kw)  # type: ignore[arg-type]


async def test_year_counts_by_venue(world: World) -> None:
    a, b = await user("staff_a"), await user("staff_b")
    await services.create_activity(a, form("lecture", date(2026, 3, 2), 80))
    await services.create_activity(a, form("exhibition", date(2026, 5, 1), 500, ends_on=date(2026, 6, 1)))
    gone = await services.create_activity(a, form("competition", date(2026, 4, 2), 30))
    await services.withdraw_activity(a, gone.id, "entered twice")
    await services.create_activity(b, form("online", date(2026, 1, 5), 1200, views=9000))
    # The previous year's record (its year is closed for the base) is entered directly.
    from activities.tables import Activity
    from core import clock

    await Activity.insert(
        Activity(
            venue=world.venue_b,
            kind="lecture",
            title="old",
            starts_on=date(2025, 12, 31),
            ends_on=date(2025, 12, 31),
            attendance=40,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    assert await services.year_counts_by_venue(2026) == {world.venue_a: 2, world.venue_b: 1}
    assert await services.year_counts_by_venue(2025) == {world.venue_b: 1}
    assert await services.year_counts_by_venue(2024) == {}


async def test_year_figures_by_hand(world: World) -> None:
    a, b = await user("staff_a"), await user("staff_b")
    # 科技活动周 2026: 11–17 May.
    await services.create_activity(a, form("lecture", date(2026, 3, 2), 80, students=60, adults=20))
    await services.create_activity(a, form("lecture", date(2026, 5, 12), 120))
    await services.create_activity(
        a, form("lecture", date(2026, 5, 20), 300, online=True, views=5000)
    )  # online lecture, after the week
    await services.create_activity(a, form("exhibition", date(2026, 5, 1), 500, ends_on=date(2026, 5, 11)))
    gone = await services.create_activity(a, form("competition", date(2026, 4, 2), 30))
    await services.withdraw_activity(a, gone.id, "entered twice")
    await services.create_activity(b, form("online", date(2026, 1, 5), 1200, views=9000))
    await services.save_self_report(
        a,
        2026,
        SelfReportForm(
            fulltime_staff=12,
            parttime_staff=30,
            volunteers=150,
            funding_raised=800_000,
            funding_spent=650_000,
            exhibit_area=9000,
            note="含志愿者培训",
        ),
    )
    figures = await services.year_figures(2026)
    assert set(figures) == {world.venue_a, world.venue_b}
    fa = figures[world.venue_a]
    assert fa["activities"] == 4
    assert fa["activity_attendance"] == 80 + 120 + 300 + 500
    assert fa["activities_by_type"]["lecture"] == {
        "count": 3,
        "attendance": 500,
        "online_count": 1,
        "online_attendance": 300,
    }
    assert fa["activities_by_type"]["exhibition"]["count"] == 1
    assert fa["activities_by_type"]["competition"]["count"] == 0  # the withdrawn one is not counted
    assert fa["online_activities"] == 1 and fa["activity_views"] == 5000
    assert fa["activity_students"] == 60 and fa["activity_adults"] == 20
    # In the week: the lecture of 12 May and the exhibition ending on 11 May (overlapping days count).
    assert fa["science_week_activities"] == 2
    assert fa["science_week_attendance"] == 620
    assert fa["self_report"]["volunteers"] == 150
    assert fa["self_report"]["funding_raised"] == 800_000
    fb = figures[world.venue_b]
    assert fb["activities"] == 1 and fb["online_activities"] == 1 and fb["activity_views"] == 9000
    assert fb["activities_by_type"]["online"]["online_attendance"] == 1200
    assert fb["self_report"] is None
    assert await services.year_figures(2025) == {}
