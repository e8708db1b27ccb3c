"""kepu's guards run on the route handler itself: Litestar's own loop copies it for every guard."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.testing import TestClient

from core.guards import run_guards_without_copies


def test_guards_see_the_handler_itself_and_still_refuse() -> None:
    run_guards_without_copies()
    seen: list[BaseRouteHandler] = []

    async def remember(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        seen.append(handler)

    async def refuse(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if connection.headers.get("x-let-in") != "yes":
            raise NotAuthorizedException(detail="no")

    @get("/inside", guards=[remember, refuse], sync_to_thread=False)
    def inside() -> str:
        return "in"

    with TestClient(Litestar([inside])) as client:
        assert client.get("/inside").status_code == 401
        r = client.get("/inside", headers={"x-let-in": "yes"})
        assert (r.status_code, r.text) == (200, "in")
    assert len(seen) == 2 and all(h is seen[0] for h in seen)
    assert seen[0].handler_name == "inside"  # the registered handler, not a copy made per request
