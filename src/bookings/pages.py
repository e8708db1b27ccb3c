"""Booking pages: a teacher books a visit and keeps the pass; staff see who booked and admit classes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from bookings import checkin, feedback, passes, sanctions, services, waitlist
from bookings.qr import qr_svg
from bookings.roster import Logistics
from bookings.rules import Rules
from bookings.schemas import BookingForm, BookingView, CheckInForm, DeclineForm, HeadcountForm
from bookings.tickets import format_code
from bookings.waitlist_pages import school_sanction
from core import clock
from core.errors import DomainError, Forbidden
from core.forms import parse_form
from core.guards import requires_role, requires_sign_in
from core.i18n import gettext
from core.sql import Statement
from core.web import flash, form_data
from kepu.templating import STATUS_LABELS, html_labels, html_text
from venues import services as venues
from venues.labels import GRADE_BAND_LABELS
from venues.schemas import SlotView, VenueView


def rules_summary(rules: Rules) -> list[str]:
    """The venue's rules as sentences a teacher reads before booking (only the rules it has)."""
    lines = []
    if rules.min_lead_days is not None:
        lines.append(gettext("Book at least {n} days ahead.").format(n=rules.min_lead_days))
    if rules.max_lead_days is not None:
        lines.append(gettext("Book at most {n} days ahead.").format(n=rules.max_lead_days))
    if rules.group_min is not None or rules.group_max is not None:
        lines.append(
            gettext("Groups of {lo} to {hi} people (students and adults).").format(
                lo=rules.group_min or 1, hi=rules.group_max or "—"
            )
        )
    if rules.students_per_adult:
        lines.append(gettext("One adult for every {n} students.").format(n=rules.students_per_adult))
    if rules.preschool_students_per_adult:
        lines.append(
            gettext("Pre-school: one adult for every {n} children.").format(
                n=rules.preschool_students_per_adult
            )
        )
    if rules.daily_cap is not None:
        lines.append(gettext("At most {n} group visitors a day.").format(n=rules.daily_cap))
    if rules.final_count_days is not None:
        lines.append(
            gettext("Final headcount {n} days before the visit; after that numbers can only go up.").format(
                n=rules.final_count_days
            )
        )
    if rules.free_cancel_days is not None:
        lines.append(
            gettext(
                "Cancelling is free until {n} days before the visit; "
                "a later cancel adds a strike to your school."
            ).format(n=rules.free_cancel_days)
        )
    if rules.needs_approval:
        lines.append(gettext("The venue's staff approve each booking."))
    return lines


def _book_context(
    slot: SlotView,
    venue: VenueView,
    values: dict[str, Any],
    errors: dict[str, str],
    rules: Rules | None = None,
) -> dict[str, Any]:
    return {
        "slot": slot,
        "venue": venue,
        "values": values,
        "errors": errors,
        "rules_summary": rules_summary(rules or Rules.of(venue)),
        "grade_band_options": [(band, gettext(label)) for band, label in GRADE_BAND_LABELS.items()],
    }


@get("/slots/{slot_id:int}/book", guards=[requires_role("teacher")], include_in_schema=False)
async def book_page(actor: NamedDependency[UserView], slot_id: FromPath[int]) -> Template:
    slot = await venues.get_slot(slot_id)
    return Template(
        "bookings/book.html",
        context=_book_context(
            slot,
            await venues.get_venue(slot.venue_id),
            {},
            {},
            await services.slot_rules(slot.venue_id, slot.programme_id),
        )
        | {"sanction": await school_sanction(actor)},
    )


