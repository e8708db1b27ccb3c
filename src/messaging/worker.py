"""`kepu worker`: the background jobs of kepu, safe to run twice by mistake.

Each pass:
(a) sends the outbox's due messages over SMTP (KEPU_SMTP_*). A message is leased before it is sent
    (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: a conditional UPDATE in an IMMEDIATE transaction),
    so two workers never send the same one; a failure keeps it pending with the error and a later
    attempt (exponential back-off), so nothing is lost while the SMTP server is down. Without SMTP
    settings nothing is sent and messages wait in the outbox (auditors see them at /audit/outbox);
(b) queues the reminder of each confirmed visit on the day before (once per booking);
(c) gives a school a no-show strike for each confirmed booking nobody was admitted for, once its
    slot ended more than KEPU_NO_SHOW_GRACE_MINUTES ago (once per booking);
(d) runs the jobs other modules registered in JOBS (each must be safe to run twice at once).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import smtplib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from bookings.tables import Booking, Strike
from core import clock
from core.db import database_lifespan, is_sqlite, refresh_statistics, write_transaction
from messaging import notify
from messaging.tables import Outbox

log = logging.getLogger("kepu.worker")

Job = Callable[[], Awaitable[object]]
# Periodic jobs of other modules (e.g. waitlist hold expiry): `worker.JOBS.append(fn)` at import time.
# Each runs once per pass, after the worker's own work; one that raises is logged and tried next pass.
JOBS: list[Job] = []

LEASE = timedelta(minutes=5)  # longer than any one SMTP conversation (timeout below)
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)  # back-off doubles up to this, and keeps trying: nothing is dropped
BATCH = 200  # messages sent per pass at most, so the other jobs get their turn
REMINDER_FROM = time(8, 0)  # reminders for tomorrow's visits go out from 08:00 Beijing time
NO_SHOW_LOOKBACK = timedelta(days=30)  # older slots are left alone (e.g. after a long outage)
DEFAULT_GRACE_MINUTES = 60
DEFAULT_INTERVAL_S = 15.0
JOB_MODULES = ("bookings.services", "bookings.waitlist", "ledger.audit", "privacy.namelists")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    user: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    ssl: bool = False
    sender: str = "kepu@localhost"
    timeout: float = 30.0

    @classmethod
    def from_env(cls) -> SmtpConfig | None:
        """None when KEPU_SMTP_HOST is unset: messages then stay in the outbox."""
        host = os.environ.get("KEPU_SMTP_HOST", "").strip()
        if not host:
            return None
        use_ssl = _flag("KEPU_SMTP_SSL")
        return cls(
            host=host,
            port=int(os.environ.get("KEPU_SMTP_PORT") or (465 if use_ssl else 25)),
            user=os.environ.get("KEPU_SMTP_USER", ""),
            password=os.environ.get("KEPU_SMTP_PASSWORD", ""),
            starttls=_flag("KEPU_SMTP_STARTTLS"),
            ssl=use_ssl,
            sender=os.environ.get("KEPU_MAIL_FROM", "").strip() or f"kepu@{host}",
            timeout=float(os.environ.get("KEPU_SMTP_TIMEOUT") or 30),
        )


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def grace() -> timedelta:
    return timedelta(minutes=int(os.environ.get("KEPU_NO_SHOW_GRACE_MINUTES") or DEFAULT_GRACE_MINUTES))


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, … at most an hour."""
    return min(FIRST_RETRY * (2 ** max(0, min(attempts - 1, 20))), LAST_RETRY)


# -- (a) the outbox ------------------------------------------------------------------------------


async def claim_one() -> int | None:
    """Lease the next due message to this worker; None when none is due (or all are leased)."""
    now = clock.now()
    lock = "" if is_sqlite() else " FOR UPDATE SKIP LOCKED"
    sql = (
        "UPDATE messaging_outbox SET locked_until = {} WHERE id = ("
        "SELECT id FROM messaging_outbox WHERE state = 'pending' AND next_attempt_at <= {} "
        "AND (locked_until IS NULL OR locked_until < {}) ORDER BY next_attempt_at, id LIMIT 1" + lock + ") "
        "AND state = 'pending' AND (locked_until IS NULL OR locked_until < {}) RETURNING id"
    )
    async with write_transaction():
        rows = await Outbox.raw(sql, now + LEASE, now, now, now)
    return int(rows[0]["id"]) if rows else None


