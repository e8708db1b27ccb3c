"""Name lists (PIPL Arts. 28/31): a venue may require the pupils' names of a visit; kepu keeps them
encrypted, shows them masked (张*明) to that venue's door staff on the visit day only, and erases them.

- The teacher of the booking uploads the list (at most the booking's people), confirming that the
  pupils' guardians have been told; they may replace or delete it until the visit begins (delete: any
  time). The teacher sees the list masked, with its count.
- Names are encrypted with AES-GCM under a key derived from the installation's root secret
  (KEPU_SECRET_KEY, else the secret kept in the database) and bound to the booking, so the database
  never holds a name in the clear. Only counts and dates are readable without the key.
- Nobody else sees anything: auditors, other venues' staff and other teachers get a 404. No name goes
  to a log, an export, an e-mail, the outbox or the ledger; errors name a line, never its content.
- `purge` (run by `kepu worker`) erases a list KEPU_NAMELIST_RETENTION_DAYS (default 30) after its
  visit ended, and at once once the booking is cancelled or declined or its slot cancelled. Deleting
  the teacher's account erases their lists too. On SQLite the deleted bytes are overwritten
  (secure_delete) and the WAL is emptied, so the ciphertext does not linger in the file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta
from typing import Any, ClassVar

import msgspec
from piccolo.columns.combination import Where, WhereRaw

import auditlog
from accounts import services as accounts
from accounts.schemas import UserView
from bookings import services as bookings
from bookings.schemas import BookingView
from bookings.tables import Booking
from core import clock
from core.db import engine, is_sqlite, write_transaction
from core.errors import DomainError, NotFound
from core.i18n import N_
from privacy.masking import MAX_BYTES, NameFileError, mask, names_from_lines, read_names
from privacy.tables import NameList, VenuePolicy
from venues import services as venues

# The list's booking, to reach its slot and school through joins (typed Any: mypy cannot follow
# Piccolo's chained foreign keys).
_BOOKING: Any = NameList.booking
DEFAULT_RETENTION_DAYS = 30
LIVE_STATES = ("requested", "confirmed")
FORMAT_VERSION = b"\x01"
MAX_TEXT_CHARS = 64 * 1024


class NameListError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "not_required": (
            409,
            N_("This venue does not ask for a name list: kepu keeps only the numbers of pupils and adults."),
        ),
        "no_confirmation": (
            400,
            N_(
                "Confirm that the pupils' guardians have been told about the name list, then upload it again."
            ),
        ),
        "empty": (
            400,
            N_("The list has no names. Upload a file with one name a line, or type the names in."),
        ),
        "too_big": (
            400,
            N_("The file is too large (at most 512 kB). Keep only the names, one a line, and upload again."),
        ),
        "bad_file": (
            400,
            N_(
                "That file cannot be read. Upload plain text, CSV or XLSX with one name a line "
                "(first column)."
            ),
        ),
        "not_utf8": (400, N_("The file is not UTF-8 text. Save it as UTF-8 or as XLSX and upload again.")),
        "bad_name": (
            400,
            N_(
                "Line {line}: a name has 1 to 40 characters and no control characters. "
                "Correct it and upload again."
            ),
        ),
        "too_many": (
            400,
            N_(
                "The list has more names than the booking has people ({max}). Remove names, or change the "
                "booking's numbers first."
            ),
        ),
        "closed": (
            409,
            N_(
                "The visit has begun or is no longer booked, so its name list can no longer be "
                "uploaded or changed."
            ),
        ),
    }


class TeacherNameList(msgspec.Struct):
    """What the teacher of a booking sees: whether a list is asked for, and theirs masked."""

    booking_id: int
    required: bool
    can_change: bool
    count: int = 0
    masked: list[str] = []
    uploaded_at: datetime | None = None
    guardians_informed_at: datetime | None = None
    delete_after: datetime | None = None
    limit: int = 0

    @property
    def exists(self) -> bool:
        return self.uploaded_at is not None


class DoorNameList(msgspec.Struct):
    """One group's list for the door staff on the visit day: masked names only."""

    booking_id: int
    school_name: str
    grade: str
    class_name: str
    starts_at: datetime
    ends_at: datetime
    count: int
    masked: list[str]


