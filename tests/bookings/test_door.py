"""The door scanner: nonce idempotency (service, API extension, scan endpoint), the scan page and its
JSON endpoint (session cookie + CSRF header), partial arrival, bad input. Both engines."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from bookings.tables import Booking, CheckIn
from tests.api_support import at, scan
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession
from venues.tables import Venue

META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Door:
    """A World with a slot today 10:00-12:00 at venue A booked 30 + 2, the clock at 10:15."""

    def __init__(self, w: World, booking: dict[str, Any]) -> None:
        self.w = w
        self.booking = booking

    @property
    def token(self) -> str:
        return str(self.booking["qr_token"])


@pytest.fixture
async def door(client: httpx.AsyncClient, frozen: Clock) -> Door:
    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(capacity=200, starts_at=at(10), ends_at=at(12))
    r = await w.book(slot["id"], 30, 2)
    assert r.status_code == 201, r.text
    frozen.set(at(10, 15))
    return Door(w, dict(r.json()))


async def rows() -> list[dict[str, Any]]:
    return list(await CheckIn.select().order_by(CheckIn.id))


async def admitted_counts(booking_id: int) -> tuple[int, int]:
    row = (
        await Booking.select(Booking.admitted_students, Booking.admitted_chaperones)
        .where(Booking.id == booking_id)
        .first()
    )
    assert row is not None
    return row["admitted_students"], row["admitted_chaperones"]


class StaffPage:
    """A staff member's browser session on the scan page: cookie + the CSRF token from the page."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.session = PageSession(client)
        self.client = client
        self.csrf = ""

    async def open(self, username: str = "staff_a") -> httpx.Response:
        await self.session.sign_in(username, PASSWORD)
        r = await self.client.get("/staff/scan")
        m = META_CSRF.search(r.text)
        assert m, r.text[:500]
        self.csrf = m.group(1)
        return r

    async def check(self, body: Any, *, csrf: bool = True) -> httpx.Response:
        headers = {"x-csrftoken": self.csrf} if csrf else {}
        content = body if isinstance(body, bytes) else None
        return await self.client.post(
            "/staff/scan/check",
            json=None if content is not None else body,
            content=content,
            headers={**headers, "content-type": "application/json"},
        )


# -- nonce on the API (extension of POST /api/v1/checkins) -----------------------------------------


async def test_api_repeated_nonce_returns_the_first_outcome_and_records_nothing(door: Door) -> None:
    bid = door.booking["id"]
    first = await door.w.post(
        "staff_a", "/api/v1/checkins", {"token": door.token, "students": 20, "nonce": "n-0001-abc"}
    )
    assert first.status_code == 200, first.text
    assert first.json()["students"] == 20
    before = await rows()
    again = await door.w.post(
        "staff_a", "/api/v1/checkins", {"token": door.token, "students": 20, "nonce": "n-0001-abc"}
    )
    assert again.status_code == 200, again.text
    assert again.json()["result"] == "admitted"
    assert (again.json()["students"], again.json()["chaperones"]) == (20, 2)
    assert again.json()["booking_id"] == bid
    assert await rows() == before
    assert await admitted_counts(bid) == (20, 2)
    # The same scan with a new nonce is a new scan: a later part.
    r = await door.w.post(
        "staff_a", "/api/v1/checkins", {"token": door.token, "students": 10, "nonce": "n-0002-abc"}
    )
    assert r.json()["result"] == "admitted"
    assert await admitted_counts(bid) == (30, 2)
    # Without a nonce nothing changes in the contract: a bare rescan is already_checked_in.
    assert (await scan(door.w, "staff_a", door.token)).json()["result"] == "already_checked_in"


async def test_api_repeated_nonce_of_a_denied_scan(door: Door) -> None:
    for _ in range(2):
        r = await door.w.post("staff_a", "/api/v1/checkins", {"token": "garbage", "nonce": "deny-0001"})
        assert r.status_code == 400
        assert r.json()["result"] == "invalid"
    assert len(await rows()) == 1
    r = await door.w.post(
        "staff_a", "/api/v1/checkins", {"token": door.token, "students": 99, "nonce": "many-0001"}
    )
    assert (r.status_code, r.json()["result"]) == (422, "too_many")
    again = await door.w.post(
        "staff_a", "/api/v1/checkins", {"token": door.token, "students": 99, "nonce": "many-0001"}
    )
    assert (again.status_code, again.json()["result"]) == (422, "too_many")
    assert again.json()["detail"] == r.json()["detail"]
    assert len(await rows()) == 2


