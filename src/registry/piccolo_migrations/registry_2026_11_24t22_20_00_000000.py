"""Seed the five threshold profiles (domain.md "Evaluation"; research §1.3) and make the status history
append-only at the database level: UPDATE and DELETE on registry_status_change are refused."""

import json
from datetime import UTC, datetime

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Text, Timestamptz, Varchar
from piccolo.engine.finder import engine_finder
from piccolo.table import Table

ID = "2026-11-24T22:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "registry: seed threshold profiles; status history append-only"


class _Profile(Table, tablename="registry_profile"):
    """The profile table as this migration knows it."""

    code = Varchar(length=32)
    name = Varchar(length=100)
    kinds = Varchar(length=200)
    config = Text()
    updated_at = Timestamptz(null=True)


BANDS = {"excellent": 90, "good": 70, "pass": 60}


def _metrics(
    open_days, weekend, visitors, students, groups, schools, districts, sessions, campaign, capacity
):
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

SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS registry_status_change_no_{event.lower()}
       BEFORE {event} ON registry_status_change
       BEGIN SELECT RAISE(ABORT, 'status_history_is_append_only'); END"""
    for event in ("UPDATE", "DELETE")
]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION registry_status_change_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'status_history_is_append_only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER registry_status_change_append_only BEFORE UPDATE OR DELETE
       ON registry_status_change FOR EACH ROW EXECUTE FUNCTION registry_status_change_append_only()""",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="registry", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for ddl in SQLITE if engine.engine_type == "sqlite" else POSTGRES:
            await engine.run_ddl(ddl)
        now = datetime.now(UTC)
        for code, name, kinds, metrics in PROFILES:
            config = json.dumps({"metrics": metrics, "bands": BANDS}, ensure_ascii=False)
            await _Profile.insert(_Profile(code=code, name=name, kinds=kinds, config=config, updated_at=now))

    manager.add_raw(run)
    return manager
