"""Profile one request path in-process: the app is called through ASGI directly (no HTTP client, no
socket), so the process CPU time per request is the server's alone. Run by hand:

    python -m bench.profile door --db sqlite --n 2000 [--pyinstrument]
    python -m bench.profile book --db postgres --n 1000

It builds the small benchmark city (bench.citygen) with the scenario fixtures of bench.run in a fresh
database, then times the path and prints CPU ms per request (and a pyinstrument profile if asked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PG_ADMIN = os.environ.get("KEPU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


class Asgi:
    """A minimal ASGI caller: one request, the status and body back."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookies: dict[str, str] = {}

    def cookie_header(self) -> dict[str, str]:
        return {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    async def sign_in(self, username: str, password: str) -> dict[str, str]:
        """Sign in through the login form; the Cookie header for page requests."""
        import re
        from urllib.parse import urlencode

        _, page = await self.call("GET", "/login", None, {})
        token = re.search(rb'name="_csrf_token" value="([^"]+)"', page)
        assert token is not None
        form = urlencode(
            {"username": username, "password": password, "next": "/", "_csrf_token": token[1].decode()}
        ).encode()
        status, _ = await self.call("POST", "/login", form, self.cookie_header())
        assert status in (200, 302, 303), status
        return self.cookie_header()

    async def call(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, bytes]:
        hdrs = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        if isinstance(body, bytes):  # a form, already encoded
            raw = body
            hdrs += [
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"content-length", str(len(raw)).encode()),
            ]
        else:
            raw = json.dumps(body).encode() if body is not None else b""
            if body is not None:
                hdrs += [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
        path_only, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path_only,
            "raw_path": path_only.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), *hdrs],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for k, v in message.get("headers", []):
                    if k.lower() == b"set-cookie":
                        name, _, rest = v.decode().partition("=")
                        self.cookies[name] = rest.split(";", 1)[0]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


async def lifespan(app: Any) -> tuple[asyncio.Task[None], asyncio.Queue[dict[str, Any]]]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    message = await outbox.get()
    assert message["type"] == "lifespan.startup.complete", message
    return task, inbox


def _memory() -> dict[str, float]:
    """This process's resident set now (VmRSS) and at its peak (VmHWM), in MB (Linux)."""
    with open("/proc/self/status", encoding="ascii") as f:
        fields = dict(line.split(":", 1) for line in f)
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


async def main_async(args: argparse.Namespace) -> None:
    from bench.run import _fixtures

    fx = await _fixtures("small", args.year)
    from kepu.app import create_app

    app = create_app()
    task, inbox = await lifespan(app)
    try:
        await _measure(args, fx, Asgi(app))
    finally:  # also after an error: the app's database connections close, so the process can end
        await inbox.put({"type": "lifespan.shutdown"})
        await task