async def test_another_venues_nonce_reveals_nothing(door: Door) -> None:
    r = await door.w.post("staff_a", "/api/v1/checkins", {"token": door.token, "nonce": "shared-nonce-1"})
    assert r.json()["result"] == "admitted"
    r = await door.w.post("staff_b", "/api/v1/checkins", {"token": "anything", "nonce": "shared-nonce-1"})
    assert r.status_code == 400
    assert r.json()["result"] == "invalid"
    assert "booking_id" not in r.json() and "school_name" not in r.json()
    assert len(await rows()) == 1


@pytest.mark.parametrize(
    "nonce", ["short", "x" * 65, "has space!", "汉字汉字汉字汉字", 12345678, True, [], {}]
)
async def test_bad_nonce_is_a_400_and_writes_nothing(door: Door, nonce: Any) -> None:
    r = await door.w.post("staff_a", "/api/v1/checkins", {"token": door.token, "nonce": nonce})
    assert r.status_code == 400, r.text
    assert await rows() == []
    assert await admitted_counts(door.booking["id"]) == (0, 0)


async def test_simultaneous_requests_with_one_nonce_admit_once(door: Door) -> None:
    body = {"token": door.token, "nonce": "same-time-0001"}
    replies = await asyncio.gather(*(door.w.post("staff_a", "/api/v1/checkins", body) for _ in range(4)))
    assert {r.status_code for r in replies} == {200}, [r.text for r in replies]
    assert {r.json()["result"] for r in replies} == {"admitted"}
    assert await admitted_counts(door.booking["id"]) == (30, 2)
    assert len(await rows()) == 1


# -- the scan page and its JSON endpoint -----------------------------------------------------------


async def test_scan_page_is_for_staff_with_a_strict_csp(door: Door, client: httpx.AsyncClient) -> None:
    r = await client.get("/staff/scan")
    assert r.status_code in (302, 303) and "/login" in r.headers["location"]
    teacher = PageSession(client)
    await teacher.sign_in("teacher_a", PASSWORD)
    assert (await client.get("/staff/scan")).status_code == 403
    client.cookies.clear()
    page = StaffPage(client)
    r = await page.open()
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in csp and "default-src 'self'" in csp
    assert 'src="/static/js/scan.js"' in r.text and 'id="scan-token"' in r.text
    assert "厦门科技馆" in r.text
    # Every script and asset the page uses is kepu's own.
    assert not re.search(r'(src|href)="(https?:)?//', r.text)
    for path in (
        "/static/js/scan.js",
        "/static/vendor/barcode-detector-3.2.2/barcode-detector.ponyfill.iife.js",
        "/static/vendor/barcode-detector-3.2.2/zxing_reader.wasm",
    ):
        asset = await client.get(path)
        assert asset.status_code == 200, path
    wasm = await client.get("/static/vendor/barcode-detector-3.2.2/zxing_reader.wasm")
    assert wasm.headers["content-type"] == "application/wasm"


