"""The science association on a phone: imports bases from an XLSX file (report, then the progress bar
driven by the page's script), accredits a base and changes its status with a reason, sees this
year's scorecards with their charts, a base's yearly report, and the records behind a figure.

Screenshots in test-artifacts/screenshots/: audit-import-report, audit-import-done, audit-base,
audit-scorecards, audit-scorecard-base, audit-drill, audit-profile.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core import clock
from tests.browser.conftest import KepuServer
from tests.browser.test_journeys_browser import api, bearer, new_staff, no_horizontal_overflow, shot, sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, with KEPU_REQUIRE_BROWSER) before use
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def _xlsx(rows: list[list[Any]]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["名称", "类型", "区", "地址", "级别", "批次", "认定日期", "有效期至", "联系人", "联系电话"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_import_accredit_and_scorecards(
    new_phone: Callable[[], Any], kepu_server: KepuServer, unique: str, screenshot_dir: Path, tmp_path: Path
) -> None:
    districts = ["思明区", "湖里区", "集美区", "海沧区", "同安区", "翔安区"]
    kinds = ["科技馆", "博物馆", "科普教育基地", "实验室", "社区科普点"]
    rows: list[list[Any]] = [
        [f"测试基地{unique}-{i:03d}", kinds[i % 5], districts[i % 6], f"测试路{i}号",
         ["国家级", "省级", "市级"][i % 3], "2024年第一批", "2024-05-20", "2027-05-19", "陈老师", "0592-555"]
        for i in range(60)
    ]  # fmt: skip
    rows.append(["", "太空站", "火星区", "", "", "", "", "", "", ""])  # one bad row
    path = tmp_path / "bases.xlsx"
    path.write_bytes(_xlsx(rows))

    auditor = new_phone()
    sign_in(auditor, kepu_server.auditor, kepu_server.password)
    auditor.goto("/audit/bases/import")
    auditor.locator('input[name="file"]').set_input_files(str(path))
    auditor.locator('form[action="/audit/bases/import"] button[type="submit"]').click()
    expect(auditor.locator("#problems")).to_contain_text("火星区")
    no_horizontal_overflow(auditor)
    shot(auditor, screenshot_dir, "audit-import-report")
    auditor.locator('form[action$="/start"] button[type="submit"]').click()
    # The script steps through the chunks, moving the bar, and reloads when done.
    progress = auditor.locator("#import-progress")
    expect(progress).to_have_attribute("data-state", "done", timeout=30_000)
    expect(auditor.locator("#import-progress progress")).to_have_attribute("value", "60")
    no_horizontal_overflow(auditor)
    shot(auditor, screenshot_dir, "audit-import-done")

    # Accredit details and a status change with its reason, on the base page.
    auditor.goto("/audit/bases?district=思明区&kind=science_museum")
    auditor.get_by_role("link", name=f"测试基地{unique}-000").click()
    base_id = int(re.search(r"/audit/bases/(\d+)", auditor.url).group(1))  # type: ignore[union-attr]
    status_form = auditor.locator("form#status")
    status_form.locator('select[name="status"]').select_option("rectification")
    status_form.locator('textarea[name="reason"]').fill("年度抽查：开放天数不足")
    status_form.locator('button[type="submit"]').click()
    expect(auditor.locator(".flash-success")).to_be_visible()
    expect(auditor.locator("table").last).to_contain_text("年度抽查：开放天数不足")
    no_horizontal_overflow(auditor)
    shot(auditor, screenshot_dir, "audit-base")

    # Visits today at three imported bases: slots, bookings by the teacher, admissions at the door.
    start = clock.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    end = start + timedelta(hours=1)
    admin = bearer(kepu_server, kepu_server.auditor, kepu_server.password)
    teacher = bearer(kepu_server, kepu_server.teacher, kepu_server.password)
    venue_ids = [base_id, base_id + 1, base_id + 2]
    for n, venue_id in enumerate(venue_ids):
        new_staff(kepu_server, venue_id, f"door{unique}{n}")
        door = bearer(kepu_server, f"door{unique}{n}", kepu_server.password)
        slot = api(
            kepu_server, admin, "POST", f"/api/v1/venues/{venue_id}/slots",
            {"starts_at": start.isoformat(), "ends_at": end.isoformat(), "capacity": 200},
        )  # fmt: skip
        for band, students in (("primary_high", 40 + 10 * n), ("junior", 25)):
            booking = api(
                kepu_server, teacher, "POST", "/api/v1/bookings",
                {"slot_id": slot["id"], "students": students, "chaperones": 3, "grade_band": band},
            )  # fmt: skip
            api(kepu_server, door, "POST", "/api/v1/checkins", {"token": booking["code"]})

    auditor.goto("/audit/scorecards?district=思明区")
    expect(auditor.locator("svg[role=img]").first).to_be_visible()
    assert auditor.locator("svg[role=img]").count() == 4
    assert auditor.locator("svg[role=img] title").first.text_content()
    expect(auditor.locator("table.scorecards")).to_contain_text(f"测试基地{unique}-000")
    no_horizontal_overflow(auditor)
    shot(auditor, screenshot_dir, "audit-scorecards")

    auditor.goto(f"/audit/scorecards/{base_id}")
    expect(auditor.locator("h1")).to_contain_text(f"测试基地{unique}-000")
    assert auditor.locator("svg[role=img]").count() == 2
    no_horizontal_overflow(auditor)
    shot(auditor, screenshot_dir, "audit-scorecard-base")

    auditor.locator(f'a[href^="/audit/scorecards/{base_id}/visitors"]').click()
    expect(auditor.locator("table")).to_contain_text("厦门实验小学")
    no_horizontal_overflow(auditor)
    shot(auditor, screenshot_dir, "audit-drill")

    auditor.goto("/audit/profiles")
    auditor.locator('a[href^="/audit/profiles/"]').first.click()
    no_horizontal_overflow(auditor)
    shot(auditor, screenshot_dir, "audit-profile")
