"""Page routes for people (filled in by the pages work); the API does not depend on them."""

from __future__ import annotations

from typing import Any

PAGE_HANDLERS: list[Any] = []
