"""Self-reported columns of the scorecard export, and the 全国科普统计 table: per base, the fields of the
national science-popularisation statistics (科技部《全国科普统计调查》) that kepu holds.

Where each figure comes from: 参观人次 from the check-ins and the walk-ins counted at the door;
讲座/展览/竞赛/培训 and 科技活动周 from the activities the base recorded (自报); staff, volunteers,
funding and exhibit area from the base's annual self-report (自报). Funding is kept in yuan and given
in 万元 here, as the statistics form asks. A base without a self-report has those cells left empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from litestar import Response, get
from litestar.params import QueryParameter

from core.guards import requires_role
from core.web import attachment
from evaluation import metrics
from evaluation.scorecard import CityYear, Scorecard, city_year

SELF = "(自报)"
ACTIVITY_KINDS_ZH = {
    "lecture": "讲座",
    "exhibition": "展览",
    "competition": "竞赛",
    "online": "线上活动",
    "training": "培训",
    "other": "其他活动",
}
REPORT_ZH = {
    "fulltime_staff": "科普专职人员(人)",
    "parttime_staff": "科普兼职人员(人)",
    "volunteers": "注册科普志愿者(人)",
    "funding_raised": "科普经费筹集额(元)",
    "funding_spent": "科普经费使用额(元)",
    "exhibit_area": "科普展厅面积(平方米)",
}

# ---- columns added to the scorecard export ------------------------------------------------------

OWN_HEAD: dict[str, str] = {
    "own_activities": "科普活动次数" + SELF,
    "own_attendance": "科普活动参加人次" + SELF,
    **{f"own_{k}_count": f"{zh}次数{SELF}" for k, zh in ACTIVITY_KINDS_ZH.items()},
    **{f"own_{k}_attendance": f"{zh}人次{SELF}" for k, zh in ACTIVITY_KINDS_ZH.items()},
    "own_online": "其中线上举办次数" + SELF,
    "own_science_week": "科技活动周活动次数" + SELF,
    "own_science_day": "全国科普日活动次数" + SELF,
    **{f"own_{f}": zh + SELF for f, zh in REPORT_ZH.items()},
}


def own_cells(c: Scorecard) -> list[Any]:
    """The self-reported cells of a base, in OWN_HEAD's order ("" where no self-report was filed)."""
    own = c.figures["self_reported"]
    by_type = own["activities_by_type"]
    report = own["self_report"] or {}
    return [
        own["activities"],
        own["activity_attendance"],
        *[by_type.get(k, {}).get("count", 0) for k in ACTIVITY_KINDS_ZH],
        *[by_type.get(k, {}).get("attendance", 0) for k in ACTIVITY_KINDS_ZH],
        own["online_activities"],
        own["science_week_activities"],
        own["science_day_activities"],
        *[report.get(f, "") for f in REPORT_ZH],
    ]


def own_formats(columns: list[str]) -> dict[int, str]:
    """XLSX number formats of the self-reported columns, by 1-based column index."""
    return {columns.index(k) + 1: "#,##0" for k in OWN_HEAD if k in columns}


# ---- the 全国科普统计 table -----------------------------------------------------------------------------

WAN = "0.00"  # 万元 with two decimals
Getter = Callable[[Scorecard], Any]


def _report(field: str) -> Getter:
    def get(c: Scorecard) -> Any:
        report = c.figures["self_reported"]["self_report"]
        return "" if report is None else report[field]

    return get


def _wan(field: str) -> Getter:
    def get(c: Scorecard) -> Any:
        value = _report(field)(c)
        return "" if value == "" else round(value / 10_000, 2)

    return get


def _kind(kind: str, key: str) -> Getter:
    def get(c: Scorecard) -> int:
        return int(c.figures["self_reported"]["activities_by_type"].get(kind, {}).get(key, 0))

    return get


def _own(key: str) -> Getter:
    def get(c: Scorecard) -> Any:
        return c.figures["self_reported"][key]

    return get


