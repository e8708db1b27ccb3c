"""Scorecards as CSV (UTF-8 with a BOM) and XLSX (one sheet per table, Chinese headers, number formats)."""

from __future__ import annotations

import io
from typing import Any

from evaluation import metrics, national_stats
from evaluation.scorecard import METRICS, STAGES, CityYear, Scorecard

# Chinese headers: the 科协's spreadsheets are in Chinese whatever language the page is in.
HEAD = {
    "venue_id": "编号",
    "name": "基地名称",
    "district": "所在区",
    "kind": "类型",
    "level": "级别",
    "status": "状态",
    "profile": "考核标准",
    "open_days": "开放天数",
    "weekend_open_days": "休息日开放天数",
    "visitors": "接待人次",
    "students": "学生人次",
    "adults": "成人人次",
    "school_groups": "学校团体场次",
    "distinct_schools": "学校数",
    "districts_reached": "覆盖区数",
    "partnership_sessions": "馆校合作场次",
    "campaign_activities": "科技活动周及全国科普日场次",
    "fulfilment_rate": "履约率(%)",
    "no_show_rate": "爽约率(%)",
    "capacity_use": "容量利用率(%)",
    "met": "达标项数",
    "assessed": "考核项数",
    "score": "得分",
    "grade": "等级",
}
ZH_LEVEL = {"national": "国家级", "provincial": "省级", "municipal": "市级"}
ZH_STATUS = {"active": "有效", "rectification": "整改", "revoked": "撤销"}
ZH_GRADE = {"excellent": "优秀", "good": "优良", "pass": "合格", "fail": "不合格"}
ZH_KIND = {
    "science_museum": "科技馆",
    "museum": "博物馆",
    "education_base": "科普教育基地",
    "laboratory": "实验室/科研院所",
    "scientist_spirit_base": "科学家精神教育基地",
    "community_site": "社区科普点",
}
ZH_STAGE = {"preschool": "学前", "primary": "小学", "junior": "初中", "senior": "高中", "other": "未注明"}
MONTHS_ZH = [f"{m}月" for m in range(1, 13)]
HEAD.update(national_stats.OWN_HEAD)  # self-reported (自报) columns, at the end
COLUMNS = list(HEAD)


def card_row(c: Scorecard) -> list[Any]:
    return [
        c.venue_id,
        c.name,
        c.district,
        ZH_KIND.get(c.kind, c.kind),
        ZH_LEVEL.get(c.level, ""),
        ZH_STATUS.get(c.status, ""),
        c.profile_name,
        *[c.figures[code] if c.figures[code] is not None else "" for code in METRICS],
        c.met_count,
        c.assessed_count,
        c.score,
        ZH_GRADE[c.grade],
        *national_stats.own_cells(c),
    ]


def scorecards_csv(city: CityYear) -> bytes:
    return metrics.csv_bytes([HEAD[k] for k in COLUMNS], (card_row(c) for c in city.cards))


def scorecards_xlsx(city: CityYear) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    # Write-only: each row goes to the file as it is added, instead of a cell object kept for every
    # value until the end (the export ran in every `kepu serve`, and its cells stayed in the heap).
    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def sheet(title: str, header: list[str], rows: list[list[Any]], formats: dict[int, str]) -> None:
        ws = wb.create_sheet(title)
        ws.freeze_panes = "B2"
        for i, h in enumerate(header, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(10, min(30, len(h) * 2 + 2))

        def cell(value: Any, *, font: Font | None = None, number_format: str | None = None) -> WriteOnlyCell:
            c = WriteOnlyCell(ws, value=value)
            if font is not None:
                c.font = font
            if number_format is not None:
                c.number_format = number_format
            return c

        ws.append([cell(h, font=bold) for h in header])
        for row in rows:
            ws.append(
                [cell(v, number_format=formats[i]) if i in formats else v for i, v in enumerate(row, start=1)]
            )

    metric_cols = {COLUMNS.index(code) + 1: "#,##0" for code in METRICS}
    for code in ("fulfilment_rate", "no_show_rate", "capacity_use"):
        metric_cols[COLUMNS.index(code) + 1] = "0.0"
    metric_cols[COLUMNS.index("score") + 1] = "0.0"
    metric_cols.update(national_stats.own_formats(COLUMNS))
    sheet(f"{city.year}年考核", [HEAD[k] for k in COLUMNS], [card_row(c) for c in city.cards], metric_cols)
    sheet(
        "按月接待",
        ["月份", "接待人次"],
        [[m, v] for m, v in zip(MONTHS_ZH, city.by_month, strict=True)],
        {2: "#,##0"},
    )
    sheet("按区接待", ["所在区", "接待人次"], [[d, v] for d, v in city.by_district.items()], {2: "#,##0"})
    sheet(
        "按学段", ["学段", "学生人次"], [[ZH_STAGE[s], city.by_stage.get(s, 0)] for s in STAGES], {2: "#,##0"}
    )
    sheet("等级分布", ["等级", "基地数"], [[ZH_GRADE[g], n] for g, n in city.grades.items()], {2: "#,##0"})
    national_stats.add_national_sheet(sheet, city)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
