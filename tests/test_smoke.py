"""The app starts, answers health checks and serves its OpenAPI document."""

import httpx

from tests.helpers import World


async def test_health_and_schema(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/bookings" in schema["paths"]
    assert "/api/v1/checkins" in schema["paths"]


async def test_book_and_check_in_flow(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    slot = await w.slot(capacity=40)
    r = await w.book(slot["id"], 30, 2)
    assert r.status_code == 201, r.text
    booking = r.json()
    assert booking["status"] == "confirmed"
    assert (await w.get("teacher_a", f"/api/v1/slots/{slot['id']}")).json()["remaining"] == 8
    r = await w.book(slot["id"], 8, 1)
    assert r.status_code == 409
    assert r.json()["status_code"] == 409
