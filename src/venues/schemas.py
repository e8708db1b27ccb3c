"""Data shapes at the venues service boundary (API bodies and page forms alike)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

from core.schemas import (
    ApprovalMode,
    Capacity,
    Days,
    District,
    Minutes,
    Name200,
    People,
    Ratio,
    SlotKind,
    Text200,
    VenueKind,
)


class VenueForm(msgspec.Struct, forbid_unknown_fields=False):
    name: Name200
    kind: VenueKind
    district: District
    address: Text200 | None = None
    arrival_before_start_minutes: Minutes | None = None
    arrival_after_end_minutes: Minutes | None = None
    min_lead_days: Days | None = None
    max_lead_days: Days | None = None
    group_min: People | None = None
    group_max: People | None = None
    daily_cap: People | None = None
    students_per_adult: Ratio | None = None
    preschool_students_per_adult: Ratio | None = None
    approval_mode: ApprovalMode | None = None
    final_count_days: Days | None = None
    free_cancel_days: Days | None = None


# At the door, when the adults admitted would fall below the venue's ratio: "warn" admits and says so;
# "refuse" turns the admission away with the result too_few_adults (an extension of api.md's results,
# seen only at venues that choose it), so the adults go in first. None: no check at the door.
DoorRatioPolicy = Literal["warn", "refuse"]


class VenueUpdate(msgspec.Struct):
    """Only the fields sent are changed."""

    name: Name200 | msgspec.UnsetType = msgspec.UNSET
    kind: VenueKind | msgspec.UnsetType = msgspec.UNSET
    district: District | msgspec.UnsetType = msgspec.UNSET
    address: Text200 | msgspec.UnsetType = msgspec.UNSET
    arrival_before_start_minutes: Minutes | msgspec.UnsetType | None = msgspec.UNSET
    arrival_after_end_minutes: Minutes | msgspec.UnsetType | None = msgspec.UNSET
    min_lead_days: Days | msgspec.UnsetType | None = msgspec.UNSET
    max_lead_days: Days | msgspec.UnsetType | None = msgspec.UNSET
    group_min: People | msgspec.UnsetType | None = msgspec.UNSET
    group_max: People | msgspec.UnsetType | None = msgspec.UNSET
    daily_cap: People | msgspec.UnsetType | None = msgspec.UNSET
    students_per_adult: Ratio | msgspec.UnsetType | None = msgspec.UNSET
    preschool_students_per_adult: Ratio | msgspec.UnsetType | None = msgspec.UNSET
    approval_mode: ApprovalMode | msgspec.UnsetType | None = msgspec.UNSET
    final_count_days: Days | msgspec.UnsetType | None = msgspec.UNSET
    free_cancel_days: Days | msgspec.UnsetType | None = msgspec.UNSET
    door_ratio_policy: DoorRatioPolicy | msgspec.UnsetType | None = msgspec.UNSET


class VenueView(msgspec.Struct):
    id: int
    name: str
    kind: str
    district: str
    address: str
    arrival_before_start_minutes: int | None
    arrival_after_end_minutes: int | None
    min_lead_days: int | None
    max_lead_days: int | None
    group_min: int | None
    group_max: int | None
    daily_cap: int | None
    students_per_adult: int | None
    preschool_students_per_adult: int | None
    approval_mode: str | None
    final_count_days: int | None
    free_cancel_days: int | None
    created_at: datetime
    door_ratio_policy: str | None = None


class SlotForm(msgspec.Struct):
    starts_at: datetime
    ends_at: datetime
    capacity: Capacity
    title: Text200 | None = None
    kind: SlotKind | None = None
    # Extensions of api.md: the programme the slot offers and the room it takes place in.
    programme_id: int | None = None
    room_id: int | None = None


class SlotView(msgspec.Struct):
    id: int
    venue_id: int
    venue_name: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    remaining: int
    title: str
    kind: str
    created_at: datetime
    programme_id: int | None = None  # the programme the slot belongs to, if any (an extension of api.md)
    programme_title: str | None = None
    room_id: int | None = None
    room_name: str | None = None


class StaffView(msgspec.Struct):
    user_id: int
    username: str
    display_name: str
    venue_id: int
    role: str


RULE_FIELDS = (
    "min_lead_days",
    "max_lead_days",
    "group_min",
    "group_max",
    "daily_cap",
    "students_per_adult",
    "preschool_students_per_adult",
    "approval_mode",
    "final_count_days",
    "free_cancel_days",
)

# What the rules page proposes when a venue sets its rules up (domain.md "Rules to model"); a venue
# keeps none of them until its staff save the form.
RULE_DEFAULTS: dict[str, int | str | None] = {
    "min_lead_days": 3,
    "max_lead_days": 120,
    "group_min": 10,
    "group_max": 60,
    "daily_cap": None,
    "students_per_adult": 20,
    "preschool_students_per_adult": 10,
    "approval_mode": "auto",
    "final_count_days": 7,
    "free_cancel_days": 2,
}


class RulesForm(msgspec.Struct):
    """The rules page: every rule at once; a blank field (None) means the venue has no such rule."""

    min_lead_days: Days | None = None
    max_lead_days: Days | None = None
    group_min: People | None = None
    group_max: People | None = None
    daily_cap: People | None = None
    students_per_adult: Ratio | None = None
    preschool_students_per_adult: Ratio | None = None
    approval_mode: ApprovalMode | None = None
    final_count_days: Days | None = None
    free_cancel_days: Days | None = None
    door_ratio_policy: DoorRatioPolicy | None = None


class BlackoutForm(msgspec.Struct):
    day: date
    reason: Text200 = ""


class BlackoutView(msgspec.Struct):
    day: date
    reason: str
