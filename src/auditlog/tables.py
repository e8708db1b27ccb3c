"""Audit log table. Entries are only ever inserted: database triggers refuse UPDATE and DELETE.

No foreign keys on purpose: the actor and the object are snapshots, so removing a user or a venue
never needs to touch (and could never be refused by, or cascade into) the log.
"""

from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class AdminAction(Table, tablename="auditlog_action"):
    """One administrative action: who did it (as they were then), what, to which object, and the change."""

    id: Serial

    actor_id = Integer(
        null=True, default=None, help_text="The user's id; NULL for the console or the system."
    )
    actor_name = Varchar(length=150, default="", help_text="Display name and username at the time.")
    actor_role = Varchar(
        length=32, default="", help_text="auditor | staff/supervisor | staff/door | console …"
    )
    action = Varchar(
        length=64, index=True, help_text="A code from auditlog.labels.ACTIONS, e.g. venue.update."
    )
    object_type = Varchar(length=32, index=True)
    object_id = Varchar(length=64, default="", help_text="An id, or a day for objects keyed by date.")
    venue_id = Integer(null=True, default=None, help_text="The venue the action concerns, for filtering.")
    before = Text(null=True, default=None, help_text="JSON of the changed fields before; NULL when created.")
    after = Text(null=True, default=None, help_text="JSON of the changed fields after; NULL when removed.")
    reason = Text(null=True, default=None)
    ip = Varchar(length=64, null=True, default=None)
    user_agent = Varchar(length=300, null=True, default=None)
    created_at = Timestamptz(index=True)
