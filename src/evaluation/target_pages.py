"""The auditor's page of city targets (figures against the plan, targets editable) and the page that
sets the dates of Science Week and National Science Day per year."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from core import clock
from core.guards import requires_role
from core.i18n import gettext
from core.web import flash, form_data
from evaluation import campaigns, metrics, targets

AUDITOR = [requires_role("auditor")]


def _year(year: Any) -> int:
    if year is None or year == "":
        return clock.today().year
    try:
        chosen = int(str(year))
    except ValueError:
        chosen = -1
    return metrics.check_year(chosen)


async def _targets_page(
    year: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    city = await targets.city_targets(year)
    if values is None:
        values = {f"target_{r.code}": r.target for r in city.results}
    return Template(
        "evaluation/targets.html",
        context={
            "city": city,
            "years": metrics.year_choices(),
            "TARGETS": targets.TARGETS,
            "values": values,
            "errors": errors or {},
            "campaign": await campaigns.campaign_year(year),
        },
        status_code=status_code,
    )


@get("/audit/targets", guards=AUDITOR, include_in_schema=False)
async def targets_page(year: Annotated[int | None, QueryParameter(name="year")] = None) -> Template:
    return await _targets_page(_year(year))


@post("/audit/targets", guards=AUDITOR, include_in_schema=False)
async def targets_save(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView]
) -> Template | Redirect:
    data = await form_data(request)
    year = _year(data.get("year"))
    values, errors = targets.parse_targets_form(data)
    if values is None:
        return await _targets_page(year, values=data, errors=errors, status_code=400)
    await targets.save_targets(actor, values)
    flash(request, gettext("Targets saved."))
    return Redirect(f"/audit/targets?year={year}", status_code=303)


async def _campaigns_page(
    year: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    current = await campaigns.campaign_year(year)
    if values is None:
        values = {}
        for code in campaigns.CAMPAIGNS:
            if current.configured[code]:
                lo, hi = current.periods[code]
                values[f"{code}_from"], values[f"{code}_to"] = lo.isoformat(), hi.isoformat()
    return Template(
        "evaluation/campaigns.html",
        context={
            "campaign": current,
            "year": year,
            "years": metrics.year_choices(),
            "CAMPAIGNS": campaigns.CAMPAIGNS,
            "values": values,
            "errors": errors or {},
        },
        status_code=status_code,
    )


@get("/audit/campaigns", guards=AUDITOR, include_in_schema=False)
async def campaigns_page(year: Annotated[int | None, QueryParameter(name="year")] = None) -> Template:
    return await _campaigns_page(_year(year))


@post("/audit/campaigns", guards=AUDITOR, include_in_schema=False)
async def campaigns_save(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView]
) -> Template | Redirect:
    data = await form_data(request)
    year = _year(data.get("year"))
    values, errors = campaigns.parse_form(year, data)
    if values is None:
        return await _campaigns_page(year, values=data, errors=errors, status_code=400)
    await campaigns.save(actor, year, values)
    flash(
        request, gettext("Campaign dates for %(year)s saved; scorecards use them at once.") % {"year": year}
    )
    return Redirect(f"/audit/campaigns?year={year}", status_code=303)


TARGET_PAGES = [targets_page, targets_save, campaigns_page, campaigns_save]
