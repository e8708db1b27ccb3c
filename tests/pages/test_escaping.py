"""Text people typed reaches the pages escaped. The catalogue, the venue page and the day roster escape
their rows once in Python and print them in loops that Jinja does not escape again (for speed;
kepu.templating.html_text): this test guards those loops against a value that slips through raw."""

from __future__ import annotations

import httpx

from accounts.tables import School, User
from bookings.tables import Booking
from tests.api_support import at
from tests.conftest import Clock
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import PageSession
from venues.tables import Slot, Venue

HOSTILE = '<script>alert("kepu")</script>&\''
ESCAPED = "&lt;script&gt;alert(&#34;kepu&#34;)&lt;/script&gt;&amp;&#39;"
CODE = "<s>&'\"</s>"  # a pass code holds 16 characters
CODE_ESCAPED = "&lt;s&gt;&amp;&#39;&#34;&lt;/s&gt;"


def _assert_escaped(html: str, times: int = 1) -> None:
    assert "<script>alert(" not in html
    assert html.count(ESCAPED) >= times, html.count(ESCAPED)


async def test_typed_text_is_escaped_in_the_catalogue_venue_page_and_roster(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(starts_at=at(10, days=2), ends_at=at(12, days=2))
    booking = (await w.book(slot["id"], 20, 2, grade=HOSTILE, class_name=HOSTILE)).json()
    await Venue.update({Venue.name: HOSTILE}).where(Venue.id == w.venue_a)
    await Slot.update({Slot.title: HOSTILE}).where(Slot.id == slot["id"])
    await School.update({School.name: HOSTILE}).where(School.name == "厦门市第一中学")
    await User.update({User.display_name: HOSTILE}).where(User.username == "teacher_a")
    await Booking.update({Booking.code: CODE}).where(Booking.id == booking["id"])

    teacher = PageSession(client)
    await teacher.sign_in("teacher_b", PASSWORD)
    catalogue = await teacher.get("/venues")
    assert catalogue.status_code == 200
    _assert_escaped(catalogue.text)
    venue = await teacher.get(f"/venues/{w.venue_a}")
    assert venue.status_code == 200
    _assert_escaped(venue.text, times=2)  # the venue's name and the slot's title

    client.cookies.clear()  # the client's cookies were the teacher's session
    staff = PageSession(client)
    await staff.sign_in("staff_a", PASSWORD)
    roster = await staff.get(f"/slots/{slot['id']}")
    assert roster.status_code == 200
    # The school, the teacher, the grade and the class of the booking (and the slot's title); its code.
    _assert_escaped(roster.text, times=4)
    assert "<s>" not in roster.text and CODE_ESCAPED in roster.text
