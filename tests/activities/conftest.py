"""Shared set-up for the activities tests: a small city at a fixed time, and signed-in actors."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from accounts import services as accounts
from accounts.schemas import UserView
from core import clock
from kepu.auth import load_actor
from tests.conftest import Clock
from tests.helpers import World

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=clock.TZ)


async def user(username: str) -> UserView:
    found = await accounts.get_user_by_username(username)
    assert found is not None
    actor = await load_actor(found.id)
    assert actor is not None
    return actor


@pytest.fixture
async def world(client: httpx.AsyncClient, frozen: Clock) -> World:
    frozen.set(NOW)
    return await World(client).build()
