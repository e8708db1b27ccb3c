"""The audit log of administrative actions: who did what, when, and what changed.

Services call `auditlog.record(actor, "venue.update", "venue", venue_id, before, after, venue_id=…)` inside
the write transaction of the change itself, so the action and its entry commit together or not at all.
"""

from auditlog.services import CONSOLE, SystemActor, changes, fields, record

__all__ = ["CONSOLE", "SystemActor", "changes", "fields", "record"]
