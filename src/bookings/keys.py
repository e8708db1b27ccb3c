"""The installation's pass-signing keys: kept in the database so every process and restart signs alike."""

from __future__ import annotations

import dataclasses
from typing import Any

import auditlog
from bookings.tables import PassKey
from bookings.tickets import SigningKey, generate_signing_key
from core import clock
from core.db import write_transaction

# Keys never change once written (rotation adds a new one), so a process may keep them.
_public: dict[int, bytes] = {}
_active: SigningKey | None = None


async def _load() -> None:
    global _active
    rows = await PassKey.select(PassKey.id, PassKey.private_key, PassKey.public_key, PassKey.active).order_by(
        PassKey.id
    )
    _public.clear()
    for row in rows:
        _public[row["id"]] = bytes(row["public_key"])
    actives = [r for r in rows if r["active"]]
    if actives:
        newest = actives[-1]
        _active = SigningKey(
            kid=newest["id"], private_key=bytes(newest["private_key"]), public_key=bytes(newest["public_key"])
        )


async def ensure_key() -> SigningKey:
    """The active signing key, creating the installation's first one if there is none."""
    if _active is None:
        await _load()
    if _active is None:
        async with write_transaction():
            # Re-check inside the write transaction: another process may have just made one.
            if not await PassKey.exists().where(PassKey.active.eq(True)):
                fresh = generate_signing_key(0)
                await PassKey.insert(
                    PassKey(
                        private_key=fresh.private_key,
                        public_key=fresh.public_key,
                        active=True,
                        created_at=clock.now(),
                    )
                )
        await _load()
    assert _active is not None
    return _active


async def rotate(actor: Any = None) -> SigningKey:
    """Make a new active key; passes signed with older keys keep verifying. Logged (no actor: the system)."""
    fresh = generate_signing_key(0)
    async with write_transaction():
        old = (
            await PassKey.update({PassKey.active: False}).where(PassKey.active.eq(True)).returning(PassKey.id)
        )
        rows = await PassKey.insert(
            PassKey(
                private_key=fresh.private_key,
                public_key=fresh.public_key,
                active=True,
                created_at=clock.now(),
            )
        ).returning(PassKey.id)
        await auditlog.record(
            actor,
            "passkey.rotate",
            "pass_key",
            rows[0]["id"],
            before={"active_key_ids": sorted(r["id"] for r in old)},
            after={"active_key_ids": [rows[0]["id"]]},
        )
    await _load()
    return dataclasses.replace(fresh, kid=rows[0]["id"])


async def public_keys(kid: int | None = None) -> dict[int, bytes]:
    """All public keys by key id; reloads when asked for a key id this process has not seen."""
    if not _public or (kid is not None and kid not in _public):
        await _load()
    return dict(_public)


def forget() -> None:
    """Drop the cached keys (tests switch databases under one process)."""
    global _active
    _active = None
    _public.clear()