@post("/slots/{slot_id:int}/book", guards=[requires_role("teacher")], include_in_schema=False)
async def book_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], slot_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    form, errors = parse_form(
        BookingForm,
        {**data, "slot_id": slot_id},
        blank_as_none=("grade_band", "buses", "arrival_time", "lead_teacher_phone"),
    )
    if form is not None:
        try:
            booking = await services.create_booking(actor, form)
        except DomainError as exc:
            errors = {"__all__": exc.message()}
            if exc.code == "slot_full":
                errors["__waitlist__"] = "1"  # book.html offers the waiting list
        else:
            if booking.status == "requested":
                flash(
                    request,
                    gettext("Request sent. The venue's staff will confirm or decline it; check back here."),
                )
            else:
                flash(request, gettext("Booked. Show this pass at the door; it is also in your bookings."))
            return Redirect(f"/bookings/{booking.id}", status_code=303)
    slot = await venues.get_slot(slot_id)
    return Template(
        "bookings/book.html",
        context=_book_context(
            slot,
            await venues.get_venue(slot.venue_id),
            data,
            errors,
            await services.slot_rules(slot.venue_id, slot.programme_id),
        )
        | {"sanction": await school_sanction(actor)},
        status_code=409 if "__all__" in errors else 400,
    )


@get("/bookings", guards=[requires_sign_in], include_in_schema=False)
async def booking_list(actor: NamedDependency[UserView]) -> Template:
    items = await services.list_bookings(actor)
    standing = None
    if actor.is_teacher and actor.school_id is not None:
        standing = (await services.school_standing([actor.school_id]))[actor.school_id]
    return Template(
        "bookings/list.html",
        context={
            "bookings": items,
            "standing": standing,
            "sanction": await school_sanction(actor),
            "slot_notices": await _slot_notices(actor),
        },
    )


async def _slot_notices(actor: UserView) -> list[Any]:
    """The teacher's visits the venue cancelled, with the reason and alternatives (timetable app)."""
    from timetable.services import slot_notices

    return list(await slot_notices(actor))


# Everything the pass page shows beyond the booking, in one prepared statement: the venue's rules,
# arrival window, directions and phone, the slot's room, and whether there is a name list or feedback
# to read at all (the privacy and feedback modules are asked only when there is; most passes have
# neither). The name-list tables belong to the privacy app, which builds on bookings: only their
# presence is read here, the lists themselves through privacy.namelists.
_PASS_EXTRAS = Statement(
    "SELECT "
    + ", ".join(f"v.{f}" for f in Rules.__struct_fields__)
    + ", v.arrival_before_start_minutes, v.arrival_after_end_minutes, v.directions, v.contact_phone,"
    " r.name AS room,"
    " (SELECT pol.requires_name_list FROM privacy_venue_policy pol WHERE pol.venue = v.id)"
    " AS name_list_required,"
    " (SELECT COUNT(*) FROM privacy_name_list nl WHERE nl.booking = $1) AS name_lists,"
    " (SELECT COUNT(*) FROM bookings_feedback f WHERE f.booking = $2) AS feedbacks"
    " FROM venues_venue v LEFT JOIN venues_slot s ON s.id = $3 LEFT JOIN venues_room r ON r.id = s.room"
    " WHERE v.id = $4"
)


async def _pass_extras(actor: UserView, booking: BookingView) -> dict[str, Any]:
    """What the pass page shows beyond the booking: room, arrival, directions, rules, feedback, name list."""
    row = await _PASS_EXTRAS.fetchrow(booking.id, booking.id, booking.slot_id, booking.venue_id) or {}
    before = row.get("arrival_before_start_minutes")
    after = row.get("arrival_after_end_minutes")
    namelist = None
    if (
        actor.is_teacher
        and booking.teacher_id == actor.id
        and (row.get("name_list_required") or row.get("name_lists"))
    ):
        from privacy.namelists import pass_summary  # privacy builds on bookings

        namelist = await pass_summary(actor, booking)
    return {
        "room": row.get("room") or "",
        "directions": row.get("directions") or "",
        "contact_phone": row.get("contact_phone") or "",
        "arrive_from": booking.starts_at - timedelta(minutes=before) if before is not None else None,
        "arrive_until": booking.ends_at + timedelta(minutes=after) if after is not None else None,
        "venue_rules": rules_summary(Rules(**{f: row.get(f) for f in Rules.__struct_fields__})),
        "feedback": await feedback.of_booking(booking.id) if row.get("feedbacks") else None,
        "may_give_feedback": feedback.may_give(actor, booking),
        "sanction": await school_sanction(actor),
        "namelist": namelist,
    }


