"""The rules for activity records and annual self-reports, and the yearly figures the evaluation reads.

Staff record their own venue's activities and self-report; the 科协's auditors read every base's. A
record of another venue is "not found" for staff, so nobody learns which ids exist elsewhere. Figures
of a year can be entered and corrected until the end of January of the following year (the 科协
collects the yearly statistics then); later corrections go through the 科协.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar

import msgspec
from piccolo.query.methods.insert import Insert

import auditlog
from accounts.schemas import UserView
from activities.tables import Activity, SelfReport
from core import clock
from core.db import valid_id, write_transaction
from core.errors import DomainError, Forbidden
from core.i18n import N_
from venues import programmes
from venues.tables import Venue

KINDS = ("lecture", "exhibition", "competition", "online", "training", "other")
KIND_LABELS = {
    "lecture": N_("Lecture"),
    "exhibition": N_("Exhibition"),
    "competition": N_("Competition"),
    "online": N_("Online event"),
    "training": N_("Training or workshop"),
    "other": N_("Other activity"),
}
FIRST_DAY = date(2000, 1, 1)
MAX_DAYS = 366  # an exhibition may run a whole year, not longer in one record
MAX_ATTENDANCE = 1_000_000
MAX_VIEWS = 100_000_000
GRACE_DAYS = 31  # a year's figures stay open until 31 January of the next year
MAX_STAFF = 10_000
MAX_VOLUNTEERS = 1_000_000
MAX_YUAN = 2_000_000_000  # fits a 32-bit integer column; 20亿元 is beyond any single base
MAX_AREA = 1_000_000
PHOTO_MAX_BYTES = programmes.PHOTO_MAX_BYTES

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Note = Annotated[str, msgspec.Meta(max_length=2000)]
People = Annotated[int, msgspec.Meta(ge=0, le=MAX_ATTENDANCE)]


class ActivityError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "no_activity": (404, N_("There is no such activity.")),
        "no_photo": (404, N_("This activity has no evidence photo.")),
        "no_self_report": (404, N_("This base has not filed a self-report for {year}.")),
        "bad_kind": (422, N_("Choose the type of activity.")),
        "title_blank": (422, N_("Give the activity a title.")),
        "too_early": (422, N_("The date must be in 2000 or later.")),
        "in_future": (
            422,
            N_("An activity is recorded once it has started: its first day cannot be after today."),
        ),
        "ends_before_start": (422, N_("The last day cannot be before the first day.")),
        "too_long": (
            422,
            N_("One record can cover at most {days} days; record a longer exhibition once per year."),
        ),
        "split_too_big": (
            422,
            N_("Students and adults together ({split}) cannot be more than the attendance ({attendance})."),
        ),
        "year_closed": (
            409,
            N_("The figures of {year} were closed on {closed}; ask the science association to correct them."),
        ),
        "withdrawn": (409, N_("This activity was withdrawn; it can no longer be changed.")),
        "reason_blank": (422, N_("Say why the record is withdrawn.")),
        "bad_year": (422, N_("Choose a year from 2000 to this year.")),
        "future_year": (422, N_("The self-report of {year} can be filed from 1 January {year}.")),
        "photo_too_large": (413, N_("This photo is {size} MB; a photo can be at most {limit} MB.")),
        "not_a_photo": (415, N_("This file is not a photo: upload a JPEG, PNG or WebP image.")),
        "spent_without_raised": (
            422,
            N_("Funding spent ({spent} yuan) is more than twice the funding raised; check the figures."),
        ),
    }


class ActivityForm(msgspec.Struct):
    kind: str
    title: Title
    starts_on: date
    attendance: People
    ends_on: date | None = None
    students: People | None = None
    adults: People | None = None
    online: bool = False
    views: Annotated[int, msgspec.Meta(ge=0, le=MAX_VIEWS)] | None = None
    note: Note = ""


class ActivityView(msgspec.Struct):
    id: int
    venue_id: int
    venue_name: str
    kind: str
    title: str
    starts_on: date
    ends_on: date
    attendance: int
    students: int | None
    adults: int | None
    online: bool
    views: int | None
    note: str
    has_photo: bool
    photo_size: int
    created_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None
    withdraw_reason: str

    @property
    def days(self) -> int:
        return (self.ends_on - self.starts_on).days + 1


class SelfReportForm(msgspec.Struct):
    fulltime_staff: Annotated[int, msgspec.Meta(ge=0, le=MAX_STAFF)]
    parttime_staff: Annotated[int, msgspec.Meta(ge=0, le=MAX_STAFF)]
    volunteers: Annotated[int, msgspec.Meta(ge=0, le=MAX_VOLUNTEERS)]
    funding_raised: Annotated[int, msgspec.Meta(ge=0, le=MAX_YUAN)]
    funding_spent: Annotated[int, msgspec.Meta(ge=0, le=MAX_YUAN)]
    exhibit_area: Annotated[int, msgspec.Meta(ge=0, le=MAX_AREA)]
    note: Note = ""


SELF_REPORT_FIELDS = (
    "fulltime_staff",
    "parttime_staff",
    "volunteers",
    "funding_raised",
    "funding_spent",
    "exhibit_area",
)
SELF_REPORT_LABELS = {
    "fulltime_staff": N_("Full-time science staff"),
    "parttime_staff": N_("Part-time science staff"),
    "volunteers": N_("Science volunteers"),
    "funding_raised": N_("Funding raised (yuan)"),
    "funding_spent": N_("Funding spent (yuan)"),
    "exhibit_area": N_("Exhibit area (m²)"),
}


class SelfReportView(msgspec.Struct):
    venue_id: int
    year: int
    fulltime_staff: int
    parttime_staff: int
    volunteers: int
    funding_raised: int
    funding_spent: int
    exhibit_area: int
    note: str
    submitted_at: datetime
    updated_at: datetime


# ---- who may do what -------------------------------------------------------------------------------


def staff_venue(actor: UserView) -> int:
    """The venue a staff account records for; anyone else may not record."""
    if actor.role != "staff" or actor.venue_id is None:
        raise Forbidden("role")
    return actor.venue_id


def require_reader(actor: UserView) -> None:
    if actor.role not in ("staff", "auditor"):
        raise Forbidden("role")


def closes_on(year: int) -> date:
    """The last day a year's figures may be entered or corrected by the base."""
    return date(year + 1, 1, 1) + timedelta(days=GRACE_DAYS - 1)


