"""A load client that is not the bottleneck (aiohttp), bounded and loopback only, plus server-side figures
that stay stable on a noisy shared machine: CPU milliseconds per request of the server and database
processes (from /proc) and each server's peak RSS."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import aiohttp

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    json: Any = None
    headers: dict[str, str] | None = None


@dataclass
class Result:
    name: str
    requests: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    bodies: list[Any] = field(default_factory=list)
    server_cpu_ms: float = 0.0
    db_cpu_ms: float = 0.0
    peak_rss_mb: list[float] = field(default_factory=list)

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def row(self) -> dict[str, str]:
        per = self.requests or 1
        return {
            "scenario": self.name,
            "requests": str(self.requests),
            "req/s": f"{self.requests / self.seconds:.0f}" if self.seconds else "-",
            "p50 ms": f"{self.pct(50):.1f}",
            "p90 ms": f"{self.pct(90):.1f}",
            "p99 ms": f"{self.pct(99):.1f}",
            "max ms": f"{max(self.latencies_ms, default=0):.1f}",
            "statuses": " ".join(f"{k}×{v}" for k, v in sorted(self.statuses.items())),
            "server CPU ms/req": f"{self.server_cpu_ms / per:.2f}",
            "db CPU ms/req": f"{self.db_cpu_ms / per:.2f}",
            "peak RSS MB": "/".join(f"{r:.0f}" for r in self.peak_rss_mb),
        }


def cpu_by_pid(pids: Sequence[int]) -> dict[int, float]:
    """User + system CPU time of each of these processes so far, in ms (fields 14 and 15 of
    /proc/PID/stat); a process that has gone is left out."""
    times = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) * 1000 / CLOCK_TICKS
    return times


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU ms spent between two readings: each process's own difference, all of it for one that started
    in between. A process that ended in between is left out (what it spent since is unknown), so
    another database's backends closing cannot make the figure drop below zero."""
    return sum(ms - before.get(pid, 0.0) for pid, ms in after.items())


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def postgres_pids(database: str | None = None) -> list[int]:
    """The PostgreSQL server processes on this machine: its background processes (WAL writer,
    checkpointer…) and the backends serving `database` (every backend when None). A backend names
    its user and database in its title: "postgres: 15/main: USER DATABASE HOST(PORT) STATE"."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() != "postgres":
                        continue
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    title = f.read().replace(b"\0", b" ").decode(errors="replace").split()
            except OSError:
                continue
            # title: "postgres:", cluster, then a backend's user, database and client address.
            backend = len(title) >= 5 and ("(" in title[4] or title[4] == "[local]")
            if database is None or not backend or title[3] == database:
                pids.append(int(entry))
    return pids


async def run(
    name: str,
    calls: Sequence[Call],
    *,
    concurrency: int,
    server_pids: Sequence[int],
    db_pids: Sequence[int] | Callable[[], Sequence[int]] = (),
    timeout_s: float = 300,
    keep_bodies: bool = False,
) -> Result:
    """Send the calls with at most `concurrency` in flight; every URL must be on this machine.

    `db_pids` may be a function: PostgreSQL starts a backend per new pool connection, so the set of
    database processes is read again before the calls go out and after they are answered.
    """
    find_db_pids = db_pids if callable(db_pids) else lambda: db_pids
    for call in calls:
        if urlparse(call.url).hostname not in LOOPBACK:
            raise ValueError(f"load goes to loopback only, not {call.url}")
    result = Result(name=name, requests=len(calls))
    queue = list(reversed(calls))
    server_before, db_before = cpu_by_pid(server_pids), cpu_by_pid(find_db_pids())
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker() -> None:
            while queue:
                call = queue.pop()
                t0 = time.perf_counter()
                async with session.request(call.method, call.url, json=call.json, headers=call.headers) as r:
                    body = await r.read()
                result.latencies_ms.append((time.perf_counter() - t0) * 1000)
                result.statuses[r.status] += 1
                if keep_bodies:
                    result.bodies.append((r.status, body))

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout_s)
        result.seconds = time.perf_counter() - started
    result.server_cpu_ms = cpu_spent(server_before, cpu_by_pid(server_pids))
    result.db_cpu_ms = cpu_spent(db_before, cpu_by_pid(find_db_pids()))
    result.peak_rss_mb = [peak_rss_mb(pid) for pid in server_pids]
    return result


async def burst(
    name: str,
    calls: Sequence[Call],
    *,
    server_pids: Sequence[int],
    db_pids: Sequence[int] | Callable[[], Sequence[int]] = (),
) -> Result:
    """All calls at the same moment (one connection each), as the race scenarios need."""
    return await run(
        name, calls, concurrency=len(calls), server_pids=server_pids, db_pids=db_pids, keep_bodies=True
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0