def _visitors(c: Scorecard) -> int:
    return int(c.figures["visitors"] + c.figures.get("walk_in_adults", 0) + c.figures.get("walk_in_youth", 0))


def _young_visitors(c: Scorecard) -> int:
    return int(c.figures["students"] + c.figures.get("walk_in_youth", 0))


def _filed(c: Scorecard) -> str:
    return "已填报" if c.figures["self_reported"]["self_report"] else "未填报"


def _activity_columns() -> list[tuple[str, str, Getter]]:
    out: list[tuple[str, str, Getter]] = []
    for code, zh, verb in (
        ("lecture", "科普(技)讲座", "参加"),
        ("exhibition", "科普(技)专题展览", "参观"),
        ("competition", "科普(技)竞赛", "参加"),
        ("training", "实用技术培训", "参加"),
    ):
        out.append((f"{zh}举办次数(次)", "#,##0", _kind(code, "count")))
        out.append((f"{zh}{verb}人次(人次)", "#,##0", _kind(code, "attendance")))
        if code != "training":
            out.append((f"其中线上{zh}次数(次)", "#,##0", _kind(code, "online_count")))
            out.append((f"其中线上{zh}{verb}人次(人次)", "#,##0", _kind(code, "online_attendance")))
    return out


# (header, XLSX number format, value); "@" is text.
NATIONAL: list[tuple[str, str, Getter]] = [
    ("编号", "0", lambda c: c.venue_id),
    ("基地名称", "@", lambda c: c.name),
    ("所在区", "@", lambda c: c.district),
    ("科普专职人员(人)", "#,##0", _report("fulltime_staff")),
    ("科普兼职人员(人)", "#,##0", _report("parttime_staff")),
    ("注册科普志愿者(人)", "#,##0", _report("volunteers")),
    ("年度科普经费筹集额(万元)", WAN, _wan("funding_raised")),
    ("年度科普经费使用额(万元)", WAN, _wan("funding_spent")),
    ("科普场馆展厅面积(平方米)", "#,##0", _report("exhibit_area")),
    ("参观人次(人次)", "#,##0", _visitors),
    ("其中青少年参观人次(人次)", "#,##0", _young_visitors),
    *_activity_columns(),
    ("其他线上科普活动次数(次)", "#,##0", _kind("online", "count")),
    ("其他线上科普活动参加人次(人次)", "#,##0", _kind("online", "attendance")),
    ("科技活动周科普专题活动次数(次)", "#,##0", _own("science_week_activities")),
    ("科技活动周科普专题活动参加人次(人次)", "#,##0", _own("science_week_attendance")),
    ("年度自报", "@", _filed),
]

NATIONAL_SHEET = "全国科普统计"


def national_header() -> list[str]:
    return [head for head, _fmt, _fn in NATIONAL]


def national_rows(city: CityYear) -> list[list[Any]]:
    return [[fn(c) for _head, _fmt, fn in NATIONAL] for c in city.cards]


def national_formats() -> dict[int, str]:
    return {i: fmt for i, (_head, fmt, _fn) in enumerate(NATIONAL, start=1) if fmt != "@"}


def national_csv(city: CityYear) -> bytes:
    return metrics.csv_bytes(national_header(), national_rows(city))


def add_national_sheet(
    sheet: Callable[[str, list[str], list[list[Any]], dict[int, str]], None], city: CityYear
) -> None:
    """Add the 全国科普统计 sheet through the workbook's own `sheet(title, header, rows, formats)`."""
    sheet(NATIONAL_SHEET, national_header(), national_rows(city), national_formats())


@get("/audit/national-stats.csv", guards=[requires_role("auditor")], include_in_schema=False)
async def national_stats_csv(
    year: Annotated[int | None, QueryParameter(name="year")] = None,
) -> Response[bytes]:
    city = await city_year(metrics.chosen_year(year))
    name = f"kepu-national-stats-{city.year}.csv"
    return attachment(national_csv(city), "text/csv; charset=utf-8", name)


NATIONAL_STATS_PAGES = [national_stats_csv]
