"""The `kepu` command: migrate, serve, user add, demo, audit, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import signal
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import core  # noqa: F401  (PICCOLO_CONF before Piccolo looks for its engine)
from core.errors import DomainError

if TYPE_CHECKING:
    from litestar import Litestar


async def _migrate(quiet: bool = True) -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from core import db

    out = io.StringIO()
    with contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext():
        response = await run_forwards(app_name="all", migration_id="all", fake=False)
    if not response.success:
        raise SystemExit(f"kepu migrate: {response.message}")
    engine = db.engine()
    if db.is_sqlite(engine):
        # WAL is a property of the file: set once here, every later connection uses it.
        from piccolo.querystring import QueryString

        await engine.run_querystring(QueryString("PRAGMA journal_mode=WAL"))
        async with db.database_lifespan(pool_size=1):
            await db.refresh_statistics(force=True)


def cmd_migrate(args: argparse.Namespace) -> int:
    asyncio.run(_migrate(quiet=not args.verbose))
    print("kepu migrate: the database schema is current.")
    return 0


def served_app() -> Litestar:
    """The app as `kepu serve` runs it: once started, what it holds for good is frozen out of the
    garbage collector's full collections (core.memory.settle_heap)."""
    from core.memory import settle_heap
    from kepu.app import create_app

    app = create_app()
    app.on_startup.append(settle_heap)
    return app


def cmd_serve(args: argparse.Namespace) -> int:
    # uvicorn finishes the requests in flight on SIGTERM/SIGINT, then re-raises the signal to the
    # handler that was installed before it started. This one turns it into a clean exit with
    # status 0 (api.md), also for a signal that arrives before uvicorn is listening — so it goes in
    # before the (slow) imports of the app.
    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)

    from core.memory import return_large_blocks

    return_large_blocks()  # before any thread starts (core/memory.py)
    import uvicorn

    uvicorn.run(
        served_app(),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        proxy_headers=True,
        timeout_graceful_shutdown=15,
        access_log=args.access_log,
    )
    return 0


