"""A teacher's whole journey on a phone, in one go: find a programme in the catalogue, pick a slot in
its week calendar, book it with the visit details, read the pass (its QR decodes), add the visit to a
calendar (.ics parsed by icalendar), lower the headcount, cancel — and then, on a full slot, join the
waiting list, see the offer when another school cancels, and accept it.

Screenshots: journey-*.png in test-artifacts/screenshots/, every page held to axe-core.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests.browser.conftest import KepuServer
from tests.browser.test_journeys_browser import (
    api,
    bearer,
    new_staff,
    new_venue,
    no_horizontal_overflow,
    path_id,
    scanned,
    shot,
    sign_in,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _programme(staff: Any, venue_id: int, title: str) -> int:
    staff.goto(f"/venues/{venue_id}/programmes/new")
    form = staff.locator('[data-testid="programme-form"]')
    form.locator('input[name="title"]').fill(title)
    form.locator('textarea[name="description"]').fill("用单摆和斜面认识力与运动。")
    form.locator("#band-primary_high").check()
    form.locator('input[name="tags"]').fill("物理·力学")
    form.locator('input[name="duration_minutes"]').fill("90")
    form.locator('button[type="submit"]').click()
    expect(staff.locator(".flash-success")).to_be_visible()
    return path_id(staff, r"/programmes/(\d+)")


def test_search_book_pass_calendar_change_cancel_and_waitlist(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str, screenshot_dir: Path
) -> None:
    venue_name = f"厦门科技馆{unique}"
    venue_id = new_venue(kepu_server, venue_name)
    new_staff(kepu_server, venue_id, f"jr_{unique}")
    staff = new_phone()
    sign_in(staff, f"jr_{unique}", kepu_server.password)
    title = f"力与运动{unique}"
    programme_id = _programme(staff, venue_id, title)

    auditor = bearer(kepu_server, kepu_server.auditor, kepu_server.password)
    day = datetime.now(UTC).astimezone(SHANGHAI).date() + timedelta(days=9)

    def slot(hour: int, capacity: int) -> dict[str, Any]:
        starts = datetime(day.year, day.month, day.day, hour, 0, tzinfo=SHANGHAI)
        body = {
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=90)).isoformat(),
            "capacity": capacity,
            "programme_id": programme_id,
        }
        made: dict[str, Any] = api(kepu_server, auditor, "POST", f"/api/v1/venues/{venue_id}/slots", body)
        return made

    morning, afternoon = slot(9, 60), slot(14, 40)
    other = f"jr_other_{unique}"
    kepu_server.kepu(
        "user", "add", other, "--password", kepu_server.password, "--role", "teacher",
        "--school", "湖里实验小学", "--district", "湖里区", "--name", "陈老师",
    )  # fmt: skip
    other_h = bearer(kepu_server, other, kepu_server.password)
    taken = api(
        kepu_server, other_h, "POST", "/api/v1/bookings",
        {"slot_id": afternoon["id"], "students": 36, "chaperones": 4},
    )  # fmt: skip

    # 1. Search: the catalogue, filtered for a class of 45 in the upper primary grades.
    teacher = new_phone()
    sign_in(teacher, kepu_server.teacher, kepu_server.password)
    teacher.goto("/programmes")
    filters = teacher.locator('[data-testid="catalogue-filters"]')
    filters.locator('input[name="q"]').fill(unique)
    filters.locator('input[name="people"]').fill("45")
    filters.locator('select[name="band"]').select_option("primary_high")
    filters.locator('button[type="submit"]').click()
    card = teacher.locator(".programme-card", has_text=title)
    expect(card).to_be_visible()
    expect(card.locator(".next-slots a")).to_have_count(1)  # the afternoon is full
    shot(teacher, screenshot_dir, "journey-catalogue")
    card.locator("h2 a").click()
    expect(teacher.locator("h1")).to_have_text(title)
    shot(teacher, screenshot_dir, "journey-programme")

    # 2. The week calendar for 45 people: the morning has room; its link opens the booking form.
    teacher.goto(f"/programmes/{programme_id}/calendar?view=week&date={day.isoformat()}&people=45")
    with_room = teacher.locator('[data-testid="calendar"] a[data-state="room"]')
    expect(with_room).to_have_count(1)
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "journey-calendar")
    with_room.click()
    expect(teacher).to_have_url(re.compile(rf"/slots/{morning['id']}/book$"))

    # 3. Book, with what the venue needs to know (no pupils' names anywhere).
    book = teacher.locator(f'form[action="/slots/{morning["id"]}/book"]')
    book.locator('input[name="grade"]').fill("五年级")
    book.locator('select[name="grade_band"]').select_option("primary_high")
    book.locator('input[name="class_name"]').fill("3班")
    book.locator('input[name="students"]').fill("42")
    book.locator('input[name="chaperones"]').fill("3")
    book.locator('input[name="lead_teacher_name"]').fill("李老师")
    book.locator('input[name="lead_teacher_phone"]').fill("13800138000")
    book.locator('input[name="buses"]').fill("1")
    book.locator('input[name="arrival_time"]').fill("08:50")
    book.locator('input[name="lunch_space"]').check()
    shot(teacher, screenshot_dir, "journey-book")
    book.locator('button[type="submit"]').click()
    expect(teacher).to_have_url(re.compile(r"/bookings/\d+$"))
    booking_id = path_id(teacher, r"/bookings/(\d+)$")

    # 4. The pass: the QR decodes to the booking's signed token; the programme is named.
    teacher_h = bearer(kepu_server, kepu_server.teacher, kepu_server.password)
    booking = api(kepu_server, teacher_h, "GET", f"/api/v1/bookings/{booking_id}")
    assert booking["status"] == "confirmed" and booking["students"] == 42
    assert scanned(teacher.locator(".qr"), screenshot_dir / "journey-pass-qr.png") == [booking["qr_token"]]
    expect(teacher.locator("main")).to_contain_text(title)
    shot(teacher, screenshot_dir, "journey-pass")

    # 5. Add to calendar: one VEVENT at the slot's time, confirmed.
    with teacher.expect_download() as download:
        teacher.locator(f'a[href="/bookings/{booking_id}/calendar.ics"]').click()
    calendar = icalendar.Calendar.from_ical(Path(download.value.path()).read_bytes())
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == datetime.fromisoformat(morning["starts_at"])
    assert str(event["STATUS"]) == "CONFIRMED"
    first_sequence = int(event["SEQUENCE"])

    # 6. Fewer pupils: the places go back to the slot.
    teacher.locator('[data-testid="headcount"] summary').click()
    change = teacher.locator('[data-testid="headcount"] form')
    change.locator('input[name="students"]').fill("38")
    change.locator('button[type="submit"]').click()
    expect(teacher.locator(".flash-success")).to_be_visible()
    assert api(kepu_server, auditor, "GET", f"/api/v1/slots/{morning['id']}")["remaining"] == 60 - 41
    shot(teacher, screenshot_dir, "journey-changed")

    # 7. Cancel (free this far ahead): the pass is gone, the calendar entry says so.
    teacher.locator("details.danger-zone > summary").click()
    teacher.locator(f'form[action="/bookings/{booking_id}/cancel"] button[type="submit"]').click()
    expect(teacher.locator(".badge.cancelled")).to_be_visible()
    expect(teacher.locator(".qr")).to_have_count(0)
    shot(teacher, screenshot_dir, "journey-cancelled")
    with teacher.expect_download() as download:
        teacher.locator(f'a[href="/bookings/{booking_id}/calendar.ics"]').click()
    [event] = icalendar.Calendar.from_ical(Path(download.value.path()).read_bytes()).walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) >= first_sequence

    # 8. The afternoon is full: join its waiting list; the other school cancels; accept the offer.
    teacher.goto(f"/slots/{afternoon['id']}/waitlist")
    join = teacher.locator(f'form[action="/slots/{afternoon["id"]}/waitlist"]')
    join.locator('input[name="students"]').fill("30")
    join.locator('input[name="chaperones"]').fill("2")
    join.locator('input[name="flexibility"][value="slot"]').check()
    join.locator('button[type="submit"]').click()
    expect(teacher.locator('[data-testid="waitlist-position"]')).to_have_text("1")
    shot(teacher, screenshot_dir, "journey-waiting")
    api(kepu_server, other_h, "POST", f"/api/v1/bookings/{taken['id']}/cancel")
    teacher.reload()
    offer = teacher.locator('[data-testid="waitlist-offer"]')
    expect(offer).to_be_visible()
    shot(teacher, screenshot_dir, "journey-offer")
    offer.locator('button[type="submit"]').first.click()
    expect(teacher.locator('[data-testid="pass-code"]')).to_be_visible()
    accepted = path_id(teacher, r"/bookings/(\d+)$")
    got = api(kepu_server, teacher_h, "GET", f"/api/v1/bookings/{accepted}")
    assert (got["status"], got["slot_id"], got["students"]) == ("confirmed", afternoon["id"], 30)
    assert api(kepu_server, auditor, "GET", f"/api/v1/slots/{afternoon['id']}")["remaining"] == 40 - 32
    shot(teacher, screenshot_dir, "journey-offer-accepted")