# -- settings ------------------------------------------------------------------------------------


def retention_days() -> int:
    """KEPU_NAMELIST_RETENTION_DAYS: days after the visit's end a list is kept (default 30, at least 0)."""
    raw = os.environ.get("KEPU_NAMELIST_RETENTION_DAYS", "").strip()
    try:
        return max(0, int(raw)) if raw else DEFAULT_RETENTION_DAYS
    except ValueError:
        return DEFAULT_RETENTION_DAYS


def retention() -> timedelta:
    return timedelta(days=retention_days())


async def requires_name_list(venue_id: int) -> bool:
    query = VenuePolicy.select(VenuePolicy.requires_name_list).where(VenuePolicy.venue == venue_id)
    row = await query.first()
    return bool(row and row["requires_name_list"])


async def set_requirement(actor: UserView, venue_id: int, required: bool) -> None:
    """Staff of the venue or an auditor turn the requirement on or off (lists already given stay
    until they are erased as usual)."""
    await venues.get_venue(venue_id)
    venues.require_manager(actor, venue_id)
    now = clock.now()
    async with write_transaction():
        old = await requires_name_list(venue_id)
        if await VenuePolicy.exists().where(VenuePolicy.venue == venue_id):
            await VenuePolicy.update(
                {
                    VenuePolicy.requires_name_list: required,
                    VenuePolicy.updated_at: now,
                    VenuePolicy.updated_by: actor.id,
                }
            ).where(VenuePolicy.venue == venue_id)
        else:
            await VenuePolicy.insert(
                VenuePolicy(venue=venue_id, requires_name_list=required, updated_at=now, updated_by=actor.id)
            )
        await auditlog.record(
            actor,
            "namelist.requirement",
            "namelist",
            venue_id,
            before={"required": old},
            after={"required": required},
            venue_id=venue_id,
        )


# -- encryption ----------------------------------------------------------------------------------


async def _key() -> bytes:
    """The AES-256 key of name lists, derived from the root secret like kepu.app.derive
    (HMAC-SHA256 per purpose), so it changes with KEPU_SECRET_KEY and never leaves the process."""
    root = os.environ.get("KEPU_SECRET_KEY") or await accounts.installation_secret(
        "root", lambda: secrets.token_urlsafe(48)
    )
    return hmac.new(root.encode(), b"namelist-aes-gcm", hashlib.sha256).digest()


def _aad(booking_id: int) -> bytes:
    # Bound to its booking: a ciphertext copied onto another booking's row does not decrypt.
    return f"kepu-namelist:{booking_id}".encode()


# cryptography is imported where a name list is sealed or opened, not with the module: pages import
# this one, and every `kepu serve` process would hold the library (about 8 MB) for a rare upload.


def encrypt(key: bytes, booking_id: int, names: list[str]) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, "\n".join(names).encode(), _aad(booking_id))
    return FORMAT_VERSION + nonce + sealed


def decrypt(key: bytes, booking_id: int, blob: bytes) -> list[str] | None:
    """The names, or None when the blob does not open (another key: the secret was changed)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    blob = bytes(blob)
    if blob[:1] != FORMAT_VERSION:
        return None
    try:
        plain = AESGCM(key).decrypt(blob[1:13], blob[13:], _aad(booking_id))
    except InvalidTag:
        return None
    return plain.decode().split("\n") if plain else []


# -- the teacher ---------------------------------------------------------------------------------


async def _teachers_booking(actor: UserView, booking_id: int) -> BookingView:
    """The booking, only for the teacher who made it; anyone else is told it does not exist."""
    if not actor.is_teacher:
        raise NotFound("booking")
    booking = await bookings.get_booking(actor, booking_id)
    if booking.teacher_id != actor.id:
        raise NotFound("booking")
    return booking


def _open(booking: BookingView) -> bool:
    return booking.status in LIVE_STATES and booking.cancelled_at is None and booking.starts_at > clock.now()


async def for_teacher(actor: UserView, booking_id: int) -> TeacherNameList:
    booking = await _teachers_booking(actor, booking_id)
    required = await requires_name_list(booking.venue_id)
    view = TeacherNameList(
        booking_id=booking.id,
        required=required,
        can_change=required and _open(booking),
        limit=booking.people,
    )
    row = await NameList.select().where(NameList.booking == booking.id).first()
    if row is None:
        return view
    names = decrypt(await _key(), booking.id, row["ciphertext"]) or []
    return msgspec.structs.replace(
        view,
        count=int(row["names"]),
        masked=[mask(n) for n in names],
        uploaded_at=row["uploaded_at"],
        guardians_informed_at=row["guardians_informed_at"],
        delete_after=booking.ends_at + retention(),
    )


async def pass_summary(actor: UserView, booking: BookingView) -> TeacherNameList | None:
    """For the pass page: the teacher's list state when the venue asks for one (or one was given)."""
    if not actor.is_teacher or booking.teacher_id != actor.id:
        return None
    view = await for_teacher(actor, booking.id)
    return view if view.required or view.exists else None


