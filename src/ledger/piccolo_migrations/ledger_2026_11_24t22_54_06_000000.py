"""One entry per venue and position in its chain: two writers can never fork a chain."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T22:54:06:000000"
VERSION = "1.38.0"
DESCRIPTION = "UNIQUE (venue, seq) on ledger_entry; UNIQUE (day, venue) on ledger_head"

# Raw steps run before a migration's own table changes, so this lives in its own migration.
DDL = (
    "CREATE UNIQUE INDEX IF NOT EXISTS ledger_entry_venue_seq ON ledger_entry (venue, seq)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ledger_head_day_venue ON ledger_head (day, venue)",
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in DDL:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
