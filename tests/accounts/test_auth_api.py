"""api.md "Auth": the OAuth2 password flow, bearer tokens on every /api/v1 call, roles."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from tests.api_support import DAY, assert_error
from tests.conftest import Clock
from tests.helpers import PASSWORD, World, make_user, token

TOKEN_URL = "/api/v1/auth/token"
# Every /api/v1 operation of api.md; the test also takes whatever else the OpenAPI document lists.
CONTRACT_OPERATIONS = {
    ("POST", "/api/v1/venues"),
    ("GET", "/api/v1/venues"),
    ("GET", "/api/v1/venues/{venue_id}"),
    ("POST", "/api/v1/venues/{venue_id}/slots"),
    ("GET", "/api/v1/venues/{venue_id}/slots"),
    ("GET", "/api/v1/slots/{slot_id}"),
    ("POST", "/api/v1/bookings"),
    ("GET", "/api/v1/bookings"),
    ("GET", "/api/v1/bookings/{booking_id}"),
    ("POST", "/api/v1/bookings/{booking_id}/cancel"),
    ("GET", "/api/v1/bookings/{booking_id}/qr.png"),
    ("GET", "/api/v1/bookings/{booking_id}/calendar.ics"),
    ("POST", "/api/v1/checkins"),
    ("GET", "/api/v1/reports/venues"),
}
BAD_AUTHORIZATIONS = [
    None,
    "Bearer",
    "Bearer ",
    "Bearer not-a-token",
    "Bearer " + "x" * 500,
    "Basic dGVhY2hlcjpjb3JyZWN0LWhvcnNlLTk=",
    "not-a-scheme",
]


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(TOKEN_URL, data={"username": username, "password": password})


async def test_token_flow_with_form_fields(client: httpx.AsyncClient) -> None:
    await make_user("alice", "teacher")
    r = await sign_in(client, "alice", PASSWORD)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["token_type"].lower() == "bearer"
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 20
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await client.get("/api/v1/venues", headers=headers)).status_code == 200
    # Each sign-in is a new token; the first keeps working.
    again = (await sign_in(client, "alice", PASSWORD)).json()["access_token"]
    assert again != body["access_token"]
    assert (await client.get("/api/v1/bookings", headers=headers)).status_code == 200


async def test_wrong_password_is_401_with_json_error(client: httpx.AsyncClient) -> None:
    await make_user("alice", "teacher")
    r = await sign_in(client, "alice", PASSWORD + "x")
    body = assert_error(r, 401)
    assert "access_token" not in body
    assert_error(await sign_in(client, "alice", ""), None)
    assert_error(await sign_in(client, "ALICE", PASSWORD), 401)


async def test_unknown_user_is_401(client: httpx.AsyncClient) -> None:
    await make_user("alice", "teacher")
    body = assert_error(await sign_in(client, "nobody", PASSWORD), 401)
    wrong_pw = assert_error(await sign_in(client, "alice", "wrong-password"), 401)
    # The caller cannot tell an unknown name from a wrong password.
    assert body["detail"] == wrong_pw["detail"]


async def test_credentials_in_the_query_string_or_json_do_not_sign_in(client: httpx.AsyncClient) -> None:
    await make_user("alice", "teacher")
    r = await client.post(TOKEN_URL, params={"username": "alice", "password": PASSWORD})
    assert_error(r)
    r = await client.post(TOKEN_URL, data={"username": "alice"})
    assert_error(r)


async def test_correct_sign_in_is_never_refused_after_failures(client: httpx.AsyncClient) -> None:
    await make_user("alice", "teacher")
    for _ in range(12):
        assert_error(await sign_in(client, "alice", "guess-guess"), None)
    for _ in range(3):
        assert (await sign_in(client, "alice", PASSWORD)).status_code == 200


async def test_token_works_for_every_role(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    for who in ("auditor", "staff_a", "staff_b", "teacher_a", "teacher_b"):
        for url in ("/api/v1/venues", "/api/v1/bookings", f"/api/v1/venues/{w.venue_a}"):
            r = await w.get(who, url)
            assert r.status_code == 200, (who, url, r.text)
    # Role-limited calls are 403, not 401: the token is accepted, the role is not allowed.
    assert_error(await w.get("teacher_a", "/api/v1/reports/venues", params={"year": 2030}), 403)
    assert (await w.get("auditor", "/api/v1/reports/venues", params={"year": 2030})).status_code == 200


async def test_token_lasts_at_least_an_hour(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(DAY)
    await make_user("alice", "teacher")
    headers = await token(client, "alice")
    frozen.advance(timedelta(minutes=61))
    assert (await client.get("/api/v1/bookings", headers=headers)).status_code == 200


async def _operations(client: httpx.AsyncClient) -> set[tuple[str, str]]:
    schema = (await client.get("/schema/openapi.json")).json()
    found = set()
    for path, item in schema["paths"].items():
        if not path.startswith("/api/v1/") or path == TOKEN_URL:
            continue
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                found.add((method.upper(), path))
    return found


async def test_missing_or_bad_bearer_is_401_everywhere(client: httpx.AsyncClient) -> None:
    w = await World(client).build()
    slot = await w.slot()
    booking = (await w.book(slot["id"])).json()
    operations = await _operations(client)
    assert operations >= CONTRACT_OPERATIONS, CONTRACT_OPERATIONS - operations
    ids = {"venue_id": w.venue_a, "slot_id": slot["id"], "booking_id": booking["id"], "day": "2030-10-01"}
    for authorization in BAD_AUTHORIZATIONS:
        headers = {"Authorization": authorization} if authorization is not None else {}
        for method, path in sorted(operations):
            url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(ids.get(m.group(1), 1)), path)
            r = await client.request(method, url, headers=headers, params={"year": 2030}, json={})
            assert r.status_code == 401, (authorization, method, url, r.status_code, r.text)
            assert_error(r, 401)
    # Nothing was done on the way: the booking is still confirmed.
    r = await w.get("teacher_a", f"/api/v1/bookings/{booking['id']}")
    assert r.json()["status"] == "confirmed"


async def test_a_token_of_a_deactivated_or_deleted_user_is_401(client: httpx.AsyncClient) -> None:
    from accounts.tables import User

    user_id = await make_user("alice", "teacher")
    headers = await token(client, "alice")
    await User.update({User.is_active: False}).where(User.id == user_id)
    assert_error(await client.get("/api/v1/bookings", headers=headers), 401)
