"""Security headers on every response, pages, API, static files and errors alike.

A response that sets its own header keeps it: the scan page sends its own Content-Security-Policy
(the same strict policy plus 'wasm-unsafe-eval' for the ZXing decoder, and media/worker sources for
the camera) and `Permissions-Policy: camera=(self)`.

The policy is strict: scripts and styles come only from our own files under /static. No page carries
inline script, inline event handlers (onclick=…), `javascript:` URLs, style= attributes or <style>
elements; behaviour lives in assets/js (wired up with data- attributes, e.g. `data-action="print"` in
assets/js/app.js) and looks in assets/css. `tests/test_csp.py` scans every template for inline code.
`<script type="application/json">` data blocks are fine: the browser never runs them.

The only exception is the API reference under /schema, whose viewer is loaded from its publisher.
"""

from __future__ import annotations

from litestar.types import Message, Scope

DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": DEFAULT_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# The one path prefix whose responses go without our Content-Security-Policy.
DOCS_PREFIX = "/schema"


def skips_csp(path: str) -> bool:
    """The API reference pages load their viewer from its publisher; everything else stays on our origin."""
    return path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/")


# The same, as the raw (lower-case name, value) pairs of an ASGI message.
_RAW_HEADERS = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in HEADERS.items()]
_RAW_CSP = b"content-security-policy"


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Litestar `before_send` hook: add each header the response has not set itself.

    It runs for every response, so it works on the message's raw header list: the names present are
    read once (a lookup per header through Litestar's header wrapper cost more than the rest)."""
    if message["type"] != "http.response.start":
        return
    headers = message.get("headers")
    if not isinstance(headers, list):
        headers = message["headers"] = list(headers or ())
    present = {bytes(name).lower() for name, _ in headers}
    docs = skips_csp(str(scope.get("path", "")))
    for name, value in _RAW_HEADERS:
        if name not in present and not (docs and name == _RAW_CSP):
            headers.append((name, value))
