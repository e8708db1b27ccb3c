"""The timetable part of the Xiamen demo: public holidays, one venue's opening hours and youth-free
day, and a recurring Saturday series."""

from __future__ import annotations

from datetime import time, timedelta

from accounts.schemas import UserView
from core import clock
from timetable import services
from timetable.services import SeriesDraft


async def add_demo_timetable(venue_id: int, staff_id: int) -> int:
    """Returns the series id. Tuesday to Sunday 09:00–17:00 (Saturdays until 18:00), closed Mondays;
    young people free on Wednesdays; a Saturday afternoon workshop for the next twelve weeks."""
    await services.seed_holidays()
    staff = UserView(id=staff_id, username="", role="staff", display_name="", venue_id=venue_id)
    week = (
        [(True, "", "")]
        + [(False, "09:00", "17:00")] * 4
        + [(False, "09:00", "18:00"), (False, "09:00", "17:00")]
    )
    await services.set_weekly_hours(staff, venue_id, week)
    await services.add_youth_day(staff, venue_id, weekday=2, day=None, kind="free", note="青少年免费日")
    first = clock.today() + timedelta(days=7)
    series_id, _ = await services.create_series(
        staff,
        venue_id,
        SeriesDraft(
            rule="FREQ=WEEKLY;BYDAY=SA;COUNT=12",
            first_day=first,
            start=time(14, 0),
            end=time(15, 30),
            capacity=40,
            title="周六亲子科学实验课",
            kind="activity",
        ),
    )
    return series_id
