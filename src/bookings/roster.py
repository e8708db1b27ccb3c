"""The day roster for a venue's staff: the day's slots, the groups expected, who has arrived.

The whole roster is one query: the venue's slots of the day LEFT JOINed with their confirmed
bookings and the schools (no query per slot or per booking).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from accounts.schemas import UserView
from bookings.tables import Booking
from core import clock
from core.errors import Forbidden
from core.i18n import N_, gettext


@dataclass
class Logistics:
    """What a class told the venue about its arrival (a booking's logistics; never pupils' names)."""

    lead_teacher_name: str
    lead_teacher_phone: str
    buses: int | None
    arrival_time: str
    lunch_space: bool
    accessibility: str
    special_requests: str

    @property
    def has_logistics(self) -> bool:
        return bool(
            self.lead_teacher_name
            or self.lead_teacher_phone
            or self.buses is not None
            or self.arrival_time
            or self.lunch_space
            or self.accessibility
            or self.special_requests
        )


@dataclass
class RosterGroup(Logistics):
    booking_id: int
    school_name: str
    grade: str
    class_name: str
    students: int
    chaperones: int
    admitted_students: int
    admitted_chaperones: int
    code: str

    @property
    def booked(self) -> int:
        return self.students + self.chaperones

    @property
    def admitted(self) -> int:
        return self.admitted_students + self.admitted_chaperones

    @property
    def arrival(self) -> str:
        """arrived | partly | not_yet, from the admitted counts."""
        if self.admitted == 0:
            return "not_yet"
        return "arrived" if self.admitted >= self.booked else "partly"

    @property
    def notes(self) -> list[str]:
        """The logistics staff need at the door, as short translated phrases."""
        out = []
        if self.arrival_time:
            out.append(gettext("Arrives {time}").format(time=self.arrival_time))
        if self.buses is not None:
            out.append(gettext("Buses: {n}").format(n=self.buses))
        if self.lunch_space:
            out.append(gettext("Needs a place for lunch"))
        if self.accessibility:
            out.append(gettext("Accessibility: {text}").format(text=self.accessibility))
        if self.special_requests:
            out.append(gettext("Requests: {text}").format(text=self.special_requests))
        if self.lead_teacher_name or self.lead_teacher_phone:
            lead = " ".join(p for p in (self.lead_teacher_name, self.lead_teacher_phone) if p)
            out.append(gettext("Lead teacher: {lead}").format(lead=lead))
        return out


@dataclass
class RosterSlot:
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    title: str
    kind: str
    capacity: int
    groups: list[RosterGroup] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return sum(g.booked for g in self.groups)

    @property
    def occupancy(self) -> int:
        """People admitted so far against this slot."""
        return sum(g.admitted for g in self.groups)


@dataclass
class Roster:
    venue_id: int
    day: date
    slots: list[RosterSlot]
    walk_in_adults: int = 0  # people counted at the door without a booking (timetable.WalkIn)
    walk_in_youth: int = 0

    @property
    def expected(self) -> int:
        return sum(s.expected for s in self.slots)

    @property
    def occupancy(self) -> int:
        return sum(s.occupancy for s in self.slots)

    @property
    def capacity(self) -> int:
        return sum(s.capacity for s in self.slots)

    def count(self, state: str) -> int:
        return sum(1 for s in self.slots for g in s.groups if g.arrival == state)


_SQL = """
SELECT s.id AS slot_id, s.starts_at AS starts_at, s.ends_at AS ends_at, s.title AS title,
       s.kind AS kind, s.capacity AS capacity,
       b.id AS booking_id, b.grade AS grade, b.class_name AS class_name, b.students AS students,
       b.chaperones AS chaperones, b.admitted_students AS admitted_students,
       b.admitted_chaperones AS admitted_chaperones, b.code AS code,
       b.lead_teacher_name AS lead_teacher_name, b.lead_teacher_phone AS lead_teacher_phone,
       b.buses AS buses, b.arrival_time AS arrival_time, b.lunch_space AS lunch_space,
       b.accessibility AS accessibility, b.special_requests AS special_requests,
       sc.name AS school_name
