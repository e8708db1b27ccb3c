"""`kepu audit publish` and `kepu audit verify` as an operator runs them, on the demo's SQLite file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

KEPU = Path(sys.executable).parent / "kepu"
pytestmark = pytest.mark.skipif(not KEPU.exists(), reason=f"no kepu executable beside {sys.executable}")


def kepu(db: Path, ledger_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KEPU_TEST_DATABASE")}
    env.update(DATABASE_URL=f"sqlite:///{db}", KEPU_LEDGER_DIR=str(ledger_dir))
    return subprocess.run(
        [str(KEPU), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_publish_verify_and_catch_an_edit(tmp_path: Path) -> None:
    db, out = tmp_path / "kepu.sqlite3", tmp_path / "ledger"
    for args in (("migrate",), ("demo",)):
        assert kepu(db, out, *args).returncode == 0
    with sqlite3.connect(db) as conn:
        scans = conn.execute("SELECT COUNT(*) FROM bookings_checkin").fetchone()[0]
        chained = conn.execute("SELECT COUNT(*) FROM ledger_entry").fetchone()[0]
        first_day = conn.execute("SELECT MIN(created_at) FROM ledger_entry").fetchone()[0][:10]
    assert scans > 0 and chained == scans  # the demo's bulk-loaded scans are chained too

    done = kepu(db, out, "audit", "verify")
    assert done.returncode == 0, done.stderr
    assert "every chain is whole" in done.stdout

    done = kepu(db, out, "audit", "publish", "--day", "2100-01-01")
    assert done.returncode == 0, done.stderr
    digest = out / "heads-2100-01-01.txt"
    assert digest.read_text(encoding="utf-8").startswith("# kepu ledger heads")

    # A scorecard total inflated behind kepu's back: the chains are whole, the totals are not.
    inflate = (
        "UPDATE evaluation_venue_day SET students = students + {n}"
        " WHERE rowid = (SELECT MIN(rowid) FROM evaluation_venue_day)"
    )
    with sqlite3.connect(db) as conn:
        conn.execute(inflate.format(n=100))
    done = kepu(db, out, "audit", "verify")
    assert done.returncode == 1
    assert "every chain is whole" in done.stdout
    assert (
        "1 of the evaluation's running totals differ" in done.stderr and "evaluation_venue_day" in done.stderr
    )
    with sqlite3.connect(db) as conn:
        conn.execute(inflate.format(n=-100))
    done = kepu(db, out, "audit", "verify")
    assert done.returncode == 0 and "running totals match" in done.stdout, done.stderr

    with sqlite3.connect(db) as conn:
        victim = conn.execute("SELECT MIN(id) FROM bookings_checkin WHERE result = 'admitted'").fetchone()[0]
        conn.execute("UPDATE bookings_checkin SET students = students + 5 WHERE id = ?", (victim,))
    done = kepu(db, out, "audit", "verify", "--digest", str(digest))
    assert done.returncode == 1
    assert f"check-in #{victim} was changed after it was recorded" in done.stderr

    bad = tmp_path / "bad.txt"
    bad.write_text("garbage\n")
    done = kepu(db, out, "audit", "verify", "--digest", str(bad))
    assert done.returncode == 2 and "line 1" in done.stderr
    assert first_day  # the chain starts with the demo's first scan
