"""Every page route, gathered from the domain packages, and the start page that sends each person home."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Redirect

from accounts.pages import PAGES as ACCOUNT_PAGES
from activities.pages import ACTIVITY_PAGES
from auditlog.pages import AUDITLOG_PAGES
from bookings.catalogue_pages import CATALOGUE_PAGES
from bookings.door_pages import DOOR_PAGES
from bookings.pages import PAGES as BOOKING_PAGES
from bookings.staff_pages import STAFF_PAGES
from bookings.waitlist_pages import WAITLIST_PAGES
from evaluation.anomaly_pages import ANOMALY_PAGES
from evaluation.national_stats import NATIONAL_STATS_PAGES
from evaluation.pages import PAGES as EVALUATION_PAGES
from evaluation.target_pages import TARGET_PAGES
from messaging.pages import PAGES as MESSAGING_PAGES
from privacy.pages import PRIVACY_PAGES
from registry.pages import PAGES as REGISTRY_PAGES
from timetable.pages import TIMETABLE_PAGES
from venues.pages import PAGES as VENUE_PAGES
from venues.programme_pages import PROGRAMME_STAFF_PAGES

HOME_BY_ROLE = {"teacher": "/venues", "staff": "/staff", "auditor": "/audit"}


@get("/", include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Redirect:
    user = request.scope.get("user")
    if user is None:
        return Redirect("/login")
    return Redirect(HOME_BY_ROLE.get(user.role, "/login"))


PAGE_HANDLERS: list[Any] = [
    home,
    *ACCOUNT_PAGES,
    *VENUE_PAGES,
    *BOOKING_PAGES,
    *DOOR_PAGES,
    *EVALUATION_PAGES,
    *ANOMALY_PAGES,
    *TARGET_PAGES,
    *REGISTRY_PAGES,
    *MESSAGING_PAGES,
    *STAFF_PAGES,
    *WAITLIST_PAGES,
    *CATALOGUE_PAGES,
    *PROGRAMME_STAFF_PAGES,
    *TIMETABLE_PAGES,
    *AUDITLOG_PAGES,
    *ACTIVITY_PAGES,
    *NATIONAL_STATS_PAGES,
    *PRIVACY_PAGES,
]