FROM venues_slot s
LEFT JOIN bookings_booking b ON b.slot = s.id AND b.status = 'confirmed'
LEFT JOIN accounts_school sc ON sc.id = b.school
WHERE s.venue = {} AND s.starts_at >= {} AND s.starts_at < {}
ORDER BY s.starts_at, s.id, b.arrival_time, b.id
"""


async def day_roster(actor: UserView, day: date | None = None) -> Roster:
    """The roster of the actor's venue for a local day (default today, Asia/Shanghai)."""
    if not actor.is_staff or actor.venue_id is None:
        raise Forbidden("role")
    day = day or clock.today()
    lo, hi = clock.day_bounds(day)
    rows = await Booking.raw(_SQL, actor.venue_id, lo, hi)
    slots: dict[int, RosterSlot] = {}
    for r in rows:
        slot = slots.get(r["slot_id"])
        if slot is None:
            slot = slots[r["slot_id"]] = RosterSlot(
                slot_id=int(r["slot_id"]),
                starts_at=clock.stored(r["starts_at"]),
                ends_at=clock.stored(r["ends_at"]),
                title=r["title"] or "",
                kind=r["kind"] or "",
                capacity=int(r["capacity"]),
            )
        if r["booking_id"] is None:
            continue
        slot.groups.append(
            RosterGroup(
                booking_id=int(r["booking_id"]),
                school_name=r["school_name"] or "",
                grade=r["grade"] or "",
                class_name=r["class_name"] or "",
                students=int(r["students"]),
                chaperones=int(r["chaperones"]),
                admitted_students=int(r["admitted_students"]),
                admitted_chaperones=int(r["admitted_chaperones"]),
                code=r["code"],
                lead_teacher_name=r["lead_teacher_name"] or "",
                lead_teacher_phone=r["lead_teacher_phone"] or "",
                buses=r["buses"],
                arrival_time=r["arrival_time"] or "",
                lunch_space=bool(r["lunch_space"]),
                accessibility=r["accessibility"] or "",
                special_requests=r["special_requests"] or "",
            )
        )
    from timetable.services import walk_in_totals

    walk_ins = await walk_in_totals(actor.venue_id, day)
    return Roster(
        venue_id=actor.venue_id,
        day=day,
        slots=list(slots.values()),
        walk_in_adults=walk_ins.adults,
        walk_in_youth=walk_ins.youth,
    )


ARRIVAL_LABELS = {
    "arrived": N_("Arrived"),
    "partly": N_("Partly arrived"),
    "not_yet": N_("Not yet"),
}


def roster_csv(roster: Roster) -> bytes:
    """The roster as CSV, UTF-8 with a BOM so spreadsheet programs read the Chinese correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            gettext("Start"),
            gettext("End"),
            gettext("Slot"),
            gettext("Capacity"),
            gettext("School"),
            gettext("Class"),
            gettext("Students"),
            gettext("Adults"),
            gettext("Admitted students"),
            gettext("Admitted adults"),
            gettext("Arrival"),
            gettext("Code"),
            gettext("Notes"),
        ]
    )
    for slot in roster.slots:
        head = [
            clock.local(slot.starts_at).strftime("%H:%M"),
            clock.local(slot.ends_at).strftime("%H:%M"),
            slot.title,
            slot.capacity,
        ]
        if not slot.groups:
            writer.writerow([*head, "", "", "", "", "", "", "", "", ""])
        for g in slot.groups:
            writer.writerow(
                [
                    *head,
                    g.school_name,
                    f"{g.grade} {g.class_name}".strip(),
                    g.students,
                    g.chaperones,
                    g.admitted_students,
                    g.admitted_chaperones,
                    gettext(ARRIVAL_LABELS[g.arrival]),
                    g.code,
                    "；".join(g.notes),
                ]
            )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
