"""Rooms and programmes set up by venue staff: pages, rule overrides, slots tied to them, files."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from accounts.schemas import UserView
from bookings.rules import Rules, effective_rules
from core import clock
from tests.conftest import Clock
from tests.helpers import PASSWORD, World, in_days
from tests.pages.browser_session import PageSession
from venues import programmes
from venues.schemas import RULE_FIELDS
from venues.tables import Programme, ProgrammeFile, Slot


def jpeg_with_exif(size: tuple[int, int] = (800, 600)) -> bytes:
    image = Image.new("RGB", size, (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (24.0, 28.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (300, 200), (200, 10, 10, 128)).save(out, "PNG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def office_bytes(marker: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(marker, "<x/>")
    return out.getvalue()


async def staff_session(client: httpx.AsyncClient, username: str) -> PageSession:
    s = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
    await s.sign_in(username, PASSWORD)
    return s


async def new_programme(s: PageSession, venue_id: int, **fields: Any) -> int:
    data = {"title": "海洋生物探秘", "description": "认识厦门海域的生物", "tags": "生物·海洋, 生态", **fields}
    r = await s.post(f"/venues/{venue_id}/programmes/new", data)
    assert r.status_code == 303, r.text[:2000]
    return int(re.search(r"/programmes/(\d+)$", r.headers["location"]).group(1))  # type: ignore[union-attr]


# ---- effective rules ------------------------------------------------------------------------------


def test_programme_rules_override_and_null_falls_back() -> None:
    venue = {f: None for f in RULE_FIELDS} | {"min_lead_days": 3, "group_max": 60, "daily_cap": 200}
    programme = {f: None for f in programmes.PROGRAMME_RULE_FIELDS} | {
        "group_max": 30,
        "approval_mode": "request",
    }
    rules = effective_rules(venue, programme)
    assert rules.group_max == 30  # override
    assert rules.min_lead_days == 3  # NULL: the venue's
    assert rules.daily_cap == 200  # never a programme's
    assert rules.needs_approval
    assert effective_rules(venue, None) == Rules(min_lead_days=3, group_max=60, daily_cap=200)
    assert "daily_cap" not in programmes.PROGRAMME_RULE_FIELDS
    assert set(programmes.PROGRAMME_RULE_FIELDS) <= set(Rules.__struct_fields__)


async def _programme_row(venue_id: int, **rules: Any) -> int:
    now = clock.now()
    rows = await Programme.insert(
        Programme(venue=venue_id, title="力学实验", created_at=now, updated_at=now, **rules)
    ).returning(Programme.id)
    return int(rows[0]["id"])


async def test_booking_applies_programme_override_and_venue_fallback(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(in_days(0, 8, 0))
    w = await World(client).build()
    r = await client.patch(
        f"/api/v1/venues/{w.venue_a}",
        json={"group_max": 60, "min_lead_days": 2, "free_cancel_days": 1},
        headers=w.h["staff_a"],
    )
    assert r.status_code == 200, r.text
    small = await _programme_row(w.venue_a, group_max=20, free_cancel_days=5)
    plain = await _programme_row(w.venue_a)  # every override NULL
    s_small = await w.slot(capacity=100, days=7)
    s_plain = await w.slot(capacity=100, days=7)
    s_none = await w.slot(capacity=100, days=7)
    await Slot.update({Slot.programme: small}).where(Slot.id == s_small["id"])
    await Slot.update({Slot.programme: plain}).where(Slot.id == s_plain["id"])

    # The programme's group_max (20) applies to its slot...
    r = await w.book(s_small["id"], students=28, chaperones=2)
    assert r.status_code == 409 and r.json()["code"] == "group_too_large"
    assert "20" in r.json()["detail"]
    # ...while a NULL override and a slot without programme take the venue's 60.
    assert (await w.book(s_plain["id"], students=28, chaperones=2)).status_code == 201
    assert (await w.book(s_none["id"], students=28, chaperones=2)).status_code == 201
    # The venue's min lead (2 days) still applies to the programme's slot (its override is NULL).
    near = await w.slot(capacity=100, days=1)
    await Slot.update({Slot.programme: small}).where(Slot.id == near["id"])
    r = await w.book(near["id"], students=10, chaperones=1)
    assert r.status_code == 409 and r.json()["code"] == "lead_too_short"

    # The programme's free-cancellation deadline (5 days) is the booking's, not the venue's (1 day).
    r = await w.book(s_small["id"], students=15, chaperones=1)
    assert r.status_code == 201, r.text
    booking = r.json()
    day = clock.local(in_days(7)).date()
    assert booking["free_cancel_until"] == (day - timedelta(days=5)).isoformat()
    r = await w.book(s_plain["id"], students=15, chaperones=1, who="teacher_b")
    assert r.json()["free_cancel_until"] == (day - timedelta(days=1)).isoformat()

    # A headcount change on the programme's slot is held to its group_max too.
    r = await client.patch(
        f"/api/v1/bookings/{booking['id']}", json={"students": 25}, headers=w.h["teacher_a"]
    )
    assert r.status_code == 409 and r.json()["code"] == "group_too_large"

    # The booking page states the slot's rules: the programme's group size, else the venue's.
    t = await staff_session(client, "teacher_a")
    assert re.search(r"1\D{1,4}20\D", (await t.get(f"/slots/{s_small['id']}/book")).text)
    assert re.search(r"1\D{1,4}60\D", (await t.get(f"/slots/{s_none['id']}/book")).text)


async def test_door_ratio_uses_programme_ratio(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(in_days(0, 8, 0))
    w = await World(client).build()
    r = await client.patch(
        f"/api/v1/venues/{w.venue_a}",
        json={"students_per_adult": 20, "door_ratio_policy": "warn"},
        headers=w.h["staff_a"],
    )
    assert r.status_code == 200
    strict = await _programme_row(w.venue_a, students_per_adult=10)
    slot = await w.slot(capacity=100, days=0, starts_at=in_days(0, 9, 0))
    await Slot.update({Slot.programme: strict}).where(Slot.id == slot["id"])
    r = await w.book(slot["id"], students=30, chaperones=3)
    assert r.status_code == 201, r.text
    frozen.set(in_days(0, 8, 50))
    r = await client.post(
        "/api/v1/checkins",
        json={"token": r.json()["code"], "students": 30, "chaperones": 2},
        headers=w.h["staff_a"],
    )
    assert r.status_code == 200, r.text
    # 30 students with the programme's 1:10 need 3 adults (the venue's 1:20 would need 2).
    assert r.json()["warning"] and "3" in r.json()["warning"]


# ---- staff pages ----------------------------------------------------------------------------------


async def test_staff_manage_rooms_programmes_and_slots(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(in_days(0, 8, 0))
    w = await World(client).build()
    s = await staff_session(client, "staff_a")
    page = await s.get(f"/venues/{w.venue_a}/programmes")
    assert page.status_code == 200
    # Rooms: a blank name is a sentence, not a 500.
    r = await s.post(f"/venues/{w.venue_a}/rooms", {"name": "", "capacity": "40"})
    assert r.status_code == 400 and "请填写" in r.text
    r = await s.post(f"/venues/{w.venue_a}/rooms", {"name": "海洋厅", "capacity": "40"})
    assert r.status_code == 303
    page = await s.follow(r)
    room_id = int(re.search(r"/rooms/(\d+)\"", page.text).group(1))  # type: ignore[union-attr]
    r = await s.post(f"/venues/{w.venue_a}/rooms/{room_id}", {"name": "海洋厅", "capacity": "45"})
    assert r.status_code == 303
    assert (await programmes.get_room(w.venue_a, room_id)).capacity == 45

    # Programmes: create with bands, tags, an override; bad bounds come back as a sentence.
    r = await s.post(
        f"/venues/{w.venue_a}/programmes/new",
        {"title": "力学", "group_min": "50", "group_max": "20"},
    )
    assert r.status_code == 422 and "50" in r.text
    pid = await new_programme(
        s, w.venue_a, grade_bands=["primary_high", "junior"], group_max="30", duration_minutes="90"
    )
    p = await programmes.get_programme(pid)
    assert p.grade_bands == ["primary_high", "junior"]
    assert p.tags == ["生物·海洋", "生态"]
    assert p.group_max == 30 and p.min_lead_days is None and p.duration_minutes == 90
    edit = await s.get(f"/venues/{w.venue_a}/programmes/{pid}")
    assert "海洋生物探秘" in edit.text and 'value="primary_high" checked' in edit.text
    # Clearing the override field sets it back to NULL (the venue's rule).
    r = await s.post(f"/venues/{w.venue_a}/programmes/{pid}", {"title": "海洋生物探秘", "group_max": ""})
    assert r.status_code == 303
    assert (await programmes.get_programme(pid)).group_max is None

    # The one-off slot form offers the programme and the room; the room bounds the capacity.
    dash = await s.get("/staff")
    assert 'name="programme_id"' in dash.text and 'name="room_id"' in dash.text
    day = (clock.today() + timedelta(days=7)).isoformat()
    slot = {"date": day, "start": "09:30", "end": "11:00", "programme_id": str(pid), "room_id": str(room_id)}
    r = await s.post(f"/venues/{w.venue_a}/slots/new", {**slot, "capacity": "60"})
    assert r.status_code == 422
    assert "海洋厅" in r.text and "45" in r.text
    assert await Slot.count() == 0
    r = await s.post(f"/venues/{w.venue_a}/slots/new", {**slot, "capacity": "45"})
    assert r.status_code == 303
    row = await Slot.select(Slot.id, Slot.programme, Slot.room).first()
    assert row is not None and row["programme"] == pid and row["room"] == room_id
    slot_page = await s.get(f"/slots/{row['id']}")
    assert "海洋生物探秘" in slot_page.text and "海洋厅" in slot_page.text

    # A teacher's pass names the programme and the room.
    r = await w.book(row["id"], students=20, chaperones=2)
    assert r.status_code == 201
    assert r.json()["programme_title"] == "海洋生物探秘" and r.json()["room_name"] == "海洋厅"
    t = await staff_session(client, "teacher_a")
    pass_page = await t.get(f"/bookings/{r.json()['id']}")
    assert "海洋生物探秘" in pass_page.text and "海洋厅" in pass_page.text

    # Retiring: the programme and the room take no new slots; they leave the selects.
    r = await s.post(f"/venues/{w.venue_a}/programmes/{pid}/retire", {"retire": "1"})
    assert r.status_code == 303
    r = await s.post(f"/venues/{w.venue_a}/rooms/{room_id}", {"retire": "1"})
    assert r.status_code == 303
    dash = await s.get("/staff")
    assert 'name="programme_id"' not in dash.text and 'name="room_id"' not in dash.text
    r = await s.post(f"/venues/{w.venue_a}/slots/new", {**slot, "capacity": "30"})
    assert r.status_code == 409 and 'class="error"' in r.text
    r = await s.post(f"/venues/{w.venue_a}/slots/new", {**slot, "programme_id": "", "capacity": "30"})
    assert r.status_code == 409
    assert await Slot.count() == 1
    # Restored, the programme is back.
    r = await s.post(f"/venues/{w.venue_a}/programmes/{pid}/retire", {"restore": "1"})
    assert (await programmes.get_programme(pid)).retired_at is None


async def test_only_the_venue_staff_or_auditor_manage(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    a = await staff_session(client, "staff_a")
    pid = await new_programme(a, w.venue_a)
    b = await staff_session(client, "staff_b")
    assert (await b.get(f"/venues/{w.venue_a}/programmes")).status_code == 403
    r = await b.post(f"/venues/{w.venue_a}/programmes/{pid}", {"title": "改名"})
    assert r.status_code == 403
    r = await b.post(f"/venues/{w.venue_a}/programmes/{pid}/retire", {"retire": "1"})
    assert r.status_code == 403
    # Another venue's programme id under one's own venue is "no such programme".
    r = await b.post(f"/venues/{w.venue_b}/programmes/{pid}", {"title": "改名"})
    assert r.status_code == 404
    t = await staff_session(client, "teacher_a")
    assert (await t.get(f"/venues/{w.venue_a}/programmes")).status_code == 403
    auditor = await staff_session(client, "auditor")
    assert (await auditor.get(f"/venues/{w.venue_a}/programmes")).status_code == 200
    assert (await programmes.get_programme(pid)).title == "海洋生物探秘"


async def test_venue_directions_and_phone(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    s = await staff_session(client, "staff_a")
    r = await s.post(
        f"/venues/{w.venue_a}/info",
        {"address": "体育路95号", "directions": "BRT 体育中心站", "contact_phone": "abc"},
    )
    assert r.status_code == 400
    r = await s.post(
        f"/venues/{w.venue_a}/info",
        {"address": "体育路95号", "directions": "BRT 体育中心站下车", "contact_phone": "0592-1234567"},
    )
    assert r.status_code == 303
    assert (await programmes.venue_info(w.venue_a))["directions"] == "BRT 体育中心站下车"


# ---- files ----------------------------------------------------------------------------------------


async def upload(s: PageSession, url: str, kind: str, name: str, data: bytes, ctype: str) -> httpx.Response:
    if not s.csrf:
        await s.get("/login")
    return await s.client.post(
        url, data={"kind": kind, "_csrf_token": s.csrf}, files={"file": (name, data, ctype)}
    )


async def test_photo_upload_is_reencoded_with_thumbnail(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    s = await staff_session(client, "staff_a")
    pid = await new_programme(s, w.venue_a)
    url = f"/venues/{w.venue_a}/programmes/{pid}/files"
    original = jpeg_with_exif()
    r = await upload(s, url, "photo", '../../etc/海洋 "1".jpg', original, "image/jpeg")
    assert r.status_code == 303, r.text[:1000]
    row = await ProgrammeFile.select().first()
    assert row is not None
    assert row["filename"] == "海洋 1.jpg"  # no path, no quotes
    assert row["content_type"] == "image/jpeg" and row["kind"] == "photo"
    stored = Image.open(io.BytesIO(row["data"]))
    assert stored.format == "JPEG" and not stored.getexif()  # metadata gone
    assert b"SecretCam" not in bytes(row["data"])
    thumb = Image.open(io.BytesIO(row["thumbnail"]))
    assert max(thumb.size) <= programmes.THUMB_SIDE
    # A PNG with transparency becomes a JPEG too.
    assert (await upload(s, url, "photo", "p.png", png_bytes(), "image/png")).status_code == 303

    t = await staff_session(client, "teacher_a")
    got = await t.get(f"/programme-files/{row['id']}")
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.headers["content-disposition"].startswith("inline;")
    assert "filename*=UTF-8''" in got.headers["content-disposition"]
    assert got.headers["x-content-type-options"] == "nosniff"
    small = await t.get(f"/programme-files/{row['id']}/thumbnail")
    assert small.status_code == 200 and small.content == bytes(row["thumbnail"])
    assert (await t.get("/programme-files/999999")).status_code == 404
    # Removing a file.
    r = await s.post(f"/venues/{w.venue_a}/programmes/{pid}/files/{row['id']}/delete")
    assert r.status_code == 303
    assert (await t.get(f"/programme-files/{row['id']}")).status_code == 404


@pytest.mark.parametrize(
    ("kind", "name", "data", "status", "words"),
    [
        ("photo", "x.jpg", b"<html><script>alert(1)</script>", 415, "JPEG"),
        ("photo", "x.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 415, "JPEG"),
        ("photo", "big.jpg", b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024 + 10), 413, "5 MB"),
        ("pre_visit", "notes.pdf", b"MZ\x90\x00 not a pdf", 415, "PDF"),
        ("pre_visit", "slides.pdf", b"PK\x03\x04", 415, "PDF"),
        ("pre_visit", "report.docx", pdf_bytes(), 415, ".docx"),
        ("post_visit", "big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024 + 10), 413, "10 MB"),
        ("pre_visit", "empty.pdf", b"", 422, "flash-error"),
    ],
)
async def test_bad_uploads_are_refused_in_words(
    client: httpx.AsyncClient, kind: str, name: str, data: bytes, status: int, words: str
) -> None:
    w = await World(client).build()
    s = await staff_session(client, "staff_a")
    pid = await new_programme(s, w.venue_a)
    r = await upload(s, f"/venues/{w.venue_a}/programmes/{pid}/files", kind, name, data, "application/pdf")
    assert r.status_code == status, r.text[:500]
    assert words in r.text
    assert await ProgrammeFile.count() == 0


async def test_materials_pdf_docx_pptx(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    s = await staff_session(client, "staff_a")
    pid = await new_programme(s, w.venue_a)
    url = f"/venues/{w.venue_a}/programmes/{pid}/files"
    assert (await upload(s, url, "pre_visit", "学习单.pdf", pdf_bytes(), "text/plain")).status_code == 303
    docx = office_bytes("word/document.xml")
    assert (
        await upload(s, url, "pre_visit", "教案.docx", docx, "application/octet-stream")
    ).status_code == 303
    pptx = office_bytes("ppt/presentation.xml")
    assert (
        await upload(s, url, "post_visit", "复习.pptx", pptx, "application/octet-stream")
    ).status_code == 303
    rows = await ProgrammeFile.select(
        ProgrammeFile.id, ProgrammeFile.content_type, ProgrammeFile.filename
    ).order_by(ProgrammeFile.id)
    assert [r["content_type"] for r in rows] == [
        "application/pdf",
        programmes.OFFICE["docx"][1],
        programmes.OFFICE["pptx"][1],
    ]
    t = await staff_session(client, "teacher_a")
    got = await t.get(f"/programme-files/{rows[0]['id']}")
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert "%E5%AD%A6%E4%B9%A0%E5%8D%95.pdf" in got.headers["content-disposition"]
    assert got.content == pdf_bytes()
    detail = await t.get(f"/programmes/{pid}")
    assert "学习单.pdf" in detail.text and "复习.pptx" in detail.text


def test_filename_cleaning() -> None:
    assert programmes.clean_filename("C:\\Users\\a\\x.pdf") == "x.pdf"
    assert programmes.clean_filename("a\x00b\r\n.pdf") == "ab.pdf"
    assert programmes.clean_filename("") == "file"
    assert programmes.clean_filename("...") == "file"


async def test_service_refuses_other_venue(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    user = UserView(id=999, username="x", display_name="x", role="staff", venue_id=w.venue_b)  # type: ignore[call-arg]
    with pytest.raises(Exception) as info:
        await programmes.save_room(user, w.venue_a, programmes.RoomForm(name="a", capacity=3))
    assert getattr(info.value, "code", "") == "other_venue"


async def test_file_limit_holds_under_concurrent_uploads(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from accounts import services as accounts
    from kepu.auth import load_actor

    w = await World(client).build()
    s = await staff_session(client, "staff_a")
    pid = await new_programme(s, w.venue_a)
    monkeypatch.setattr(programmes, "FILES_PER_PROGRAMME", 3)
    user = await accounts.get_user_by_username("staff_a")
    assert user is not None
    actor = await load_actor(user.id)
    assert actor is not None and actor.venue_id == w.venue_a
    results = await asyncio.gather(
        *(programmes.add_file(actor, w.venue_a, pid, "pre_visit", f"{i}.pdf", pdf_bytes()) for i in range(6)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, programmes.ProgrammeError)]
    assert len(refused) == 3 and all(r.code == "too_many_files" for r in refused)
    assert await ProgrammeFile.count() == 3
