"""The waiting list on a phone: a slot is full, the teacher joins the list, another school cancels,
the offer appears, the teacher accepts and gets the pass; the pass also prints on one A4 page.

Screenshots (test-artifacts/screenshots/): teacher-waitlist-join, teacher-waitlist-waiting,
teacher-waitlist-offer, teacher-waitlist-pass, teacher-pass-print.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import KepuServer
from tests.browser.test_journeys_browser import api, bearer, new_venue, no_horizontal_overflow, shot, sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_full_slot_waitlist_offer_accepted_and_pass(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str, screenshot_dir: Path
) -> None:
    venue_id = new_venue(kepu_server, f"厦门海洋馆{unique}")
    other = f"wl_other_{unique}"
    kepu_server.kepu(
        "user", "add", other, "--password", kepu_server.password, "--role", "teacher",
        "--school", "集美中学", "--district", "集美区", "--name", "陈老师",
    )  # fmt: skip
    auditor = bearer(kepu_server, kepu_server.auditor, kepu_server.password)
    day = datetime.now(UTC).astimezone(SHANGHAI).date() + timedelta(days=6)
    starts = datetime(day.year, day.month, day.day, 9, 30, tzinfo=SHANGHAI)
    slot = api(
        kepu_server,
        auditor,
        "POST",
        f"/api/v1/venues/{venue_id}/slots",
        {
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": 40,
        },
    )
    other_h = bearer(kepu_server, other, kepu_server.password)
    full = api(
        kepu_server,
        other_h,
        "POST",
        "/api/v1/bookings",
        {"slot_id": slot["id"], "students": 36, "chaperones": 4},
    )

    page = new_phone()
    sign_in(page, kepu_server.teacher, kepu_server.password)
    page.goto(f"/slots/{slot['id']}/book")
    link = page.locator('[data-testid="waitlist-offer-link"] a')
    expect(link).to_be_visible()
    link.click()
    form = page.locator(f'form[action="/slots/{slot["id"]}/waitlist"]')
    form.locator('input[name="students"]').fill("28")
    form.locator('input[name="chaperones"]').fill("2")
    form.locator('input[name="grade"]').fill("四年级")
    form.locator('input[name="class_name"]').fill("2班")
    form.locator('input[name="flexibility"][value="day"]').check()
    no_horizontal_overflow(page)
    shot(page, screenshot_dir, "teacher-waitlist-join")
    form.locator('button[type="submit"]').click()
    expect(page.locator('[data-testid="waitlist-state"]')).to_be_visible()
    expect(page.locator('[data-testid="waitlist-position"]')).to_have_text("1")
    no_horizontal_overflow(page)
    shot(page, screenshot_dir, "teacher-waitlist-waiting")

    # The other school cancels: in the same moment the places are held for this class.
    api(kepu_server, other_h, "POST", f"/api/v1/bookings/{full['id']}/cancel")
    page.reload()
    offer = page.locator('[data-testid="waitlist-offer"]')
    expect(offer).to_be_visible()
    shot(page, screenshot_dir, "teacher-waitlist-offer")
    offer.locator('button[type="submit"]').first.click()

    expect(page.locator('[data-testid="pass-code"]')).to_be_visible()
    expect(page.locator('[data-testid="pass-qr-download"]')).to_have_attribute(
        "download", "kepu-pass-" + page.url.rsplit("/", 1)[1] + ".png"
    )
    expect(page.locator('[data-testid="pass-print"]')).to_be_visible()
    no_horizontal_overflow(page)
    shot(page, screenshot_dir, "teacher-waitlist-pass")
    seen = api(kepu_server, auditor, "GET", f"/api/v1/slots/{slot['id']}")
    assert seen["booked"] == 30

    # Printed: one A4 page, no navigation, the QR large.
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator('[data-testid="pass-print"]')).to_be_hidden()
    qr_width = page.locator(".pass-qr").evaluate("e => e.getBoundingClientRect().width")
    assert qr_width >= 250, qr_width
    page.screenshot(path=str(screenshot_dir / "teacher-pass-print.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=True)
    assert _pages(pdf) == 1, f"the printed pass takes {_pages(pdf)} A4 pages"
    page.emulate_media(media="screen")


def _pages(pdf: bytes) -> int:
    import re

    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