def year_open(year: int) -> bool:
    return clock.today() <= closes_on(year)


def _check_year_open(year: int) -> None:
    if not year_open(year):
        raise ActivityError("year_closed", year=year, closed=closes_on(year).isoformat())


# ---- activities -----------------------------------------------------------------------------------

_COLUMNS = (
    Activity.id,
    Activity.venue.as_alias("venue_id"),
    Activity.venue.name.as_alias("venue_name"),
    Activity.kind,
    Activity.title,
    Activity.starts_on,
    Activity.ends_on,
    Activity.attendance,
    Activity.students,
    Activity.adults,
    Activity.online,
    Activity.views,
    Activity.note,
    Activity.photo_size,
    Activity.created_at,
    Activity.updated_at,
    Activity.withdrawn_at,
    Activity.withdraw_reason,
)


def _as_date(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v))


def _view(row: dict[str, Any]) -> ActivityView:
    return ActivityView(
        id=row["id"],
        venue_id=row["venue_id"],
        venue_name=row["venue_name"] or "",
        kind=row["kind"],
        title=row["title"],
        starts_on=_as_date(row["starts_on"]),
        ends_on=_as_date(row["ends_on"]),
        attendance=row["attendance"] or 0,
        students=row["students"],
        adults=row["adults"],
        online=bool(row["online"]),
        views=row["views"],
        note=row["note"] or "",
        has_photo=bool(row["photo_size"]),
        photo_size=row["photo_size"] or 0,
        created_at=clock.as_aware(row["created_at"]),
        updated_at=clock.as_aware(row["updated_at"]),
        withdrawn_at=clock.as_aware(row["withdrawn_at"]) if row["withdrawn_at"] else None,
        withdraw_reason=row["withdraw_reason"] or "",
    )