async def _pass_page(
    actor: UserView, booking_id: int, *, errors: dict[str, str] | None = None, status_code: int = 200
) -> Template:
    booking = await services.get_booking(actor, booking_id)
    can_change = (
        booking.status in services.HOLDS_PLACES
        and not booking.admitted
        and booking.starts_at > clock.now()
        and ((actor.is_teacher and booking.teacher_id == actor.id) or actor.is_staff)
    )
    return Template(
        "bookings/pass.html",
        context={
            "b": booking,
            "qr_svg": qr_svg(booking.qr_token) if booking.status == "confirmed" else "",
            "code": format_code(booking.code),
            "can_change": can_change,
            "final_count_deadline": booking.final_count_until,
            "late_cancel": services.late_cancel_strikes(actor, booking),
            "standing": (await services.school_standing([booking.school_id]))[booking.school_id],
            "errors": errors or {},
            **(await _pass_extras(actor, booking)),
        },
        status_code=status_code,
    )


@get("/bookings/{booking_id:int}", guards=[requires_sign_in], include_in_schema=False)
async def pass_page(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Template:
    return await _pass_page(actor, booking_id)


@post(
    "/bookings/{booking_id:int}/headcount",
    guards=[requires_role("teacher", "staff")],
    include_in_schema=False,
)
async def headcount_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], booking_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    form, errors = parse_form(
        HeadcountForm,
        {"students": data.get("students"), "chaperones": data.get("chaperones")},
        blank_as_none=("students", "chaperones"),
    )
    if form is not None:
        try:
            await services.change_headcount(actor, booking_id, form)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            errors = {"__all__": exc.message()}
        else:
            flash(request, gettext("The numbers are changed."))
            return Redirect(f"/bookings/{booking_id}", status_code=303)
    return await _pass_page(actor, booking_id, errors=errors, status_code=409 if "__all__" in errors else 400)


@get("/bookings/{booking_id:int}/qr.png", guards=[requires_sign_in], include_in_schema=False)
async def pass_qr(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Response[bytes]:
    booking = await services.get_booking(actor, booking_id)
    return passes.qr_response(booking)


@get("/bookings/{booking_id:int}/calendar.ics", guards=[requires_sign_in], include_in_schema=False)
async def pass_calendar(actor: NamedDependency[UserView], booking_id: FromPath[int]) -> Response[bytes]:
    booking = await services.get_booking(actor, booking_id)
    return await passes.calendar_response(booking)


@post("/bookings/{booking_id:int}/cancel", guards=[requires_sign_in], include_in_schema=False)
async def cancel_submit(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], booking_id: FromPath[int]
) -> Redirect:
    try:
        await services.cancel_booking(actor, booking_id)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message(), "error")
    else:
        flash(request, gettext("The booking is cancelled and its places are free again."))
    return Redirect(f"/bookings/{booking_id}", status_code=303)


