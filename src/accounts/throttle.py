"""Sign-in throttling: failed attempts counted per account name and per client address.

The counts live in the database (`accounts_signin_failure`), so every `kepu serve` process sharing
it sees the same numbers. After `per_account` failures for one typed name within `window`, or
`per_address` failures from one client address, a further *wrong* attempt is refused with 429 and a
sentence saying how long to wait, until enough failures have aged out of the window.

The trade-off, and why it is built this way
-------------------------------------------
api.md ("Auth") says: throttling counts failed attempts only; a correct sign-in is never refused for
its rate. So the password is always checked, and the right one always gets in, locked or not; only
wrong ones are refused. That leaves a guesser able to tell a right guess (200) from a wrong one
(429), so the lockout alone cannot stop guessing. What still slows it down:

* while a name or an address is locked, every attempt for it waits `locked_delay` before its
  password is even checked (an `asyncio.sleep`: no worker thread or database connection is held),
  the right password included — it is delayed, never refused;
* each check costs an argon2id hash (64 MiB, 3 passes in production), which bounds how many checks
  the server can do at all, and the password rules (10+ characters, not digits only) leave far
  too many candidates for online guessing at that rate;
* a wrong attempt during the lockout still counts, so a guesser that keeps going stays locked and
  keeps paying the delay; a well-behaved client sees 429 with Retry-After and stops;
* refusing wrong attempts without checking them (a hard lockout) would stop guessing outright but
  would also let anyone lock a teacher out by typing their name five times — which the contract
  forbids, and which would be a cheap denial of service before a morning of visits.

No enumeration: the counter is keyed by the name *as typed* (normalised, hashed), not by the
account found, so an unknown name is throttled exactly like a known one and the message and status
never depend on whether the account exists. (Keying by the account would let a guesser learn which
e-mail address belongs to which username by watching one shared counter.) A person can therefore
spend the allowance once with their username and once with their e-mail address; the per-address
limit caps the sum.

Exact counting under concurrency: each failure is one inserted row, and the decision for an attempt
is taken in a write transaction that first takes a per-key gate row (an upsert in
`accounts_store_entry`, which holds a row lock on PostgreSQL until commit; SQLite's write
transaction is serialised anyway), so simultaneous wrong attempts see each other's failures and
exactly `per_account` of them get the plain "wrong password" answer. Keys are always gated in the
same order (name, then address), so two attempts cannot deadlock.

Old rows are deleted on the same write path, so the table holds at most one window of failures.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from accounts.tables import SignInFailure, StoreEntry
from core import clock
from core.db import write_transaction
from core.i18n import gettext

GATE_NAMESPACE = "signin_gate"


@dataclass(frozen=True)
class Limits:
    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    locked_delay: float = 1.0  # seconds every attempt waits while its name or address is locked


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, "") or default))
    except ValueError:
        return default


def limits_from_env() -> Limits:
    delay_raw = os.environ.get("KEPU_SIGNIN_LOCKED_DELAY_MS", "")
    try:
        delay = max(0, int(delay_raw)) / 1000 if delay_raw else 1.0
    except ValueError:
        delay = 1.0
    return Limits(
        per_account=_env_int("KEPU_SIGNIN_MAX_FAILURES", 5),
        per_address=_env_int("KEPU_SIGNIN_MAX_FAILURES_PER_ADDRESS", 20),
        window=timedelta(minutes=_env_int("KEPU_SIGNIN_WINDOW_MINUTES", 15)),
        locked_delay=delay,
    )


# Read once; tests replace it.
LIMITS = limits_from_env()


def account_key(username: str) -> str:
    """The counter for a typed name: normalised (case, spaces) and hashed, so a password typed into
    the name field by mistake is never stored readable."""
    normal = username.strip().lower()
    return "n:" + hashlib.sha256(normal.encode()).hexdigest()[:40]


def address_key(address: str | None) -> str:
    return "a:" + (address or "unknown")[:64]


def client_address(scope: Any) -> str:
    """The ASGI client host (uvicorn already applied X-Forwarded-For from a trusted proxy)."""
    client = scope.get("client") if hasattr(scope, "get") else None
    if client and client[0]:
        return str(client[0])
    return "unknown"


@dataclass(frozen=True)
class Lockout:
    retry_after: int  # seconds

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))

    def message(self) -> str:
        return gettext(
            "Too many failed sign-in attempts. Wait %(minutes)s minutes and try again, "
            "or reset your password."
        ) % {"minutes": self.minutes}


async def _recent(key: str, since: datetime, limit: int) -> list[datetime]:
    """The newest `limit` failures of `key` since `since`, newest first."""
    rows = (
        await SignInFailure.select(SignInFailure.created_at)
        .where((SignInFailure.key == key) & (SignInFailure.created_at > since))
        .order_by(SignInFailure.created_at, ascending=False)
        .limit(limit)
    )
    return [r["created_at"] for r in rows]


def _lock_ends(failures: list[datetime], limit: int, window: timedelta) -> datetime | None:
    """With `failures` newest first, the instant the key drops below `limit` again, or None when it
    is not locked now."""
    if len(failures) < limit:
        return None
    return failures[limit - 1] + window


async def current_lockout(username: str, address: str, limits: Limits | None = None) -> Lockout | None:
    """Whether the name or the address is locked right now (a plain read, no lock taken)."""
    limits = limits or LIMITS
    now = clock.now()
    since = now - limits.window
    ends = [
        _lock_ends(
            await _recent(account_key(username), since, limits.per_account), limits.per_account, limits.window
        ),
        _lock_ends(
            await _recent(address_key(address), since, limits.per_address), limits.per_address, limits.window
        ),
    ]
    live = [e for e in ends if e is not None and e > now]
    if not live:
        return None
    return Lockout(retry_after=max(1, int((max(live) - now).total_seconds())))


async def slow_down_if_locked(username: str, address: str, limits: Limits | None = None) -> None:
    """Wait `locked_delay` before checking a password for a locked name or address."""
    limits = limits or LIMITS
    if limits.locked_delay > 0 and await current_lockout(username, address, limits) is not None:
        await asyncio.sleep(limits.locked_delay)


async def _gate(key: str, now: datetime, window: timedelta) -> None:
    """Serialise decisions for one key: the upsert locks the row until the transaction ends."""
    await StoreEntry.insert(
        StoreEntry(
            namespace=GATE_NAMESPACE, key=f"{GATE_NAMESPACE}:{key}", value=b"", expires_at=now + window
        )
    ).on_conflict(target=StoreEntry.key, action="DO UPDATE", values=[StoreEntry.expires_at])


async def record_failure(username: str, address: str, limits: Limits | None = None) -> Lockout | None:
    """Count one failed attempt; a Lockout when the name or address was already at its limit
    before this attempt (the attempt is then refused with 429), else None (a plain 401)."""
    limits = limits or LIMITS
    name_key, addr_key = account_key(username), address_key(address)
    async with write_transaction():
        now = clock.now()
        since = now - limits.window
        await _gate(name_key, now, limits.window)
        await _gate(addr_key, now, limits.window)
        name_recent = await _recent(name_key, since, limits.per_account)
        addr_recent = await _recent(addr_key, since, limits.per_address)
        await SignInFailure.insert(
            SignInFailure(key=name_key, created_at=now), SignInFailure(key=addr_key, created_at=now)
        )
        # Housekeeping: nothing older than a window is ever read again.
        await SignInFailure.delete().where(SignInFailure.created_at <= since)
        await StoreEntry.delete().where(
            (StoreEntry.namespace == GATE_NAMESPACE) & (StoreEntry.expires_at < now)
        )
    locked_before = [
        e
        for e in (
            _lock_ends(name_recent, limits.per_account, limits.window),
            _lock_ends(addr_recent, limits.per_address, limits.window),
        )
        if e is not None and e > now
    ]
    if not locked_before:
        return None
    # This attempt counted too, so the lock now ends later than it did before it.
    ends = [
        e
        for e in (
            _lock_ends([now, *name_recent], limits.per_account, limits.window),
            _lock_ends([now, *addr_recent], limits.per_address, limits.window),
        )
        if e is not None and e > now
    ]
    return Lockout(retry_after=max(1, int((max(ends) - now).total_seconds())))


async def clear_account(username: str) -> None:
    """A correct sign-in wipes the name's failures (not the address's: one good account does not
    vouch for everything else tried from that address). Only a read when there is nothing to wipe."""
    key = account_key(username)
    if not await SignInFailure.exists().where(SignInFailure.key == key):
        return
    async with write_transaction():
        await SignInFailure.delete().where(SignInFailure.key == key)
