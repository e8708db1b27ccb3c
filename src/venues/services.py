"""Venues rules: registering venues, their staff, and publishing slots."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

import msgspec

import auditlog
from accounts import services as accounts
from accounts.schemas import UserView
from accounts.tables import User
from core import clock
from core.db import valid_id, write_transaction
from core.errors import DomainError, Forbidden, NotFound
from core.i18n import N_
from core.sql import Statement
from venues.schemas import (
    RULE_FIELDS,
    BlackoutForm,
    BlackoutView,
    SlotForm,
    SlotView,
    StaffView,
    VenueForm,
    VenueUpdate,
    VenueView,
)
from venues.tables import Blackout, Slot, StaffMembership, Venue


class VenueError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "slot_ends_before_start": (422, N_("A slot must end after it starts.")),
        "slot_too_long": (422, N_("A slot lasts at most 24 hours; split longer events into several slots.")),
        "slot_out_of_range": (422, N_("A slot must take place between the years {first} and {last}.")),
        "day_out_of_range": (422, N_("Choose a day between the years {first} and {last}.")),
        "not_staff": (422, N_("Only a staff account can work at a venue.")),
        "capacity_below_booked": (
            409,
            N_("{booked} places are already booked; the capacity cannot go below that."),
        ),
        "group_bounds": (
            422,
            N_("The smallest group size cannot be larger than the largest ({min} > {max})."),
        ),
        "lead_bounds": (
            422,
            N_("The minimum lead time cannot be longer than the maximum ({min} > {max} days)."),
        ),
        "blackout_past": (422, N_("A blackout day must be today or later.")),
    }


def _check_rule_bounds(rules: dict[str, Any]) -> None:
    lo, hi = rules.get("group_min"), rules.get("group_max")
    if lo is not None and hi is not None and lo > hi:
        raise VenueError("group_bounds", min=lo, max=hi)
    lo, hi = rules.get("min_lead_days"), rules.get("max_lead_days")
    if lo is not None and hi is not None and lo > hi:
        raise VenueError("lead_bounds", min=lo, max=hi)


VENUE_COLUMNS = (
    Venue.id,
    Venue.name,
    Venue.kind,
    Venue.district,
    Venue.address,
    Venue.arrival_before_start_minutes,
    Venue.arrival_after_end_minutes,
    *(getattr(Venue, f) for f in RULE_FIELDS),
    Venue.created_at,
    Venue.door_ratio_policy,
)


def can_manage(actor: UserView, venue_id: int) -> bool:
    return actor.is_auditor or (actor.is_staff and actor.venue_id == venue_id)


def require_manager(actor: UserView, venue_id: int) -> None:
    if not (actor.is_auditor or actor.is_staff):
        raise Forbidden("role")
    if not can_manage(actor, venue_id):
        raise Forbidden("other_venue")


async def create_venue(actor: UserView, form: VenueForm) -> VenueView:
    if not actor.is_auditor:
        raise Forbidden("role")
    rules = {f: getattr(form, f) for f in RULE_FIELDS}
    _check_rule_bounds(rules)
    async with write_transaction():
        rows = await Venue.insert(
            Venue(
                name=form.name.strip(),
                kind=form.kind,
                district=form.district,
                address=(form.address or "").strip(),
                arrival_before_start_minutes=form.arrival_before_start_minutes,
                arrival_after_end_minutes=form.arrival_after_end_minutes,
                **rules,
                created_at=clock.now(),
            )
        ).returning(Venue.id)
        venue_id = int(rows[0]["id"])
        created = await get_venue(venue_id)
        await auditlog.record(
            actor, "venue.create", "venue", venue_id, after=_venue_fields(created), venue_id=venue_id
        )
    return created


async def update_venue(actor: UserView, venue_id: int, update: VenueUpdate) -> VenueView:
    current = await get_venue(venue_id)
    require_manager(actor, venue_id)
    changes = {
        field: (value.strip() if isinstance(value, str) else value)
        for field in update.__struct_fields__
        if (value := getattr(update, field)) is not msgspec.UNSET
    }
    _check_rule_bounds({f: changes.get(f, getattr(current, f)) for f in RULE_FIELDS})
    values: dict[Any, Any] = {getattr(Venue, field): value for field, value in changes.items()}
    if values:
        async with write_transaction():
            await Venue.update(values).where(Venue.id == venue_id)
            await auditlog.record(
                actor,
                "venue.update",
                "venue",
                venue_id,
                before={f: getattr(current, f) for f in changes},
                after=changes,
                venue_id=venue_id,
            )
    return await get_venue(venue_id)


def _venue_fields(venue: VenueView) -> dict[str, Any]:
    """What the audit log keeps of a venue (everything but its id and creation time)."""
    return {f: getattr(venue, f) for f in venue.__struct_fields__ if f not in ("id", "created_at")}


async def get_venue(venue_id: int) -> VenueView:
    if not valid_id(venue_id):
        raise NotFound("venue")
    row = await Venue.select(*VENUE_COLUMNS).where(Venue.id == venue_id).first()
    if row is None:
        raise NotFound("venue")
    return VenueView(**row)


async def list_venues(*, district: str | None = None, kind: str | None = None) -> list[VenueView]:
    query = Venue.select(*VENUE_COLUMNS).order_by(Venue.id)
    if district:
        query = query.where(Venue.district == district)
    if kind:
        query = query.where(Venue.kind == kind)
    return [VenueView(**r) for r in await query]


async def list_blackouts(venue_id: int, *, since: date | None = None) -> list[BlackoutView]:
    await get_venue(venue_id)
    query = Blackout.select(Blackout.day, Blackout.reason).where(Blackout.venue == venue_id)
    if since is not None:
        query = query.where(Blackout.day >= since)
    return [BlackoutView(**r) for r in await query.order_by(Blackout.day)]


_DAY_LOAD = Statement(
    "SELECT COALESCE(SUM(booked), 0) AS n FROM venues_slot WHERE venue = $1 AND starts_at >= $2"
    " AND starts_at < $3"
)


async def day_load(venue_id: int, day: date) -> int:
    """Places held at a venue on a local day: the sum of its slots' `booked` (confirmed, requested and
    held), which a venue's daily cap limits. Inside a write transaction it sees that transaction."""
    lo, hi = clock.day_bounds(day)
    row = await _DAY_LOAD.fetchrow(venue_id, lo, hi)
    return int(row["n"]) if row else 0