# A slot's page for its venue's staff (who booked, who waits) reads three prepared statements (core/sql.py):
# the slot (venues.get_slot), its bookings with only the columns the table shows, and the waiting list's
# live entries. The table can run to a hundred classes, so its rows are light objects, not BookingViews
# (whose deadlines the table does not show). A slot's bookings and waiting entries are all of its venue,
# which the reader manages (checked first); the statements select by slot alone, since a venue condition as
# well leads SQLite (no statistics) to scan the venue's whole history by its index. The bookings' number and
# boolean columns are selected as expressions (`+b.id`), which SQLite hands back as stored: a plain column
# of a declared INTEGER or BOOLEAN type goes through Piccolo's converter for it (int(Decimal(text)) for a
# number), which for a hundred classes took as long as the query (0.5 → 1.0 ms). PostgreSQL returns the same
# either way.
_SLOT_BOOKINGS = Statement(
    "SELECT +b.id AS id, sc.name AS school_name, u.display_name AS teacher_name, b.status,"
    " +b.students AS students, +b.chaperones AS chaperones, b.grade, b.class_name, b.grade_band,"
    " +b.admitted_students AS admitted_students, +b.admitted_chaperones AS admitted_chaperones, b.code,"
    " b.lead_teacher_name, b.lead_teacher_phone, +b.buses AS buses, b.arrival_time,"
    " CAST(b.lunch_space AS INTEGER) AS lunch_space, b.accessibility, b.special_requests"
    " FROM bookings_booking b JOIN accounts_school sc ON sc.id = b.school"
    " JOIN accounts_user u ON u.id = b.teacher"
    " WHERE b.slot = $1 ORDER BY b.id"
)
# waitlist.list_entries() less the queue positions this page does not show: the entries waiting for
# this slot or offered its places.
_SLOT_WAITLIST = Statement(
    "SELECT grade, class_name, students, chaperones, status, offer_expires_at FROM bookings_waitlist"
    " WHERE (slot = $1 OR offered_slot = $2) AND status IN ('waiting', 'offered')"
    " ORDER BY created_at, id"
)


@dataclass(slots=True)
class SlotBooking(Logistics):
    """One row of a slot's bookings table. The row's own text is HTML already (escaped here, once,
    with kepu.templating.html_text): the table runs to a hundred classes, and escaping each value
    again in the template's loop (markupsafe builds a Markup of every one) was half of the page's
    rendering, so that loop does not (templates/bookings/slot.html). The logistics stay as stored, for
    bookings/_logistics.html, which escapes them itself."""

    id: int
    status: str
    status_label: str
    school_name: str
    teacher_name: str
    class_name: str  # the grade and the class, "三年级 2班"
    grade_band: str  # its label, or "" when the booking has none
    students: int
    chaperones: int
    admitted_students: int
    admitted_chaperones: int
    code: str


def _slot_bookings(rows: list[dict[str, Any]]) -> list[SlotBooking]:
    statuses = html_labels(STATUS_LABELS)
    bands = html_labels(GRADE_BAND_LABELS)
    return [
        SlotBooking(
            id=b["id"],
            status=html_text(b["status"]),
            status_label=statuses.get(b["status"]) or html_text(b["status"]),
            school_name=html_text(b["school_name"]),
            teacher_name=html_text(b["teacher_name"]),
            class_name=f"{html_text(b['grade'])} {html_text(b['class_name'])}",
            grade_band=(bands.get(b["grade_band"]) or html_text(b["grade_band"])) if b["grade_band"] else "",
            students=b["students"],
            chaperones=b["chaperones"],
            admitted_students=b["admitted_students"],
            admitted_chaperones=b["admitted_chaperones"],
            code=html_text(b["code"]),
            lead_teacher_name=b["lead_teacher_name"],
            lead_teacher_phone=b["lead_teacher_phone"],
            buses=b["buses"],
            arrival_time=b["arrival_time"],
            lunch_space=bool(b["lunch_space"]),  # SQLite: 0/1
            accessibility=b["accessibility"],
            special_requests=b["special_requests"],
        )
        for b in rows
    ]


@dataclass(slots=True)
class SlotWaiting:
    grade: str
    class_name: str
    students: int
    chaperones: int
    status: str
    offer_expires_at: datetime | None


