"""One blackout row per venue and day, so adding a day twice cannot store it twice."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T20:33:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "UNIQUE (venue, day) on venues_blackout"

# Raw steps run before a migration's own table changes, so this lives in its own migration.
DDL = "CREATE UNIQUE INDEX IF NOT EXISTS venues_blackout_venue_day ON venues_blackout (venue, day)"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="venues", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(DDL)

    manager.add_raw(run)
    return manager
