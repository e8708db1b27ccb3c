"""The science association's yearly table of every venue, the same figures as the report API."""

from __future__ import annotations

from typing import Annotated

from litestar import Response, get
from litestar.params import QueryParameter
from litestar.response import Template

from core import clock
from core.guards import requires_role
from core.web import attachment
from evaluation import metrics


@get("/audit", guards=[requires_role("auditor")], include_in_schema=False)
async def year_table(year: Annotated[int | None, QueryParameter(name="year")] = None) -> Template:
    chosen = metrics.check_year(year if year is not None else clock.today().year)
    report = await metrics.venue_year_report(chosen)
    totals = {
        field: sum(getattr(row, field) for row in report.items)
        for field in metrics.CSV_FIELDS
        if field not in ("venue_id", "venue_name", "district", "kind")
    }
    this_year = clock.today().year
    return Template(
        "evaluation/year.html",
        context={"report": report, "totals": totals, "years": list(range(this_year + 1, this_year - 5, -1))},
    )


@get("/audit/report.csv", guards=[requires_role("auditor")], include_in_schema=False)
async def year_csv(year: Annotated[int | None, QueryParameter(name="year")] = None) -> Response[bytes]:
    report = await metrics.venue_year_report(metrics.check_year(year))
    return attachment(metrics.report_csv(report), "text/csv; charset=utf-8", f"kepu-venues-{report.year}.csv")


PAGES = [year_table, year_csv]