async def blackout_reason(venue_id: int, day: date) -> str | None:
    """The reason a venue takes no group bookings on `day`, or None when it does."""
    row = (
        await Blackout.select(Blackout.reason)
        .where((Blackout.venue == venue_id) & (Blackout.day == day))
        .first()
    )
    return None if row is None else str(row["reason"])


async def set_blackout(actor: UserView, venue_id: int, form: BlackoutForm) -> BlackoutView:
    """Add a blackout day (or change its reason); bookings already made that day are kept."""
    await get_venue(venue_id)
    require_manager(actor, venue_id)
    if form.day < clock.today():
        raise VenueError("blackout_past")
    if not clock.in_range(form.day):
        raise VenueError("day_out_of_range", first=clock.FIRST_YEAR, last=clock.LAST_YEAR)
    reason = form.reason.strip()
    async with write_transaction():
        old = await blackout_reason(venue_id, form.day)
        await Blackout.insert(Blackout(venue=venue_id, day=form.day, reason=reason)).on_conflict(
            target=(Blackout.venue, Blackout.day), action="DO UPDATE", values=[Blackout.reason]
        )
        await auditlog.record(
            actor,
            "blackout.set",
            "blackout",
            form.day,
            before=None if old is None else {"day": form.day, "reason": old},
            after={"day": form.day, "reason": reason},
            venue_id=venue_id,
        )
    return BlackoutView(day=form.day, reason=reason)


