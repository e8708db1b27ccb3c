"""axe-core in the browser tests: a page passes when axe finds no serious or critical violation.

axe-core is vendored from npm (tests/browser/vendor/axe-core-<version>/, MPL-2.0), so nothing is
fetched at test time. It is injected with `page.evaluate`, which runs through the DevTools protocol
and is not subject to the page's Content-Security-Policy, so the CSP under test stays as it ships.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AXE_VERSION = "4.14.1"
AXE_JS = Path(__file__).resolve().parent / "vendor" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
BLOCKING = ("serious", "critical")


@cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Every violation axe reports on the page as it is now (WCAG 2.1 A/AA and best practices)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    result: dict[str, Any] = page.evaluate(
        """async () => await window.axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
            resultTypes: ['violations'],
        })"""
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(map(str, node["target"])) for node in v["nodes"][:5]]
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} — {', '.join(targets)}")
    return "\n".join(lines)


def assert_accessible(page: Any) -> None:
    """Fail with a readable list when the page has a serious or critical accessibility problem."""
    blocking = [v for v in axe_violations(page) if v.get("impact") in BLOCKING]
    assert not blocking, f"axe-core on {page.url}:\n{describe(blocking)}"
