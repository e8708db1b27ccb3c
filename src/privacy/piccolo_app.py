"""Piccolo app for privacy: name lists and the venues that require them."""

import os

from piccolo.conf.apps import AppConfig, table_finder

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="privacy",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=table_finder(modules=["privacy.tables"], exclude_imported=True),
    migration_dependencies=["bookings.piccolo_app"],
    commands=[],
)
