"""Database-level safety net: admitted counts never exceed what a booking holds."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T19:44:14:825346"
VERSION = "1.38.0"
DESCRIPTION = "CHECK admitted counts within booked counts on bookings_booking"

SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS bookings_admitted_within_booked_{event.lower()}
       BEFORE {event} ON bookings_booking
       WHEN NEW.admitted_students < 0 OR NEW.admitted_chaperones < 0
         OR NEW.admitted_students > NEW.students OR NEW.admitted_chaperones > NEW.chaperones
       BEGIN SELECT RAISE(ABORT, 'admitted_within_booked'); END"""
    for event in ("INSERT", "UPDATE")
]
POSTGRES = [
    'ALTER TABLE "bookings_booking" ADD CONSTRAINT admitted_within_booked CHECK ('
    "admitted_students >= 0 AND admitted_chaperones >= 0 "
    "AND admitted_students <= students AND admitted_chaperones <= chaperones)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="bookings", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for ddl in SQLITE if engine.engine_type == "sqlite" else POSTGRES:
            await engine.run_ddl(ddl)

    manager.add_raw(run)
    return manager
