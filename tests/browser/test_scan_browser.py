"""The door scanner (/staff/scan) on a phone, in a real Chromium against a real `kepu serve`.

The camera test launches its own Chromium whose fake camera plays a clip made from a real pass's QR
PNG (the package's shared browser has no camera); the hand-held scanner (keystrokes + Enter) and the
typed code use the shared browser. Every page is kept to 127.0.0.1: a request elsewhere fails the test.
Screenshots of each state go to test-artifacts/screenshots/scan-*.png.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, KepuServer
from tests.browser.scan_fixtures import camera_args, clip_from_png
from tests.browser.test_journeys_browser import (
    SHANGHAI,
    api,
    bearer,
    move_slot_to_now,
    new_staff,
    new_venue,
    no_horizontal_overflow,
    plan_today_slot,
    sign_in,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


@dataclass
class DoorDay:
    """A venue with a door-staff account and passes for a slot today (and one for another day)."""

    venue_id: int
    staff: str
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Late in the Shanghai day the slot is booked for tomorrow and then moved to now: the server
    # admits by the slot, but the passes still carry tomorrow's date, which an offline phone checks.
    passes_dated_tomorrow: bool = False


def _slot(server: KepuServer, venue_id: int, date: str, start: str, end: str) -> int:
    auditor = bearer(server, server.auditor, server.password)
    body = {"starts_at": f"{date}T{start}:00+08:00", "ends_at": f"{date}T{end}:00+08:00", "capacity": 400}
    return int(api(server, auditor, "POST", f"/api/v1/venues/{venue_id}/slots", body)["id"])


@pytest.fixture(scope="module")
def door_day(kepu_server: KepuServer) -> DoorDay:
    unique = secrets.token_hex(3)
    venue_id = new_venue(kepu_server, f"厦门科技馆{unique}")
    day = DoorDay(venue_id, f"scan_{unique}")
    new_staff(kepu_server, venue_id, day.staff)
    plan = plan_today_slot()
    today_slot = _slot(kepu_server, venue_id, plan.date, plan.start, plan.end)
    later = (datetime.now(UTC).astimezone(SHANGHAI) + timedelta(days=3)).date().isoformat()
    later_slot = _slot(kepu_server, venue_id, later, "09:30", "11:00")
    teacher = bearer(kepu_server, kepu_server.teacher, kepu_server.password)
    for name, slot_id, students, chaperones, class_name in (
        ("camera", today_slot, 30, 2, "1班"),
        ("handheld", today_slot, 25, 2, "2班"),
        ("typed", today_slot, 40, 2, "3班"),
        ("cancelled", today_slot, 20, 1, "4班"),
        ("offline1", today_slot, 28, 2, "6班"),
        ("offline2", today_slot, 33, 3, "7班"),
        ("later", later_slot, 20, 1, "5班"),
    ):
        body = {
            "slot_id": slot_id,
            "students": students,
            "chaperones": chaperones,
            "grade": "四年级",
            "class_name": class_name,
        }
        day.bookings[name] = api(kepu_server, teacher, "POST", "/api/v1/bookings", body)
    api(kepu_server, teacher, "POST", f"/api/v1/bookings/{day.bookings['cancelled']['id']}/cancel")
    if plan.move_after_booking:
        move_slot_to_now(kepu_server.db_path, today_slot)
        day.passes_dated_tomorrow = True
    return day


def booking(server: KepuServer, booking_id: int) -> dict[str, Any]:
    auditor = bearer(server, server.auditor, server.password)
    return dict(api(server, auditor, "GET", f"/api/v1/bookings/{booking_id}"))


class Guard:
    """Fails the test if the page asks anything of a host other than 127.0.0.1 or breaks its CSP.

    It only listens (a route handler would bypass the page's service worker, see Playwright's docs).
    """

    def __init__(self, context: Any) -> None:
        self.external: list[str] = []
        self.console: list[str] = []
        context.on("request", self._request)

    def _request(self, request: Any) -> None:
        if urlparse(request.url).hostname not in ("127.0.0.1", "localhost"):
            self.external.append(request.url)

    def watch(self, page: Any) -> Any:
        page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        return page

    def check(self) -> None:
        assert self.external == [], f"the scan page reached outside kepu: {self.external}"
        csp = [m for m in self.console if "Content Security Policy" in m]
        assert csp == [], csp


def phone_page(browser: Any, server: KepuServer) -> tuple[Any, Any, Guard]:
    context = browser.new_context(base_url=server.url, **PHONE)
    context.set_default_timeout(10_000)
    guard = Guard(context)
    return context, guard.watch(context.new_page()), guard


def shot(page: Any, shots: Path, name: str) -> None:
    no_horizontal_overflow(page)
    assert_accessible(page)
    page.screenshot(path=str(shots / f"{name}.png"))  # the viewport: what the door sees


def verdict(page: Any, result: str, tone: str) -> Any:
    box = page.locator("#scan-result")
    expect(box).to_be_visible()
    expect(box).to_have_attribute("data-result", result)
    expect(box).to_have_attribute("data-tone", tone)
    return box


@pytest.fixture(scope="module")
def camera_browser(
    browser: Any, kepu_server: KepuServer, door_day: DoorDay, tmp_path_factory: Any
) -> Iterator[Any]:
    """A Chromium of its own whose camera shows the "camera" pass, as GET .../qr.png serves it."""
    teacher = bearer(kepu_server, kepu_server.teacher, kepu_server.password)
    png = httpx.get(
        f"{kepu_server.url}/api/v1/bookings/{door_day.bookings['camera']['id']}/qr.png", headers=teacher
    )
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    clip = clip_from_png(png.content, tmp_path_factory.mktemp("camera") / "pass.y4m")
    b = browser.browser_type.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + camera_args(clip))
    yield b
    b.close()


def test_camera_scans_a_real_pass_and_admits_it(
    camera_browser: Any, kepu_server: KepuServer, door_day: DoorDay, screenshot_dir: Path
) -> None:
    context, page, guard = phone_page(camera_browser, kepu_server)
    try:
        sign_in(page, door_day.staff, kepu_server.password)
        page.goto("/staff/scan")
        expect(page.locator("#scan-camera")).to_have_attribute("data-camera", "off")
        page.locator("#scan-camera-toggle").click()
        box = verdict(page, "admitted", "ok")
        expect(page.locator("#scan")).to_have_attribute(
            "data-how", "zxing-wasm"
        )  # no native detector on Linux
        expect(box.locator("#scan-school")).to_have_text("厦门实验小学")
        expect(box.locator("#scan-class")).to_have_text("四年级 1班")
        expect(page.locator("#scan-part")).to_be_hidden()  # everyone is in
        shot(page, screenshot_dir, "scan-admitted")
        b = booking(kepu_server, door_day.bookings["camera"]["id"])
        assert (b["admitted_students"], b["admitted_chaperones"]) == (30, 2)
        # The pass stays in front of the camera: it is not read again as "already checked in".
        page.wait_for_timeout(1500)
        expect(box).to_have_attribute("data-result", "admitted")
        page.locator("#scan-next").click()
        expect(box).to_be_hidden()
        expect(page.locator("#scan-camera")).to_have_attribute("data-camera", "on")
        shot(page, screenshot_dir, "scan-camera")
        guard.check()
    finally:
        context.close()


def test_hand_held_scanner_typed_code_partial_arrival_and_refusals(
    browser: Any, kepu_server: KepuServer, door_day: DoorDay, screenshot_dir: Path
) -> None:
    context, page, guard = phone_page(browser, kepu_server)
    try:
        sign_in(page, door_day.staff, kepu_server.password)
        page.goto("/staff/scan")
        shot(page, screenshot_dir, "scan-ready")

        # A hand-held scanner types the QR text into the focused field and presses Enter.
        page.locator("#scan-token").click()
        page.keyboard.type(door_day.bookings["handheld"]["qr_token"])
        page.keyboard.press("Enter")
        verdict(page, "admitted", "ok")
        expect(page.locator("#scan-class")).to_have_text("四年级 2班")
        b = booking(kepu_server, door_day.bookings["handheld"]["id"])
        assert (b["admitted_students"], b["admitted_chaperones"]) == (25, 2)
        page.locator("#scan-next").click()

        # The first bus of a class: fewer people than booked, the typed code (any case, with dashes).
        typed = door_day.bookings["typed"]
        page.locator("#scan-counts summary").click()
        page.locator("#scan-students").fill("30")
        page.locator("#scan-chaperones").fill("1")
        page.locator("#scan-token").fill(typed["code"].upper())
        page.locator("#scan-submit").click()
        box = verdict(page, "admitted", "ok")
        part = page.locator("#scan-part")
        expect(part).to_be_visible()
        expect(part.locator("#scan-part-students")).to_have_value("10")
        expect(part.locator("#scan-part-chaperones")).to_have_value("1")
        shot(page, screenshot_dir, "scan-partial")
        # The next bus: one tap admits what remains.
        part.locator("#scan-part-submit").click()
        expect(box.locator("#scan-admitted")).to_contain_text("40")
        expect(part).to_be_hidden()
        b = booking(kepu_server, typed["id"])
        assert (b["admitted_students"], b["admitted_chaperones"]) == (40, 2)
        page.locator("#scan-next").click()
        # The counts entered were for that class only.
        expect(page.locator("#scan-students")).to_have_value("")

        # Amber and red screens.
        for token, result, tone, name in (
            (typed["code"], "already_checked_in", "warn", "scan-already-in"),
            (door_day.bookings["cancelled"]["qr_token"], "cancelled", "bad", "scan-cancelled"),
            (door_day.bookings["later"]["qr_token"], "wrong_day", "bad", "scan-wrong-day"),
            ("not-a-pass", "invalid", "bad", "scan-invalid"),
        ):
            page.locator("#scan-token").click()
            page.keyboard.type(token)
            page.keyboard.press("Enter")
            verdict(page, result, tone)
            expect(page.locator("#scan-result-detail")).not_to_be_empty()
            shot(page, screenshot_dir, name)
            page.locator("#scan-next").click()
        b = booking(kepu_server, typed["id"])
        assert (b["admitted_students"], b["admitted_chaperones"]) == (40, 2)
        guard.check()
    finally:
        context.close()


def test_a_pass_of_another_venue_is_red(
    browser: Any, kepu_server: KepuServer, door_day: DoorDay, screenshot_dir: Path
) -> None:
    other = new_venue(kepu_server, f"集美学村科普基地{secrets.token_hex(3)}")
    staff = f"other_{secrets.token_hex(3)}"
    new_staff(kepu_server, other, staff)
    context, page, guard = phone_page(browser, kepu_server)
    try:
        sign_in(page, staff, kepu_server.password)
        page.goto("/staff/scan")
        page.locator("#scan-token").fill(door_day.bookings["later"]["qr_token"])
        page.locator("#scan-token").press("Enter")
        verdict(page, "wrong_venue", "bad")
        expect(page.locator("#scan-facts")).to_be_hidden()  # nothing about another venue's booking
        shot(page, screenshot_dir, "scan-wrong-venue")
        guard.check()
    finally:
        context.close()


def until(page: Any, script: str, timeout_s: float = 15.0) -> Any:
    """Polls a script with page.evaluate (wait_for_function would be refused by the page's CSP)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(script)
        if value or time.monotonic() > deadline:
            return value
        page.wait_for_timeout(100)


def admissions(server: KepuServer, booking_ids: list[int]) -> list[tuple[int, int, int, int, str]]:
    marks = ",".join("?" * len(booking_ids))
    with sqlite3.connect(server.db_path) as conn:
        return list(
            conn.execute(
                f"SELECT booking, students, chaperones, offline, nonce FROM bookings_checkin "
                f"WHERE result = 'admitted' AND booking IN ({marks}) ORDER BY booking",
                booking_ids,
            )
        )


def test_offline_scans_are_checked_on_the_phone_and_sent_once_when_back_online(
    browser: Any, kepu_server: KepuServer, door_day: DoorDay, screenshot_dir: Path
) -> None:
    if door_day.passes_dated_tomorrow:
        pytest.skip("too late in the Shanghai day: the passes carry tomorrow's date, checked offline")
    one, two = door_day.bookings["offline1"], door_day.bookings["offline2"]
    context, page, guard = phone_page(browser, kepu_server)
    try:
        sign_in(page, door_day.staff, kepu_server.password)
        page.goto("/staff/scan")
        # Online first: the service worker keeps the page and its files, the bundle is stored.
        assert until(page, "async () => !!(await navigator.serviceWorker.ready).active")
        assert until(
            page,
            "async () => !!(await caches.match('/staff/scan'))"
            " && !!(await caches.match('/static/js/scan.js'))",
        )
        expect(page.locator("#scan")).to_have_attribute("data-synced", re.compile(r"^\d+$"))
        expect(page.locator("#scan-sync")).to_have_attribute("data-mode", "online")

        context.set_offline(True)
        response = page.reload()
        assert response is not None and response.from_service_worker
        expect(page.locator("#scan-token")).to_be_visible()
        expect(page.locator("#scan-sync")).to_have_attribute("data-mode", "offline")

        def hand_held(token: str) -> None:
            page.locator("#scan-token").click()
            page.keyboard.type(token)
            page.keyboard.press("Enter")

        hand_held(one["qr_token"])
        box = verdict(page, "admitted", "ok")
        expect(box).to_have_attribute("data-offline", "1")
        expect(page.locator("#scan-class")).to_have_text("四年级 6班")
        page.locator("#scan-next").click()
        hand_held(two["qr_token"])
        verdict(page, "admitted", "ok")
        expect(page.locator("#scan-admitted")).to_contain_text("33")
        shot(page, screenshot_dir, "scan-offline-admitted")
        page.locator("#scan-next").click()
        expect(page.locator("#scan-sync")).to_have_attribute("data-waiting", "2")
        shot(page, screenshot_dir, "scan-offline")
        # Checked on the phone: a rescan, a cancelled pass and an altered one.
        hand_held(one["qr_token"])
        verdict(page, "already_checked_in", "warn")
        page.locator("#scan-next").click()
        hand_held(door_day.bookings["cancelled"]["qr_token"])
        verdict(page, "cancelled", "bad")
        page.locator("#scan-next").click()
        forged = one["qr_token"][:-3] + ("A" if one["qr_token"][-3] != "A" else "B") + one["qr_token"][-2:]
        hand_held(forged)
        verdict(page, "invalid", "bad")
        page.locator("#scan-next").click()
        expect(page.locator("#scan-sync")).to_have_attribute("data-waiting", "2")
        assert admissions(kepu_server, [one["id"], two["id"]]) == []  # nothing reached the server

        context.set_offline(False)
        expect(page.locator("#scan-sync")).to_have_attribute("data-waiting", "0", timeout=15_000)
        expect(page.locator("#scan-sync")).to_have_attribute("data-mode", "online")
        rows = admissions(kepu_server, [one["id"], two["id"]])
        assert [r[:4] for r in rows] == [(one["id"], 28, 2, 1), (two["id"], 33, 3, 1)]
        for b, people in ((one, (28, 2)), (two, (33, 3))):
            got = booking(kepu_server, b["id"])
            assert (got["admitted_students"], got["admitted_chaperones"]) == people

        # The same upload once more (a lost answer, a second device syncing the same queue): no change.
        items = [
            {"token": one["qr_token"], "nonce": rows[0][4]},
            {"token": two["qr_token"], "nonce": rows[1][4]},
        ]
        replay = page.evaluate(
            """async (items) => {
                const csrf = document.querySelector('meta[name="csrf-token"]').content;
                const r = await fetch('/staff/scan/upload', {method: 'POST', body: JSON.stringify(items),
                    headers: {'content-type': 'application/json', 'x-csrftoken': csrf}});
                return [r.status, (await r.json()).results.map((x) => x.result)];
            }""",
            items,
        )
        assert replay == [200, ["admitted", "admitted"]]
        assert admissions(kepu_server, [one["id"], two["id"]]) == rows
        guard.check()
    finally:
        context.close()


def test_offline_check_keeps_the_venues_arrival_window(
    browser: Any, kepu_server: KepuServer, screenshot_dir: Path
) -> None:
    unique = secrets.token_hex(3)
    venue_id = new_venue(kepu_server, f"海沧科普基地{unique}")
    staff = f"window_{unique}"
    new_staff(kepu_server, venue_id, staff)
    plan = plan_today_slot()
    if plan.move_after_booking:
        pytest.skip("too late in the Shanghai day for a slot that has not started yet")
    with sqlite3.connect(kepu_server.db_path) as conn:  # arrival from the start to the end of the slot
        conn.execute(
            "UPDATE venues_venue SET arrival_before_start_minutes = 0, arrival_after_end_minutes = 0 "
            "WHERE id = ?",
            (venue_id,),
        )
    slot_id = _slot(kepu_server, venue_id, plan.date, plan.start, plan.end)
    teacher = bearer(kepu_server, kepu_server.teacher, kepu_server.password)
    early = api(
        kepu_server,
        teacher,
        "POST",
        "/api/v1/bookings",
        {"slot_id": slot_id, "students": 20, "chaperones": 1},
    )
    context, page, guard = phone_page(browser, kepu_server)
    try:
        sign_in(page, staff, kepu_server.password)
        page.goto("/staff/scan")
        assert until(page, "async () => !!(await navigator.serviceWorker.ready).active")
        expect(page.locator("#scan")).to_have_attribute("data-synced", re.compile(r"^\d+$"))
        context.set_offline(True)
        page.locator("#scan-token").fill(early["qr_token"])
        page.locator("#scan-token").press("Enter")
        box = verdict(page, "outside_window", "warn")
        expect(box).to_have_attribute("data-offline", "1")
        expect(page.locator("#scan-result-detail")).to_contain_text(plan.start)
        shot(page, screenshot_dir, "scan-offline-outside-window")
        page.locator("#scan-next").click()
        expect(page.locator("#scan-sync")).to_have_attribute("data-waiting", "0")
        # The server, asked online, says the same.
        context.set_offline(False)
        expect(page.locator("#scan-sync")).to_have_attribute("data-mode", "online", timeout=15_000)
        page.locator("#scan-token").fill(early["qr_token"])
        page.locator("#scan-token").press("Enter")
        box = verdict(page, "outside_window", "warn")
        expect(box).to_have_attribute("data-offline", "0")
        got = booking(kepu_server, early["id"])
        assert (got["admitted_students"], got["admitted_chaperones"]) == (0, 0)
        guard.check()
    finally:
        context.close()
