"""Evidence photos of activities and pupils' name lists far over their limit get kepu's 413 page (or JSON)
that names the file limit people know, not Litestar's bare 413 nor the larger body limit."""

from __future__ import annotations

import httpx

from activities import services as activities
from activities.pages import UPLOAD_BODY_LIMIT
from activities.tables import Activity
from privacy import namelists
from privacy.masking import MAX_BYTES
from privacy.tables import NameList
from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession
from tests.privacy.support import require_lists


async def _session(client: httpx.AsyncClient, who: str) -> PageSession:
    s = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await s.sign_in(who, PASSWORD)
    return s


def _mb(n: int) -> str:
    return f"{n / 1048576:.1f}".rstrip("0").rstrip(".")


async def test_activity_photo_far_over_the_limit_says_the_photo_limit(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(at(8))
    await World(client).build()
    s = await _session(client, "staff_a")
    await s.get("/staff/activities")
    big = b"\xff\xd8\xff" + b"0" * (UPLOAD_BODY_LIMIT + 1024 * 1024)
    form = {"kind": "lecture", "title": "海洋生物讲座", "starts_on": "2030-05-10", "attendance": "120"}
    limit = f"{_mb(activities.PHOTO_MAX_BYTES)} MB"
    r = await s.client.post(
        "/staff/activities",
        data={**form, "_csrf_token": s.csrf},
        files={"photo": ("big.jpg", big, "image/jpeg")},
        headers={"accept": "text/html"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert limit in r.text  # the photo limit (5 MB), not the body limit
    assert f"{_mb(UPLOAD_BODY_LIMIT)} MB" not in r.text
    assert "Request Entity Too Large" not in r.text
    assert 'class="topbar"' in r.text
    assert await Activity.count() == 0

    # Correcting a record with a new photo: the same limit; the record keeps its values.
    r = await s.client.post("/staff/activities", data={**form, "_csrf_token": s.csrf})
    assert r.status_code == 303, r.text[:300]
    row = await Activity.select(Activity.id).first()
    assert row is not None
    r = await s.client.post(
        f"/staff/activities/{row['id']}",
        data={**form, "attendance": "150", "_csrf_token": s.csrf},
        files={"photo": ("big.jpg", big, "image/jpeg")},
        headers={"accept": "application/json"},
    )
    assert r.status_code == 413
    body = r.json()
    assert body["code"] == "too_large" and body["limit_bytes"] == activities.PHOTO_MAX_BYTES
    assert limit in body["detail"]
    assert await Activity.select(Activity.attendance).first() == {"attendance": 120}


async def test_name_list_file_far_over_the_limit_says_the_file_limit(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    await require_lists(w.venue_a)
    slot = await w.slot(capacity=80, starts_at=at(10, days=3), ends_at=at(12, days=3))
    r = await w.book(slot["id"], 4, 1)
    assert r.status_code == 201, r.text
    booking_id = r.json()["id"]
    s = await _session(client, "teacher_a")
    await s.get(f"/bookings/{booking_id}/namelist")
    body_limit = MAX_BYTES + namelists.MAX_TEXT_CHARS * 4 + 65536
    big = "张三\n".encode() * ((body_limit + 512 * 1024) // 7)
    r = await s.client.post(
        f"/bookings/{booking_id}/namelist",
        data={"_csrf_token": s.csrf, "guardians_informed": "yes", "names": ""},
        files={"file": ("names.txt", big, "text/plain")},
        headers={"accept": "text/html"},
    )
    assert r.status_code == 413
    assert f"{_mb(MAX_BYTES)} MB" in r.text  # the file limit (0.5 MB), not the body limit
    assert f"{_mb(body_limit)} MB" not in r.text
    assert "Request Entity Too Large" not in r.text
    assert 'class="topbar"' in r.text
    # The name-list file's content never shows on the error page.
    assert "张三" not in r.text
    assert await NameList.count() == 0