async def test_scan_check_admits_with_the_api_outcome_and_keeps_device_facts(
    door: Door, client: httpx.AsyncClient
) -> None:
    page = StaffPage(client)
    await page.open()
    bid = door.booking["id"]
    r = await page.check({"token": door.token}, csrf=False)
    assert r.status_code == 403
    assert await rows() == []
    body = {"token": door.token, "nonce": "page-0001-a", "scanned_at": "2030-05-20T10:14:30+08:00"}
    r = await page.check(body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["result"] == "admitted" and out["booking_id"] == bid
    assert (out["students"], out["chaperones"]) == (30, 2)
    assert (out["booked_students"], out["admitted_students"]) == (30, 30)
    assert out["school_name"] == "厦门市第一中学"
    [row] = await rows()
    assert row["nonce"] == "page-0001-a" and row["device"] == "scan" and row["offline"] is False
    assert row["scanned_at"] == at(10, 14) + timedelta(seconds=30)
    again = await page.check(body)
    assert again.json() == out
    assert len(await rows()) == 1
    # The same booking scanned with the API's typed code, no counts: already in.
    r = await page.check({"token": door.booking["code"]})
    assert (r.status_code, r.json()["result"]) == (409, "already_checked_in")


async def test_scan_check_partial_arrival_and_the_next_bus(door: Door, client: httpx.AsyncClient) -> None:
    page = StaffPage(client)
    await page.open()
    bid = door.booking["id"]
    r = await page.check({"token": door.token, "students": 18, "chaperones": 1})
    assert r.json()["result"] == "admitted"
    r = await page.check({"token": door.token})
    assert (r.status_code, r.json()["result"]) == (409, "already_checked_in")
    assert (r.json()["booked_students"] - r.json()["admitted_students"]) == 12
    r = await page.check({"token": door.token, "students": 13, "chaperones": 0})
    assert (r.status_code, r.json()["result"]) == (422, "too_many")
    r = await page.check({"token": door.token, "students": 12, "chaperones": 1})  # the next bus: the rest
    assert r.json()["result"] == "admitted"
    assert await admitted_counts(bid) == (30, 2)
    r = await page.check({"token": door.token, "students": 1})
    assert r.json()["result"] == "already_checked_in"


async def test_scan_check_refusals_in_api_order(door: Door, client: httpx.AsyncClient, frozen: Clock) -> None:
    w = door.w
    other = await w.slot(capacity=50, venue="b", starts_at=at(11), ends_at=at(12))
    frozen.set(at(9))
    theirs = (await w.book(other["id"], 5, 1, who="teacher_b")).json()
    tomorrow = await w.slot(capacity=50, starts_at=at(10, days=1), ends_at=at(12, days=1))
    later = (await w.book(tomorrow["id"], 5, 1)).json()
    gone = (await w.book(tomorrow["id"], 5, 1)).json()
    assert (await w.post("teacher_a", f"/api/v1/bookings/{gone['id']}/cancel")).status_code == 200
    frozen.set(at(10, 15))
    page = StaffPage(client)
    await page.open()
    for token, expected, status in (
        ("nonsense", "invalid", 400),
        (theirs["qr_token"], "wrong_venue", 409),
        (gone["qr_token"], "cancelled", 409),
        (later["qr_token"], "wrong_day", 409),
    ):
        r = await page.check({"token": token})
        assert (r.status_code, r.json()["result"]) == (status, expected), r.text
        assert r.json()["detail"]
    assert "school_name" not in (await page.check({"token": theirs["qr_token"]})).json()


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'{"students": 1}',
        b'{"token": 5}',
        b'{"token": "x", "students": -1}',
        b'{"token": "x", "students": "3"}',
        b'{"token": "x", "chaperones": 10001}',
        b'{"token": "x", "nonce": "bad nonce"}',
        b'{"token": "x", "scanned_at": "yesterday"}',
        b'{"token": "x", "offline": "yes"}',
    ],
)
async def test_scan_check_bad_input_is_a_json_400(door: Door, client: httpx.AsyncClient, body: bytes) -> None:
    page = StaffPage(client)
    await page.open()
    r = await page.check(body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["status_code"] == 400 and r.json()["detail"]
    assert await rows() == []


async def test_scan_check_caps_a_scan_time_in_the_future(door: Door, client: httpx.AsyncClient) -> None:
    page = StaffPage(client)
    await page.open()
    r = await page.check({"token": door.token, "scanned_at": "2031-01-01T00:00:00+08:00", "offline": True})
    assert r.json()["result"] == "admitted"
    [row] = await rows()
    assert row["scanned_at"] == at(10, 15) and row["offline"] is True


# -- offline: the bundle, the upload, the service worker ------------------------------------------


async def test_bundle_holds_keys_todays_roster_and_cancelled_ids(
    door: Door, client: httpx.AsyncClient, frozen: Clock
) -> None:
    import base64

    from bookings import keys

    w = door.w
    frozen.set(at(9))
    gone = (await w.book((await w.slot(capacity=50, starts_at=at(11), ends_at=at(12)))["id"], 5, 1)).json()
    assert (await w.post("teacher_a", f"/api/v1/bookings/{gone['id']}/cancel")).status_code == 200
    tomorrow = (
        await w.book(
            (await w.slot(capacity=50, starts_at=at(10, days=1), ends_at=at(11, days=1)))["id"], 5, 1
        )
    ).json()
    theirs = (
        await w.book(
            (await w.slot(capacity=50, venue="b", starts_at=at(11), ends_at=at(12)))["id"],
            5,
            1,
            who="teacher_b",
        )
    ).json()
    frozen.set(at(10, 15))
    await scan(w, "staff_a", door.token, students=10, chaperones=1)
    page = StaffPage(client)
    await page.open()
    r = await client.get("/staff/scan/bundle")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    b = r.json()
    assert b["venue_id"] == w.venue_a and b["day"] == "2030-05-20"
    assert {int(k): base64.b64decode(v) for k, v in b["keys"].items()} == await keys.public_keys()
    assert set(b["bookings"]) == {str(door.booking["id"]), str(gone["id"])}
    assert (b["arrival_before"], b["arrival_after"]) == (None, None)
    entry = b["bookings"][str(door.booking["id"])]
    assert datetime.fromisoformat(entry.pop("starts_at")) == at(10)
    assert datetime.fromisoformat(entry.pop("ends_at")) == at(12)
    assert entry == {
        "school_name": "厦门市第一中学",
        "class_name": "",
        "grade": "",
        "status": "confirmed",
        "code": door.booking["code"],
        "students": 30,
        "chaperones": 2,
        "admitted_students": 10,
        "admitted_chaperones": 1,
    }
    assert b["cancelled"] == [gone["id"]]
    assert str(tomorrow["id"]) not in b["bookings"] and str(theirs["id"]) not in b["bookings"]
    await Venue.update({Venue.arrival_before_start_minutes: 30, Venue.arrival_after_end_minutes: 0}).where(
        Venue.id == w.venue_a
    )
    b = (await client.get("/staff/scan/bundle")).json()
    assert (b["arrival_before"], b["arrival_after"]) == (30, 0)
    client.cookies.clear()
    teacher = PageSession(client)
    await teacher.sign_in("teacher_a", PASSWORD)
    assert (await client.get("/staff/scan/bundle")).status_code == 403


async def upload(page: StaffPage, items: Any, *, csrf: bool = True) -> httpx.Response:
    headers = {"x-csrftoken": page.csrf} if csrf else {}
    content = items if isinstance(items, bytes) else None
    return await page.client.post(
        "/staff/scan/upload",
        json=None if content is not None else items,
        content=content,
        headers={**headers, "content-type": "application/json"},
    )


async def test_upload_applies_each_nonce_once_marked_offline(
    door: Door, client: httpx.AsyncClient, frozen: Clock
) -> None:
    w = door.w
    frozen.set(at(9))
    second = (await w.book((await w.slot(capacity=50, starts_at=at(10), ends_at=at(11)))["id"], 20, 1)).json()
    frozen.set(at(10, 20))
    page = StaffPage(client)
    await page.open()
    items = [
        {"token": door.token, "nonce": "off-0001-aaaa", "scanned_at": "2030-05-20T10:05:00+08:00"},
        {"token": second["code"], "students": 15, "chaperones": 1, "nonce": "off-0002-bbbb",
         "scanned_at": "2030-05-20T10:06:00+08:00"},
    ]  # fmt: skip
    assert (await upload(page, items, csrf=False)).status_code == 403
    r = await upload(page, items)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["nonce"], x["result"], x["booking_id"]) for x in results] == [
        ("off-0001-aaaa", "admitted", door.booking["id"]),
        ("off-0002-bbbb", "admitted", second["id"]),
    ]
    assert await admitted_counts(door.booking["id"]) == (30, 2)
    assert await admitted_counts(second["id"]) == (15, 1)
    before = await rows()
    assert [(x["offline"], x["needs_review"], x["result"]) for x in before] == [(True, False, "admitted")] * 2
    assert before[0]["scanned_at"] == at(10, 5) and before[1]["scanned_at"] == at(10, 6)
    # The same upload again (a retry after a lost answer): the same answers, nothing new.
    again = await upload(page, items)
    assert again.json() == r.json()
    assert await rows() == before
    assert await admitted_counts(door.booking["id"]) == (30, 2)
    assert await admitted_counts(second["id"]) == (15, 1)