def check_activity(form: ActivityForm) -> ActivityForm:
    """The form with its defaults filled in, or ActivityError (with `field` naming the input)."""
    if form.kind not in KINDS:
        raise ActivityError("bad_kind", field="kind")
    title = form.title.strip()
    if not title:
        raise ActivityError("title_blank", field="title")
    ends_on = form.ends_on or form.starts_on
    if form.starts_on < FIRST_DAY:
        raise ActivityError("too_early", field="starts_on")
    if form.starts_on > clock.today():
        raise ActivityError("in_future", field="starts_on")
    if ends_on < form.starts_on:
        raise ActivityError("ends_before_start", field="ends_on")
    if (ends_on - form.starts_on).days + 1 > MAX_DAYS:
        raise ActivityError("too_long", field="ends_on", days=MAX_DAYS)
    split = (form.students or 0) + (form.adults or 0)
    if split > form.attendance:
        raise ActivityError("split_too_big", field="students", split=split, attendance=form.attendance)
    online = form.online or form.kind == "online"
    return msgspec.structs.replace(
        form,
        title=title,
        ends_on=ends_on,
        online=online,
        views=form.views if online else None,
        note=form.note.strip(),
    )


def prepare_photo(data: bytes) -> tuple[bytes, bytes]:
    """(the photo re-encoded as a JPEG without metadata, its thumbnail), judged by content, not name."""
    if len(data) > PHOTO_MAX_BYTES:
        raise ActivityError(
            "photo_too_large",
            field="photo",
            size=f"{len(data) / 1024 / 1024:.1f}",
            limit=PHOTO_MAX_BYTES // 1024 // 1024,
        )
    try:
        return programmes.reencode_image(data)
    except programmes.ProgrammeError as exc:
        raise ActivityError("not_a_photo", field="photo") from exc


async def get_activity(actor: UserView, activity_id: int) -> ActivityView:
    """One activity: auditors see every base's; staff only their own venue's (others: not found)."""
    require_reader(actor)
    if not valid_id(activity_id):
        raise ActivityError("no_activity")
    query = Activity.select(*_COLUMNS).where(Activity.id == activity_id)
    if actor.role == "staff":
        query = query.where(Activity.venue == staff_venue(actor))
    row = await query.first()
    if row is None:
        raise ActivityError("no_activity")
    return _view(row)


async def list_activities(
    actor: UserView, *, year: int, venue_id: int | None = None, include_withdrawn: bool = True
) -> list[ActivityView]:
    """A year's activities (by first day), newest first; staff always see only their own venue."""
    require_reader(actor)
    if actor.role == "staff":
        venue_id = staff_venue(actor)
    query = Activity.select(*_COLUMNS).where(
        (Activity.starts_on >= date(year, 1, 1)) & (Activity.starts_on <= date(year, 12, 31))
    )
    if venue_id is not None:
        query = query.where(Activity.venue == venue_id)
    if not include_withdrawn:
        query = query.where(Activity.withdrawn_at.is_null())
    rows = await query.order_by(Activity.starts_on, ascending=False).order_by(Activity.id, ascending=False)
    return [_view(r) for r in rows]


async def create_activity(actor: UserView, form: ActivityForm, photo: bytes | None = None) -> ActivityView:
    venue_id = staff_venue(actor)
    form = check_activity(form)
    _check_year_open(form.starts_on.year)
    big, small = prepare_photo(photo) if photo else (None, None)
    now = clock.now()
    row = Activity(
        venue=venue_id,
        kind=form.kind,
        title=form.title,
        starts_on=form.starts_on,
        ends_on=form.ends_on,
        attendance=form.attendance,
        students=form.students,
        adults=form.adults,
        online=form.online,
        views=form.views,
        note=form.note,
        photo=big,
        thumbnail=small,
        photo_size=len(big) if big else 0,
        created_by=actor.id,
        created_at=now,
        updated_by=actor.id,
        updated_at=now,
    )
    async with write_transaction():
        await row.save()
        saved = await get_activity(actor, row.id)
        await auditlog.record(
            actor, "activity.create", "activity", saved.id, after=_activity_fields(saved), venue_id=venue_id
        )
    return saved


