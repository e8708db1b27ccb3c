"""Science Week and National Science Day dates set by the auditor per year (issue 6), else the rule;
the scorecard's campaign_activities follows them. Both engines."""

from __future__ import annotations

from datetime import date, datetime

import httpx
import pytest

from core import clock
from evaluation import campaigns, scorecard
from registry.tables import CampaignPeriod
from tests.api_support import refresh_tokens, scan
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession

YEAR = 2030
# The rule puts 2030's Science Week on 13–19 May (May's third Saturday is the 18th); the visit is on
# Monday 6 May, a week earlier, and the city held its Science Week 4–10 May that year.
VISIT = date(YEAR, 5, 6)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=clock.TZ)


@pytest.fixture
async def visited(client: httpx.AsyncClient, frozen: Clock) -> World:
    frozen.set(at(date(YEAR, 3, 1), 8))
    w = await World(client).build()
    slot = await w.slot(capacity=100, starts_at=at(VISIT, 10), ends_at=at(VISIT, 12))
    r = await w.book(slot["id"], 20, 2)
    assert r.status_code == 201, r.text
    frozen.set(at(VISIT, 9))
    await refresh_tokens(w)
    assert (await scan(w, "staff_a", r.json()["code"], students=20, chaperones=2)).status_code == 200
    frozen.set(at(date(YEAR, 6, 1), 9))
    await refresh_tokens(w)
    return w


async def _campaign_figure(venue_id: int) -> int:
    city = await scorecard.city_year(YEAR)
    card = next(c for c in city.cards if c.venue_id == venue_id)
    return int(card.figures["campaign_activities"])


async def auditor(client: httpx.AsyncClient) -> PageSession:
    s = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await s.sign_in("auditor", PASSWORD)
    await s.get("/lang/en?next=/audit")
    await s.get(f"/audit/campaigns?year={YEAR}")
    return s


def test_rule_is_unchanged() -> None:
    assert scorecard.campaign_periods(YEAR)["science_week"] == (date(YEAR, 5, 13), date(YEAR, 5, 19))


async def test_configured_year_changes_campaign_activities(visited: World, client: httpx.AsyncClient) -> None:
    w = visited
    assert await scorecard.load_campaign_periods(YEAR) == scorecard.campaign_periods(YEAR)
    assert await _campaign_figure(w.venue_a) == 0
    s = await auditor(client)
    page = await s.get(f"/audit/campaigns?year={YEAR}")
    assert page.status_code == 200 and "by the rule" in page.text

    r = await s.post(
        "/audit/campaigns",
        {"year": str(YEAR), "science_week_from": f"{YEAR}-05-04", "science_week_to": f"{YEAR}-05-10"},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/audit/campaigns?year={YEAR}"
    periods = await scorecard.load_campaign_periods(YEAR)
    assert periods["science_week"] == (date(YEAR, 5, 4), date(YEAR, 5, 10))
    assert periods["science_day"] == scorecard.campaign_periods(YEAR)["science_day"]  # left to the rule
    assert await _campaign_figure(w.venue_a) == 1
    # The drill-down lists the admission behind the figure; the scorecards page states the dates.
    drill = await scorecard.drill(w.venue_a, YEAR, "campaign_activities")
    assert [item["d"] for item in drill["items"]] == [VISIT]
    page = await s.get(f"/audit/scorecards?year={YEAR}")
    assert page.status_code == 200
    page = await s.get(f"/audit/campaigns?year={YEAR}")
    assert f'value="{YEAR}-05-04"' in page.text and "set by the science association" in page.text
    # Other years keep the rule.
    assert await scorecard.load_campaign_periods(YEAR + 1) == scorecard.campaign_periods(YEAR + 1)

    # Emptying the dates goes back to the rule.
    r = await s.post("/audit/campaigns", {"year": str(YEAR), "science_week_from": "", "science_week_to": ""})
    assert r.status_code == 303
    assert await CampaignPeriod.count() == 1
    assert await scorecard.load_campaign_periods(YEAR) == scorecard.campaign_periods(YEAR)
    assert await _campaign_figure(w.venue_a) == 0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"science_week_from": "2030-05-10", "science_week_to": "2030-05-04"}, "science_week_to", "before"),
        (
            {"science_week_from": "2029-05-10", "science_week_to": "2030-05-12"},
            "science_week_from",
            "in 2030",
        ),
        ({"science_week_from": "2030-05-04"}, "science_week_to", "both"),
        ({"science_day_from": "2030-13-01", "science_day_to": "2030-09-20"}, "science_day_from", "like"),
        ({"science_day_from": "2030-07-01", "science_day_to": "2030-09-20"}, "science_day_to", "at most"),
    ],
)
async def test_bad_dates_are_refused_in_words(
    visited: World, client: httpx.AsyncClient, fields: dict[str, str], field: str, message: str
) -> None:
    s = await auditor(client)
    r = await s.post("/audit/campaigns", {"year": str(YEAR), **fields})
    assert r.status_code == 400
    assert f'id="e-{field}"' in r.text and message in r.text
    assert await CampaignPeriod.count() == 0


def test_parse_form_keeps_both_or_neither() -> None:
    values, errors = campaigns.parse_form(
        YEAR, {"science_day_from": "2030-09-18", "science_day_to": "2030-09-22"}
    )
    assert errors == {}
    assert values == {
        "science_week_from": None,
        "science_week_to": None,
        "science_day_from": date(YEAR, 9, 18),
        "science_day_to": date(YEAR, 9, 22),
    }


async def test_bad_year_is_a_clear_4xx(visited: World, client: httpx.AsyncClient) -> None:
    s = await auditor(client)
    r = await s.post("/audit/campaigns", {"year": "abc"})
    assert 400 <= r.status_code < 500
    r = await s.get("/audit/campaigns?year=99999")
    assert 400 <= r.status_code < 500
