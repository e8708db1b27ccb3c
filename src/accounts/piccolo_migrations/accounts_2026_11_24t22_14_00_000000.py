"""One school per name and district (so a CSV re-import matches, never duplicates) and one account per
e-mail address (only where one is set: accounts made at the console have none)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T22:14:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "UNIQUE (name, district) on accounts_school; UNIQUE e-mail on accounts_user where set"

# Raw steps run before a migration's own table changes, so these live in their own migration.
DDL = (
    "CREATE UNIQUE INDEX IF NOT EXISTS accounts_school_name_district ON accounts_school (name, district)",
    "CREATE UNIQUE INDEX IF NOT EXISTS accounts_user_email ON accounts_user (email) WHERE email <> ''",
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in DDL:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
