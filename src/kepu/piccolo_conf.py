"""Piccolo configuration: the engine comes from DATABASE_URL, the same setting the app reads."""

import os

from piccolo.conf.apps import AppRegistry

from core.db import engine_from_url

DB = engine_from_url(os.environ.get("DATABASE_URL"))

APP_REGISTRY = AppRegistry(
    apps=[
        "accounts.piccolo_app",
        "venues.piccolo_app",
        "bookings.piccolo_app",
        "messaging.piccolo_app",
        "registry.piccolo_app",
        "timetable.piccolo_app",
        "ledger.piccolo_app",
        "privacy.piccolo_app",
        "auditlog.piccolo_app",
        "activities.piccolo_app",
        "evaluation.piccolo_app",
    ]
)
