"""The schools registry: CSV import checked row by row, a report, clean-rows import on request,
idempotent re-import (name + district), auditors only; and the service's checks one by one."""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts import schools
from accounts.tables import DISTRICTS, School
from core.i18n import language
from tests.helpers import PASSWORD, World, make_user
from tests.pages.browser_session import PageSession

GOOD = (
    "name,district,stage\n"
    "厦门实验小学,思明区,小学\n"
    "集美中学,集美区,完全中学\n"
    "厦门市五缘实验学校,湖里区,九年一贯制\n"
)


def problems(data: bytes) -> list[tuple[int | None, str]]:
    return [(p.row, p.field) for p in schools.check_csv(data).problems]


def test_clean_file_with_and_without_bom_and_chinese_headers() -> None:
    for data in (GOOD.encode(), b"\xef\xbb\xbf" + GOOD.encode()):
        check = schools.check_csv(data)
        assert check.clean
        assert [(r.row, r.name, r.district, r.stage) for r in check.rows] == [
            (2, "厦门实验小学", "思明区", "primary"),
            (3, "集美中学", "集美区", "complete"),
            (4, "厦门市五缘实验学校", "湖里区", "nine_year"),
        ]
    chinese = "\ufeff学校名称,区,学段\n同安一中,同安,高中\n翔安幼儿园,翔安区,kindergarten\n"
    check = schools.check_csv(chinese.encode())
    assert check.clean
    assert [(r.district, r.stage) for r in check.rows] == [("同安区", "senior"), ("翔安区", "kindergarten")]


def test_every_kind_of_bad_row_is_reported_with_row_and_field() -> None:
    data = (
        (
            "name,district,stage\n"
            ",思明区,小学\n"  # 2: missing name
            "某小学,鼓浪屿区,小学\n"  # 3: unknown district
            "某中学,思明区,大学\n"  # 4: unknown stage
            "厦门实验小学,思明区,小学\n"  # 5: fine
            "厦门实验小学,思明区,小学\n" + "长" * 201 + ",湖里区,初中\n"  # 6: duplicate of 5  # 7: too long
            "\n"  # blank lines are skipped
            "缺区小学,,小学\n"  # 9: missing district
        ).encode()
    )
    check = schools.check_csv(data)
    assert [(p.row, p.field) for p in check.problems] == [
        (2, "name"),
        (3, "district"),
        (4, "stage"),
        (6, "name"),
        (7, "name"),
        (9, "district"),
    ]
    assert check.bad_rows == 6
    assert [r.row for r in check.rows] == [5]
    messages = " ".join(p.message for p in check.problems)
    assert "鼓浪屿区" in messages and "大学" in messages and "5" in messages


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b"name,district,stage\n", "empty"),
        ("name,district,stage\n厦门实验小学,思明区,小学\n".encode("gbk"), "UTF-8"),
        (b"school name,area\nx,y\n", "first row"),
        ("学校名称,学段\n厦门实验小学,小学\n".encode(), "first row"),
        (b"name,district,stage\n\x00\x01,x,y\n", "CSV"),
        (b"x" * (schools.MAX_UPLOAD_BYTES + 1), "MB"),
    ],
)
def test_file_level_problems(data: bytes, needle: str) -> None:
    with language("en"):  # the sentences checked are the English ones
        check = schools.check_csv(data)
    assert not check.rows
    assert len(check.problems) == 1 and check.problems[0].row is None
    assert needle in check.problems[0].message


def upload(content: bytes, name: str = "schools.csv") -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, content, "text/csv")}


async def auditor_session(client: httpx.AsyncClient) -> PageSession:
    await make_user("auditor", "auditor")
    s = PageSession(client)
    await s.sign_in("auditor", PASSWORD)
    await s.get("/audit/schools")
    return s


async def post_file(s: PageSession, content: bytes, **extra: str) -> httpx.Response:
    return await s.client.post(
        "/audit/schools/import", data={"_csrf_token": s.csrf, **extra}, files=upload(content)
    )


async def registry() -> list[tuple[str, str, str]]:
    rows = await School.select(School.name, School.district, School.stage).order_by(School.id)
    return [(r["name"], r["district"], r["stage"]) for r in rows]


async def test_clean_import_then_reimport_changes_nothing(client: httpx.AsyncClient) -> None:
    s = await auditor_session(client)
    r = await post_file(s, GOOD.encode())
    assert r.status_code == 303, r.text[:500]
    page = await s.follow(r)
    assert "3" in page.text and "集美中学" in page.text
    before = await registry()
    assert len(before) == 3
    ids = [r["id"] for r in await School.select(School.id).order_by(School.id)]
    r = await post_file(s, b"\xef\xbb\xbf" + GOOD.encode())
    page = await s.follow(r)
    assert await registry() == before
    assert [r["id"] for r in await School.select(School.id).order_by(School.id)] == ids
    assert re.search(r"0[^0-9]+0[^0-9]+3", page.text)  # 0 added, 0 updated, 3 already there


