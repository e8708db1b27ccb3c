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


async def test_only_warn_and_refuse_are_policies(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, _booking = await _scene(client, frozen, "warn")
    for bad in ("deny", "", "WARN", 1):
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
        await s.post(f"/venues/{w.venue_a}/rules", {**form, "door_ratio_policy": "deny"})
    ).status_code == 400
    await s.get("/staff/checkin")
    r = await s.post("/staff/checkin", {"token": booking["code"], "students": "30", "chaperones": "1"})
    assert r.status_code == 200
    assert 'data-testid="ratio-warning"' in r.text and "成人不足" in r.text and "result-warn" in r.text
    # Saving the form with the blank choice turns the door check off.
    r = await s.post(f"/venues/{w.venue_a}/rules", {**form, "door_ratio_policy": ""})
    assert r.status_code == 303
    assert (await w.get("staff_a", f"/api/v1/venues/{w.venue_a}")).json()["door_ratio_policy"] is None


async def test_refuse_turns_students_away_until_enough_adults_are_in(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    """Policy "refuse" (1 adult per 10): 30 students with 1 adult are turned away with too_few_adults
    and nothing is counted; the adults go in first, then the students; the refusal is in the history."""
    w, booking = await _scene(client, frozen, "refuse")
    r = await w.post(
        "staff_a", "/api/v1/checkins", {"token": booking["code"], "students": 30, "chaperones": 1}
    )
    assert r.status_code == 422
    body = r.json()
    assert body["result"] == "too_few_adults" and "10" in body["detail"]
    assert body["admitted_students"] == 0 and body["admitted_chaperones"] == 0
    # The whole class at once meets the ratio (30 + 3).
    r = await w.post(
        "staff_a", "/api/v1/checkins", {"token": booking["code"], "students": 0, "chaperones": 2}
    )
    assert r.status_code == 200 and r.json()["admitted_chaperones"] == 2
    r = await w.post(
        "staff_a", "/api/v1/checkins", {"token": booking["code"], "students": 25, "chaperones": 0}
    )
    assert r.status_code == 422 and r.json()["result"] == "too_few_adults"  # 25 need 3 adults, 2 are in
    r = await w.post(
        "staff_a", "/api/v1/checkins", {"token": booking["code"], "students": 20, "chaperones": 0}
    )
    assert r.status_code == 200 and r.json()["admitted_students"] == 20
    history = await w.get("staff_a", f"/api/v1/bookings/{booking['id']}/checkins")
    results = [c["result"] for c in history.json()["items"]]
    assert results.count("too_few_adults") == 2 and results.count("admitted") == 2


async def test_refuse_replays_its_sentence_for_the_same_nonce(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    w, booking = await _scene(client, frozen, "refuse")
    scan = {"token": booking["code"], "students": 30, "chaperones": 0, "nonce": "door-1-0001"}
    first = await w.post("staff_a", "/api/v1/checkins", scan)
    again = await w.post("staff_a", "/api/v1/checkins", scan)
    assert first.status_code == again.status_code == 422
    assert first.json()["detail"] == again.json()["detail"]
