"""The door scanner's services: a scan from the scan page (with the device's nonce and scan time), the
bundle a door keeps for scanning with no network, and the upload of the scans it queued meanwhile."""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Annotated

import msgspec

from accounts.schemas import UserView
from bookings import keys
from bookings.checkin import ScanMeta, check_in
from bookings.schemas import CheckInForm, CheckInOutcome, Nonce
from bookings.tables import Booking
from core import clock
from core.errors import Forbidden
from core.schemas import Count, Text200
from venues.tables import Venue


class ScanForm(msgspec.Struct):
    """A scan sent by the scan page (camera, hand-held scanner or typed code)."""

    token: Text200
    students: Count | None = None
    chaperones: Count | None = None
    nonce: Nonce | None = None
    scanned_at: datetime | None = None
    offline: bool = False


def decode_scan(body: bytes) -> ScanForm:
    """Strict JSON decoding (a wrong type is an error, never coerced); raises msgspec errors."""
    return msgspec.json.decode(body, type=ScanForm)


async def scan(actor: UserView, form: ScanForm) -> CheckInOutcome:
    now = clock.now()
    scanned_at = clock.as_aware(form.scanned_at) if form.scanned_at is not None else None
    if scanned_at is not None and scanned_at > now:
        scanned_at = now  # a device clock running fast must not date a scan in the future
    return await check_in(
        actor,
        CheckInForm(
            token=form.token,
            students=form.students,
            chaperones=form.chaperones,
            device="scan",
            nonce=form.nonce,
        ),
        ScanMeta(offline=form.offline, scanned_at=scanned_at),
    )


class UploadItem(msgspec.Struct):
    """One scan a device made offline and kept in its queue; the nonce makes the upload replayable."""

    token: Text200
    nonce: Nonce
    students: Count | None = None
    chaperones: Count | None = None
    scanned_at: datetime | None = None


UPLOAD_MAX = 500
Upload = Annotated[list[UploadItem], msgspec.Meta(max_length=UPLOAD_MAX)]


class UploadResult(msgspec.Struct, omit_defaults=True):
    nonce: str
    result: str
    status_code: int
    detail: str
    booking_id: int | None = None


def decode_upload(body: bytes) -> list[UploadItem]:
    return msgspec.json.decode(body, type=Upload)


async def upload(actor: UserView, items: list[UploadItem]) -> list[UploadResult]:
    """Apply each queued offline scan once (by its nonce), marked offline, each in its own transaction.

    A replayed item returns its first outcome and records nothing; an offline admission that finds
    the booking already in (another offline door) is recorded for review and counts nobody.
    """
    results = []
    for item in items:
        outcome = await scan(
            actor,
            ScanForm(
                token=item.token,
                students=item.students,
                chaperones=item.chaperones,
                nonce=item.nonce,
                scanned_at=item.scanned_at,
                offline=True,
            ),
        )
        results.append(
            UploadResult(
                nonce=item.nonce,
                result=outcome.result,
                status_code=outcome.status_code,
                detail=outcome.detail,
                booking_id=outcome.booking_id,
            )
        )
    return results


class RosterEntry(msgspec.Struct):
    school_name: str
    class_name: str
    grade: str
    status: str
    code: str
    students: int
    chaperones: int
    admitted_students: int
    admitted_chaperones: int
    starts_at: datetime
    ends_at: datetime


class Bundle(msgspec.Struct):
    """What a door needs to check passes with no network: keys, today's roster, the cancelled ids."""

    venue_id: int
    day: date
    synced_at: datetime
    # The venue's arrival window (minutes before a slot starts / after it ends); None: no limit.
    arrival_before: int | None
    arrival_after: int | None
    keys: dict[str, str]  # key id -> raw Ed25519 public key, base64
    bookings: dict[str, RosterEntry]  # booking id -> roster entry
    cancelled: list[int]


async def bundle(actor: UserView) -> Bundle:
    if not actor.is_staff or actor.venue_id is None:
        raise Forbidden("role")
    today = clock.today()
    start, end = clock.day_bounds(today)
    rows = (
        await Booking.select(
            Booking.id,
            Booking.status,
            Booking.code,
            Booking.students,
            Booking.chaperones,
            Booking.admitted_students,
            Booking.admitted_chaperones,
            Booking.class_name,
            Booking.grade,
            Booking.school.name.as_alias("school_name"),
            Booking.slot.starts_at.as_alias("starts_at"),
            Booking.slot.ends_at.as_alias("ends_at"),
        )
        .where(
            (Booking.venue == actor.venue_id)
            & (Booking.slot.starts_at >= start)
            & (Booking.slot.starts_at < end)
        )
        .order_by(Booking.id)
    )
    venue = (
        await Venue.select(Venue.arrival_before_start_minutes, Venue.arrival_after_end_minutes)
        .where(Venue.id == actor.venue_id)
        .first()
    )
    assert venue is not None
    return Bundle(
        venue_id=actor.venue_id,
        arrival_before=venue["arrival_before_start_minutes"],
        arrival_after=venue["arrival_after_end_minutes"],
        day=today,
        synced_at=clock.now().replace(microsecond=0),
        keys={
            str(kid): base64.b64encode(raw).decode("ascii") for kid, raw in (await keys.public_keys()).items()
        },
        bookings={
            str(r["id"]): RosterEntry(
                school_name=r["school_name"],
                class_name=r["class_name"],
                grade=r["grade"],
                status=r["status"],
                code=r["code"],
                students=r["students"],
                chaperones=r["chaperones"],
                admitted_students=r["admitted_students"],
                admitted_chaperones=r["admitted_chaperones"],
                starts_at=r["starts_at"],
                ends_at=r["ends_at"],
            )
            for r in rows
        },
        cancelled=[int(r["id"]) for r in rows if r["status"] == "cancelled"],
    )
