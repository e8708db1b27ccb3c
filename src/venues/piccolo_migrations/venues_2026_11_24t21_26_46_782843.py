"""The venue's door ratio policy: warn at the door when the adults admitted fall below the ratio."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-24T21:26:46:782843"
VERSION = "1.38.0"
DESCRIPTION = "venues_venue.door_ratio_policy"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="venues", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Venue",
        tablename="venues_venue",
        column_name="door_ratio_policy",
        db_column_name="door_ratio_policy",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 16,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
