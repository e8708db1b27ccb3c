"""bookings/rules.py on its own: each rule, its edges, and that no rules means no refusal."""

from __future__ import annotations

from datetime import date

import pytest

from bookings.rules import (
    Rules,
    adults_needed,
    check_booking,
    check_change,
    check_daily_cap,
    check_group,
    check_lead,
    final_count_deadline,
    free_cancel_deadline,
)

TODAY = date(2030, 5, 20)
USUAL = Rules(
    min_lead_days=3,
    max_lead_days=120,
    group_min=10,
    group_max=60,
    daily_cap=300,
    students_per_adult=20,
    preschool_students_per_adult=10,
    approval_mode="auto",
)


def test_no_rules_refuse_nothing() -> None:
    none = Rules()
    assert not none.needs_approval
    for day in (TODAY, date(2031, 12, 31)):
        for students, adults in ((0, 1), (1, 0), (10_000, 0), (500, 0)):
            assert (
                check_booking(
                    none,
                    today=TODAY,
                    day=day,
                    students=students,
                    chaperones=adults,
                    band=None,
                    blackout_reason=None,
                )
                is None
            )
    assert check_daily_cap(none, day=TODAY, booked_that_day=10**6, people=10_000) is None


def test_lead_time_edges() -> None:
    assert check_lead(USUAL, today=TODAY, day=date(2030, 5, 23)) is None  # exactly 3 days
    short = check_lead(USUAL, today=TODAY, day=date(2030, 5, 22))
    assert short is not None and short.code == "lead_too_short"
    assert short.params == {"days": 3, "earliest": "2030-05-23"}
    assert check_lead(USUAL, today=TODAY, day=date(2030, 9, 17)) is None  # exactly 120 days
    long = check_lead(USUAL, today=TODAY, day=date(2030, 9, 18))
    assert long is not None and long.code == "lead_too_long"
    assert long.params == {"days": 120, "opens": "2030-05-21"}
    assert check_lead(Rules(min_lead_days=0), today=TODAY, day=TODAY) is None


def test_group_size_counts_students_and_adults() -> None:
    assert check_group(USUAL, students=9, chaperones=1, band="junior") is None  # 10 people
    small = check_group(USUAL, students=8, chaperones=1, band="junior")
    assert small is not None and small.code == "group_too_small" and small.params == {"min": 10, "people": 9}
    assert check_group(USUAL, students=57, chaperones=3, band="junior") is None  # 60 people
    big = check_group(USUAL, students=58, chaperones=3, band="junior")
    assert big is not None and big.code == "group_too_large" and big.params == {"max": 60, "people": 61}


@pytest.mark.parametrize(
    ("band", "students", "needed"),
    [
        ("primary_low", 40, 2),
        ("primary_high", 41, 3),
        ("junior", 20, 1),
        ("senior", 1, 1),
        (None, 45, 3),  # no band given: the school ratio
        ("preschool", 20, 2),
        ("preschool", 21, 3),
    ],
)
def test_adult_ratio_by_grade_band(band: str | None, students: int, needed: int) -> None:
    assert adults_needed(USUAL, students, band) == needed
    ratio_only = Rules(students_per_adult=20, preschool_students_per_adult=10)
    assert check_group(ratio_only, students=students, chaperones=needed, band=band) is None
    breach = check_group(ratio_only, students=students, chaperones=needed - 1, band=band)
    assert breach is not None and breach.code == "too_few_adults"
    assert breach.params["needed"] == needed and breach.params["missing"] == 1


def test_preschool_falls_back_to_the_school_ratio() -> None:
    rules = Rules(students_per_adult=20)
    assert adults_needed(rules, 40, "preschool") == 2
    assert adults_needed(Rules(), 40, "preschool") == 0


def test_daily_cap_edges() -> None:
    assert check_daily_cap(USUAL, day=TODAY, booked_that_day=270, people=30) is None
    over = check_daily_cap(USUAL, day=TODAY, booked_that_day=271, people=30)
    assert over is not None and over.code == "daily_cap"
    assert over.params == {"cap": 300, "left": 29, "day": "2030-05-20"}


def test_order_date_first_then_blackout_then_group() -> None:
    args = {"today": TODAY, "students": 1, "chaperones": 0, "band": None}
    first = check_booking(USUAL, day=TODAY, blackout_reason="国庆节", **args)  # type: ignore[arg-type]
    assert first is not None and first.code == "lead_too_short"
    second = check_booking(USUAL, day=date(2030, 6, 1), blackout_reason="国庆节", **args)  # type: ignore[arg-type]
    assert second is not None and second.code == "blackout" and second.params["reason"] == "国庆节"
    third = check_booking(USUAL, day=date(2030, 6, 1), blackout_reason=None, **args)  # type: ignore[arg-type]
    assert third is not None and third.code == "group_too_small"


def test_rules_of_a_venue_like_object() -> None:
    class V:
        min_lead_days = 3
        max_lead_days = None
        group_min = None
        group_max = None
        daily_cap = None
        students_per_adult = 20
        preschool_students_per_adult = None
        approval_mode = "request"
        final_count_days = 7
        free_cancel_days = 2

    rules = Rules.of(V())
    assert rules.min_lead_days == 3 and rules.needs_approval


def test_headcount_change_before_and_after_the_final_count() -> None:
    rules = Rules(final_count_days=7, group_min=10, students_per_adult=20)
    visit = date(2030, 6, 1)
    args = {"day": visit, "old_students": 30, "old_chaperones": 2, "band": "junior"}
    # On the deadline day (7 days before) a group may still get smaller.
    assert check_change(rules, today=date(2030, 5, 25), students=20, chaperones=1, **args) is None  # type: ignore[arg-type]
    late = check_change(rules, today=date(2030, 5, 26), students=29, chaperones=2, **args)  # type: ignore[arg-type]
    assert late is not None and late.code == "after_final_count"
    assert late.params == {"deadline": "2030-05-25", "students": 30, "chaperones": 2}
    assert check_change(rules, today=date(2030, 5, 31), students=35, chaperones=2, **args) is None  # type: ignore[arg-type]
    # More students than the adults can accompany: the ratio still holds.
    ratio = check_change(rules, today=date(2030, 5, 31), students=45, chaperones=2, **args)  # type: ignore[arg-type]
    assert ratio is not None and ratio.code == "too_few_adults"
    # Before the deadline a change still keeps to the group rules; no deadline means always.
    small = check_change(rules, today=date(2030, 5, 20), students=5, chaperones=1, **args)  # type: ignore[arg-type]
    assert small is not None and small.code == "group_too_small"
    assert check_change(Rules(), today=visit, students=1, chaperones=0, **args) is None  # type: ignore[arg-type]
    assert final_count_deadline(Rules(), visit) is None


def test_free_cancel_deadline() -> None:
    assert free_cancel_deadline(Rules(free_cancel_days=2), date(2030, 6, 1)) == date(2030, 5, 30)
    assert free_cancel_deadline(Rules(free_cancel_days=0), date(2030, 6, 1)) == date(2030, 6, 1)
    assert free_cancel_deadline(Rules(), date(2030, 6, 1)) is None
