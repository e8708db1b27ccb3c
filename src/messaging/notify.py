"""The e-mail a teacher gets for each event of a booking, queued in the outbox inside the caller's
transaction (so it exists exactly when the change does) and sent later by `kepu worker`.

Texts come from templates/mail/<event>.txt (plain text, Jinja with gettext), in the recipient's
language: Simplified Chinese unless their account says English. The visit's .ics is attached.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from accounts.tables import User
from core import clock, i18n
from core.sql import Statement
from messaging.calendar import Visit, booking_calendar
from messaging.outbox import Attachment, enqueue

log = logging.getLogger("kepu.messaging")

EVENTS = ("confirmed", "pending", "approved", "declined", "changed", "cancelled", "reminder")
TEMPLATES_DIR = Path(__file__).resolve().parent.parent.parent / "templates"


@cache
def mail_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=False,  # plain text
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, pgettext=i18n.pgettext, newstyle=True
    )
    env.filters["day"] = _day
    env.filters["time"] = _time
    return env


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def _day(value: datetime) -> str:
    return format_date(clock.local(value).date(), "yyyy-MM-dd EEE", locale=_locale(i18n.current_language()))


def _time(value: datetime) -> str:
    return format_time(clock.local(value), "HH:mm", tzinfo=clock.TZ, locale=_locale(i18n.current_language()))


def email_address(user: dict[str, Any]) -> str:
    """The address to write to: the account's e-mail, else a username that is an address, else none."""
    address = str(user.get("email") or "").strip()
    if not address and "@" in str(user.get("username") or ""):
        address = str(user["username"]).strip()
    return address if "@" in address else ""


def render(event: str, context: dict[str, Any], language: str) -> tuple[str, str]:
    """(subject, body) of an event's e-mail in a language."""
    if event not in EVENTS:
        raise ValueError(f"unknown booking event {event!r}")
    env = mail_environment()
    template = env.get_template(f"mail/{event}.txt")
    with i18n.language(language):
        subject = "".join(template.blocks["subject"](template.new_context(context))).strip()
        body = template.render(context).strip() + "\n"
    return " ".join(subject.split()), body


_VISIT_SQL = (
    "SELECT b.id, b.status, b.students, b.chaperones, b.grade, b.class_name, b.code, b.decline_reason, "
    "b.updated_at, v.name AS venue_name, v.address AS venue_address, v.directions, v.contact_phone, "
    "sc.name AS school_name, s.starts_at, s.ends_at, p.title AS programme_title, r.name AS room_name, "
    "u.id AS teacher_id, u.username, u.display_name{extra} "
    "FROM bookings_booking b JOIN venues_venue v ON v.id = b.venue "
    "JOIN accounts_school sc ON sc.id = b.school JOIN venues_slot s ON s.id = b.slot "
    "LEFT JOIN venues_programme p ON p.id = s.programme "
    "LEFT JOIN venues_room r ON r.id = s.room JOIN accounts_user u ON u.id = b.teacher WHERE b.id = {{}}"
)


@cache
def _account_extra() -> str:
    # Optional account columns (an e-mail address, a language preference) where accounts has them.
    return "".join(f", u.{name}" for name in ("email", "language") if getattr(User, name, None) is not None)


@cache
def _visit_statement() -> Statement:
    return Statement(_VISIT_SQL.format(extra=_account_extra()).replace("{}", "$1"))


async def _visit(booking_id: int) -> dict[str, Any] | None:
    """The booking with its teacher, venue, school and slot in one plain query: this runs inside the
    write transaction of every booking change, so it is kept cheap."""
    return await _visit_statement().fetchrow(booking_id)


def _aware(value: Any) -> datetime:
    if isinstance(value, str):  # a driver that returns text for a computed column
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_VISIT_EXTRA = "b.updated_at, v.directions, v.contact_phone, u.username, u.display_name"


def visit_columns() -> str:
    """The columns besides a booking's own that its e-mail needs, for a caller that reads the booking
    anyway and hands the row to booking_event(): aliases b (the booking), v (its venue) and u (its
    teacher)."""
    return _VISIT_EXTRA + _account_extra()


async def booking_event(
    event: str, booking_id: int, *, dedupe_key: str | None = None, visit: dict[str, Any] | None = None
) -> bool:
    """Queue the e-mail for `event` of a booking to its teacher; False when the teacher has no address
    (or a message with the same dedupe_key is already queued).

    Call it inside the write transaction that makes the change, after the change (it reads the
    booking as the transaction sees it, unless the caller has just read it with visit_columns() and
    passes the row as `visit`). A reminder is queued once per booking.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown booking event {event!r}")
    row = visit if visit is not None else await _visit(booking_id)
    if row is None:
        return False
    recipient = email_address(row)
    if not recipient:
        log.debug("booking %s: %s e-mail not queued, the teacher has no e-mail address", booking_id, event)
        return False
    booking = Visit(
        id=row["id"],
        status=row["status"],
        students=row["students"],
        chaperones=row["chaperones"],
        grade=row["grade"] or "",
        class_name=row["class_name"] or "",
        code=row["code"],
        decline_reason=row["decline_reason"] or "",
        venue_name=row["venue_name"],
        venue_address=row["venue_address"] or "",
        school_name=row["school_name"],
        starts_at=clock.local(_aware(row["starts_at"])),
        ends_at=clock.local(_aware(row["ends_at"])),
        programme_title=row["programme_title"] or "",
        room_name=row["room_name"] or "",
    )
    updated_at = _aware(row["updated_at"])
    directions = row["directions"] or ""
    contact_phone = row["contact_phone"] or ""
    teacher = row
    base_url = os.environ.get("KEPU_BASE_URL", "").rstrip("/")
    language = teacher.get("language") or i18n.DEFAULT_LANGUAGE
    if language not in i18n.LANGUAGES:
        language = i18n.DEFAULT_LANGUAGE
    context = {
        "b": booking,
        "teacher_name": teacher.get("display_name") or teacher["username"],
        "directions": directions,
        "contact_phone": contact_phone,
        "pass_url": f"{base_url}/bookings/{booking.id}" if base_url else "",
    }
    subject, body = render(event, context, language)
    with i18n.language(language):
        ics = booking_calendar(booking, updated_at=updated_at, base_url=base_url)
    if event == "reminder" and dedupe_key is None:
        dedupe_key = f"reminder:{booking_id}"
    return await enqueue(
        kind=event,
        recipient=recipient,
        subject=subject,
        body=body,
        user_id=int(row["teacher_id"]),
        booking_id=booking_id,
        attachment=Attachment(f"kepu-booking-{booking_id}.ics", "text/calendar; method=PUBLISH", ics),
        dedupe_key=dedupe_key,
    )
