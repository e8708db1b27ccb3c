"""Settings, read once from the environment into a frozen object (README lists every variable)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def default_pool_size() -> int:
    """PostgreSQL connections per `kepu serve` process: about two per core (the database's own rule of
    thumb), 4 to 10. More only queue inside PostgreSQL and hold memory in both processes."""
    return min(10, max(4, 2 * (os.cpu_count() or 2) + 1))


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    secret_key: str | None = None
    secure_cookies: bool = False
    session_idle_minutes: int = 8 * 60
    session_max_hours: int = 12
    db_pool_size: int = field(default_factory=default_pool_size)
    base_url: str = ""
    debug: bool = False
    templates_dir: Path = field(default=ROOT / "templates")
    assets_dir: Path = field(default=ROOT / "assets")

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("DATABASE_URL", ""),
            secret_key=os.environ.get("KEPU_SECRET_KEY") or None,
            secure_cookies=_bool("KEPU_SECURE_COOKIES", False),
            session_idle_minutes=int(os.environ.get("KEPU_SESSION_IDLE_MINUTES", 8 * 60)),
            session_max_hours=int(os.environ.get("KEPU_SESSION_MAX_HOURS", 12)),
            db_pool_size=int(os.environ.get("KEPU_DB_POOL_SIZE") or default_pool_size()),
            base_url=os.environ.get("KEPU_BASE_URL", "").rstrip("/"),
            debug=_bool("KEPU_DEBUG", False),
        )
