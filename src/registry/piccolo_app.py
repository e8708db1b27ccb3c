"""Piccolo app for the registry (accreditation, status history, threshold profiles, imports)."""

import os

from piccolo.conf.apps import AppConfig, table_finder

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="registry",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=table_finder(modules=["registry.tables"], exclude_imported=True),
    migration_dependencies=["venues.piccolo_app", "accounts.piccolo_app"],
    commands=[],
)
