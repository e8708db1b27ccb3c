"""The evaluation shows what the door and the timetable know beyond bookings: the walk-ins tallied at
the scan page (unbooked visitors, per venue and year) and the youth-free days a venue set."""

from __future__ import annotations

import re
from datetime import date, datetime

import httpx

from accounts import services as accounts
from core import clock
from evaluation import scorecard
from tests.conftest import Clock
from tests.helpers import PASSWORD, World, make_user
from tests.pages.browser_session import PageSession
from timetable import services as timetable


async def test_walk_ins_and_youth_days_reach_the_base_scorecard(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(datetime(2030, 3, 12, 10, 0, tzinfo=clock.TZ))  # a Tuesday
    w = await World(client).build()
    await make_user("auditor2", "auditor")
    staff_a = await accounts.get_user_by_username("staff_a")
    assert staff_a is not None
    staff_a.venue_id = w.venue_a
    await timetable.record_walk_in(staff_a, adults=3, youth=5)
    await timetable.record_walk_in(staff_a, adults=1, youth=0, day=date(2030, 3, 10))
    await timetable.record_walk_in(staff_a, adults=-1, youth=2)  # a correction at the door
    await timetable.add_youth_day(staff_a, w.venue_a, weekday=2, day=None, kind="free")  # Wednesdays
    # Open every day but Monday, and closed on one Sunday for works.
    await timetable.set_weekly_hours(staff_a, w.venue_a, [(True, "", ""), *[(False, "09:00", "17:00")] * 6])
    await timetable.set_closure(staff_a, w.venue_a, date(2030, 6, 2), "闭馆维护")

    year = await scorecard.city_year(2030)
    card = next(c for c in year.cards if c.venue_id == w.venue_a)
    other = next(c for c in year.cards if c.venue_id == w.venue_b)
    assert (card.figures["walk_in_adults"], card.figures["walk_in_youth"]) == (3, 7)
    assert (other.figures["walk_in_adults"], other.figures["walk_in_youth"]) == (0, 0)
    assert (await scorecard.city_year(2029)).cards[0].figures["walk_in_adults"] == 0

    page = PageSession(client)
    await page.sign_in("auditor2", PASSWORD)
    r = await page.get(f"/audit/scorecards/{w.venue_a}?year=2030")
    assert r.status_code == 200
    section = r.text.split('data-testid="beyond-bookings"', 1)[1].split("</dl>", 1)[0]
    numbers = [int(n) for n in re.findall(r"<dd>(\d+)</dd>", section)]
    # 2030 has 52 Wednesdays; 365 days less 52 Mondays less one closed Sunday are open.
    assert numbers == [3, 7, 52, 365 - 52 - 1]
    r = await page.get(f"/audit/scorecards/{w.venue_b}?year=2030")
    assert "未设置开放时间" in r.text or "no hours set" in r.text
