"""The permission table that `tests/test_permissions.py` walks: what every route answers to whom.

One line per route: `"METHOD /path/{param}": "anon teacher_a teacher_b staff_a staff_b auditor"`,
the path as the app declares it without the parameter types (`{booking_id}`, not `{booking_id:int}`),
and one outcome for each of the six roles, in this order:

    anon       not signed in
    teacher_a  teacher of school A, who made the bookings, waitlist entries and feedback of the world
    teacher_b  teacher of school B
    staff_a    staff (a supervisor) of venue A, where every slot, room, programme, series of the world is
    staff_b    staff (a supervisor) of venue B
    auditor    the science association

Path parameters are filled with the objects of school A / venue A (`build_world` in
tests/test_permissions.py; a route with a new kind of parameter needs its object added there).
Outcomes:

    ok     allowed: 2xx, or a redirect anywhere but the guard's `/login?next=…`; a mutation sent with
           an empty body may also be refused on its merits (400, 409, 413, 415, 422, and a page's 401
           for wrong credentials) — but never 403/404/5xx
    login  not signed in: pages redirect to /login?next=…, the API answers 401
    403    signed in, but the role may not do this (or, for a venue and its slots, which everyone signed
           in may see, the staff of another venue may not manage them: "You can only manage your own venue")
    404    the object belongs to someone else and its existence is not told (another school's booking,
           waitlist entry, feedback; another venue's booking or check-in)

Permission is decided before validation: a refused role gets its login/403/404 even for an empty body.
Besides the status, no answer to anon, teacher_b or staff_b may show school A's passes, class or feedback.

A new route: run `KEPU_PERMISSIONS_DUMP=1 pytest -s tests/test_permissions.py -k every_route_as` to see
what it answers in this format, check that against the rules above, and add the line. A route that uses
its object up (cancel, delete, approve …) gets a fresh one per request: add it to `PREPARE` there.
A parameter name means one object everywhere (`entry_id` is a waitlist entry); a route whose
parameter of that name is another kind of object maps it in `PREPARE`: `use(entry_id="log_entry_id")`.
Paths under `SKIPPED` are not walked.
"""

from __future__ import annotations

import re

ROLES = ("anon", "teacher_a", "teacher_b", "staff_a", "staff_b", "auditor")
CODES = {"ok", "login", "403", "404"}

# Left out of the walk, with the reason.
SKIPPED = {
    "/static/": "files from assets/, the same for everybody",
    "/schema": "the OpenAPI documents, public by design (api.md)",
}


def route_key(method: str, path: str) -> str:
    """'GET /bookings/{booking_id}' for the app's 'GET /bookings/{booking_id:int}'."""
    return method + " " + re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)


