"""The strict Content-Security-Policy holds: no 'unsafe-inline' or 'unsafe-eval' in any policy we send
(the scan page only adds 'wasm-unsafe-eval'), and nothing inline that such a policy would block —
checked in every template (file:line) and in the HTML each role's pages actually render.

Inline means: a <script> without src= (JSON data blocks, which never run, are allowed), an on*=
handler attribute, a javascript: URL, a style= attribute or a <style> element. The API reference
under /schema is the only response without our policy.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from kepu.security import DEFAULT_CSP, HEADERS, skips_csp
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}
BANNED_SOURCES = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'", "*", "data:")


def directives(csp: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def effective(policy: dict[str, list[str]], name: str) -> list[str]:
    """The sources a fetch directive allows, falling back to default-src as the browser does."""
    return policy.get(name, policy.get("default-src", []))


def assert_strict(csp: str, *, where: str, extra: frozenset[str] = frozenset()) -> None:
    policy = directives(csp)
    for name in ("script-src", "style-src"):
        sources = effective(policy, name)
        assert sources, (where, name, csp)
        assert set(sources) <= {"'self'"} | extra, (where, name, sources)
    for name, sources in policy.items():
        bad = [s for s in sources if s in BANNED_SOURCES and not (name == "img-src" and s == "data:")]
        assert not bad, (where, name, bad)
    assert policy.get("frame-ancestors") == ["'none'"], (where, csp)
    assert policy.get("object-src") == ["'none'"], (where, csp)
    assert policy.get("base-uri") == ["'none'"], (where, csp)


# ---- the headers ---------------------------------------------------------------------------------


def test_the_default_policy_is_strict() -> None:
    assert HEADERS["Content-Security-Policy"] == DEFAULT_CSP
    assert_strict(DEFAULT_CSP, where="DEFAULT_CSP")
    assert directives(DEFAULT_CSP)["script-src"] == ["'self'"]
    assert directives(DEFAULT_CSP)["style-src"] == ["'self'"]


def test_the_checker_catches_a_loose_policy() -> None:
    loose = DEFAULT_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
    with pytest.raises(AssertionError):
        assert_strict(loose, where="loose")
    with pytest.raises(AssertionError):
        assert_strict(DEFAULT_CSP.replace("frame-ancestors 'none'", "frame-ancestors *"), where="framed")
    # A missing style-src falls back to default-src, as in the browser: strict only if that is.
    assert_strict(DEFAULT_CSP.replace("style-src 'self'; ", ""), where="fallback")
    with pytest.raises(AssertionError):
        no_style = DEFAULT_CSP.replace("style-src 'self'; ", "")
        assert_strict(no_style.replace("default-src 'self'", "default-src 'self' 'unsafe-inline'"), where="x")


def test_only_the_api_reference_skips_the_policy() -> None:
    assert skips_csp("/schema") and skips_csp("/schema/openapi.json") and skips_csp("/schema/swagger")
    for path in ("/", "/login", "/schemas", "/schema-x", "/static/js/app.js", "/api/v1/schema", "/audit"):
        assert not skips_csp(path), path


async def test_the_scan_page_only_adds_wasm_unsafe_eval(client: httpx.AsyncClient) -> None:
    await World(client).build()
    page = PageSession(client)
    await page.sign_in("staff_a", PASSWORD)
    r = await page.get("/staff/scan")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert csp != DEFAULT_CSP
    assert_strict(csp, where="/staff/scan", extra=frozenset({"'wasm-unsafe-eval'"}))
    scan, default = directives(csp), directives(DEFAULT_CSP)
    assert scan["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    assert effective(scan, "style-src") == ["'self'"]
    # Every keyword source ('…') the scan page uses beyond the default policy is 'wasm-unsafe-eval'.
    added = {s for sources in scan.values() for s in sources if s.startswith("'")} - {
        s for sources in default.values() for s in sources
    }
    assert added == {"'wasm-unsafe-eval'"}, added
    for name in ("frame-ancestors", "form-action", "base-uri", "object-src", "connect-src"):
        assert scan[name] == default[name], name


# ---- the templates ------------------------------------------------------------------------------

_SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
_TYPE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]+)""", re.I)
_SRC = re.compile(r"""\bsrc\s*=""", re.I)
_HANDLER = re.compile(r"""(?<![\w:.-])on[a-z]+\s*=\s*["'{]""", re.I)
_STYLE_ATTR = re.compile(r"""(?<![\w:.-])style\s*=\s*["'{]""", re.I)
_STYLE_TAG = re.compile(r"<style\b", re.I)
_JS_URL = re.compile(r"javascript\s*:", re.I)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)


