"""Activity records (lectures, exhibitions, competitions, online events … held by a base outside the
booking system) and the annual self-report of the figures only the base knows. Both are entered by
the base's staff and shown to the 科协 as self-reported (自报)."""

from piccolo.columns import Boolean, Bytea, Date, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from accounts.tables import User
from venues.tables import Venue


class Activity(Table, tablename="activities_activity"):
    """One activity (a lecture, a multi-day exhibition, an online event …) with its attendance.

    Corrections edit the row; a withdrawn record keeps its row (withdrawn_at + reason) and is no
    longer counted."""

    id: Serial

    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.restrict)
    kind = Varchar(length=16, help_text="One of activities.services.KINDS.")
    title = Varchar(length=200)
    starts_on = Date(index=True, help_text="First day (Asia/Shanghai); the activity counts in this year.")
    ends_on = Date(help_text="Last day; the same as starts_on for a one-day activity.")
    attendance = Integer(default=0, help_text="People who took part (online: participants).")
    students = Integer(null=True, default=None, help_text="Of whom students, when known.")
    adults = Integer(null=True, default=None, help_text="Of whom adults, when known.")
    online = Boolean(default=False, help_text="Held online (counted separately in 全国科普统计).")
    views = Integer(null=True, default=None, help_text="Online: views or plays, when known.")
    note = Text(default="")
    photo = Bytea(null=True, default=None, help_text="Evidence photo, re-encoded JPEG without metadata.")
    thumbnail = Bytea(null=True, default=None)
    photo_size = Integer(default=0)
    created_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz()
    updated_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    updated_at = Timestamptz()
    withdrawn_at = Timestamptz(null=True, default=None)
    withdrawn_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    withdraw_reason = Varchar(length=200, default="")


class SelfReport(Table, tablename="activities_self_report"):
    """A base's annual self-report (one per venue and year): staff, volunteers, funding, exhibit area."""

    id: Serial

    venue = ForeignKey(references=Venue, null=False, index=True, on_delete=OnDelete.restrict)
    year = Integer()
    fulltime_staff = Integer(default=0, help_text="科普专职人员.")
    parttime_staff = Integer(default=0, help_text="科普兼职人员.")
    volunteers = Integer(default=0, help_text="注册科普志愿者.")
    funding_raised = Integer(default=0, help_text="科普经费筹集额, yuan.")
    funding_spent = Integer(default=0, help_text="科普经费使用额, yuan.")
    exhibit_area = Integer(default=0, help_text="科普展厅面积, m².")
    note = Text(default="")
    submitted_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    submitted_at = Timestamptz()
    updated_at = Timestamptz()