# The fields of a record the audit log keeps: what was entered, and the photo's size (never its bytes).
AUDIT_FIELDS = (
    "kind",
    "title",
    "starts_on",
    "ends_on",
    "attendance",
    "students",
    "adults",
    "online",
    "views",
    "note",
    "photo_size",
)


def _activity_fields(view: ActivityView) -> dict[str, Any]:
    return {f: getattr(view, f) for f in AUDIT_FIELDS}


async def _editable(actor: UserView, activity_id: int) -> ActivityView:
    staff_venue(actor)
    current = await get_activity(actor, activity_id)
    if current.withdrawn_at is not None:
        raise ActivityError("withdrawn")
    _check_year_open(current.starts_on.year)
    return current


async def update_activity(
    actor: UserView, activity_id: int, form: ActivityForm, photo: bytes | None = None
) -> ActivityView:
    """Correct a record; a new photo replaces the old one, no photo keeps it."""
    await _editable(actor, activity_id)
    form = check_activity(form)
    _check_year_open(form.starts_on.year)
    big, small = prepare_photo(photo) if photo else (None, None)
    values: dict[Any, Any] = {
        Activity.kind: form.kind,
        Activity.title: form.title,
        Activity.starts_on: form.starts_on,
        Activity.ends_on: form.ends_on,
        Activity.attendance: form.attendance,
        Activity.students: form.students,
        Activity.adults: form.adults,
        Activity.online: form.online,
        Activity.views: form.views,
        Activity.note: form.note,
        Activity.updated_by: actor.id,
        Activity.updated_at: clock.now(),
    }
    if big:
        values.update({Activity.photo: big, Activity.thumbnail: small, Activity.photo_size: len(big)})
    async with write_transaction():
        before = await _editable(actor, activity_id)  # again inside the write: a withdrawal meanwhile wins
        await Activity.update(values).where((Activity.id == activity_id) & Activity.withdrawn_at.is_null())
        saved = await get_activity(actor, activity_id)
        await auditlog.record(
            actor,
            "activity.update",
            "activity",
            activity_id,
            before=_activity_fields(before),
            after=_activity_fields(saved),
            venue_id=saved.venue_id,
        )
    return saved


async def withdraw_activity(actor: UserView, activity_id: int, reason: str) -> ActivityView:
    """Withdraw a record (kept, no longer counted) with the reason why."""
    await _editable(actor, activity_id)
    reason = (reason or "").strip()
    if not reason:
        raise ActivityError("reason_blank", field="reason")
    now = clock.now()
    async with write_transaction():
        current = await _editable(actor, activity_id)  # again inside the write: one withdrawal, one entry
        await Activity.update(
            {
                Activity.withdrawn_at: now,
                Activity.withdrawn_by: actor.id,
                Activity.withdraw_reason: reason[:200],
                Activity.updated_at: now,
            }
        ).where((Activity.id == activity_id) & Activity.withdrawn_at.is_null())
        await auditlog.record(
            actor,
            "activity.withdraw",
            "activity",
            activity_id,
            before={"withdrawn": False},
            after={"withdrawn": True},
            venue_id=current.venue_id,
            reason=reason[:200],
        )
    return await get_activity(actor, activity_id)


async def photo_body(actor: UserView, activity_id: int, *, thumbnail: bool = False) -> bytes:
    await get_activity(actor, activity_id)  # the permission check
    column = Activity.thumbnail if thumbnail else Activity.photo
    row = await Activity.select(column.as_alias("body")).where(Activity.id == activity_id).first()
    if row is None or not row["body"]:
        raise ActivityError("no_photo")
    return bytes(row["body"])


# ---- self-reports ---------------------------------------------------------------------------------


def check_report_year(year: int) -> None:
    if year < FIRST_DAY.year or year > clock.LAST_YEAR:
        raise ActivityError("bad_year", field="year")
    if year > clock.today().year:
        raise ActivityError("future_year", field="year", year=year)


