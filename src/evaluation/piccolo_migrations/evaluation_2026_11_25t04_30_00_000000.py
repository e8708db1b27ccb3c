"""PostgreSQL: statistics on a check-in's instant (the device's scan time, else the server's), the
expression every yearly and daily query filters on. Without them the planner guessed a year's
check-ins at a few hundred rows and joined them to their bookings and slots one index lookup at a
time; with them it hashes (the anomaly flags of a city: nested loops over 273,000 rows → hash joins).
SQLite's planner keeps no such statistics; nothing to do there."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-25T04:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "evaluation: PostgreSQL statistics on the check-in instant"

POSTGRES = [
    "CREATE STATISTICS IF NOT EXISTS bookings_checkin_at ON (COALESCE(scanned_at, created_at))"
    " FROM bookings_checkin",
    "ANALYZE bookings_checkin",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="evaluation", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        if engine.engine_type != "sqlite":
            for ddl in POSTGRES:
                await engine.run_ddl(ddl)

    manager.add_raw(run)
    return manager
