"""Several `kepu serve` processes on one database share sign-in: a page session or an API token made by
one process works on every other, and after a restart (api.md "Auth"; issue: sessions across processes)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.helpers import PASSWORD
from tests.servers import run_kepu, running_servers

pytestmark = pytest.mark.servers


def _login(client: httpx.Client, base: str) -> None:
    page = client.get(f"{base}/login")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text[:300]
    r = client.post(
        f"{base}/login",
        data={"username": "t_multi", "password": PASSWORD, "next": "/", "_csrf_token": csrf[1]},
    )
    assert r.status_code == 303, r.text[:300]


def test_session_and_token_work_on_every_process_and_after_restart(database_url: str, tmp_path: Path) -> None:
    done = run_kepu(
        database_url, "user", "add", "t_multi", "--password", PASSWORD, "--role", "teacher",
        "--school", "厦门双十中学", "--district", "思明区",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with running_servers(database_url, 2, tmp_path / "logs") as servers:
        a, b = (s.url for s in servers)
        with httpx.Client(follow_redirects=False, timeout=20) as browser:
            # Cookies are per host:port in httpx; carry them over by hand as a proxy in front would.
            _login(browser, a)
            cookies = {"Cookie": "; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar)}
            listing = browser.get(f"{a}/bookings")
            assert listing.status_code == 200
            form_token = re.search(r'name="_csrf_token" value="([^"]+)"', listing.text)[1]  # type: ignore[index]
            other = browser.get(f"{b}/bookings", headers=cookies)
            assert other.status_code == 200, other.text[:300]
            assert "t_multi" in other.text
            token = browser.post(f"{a}/api/v1/auth/token", data={"username": "t_multi", "password": PASSWORD})
            bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
            assert browser.get(f"{b}/api/v1/bookings", headers=bearer).status_code == 200
    # Both processes stopped; a new one still honours the session and the token.
    with running_servers(database_url, 1, tmp_path / "logs2") as servers:
        c = servers[0].url
        with httpx.Client(follow_redirects=False, timeout=20) as browser:
            assert browser.get(f"{c}/bookings", headers=cookies).status_code == 200
            assert browser.get(f"{c}/api/v1/bookings", headers=bearer).status_code == 200
            # A form rendered by the first process is accepted by this one: the CSRF secret is shared.
            r = browser.post(f"{c}/logout", data={"_csrf_token": form_token}, headers=cookies)
            assert r.status_code == 303, r.text[:300]
            assert browser.get(f"{c}/bookings", headers=cookies).status_code == 302
