"""Browser journeys: one real `kepu serve` on a fresh SQLite file and one Debian Chromium per session.

Nothing happens at import time (the PostgreSQL run of the suite collects this file with
``-m "not browser"``): the server, the CLI seeding and the browser all start inside session fixtures.

Without /usr/bin/chromium the browser tests are skipped, unless KEPU_REQUIRE_BROWSER is set, in
which case they fail: CI that promises browser coverage must not pass silently without a browser.
Playwright never downloads a browser here; it drives the system Chromium by path.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import EXIT_TIMEOUT_S, kepu_executable, server_env, start_servers

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
PASSWORD = "correct-horse-9"
# WeChat's in-app browser on an iPhone-sized Android phone: where most teachers open the links.
WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A.240205.004; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.188 Mobile Safari/537.36 "
    "XWEB/1260117 MMWEBSDK/20240501 MicroMessenger/8.0.50.2701(0x28003237) WeChat/arm64 "
    "Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "user_agent": WECHAT_UA,
    "accept_downloads": True,
}


def _no_browser(reason: str) -> None:
    if os.environ.get("KEPU_REQUIRE_BROWSER"):
        pytest.fail(f"KEPU_REQUIRE_BROWSER is set but {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class KepuServer:
    url: str
    db_path: Path
    env: dict[str, str]
    auditor: str = "auditor"
    teacher: str = "teacher_li"
    password: str = PASSWORD

    def kepu(self, *args: str) -> str:
        """Run a `kepu` CLI command against the server's database; its stdout."""
        done = subprocess.run(
            [str(kepu_executable()), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"kepu {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout


# Package scope: one server and one browser for all browser tests, torn down before the rest of the
# suite runs. Playwright's sync API keeps an event loop running in this thread while it is open,
# which would break every asyncio test that comes after it.
@pytest.fixture(scope="package")
def kepu_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KepuServer]:
    """`kepu migrate`, two people from `kepu user add`, then `kepu serve` until the session ends."""
    workdir = tmp_path_factory.mktemp("kepu-browser")
    db_path = workdir / "kepu.sqlite3"
    database_url = f"sqlite:///{db_path}"
    # The same environment start_servers gives the server: the test process's, plus the database
    # and a secret key, so the CLI and the server agree.
    env = server_env(database_url)
    server = KepuServer(url="", db_path=db_path, env=env)
    server.kepu("migrate")
    server.kepu(
        "user", "add", server.auditor, "--password", PASSWORD, "--role", "auditor", "--name", "市科协审计"
    )
    server.kepu(
        "user", "add", server.teacher, "--password", PASSWORD, "--role", "teacher",
        "--school", "厦门实验小学", "--district", "思明区", "--name", "李老师",
    )  # fmt: skip
    servers = start_servers(database_url, 1, workdir / "logs")
    server.url = servers[0].url
    yield server
    # SIGTERM, the graceful stop. Its exit status is the shutdown contract's business, checked by
    # tests/test_races.py (tests.servers.stop_servers); the journeys here only need it gone.
    for process in servers:
        process.terminate()
        if process.wait_exit(EXIT_TIMEOUT_S) is None:
            process.kill()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
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


@pytest.fixture
def new_phone(browser: Any, kepu_server: KepuServer) -> Iterator[Callable[[], Any]]:
    """Makes pages, each in its own phone-sized context (own cookies): one person per phone."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(base_url=kepu_server.url, **PHONE)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def phone(new_phone: Callable[[], Any]) -> Any:
    return new_phone()


@pytest.fixture
def unique() -> str:
    """A short suffix for names, since every test shares the session's database."""
    return secrets.token_hex(3)


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
