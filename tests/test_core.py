"""Pure helpers in core: reading dates and instants, form parsing, Asia/Shanghai calendar bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core import clock
from core.forms import parse_form
from core.timeparse import parse_date_or_instant
from venues.schemas import SlotForm


def test_date_means_start_of_local_day() -> None:
    assert parse_date_or_instant("2026-03-01") == datetime(2026, 3, 1, tzinfo=clock.TZ)


def test_instant_without_offset_is_shanghai_time() -> None:
    got = parse_date_or_instant("2026-03-01T09:30:00")
    assert got.astimezone(UTC) == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)


def test_instant_with_z_and_offset() -> None:
    assert parse_date_or_instant("2026-03-01T01:30:00Z") == parse_date_or_instant("2026-03-01T09:30:00+08:00")


@pytest.mark.parametrize("bad", ["tomorrow", "2026-13-01", "", "2026-02-30", "99999999999"])
def test_bad_dates_raise_value_error_with_a_sentence(bad: str) -> None:
    with pytest.raises(ValueError, match="not a date"):
        parse_date_or_instant(bad)


def test_year_and_day_bounds_are_local() -> None:
    lo, hi = clock.year_bounds(2026)
    assert lo.astimezone(UTC) == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
    assert hi.astimezone(UTC) == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    start, end = clock.day_bounds(date(2026, 5, 20))
    assert (end - start).total_seconds() == 86400


def test_form_parsing_uses_the_api_rules() -> None:
    form, errors = parse_form(
        SlotForm, {"starts_at": "2026-03-01T09:30:00", "ends_at": "2026-03-01T11:00:00", "capacity": "60"}
    )
    assert errors == {}
    assert form is not None and form.capacity == 60
    form, errors = parse_form(
        SlotForm, {"starts_at": "2026-03-01T09:30:00", "ends_at": "2026-03-01T11:00:00", "capacity": "0"}
    )
    assert form is None and set(errors) == {"capacity"}
    form, errors = parse_form(SlotForm, {"starts_at": "2026-03-01T09:30:00", "capacity": "5"})
    assert form is None and set(errors) == {"ends_at"}
    form, errors = parse_form(
        SlotForm,
        {
            "starts_at": "2026-03-01T09:30:00",
            "ends_at": "2026-03-01T11:00:00",
            "capacity": "5",
            "title": "x" * 201,
        },
    )
    assert form is None and set(errors) == {"title"}
