"""The adult ratio at the door: with the venue's policy "warn", an admission that leaves fewer adults
in than the ratio asks for is admitted all the same and carries a warning (api.md's results unchanged)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession


async def _scene(
    client: httpx.AsyncClient, frozen: Clock, policy: str | None
) -> tuple[World, dict[str, Any]]:
    frozen.set(at(8))
    w = await World(client).build()
    r = await client.patch(
        f"/api/v1/venues/{w.venue_a}",
        json={"students_per_adult": 10, "door_ratio_policy": policy},
        headers=w.h["staff_a"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["door_ratio_policy"] == policy
    slot = await w.slot(capacity=100, starts_at=at(10), ends_at=at(12))
    booking = (await w.book(slot["id"], 30, 3, grade_band="junior")).json()
    frozen.set(at(9, 50))
    return w, booking


async def test_warns_when_adults_fall_below_the_ratio(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, booking = await _scene(client, frozen, "warn")
    r = await w.post(
        "staff_a", "/api/v1/checkins", {"token": booking["code"], "students": 30, "chaperones": 1}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["result"] == "admitted" and body["admitted_students"] == 30
    assert "30" in body["warning"] and "3" in body["warning"]
    # The other adults arrive: no warning once the ratio is met.
    r = await w.post(
        "staff_a", "/api/v1/checkins", {"token": booking["code"], "students": 0, "chaperones": 2}
    )
    assert r.status_code == 200 and "warning" not in r.json()


async def test_no_warning_when_the_ratio_is_met(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, booking = await _scene(client, frozen, "warn")
    r = await w.post("staff_a", "/api/v1/checkins", {"token": booking["code"]})
    assert r.status_code == 200 and "warning" not in r.json()


async def test_no_policy_no_warning(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, booking = await _scene(client, frozen, None)
    r = await w.post(
        "staff_a", "/api/v1/checkins", {"token": booking["code"], "students": 30, "chaperones": 0}
    )
    assert r.status_code == 200 and r.json()["result"] == "admitted" and "warning" not in r.json()


async def test_only_warn_is_a_policy(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, _booking = await _scene(client, frozen, "warn")
    for bad in ("refuse", "", "WARN", 1):
        r = await client.patch(
            f"/api/v1/venues/{w.venue_a}", json={"door_ratio_policy": bad}, headers=w.h["staff_a"]
        )
        assert r.status_code == 400, (bad, r.text)
    assert (await w.get("staff_a", f"/api/v1/venues/{w.venue_a}")).json()["door_ratio_policy"] == "warn"


async def test_rules_page_and_checkin_page(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, booking = await _scene(client, frozen, None)
    s = PageSession(client)
    await s.sign_in("staff_a", PASSWORD)
    page = await s.get(f"/venues/{w.venue_a}/rules")
    assert 'name="door_ratio_policy"' in page.text and "入场" in page.text
    form = {
        "students_per_adult": "10",
        "door_ratio_policy": "warn",
    }
    r = await s.post(f"/venues/{w.venue_a}/rules", form)
    assert r.status_code == 303, r.text[:800]
    assert (await w.get("staff_a", f"/api/v1/venues/{w.venue_a}")).json()["door_ratio_policy"] == "warn"
    assert (
        await s.post(f"/venues/{w.venue_a}/rules", {**form, "door_ratio_policy": "refuse"})
    ).status_code == 400
    await s.get("/staff/checkin")
    r = await s.post("/staff/checkin", {"token": booking["code"], "students": "30", "chaperones": "1"})
    assert r.status_code == 200
    assert 'data-testid="ratio-warning"' in r.text and "成人不足" in r.text and "result-warn" in r.text
    # Saving the form with the blank choice turns the door check off.
    r = await s.post(f"/venues/{w.venue_a}/rules", {**form, "door_ratio_policy": ""})
    assert r.status_code == 303
    assert (await w.get("staff_a", f"/api/v1/venues/{w.venue_a}")).json()["door_ratio_policy"] is None
