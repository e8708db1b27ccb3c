"""The README's screenshots: a fresh SQLite demo, one `kepu serve`, Debian's Chromium on a phone viewport.

Run from the repository root with the project's venv: `.venv/bin/python scripts/readme_screenshots.py`.
Writes docs/screenshots/{teacher-main,teacher-pass,staff-main,auditor-main}.png.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
KEPU = Path(sys.executable).parent / "kepu"
PASSWORD = "kepu-demo-2026"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("networkidle")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/demo.sqlite3"}
        subprocess.run([str(KEPU), "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([str(KEPU), "demo"], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            [str(KEPU), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"{base}/readyz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                for who, shots in (
                    ("teacher01", [("/venues", "teacher-main")]),
                    ("staff01", [("/staff", "staff-main")]),
                    ("auditor", [("/audit", "auditor-main")]),
                ):
                    context = browser.new_context(**PHONE)
                    page = context.new_page()
                    sign_in(page, base, who)
                    for path, name in shots:
                        page.goto(base + path)
                        page.screenshot(path=str(OUT / f"{name}.png"))
                    if who == "teacher01":
                        page.goto(f"{base}/bookings")
                        link = page.locator("a[href^='/bookings/']").first.get_attribute("href") or ""
                        assert re.fullmatch(r"/bookings/\d+", link), link
                        page.goto(base + link)
                        page.screenshot(path=str(OUT / "teacher-pass.png"))
                    context.close()
                browser.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(20)
    print("wrote", ", ".join(sorted(p.name for p in OUT.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
