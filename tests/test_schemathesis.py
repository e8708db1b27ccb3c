"""Schemathesis against /schema/openapi.json (issue 8, "Bad input and abuse"): requests generated from
the schema, sent to a real `kepu serve` as each role (teacher, staff, auditor, and anonymous), get no
5xx and answers that conform to the schema (status code documented, content type, body schema).

Bounded and deterministic: a fixed number of examples per operation (EXAMPLES), derandomized. Sign-in
throttling may answer 429 on the token endpoint after repeated failures; that is documented and
allowed. Both engines; a few tens of seconds on SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import PASSWORD, in_days, iso, make_user
from tests.servers import Server, running_servers

pytestmark = pytest.mark.servers

EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 8}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class Api:
    def __init__(self, server: Server) -> None:
        self.base = server.url
        self.http = requests.Session()
        self.auth: dict[str, dict[str, str]] = {"anonymous": {}}

    def sign_in(self, role: str, username: str) -> None:
        r = self.http.post(
            f"{self.base}/api/v1/auth/token", data={"username": username, "password": PASSWORD}, timeout=30
        )
        assert r.status_code == 200, r.text
        self.auth[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def post(self, role: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(f"{self.base}{path}", json=body, headers=self.auth[role], timeout=30)
        assert r.status_code == 201, r.text
        return dict(r.json())


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """A server with a venue, a slot, a booking and one signed-in account per role (ids 1 exist, so
    generated ids sometimes name something)."""
    await make_user("auditor", "auditor")
    await make_user("teacher_a", "teacher")
    with running_servers(database_url, 1, tmp_path / "servers") as servers:
        api = Api(servers[0])
        api.sign_in("auditor", "auditor")
        venue = api.post(
            "auditor",
            "/api/v1/venues",
            {"name": "厦门科技馆", "kind": "science_museum", "district": "思明区", "address": "体育路95号"},
        )
        await make_user("staff_a", "staff", venue_id=venue["id"])
        api.sign_in("staff", "staff_a")
        api.sign_in("teacher", "teacher_a")
        starts = in_days(5)
        slot = api.post(
            "staff",
            f"/api/v1/venues/{venue['id']}/slots",
            {"starts_at": iso(starts), "ends_at": iso(starts + timedelta(hours=2)), "capacity": 500},
        )
        api.post("teacher", "/api/v1/bookings", {"slot_id": slot["id"], "students": 20, "chaperones": 2})
        yield api
        api.http.close()


def _failure_text(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:1500]


def _aim_at_existing_objects(case: Any, object_id: int) -> None:
    """Random ids almost never name an object, so most generated requests would stop at 404; point the
    ids in the address and the body's `*_id` fields at objects the fixture made, to reach the handlers'
    success paths (and check their answers against the schema)."""
    for name, value in (case.path_parameters or {}).items():
        if isinstance(value, int):
            case.path_parameters[name] = object_id
    if isinstance(case.body, dict):
        for name, value in case.body.items():
            if name.endswith("_id") and isinstance(value, int):
                case.body[name] = object_id


def _check_operation(api: Api, operation: Any, mode: GenerationMode, seen: set[int]) -> list[str]:
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        role=st.sampled_from(sorted(api.auth)),
        aim=st.sampled_from([1, 1, 2, None]),
    )
    def run(case: Any, role: str, aim: int | None) -> None:
        if aim is not None:
            _aim_at_existing_objects(case, aim)
        headers = {**(case.headers or {}), **api.auth[role]}
        response = case.call(base_url=api.base, session=api.http, headers=headers, timeout=30)
        seen.add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as exc:
            if len(failures) < 3:
                failures.append(f"{operation.label} as {role} ({mode.value}): {_failure_text(exc)}")

    try:
        run()
    except Unsatisfiable:  # negative mode for an operation without inputs: nothing can be made invalid
        assert mode is GenerationMode.NEGATIVE, operation.label
    return failures


def test_generated_requests_get_no_5xx_and_conforming_answers(api: Api) -> None:
    schema = schemathesis.openapi.from_url(f"{api.base}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) > 10, [op.label for op in operations]
    failures: list[str] = []
    answered: dict[str, set[int]] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _check_operation(api, operation, mode, answered.setdefault(operation.label, set()))
    assert not failures, "\n\n".join(failures)
    # Not vacuous: most operations were reached (some answer was not 401), and bad input was refused.
    reached = [label for label, codes in answered.items() if codes - {401}]
    assert len(reached) >= 0.8 * len(answered), answered
    assert any(c < 300 for codes in answered.values() for c in codes)
    assert any(c in (400, 422) for codes in answered.values() for c in codes)