def parse_upload(filename: str, data: bytes, text: str, limit: int) -> list[str]:
    """Names from an uploaded file, or else from the text box; NameListError says what is wrong."""
    try:
        if data:
            return read_names(filename, data, limit)
        if len(text) > MAX_TEXT_CHARS:
            raise NameFileError("too_big")
        return names_from_lines(text.splitlines(), limit)
    except NameFileError as exc:
        if exc.code == "bad_name":
            raise NameListError("bad_name", line=exc.line) from None
        if exc.code == "too_many":
            raise NameListError("too_many", max=limit) from None
        raise NameListError(exc.code) from None


async def upload(
    actor: UserView, booking_id: int, *, filename: str, data: bytes, text: str, guardians_informed: bool
) -> int:
    """Keep (or replace) the booking's list, encrypted; returns how many names it holds."""
    booking = await _teachers_booking(actor, booking_id)
    if not await requires_name_list(booking.venue_id):
        raise NameListError("not_required")
    if not _open(booking):
        raise NameListError("closed")
    if not guardians_informed:
        raise NameListError("no_confirmation")
    names = parse_upload(filename, data[: MAX_BYTES + 1], text, booking.people)
    blob = encrypt(await _key(), booking.id, names)
    now = clock.now()
    async with write_transaction():
        if not is_sqlite():
            # Two uploads at once for one booking: the second waits here, then replaces the first.
            await Booking.select(Booking.id).where(Booking.id == booking.id).lock_rows()
        # Checked again inside the write: a cancel or a smaller headcount meanwhile wins.
        current = await bookings.get_booking(actor, booking_id)
        if not _open(current):
            raise NameListError("closed")
        if len(names) > current.people:
            raise NameListError("too_many", max=current.people)
        await _erase(NameList.booking == booking.id)
        await NameList.insert(
            NameList(
                booking=booking.id,
                venue=booking.venue_id,
                teacher=actor.id,
                names=len(names),
                ciphertext=blob,
                guardians_informed_at=now,
                uploaded_at=now,
            )
        )
    await flush()  # a replaced list's old ciphertext goes from the files too
    return len(names)


async def delete(actor: UserView, booking_id: int) -> bool:
    """The teacher erases their list (at any time); True when there was one."""
    booking = await _teachers_booking(actor, booking_id)
    erased = await _erase(NameList.booking == booking.id)
    await flush()
    return erased > 0


# -- the door ------------------------------------------------------------------------------------


async def for_door(actor: UserView) -> list[DoorNameList]:
    """Today's lists of the actor's venue (confirmed visits, slot not cancelled), masked. Staff only."""
    if not actor.is_staff or actor.venue_id is None:
        raise NotFound("booking")
    lo, hi = clock.day_bounds(clock.today())
    rows = (
        await NameList.select(
            NameList.booking.as_alias("booking_id"),
            NameList.names,
            NameList.ciphertext,
            _BOOKING.school.name.as_alias("school_name"),
            NameList.booking.grade.as_alias("grade"),
            NameList.booking.class_name.as_alias("class_name"),
            _BOOKING.slot.starts_at.as_alias("starts_at"),
            _BOOKING.slot.ends_at.as_alias("ends_at"),
        )
        .where(
            (NameList.venue == actor.venue_id)
            & (NameList.booking.venue == actor.venue_id)
            & (NameList.booking.status == "confirmed")
            & _BOOKING.slot.cancelled_at.is_null()
            & (_BOOKING.slot.starts_at >= lo)
            & (_BOOKING.slot.starts_at < hi)
        )
        .order_by(_BOOKING.slot.starts_at)
        .order_by(NameList.booking)
    )
    if not rows:
        return []
    key = await _key()
    out = []
    for r in rows:
        names = decrypt(key, int(r["booking_id"]), r["ciphertext"]) or []
        out.append(
            DoorNameList(
                booking_id=int(r["booking_id"]),
                school_name=r["school_name"] or "",
                grade=r["grade"] or "",
                class_name=r["class_name"] or "",
                starts_at=r["starts_at"],
                ends_at=r["ends_at"],
                count=int(r["names"]),
                masked=[mask(n) for n in names],
            )
        )
    return out


