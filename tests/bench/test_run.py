"""The benchmarks, small, on this run's engine, so that they do not rot: every scenario in miniature
(`python -m bench.run --smoke`; SQLite with one server process, PostgreSQL with two sharing the
database, as in the full benchmark), bench.cityeval on a small city, bench.profile on two paths, and
how the load client counts CPU time. Nothing here is timed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bench.load import cpu_spent, postgres_pids
from bench.run import SMOKE

from tests.conftest import IS_PG, PG_ADMIN_URL
from tests.servers import server_env

ROOT = Path(__file__).resolve().parents[2]
# The raw SQL baselines run in the database's own command-line client (bench.run.cli_sql_ms), which
# also makes and drops PostgreSQL's benchmark databases; .ci/run installs it where it is missing.
CLI = "psql" if IS_PG else "sqlite3"
needs_cli = pytest.mark.skipif(shutil.which(CLI) is None, reason=f"the {CLI} command-line client is missing")


def _bench_env() -> dict[str, str]:
    """The environment of a benchmark command: the checkout importable, PostgreSQL's admin URL for the
    databases a benchmark makes itself (DATABASE_URL is set by each command, never used from here)."""
    env = server_env("sqlite:///:memory:")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    if IS_PG:
        env["KEPU_BENCH_PG"] = PG_ADMIN_URL
    return env


def _table(text: str) -> dict[str, dict[str, str]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [dict(zip(header, (c.strip() for c in ln.strip("|").split("|")), strict=True)) for ln in lines[1:]]
    return {row["scenario"]: row for row in rows if row["scenario"] != "scenario"}


def _statuses(row: dict[str, str]) -> dict[int, int]:
    return {int(code): int(n) for code, n in re.findall(r"(\d+)×(\d+)", row["statuses"])}


@pytest.fixture
def smoke_run(tmp_path: Path) -> dict[str, dict[str, str]]:
    config = "postgres-2" if IS_PG else "sqlite-1"
    database = f"kepu_bench_smoke_{os.getpid()}"
    env = _bench_env()
    results = tmp_path / "RESULTS.md"
    command = [sys.executable, "-m", "bench.run", "--smoke", "--scale", "small", "--year", "2025"]
    command += ["--configs", config, "--results", str(results), "--data", str(tmp_path)]
    command += ["--pg-database", database]
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    finally:
        if IS_PG:
            drop = f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'
            subprocess.run(["psql", "-q", PG_ADMIN_URL, "-c", drop], check=True, capture_output=True)
    assert done.returncode == 0, done.stderr[-3000:]
    text = results.read_text()
    assert f"## {config}" in text
    return _table(text)


@needs_cli
def test_every_scenario_runs_in_miniature(smoke_run: dict[str, dict[str, str]]) -> None:
    s, rows = SMOKE, smoke_run
    for level in (1, 8, 32):
        assert _statuses(rows[f"door: {s.door} scans, c={level}"]) == {200: s.door}
    assert _statuses(rows[f"door: {s.rescans} rescans, c=8"]) == {409: s.rescans}
    # Four scans of each pass at once: exactly one admits.
    assert _statuses(rows[f"door: {s.race} passes × 4 at once"]) == {200: s.race, 409: 3 * s.race}
    # More bookings at once than places: exactly the places are sold.
    rush = _statuses(rows[f"rush: {s.rush} at once into {s.hot_capacity} places"])
    assert rush == {201: s.hot_capacity, 409: s.rush - s.hot_capacity}
    # A class of 32 into each popular slot of 40 places: one class a slot, the rest refused.
    spread = _statuses(rows[f"rush: {s.teachers} teachers, {s.popular} slots, c=64"])
    assert spread == {201: s.popular, 409: s.teachers - s.popular}
    for view in ("page", "CSV", "scorecards", "scorecards XLSX"):
        assert _statuses(rows[f"evaluation {view}: cold"]) == {200: 1}
        assert _statuses(rows[f"evaluation {view}: warm ×{s.warm}"]) == {200: s.warm}
    assert float(rows["evaluation: raw SQL in the CLI client"]["p50 ms"]) >= 0
    pages = ("catalogue /venues", "venue slots /venues/{id}", "pass page /bookings/{id}")
    pages += ("day roster /slots/{id}",)
    for page in pages:
        assert _statuses(rows[f"pages: {page}, c=4"]) == {200: s.pages}
    # The figures read from /proc: each server's peak RSS, the servers' CPU and (PostgreSQL) the
    # database's. CPU time comes in 10 ms ticks, so a miniature row may show none; the run as a whole
    # cannot, and no row may show less than none (other databases' backends ending must not count).
    measured = [row for name, row in rows.items() if not name.startswith("evaluation: raw")]
    servers = rows[f"door: {s.door} scans, c=1"]["peak RSS MB"].split("/")
    assert len(servers) == (2 if IS_PG else 1)
    assert all(20 < float(mb) < 1000 for mb in servers)

    def total(column: str) -> float:
        spent = [float(row[column]) * int(row["requests"]) for row in measured]
        assert min(spent) >= 0, (column, spent)
        return sum(spent)

    assert total("server CPU ms/req") > 0
    assert (total("db CPU ms/req") > 0) == IS_PG


@needs_cli
def test_the_city_evaluation_benchmark_runs_on_a_small_city(tmp_path: Path) -> None:
    # bench.cityeval times the science association's views of a city bench.citygen wrote.
    env = _bench_env()
    database = f"kepu_cityeval_smoke_{os.getpid()}"
    if IS_PG:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
        subprocess.run(["psql", "-q", PG_ADMIN_URL, "-c", f'CREATE DATABASE "{database}"'], check=True)
    else:
        url = f"sqlite:///{tmp_path / 'city.sqlite3'}"
    try:
        run = [sys.executable, "-m", "bench.citygen", "--scale", "small", "--year", "2025"]
        done = subprocess.run(run, cwd=ROOT, env={**env, "DATABASE_URL": url}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        run = [sys.executable, "-m", "bench.cityeval", "--db", url, "--year", "2025"]
        done = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    finally:
        if IS_PG:
            drop = f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'
            subprocess.run(["psql", "-q", PG_ADMIN_URL, "-c", drop], check=True, capture_output=True)
    rows = _table(done.stdout)
    views = [name for name in rows if not name.startswith("raw SQL")]
    assert len(views) == 16  # eight views, cold and warm
    assert all(_statuses(rows[name]) == {200: 5 if "warm" in name else 1} for name in views)
    raw = [name for name in rows if name.startswith("raw SQL")]
    assert len(raw) == 2 and all(float(rows[name]["p50 ms"]) >= 0 for name in raw)


@pytest.mark.parametrize("path", ["door", "page-roster"])
def test_the_in_process_profile_runs(path: str) -> None:
    # bench.profile calls the app through ASGI on a small city; 6 requests: 3 to warm up, 3 measured.
    env = _bench_env()
    engine = "postgres" if IS_PG else "sqlite"
    run = [sys.executable, "-m", "bench.profile", path, "--db", engine, "--n", "6"]
    done = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{path} on {engine}: 3 requests, statuses {{200: 3}}" in done.stdout
    assert "ms/request" in done.stdout and "peak" in done.stdout


def test_cpu_spent_counts_what_each_process_spent_in_between() -> None:
    # pid 1 spent 20 ms; pid 2 ended (its time since is unknown, and its total must not be taken
    # away); pid 3 started and spent 5 ms.
    assert cpu_spent({1: 10.0, 2: 50.0}, {1: 30.0, 3: 5.0}) == 25.0


@pytest.mark.skipif(not IS_PG, reason="PostgreSQL's processes")
async def test_the_database_processes_are_the_background_ones_and_the_benchmarks_backends() -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        database = await conn.fetchval("SELECT current_database()")
        assert backend in postgres_pids(database)
        assert backend in postgres_pids()
        others = postgres_pids("no_such_database")
        assert backend not in others
        assert others  # the WAL writer, checkpointer and the rest of the server
    finally:
        await conn.close()