def build_message(row: dict[str, Any], sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = row["subject"]
    msg["From"] = sender
    msg["To"] = row["recipient"]
    msg["Date"] = format_datetime(clock.now())
    domain = parseaddr(sender)[1].rpartition("@")[2] or "kepu.local"
    msg["Message-ID"] = make_msgid(idstring=f"outbox-{row['id']}", domain=domain)
    msg.set_content(row["body"])
    if row["attachment"] is not None and row["attachment_name"]:
        content_type, *params = (p.strip() for p in (row["attachment_type"] or "").split(";"))
        maintype, _, subtype = (content_type or "application/octet-stream").partition("/")
        extra = dict(p.split("=", 1) for p in params if "=" in p and not p.startswith("charset"))
        msg.add_attachment(
            bytes(row["attachment"]),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=row["attachment_name"],
            params=extra,
        )
    return msg


def _smtp_send(config: SmtpConfig, msg: EmailMessage) -> None:
    """One SMTP conversation (blocking: run it in a thread)."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config.ssl:
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with smtp:
        if config.starttls and not config.ssl:
            smtp.starttls(context=context)
        if config.user:
            smtp.login(config.user, config.password)
        smtp.send_message(msg)


def _permanent(exc: BaseException) -> bool:
    """A refusal that will not change by trying again (a 5xx reply about this message)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


class TryLater(Exception):
    """A message could not be sent for a reason that will likely hit the next one too (server down,
    login refused, a 4xx reply): the pass stops sending, and the next pass tries again."""


async def send_one(config: SmtpConfig, message_id: int) -> bool:
    """Send a leased message and record the outcome; True when it was sent, False when it was refused
    for good (state failed), TryLater when it stays pending for another attempt."""
    row = await Outbox.select().where(Outbox.id == message_id).first()
    if row is None or row["state"] != "pending":
        return False
    try:
        msg = build_message(row, config.sender)
        await asyncio.to_thread(_smtp_send, config, msg)
    except Exception as exc:
        attempts = row["attempts"] + 1
        failed = _permanent(exc)
        error = f"{type(exc).__name__}: {exc}"[:500]
        await Outbox.update(
            {
                Outbox.attempts: attempts,
                Outbox.last_error: error,
                Outbox.state: "failed" if failed else "pending",
                Outbox.next_attempt_at: clock.now() + backoff(attempts),
                Outbox.locked_until: None,
            }
        ).where(Outbox.id == message_id)
        log.warning("outbox %s to %s: attempt %s failed: %s", message_id, row["recipient"], attempts, error)
        if not failed:
            raise TryLater(error) from exc
        return False
    await Outbox.update(
        {
            Outbox.state: "sent",
            Outbox.sent_at: clock.now(),
            Outbox.attempts: row["attempts"] + 1,
            Outbox.last_error: "",
            Outbox.locked_until: None,
        }
    ).where(Outbox.id == message_id)
    return True


async def send_due(config: SmtpConfig | None, limit: int = BATCH, stop: asyncio.Event | None = None) -> int:
    """Send due messages; stops at the first failure that is not about that message alone."""
    if config is None:
        return 0
    sent = 0
    for _ in range(limit):
        if stop is not None and stop.is_set():
            break
        message_id = await claim_one()
        if message_id is None:
            break
        try:
            sent += await send_one(config, message_id)
        except TryLater:
            break
    return sent


# -- (b) reminders -------------------------------------------------------------------------------


async def queue_reminders() -> int:
    """Queue the reminder of every confirmed visit tomorrow (Beijing time), from 08:00 today on."""
    local_now = clock.local(clock.now())
    if local_now.time() < REMINDER_FROM:
        return 0
    lo, hi = clock.day_bounds(local_now.date() + timedelta(days=1))
    rows = await Booking.select(Booking.id).where(
        (Booking.status == "confirmed")
        & (Booking.slot.starts_at >= lo)
        & (Booking.slot.starts_at < hi)
        & Booking.slot.cancelled_at.is_null()
    )
    ids = [int(r["id"]) for r in rows]
    if not ids:
        return 0
    keys = {f"reminder:{i}": i for i in ids}
    done = {
        r["dedupe_key"]
        for r in await Outbox.select(Outbox.dedupe_key).where(Outbox.dedupe_key.is_in(list(keys)))
    }
    queued = 0
    for key, booking_id in keys.items():
        if key in done:
            continue
        async with write_transaction():
            status = await Booking.select(Booking.status).where(Booking.id == booking_id).first()
            if status is None or status["status"] != "confirmed":
                continue
            # The dedupe key makes a second worker's (or a later pass's) insert add nothing.
            queued += await notify.booking_event("reminder", booking_id, dedupe_key=key)
    return queued


# -- (c) no-shows --------------------------------------------------------------------------------


async def mark_no_shows(grace_period: timedelta | None = None) -> int:
    """A no_show strike for each confirmed booking with nobody admitted, its slot over by the grace period."""
    until = clock.now() - (grace() if grace_period is None else grace_period)
    rows = await Booking.select(Booking.id).where(
        (Booking.status == "confirmed")
        & (Booking.admitted_students == 0)
        & (Booking.admitted_chaperones == 0)
        & (Booking.slot.ends_at <= until)
        & (Booking.slot.starts_at >= until - NO_SHOW_LOOKBACK)
        & Booking.slot.cancelled_at.is_null()
    )
    ids = [int(r["id"]) for r in rows]
    if not ids:
        return 0
    struck = {
        int(r["booking"])
        for r in await Strike.select(Strike.booking).where(
            Strike.booking.is_in(ids) & (Strike.kind == "no_show")
        )
    }
    marked = 0
    for booking_id in ids:
        if booking_id in struck:
            continue
        async with write_transaction():
            query = Booking.select(
                Booking.school, Booking.status, Booking.admitted_students, Booking.admitted_chaperones
            ).where(Booking.id == booking_id)
            if not is_sqlite():
                # A second worker waits here, then sees the strike this one adds (READ COMMITTED).
                query = query.lock_rows()
            booking = await query.first()
            if (
                booking is None
                or booking["status"] != "confirmed"
                or booking["admitted_students"] + booking["admitted_chaperones"] > 0
            ):
                continue
            if await Strike.exists().where((Strike.booking == booking_id) & (Strike.kind == "no_show")):
                continue
            await Strike.insert(
                Strike(school=booking["school"], booking=booking_id, kind="no_show", created_at=clock.now())
            )
            marked += 1
    return marked


# -- the loop ------------------------------------------------------------------------------------


@dataclass
class PassReport:
    sent: int = 0
    reminders: int = 0
    no_shows: int = 0
    jobs_failed: list[str] = field(default_factory=list)


async def _step(report: PassReport, name: str, fn: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return await fn()
    except Exception:
        log.exception("worker: %s failed; trying again next pass", name)
        report.jobs_failed.append(name)
        return 0


async def run_pass(config: SmtpConfig | None = None, stop: asyncio.Event | None = None) -> PassReport:
    """One pass of every job (what `kepu worker --once` does); the database must be open."""
    report = PassReport()
    report.reminders = await _step(report, "reminders", queue_reminders)
    report.no_shows = await _step(report, "no-shows", mark_no_shows)
    for job in list(JOBS):
        await _step(report, getattr(job, "__qualname__", repr(job)), job)
    await _step(report, "statistics", refresh_statistics)  # SQLite only, at most hourly
    # Last, so a reminder queued in this pass goes out in it too.
    report.sent = await _step(report, "outbox", lambda: send_due(config, stop=stop))
    return report


def _import_job_modules() -> None:
    """Modules register their jobs in JOBS when imported: import those that may (a module that adds a
    job elsewhere adds its name here)."""
    import importlib

    for name in JOB_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


async def run(*, once: bool = False, interval: float | None = None) -> int:
    """The worker's loop until SIGTERM/SIGINT (exit 0); with once, a single pass (exit 1 if a job
    of it failed)."""
    if interval is None:
        interval = float(os.environ.get("KEPU_WORKER_INTERVAL_SECONDS") or DEFAULT_INTERVAL_S)
    logging.getLogger("piccolo").setLevel(logging.WARNING)  # its start-up banner is not news
    _import_job_modules()
    config = SmtpConfig.from_env()
    if config is None:
        log.warning("KEPU_SMTP_HOST is not set: e-mail is kept in the outbox and not sent")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with database_lifespan(pool_size=2):
        while True:
            report = await run_pass(config, stop)
            if report.sent or report.reminders or report.no_shows:
                log.info(
                    "worker: %s sent, %s reminders queued, %s no-shows marked",
                    report.sent,
                    report.reminders,
                    report.no_shows,
                )
            if once:
                return 1 if report.jobs_failed else 0
            if stop.is_set():
                return 0
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                continue
            return 0


__all__ = [
    "JOBS",
    "PassReport",
    "SmtpConfig",
    "build_message",
    "claim_one",
    "mark_no_shows",
    "queue_reminders",
    "run",
    "run_pass",
    "send_due",
]
