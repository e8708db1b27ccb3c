"""Data shapes at the venues service boundary (API bodies and page forms alike)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from core.schemas import Capacity, District, Minutes, Name200, SlotKind, Text200, VenueKind


class VenueForm(msgspec.Struct, forbid_unknown_fields=False):
    name: Name200
    kind: VenueKind
    district: District
    address: Text200 | None = None
    arrival_before_start_minutes: Minutes | None = None
    arrival_after_end_minutes: Minutes | None = None


class VenueUpdate(msgspec.Struct):
    """Only the fields sent are changed."""

    name: Name200 | msgspec.UnsetType = msgspec.UNSET
    kind: VenueKind | msgspec.UnsetType = msgspec.UNSET
    district: District | msgspec.UnsetType = msgspec.UNSET
    address: Text200 | msgspec.UnsetType = msgspec.UNSET
    arrival_before_start_minutes: Minutes | msgspec.UnsetType | None = msgspec.UNSET
    arrival_after_end_minutes: Minutes | msgspec.UnsetType | None = msgspec.UNSET


class VenueView(msgspec.Struct):
    id: int
    name: str
    kind: str
    district: str
    address: str
    arrival_before_start_minutes: int | None
    arrival_after_end_minutes: int | None
    created_at: datetime


class SlotForm(msgspec.Struct):
    starts_at: datetime
    ends_at: datetime
    capacity: Capacity
    title: Text200 | None = None
    kind: SlotKind | None = None


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


class StaffView(msgspec.Struct):
    user_id: int
    username: str
    display_name: str
    venue_id: int
    role: str
