"""Piccolo app for the evaluation's running totals: per venue and local day from the check-ins, per slot
and per venue, school and year from the bookings. The database keeps them with triggers, in the same
transaction as every change to a check-in or a booking, so the yearly scorecards of a whole city add up
a few thousand rows instead of every check-in and booking (evaluation/scorecard.py). They hold nothing
that is not in those tables and are read only with raw SQL, so there are no Table classes."""

import os

from piccolo.conf.apps import AppConfig

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="evaluation",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[],
    migration_dependencies=["bookings.piccolo_app", "venues.piccolo_app", "accounts.piccolo_app"],
    commands=[],
)
