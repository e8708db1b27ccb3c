"""The science association on a phone: the dashboard's anomaly line, the flags of the year, and the
evidence behind one — three classes admitted seconds apart on one device at a new base.

Screenshots in test-artifacts/screenshots/: audit-anomalies, audit-anomaly-evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core import clock
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


def test_fast_scans_are_flagged_with_their_evidence(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str, screenshot_dir: Path
) -> None:
    start = clock.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    if clock.local(start).date() != clock.today():
        pytest.skip("Asia/Shanghai is about to pass midnight: the visit would fall on tomorrow")
    name = f"快扫基地{unique}"
    venue_id = new_venue(kepu_server, name)
    new_staff(kepu_server, venue_id, f"fast{unique}")
    admin = bearer(kepu_server, kepu_server.auditor, kepu_server.password)
    teacher = bearer(kepu_server, kepu_server.teacher, kepu_server.password)
    door = bearer(kepu_server, f"fast{unique}", kepu_server.password)
    end = start + timedelta(hours=1)
    slot = api(
        kepu_server, admin, "POST", f"/api/v1/venues/{venue_id}/slots",
        {"starts_at": start.isoformat(), "ends_at": end.isoformat(), "capacity": 200},
    )  # fmt: skip
    codes = [
        api(
            kepu_server,
            teacher,
            "POST",
            "/api/v1/bookings",
            {"slot_id": slot["id"], "students": 30, "chaperones": 3},
        )["code"]
        for _ in range(3)
    ]
    # One device, back to back: three classes in well under the three seconds each a door needs.
    for code in codes:
        api(kepu_server, door, "POST", "/api/v1/checkins", {"token": code, "device": "平板1"})

    auditor = new_phone()
    sign_in(auditor, kepu_server.auditor, kepu_server.password)
    auditor.goto("/audit")
    auditor.locator('a[href^="/audit/anomalies"]').first.click()
    section = auditor.locator("section#fast_scans")
    expect(section).to_contain_text(name)
    no_horizontal_overflow(auditor)
    shot(auditor, screenshot_dir, "audit-anomalies")

    section.get_by_role("link", name=name).click()
    records = auditor.locator("ol.evidence")
    expect(records).to_contain_text("平板1")
    assert records.locator("li.card").count() == 3
    no_horizontal_overflow(auditor)
    shot(auditor, screenshot_dir, "audit-anomaly-evidence")
