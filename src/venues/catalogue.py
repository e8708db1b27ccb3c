"""The teachers' catalogue: programmes across venues with their next open slots, and availability
calendars — a fixed handful of queries per page whatever the number of programmes (no N+1).

A slot is open for a class of N when it has not started, is not cancelled, has N places left, lies
within the lead time its rules allow, is not on a blackout day, and N fits the group-size rules.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime, timedelta
from typing import Any

import msgspec

from core import clock
from core.db import valid_id
from venues.labels import DISTRICT_LABELS, GRADE_BAND_LABELS, KIND_LABELS
from venues.programmes import (
    ProgrammeError,
    ProgrammeView,
    merge_rules,
    programme_view,
    split_list,
)
from venues.schemas import RULE_FIELDS
from venues.tables import Blackout, Programme, ProgrammeFile, Slot, Venue

DEFAULT_WINDOW_DAYS = 120
MAX_WINDOW_DAYS = 400
MAX_PEOPLE = 10_000


class Filters(msgspec.Struct):
    district: str | None = None
    kind: str | None = None
    band: str | None = None
    tag: str | None = None
    q: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    people: int | None = None

    @property
    def narrows_slots(self) -> bool:
        """Whether the teacher asked about dates or a class size: then only programmes with a slot show."""
        return self.date_from is not None or self.date_to is not None or self.people is not None


def clean_filters(raw: dict[str, Any]) -> Filters:
    """Query values as typed: anything that is not a known option or a valid number/date is ignored."""

    def text(key: str, limit: int = 50, *, like: bool = False) -> str | None:
        value = str(raw.get(key) or "").strip()
        if like:  # LIKE's own wildcards are not the teacher's; drop them rather than escape per engine.
            value = value.translate({ord(c): None for c in "%_\\"})
        return value[:limit] or None

    def day(key: str) -> date | None:
        try:
            value = date.fromisoformat(str(raw.get(key) or "").strip())
        except ValueError:
            return None
        return value if clock.in_range(value) else None

    people_text = str(raw.get("people") or "").strip()
    people = int(people_text) if people_text.isdigit() and 1 <= int(people_text) <= MAX_PEOPLE else None
    district = text("district", 8)
    kind = text("kind", 32)
    band = text("band", 16)
    return Filters(
        district=district if district in DISTRICT_LABELS else None,
        kind=kind if kind in KIND_LABELS else None,
        band=band if band in GRADE_BAND_LABELS else None,
        tag=text("tag", like=True),
        q=text("q", like=True),
        date_from=day("from"),
        date_to=day("to"),
        people=people,
    )


class OpenSlot(msgspec.Struct):
    id: int
    programme_id: int | None
    venue_id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    remaining: int
    title: str
    room_name: str | None
    state: str = "room"  # room | few | full | closed | past (calendars)


class Entry(msgspec.Struct):
    programme: ProgrammeView
    venue_name: str
    venue_kind: str
    venue_district: str
    venue_address: str
    venue_directions: str
    venue_contact_phone: str
    rules: dict[str, Any]
    thumbnail_id: int | None
    slots: list[OpenSlot]
    open_count: int


VENUE_COLUMNS = (
    Programme.venue.name.as_alias("venue_name"),
    Programme.venue.kind.as_alias("venue_kind"),
    Programme.venue.district.as_alias("venue_district"),
    Programme.venue.address.as_alias("venue_address"),
    Programme.venue.directions.as_alias("venue_directions"),
    Programme.venue.contact_phone.as_alias("venue_contact_phone"),
    *(getattr(Programme.venue, f).as_alias(f"venue_{f}") for f in RULE_FIELDS),
)


def _window(filters: Filters) -> tuple[date, date]:
    """[first, last] local days to look for slots in."""
    today = clock.today()
    first = max(filters.date_from or today, today)
    last = filters.date_to or first + timedelta(days=DEFAULT_WINDOW_DAYS)
    return first, min(last, first + timedelta(days=MAX_WINDOW_DAYS))


def slot_state(
    row: dict[str, Any], rules: dict[str, Any], people: int, closed: set[date], now: datetime
) -> str:
    """How a slot stands for a class of `people`: room | few (room, not enough) | full | closed | past."""
    if row["starts_at"] <= now:
        return "past"
    remaining = row["capacity"] - row["booked"]
    day = clock.local(row["starts_at"]).date()
    ahead = (day - clock.local(now).date()).days
    if (
        day in closed
        or (rules.get("min_lead_days") is not None and ahead < rules["min_lead_days"])
        or (rules.get("max_lead_days") is not None and ahead > rules["max_lead_days"])
    ):
        return "closed"
    if remaining <= 0:
        return "full"
    return "room" if remaining >= people else "few"


def _lead_bounds(rules: dict[str, Any], now: datetime) -> tuple[datetime, datetime | None]:
    """[earliest, latest) start instants the lead-time rules allow today (slot_state's lead check)."""
    today = clock.local(now).date()
    lo, hi = rules.get("min_lead_days"), rules.get("max_lead_days")
    earliest = clock.day_bounds(today + timedelta(days=lo))[0] if lo is not None else now
    latest = clock.day_bounds(today + timedelta(days=hi))[1] if hi is not None else None
    return earliest, latest


def fits_group(rules: dict[str, Any], people: int | None) -> bool:
    if people is None:
        return True
    lo, hi = rules.get("group_min"), rules.get("group_max")
    return (lo is None or people >= lo) and (hi is None or people <= hi)


def _slot(row: dict[str, Any], state: str) -> OpenSlot:
    return OpenSlot(
        id=row["id"],
        programme_id=row["programme_id"],
        venue_id=row["venue_id"],
        starts_at=clock.local(row["starts_at"]),
        ends_at=clock.local(row["ends_at"]),
        capacity=row["capacity"],
        booked=row["booked"],
        remaining=row["capacity"] - row["booked"],
        title=row["title"],
        room_name=row["room_name"],
        state=state,
    )


SLOT_COLUMNS = (
    Slot.id,
    Slot.programme.as_alias("programme_id"),
    Slot.venue.as_alias("venue_id"),
    Slot.starts_at,
    Slot.ends_at,
    Slot.capacity,
    Slot.booked,
    Slot.title,
    Slot.room.name.as_alias("room_name"),
)


async def _blackouts(venue_ids: list[int], first: date, last: date) -> dict[int, set[date]]:
    out: dict[int, set[date]] = {v: set() for v in venue_ids}
    if not venue_ids:
        return out
    rows = await Blackout.select(Blackout.venue, Blackout.day).where(
        Blackout.venue.is_in(venue_ids) & (Blackout.day >= first) & (Blackout.day <= last)
    )
    for r in rows:
        day = r["day"] if isinstance(r["day"], date) else date.fromisoformat(str(r["day"]))
        out[r["venue"]].add(day)
    return out


def _in(values: list[int]) -> str:
    return ", ".join("{}" for _ in values)


PROGRAMME_SQL = (
    "SELECT p.id, p.venue AS venue_id, p.title, p.description, p.grade_bands, p.tags, p.duration_minutes, "
    + ", ".join(f"p.{f}" for f in RULE_FIELDS if f != "daily_cap")
    + ", p.retired_at, v.name AS venue_name, v.kind AS venue_kind, v.district AS venue_district, "
    "v.address AS venue_address, v.directions AS venue_directions, v.contact_phone AS venue_contact_phone, "
    + ", ".join(f"v.{f} AS venue_{f}" for f in RULE_FIELDS)
    + " FROM venues_programme p JOIN venues_venue v ON v.id = p.venue"
)


# How many programmes the last search() in this task matched before a page was cut from them.
matched: ContextVar[int] = ContextVar("catalogue_matched", default=0)


async def search_page(filters: Filters, number: int, size: int) -> tuple[list[Entry], int]:
    """One page of the catalogue and how many programmes there are in all."""
    window = slice((number - 1) * size, number * size)
    found = await search(filters, page=window)
    if filters.narrows_slots:  # which programmes have a slot is only known after reading the slots
        return found[window], len(found)
    return found, matched.get()


async def search(
    filters: Filters,
    *,
    per_programme: int = 3,
    programme_id: int | None = None,
    include_retired: bool = False,
    page: slice | None = None,
) -> list[Entry]:
    """Programmes matching the filters, each with its next open slots for the class size asked.

    `page` (with filters that do not narrow the slots) keeps only those programmes, so only their
    slots are read; `matched` then holds how many programmes matched in all.

    Four queries whatever the number of programmes: programmes with their venue, their slots in the
    window with their rooms, the venues' blackout days, and the first photo of each programme. Plain
    SQL: building these joins with Piccolo cost more than running them.
    """
    where: list[str] = []
    args: list[Any] = []
    if programme_id is not None:
        where.append("p.id = {}")
        args.append(programme_id)
    if not include_retired:
        where.append("p.retired_at IS NULL")
    if filters.district:
        where.append("v.district = {}")
        args.append(filters.district)
    if filters.kind:
        where.append("v.kind = {}")
        args.append(filters.kind)
    if filters.band:
        where.append("(p.grade_bands = '' OR p.grade_bands LIKE {})")
        args.append(f"%{filters.band}%")
    if filters.tag:
        where.append("LOWER(p.tags) LIKE LOWER({})")
        args.append(f"%{filters.tag}%")
    if filters.q:
        where.append(
            "(LOWER(p.title) LIKE LOWER({0}) OR LOWER(p.description) LIKE LOWER({0}) "
            "OR LOWER(p.tags) LIKE LOWER({0}) OR LOWER(v.name) LIKE LOWER({0}))".replace("{0}", "{}")
        )
        args += [f"%{filters.q}%"] * 4
    sql = PROGRAMME_SQL + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY v.district, v.name, p.title, p.id"
    rows = await Programme.raw(sql, *args)
    matched.set(len(rows))
    if page is not None and not filters.narrows_slots:
        rows = rows[page]
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    venue_ids = sorted({r["venue_id"] for r in rows})
    first, last = _window(filters)
    lo, _ = clock.day_bounds(first)
    _, hi = clock.day_bounds(last)
    now = clock.now()
    people = filters.people or 1
    slot_rows = await Slot.raw(
        "SELECT s.id, s.programme AS programme_id, s.venue AS venue_id, s.starts_at, s.ends_at, s.capacity, "
        "s.booked, s.title, r.name AS room_name FROM venues_slot s LEFT JOIN venues_room r ON r.id = s.room "
        f"WHERE s.programme IN ({_in(ids)}) AND s.cancelled_at IS NULL AND s.starts_at > {{}} "
        "AND s.starts_at < {} AND s.booked + {} <= s.capacity ORDER BY s.starts_at, s.id",
        *ids,
        max(lo, now),
        hi,
        people,
    )
    closed = await _blackouts(venue_ids, first, last)
    thumbs = {
        r["programme"]: r["first"]
        for r in await ProgrammeFile.raw(
            "SELECT programme, MIN(id) AS first FROM venues_programme_file "
            f"WHERE kind = 'photo' AND programme IN ({_in(ids)}) GROUP BY programme",
            *ids,
        )
    }
    by_programme: dict[int, list[dict[str, Any]]] = {}
    for s in slot_rows:
        by_programme.setdefault(s["programme_id"], []).append(s)
    out = []
    for r in rows:
        rules = merge_rules({f: r[f"venue_{f}"] for f in RULE_FIELDS}, r)
        open_slots: list[OpenSlot] = []
        open_count = 0
        if fits_group(rules, filters.people):
            earliest, latest = _lead_bounds(rules, now)
            days_closed = closed[r["venue_id"]]
            for s in by_programme.get(r["id"], []):
                # The query kept slots in the future with room; the rest of slot_state, cheaply.
                if s["starts_at"] < earliest or (latest is not None and s["starts_at"] >= latest):
                    continue
                if days_closed and clock.local(s["starts_at"]).date() in days_closed:
                    continue
                open_count += 1
                if len(open_slots) < per_programme:
                    open_slots.append(_slot(s, "room"))
        if filters.narrows_slots and not open_count and programme_id is None:
            continue
        out.append(
            Entry(
                programme=programme_view(
                    {k: r[k] for k in r if not k.startswith("venue_") or k == "venue_id"}
                ),
                venue_name=r["venue_name"],
                venue_kind=r["venue_kind"],
                venue_district=r["venue_district"],
                venue_address=r["venue_address"],
                venue_directions=r["venue_directions"],
                venue_contact_phone=r["venue_contact_phone"],
                rules=rules,
                thumbnail_id=thumbs.get(r["id"]),
                slots=open_slots,
                open_count=open_count,
            )
        )
    return out


async def known_tags() -> list[str]:
    """Every tag of the programmes in the catalogue, for the topic field's suggestions."""
    tags: set[str] = set()
    for r in await Programme.select(Programme.tags).where(Programme.retired_at.is_null()):
        tags.update(split_list(r["tags"]))
    return sorted(tags)


async def programme_entry(programme_id: int, *, per_programme: int = 8, people: int | None = None) -> Entry:
    if not valid_id(programme_id):
        raise ProgrammeError("no_programme")
    found = await search(
        Filters(people=people), per_programme=per_programme, programme_id=programme_id, include_retired=True
    )
    if not found:
        raise ProgrammeError("no_programme")
    return found[0]


# ---- calendars ------------------------------------------------------------------------------------


class CalendarDay(msgspec.Struct):
    day: date
    in_month: bool
    slots: list[OpenSlot]


def calendar_range(view: str, anchor: date) -> tuple[date, date]:
    """[first, last] days shown: whole weeks (Monday first) around the month, or the anchor's week."""
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        return first, first + timedelta(days=6)
    start = anchor.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return start - timedelta(days=start.weekday()), end + timedelta(days=6 - end.weekday())


async def calendar(
    *,
    venue_id: int,
    programme_id: int | None,
    view: str,
    anchor: date,
    people: int,
    venue_rules: dict[str, Any],
) -> list[CalendarDay]:
    """Every slot (cancelled ones aside) of a venue or a programme in the days shown, each marked with
    how it stands for a class of `people`; two or three queries."""
    first, last = calendar_range(view, anchor)
    lo, _ = clock.day_bounds(first)
    _, hi = clock.day_bounds(last)
    query = (
        Slot.select(
            *SLOT_COLUMNS,
            *(getattr(Slot.programme, f).as_alias(f"p_{f}") for f in RULE_FIELDS if f != "daily_cap"),
        )
        .where(
            (Slot.venue == venue_id)
            & Slot.cancelled_at.is_null()
            & (Slot.starts_at >= lo)
            & (Slot.starts_at < hi)
        )
        .order_by(Slot.starts_at)
        .order_by(Slot.id)
    )
    if programme_id is not None:
        query = query.where(Slot.programme == programme_id)
    rows = await query
    closed = (await _blackouts([venue_id], first, last))[venue_id]
    now = clock.now()
    by_day: dict[date, list[OpenSlot]] = {}
    for r in rows:
        programme = {f[2:]: v for f, v in r.items() if f.startswith("p_")} if r["programme_id"] else None
        rules = merge_rules(venue_rules, programme)
        state = slot_state(r, rules, people, closed, now)
        if state == "room" and not fits_group(rules, people):
            state = "closed"
        by_day.setdefault(clock.local(r["starts_at"]).date(), []).append(_slot(r, state))
    days = []
    day = first
    while day <= last:
        days.append(
            CalendarDay(
                day=day, in_month=view == "week" or day.month == anchor.month, slots=by_day.get(day, [])
            )
        )
        day += timedelta(days=1)
    return days


async def venue_rule_values(venue_id: int) -> dict[str, Any] | None:
    row = await Venue.select(*(getattr(Venue, f) for f in RULE_FIELDS)).where(Venue.id == venue_id).first()
    return dict(row) if row else None
