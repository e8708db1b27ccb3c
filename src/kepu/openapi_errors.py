"""The error answers every /api/v1 operation can give, written into the OpenAPI document in one place
(api.md "Errors": every 4xx/5xx body is JSON with at least `status_code` and `detail`), so clients and
schema-driven tests (tests/test_schemathesis.py) know them without each handler listing them."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute

from kepu.auth import API_PREFIX


class ErrorBody(msgspec.Struct):
    """Litestar's error shape; a domain error adds its stable `code`, a validation error `extra`."""

    status_code: int
    detail: str


_READS = {
    400: "The request is not valid (a parameter of the wrong type or out of range); `detail` says which.",
    401: "No valid bearer token: sign in at /api/v1/auth/token.",
    403: "The caller's role may not do this.",
    404: "There is no such object, or the caller may not see it.",
    422: "The values cannot be accepted (e.g. nobody in the group, an absurd year); `detail` says why.",
    503: "The database is not answering for now; try again (Retry-After).",
}
_WRITES = {
    **_READS,
    409: "The object's state does not allow this (e.g. the slot is full, already cancelled).",
    413: "The request body is too large.",
}


def _specs(descriptions: dict[int, str]) -> dict[int, ResponseSpec]:
    return {
        code: ResponseSpec(data_container=ErrorBody, description=text, generate_examples=False)
        for code, text in descriptions.items()
    }


# Built once and shared by every operation (only read when the schema is generated).
_READ_SPECS, _WRITE_SPECS = _specs(_READS), _specs(_WRITES)


def document_errors(app: Litestar) -> None:
    """Add the common error answers to every /api/v1 operation that does not document them itself."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not (
            route.path.startswith(API_PREFIX) or route.path == "/readyz"
        ):
            continue
        for handler in route.route_handlers:
            common = _READ_SPECS if handler.http_methods <= {"GET", "HEAD"} else _WRITE_SPECS
            own: dict[int, Any] = dict(handler.responses or {})
            handler.responses = {**common, **own}
