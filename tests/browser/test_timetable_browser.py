"""The timetable on a phone: staff create a recurring series after checking its dates, set opening
hours, cancel one slot; at the door they tap the walk-in counters, also with the network gone; the
auditor keeps the public holidays. axe-core on every page here.

Screenshots in test-artifacts/screenshots/: staff-series-preview, staff-series, staff-slot-cancel,
staff-hours, door-walkins, door-walkins-offline, auditor-holidays.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import KepuServer
from tests.browser.test_journeys_browser import new_staff, new_venue, no_horizontal_overflow, shot, sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_staff_create_a_series_after_the_preview_and_count_walk_ins(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str, screenshot_dir: Path
) -> None:
    venue_id = new_venue(kepu_server, f"厦门科技馆{unique}")
    new_staff(kepu_server, venue_id, f"tt_{unique}")
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    first = today + timedelta(days=7)
    last = first + timedelta(days=27)

    staff = new_phone()
    sign_in(staff, f"tt_{unique}", kepu_server.password)
    staff.locator(f'.actions a[href="/venues/{venue_id}/series"]').click()
    form = staff.locator('[data-testid="series-form"]')
    form.locator('input[name="title"]').fill("周二周四科学课")
    form.locator('input[name="capacity"]').fill("60")
    form.locator('input[name="first_day"]').fill(first.isoformat())
    form.locator('input[name="last_day"]').fill(last.isoformat())
    # Tuesday and Thursday are ticked already; leave one date out.
    skipped = next(first + timedelta(days=i) for i in range(7) if (first + timedelta(days=i)).weekday() == 1)
    form.locator('textarea[name="exdates"]').fill(skipped.isoformat())
    assert_accessible(staff)
    form.locator('[data-testid="series-preview-button"]').click()
    preview = staff.locator('[data-testid="series-preview"]')
    expect(preview).to_be_visible()
    expect(preview.locator(f'li.skipped[data-day="{skipped.isoformat()}"]')).to_have_count(1)
    made = preview.locator("li.made").count()
    assert made == 8 - 1  # four weeks of Tuesdays and Thursdays, one left out
    no_horizontal_overflow(staff)
    assert_accessible(staff)
    shot(staff, screenshot_dir, "staff-series-preview")
    preview.locator('[data-testid="series-confirm"]').click()
    expect(staff.locator(".flash-success")).to_contain_text(str(made))
    rows = staff.locator('[data-testid="series-slots"] tbody tr')
    expect(rows).to_have_count(made)
    no_horizontal_overflow(staff)
    assert_accessible(staff)
    shot(staff, screenshot_dir, "staff-series")

    # One occurrence is cancelled with a reason.
    rows.first.locator('a[href$="/manage"]').click()
    cancel = staff.locator('[data-testid="slot-cancel"]')
    assert_accessible(staff)
    cancel.locator('input[name="reason"]').fill("场馆临时闭馆")
    cancel.locator('button[type="submit"]').click()
    expect(staff.locator('[data-testid="slot-cancelled"]')).to_contain_text("场馆临时闭馆")
    shot(staff, screenshot_dir, "staff-slot-cancel")

    # Opening hours: closed on Mondays.
    staff.goto(f"/venues/{venue_id}/hours")
    hours = staff.locator('[data-testid="hours-form"]')
    hours.locator('input[name="closed_0"]').check()
    hours.locator('button[type="submit"]').click()
    expect(staff.locator(".flash-success")).to_be_visible()
    expect(staff.locator('input[name="closed_0"]')).to_be_checked()
    no_horizontal_overflow(staff)
    assert_accessible(staff)
    shot(staff, screenshot_dir, "staff-hours")

    # At the door: two adults and a child walk in; the tally survives the network going away.
    staff.goto("/staff/scan")
    tally = staff.locator("#walkins")
    adults, youth = tally.locator('[data-kind="adults"]'), tally.locator('[data-kind="youth"]')
    adults.locator('button[data-step="1"]').click()
    adults.locator('button[data-step="1"]').click()
    youth.locator('button[data-step="1"]').click()
    expect(staff.locator("#walkin-adults")).to_have_text("2")
    expect(staff.locator("#walkin-youth")).to_have_text("1")
    expect(tally).to_have_attribute("data-pending", "0")
    no_horizontal_overflow(staff)
    assert_accessible(staff)
    shot(staff, screenshot_dir, "door-walkins")
    staff.context.set_offline(True)
    adults.locator('button[data-step="1"]').click()
    youth.locator('button[data-step="1"]').click()
    youth.locator('button[data-step="-1"]').click()
    expect(staff.locator("#walkin-adults")).to_have_text("3")
    expect(tally).to_have_attribute("data-pending", "3")
    shot(staff, screenshot_dir, "door-walkins-offline")
    staff.context.set_offline(False)
    staff.evaluate("window.dispatchEvent(new Event('online'))")
    expect(tally).to_have_attribute("data-pending", "0")
    staff.goto("/staff/roster")
    expect(staff.locator('[data-testid="roster-walkins"]')).to_contain_text("3")
    expect(staff.locator('[data-testid="roster-walkins"]')).to_contain_text("1")


def test_auditor_keeps_the_public_holidays(phone: Any, kepu_server: KepuServer, screenshot_dir: Path) -> None:
    sign_in(phone, kepu_server.auditor, kepu_server.password)
    phone.goto("/audit/holidays")
    table = phone.locator('[data-testid="holidays"]')
    expect(table).to_contain_text("国庆节")
    form = phone.locator('[data-testid="holiday-form"]')
    form.locator('input[name="day"]').fill("2027-02-09")
    form.locator('input[name="name"]').fill("春节")
    form.locator('button[type="submit"]').click()
    expect(phone.locator(".flash-success")).to_be_visible()
    expect(table).to_contain_text("2027-02-09")
    no_horizontal_overflow(phone)
    assert_accessible(phone)
    shot(phone, screenshot_dir, "auditor-holidays")
