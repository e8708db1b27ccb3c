"""Booking under a venue's rules on a phone: staff set the rules and a blackout day, a teacher is told
which rule says no and books, staff approve the request, the teacher changes the numbers.

Screenshots go to test-artifacts/screenshots/ (staff-rules, teacher-book-refused, teacher-requested,
staff-requests, teacher-pass-approved) for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import KepuServer
from tests.browser.test_journeys_browser import (
    api,
    bearer,
    new_staff,
    new_venue,
    no_horizontal_overflow,
    shot,
    sign_in,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_rules_request_approval_and_headcount(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str, screenshot_dir: Path
) -> None:
    venue_id = new_venue(kepu_server, f"集美科普基地{unique}")
    new_staff(kepu_server, venue_id, f"rules_{unique}")
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    visit = today + timedelta(days=10)
    blackout = today + timedelta(days=11)

    # Staff set the rules up: the form proposes the usual ones; they switch to approval by request.
    staff = new_phone()
    sign_in(staff, f"rules_{unique}", kepu_server.password)
    staff.locator(f'.actions a[href="/venues/{venue_id}/rules"]').click()
    form = staff.locator('[data-testid="rules-form"]')
    expect(form.locator('input[name="min_lead_days"]')).to_have_value("3")
    expect(form.locator('input[name="students_per_adult"]')).to_have_value("20")
    form.locator('select[name="approval_mode"]').select_option("request")
    form.locator('button[type="submit"]').click()
    expect(staff.locator(".flash-success")).to_be_visible()
    day_form = staff.locator(f'form[action="/venues/{venue_id}/blackouts"]')
    day_form.locator('input[name="day"]').fill(blackout.isoformat())
    day_form.locator('input[name="reason"]').fill("场馆维护")
    day_form.locator('button[type="submit"]').click()
    expect(staff.locator('[data-testid="blackouts"]')).to_contain_text("场馆维护")
    no_horizontal_overflow(staff)
    shot(staff, screenshot_dir, "staff-rules")

    staff_api = bearer(kepu_server, f"rules_{unique}", kepu_server.password)
    starts = datetime(visit.year, visit.month, visit.day, 9, 30, tzinfo=SHANGHAI)
    slot = api(
        kepu_server,
        staff_api,
        "POST",
        f"/api/v1/venues/{venue_id}/slots",
        {
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": 80,
        },
    )

    # The teacher reads the rules, is told which one says no, fixes it and sends the request.
    teacher = new_phone()
    sign_in(teacher, kepu_server.teacher, kepu_server.password)
    teacher.goto(f"/slots/{slot['id']}/book")
    expect(teacher.locator('[data-testid="venue-rules"]')).to_be_visible()
    book = teacher.locator(f'form[action="/slots/{slot["id"]}/book"]')
    book.locator('select[name="grade_band"]').select_option("primary_high")
    book.locator('input[name="students"]').fill("40")
    book.locator('input[name="chaperones"]').fill("1")
    book.locator('input[name="lead_teacher_name"]').fill("李老师")
    book.locator('input[name="lead_teacher_phone"]').fill("13800000000")
    book.locator('button[type="submit"]').click()
    expect(teacher.locator(".flash-error")).to_contain_text("1")
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-book-refused")
    book.locator('input[name="chaperones"]').fill("2")
    book.locator('button[type="submit"]').click()
    expect(teacher).to_have_url(re.compile(r"/bookings/\d+$"))
    expect(teacher.locator('[data-testid="pass-requested"]')).to_be_visible()
    expect(teacher.locator(".qr svg")).to_have_count(0)
    shot(teacher, screenshot_dir, "teacher-requested")
    pass_url = teacher.url

    # Staff see the request with the school's record, and approve it.
    staff.goto("/staff")
    staff.locator('.actions a[href="/staff/requests"]').click()
    card = staff.locator("section.request").filter(has_text="李老师")
    expect(card).to_have_count(1)
    no_horizontal_overflow(staff)
    shot(staff, screenshot_dir, "staff-requests")
    card.locator('form[action$="/approve"] button').click()
    expect(staff.locator(".flash-success")).to_be_visible()

    # The teacher's pass now admits; the numbers can still change.
    teacher.goto(pass_url)
    expect(teacher.locator(".qr svg")).to_be_visible()
    teacher.locator('[data-testid="headcount"] summary').click()
    change = teacher.locator('[data-testid="headcount"] form')
    change.locator('input[name="students"]').fill("38")
    change.locator('button[type="submit"]').click()
    expect(teacher.locator(".flash-success")).to_be_visible()
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-pass-approved")
