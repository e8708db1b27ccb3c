"""Each person's journey on a phone, in a real Chromium against a real `kepu serve`.

Elements are found by stable attributes (form action, input name, href, data-testid, data-result),
not by their words: the Chinese catalogue is still being filled, so text is only checked where it
is the user's own input or where either language is accepted.
Screenshots go to test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import KepuServer

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")
BOM = b"\xef\xbb\xbf"


# ---------------------------------------------------------------------------------------- helpers


def sign_in(page: Any, username: str, password: str) -> None:
    page.goto("/login")
    form = page.locator('form[action="/login"]')
    form.locator('input[name="username"]').fill(username)
    form.locator('input[name="password"]').fill(password)
    form.locator('button[type="submit"]').click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def shot(page: Any, shots: Path, name: str) -> Path:
    """Screenshot the whole page, and hold it to axe-core: every page a test looks at is checked."""
    assert_accessible(page)
    path = shots / f"{name}.png"
    # From the top, so the sticky top bar is drawn where it belongs and not over the middle of the page.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)
    return path


def no_horizontal_overflow(page: Any) -> None:
    """The page itself never scrolls sideways on a phone (wide tables scroll inside .table-wrap)."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]}px wide on a {widths[1]}px phone"


def path_id(page: Any, pattern: str) -> int:
    m = re.search(pattern, page.url)
    assert m, f"{page.url} does not match {pattern}"
    return int(m.group(1))


def bearer(server: KepuServer, username: str, password: str) -> dict[str, str]:
    r = httpx.post(f"{server.url}/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def api(server: KepuServer, who: dict[str, str], method: str, url: str, body: Any = None) -> Any:
    r = httpx.request(method, f"{server.url}{url}", json=body, headers=who)
    assert r.status_code in (200, 201), (url, r.status_code, r.text)
    return r.json()


def new_venue(server: KepuServer, name: str) -> int:
    auditor = bearer(server, server.auditor, server.password)
    body = {"name": name, "kind": "science_museum", "district": "思明区", "address": "体育路95号"}
    return int(api(server, auditor, "POST", "/api/v1/venues", body)["id"])


def new_staff(server: KepuServer, venue_id: int, username: str) -> None:
    server.kepu(
        "user", "add", username, "--password", server.password, "--role", "staff",
        "--venue", str(venue_id), "--name", "王老师",
    )  # fmt: skip


@dataclass
class TodaySlot:
    """When to publish the door-test slot: today in Shanghai, still ahead so it can be booked."""

    date: str
    start: str
    end: str
    move_after_booking: bool  # too late today: publish tomorrow, then move it to today in the DB


def plan_today_slot(now: datetime | None = None) -> TodaySlot:
    local = (now or datetime.now(UTC)).astimezone(SHANGHAI)
    today = local.date()
    start = (local + timedelta(hours=2)).replace(second=0, microsecond=0)
    start += timedelta(minutes=-start.minute % 5)
    end = start + timedelta(hours=1)
    if end.date() == today:
        return TodaySlot(today.isoformat(), f"{start:%H:%M}", f"{end:%H:%M}", False)
    start = (local + timedelta(minutes=10)).replace(second=0, microsecond=0)
    if start.date() == today and f"{start:%H:%M}" < "23:30":
        return TodaySlot(today.isoformat(), f"{start:%H:%M}", "23:59", False)
    return TodaySlot((today + timedelta(days=1)).isoformat(), "09:30", "11:00", True)


def move_slot_to_now(db_path: Path, slot_id: int) -> None:
    """Piccolo keeps timestamptz on SQLite as str() of the UTC datetime."""
    now = datetime.now(UTC).replace(microsecond=0)
    if (now + timedelta(minutes=2)).astimezone(SHANGHAI).date() != now.astimezone(SHANGHAI).date():
        pytest.skip("Asia/Shanghai is about to pass midnight: the check-in day would change mid-test")
    with sqlite3.connect(db_path) as conn:
        moved = conn.execute(
            "UPDATE venues_slot SET starts_at = ?, ends_at = ? WHERE id = ?",
            (str(now - timedelta(minutes=1)), str(now + timedelta(minutes=30)), slot_id),
        ).rowcount
    assert moved == 1, f"slot {slot_id} not found in {db_path}"


# ---------------------------------------------------------------------------------------- journeys


def test_auditor_registers_venue_creates_staff_and_downloads_the_year(
    phone: Any, kepu_server: KepuServer, unique: str, screenshot_dir: Path
) -> None:
    page = phone
    venue_name = f"华侨博物院{unique}"
    sign_in(page, kepu_server.auditor, kepu_server.password)
    expect(page).to_have_url(re.compile(r"/audit$"))

    page.goto("/audit/venues")
    form = page.locator('form[method="post"][action="/audit/venues"]')
    form.locator('input[name="name"]').fill(venue_name)
    form.locator('select[name="kind"]').select_option("museum")
    form.locator('select[name="district"]').select_option("思明区")
    form.locator('input[name="address"]').fill("思明南路493号")
    form.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/audit/venues/\d+$"))
    venue_id = path_id(page, r"/audit/venues/(\d+)$")
    expect(page.locator("h1")).to_have_text(venue_name)
    expect(page.locator(".flash-success")).to_be_visible()

    staff = page.locator(f'form[action="/audit/venues/{venue_id}/staff"]')
    staff.locator('input[name="username"]').fill(f"hq_{unique}")
    staff.locator('input[name="display_name"]').fill("王老师")
    staff.locator('input[name="password"]').fill("door-pass-123")
    staff.locator('select[name="role"]').select_option("door")
    staff.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(rf"/audit/venues/{venue_id}$"))
    expect(page.locator("ul.plain")).to_contain_text(f"hq_{unique}")
    no_horizontal_overflow(page)
    shot(page, screenshot_dir, "auditor-venue")

    page.goto("/audit/venues")
    expect(page.locator(f'a[href="/audit/venues/{venue_id}"]')).to_have_text(venue_name)
    no_horizontal_overflow(page)
    shot(page, screenshot_dir, "auditor-venues")

    page.goto("/audit")
    row = page.locator("table.figures tbody tr").filter(
        has=page.locator(f'a[href="/audit/venues/{venue_id}"]')
    )
    expect(row).to_have_count(1)
    expect(row.locator("td.num").first).to_have_text("0")  # no slots yet
    no_horizontal_overflow(page)
    shot(page, screenshot_dir, "auditor-main")

    with page.expect_download() as download:
        page.locator('a[href^="/audit/report.csv"]').click()
    body = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename.endswith(".csv")
    assert body.startswith(BOM)
    assert venue_name in body.decode("utf-8-sig")

    # The account the auditor made works on its own phone.
    assert staff_can_sign_in(page.context.browser, kepu_server, f"hq_{unique}", "door-pass-123")


