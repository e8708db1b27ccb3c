"""Data shapes at the accounts service boundary."""

from __future__ import annotations

from datetime import datetime

import msgspec


class SchoolView(msgspec.Struct):
    id: int
    name: str
    district: str


class UserView(msgspec.Struct):
    """The signed-in person as the rest of the app sees them."""

    id: int
    username: str
    role: str
    display_name: str
    school_id: int | None = None
    school_name: str | None = None
    district: str | None = None
    venue_id: int | None = None
    venue_role: str | None = None
    created_at: datetime | None = None

    @property
    def is_teacher(self) -> bool:
        return self.role == "teacher"

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"

    @property
    def is_auditor(self) -> bool:
        return self.role == "auditor"


class TokenView(msgspec.Struct):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = 0
