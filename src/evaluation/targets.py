"""The city's yearly targets from the science-literacy plan (厦府办〔2022〕44号), each with its figure for a
year, met or not, and the bases behind it. The targets are the plan's figures unless the auditor changed
them (registry.tables.CityTarget).

- lab_organisations: labs (venue kind "laboratory", or accredited under the lab profile) that opened to
  young people in the year: a slot of the year with an admitted check-in, or a recorded activity.
- district_activities: per district, the sessions that took place (slots of the year with an admitted,
  counted check-in) plus the activities recorded without a booking; every district must reach it.
- general_venues: per district, general science venues (science museum or museum kind, or accredited
  under the venue profile) whose accreditation is active; every district must reach it.
- excellent_bases: bases graded excellent in the year's scorecards.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import auditlog
from accounts.schemas import UserView
from core import clock
from core.db import write_transaction
from core.errors import Forbidden
from core.i18n import N_, gettext
from evaluation import scorecard
from registry.tables import CityTarget
from venues.labels import DISTRICT_LABELS
from venues.tables import Venue


@dataclass(frozen=True)
class TargetSpec:
    label: str
    rule: str  # how the target reads, with %(n)s
    default: int  # the plan's figure
    maximum: int
    per_district: bool


TARGETS: dict[str, TargetSpec] = {
    "lab_organisations": TargetSpec(
        N_("Organisations opening their labs to young people"),
        N_("At least %(n)s organisations a year"),
        5,
        10_000,
        False,
    ),
    "district_activities": TargetSpec(
        N_("Science activities in every district"),
        N_("At least %(n)s activities a year in each district"),
        50,
        100_000,
        True,
    ),
    "general_venues": TargetSpec(
        N_("A general science venue in every district"),
        N_("At least %(n)s active accredited general science venue(s) in each district"),
        1,
        1_000,
        True,
    ),
    "excellent_bases": TargetSpec(
        N_("Excellent science education bases"),
        N_("At least %(n)s bases graded excellent"),
        20,
        10_000,
        False,
    ),
}
LAB_KINDS = ("laboratory",)
LAB_PROFILE = "lab"
GENERAL_KINDS = ("science_museum", "museum")
GENERAL_PROFILE = "venue"


@dataclass
class BaseLine:
    """A base behind a figure, with the counts that put it there."""

    venue_id: int
    name: str
    district: str
    kind: str
    sessions: int = 0
    activities: int = 0
    status: str = ""
    score: float = 0.0


@dataclass
class DistrictLine:
    district: str
    figure: int
    met: bool
    bases: list[BaseLine] = field(default_factory=list)
    others: list[BaseLine] = field(default_factory=list)  # looked at, not counted (e.g. not active)


@dataclass
class TargetResult:
    code: str
    target: int
    figure: int  # per-district targets: the districts that reach it
    out_of: int | None  # per-district targets: the number of districts
    met: bool
    bases: list[BaseLine] = field(default_factory=list)
    others: list[BaseLine] = field(default_factory=list)
    districts: list[DistrictLine] = field(default_factory=list)

    @property
    def spec(self) -> TargetSpec:
        return TARGETS[self.code]


@dataclass
class CityTargets:
    year: int
    results: list[TargetResult]

    @property
    def met_count(self) -> int:
        return sum(1 for r in self.results if r.met)


# ---- the targets themselves ------------------------------------------------------------------------


async def load_targets() -> dict[str, int]:
    """Each target as the auditor set it, else the plan's figure."""
    rows = await CityTarget.select(CityTarget.code, CityTarget.target)
    chosen = {r["code"]: int(r["target"]) for r in rows if r["code"] in TARGETS}
    return {code: chosen.get(code, spec.default) for code, spec in TARGETS.items()}


def parse_targets_form(data: dict[str, Any]) -> tuple[dict[str, int] | None, dict[str, str]]:
    """`target_<code>` per target: a whole number from 0 to its maximum."""
    values: dict[str, int] = {}
    errors: dict[str, str] = {}
    for code, spec in TARGETS.items():
        key = f"target_{code}"
        raw = str(data.get(key) or "").strip()
        if not raw.isdigit() or not (0 <= int(raw) <= spec.maximum):
            errors[key] = gettext("Enter a whole number from 0 to %(high)s.") % {"high": spec.maximum}
            continue
        values[code] = int(raw)
    return (None if errors else values), errors


