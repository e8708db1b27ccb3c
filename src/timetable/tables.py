"""Timetable tables: recurring slot series, public holidays, opening hours, youth days and walk-ins.

Times of day are kept as "HH:MM" text in Beijing time (Asia/Shanghai has no daylight saving, so a
wall-clock time names one instant on every day).
"""

from piccolo.columns import Boolean, Date, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from accounts.tables import User
from venues.tables import Programme, Room, Venue

YOUTH_KINDS = ("free", "discount")


class SlotSeries(Table, tablename="timetable_series"):
    """A recurring series of slots (e.g. every Tuesday and Thursday 09:30–11:00, March to June).

    Its occurrences are ordinary venues_slot rows with series_id = this id, made when the series is
    created (and remade for future occurrences without bookings when it is edited).
    """

    id: Serial

    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.restrict)
    programme = ForeignKey(references=Programme, null=True, default=None, on_delete=OnDelete.restrict)
    room = ForeignKey(references=Room, null=True, default=None, on_delete=OnDelete.restrict)
    title = Varchar(length=200, default="")
    kind = Varchar(length=16, default="school_visit")
    capacity = Integer(help_text="People per occurrence: students plus accompanying adults.")
    start_time = Varchar(length=5, help_text="HH:MM, Beijing time.")
    end_time = Varchar(length=5, help_text="HH:MM, Beijing time, after start_time.")
    first_day = Date(help_text="DTSTART's day: the first day the rule may fall on.")
    rrule = Varchar(length=500, help_text="RFC 5545 RRULE without the 'RRULE:' prefix; bounded.")
    exdates = Text(default="", help_text="Comma-separated YYYY-MM-DD days left out of the series.")
    skip_holidays = Boolean(default=True, help_text="Leave out the public holidays (timetable_holiday).")
    created_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    cancelled_at = Timestamptz(null=True, default=None)
    cancel_reason = Varchar(length=200, default="")


class PublicHoliday(Table, tablename="timetable_holiday"):
    """A public holiday (法定节假日); series that skip holidays leave these days out."""

    id: Serial

    day = Date(unique=True)
    name = Varchar(length=100)


class OpeningHours(Table, tablename="timetable_opening_hours"):
    """A venue's weekly pattern: per weekday (0 = Monday) the opening and closing time, or closed."""

    id: Serial

    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.cascade)
    weekday = Integer(help_text="0 = Monday … 6 = Sunday.")
    closed = Boolean(default=False)
    opens = Varchar(length=5, default="", help_text="HH:MM; empty when closed.")
    closes = Varchar(length=5, default="", help_text="HH:MM; empty when closed.")


class Closure(Table, tablename="timetable_closure"):
    """A day a venue is closed to everyone (maintenance, a holiday closure), whatever the pattern says."""

    id: Serial

    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.cascade)
    day = Date()
    reason = Varchar(length=200, default="")


class YouthDay(Table, tablename="timetable_youth_day"):
    """A youth-free or discount day: either every given weekday, or one date."""

    id: Serial

    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.cascade)
    weekday = Integer(null=True, default=None, help_text="0 = Monday … 6 = Sunday; NULL when `day` is set.")
    day = Date(null=True, default=None, help_text="One date; NULL when `weekday` is set.")
    kind = Varchar(length=16, default="free", help_text="free | discount")
    note = Varchar(length=200, default="")


class WalkIn(Table, tablename="timetable_walkin"):
    """One change to a day's walk-in tally (people who came without a booking), as a door sent it.

    Rows are only inserted, so doors counting at once never lose a count; a day's tally is the sum.
    The nonce makes a retried upload (after a lost answer) count once.
    """

    id: Serial

    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.restrict)
    day = Date(index=True)
    adults = Integer(default=0, help_text="Change in adults (may be negative: a correction).")
    youth = Integer(default=0, help_text="Change in young people (under 18).")
    staff = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    nonce = Varchar(length=64, null=True, default=None, unique=True)
    created_at = Timestamptz()