def _report_view(row: dict[str, Any]) -> SelfReportView:
    return SelfReportView(
        venue_id=row["venue"],
        year=row["year"],
        **{f: row[f] or 0 for f in SELF_REPORT_FIELDS},
        note=row["note"] or "",
        submitted_at=clock.as_aware(row["submitted_at"]),
        updated_at=clock.as_aware(row["updated_at"]),
    )


async def get_self_report(actor: UserView, year: int, venue_id: int | None = None) -> SelfReportView | None:
    """The self-report of a base for a year, or None when it has not been filed."""
    require_reader(actor)
    check_report_year(year)
    if actor.role == "staff":
        venue_id = staff_venue(actor)
    if venue_id is None or not valid_id(venue_id):
        return None
    row = await SelfReport.select().where((SelfReport.venue == venue_id) & (SelfReport.year == year)).first()
    return _report_view(row) if row else None


async def save_self_report(actor: UserView, year: int, form: SelfReportForm) -> SelfReportView:
    """File or correct this venue's self-report of a year (one row per venue and year)."""
    venue_id = staff_venue(actor)
    check_report_year(year)
    _check_year_open(year)
    if form.funding_spent > 2 * form.funding_raised and form.funding_raised > 0:
        raise ActivityError("spent_without_raised", field="funding_spent", spent=form.funding_spent)
    now = clock.now()
    values = {f: getattr(form, f) for f in SELF_REPORT_FIELDS}
    note = form.note.strip()
    async with write_transaction():
        old = (
            await SelfReport.select()
            .where((SelfReport.venue == venue_id) & (SelfReport.year == year))
            .first()
        )
        insert: Insert[Any] = SelfReport.insert(
            SelfReport(
                venue=venue_id,
                year=year,
                **values,
                note=note,
                submitted_by=actor.id,
                submitted_at=now,
                updated_at=now,
            )
        ).on_conflict(target=(SelfReport.venue, SelfReport.year), action="DO NOTHING")
        await insert
        await SelfReport.update(
            {
                **{getattr(SelfReport, f): v for f, v in values.items()},
                SelfReport.note: note,
                SelfReport.updated_at: now,
            }
        ).where((SelfReport.venue == venue_id) & (SelfReport.year == year))
        await auditlog.record(
            actor,
            "self_report.save",
            "self_report",
            f"{venue_id}/{year}",
            before=None
            if old is None
            else {**{f: old[f] for f in SELF_REPORT_FIELDS}, "note": old["note"] or ""},
            after={**values, "note": note},
            venue_id=venue_id,
        )
    report = await get_self_report(actor, year)
    assert report is not None
    return report


async def self_report_overview(actor: UserView, year: int) -> list[dict[str, Any]]:
    """Every base with its self-report of the year (or None), for the auditor."""
    if actor.role != "auditor":
        raise Forbidden("role")
    check_report_year(year)
    venues, rows = await asyncio.gather(
        Venue.select(Venue.id, Venue.name, Venue.district).order_by(Venue.id),
        SelfReport.select().where(SelfReport.year == year),
    )
    by_venue = {r["venue"]: _report_view(r) for r in rows}
    return [{"venue": v, "report": by_venue.get(v["id"])} for v in venues]


# ---- yearly figures for the evaluation ----------------------------------------------------------

_COUNTS_SQL = """
SELECT venue AS venue_id, COUNT(*) AS n
FROM activities_activity
WHERE withdrawn_at IS NULL AND starts_on >= {} AND starts_on <= {}
GROUP BY venue
"""

