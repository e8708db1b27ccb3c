"""The worker: a real SMTP server (aiosmtpd) receives the outbox; SMTP down loses nothing; two workers
send each message once; reminders are queued once; no-shows get one strike (both engines)."""

from __future__ import annotations

import asyncio
import datetime
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from bookings.tables import Strike
from core import clock
from messaging import worker
from messaging.outbox import Attachment, enqueue
from messaging.tables import Outbox
from tests.api_support import at, refresh_tokens, scan
from tests.conftest import Clock
from tests.helpers import World
from tests.messaging.support import SmtpServer, calendar_of, give_email, only_event, outbox

TEACHER = "teacher.a@school.example"


async def booked_world(client: httpx.AsyncClient, frozen: Clock) -> tuple[World, dict[str, Any]]:
    frozen.set(at(8))
    w = await World(client).build()
    await give_email("teacher_a", TEACHER)
    slot = await w.slot(capacity=80, starts_at=at(10, days=3), ends_at=at(12, days=3))
    booking = (await w.book(slot["id"], 30, 2)).json()
    return w, booking


async def test_worker_sends_through_smtp(client: httpx.AsyncClient, frozen: Clock, smtp: SmtpServer) -> None:
    _, booking = await booked_world(client, frozen)
    report = await worker.run_pass(smtp.config())
    assert report.sent == 1 and report.jobs_failed == []
    assert len(smtp.inbox.messages) == 1
    msg = smtp.inbox.messages[0]
    row = (await outbox())[0]
    assert msg["To"] == TEACHER and msg["From"] == "kepu@kepu.example"
    assert msg["Subject"] == row["subject"]
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and booking["code"] in body.get_content()
    event = only_event(calendar_of(msg))
    assert str(event["UID"]) == f"booking-{booking['id']}@kepu"
    assert row["state"] == "sent" and row["attempts"] == 1 and row["sent_at"] == clock.now()
    assert row["locked_until"] is None
    # Sent once: another pass sends nothing more.
    assert (await worker.run_pass(smtp.config())).sent == 0
    assert len(smtp.inbox.messages) == 1