async def _audit(args: argparse.Namespace) -> int:
    from core import clock
    from core.db import database_lifespan
    from ledger import audit

    async with database_lifespan(pool_size=2):
        if args.audit_command == "publish":
            day = args.day or clock.today() - timedelta(days=1)
            path = await audit.publish_digest(day)
            print(f"kepu audit publish: the heads of {day.isoformat()} are signed and written to {path}.")
            return 0
        published: list[audit.Head] = []
        for digest in args.digest:
            try:
                published += audit.parse_digest(digest.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                print(f"kepu audit verify: cannot use {digest}: {exc}", file=sys.stderr)
                return 2
        report = await audit.verify(published)
        from evaluation import totals

        drifted = await totals.drift()
    lines = audit.describe(report)
    print(f"kepu audit verify: {lines[0]}")
    for line in lines[1:]:
        print(f"kepu audit verify: {line}", file=sys.stderr)
    if report.ok:
        print("kepu audit verify: every chain is whole and matches its check-ins and signed heads.")
    if drifted:
        print(
            f"kepu audit verify: {len(drifted)} of the evaluation's running totals differ from the check-ins"
            " and bookings they add up (changed behind kepu's back):",
            file=sys.stderr,
        )
        for line in totals.describe(drifted):
            print(f"kepu audit verify:   {line}", file=sys.stderr)
    else:
        print("kepu audit verify: the evaluation's running totals match the check-ins and bookings.")
    return 0 if report.ok and not drifted else 1


def cmd_audit(args: argparse.Namespace) -> int:
    return asyncio.run(_audit(args))


def cmd_backup(args: argparse.Namespace) -> int:
    from kepu.backup import BackupError, backup

    try:
        path = backup(args.file)
    except BackupError as exc:
        print(f"kepu backup: {exc}", file=sys.stderr)
        return 1
    print(f"kepu backup: wrote {path} ({path.stat().st_size} bytes).")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from kepu.backup import BackupError, restore

    if not args.yes:
        print(
            "kepu restore: this replaces every row in the database with the backup's. "
            "Stop `kepu serve` and `kepu worker`, then run again with --yes.",
            file=sys.stderr,
        )
        return 2
    try:
        restore(args.file)
    except BackupError as exc:
        print(f"kepu restore: {exc}", file=sys.stderr)
        return 1
    print(f"kepu restore: the database now holds the backup {args.file}.")
    return 0


async def _user_add(args: argparse.Namespace) -> str:
    from accounts import services as accounts
    from auditlog import CONSOLE
    from core.db import database_lifespan, write_transaction
    from venues import services as venues

    venue_id: int = args.venue if args.venue is not None else 0
    async with database_lifespan(pool_size=2):
        school_id = None
        if args.role == "teacher":
            if not args.school or not args.district:
                raise SystemExit("kepu user add: a teacher needs --school NAME and --district DISTRICT")
            school_id = (await accounts.find_or_create_school(args.school, args.district)).id
        elif args.school or args.district:
            raise SystemExit("kepu user add: --school and --district are only for teachers")
        if args.role == "staff":
            if args.venue is None:
                raise SystemExit("kepu user add: staff need --venue VENUE_ID")
            await venues.get_venue(args.venue)
        elif args.venue is not None:
            raise SystemExit("kepu user add: --venue is only for staff")
        async with write_transaction():
            user_id = await accounts.create_user(
                args.username,
                args.password,
                args.role,
                display_name=args.name or "",
                school_id=school_id,
                # The operator at the console chooses; the password rules guard self-service forms.
                min_password_length=1,
                actor=CONSOLE,
            )
            if args.role == "staff":
                await venues.add_staff(venue_id, user_id, args.staff_role, actor=CONSOLE)
    return f"kepu user add: created {args.role} {args.username!r} (id {user_id})."


def cmd_user_add(args: argparse.Namespace) -> int:
    try:
        print(asyncio.run(_user_add(args)))
    except DomainError as exc:
        print(f"kepu user add: {exc.message()}", file=sys.stderr)
        return 1
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    # As for serve: a stop that arrives while the (slow) imports run still exits 0; once the
    # worker's loop runs, it takes SIGTERM/SIGINT over and finishes the message in hand first.
    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    import logging

    from core.memory import return_large_blocks
    from messaging import worker

    return_large_blocks()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(worker.run(once=args.once, interval=args.interval))


def cmd_demo(args: argparse.Namespace) -> int:
    from kepu.demo import run_demo

    return asyncio.run(run_demo(force=args.force, if_empty=args.if_empty))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kepu",
        description="kepu (科普预约): booking and check-in for science venues. "
        "The database comes from DATABASE_URL (sqlite:///PATH or postgresql://...); "
        "unset, an SQLite file under ./data/.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="bring the database to the current schema (idempotent)")
    p.add_argument("-v", "--verbose", action="store_true", help="show each migration as it runs")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("serve", help="serve the web pages and the JSON API until SIGTERM/SIGINT")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", 8000)), help="port (default $PORT or 8000)"
    )
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("audit", help="the check-in ledger: publish signed daily heads, verify the chains")
    audit_sub = p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_sub.add_parser(
        "verify", help="recompute every chain; exit 1 naming the first changed or removed record"
    )
    verify.add_argument(
        "--digest", type=Path, action="append", default=[], help="a published heads file to check against"
    )
    verify.set_defaults(func=cmd_audit)
    publish = audit_sub.add_parser("publish", help="sign the day's chain heads and write the digest file")
    publish.add_argument(
        "--day", type=date.fromisoformat, help="YYYY-MM-DD, Beijing time (default: yesterday)"
    )
    publish.set_defaults(func=cmd_audit)

    p = sub.add_parser("backup", help="write a consistent copy of the whole database to a new file")
    p.add_argument("file", type=Path, help="the backup file to create (it must not exist)")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="replace the database's contents with a backup (servers stopped)")
    p.add_argument("file", type=Path, help="a file made by `kepu backup` for the same kind of database")
    p.add_argument("--yes", action="store_true", help="confirm: every row is replaced")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("user", help="manage accounts")
    user_sub = p.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_sub.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--password", required=True, help="the password (hashed with argon2id)")
    add.add_argument("--role", required=True, choices=["teacher", "staff", "auditor"])
    add.add_argument("--venue", type=int, help="the venue id (staff only, required for staff)")
    add.add_argument("--staff-role", default="door", choices=["door", "supervisor"], help="staff only")
    add.add_argument("--school", help="the school's name (teachers; registered if new)")
    add.add_argument("--district", help="the school's district, one of Xiamen's six (teachers)")
    add.add_argument("--name", help="display name")
    add.set_defaults(func=cmd_user_add)

    p = sub.add_parser(
        "demo", help="fill an empty database with a realistic Xiamen demo and print the logins"
    )
    p.add_argument("--force", action="store_true", help="add the demo even if the database has venues")
    p.add_argument(
        "--if-empty", action="store_true", help="do nothing (exit 0) when the database already has venues"
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("worker", help="send queued e-mail, queue reminders, mark no-shows; until SIGTERM")
    p.add_argument("--once", action="store_true", help="run one pass of every job and exit")
    p.add_argument("--interval", type=float, default=None, help="seconds between passes (default 15)")
    p.set_defaults(func=cmd_worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
