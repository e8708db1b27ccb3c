"""A Litestar Store kept in the database, so sessions work across every `kepu serve` process."""

from __future__ import annotations

from datetime import timedelta

from litestar.stores.base import Store

from accounts.tables import StoreEntry
from core import clock
from core.db import write_transaction
from core.sessions import TOUCH_EVERY
from core.sql import Statement

_GET = Statement("SELECT value, expires_at FROM accounts_store_entry WHERE key = $1", quick=True)
_RENEW = Statement("UPDATE accounts_store_entry SET expires_at = $1 WHERE key = $2")


class DatabaseStore(Store):
    """Key-value entries in `accounts_store_entry`, namespaced; expired entries read as absent."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        expires = None
        if expires_in is not None:
            seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
            expires = clock.now() + timedelta(seconds=seconds)
        async with write_transaction():
            await StoreEntry.insert(
                StoreEntry(namespace=self.namespace, key=self._key(key), value=data, expires_at=expires)
            ).on_conflict(
                target=StoreEntry.key,
                action="DO UPDATE",
                values=[StoreEntry.value, StoreEntry.expires_at],
            )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        # Every signed-in page reads its session here: a prepared statement, not the query builder.
        row = await _GET.fetchrow(self._key(key))
        if row is None:
            return None
        if row["expires_at"] is not None and row["expires_at"] <= clock.now():
            return None
        if renew_for is not None and row["expires_at"] is not None:
            seconds = renew_for.total_seconds() if isinstance(renew_for, timedelta) else renew_for
            if row["expires_at"] - clock.now() > timedelta(seconds=seconds - TOUCH_EVERY):
                # Renewed less than a minute ago: reading is not a write each time.
                return bytes(row["value"])
            async with write_transaction():
                await _RENEW.execute(clock.now() + timedelta(seconds=seconds), self._key(key))
        return bytes(row["value"])

    async def delete(self, key: str) -> None:
        async with write_transaction():
            await StoreEntry.delete().where(StoreEntry.key == self._key(key))

    async def delete_all(self) -> None:
        async with write_transaction():
            await StoreEntry.delete().where(StoreEntry.namespace == self.namespace)

    async def delete_expired(self) -> None:
        async with write_transaction():
            await StoreEntry.delete().where(
                (StoreEntry.namespace == self.namespace) & (StoreEntry.expires_at < clock.now())
            )

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = await StoreEntry.select(StoreEntry.expires_at).where(StoreEntry.key == self._key(key)).first()
        if row is None or row["expires_at"] is None:
            return None
        return int((row["expires_at"] - clock.now()).total_seconds())