async def test_no_smtp_settings_keep_messages_in_the_outbox(
    client: httpx.AsyncClient, frozen: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await booked_world(client, frozen)
    monkeypatch.delenv("KEPU_SMTP_HOST", raising=False)
    assert worker.SmtpConfig.from_env() is None
    assert (await worker.run_pass(None)).sent == 0
    row = (await outbox())[0]
    assert row["state"] == "pending" and row["attempts"] == 0


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEPU_SMTP_HOST", "smtp.example")
    monkeypatch.setenv("KEPU_SMTP_PORT", "587")
    monkeypatch.setenv("KEPU_SMTP_USER", "kepu")
    monkeypatch.setenv("KEPU_SMTP_PASSWORD", "pw")
    monkeypatch.setenv("KEPU_SMTP_STARTTLS", "1")
    monkeypatch.setenv("KEPU_MAIL_FROM", "科普预约 <noreply@kepu.example>")
    config = worker.SmtpConfig.from_env()
    assert config is not None
    row = {
        "id": 1,
        "subject": "预约成功",
        "recipient": "t@school.example",
        "body": "正文",
        "attachment": None,
    }
    msg = worker.build_message({**row, "attachment_name": "", "attachment_type": ""}, config.sender)
    assert str(msg["Message-ID"]).endswith("@kepu.example>")
    assert "noreply@kepu.example" in str(msg["From"]) and str(msg["Subject"]) == "预约成功"
    assert (config.host, config.port, config.user, config.password) == ("smtp.example", 587, "kepu", "pw")
    assert config.starttls and not config.ssl
    assert config.sender == "科普预约 <noreply@kepu.example>"
    assert "pw" not in repr(config)


async def test_smtp_down_keeps_the_message_and_retries_with_backoff(
    client: httpx.AsyncClient, frozen: Clock, smtp: SmtpServer
) -> None:
    await booked_world(client, frozen)
    smtp.stop()
    assert (await worker.run_pass(smtp.config())).sent == 0
    row = (await outbox())[0]
    assert row["state"] == "pending" and row["attempts"] == 1
    assert "Connection" in row["last_error"] or "Errno" in row["last_error"], row["last_error"]
    assert row["next_attempt_at"] == clock.now() + datetime.timedelta(seconds=30)
    assert row["locked_until"] is None
    # Not due yet: a pass right away does not try again.
    smtp.start()
    assert (await worker.run_pass(smtp.config())).sent == 0
    smtp.stop()
    frozen.advance(datetime.timedelta(seconds=31))
    await worker.run_pass(smtp.config())
    row = (await outbox())[0]
    assert row["attempts"] == 2 and row["state"] == "pending"
    assert row["next_attempt_at"] == clock.now() + datetime.timedelta(minutes=1)  # doubled
    # The server comes back: the message goes out, once.
    smtp.start()
    frozen.advance(datetime.timedelta(minutes=2))
    assert (await worker.run_pass(smtp.config())).sent == 1
    row = (await outbox())[0]
    assert row["state"] == "sent" and row["attempts"] == 3 and row["last_error"] == ""
    assert len(smtp.inbox.messages) == 1


async def test_a_down_server_stops_the_pass_after_one_attempt(running: object, smtp: SmtpServer) -> None:
    await queue(3)
    smtp.stop()
    assert await worker.send_due(smtp.config()) == 0
    assert [(r["attempts"], r["state"]) for r in await outbox()] == [
        (1, "pending"),
        (0, "pending"),
        (0, "pending"),
    ]
    assert all(r["locked_until"] is None for r in await outbox())
    smtp.start()
    assert await worker.send_due(smtp.config()) == 2  # the first waits for its back-off
    assert len(smtp.inbox.messages) == 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_login(running: object) -> None:
    server = SmtpServer(login=("kepu", "s3cret"))
    server.start()
    try:
        await queue(1)
        assert await worker.send_due(server.config(user="kepu", password="wrong")) == 0
        row = (await outbox())[0]
        assert row["state"] == "pending" and "535" in row["last_error"]  # kept: the settings can be fixed
        await Outbox.update({Outbox.next_attempt_at: clock.now()}).where(Outbox.id == row["id"])
        assert await worker.send_due(server.config(user="kepu", password="s3cret")) == 1
        assert len(server.inbox.messages) == 1
    finally:
        server.stop()


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [worker.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert worker.backoff(50) == datetime.timedelta(hours=1)


async def test_a_refused_recipient_is_marked_failed(
    client: httpx.AsyncClient, frozen: Clock, smtp: SmtpServer
) -> None:
    await booked_world(client, frozen)

    class Refusing:
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            return "550 No such user here"

    smtp.stop()
    smtp.inbox = Refusing()  # type: ignore[assignment]
    smtp.start()
    await worker.run_pass(smtp.config())
    row = (await outbox())[0]
    assert row["state"] == "failed" and row["attempts"] == 1 and "550" in row["last_error"]


async def queue(n: int) -> None:
    for i in range(n):
        await enqueue(
            kind="test",
            recipient=f"t{i}@school.example",
            subject=f"message {i}",
            body=f"body {i}",
            attachment=Attachment("a.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),
        )


async def test_two_workers_at_once_send_each_message_once(running: object, smtp: SmtpServer) -> None:
    await queue(30)
    config = smtp.config()
    reports = await asyncio.gather(*(worker.run_pass(config) for _ in range(3)))
    assert sum(r.sent for r in reports) == 30
    subjects = sorted(str(m["Subject"]) for m in smtp.inbox.messages)
    assert subjects == sorted(f"message {i}" for i in range(30))
    assert await Outbox.count().where(Outbox.state == "sent") == 30


KEPU = Path(sys.executable).parent / "kepu"


@pytest.mark.skipif(not KEPU.exists(), reason="no kepu executable")
async def test_two_worker_processes_race(database_url: str, running: object, smtp: SmtpServer) -> None:
    """Two `kepu worker --once` processes started together on the same database: each message once."""
    await queue(40)
    smtp.inbox.delay = 0.1  # 4 s of sending: the two processes overlap
    env = {k: v for k, v in os.environ.items() if k != "KEPU_TEST_DATABASE"}
    env.update(
        DATABASE_URL=database_url,
        KEPU_SMTP_HOST="127.0.0.1",
        KEPU_SMTP_PORT=str(smtp.port),
        KEPU_MAIL_FROM="kepu@kepu.example",
    )
    procs = [
        await asyncio.create_subprocess_exec(
            str(KEPU), "worker", "--once", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    results = [await asyncio.wait_for(p.communicate(), 120) for p in procs]
    sent_by = []
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err.decode()[-2000:]
        found = re.search(r"worker: (\d+) sent", err.decode())
        sent_by.append(int(found.group(1)) if found else 0)
    assert sum(sent_by) == 40
    assert all(sent_by), sent_by  # both really worked at once
    subjects = sorted(str(m["Subject"]) for m in smtp.inbox.messages)
    assert subjects == sorted(f"message {i}" for i in range(40))
    assert await Outbox.count().where(Outbox.state == "sent") == 40


async def test_reminder_is_queued_once_the_day_before(
    client: httpx.AsyncClient, frozen: Clock, smtp: SmtpServer
) -> None:
    w, booking = await booked_world(client, frozen)  # visit on day 3 at 10:00
    other = await w.slot(capacity=80, starts_at=at(14, days=3), ends_at=at(16, days=3))
    cancelled = (await w.book(other["id"], 10, 1)).json()
    assert (await w.post("teacher_a", f"/api/v1/bookings/{cancelled['id']}/cancel")).status_code == 200
    frozen.set(at(9, days=1))  # two days before: nothing yet
    assert (await worker.run_pass(None)).reminders == 0
    frozen.set(at(7, days=2))  # the day before, before 08:00: not yet
    assert (await worker.run_pass(None)).reminders == 0
    frozen.set(at(8, 30, days=2))
    reports = await asyncio.gather(worker.run_pass(None), worker.run_pass(None))
    assert sum(r.reminders for r in reports) == 1
    assert (await worker.run_pass(None)).reminders == 0
    reminders = await outbox(kind="reminder")
    assert len(reminders) == 1
    assert reminders[0]["booking_id"] == booking["id"]
    assert reminders[0]["dedupe_key"] == f"reminder:{booking['id']}"
    assert reminders[0]["recipient"] == TEACHER
    await worker.run_pass(smtp.config())
    sent = [m for m in smtp.inbox.messages if m["Subject"] == reminders[0]["subject"]]
    assert len(sent) == 1
    assert str(only_event(calendar_of(sent[0]))["STATUS"]) == "CONFIRMED"


async def test_no_show_strike_once_and_only_for_no_shows(client: httpx.AsyncClient, frozen: Clock) -> None:
    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(capacity=200, starts_at=at(10), ends_at=at(12))
    no_show = (await w.book(slot["id"], 30, 2)).json()
    admitted = (await w.book(slot["id"], 30, 2, who="teacher_b")).json()
    cancelled = (await w.book(slot["id"], 30, 2, who="teacher_a2")).json()
    assert (await w.post("teacher_a2", f"/api/v1/bookings/{cancelled['id']}/cancel")).status_code == 200
    frozen.set(at(10, 5))
    assert (await scan(w, "staff_a", admitted["qr_token"])).json()["result"] == "admitted"
    frozen.set(at(12, 30))  # the slot ended 30 minutes ago: within the grace period
    assert (await worker.run_pass(None)).no_shows == 0
    frozen.set(at(13, 1))  # 61 minutes after the end
    reports = await asyncio.gather(worker.run_pass(None), worker.run_pass(None))
    assert sum(r.no_shows for r in reports) == 1
    assert (await worker.run_pass(None)).no_shows == 0
    strikes = await Strike.select(Strike.booking, Strike.kind, Strike.school)
    assert [(s["booking"], s["kind"]) for s in strikes] == [(no_show["id"], "no_show")]
    assert strikes[0]["school"] == no_show["school_id"]
    await refresh_tokens(w)
    page = await w.get("auditor", f"/api/v1/bookings/{no_show['id']}")
    assert page.status_code == 200


async def test_grace_period_from_the_environment(
    client: httpx.AsyncClient, frozen: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEPU_NO_SHOW_GRACE_MINUTES", "10")
    frozen.set(at(8))
    w = await World(client).build()
    slot = await w.slot(capacity=200, starts_at=at(10), ends_at=at(12))
    await w.book(slot["id"], 30, 2)
    frozen.set(at(12, 9))
    assert (await worker.run_pass(None)).no_shows == 0
    frozen.set(at(12, 11))
    assert (await worker.run_pass(None)).no_shows == 1


async def test_registered_jobs_run_and_a_failing_one_does_not_stop_the_others(
    running: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []

    async def broken() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        ran.append("fine")

    monkeypatch.setattr(worker, "JOBS", [broken, fine])
    report = await worker.run_pass(None)
    assert ran == ["fine"]
    assert len(report.jobs_failed) == 1 and "broken" in report.jobs_failed[0]
