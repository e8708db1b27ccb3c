"""Activities and self-reports in the scorecard: in each card's figures under their own keys, on the
base's page and the city page, marked self-reported, and never mixed into the check-in figures."""

from __future__ import annotations

from datetime import date

import httpx

from activities import services
from activities.services import ActivityForm, SelfReportForm
from evaluation import scorecard
from tests.helpers import World

from .conftest import user
from .test_pages import signed_in


async def seed(world: World) -> None:
    a = await user("staff_a")
    await services.create_activity(
        a, ActivityForm(kind="lecture", title="深海探索讲座", starts_on=date(2026, 5, 12), attendance=150)
    )
    await services.create_activity(
        a,
        ActivityForm(
            kind="exhibition",
            title="航天展",
            starts_on=date(2026, 4, 1),
            ends_on=date(2026, 6, 10),
            attendance=4321,
        ),
    )
    await services.save_self_report(
        a,
        2026,
        SelfReportForm(
            fulltime_staff=7,
            parttime_staff=11,
            volunteers=86,
            funding_raised=512_000,
            funding_spent=498_000,
            exhibit_area=3300,
        ),
    )


async def test_figures_in_the_cards(world: World) -> None:
    await seed(world)
    city = await scorecard.city_year(2026)
    cards = {c.venue_id: c for c in city.cards}
    own = cards[world.venue_a].figures["self_reported"]
    assert own["activities"] == 2 and own["activity_attendance"] == 4471
    assert own["science_week_activities"] == 2  # the lecture on 12 May, the exhibition running through it
    assert own["self_report"]["volunteers"] == 86
    assert cards[world.venue_a].figures["activities_by_type"]["exhibition"]["attendance"] == 4321
    # Check-in figures are not touched by self-reported attendance.
    assert cards[world.venue_a].figures["visitors"] == 0
    other = cards[world.venue_b].figures["self_reported"]
    assert other["activities"] == 0 and other["self_report"] is None


async def test_pages_mark_them_self_reported(world: World, client: httpx.AsyncClient) -> None:
    await seed(world)
    auditor = await signed_in(client, "auditor")
    page = await auditor.get(f"/audit/scorecards/{world.venue_a}?year=2026")
    assert page.status_code == 200, page.text[:500]
    section = page.text[page.text.index('data-testid="self-reported"') :]
    assert "Self-reported" in section or "自报" in section
    assert "4,321" in section and "3,300" in section and "512,000" in section
    other = await auditor.get(f"/audit/scorecards/{world.venue_b}?year=2026")
    assert other.status_code == 200
    city = await auditor.get("/audit/scorecards?year=2026")
    assert city.status_code == 200
    assert "2 (4,471)" in city.text
    assert f"/audit/activities?year=2026&amp;venue={world.venue_a}" in city.text
