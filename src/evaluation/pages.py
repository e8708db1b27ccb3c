"""The science association's yearly table of every venue, the same figures as the report API."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from core.errors import NotFound
from core.guards import requires_role
from core.i18n import gettext
from core.web import attachment
from evaluation import charts, exports, metrics, scorecard
from timetable.services import scheduled_open_days, youth_free_days
from venues.labels import DISTRICT_LABELS
from venues.tables import Venue


@get("/audit", guards=[requires_role("auditor")], include_in_schema=False)
async def year_table(year: Annotated[int | None, QueryParameter(name="year")] = None) -> Template:
    chosen = metrics.chosen_year(year)
    # The anomaly flags are a link, not counted here: finding them reads every check-in of the year
    # again, which would make this page several times slower (bench/RESULTS.md).
    report = await metrics.venue_year_report(chosen)
    totals = {
        field: sum(getattr(row, field) for row in report.items)
        for field in metrics.CSV_FIELDS
        if field not in ("venue_id", "venue_name", "district", "kind")
    }
    return Template(
        "evaluation/year.html",
        context={"report": report, "totals": totals, "years": metrics.year_choices()},
    )


@get("/audit/report.csv", guards=[requires_role("auditor")], include_in_schema=False)
async def year_csv(year: Annotated[int | None, QueryParameter(name="year")] = None) -> Response[bytes]:
    report = await metrics.venue_year_report(metrics.check_year(year))
    return attachment(metrics.report_csv(report), "text/csv; charset=utf-8", f"kepu-venues-{report.year}.csv")


PAGES = [year_table, year_csv]


# ---- scorecards: every base's year against its thresholds, with charts, drill-down and exports ----

MONTH_LABELS = [f"{m}月" for m in range(1, 13)]


def _dashboard_charts(city: scorecard.CityYear) -> dict[str, Any]:
    districts = [d for d in DISTRICT_LABELS if d in city.by_district] + [
        d for d in city.by_district if d not in DISTRICT_LABELS
    ]
    stage_names = [gettext(scorecard.STAGE_LABELS[s]) for s in scorecard.STAGES]
    grade_names = [gettext(label) for _code, label in scorecard.GRADES]
    return {
        "month": charts.column_chart(
            gettext("Visitors per month, %(year)s") % {"year": city.year}, MONTH_LABELS, city.by_month
        ),
        "district": charts.bar_chart(
            gettext("Visitors per district"),
            [gettext(DISTRICT_LABELS[d]) if d in DISTRICT_LABELS else d for d in districts],
            [city.by_district[d] for d in districts],
        ),
        "stage": charts.bar_chart(
            gettext("Students by school stage"), stage_names, [city.by_stage[s] for s in scorecard.STAGES]
        ),
        "grades": charts.column_chart(
            gettext("Bases by grade"), grade_names, [city.grades[g] for g, _label in scorecard.GRADES]
        ),
        "districts": districts,
    }


@get("/audit/scorecards", guards=[requires_role("auditor")], include_in_schema=False)
async def scorecards(
    year: Annotated[int | None, QueryParameter(name="year")] = None,
    district: Annotated[str | None, QueryParameter(name="district", max_length=8)] = None,
    grade: Annotated[str | None, QueryParameter(name="grade", max_length=16)] = None,
) -> Template:
    city = await scorecard.city_year(metrics.chosen_year(year))
    district = district if district in DISTRICT_LABELS else ""
    grade = grade if grade in scorecard.GRADE_LABELS else ""
    shown = [
        c for c in city.cards if (not district or c.district == district) and (not grade or c.grade == grade)
    ]
    return Template(
        "evaluation/scorecards.html",
        context={
            "city": city,
            "charts": _dashboard_charts(city),
            "years": metrics.year_choices(),
            "METRICS": scorecard.METRICS,
            "GRADE_LABELS": scorecard.GRADE_LABELS,
            "STAGE_LABELS": scorecard.STAGE_LABELS,
            "STAGES": scorecard.STAGES,
            "MONTH_LABELS": MONTH_LABELS,
            "campaigns": await scorecard.load_campaign_periods(city.year),
            "shown": shown,
            "district": district,
            "grade": grade,
        },
    )


def _figure_text(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:g}%" if unit == "%" else f"{value:,}"


@get("/audit/scorecards/{venue_id:int}", guards=[requires_role("auditor")], include_in_schema=False)
async def base_scorecard(
    venue_id: FromPath[int], year: Annotated[int | None, QueryParameter(name="year")] = None
) -> Template:
    city = await scorecard.city_year(metrics.chosen_year(year))
    card = next((c for c in city.cards if c.venue_id == venue_id), None)
    if card is None:
        raise NotFound("venue")
    rows = [
        (
            gettext(scorecard.METRICS[m.code][0]),
            m.value,
            m.threshold,
            m.met,
            _figure_text(m.value, scorecard.METRICS[m.code][2])
            + " / "
            + _figure_text(m.threshold, scorecard.METRICS[m.code][2]),
        )
        for m in card.marks
        if m.weight > 0
    ]
    youth_days = await youth_free_days(venue_id, city.year)
    return Template(
        "evaluation/base_year.html",
        context={
            "card": card,
            "youth_free_days": len(youth_days),
            "scheduled_open_days": await scheduled_open_days(venue_id, city.year),
            "year": city.year,
            "years": metrics.year_choices(),
            "METRICS": scorecard.METRICS,
            "GRADE_LABELS": scorecard.GRADE_LABELS,
            "STAGE_LABELS": scorecard.STAGE_LABELS,
            "STAGES": scorecard.STAGES,
            "MONTH_LABELS": MONTH_LABELS,
            "figure_text": _figure_text,
            "threshold_chart": charts.threshold_chart(
                gettext("%(name)s: the year against its thresholds") % {"name": card.name}, rows
            ),
            "month_chart": charts.column_chart(
                gettext("Visitors per month, %(year)s") % {"year": city.year}, MONTH_LABELS, card.by_month
            ),
        },
    )


@get(
    "/audit/scorecards/{venue_id:int}/{metric:str}",
    guards=[requires_role("auditor")],
    include_in_schema=False,
)
async def drill_down(
    venue_id: FromPath[int],
    metric: FromPath[str],
    year: Annotated[int | None, QueryParameter(name="year")] = None,
) -> Template:
    if metric not in scorecard.METRICS:
        raise NotFound("venue")
    chosen = metrics.chosen_year(year)
    venue = await Venue.select(Venue.id, Venue.name).where(Venue.id == venue_id).first()
    if venue is None:
        raise NotFound("venue")
    detail = await scorecard.drill(venue_id, chosen, metric)
    return Template(
        "evaluation/drill.html",
        context={
            "venue": venue,
            "year": chosen,
            "metric": metric,
            "label": scorecard.METRICS[metric][0],
            "detail": detail,
        },
    )


@get("/audit/scorecards.csv", guards=[requires_role("auditor")], include_in_schema=False)
async def scorecards_csv(year: Annotated[int | None, QueryParameter(name="year")] = None) -> Response[bytes]:
    city = await scorecard.city_year(metrics.chosen_year(year))
    return attachment(
        exports.scorecards_csv(city), "text/csv; charset=utf-8", f"kepu-scorecards-{city.year}.csv"
    )


@get("/audit/scorecards.xlsx", guards=[requires_role("auditor")], include_in_schema=False)
async def scorecards_xlsx(year: Annotated[int | None, QueryParameter(name="year")] = None) -> Response[bytes]:
    city = await scorecard.city_year(metrics.chosen_year(year))
    return attachment(
        exports.scorecards_xlsx(city),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"kepu-scorecards-{city.year}.xlsx",
    )


PAGES += [scorecards, scorecards_csv, scorecards_xlsx, base_scorecard, drill_down]
