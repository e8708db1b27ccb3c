"""Staff pages: the day roster (page, print and CSV) and a booking's check-in history with reversals."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from bookings import reversal, services
from bookings import roster as rosters
from bookings.schemas import ReverseForm
from core import clock
from core.errors import DomainError
from core.forms import parse_form
from core.guards import requires_role
from core.i18n import gettext
from core.web import attachment, flash, form_data

DateParam = Annotated[str | None, QueryParameter(name="date", required=False)]


def _day(value: str | None) -> date | None:
    """The ?date= of a roster: empty means today; anything but YYYY-MM-DD is None (a 400)."""
    if not value:
        return clock.today()
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


@get("/staff/roster", guards=[requires_role("staff")], include_in_schema=False)
async def roster_page(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], day: DateParam = None
) -> Template:
    parsed = _day(day)
    roster = await rosters.day_roster(actor, parsed or clock.today())
    return Template(
        "bookings/roster.html",
        context={
            "roster": roster,
            "bad_date": parsed is None,
            "today": clock.today(),
            "labels": rosters.ARRIVAL_LABELS,
        },
        status_code=400 if parsed is None else 200,
    )


@get("/staff/roster.csv", guards=[requires_role("staff")], include_in_schema=False)
async def roster_csv(actor: NamedDependency[UserView], day: DateParam = None) -> Response[bytes]:
    parsed = _day(day)
    if parsed is None:
        raise ValidationException(detail=gettext("Give the date as YYYY-MM-DD, e.g. 2026-03-01."))
    roster = await rosters.day_roster(actor, parsed)
    return attachment(
        rosters.roster_csv(roster),
        "text/csv; charset=utf-8",
        f"kepu-roster-{parsed.isoformat()}.csv",
        no_store=True,
    )


async def _checkins_page(
    actor: UserView,
    booking_id: int,
    *,
    errors: dict[int, dict[str, str]] | None = None,
    values: dict[int, str] | None = None,
    status_code: int = 200,
) -> Template:
    checkins = await reversal.booking_checkins(actor, booking_id)
    booking = await services.get_booking(actor, booking_id)
    return Template(
        "bookings/checkins.html",
        context={
            "b": booking,
            "day": clock.local(booking.starts_at).date().isoformat(),
            "checkins": checkins,
            "result_labels": reversal.RESULT_LABELS,
            "can_reverse": actor.is_staff and actor.venue_role == "supervisor",
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status_code,
    )


@get(
    "/staff/bookings/{booking_id:int}/checkins",
    guards=[requires_role("staff", "auditor")],
    include_in_schema=False,
)
async def checkins_page(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Template:
    return await _checkins_page(actor, booking_id)


@post("/staff/checkins/{checkin_id:int}/reverse", guards=[requires_role("staff")], include_in_schema=False)
async def reverse_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], checkin_id: FromPath[int]
) -> Template | Redirect:
    await reversal.require_reverser(actor, checkin_id)  # permission before the form is read
    data = await form_data(request)
    raw_booking = str(data.get("booking_id") or "")
    form, errors = parse_form(ReverseForm, {"reason": data.get("reason") or ""})
    if form is None:
        if raw_booking.isdigit() and len(raw_booking) < 12:
            return await _checkins_page(
                actor,
                int(raw_booking),
                errors={checkin_id: errors},
                values={checkin_id: str(data.get("reason") or "")},
                status_code=400,
            )
        return Redirect("/staff/roster", status_code=303)
    try:
        view = await reversal.reverse_checkin(actor, checkin_id, form.reason)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        if exc.status_code == 403:
            raise
        flash(request, exc.message(), "error")
        target = f"/staff/bookings/{raw_booking}/checkins" if raw_booking.isdigit() else "/staff/roster"
        return Redirect(target, status_code=303)
    flash(
        request,
        gettext("Reversed: {students} students and {chaperones} adults are no longer counted as in.").format(
            students=view.students, chaperones=view.chaperones
        ),
    )
    return Redirect(f"/staff/bookings/{view.booking_id}/checkins", status_code=303)


STAFF_PAGES: list[Any] = [roster_page, roster_csv, checkins_page, reverse_submit]
