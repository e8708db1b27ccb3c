"""A teacher's own data on a phone: the account page offers the download and the deletion; a wrong
password is refused with a sentence; the right one deletes the account and signs out.

Its own module-scoped server and browser (tests/browser's are package-scoped there), closed when
this module ends so that Playwright's event loop never outlives it.
Screenshots in test-artifacts/screenshots/: account-own-data, account-delete-refused,
account-deleted, privacy-own-data.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, KepuServer, _no_browser
from tests.servers import EXIT_TIMEOUT_S, server_env, start_servers

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-9"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KepuServer]:
    workdir = tmp_path_factory.mktemp("kepu-own-data")
    db_path = workdir / "kepu.sqlite3"
    database_url = f"sqlite:///{db_path}"
    kepu = KepuServer(url="", db_path=db_path, env=server_env(database_url))
    kepu.kepu("migrate")
    processes = start_servers(database_url, 1, workdir / "logs")
    kepu.url = processes[0].url
    yield kepu
    for process in processes:
        process.terminate()
        if process.wait_exit(EXIT_TIMEOUT_S) is None:
            process.kill()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _no_browser(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("the playwright package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def shot(page: Any, name: str) -> None:
    from tests.browser.axe import assert_accessible

    assert_accessible(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]}px wide on a {widths[1]}px phone"


def test_download_and_delete_on_a_phone(server: KepuServer, chromium: Any, tmp_path: Path) -> None:
    name = f"teacher_{secrets.token_hex(3)}"
    server.kepu(
        "user", "add", name, "--password", PASSWORD, "--role", "teacher",
        "--school", "厦门实验小学", "--district", "思明区", "--name", "林老师",
    )  # fmt: skip
    context = chromium.new_context(base_url=server.url, **PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto("/login")
        page.locator('form[action="/login"] input[name="username"]').fill(name)
        page.locator('form[action="/login"] input[name="password"]').fill(PASSWORD)
        page.locator('form[action="/login"] button[type="submit"]').click()
        page.goto("/account")
        expect(page.locator("#my-data")).to_be_visible()
        expect(page.locator("#delete-account")).to_be_visible()
        shot(page, "account-own-data")

        with page.expect_download() as info:
            page.locator('#my-data a[href="/account/data"]').click()
        saved = tmp_path / "my-data.json"
        info.value.save_as(saved)
        data = json.loads(saved.read_text(encoding="utf-8"))
        assert data["account"]["username"] == name
        assert data["school"]["name"] == "厦门实验小学"

        form = page.locator("#delete-account")
        form.locator('input[name="delete_password"]').fill("not-the-password")
        form.locator('button[type="submit"]').click()
        expect(page.locator("#e-delete_password")).to_be_visible()
        shot(page, "account-delete-refused")

        form = page.locator("#delete-account")
        form.locator('input[name="delete_password"]').fill(PASSWORD)
        form.locator('button[type="submit"]').click()
        expect(page).to_have_url(f"{server.url}/login")
        expect(page.locator(".flash-success")).to_be_visible()
        shot(page, "account-deleted")

        page.goto("/account")
        expect(page).to_have_url(f"{server.url}/login?next=%2Faccount")
        page.locator('form[action="/login"] input[name="username"]').fill(name)
        page.locator('form[action="/login"] input[name="password"]').fill(PASSWORD)
        page.locator('form[action="/login"] button[type="submit"]').click()
        expect(page.locator('[role="alert"]')).to_be_visible()

        page.goto("/privacy")
        shot(page, "privacy-own-data")
    finally:
        context.close()
