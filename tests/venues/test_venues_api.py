"""api.md "Venues" and "Slots": who registers what, the shapes, filters, and time semantics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core import clock
from tests.api_support import DAY, ISO_SECONDS, assert_error, assert_instants, at
from tests.conftest import Clock
from tests.helpers import World, in_days, iso

KINDS = [
    "science_museum",
    "museum",
    "education_base",
    "laboratory",
    "scientist_spirit_base",
    "community_site",
]
DISTRICTS = ["思明区", "湖里区", "集美区", "海沧区", "同安区", "翔安区"]


def instant(text: str) -> datetime:
    """An api.md instant: ISO 8601 with an offset, to the second."""
    assert ISO_SECONDS.match(text), text
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None
    return parsed


@pytest.fixture
async def world(client: httpx.AsyncClient, frozen: Clock) -> World:
    frozen.set(DAY + timedelta(hours=8))
    return await World(client).build()


async def test_auditor_creates_a_venue(world: World) -> None:
    body = {"name": "厦门市博物馆", "kind": "museum", "district": "思明区", "address": "体育路95号"}
    r = await world.post("auditor", "/api/v1/venues", body)
    assert r.status_code == 201, r.text
    venue = r.json()
    assert isinstance(venue["id"], int)
    assert {k: venue[k] for k in body} == body
    assert venue["id"] not in (world.venue_a, world.venue_b)
    assert (await world.get("teacher_a", f"/api/v1/venues/{venue['id']}")).json() == venue


async def test_every_kind_is_accepted(world: World) -> None:
    for kind in KINDS:
        r = await world.post(
            "auditor", "/api/v1/venues", {"name": "某基地", "kind": kind, "district": "翔安区"}
        )
        assert r.status_code == 201, r.text
        assert r.json()["kind"] == kind
        assert r.json()["address"] == ""
    listed = (await world.get("auditor", "/api/v1/venues", params={"district": "翔安区"})).json()["items"]
    assert sorted(v["kind"] for v in listed) == sorted(KINDS)


@pytest.mark.parametrize("who", ["teacher_a", "staff_a"])
async def test_only_auditors_create_venues(world: World, who: str) -> None:
    before = (await world.get("auditor", "/api/v1/venues")).json()["items"]
    r = await world.post(who, "/api/v1/venues", {"name": "X", "kind": "museum", "district": "思明区"})
    assert_error(r, 403)
    assert (await world.get("auditor", "/api/v1/venues")).json()["items"] == before


async def test_list_and_filter_venues(world: World) -> None:
    for district in DISTRICTS:
        r = await world.post(
            "auditor",
            "/api/v1/venues",
            {"name": f"{district}社区", "kind": "community_site", "district": district},
        )
        assert r.status_code == 201
    r = await world.get("teacher_b", "/api/v1/venues")
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 8
    assert {v["id"] for v in items} >= {world.venue_a, world.venue_b}

    jimei = (await world.get("teacher_b", "/api/v1/venues", params={"district": "集美区"})).json()["items"]
    assert sorted(v["name"] for v in jimei) == sorted(["集美学村科普基地", "集美区社区"])
    assert all(v["district"] == "集美区" for v in jimei)

    community = (await world.get("staff_a", "/api/v1/venues", params={"kind": "community_site"})).json()
    assert len(community["items"]) == 6
    assert all(v["kind"] == "community_site" for v in community["items"])

    both = (
        await world.get("auditor", "/api/v1/venues", params={"district": "思明区", "kind": "science_museum"})
    ).json()["items"]
    assert [v["id"] for v in both] == [world.venue_a]
    none = await world.get("auditor", "/api/v1/venues", params={"district": "翔安区", "kind": "museum"})
    assert none.json() == {"items": []}


async def test_get_one_venue_and_unknown_id(world: World) -> None:
    r = await world.get("teacher_a", f"/api/v1/venues/{world.venue_a}")
    assert r.status_code == 200
    venue = r.json()
    assert venue["id"] == world.venue_a
    assert venue["name"] == "厦门科技馆"
    assert venue["kind"] == "science_museum"
    assert venue["district"] == "思明区"
    assert venue["address"] == "体育路95号"
    assert_error(await world.get("teacher_a", "/api/v1/venues/999999"), 404)


# -- slots -----------------------------------------------------------------------------------------


def slot_body(starts: datetime, hours: int = 2, capacity: int = 60, **extra: object) -> dict[str, object]:
    return {
        "starts_at": iso(starts),
        "ends_at": iso(starts + timedelta(hours=hours)),
        "capacity": capacity,
        **extra,
    }


@pytest.mark.parametrize("who", ["staff_a", "auditor"])
async def test_staff_of_the_venue_or_auditor_create_slots(world: World, who: str) -> None:
    starts = at(10, days=3)
    r = await world.post(
        who,
        f"/api/v1/venues/{world.venue_a}/slots",
        slot_body(starts, capacity=45, title="少年科学院", kind="activity"),
    )
    assert r.status_code == 201, r.text
    slot = r.json()
    assert isinstance(slot["id"], int)
    assert slot["venue_id"] == world.venue_a
    assert instant(slot["starts_at"]) == starts
    assert instant(slot["ends_at"]) == starts + timedelta(hours=2)
    assert (slot["capacity"], slot["booked"], slot["remaining"]) == (45, 0, 45)
    assert slot["title"] == "少年科学院"
    assert slot["kind"] == "activity"
    again = await world.get("teacher_b", f"/api/v1/slots/{slot['id']}")
    assert again.status_code == 200
    assert again.json() == slot


@pytest.mark.parametrize("who", ["staff_b", "teacher_a"])
async def test_others_may_not_create_slots(world: World, who: str) -> None:
    r = await world.post(who, f"/api/v1/venues/{world.venue_a}/slots", slot_body(at(10, days=3)))
    assert_error(r, 403)
    assert (await world.get("auditor", f"/api/v1/venues/{world.venue_a}/slots")).json() == {"items": []}


async def test_slot_on_an_unknown_venue_is_404(world: World) -> None:
    assert_error(await world.post("auditor", "/api/v1/venues/999999/slots", slot_body(at(10, days=3))), 404)
    assert_error(await world.get("auditor", "/api/v1/venues/999999/slots"), 404)
    assert_error(await world.get("auditor", "/api/v1/slots/999999"), 404)


async def test_slot_shows_current_booked_and_remaining(world: World) -> None:
    slot = await world.slot(capacity=50, starts_at=at(10, days=2))
    assert (await world.book(slot["id"], 20, 2)).status_code == 201
    assert (await world.book(slot["id"], 10, 1, who="teacher_b")).status_code == 201
    got = (await world.get("teacher_a", f"/api/v1/slots/{slot['id']}")).json()
    assert (got["capacity"], got["booked"], got["remaining"]) == (50, 33, 17)
    listed = (await world.get("teacher_a", f"/api/v1/venues/{world.venue_a}/slots")).json()["items"]
    assert [(s["id"], s["booked"], s["remaining"]) for s in listed] == [(slot["id"], 33, 17)]


async def test_times_without_offset_are_shanghai_and_responses_carry_offsets(world: World) -> None:
    url = f"/api/v1/venues/{world.venue_a}/slots"
    naive = await world.post(
        "auditor", url, {"starts_at": "2030-05-23T09:30:00", "ends_at": "2030-05-23T11:00:00", "capacity": 10}
    )
    assert naive.status_code == 201, naive.text
    assert instant(naive.json()["starts_at"]) == datetime(2030, 5, 23, 9, 30, tzinfo=clock.TZ)
    assert instant(naive.json()["ends_at"]) == datetime(2030, 5, 23, 11, 0, tzinfo=clock.TZ)

    utc = await world.post(
        "auditor",
        url,
        {"starts_at": "2030-05-23T01:30:00Z", "ends_at": "2030-05-23T03:00:00+00:00", "capacity": 10},
    )
    assert utc.status_code == 201, utc.text
    assert instant(utc.json()["starts_at"]) == datetime(2030, 5, 23, 9, 30, tzinfo=clock.TZ)

    # Fractions of a second are dropped: instants are to the second.
    frac = await world.post(
        "auditor",
        url,
        {
            "starts_at": "2030-05-23T09:30:00.750+08:00",
            "ends_at": "2030-05-23T11:00:00.250+08:00",
            "capacity": 10,
        },
    )
    assert frac.status_code == 201, frac.text
    assert instant(frac.json()["starts_at"]).replace(microsecond=0) == datetime(
        2030, 5, 23, 9, 30, tzinfo=clock.TZ
    )


async def test_list_slots_from_to_dates_and_instants(world: World) -> None:
    url = f"/api/v1/venues/{world.venue_a}/slots"
    starts = [
        datetime(2030, 6, 1, 0, 0, tzinfo=clock.TZ),  # the first second of 1 June in Xiamen
        datetime(2030, 6, 1, 10, 0, tzinfo=clock.TZ),
        datetime(2030, 6, 1, 23, 30, tzinfo=clock.TZ),
        datetime(2030, 6, 2, 0, 0, tzinfo=clock.TZ),  # the first second of 2 June
        datetime(2030, 5, 31, 23, 59, tzinfo=clock.TZ),
    ]
    ids = {}
    for s in starts:
        r = await world.post("staff_a", url, slot_body(s, hours=1))
        assert r.status_code == 201, r.text
        ids[s] = r.json()["id"]
    other = await world.post(
        "staff_b",
        f"/api/v1/venues/{world.venue_b}/slots",
        slot_body(datetime(2030, 6, 1, 10, tzinfo=clock.TZ)),
    )
    assert other.status_code == 201

    async def listed(**params: str) -> list[datetime]:
        r = await world.get("teacher_a", url, params=params)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert all(i["venue_id"] == world.venue_a for i in items)
        return sorted(instant(i["starts_at"]) for i in items)

    assert await listed() == sorted(starts)
    # Dates are Asia/Shanghai days; [from, to).
    assert await listed(**{"from": "2030-06-01", "to": "2030-06-02"}) == starts[0:3]
    assert await listed(**{"from": "2030-06-01"}) == starts[0:4]
    assert await listed(to="2030-06-01") == [starts[4]]
    # Instants: from is inclusive, to exclusive.
    assert await listed(**{"from": "2030-06-01T10:00:00+08:00", "to": "2030-06-02T00:00:00+08:00"}) == [
        starts[1],
        starts[2],
    ]
    assert await listed(**{"from": "2030-06-01T02:00:00Z", "to": "2030-06-01T15:30:00Z"}) == [starts[1]]
    assert await listed(**{"from": "2030-06-01T02:00:01Z"}) == [starts[2], starts[3]]
    # Without an offset an instant is local time.
    assert await listed(**{"from": "2030-06-01T10:00:00", "to": "2030-06-01T23:30:00"}) == [starts[1]]
    assert await listed(**{"from": "2030-06-01T09:59:59", "to": "2030-06-01T10:00:00"}) == []
    assert await listed(**{"from": "2030-07-01"}) == []


async def test_slots_may_be_created_in_the_past(world: World) -> None:
    past = clock.now().astimezone(clock.TZ) - timedelta(days=30)
    r = await world.post("staff_a", f"/api/v1/venues/{world.venue_a}/slots", slot_body(past, capacity=80))
    assert r.status_code == 201, r.text
    assert instant(r.json()["starts_at"]) == past.replace(microsecond=0)
    assert r.json()["remaining"] == 80


async def test_slot_must_end_after_it_starts(world: World) -> None:
    starts = at(10, days=3)
    for delta in (timedelta(hours=-1), timedelta(0), timedelta(seconds=-1)):
        r = await world.post(
            "auditor",
            f"/api/v1/venues/{world.venue_a}/slots",
            {"starts_at": iso(starts), "ends_at": iso(starts + delta), "capacity": 10},
        )
        assert_error(r)
    assert (await world.get("auditor", f"/api/v1/venues/{world.venue_a}/slots")).json() == {"items": []}


async def test_slot_instants_round_trip_in_utc_too(world: World) -> None:
    starts = datetime(2030, 5, 25, 1, 0, tzinfo=UTC)
    r = await world.post(
        "auditor",
        f"/api/v1/venues/{world.venue_b}/slots",
        {"starts_at": "2030-05-25T01:00:00Z", "ends_at": "2030-05-25T02:00:00Z", "capacity": 5},
    )
    assert r.status_code == 201
    assert instant(r.json()["starts_at"]) == starts
    assert instant(r.json()["ends_at"]) == starts + timedelta(hours=1)


async def test_an_offset_whose_plus_was_not_url_encoded(world: World) -> None:
    """A client that pastes an instant into a URL sends "+08:00" as " 08:00"; it still means +08:00."""
    url = f"/api/v1/venues/{world.venue_a}/slots"
    ten = datetime(2030, 6, 1, 10, tzinfo=clock.TZ)
    for starts in (ten, ten + timedelta(hours=1)):
        assert (await world.post("auditor", url, slot_body(starts, hours=1))).status_code == 201
    r = await world.get("teacher_a", f"{url}?from=2030-06-01T10:30:00+08:00&to=2030-06-01T12:00:00+08:00")
    assert r.status_code == 200, r.text
    assert [instant(s["starts_at"]) for s in r.json()["items"]] == [ten + timedelta(hours=1)]


async def test_every_instant_has_an_offset_and_whole_seconds(world: World) -> None:
    slot = await world.slot(capacity=10, starts_at=at(10, days=1))
    seen = 0
    for url in (
        "/api/v1/venues",
        f"/api/v1/venues/{world.venue_a}",
        f"/api/v1/venues/{world.venue_a}/slots",
        f"/api/v1/slots/{slot['id']}",
    ):
        r = await world.get("teacher_a", url)
        assert r.status_code == 200
        seen += assert_instants(r.json())
    assert seen >= 4


async def test_optional_fields_accept_null(client: httpx.AsyncClient) -> None:
    """api.md marks address, title and kind optional ("?"): an explicit null means "not given"."""
    w = await World(client).build()
    r = await w.post(
        "auditor", "/api/v1/venues", {"name": "馆", "kind": "museum", "district": "湖里区", "address": None}
    )
    assert r.status_code == 201, r.text
    assert r.json()["address"] == ""
    starts = in_days(5)
    r = await w.post(
        "auditor",
        f"/api/v1/venues/{w.venue_a}/slots",
        {
            "starts_at": iso(starts),
            "ends_at": iso(starts + timedelta(hours=1)),
            "capacity": 10,
            "title": None,
            "kind": None,
        },
    )
    assert r.status_code == 201, r.text
    assert (r.json()["title"], r.json()["kind"]) == ("", "school_visit")
    r = await w.book(r.json()["id"], 5, 1, grade=None, class_name=None)
    assert r.status_code == 201, r.text
    assert (r.json()["grade"], r.json()["class_name"]) == ("", "")
