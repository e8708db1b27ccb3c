"""Personal calendar subscriptions: a secret address per teacher that lists all their visits.

The secret is shown once, when made; only its SHA-256 is kept, so a database leak reveals no
address. Making a new one replaces the old (which stops working at once); revoking deletes it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from accounts.tables import User
from bookings.schemas import BookingView
from bookings.tables import Booking
from core import clock, i18n
from core.db import write_transaction
from messaging.calendar import feed_calendar
from messaging.tables import CalendarFeed

HISTORY = timedelta(days=180)  # visits older than this drop out of the feed
TOUCH_EVERY = timedelta(hours=1)  # last_fetched_at is written at most this often


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def well_formed(secret: str) -> bool:
    return 20 <= len(secret) <= 64 and all(c.isalnum() or c in "-_" for c in secret)


async def current(user_id: int) -> dict[str, Any] | None:
    """The teacher's subscription (created_at, last_fetched_at), without its secret; None if none."""
    row: dict[str, Any] | None = (
        await CalendarFeed.select(CalendarFeed.created_at, CalendarFeed.last_fetched_at)
        .where(CalendarFeed.user == user_id)
        .first()
    )
    return row


async def create(user_id: int) -> str:
    """A new secret for the teacher's feed (the old one, if any, stops working); shown once."""
    secret = secrets.token_urlsafe(32)
    async with write_transaction():
        await CalendarFeed.delete().where(CalendarFeed.user == user_id)
        await CalendarFeed.insert(
            CalendarFeed(user=user_id, token_hash=_hash(secret), created_at=clock.now())
        )
    return secret


async def revoke(user_id: int) -> bool:
    async with write_transaction():
        gone = await CalendarFeed.delete().where(CalendarFeed.user == user_id).returning(CalendarFeed.id)
    return bool(gone)


async def feed_for(secret: str, base_url: str = "") -> bytes | None:
    """The calendar behind a secret, or None when the secret names no live subscription."""
    from bookings import services  # bookings.services imports messaging: import at use

    if not well_formed(secret):
        return None
    feed = (
        await CalendarFeed.select(
            CalendarFeed.id, CalendarFeed.user, CalendarFeed.last_fetched_at, CalendarFeed.user.role
        )
        .where(CalendarFeed.token_hash == _hash(secret))
        .first()
    )
    if feed is None or feed["user.role"] != "teacher":
        return None
    user_id = int(feed["user"])
    language = i18n.DEFAULT_LANGUAGE
    language_column = getattr(User, "language", None)
    if language_column is not None:
        found = await User.select(language_column).where(User.id == user_id).first()
        if found and found.get("language") in i18n.LANGUAGES:
            language = found["language"]
    rows = (
        await Booking.select(*services.BOOKING_COLUMNS, Booking.updated_at.as_alias("_updated_at"))
        .where((Booking.teacher == user_id) & (Booking.slot.starts_at >= clock.now() - HISTORY))
        .order_by(Booking.slot.starts_at)
        .order_by(Booking.id)
    )
    visits: list[tuple[BookingView, datetime]] = []
    for row in rows:
        updated_at = row.pop("_updated_at")
        visits.append((services.booking_view(row), updated_at))
    now = clock.now()
    if feed["last_fetched_at"] is None or now - feed["last_fetched_at"] >= TOUCH_EVERY:
        await CalendarFeed.update({CalendarFeed.last_fetched_at: now}).where(CalendarFeed.id == feed["id"])
    with i18n.language(language):
        return feed_calendar(visits, name=i18n.gettext("My class visits (kepu)"), base_url=base_url)
