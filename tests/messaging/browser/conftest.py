"""The browser fixtures of tests/browser, in a package of their own so their server and Chromium are
torn down before the asyncio tests of tests/messaging run (see tests/browser/conftest.py)."""

from tests.browser.conftest import browser, kepu_server, new_phone, phone, screenshot_dir, unique

__all__ = ["browser", "kepu_server", "new_phone", "phone", "screenshot_dir", "unique"]
