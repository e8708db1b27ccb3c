"""Database-level safety nets behind the services' rules: a slot's booked places stay within capacity."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T19:44:13:937201"
VERSION = "1.38.0"
DESCRIPTION = "CHECK 0 <= booked <= capacity on venues_slot"

# SQLite cannot ADD CONSTRAINT to an existing table (recipes/litestar-piccolo.md §2), so it gets
# triggers that abort the statement instead.
SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS venues_slot_booked_within_capacity_ins
       BEFORE INSERT ON venues_slot
       WHEN NEW.booked < 0 OR NEW.booked > NEW.capacity
       BEGIN SELECT RAISE(ABORT, 'booked_within_capacity'); END""",
    """CREATE TRIGGER IF NOT EXISTS venues_slot_booked_within_capacity_upd
       BEFORE UPDATE ON venues_slot
       WHEN NEW.booked < 0 OR NEW.booked > NEW.capacity
       BEGIN SELECT RAISE(ABORT, 'booked_within_capacity'); END""",
]
POSTGRES = [
    'ALTER TABLE "venues_slot" ADD CONSTRAINT booked_within_capacity '
    "CHECK (booked >= 0 AND booked <= capacity)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="venues", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for ddl in SQLITE if engine.engine_type == "sqlite" else POSTGRES:
            await engine.run_ddl(ddl)

    manager.add_raw(run)
    return manager
