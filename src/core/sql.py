"""Hot-path statements written once as SQL and run on the driver directly, on both engines.

Piccolo builds every query's SQL text anew on each call; on the door and booking paths that cost more
CPU than the database spent answering (bench/RESULTS.md, py-spy). A `Statement` is written once with
PostgreSQL's `$1 … $n` placeholders (each number used once, in order, so SQLite's `?` line up), runs
on asyncpg's per-connection prepared-statement cache or on SQLite's long-lived reader connections, and
joins the caller's transaction (`core.db.write_transaction()`) when there is one, like Piccolo does.
Rows come back as plain dicts. Everything else keeps using Piccolo's query builder.
"""

from __future__ import annotations

import re
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from core.db import engine

_PLACEHOLDER = re.compile(r"\$(\d+)")


class Statement:
    """One SQL statement; `fetch`, `fetchrow` and `execute` run it with positional arguments."""

    __slots__ = ("pg", "quick", "sqlite")

    def __init__(self, text: str, *, quick: bool = False) -> None:
        """`quick`: a lookup by a unique key, read on SQLite on the event loop's thread (see fetch)."""
        numbers = [int(n) for n in _PLACEHOLDER.findall(text)]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"placeholders must be $1..$n, each once and in order: {text}")
        self.pg = text
        self.sqlite = _PLACEHOLDER.sub("?", text)
        self.quick = quick

    async def fetch(self, *args: Any) -> list[dict[str, Any]]:
        db = engine()
        tx = db.current_transaction.get()
        if isinstance(db, PostgresEngine):
            if tx is not None:
                return [dict(r) for r in await tx.connection.fetch(self.pg, *args)]
            if db.pool is None:
                conn = await db.get_new_connection()
                try:
                    return [dict(r) for r in await conn.fetch(self.pg, *args)]
                finally:
                    await conn.close()
            async with db.pool.acquire() as conn:
                return [dict(r) for r in await conn.fetch(self.pg, *args)]
        if tx is not None:
            writer = getattr(tx, "in_loop", None)
            if writer is not None:  # the kept writer, its write lock held: run it here (core.db)
                cursor = writer.execute(self.sqlite, args)
                try:
                    return cursor.fetchall()
                finally:
                    cursor.close()
            # One trip to the connection's thread (execute, fetch and close the cursor there).
            return list(await tx.connection.execute_fetchall(self.sqlite, args))
        # Outside a transaction: the tuned engine's reader connections while the app runs (else a new one).
        # A quick lookup (every request's actor or session) runs on a borrowed reader from this thread:
        # a WAL reader never waits for a writer, and an indexed lookup takes microseconds, far less
        # than a trip to the connection's thread and back.
        if self.quick and (rows := await db.quick_read(self.sqlite, args)) is not None:  # type: ignore[attr-defined]
            return rows
        rows = await db._run_in_new_connection(self.sqlite, list(args))  # type: ignore[attr-defined]
        return list(rows)

    async def fetchrow(self, *args: Any) -> dict[str, Any] | None:
        rows = await self.fetch(*args)
        return rows[0] if rows else None

    async def execute(self, *args: Any) -> None:
        await self.fetch(*args)