async def test_existing_school_gets_its_stage_once(client: httpx.AsyncClient) -> None:
    s = await auditor_session(client)
    await make_user("t1", "teacher", school="厦门实验小学", district="思明区")  # made without a stage
    r = await post_file(s, GOOD.encode())
    assert r.status_code == 303
    assert ("厦门实验小学", "思明区", "primary") in await registry()
    assert len(await registry()) == 3
    result = await schools.import_rows(schools.check_csv(GOOD.encode()).rows)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 3)


async def test_file_with_problems_is_reported_and_nothing_imported(client: httpx.AsyncClient) -> None:
    s = await auditor_session(client)
    bad = GOOD + "某中学,鼓浪屿区,初中\n"
    r = await post_file(s, bad.encode())
    assert r.status_code == 400
    assert "鼓浪屿区" in r.text and "<td>5</td>" in r.text
    assert await registry() == []
    # "Import the rows that are fine" imports the three clean rows from the check just shown.
    pending = re.search(r'name="pending" value="([^"]+)"', r.text)
    assert pending
    r2 = await s.post("/audit/schools/import/clean", {"pending": pending.group(1)})
    assert r2.status_code == 303
    assert len(await registry()) == 3
    # The same check cannot be imported twice.
    r3 = await s.post("/audit/schools/import/clean", {"pending": pending.group(1)})
    assert r3.status_code == 400
    assert "30" in r3.text


async def test_partial_import_on_request_in_one_step(client: httpx.AsyncClient) -> None:
    s = await auditor_session(client)
    bad = GOOD + ",思明区,小学\n"
    r = await post_file(s, bad.encode(), partial="on")
    assert r.status_code == 303
    assert len(await registry()) == 3


async def test_file_problems_are_sentences_not_errors(client: httpx.AsyncClient) -> None:
    s = await auditor_session(client)
    for content in (b"", "学校名称,区,学段\n厦门实验小学,思明区,小学\n".encode("gbk"), b"a,b\n1,2\n"):
        r = await post_file(s, content)
        assert r.status_code == 400
        assert 'role="alert"' in r.text
    too_big = b"name,district,stage\n" + b"x" * (schools.MAX_UPLOAD_BYTES + 10)
    r = await post_file(s, too_big)
    assert r.status_code == 400 and "1 MB" in r.text
    r = await s.client.post("/audit/schools/import", data={"_csrf_token": s.csrf})
    assert r.status_code == 400 and "CSV" in r.text
    assert await registry() == []


async def test_search_lists_by_district_and_name(client: httpx.AsyncClient) -> None:
    s = await auditor_session(client)
    await post_file(s, GOOD.encode())
    page = await s.get("/audit/schools", params={"district": "集美区"})
    assert "集美中学" in page.text and "厦门实验小学" not in page.text
    page = await s.get("/audit/schools", params={"q": "实验"})
    assert "厦门实验小学" in page.text and "集美中学" not in page.text
    assert "完全中学" in (await s.get("/audit/schools")).text  # the stage's Chinese label


@pytest.mark.parametrize("role", ["teacher_a", "staff_a", None])
async def test_only_auditors(client: httpx.AsyncClient, role: str | None) -> None:
    await World(client).build()
    before = await registry()
    s = PageSession(client)
    if role is not None:
        await s.sign_in(role, PASSWORD)
    await s.get("/login")
    page = await s.client.get("/audit/schools")
    refused = (302, 303) if role is None else (403,)
    assert page.status_code in refused
    r = await s.client.post(
        "/audit/schools/import", data={"_csrf_token": s.csrf}, files=upload(GOOD.encode())
    )
    assert r.status_code in refused
    assert await registry() == before


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_a_report_never_an_exception(data: bytes) -> None:
    check = schools.check_csv(data)
    assert check.rows or check.problems


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.sampled_from(
                ["", "思明区", "思明", "小学", "完中", "x", '"', ",", "\n", "学校名称", "长" * 201]
            ),
            max_size=4,
        ),
        max_size=6,
    )
)
def test_any_table_gives_a_report_never_an_exception(table: list[list[str]]) -> None:
    text = "name,district,stage\n" + "\n".join(",".join(row) for row in table)
    check = schools.check_csv(text.encode())
    for row in check.rows:
        assert row.name and len(row.name) <= schools.MAX_NAME and row.district in DISTRICTS
    assert all(p.message for p in check.problems)
