"""Name lists end to end (issue 8): upload rules, encryption at rest, who may see what, masking on
the pages, and erasure by the worker, on cancellation and with the account (both engines)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from accounts.services import get_user_by_username
from core import db
from messaging import worker
from messaging.tables import Outbox
from privacy import namelists
from privacy.tables import NameList
from tests.api_support import at
from tests.conftest import IS_PG, Clock
from tests.helpers import PASSWORD
from tests.privacy.support import NAMES, page_for, upload, world_with_booking


async def raw_rows() -> list[dict]:
    return list(await NameList.raw("SELECT * FROM privacy_name_list"))


async def test_teacher_uploads_and_sees_the_list_masked(
    client: httpx.AsyncClient, frozen: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, booking = await world_with_booking(client, frozen)
    teacher = await page_for(client, "teacher_a")
    pass_page = await teacher.get(f"/bookings/{booking['id']}")
    assert 'data-testid="pass-namelist"' in pass_page.text
    r = await upload(teacher, booking["id"], names=NAMES)
    assert r.status_code == 303, r.text[:500]
    page = await teacher.get(f"/bookings/{booking['id']}/namelist")
    assert page.status_code == 200
    assert "no-store" in page.headers["cache-control"]
    for shown in ("张*明", "李*", "欧**娜", "A*********h"):
        assert shown in page.text
    for name in NAMES:
        assert name not in page.text
    assert "5" in (await teacher.get(f"/bookings/{booking['id']}")).text
    # No name reached a log line.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/namelist" in logged
    assert not any(name in logged for name in NAMES)


async def test_the_file_can_be_xlsx(client: httpx.AsyncClient, frozen: Clock) -> None:
    from openpyxl import Workbook

    _, booking = await world_with_booking(client, frozen)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in (["姓名"], ["张三明"], ["李四"]):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    teacher = await page_for(client, "teacher_a")
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    r = await upload(teacher, booking["id"], file=("班级名单.xlsx", buf.getvalue(), mime))
    assert r.status_code == 303, r.text[:500]
    assert [r["names"] for r in await raw_rows()] == [2]


@pytest.mark.parametrize(
    ("kwargs", "status", "phrase"),
    [
        ({"names": NAMES, "confirm": False}, 400, "guardians"),
        ({"names": [*NAMES, "多一个"]}, 400, "more names than the booking has people (5)"),
        ({"names": []}, 400, "no names"),
        ({"names": ["张三", "李\x07四"]}, 400, "Line 2"),
        ({"file": ("list.xlsx", b"not a workbook", "application/octet-stream")}, 400, "cannot be read"),
        ({"file": ("list.txt", "张三\n".encode("gbk"), "text/plain")}, 400, "UTF-8"),
    ],
)
async def test_upload_refusals(
    client: httpx.AsyncClient, frozen: Clock, kwargs: dict, status: int, phrase: str
) -> None:
    _, booking = await world_with_booking(client, frozen)
    teacher = await page_for(client, "teacher_a")
    client.cookies.set("lang", "en")  # the phrases below are the English message ids
    r = await upload(teacher, booking["id"], **kwargs)
    assert phrase in r.text
    assert r.status_code == status, r.text[:300]
    assert 'data-testid="namelist-error"' in r.text
    assert await raw_rows() == []


async def test_no_upload_where_the_venue_does_not_ask(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, _ = await world_with_booking(client, frozen)
    slot_b = await w.slot(capacity=80, venue="b", starts_at=at(10, days=4), ends_at=at(12, days=4))
    other = (await w.book(slot_b["id"], 4, 1)).json()
    teacher = await page_for(client, "teacher_a")
    assert 'data-testid="pass-namelist"' not in (await teacher.get(f"/bookings/{other['id']}")).text
    page = await teacher.get(f"/bookings/{other['id']}/namelist")
    assert 'data-testid="namelist-not-required"' in page.text
    r = await upload(teacher, other["id"], names=NAMES)
    assert r.status_code == 409
    assert await raw_rows() == []


async def test_replace_and_delete_until_the_visit(client: httpx.AsyncClient, frozen: Clock) -> None:
    _, booking = await world_with_booking(client, frozen)
    teacher = await page_for(client, "teacher_a")
    assert (await upload(teacher, booking["id"], names=NAMES)).status_code == 303
    assert (await upload(teacher, booking["id"], names=NAMES[:2])).status_code == 303
    rows = await raw_rows()
    assert len(rows) == 1 and rows[0]["names"] == 2
    await teacher.get(f"/bookings/{booking['id']}/namelist")
    r = await teacher.post(f"/bookings/{booking['id']}/namelist/delete")
    assert r.status_code == 303
    assert await raw_rows() == []
    # Once the visit has begun the list can no longer be given or changed.
    assert (await upload(teacher, booking["id"], names=NAMES)).status_code == 303
    frozen.set(at(10, 5, days=3))
    teacher = await page_for(client, "teacher_a")
    r = await upload(teacher, booking["id"], names=NAMES[:1])
    assert r.status_code == 409
    assert [r["names"] for r in await raw_rows()] == [5]


async def test_names_are_encrypted_at_rest(client: httpx.AsyncClient, frozen: Clock) -> None:
    _, booking = await world_with_booking(client, frozen)
    teacher = await page_for(client, "teacher_a")
    assert (await upload(teacher, booking["id"], names=NAMES)).status_code == 303
    rows = await raw_rows()
    assert len(rows) == 1
    blob = bytes(rows[0]["ciphertext"])
    everything = json.dumps(rows, default=str, ensure_ascii=False).encode() + blob
    for name in NAMES:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be", "gb18030"):
            assert name.encode(encoding) not in everything
    # It opens with the key, for this booking only.
    key = await namelists._key()
    assert namelists.decrypt(key, booking["id"], blob) == NAMES
    assert namelists.decrypt(key, booking["id"] + 1, blob) is None
    assert namelists.decrypt(b"\x00" * 32, booking["id"], blob) is None
    # Nor does any name reach the outbox (mails) or the ledger.
    for table in ("messaging_outbox", "ledger_entry"):
        dump = json.dumps(await Outbox.raw(f"SELECT * FROM {table}"), default=str, ensure_ascii=False)
        assert not any(name in dump for name in NAMES)


async def test_who_may_see(client: httpx.AsyncClient, frozen: Clock) -> None:
    _, booking = await world_with_booking(client, frozen)
    teacher = await page_for(client, "teacher_a")
    assert (await upload(teacher, booking["id"], names=NAMES)).status_code == 303
    url = f"/bookings/{booking['id']}/namelist"
    for who in ("teacher_a2", "teacher_b", "staff_a", "staff_b", "auditor"):
        page = await page_for(client, who)
        assert (await page.get(url)).status_code == 404, who
        await page.get("/bookings")
        assert (await page.post(f"{url}/delete")).status_code == 404, who
    for who in ("teacher_a", "teacher_b", "auditor"):
        page = await page_for(client, who)
        assert (await page.get("/staff/namelists")).status_code == 403, who
    # The door staff of venue A see the masked list on the visit day only; B's staff see nothing.
    staff = await page_for(client, "staff_a")
    r = await staff.get("/staff/namelists")
    assert r.status_code == 200 and f"door-namelist-{booking['id']}" not in r.text
    frozen.set(at(7, days=3))
    for who, sees in (("staff_a", True), ("staff_b", False)):
        page = await page_for(client, who)
        r = await page.get("/staff/namelists")
        assert r.status_code == 200
        assert (f"door-namelist-{booking['id']}" in r.text) is sees
        assert not any(name in r.text for name in NAMES)
        if sees:
            assert "张*明" in r.text and "欧**娜" in r.text
            assert "no-store" in r.headers["cache-control"]
            assert "/staff/namelists" in (await page.get("/staff/roster")).text
    frozen.set(at(8, days=4))
    staff = await page_for(client, "staff_a")
    assert f"door-namelist-{booking['id']}" not in (await staff.get("/staff/namelists")).text


def _sqlite_files() -> bytes:
    """The bytes of the SQLite database and its WAL (sync: a test reads small files)."""
    path = Path(db.engine().path)  # type: ignore[attr-defined]
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def _ciphertext_gone(blob: bytes) -> None:
    """No row holds the ciphertext; on SQLite, no byte of it is left in the database's files."""
    assert await raw_rows() == []
    if IS_PG:
        rows = await NameList.raw("SELECT count(*) AS n FROM privacy_name_list WHERE ciphertext = {}", blob)
        assert rows[0]["n"] == 0
        return
    assert blob[13:45] not in _sqlite_files()


