"""The demo's activities and self-reports: plausible, counted, and the same on every run."""

from __future__ import annotations

from activities import services
from activities.demo import add_demo_activities
from activities.tables import Activity, SelfReport
from tests.helpers import World

from .conftest import user


async def test_demo_activities(world: World) -> None:
    staff = [(await user("staff_a")).id, (await user("staff_b")).id]
    venues = [world.venue_a, world.venue_b]
    made = await add_demo_activities(venues, ["science_museum", "community_site"], staff)
    assert made == await Activity.count() > 20
    first = await Activity.select(
        Activity.kind, Activity.title, Activity.starts_on, Activity.attendance
    ).order_by(Activity.id)
    counts = await services.year_counts_by_venue(2026)
    assert counts[world.venue_a] > counts[world.venue_b] > 0
    figures = await services.year_figures(2025)
    assert (
        figures[world.venue_a]["self_report"] is not None
        and figures[world.venue_b]["self_report"] is not None
    )
    assert figures[world.venue_a]["activities_by_type"]["exhibition"]["count"] >= 1
    assert await SelfReport.count() >= 3
    assert await Activity.count().where(Activity.photo_size > 0) > 0
    assert await Activity.count().where(Activity.withdrawn_at.is_not_null()) == 1
    # Deterministic: the same records again.
    await Activity.delete(force=True)
    await SelfReport.delete(force=True)
    await add_demo_activities(venues, ["science_museum", "community_site"], staff)
    again = await Activity.select(
        Activity.kind, Activity.title, Activity.starts_on, Activity.attendance
    ).order_by(Activity.id)
    assert again == first
