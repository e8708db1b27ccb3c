"""Every administrative action the log knows, and every kind of object, with the words people read.

A new administrative action adds its code here first: `record()` refuses a code it does not know, so
the log page never shows a raw code.
"""

from __future__ import annotations

from core.i18n import N_

ACTIONS: dict[str, str] = {
    # venues
    "venue.create": N_("Venue registered"),
    "venue.update": N_("Venue details changed"),
    "venue.info_update": N_("Venue address and directions changed"),
    "blackout.set": N_("Blackout day set"),
    "blackout.remove": N_("Blackout day removed"),
    # accounts
    "user.create": N_("Account created"),
    "staff.assign": N_("Staff venue or role set"),
    "school.import": N_("Schools imported"),
    # rooms, programmes, files
    "room.create": N_("Room added"),
    "room.update": N_("Room changed"),
    "room.retire": N_("Room retired"),
    "room.restore": N_("Room brought back"),
    "programme.create": N_("Programme added"),
    "programme.update": N_("Programme changed"),
    "programme.retire": N_("Programme retired"),
    "programme.restore": N_("Programme brought back"),
    "file.add": N_("Programme file uploaded"),
    "file.remove": N_("Programme file removed"),
    # timetable
    "slot.create": N_("Slot published"),
    "slot.update": N_("Slot changed"),
    "slot.cancel": N_("Slot cancelled"),
    "series.create": N_("Slot series published"),
    "series.update": N_("Slot series changed"),
    "series.cancel": N_("Slot series cancelled"),
    "hours.update": N_("Opening hours changed"),
    "closure.set": N_("Closure day set"),
    "closure.remove": N_("Closure day removed"),
    "youth_day.add": N_("Youth day added"),
    "youth_day.remove": N_("Youth day removed"),
    "holiday.set": N_("Public holiday set"),
    "holiday.remove": N_("Public holiday removed"),
    # registry
    "accreditation.create": N_("Base accredited"),
    "accreditation.update": N_("Accreditation changed"),
    "status.change": N_("Accreditation status changed"),
    "profile.update": N_("Threshold profile changed"),
    "base_import.start": N_("Base import started"),
    "base_import.row": N_("Base imported from a file"),
    # bookings
    "booking.approve": N_("Booking request approved"),
    "booking.decline": N_("Booking request declined"),
    "checkin.reverse": N_("Check-in reversed"),
    "passkey.rotate": N_("Pass signing key rotated"),
    # Codes for the packages being written alongside (activities, self-reports, city targets, campaign
    # weeks, name lists): their services call record() with these.
    "activity.create": N_("Activity recorded"),
    "activity.update": N_("Activity changed"),
    "activity.withdraw": N_("Activity withdrawn"),
    "self_report.save": N_("Annual self-report saved"),
    "targets.update": N_("City targets changed"),
    "campaign.update": N_("Campaign dates changed"),
    "namelist.requirement": N_("Name list requirement changed"),
    "namelist.purge": N_("Expired name lists deleted"),
}

OBJECT_TYPES: dict[str, str] = {
    "venue": N_("Venue"),
    "blackout": N_("Blackout day"),
    "user": N_("Account"),
    "school": N_("School registry"),
    "room": N_("Room"),
    "programme": N_("Programme"),
    "file": N_("Programme file"),
    "slot": N_("Slot"),
    "series": N_("Slot series"),
    "opening_hours": N_("Opening hours"),
    "closure": N_("Closure day"),
    "youth_day": N_("Youth day"),
    "holiday": N_("Public holiday"),
    "accreditation": N_("Accreditation"),
    "profile": N_("Threshold profile"),
    "import_job": N_("Base import"),
    "booking": N_("Booking"),
    "checkin": N_("Check-in"),
    "pass_key": N_("Pass signing key"),
    "activity": N_("Activity"),
    "self_report": N_("Annual self-report"),
    "city_targets": N_("City targets"),
    "campaign_year": N_("Campaign dates"),
    "namelist": N_("Name list"),
}

ROLES: dict[str, str] = {
    "auditor": N_("Auditor"),
    "staff": N_("Venue staff"),
    "staff/supervisor": N_("Venue supervisor"),
    "staff/door": N_("Door staff"),
    "teacher": N_("Teacher"),
    "console": N_("Console"),
    "system": N_("System"),
}


# The before/after fields people read most often; any other field shows its name.
FIELD_LABELS: dict[str, str] = {
    "name": N_("Name"),
    "title": N_("Title"),
    "kind": N_("Kind"),
    "district": N_("District"),
    "address": N_("Address"),
    "directions": N_("Directions"),
    "contact_phone": N_("Contact phone"),
    "contact_name": N_("Contact person"),
    "capacity": N_("Capacity"),
    "day": N_("Date"),
    "reason": N_("Reason"),
    "note": N_("Note"),
    "status": N_("Status"),
    "level": N_("Level"),
    "batch": N_("Batch"),
    "accredited_on": N_("Accredited on"),
    "valid_until": N_("Valid until"),
    "starts_at": N_("Starts"),
    "ends_at": N_("Ends"),
    "start": N_("Starts"),
    "end": N_("Ends"),
    "username": N_("Username"),
    "display_name": N_("Display name"),
    "role": N_("Role"),
    "staff_role": N_("Staff role"),
    "venue_id": N_("Venue"),
    "min_lead_days": N_("Minimum days ahead"),
    "max_lead_days": N_("Maximum days ahead"),
    "group_min": N_("Smallest group"),
    "group_max": N_("Largest group"),
    "daily_cap": N_("Daily cap on group visitors"),
    "students_per_adult": N_("Pupils per adult"),
    "preschool_students_per_adult": N_("Pre-school pupils per adult"),
    "approval_mode": N_("Approval"),
    "final_count_days": N_("Final headcount, days before"),
    "free_cancel_days": N_("Free cancellation, days before"),
    "retired_at": N_("Retired"),
    "cancelled": N_("Cancelled"),
    "reversed": N_("Reversed"),
    "students": N_("Students"),
    "chaperones": N_("Adults"),
    "created": N_("Created"),
    "updated": N_("Updated"),
    "unchanged": N_("Unchanged"),
}


def register(
    code: str, label: str, *, object_type: str | None = None, object_label: str | None = None
) -> None:
    """Let a package add its own action (and object type) at import time, with its label marked N_()."""
    ACTIONS.setdefault(code, label)
    if object_type is not None and object_label is not None:
        OBJECT_TYPES.setdefault(object_type, object_label)