async def save_targets(actor: UserView, values: dict[str, int]) -> None:
    """All targets at once, in one transaction; each row is an upsert, so two saves cannot collide."""
    if not actor.is_auditor:
        raise Forbidden("role")
    now = clock.now()
    async with write_transaction():
        before = await load_targets()
        for code, target in values.items():
            await CityTarget.insert(
                CityTarget(code=code, target=target, updated_at=now, updated_by=actor.id)
            ).on_conflict(
                target=CityTarget.code,
                action="DO UPDATE",
                values=[CityTarget.target, CityTarget.updated_at, CityTarget.updated_by],
            )
        await auditlog.record(
            actor, "targets.update", "city_targets", "", before=before, after=await load_targets()
        )


# ---- the figures -------------------------------------------------------------------------------------

_VENUES_SQL = """
SELECT v.id AS venue_id, v.name AS name, v.kind AS kind, v.district AS district,
       COALESCE(a.status, '') AS status, COALESCE(p.code, '') AS profile_code
FROM venues_venue v
LEFT JOIN registry_accreditation a ON a.venue = v.id
LEFT JOIN registry_profile p ON p.id = a.profile
ORDER BY v.district, v.name, v.id
"""


# Slots of the year that took place: a booking with someone admitted (its admitted counts are the sum
# of its counted check-ins — admitted, not reversed, not waiting for review), from the slots' running
# totals (evaluation/piccolo_migrations). {} = lo, hi.
_SESSIONS_SQL = """
SELECT sl.venue AS venue_id, COUNT(*) AS sessions
FROM evaluation_slot_tally t
JOIN venues_slot sl ON sl.id = t.slot
WHERE t.admitted_groups > 0 AND sl.starts_at >= {} AND sl.starts_at < {}
GROUP BY sl.venue
"""


def _line(v: dict[str, Any], **extra: Any) -> BaseLine:
    return BaseLine(v["venue_id"], v["name"], v["district"], v["kind"], status=v["status"], **extra)


async def city_targets(year: int) -> CityTargets:
    """Every target's figure for a year, from a handful of queries for the whole city."""
    from activities.services import year_counts_by_venue  # activities builds on venues, as we do

    lo, hi = clock.year_bounds(year)
    venues, session_rows, activity_counts, city, targets = await asyncio.gather(
        Venue.raw(_VENUES_SQL),
        Venue.raw(_SESSIONS_SQL, lo, hi),
        year_counts_by_venue(year),
        scorecard.city_year(year),
        load_targets(),
    )
    sessions = {int(r["venue_id"]): int(r["sessions"] or 0) for r in session_rows}
    activities = {int(k): int(v or 0) for k, v in activity_counts.items()}

    def counts(v: dict[str, Any]) -> dict[str, int]:
        return {"sessions": sessions.get(v["venue_id"], 0), "activities": activities.get(v["venue_id"], 0)}

    results: list[TargetResult] = []

    # Labs opened to young people.
    labs = [v for v in venues if v["kind"] in LAB_KINDS or v["profile_code"] == LAB_PROFILE]
    opened = [_line(v, **counts(v)) for v in labs if sum(counts(v).values()) > 0]
    closed = [_line(v, **counts(v)) for v in labs if sum(counts(v).values()) == 0]
    n = targets["lab_organisations"]
    results.append(TargetResult("lab_organisations", n, len(opened), None, len(opened) >= n, opened, closed))

    # Activities in each district.
    n = targets["district_activities"]
    lines = []
    for d in DISTRICT_LABELS:
        here = [_line(v, **counts(v)) for v in venues if v["district"] == d and sum(counts(v).values()) > 0]
        total = sum(b.sessions + b.activities for b in here)
        here.sort(key=lambda b: -(b.sessions + b.activities))
        lines.append(DistrictLine(d, total, total >= n, here))
    reached = sum(1 for line in lines if line.met)
    results.append(
        TargetResult("district_activities", n, reached, len(lines), reached == len(lines), districts=lines)
    )

    # A general science venue in each district.
    n = targets["general_venues"]
    general = [v for v in venues if v["kind"] in GENERAL_KINDS or v["profile_code"] == GENERAL_PROFILE]
    lines = []
    for d in DISTRICT_LABELS:
        active = [_line(v) for v in general if v["district"] == d and v["status"] == "active"]
        others = [_line(v) for v in general if v["district"] == d and v["status"] != "active"]
        lines.append(DistrictLine(d, len(active), len(active) >= n, active, others))
    reached = sum(1 for line in lines if line.met)
    results.append(
        TargetResult("general_venues", n, reached, len(lines), reached == len(lines), districts=lines)
    )

    # Excellent bases.
    n = targets["excellent_bases"]
    excellent = [
        BaseLine(c.venue_id, c.name, c.district, c.kind, status=c.status, score=c.score)
        for c in sorted(city.cards, key=lambda c: (-c.score, c.venue_id))
        if c.grade == "excellent"
    ]
    results.append(TargetResult("excellent_bases", n, len(excellent), None, len(excellent) >= n, excellent))
    return CityTargets(year, results)
