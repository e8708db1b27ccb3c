"""Registry tables: accreditation per base, its status history, threshold profiles, import jobs."""

from piccolo.columns import Date, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from accounts.tables import User
from venues.tables import Venue

LEVELS = ("national", "provincial", "municipal")
STATUSES = ("active", "rectification", "revoked")
PROFILE_CODES = ("venue", "public_place", "education_research", "production", "lab")


class ThresholdProfile(Table, tablename="registry_profile"):
    """What a base type must reach in a year: per metric a threshold and a weight, plus grade bands.

    `config` is JSON: {"metrics": {code: {"threshold": n, "weight": n}}, "bands": {"excellent": 90, ...}}.
    """

    id: Serial
    code = Varchar(length=32, unique=True)
    name = Varchar(length=100)
    kinds = Varchar(length=200, default="", help_text="Comma-separated venue kinds it applies to by default.")
    config = Text(default="{}")
    updated_at = Timestamptz(null=True, default=None)
    updated_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)


class Accreditation(Table, tablename="registry_accreditation"):
    """A base's accreditation by the science association; one row per venue."""

    id: Serial
    venue = ForeignKey(references=Venue, null=False, unique=True, on_delete=OnDelete.restrict)
    level = Varchar(length=16, default="municipal", help_text="national | provincial | municipal")
    batch = Varchar(length=100, default="", help_text="E.g. 2024年第一批.")
    accredited_on = Date(null=True, default=None)
    valid_until = Date(null=True, default=None)
    status = Varchar(length=16, default="active", help_text="active | rectification | revoked")
    contact_name = Varchar(length=100, default="")
    contact_phone = Varchar(length=32, default="")
    profile = ForeignKey(
        references=ThresholdProfile,
        null=True,
        default=None,
        on_delete=OnDelete.restrict,
        help_text="NULL = the profile for the venue's kind.",
    )
    created_at = Timestamptz()
    updated_at = Timestamptz()


class StatusChange(Table, tablename="registry_status_change"):
    """Every change of a base's accreditation status, kept for ever (triggers refuse UPDATE and DELETE)."""

    id: Serial
    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.restrict)
    from_status = Varchar(length=16, default="", help_text="Empty for the first status.")
    to_status = Varchar(length=16)
    reason = Varchar(length=500)
    changed_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.restrict)
    changed_at = Timestamptz()


class ImportJob(Table, tablename="registry_import_job"):
    """An uploaded base list: validated rows (JSON) and how far the import has got, chunk by chunk."""

    id: Serial
    filename = Varchar(length=200, default="")
    state = Varchar(length=16, default="checked", help_text="checked | importing | done")
    rows = Text(default="[]", help_text="The clean rows, parsed, as JSON.")
    problems = Text(default="[]", help_text="[{row, field, problem}] as JSON.")
    total_rows = Integer(default=0, help_text="Data rows in the file.")
    processed = Integer(default=0, help_text="Clean rows imported so far.")
    created = Integer(default=0)
    updated = Integer(default=0)
    unchanged = Integer(default=0)
    created_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class CityTarget(Table, tablename="registry_city_target"):
    """A city-wide yearly target of the science-literacy plan as the auditor set it; a code without a
    row uses the plan's figure (evaluation.targets.TARGETS)."""

    id: Serial
    code = Varchar(length=32, unique=True, help_text="lab_organisations | district_activities | ...")
    target = Integer(default=0)
    updated_at = Timestamptz(null=True, default=None)
    updated_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)


class CampaignPeriod(Table, tablename="registry_campaign_period"):
    """The dates Science Week (科技活动周) and National Science Day (全国科普日) were actually held in a
    year, inclusive local dates; a year without a row (or a period left empty) uses the rule
    (evaluation.scorecard.campaign_periods)."""

    id: Serial
    year = Integer(unique=True)
    science_week_from = Date(null=True, default=None)
    science_week_to = Date(null=True, default=None)
    science_day_from = Date(null=True, default=None)
    science_day_to = Date(null=True, default=None)
    updated_at = Timestamptz(null=True, default=None)
    updated_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