def staff_can_sign_in(browser: Any, server: KepuServer, username: str, password: str) -> bool:
    context = browser.new_context(base_url=server.url, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        sign_in(page, username, password)
        return page.url.endswith("/staff")
    finally:
        context.close()


def test_staff_publishes_teacher_books_and_is_admitted_in_two_parts(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str, screenshot_dir: Path
) -> None:
    venue_name = f"厦门科技馆{unique}"
    venue_id = new_venue(kepu_server, venue_name)
    new_staff(kepu_server, venue_id, f"door_{unique}")
    title = f"海洋探秘{unique}"
    plan = plan_today_slot()

    # Staff publish a slot for today.
    staff = new_phone()
    sign_in(staff, f"door_{unique}", kepu_server.password)
    expect(staff).to_have_url(re.compile(r"/staff$"))
    form = staff.locator(f'form[action="/venues/{venue_id}/slots/new"]')
    form.locator('input[name="date"]').fill(plan.date)
    form.locator('input[name="start"]').fill(plan.start)
    form.locator('input[name="end"]').fill(plan.end)
    form.locator('input[name="capacity"]').fill("60")
    form.locator('input[name="title"]').fill(title)
    form.locator('button[type="submit"]').click()
    expect(staff).to_have_url(re.compile(r"/staff$"))
    expect(staff.locator(".flash-success")).to_be_visible()
    row = staff.locator("ul.slot-admin li.slot").filter(has_text=title)
    expect(row).to_have_count(1)
    slot_id = int(str(row.locator('[data-testid="slot-when"]').get_attribute("href")).rsplit("/", 1)[1])

    # The teacher finds the venue, sees the places and books.
    teacher = new_phone()
    sign_in(teacher, kepu_server.teacher, kepu_server.password)
    expect(teacher).to_have_url(re.compile(r"/venues$"))
    card = teacher.locator("li.venue-card").filter(has=teacher.locator(f'h2 a[href="/venues/{venue_id}"]'))
    expect(card).to_have_count(1)
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-main")
    card.locator(f'h2 a[href="/venues/{venue_id}"]').click()
    expect(teacher).to_have_url(re.compile(rf"/venues/{venue_id}$"))
    slot = teacher.locator("li.slot").filter(has=teacher.locator(f'a[href="/slots/{slot_id}/book"]'))
    expect(slot.locator(".badge.ok")).to_contain_text("60")
    expect(slot).to_contain_text(title)
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-venue")
    slot.locator(f'a[href="/slots/{slot_id}/book"]').click()

    book = teacher.locator(f'form[action="/slots/{slot_id}/book"]')
    book.locator('input[name="grade"]').fill("四年级")
    book.locator('input[name="class_name"]').fill("2班")
    book.locator('input[name="students"]').fill("40")
    book.locator('input[name="chaperones"]').fill("3")
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-book")
    book.locator('button[type="submit"]').click()
    expect(teacher).to_have_url(re.compile(r"/bookings/\d+$"))
    booking_id = path_id(teacher, r"/bookings/(\d+)$")

    # The pass: a QR that scans to the booking's token, the typed code, and a calendar file.
    expect(teacher.locator(".qr svg")).to_be_visible()
    code = teacher.locator('[data-testid="pass-code"]').inner_text().strip()
    assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4})+", code), code
    teacher_api = bearer(kepu_server, kepu_server.teacher, kepu_server.password)
    booking = api(kepu_server, teacher_api, "GET", f"/api/v1/bookings/{booking_id}")
    assert booking["status"] == "confirmed"
    assert code.replace("-", "") == booking["code"].replace("-", "").lower()
    assert scanned(teacher.locator(".qr"), screenshot_dir / "teacher-pass-qr.png") == [booking["qr_token"]]

    with teacher.expect_download() as download:
        teacher.locator(f'a[href="/bookings/{booking_id}/calendar.ics"]').click()
    ics = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith(".ics")
    assert "BEGIN:VEVENT" in ics
    assert "TZID=Asia/Shanghai" in ics or re.search(r"DTSTART:\d{8}T\d{6}Z", ics)
    assert venue_name in ics.replace("\r\n ", "")
    no_horizontal_overflow(teacher)
    shot(teacher, screenshot_dir, "teacher-pass")

    if plan.move_after_booking:
        move_slot_to_now(kepu_server.db_path, slot_id)

    # At the door: the first bus brings 35 students and 2 adults, the second the rest.
    staff.goto("/staff/checkin")
    scan = staff.locator("#scan-form")
    scan.locator('input[name="token"]').fill(code.upper())
    scan.locator("details > summary").click()
    scan.locator('input[name="students"]').fill("35")
    scan.locator('input[name="chaperones"]').fill("2")
    scan.locator('button[type="submit"]').click()
    result = staff.locator("section[data-result]")
    expect(result).to_have_attribute("data-result", "admitted")
    no_horizontal_overflow(staff)
    shot(staff, screenshot_dir, "staff-checkin-part")

    rest = result.locator('form[action="/staff/checkin"]')
    rest.locator('input[name="students"]').fill("5")
    rest.locator('input[name="chaperones"]').fill("1")
    rest.locator('button[type="submit"]').click()
    expect(result).to_have_attribute("data-result", "admitted")
    expect(result.locator('form[action="/staff/checkin"]')).to_have_count(0)  # everyone is in
    expect(result.locator("dl.facts")).to_contain_text("40")
    no_horizontal_overflow(staff)
    shot(staff, screenshot_dir, "staff-checkin")

    # Scanning once more is refused as a repeat.
    staff.locator('#scan-form input[name="token"]').fill(code)
    staff.locator('#scan-form button[type="submit"]').click()
    expect(result).to_have_attribute("data-result", "already_checked_in")

    booking = api(kepu_server, teacher_api, "GET", f"/api/v1/bookings/{booking_id}")
    assert (booking["admitted_students"], booking["admitted_chaperones"]) == (40, 3)

    staff.goto("/staff")
    today_row = staff.locator("ul.slot-admin li.slot").filter(has_text=title)
    expect(today_row.locator(".badge").first).to_have_text(re.compile(r"43\s*/\s*60"))
    no_horizontal_overflow(staff)
    shot(staff, screenshot_dir, "staff-main")

    # The teacher's pass now shows who came in; an admitted booking can no longer be cancelled.
    teacher.reload()
    expect(teacher.locator("dl.facts")).to_contain_text("40")
    expect(teacher.locator("details.danger-zone")).to_have_count(0)


