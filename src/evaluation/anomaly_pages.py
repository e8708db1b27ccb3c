"""The auditor's anomaly flags: the year's list grouped by kind, and the evidence behind one flag."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from core.db import valid_id
from core.errors import NotFound
from core.guards import requires_role
from evaluation import anomalies, metrics
from venues.tables import Venue


@get("/audit/anomalies", guards=[requires_role("auditor")], include_in_schema=False)
async def anomaly_list(year: Annotated[int | None, QueryParameter(name="year")] = None) -> Template:
    found = await anomalies.summary(metrics.chosen_year(year))
    return Template(
        "evaluation/anomalies.html",
        context={
            "summary": found,
            "years": metrics.year_choices(),
            "KINDS": anomalies.KINDS,
            "HINTS": anomalies.KIND_HINTS,
            "t": anomalies.DEFAULTS,
        },
    )


@get("/audit/anomalies/{venue_id:int}", guards=[requires_role("auditor")], include_in_schema=False)
async def anomaly_detail(
    venue_id: FromPath[int],
    year: Annotated[int | None, QueryParameter(name="year")] = None,
    kind: Annotated[str, QueryParameter(name="kind", max_length=32)] = "",
) -> Template:
    chosen = metrics.chosen_year(year)
    if kind and kind not in anomalies.KINDS:
        raise anomalies.AnomalyError("kind")
    venue = (
        await Venue.select(Venue.id, Venue.name, Venue.district).where(Venue.id == venue_id).first()
        if valid_id(venue_id)
        else None
    )
    if venue is None:
        raise NotFound("venue")
    if not kind:  # the base's flags of the year, each linking to its evidence
        flags = (await anomalies.summary(chosen, venue_id=venue_id)).flags
        return Template(
            "evaluation/anomaly_base.html",
            context={
                "venue": venue,
                "year": chosen,
                "years": metrics.year_choices(),
                "flags": flags,
                "KINDS": anomalies.KINDS,
                "HINTS": anomalies.KIND_HINTS,
            },
        )
    found = await anomalies.evidence(venue_id, chosen, kind)
    return Template(
        "evaluation/anomaly_detail.html",
        context={
            "venue": venue,
            "year": chosen,
            "kind": kind,
            "label": anomalies.KINDS[kind],
            "hint": anomalies.KIND_HINTS[kind],
            "found": found,
            "t": anomalies.DEFAULTS,
        },
    )


ANOMALY_PAGES = [anomaly_list, anomaly_detail]
