"""One opening-hours row per venue and weekday, one closure per venue and day; the public holidays
of 2026 (the State Council's arrangement) and 2027's statutory days, which auditors edit."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T22:14:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "Unique opening hours and closures per venue; public holidays 2026-2027"

DDL = (
    "CREATE UNIQUE INDEX IF NOT EXISTS timetable_opening_hours_venue_weekday "
    "ON timetable_opening_hours (venue, weekday)",
    "CREATE UNIQUE INDEX IF NOT EXISTS timetable_closure_venue_day ON timetable_closure (venue, day)",
)

# 2026: 国务院办公厅关于2026年部分节假日安排的通知 (days off, bridging days included; the make-up
# working Saturdays/Sundays are working days and not listed). 2027's arrangement was not yet published
# when this was written: the statutory days (《全国年节及纪念日放假办法》 as amended in 2024) are seeded,
# and an auditor adds the bridging days on /audit/holidays once the State Council announces them.
HOLIDAYS = (
    ("2026-01-01", "2026-01-03", "元旦"),
    ("2026-02-15", "2026-02-23", "春节"),
    ("2026-04-04", "2026-04-06", "清明节"),
    ("2026-05-01", "2026-05-05", "劳动节"),
    ("2026-06-19", "2026-06-21", "端午节"),
    ("2026-09-25", "2026-09-27", "中秋节"),
    ("2026-10-01", "2026-10-07", "国庆节"),
    ("2027-01-01", "2027-01-01", "元旦"),
    ("2027-02-05", "2027-02-08", "春节"),
    ("2027-04-05", "2027-04-05", "清明节"),
    ("2027-05-01", "2027-05-02", "劳动节"),
    ("2027-06-09", "2027-06-09", "端午节"),
    ("2027-09-15", "2027-09-15", "中秋节"),
    ("2027-10-01", "2027-10-03", "国庆节"),
)


def holiday_days() -> list[tuple[str, str]]:
    from datetime import date, timedelta

    out = []
    for first, last, name in HOLIDAYS:
        day, end = date.fromisoformat(first), date.fromisoformat(last)
        while day <= end:
            out.append((day.isoformat(), name))
            day += timedelta(days=1)
    return out


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="timetable", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in DDL:
            await engine.run_ddl(statement)
        cast = "CAST({} AS DATE)" if engine.engine_type == "postgres" else "{}"
        for day, name in holiday_days():
            # Literal values (a fixed list above), quoted for SQL: no input from outside reaches here.
            await engine.run_ddl(
                "INSERT INTO timetable_holiday (day, name) VALUES ("
                + cast.format(f"'{day}'")
                + f", '{name}') ON CONFLICT (day) DO NOTHING"
            )

    manager.add_raw(run)
    return manager
