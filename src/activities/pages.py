"""Pages: staff record their venue's activities (with an evidence photo) and the annual self-report;
auditors read every base's, marked as self-reported (自报)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from activities import services
from activities.services import (
    KIND_LABELS,
    KINDS,
    SELF_REPORT_FIELDS,
    SELF_REPORT_LABELS,
    ActivityError,
    ActivityForm,
    SelfReportForm,
)
from core import clock
from core.errors import DomainError
from core.forms import parse_form
from core.guards import requires_role
from core.i18n import gettext
from core.web import flash, form_data
from venues.tables import Venue

STAFF = [requires_role("staff")]
AUDITOR = [requires_role("auditor")]
READERS = [requires_role("staff", "auditor")]
# A photo may be 5 MB; the form around it adds a little. Larger bodies get a 413 that names the photo limit.
UPLOAD_BODY_LIMIT = services.PHOTO_MAX_BYTES + 512 * 1024
TEXT_FIELDS = ("kind", "title", "starts_on", "ends_on", "attendance", "students", "adults", "views", "note")
OPTIONAL = ("ends_on", "students", "adults", "views")
DATE_FIELDS = ("starts_on", "ends_on")


def _year(year: int | None) -> int:
    chosen = year if year is not None else clock.today().year
    if not (services.FIRST_DAY.year <= chosen <= clock.LAST_YEAR):
        raise ActivityError("bad_year")
    return chosen


def _years() -> list[int]:
    this_year = clock.today().year
    return list(range(this_year, this_year - 6, -1))


def _labels() -> dict[str, Any]:
    return {
        "ACTIVITY_KINDS": KINDS,
        "ACTIVITY_KIND_LABELS": KIND_LABELS,
        "SELF_REPORT_FIELDS": SELF_REPORT_FIELDS,
        "SELF_REPORT_LABELS": SELF_REPORT_LABELS,
        "photo_limit_mb": services.PHOTO_MAX_BYTES // 1024 // 1024,
    }


def _totals(items: list[services.ActivityView]) -> dict[str, dict[str, int]]:
    out = {k: {"count": 0, "attendance": 0} for k in KINDS}
    for a in items:
        if a.withdrawn_at is None:
            out[a.kind]["count"] += 1
            out[a.kind]["attendance"] += a.attendance
    return out


# ---- staff: activities ------------------------------------------------------------------------------


async def _staff_list(
    actor: UserView,
    year: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    venue_id = services.staff_venue(actor)
    venue = await Venue.select(Venue.id, Venue.name).where(Venue.id == venue_id).first()
    items = await services.list_activities(actor, year=year)
    return Template(
        "activities/staff_list.html",
        context={
            **_labels(),
            "venue": venue,
            "year": year,
            "years": _years(),
            "items": items,
            "totals": _totals(items),
            "year_open": services.year_open(year),
            "closes_on": services.closes_on(year),
            "values": values or {"kind": "lecture", "starts_on": clock.today().isoformat()},
            "errors": errors or {},
            "today": clock.today().isoformat(),
        },
        status_code=status_code,
    )


@get("/staff/activities", guards=STAFF, include_in_schema=False)
async def staff_activities(
    actor: NamedDependency[UserView], year: Annotated[int | None, QueryParameter(name="year")] = None
) -> Template:
    return await _staff_list(actor, _year(year))


async def _read_activity_form(
    request: Request[Any, Any, Any],
) -> tuple[ActivityForm | None, dict[str, Any], dict[str, str], bytes | None]:
    """(the form or None, the values to show again, errors per field, the photo's bytes or None)."""
    raw = await request.form()
    values: dict[str, Any] = {k: str(raw.get(k) or "").strip() for k in TEXT_FIELDS}
    values["online"] = bool(raw.get("online"))
    upload = raw.get("photo")
    photo = None
    if isinstance(upload, UploadFile):
        photo = await upload.read() or None
    form, errors = parse_form(ActivityForm, {**values, "online": values["online"]}, blank_as_none=OPTIONAL)
    for name in DATE_FIELDS:
        if name in errors:
            errors[name] = gettext("Enter a date as YYYY-MM-DD.")
    return form, values, errors, photo


def _field_errors(exc: DomainError) -> dict[str, str]:
    return {str(exc.params.get("field") or "__all__"): exc.message()}


@post(
    "/staff/activities",
    guards=STAFF,
    include_in_schema=False,
    request_max_body_size=UPLOAD_BODY_LIMIT,
    opt={"upload_limit_bytes": services.PHOTO_MAX_BYTES},
)
async def staff_activity_create(request: Request[Any, Any, Any], actor: NamedDependency[UserView]) -> Any:
    services.staff_venue(actor)
    form, values, errors, photo = await _read_activity_form(request)
    year = clock.today().year
    if form is None:
        return await _staff_list(actor, year, values=values, errors=errors, status_code=400)
    try:
        saved = await services.create_activity(actor, form, photo)
    except ActivityError as exc:
        if exc.code in ("no_activity",):
            raise
        return await _staff_list(
            actor, year, values=values, errors=_field_errors(exc), status_code=exc.status_code
        )
    flash(request, gettext("Activity {title} recorded.").format(title=saved.title))
    return Redirect(f"/staff/activities?year={saved.starts_on.year}", status_code=303)


async def _staff_edit(
    actor: UserView,
    activity_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    item = await services.get_activity(actor, activity_id)
    if values is None:
        values = {
            "kind": item.kind,
            "title": item.title,
            "starts_on": item.starts_on.isoformat(),
            "ends_on": item.ends_on.isoformat(),
            "attendance": item.attendance,
            "students": item.students,
            "adults": item.adults,
            "online": item.online,
            "views": item.views,
            "note": item.note,
        }
    return Template(
        "activities/staff_edit.html",
        context={
            **_labels(),
            "item": item,
            "values": values,
            "errors": errors or {},
            "year_open": services.year_open(item.starts_on.year),
            "closes_on": services.closes_on(item.starts_on.year),
            "today": clock.today().isoformat(),
        },
        status_code=status_code,
    )


@get("/staff/activities/{activity_id:int}", guards=STAFF, include_in_schema=False)
async def staff_activity_edit(actor: NamedDependency[UserView], activity_id: FromPath[int]) -> Template:
    return await _staff_edit(actor, activity_id)


@post(
    "/staff/activities/{activity_id:int}",
    guards=STAFF,
    include_in_schema=False,
    request_max_body_size=UPLOAD_BODY_LIMIT,
    opt={"upload_limit_bytes": services.PHOTO_MAX_BYTES},
)
async def staff_activity_update(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], activity_id: FromPath[int]
) -> Any:
    await services.get_activity(actor, activity_id)  # another venue's record: not found
    form, values, errors, photo = await _read_activity_form(request)
    if form is None:
        return await _staff_edit(actor, activity_id, values=values, errors=errors, status_code=400)
    try:
        saved = await services.update_activity(actor, activity_id, form, photo)
    except ActivityError as exc:
        if exc.code in ("no_activity",):
            raise
        return await _staff_edit(
            actor, activity_id, values=values, errors=_field_errors(exc), status_code=exc.status_code
        )
    flash(request, gettext("Activity {title} saved.").format(title=saved.title))
    return Redirect(f"/staff/activities?year={saved.starts_on.year}", status_code=303)


@post("/staff/activities/{activity_id:int}/withdraw", guards=STAFF, include_in_schema=False)
async def staff_activity_withdraw(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], activity_id: FromPath[int]
) -> Any:
    await services.get_activity(actor, activity_id)
    data = await form_data(request)
    try:
        saved = await services.withdraw_activity(actor, activity_id, str(data.get("reason") or ""))
    except ActivityError as exc:
        if exc.code in ("no_activity",):
            raise
        return await _staff_edit(actor, activity_id, errors=_field_errors(exc), status_code=exc.status_code)
    flash(request, gettext("Activity {title} withdrawn: it is no longer counted.").format(title=saved.title))
    return Redirect(f"/staff/activities?year={saved.starts_on.year}", status_code=303)


