"""Run the benchmark scenarios on SQLite (1 process) and PostgreSQL (1 and 2 processes) and write
bench/RESULTS.md. Run by hand (`make bench`); the test suite runs only the miniature (below). Loopback
only, bounded.

Each configuration runs in a child process of its own (the database is chosen by DATABASE_URL before
anything is imported): it migrates a fresh database, writes the city with bench.citygen, adds the
scenario fixtures (today's passes at one venue, a hot slot, 100 popular slots), starts `kepu serve`,
measures, and prints its results as JSON for the parent to tabulate.

`--smoke` runs every scenario in miniature (tens of requests, see SMOKE) into a file of its own: the
test suite does that on its engine so the scenarios cannot rot (tests/bench/test_run.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
DATA = ROOT / "bench" / "data"
PG_ADMIN = os.environ.get("KEPU_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CONFIGS = {"sqlite-1": ("sqlite", 1), "postgres-1": ("postgres", 1), "postgres-2": ("postgres", 2)}


@dataclass(frozen=True)
class Sizes:
    """How many requests each scenario sends, and so what its fixtures hold."""

    door: int = 2000  # passes scanned once, at each of the three concurrency levels
    rescans: int = 200  # of those passes, scanned again
    race: int = 100  # passes scanned four times at once
    hot_capacity: int = 100  # places in the slot the rush goes for
    rush: int = 300  # bookings sent at once into it, one place each
    teachers: int = 2000  # teachers booking a class each across the popular slots
    popular: int = 100  # popular slots
    popular_capacity: int = 200
    pages: int = 200  # requests per page
    warm: int = 10  # warm requests per evaluation view


FULL = Sizes()
# Every scenario in miniature: as many kinds of answer as the full run (refusals in the rush included),
# in seconds.
SMOKE = Sizes(
    door=20, rescans=5, race=5, hot_capacity=3, rush=9, teachers=20, popular=4, popular_capacity=40, pages=5,
    warm=2,
)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kepu() -> str:
    return str(Path(sys.executable).parent / "kepu")


# ---------------------------------------------------------------------------------------- child side


async def _fixtures(scale: str, year: int, sizes: Sizes = FULL) -> dict[str, Any]:
    """The city, then what the scenarios need, written directly (bulk), not through the API."""
    from accounts import services as accounts
    from accounts.tables import User
    from bench.citygen import PASSWORD, SCALES, generate
    from bookings import keys
    from bookings.tables import Booking
    from bookings.tickets import PassClaims, issue_pass, new_pass_code
    from core import clock
    from core.db import database_lifespan, insert_chunked, reserve_ids, write_transaction
    from kepu.cli import _migrate
    from venues.tables import Slot, StaffMembership

    await _migrate()
    async with database_lifespan(pool_size=4):
        counts = await generate(SCALES[scale], year)
        key = await keys.ensure_key()
        member = await StaffMembership.select(StaffMembership.user, StaffMembership.venue).first()
        assert member is not None
        venue_id, staff_id = int(member["venue"]), int(member["user"])
        teachers = await User.select(User.id, User.school).where(User.role == "teacher")
        now = clock.now()
        # The door's slots began a few minutes ago, but never before today's midnight (Asia/Shanghai):
        # a slot that began yesterday would make every pass a wrong_day.
        door_start = max(now - timedelta(minutes=5), clock.day_bounds(clock.today())[0])
        tomorrow = clock.day_bounds(clock.today() + timedelta(days=1))[0] + timedelta(hours=9)
        # Today's door at one venue: 3 × 2,000 passes for the concurrency levels, 100 for the race.
        per_slot, door_n = 100, 3 * sizes.door + sizes.race
        door_slots = -(-door_n // per_slot)
        hot_capacity, popular_n, popular_capacity = sizes.hot_capacity, sizes.popular, sizes.popular_capacity
        async with write_transaction():
            slot_ids = await reserve_ids(Slot, door_slots + 1 + popular_n)
            slots = [
                Slot(
                    id=sid,
                    venue=venue_id,
                    starts_at=door_start,
                    ends_at=now + timedelta(hours=3),
                    capacity=per_slot * 32,
                    booked=per_slot * 32,
                    title="bench door",
                    created_at=now,
                )
                for sid in slot_ids[:door_slots]
            ]
            hot_id = slot_ids[door_slots]
            slots.append(
                Slot(
                    id=hot_id,
                    venue=venue_id,
                    starts_at=tomorrow,
                    ends_at=tomorrow + timedelta(hours=2),
                    capacity=hot_capacity,
                    booked=0,
                    title="bench hot",
                    created_at=now,
                )
            )
            popular = slot_ids[door_slots + 1 :]
            slots += [
                Slot(
                    id=sid,
                    venue=venue_id,
                    starts_at=tomorrow + timedelta(minutes=n),
                    capacity=popular_capacity,
                    ends_at=tomorrow + timedelta(minutes=n + 90),
                    booked=0,
                    title="bench popular",
                    created_at=now,
                )
                for n, sid in enumerate(popular)
            ]
            await insert_chunked(Slot, slots)
            booking_ids = await reserve_ids(Booking, door_n)
            rows, tokens = [], []
            for n, bid in enumerate(booking_ids):
                teacher = teachers[n % len(teachers)]
                token = issue_pass(PassClaims(bid, venue_id, clock.today()), key)
                tokens.append(token)
                rows.append(
                    Booking(
                        id=bid,
                        slot=slot_ids[n // per_slot],
                        venue=venue_id,
                        school=teacher["school"],
                        teacher=teacher["id"],
                        status="confirmed",
                        students=30,
                        chaperones=2,
                        code=new_pass_code(),
                        qr_token=token,
                        created_at=now,
                        updated_at=now,
                    )
                )
            await insert_chunked(Booking, rows, chunk=800)
        staff_token, _ = await accounts.issue_token(staff_id)
        teacher_tokens = [(await accounts.issue_token(t["id"]))[0] for t in teachers[: sizes.teachers]]
        auditor = await User.select(User.username).where(User.role == "auditor").first()
        teacher_name = await User.select(User.username).where(User.id == teachers[0]["id"]).first()
        staff_name = await User.select(User.username).where(User.id == staff_id).first()
        a_booking = await Booking.select(Booking.id).where(Booking.teacher == teachers[0]["id"]).first()
        assert auditor and teacher_name and staff_name and a_booking
    return {
        "counts": counts.__dict__,
        "venue_id": venue_id,
        "door_tokens": tokens,
        "staff_token": staff_token,
        "teacher_tokens": teacher_tokens,
        "hot_slot": hot_id,
        "hot_capacity": hot_capacity,
        "popular_slots": popular,
        "password": PASSWORD,
        "auditor": auditor["username"],
        "teacher": teacher_name["username"],
        "staff": staff_name["username"],
        "booking_id": a_booking["id"],
        "door_slot": slot_ids[0],
    }


def _start_servers(env: dict[str, str], count: int) -> list[tuple[subprocess.Popen[bytes], str]]:
    servers = []
    for _ in range(count):
        port = _free_port()
        proc = subprocess.Popen([_kepu(), "serve", "--port", str(port), "--log-level", "warning"], env=env)
        servers.append((proc, f"http://127.0.0.1:{port}"))
    for _proc, url in servers:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
    return servers


def _session(url: str, username: str, password: str) -> str:
    """Sign in through the form; the Cookie header for later page requests."""
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{url}/login").read().decode()
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert csrf
    data = f"username={username}&password={password}&next=/&_csrf_token={csrf[1]}".encode()
    opener.open(f"{url}/login", data=data)
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def sql_literal(database_url: str, value: Any) -> str:
    """A parameter written into SQL text for the command-line clients (bench data only, never input)."""
    if isinstance(value, datetime):
        if database_url.startswith("sqlite"):
            return "'" + str(value.astimezone(UTC)) + "'"  # Piccolo's stored form
        return "'" + value.isoformat() + "'::timestamptz"
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"no literal for {value!r}")


def cli_sql_ms(database_url: str, queries: list[tuple[str, tuple[Any, ...]]], repeat: int = 5) -> float:
    """Queries (Piccolo's `{}` placeholders) run one after another in the database's own command-line
    client: the median wall ms of the batch, less the client's start-up (measured with SELECT 1)."""
    if database_url.startswith("sqlite"):
        cmd = ["sqlite3", database_url[len("sqlite:///") :]]
    else:
        cmd = ["psql", "-q", "-X", "-o", "/dev/null", database_url, "-c"]

    def filled(sql: str, params: tuple[Any, ...]) -> str:
        parts = sql.split("{}")
        assert len(parts) == len(params) + 1, sql
        literals = [sql_literal(database_url, p) for p in params] + [""]
        return "".join(part + literals[n] for n, part in enumerate(parts))

    text = ";\n".join(filled(sql, params) for sql, params in queries)

    def timed(query: str) -> float:
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run([*cmd, query], check=True, capture_output=True)
            samples.append((time.perf_counter() - t0) * 1000)
        return sorted(samples)[len(samples) // 2]

    return max(0.0, timed(text) - timed("SELECT 1"))


def _raw_sql_ms(database_url: str, year: int, repeat: int = 5) -> float:
    """The report's aggregation as plain SQL in the database's own command-line client."""
    from core import clock
    from evaluation.metrics import _SQL

    lo, hi = clock.year_bounds(year)
    return cli_sql_ms(database_url, [(_SQL, (clock.now(), lo, hi))], repeat)


async def _scenarios(
    fx: dict[str, Any],
    servers: list[tuple[subprocess.Popen[bytes], str]],
    year: int,
    db_pids: Callable[[], list[int]],
    database_url: str,
    sizes: Sizes = FULL,
) -> list[dict[str, str]]:
    from bench.load import Call, burst, run

    s = sizes

    urls = [u for _, u in servers]
    pids = [p.pid for p, _ in servers]
    rows: list[dict[str, str]] = []
    staff = {"Authorization": f"Bearer {fx['staff_token']}"}

    def url(n: int, path: str) -> str:
        return urls[n % len(urls)] + path

    def scans(passes: list[str]) -> list[Call]:
        return [Call("POST", url(n, "/api/v1/checkins"), {"token": t}, staff) for n, t in enumerate(passes)]

    # 1. door
    tokens: list[str] = fx["door_tokens"]
    for n, level in enumerate((1, 8, 32)):
        calls = scans(tokens[n * s.door : (n + 1) * s.door])
        r = await run(
            f"door: {s.door:,} scans, c={level}", calls, concurrency=level, server_pids=pids, db_pids=db_pids
        )
        assert set(r.statuses) == {200}, r.statuses
        rows.append(r.row())
    calls = scans(tokens[: s.rescans])
    name = f"door: {s.rescans:,} rescans, c=8"
    r = await run(name, calls, concurrency=8, server_pids=pids, db_pids=db_pids)
    assert set(r.statuses) == {409}, r.statuses
    rows.append(r.row())
    calls = scans([t for t in tokens[3 * s.door : 3 * s.door + s.race] for _ in range(4)])
    r = await burst(f"door: {s.race:,} passes × 4 at once", calls, server_pids=pids, db_pids=db_pids)
    assert r.statuses[200] == s.race, r.statuses
    rows.append(r.row())

    # 2. rush
    teachers: list[str] = fx["teacher_tokens"]
    calls = [
        Call(
            "POST",
            url(n, "/api/v1/bookings"),
            {"slot_id": fx["hot_slot"], "students": 1, "chaperones": 0},
            {"Authorization": f"Bearer {teachers[n % len(teachers)]}"},
        )
        for n in range(s.rush)
    ]
    r = await burst(
        f"rush: {s.rush:,} at once into {s.hot_capacity:,} places", calls, server_pids=pids, db_pids=db_pids
    )
    assert r.statuses[201] == fx["hot_capacity"], r.statuses
    rows.append(r.row())
    popular: list[int] = fx["popular_slots"]
    calls = [
        Call(
            "POST",
            url(n, "/api/v1/bookings"),
            {"slot_id": popular[n % len(popular)], "students": 30, "chaperones": 2},
            {"Authorization": f"Bearer {teachers[n % len(teachers)]}"},
        )
        for n in range(s.teachers)
    ]
    r = await run(
        f"rush: {s.teachers:,} teachers, {s.popular:,} slots, c=64",
        calls,
        concurrency=64,
        server_pids=pids,
        db_pids=db_pids,
    )
    assert set(r.statuses) <= {201, 409}, r.statuses
    rows.append(r.row())

    # 3. evaluation (cold: the first request after the servers started; there is no cache to warm)
    auditor = {"Cookie": _session(urls[0], fx["auditor"], fx["password"])}
    for path, label in (
        (f"/audit?year={year}", "page"),
        (f"/audit/report.csv?year={year}", "CSV"),
        (f"/audit/scorecards?year={year}", "scorecards"),
        (f"/audit/scorecards.xlsx?year={year}", "scorecards XLSX"),
    ):
        r = await run(
            f"evaluation {label}: cold",
            [Call("GET", urls[0] + path, headers=auditor)],
            concurrency=1,
            server_pids=pids,
            db_pids=db_pids,
        )
        rows.append(r.row())
        r = await run(
            f"evaluation {label}: warm ×{s.warm}",
            [Call("GET", urls[0] + path, headers=auditor)] * s.warm,
            concurrency=1,
            server_pids=pids,
            db_pids=db_pids,
        )
        rows.append(r.row())
    raw = _raw_sql_ms(database_url, year)
    rows.append({"scenario": "evaluation: raw SQL in the CLI client", "p50 ms": f"{raw:.1f}"})

    # 4. pages
    teacher = {"Cookie": _session(urls[0], fx["teacher"], fx["password"])}
    staff_page = {"Cookie": _session(urls[0], fx["staff"], fx["password"])}
    for label, path, headers in (
        ("catalogue /venues", "/venues", teacher),
        ("venue slots /venues/{id}", f"/venues/{fx['venue_id']}", teacher),
        ("pass page /bookings/{id}", f"/bookings/{fx['booking_id']}", teacher),
        ("day roster /slots/{id}", f"/slots/{fx['door_slot']}", staff_page),
    ):
        calls = [Call("GET", url(n, path), headers=headers) for n in range(s.pages)]
        r = await run(f"pages: {label}, c=4", calls, concurrency=4, server_pids=pids, db_pids=db_pids)
        assert set(r.statuses) == {200}, (label, r.statuses)
        rows.append(r.row())
    return rows


def child(
    config: str,
    scale: str,
    year: int,
    sizes: Sizes = FULL,
    data_dir: Path = DATA,
    pg_database: str = "kepu_bench",
) -> int:
    """One configuration: a fresh database (SQLite: a file in `data_dir`; PostgreSQL: `pg_database`,
    dropped first), its city and fixtures, its servers, the scenarios; the results as JSON on stdout."""
    engine, procs = CONFIGS[config]
    if engine == "sqlite":
        path = data_dir / f"{config}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        database_url = f"sqlite:///{path}"
    else:
        database_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{pg_database}"
        drop = f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)'
        subprocess.run(["psql", "-q", PG_ADMIN, "-c", drop], check=True)
        subprocess.run(["psql", "-q", PG_ADMIN, "-c", f'CREATE DATABASE "{pg_database}"'], check=True)
    os.environ["DATABASE_URL"] = database_url
    t0 = time.perf_counter()
    fx = asyncio.run(_fixtures(scale, year, sizes))
    load_s = time.perf_counter() - t0
    env = {**os.environ, "DATABASE_URL": database_url}
    servers = _start_servers(env, procs)
    try:
        from bench.load import postgres_pids

        db_pids = partial(postgres_pids, pg_database) if engine == "postgres" else list
        rows = asyncio.run(_scenarios(fx, servers, year, db_pids, database_url, sizes))
    finally:
        for proc, _ in servers:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    print(json.dumps({"config": config, "counts": fx["counts"], "load_s": load_s, "rows": rows}))
    return 0


# --------------------------------------------------------------------------------------- parent side


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem = next(int(ln.split()[1]) for ln in meminfo if ln.startswith("MemTotal"))
    return (
        f"{os.cpu_count()} cores ({model}), {mem / 1024 / 1024:.0f} GiB, Python {platform.python_version()}"
    )


def write_results(
    results: list[dict[str, Any]],
    scale: str,
    year: int,
    label: str | None = None,
    path: Path = RESULTS,
    sizes: Sizes = FULL,
) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    lines = [
        f"# {label}" if label else "# Benchmark results",
        "",
        f"- date: {datetime.now().astimezone().isoformat(timespec='minutes')}",
        f"- commit: {commit.stdout.strip()}",
        f"- machine: {machine()}; load average at start {os.getloadavg()[0]:.1f}",
        f"- dataset: bench.citygen scale `{scale}`, year {year}; the load client shares the machine",
        *([] if sizes == FULL else [f"- scenarios in miniature: {asdict(sizes)}"]),
        "",
        "CPU ms/req is the server processes' (and for PostgreSQL the database's) user+system time divided by",
        "the requests: steadier than latency and throughput when other work shares the machine, though on a",
        "virtual machine the same code can still measure up to 40% apart from one run to the next.",
        "",
    ]
    columns = [
        "scenario",
        "requests",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "statuses",
        "server CPU ms/req",
        "db CPU ms/req",
        "peak RSS MB",
    ]
    for result in results:
        c = result["counts"]
        lines += [
            f"## {result['config']}",
            "",
            f"City: {c['venues']} venues, {c['schools']} schools, {c['slots']} slots, "
            f"{c['bookings']} bookings, {c['checkins']} check-ins; written in {result['load_s']:.0f} s "
            "(with the scenario fixtures).",
            "",
            "| " + " | ".join(columns) + " |",
            "|" + "---|" * len(columns),
        ]
        lines += ["| " + " | ".join(row.get(col, "") for col in columns) + " |" for row in result["rows"]]
        lines.append("")
    if label and path.exists():
        lines = [path.read_text().rstrip(), "", *("#" + ln if ln.startswith("#") else ln for ln in lines)]
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="full", choices=["small", "medium", "full"])
    parser.add_argument("--year", type=int, default=datetime.now().year - 1)
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated: " + ", ".join(CONFIGS))
    parser.add_argument(
        "--label", help="append these results under this heading instead of rewriting the file"
    )
    parser.add_argument("--smoke", action="store_true", help="every scenario in miniature (tests/bench)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the file to write (bench/RESULTS.md)")
    parser.add_argument("--data", type=Path, default=DATA, help="where SQLite's database files go")
    parser.add_argument("--pg-database", default="kepu_bench", help="PostgreSQL's database (dropped first)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    if args.child:
        return child(args.child, args.scale, args.year, sizes, args.data, args.pg_database)
    results = []
    for config in args.configs.split(","):
        print(f"bench: {config} …", file=sys.stderr)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.run",
                "--child",
                config,
                "--scale",
                args.scale,
                "--year",
                str(args.year),
                "--data",
                str(args.data),
                "--pg-database",
                args.pg_database,
                *(["--smoke"] if args.smoke else []),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
            return done.returncode
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    write_results(results, args.scale, args.year, args.label, args.results, sizes)
    print(f"bench: wrote {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