def scanned(element: Any, path: Path) -> list[str]:
    """Decode the QR exactly as it is drawn on the phone's screen."""
    import zxingcpp
    from PIL import Image

    element.screenshot(path=str(path))
    with Image.open(path) as image:
        return [r.text for r in zxingcpp.read_barcodes(image)]


def test_teacher_cancels_a_booking(
    phone: Any, kepu_server: KepuServer, unique: str, screenshot_dir: Path
) -> None:
    venue_id = new_venue(kepu_server, f"集美学村科普基地{unique}")
    auditor = bearer(kepu_server, kepu_server.auditor, kepu_server.password)
    day = (datetime.now(UTC).astimezone(SHANGHAI) + timedelta(days=7)).date()
    slot = api(
        kepu_server, auditor, "POST", f"/api/v1/venues/{venue_id}/slots",
        {"starts_at": f"{day}T09:30:00+08:00", "ends_at": f"{day}T11:00:00+08:00", "capacity": 30},
    )  # fmt: skip

    page = phone
    sign_in(page, kepu_server.teacher, kepu_server.password)
    page.goto(f"/slots/{slot['id']}/book")
    book = page.locator(f'form[action="/slots/{slot["id"]}/book"]')
    book.locator('input[name="students"]').fill("10")
    book.locator('input[name="chaperones"]').fill("1")
    book.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    booking_id = path_id(page, r"/bookings/(\d+)$")
    expect(page.locator(".badge.confirmed")).to_be_visible()
    assert api(kepu_server, auditor, "GET", f"/api/v1/slots/{slot['id']}")["remaining"] == 19

    cancel = page.locator(f'form[action="/bookings/{booking_id}/cancel"]')
    expect(cancel).to_be_hidden()  # behind the <details>, so a stray tap cannot cancel
    page.locator("details.danger-zone > summary").click()
    cancel.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(rf"/bookings/{booking_id}$"))
    expect(page.locator(".badge.cancelled")).to_be_visible()
    expect(page.locator(".status-cancelled")).to_have_count(1)
    expect(page.locator(".qr")).to_have_count(0)
    expect(page.locator('[data-testid="pass-code"]')).to_have_count(0)
    no_horizontal_overflow(page)
    shot(page, screenshot_dir, "teacher-cancelled")
    assert api(kepu_server, auditor, "GET", f"/api/v1/slots/{slot['id']}")["remaining"] == 30


def test_language_switch_in_the_footer(phone: Any, kepu_server: KepuServer, screenshot_dir: Path) -> None:
    page = phone
    sign_in(page, kepu_server.teacher, kepu_server.password)
    expect(page).to_have_url(re.compile(r"/venues$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    page.locator('footer .langs a[href^="/lang/en"]').click()
    expect(page).to_have_url(re.compile(r"/venues$"))  # back on the same page
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Find a visit")
    expect(page.locator("footer .langs strong")).to_have_text("English")
    page.goto("/bookings")  # the choice sticks (cookie) across pages
    expect(page.locator("html")).to_have_attribute("lang", "en")
    shot(page, screenshot_dir, "language-en")

    page.locator('footer .langs a[href^="/lang/zh_CN"]').click()
    expect(page).to_have_url(re.compile(r"/bookings$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("footer .langs strong")).to_have_text("简体中文")
    expect(page.locator("h1")).to_have_text(re.compile(r"我的预约|My bookings"))