async def remove_blackout(actor: UserView, venue_id: int, day: date) -> None:
    await get_venue(venue_id)
    require_manager(actor, venue_id)
    async with write_transaction():
        gone = await (
            Blackout.delete()
            .where((Blackout.venue == venue_id) & (Blackout.day == day))
            .returning(Blackout.reason)
        )
        if gone:
            await auditlog.record(
                actor,
                "blackout.remove",
                "blackout",
                day,
                before={"day": day, "reason": gone[0]["reason"]},
                venue_id=venue_id,
            )


async def add_staff(venue_id: int, user_id: int, role: str = "door", *, actor: Any = None) -> None:
    """Link a staff account to its venue (one venue per account); logged when an `actor` is given."""
    await get_venue(venue_id)
    user = await User.select(User.role).where(User.id == user_id).first()
    if user is None:
        raise NotFound("user")
    if user["role"] != "staff":
        raise VenueError("not_staff")
    async with write_transaction():
        old = await (
            StaffMembership.delete()
            .where(StaffMembership.user == user_id)
            .returning(StaffMembership.venue, StaffMembership.role)
        )
        await StaffMembership.insert(StaffMembership(user=user_id, venue=venue_id, role=role))
        if actor is not None:
            await auditlog.record(
                actor,
                "staff.assign",
                "user",
                user_id,
                before={"venue_id": old[0]["venue"], "staff_role": old[0]["role"]} if old else None,
                after={"venue_id": venue_id, "staff_role": role},
                venue_id=venue_id,
            )


async def create_staff_user(
    actor: UserView, venue_id: int, username: str, password: str, display_name: str = "", role: str = "door"
) -> int:
    """An auditor (or a supervisor of the venue) creates a staff account for a venue."""
    await get_venue(venue_id)
    if not (
        actor.is_auditor
        or (actor.is_staff and actor.venue_id == venue_id and actor.venue_role == "supervisor")
    ):
        raise Forbidden("role")
    async with write_transaction():
        user_id = await accounts.create_user(username, password, "staff", display_name=display_name)
        await add_staff(venue_id, user_id, role)
        after = {"username": username, "display_name": display_name or username, "role": "staff"}
        await auditlog.record(
            actor,
            "user.create",
            "user",
            user_id,
            after={**after, "venue_id": venue_id, "staff_role": role},
            venue_id=venue_id,
        )
    return user_id


async def list_staff(venue_id: int) -> list[StaffView]:
    rows = (
        await StaffMembership.select(
            StaffMembership.user.id.as_alias("user_id"),
            StaffMembership.user.username.as_alias("username"),
            StaffMembership.user.display_name.as_alias("display_name"),
            StaffMembership.venue.as_alias("venue_id"),
            StaffMembership.role,
        )
        .where(StaffMembership.venue == venue_id)
        .order_by(StaffMembership.id)
    )
    return [StaffView(**r) for r in rows]


SLOT_COLUMNS = (
    Slot.id,
    Slot.venue.as_alias("venue_id"),
    Slot.venue.name.as_alias("venue_name"),
    Slot.starts_at,
    Slot.ends_at,
    Slot.capacity,
    Slot.booked,
    Slot.title,
    Slot.kind,
    Slot.created_at,
    Slot.programme.as_alias("programme_id"),
    Slot.programme.title.as_alias("programme_title"),
    Slot.room.as_alias("room_id"),
    Slot.room.name.as_alias("room_name"),
)


# SLOT_COLUMNS for one slot, written once as SQL: reading a slot is on every booking page and API client's
# path, and building the joined Piccolo query cost several times more than running it.
_SLOT_BY_ID = Statement(
    "SELECT sl.id, sl.venue AS venue_id, v.name AS venue_name, sl.starts_at, sl.ends_at, sl.capacity,"
    " sl.booked, sl.title, sl.kind, sl.created_at, sl.programme AS programme_id,"
    " p.title AS programme_title, sl.room AS room_id, r.name AS room_name"
    " FROM venues_slot sl JOIN venues_venue v ON v.id = sl.venue"
    " LEFT JOIN venues_programme p ON p.id = sl.programme LEFT JOIN venues_room r ON r.id = sl.room"
    " WHERE sl.id = $1",
    quick=True,
)


