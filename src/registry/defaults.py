"""The default threshold profiles (domain.md "Evaluation"; research §1.3). A migration seeds them in a
new database; they are also put back whenever the profile table is empty, so scorecards always have a
profile to assess against."""

from __future__ import annotations

import json

from core import clock
from core.db import write_transaction
from registry.tables import ThresholdProfile

BANDS = {"excellent": 90, "good": 70, "pass": 60}


def _metrics(
    open_days: int,
    weekend: int,
    visitors: int,
    students: int,
    groups: int,
    schools: int,
    districts: int,
    sessions: int,
    campaign: int,
    capacity: int,
) -> dict[str, dict[str, int]]:
    spec = {
        "open_days": (open_days, 25),
        "weekend_open_days": (weekend, 5),
        "visitors": (visitors, 25),
        "students": (students, 10),
        "adults": (0, 0),
        "school_groups": (groups, 5),
        "distinct_schools": (schools, 5),
        "districts_reached": (districts, 5),
        "partnership_sessions": (sessions, 5),
        "campaign_activities": (campaign, 5),
        "fulfilment_rate": (80, 5),
        "no_show_rate": (10, 3),
        "capacity_use": (capacity, 2),
    }
    return {code: {"threshold": t, "weight": w} for code, (t, w) in spec.items()}


# code, name, default kinds, metrics (frozen here: later edits happen in the UI)
PROFILES = [
    ("venue", "场馆类", "science_museum,museum", _metrics(200, 50, 5000, 2000, 20, 10, 3, 20, 2, 50)),
    (
        "public_place",
        "公共场所类",
        "education_base,community_site",
        _metrics(200, 50, 2000, 800, 10, 5, 2, 10, 2, 40),
    ),
    (
        "education_research",
        "教育科研类",
        "scientist_spirit_base",
        _metrics(80, 10, 800, 300, 5, 3, 1, 5, 1, 30),
    ),
    ("production", "生产设施类", "", _metrics(30, 4, 2000, 500, 10, 5, 2, 5, 1, 30)),
    ("lab", "实验室类", "laboratory", _metrics(20, 4, 800, 300, 5, 3, 1, 5, 1, 30)),
]


async def ensure_profiles() -> None:
    """Insert the defaults when there is no profile at all (never touches edited profiles)."""
    if await ThresholdProfile.count() > 0:
        return
    try:
        async with write_transaction():
            if await ThresholdProfile.count() > 0:
                return
            now = clock.now()
            for code, name, kinds, metrics in PROFILES:
                await ThresholdProfile.insert(
                    ThresholdProfile(
                        code=code,
                        name=name,
                        kinds=kinds,
                        config=json.dumps({"metrics": metrics, "bands": BANDS}, ensure_ascii=False),
                        updated_at=now,
                    )
                )
    except Exception as exc:  # another request seeded them at the same moment (unique code)
        if await ThresholdProfile.count() == 0:
            raise exc from None


__all__ = ["BANDS", "PROFILES", "ensure_profiles"]
