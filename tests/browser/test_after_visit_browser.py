"""After the visit, on a phone: the class is checked in, the teacher rates the visit, the venue reads
it; on the way, the pages the other journeys pass by without a look — the teacher's bookings and
waiting lists, the venue's own calendar, the staff feedback list — are held to axe-core too.

Screenshots: teacher-bookings, teacher-waitlists, teacher-venue-calendar, teacher-feedback,
staff-feedback (test-artifacts/screenshots/).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import KepuServer
from tests.browser.test_journeys_browser import (
    api,
    bearer,
    move_slot_to_now,
    new_staff,
    new_venue,
    no_horizontal_overflow,
    plan_today_slot,
    shot,
    sign_in,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def test_teacher_rates_the_visit_and_the_venue_reads_it(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str, screenshot_dir: Path
) -> None:
    venue_id = new_venue(kepu_server, f"厦门园林植物园{unique}")
    staff_name = f"fb_{unique}"
    new_staff(kepu_server, venue_id, staff_name)
    staff_h = bearer(kepu_server, staff_name, kepu_server.password)
    teacher_h = bearer(kepu_server, kepu_server.teacher, kepu_server.password)
    plan = plan_today_slot()
    slot = api(
        kepu_server, staff_h, "POST", f"/api/v1/venues/{venue_id}/slots",
        {"starts_at": f"{plan.date}T{plan.start}:00+08:00", "ends_at": f"{plan.date}T{plan.end}:00+08:00",
         "capacity": 60},
    )  # fmt: skip
    booking = api(
        kepu_server, teacher_h, "POST", "/api/v1/bookings",
        {"slot_id": slot["id"], "students": 30, "chaperones": 2},
    )  # fmt: skip
    # The visit is under way: its slot started a minute ago, and the class came in.
    move_slot_to_now(kepu_server.db_path, slot["id"])
    admitted = api(kepu_server, staff_h, "POST", "/api/v1/checkins", {"token": booking["qr_token"]})
    assert admitted["result"] == "admitted"

    teacher = new_phone()
    sign_in(teacher, kepu_server.teacher, kepu_server.password)
    teacher.goto("/bookings")
    expect(teacher.locator(f'a[href="/bookings/{booking["id"]}"]').first).to_be_visible()
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-bookings")
    teacher.goto("/waitlist")
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-waitlists")
    teacher.goto(f"/venues/{venue_id}/calendar?view=week&date={plan.date}&people=20")
    expect(teacher.locator('[data-testid="calendar"]')).to_be_visible()
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-venue-calendar")

    # The rating: a sentence when none is chosen, then thanks and back to the booking.
    teacher.goto(f"/bookings/{booking['id']}/feedback")
    form = teacher.locator(f'form[action="/bookings/{booking["id"]}/feedback"]')
    form.locator('button[type="submit"]').click()
    expect(teacher.locator(".field-error, .error").first).to_be_visible()
    form = teacher.locator(f'form[action="/bookings/{booking["id"]}/feedback"]')
    form.locator('input[name="rating"][value="5"]').check()
    form.locator('textarea[name="comment"]').fill("讲解员很耐心，孩子们认识了二十多种植物。")
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-feedback")
    form.locator('button[type="submit"]').click()
    expect(teacher).to_have_url(re.compile(rf"/bookings/{booking['id']}$"))
    expect(teacher.locator(".flash-success")).to_be_visible()

    staff = new_phone()
    sign_in(staff, staff_name, kepu_server.password)
    staff.goto("/staff/feedback")
    expect(staff.locator("main")).to_contain_text("二十多种植物")
    no_horizontal_overflow(staff)
    shot(staff, screenshot_dir, "staff-feedback")