def inline_code_in_template(text: str) -> list[tuple[int, str]]:
    """(line, what) for each piece of inline script or style in a Jinja HTML template."""
    # Jinja comments may mention anything; blank them but keep their newlines for line numbers.
    text = _JINJA_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    found: list[tuple[int, str]] = []

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    for m in _SCRIPT_TAG.finditer(text):
        attrs = m.group(1)
        kind = _TYPE.search(attrs)
        if _SRC.search(attrs) or (kind and kind.group(1).lower() in DATA_SCRIPT_TYPES):
            continue
        found.append((line_of(m.start()), f"inline <script{attrs}>"))
    for pattern, what in (
        (_HANDLER, "inline event handler"),
        (_STYLE_ATTR, "style= attribute"),
        (_STYLE_TAG, "<style> element"),
        (_JS_URL, "javascript: URL"),
    ):
        for m in pattern.finditer(text):
            found.append((line_of(m.start()), f"{what}: {m.group(0)!r}"))
    return sorted(found)


def html_templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*") if p.is_file() and p.suffix in (".html", ".svg", ".xml"))


def test_the_template_scanner_finds_inline_code() -> None:
    bad = (
        '<p>fine</p>\n<button onclick="go()">x</button>\n<div style="color:red">\n'
        '<style>p{}</style>\n<script>alert(1)</script>\n<a href="javascript:void(0)">\n'
        "<select name=\"d\" onchange='this.form.submit()'>\n"
    )
    lines = [line for line, _ in inline_code_in_template(bad)]
    assert lines == [2, 3, 4, 5, 6, 7], inline_code_in_template(bad)
    good = (
        '<script src="/static/js/app.js" defer></script>\n'
        '<script type="application/json" id="t">{}</script>\n'
        '<button data-action="print" data-onclick="x" class="stylesheet">print</button>\n'
        '{# an onclick="x" in a comment #}<p>Questions? Call on weekdays.</p>\n'
    )
    assert inline_code_in_template(good) == []


def test_no_template_has_inline_script_or_style() -> None:
    templates = html_templates()
    assert len(templates) > 20, templates
    problems = [
        f"{path.relative_to(TEMPLATES.parent)}:{line}: {what}"
        for path in templates
        for line, what in inline_code_in_template(path.read_text(encoding="utf-8"))
    ]
    assert not problems, "inline code the Content-Security-Policy blocks:\n" + "\n".join(problems)


def inline_code_in_python(source: str) -> list[tuple[int, str]]:
    """Inline code in the string literals of a module (f-string parts too), docstrings left out."""
    tree = ast.parse(source)
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found += [(node.lineno + line - 1, what) for line, what in inline_code_in_template(node.value)]
    return sorted(found)


def test_the_python_scanner_reads_strings_not_docstrings() -> None:
    source = (
        '"""A module that mentions <style> and onclick="x" in its docstring."""\n'
        'X = 1  # style="a" in a comment\n'
        "def f(v):\n"
        "    return f'<svg style=\"font:{v}\">'\n"
        "Y = '<button onclick=\"go()\">'\n"
    )
    assert [line for line, _ in inline_code_in_python(source)] == [4, 5]


def test_no_python_code_emits_inline_script_or_style() -> None:
    """HTML or SVG built in Python (charts, QR codes …) obeys the same rule as the templates."""
    sources = sorted((TEMPLATES.parent / "src").rglob("*.py"))
    assert len(sources) > 20, sources
    problems = [
        f"{path.relative_to(TEMPLATES.parent)}:{line}: {what}"
        for path in sources
        for line, what in inline_code_in_python(path.read_text(encoding="utf-8"))
    ]
    assert not problems, "inline code the Content-Security-Policy blocks:\n" + "\n".join(problems)


def test_the_charts_carry_no_inline_style() -> None:
    from evaluation import charts

    drawn = [
        charts.column_chart("月", ["1月", "2月"], [3, 4]),
        charts.bar_chart("区", ["思明区", "湖里区"], [5, 0]),
        charts.threshold_chart(
            "达标", [("学生", 120.0, 100.0, True, "120 / 100"), ("开放", None, 5, None, "-")]
        ),
    ]
    for svg in drawn:
        found, _ = inline_code_in_html(str(svg))
        assert not found, (found, str(svg)[:300])
        assert "font-family=" in str(svg)  # the CJK fonts, as a presentation attribute


