"""The staff and auditor pages: record with a photo (multipart, CSRF), edit, withdraw, self-report,
and who may see what."""

from __future__ import annotations

import re

import httpx

from activities.tables import Activity, SelfReport
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession

from .test_services import jpeg_with_exif


async def signed_in(client: httpx.AsyncClient, username: str) -> PageSession:
    # Each person gets their own cookie jar on the same app.
    own = httpx.AsyncClient(transport=client._transport, base_url="http://testserver", follow_redirects=False)
    s = PageSession(own)
    await s.sign_in(username, PASSWORD)
    return s


async def upload(
    s: PageSession, url: str, data: dict[str, str], photo: bytes | None = None
) -> httpx.Response:
    if not s.csrf:
        await s.get("/staff/activities")
    files = {"photo": ("photo.jpg", photo, "image/jpeg")} if photo is not None else None
    r = await s.client.post(url, data={**data, "_csrf_token": s.csrf}, files=files)
    if m := re.search(r'name="_csrf_token" value="([^"]+)"', r.text):
        s.csrf = m.group(1)
    return r


LECTURE = {"kind": "lecture", "title": "海洋生物讲座", "starts_on": "2026-06-01", "attendance": "120"}


async def test_staff_records_edits_and_withdraws(world: World, client: httpx.AsyncClient) -> None:
    a = await signed_in(client, "staff_a")
    page = await a.get("/staff/activities")
    assert page.status_code == 200 and 'data-testid="activity-form"' in page.text
    r = await upload(a, "/staff/activities", {**LECTURE, "students": "100", "adults": "20"}, jpeg_with_exif())
    assert r.status_code == 303, r.text[:800]
    listed = await a.follow(r)
    assert "海洋生物讲座" in listed.text and "/thumbnail" in listed.text
    row = await Activity.select(Activity.id, Activity.photo).first()
    assert row is not None and b"SecretCam" not in row["photo"]
    photo = await a.get(f"/activities/{row['id']}/photo")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    # Bad input comes back on the form with a sentence, nothing saved.
    bad = await upload(a, "/staff/activities", {**LECTURE, "starts_on": "2026-06-30"})
    assert bad.status_code == 422 and ("cannot be after today" in bad.text or "不能晚于今天" in bad.text)
    bad = await upload(a, "/staff/activities", {**LECTURE, "attendance": "-3"})
    assert bad.status_code == 400
    bad = await upload(a, "/staff/activities", {**LECTURE, "starts_on": "someday"})
    assert bad.status_code == 400
    bad = await upload(a, "/staff/activities", LECTURE, b"%PDF-1.4 a document")
    assert bad.status_code == 415
    assert await Activity.count() == 1
    # Edit, then withdraw with a reason.
    edit = await a.get(f"/staff/activities/{row['id']}")
    assert edit.status_code == 200 and 'value="120"' in edit.text
    r = await upload(a, f"/staff/activities/{row['id']}", {**LECTURE, "attendance": "130"})
    assert r.status_code == 303
    assert (await Activity.select(Activity.attendance, Activity.photo_size).first())["attendance"] == 130  # type: ignore[index]
    assert (await Activity.select(Activity.photo_size).first())["photo_size"] > 0  # type: ignore[index]
    r = await a.post(f"/staff/activities/{row['id']}/withdraw", {"reason": ""})
    assert r.status_code == 422
    r = await a.post(f"/staff/activities/{row['id']}/withdraw", {"reason": "录入错误"})
    assert r.status_code == 303
    assert (await Activity.select(Activity.withdraw_reason).first())["withdraw_reason"] == "录入错误"  # type: ignore[index]


async def test_other_venue_and_roles(world: World, client: httpx.AsyncClient) -> None:
    a = await signed_in(client, "staff_a")
    r = await upload(a, "/staff/activities", LECTURE, jpeg_with_exif())
    assert r.status_code == 303
    activity_id = (await Activity.select(Activity.id).first())["id"]  # type: ignore[index]
    b = await signed_in(client, "staff_b")
    for url in (f"/staff/activities/{activity_id}", f"/activities/{activity_id}/photo"):
        assert (await b.get(url)).status_code == 404
    r = await upload(b, f"/staff/activities/{activity_id}", {**LECTURE, "attendance": "1"})
    assert r.status_code == 404
    assert (await b.post(f"/staff/activities/{activity_id}/withdraw", {"reason": "x"})).status_code == 404
    assert "海洋生物讲座" not in (await b.get("/staff/activities")).text
    auditor = await signed_in(client, "auditor")
    listed = await auditor.get(f"/audit/activities?year=2026&venue={world.venue_a}")
    assert listed.status_code == 200 and "海洋生物讲座" in listed.text
    assert (await auditor.get(f"/activities/{activity_id}/thumbnail")).status_code == 200
    assert (await auditor.get("/staff/activities")).status_code == 403
    assert (await auditor.get("/audit/activities?year=1800")).status_code == 422
    teacher = await signed_in(client, "teacher_a")
    for url in (
        "/staff/activities",
        "/audit/activities",
        f"/activities/{activity_id}/photo",
        "/staff/self-report",
    ):
        assert (await teacher.get(url)).status_code == 403, url
    assert (await a.get("/audit/self-reports")).status_code == 403


async def test_self_report_pages(world: World, client: httpx.AsyncClient) -> None:
    a = await signed_in(client, "staff_a")
    page = await a.get("/staff/self-report?year=2026")
    assert page.status_code == 200 and 'data-testid="self-report-form"' in page.text
    values = {
        "fulltime_staff": "12",
        "parttime_staff": "30",
        "volunteers": "150",
        "funding_raised": "800000",
        "funding_spent": "650000",
        "exhibit_area": "9000",
        "note": "含流动展",
    }
    bad = await a.post("/staff/self-report?year=2026", {**values, "volunteers": "lots"})
    assert bad.status_code == 400
    assert await SelfReport.count() == 0
    assert (await a.post("/staff/self-report?year=2027", values)).status_code == 422
    r = await a.post("/staff/self-report?year=2026", values)
    assert r.status_code == 303
    again = await a.follow(r)
    assert 'value="150"' in again.text
    auditor = await signed_in(client, "auditor")
    overview = await auditor.get("/audit/self-reports?year=2026")
    assert overview.status_code == 200 and "800,000" in overview.text and "含流动展" in overview.text


async def test_photo_over_the_limit(world: World, client: httpx.AsyncClient) -> None:
    a = await signed_in(client, "staff_a")
    just_over = b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024 + 100)  # over 5 MB, within the body limit
    r = await upload(a, "/staff/activities", LECTURE, just_over)
    assert r.status_code == 413 and ("5 MB" in r.text or "5 MB" in r.text)
    far_over = b"\xff\xd8\xff" + b"\0" * (8 * 1024 * 1024)
    r = await upload(a, "/staff/activities", LECTURE, far_over)
    assert r.status_code == 413
    assert await Activity.count() == 0