TABLE: dict[str, str] = {
    "GET /healthz": "ok ok ok ok ok ok",
    "GET /readyz": "ok ok ok ok ok ok",
    "POST /api/v1/auth/token": "ok ok ok ok ok ok",
    "GET /api/v1/venues": "login ok ok ok ok ok",
    "POST /api/v1/venues": "login 403 403 403 403 ok",
    "GET /api/v1/venues/{venue_id}/slots": "login ok ok ok ok ok",
    "POST /api/v1/venues/{venue_id}/slots": "login 403 403 ok 403 ok",
    "GET /api/v1/venues/{venue_id}": "login ok ok ok ok ok",
    "PATCH /api/v1/venues/{venue_id}": "login 403 403 ok 403 ok",
    "GET /api/v1/venues/{venue_id}/blackouts": "login ok ok ok ok ok",
    "POST /api/v1/venues/{venue_id}/blackouts": "login 403 403 ok 403 ok",
    "DELETE /api/v1/venues/{venue_id}/blackouts/{day}": "login 403 403 ok 403 ok",
    "GET /api/v1/slots/{slot_id}": "login ok ok ok ok ok",
    "POST /api/v1/bookings/{booking_id}/approve": "login 403 403 ok 404 403",
    "GET /api/v1/bookings/{booking_id}/calendar.ics": "login ok 404 ok 404 ok",
    "POST /api/v1/bookings/{booking_id}/cancel": "login ok 404 ok 404 ok",
    "GET /api/v1/bookings/{booking_id}": "login ok 404 ok 404 ok",
    "PATCH /api/v1/bookings/{booking_id}": "login ok 404 ok 404 403",
    "GET /api/v1/bookings/{booking_id}/checkins": "login 403 403 ok 404 ok",
    "GET /api/v1/bookings": "login ok ok ok ok ok",
    "POST /api/v1/bookings": "login ok ok 403 403 403",
    "POST /api/v1/bookings/{booking_id}/decline": "login 403 403 ok 404 403",
    "GET /api/v1/bookings/{booking_id}/qr.png": "login ok 404 ok 404 ok",
    "POST /api/v1/checkins": "login 403 403 ok ok 403",
    "POST /api/v1/checkins/{checkin_id}/reverse": "login 403 403 ok 404 403",
    "GET /api/v1/reports/venues": "login 403 403 403 403 ok",
    "GET /api/v1/programmes": "login ok ok ok ok ok",
    "GET /": "ok ok ok ok ok ok",
    "GET /login": "ok ok ok ok ok ok",
    "POST /login": "ok ok ok ok ok ok",
    "POST /logout": "ok ok ok ok ok ok",
    "GET /lang/{code}": "ok ok ok ok ok ok",
    "GET /register": "ok ok ok ok ok ok",
    "POST /register": "ok ok ok ok ok ok",
    "GET /register/sent": "ok ok ok ok ok ok",
    "GET /verify/{token}": "ok ok ok ok ok ok",
    "POST /verify/{token}": "ok ok ok ok ok ok",
    "POST /verify-resend": "ok ok ok ok ok ok",
    "GET /password/forgot": "ok ok ok ok ok ok",
    "POST /password/forgot": "ok ok ok ok ok ok",
    "GET /password/forgot/sent": "ok ok ok ok ok ok",
    "GET /password/reset/{token}": "ok ok ok ok ok ok",
    "POST /password/reset/{token}": "ok ok ok ok ok ok",
    "GET /privacy": "ok ok ok ok ok ok",
    "GET /account": "login ok ok ok ok ok",
    "POST /account/password": "login ok ok ok ok ok",
    "GET /account/data": "login ok ok ok ok ok",
    "POST /account/delete": "login ok ok ok ok ok",
    "GET /audit/schools": "login 403 403 403 403 ok",
    "POST /audit/schools/import": "login 403 403 403 403 ok",
    "POST /audit/schools/import/clean": "login 403 403 403 403 ok",
    "GET /venues/{venue_id}/rules": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/rules": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/blackouts": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/blackouts/{day}/delete": "login 403 403 ok 403 ok",
    "GET /venues": "login ok ok ok ok ok",
    "GET /venues/{venue_id}": "login ok ok ok ok ok",
    "GET /staff": "login 403 403 ok ok 403",
    "POST /venues/{venue_id}/slots/new": "login 403 403 ok 403 ok",
    "GET /audit/venues": "login 403 403 403 403 ok",
    "POST /audit/venues": "login 403 403 403 403 ok",
    "GET /audit/venues/{venue_id}": "login 403 403 403 403 ok",
    "POST /audit/venues/{venue_id}/staff": "login 403 403 403 403 ok",
    "POST /bookings/{booking_id}/headcount": "login ok 404 ok 404 403",
    "GET /staff/requests": "login 403 403 ok ok 403",
    "POST /staff/requests/{booking_id}/approve": "login 403 403 ok 404 403",
    "POST /staff/requests/{booking_id}/decline": "login 403 403 ok 404 403",
    "GET /slots/{slot_id}/book": "login ok ok 403 403 403",
    "POST /slots/{slot_id}/book": "login ok ok 403 403 403",
    "GET /bookings": "login ok ok ok ok ok",
    "GET /bookings/{booking_id}": "login ok 404 ok 404 ok",
    "GET /bookings/{booking_id}/qr.png": "login ok 404 ok 404 ok",
    "GET /bookings/{booking_id}/calendar.ics": "login ok 404 ok 404 ok",
    "POST /bookings/{booking_id}/cancel": "login ok 404 ok 404 ok",
    "GET /slots/{slot_id}": "login 403 403 ok 403 ok",
    "GET /staff/checkin": "login 403 403 ok ok 403",
    "POST /staff/checkin": "login 403 403 ok ok 403",
    "GET /staff/scan": "login 403 403 ok ok 403",
    "POST /staff/scan/check": "login 403 403 ok ok 403",
    "GET /staff/scan/bundle": "login 403 403 ok ok 403",
    "POST /staff/scan/upload": "login 403 403 ok ok 403",
    "GET /staff/sw.js": "ok ok ok ok ok ok",
    "GET /audit": "login 403 403 403 403 ok",
    "GET /audit/report.csv": "login 403 403 403 403 ok",
    "GET /audit/scorecards": "login 403 403 403 403 ok",
    "GET /audit/scorecards.csv": "login 403 403 403 403 ok",
    "GET /audit/scorecards.xlsx": "login 403 403 403 403 ok",
    "GET /audit/scorecards/{venue_id}": "login 403 403 403 403 ok",
    "GET /audit/scorecards/{venue_id}/{metric}": "login 403 403 403 403 ok",
    "GET /audit/anomalies": "login 403 403 403 403 ok",
    "GET /audit/anomalies/{venue_id}": "login 403 403 403 403 ok",
    "GET /audit/targets": "login 403 403 403 403 ok",
    "POST /audit/targets": "login 403 403 403 403 ok",
    "GET /audit/campaigns": "login 403 403 403 403 ok",
    "POST /audit/campaigns": "login 403 403 403 403 ok",
    "GET /audit/bases": "login 403 403 403 403 ok",
    "GET /audit/bases/{venue_id}": "login 403 403 403 403 ok",
    "POST /audit/bases/{venue_id}": "login 403 403 403 403 ok",
    "POST /audit/bases/{venue_id}/status": "login 403 403 403 403 ok",
    "GET /audit/profiles": "login 403 403 403 403 ok",
    "GET /audit/profiles/{profile_id}": "login 403 403 403 403 ok",
    "POST /audit/profiles/{profile_id}": "login 403 403 403 403 ok",
    "GET /audit/bases/import": "login 403 403 403 403 ok",
    "POST /audit/bases/import": "login 403 403 403 403 ok",
    "GET /audit/bases/import/{job_id}": "login 403 403 403 403 ok",
    "POST /audit/bases/import/{job_id}/start": "login 403 403 403 403 ok",
    "POST /audit/bases/import/{job_id}/step": "login 403 403 403 403 ok",
    "GET /audit/outbox": "login 403 403 403 403 ok",
    "GET /account/calendar": "login ok ok 403 403 403",
    "POST /account/calendar": "login ok ok 403 403 403",
    "POST /account/calendar/revoke": "login ok ok 403 403 403",
    "GET /calendar/{name}": "ok ok ok ok ok ok",
    "GET /staff/roster": "login 403 403 ok ok 403",
    "GET /staff/roster.csv": "login 403 403 ok ok 403",
    "GET /staff/bookings/{booking_id}/checkins": "login 403 403 ok 404 ok",
    "POST /staff/checkins/{checkin_id}/reverse": "login 403 403 ok 404 403",
    "GET /slots/{slot_id}/waitlist": "login ok ok 403 403 403",
    "POST /slots/{slot_id}/waitlist": "login ok ok 403 403 403",
    "GET /waitlist": "login ok ok 403 403 403",
    "GET /waitlist/{entry_id}": "login ok 404 403 403 403",
    "POST /waitlist/{entry_id}/accept": "login ok 404 403 403 403",
    "POST /waitlist/{entry_id}/decline": "login ok 404 403 403 403",
    "POST /waitlist/{entry_id}/leave": "login ok 404 403 403 403",
    "GET /bookings/{booking_id}/feedback": "login ok 404 403 403 403",
    "POST /bookings/{booking_id}/feedback": "login ok 404 403 403 403",
    "GET /staff/feedback": "login 403 403 ok ok 403",
    "GET /audit/venues/{venue_id}/feedback": "login 403 403 403 403 ok",
    "GET /programmes": "login ok ok ok ok ok",
    "GET /programmes/{programme_id}": "login ok ok ok ok ok",
    "GET /venues/{venue_id}/calendar": "login ok ok ok ok ok",
    "GET /programmes/{programme_id}/calendar": "login ok ok ok ok ok",
    "GET /venues/{venue_id}/programmes": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/info": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/rooms": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/rooms/{room_id}": "login 403 403 ok 403 ok",
    "GET /venues/{venue_id}/programmes/new": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/programmes/new": "login 403 403 ok 403 ok",
    "GET /venues/{venue_id}/programmes/{programme_id}": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/programmes/{programme_id}": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/programmes/{programme_id}/retire": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/programmes/{programme_id}/files": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/programmes/{programme_id}/files/{file_id}/delete": "login 403 403 ok 403 ok",
    "GET /programme-files/{file_id}": "login ok ok ok ok ok",
    "GET /programme-files/{file_id}/thumbnail": "login ok ok ok ok ok",
    "GET /venues/{venue_id}/series": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/series": "login 403 403 ok 403 ok",
    "GET /series/{series_id}": "login 403 403 ok 403 ok",
    "POST /series/{series_id}/edit": "login 403 403 ok 403 ok",
    "POST /series/{series_id}/cancel": "login 403 403 ok 403 ok",
    "GET /slots/{slot_id}/manage": "login 403 403 ok 403 ok",
    "POST /slots/{slot_id}/manage": "login 403 403 ok 403 ok",
    "POST /slots/{slot_id}/cancel": "login 403 403 ok 403 ok",
    "GET /venues/{venue_id}/hours": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/hours": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/closures": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/closures/{day}/delete": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/youth-days": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/youth-days/{youth_id}/delete": "login 403 403 ok 403 ok",
    "GET /audit/holidays": "login 403 403 403 403 ok",
    "POST /audit/holidays": "login 403 403 403 403 ok",
    "POST /audit/holidays/{day}/delete": "login 403 403 403 403 ok",
    "GET /staff/walk-ins": "login 403 403 ok ok 403",
    "POST /staff/walk-ins": "login 403 403 ok ok 403",
    "GET /staff/activities": "login 403 403 ok ok 403",
    "POST /staff/activities": "login 403 403 ok ok 403",
    "GET /staff/activities/{activity_id}": "login 403 403 ok 404 403",
    "POST /staff/activities/{activity_id}": "login 403 403 ok 404 403",
    "POST /staff/activities/{activity_id}/withdraw": "login 403 403 ok 404 403",
    "GET /activities/{activity_id}/photo": "login 403 403 ok 404 ok",
    "GET /activities/{activity_id}/thumbnail": "login 403 403 ok 404 ok",
    "GET /staff/self-report": "login 403 403 ok ok 403",
    "POST /staff/self-report": "login 403 403 ok ok 403",
    "GET /audit/activities": "login 403 403 403 403 ok",
    "GET /audit/self-reports": "login 403 403 403 403 ok",
    "GET /audit/national-stats.csv": "login 403 403 403 403 ok",
    "GET /audit/log": "login 403 403 403 403 ok",
    "GET /audit/log/{entry_id}": "login 403 403 403 403 ok",
    "GET /audit/log.csv": "login 403 403 403 403 ok",
    # A booking's name list is its teacher's alone (PIPL): everyone else is told it does not exist.
    "GET /bookings/{booking_id}/namelist": "login ok 404 404 404 404",
    "POST /bookings/{booking_id}/namelist": "login ok 404 404 404 404",
    "POST /bookings/{booking_id}/namelist/delete": "login ok 404 404 404 404",
    "GET /staff/namelists": "login 403 403 ok ok 403",
    "GET /venues/{venue_id}/namelist-policy": "login 403 403 ok 403 ok",
    "POST /venues/{venue_id}/namelist-policy": "login 403 403 ok 403 ok",
}
