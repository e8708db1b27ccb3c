"""The outbox page and the calendar subscription page in Chromium on a phone: they work, pass axe-core,
and the address the teacher copies serves a calendar (screenshots in test-artifacts/screenshots/)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import KepuServer

pytestmark = pytest.mark.browser


def sign_in(page: Any, username: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    form = page.locator('form[action="/login"]')
    form.locator('input[name="username"]').fill(username)
    form.locator('input[name="password"]').fill(password)
    form.locator('button[type="submit"]').click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def shot(page: Any, shots: Path, name: str) -> None:
    assert_accessible(page)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_teacher_makes_copies_and_switches_off_a_calendar_address(
    phone: Any, kepu_server: KepuServer, screenshot_dir: Path
) -> None:
    page = phone
    sign_in(page, kepu_server.teacher, kepu_server.password)
    page.goto("/bookings")
    page.locator('a[href="/account/calendar"]').click()
    shot(page, screenshot_dir, "teacher-calendar-subscription")
    page.locator('form[action="/account/calendar"] button[type="submit"]').click()
    url_field = page.get_by_test_id("feed-url")
    url = url_field.input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/calendar/[A-Za-z0-9_-]+\.ics", url), url
    webcal = page.locator('a[href^="webcal://"]').get_attribute("href")
    assert webcal == "webcal://" + url.split("://", 1)[1]
    page.locator("button[data-copy]").click()  # selects the address (the clipboard needs HTTPS)
    assert page.evaluate("() => document.activeElement.id") in ("feed-url", "")
    shot(page, screenshot_dir, "teacher-calendar-address")
    feed = page.request.get(url)
    assert feed.status == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert feed.body().startswith(b"BEGIN:VCALENDAR")
    page.goto("/account/calendar")
    page.locator('form[action="/account/calendar/revoke"] button').click()
    page.wait_for_url(re.compile(r"/account/calendar$"))
    assert page.request.get(url).status == 404


def test_auditor_reads_the_outbox(phone: Any, kepu_server: KepuServer, screenshot_dir: Path) -> None:
    with sqlite3.connect(kepu_server.db_path) as conn:
        conn.execute(
            "INSERT INTO messaging_outbox (kind, recipient, subject, body, masked_body, attachment_name, "
            "attachment_type, state, attempts, last_error, next_attempt_at, created_at) VALUES "
            "('reset_password', 'li@school.example', '重置密码', 'https://x/reset/SECRET', "
            "'打开 https://x/reset/•••••• 设置新密码', '', '', 'pending', 2, "
            "'ConnectionRefusedError: [Errno 111] Connection refused', "
            "'2030-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
        )
    page = phone
    sign_in(page, kepu_server.auditor, kepu_server.password)
    page.locator("summary").first.click()
    page.locator('nav a[href="/audit/outbox"]').click()
    page.wait_for_url(re.compile(r"/audit/outbox"))
    message = page.get_by_test_id("outbox-message").filter(has_text="重置密码")
    message.locator("summary").click()
    assert "SECRET" not in page.content()
    assert "reset/••••••" in message.inner_text()
    shot(page, screenshot_dir, "auditor-outbox")
