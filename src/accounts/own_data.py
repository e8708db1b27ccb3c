"""A teacher's own data (PIPL): download everything kept about the account, and delete the account.

Deleting anonymises rather than removes the user row: bookings, check-ins and feedback refer to it,
and they are the record behind each venue's yearly figures (counts, school, dates), which the
science association evaluates. What identifies the person goes: name, username, e-mail, phone, the
password, the lead teacher's name and phone on their bookings, their sign-in links, tokens and
sessions. The school stays (a school is not a person).

Booking-side tables are read through `bookings.tables` at call time, and only those that exist
there (waiting list, feedback), because bookings depends on accounts and not the other way round.
"""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime
from typing import Any

from accounts.passwords import hash_password, verify_password
from accounts.registration import end_sessions
from accounts.tables import AccountToken, School, User
from core import clock
from core.db import write_transaction
from core.i18n import gettext

DELETED_NAME = "已删除的用户"
# Booking states that still hold (or ask for) places; waiting-list states still in play.
LIVE_BOOKING_STATES = ("requested", "confirmed")
LIVE_WAITLIST_STATES = ("waiting", "offered")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return clock.local(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return None
    return value


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def _bookings_tables() -> Any:
    try:
        from bookings import tables
    except ImportError:  # pragma: no cover - bookings is part of kepu
        return None
    return tables


async def export(user_id: int) -> dict[str, Any]:
    """Everything kept about this account, as plain JSON-able data: only this account's rows."""
    user = (
        await User.select(
            User.id,
            User.username,
            User.display_name,
            User.role,
            User.phone,
            User.email,
            User.email_verified_at,
            User.is_active,
            User.created_at,
            User.school,
        )
        .where(User.id == user_id)
        .first()
    )
    if user is None:
        return {}
    school = None
    if user["school"] is not None:
        school = (
            await School.select(School.id, School.name, School.district, School.stage)
            .where(School.id == user["school"])
            .first()
        )
    data: dict[str, Any] = {
        "exported_at": _plain(clock.now()),
        "account": {k: _plain(v) for k, v in user.items() if k != "school"},
        "school": school,
        "bookings": [],
        "feedback": [],
        "waitlist": [],
    }
    tables = _bookings_tables()
    booking = getattr(tables, "Booking", None)
    if booking is not None:
        data["bookings"] = _rows(
            await booking.select(
                booking.id,
                booking.status,
                booking.venue.name.as_alias("venue"),
                booking.slot.starts_at.as_alias("starts_at"),
                booking.slot.ends_at.as_alias("ends_at"),
                booking.students,
                booking.chaperones,
                booking.grade,
                booking.class_name,
                booking.grade_band,
                booking.lead_teacher_name,
                booking.lead_teacher_phone,
                booking.buses,
                booking.arrival_time,
                booking.lunch_space,
                booking.accessibility,
                booking.special_requests,
                booking.code,
                booking.admitted_students,
                booking.admitted_chaperones,
                booking.first_admitted_at,
                booking.created_at,
                booking.cancelled_at,
                booking.decided_at,
                booking.decline_reason,
            )
            .where(booking.teacher == user_id)
            .order_by(booking.id)
        )
    feedback = getattr(tables, "Feedback", None)
    if feedback is not None:
        data["feedback"] = _rows(
            await feedback.select(
                feedback.booking.as_alias("booking_id"),
                feedback.venue.name.as_alias("venue"),
                feedback.rating,
                feedback.comment,
                feedback.created_at,
            )
            .where(feedback.teacher == user_id)
            .order_by(feedback.id)
        )
    waitlist = getattr(tables, "WaitlistEntry", None)
    if waitlist is not None:
        data["waitlist"] = _rows(
            await waitlist.select(
                waitlist.id,
                waitlist.status,
                waitlist.venue.name.as_alias("venue"),
                waitlist.slot.starts_at.as_alias("starts_at"),
                waitlist.day,
                waitlist.flexibility,
                waitlist.students,
                waitlist.chaperones,
                waitlist.grade,
                waitlist.class_name,
                waitlist.booking.as_alias("booking_id"),
                waitlist.created_at,
            )
            .where(waitlist.teacher == user_id)
            .order_by(waitlist.id)
        )
    data["name_lists"] = await _name_lists(user_id)
    return data


def _privacy_namelists() -> Any:
    try:
        from privacy import namelists
    except ImportError:  # pragma: no cover - privacy is part of kepu
        return None
    return namelists


async def _name_lists(user_id: int) -> list[dict[str, Any]]:
    """The pupils' name lists this teacher gave: counts and dates, names masked (privacy app)."""
    namelists = _privacy_namelists()
    return [] if namelists is None else list(await namelists.export_for(user_id))


def export_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()


async def _still_live(user_id: int) -> str | None:
    """A sentence when the account still has visits or waiting-list places in play."""
    tables = _bookings_tables()
    now = clock.now()
    booking = getattr(tables, "Booking", None)
    if booking is not None and await booking.exists().where(
        (booking.teacher == user_id)
        & booking.status.is_in(list(LIVE_BOOKING_STATES))
        & (booking.slot.ends_at > now)
    ):
        return gettext(
            "You still have upcoming visits. Cancel them first (or ask the venue to), "
            "then delete your account."
        )
    waitlist = getattr(tables, "WaitlistEntry", None)
    if waitlist is not None and await waitlist.exists().where(
        (waitlist.teacher == user_id) & waitlist.status.is_in(list(LIVE_WAITLIST_STATES))
    ):
        return gettext("You are still on a waiting list. Leave it first, then delete your account.")
    return None


async def delete_account(user_id: int, password: str) -> dict[str, str]:
    """{field: problem}, or {} when the account is deleted (anonymised; see the module's docstring)."""
    row = await User.select(User.password_hash, User.role).where(User.id == user_id).first()
    if row is None or not await verify_password(password[:1024], row["password_hash"]):
        return {"delete_password": gettext("That is not your current password.")}
    if row["role"] != "teacher":
        return {
            "delete": gettext(
                "Staff and auditor accounts are closed by the science association; write to it."
            )
        }
    # A hash of a random password nobody knows: the row can never sign in again, and a sign-in
    # attempt takes as long as for any other account.
    unusable = await hash_password(secrets.token_urlsafe(32))
    async with write_transaction():
        # Checked inside the write transaction, so a booking made meanwhile is not left orphaned.
        if problem := await _still_live(user_id):
            return {"delete": problem}
        await User.update(
            {
                User.username: f"deleted-{user_id}-{secrets.token_hex(4)}",
                User.display_name: DELETED_NAME,
                User.email: "",
                User.phone: "",
                User.password_hash: unusable,
                User.is_active: False,
                User.must_confirm_email: False,
                User.email_verified_at: None,
            }
        ).where(User.id == user_id)
        tables = _bookings_tables()
        booking = getattr(tables, "Booking", None)
        if booking is not None:
            await booking.update({booking.lead_teacher_name: "", booking.lead_teacher_phone: ""}).where(
                booking.teacher == user_id
            )
        namelists = _privacy_namelists()
        if namelists is not None:
            await namelists.erase_for_teacher(user_id)  # pupils' names go with the account
        await AccountToken.delete().where(AccountToken.user == user_id)
        await end_sessions(user_id)  # page sessions and API tokens
    if namelists is not None:
        await namelists.flush()  # no copy of the erased names left in the database's files
    return {}
