"""The scorecard CSV/XLSX carry the self-reported columns; the 全国科普统计 sheet and CSV read back."""

from __future__ import annotations

import csv
import io
from datetime import date

import httpx
from openpyxl import load_workbook

from activities import services
from activities.services import ActivityForm, SelfReportForm
from evaluation import exports, national_stats, scorecard
from tests.helpers import World

from .conftest import user
from .test_pages import signed_in


async def seed(world: World) -> None:
    a, b = await user("staff_a"), await user("staff_b")
    for kind, day, people, online in (
        ("lecture", date(2026, 3, 3), 200, False),
        ("lecture", date(2026, 5, 14), 1500, True),
        ("exhibition", date(2026, 2, 1), 8000, False),
        ("competition", date(2026, 4, 20), 60, False),
        ("training", date(2026, 5, 30), 45, False),
    ):
        await services.create_activity(
            a, ActivityForm(kind=kind, title=f"{kind}-{day}", starts_on=day, attendance=people, online=online)
        )
    await services.create_activity(
        b, ActivityForm(kind="online", title="云上科普", starts_on=date(2026, 1, 9), attendance=700)
    )
    await services.save_self_report(
        a,
        2026,
        SelfReportForm(
            fulltime_staff=15,
            parttime_staff=40,
            volunteers=220,
            funding_raised=1_234_500,
            funding_spent=987_600,
            exhibit_area=12_000,
        ),
    )


def row_of(rows: list[dict[str, str]], name: str) -> dict[str, str]:
    return next(r for r in rows if r["基地名称"] == name)


async def test_scorecard_csv_and_xlsx_have_self_reported_columns(world: World) -> None:
    await seed(world)
    city = await scorecard.city_year(2026)
    rows = list(csv.DictReader(io.StringIO(exports.scorecards_csv(city).decode("utf-8-sig"))))
    a, b = row_of(rows, "厦门科技馆"), row_of(rows, "集美学村科普基地")
    assert a["科普活动次数(自报)"] == "5" and a["科普活动参加人次(自报)"] == str(200 + 1500 + 8000 + 60 + 45)
    assert a["讲座次数(自报)"] == "2" and a["讲座人次(自报)"] == "1700"
    assert a["其中线上举办次数(自报)"] == "1" and a["科技活动周活动次数(自报)"] == "1"
    assert a["注册科普志愿者(人)(自报)"] == "220"
    assert a["科普经费筹集额(元)(自报)"] == "1234500"
    assert b["线上活动次数(自报)"] == "1" and b["科普专职人员(人)(自报)"] == ""  # not filed: empty, not 0
    assert a["接待人次"] == "0"  # the check-in figure stays apart
    wb = load_workbook(io.BytesIO(exports.scorecards_xlsx(city)))
    ws = wb[f"{city.year}年考核"]
    header = [c.value for c in ws[1]]
    col = header.index("科普活动参加人次(自报)") + 1
    cells = {
        ws.cell(r, header.index("基地名称") + 1).value: ws.cell(r, col) for r in range(2, ws.max_row + 1)
    }
    assert cells["厦门科技馆"].value == 9805 and cells["厦门科技馆"].number_format == "#,##0"


async def test_national_statistics_sheet_and_csv(world: World, client: httpx.AsyncClient) -> None:
    await seed(world)
    city = await scorecard.city_year(2026)
    wb = load_workbook(io.BytesIO(exports.scorecards_xlsx(city)))
    ws = wb[national_stats.NATIONAL_SHEET]
    header = [c.value for c in ws[1]]
    for field in (
        "科普专职人员(人)",
        "科普兼职人员(人)",
        "注册科普志愿者(人)",
        "年度科普经费筹集额(万元)",
        "年度科普经费使用额(万元)",
        "科普场馆展厅面积(平方米)",
        "参观人次(人次)",
        "科普(技)讲座举办次数(次)",
        "科普(技)专题展览参观人次(人次)",
        "科普(技)竞赛举办次数(次)",
        "科技活动周科普专题活动次数(次)",
    ):
        assert field in header, field
    rows = {
        ws.cell(r, 2).value: {h: ws.cell(r, i + 1) for i, h in enumerate(header)}
        for r in range(2, ws.max_row + 1)
    }
    a = rows["厦门科技馆"]
    assert (
        a["年度科普经费筹集额(万元)"].value == 123.45
        and a["年度科普经费筹集额(万元)"].number_format == "0.00"
    )
    assert a["年度科普经费使用额(万元)"].value == 98.76
    assert a["科普(技)讲座举办次数(次)"].value == 2 and a["其中线上科普(技)讲座次数(次)"].value == 1
    assert a["其中线上科普(技)讲座参加人次(人次)"].value == 1500
    assert a["科普(技)专题展览参观人次(人次)"].value == 8000
    assert a["实用技术培训举办次数(次)"].value == 1
    assert a["科技活动周科普专题活动参加人次(人次)"].value == 1500
    assert a["科普场馆展厅面积(平方米)"].value == 12000 and a["年度自报"].value == "已填报"
    b = rows["集美学村科普基地"]
    assert b["其他线上科普活动参加人次(人次)"].value == 700
    assert b["科普专职人员(人)"].value in (None, "") and b["年度自报"].value == "未填报"
    # The same table as CSV, for the auditor only.
    auditor = await signed_in(client, "auditor")
    r = await auditor.get("/audit/national-stats.csv?year=2026")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    csv_rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert row_of(csv_rows, "厦门科技馆")["注册科普志愿者(人)"] == "220"
    assert row_of(csv_rows, "厦门科技馆")["年度科普经费筹集额(万元)"] == "123.45"
    assert (await auditor.get("/audit/national-stats.csv?year=1900")).status_code in (400, 422)
    staff = await signed_in(client, "staff_a")
    assert (await staff.get("/audit/national-stats.csv?year=2026")).status_code == 403
