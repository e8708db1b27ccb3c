"""Ledger tables. Entries are only ever inserted; `kepu audit verify` finds any that were changed or removed.

No foreign keys on purpose: a check-in deleted straight from the database must leave its entry behind
as evidence, not be refused or cascade it away.
"""

from piccolo.columns import Bytea, Date, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

ENTRY_KINDS = ("scan", "reversal")


class LedgerEntry(Table, tablename="ledger_entry"):
    """One record of a venue's chain: what a check-in (or its correction) said when it was made."""

    id: Serial

    venue = Integer(index=True)
    seq = Integer(help_text="1, 2, 3 … per venue; unique with the venue.")
    kind = Varchar(length=16, help_text="scan | reversal")
    checkin = Integer(index=True, help_text="The check-in recorded, or the one a reversal corrects.")
    payload = Text(help_text="Canonical JSON of the record's fields at the time.")
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64, help_text="SHA-256 of prev_hash and payload.")
    created_at = Timestamptz()


class LedgerTip(Table, tablename="ledger_tip"):
    """The last entry of each venue's chain; its row is the lock that keeps one chain from forking."""

    id: Serial

    venue = Integer(unique=True)
    seq = Integer()
    hash = Varchar(length=64)


class LedgerHead(Table, tablename="ledger_head"):
    """A venue's chain head at the end of a day, signed with the installation's key and published."""

    id: Serial

    day = Date(index=True)
    venue = Integer(index=True)
    seq = Integer()
    hash = Varchar(length=64)
    key_id = Integer()
    signature = Bytea()
    published_at = Timestamptz()