def _photo_response(body: bytes) -> Response[bytes]:
    return Response(
        body,
        media_type="image/jpeg",
        headers={
            "Content-Disposition": 'inline; filename="evidence.jpg"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        },
    )


@get("/activities/{activity_id:int}/photo", guards=READERS, include_in_schema=False)
async def activity_photo(actor: NamedDependency[UserView], activity_id: FromPath[int]) -> Response[bytes]:
    return _photo_response(await services.photo_body(actor, activity_id))


@get("/activities/{activity_id:int}/thumbnail", guards=READERS, include_in_schema=False)
async def activity_thumbnail(actor: NamedDependency[UserView], activity_id: FromPath[int]) -> Response[bytes]:
    return _photo_response(await services.photo_body(actor, activity_id, thumbnail=True))


# ---- staff: the annual self-report ------------------------------------------------------------------


async def _self_report_page(
    actor: UserView,
    year: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    venue_id = services.staff_venue(actor)
    venue = await Venue.select(Venue.id, Venue.name).where(Venue.id == venue_id).first()
    report = await services.get_self_report(actor, year)
    if values is None:
        values = {f: getattr(report, f) for f in (*SELF_REPORT_FIELDS, "note")} if report else {}
    return Template(
        "activities/self_report.html",
        context={
            **_labels(),
            "venue": venue,
            "year": year,
            "years": _years(),
            "report": report,
            "values": values,
            "errors": errors or {},
            "year_open": services.year_open(year),
            "closes_on": services.closes_on(year),
        },
        status_code=status_code,
    )


@get("/staff/self-report", guards=STAFF, include_in_schema=False)
async def staff_self_report(
    actor: NamedDependency[UserView], year: Annotated[int | None, QueryParameter(name="year")] = None
) -> Template:
    chosen = _year(year)
    services.check_report_year(chosen)
    return await _self_report_page(actor, chosen)


@post("/staff/self-report", guards=STAFF, include_in_schema=False)
async def staff_self_report_save(
    request: Request[Any, Any, Any],
    actor: NamedDependency[UserView],
    year: Annotated[int | None, QueryParameter(name="year")] = None,
) -> Any:
    chosen = _year(year)
    services.check_report_year(chosen)
    data = await form_data(request)
    values = {k: str(data.get(k) or "").strip() for k in (*SELF_REPORT_FIELDS, "note")}
    form, errors = parse_form(SelfReportForm, values)
    if form is None:
        return await _self_report_page(actor, chosen, values=values, errors=errors, status_code=400)
    try:
        await services.save_self_report(actor, chosen, form)
    except ActivityError as exc:
        return await _self_report_page(
            actor, chosen, values=values, errors=_field_errors(exc), status_code=exc.status_code
        )
    flash(request, gettext("Self-report of {year} saved.").format(year=chosen))
    return Redirect(f"/staff/self-report?year={chosen}", status_code=303)


# ---- auditor -----------------------------------------------------------------------------------------


@get("/audit/activities", guards=AUDITOR, include_in_schema=False)
async def audit_activities(
    actor: NamedDependency[UserView],
    year: Annotated[int | None, QueryParameter(name="year")] = None,
    venue: Annotated[int | None, QueryParameter(name="venue")] = None,
) -> Template:
    chosen = _year(year)
    venues = await Venue.select(Venue.id, Venue.name, Venue.district).order_by(Venue.id)
    venue_id = venue if venue is not None and any(v["id"] == venue for v in venues) else None
    items = await services.list_activities(actor, year=chosen, venue_id=venue_id)
    return Template(
        "activities/audit_list.html",
        context={
            **_labels(),
            "year": chosen,
            "years": _years(),
            "venues": venues,
            "venue_id": venue_id,
            "items": items,
            "totals": _totals(items),
        },
    )


@get("/audit/self-reports", guards=AUDITOR, include_in_schema=False)
async def audit_self_reports(
    actor: NamedDependency[UserView], year: Annotated[int | None, QueryParameter(name="year")] = None
) -> Template:
    chosen = _year(year)
    services.check_report_year(chosen)
    rows = await services.self_report_overview(actor, chosen)
    return Template(
        "activities/audit_self_reports.html",
        context={
            **_labels(),
            "year": chosen,
            "years": _years(),
            "rows": rows,
            "filed": sum(1 for r in rows if r["report"] is not None),
        },
    )


ACTIVITY_PAGES = [
    staff_activities,
    staff_activity_create,
    staff_activity_edit,
    staff_activity_update,
    staff_activity_withdraw,
    activity_photo,
    activity_thumbnail,
    staff_self_report,
    staff_self_report_save,
    audit_activities,
    audit_self_reports,
]
