"""One self-report per venue and year; activities are read by venue and first day."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-25T00:58:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "Unique self-report per venue and year; activity index by venue and day"

DDL = (
    "CREATE UNIQUE INDEX IF NOT EXISTS activities_self_report_venue_year "
    "ON activities_self_report (venue, year)",
    "CREATE INDEX IF NOT EXISTS activities_activity_venue_day ON activities_activity (venue, starts_on)",
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="activities", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in DDL:
            await engine.run_ddl(statement)

    async def backwards() -> None:
        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl("DROP INDEX IF EXISTS activities_self_report_venue_year")
        await engine.run_ddl("DROP INDEX IF EXISTS activities_activity_venue_day")

    manager.add_raw(run)
    manager.add_raw_backwards(backwards)
    return manager
