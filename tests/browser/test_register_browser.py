"""Accounts on a phone: the auditor imports schools from CSV (a report first, then the clean rows); a
teacher registers choosing the school by district without JavaScript, is told to confirm the e-mail
address, follows the link (read from the outbox in the database), signs in, sees the account page,
and later resets a forgotten password.

Screenshots in test-artifacts/screenshots/: audit-schools-report, audit-schools, register,
register-refused, register-sent, login-unconfirmed, verify, account, privacy, forgot, reset.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import KepuServer
from tests.browser.test_journeys_browser import no_horizontal_overflow, shot, sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def latest_link(server: KepuServer, kind: str, recipient: str, prefix: str) -> str:
    with sqlite3.connect(server.db_path) as db:
        row = db.execute(
            "SELECT body FROM messaging_outbox WHERE kind = ? AND recipient = ? ORDER BY id DESC LIMIT 1",
            (kind, recipient),
        ).fetchone()
    assert row, f"no {kind} mail to {recipient}"
    m = re.search(rf"https?://\S+?({re.escape(prefix)}[A-Za-z0-9_\-]+)", row[0])
    assert m, row[0]
    return m.group(1)


def test_import_register_confirm_sign_in_and_reset(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str, screenshot_dir: Path, tmp_path: Path
) -> None:
    school = f"厦门市海沧区测试小学{unique}"
    email = f"teacher.{unique}@example.edu.cn"
    password = f"haicang-{unique}-2026"

    # The auditor imports a file with one bad row: a report first, then the rows that are fine.
    auditor = new_phone()
    sign_in(auditor, kepu_server.auditor, kepu_server.password)
    auditor.goto("/audit/schools")
    csv_file = tmp_path / "schools.csv"
    csv_file.write_bytes(
        (
            "\ufeff学校名称,区,学段\n"
            f"{school},海沧区,小学\n"
            f"集美测试中学{unique},集美区,完全中学\n"
            "无名学校,火星区,大学\n"
        ).encode()
    )
    auditor.locator('input[name="file"]').set_input_files(str(csv_file))
    auditor.locator('form#import button[type="submit"]').click()
    report = auditor.locator(".import-report")
    expect(report).to_contain_text("火星区")
    no_horizontal_overflow(auditor)
    shot(auditor, screenshot_dir, "audit-schools-report")
    report.locator('button[type="submit"]').click()
    expect(auditor.locator(".flash-success")).to_be_visible()
    auditor.goto("/audit/schools?district=海沧区")
    expect(auditor.locator("table")).to_contain_text(school)
    no_horizontal_overflow(auditor)
    shot(auditor, screenshot_dir, "audit-schools")

    # A teacher finds "register" on the sign-in page and picks the school by district (no JavaScript).
    phone = new_phone()
    phone.goto("/login")
    phone.locator('a[href="/register"]').click()
    finder = phone.locator('form[action="/register"][method="get"]')
    finder.locator('select[name="district"]').select_option("海沧区")
    finder.locator('button[type="submit"]').click()
    expect(phone).to_have_url(re.compile(r"district="))
    form = phone.locator('form[action="/register"][method="post"]')
    choice = form.locator('select[name="school_id"] option', has_text=school).get_attribute("value")
    form.locator('select[name="school_id"]').select_option(choice)
    form.locator('input[name="name"]').fill("陈老师")
    form.locator('input[name="phone"]').fill("13912345678")
    form.locator('input[name="email"]').fill(email)
    form.locator('input[name="password"]').fill("13912345678")
    form.locator('input[name="password_again"]').fill("13912345678")
    form.locator('input[name="consent"]').check()
    shot(phone, screenshot_dir, "register")
    form.locator('button[type="submit"]').click()
    # A password that is the phone number is refused, and the reason named; what was typed stays.
    expect(phone.locator("#e-password")).to_be_visible()
    expect(phone.locator('input[name="email"]')).to_have_value(email)
    no_horizontal_overflow(phone)
    shot(phone, screenshot_dir, "register-refused")
    form = phone.locator('form[action="/register"][method="post"]')
    form.locator('input[name="password"]').fill(password)
    form.locator('input[name="password_again"]').fill(password)
    form.locator('input[name="consent"]').check()
    form.locator('button[type="submit"]').click()
    expect(phone).to_have_url(re.compile(r"/register/sent$"))
    shot(phone, screenshot_dir, "register-sent")

    # Not confirmed yet: signing in says so and offers a new link.
    phone.goto("/login")
    login = phone.locator('form[action="/login"]')
    login.locator('input[name="username"]').fill(email)
    login.locator('input[name="password"]').fill(password)
    login.locator('button[type="submit"]').click()
    expect(phone.locator('form[action="/verify-resend"]')).to_be_visible()
    shot(phone, screenshot_dir, "login-unconfirmed")

    # The link from the mail confirms the address once.
    link = latest_link(kepu_server, "verify_email", email, "/verify/")
    phone.goto(link)
    shot(phone, screenshot_dir, "verify")
    phone.locator(f'form[action="{link}"] button[type="submit"]').click()
    expect(phone).to_have_url(re.compile(r"/login$"))
    expect(phone.locator(".flash-success")).to_be_visible()
    sign_in(phone, email, password)
    phone.goto("/account")
    expect(phone.locator(".account-details")).to_contain_text(school)
    expect(phone.locator(".account-details")).to_contain_text("13912345678")
    no_horizontal_overflow(phone)
    shot(phone, screenshot_dir, "account")
    phone.goto(link)
    expect(phone.locator(".flash-error")).to_be_visible()

    phone.goto("/privacy")
    shot(phone, screenshot_dir, "privacy")

    # Forgotten password: a link by mail, a new password, signed in with it.
    other = new_phone()
    other.goto("/login")
    other.locator('a[href="/password/forgot"]').click()
    other.locator('input[name="email"]').fill(email)
    shot(other, screenshot_dir, "forgot")
    other.locator('form[action="/password/forgot"] button[type="submit"]').click()
    expect(other).to_have_url(re.compile(r"/password/forgot/sent$"))
    reset = latest_link(kepu_server, "reset_password", email, "/password/reset/")
    other.goto(reset)
    other.locator('input[name="password"]').fill(password + "-new")
    other.locator('input[name="password_again"]').fill(password + "-new")
    shot(other, screenshot_dir, "reset")
    other.locator(f'form[action="{reset}"] button[type="submit"]').click()
    expect(other).to_have_url(re.compile(r"/login$"))
    sign_in(other, email, password + "-new")
    # The first phone's session ended with the reset.
    phone.goto("/account")
    expect(phone).to_have_url(re.compile(r"/login"))