def slot_view(row: dict[str, Any]) -> SlotView:
    return SlotView(
        id=row["id"],
        venue_id=row["venue_id"],
        venue_name=row["venue_name"],
        starts_at=clock.local(row["starts_at"]),
        ends_at=clock.local(row["ends_at"]),
        capacity=row["capacity"],
        booked=row["booked"],
        remaining=row["capacity"] - row["booked"],
        title=row["title"],
        kind=row["kind"],
        created_at=clock.local(row["created_at"]),
        programme_id=row.get("programme_id"),
        programme_title=row.get("programme_title"),
        room_id=row.get("room_id"),
        room_name=row.get("room_name"),
    )


async def create_slot(actor: UserView, venue_id: int, form: SlotForm) -> SlotView:
    await get_venue(venue_id)
    require_manager(actor, venue_id)
    if not (clock.in_range(form.starts_at) and clock.in_range(form.ends_at)):
        raise VenueError("slot_out_of_range", first=clock.FIRST_YEAR, last=clock.LAST_YEAR)
    starts = clock.as_aware(form.starts_at).replace(microsecond=0)
    ends = clock.as_aware(form.ends_at).replace(microsecond=0)
    if ends <= starts:
        raise VenueError("slot_ends_before_start")
    if (ends - starts).total_seconds() > 24 * 3600:
        raise VenueError("slot_too_long")
    async with write_transaction():
        if form.programme_id is not None or form.room_id is not None:
            from venues.programmes import check_slot_links  # programmes build on this module

            await check_slot_links(venue_id, form.programme_id, form.room_id, form.capacity)
        rows = await Slot.insert(
            Slot(
                venue=venue_id,
                starts_at=starts,
                ends_at=ends,
                capacity=form.capacity,
                booked=0,
                title=(form.title or "").strip(),
                kind=form.kind or "school_visit",
                programme=form.programme_id,
                room=form.room_id,
                created_by=actor.id,
                created_at=clock.now(),
            )
        ).returning(Slot.id)
        slot = await get_slot(rows[0]["id"])
        await auditlog.record(
            actor, "slot.create", "slot", slot.id, after=slot_fields(slot), venue_id=venue_id
        )
    return slot


def slot_fields(slot: SlotView) -> dict[str, Any]:
    """What the audit log keeps of a slot."""
    keep = ("starts_at", "ends_at", "capacity", "title", "kind", "programme_id", "room_id")
    return {f: getattr(slot, f) for f in keep}


async def get_slot(slot_id: int) -> SlotView:
    if not valid_id(slot_id):
        raise NotFound("slot")
    row = await _SLOT_BY_ID.fetchrow(slot_id)
    if row is None:
        raise NotFound("slot")
    return slot_view(row)


async def list_slots(
    venue_id: int,
    *,
    starts_from: datetime | None = None,
    starts_before: datetime | None = None,
    only_open: bool = False,
) -> list[SlotView]:
    """Slots starting in [from, before); `only_open` keeps those not yet started with room left.
    Cancelled slots are not listed (the timetable pages show them, with their reason)."""
    await get_venue(venue_id)
    query = (
        Slot.select(*SLOT_COLUMNS)
        .where((Slot.venue == venue_id) & Slot.cancelled_at.is_null())
        .order_by(Slot.starts_at)
        .order_by(Slot.id)
    )
    if starts_from is not None:
        query = query.where(Slot.starts_at >= starts_from)
    if starts_before is not None:
        query = query.where(Slot.starts_at < starts_before)
    if only_open:
        query = query.where((Slot.starts_at > clock.now()) & (Slot.booked < Slot.capacity))
    return [slot_view(r) for r in await query]
