"""Reports API for the science association: the yearly table of every venue, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter

from core.guards import requires_role
from core.i18n import gettext
from core.web import attachment
from evaluation import metrics
from evaluation.schemas import VenueYearReport


def wants_csv(request: Request[Any, Any, Any], fmt: str | None) -> bool:
    if fmt is not None:
        if fmt.lower() not in ("csv", "json"):
            raise ValidationException(detail=gettext("format must be csv or json."))
        return fmt.lower() == "csv"
    return request.accept.best_match(["application/json", "text/csv"], "application/json") == "text/csv"


class ReportApi(Controller):
    path = "/api/v1/reports"
    guards = [requires_role("auditor")]  # noqa: RUF012
    tags = ["reports"]  # noqa: RUF012

    @get("/venues", summary="Every venue's figures for a year (auditor); JSON, or CSV with ?format=csv")
    async def venues(
        self,
        request: Request[Any, Any, Any],
        year: Annotated[int | None, QueryParameter(name="year")] = None,
        fmt: Annotated[str | None, QueryParameter(name="format", max_length=10)] = None,
    ) -> Response[Any]:
        report: VenueYearReport = await metrics.venue_year_report(metrics.check_year(year))
        if wants_csv(request, fmt):
            return attachment(
                metrics.report_csv(report), "text/csv; charset=utf-8", f"kepu-venues-{report.year}.csv"
            )
        return Response(report)