# -- erasure -------------------------------------------------------------------------------------


async def _erase(where: Where | WhereRaw | Any) -> int:
    """Delete the lists that match, overwriting their bytes on SQLite; returns how many went."""
    async with write_transaction():
        ids = [int(r["id"]) for r in await NameList.select(NameList.id).where(where)]
        if not ids:
            return 0
        if is_sqlite():
            # Zero the deleted cells and pages instead of leaving them in the file's free space.
            previous = (await NameList.raw("PRAGMA secure_delete"))[0]["secure_delete"]
            await NameList.raw("PRAGMA secure_delete = 1")
            await NameList.delete().where(NameList.id.is_in(ids))
            await NameList.raw(f"PRAGMA secure_delete = {int(previous)}")
        else:
            await NameList.delete().where(NameList.id.is_in(ids))
    return len(ids)


async def flush() -> None:
    """After an erasure outside a transaction: on SQLite, move the WAL into the file and empty it,
    so the old page images holding the ciphertext are gone too; on PostgreSQL, vacuum the dead rows."""
    if engine().current_transaction.get() is not None:
        return
    if is_sqlite():
        await NameList.raw("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        await NameList.raw("VACUUM privacy_name_list")


async def purge() -> int:
    """The worker's job: erase lists past their retention, and those of visits that will not happen."""
    until = clock.now() - retention()
    async with write_transaction():
        erased = await _erase(
            (_BOOKING.slot.ends_at <= until)
            | NameList.booking.status.not_in(list(LIVE_STATES))
            | NameList.booking.cancelled_at.is_not_null()
            | _BOOKING.slot.cancelled_at.is_not_null()
        )
        if erased:
            # Only how many went: never a name, a booking or a school.
            await auditlog.record(None, "namelist.purge", "namelist", "", after={"deleted": erased})
    if erased:
        await flush()
    return erased


async def erase_for_teacher(user_id: int) -> int:
    """Deleting an account erases its lists (accounts/own_data.py calls this inside its transaction,
    and `flush` after it)."""
    return await _erase(NameList.teacher == user_id)


async def export_for(user_id: int) -> list[dict[str, Any]]:
    """For the teacher's own-data download: each list's booking, count and dates, names masked."""
    rows = (
        await NameList.select(
            NameList.booking.as_alias("booking_id"),
            NameList.names,
            NameList.ciphertext,
            NameList.guardians_informed_at,
            NameList.uploaded_at,
            _BOOKING.slot.ends_at.as_alias("ends_at"),
        )
        .where(NameList.teacher == user_id)
        .order_by(NameList.booking)
    )
    if not rows:
        return []
    key = await _key()
    return [
        {
            "booking_id": int(r["booking_id"]),
            "names": int(r["names"]),
            "names_masked": [mask(n) for n in decrypt(key, int(r["booking_id"]), r["ciphertext"]) or []],
            "guardians_informed_at": clock.local(r["guardians_informed_at"]).isoformat(),
            "uploaded_at": clock.local(r["uploaded_at"]).isoformat(),
            "delete_after": clock.local(r["ends_at"] + retention()).isoformat(),
        }
        for r in rows
    ]


def _register_job() -> None:
    """`kepu worker` runs purge every pass (messaging/worker.py imports this module)."""
    from messaging import worker

    if purge not in worker.JOBS:
        worker.JOBS.append(purge)


_register_job()
