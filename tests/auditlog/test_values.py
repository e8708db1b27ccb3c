"""What before/after may hold: JSON-safe values, only the changed fields, never a secret."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal

import msgspec

from auditlog.services import changes, fields, json_safe


class _View(msgspec.Struct):
    name: str
    password_hash: str
    opened: date


def test_values_become_json() -> None:
    value = {
        "at": datetime(2027, 2, 20, 2, 0, tzinfo=UTC),
        "day": date(2027, 3, 4),
        "opens": time(9, 30),
        "fee": Decimal("12.50"),
        "photo": b"\x89PNG....",
        "tags": ("a", "b"),
    }
    safe = json_safe(value)
    json.dumps(safe)
    assert safe == {
        "at": "2027-02-20T10:00:00+08:00",  # Asia/Shanghai
        "day": "2027-03-04",
        "opens": "09:30:00",
        "fee": "12.50",
        "photo": "<8 bytes>",
        "tags": ["a", "b"],
    }


def test_secrets_never_reach_the_log() -> None:
    row = {"username": "wang", "password_hash": "$argon2", "token": "t", "api_key": "k", "private_key": b"x"}
    assert fields(row) == {"username": "wang"}
    assert fields(_View(name="馆", password_hash="$argon2id$…", opened=date(2027, 1, 1))) == {
        "name": "馆",
        "opened": "2027-01-01",
    }


def test_only_changed_fields_are_kept() -> None:
    before = {"name": "厦门科技馆", "group_max": None, "daily_cap": 300}
    after = {"name": "厦门科技馆", "group_max": 45, "daily_cap": 300, "address": "体育路95号"}
    assert changes(before, after) == (
        {"group_max": None, "address": None},
        {"group_max": 45, "address": "体育路95号"},
    )
    assert changes(before, dict(before)) == ({}, {})
