"""Programmes on a phone: staff add a room and a programme with a photo and publish its slots; a
teacher finds it in the catalogue with filters, reads its page, checks the calendar for a class of 40
(month and week) and follows the book link.

Screenshots in test-artifacts/screenshots/: staff-programme, staff-programmes, teacher-catalogue,
teacher-programme, teacher-calendar-month, teacher-calendar-week; every one held to axe-core.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from tests.browser.conftest import KepuServer
from tests.browser.test_journeys_browser import new_staff, new_venue, no_horizontal_overflow, shot, sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser
SHANGHAI = ZoneInfo("Asia/Shanghai")


def photo() -> bytes:
    image = Image.new("RGB", (1200, 800), (20, 120, 180))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def publish(staff: Any, day: str, start: str, capacity: int, programme: str, room: str) -> None:
    form = staff.locator('form[action$="/slots/new"]')
    form.locator('input[name="date"]').fill(day)
    form.locator('input[name="start"]').fill(start)
    form.locator('input[name="end"]').fill(f"{int(start[:2]) + 2:02d}:{start[3:]}")
    form.locator('input[name="capacity"]').fill(str(capacity))
    form.locator('select[name="programme_id"]').select_option(label=programme)
    form.locator('select[name="room_id"]').select_option(index=1)
    form.locator('button[type="submit"]').click()
    expect(staff.locator(".flash-success")).to_be_visible()


def test_catalogue_programme_calendar_and_book(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str, screenshot_dir: Path
) -> None:
    venue_id = new_venue(kepu_server, f"厦门海洋馆{unique}")
    new_staff(kepu_server, venue_id, f"prog_{unique}")
    title = f"海洋生物探秘{unique}"
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    visit = today + timedelta(days=10)
    later = today + timedelta(days=12)

    # Staff: a room, a programme with grades, topics, a photo, and two slots of it.
    staff = new_phone()
    sign_in(staff, f"prog_{unique}", kepu_server.password)
    staff.goto(f"/venues/{venue_id}/programmes")
    room = staff.locator(f'form[action="/venues/{venue_id}/rooms"]')
    room.locator('input[name="name"]').fill("海洋厅")
    room.locator('input[name="capacity"]').fill("60")
    room.locator('button[type="submit"]').click()
    expect(staff.locator('[data-testid="rooms"] input[name="name"]').first).to_have_value("海洋厅")
    staff.locator(f'a[href="/venues/{venue_id}/programmes/new"]').first.click()
    form = staff.locator('[data-testid="programme-form"]')
    form.locator('input[name="title"]').fill(title)
    form.locator('textarea[name="description"]').fill("认识厦门海域的中华白海豚与潮间带生物。\n带上学习单。")
    form.locator("#band-junior").check()
    form.locator("#band-primary_high").check()
    form.locator('input[name="tags"]').fill("生物·海洋, 生态")
    form.locator('input[name="duration_minutes"]').fill("90")
    form.locator('input[name="group_max"]').fill("50")
    form.locator('button[type="submit"]').click()
    expect(staff.locator(".flash-success")).to_be_visible()
    upload = staff.locator('[data-testid="upload-form"]')
    upload.locator('input[name="file"]').set_input_files(
        {"name": "海豚.jpg", "mimeType": "image/jpeg", "buffer": photo()}
    )
    upload.locator('button[type="submit"]').click()
    expect(staff.locator('[data-testid="files"] img')).to_be_visible()
    no_horizontal_overflow(staff)
    shot(staff, screenshot_dir, "staff-programme")
    staff.goto("/staff")
    publish(staff, visit.isoformat(), "09:30", 60, title, "海洋厅")
    publish(staff, later.isoformat(), "14:00", 20, title, "海洋厅")
    staff.goto(f"/venues/{venue_id}/programmes")
    no_horizontal_overflow(staff)
    shot(staff, screenshot_dir, "staff-programmes")

    # Teacher: the menu's Programmes link, then filters a teacher reaches for.
    teacher = new_phone()
    sign_in(teacher, kepu_server.teacher, kepu_server.password)
    teacher.locator(".menu summary").click()
    teacher.locator('.menu nav a[href="/programmes"]').click()
    expect(teacher).to_have_url(re.compile(r"/programmes$"))
    filters = teacher.locator('[data-testid="catalogue-filters"]')
    filters.locator('input[name="q"]').fill(unique)
    filters.locator('input[name="people"]').fill("40")
    filters.locator('select[name="band"]').select_option("junior")
    filters.locator('button[type="submit"]').click()
    card = teacher.locator(".programme-card", has_text=title)
    expect(card).to_be_visible()
    expect(card.locator("img.programme-thumb")).to_be_visible()
    expect(card.locator(".next-slots a")).to_have_count(1)  # the 20-place slot has no room for 40
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-catalogue")
    # A band the programme does not suit hides it.
    teacher.goto(f"/programmes?q={unique}&band=preschool")
    expect(teacher.locator(".programme-card")).to_have_count(0)
    teacher.go_back()

    card = teacher.locator(".programme-card", has_text=title)
    card.locator("h2 a").click()
    expect(teacher.locator("h1")).to_have_text(title)
    expect(teacher.locator('[data-testid="rules"]')).to_contain_text("50")
    expect(teacher.locator('[data-testid="photos"] img')).to_be_visible()
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-programme")

    programme_url = teacher.url.split("?")[0]
    teacher.goto(f"{programme_url}/calendar?view=month&date={visit.isoformat()}&people=40")
    room_slot = teacher.locator('[data-testid="calendar"] a[data-state="room"]')
    expect(room_slot).to_have_count(1)
    expect(teacher.locator('[data-testid="calendar"] [data-state="few"]')).to_have_count(
        1 if later.month == visit.month else 0
    )
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-calendar-month")
    teacher.goto(f"{programme_url}/calendar?view=week&date={later.isoformat()}&people=40")
    expect(teacher.locator('[data-testid="calendar"] [data-state="few"]')).to_have_count(1)
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-calendar-week")
    teacher.goto(f"{programme_url}/calendar?view=month&date={visit.isoformat()}&people=40")
    teacher.locator('[data-testid="calendar"] a[data-state="room"]').click()
    expect(teacher).to_have_url(re.compile(r"/slots/\d+/book$"))
    expect(teacher.locator("form")).not_to_have_count(0)