async def _measure(args: argparse.Namespace, fx: dict[str, Any], client: Asgi) -> None:
    staff = {"authorization": f"Bearer {fx['staff_token']}"}
    calls: list[tuple[str, str, Any, dict[str, str]]]
    if args.path == "door":
        calls = [("POST", "/api/v1/checkins", {"token": t}, staff) for t in fx["door_tokens"][: args.n]]
        expect = {200}
    elif args.path == "rescan":
        for t in fx["door_tokens"][: args.n]:
            await client.call("POST", "/api/v1/checkins", {"token": t}, staff)
        calls = [("POST", "/api/v1/checkins", {"token": t}, staff) for t in fx["door_tokens"][: args.n]]
        expect = {409}
    elif args.path == "book":
        teachers = fx["teacher_tokens"]
        popular = fx["popular_slots"]
        calls = [
            (
                "POST",
                "/api/v1/bookings",
                {"slot_id": popular[n % len(popular)], "students": 3, "chaperones": 1},
                {"authorization": f"Bearer {teachers[n % len(teachers)]}"},
            )
            for n in range(args.n)
        ]
        expect = {201, 409}
    elif args.path == "book-full":  # the rush's usual answer: the hot slot's 100 places go, then 409s
        teachers = fx["teacher_tokens"]
        calls = [
            (
                "POST",
                "/api/v1/bookings",
                {"slot_id": fx["hot_slot"], "students": 1, "chaperones": 0},
                {"authorization": f"Bearer {teachers[n % len(teachers)]}"},
            )
            for n in range(args.n)
        ]
        expect = {201, 409}
    elif args.path == "healthz":  # the framework and middleware alone: no database, no actor
        calls = [("GET", "/healthz", None, {})] * args.n
        expect = {200}
    elif args.path == "slot":  # a signed-in API read: the actor's token and one prepared statement
        calls = [("GET", f"/api/v1/slots/{fx['door_slot']}", None, staff)] * args.n
        expect = {200}
    elif args.path in ("scorecards-xlsx", "audit-page"):
        cookie = await client.sign_in(fx["auditor"], fx["password"])
        path = "/audit/scorecards.xlsx" if args.path == "scorecards-xlsx" else "/audit"
        calls = [("GET", f"{path}?year={args.year}", None, cookie)] * args.n
        expect = {200}
    elif args.path.startswith("page-"):
        who = fx["staff"] if args.path == "page-roster" else fx["teacher"]
        cookie = await client.sign_in(who, fx["password"])
        url = {
            "page-catalogue": "/venues",
            "page-programmes": "/programmes",
            "page-venue": f"/venues/{fx['venue_id']}",
            "page-pass": f"/bookings/{fx['booking_id']}",
            "page-roster": f"/slots/{fx['door_slot']}",
        }[args.path]
        calls = [("GET", url, None, cookie)] * args.n
        expect = {200}
    else:
        raise SystemExit(f"unknown path {args.path}")
    # Warm up on a few calls outside the measurement (imports, prepared statements, caches).
    warm_n = min(20, len(calls) // 2)
    warm, calls = calls[:warm_n], calls[warm_n:]
    rss_ready = _memory()["VmRSS"]
    for c in warm:
        await client.call(*c)
    profiler = None
    cprof = None
    if args.cprofile:
        import cProfile

        cprof = cProfile.Profile()
        cprof.enable()
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002, async_mode="enabled")
        profiler.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    statuses: dict[int, int] = {}
    body = b""
    for c in calls:
        status, body = await client.call(*c)
        statuses[status] = statuses.get(status, 0) + 1
        if status not in expect:
            print(status, body[:300], file=sys.stderr)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if cprof is not None:
        import pstats

        cprof.disable()
        if args.dump:
            cprof.dump_stats(args.dump)
        pstats.Stats(cprof).sort_stats("tottime").print_stats(45)
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.save:
        # The last answer, e.g. to compare a page before and after a change.
        await asyncio.to_thread(Path(args.save).write_bytes, body)
    n = len(calls)
    print(f"{args.path} on {args.db}: {n} requests, statuses {statuses}")
    print(f"  process CPU {cpu * 1000 / n:.3f} ms/request, wall {wall * 1000 / n:.3f} ms/request")
    mem = _memory()
    print(f"  RSS {rss_ready:.1f} MB before, {mem['VmRSS']:.1f} MB after; peak {mem['VmHWM']:.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument(
        "path",
        choices=[
            "door", "rescan", "book", "book-full", "healthz", "slot",
            "page-catalogue", "page-programmes", "page-venue", "page-pass", "page-roster",
            "scorecards-xlsx", "audit-page",
        ],
    )  # fmt: skip
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=1000, help="requests, the first (up to 20) to warm up")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--cprofile", action="store_true", help="print the functions by own time")
    parser.add_argument("--save", help="write the last response's body to this file")
    parser.add_argument("--dump", help="with --cprofile: also write the profile here (for pstats, snakeviz)")
    args = parser.parse_args()
    if args.n < 2:
        parser.error("--n: at least 2 (one to warm up, one to measure)")
    tmp = Path(tempfile.mkdtemp(prefix="kepu-profile-"))
    if args.db == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'profile.sqlite3'}"
    else:
        import asyncpg

        name = f"kepu_profile_{os.getpid()}"

        async def admin(sql: str) -> None:
            conn = await asyncpg.connect(PG_ADMIN)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        os.environ["DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    os.environ.setdefault("KEPU_SECRET_KEY", "bench-profile")
    try:
        asyncio.run(main_async(args))
    finally:
        if args.db == "postgres":
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
