"""Privacy tables: which venues require a name list, and the lists themselves (encrypted, short-lived).

A name list is not history: it cascades away with its booking and is erased N days after the visit
(privacy/namelists.py), so nothing here is `OnDelete.restrict`.
"""

from piccolo.columns import Boolean, Bytea, ForeignKey, Integer, Serial, Timestamptz
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from accounts.tables import User
from bookings.tables import Booking
from venues.tables import Venue


class VenuePolicy(Table, tablename="privacy_venue_policy"):
    """A venue's choice to require pupils' names for its visits (default: counts only, no row)."""

    id: Serial

    venue = ForeignKey(references=Venue, null=False, unique=True, on_delete=OnDelete.cascade)
    requires_name_list = Boolean(default=False)
    updated_at = Timestamptz()
    updated_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)


class NameList(Table, tablename="privacy_name_list"):
    """The pupils' names of one booking, encrypted (AES-GCM); only counts and dates are in the clear."""

    id: Serial

    booking = ForeignKey(references=Booking, null=False, unique=True, on_delete=OnDelete.cascade)
    venue = Integer(index=True, help_text="The booking's venue: whose door staff may see the masked list.")
    teacher = Integer(index=True, help_text="The uploader; deleting their account erases the list.")
    names = Integer(help_text="How many names the list holds.")
    ciphertext = Bytea(secret=True, help_text="nonce (12 bytes) + AES-GCM of the names, one per line.")
    guardians_informed_at = Timestamptz(help_text="When the teacher confirmed the guardians were told.")
    uploaded_at = Timestamptz()
