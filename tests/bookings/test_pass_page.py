"""The pass page holds everything a class needs at the door and prints on one A4 page (both engines)."""

from __future__ import annotations

from pathlib import Path

import httpx

from core import clock
from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession
from venues.tables import Room, Slot, Venue


async def test_pass_page_content(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    r = await w.client.patch(
        f"/api/v1/venues/{w.venue_a}",
        json={"students_per_adult": 20, "free_cancel_days": 2},
        headers=w.h["staff_a"],
    )
    assert r.status_code == 200, r.text
    await Venue.update(
        {
            Venue.directions: "地铁1号线镇海路站B出口，步行5分钟；大巴停体育路东侧。",
            Venue.contact_phone: "0592-1234567",
            Venue.arrival_before_start_minutes: 30,
            Venue.arrival_after_end_minutes: 0,
        }
    ).where(Venue.id == w.venue_a)
    slot = await w.slot(capacity=100, starts_at=at(10, days=5), ends_at=at(12, days=5))
    rows = await Room.insert(
        Room(venue=w.venue_a, name="海洋馆二层", capacity=80, created_at=clock.now())
    ).returning(Room.id)
    await Slot.update({Slot.room: rows[0]["id"]}).where(Slot.id == slot["id"])
    booking = (
        await w.book(slot["id"], 40, 2, grade="四年级", class_name="3班", grade_band="primary_high")
    ).json()
    s = PageSession(client)
    await s.sign_in("teacher_a", PASSWORD)
    page = await s.get(f"/bookings/{booking['id']}")
    assert page.status_code == 200
    text = page.text
    for expected in (
        "<svg",  # the QR
        'data-testid="pass-code"',
        booking["code"][:4],
        "厦门市第一中学",
        "四年级 3班",
        "40",
        "厦门科技馆",
        'data-testid="pass-room">海洋馆二层',
        "2030-05-25",
        "10:00",
        'data-testid="pass-arrival"',
        "09:30",
        "地铁1号线镇海路站B出口",
        'href="tel:0592-1234567"',
        'data-testid="pass-rules"',
        f'href="/bookings/{booking["id"]}/qr.png" download="kepu-pass-{booking["id"]}.png"',
        'data-action="print"',
    ):
        assert expected in text, expected
    # The PNG link serves an image.
    png = await s.get(f"/bookings/{booking['id']}/qr.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    # A cancelled pass shows no QR, no print button.
    assert (await w.post("teacher_a", f"/api/v1/bookings/{booking['id']}/cancel")).status_code == 200
    page = await s.get(f"/bookings/{booking['id']}")
    assert "<svg" not in page.text and 'data-action="print"' not in page.text


def test_print_css_one_a4_page_without_navigation() -> None:
    css = (Path(__file__).parents[2] / "assets/css/kepu.css").read_text()
    section = css[css.index("==== H4:") : css.index("==== end H4")]
    assert "@page { size: A4" in section
    assert "body:has(.pass) .topbar" in section and "display: none" in section
    assert ".pass .qr.pass-qr { max-width: 80mm" in section
