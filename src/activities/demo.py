"""The activities part of the Xiamen demo: a plausible year of lectures, exhibitions, competitions,
online events and trainings per venue (last year and this year to date, some in 科技活动周 and around
全国科普日, a few with an evidence photo, one withdrawn), and annual self-reports (last year for every
base, this year for most). Deterministic: the same seed gives the same records for the same day."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta

from PIL import Image, ImageDraw

from activities.services import prepare_photo
from activities.tables import Activity, SelfReport
from core import clock
from core.db import insert_chunked, write_transaction

TITLES = {
    "lecture": (
        "海洋里的微塑料",
        "人工智能与我们的生活",
        "台风是怎样形成的",
        "从嫦娥到天问：中国探月与探火",
        "红树林的秘密",
        "家庭急救常识",
        "显微镜下的世界",
        "垃圾分类与资源循环",
        "科学家的故事",
        "青少年近视防控",
    ),
    "exhibition": (
        "航天科技成就展",
        "厦门湿地鸟类摄影展",
        "中华传统科技展",
        "防灾减灾主题展",
        "海洋生物标本展",
    ),
    "competition": ("青少年机器人竞赛", "科普知识竞赛", "少儿科幻画比赛", "小小讲解员大赛"),
    "online": ("科普直播课：天文观测", "云游科技馆", "线上科学实验秀", "科普短视频展播"),
    "training": ("科普讲解员培训", "科普志愿者培训", "教师科学实验工作坊", "社区应急救护培训"),
    "other": ("科普大篷车进社区", "科学之夜开放活动", "亲子自然观察"),
}

# Activities a year per kind of venue: (lectures, exhibitions, competitions, online, trainings, other).
PER_YEAR = {
    "science_museum": (26, 4, 3, 8, 5, 3),
    "museum": (12, 5, 1, 4, 2, 2),
    "education_base": (10, 2, 2, 3, 3, 2),
    "community_site": (12, 1, 1, 2, 6, 3),
    "laboratory": (6, 1, 1, 3, 2, 1),
    "scientist_spirit_base": (9, 2, 1, 2, 2, 1),
}
KIND_ORDER = ("lecture", "exhibition", "competition", "online", "training", "other")

# Self-report scale per kind of venue: full-time staff, part-time, volunteers, funding (万元), area (m²).
SCALE = {
    "science_museum": (40, 60, 400, 900, 12000),
    "museum": (15, 20, 120, 260, 5000),
    "education_base": (6, 12, 60, 80, 1500),
    "community_site": (2, 6, 30, 8, 120),
    "laboratory": (5, 10, 20, 40, 600),
    "scientist_spirit_base": (8, 10, 80, 120, 2500),
}


def _photo(rng: random.Random, label: int) -> tuple[bytes, bytes]:
    """A small made-up 'evidence photo' (a coloured card), through the same re-encoding as uploads."""
    colour = (rng.randrange(40, 200), rng.randrange(80, 220), rng.randrange(120, 240))
    image = Image.new("RGB", (480, 320), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 440, 280), outline=(255, 255, 255), width=6)
    draw.text((60, 60), f"kepu demo #{label}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return prepare_photo(out.getvalue())


def _day_in(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


async def add_demo_activities(venue_ids: list[int], kinds: list[str], staff_ids: list[int]) -> int:
    """Adds the demo's activities and self-reports; returns the number of activities."""
    from evaluation.scorecard import campaign_periods  # the evaluation owns the campaign dates

    rng = random.Random(20260601)
    today = clock.today()
    now = clock.now()
    rows: list[Activity] = []
    reports: list[SelfReport] = []
    photos = 0
    for n, (venue_id, kind, staff_id) in enumerate(zip(venue_ids, kinds, staff_ids, strict=True)):
        per_year = PER_YEAR.get(kind, PER_YEAR["education_base"])
        for year in (today.year - 1, today.year):
            first, last = date(year, 1, 1), min(date(year, 12, 31), today)
            if last < first:
                continue
            share = (last - first).days / 365 if year == today.year else 1.0
            week = campaign_periods(year)["science_week"]
            for kind_code, count in zip(KIND_ORDER, per_year, strict=True):
                for i in range(max(0, round(count * share))):
                    starts = _day_in(rng, first, last)
                    # A few of each venue's activities fall in 科技活动周.
                    if i == 0 and kind_code in ("lecture", "online") and week[0] <= last:
                        starts = _day_in(rng, week[0], min(week[1], last))
                    ends = starts
                    if kind_code == "exhibition":
                        ends = min(starts + timedelta(days=rng.choice((7, 14, 30, 60))), date(year, 12, 31))
                    online = kind_code == "online" or (kind_code == "lecture" and rng.random() < 0.15)
                    attendance = {
                        "lecture": rng.randrange(40, 300),
                        "exhibition": rng.randrange(800, 12000),
                        "competition": rng.randrange(30, 400),
                        "online": rng.randrange(300, 8000),
                        "training": rng.randrange(15, 80),
                        "other": rng.randrange(50, 600),
                    }[kind_code]
                    if online and kind_code == "lecture":
                        attendance *= 5
                    students = None
                    if kind_code in ("lecture", "competition") and not online:
                        students = attendance * rng.randrange(50, 90) // 100
                    big = small = None
                    if rng.random() < 0.3:
                        photos += 1
                        big, small = _photo(rng, photos)
                    rows.append(
                        Activity(
                            venue=venue_id,
                            kind=kind_code,
                            title=rng.choice(TITLES[kind_code]),
                            starts_on=starts,
                            ends_on=ends,
                            attendance=attendance,
                            students=students,
                            adults=(attendance - students) if students is not None else None,
                            online=online,
                            views=attendance * rng.randrange(2, 6) if online else None,
                            note="",
                            photo=big,
                            thumbnail=small,
                            photo_size=len(big) if big else 0,
                            created_by=staff_id,
                            created_at=now,
                            updated_by=staff_id,
                            updated_at=now,
                        )
                    )
            staff, part, volunteers, wan, area = SCALE.get(kind, SCALE["education_base"])
            # Last year's report from everyone; this year's from three bases in four (so some are missing).
            if year == today.year - 1 or n % 4 != 3:
                raised = int(wan * 10_000 * rng.uniform(0.8, 1.2))
                reports.append(
                    SelfReport(
                        venue=venue_id,
                        year=year,
                        fulltime_staff=max(1, round(staff * rng.uniform(0.8, 1.2))),
                        parttime_staff=round(part * rng.uniform(0.7, 1.3)),
                        volunteers=round(volunteers * rng.uniform(0.7, 1.4)),
                        funding_raised=raised,
                        funding_spent=int(raised * rng.uniform(0.75, 1.0)),
                        exhibit_area=round(area * rng.uniform(0.9, 1.1)),
                        note="",
                        submitted_by=staff_id,
                        submitted_at=now,
                        updated_at=now,
                    )
                )
    # One record withdrawn, as staff do when something was entered twice.
    if rows:
        rows[0].withdrawn_at = now
        rows[0].withdrawn_by = rows[0].created_by
        rows[0].withdraw_reason = "重复录入"
    async with write_transaction():
        await insert_chunked(Activity, rows, chunk=50)
        await insert_chunked(SelfReport, reports)
    return len(rows)
