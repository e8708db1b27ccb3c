"""Feedback after a visit: once per checked-in booking, from the visit's start, only by the teacher
who booked; clear sentences for bad input; the venue's staff and the auditor read it (both engines)."""

from __future__ import annotations

import httpx
import pytest

from accounts import services as accounts
from bookings import feedback
from bookings.feedback import FeedbackError
from bookings.tables import Feedback
from core.errors import DomainError
from tests.api_support import at, refresh_tokens
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession


async def visited(client: httpx.AsyncClient, frozen: Clock) -> tuple[World, int, int]:
    """A booking checked in at 10:05 today, and one for the same slot nobody scanned."""
    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(capacity=100, starts_at=at(10), ends_at=at(12))
    came = (await w.book(slot["id"], 30, 2)).json()
    absent = (await w.book(slot["id"], 20, 1)).json()
    frozen.set(at(10, 5))
    await refresh_tokens(w)
    r = await w.post("staff_a", "/api/v1/checkins", {"token": came["qr_token"]})
    assert r.status_code == 200, r.text
    return w, came["id"], absent["id"]


async def teacher(name: str) -> object:
    return await accounts.get_user_by_username(name)


async def test_once_only_after_the_visit_and_only_own(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(capacity=100, starts_at=at(10), ends_at=at(12))
    booking = (await w.book(slot["id"], 30, 2)).json()
    me = await accounts.get_user_by_username("teacher_a")
    assert me is not None
    with pytest.raises(FeedbackError) as e:
        await feedback.give(me, booking["id"], 5, "")
    assert e.value.code == "too_early" and "2030-05-20 10:00" in e.value.message()
    frozen.set(at(10, 5))
    await refresh_tokens(w)
    with pytest.raises(FeedbackError) as e:
        await feedback.give(me, booking["id"], 5, "")
    assert e.value.code == "not_visited"
    assert (await w.post("staff_a", "/api/v1/checkins", {"token": booking["qr_token"]})).status_code == 200
    for rating in (0, 6, -1):
        with pytest.raises(FeedbackError) as e:
            await feedback.give(me, booking["id"], rating, "")
        assert e.value.code == "rating"
    with pytest.raises(FeedbackError) as e:
        await feedback.give(me, booking["id"], 4, "好" * 1001)
    assert e.value.code == "comment_too_long"
    other = await accounts.get_user_by_username("teacher_a2")  # same school, not the booker
    assert other is not None
    with pytest.raises(DomainError) as d:
        await feedback.give(other, booking["id"], 4, "")
    assert d.value.status_code in (403, 404)
    given = await feedback.give(me, booking["id"], 4, "  讲解员很专业，学生很投入。 ")
    assert (given.rating, given.comment) == (4, "讲解员很专业，学生很投入。")
    with pytest.raises(FeedbackError) as e:
        await feedback.give(me, booking["id"], 5, "")
    assert e.value.code == "already_given"
    assert await Feedback.count() == 1


async def test_pages_teacher_gives_staff_and_auditor_read(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, came, absent = await visited(client, frozen)
    s = PageSession(client)
    await s.sign_in("teacher_a", PASSWORD)
    page = await s.get(f"/bookings/{came}")
    assert 'data-testid="pass-feedback-link"' in page.text
    page = await s.get(f"/bookings/{absent}")
    assert 'data-testid="pass-feedback-link"' not in page.text
    r = await s.post(f"/bookings/{came}/feedback", {"rating": "9", "comment": "x"})
    assert r.status_code == 400 and 'id="e-rating"' in r.text
    r = await s.post(f"/bookings/{absent}/feedback", {"rating": "3"})
    assert r.status_code == 409 and 'role="alert"' in r.text
    r = await s.post(f"/bookings/{came}/feedback", {"rating": "5", "comment": "非常好"})
    assert r.status_code == 303
    page = await s.get(f"/bookings/{came}")
    assert 'data-testid="pass-feedback"' in page.text
    r = await s.post(f"/bookings/{came}/feedback", {"rating": "1"})
    assert r.status_code == 409
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c2:
        staff = PageSession(c2)
        await staff.sign_in("staff_a", PASSWORD)
        page = await staff.get("/staff/feedback")
        assert (
            page.status_code == 200
            and f'data-testid="feedback-{came}"' in page.text
            and "非常好" in page.text
        )
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c3:
        b = PageSession(c3)
        await b.sign_in("staff_b", PASSWORD)  # another venue's staff see their own (empty) list
        page = await b.get("/staff/feedback")
        assert page.status_code == 200 and "非常好" not in page.text
        page = await b.get(f"/audit/venues/{w.venue_a}/feedback")
        assert page.status_code in (401, 403)
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c4:
        auditor = PageSession(c4)
        await auditor.sign_in("auditor", PASSWORD)
        page = await auditor.get(f"/audit/venues/{w.venue_a}/feedback")
        assert page.status_code == 200 and "非常好" in page.text
    # Another teacher cannot open the form of a booking not theirs.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as c5:
        t = PageSession(c5)
        await t.sign_in("teacher_b", PASSWORD)
        assert (await t.get(f"/bookings/{came}/feedback")).status_code == 404
        r = await t.post(f"/bookings/{came}/feedback", {"rating": "1"})
        assert r.status_code == 404
