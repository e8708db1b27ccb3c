"""Messaging tables: the outbox every e-mail passes through, written in the same transaction as its cause."""

from piccolo.columns import Bytea, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from accounts.tables import User

OUTBOX_STATES = ("pending", "sent", "failed")


class Outbox(Table, tablename="messaging_outbox"):
    """One e-mail to send. Rows are never deleted: a sent message keeps its sent_at as the record."""

    id: Serial

    kind = Varchar(
        length=32, help_text="confirmed | pending | approved | declined | changed | cancelled | ..."
    )
    recipient = Varchar(length=254)
    user = ForeignKey(references=User, null=True, default=None, index=True, on_delete=OnDelete.set_null)
    booking_id = Integer(null=True, default=None, index=True)
    subject = Varchar(length=300)
    body = Text()
    masked_body = Text(default="", help_text="The body with secrets (reset links) masked, for auditors.")
    attachment_name = Varchar(length=100, default="")
    attachment_type = Varchar(length=100, default="")
    attachment = Bytea(null=True, default=None)
    state = Varchar(length=16, default="pending", index=True)
    attempts = Integer(default=0)
    last_error = Varchar(length=500, default="")
    next_attempt_at = Timestamptz(index=True)
    locked_until = Timestamptz(null=True, default=None, help_text="A worker's lease while it sends.")
    dedupe_key = Varchar(
        length=200, null=True, default=None, unique=True, help_text="E.g. reminder:<booking>: queued once."
    )
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)


class CalendarFeed(Table, tablename="messaging_calendar_feed"):
    """A teacher's personal calendar subscription (/calendar/<secret>.ics). Only the SHA-256 of the secret
    is kept, so the address is shown once when made; revoking deletes the row, and the address is dead."""

    id: Serial

    user = ForeignKey(references=User, null=False, unique=True, on_delete=OnDelete.cascade)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    last_fetched_at = Timestamptz(null=True, default=None, help_text="When a calendar app last read it.")
