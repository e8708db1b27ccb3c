"""api.md "Running": `kepu migrate` and `kepu user add`, run as the installed command on an SQLite file.

Whatever engine the rest of the suite uses, these run the real executable in a subprocess against a
temporary SQLite database, since that is what an operator does.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

KEPU = Path(sys.executable).parent / "kepu"
pytestmark = pytest.mark.skipif(not KEPU.exists(), reason=f"no kepu executable beside {sys.executable}")


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KEPU_TEST_DATABASE")}
    env["DATABASE_URL"] = f"sqlite:///{db}"
    return env


def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KEPU), *args], env=_env(db), capture_output=True, text=True, timeout=60, check=False
    )


def run_all(db: Path, *commands: str) -> list[subprocess.CompletedProcess[str]]:
    """Several commands at once (each takes a second to start); SQLite's busy timeout orders their writes.

    A command is one string, split on spaces (no argument here contains one).
    """
    argvs = [[str(KEPU), *command.split()] for command in commands]
    procs = [
        subprocess.Popen(argv, env=_env(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for argv in argvs
    ]
    results = []
    for argv, proc in zip(argvs, procs, strict=True):
        out, err = proc.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return results


def rows(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql, params).fetchall())


def tables(db: Path) -> set[str]:
    return {str(r[0]) for r in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def one_line_reason(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database for the module; each test gets a copy."""
    db = tmp_path_factory.mktemp("cli") / "template.sqlite3"
    result = run(db, "migrate")
    assert result.returncode == 0, result.stderr
    return db


@pytest.fixture
def db(migrated: Path, tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "kepu.sqlite3"
    shutil.copy(migrated, target)
    with sqlite3.connect(target) as conn:
        conn.execute(
            "INSERT INTO venues_venue (name, kind, district, address, created_at) "
            "VALUES ('厦门科技馆', 'science_museum', '思明区', '体育路95号', '2030-01-01T00:00:00+00:00')"
        )
    yield target


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "fresh.sqlite3"
    db.parent.mkdir()
    first = run(db, "migrate")
    assert first.returncode == 0, first.stderr
    schema = tables(db)
    assert {"accounts_user", "venues_venue", "venues_slot", "bookings_booking", "bookings_checkin"} <= schema
    rows(
        db, "INSERT INTO accounts_school (name, district, created_at) VALUES ('一中', '思明区', '2030-01-01')"
    )
    second = run(db, "migrate")
    assert second.returncode == 0, second.stderr
    assert tables(db) == schema
    # Data survives a second migrate.
    assert rows(db, "SELECT name FROM accounts_school") == [("一中",)]


TEACHER_WANG = (
    "user add wang --password pw-teacher-1 --role teacher --school 厦门市第一中学 --district 思明区"
)


def test_user_add_each_role(db: Path) -> None:
    # All at once: a second teacher of the same school joins it rather than registering it again,
    # however the two commands interleave.
    results = run_all(
        db,
        "user add kexie --password pw-auditor-1 --role auditor",
        "user add door1 --password pw-staff-1 --role staff --venue 1",
        TEACHER_WANG,
        "user add li --password pw-teacher-2 --role teacher --school 厦门市第一中学 --district 思明区",
    )
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "kepu user add" in result.stdout, result

    users = {r[0]: r[1:] for r in rows(db, "SELECT username, role, school, password_hash FROM accounts_user")}
    assert set(users) == {"kexie", "door1", "wang", "li"}
    assert users["kexie"][:2] == ("auditor", None)
    assert users["door1"][:2] == ("staff", None)
    assert users["wang"][0] == "teacher" and users["wang"][1] is not None
    assert users["li"][1] == users["wang"][1]
    assert all(str(u[2]).startswith("$argon2") and "pw-" not in str(u[2]) for u in users.values())
    assert rows(db, "SELECT name, district FROM accounts_school") == [("厦门市第一中学", "思明区")]
    staff_rows = rows(
        db, "SELECT u.username, s.venue FROM venues_staff s JOIN accounts_user u ON u.id = s.user"
    )
    assert staff_rows == [("door1", 1)]


def test_refusals_are_one_line_and_write_nothing(db: Path) -> None:
    ok = run(db, *TEACHER_WANG.split())
    assert ok.returncode == 0, ok.stderr
    before = rows(db, "SELECT id, username, role FROM accounts_user ORDER BY id")

    duplicate, unknown_venue, absurd_venue, no_venue, no_school, bad_district, bad_role = run_all(
        db,
        "user add wang --password other-pw-1 --role auditor",
        "user add door --password pw-staff-1 --role staff --venue 999",
        f"user add door --password pw-staff-1 --role staff --venue {2**40}",
        "user add door --password pw-staff-1 --role staff",
        "user add zhang --password pw-teacher-2 --role teacher",
        "user add zhang --password pw-teacher-2 --role teacher --school 集美中学 --district 厦门区",
        "user add root --password pw-root-12 --role admin",
    )
    one_line_reason(duplicate, "wang")
    for refused in (unknown_venue, absurd_venue, no_venue, no_school, bad_district):
        one_line_reason(refused)
    # argparse prints its usage, then the reason on the last line.
    assert bad_role.returncode != 0
    assert "role" in bad_role.stderr.strip().splitlines()[-1]
    assert "Traceback" not in bad_role.stderr

    assert rows(db, "SELECT id, username, role FROM accounts_user ORDER BY id") == before
    assert rows(db, "SELECT count(*) FROM venues_staff") == [(0,)]
    assert rows(db, "SELECT name FROM accounts_school") == [("厦门市第一中学",)]


def test_help(tmp_path: Path) -> None:
    db = tmp_path / "unused.sqlite3"
    top = run(db, "--help")
    assert top.returncode == 0, top.stderr
    for command in ("migrate", "serve", "user", "demo"):
        assert command in top.stdout
    add = run(db, "user", "add", "--help")
    assert add.returncode == 0, add.stderr
    for option in ("--password", "--role", "--venue", "--school", "--district"):
        assert option in add.stdout
    assert not db.exists()