# One pass: per venue, type and online flag. An activity counts in the year of its first day; it is
# "in" a campaign period when its days overlap it.
_FIGURES_SQL = """
SELECT venue AS venue_id, kind AS kind, online AS online,
       COUNT(*) AS n,
       SUM(attendance) AS attendance,
       SUM(COALESCE(students, 0)) AS students,
       SUM(COALESCE(adults, 0)) AS adults,
       SUM(COALESCE(views, 0)) AS views,
       SUM(CASE WHEN starts_on <= {} AND ends_on >= {} THEN 1 ELSE 0 END) AS science_week,
       SUM(CASE WHEN starts_on <= {} AND ends_on >= {} THEN attendance ELSE 0 END) AS science_week_attendance,
       SUM(CASE WHEN starts_on <= {} AND ends_on >= {} THEN 1 ELSE 0 END) AS science_day,
       SUM(CASE WHEN starts_on <= {} AND ends_on >= {} THEN attendance ELSE 0 END) AS science_day_attendance
FROM activities_activity
WHERE withdrawn_at IS NULL AND starts_on >= {} AND starts_on <= {}
GROUP BY venue, kind, online
"""

_REPORTS_SQL = """
SELECT venue AS venue_id, fulltime_staff, parttime_staff, volunteers, funding_raised, funding_spent,
       exhibit_area, note
FROM activities_self_report WHERE year = {}
"""


async def year_counts_by_venue(year: int) -> dict[int, int]:
    """Recorded (not withdrawn) activities per venue whose first day lies in the year."""
    rows = await Activity.raw(_COUNTS_SQL, date(year, 1, 1), date(year, 12, 31))
    return {r["venue_id"]: int(r["n"] or 0) for r in rows}


def empty_figures() -> dict[str, Any]:
    return {
        "activities_by_type": {k: _type_cell() for k in KINDS},
        "activities": 0,
        "activity_attendance": 0,
        "activity_students": 0,
        "activity_adults": 0,
        "activity_views": 0,
        "online_activities": 0,
        "online_attendance": 0,
        "science_week_activities": 0,
        "science_week_attendance": 0,
        "science_day_activities": 0,
        "science_day_attendance": 0,
        "self_report": None,
    }


def _type_cell() -> dict[str, int]:
    return {"count": 0, "attendance": 0, "online_count": 0, "online_attendance": 0}


async def year_figures(
    year: int, campaigns: dict[str, tuple[date, date]] | None = None
) -> dict[int, dict[str, Any]]:
    """venue_id → the year's self-reported figures: activities by type (count, attendance, of which
    online), totals, activities overlapping 科技活动周 / 全国科普日, and the self-report (or None).
    Only venues with an activity or a self-report appear. Two aggregate queries, run side by side."""
    if campaigns is None:
        from evaluation.scorecard import load_campaign_periods  # the evaluation owns the campaign dates

        campaigns = await load_campaign_periods(year)
    (wk_lo, wk_hi), (sd_lo, sd_hi) = campaigns["science_week"], campaigns["science_day"]
    activity_rows, report_rows = await asyncio.gather(
        Activity.raw(
            _FIGURES_SQL,
            wk_hi,
            wk_lo,
            wk_hi,
            wk_lo,
            sd_hi,
            sd_lo,
            sd_hi,
            sd_lo,
            date(year, 1, 1),
            date(year, 12, 31),
        ),
        Activity.raw(_REPORTS_SQL, year),
    )
    out: dict[int, dict[str, Any]] = {}
    for r in activity_rows:
        fig = out.setdefault(r["venue_id"], empty_figures())
        n, people = int(r["n"] or 0), int(r["attendance"] or 0)
        cell = fig["activities_by_type"].setdefault(r["kind"], _type_cell())
        cell["count"] += n
        cell["attendance"] += people
        if r["online"]:
            cell["online_count"] += n
            cell["online_attendance"] += people
            fig["online_activities"] += n
            fig["online_attendance"] += people
        fig["activities"] += n
        fig["activity_attendance"] += people
        fig["activity_students"] += int(r["students"] or 0)
        fig["activity_adults"] += int(r["adults"] or 0)
        fig["activity_views"] += int(r["views"] or 0)
        for key in ("science_week", "science_day"):
            fig[f"{key}_activities"] += int(r[key] or 0)
            fig[f"{key}_attendance"] += int(r[f"{key}_attendance"] or 0)
    for r in report_rows:
        fig = out.setdefault(r["venue_id"], empty_figures())
        fig["self_report"] = {
            **{f: int(r[f] or 0) for f in SELF_REPORT_FIELDS},
            "note": r["note"] or "",
        }
    return out
