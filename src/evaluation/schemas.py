"""Shapes of the science association's reports."""

from __future__ import annotations

import msgspec


class VenueYearRow(msgspec.Struct):
    """One venue's year, counted from slots that start in that Asia/Shanghai calendar year."""

    venue_id: int
    venue_name: str
    district: str
    kind: str
    slots: int
    capacity: int
    bookings: int
    people_booked: int
    people_admitted: int
    students_admitted: int
    chaperones_admitted: int
    no_show_bookings: int


class VenueYearReport(msgspec.Struct):
    year: int
    items: list[VenueYearRow]
