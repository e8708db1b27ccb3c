"""The science association's registry: accreditation, status changes with reasons (kept for ever),
threshold profiles edited in the UI, and the base import (CSV/XLSX) with its check report and progress."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from typing import Any

import httpx
import openpyxl
import pytest

from evaluation import scorecard
from registry import imports
from registry.tables import Accreditation, ImportJob, StatusChange, ThresholdProfile
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession
from venues.tables import Venue


@pytest.fixture
async def world(client: httpx.AsyncClient, frozen: Clock) -> World:
    from datetime import datetime

    from core import clock

    frozen.set(datetime(2030, 3, 1, 9, tzinfo=clock.TZ))
    return await World(client).build()


async def auditor(client: httpx.AsyncClient) -> PageSession:
    s = PageSession(client)
    await s.sign_in("auditor", PASSWORD)
    await s.get("/lang/en?next=/audit")
    await s.get("/audit/bases")
    return s


async def history(venue_id: int) -> list[dict[str, Any]]:
    return list(await StatusChange.select().where(StatusChange.venue == venue_id).order_by(StatusChange.id))


# ---- accreditation and status ------------------------------------------------------------------------


async def test_accredit_edit_and_change_status_with_reason(world: World, client: httpx.AsyncClient) -> None:
    s = await auditor(client)
    a = world.venue_a
    page = await s.get("/audit/bases")
    assert "厦门科技馆" in page.text and "Not accredited" in page.text
    good = {
        "level": "national",
        "batch": "2024年第一批",
        "accredited_on": "2024-05-20",
        "valid_until": "2027-05-19",
        "contact_name": "陈老师",
        "contact_phone": "0592-1234567",
        "profile": "",
    }
    for bad, field in (
        ({"level": "galactic"}, "level"),
        ({"accredited_on": "2024-13-01"}, "accredited_on"),
        ({"valid_until": "2023-01-01"}, "valid_until"),
        ({"contact_phone": "call me"}, "contact_phone"),
        ({"profile": "999999"}, "profile"),
    ):
        r = await s.post(f"/audit/bases/{a}", {**good, **bad})
        assert r.status_code == 400, (bad, r.status_code)
        assert f'id="e-{field}"' in r.text, bad
    assert await Accreditation.count() == 0
    r = await s.post(f"/audit/bases/{a}", good)
    page = await s.follow(r)
    assert "2024年第一批" in page.text and "陈老师" in page.text
    acc = await Accreditation.select().where(Accreditation.venue == a).first()
    assert acc is not None and acc["status"] == "active" and acc["level"] == "national"
    assert [h["to_status"] for h in await history(a)] == ["active"]

    # A status change needs a reason; nothing is written without one.
    r = await s.post(f"/audit/bases/{a}/status", {"status": "rectification", "reason": "  "})
    assert r.status_code == 400 and 'id="e-reason"' in r.text
    r = await s.post(f"/audit/bases/{a}/status", {"status": "closed", "reason": "x"})
    assert r.status_code == 400
    assert len(await history(a)) == 1
    r = await s.post(f"/audit/bases/{a}/status", {"status": "rectification", "reason": "开放天数不足"})
    page = await s.follow(r)
    assert "开放天数不足" in page.text
    r = await s.post(f"/audit/bases/{a}/status", {"status": "rectification", "reason": "again"})
    assert r.status_code == 409
    r = await s.post(f"/audit/bases/{a}/status", {"status": "revoked", "reason": "整改不到位"})
    assert r.status_code == 303
    h = await history(a)
    assert [(x["from_status"], x["to_status"], x["reason"]) for x in h] == [
        ("", "active", "认定 / accredited"),
        ("active", "rectification", "开放天数不足"),
        ("rectification", "revoked", "整改不到位"),
    ]
    assert all(x["changed_by"] is not None for x in h)
    # Editing the accreditation afterwards keeps the status (only a status change changes it).
    r = await s.post(f"/audit/bases/{a}", {**good, "batch": "2025年第二批"})
    assert r.status_code == 303
    acc = await Accreditation.select().where(Accreditation.venue == a).first()
    assert acc is not None and (acc["status"], acc["batch"]) == ("revoked", "2025年第二批")

    # Filters on the base list.
    assert "厦门科技馆" in (await s.get("/audit/bases?status=revoked")).text
    assert "集美学村科普基地" not in (await s.get("/audit/bases?status=revoked")).text
    assert "集美学村科普基地" not in (await s.get("/audit/bases?level=national")).text
    page = await s.get("/audit/bases?district=集美区")
    assert "集美学村科普基地" in page.text and "厦门科技馆" not in page.text
    page = await s.get("/audit/bases?kind=science_museum&status=bogus")
    assert "厦门科技馆" in page.text and "集美学村科普基地" not in page.text
    assert (await s.get("/audit/bases/999999")).status_code == 404


async def test_status_history_cannot_be_edited_or_deleted(world: World, client: httpx.AsyncClient) -> None:
    s = await auditor(client)
    await s.post(f"/audit/bases/{world.venue_a}/status", {"status": "rectification", "reason": "抽查"})
    rows = await history(world.venue_a)
    assert len(rows) == 1
    with pytest.raises(Exception, match="append_only"):
        await StatusChange.update({StatusChange.reason: "改过"}).where(StatusChange.id == rows[0]["id"])
    with pytest.raises(Exception, match="append_only"):
        await StatusChange.delete().where(StatusChange.id == rows[0]["id"])
    assert [r["reason"] for r in await history(world.venue_a)] == ["抽查"]


async def test_not_for_teachers_or_staff(world: World, client: httpx.AsyncClient) -> None:
    for who in ("teacher_a", "staff_a"):
        s = PageSession(httpx.AsyncClient(transport=client._transport, base_url="http://testserver"))
        await s.sign_in(who, PASSWORD)
        for url in (
            "/audit/bases",
            f"/audit/bases/{world.venue_a}",
            "/audit/profiles",
            "/audit/bases/import",
        ):
            assert (await s.get(url)).status_code == 403, (who, url)
        r = await s.post(f"/audit/bases/{world.venue_a}/status", {"status": "revoked", "reason": "x"})
        assert r.status_code == 403
    assert await StatusChange.count() == 0


# ---- threshold profiles ------------------------------------------------------------------------------


def profile_form(config: dict[str, Any]) -> dict[str, Any]:
    form: dict[str, Any] = {}
    for code, spec in config["metrics"].items():
        form[f"t_{code}"] = spec["threshold"]
        form[f"w_{code}"] = spec["weight"]
    for band, v in config["bands"].items():
        form[f"band_{band}"] = v
    return form


async def test_profiles_are_seeded_and_edited_in_the_ui(world: World, client: httpx.AsyncClient) -> None:
    s = await auditor(client)
    page = await s.get("/audit/profiles")
    for name in ("场馆类", "公共场所类", "教育科研类", "生产设施类", "实验室类"):
        assert name in page.text
    venue = await ThresholdProfile.select().where(ThresholdProfile.code == "venue").first()
    lab = await ThresholdProfile.select().where(ThresholdProfile.code == "lab").first()
    assert venue is not None and lab is not None
    cfg = json.loads(venue["config"])
    assert cfg["metrics"]["open_days"]["threshold"] == 200 and cfg["metrics"]["visitors"]["threshold"] == 5000
    assert cfg["bands"] == {"excellent": 90, "good": 70, "pass": 60}
    assert sum(m["weight"] for m in cfg["metrics"].values()) == 100
    lab_cfg = json.loads(lab["config"])
    assert (lab_cfg["metrics"]["open_days"]["threshold"], lab_cfg["metrics"]["visitors"]["threshold"]) == (
        20,
        800,
    )

    form = profile_form(cfg)
    for bad in (
        {"t_open_days": "-1"},
        {"t_open_days": "many"},
        {"t_fulfilment_rate": "150"},
        {"w_visitors": "101"},
        {"band_good": "95"},
    ):
        r = await s.post(f"/audit/profiles/{venue['id']}", {**form, **bad})
        assert r.status_code == 400, bad
        assert 'aria-invalid="true"' in r.text
    zero = {k: 0 for k in form if k.startswith("w_")}
    assert (await s.post(f"/audit/profiles/{venue['id']}", {**form, **zero})).status_code == 400
    assert (
        json.loads(
            (await ThresholdProfile.select().where(ThresholdProfile.id == venue["id"]).first())["config"]
        )
        == cfg
    )  # type: ignore[index]

    # Only open days counts, with a threshold of 0: every venue of the profile scores 100.
    new = {**form, **zero, "w_open_days": "10", "t_open_days": "0"}
    r = await s.post(f"/audit/profiles/{venue['id']}", new)
    assert r.status_code == 303
    cards = {c.venue_id: c for c in (await scorecard.city_year(2030)).cards}
    assert (cards[world.venue_a].score, cards[world.venue_a].grade) == (100.0, "excellent")
    assert cards[world.venue_b].grade == "fail"  # public-place profile unchanged
    # A base can be put on another profile.
    await s.post(
        f"/audit/bases/{world.venue_b}",
        {"level": "municipal", "profile": str(venue["id"])},
    )
    cards = {c.venue_id: c for c in (await scorecard.city_year(2030)).cards}
    assert (cards[world.venue_b].profile_code, cards[world.venue_b].grade) == ("venue", "excellent")
    assert (await s.get("/audit/profiles/999999")).status_code == 404


# ---- import ---------------------------------------------------------------------------------------------

HEADER_ZH = ["名称", "类型", "区", "地址", "级别", "批次", "认定日期", "有效期至", "联系人", "联系电话"]
GOOD_ROWS = [
    [
        "厦门市气象科普馆",
        "科技馆",
        "思明区",
        "莲岳路1号",
        "省级",
        "2023年第一批",
        "2023-06-01",
        "2026-05-31",
        "李老师",
        "0592-5550001",
    ],
    [
        "翔安海洋实验室",
        "实验室",
        "翔安",
        "翔安南路",
        "市级",
        "2024年第二批",
        "2024/09/10",
        "2027/09/09",
        "",
        "",
    ],
    ["同安科普公园", "科普教育基地", "同安区", "", "", "", "", "", "", ""],
]


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER_ZH, bom: bool = True) -> bytes:
    import csv as csv_module

    buf = io.StringIO()
    w = csv_module.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return (buf.getvalue()).encode("utf-8-sig" if bom else "utf-8")


def xlsx_bytes(rows: list[list[Any]], header: list[str] = HEADER_ZH) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def upload(s: PageSession, name: str, content: bytes, ctype: str = "text/csv") -> httpx.Response:
    return await s.client.post(
        "/audit/bases/import",
        files={"file": (name, content, ctype)},
        data={"_csrf_token": s.csrf},
        headers={"x-csrftoken": s.csrf},
    )


async def run_import(s: PageSession, job_id: int, mode: str = "all") -> list[dict[str, Any]]:
    r = await s.post(f"/audit/bases/import/{job_id}/start", {"mode": mode})
    assert r.status_code == 303, r.text[:300]
    steps = []
    for _ in range(100):
        r = await s.client.post(
            f"/audit/bases/import/{job_id}/step",
            headers={"x-csrftoken": s.csrf, "accept": "application/json"},
        )
        assert r.status_code == 200, r.text
        steps.append(r.json())
        if steps[-1]["state"] == "done":
            return steps
    raise AssertionError("the import never finished")


def job_id_of(r: httpx.Response) -> int:
    assert r.status_code == 303, r.text[:500]
    return int(str(r.headers["location"]).rsplit("/", 1)[1])


async def test_import_csv_then_again_changes_nothing(world: World, client: httpx.AsyncClient) -> None:
    s = await auditor(client)
    await s.get("/audit/bases/import")
    data = csv_bytes(GOOD_ROWS)
    job = job_id_of(await upload(s, "bases.csv", data))
    page = await s.get(f"/audit/bases/import/{job}")
    assert "3 rows checked: 3 clean, 0 with problems" in page.text
    assert await Venue.count() == 2  # nothing imported before asked
    steps = await run_import(s, job)
    assert steps[-1] | {} == {**steps[-1], "processed": 3, "total": 3, "created": 3, "percent": 100}
    assert await Venue.count() == 5
    lab = await Venue.select().where(Venue.name == "翔安海洋实验室").first()
    assert lab is not None and (lab["kind"], lab["district"]) == ("laboratory", "翔安区")
    acc = await Accreditation.select().where(Accreditation.venue == lab["id"]).first()
    assert acc is not None
    assert (acc["level"], acc["batch"], str(acc["accredited_on"])[:10], str(acc["valid_until"])[:10]) == (
        "municipal",
        "2024年第二批",
        "2024-09-10",
        "2027-09-09",
    )
    assert [h["reason"] for h in await history(lab["id"])] == ["批量导入 / imported from a file"]
    before = {
        "venues": await Venue.select().order_by(Venue.id),
        "acc": await Accreditation.select(
            *[c for c in Accreditation.all_columns() if c._meta.name != "updated_at"]
        ),
        "history": await StatusChange.count(),
    }
    # The same file again: checked clean, imported, and nothing changes.
    job2 = job_id_of(await upload(s, "bases.csv", data))
    steps = await run_import(s, job2)
    assert (steps[-1]["created"], steps[-1]["updated"], steps[-1]["unchanged"]) == (0, 0, 3)
    after = {
        "venues": await Venue.select().order_by(Venue.id),
        "acc": await Accreditation.select(
            *[c for c in Accreditation.all_columns() if c._meta.name != "updated_at"]
        ),
        "history": await StatusChange.count(),
    }
    assert after == before
    # The XLSX of the same bases (dates as date cells) also changes nothing.
    xrows = [list(r) for r in GOOD_ROWS]
    xrows[0][6], xrows[0][7] = date(2023, 6, 1), date(2026, 5, 31)
    job3 = job_id_of(await upload(s, "bases.xlsx", xlsx_bytes(xrows), imports_ctype()))
    steps = await run_import(s, job3)
    assert (steps[-1]["created"], steps[-1]["updated"], steps[-1]["unchanged"]) == (0, 0, 3)
    # A changed row updates that base only.
    changed = [list(r) for r in GOOD_ROWS]
    changed[2][4] = "国家级"
    steps = await run_import(s, job_id_of(await upload(s, "bases.csv", csv_bytes(changed, bom=False))))
    assert (steps[-1]["created"], steps[-1]["updated"], steps[-1]["unchanged"]) == (0, 1, 2)


def imports_ctype() -> str:
    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


BAD_ROWS = [
    ["", "科技馆", "思明区", "", "", "", "", "", "", ""],  # 2: no name
    ["火星馆", "太空站", "思明区", "", "", "", "", "", "", ""],  # 3: unknown kind
    ["海边馆", "博物馆", "鼓浪屿", "", "", "", "", "", "", ""],  # 4: unknown district
    ["级别馆", "博物馆", "湖里区", "", "区级", "", "", "", "", ""],  # 5: unknown level
    ["日期馆", "博物馆", "湖里区", "", "", "", "2024-02-30", "", "", ""],  # 6: not a date
    ["倒序馆", "博物馆", "湖里区", "", "", "", "2024-05-01", "2023-05-01", "", ""],  # 7: ends before start
    ["电话馆", "博物馆", "湖里区", "", "", "", "", "", "王", "打电话"],  # 8: not a phone
    ["长地址馆", "博物馆", "湖里区", "路" * 201, "", "", "", "", "", ""],  # 9: too long
    ["好馆", "博物馆", "集美区", "", "", "", "", "", "", ""],  # 10: clean
    ["好馆", "科技馆", "集美区", "", "", "", "", "", "", ""],  # 11: same base twice
    ["", "", "", "", "", "", "", "", "", ""],  # blank line: skipped
    ["名字" * 101, "博物馆", "海沧区", "", "", "", "", "", "", ""],  # 13: name too long
]
EXPECTED_PROBLEMS = [
    (2, "name"),
    (3, "kind"),
    (4, "district"),
    (5, "level"),
    (6, "accredited_on"),
    (7, "valid_until"),
    (8, "contact_phone"),
    (9, "address"),
    (11, "name"),
    (13, "name"),
]


async def test_import_reports_every_bad_row_and_imports_only_on_request(
    world: World, client: httpx.AsyncClient
) -> None:
    s = await auditor(client)
    job = job_id_of(await upload(s, "bad.csv", csv_bytes(BAD_ROWS)))
    stored = await imports.get_job(job)
    assert [(p["row"], p["field"]) for p in stored["problems"]] == EXPECTED_PROBLEMS
    assert [r["name"] for r in stored["rows"]] == ["好馆"]
    page = await s.get(f"/audit/bases/import/{job}")
    assert 'id="problems"' in page.text and "鼓浪屿" in page.text
    assert "Import the 1 clean rows" in page.text
    # Importing everything is refused while rows have problems; nothing is written.
    r = await s.post(f"/audit/bases/import/{job}/start", {"mode": "all"})
    assert r.status_code == 409 and "clean rows" in r.text
    assert await Venue.count() == 2
    steps = await run_import(s, job, mode="clean")
    assert steps[-1]["created"] == 1 and await Venue.count() == 3
    # Starting again, or stepping a finished job, changes nothing.
    assert (await s.post(f"/audit/bases/import/{job}/start", {"mode": "clean"})).status_code == 303
    r = await s.client.post(
        f"/audit/bases/import/{job}/step", headers={"x-csrftoken": s.csrf, "accept": "application/json"}
    )
    assert r.json()["created"] == 1 and await Venue.count() == 3

    # A file whose rows are all bad cannot be imported at all.
    job = job_id_of(await upload(s, "bad.csv", csv_bytes(BAD_ROWS[:2])))
    r = await s.post(f"/audit/bases/import/{job}/start", {"mode": "clean"})
    assert r.status_code == 409


async def test_import_refuses_files_that_are_not_what_they_say(
    world: World, client: httpx.AsyncClient
) -> None:
    s = await auditor(client)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    cases = [
        ("fake.xlsx", b"name,kind\n", 400, "XLSX"),
        ("other.xlsx", zipped.getvalue(), 400, "XLSX"),
        ("gbk.csv", "名称,类型,区\n科技馆,科技馆,思明区\n".encode("gb18030"), 400, "UTF-8"),
        ("binary.csv", b"\x00\x01\x02", 400, "UTF-8"),
        ("empty.csv", b"", 400, "file"),
        ("big.csv", b"a" * (imports.MAX_BYTES + 10), 413, "5 MB"),
    ]
    for name, content, status, words in cases:
        r = await upload(s, name, content)
        assert r.status_code == status, (name, r.status_code)
        assert words in r.text, name
    # Far over the limit: refused before the form is read, still with a sentence, never a 500.
    r = await upload(s, "huge.csv", b"a" * (imports.MAX_BYTES * 2))
    assert r.status_code == 413
    assert await ImportJob.count() == 0
    # Missing required columns: a report naming them, nothing to import.
    job = job_id_of(await upload(s, "cols.csv", csv_bytes([["x", "y"]], header=["名称", "备注"])))
    stored = await imports.get_job(job)
    assert [(p["row"], p["field"]) for p in stored["problems"]] == [(1, "kind"), (1, "district")]
    assert stored["rows"] == []


async def test_large_import_runs_in_chunks_with_progress(world: World, client: httpx.AsyncClient) -> None:
    s = await auditor(client)
    rows = [[f"社区科普点{i:03d}", "社区科普", "湖里区", "", "", "", "", "", "", ""] for i in range(120)]
    job = job_id_of(await upload(s, "many.xlsx", xlsx_bytes(rows), imports_ctype()))
    steps = await run_import(s, job)
    assert [(p["processed"], p["percent"]) for p in steps] == [(50, 41), (100, 83), (120, 100)]
    assert await Venue.count() == 122
    page = await s.get(f"/audit/bases/import/{job}")
    assert "<progress" in page.text and 'value="120"' in page.text
    # Without the script, the "continue" button does one chunk per click and comes back to the page.
    job = job_id_of(await upload(s, "many.xlsx", xlsx_bytes(rows), imports_ctype()))
    await s.post(f"/audit/bases/import/{job}/start", {"mode": "all"})
    page = await s.get(f"/audit/bases/import/{job}")
    assert "step-form" in page.text
    r = await s.post(f"/audit/bases/import/{job}/step", {})
    assert r.status_code == 303
    assert (await imports.get_job(job))["processed"] == 50