# ---- the rendered pages, as each role sees them ---------------------------------------------------


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        values = dict(attrs)
        if tag == "style":
            self.found.append((line, "<style> element"))
        kind = (values.get("type") or "").lower()
        if tag == "script" and "src" not in values and kind not in DATA_SCRIPT_TYPES:
            self.found.append((line, "inline <script>"))
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append((line, f"<{tag} {name}=…> handler"))
            elif name == "style":
                self.found.append((line, f"<{tag} style=…>"))
            elif name in ("href", "src", "action", "formaction") and _JS_URL.match((value or "").strip()):
                self.found.append((line, f"<{tag} {name}=javascript:…>"))
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))

    handle_startendtag = handle_starttag


def inline_code_in_html(html: str) -> tuple[list[tuple[int, str]], list[str]]:
    finder = _InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.found, finder.links


def test_the_html_scanner_finds_inline_code() -> None:
    found, links = inline_code_in_html(
        '<a href="/x">x</a><button onclick="go()">b</button><svg style="font:x"></svg><style></style>'
        '<script>1</script><script type="application/json">{}</script><script src="/a.js"></script>'
        '<a href="javascript:void(0)">j</a>'
    )
    assert [what for _, what in found] == [
        "<button onclick=…> handler",
        "<svg style=…>",
        "<style> element",
        "inline <script>",
        "<a href=javascript:…>",
    ]
    assert links == ["/x", "javascript:void(0)"]


_NUMBER = re.compile(r"\d+")
SKIP = ("/lang/", "/logout", "/static/", "/schema", "/api/")


async def crawl(page: PageSession, start: list[str], limit: int = 60) -> dict[str, httpx.Response]:
    """Every page reachable by links from `start`, one URL per path shape (ids → N, no query)."""
    seen_shapes: set[str] = set()
    queue = list(start)
    pages: dict[str, httpx.Response] = {}
    while queue and len(pages) < limit:
        url = queue.pop(0)
        parts = urlsplit(url)
        if parts.netloc and parts.netloc != "test":
            continue
        path = parts.path
        shape = _NUMBER.sub("N", path)
        if shape in seen_shapes or any(path.startswith(s) for s in SKIP):
            continue
        seen_shapes.add(shape)
        r = await page.get(url if not parts.netloc else path + (f"?{parts.query}" if parts.query else ""))
        if r.status_code != 200 or not r.headers.get("content-type", "").startswith("text/html"):
            continue
        pages[url] = r
        _, links = inline_code_in_html(r.text)
        for href in links:
            target = urljoin(f"http://test{path}", href.split("#")[0])
            if target.startswith("http://test/"):
                queue.append(target.removeprefix("http://test"))
    return pages


@pytest.mark.parametrize(
    ("who", "start", "must_see"),
    [
        ("auditor", ["/audit", "/audit/venues", "/audit/bases", "/audit/outbox"], ["/audit/venues"]),
        ("staff_a", ["/staff", "/staff/roster", "/staff/scan"], ["/staff/roster", "/staff/scan"]),
        ("teacher_a", ["/venues", "/bookings", "/programmes", "/waitlist"], ["/venues", "/bookings/N"]),
        (None, ["/login", "/register", "/privacy", "/forgot"], ["/login"]),
    ],
)
async def test_each_roles_pages_render_no_inline_code(
    client: httpx.AsyncClient, who: str | None, start: list[str], must_see: list[str]
) -> None:
    world = await World(client).build()
    slot = await world.slot(capacity=60, days=3)
    booked = await world.book(slot["id"], students=20, chaperones=2)
    assert booked.status_code == 201, booked.text
    page = PageSession(client)
    if who:
        await page.sign_in(who, PASSWORD)
    pages = await crawl(page, start)
    shapes = {_NUMBER.sub("N", urlsplit(url).path) for url in pages}
    for shape in must_see:
        assert shape in shapes, (shape, sorted(shapes))
    assert len(pages) >= 3, sorted(pages)
    problems: list[str] = []
    for url, r in pages.items():
        csp = r.headers.get("content-security-policy", "")
        assert csp, f"{url} has no Content-Security-Policy"
        extra = frozenset({"'wasm-unsafe-eval'"}) if urlsplit(url).path == "/staff/scan" else frozenset()
        assert_strict(csp, where=url, extra=extra)
        found, _ = inline_code_in_html(r.text)
        problems += [f"{url} line {line}: {what}" for line, what in found]
    assert not problems, "\n".join(problems)
    # The crawl stays varied: no one path shape swallowed the budget.
    assert max(Counter(_NUMBER.sub("N", urlsplit(u).path) for u in pages).values()) == 1
