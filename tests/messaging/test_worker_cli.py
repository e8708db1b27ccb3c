"""`kepu worker` as the installed command: `--once` runs one pass and exits 0; the loop stops on SIGTERM
with 0; messages wait in the outbox without SMTP settings and go out once they are set."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.messaging.support import SmtpServer

KEPU = Path(sys.executable).parent / "kepu"
pytestmark = pytest.mark.skipif(not KEPU.exists(), reason=f"no kepu executable beside {sys.executable}")


def env_for(db: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "KEPU_TEST_DATABASE") and not k.startswith("KEPU_SMTP")
    }
    env["DATABASE_URL"] = f"sqlite:///{db}"
    env.update(extra)
    return env


def kepu(db: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KEPU), *args], env=env_for(db, **extra), capture_output=True, text=True, timeout=90, check=False
    )


def queue_message(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO messaging_outbox (kind, recipient, subject, body, masked_body, attachment_name, "
            "attachment_type, state, attempts, last_error, next_attempt_at, created_at) VALUES "
            "('test', 'a@school.example', 'hello from the outbox', 'body', 'body', '', '', 'pending', 0, '', "
            "'2000-01-01 00:00:00+00:00', '2000-01-01 00:00:00+00:00')"
        )


def state(db: Path) -> tuple[str, int]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT state, attempts FROM messaging_outbox").fetchone()
    return str(row[0]), int(row[1])


def test_worker_once_keeps_then_sends(tmp_path: Path) -> None:
    db = tmp_path / "kepu.sqlite3"
    assert kepu(db, "migrate").returncode == 0
    queue_message(db)
    r = kepu(db, "worker", "--once")
    assert r.returncode == 0, r.stderr
    assert "KEPU_SMTP_HOST" in r.stderr  # says why nothing was sent
    assert state(db) == ("pending", 0)
    server = SmtpServer()
    server.start()
    try:
        r = kepu(db, "worker", "--once", KEPU_SMTP_HOST="127.0.0.1", KEPU_SMTP_PORT=str(server.port))
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    assert state(db) == ("sent", 1)
    assert [m["Subject"] for m in server.inbox.messages] == ["hello from the outbox"]


def test_worker_stops_on_sigterm_with_status_0(tmp_path: Path) -> None:
    db = tmp_path / "kepu.sqlite3"
    assert kepu(db, "migrate").returncode == 0
    proc = subprocess.Popen(
        [str(KEPU), "worker", "--interval", "0.2"],
        env=env_for(db),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # started and looping
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
