"""Security headers on every response, pages, API, static files and errors alike.

A response that sets its own header keeps it: the scan page sends its stricter Content-Security-Policy
(with 'wasm-unsafe-eval' for the ZXing decoder) and `Permissions-Policy: camera=(self)`.

The default policy forbids framing, plugins, <base> rewriting and loading anything from other origins;
it does not yet forbid inline script (a few pages still carry an inline handler), which is the next
step towards the strict policy of the hardening issue.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": DEFAULT_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Litestar `before_send` hook: add each header the response has not set itself."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    # The API reference pages load their viewer from its publisher; everything else stays on our origin.
    docs = str(scope.get("path", "")).startswith("/schema")
    for name, value in HEADERS.items():
        if docs and name == "Content-Security-Policy":
            continue
        if headers.get(name) is None:
            headers.add(name, value)
