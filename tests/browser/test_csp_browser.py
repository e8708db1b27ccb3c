"""Under the strict Content-Security-Policy (src/kepu/security.py) Chromium blocks nothing on our pages,
and the behaviours moved out of inline handlers into assets/js still work: the print buttons call
window.print (stubbed here), the district filter submits itself, and the bases import moves its
progress bar to the end with no click.

Violations are caught twice: a `securitypolicyviolation` listener installed before any page script
(Playwright init scripts are not subject to the page's policy), and Chromium's console reports
("Refused to … because it violates the following Content Security Policy directive").
Each role also opens every page of its menu, so pages added later are held to the same rule.
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
from tests.browser.test_evaluation_browser import _xlsx
from tests.browser.test_journeys_browser import api, bearer, new_staff, new_venue, sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser
SHANGHAI = ZoneInfo("Asia/Shanghai")

WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile || location.pathname}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""
STUB_PRINT = "() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }"


class CspWatch:
    """Collects every CSP violation a page reports, across its navigations."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(WATCH)
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console.append(f"{self.page.url}: {text}")

    def violations(self) -> list[str]:
        self.page.wait_for_load_state("load")
        events = self.page.evaluate("window.__cspViolations || []")
        return [f"{self.page.url}: {e}" for e in events] + self.console

    def assert_clean(self) -> None:
        found = self.violations()
        assert not found, "Content-Security-Policy violations:\n" + "\n".join(found)

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert "'unsafe-inline'" not in (response.headers.get("content-security-policy") or "'unsafe-inline'")
        self.assert_clean()

    def menu(self) -> list[str]:
        """The pages in the signed-in person's menu."""
        hrefs = self.page.locator("header.topbar nav a").evaluate_all("links => links.map(a => a.pathname)")
        assert hrefs, f"no menu on {self.page.url}"
        return sorted(set(hrefs))


def press_print(page: Any, selector: str) -> None:
    page.evaluate(STUB_PRINT)
    page.locator(selector).first.click()
    assert page.evaluate("window.__printed") == 1, f"the print button on {page.url} did not print"


def _booking(server: KepuServer, unique: str) -> tuple[int, int, str]:
    """A venue with a staff member, a slot in three days, and a confirmed booking of the teacher."""
    venue_id = new_venue(server, f"厦门科技馆{unique}")
    staff = f"csp_staff_{unique}"
    new_staff(server, venue_id, staff)
    auditor = bearer(server, server.auditor, server.password)
    day = datetime.now(UTC).astimezone(SHANGHAI).date() + timedelta(days=3)
    starts = datetime(day.year, day.month, day.day, 9, 30, tzinfo=SHANGHAI)
    slot = api(
        server,
        auditor,
        "POST",
        f"/api/v1/venues/{venue_id}/slots",
        {
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "capacity": 60,
        },
    )
    teacher = bearer(server, server.teacher, server.password)
    body = {"slot_id": slot["id"], "students": 20, "chaperones": 2}
    booking = api(server, teacher, "POST", "/api/v1/bookings", body)
    assert booking["status"] == "confirmed", booking
    return venue_id, int(booking["id"]), staff


def test_the_watch_sees_a_violation(phone: Any, kepu_server: KepuServer) -> None:
    """The check can fail: script and style put inline by the page are reported."""
    watch = CspWatch(phone)
    watch.visit("/login")
    phone.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.__ran = 1";
          document.body.append(s);
          document.body.setAttribute("style", "color: red");
        }"""
    )
    expect(phone.locator("body")).to_have_attribute("style", "color: red")
    phone.wait_for_function("window.__cspViolations.length >= 2")
    assert phone.evaluate("window.__ran") is None  # blocked, not run
    found = watch.violations()
    assert any("script-src" in v for v in found), found
    assert any("style-src" in v for v in found), found


def test_teacher_pages_and_the_pass_print_button(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str
) -> None:
    venue_id, booking_id, _ = _booking(kepu_server, unique)
    page = new_phone()
    watch = CspWatch(page)
    for path in ("/login", "/register", "/privacy"):
        watch.visit(path)
    sign_in(page, kepu_server.teacher, kepu_server.password)
    for path in [*watch.menu(), f"/venues/{venue_id}", f"/venues/{venue_id}/calendar", "/account"]:
        watch.visit(path)
    watch.visit(f"/bookings/{booking_id}")
    press_print(page, '[data-testid="pass-print"]')
    watch.assert_clean()


def test_staff_pages_roster_print_and_the_scan_page(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str
) -> None:
    venue_id, booking_id, staff = _booking(kepu_server, unique)
    page = new_phone()
    watch = CspWatch(page)
    sign_in(page, staff, kepu_server.password)
    menu = watch.menu()
    assert "/staff/scan" in menu and "/staff/roster" in menu, menu
    for path in [*menu, f"/bookings/{booking_id}", f"/venues/{venue_id}/programmes"]:
        watch.visit(path)
    # The scan page has its own policy: the same strict one plus 'wasm-unsafe-eval' for the decoder.
    response = page.goto("/staff/scan")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in csp and "'unsafe-inline'" not in csp, csp
    expect(page.locator("#walkins")).to_be_visible()
    watch.assert_clean()
    day = (datetime.now(UTC).astimezone(SHANGHAI).date() + timedelta(days=3)).isoformat()
    watch.visit(f"/staff/roster?date={day}")
    press_print(page, '[data-action="print"]')
    watch.assert_clean()


def test_auditor_pages_filter_print_and_import_progress(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str, tmp_path: Path
) -> None:
    venue_id, booking_id, _ = _booking(kepu_server, unique)
    page = new_phone()
    watch = CspWatch(page)
    sign_in(page, kepu_server.auditor, kepu_server.password)
    for path in [*watch.menu(), f"/audit/venues/{venue_id}", f"/bookings/{booking_id}"]:
        watch.visit(path)

    # The district filter submits itself when the choice changes (data-autosubmit in app.js).
    watch.visit("/audit/venues")
    page.locator("select[data-autosubmit][name='district']").select_option("思明区")
    expect(page).to_have_url(re.compile(r"/audit/venues\?district="))
    watch.assert_clean()

    # A base's yearly report prints.
    watch.visit(f"/audit/scorecards/{venue_id}")
    press_print(page, '[data-action="print"]')
    watch.assert_clean()

    # The import: the progress script (assets/js/import-progress.js) steps to the end with no click.
    rows: list[list[Any]] = [
        [f"CSP基地{unique}-{i:03d}", "科技馆", "思明区", f"测试路{i}号", "市级", "2024年第一批",
         "2024-05-20", "2027-05-19", "陈老师", "0592-555"]
        for i in range(120)
    ]  # fmt: skip
    path = tmp_path / "bases.xlsx"
    path.write_bytes(_xlsx(rows))
    watch.visit("/audit/bases/import")
    page.locator('input[name="file"]').set_input_files(str(path))
    page.locator('form[action="/audit/bases/import"] button[type="submit"]').click()
    start = page.locator('form[action$="/start"] button[type="submit"]')
    expect(start).to_be_visible()
    watch.assert_clean()
    steps: list[int] = []
    page.on(
        "response",
        lambda r: steps.append(r.status) if r.request.method == "POST" and r.url.endswith("/step") else None,
    )
    start.click()
    expect(page.locator("#import-progress")).to_have_attribute("data-state", "done", timeout=30_000)
    expect(page.locator("#import-progress progress")).to_have_attribute("value", "120")
    assert steps == [200, 200, 200], steps  # 50 + 50 + 20 rows, each step asked for by the script
    expect(page.locator("#step-form")).to_have_count(0)
    watch.assert_clean()
