"""Venues tables: venues (science education bases), their staff, and bookable slots."""

from piccolo.columns import Bytea, Date, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from accounts.tables import User

KINDS = (
    "science_museum",
    "museum",
    "education_base",
    "laboratory",
    "scientist_spirit_base",
    "community_site",
)
SLOT_KINDS = ("school_visit", "lab_open_day", "activity")
STAFF_ROLES = ("door", "supervisor")


class Venue(Table, tablename="venues_venue"):
    """A science venue or base that publishes slots; booking rules are per-venue settings."""

    id: Serial

    name = Varchar(length=200)
    kind = Varchar(length=32, help_text="One of KINDS.")
    district = Varchar(length=8, index=True)
    address = Varchar(length=200, default="")
    arrival_before_start_minutes = Integer(
        null=True,
        default=None,
        help_text="Arrival window opens this many minutes before a slot starts; NULL = no window set.",
    )
    arrival_after_end_minutes = Integer(
        null=True,
        default=None,
        help_text="Arrival window closes this many minutes after a slot ends; NULL = no window set.",
    )
    # Booking rules (domain.md "Rules to model"). Every one is nullable: NULL means the venue has no
    # such rule, so a venue created without rules takes any booking that fits (api.md).
    min_lead_days = Integer(null=True, default=None, help_text="Book at least this many days ahead.")
    max_lead_days = Integer(null=True, default=None, help_text="Book at most this many days ahead.")
    group_min = Integer(null=True, default=None, help_text="Fewest people (students + adults) per booking.")
    group_max = Integer(null=True, default=None, help_text="Most people (students + adults) per booking.")
    daily_cap = Integer(
        null=True, default=None, help_text="Most people in group bookings per venue per day (all slots)."
    )
    students_per_adult = Integer(
        null=True, default=None, help_text="School stages: one accompanying adult per this many students."
    )
    preschool_students_per_adult = Integer(
        null=True, default=None, help_text="Pre-school: one adult per this many children (stricter)."
    )
    approval_mode = Varchar(length=16, null=True, default=None, help_text="auto | request; NULL = auto.")
    final_count_days = Integer(
        null=True, default=None, help_text="Headcount may fall until this many days before the visit."
    )
    free_cancel_days = Integer(
        null=True, default=None, help_text="Cancelling is free until this many days before the visit."
    )
    door_ratio_policy = Varchar(
        length=16,
        null=True,
        default=None,
        help_text="warn: the door warns when the adults admitted fall below the ratio; NULL = no door check.",
    )
    directions = Text(default="", help_text="How to get there: bus lines, metro, where coaches stop.")
    contact_phone = Varchar(length=32, default="")
    created_at = Timestamptz()


class Blackout(Table, tablename="venues_blackout"):
    """A day on which a venue takes no group bookings (e.g. a public holiday), with the reason shown."""

    id: Serial

    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.cascade)
    day = Date()
    reason = Varchar(length=200, default="")


class Room(Table, tablename="venues_room"):
    """A room or gallery of a venue with its own capacity; slots may take place in one."""

    id: Serial

    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.cascade)
    name = Varchar(length=200)
    capacity = Integer(help_text="People the room holds at once.")
    retired_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class Programme(Table, tablename="venues_programme"):
    """A programme (课程/活动) a venue offers to classes; its rule columns override the venue's when set."""

    id: Serial

    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.restrict)
    title = Varchar(length=200)
    description = Text(default="")
    grade_bands = Varchar(
        length=100, default="", help_text="Comma-separated GRADE_BANDS the programme suits; empty = all."
    )
    tags = Varchar(length=200, default="", help_text="Comma-separated curriculum tags, e.g. 物理·力学.")
    duration_minutes = Integer(null=True, default=None)
    # Rule overrides: NULL = the venue's rule applies.
    min_lead_days = Integer(null=True, default=None)
    max_lead_days = Integer(null=True, default=None)
    group_min = Integer(null=True, default=None)
    group_max = Integer(null=True, default=None)
    students_per_adult = Integer(null=True, default=None)
    preschool_students_per_adult = Integer(null=True, default=None)
    approval_mode = Varchar(length=16, null=True, default=None)
    final_count_days = Integer(null=True, default=None)
    free_cancel_days = Integer(null=True, default=None)
    retired_at = Timestamptz(null=True, default=None, help_text="Retired programmes take no new slots.")
    created_at = Timestamptz()
    updated_at = Timestamptz()


PROGRAMME_FILE_KINDS = ("photo", "pre_visit", "post_visit")


class ProgrammeFile(Table, tablename="venues_programme_file"):
    """A photo or a pre-/post-visit material of a programme, kept in the database so every process
    serves it; `filename` is only shown and offered for download, never used as a path."""

    id: Serial

    programme = ForeignKey(references=Programme, null=False, index=True, on_delete=OnDelete.cascade)
    kind = Varchar(length=16, help_text="One of PROGRAMME_FILE_KINDS.")
    filename = Varchar(length=200, default="")
    content_type = Varchar(length=100)
    size = Integer(default=0, help_text="Bytes of `data`.")
    data = Bytea()
    thumbnail = Bytea(null=True, default=None, help_text="Photos: a small JPEG for lists.")
    created_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz()


class StaffMembership(Table, tablename="venues_staff"):
    """Which venue a staff account works at (one venue per staff account)."""

    id: Serial

    user = ForeignKey(references=User, null=False, unique=True, on_delete=OnDelete.cascade)
    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.restrict)
    role = Varchar(length=16, default="door", help_text="door | supervisor")


class Slot(Table, tablename="venues_slot"):
    """A bookable visit time; `booked` is kept in step with confirmed bookings in the same transaction."""

    id: Serial

    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.restrict)
    starts_at = Timestamptz(index=True)
    ends_at = Timestamptz()
    capacity = Integer(help_text="People: students plus accompanying adults.")
    booked = Integer(default=0, help_text="Places held by confirmed bookings; never above capacity.")
    title = Varchar(length=200, default="")
    kind = Varchar(length=16, default="school_visit")
    programme = ForeignKey(
        references=Programme, null=True, default=None, index=True, on_delete=OnDelete.restrict
    )
    room = ForeignKey(references=Room, null=True, default=None, on_delete=OnDelete.restrict)
    series_id = Integer(
        null=True, default=None, index=True, help_text="The recurring series this slot was made from, if any."
    )
    cancelled_at = Timestamptz(null=True, default=None, help_text="A cancelled slot takes no bookings.")
    cancel_reason = Varchar(length=200, default="")
    created_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
