"""Running totals for the yearly evaluation, kept by the database in the same transaction as every change
to a check-in or a booking (insert, update, delete — from the door, the API, the worker, an import or a
bulk load alike):

- evaluation_venue_day: per venue and Asia/Shanghai day, the counted check-ins (admitted, not reversed,
  not waiting for review) and the students and adults they let in;
- evaluation_slot_tally: per slot, what its bookings add to the rates and the stages (admitted groups,
  confirmed bookings, people booked and come, no-shows, people admitted, students by school stage) and
  to the venue report (bookings neither cancelled nor declined, their people and admissions);
- evaluation_venue_school: per venue, school and local year of the slot, the bookings with someone
  admitted (distinct schools and districts reached are the rows with a positive count).

A day is kept as its Julian day number (an integer on both engines; its remainder by 7 is Python's
weekday()). Existing rows are added up once here, so an installation that upgrades starts consistent.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-25T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "evaluation: running totals per venue-day, slot and venue-school-year, kept by triggers"

TABLES = [
    """CREATE TABLE evaluation_venue_day (
        venue INTEGER NOT NULL,
        local_day INTEGER NOT NULL,
        local_month INTEGER NOT NULL,
        checkins INTEGER NOT NULL DEFAULT 0,
        students INTEGER NOT NULL DEFAULT 0,
        chaperones INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (venue, local_day))""",
    """CREATE TABLE evaluation_slot_tally (
        slot INTEGER NOT NULL PRIMARY KEY,
        admitted_groups INTEGER NOT NULL DEFAULT 0,
        confirmed INTEGER NOT NULL DEFAULT 0,
        people_booked INTEGER NOT NULL DEFAULT 0,
        people_came INTEGER NOT NULL DEFAULT 0,
        no_shows INTEGER NOT NULL DEFAULT 0,
        people_admitted INTEGER NOT NULL DEFAULT 0,
        stage_preschool INTEGER NOT NULL DEFAULT 0,
        stage_primary INTEGER NOT NULL DEFAULT 0,
        stage_junior INTEGER NOT NULL DEFAULT 0,
        stage_senior INTEGER NOT NULL DEFAULT 0,
        stage_other INTEGER NOT NULL DEFAULT 0,
        live_bookings INTEGER NOT NULL DEFAULT 0,
        live_people INTEGER NOT NULL DEFAULT 0,
        live_students_admitted INTEGER NOT NULL DEFAULT 0,
        live_chaperones_admitted INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE evaluation_venue_school (
        venue INTEGER NOT NULL,
        local_year INTEGER NOT NULL,
        school INTEGER NOT NULL,
        admitted_groups INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (venue, local_year, school))""",
]

# ---- what one row adds, written once for both engines ({r} is NEW or OLD) --------------------------

_BANDS = "('preschool', 'primary_low', 'primary_high', 'junior', 'senior')"
_ADM = "({r}.admitted_students + {r}.admitted_chaperones)"
_LIVE = "{r}.status NOT IN ('cancelled', 'declined')"
SLOT_COLUMNS = {
    "admitted_groups": f"CASE WHEN {_ADM} > 0 THEN 1 ELSE 0 END",
    "confirmed": "CASE WHEN {r}.status = 'confirmed' THEN 1 ELSE 0 END",
    "people_booked": "CASE WHEN {r}.status = 'confirmed' THEN {r}.students + {r}.chaperones ELSE 0 END",
    "people_came": f"CASE WHEN {{r}}.status = 'confirmed' THEN {_ADM} ELSE 0 END",
    "no_shows": f"CASE WHEN {{r}}.status = 'confirmed' AND {_ADM} = 0 THEN 1 ELSE 0 END",
    "people_admitted": _ADM,
    "stage_preschool": "CASE WHEN {r}.grade_band = 'preschool' THEN {r}.admitted_students ELSE 0 END",
    "stage_primary": (
        "CASE WHEN {r}.grade_band IN ('primary_low', 'primary_high') THEN {r}.admitted_students ELSE 0 END"
    ),
    "stage_junior": "CASE WHEN {r}.grade_band = 'junior' THEN {r}.admitted_students ELSE 0 END",
    "stage_senior": "CASE WHEN {r}.grade_band = 'senior' THEN {r}.admitted_students ELSE 0 END",
    "stage_other": (
        f"CASE WHEN {{r}}.grade_band IS NULL OR {{r}}.grade_band NOT IN {_BANDS} "
        "THEN {r}.admitted_students ELSE 0 END"
    ),
    # the venue report's figures (evaluation/metrics.py): bookings neither cancelled nor declined
    "live_bookings": f"CASE WHEN {_LIVE} THEN 1 ELSE 0 END",
    "live_people": f"CASE WHEN {_LIVE} THEN {{r}}.students + {{r}}.chaperones ELSE 0 END",
    "live_students_admitted": f"CASE WHEN {_LIVE} THEN {{r}}.admitted_students ELSE 0 END",
    "live_chaperones_admitted": f"CASE WHEN {_LIVE} THEN {{r}}.admitted_chaperones ELSE 0 END",
}
BOOKING_WATCHED = (
    "status, students, chaperones, grade_band, admitted_students, admitted_chaperones, slot, school, venue"
)
CHECKIN_WATCHED = "result, reversed_at, needs_review, venue, students, chaperones, scanned_at, created_at"


def _upsert(table: str, key: tuple[str, ...], values: dict[str, str], fixed: tuple[str, ...] = ()) -> str:
    """INSERT one row of deltas, or add them to the row that is there (`fixed` columns are set once)."""
    cols = ", ".join(values)
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in values if c not in key + fixed)
    return (
        f"INSERT INTO {table} ({cols}) VALUES ({', '.join(values.values())}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {added}"
    )


def _slot_upsert(slot: str, exprs: dict[str, str]) -> str:
    return _upsert("evaluation_slot_tally", ("slot",), {"slot": slot, **exprs})


def _signed(r: str, sign: str) -> dict[str, str]:
    return {c: f"{sign}({e.format(r=r)})" for c, e in SLOT_COLUMNS.items()}


def _delta() -> dict[str, str]:
    return {c: f"({e.format(r='NEW')}) - ({e.format(r='OLD')})" for c, e in SLOT_COLUMNS.items()}


class Dialect:
    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite

    def counted(self, r: str) -> str:
        review = f"{r}.needs_review = 0" if self.sqlite else f"NOT {r}.needs_review"
        return f"{r}.result = 'admitted' AND {r}.reversed_at IS NULL AND {review} AND {r}.venue IS NOT NULL"

    def day(self, r: str) -> str:
        ts = f"COALESCE({r}.scanned_at, {r}.created_at)"
        if self.sqlite:
            return f"CAST(julianday({ts}) + 0.83333334 AS INTEGER)"
        return f"(CAST(({ts} AT TIME ZONE 'Asia/Shanghai') AS date) - DATE '2000-01-01' + 2451545)"

    def month(self, r: str) -> str:
        ts = f"COALESCE({r}.scanned_at, {r}.created_at)"
        if self.sqlite:
            return f"CAST(strftime('%m', {ts}, '+8 hours') AS INTEGER)"
        return f"CAST(EXTRACT(MONTH FROM ({ts} AT TIME ZONE 'Asia/Shanghai')) AS INTEGER)"

    def year_of(self, starts_at: str) -> str:
        if self.sqlite:
            return f"CAST(strftime('%Y', {starts_at}, '+8 hours') AS INTEGER)"
        return f"CAST(EXTRACT(YEAR FROM ({starts_at} AT TIME ZONE 'Asia/Shanghai')) AS INTEGER)"

    def slot_year(self, r: str) -> str:
        return f"(SELECT {self.year_of('sl.starts_at')} FROM venues_slot sl WHERE sl.id = {r}.slot)"

    def differs(self, a: str, b: str) -> str:
        return f"{a} IS NOT {b}" if self.sqlite else f"{a} IS DISTINCT FROM {b}"

    # statements
    def day_upsert(self, r: str, sign: str) -> str:
        return _upsert(
            "evaluation_venue_day",
            ("venue", "local_day"),
            {
                "venue": f"{r}.venue",
                "local_day": self.day(r),
                "local_month": self.month(r),
                "checkins": f"{sign}1",
                "students": f"{sign}{r}.students",
                "chaperones": f"{sign}{r}.chaperones",
            },
            fixed=("local_month",),
        )

    def school_upsert(self, r: str, sign: str) -> str:
        return _upsert(
            "evaluation_venue_school",
            ("venue", "local_year", "school"),
            {
                "venue": f"{r}.venue",
                "local_year": self.slot_year(r),
                "school": f"{r}.school",
                "admitted_groups": f"{sign}1",
            },
        )

    def school_moved(self) -> str:
        """The slot's bookings with someone admitted, as a key of evaluation_venue_school, changed."""
        return " OR ".join(self.differs(f"OLD.{c}", f"NEW.{c}") for c in ("slot", "school", "venue"))

    def slot_year_move(self, r: str, sign: str) -> str:
        """A slot moved to another year: its admitted bookings leave the old year (−) / join the new (+)."""
        values = {
            "venue": "b.venue",
            "local_year": self.year_of(f"{r}.starts_at"),
            "school": "b.school",
            "admitted_groups": f"{sign}COUNT(*)",
        }
        added = "admitted_groups = evaluation_venue_school.admitted_groups + excluded.admitted_groups"
        return (
            f"INSERT INTO evaluation_venue_school ({', '.join(values)}) "
            f"SELECT {', '.join(values.values())} FROM bookings_booking b "
            "WHERE b.slot = NEW.id AND b.admitted_students + b.admitted_chaperones > 0 "
            "GROUP BY b.venue, b.school "
            f"ON CONFLICT (venue, local_year, school) DO UPDATE SET {added}"
        )


def sqlite_triggers() -> list[str]:
    d = Dialect(sqlite=True)
    adm_old, adm_new = _ADM.format(r="OLD"), _ADM.format(r="NEW")

    def trigger(name: str, event: str, when: str, *body: str) -> str:
        statements = "".join(f"{s};\n" for s in body)
        return f"CREATE TRIGGER {name} AFTER {event}\nFOR EACH ROW WHEN {when}\nBEGIN\n{statements}END"

    return [
        # check-ins → venue-day
        trigger(
            "evaluation_checkin_add", "INSERT ON bookings_checkin", d.counted("NEW"), d.day_upsert("NEW", "")
        ),
        trigger(
            "evaluation_checkin_remove",
            "DELETE ON bookings_checkin",
            d.counted("OLD"),
            d.day_upsert("OLD", "-"),
        ),
        trigger(
            "evaluation_checkin_change_old",
            f"UPDATE OF {CHECKIN_WATCHED} ON bookings_checkin",
            d.counted("OLD"),
            d.day_upsert("OLD", "-"),
        ),
        trigger(
            "evaluation_checkin_change_new",
            f"UPDATE OF {CHECKIN_WATCHED} ON bookings_checkin",
            d.counted("NEW"),
            d.day_upsert("NEW", ""),
        ),
        # bookings → slot tally
        trigger(
            "evaluation_booking_add",
            "INSERT ON bookings_booking",
            "1",
            _slot_upsert("NEW.slot", _signed("NEW", "")),
        ),
        trigger(
            "evaluation_booking_remove",
            "DELETE ON bookings_booking",
            "1",
            _slot_upsert("OLD.slot", _signed("OLD", "-")),
        ),
        trigger(
            "evaluation_booking_change",
            f"UPDATE OF {BOOKING_WATCHED} ON bookings_booking",
            "OLD.slot = NEW.slot",
            _slot_upsert("NEW.slot", _delta()),
        ),
        trigger(
            "evaluation_booking_move",
            f"UPDATE OF {BOOKING_WATCHED} ON bookings_booking",
            "OLD.slot <> NEW.slot",
            _slot_upsert("OLD.slot", _signed("OLD", "-")),
            _slot_upsert("NEW.slot", _signed("NEW", "")),
        ),
        # bookings → venue, school and year
        trigger(
            "evaluation_school_add",
            "INSERT ON bookings_booking",
            f"{adm_new} > 0",
            d.school_upsert("NEW", ""),
        ),
        trigger(
            "evaluation_school_remove",
            "DELETE ON bookings_booking",
            f"{adm_old} > 0",
            d.school_upsert("OLD", "-"),
        ),
        trigger(
            "evaluation_school_change_old",
            f"UPDATE OF {BOOKING_WATCHED} ON bookings_booking",
            f"{adm_old} > 0 AND ({adm_new} = 0 OR {d.school_moved()})",
            d.school_upsert("OLD", "-"),
        ),
        trigger(
            "evaluation_school_change_new",
            f"UPDATE OF {BOOKING_WATCHED} ON bookings_booking",
            f"{adm_new} > 0 AND ({adm_old} = 0 OR {d.school_moved()})",
            d.school_upsert("NEW", ""),
        ),
        # a slot moved to another year
        trigger(
            "evaluation_slot_year",
            "UPDATE OF starts_at ON venues_slot",
            f"{d.year_of('OLD.starts_at')} IS NOT {d.year_of('NEW.starts_at')}",
            d.slot_year_move("OLD", "-"),
            d.slot_year_move("NEW", ""),
        ),
    ]


def postgres_triggers() -> list[str]:
    d = Dialect(sqlite=False)
    adm_old, adm_new = _ADM.format(r="OLD"), _ADM.format(r="NEW")
    return [
        f"""CREATE FUNCTION evaluation_checkin_totals() RETURNS trigger AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                IF {d.counted("OLD")} THEN {d.day_upsert("OLD", "-")}; END IF;
            END IF;
            IF TG_OP <> 'DELETE' THEN
                IF {d.counted("NEW")} THEN {d.day_upsert("NEW", "")}; END IF;
            END IF;
            RETURN NULL;
        END; $$ LANGUAGE plpgsql""",
        f"""CREATE TRIGGER evaluation_checkin_totals
            AFTER INSERT OR DELETE OR UPDATE OF {CHECKIN_WATCHED} ON bookings_checkin
            FOR EACH ROW EXECUTE FUNCTION evaluation_checkin_totals()""",
        f"""CREATE FUNCTION evaluation_booking_totals() RETURNS trigger AS $$
        DECLARE
            adm_old integer := 0;
            adm_new integer := 0;
            moved boolean := true;
        BEGIN
            IF TG_OP = 'UPDATE' AND OLD.slot = NEW.slot THEN
                {_slot_upsert("NEW.slot", _delta())};
            ELSE
                IF TG_OP <> 'INSERT' THEN {_slot_upsert("OLD.slot", _signed("OLD", "-"))}; END IF;
                IF TG_OP <> 'DELETE' THEN {_slot_upsert("NEW.slot", _signed("NEW", ""))}; END IF;
            END IF;
            IF TG_OP <> 'INSERT' THEN adm_old := {adm_old}; END IF;
            IF TG_OP <> 'DELETE' THEN adm_new := {adm_new}; END IF;
            IF TG_OP = 'UPDATE' THEN moved := {d.school_moved()}; END IF;
            IF adm_old > 0 AND (adm_new = 0 OR moved) THEN {d.school_upsert("OLD", "-")}; END IF;
            IF adm_new > 0 AND (adm_old = 0 OR moved) THEN {d.school_upsert("NEW", "")}; END IF;
            RETURN NULL;
        END; $$ LANGUAGE plpgsql""",
        f"""CREATE TRIGGER evaluation_booking_totals
            AFTER INSERT OR DELETE OR UPDATE OF {BOOKING_WATCHED} ON bookings_booking
            FOR EACH ROW EXECUTE FUNCTION evaluation_booking_totals()""",
        f"""CREATE FUNCTION evaluation_slot_year() RETURNS trigger AS $$
        BEGIN
            {d.slot_year_move("OLD", "-")};
            {d.slot_year_move("NEW", "")};
            RETURN NULL;
        END; $$ LANGUAGE plpgsql""",
        f"""CREATE TRIGGER evaluation_slot_year AFTER UPDATE OF starts_at ON venues_slot FOR EACH ROW
            WHEN ({d.year_of("OLD.starts_at")} IS DISTINCT FROM {d.year_of("NEW.starts_at")})
            EXECUTE FUNCTION evaluation_slot_year()""",
    ]


def recount(sqlite: bool) -> dict[str, tuple[str, str]]:
    """Each table's rows added up from the check-ins and bookings: {table: (columns, SELECT)}. The
    migration fills the tables with them; tests/evaluation/test_totals.py compares the triggers' work."""
    d = Dialect(sqlite)
    slot_sums = ", ".join(f"SUM({e.format(r='b')}) AS {c}" for c, e in SLOT_COLUMNS.items())
    return {
        "evaluation_venue_day": (
            "venue, local_day, local_month, checkins, students, chaperones",
            f"""SELECT venue, local_day, MIN(local_month) AS local_month, COUNT(*) AS checkins,
                   SUM(students) AS students, SUM(chaperones) AS chaperones
            FROM (SELECT c.venue AS venue, {d.day("c")} AS local_day, {d.month("c")} AS local_month,
                         c.students AS students, c.chaperones AS chaperones
                  FROM bookings_checkin c WHERE {d.counted("c")}) counted
            GROUP BY venue, local_day""",
        ),
        "evaluation_slot_tally": (
            f"slot, {', '.join(SLOT_COLUMNS)}",
            f"SELECT b.slot AS slot, {slot_sums} FROM bookings_booking b GROUP BY b.slot",
        ),
        "evaluation_venue_school": (
            "venue, local_year, school, admitted_groups",
            f"""SELECT venue, local_year, school, COUNT(*) AS admitted_groups
            FROM (SELECT b.venue AS venue, {d.year_of("sl.starts_at")} AS local_year, b.school AS school
                  FROM bookings_booking b JOIN venues_slot sl ON sl.id = b.slot
                  WHERE b.admitted_students + b.admitted_chaperones > 0) admitted
            GROUP BY venue, local_year, school""",
        ),
    }


def backfill(sqlite: bool) -> list[str]:
    """What is in the database already, added up once."""
    return [f"INSERT INTO {table} ({cols}) {select}" for table, (cols, select) in recount(sqlite).items()]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="evaluation", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        sqlite = engine.engine_type == "sqlite"
        for ddl in TABLES + backfill(sqlite) + (sqlite_triggers() if sqlite else postgres_triggers()):
            await engine.run_ddl(ddl)

    manager.add_raw(run)
    return manager