@get("/slots/{slot_id:int}", guards=[requires_role("staff", "auditor")], include_in_schema=False)
async def slot_bookings(actor: NamedDependency[UserView], slot_id: FromPath[int]) -> Template:
    slot = await venues.get_slot(slot_id)
    venues.require_manager(actor, slot.venue_id)
    bookings = _slot_bookings(await _SLOT_BOOKINGS.fetch(slot.id))
    waiting = [SlotWaiting(**w) for w in await _SLOT_WAITLIST.fetch(slot.id, slot.id)]
    return Template(
        "bookings/slot.html",
        context={
            "slot": slot,
            "bookings": bookings,
            "waitlist": waiting,
            "waitlist_state": waitlist.state_label,
        },
    )


def _staff(actor: UserView) -> None:
    if actor.venue_id is None:
        raise Forbidden("role")


@get("/staff/checkin", guards=[requires_role("staff")], include_in_schema=False)
async def checkin_page(actor: NamedDependency[UserView]) -> Template:
    _staff(actor)
    return Template("bookings/checkin.html", context={"outcome": None, "token": "", "errors": {}})


@post("/staff/checkin", guards=[requires_role("staff")], include_in_schema=False)
async def checkin_submit(request: Request[Any, Any, Any], actor: NamedDependency[UserView]) -> Template:
    _staff(actor)
    data = await form_data(request)
    form, errors = parse_form(
        CheckInForm, {**data, "device": "web"}, blank_as_none=("students", "chaperones")
    )
    if form is None:
        return Template(
            "bookings/checkin.html",
            context={"outcome": None, "token": data.get("token") or "", "errors": errors},
            status_code=400,
        )
    outcome = await checkin.check_in(actor, form)
    return Template(
        "bookings/checkin.html",
        context={"outcome": outcome, "token": form.token, "errors": {}},
        status_code=200 if outcome.result == "admitted" else outcome.status_code,
    )


async def _requests_page(
    actor: UserView, errors: dict[int, dict[str, str]] | None = None, status_code: int = 200
) -> Template:
    queue = await services.request_queue(actor)
    return Template(
        "bookings/requests.html",
        context={
            "requests": queue,
            "history": await services.school_standing(sorted({b.school_id for b in queue})),
            "sanctions": await sanctions.sanctions_of(sorted({b.school_id for b in queue})),
            "errors": errors or {},
        },
        status_code=status_code,
    )


@get("/staff/requests", guards=[requires_role("staff")], include_in_schema=False)
async def requests_page(actor: NamedDependency[UserView]) -> Template:
    _staff(actor)
    return await _requests_page(actor)


@post("/staff/requests/{booking_id:int}/approve", guards=[requires_role("staff")], include_in_schema=False)
async def request_approve(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], booking_id: FromPath[int]
) -> Redirect:
    try:
        booking = await services.approve_booking(actor, booking_id)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message(), "error")
    else:
        flash(request, gettext("Approved: {school} now has its pass.").format(school=booking.school_name))
    return Redirect("/staff/requests", status_code=303)


@post("/staff/requests/{booking_id:int}/decline", guards=[requires_role("staff")], include_in_schema=False)
async def request_decline(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], booking_id: FromPath[int]
) -> Template | Redirect:
    await services.get_booking(actor, booking_id)  # another venue's booking is 404 before the form is read
    data = await form_data(request)
    form, errors = parse_form(DeclineForm, {"reason": data.get("reason") or ""})
    if form is None:
        return await _requests_page(actor, {booking_id: errors}, status_code=400)
    try:
        booking = await services.decline_booking(actor, booking_id, form.reason)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        flash(request, exc.message(), "error")
    else:
        flash(request, gettext("Declined: {school} is told your reason.").format(school=booking.school_name))
    return Redirect("/staff/requests", status_code=303)


PAGES = [
    headcount_submit,
    requests_page,
    request_approve,
    request_decline,
    book_page,
    book_submit,
    booking_list,
    pass_page,
    pass_qr,
    pass_calendar,
    cancel_submit,
    slot_bookings,
    checkin_page,
    checkin_submit,
]
