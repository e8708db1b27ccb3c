"""Piccolo app for activities (outreach events not tied to a booking) and annual self-reports."""

import os

from piccolo.conf.apps import AppConfig, table_finder

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="activities",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=table_finder(modules=["activities.tables"], exclude_imported=True),
    migration_dependencies=["venues.piccolo_app", "accounts.piccolo_app"],
    commands=[],
)
