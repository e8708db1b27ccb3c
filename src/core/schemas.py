"""Shared field types for msgspec Structs: the limits api.md sets on text and counts."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Text200 = Annotated[str, msgspec.Meta(max_length=200)]
# A name needs something visible: "   " would be stored as an empty name once stripped.
Name200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S")]
Count = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
Minutes = Annotated[int, msgspec.Meta(ge=0, le=24 * 60)]

District = Literal["思明区", "湖里区", "集美区", "海沧区", "同安区", "翔安区"]
VenueKind = Literal[
    "science_museum", "museum", "education_base", "laboratory", "scientist_spirit_base", "community_site"
]
SlotKind = Literal["school_visit", "lab_open_day", "activity"]

# Booking rules: days ahead (up to two years), people per group, students per adult.
Days = Annotated[int, msgspec.Meta(ge=0, le=730)]
People = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
Ratio = Annotated[int, msgspec.Meta(ge=1, le=1000)]
GradeBand = Literal["preschool", "primary_low", "primary_high", "junior", "senior"]
ApprovalMode = Literal["auto", "request"]
Phone = Annotated[str, msgspec.Meta(max_length=32, pattern=r"^[0-9+\- ()]*$")]
ClockTime = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Buses = Annotated[int, msgspec.Meta(ge=0, le=50)]
