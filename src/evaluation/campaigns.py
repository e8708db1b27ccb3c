"""Science Week (科技活动周) and National Science Day (全国科普日) of a year: the dates the auditor set,
else the rule (scorecard.campaign_periods), so scorecards count the days the campaigns were really held."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import auditlog
from accounts.schemas import UserView
from core import clock
from core.db import write_transaction
from core.errors import Forbidden
from core.i18n import N_, gettext
from evaluation.scorecard import campaign_periods
from registry.tables import CampaignPeriod

CAMPAIGNS = {"science_week": N_("Science Week"), "science_day": N_("National Science Day")}
# A campaign lasts days, not months: a longer range is almost surely a typing error.
MAX_DAYS = 31


@dataclass
class CampaignYear:
    year: int
    periods: dict[str, tuple[date, date]]  # what scorecards use
    rule: dict[str, tuple[date, date]]  # what the rule gives
    configured: dict[str, bool]  # whether the auditor set each period
    updated_at: Any = None


def _as_date(v: Any) -> date | None:
    if v is None or isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


async def campaign_year(year: int) -> CampaignYear:
    rule = campaign_periods(year)
    row = await CampaignPeriod.select().where(CampaignPeriod.year == year).first()
    periods = dict(rule)
    configured = dict.fromkeys(CAMPAIGNS, False)
    for code in CAMPAIGNS:
        lo = _as_date(row[f"{code}_from"]) if row else None
        hi = _as_date(row[f"{code}_to"]) if row else None
        if lo is not None and hi is not None:
            periods[code] = (lo, hi)
            configured[code] = True
    return CampaignYear(
        year,
        periods,
        rule,
        configured,
        clock.as_aware(row["updated_at"]) if row and row["updated_at"] else None,
    )


async def periods(year: int) -> dict[str, tuple[date, date]]:
    """{"science_week": (first, last), "science_day": (first, last)}, inclusive local dates."""
    return (await campaign_year(year)).periods


def parse_form(year: int, data: dict[str, Any]) -> tuple[dict[str, date | None] | None, dict[str, str]]:
    """`<code>_from` and `<code>_to` per campaign: both dates (inside the year, in order, at most
    MAX_DAYS days), or both empty for the rule."""
    errors: dict[str, str] = {}
    values: dict[str, date | None] = {}
    for code in CAMPAIGNS:
        got: dict[str, date | None] = {}
        for end in ("from", "to"):
            key = f"{code}_{end}"
            raw = str(data.get(key) or "").strip()
            got[end] = None
            if raw:
                try:
                    got[end] = date.fromisoformat(raw)
                except ValueError:
                    errors[key] = gettext("Enter a date like 2026-05-20.")
                    continue
                if got[end].year != year:  # type: ignore[union-attr]
                    errors[key] = gettext("Choose a date in %(year)s.") % {"year": year}
        lo, hi = got["from"], got["to"]
        if f"{code}_from" in errors or f"{code}_to" in errors:
            continue
        if (lo is None) != (hi is None):
            errors[f"{code}_{'to' if hi is None else 'from'}"] = gettext(
                "Give both the first and the last day, or leave both empty to use the rule."
            )
        elif lo is not None and hi is not None:
            if hi < lo:
                errors[f"{code}_to"] = gettext("The last day must not be before the first day.")
            elif (hi - lo).days + 1 > MAX_DAYS:
                errors[f"{code}_to"] = gettext("A campaign lasts at most %(days)s days.") % {"days": MAX_DAYS}
        values[f"{code}_from"], values[f"{code}_to"] = lo, hi
    return (None if errors else values), errors


async def save(actor: UserView, year: int, values: dict[str, date | None]) -> None:
    """Set a year's dates (one row per year, written in one statement so two saves cannot collide)."""
    if not actor.is_auditor:
        raise Forbidden("role")
    now = clock.now()
    row = CampaignPeriod(year=year, updated_at=now, updated_by=actor.id)
    for key, value in values.items():
        setattr(row, key, value)
    columns = [getattr(CampaignPeriod, k) for k in values] + [
        CampaignPeriod.updated_at,
        CampaignPeriod.updated_by,
    ]
    async with write_transaction():
        before = await _dates(year)
        await CampaignPeriod.insert(row).on_conflict(
            target=CampaignPeriod.year, action="DO UPDATE", values=columns
        )
        await auditlog.record(
            actor, "campaign.update", "campaign_year", year, before=before, after=await _dates(year)
        )


async def _dates(year: int) -> dict[str, date | None]:
    """The dates the auditor set for a year, each empty where the rule applies (for the audit log)."""
    row = await CampaignPeriod.select().where(CampaignPeriod.year == year).first()
    return {
        f"{code}_{end}": _as_date(row[f"{code}_{end}"]) if row else None
        for code in CAMPAIGNS
        for end in ("from", "to")
    }
