"""Make the audit log append-only at the database level (UPDATE and DELETE are refused on both engines)
and add the indexes the log page filters and pages by (newest first, per venue, per actor)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-25T00:58:41:000000"
VERSION = "1.38.0"
DESCRIPTION = "auditlog: append-only triggers; paging indexes"

INDEXES = [
    "CREATE INDEX IF NOT EXISTS auditlog_action_newest ON auditlog_action (created_at, id)",
    "CREATE INDEX IF NOT EXISTS auditlog_action_venue_newest ON auditlog_action (venue_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS auditlog_action_actor_newest ON auditlog_action (actor_id, created_at, id)",
]
SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS auditlog_action_no_{event.lower()}
       BEFORE {event} ON auditlog_action
       BEGIN SELECT RAISE(ABORT, 'audit_log_is_append_only'); END"""
    for event in ("UPDATE", "DELETE")
]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION auditlog_action_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_log_is_append_only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER auditlog_action_append_only BEFORE UPDATE OR DELETE
       ON auditlog_action FOR EACH ROW EXECUTE FUNCTION auditlog_action_append_only()""",
    # TRUNCATE bypasses row triggers; a statement trigger refuses it too.
    """CREATE TRIGGER auditlog_action_no_truncate BEFORE TRUNCATE
       ON auditlog_action FOR EACH STATEMENT EXECUTE FUNCTION auditlog_action_append_only()""",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="auditlog", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for ddl in INDEXES + (SQLITE if engine.engine_type == "sqlite" else POSTGRES):
            await engine.run_ddl(ddl)

    manager.add_raw(run)
    return manager
