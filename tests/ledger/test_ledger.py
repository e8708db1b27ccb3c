"""The check-in ledger: every scan and reversal chained per venue; `verify` names the first record that
was changed or removed straight in the database, and signed heads handed out catch a rewritten chain."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.sql import Statement
from ledger import audit
from ledger.chain import GENESIS, canonical, entry_hash
from tests.api_support import at
from tests.bookings.test_reversal import _ids, _scene
from tests.conftest import Clock

ENTRIES = Statement(
    "SELECT venue, seq, kind, checkin, payload, prev_hash, hash FROM ledger_entry ORDER BY venue, seq"
)


async def run(sql: str, *args: Any) -> None:
    await Statement(sql).execute(*args)


async def problems() -> list[str]:
    report = await audit.verify()
    return [p.message for p in report.problems]


async def _scene_with_reversal(client: httpx.AsyncClient, frozen: Clock) -> tuple[Any, dict[str, Any]]:
    w, booking = await _scene(client, frozen)
    _first, second = await _ids(booking["id"])
    r = await w.post("super_a", f"/api/v1/checkins/{second}/reverse", {"reason": "扫错了班级"})
    assert r.status_code == 200, r.text
    return w, booking


async def test_every_scan_and_reversal_is_chained(client: httpx.AsyncClient, frozen: Clock) -> None:
    await _scene_with_reversal(client, frozen)
    entries = await ENTRIES.fetch()
    # Two admissions, one refusal, one reversal: four records, 1..4, each hashed on the one before.
    assert [(e["seq"], e["kind"]) for e in entries] == [
        (1, "scan"),
        (2, "scan"),
        (3, "scan"),
        (4, "reversal"),
    ]
    prev = GENESIS
    for e in entries:
        assert e["prev_hash"] == prev and e["hash"] == entry_hash(prev, e["payload"])
        prev = e["hash"]
    report = await audit.verify()
    assert report.ok, report.problems
    assert (report.entries, report.checkins) == (4, 3)


async def test_a_changed_checkin_is_named(client: httpx.AsyncClient, frozen: Clock) -> None:
    await _scene(client, frozen)
    first = (await ENTRIES.fetch())[0]["checkin"]
    await run("UPDATE bookings_checkin SET students = 25 WHERE id = $1", first)
    assert await problems() == [f"check-in #{first} was changed after it was recorded"]


async def test_a_deleted_checkin_is_named(client: httpx.AsyncClient, frozen: Clock) -> None:
    await _scene(client, frozen)
    denied = (await ENTRIES.fetch())[2]["checkin"]
    await run("DELETE FROM bookings_checkin WHERE id = $1", denied)
    assert await problems() == [f"check-in #{denied} was removed"]


async def test_a_checkin_added_outside_kepu_is_named(client: httpx.AsyncClient, frozen: Clock) -> None:
    w, booking = await _scene(client, frozen)
    await run(
        "INSERT INTO bookings_checkin (booking, venue, result, students, chaperones, device, offline,"
        " needs_review, reversal_reason, created_at) VALUES ($1, $2, 'admitted', 30, 2, '', $3, $4, '', $5)",
        booking["id"],
        w.venue_a,
        False,
        False,
        at(10),
    )
    [message] = await problems()
    assert message.endswith("is not in the ledger: it was added outside kepu")


async def test_a_changed_record_and_a_removed_record_are_named(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    await _scene_with_reversal(client, frozen)
    entries = await ENTRIES.fetch()
    forged = entries[1]["payload"].replace('"students":10', '"students":1')
    assert forged != entries[1]["payload"]
    await run("UPDATE ledger_entry SET payload = $1 WHERE seq = 2", forged)
    assert await problems() == [f"record 2 (check-in #{entries[1]['checkin']}) was changed"]
    await run("UPDATE ledger_entry SET payload = $1 WHERE seq = 2", entries[1]["payload"])
    assert await problems() == []
    await run("DELETE FROM ledger_entry WHERE seq = 3")
    assert await problems() == ["record 3 of the chain was removed (the next one is 4)"]


async def test_removing_the_last_records_is_seen(client: httpx.AsyncClient, frozen: Clock) -> None:
    await _scene(client, frozen)
    await run("DELETE FROM ledger_entry WHERE seq = 3")
    [message] = await problems()
    assert "records at the end were removed" in message


async def test_a_reversal_undone_or_forged_in_the_database_is_named(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    _w, booking = await _scene_with_reversal(client, frozen)
    first, second = await _ids(booking["id"])
    await run("UPDATE bookings_checkin SET reversed_at = NULL, reversed_by = NULL WHERE id = $1", second)
    assert await problems() == [f"check-in #{second} was reversed, but the reversal was removed from it"]
    await run(
        "UPDATE bookings_checkin SET reversed_at = $1, reversal_reason = 'x' WHERE id = $2", at(11), first
    )
    assert await problems() == [f"the reversal of check-in #{first} is not the one recorded"]


async def _rewrite_whole_chain(students: int) -> None:
    """What someone with write access to the database could do: change a check-in and rebuild every
    hash, the tip and the stored heads so that everything inside the database agrees again."""
    entries = await ENTRIES.fetch()
    first = entries[0]["checkin"]
    await run("UPDATE bookings_checkin SET students = $1 WHERE id = $2", students, first)
    prev = GENESIS
    for e in entries:
        payload = e["payload"]
        if e["seq"] == 1:
            payload = payload.replace('"students":20', f'"students":{students}')
        digest = entry_hash(prev, payload)
        await run(
            "UPDATE ledger_entry SET payload = $1, prev_hash = $2, hash = $3 WHERE venue = $4 AND seq = $5",
            payload,
            prev,
            digest,
            e["venue"],
            e["seq"],
        )
        prev = digest
    await run("UPDATE ledger_tip SET hash = $1", prev)
    await run("DELETE FROM ledger_head")


async def test_published_heads_catch_a_rewritten_chain(
    client: httpx.AsyncClient, frozen: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _scene(client, frozen)
    monkeypatch.setenv("KEPU_LEDGER_DIR", str(tmp_path))
    today = at(12).date()
    path = await audit.publish_digest(today)
    assert path == tmp_path / f"heads-{today.isoformat()}.txt"
    published = audit.parse_digest(path.read_text(encoding="utf-8"))
    assert [(h.seq, h.day) for h in published] == [(3, today)]
    assert await audit.publish_digest(today) == path  # again: nothing new, same file
    assert len(await audit.heads_of(today)) == 1
    assert (await audit.verify(published)).ok

    await _rewrite_whole_chain(students=5)
    assert await problems() == []  # consistent inside the database…
    report = await audit.verify(published)  # …but not with what was handed out
    assert [p.message for p in report.problems] == [
        f"record 3 no longer matches the head published for {today.isoformat()}: "
        "a record up to it was changed or removed"
    ]


def test_a_forged_digest_line_is_refused() -> None:
    head = audit.Head(date(2026, 5, 1), 1, 3, "ab" * 32, 1, b"\x00" * 64)
    assert audit.parse_digest(head.line()) == [head]
    with pytest.raises(ValueError, match="line 2"):
        audit.parse_digest("# header\nnot a head\n")
    assert not audit._check_signature(head, {1: b"\x01" * 32})


async def test_concurrent_scans_never_fork_a_chain(client: httpx.AsyncClient, frozen: Clock) -> None:
    """Twenty passes scanned at once at one venue: twenty records, 1..20, one unbroken chain."""
    from tests.helpers import World

    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(capacity=2000, starts_at=at(10), ends_at=at(12))
    codes = [(await w.book(slot["id"], 30, 2)).json()["code"] for _ in range(20)]
    frozen.set(at(9, 50))
    results = await asyncio.gather(*(w.post("staff_a", "/api/v1/checkins", {"token": c}) for c in codes))
    assert [r.status_code for r in results] == [200] * 20
    entries = await ENTRIES.fetch()
    assert [e["seq"] for e in entries] == list(range(1, 21))
    assert (await audit.verify()).ok
    assert canonical({"b": 1, "a": [1]}) == '{"a":[1],"b":1}'


async def test_admissions_refusals_and_replays_at_once_chain_as_python_would(
    client: httpx.AsyncClient, frozen: Clock
) -> None:
    """PostgreSQL hashes each entry inside the statement that writes it; every hash must be the one
    chain.entry_hash gives, whatever the record holds (here a device named in Chinese), when
    admissions, refusals and the same nonce twice race at one door."""
    from tests.helpers import World

    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(capacity=2000, starts_at=at(10), ends_at=at(12))
    codes = [(await w.book(slot["id"], 30, 2)).json()["code"] for _ in range(7)]
    frozen.set(at(9, 50))
    scans = [{"token": c, "device": "东门扫码枪"} for c in codes[:6]]  # six admissions…
    scans += [{"token": codes[0], "device": "西门"}]  # …a second scan of one pass…
    scans += [{"token": "KP1.NOTAPASS", "device": "西门"}]  # …a token that is no pass…
    scans += [{"token": codes[6], "nonce": "east-door-0001"}] * 2  # …and one scan sent twice
    results = await asyncio.gather(*(w.post("staff_a", "/api/v1/checkins", s) for s in scans))
    # The nonce's twin gets the first answer again and records nothing.
    assert sorted(r.status_code for r in results) == [200] * 8 + [400, 409]
    entries = await ENTRIES.fetch()
    assert [e["seq"] for e in entries] == list(range(1, 10))
    prev = GENESIS
    for e in entries:
        assert e["prev_hash"] == prev and e["hash"] == entry_hash(prev, e["payload"]), e
        prev = e["hash"]
    assert any("东门扫码枪" in e["payload"] for e in entries)
    assert (await audit.verify()).ok


async def test_the_worker_publishes_yesterdays_heads_once_and_mails_them(
    client: httpx.AsyncClient, frozen: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from messaging import worker
    from messaging.tables import Outbox

    await _scene(client, frozen)
    monkeypatch.setenv("KEPU_LEDGER_DIR", str(tmp_path))
    monkeypatch.setenv("KEPU_AUDIT_MAIL", "audit@kxie.example")
    assert audit.publish_yesterday in worker.JOBS
    frozen.set(at(9, days=1))  # the next morning
    assert await audit.publish_yesterday() == 1
    assert await audit.publish_yesterday() == 0  # once a day
    mails = await Outbox.select(Outbox.recipient, Outbox.attachment).where(Outbox.kind == "ledger_heads")
    assert len(mails) == 1 and mails[0]["recipient"] == "audit@kxie.example"
    heads = audit.parse_digest(bytes(mails[0]["attachment"]).decode())
    assert [h.seq for h in heads] == [3]
    assert (await audit.verify(heads)).ok
