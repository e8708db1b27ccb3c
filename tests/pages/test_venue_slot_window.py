"""The venue page lists four weeks of slots at a time, by day, with links to the weeks before and after;
a slot's page lists its bookings (with their logistics) and its live waiting list (both engines)."""

from __future__ import annotations

import re

import httpx

from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession


def _book_links(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/slots/(\d+)/book"', html)}


def _nav(html: str, rel: str) -> str | None:
    m = re.search(rf'href="([^"]+)" rel="{rel}"', html)
    return m.group(1).replace("&amp;", "&") if m else None


async def test_venue_page_shows_four_weeks_and_pages_through_the_rest(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(at(8))  # 2030-05-20 08:00, a Monday
    w = await World(client).build()
    started = await w.slot(starts_at=at(7, 30), ends_at=at(12))  # already begun: not bookable
    soon = await w.slot(starts_at=at(10, days=2), ends_at=at(12, days=2), title="海洋探秘")
    same_day = await w.slot(starts_at=at(14, days=2), ends_at=at(15, days=2), capacity=30)
    last_in_window = await w.slot(starts_at=at(23, days=27), ends_at=at(23, 30, days=27))
    next_window = await w.slot(starts_at=at(0, 30, days=28), ends_at=at(2, days=28))
    far = await w.slot(starts_at=at(9, days=100), ends_at=at(11, days=100), title="远期活动")
    assert (await w.book(same_day["id"], 28, 2)).status_code == 201  # now full

    t = PageSession(client)
    await t.sign_in("teacher_a", PASSWORD)
    page = await t.get(f"/venues/{w.venue_a}")
    assert page.status_code == 200
    html = page.text
    assert _book_links(html) == {soon["id"], last_in_window["id"]}
    assert f"/slots/{same_day['id']}/waitlist" in html  # the full slot offers the waiting list
    assert f"/slots/{started['id']}/" not in html
    assert "海洋探秘" in html and "远期活动" not in html
    # One heading per day, each slot with its times; the window's dates between the links.
    assert html.count('class="slot-day"') == 2
    assert "2030-05-22 周三" in html and "10:00–12:00" in html and "14:00–15:00" in html
    assert "<span>2030-05-20</span> – <span>2030-06-16</span>" in html
    assert _nav(html, "prev") is None
    later = _nav(html, "next")
    assert later == f"/venues/{w.venue_a}?date=2030-06-17"

    page = await t.get(later)
    html = page.text
    assert _book_links(html) == {next_window["id"]}
    assert _nav(html, "prev") == f"/venues/{w.venue_a}?date=2030-05-20"
    # The next link skips the empty weeks to the day of the next slot.
    later = _nav(html, "next")
    assert later == f"/venues/{w.venue_a}?date=2030-08-28"
    page = await t.get(later)
    assert _book_links(page.text) == {far["id"]}
    assert "远期活动" in page.text
    assert _nav(page.text, "next") is None
    assert _nav(page.text, "prev") == f"/venues/{w.venue_a}?date=2030-07-31"
    earlier = await t.get(f"/venues/{w.venue_a}?date=2030-07-31", headers={"Accept-Language": "en"})
    assert _book_links(earlier.text) == set()
    assert "No slots in these four weeks." in earlier.text
    assert _nav(earlier.text, "next") == f"/venues/{w.venue_a}?date=2030-08-28"

    # A date in the past or not a date at all shows the weeks from today.
    for odd in ("2030-01-01", "nonsense", "1999-12-31", "2030-02-30"):
        page = await t.get(f"/venues/{w.venue_a}?date={odd}")
        assert page.status_code == 200
        assert _book_links(page.text) == {soon["id"], last_in_window["id"]}


async def test_venue_page_without_slots_and_in_english(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    t = PageSession(client)
    await t.sign_in("teacher_a", PASSWORD)
    page = await t.get(f"/venues/{w.venue_b}")
    assert page.status_code == 200
    assert "暂无近期场次。" in page.text
    assert _nav(page.text, "next") is None and _nav(page.text, "prev") is None
    await w.slot(starts_at=at(10, days=40), ends_at=at(12, days=40), venue="b")
    page = await t.get(f"/venues/{w.venue_b}", headers={"Accept-Language": "en"})
    assert "No slots in these four weeks." in page.text
    assert _nav(page.text, "next") == f"/venues/{w.venue_b}?date=2030-06-29"
    page = await t.get(f"/venues/{w.venue_b}?date=2030-06-29", headers={"Accept-Language": "en"})
    assert "2030-06-29 Sat" in page.text and "10:00–12:00" in page.text
    assert "places left" in page.text
    assert (await t.get("/venues/999999")).status_code == 404
    assert (await t.get("/venues/99999999999999")).status_code == 404


async def test_staff_see_bookings_links_not_book_buttons(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(starts_at=at(10, days=3), ends_at=at(12, days=3))
    staff = PageSession(client)
    await staff.sign_in("staff_a", PASSWORD)
    html = (await staff.get(f"/venues/{w.venue_a}")).text
    assert f'href="/slots/{slot["id"]}"' in html
    assert _book_links(html) == set()


async def test_slot_page_lists_bookings_logistics_and_live_waiting_list(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(capacity=40, starts_at=at(10, days=5), ends_at=at(12, days=5), title="化学实验")
    plain = (await w.book(slot["id"], 20, 2, grade="三年级", class_name="1班")).json()
    detailed = (
        await w.book(
            slot["id"],
            15,
            3,
            who="teacher_b",
            grade="五年级",
            class_name="2班",
            lead_teacher_name="林老师",
            lead_teacher_phone="13800000000",
            buses=1,
            special_requests="需要轮椅通道",
        )
    ).json()
    waiting = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await waiting.sign_in("teacher_a2", PASSWORD)
    r = await waiting.post(
        f"/slots/{slot['id']}/waitlist",
        {"students": "30", "chaperones": "2", "grade": "六年级", "class_name": "4班", "flexibility": "slot"},
    )
    assert r.status_code == 303, r.text[:500]
    staff = PageSession(client)
    await staff.sign_in("staff_a", PASSWORD)
    page = await staff.get(f"/slots/{slot['id']}")
    assert page.status_code == 200
    html = page.text
    assert "厦门市第一中学" in html and "集美中学" in html and "化学实验" in html
    assert plain["code"] in html and detailed["code"] in html
    assert f'data-testid="logistics-{detailed["id"]}"' in html
    assert f'data-testid="logistics-{plain["id"]}"' not in html
    assert "林老师" in html and "tel:13800000000" in html and "需要轮椅通道" in html
    assert f'href="/staff/bookings/{plain["id"]}/checkins"' in html
    assert 'data-testid="slot-waitlist"' in html and "六年级 4班" in html
    # Another venue's staff and an unknown slot: not found / forbidden, as before.
    other = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await other.sign_in("staff_b", PASSWORD)
    assert (await other.get(f"/slots/{slot['id']}")).status_code in (403, 404)
    assert (await staff.get("/slots/999999")).status_code == 404


async def test_venue_catalogue_filters_and_counts_open_slots(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    await w.slot(capacity=50, starts_at=at(10, days=3), ends_at=at(12, days=3))
    await w.slot(capacity=30, starts_at=at(14, days=2), ends_at=at(15, days=2))
    full = await w.slot(capacity=20, starts_at=at(9, days=4), ends_at=at(10, days=4))
    assert (await w.book(full["id"], 18, 2)).status_code == 201
    await w.slot(capacity=40, starts_at=at(7), ends_at=at(9))  # started: not open
    t = PageSession(client)
    await t.sign_in("teacher_a", PASSWORD)

    def cards(html: str) -> list[int]:
        return [int(n) for n in re.findall(r'<h2><a href="/venues/(\d+)">', html)]

    html = (await t.get("/venues")).text
    assert cards(html) == [w.venue_a, w.venue_b]
    # Venue A: two open slots, 80 places, the next on 2030-05-22 at 14:00; venue B has none.
    assert "2 个可约场次，剩余 80 个名额；最近一场：2030-05-22 周三 14:00" in html
    assert html.count('class="button primary" href="/venues/') == 1
    assert "科技馆" in html and "思明区" in html  # kind and district labels, translated
    assert cards((await t.get("/venues?district=集美区")).text) == [w.venue_b]
    assert cards((await t.get("/venues?kind=science_museum")).text) == [w.venue_a]
    assert cards((await t.get("/venues?district=集美区&kind=science_museum")).text) == []
    assert cards((await t.get("/venues?district=nowhere")).text) == [w.venue_a, w.venue_b]
    english = (await t.get("/venues", headers={"Accept-Language": "en"})).text
    assert "2 open slots, 80 places left; next on 2030-05-22 Wed 14:00" in english
    assert "Siming District" in english
