"""Walk-in taps from two doors at once against real `kepu serve` processes (one on SQLite, two sharing
the database on PostgreSQL): the day's tally is exact, a resent tap counts once, and corrections racing
each other never take it below zero."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core import clock
from tests.helpers import PASSWORD, make_user
from tests.servers import Server, running_servers, server_count
from timetable import services
from timetable.tables import WalkIn
from venues.tables import Venue

pytestmark = pytest.mark.servers

META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
FORM_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    with running_servers(database_url, server_count(), tmp_path / "servers") as running:
        yield running


class Door:
    """One staff member's phone: its own cookies, signed in, holding the scan page's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def sign_in(self, username: str) -> None:
        async with self.http.get(self.base + "/login") as r:
            token = FORM_CSRF.search(await r.text())
        assert token is not None
        form = {"username": username, "password": PASSWORD, "next": "/", "_csrf_token": token.group(1)}
        async with self.http.post(self.base + "/login", data=form, allow_redirects=False) as r:
            assert r.status == 303, await r.text()
        async with self.http.get(self.base + "/staff/scan") as r:
            page = await r.text()
            assert r.status == 200, page[:300]
        found = META_CSRF.search(page)
        assert found is not None
        self.csrf = found.group(1)

    async def tap(self, **body: Any) -> dict[str, Any]:
        headers = {"x-csrftoken": self.csrf, "accept": "application/json"}
        async with self.http.post(self.base + "/staff/walk-ins", json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            data: dict[str, Any] = await r.json()
            return data

    async def close(self) -> None:
        await self.http.close()


async def test_walk_in_taps_from_two_doors_add_up_exactly(servers: list[Server]) -> None:
    rows = await Venue.insert(
        Venue(name="厦门科技馆", kind="science_museum", district="思明区", created_at=clock.now())
    ).returning(Venue.id)
    venue_id = rows[0]["id"]
    await make_user("door_1", "staff", venue_id=venue_id)
    await make_user("door_2", "staff", venue_id=venue_id)
    doors = [Door(servers[i % len(servers)].url) for i in range(2)]
    try:
        await asyncio.gather(doors[0].sign_in("door_1"), doors[1].sign_in("door_2"))

        # 40 adults and 30 young people tapped at two doors at the same moment, each tap sent twice
        # (a phone that lost the first answer sends it again, with the same nonce).
        taps = [{"adults": 1, "nonce": uuid.uuid4().hex} for _ in range(40)]
        taps += [{"youth": 1, "nonce": uuid.uuid4().hex} for _ in range(30)]
        sends = [doors[i % 2].tap(**tap) for i, tap in enumerate(taps)]
        sends += [doors[(i + 1) % 2].tap(**tap) for i, tap in enumerate(taps[::3])]
        await asyncio.gather(*sends)
        totals = await services.walk_in_totals(venue_id, clock.today())
        assert (totals.adults, totals.youth) == (40, 30)

        # Corrections racing each other: 50 × "one adult fewer" against 40 counted ends at zero.
        await asyncio.gather(*(doors[i % 2].tap(adults=-1) for i in range(50)))
        totals = await services.walk_in_totals(venue_id, clock.today())
        assert (totals.adults, totals.youth) == (0, 30)
        last = await doors[0].tap(youth=1)
        assert last == {"day": clock.today().isoformat(), "adults": 0, "youth": 31, "total": 31}
        year = await services.walk_ins(venue_id, clock.today().year)
        assert (year["adults"], year["youth"]) == (0, 31)
        assert await WalkIn.count().where(WalkIn.adults > 0) == 40  # the resends stored nothing
    finally:
        for door in doors:
            await door.close()
