"""What a `kepu serve` process holds in memory because of what it imports (issue 7: ≤ 120 MB each).

No database: building the app imports every route's module, which is what this is about.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.servers import server_env

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json, sys
from kepu.app import create_app
app = create_app()
print(json.dumps({
    "modules": sorted(m for m in ("pydantic", "openpyxl", "cryptography") if m in sys.modules),
    "plugins": sorted(type(p).__name__ for p in app.plugins),
}))
"""


def _probe(code: str = _PROBE) -> dict[str, Any]:
    env = server_env("sqlite:///:memory:")  # never opened: building the app connects to nothing
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_serving_imports_none_of_pydantic_openpyxl_cryptography() -> None:
    # Pydantic came in with Litestar's default plugins (about 8 MB); openpyxl is for an XLSX export, and
    # cryptography (about 8 MB) for sealing a name list: imported when one is made, not by every process.
    probe = _probe()
    assert probe["modules"] == []
    assert not [p for p in probe["plugins"] if "Pydantic" in p or "Attrs" in p]
    assert "MsgspecDIPlugin" in probe["plugins"]


_FREEZE_PROBE = """
import gc, json
from kepu.cli import served_app
app = served_app()
before = gc.get_freeze_count()
for hook in app.on_startup:
    hook()
print(json.dumps({"hooks": [h.__name__ for h in app.on_startup], "before": before,
                  "after": gc.get_freeze_count()}))
"""


def test_a_started_server_keeps_what_it_holds_out_of_full_collections() -> None:
    # A full collection walked the whole app every few thousand requests, 40-70 ms with the event
    # loop stopped (bench/RESULTS.md, session 8); `kepu serve` freezes what startup built, once.
    probe = _probe(_FREEZE_PROBE)
    assert probe["hooks"] == ["settle_heap"]
    assert probe["before"] == 0
    # Building the app made over 100,000 objects (115,941 when this was written); all are frozen now.
    assert probe["after"] > 50_000