async def test_two_offline_doors_admitting_one_booking_count_it_once(
    door: Door, client: httpx.AsyncClient
) -> None:
    page = StaffPage(client)
    await page.open()
    bid = door.booking["id"]
    first = await upload(page, [{"token": door.token, "nonce": "door-one-0001"}])
    assert first.json()["results"][0]["result"] == "admitted"
    # The other door, also offline, let the same class in (all of it, then a part it thought was left).
    other = await upload(
        page,
        [
            {"token": door.token, "nonce": "door-two-0001"},
            {"token": door.booking["code"], "students": 5, "nonce": "door-two-0002"},
        ],
    )
    assert [x["result"] for x in other.json()["results"]] == ["already_checked_in", "already_checked_in"]
    assert await admitted_counts(bid) == (30, 2)
    flagged = [(x["nonce"], x["needs_review"], x["offline"]) for x in await rows()]
    assert flagged == [
        ("door-one-0001", False, True),
        ("door-two-0001", True, True),
        ("door-two-0002", True, True),
    ]
    await scan(door.w, "staff_a", "x")  # an online denied scan is never flagged
    assert (await rows())[-1]["needs_review"] is False


async def test_offline_too_many_is_flagged_for_review(door: Door, client: httpx.AsyncClient) -> None:
    page = StaffPage(client)
    await page.open()
    await upload(page, [{"token": door.token, "students": 20, "chaperones": 2, "nonce": "part-one-0001"}])
    r = await upload(page, [{"token": door.token, "students": 15, "nonce": "part-two-0001"}])
    assert r.json()["results"][0]["result"] == "too_many"
    assert await admitted_counts(door.booking["id"]) == (20, 2)
    assert (await rows())[-1]["needs_review"] is True


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"{}",
        b'[{"token": "x"}]',
        b'[{"token": "x", "nonce": "bad nonce!"}]',
        b'[{"token": "x", "nonce": "abcdefgh", "students": -1}]',
        b'[{"token": 1, "nonce": "abcdefgh"}]',
        b'[{"token": "x", "nonce": "abcdefgh", "scanned_at": "soon"}]',
        b"[" + b",".join([b'{"token": "x", "nonce": "abcdefgh"}'] * 501) + b"]",
    ],
)
async def test_upload_bad_input_is_a_json_400(door: Door, client: httpx.AsyncClient, body: bytes) -> None:
    page = StaffPage(client)
    await page.open()
    r = await upload(page, body)
    assert r.status_code == 400, r.text
    assert r.json()["status_code"] == 400
    assert await rows() == []


async def test_service_worker_is_served_from_staff(client: httpx.AsyncClient, door: Door) -> None:
    r = await client.get("/staff/sw.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "/staff/scan" in r.text and "zxing_reader.wasm" in r.text


async def test_an_offline_admission_the_server_refuses_is_flagged(
    door: Door, client: httpx.AsyncClient
) -> None:
    """The device synced before the teacher cancelled: it let the class in; the server counts nobody."""
    assert (
        await door.w.post("teacher_a", f"/api/v1/bookings/{door.booking['id']}/cancel")
    ).status_code == 200
    page = StaffPage(client)
    await page.open()
    r = await upload(page, [{"token": door.token, "nonce": "stale-list-0001"}])
    assert r.json()["results"][0]["result"] == "cancelled"
    [row] = await rows()
    assert (row["result"], row["offline"], row["needs_review"]) == ("cancelled", True, True)
    assert await admitted_counts(door.booking["id"]) == (0, 0)