async def test_worker_erases_lists_n_days_after_the_visit(
    client: httpx.AsyncClient, frozen: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEPU_NAMELIST_RETENTION_DAYS", "7")
    _, booking = await world_with_booking(client, frozen)
    teacher = await page_for(client, "teacher_a")
    assert (await upload(teacher, booking["id"], names=NAMES * 1)).status_code == 303
    blob = bytes((await raw_rows())[0]["ciphertext"])
    if not IS_PG:
        await NameList.raw("PRAGMA wal_checkpoint(TRUNCATE)")
        # The test below is only worth something if the ciphertext is in the file to begin with.
        assert blob[13:45] in _sqlite_files()
    assert namelists.purge in worker.JOBS
    frozen.set(at(12, days=3 + 7) - timedelta(minutes=1))  # the visit ended 7 days less a minute ago
    assert (await worker.run_pass()).jobs_failed == []
    assert len(await raw_rows()) == 1
    frozen.set(at(12, days=3 + 7))
    assert (await worker.run_pass()).jobs_failed == []
    await _ciphertext_gone(blob)


async def test_default_retention_is_30_days(client: httpx.AsyncClient, frozen: Clock) -> None:
    _, booking = await world_with_booking(client, frozen)
    teacher = await page_for(client, "teacher_a")
    assert (await upload(teacher, booking["id"], names=NAMES)).status_code == 303
    frozen.set(at(11, days=3 + 30))
    assert await namelists.purge() == 0
    frozen.set(at(12, days=3 + 30))
    assert await namelists.purge() == 1
    assert await raw_rows() == []


async def test_cancelling_the_booking_erases_the_list(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, booking = await world_with_booking(client, frozen)
    teacher = await page_for(client, "teacher_a")
    assert (await upload(teacher, booking["id"], names=NAMES)).status_code == 303
    blob = bytes((await raw_rows())[0]["ciphertext"])
    assert (await w.post("teacher_a", f"/api/v1/bookings/{booking['id']}/cancel")).status_code == 200
    # Not shown meanwhile, and erased by the next pass of the worker.
    page = await teacher.get(f"/bookings/{booking['id']}/namelist")
    assert 'data-testid="namelist-form"' not in page.text
    assert (await worker.run_pass()).jobs_failed == []
    await _ciphertext_gone(blob)


async def test_own_data_download_and_account_deletion(client: httpx.AsyncClient, frozen: Clock) -> None:
    _, booking = await world_with_booking(client, frozen)
    teacher = await page_for(client, "teacher_a")
    assert (await upload(teacher, booking["id"], names=NAMES)).status_code == 303
    blob = bytes((await raw_rows())[0]["ciphertext"])
    data = json.loads((await teacher.get("/account/data")).content)
    [entry] = data["name_lists"]
    assert entry["booking_id"] == booking["id"] and entry["names"] == len(NAMES)
    assert entry["names_masked"][:2] == ["张*明", "李*"]
    assert entry["delete_after"].startswith(str((at(12, days=33)).date()))
    text = json.dumps(data, ensure_ascii=False)
    assert not any(name in text for name in NAMES)
    # Deleting the account (after the visit) erases the list at once.
    frozen.set(at(13, days=3))
    teacher = await page_for(client, "teacher_a")
    await teacher.get("/account")
    r = await teacher.post("/account/delete", {"delete_password": PASSWORD})
    assert r.status_code == 303, r.text[:500]
    await _ciphertext_gone(blob)


async def test_privacy_notice_covers_name_lists(client: httpx.AsyncClient) -> None:
    r = await client.get("/privacy")
    assert r.status_code == 200
    assert 'data-testid="privacy-namelists"' in r.text
    assert "30" in r.text


async def test_venue_managers_set_the_requirement(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, _ = await world_with_booking(client, frozen)
    staff = await page_for(client, "staff_b")
    assert "namelist-policy" in (await staff.get(f"/venues/{w.venue_b}/rules")).text
    await staff.get(f"/venues/{w.venue_b}/namelist-policy")
    r = await staff.post(f"/venues/{w.venue_b}/namelist-policy", {"requires_name_list": "yes"})
    assert r.status_code == 303
    assert await namelists.requires_name_list(w.venue_b)
    # Another venue's staff and teachers may not.
    teacher = await page_for(client, "teacher_a")
    assert (await teacher.get(f"/venues/{w.venue_a}/namelist-policy")).status_code in (403, 404)
    other = await page_for(client, "staff_b")
    assert (await other.get(f"/venues/{w.venue_a}/namelist-policy")).status_code in (403, 404)
    await other.get("/staff/roster")
    r = await other.post(f"/venues/{w.venue_a}/namelist-policy", {"requires_name_list": "no"})
    assert r.status_code in (403, 404)
    assert await namelists.requires_name_list(w.venue_a)


async def test_two_uploads_at_once_leave_one_list(client: httpx.AsyncClient, frozen: Clock) -> None:
    _, booking = await world_with_booking(client, frozen)
    teacher = await get_user_by_username("teacher_a")
    assert teacher is not None
    counts = await asyncio.gather(
        *(
            namelists.upload(
                teacher,
                booking["id"],
                filename="",
                data=b"",
                text="\n".join(NAMES[:k]),
                guardians_informed=True,
            )
            for k in (2, 3, 4)
        )
    )
    rows = await raw_rows()
    assert sorted(counts) == [2, 3, 4]
    assert len(rows) == 1 and rows[0]["names"] in (2, 3, 4)
