"""Bookings tables: class visits, check-ins (admitted and denied), and the pass-signing keys."""

from piccolo.columns import Boolean, Bytea, Date, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from accounts.tables import School, User
from venues.tables import Slot, Venue

STATUSES = ("requested", "confirmed", "declined", "cancelled")
GRADE_BANDS = ("preschool", "primary_low", "primary_high", "junior", "senior")


class PassKey(Table, tablename="bookings_pass_key"):
    """An Ed25519 key pair that signs passes; the id is the key id in every token, so keys can rotate."""

    id: Serial

    private_key = Bytea(secret=True)
    public_key = Bytea()
    active = Boolean(default=True)
    created_at = Timestamptz()


class Booking(Table, tablename="bookings_booking"):
    """A class visit booked by a teacher for their school. Counts only: no pupils' names (PIPL)."""

    id: Serial

    slot = ForeignKey(references=Slot, null=False, index=True, on_delete=OnDelete.restrict)
    venue = ForeignKey(
        references=Venue,
        null=False,
        index=True,
        on_delete=OnDelete.restrict,
        help_text="The slot's venue, kept here so venue lists and check-ins need no join.",
    )
    school = ForeignKey(references=School, null=False, index=True, on_delete=OnDelete.restrict)
    teacher = ForeignKey(references=User, null=False, index=True, on_delete=OnDelete.restrict)
    status = Varchar(length=16, default="confirmed")
    students = Integer()
    chaperones = Integer()
    grade = Varchar(length=200, default="")
    class_name = Varchar(length=200, default="")
    grade_band = Varchar(
        length=16,
        null=True,
        default=None,
        help_text="preschool | primary_low | primary_high | junior | senior; decides the adult ratio.",
    )
    # Logistics the venue needs for a class visit: the lead teacher's contact, never pupils' names (PIPL).
    lead_teacher_name = Varchar(length=200, default="")
    lead_teacher_phone = Varchar(length=32, default="")
    buses = Integer(null=True, default=None, help_text="Coaches the class arrives in; NULL = not said.")
    arrival_time = Varchar(
        length=5, default="", help_text="Expected arrival, HH:MM Beijing time; empty = not said."
    )
    lunch_space = Boolean(default=False, help_text="The class asks for a place to eat lunch.")
    accessibility = Varchar(length=200, default="")
    special_requests = Varchar(length=200, default="")
    code = Varchar(length=16, unique=True, help_text="The typed fallback code printed beside the QR.")
    qr_token = Varchar(length=255, default="")
    admitted_students = Integer(default=0)
    admitted_chaperones = Integer(default=0)
    first_admitted_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    cancelled_at = Timestamptz(null=True, default=None)
    cancelled_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    decided_at = Timestamptz(null=True, default=None, help_text="When staff approved or declined a request.")
    decided_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    decline_reason = Varchar(length=200, default="")


class CheckIn(Table, tablename="bookings_checkin"):
    """Every scan at the door, admitted or denied; admissions carry the counts that actually came."""

    id: Serial

    booking = ForeignKey(references=Booking, null=True, default=None, index=True, on_delete=OnDelete.restrict)
    venue = ForeignKey(references=Venue, null=True, default=None, index=True, on_delete=OnDelete.restrict)
    result = Varchar(length=24, help_text="admitted | invalid | wrong_venue | ... (api.md order)")
    students = Integer(default=0)
    chaperones = Integer(default=0)
    staff = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    device = Varchar(length=64, default="")
    offline = Boolean(default=False)
    nonce = Varchar(
        length=64,
        null=True,
        default=None,
        unique=True,
        help_text="Set by the scanning device; the server applies each nonce once (offline uploads).",
    )
    scanned_at = Timestamptz(
        null=True, default=None, help_text="When the device scanned it (differs from created_at offline)."
    )
    needs_review = Boolean(
        default=False, help_text="E.g. two offline devices admitted the same booking: kept, not counted."
    )
    method = Varchar(
        length=8,
        default="",
        help_text="How the pass was read: qr (the signed pass: camera or hand-held scanner) | code (typed).",
    )
    reversed_at = Timestamptz(null=True, default=None)
    reversed_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    reversal_reason = Varchar(length=200, default="")
    created_at = Timestamptz(index=True)


STRIKE_KINDS = ("late_cancel", "no_show")


class Strike(Table, tablename="bookings_strike"):
    """A mark on a school's record: a cancel after the venue's free-cancellation deadline, or a no-show."""

    id: Serial

    school = ForeignKey(references=School, null=False, index=True, on_delete=OnDelete.restrict)
    booking = ForeignKey(references=Booking, null=False, index=True, on_delete=OnDelete.restrict)
    kind = Varchar(length=16, help_text="late_cancel | no_show")
    created_at = Timestamptz()


WAITLIST_STATES = ("waiting", "offered", "booked", "declined", "expired", "left", "closed")
FLEXIBILITIES = ("slot", "day")


class WaitlistEntry(Table, tablename="bookings_waitlist"):
    """A class waiting for room (bookings/waitlist.py): a headcount, not a seat.

    An "offered" entry holds `students + chaperones` places on `offered_slot` (counted in its
    `booked`) until `offer_expires_at`; accepting turns the hold into `booking`.
    """

    id: Serial

    slot = ForeignKey(references=Slot, null=False, index=True, on_delete=OnDelete.restrict)
    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.restrict)
    day = Date(help_text="The local day of `slot`; a flexible entry takes any slot of this day.")
    programme_id = Integer(
        null=True, default=None, help_text="The slot's programme; a flexible entry keeps to it."
    )
    flexibility = Varchar(length=8, default="slot", help_text="slot | day")
    school = ForeignKey(references=School, null=False, index=True, on_delete=OnDelete.restrict)
    teacher = ForeignKey(references=User, null=False, index=True, on_delete=OnDelete.restrict)
    students = Integer()
    chaperones = Integer()
    grade = Varchar(length=200, default="")
    class_name = Varchar(length=200, default="")
    grade_band = Varchar(length=16, null=True, default=None)
    status = Varchar(length=16, default="waiting", index=True, help_text="One of WAITLIST_STATES.")
    offered_slot = ForeignKey(references=Slot, null=True, default=None, on_delete=OnDelete.restrict)
    offered_at = Timestamptz(null=True, default=None)
    offer_expires_at = Timestamptz(null=True, default=None, index=True)
    booking = ForeignKey(references=Booking, null=True, default=None, on_delete=OnDelete.restrict)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Feedback(Table, tablename="bookings_feedback"):
    """A teacher's rating (1–5) and comment on a visit, once per booking, after the visit began."""

    id: Serial

    booking = ForeignKey(references=Booking, null=False, unique=True, on_delete=OnDelete.restrict)
    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.restrict)
    school = ForeignKey(references=School, null=False, on_delete=OnDelete.restrict)
    teacher = ForeignKey(references=User, null=False, on_delete=OnDelete.restrict)
    rating = Integer()
    comment = Varchar(length=1000, default="")
    created_at = Timestamptz()
