"""Where an entry's actor and request details come from: a page (the client's address and browser), the
console (`kepu user add`), the JSON API. Both engines."""

from __future__ import annotations

import argparse
import json

import httpx

from auditlog.tables import AdminAction
from tests.helpers import PASSWORD, World, make_user
from tests.pages.browser_session import PageSession
from venues import services as venues


async def test_a_page_action_keeps_who_where_and_which_browser(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    browser = httpx.AsyncClient(
        transport=client._transport,
        base_url="http://testserver",
        headers={"User-Agent": "KepuTest/1.0 (Phone)"},
    )
    s = PageSession(browser)
    await s.sign_in("auditor", PASSWORD)
    await s.get(f"/audit/bases/{w.venue_a}")
    r = await s.post(f"/audit/bases/{w.venue_a}/status", {"status": "rectification", "reason": "抽查不合格"})
    assert r.status_code == 303, r.text[:300]
    entry = await AdminAction.select().where(AdminAction.action == "status.change").first()
    assert entry is not None
    assert entry["user_agent"] == "KepuTest/1.0 (Phone)" and entry["ip"] == "127.0.0.1"
    assert entry["actor_name"] == "auditor" and entry["actor_role"] == "auditor"
    assert entry["reason"] == "抽查不合格" and entry["venue_id"] == w.venue_a
    assert json.loads(entry["before"]) == {"status": ""} and json.loads(entry["after"]) == {
        "status": "rectification"
    }


async def test_an_api_action_is_logged_too(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    known = await AdminAction.count()
    r = await w.client.patch(f"/api/v1/venues/{w.venue_b}", json={"daily_cap": 300}, headers=w.h["staff_b"])
    assert r.status_code == 200, r.text
    entry = (await AdminAction.select().order_by(AdminAction.id, ascending=False).first()) or {}
    assert await AdminAction.count() == known + 1
    assert entry["action"] == "venue.update" and entry["actor_role"] == "staff/door"
    assert json.loads(entry["before"]) == {"daily_cap": None} and json.loads(entry["after"]) == {
        "daily_cap": 300
    }


async def test_console_user_add_is_logged_as_the_console(fresh_db: str) -> None:
    from kepu.auth import load_actor
    from kepu.cli import _user_add
    from venues.schemas import VenueForm

    auditor_id = await make_user("kexie", "auditor")
    auditor = await load_actor(auditor_id)
    assert auditor is not None
    venue = await venues.create_venue(auditor, VenueForm(name="翔安科普馆", kind="museum", district="翔安区"))
    args = argparse.Namespace(
        username="door9",
        password="pw",
        role="staff",
        name="门岗九",
        school=None,
        district=None,
        venue=venue.id,
        staff_role="supervisor",
    )
    await _user_add(args)
    rows = await AdminAction.select().where(AdminAction.actor_role == "console").order_by(AdminAction.id)
    assert [r["action"] for r in rows] == ["user.create", "staff.assign"]
    assert json.loads(rows[0]["after"])["username"] == "door9" and rows[0]["actor_id"] is None
    assert json.loads(rows[1]["after"]) == {"venue_id": venue.id, "staff_role": "supervisor"}
    assert rows[1]["venue_id"] == venue.id
