"""`kepu backup` and `kepu restore`: a consistent copy of the whole database, and putting one back.

SQLite: the online backup API (sqlite3.Connection.backup) copies a consistent snapshot while kepu
keeps serving; restoring copies the file back the same way (stop `kepu serve` first). PostgreSQL:
`pg_dump --format=custom` and `pg_restore --clean --if-exists --no-owner`, the tools made for it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from core.db import BUSY_TIMEOUT_S, sqlite_path

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why and what to do."""


def _database_url() -> str:
    return os.environ.get("DATABASE_URL") or "sqlite:///data/kepu.sqlite3"


def _is_postgres(url: str) -> bool:
    return urlparse(url).scheme in ("postgres", "postgresql")


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed; install the PostgreSQL client tools.")
    return found


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")


def backup(target: Path, url: str | None = None) -> Path:
    """Write a backup of the configured database to `target` (a new file); returns it."""
    url = url or _database_url()
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name so no backup is overwritten.")
    target.parent.mkdir(parents=True, exist_ok=True)
    if _is_postgres(url):
        _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}", f"--dbname={url}"])
        return target
    source = Path(sqlite_path(url))
    if not source.exists():
        raise BackupError(f"There is no database at {source}; check DATABASE_URL.")
    partial = target.with_name(target.name + ".partial")
    with sqlite3.connect(source, timeout=BUSY_TIMEOUT_S) as src, sqlite3.connect(partial) as dst:
        src.backup(dst)
    partial.replace(target)  # a backup file exists only when it is complete
    return target


def restore(source: Path, url: str | None = None) -> None:
    """Replace the configured database's contents with the backup in `source`."""
    url = url or _database_url()
    if not source.is_file():
        raise BackupError(f"There is no backup file at {source}.")
    head = source.read_bytes()[:16]
    if _is_postgres(url):
        if not head.startswith(PGDUMP_MAGIC):
            raise BackupError(f"{source} is not a PostgreSQL backup made by `kepu backup`.")
        _run(
            [
                _pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={url}",
                str(source),
            ]
        )
        return
    if head != SQLITE_MAGIC:
        raise BackupError(f"{source} is not an SQLite backup made by `kepu backup`.")
    target = Path(sqlite_path(url))
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target, timeout=BUSY_TIMEOUT_S) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
