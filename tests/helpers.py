"""Helpers for tests: make people, venues and slots through the real services and API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from accounts import services as accounts
from core import clock
from venues import services as venues

PASSWORD = "correct-horse-9"


async def make_user(
    username: str,
    role: str,
    *,
    venue_id: int | None = None,
    school: str = "厦门市第一中学",
    district: str = "思明区",
    staff_role: str = "door",
) -> int:
    school_id = None
    if role == "teacher":
        school_id = (await accounts.find_or_create_school(school, district)).id
    user_id = await accounts.create_user(username, PASSWORD, role, display_name=username, school_id=school_id)
    if role == "staff":
        assert venue_id is not None
        await venues.add_staff(venue_id, user_id, staff_role)
    return user_id


async def token(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def iso(dt: datetime) -> str:
    return clock.local(dt).isoformat()


def in_days(days: int, hour: int = 9, minute: int = 30) -> datetime:
    """A local (Asia/Shanghai) time `days` from today."""
    day = clock.today() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=clock.TZ)


class World:
    """A small city: an auditor, two venues with a staff member each, teachers of two schools."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.h: dict[str, dict[str, str]] = {}
        self.venue_a = 0
        self.venue_b = 0

    async def build(self) -> World:
        await make_user("auditor", "auditor")
        self.h["auditor"] = await token(self.client, "auditor")
        self.venue_a = (
            await self.post(
                "auditor",
                "/api/v1/venues",
                {
                    "name": "厦门科技馆",
                    "kind": "science_museum",
                    "district": "思明区",
                    "address": "体育路95号",
                },
            )
        ).json()["id"]
        self.venue_b = (
            await self.post(
                "auditor",
                "/api/v1/venues",
                {"name": "集美学村科普基地", "kind": "education_base", "district": "集美区"},
            )
        ).json()["id"]
        await make_user("staff_a", "staff", venue_id=self.venue_a)
        await make_user("staff_b", "staff", venue_id=self.venue_b)
        await make_user("teacher_a", "teacher", school="厦门市第一中学", district="思明区")
        await make_user("teacher_a2", "teacher", school="厦门市第一中学", district="思明区")
        await make_user("teacher_b", "teacher", school="集美中学", district="集美区")
        for name in ("staff_a", "staff_b", "teacher_a", "teacher_a2", "teacher_b"):
            self.h[name] = await token(self.client, name)
        return self

    async def post(self, who: str, url: str, body: Any = None) -> httpx.Response:
        return await self.client.post(url, json=body, headers=self.h[who])

    async def get(self, who: str, url: str, **kw: Any) -> httpx.Response:
        return await self.client.get(url, headers=self.h[who], **kw)

    async def slot(
        self, capacity: int = 100, days: int = 7, venue: str = "a", **extra: Any
    ) -> dict[str, Any]:
        starts = extra.pop("starts_at", None) or in_days(days)
        ends = extra.pop("ends_at", None) or starts + timedelta(hours=2)
        venue_id = self.venue_a if venue == "a" else self.venue_b
        r = await self.post(
            "auditor",
            f"/api/v1/venues/{venue_id}/slots",
            {"starts_at": iso(starts), "ends_at": iso(ends), "capacity": capacity, **extra},
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def book(
        self, slot_id: int, students: int = 30, chaperones: int = 2, who: str = "teacher_a", **extra: Any
    ) -> httpx.Response:
        return await self.post(
            who,
            "/api/v1/bookings",
            {"slot_id": slot_id, "students": students, "chaperones": chaperones, **extra},
        )
