"""The audit log is append-only in the database, and its page (filters, paging, detail, CSV) is for
auditors only. Both engines."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import httpx
import pytest

from accounts import services as accounts
from accounts.schemas import UserView
from auditlog import CONSOLE, SystemActor, record
from auditlog.services import PAGE_SIZE
from auditlog.tables import AdminAction
from core import clock
from core.db import write_transaction
from kepu.auth import load_actor
from tests.conftest import IS_PG, Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession
from venues import services as venues
from venues.schemas import VenueUpdate

NOW = datetime(2027, 2, 20, 10, 0, tzinfo=clock.TZ)


@pytest.fixture
async def world(client: httpx.AsyncClient, frozen: Clock) -> World:
    frozen.set(NOW)
    return await World(client).build()


async def session(client: httpx.AsyncClient, who: str) -> PageSession:
    s = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await s.sign_in(who, PASSWORD)
    await s.get("/lang/en?next=/audit")
    return s


# ---- append-only -------------------------------------------------------------------------------------


async def test_the_database_refuses_to_change_or_remove_an_entry(world: World) -> None:
    entry_id = await record(CONSOLE, "holiday.set", "holiday", "2027-06-15", after={"name": "x"})
    assert entry_id is not None
    with pytest.raises(Exception, match="append_only"):
        await AdminAction.update({AdminAction.action: "venue.create"}).where(AdminAction.id == entry_id)
    with pytest.raises(Exception, match="append_only"):
        await AdminAction.delete().where(AdminAction.id == entry_id)
    with pytest.raises(Exception, match="append_only"):
        await AdminAction.raw("DELETE FROM auditlog_action")
    if IS_PG:
        with pytest.raises(Exception, match="append_only"):
            await AdminAction.raw("TRUNCATE auditlog_action")
    row = await AdminAction.select(AdminAction.action).where(AdminAction.id == entry_id).first()
    assert row == {"action": "holiday.set"}
    assert await AdminAction.count() == 3  # the two venues of the world, and this one


async def test_an_entry_goes_with_its_transaction(world: World) -> None:
    with pytest.raises(RuntimeError):
        async with write_transaction():
            await record(CONSOLE, "holiday.set", "holiday", "2027-06-15", after={"name": "x"})
            raise RuntimeError("the action failed after logging")
    assert await AdminAction.count().where(AdminAction.action == "holiday.set") == 0


async def test_unknown_codes_are_refused(world: World) -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        await record(CONSOLE, "venue.explode", "venue", 1)
    with pytest.raises(ValueError, match="unknown audit object type"):
        await record(CONSOLE, "venue.update", "spaceship", 1)


# ---- permissions -------------------------------------------------------------------------------------


async def test_auditors_only(world: World, client: httpx.AsyncClient) -> None:
    entry_id = await record(CONSOLE, "holiday.set", "holiday", "2027-06-15", after={"name": "x"})
    for url in ("/audit/log", f"/audit/log/{entry_id}", "/audit/log.csv"):
        anonymous = await client.get(url)
        assert anonymous.status_code in (302, 303), (url, anonymous.status_code)
        assert anonymous.headers["location"].startswith("/login")
    for who in ("staff_a", "teacher_a"):
        s = await session(client, who)
        for url in ("/audit/log", f"/audit/log/{entry_id}", "/audit/log.csv"):
            assert (await s.get(url)).status_code == 403, (who, url)
    s = await session(client, "auditor")
    assert (await s.get("/audit/log")).status_code == 200


# ---- the page ----------------------------------------------------------------------------------------


async def test_filters_labels_and_detail(world: World, client: httpx.AsyncClient, frozen: Clock) -> None:
    staff = SystemActor(id=9_001, display_name="门岗小王", role="staff")
    await venues.update_venue(
        await _auditor(), world.venue_a, VenueUpdate(name="厦门科技馆（新馆）", group_max=45)
    )
    frozen.set(NOW + timedelta(days=3))
    await record(
        staff, "closure.set", "closure", "2027-03-04", after={"reason": "停电"}, venue_id=world.venue_b
    )
    s = await session(client, "auditor")

    page = await s.get("/audit/log")
    assert page.status_code == 200
    rows = [line for line in page.text.splitlines() if "data-entry=" in line]
    assert len(rows) == 4  # two venues registered, one venue changed, one closure
    assert "Venue details changed" in page.text and "Closure day set" in page.text
    assert ">venue.update<" not in page.text and ">closure.set<" not in page.text  # labels, not codes
    # Newest first.
    table = page.text[page.text.index("<tbody>") :]
    assert table.index("Closure day set") < table.index("Venue details changed")

    async def listed(query: str) -> list[str]:
        r = await s.get(f"/audit/log?{query}")
        assert r.status_code == 200, r.text[:300]
        table = r.text[r.text.index("<tbody>") :]
        return [
            label
            for label in ("Venue registered", "Venue details changed", "Closure day set")
            if label in table
        ]

    assert await listed("action=venue.update") == ["Venue details changed"]
    assert await listed(f"venue={world.venue_b}") == ["Venue registered", "Closure day set"]
    assert await listed("who=9001") == ["Closure day set"]
    assert await listed("type=venue") == ["Venue registered", "Venue details changed"]
    assert await listed("from=2027-02-20&to=2027-02-21") == ["Venue registered", "Venue details changed"]
    assert await listed("from=2027-02-23") == ["Closure day set"]
    assert await listed(f"venue={world.venue_a}&action=closure.set") == []

    update = await AdminAction.select(AdminAction.id).where(AdminAction.action == "venue.update").first()
    assert update is not None
    detail = await s.get(f"/audit/log/{update['id']}")
    assert detail.status_code == 200
    assert "厦门科技馆（新馆）" in detail.text and "Before" in detail.text and "After" in detail.text
    row = next(line for line in detail.text.split("<tr>") if "Largest group" in line)
    assert row.index("—") < row.index("45")  # before (nothing) on the left, after on the right


async def test_paging_newest_first(world: World, client: httpx.AsyncClient, frozen: Clock) -> None:
    for i in range(PAGE_SIZE + 5):
        frozen.set(NOW + timedelta(minutes=i))
        await record(CONSOLE, "holiday.set", "holiday", f"h{i}", after={"name": f"假日{i}"})
    s = await session(client, "auditor")
    first = await s.get("/audit/log?type=holiday")
    assert first.text.count("data-entry=") == PAGE_SIZE
    assert ">h54<" in first.text and ">h4<" not in first.text and 'rel="next"' in first.text
    second = await s.get("/audit/log?type=holiday&page=2")
    assert second.text.count("data-entry=") == 5
    assert ">h4<" in second.text and ">h0<" in second.text and 'rel="next"' not in second.text


async def test_bad_filters_are_a_clear_4xx(world: World, client: httpx.AsyncClient) -> None:
    s = await session(client, "auditor")
    backwards = await s.get("/audit/log?from=2027-03-01&to=2027-02-01")
    assert backwards.status_code == 400 and "start date" in backwards.text
    assert (await s.get("/audit/log?from=yesterday")).status_code == 400
    assert (await s.get("/audit/log?page=0")).status_code == 400
    assert (await s.get("/audit/log/99999999")).status_code == 404
    # An unknown code filters nothing out rather than failing.
    assert (await s.get("/audit/log?action=nope")).status_code == 200


async def test_csv_export_reads_back(world: World, client: httpx.AsyncClient) -> None:
    await venues.update_venue(await _auditor(), world.venue_a, VenueUpdate(name="厦门科技馆, 新馆"))
    s = await session(client, "auditor")
    r = await s.get(f"/audit/log.csv?venue={world.venue_a}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["action"] for row in rows] == ["venue.update", "venue.create"]
    assert rows[0]["action_label"] == "Venue details changed"
    assert rows[0]["venue"] == "厦门科技馆, 新馆" and rows[0]["actor"].startswith("auditor")
    assert '"name": "厦门科技馆, 新馆"' in rows[0]["after"] and '"name": "厦门科技馆"' in rows[0]["before"]


async def _auditor() -> UserView:
    found = await accounts.get_user_by_username("auditor")
    assert found is not None
    actor = await load_actor(found.id)
    assert actor is not None
    return actor
