"""`kepu demo`: fill an empty database with a realistic, deterministic Xiamen demo (venues, schools, term)."""

from __future__ import annotations

import math
import random
import sys
import time as wallclock
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from accounts import services as accounts
from accounts.passwords import hash_password
from accounts.tables import ROLES, School, User
from activities.demo import add_demo_activities
from bookings import keys
from bookings.demo_waitlist import add_waitlist_and_strikes
from bookings.tables import Booking, CheckIn
from bookings.tickets import PassClaims, SigningKey, issue_pass, new_pass_code
from core import clock
from core.db import database_lifespan, insert_chunked, reserve_ids, write_transaction
from evaluation.demo_anomalies import add_demo_anomalies
from ledger import chain
from registry.demo import add_demo_accreditation
from timetable.demo import add_demo_timetable
from venues import services as venues
from venues.demo_programmes import add_demo_programmes
from venues.tables import Slot, Venue

DEMO_PASSWORD = "kepu-demo-2026"
DEMO_URL = "http://127.0.0.1:8000"
SEED = 2026
WEEKS_BACK, WEEKS_AHEAD = 10, 8
# Rows per INSERT: a Booking row is 21 parameters, so 400 rows stay far below both engines' limits
# (SQLite 32766, PostgreSQL 32767 bind parameters per statement).

MORNING = (time(9, 30), time(11, 0))
AFTERNOON = (time(14, 0), time(15, 30))
EVENING = (time(19, 0), time(20, 30))
EVENING_CAPACITY = 80

CAPACITY = {
    "science_museum": (160, 200),
    "museum": (100, 150),
    "education_base": (80, 120),
    "laboratory": (40, 60),
    "scientist_spirit_base": (100, 150),
    "community_site": (40, 60),
}
# Weekdays (Mon=0) with school visits; museums in China close on Mondays.
OPEN_DAYS = {
    "science_museum": (1, 2, 3, 4),
    "museum": (1, 2, 3, 4),
    "education_base": (0, 1, 2, 3, 4),
    "scientist_spirit_base": (1, 2, 3, 4),
    "laboratory": (2,),
    "community_site": (1, 3),
}
# Public holidays with fixed dates (元旦, 劳动节, 国庆); no school groups travel on them.
HOLIDAYS = {(1, 1), *((5, d) for d in range(1, 6)), *((10, d) for d in range(1, 8))}

PRIMARY_GRADES = ("二年级", "三年级", "四年级", "四年级", "五年级", "五年级", "六年级")
MIDDLE_GRADES = ("初一", "初一", "初二", "初二", "初三")
HIGH_GRADES = ("高一", "高一", "高二")
DEVICES = ("1号门扫码枪", "1号门扫码枪", "前台平板", "工作人员手机")
SURNAMES = "陈林黄张李王吴刘蔡杨郑许洪谢曾苏庄叶卢颜"
GIVEN_NAMES = (
    "雅婷", "志强", "丽华", "建国", "晓燕", "少华", "文杰", "惠珍", "明辉", "秀英",
    "思远", "佳怡", "海燕", "俊杰", "淑芬", "宏伟", "美玲", "国平", "晓东", "静怡",
)  # fmt: skip


@dataclass(frozen=True)
class VenueSpec:
    name: str
    kind: str
    district: str
    address: str
    titles: tuple[str, ...]
    window: bool = False  # arrival window 30 min before start to the end of the slot
    today: bool = False  # always has slots today, so the door page has groups to check in


@dataclass(frozen=True)
class SchoolSpec:
    name: str
    district: str
    stages: str  # P primary, M junior middle (初中), H senior (高中)
    teachers: int = 1


# The demo's stage letters as the registry's stage codes (accounts.labels.STAGE_LABELS).
DEMO_STAGES = {"P": "primary", "M": "junior", "H": "senior", "MH": "complete", "PM": "nine_year"}

VENUES: tuple[VenueSpec, ...] = (
    VenueSpec("厦门科技馆", "science_museum", "思明区", "思明区体育路95号",
              ("探索海洋生物", "机器人编程体验", "天文观测入门", "科学实验秀：神奇的空气", "VR航天体验",
               "电与磁的奥秘"), today=True),
    VenueSpec("华侨博物院", "museum", "思明区", "思明区思明南路493号",
              ("华侨与海洋文明", "自然标本里的生物多样性", "闽南古船模型探秘"), window=True),
    VenueSpec("厦门园林植物园科普基地", "education_base", "思明区", "思明区虎园路25号",
              ("雨林植物探秘", "多肉植物与沙漠生态", "植物标本制作", "认识厦门的市树凤凰木")),
    VenueSpec("厦门航空科普教育基地", "education_base", "湖里区", "湖里区埭辽路22号",
              ("飞机为什么能飞", "模拟驾驶舱体验", "民航安全小课堂")),
    VenueSpec("金山街道社区科普e站", "community_site", "湖里区", "湖里区金湖一里12号",
              ("家庭安全用电", "防台风知识课堂", "科学小实验：会跳舞的盐")),
    VenueSpec("诚毅科技探索中心", "education_base", "集美区", "集美区杏林湾路2号",
              ("机器人编程体验", "3D打印创意工坊", "无人机科普课", "探索海洋生物"), today=True),
    VenueSpec("陈嘉庚纪念馆", "scientist_spirit_base", "集美区", "集美区嘉庚路149号",
              ("嘉庚精神与科学报国", "从集美学村看教育兴邦"), window=True),
    VenueSpec("中国科学院城市环境研究所公众开放实验室", "laboratory", "集美区", "集美区集美大道1799号",
              ("城市空气质量监测", "水质检测小实验", "垃圾分类与资源循环"), window=True),
    VenueSpec("海沧湾湿地科普教育基地", "education_base", "海沧区", "海沧区滨湖北路99号",
              ("红树林与湿地鸟类", "白鹭观察", "潮间带生物调查")),
    VenueSpec("海沧街道社区科普e站", "community_site", "海沧区", "海沧区海虹路36号",
              ("防震减灾体验", "健康饮食与营养", "科学小实验：彩虹密度塔")),
    VenueSpec("同安区青少年科技馆", "science_museum", "同安区", "同安区环城南路318号",
              ("机器人编程体验", "天文观测入门", "电与磁的奥秘", "趣味力学")),
    VenueSpec("苏颂纪念馆", "scientist_spirit_base", "同安区", "同安区大同街道芦山路8号",
              ("苏颂与水运仪象台", "古代天文仪器模型制作", "《本草图经》里的植物")),
    VenueSpec("厦门大学近海海洋环境科学国家重点实验室开放日", "laboratory", "翔安区",
              "翔安区翔安南路4221号 厦门大学翔安校区",
              ("探索海洋生物", "海水里的碳", "显微镜下的浮游生物"), window=True),
    VenueSpec("新店街道社区科普e站", "community_site", "翔安区", "翔安区新店街道民安大道1288号",
              ("防溺水安全课", "垃圾分类小达人", "家庭急救小课堂")),
)  # fmt: skip

SCHOOLS: tuple[SchoolSpec, ...] = (
    SchoolSpec("厦门第一中学", "思明区", "MH", 2),
    SchoolSpec("厦门双十中学", "思明区", "MH", 2),
    SchoolSpec("厦门实验小学", "思明区", "P", 2),
    SchoolSpec("厦门外国语学校", "思明区", "MH", 2),
    SchoolSpec("厦门市第二实验小学", "思明区", "P", 2),
    SchoolSpec("厦门市演武小学", "思明区", "P"),
    SchoolSpec("厦门市槟榔中学", "思明区", "M"),
    SchoolSpec("厦门莲花中学", "思明区", "M"),
    SchoolSpec("湖里实验小学", "湖里区", "P", 2),
    SchoolSpec("厦门市湖里中学", "湖里区", "MH"),
    SchoolSpec("厦门市五缘实验学校", "湖里区", "PM", 2),
    SchoolSpec("厦门市金尚小学", "湖里区", "P"),
    SchoolSpec("厦门市湖里区殿前小学", "湖里区", "P"),
    SchoolSpec("集美中学", "集美区", "MH", 2),
    SchoolSpec("厦门市集美区乐安小学", "集美区", "P"),
    SchoolSpec("厦门市灌口中学", "集美区", "MH"),
    SchoolSpec("厦门市集美区园南小学", "集美区", "P"),
    SchoolSpec("厦门市杏南中学", "集美区", "M"),
    SchoolSpec("海沧实验中学", "海沧区", "MH", 2),
    SchoolSpec("厦门市海沧区东孚学校", "海沧区", "PM"),
    SchoolSpec("厦门市海沧区天心岛小学", "海沧区", "P"),
    SchoolSpec("厦门外国语学校海沧附属学校", "海沧区", "PM"),
    SchoolSpec("厦门市海沧区第一实验小学", "海沧区", "P"),
    SchoolSpec("同安一中", "同安区", "MH", 2),
    SchoolSpec("厦门市国祺中学", "同安区", "MH"),
    SchoolSpec("厦门市同安区阳翟小学", "同安区", "P"),
    SchoolSpec("厦门市同安区大同中心小学", "同安区", "P"),
    SchoolSpec("厦门市西柯中学", "同安区", "M"),
    SchoolSpec("翔安一中", "翔安区", "MH", 2),
    SchoolSpec("厦门实验中学", "翔安区", "MH"),
    SchoolSpec("厦门市翔安区实验学校", "翔安区", "PM"),
    SchoolSpec("厦门市翔安区新店中心小学", "翔安区", "P"),
    SchoolSpec("厦门市翔安区马巷中心小学", "翔安区", "P"),
)


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    where: str


@dataclass
class DemoSummary:
    venues: int = 0
    schools: int = 0
    users: int = 0
    slots: int = 0
    past_slots: int = 0
    today_slots: int = 0
    future_slots: int = 0
    bookings: int = 0
    cancelled: int = 0
    admissions: int = 0
    denied_scans: int = 0
    no_shows: int = 0
    people_admitted: int = 0
    teachers: int = 0
    username_suffix: str = ""  # "-2"… when --force added the demo beside an earlier one
    logins: list[DemoLogin] = field(default_factory=list)
    today_venues: list[str] = field(default_factory=list)


@dataclass
class _School:
    spec: SchoolSpec
    id: int
    teacher_ids: list[int] = field(default_factory=list)


@dataclass
class _Scan:
    at: datetime
    result: str
    students: int = 0
    chaperones: int = 0
    device: str = ""
    offline: bool = False


@dataclass
class _Booking:
    school: _School
    teacher_id: int
    status: str
    students: int
    chaperones: int
    grade: str
    class_name: str
    created_at: datetime
    cancelled_at: datetime | None = None
    scans: list[_Scan] = field(default_factory=list)


@dataclass
class _Slot:
    starts_at: datetime
    ends_at: datetime
    capacity: int
    title: str
    kind: str
    bookings: list[_Booking] = field(default_factory=list)

    @property
    def booked(self) -> int:
        return sum(b.students + b.chaperones for b in self.bookings if b.status == "confirmed")


def _at(day: date, t: time) -> datetime:
    return datetime.combine(day, t, tzinfo=clock.TZ)


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)


def _grades(stages: str, kind: str) -> tuple[str, ...]:
    """Grades a school can bring to a venue: labs open to secondary pupils only."""
    grades: tuple[str, ...] = ()
    if "P" in stages and kind != "laboratory":
        grades += PRIMARY_GRADES
    if "M" in stages:
        grades += MIDDLE_GRADES
    if "H" in stages:
        grades += HIGH_GRADES
    return grades


def _schedule(spec: VenueSpec, day: date, first_day: date, today: date) -> list[tuple[time, time, str, str]]:
    """(start, end, slot kind, title prefix) of the slots a venue opens on a day."""
    weekday = day.weekday()
    out: list[tuple[time, time, str, str]] = []
    if (day.month, day.day) in HOLIDAYS and not (spec.today and day == today):
        return out
    if spec.kind == "laboratory":
        if weekday == 2:
            out.append((*AFTERNOON, "school_visit", ""))
        # Every other Saturday the lab opens its doors to young people (实验室开放日).
        elif weekday == 5 and ((day - first_day).days // 7) % 2 == 0:
            out += [(start, end, "lab_open_day", "实验室开放日 · ") for start, end in (MORNING, AFTERNOON)]
    elif spec.kind == "community_site":
        if weekday in OPEN_DAYS[spec.kind]:
            out.append((*AFTERNOON, "activity", ""))
    elif weekday in OPEN_DAYS[spec.kind]:
        # Friday afternoons are open activities rather than class visits.
        afternoon = "activity" if weekday == 4 else "school_visit"
        out += [(*MORNING, "school_visit", ""), (*AFTERNOON, afternoon, "")]
    if spec.today and day == today and not any(start == MORNING[0] for start, *_ in out):
        out = [(*MORNING, "school_visit", ""), (*AFTERNOON, "school_visit", "")]
    if spec.kind == "science_museum" and spec.today and (weekday == 4 or day == today):
        out.append((*EVENING, "activity", "夜场 · "))
    return out


def _class_size(rng: random.Random, room: int) -> tuple[int, int] | None:
    """Students and adults of a class fitting in `room` places; 1 adult per 20 pupils, sometimes one more."""
    students = rng.randint(20, 45)
    extra = rng.randint(0, 1)
    while students >= 20:
        chaperones = math.ceil(students / 20) + extra
        if students + chaperones <= room:
            return students, chaperones
        students -= 1
    return None


def _plan_scans(rng: random.Random, slot: _Slot, b: _Booking, now: datetime, window: bool) -> None:
    """Door scans of a confirmed booking whose slot has started: full, partial, two buses, or a no-show."""
    r = rng.random()
    if slot.ends_at > now and r < 0.5:
        return  # under way now: the door page still has groups to check in
    if r < 0.08:
        return  # a no-show
    latest = min(slot.ends_at, now - timedelta(minutes=1))
    earliest = slot.starts_at - timedelta(minutes=30 if window else 40)
    arrive = slot.starts_at + timedelta(seconds=rng.randint(-25 * 60, 10 * 60))
    arrive = max(earliest, min(arrive, latest))
    device = rng.choice(DEVICES)
    offline = rng.random() < 0.04  # the basement gallery without network; synced later
    s, c = b.students, b.chaperones
    kind = rng.random()
    if kind < 0.18:
        # Part of the class stayed behind (sick, sports day): fewer pupils than booked.
        s -= rng.randint(1, min(5, s - 1))
        if c > 1 and rng.random() < 0.3:
            c -= 1
        b.scans.append(_Scan(arrive, "admitted", s, c, device, offline))
    elif kind < 0.26 and s >= 10:
        # Two buses: the pass is scanned twice and the counts add up to the booking.
        s1 = rng.randint(s // 3, 2 * s // 3)
        c1 = max(1, c // 2)
        second = min(arrive + timedelta(seconds=rng.randint(6 * 60, 20 * 60)), latest)
        b.scans.append(_Scan(arrive, "admitted", s1, c1, device, offline))
        b.scans.append(_Scan(max(second, arrive), "admitted", s - s1, c - c1, device, offline))
    else:
        b.scans.append(_Scan(arrive, "admitted", s, c, device, offline))
        if rng.random() < 0.03:
            # The teacher showed the pass again at the gallery door: denied, nobody counted twice.
            again = min(arrive + timedelta(seconds=rng.randint(60, 300)), latest)
            b.scans.append(_Scan(max(again, arrive), "already_checked_in", device=device))


def _plan_venue(
    rng: random.Random,
    spec: VenueSpec,
    schools: list[_School],
    first_day: date,
    last_day: date,
    now: datetime,
) -> list[_Slot]:
    today = clock.local(now).date()
    lo, hi = CAPACITY[spec.kind]
    capacity = rng.randrange(lo, hi + 1, 10)
    eligible = [s for s in schools if _grades(s.spec.stages, spec.kind)]
    nearby = [s for s in eligible if s.spec.district == spec.district]
    slots: list[_Slot] = []
    day = first_day
    while day <= last_day:
        for start, end, kind, prefix in _schedule(spec, day, first_day, today):
            title = "天文观测入门" if start == EVENING[0] else rng.choice(spec.titles)
            # The evening sky-watching session is limited by the telescopes on the roof terrace.
            places = EVENING_CAPACITY if start == EVENING[0] else capacity
            slot = _Slot(_at(day, start), _at(day, end), places, prefix + title, kind)
            _plan_bookings(rng, slot, spec, nearby, eligible, now)
            slots.append(slot)
        day += timedelta(days=1)
    return slots


def _plan_bookings(
    rng: random.Random,
    slot: _Slot,
    spec: VenueSpec,
    nearby: list[_School],
    eligible: list[_School],
    now: datetime,
) -> None:
    today = clock.local(now).date()
    day = clock.local(slot.starts_at).date()
    if day == today and spec.today:
        fill = rng.uniform(0.5, 0.85)
    elif slot.starts_at <= now:
        fill = 0.0 if rng.random() < 0.12 else rng.uniform(0.35, 0.95)
    else:
        # Near slots are fuller than those weeks away; nothing is booked beyond 80%.
        days_ahead = (day - today).days
        fill = rng.uniform(0.1, 0.8) * max(0.35, 1 - days_ahead / 80)
    target = int(slot.capacity * fill)
    if target < 25 <= slot.capacity * 0.8 and rng.random() < fill * 1.5:
        # Labs and community rooms hold one class or two: a popular slot takes a whole class.
        target = int(slot.capacity * 0.8)
    taken: set[tuple[int, str, str]] = set()
    while True:
        size = _class_size(rng, target - slot.booked)
        if size is None:
            break
        school = rng.choice(nearby) if nearby and rng.random() < 0.65 else rng.choice(eligible)
        grade = rng.choice(_grades(school.spec.stages, spec.kind))
        class_name = f"{rng.randint(1, 12)}班"
        if (school.id, grade, class_name) in taken:
            continue
        taken.add((school.id, grade, class_name))
        lead = timedelta(days=rng.uniform(3, 40))
        created = (slot.starts_at - lead).replace(microsecond=0)
        if created > now - timedelta(minutes=5):
            created = now - timedelta(seconds=rng.randint(3600, 20 * 86400))
        b = _Booking(
            school=school,
            teacher_id=rng.choice(school.teacher_ids),
            status="confirmed",
            students=size[0],
            chaperones=size[1],
            grade=grade,
            class_name=class_name,
            created_at=created,
        )
        slot.bookings.append(b)
        if rng.random() < 0.05:
            # Cancelled in time (or not): the places went back to the slot, so they are not in `booked`.
            until = int((min(slot.starts_at, now) - created).total_seconds())
            b.status = "cancelled"
            b.cancelled_at = created + timedelta(seconds=rng.randint(0, max(0, until - 60)))
        elif slot.starts_at <= now:
            _plan_scans(rng, slot, b, now, spec.window)


async def _store_venue(
    venue_id: int,
    staff_id: int,
    slots: list[_Slot],
    key: SigningKey,
    codes: set[str],
    slot_created: datetime,
    now: datetime,
    summary: DemoSummary,
) -> None:
    """One venue's term in one write transaction: slots, bookings with their passes, door scans."""
    bookings = [(slot, b) for slot in slots for b in slot.bookings]
    today = clock.local(now).date()
    async with write_transaction():
        slot_ids = await reserve_ids(Slot, len(slots))
        booking_ids = await reserve_ids(Booking, len(bookings))
        slot_rows = []
        for slot, sid in zip(slots, slot_ids, strict=True):
            slot_rows.append(
                Slot(
                    id=sid,
                    venue=venue_id,
                    starts_at=slot.starts_at,
                    ends_at=slot.ends_at,
                    capacity=slot.capacity,
                    booked=slot.booked,
                    title=slot.title,
                    kind=slot.kind,
                    created_by=staff_id,
                    created_at=slot_created,
                )
            )
            day = clock.local(slot.starts_at).date()
            if slot.ends_at <= now and day != today:
                summary.past_slots += 1
            elif day == today:
                summary.today_slots += 1
            else:
                summary.future_slots += 1
        slot_id_of = {id(slot): sid for slot, sid in zip(slots, slot_ids, strict=True)}
        booking_rows = []
        scan_rows = []
        for (slot, b), bid in zip(bookings, booking_ids, strict=True):
            code = new_pass_code()
            while code in codes:
                code = new_pass_code()
            codes.add(code)
            token = issue_pass(PassClaims(bid, venue_id, clock.local(slot.starts_at).date()), key)
            admitted = [s for s in b.scans if s.result == "admitted"]
            updated = max([b.created_at, *(s.at for s in b.scans)])
            booking_rows.append(
                Booking(
                    id=bid,
                    slot=slot_id_of[id(slot)],
                    venue=venue_id,
                    school=b.school.id,
                    teacher=b.teacher_id,
                    status=b.status,
                    students=b.students,
                    chaperones=b.chaperones,
                    grade=b.grade,
                    class_name=b.class_name,
                    code=code,
                    qr_token=token,
                    admitted_students=sum(s.students for s in admitted),
                    admitted_chaperones=sum(s.chaperones for s in admitted),
                    first_admitted_at=admitted[0].at if admitted else None,
                    created_at=b.created_at,
                    updated_at=b.cancelled_at or updated,
                    cancelled_at=b.cancelled_at,
                    cancelled_by=b.teacher_id if b.cancelled_at else None,
                )
            )
            for scan in b.scans:
                scan_rows.append(
                    CheckIn(
                        booking=bid,
                        venue=venue_id,
                        result=scan.result,
                        students=scan.students,
                        chaperones=scan.chaperones,
                        staff=staff_id,
                        device=scan.device,
                        offline=scan.offline,
                        method="qr",
                        # Offline scans carry the device's nonce so a re-sync cannot count them twice.
                        nonce=uuid.uuid4().hex if scan.offline else None,
                        created_at=scan.at,
                    )
                )
            summary.bookings += 1
            summary.cancelled += b.status == "cancelled"
            summary.admissions += len(admitted)
            summary.denied_scans += len(b.scans) - len(admitted)
            summary.people_admitted += sum(s.students + s.chaperones for s in admitted)
            summary.no_shows += b.status == "confirmed" and not admitted and slot.ends_at <= now
        await insert_chunked(Slot, slot_rows)
        await insert_chunked(Booking, booking_rows)
        await insert_chunked(CheckIn, scan_rows)
        await chain.chain_bulk_loaded()  # the demo's scans go into the venues' ledgers like any other
    summary.slots += len(slots)


async def _create_accounts(people: list[tuple[str, str, str, int | None]], registered: datetime) -> list[int]:
    """Create the demo's accounts, all with the one published demo password; their ids in the given order.

    accounts.services.create_user hashes each password with argon2id at production cost: measured here
    at 0.18-0.25 s a hash on 2 cores (its 4 lanes already use both, so running several at once gained
    ~25%), i.e. 11-15 s for 59 accounts and over 30 s on a busy machine, against 2.5 s for all the rest
    of the demo. One salted argon2id hash of the shared password serves every account instead: the
    password is printed for anyone to use, so identical hashes reveal nothing more, and each account
    gets its own salt again the first time its password is changed.
    """
    # The rules create_user enforces, for rows that do not pass through it.
    for username, role, _display, school_id in people:
        if (
            not accounts.USERNAME_RE.match(username)
            or role not in ROLES
            or (role == "teacher") != bool(school_id)
        ):
            raise ValueError(f"bad demo account {username!r}")
    password_hash = await hash_password(DEMO_PASSWORD)
    async with write_transaction():
        rows = await User.insert(
            *(
                User(
                    username=username,
                    password_hash=password_hash,
                    role=role,
                    display_name=display,
                    school=school_id,
                    # Teachers get a mailbox on the reserved .example domain, so the outbox shows
                    # every message kepu would send them (nothing leaves without an SMTP server).
                    email=f"{username}@demo.kepu.example" if role == "teacher" else "",
                    email_verified_at=registered if role == "teacher" else None,
                    created_at=registered,
                )
                for username, role, display, school_id in people
            )
        ).returning(User.id, User.username)
    # RETURNING order is not promised for a multi-row INSERT on SQLite: map by the unique username.
    by_name = {r["username"]: int(r["id"]) for r in rows}
    return [by_name[username] for username, *_ in people]


async def _free_suffix() -> str:
    """Empty normally; with --force on a database that has the demo, "-2", "-3"… so usernames stay unique."""
    n_teachers = sum(s.teachers for s in SCHOOLS)
    base = ["auditor"] + [f"staff{i:02d}" for i in range(1, len(VENUES) + 1)]
    base += [f"teacher{i:02d}" for i in range(1, n_teachers + 1)]
    for n in range(1, 1000):
        suffix = "" if n == 1 else f"-{n}"
        if not await User.exists().where(User.username.is_in([u + suffix for u in base])):
            return suffix
    raise RuntimeError("no free demo usernames")


async def load_demo() -> DemoSummary:
    """Create the demo in an open database (no lifespan, no migrations): for run_demo and the tests."""
    rng = random.Random(SEED)
    now = clock.local(clock.now())
    today = clock.today()
    first_day = today - timedelta(weeks=WEEKS_BACK)
    first_day -= timedelta(days=first_day.weekday())  # the term starts on a Monday
    last_day = today + timedelta(weeks=WEEKS_AHEAD)
    # Accounts, schools and venues existed before the term; its slots were published weeks ahead.
    registered = _at(first_day - timedelta(days=60), time(10, 0))
    slot_created = _at(first_day - timedelta(days=45), time(16, 0))
    summary = DemoSummary()
    suffix = await _free_suffix()

    known_schools = {r["id"] for r in await School.select(School.id)}
    schools = []
    for spec in SCHOOLS:
        view = await accounts.find_or_create_school(spec.name, spec.district, DEMO_STAGES[spec.stages])
        schools.append(_School(spec, view.id))

    venue_ids: list[int] = []
    async with write_transaction():
        for v in VENUES:
            rows = await Venue.insert(
                Venue(
                    name=v.name,
                    kind=v.kind,
                    district=v.district,
                    address=v.address,
                    arrival_before_start_minutes=30 if v.window else None,
                    arrival_after_end_minutes=0 if v.window else None,
                    created_at=registered,
                )
            ).returning(Venue.id)
            venue_ids.append(int(rows[0]["id"]))

    people: list[tuple[str, str, str, int | None]] = []  # username, role, display name, school id
    logins: list[DemoLogin] = []
    people.append(("auditor" + suffix, "auditor", "市科协 " + _person(rng), None))
    logins.append(DemoLogin("市科协审核员 auditor", "auditor" + suffix, "全市所有场馆 all venues"))
    for i, v in enumerate(VENUES, 1):
        people.append((f"staff{i:02d}{suffix}", "staff", _person(rng), None))
        role = "场馆主管 supervisor" if i == 1 else "检票员 door staff"
        logins.append(DemoLogin(role, f"staff{i:02d}{suffix}", v.name))
    n = 0
    shown_districts: set[str] = set()
    for school in schools:
        for _ in range(school.spec.teachers):
            n += 1
            people.append((f"teacher{n:02d}{suffix}", "teacher", _person(rng), school.id))
            if school.spec.district not in shown_districts:
                shown_districts.add(school.spec.district)
                where = f"{school.spec.name}（{school.spec.district}）"
                logins.append(DemoLogin("带队教师 teacher", f"teacher{n:02d}{suffix}", where))
    user_ids = await _create_accounts(people, registered)
    staff_ids = user_ids[1 : 1 + len(VENUES)]
    teacher_iter = iter(user_ids[1 + len(VENUES) :])
    for school in schools:
        school.teacher_ids = [next(teacher_iter) for _ in range(school.spec.teachers)]
    for i, (venue_id, staff_id) in enumerate(zip(venue_ids, staff_ids, strict=True)):
        await venues.add_staff(venue_id, staff_id, "supervisor" if i == 0 else "door")
    await add_demo_accreditation(venue_ids, user_ids[0], registered)
    new_schools = [s.id for s in schools if s.id not in known_schools]
    if new_schools:
        async with write_transaction():
            # find_or_create_school stamps "now"; the demo's schools were registered before the term.
            await School.update({School.created_at: registered}).where(School.id.is_in(new_schools))

    key = await keys.ensure_key()
    codes = {r["code"] for r in await Booking.select(Booking.code)}
    for i, (venue, venue_id, staff_id) in enumerate(zip(VENUES, venue_ids, staff_ids, strict=True), 1):
        slots = _plan_venue(rng, venue, schools, first_day, last_day, now)
        await _store_venue(venue_id, staff_id, slots, key, codes, slot_created, now, summary)
        if venue.today:
            summary.today_venues.append(f"{venue.name}（staff{i:02d}{suffix}）")
    # A few suspicious check-ins at two venues, so the auditor's anomaly flags have something to show.
    await add_demo_anomalies(venue_ids, now)
    # Programmes (with grade bands, topics, a few rules of their own) and rooms for those slots.
    await add_demo_programmes(venue_ids, [v.kind for v in VENUES], staff_ids[0], slot_created)
    # Public holidays, opening hours, a youth-free day and a recurring Saturday series.
    await add_demo_timetable(venue_ids[0], staff_ids[0])
    await add_demo_activities(venue_ids, [v.kind for v in VENUES], staff_ids)
    # A full slot with a class waiting for it, and a school warned for its strikes.
    await add_waitlist_and_strikes(
        venue_ids[0],
        (schools[1].id, schools[1].teacher_ids[0]),
        (schools[0].id, schools[0].teacher_ids[0]),
        schools[-1].id,
        key,
        now,
    )

    summary.venues = len(VENUES)
    summary.schools = len(schools)
    summary.users = len(user_ids)
    summary.teachers = n
    summary.username_suffix = suffix
    summary.logins = logins
    return summary


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def format_summary(summary: DemoSummary, seconds: float) -> str:
    lines = [
        f"kepu demo: {summary.venues} 个场馆 venues, {summary.schools} 所学校 schools, "
        f"{summary.users} 个账号 accounts, {summary.slots} 个场次 slots "
        f"({summary.past_slots} past, {summary.today_slots} today, {summary.future_slots} upcoming), "
        f"{summary.bookings} 个预约 bookings ({summary.cancelled} cancelled), "
        f"{summary.admissions} 次入场 admissions ({summary.people_admitted} 人次 people, "
        f"{summary.no_shows} no-shows) in {seconds:.1f} s.",
        "",
        f"演示账号 Demo logins — 统一密码 password for all: {DEMO_PASSWORD}",
    ]
    header = ("角色 Role", "用户名 Username", "场馆 / 学校 Venue / school")
    rows = [header, *((x.role, x.username, x.where) for x in summary.logins)]
    w0 = max(_width(r[0]) for r in rows) + 2
    w1 = max(_width(r[1]) for r in rows) + 2
    for i, (role, user, where) in enumerate(rows):
        lines.append("  " + _pad(role, w0) + _pad(user, w1) + where)
        if i == 0:
            lines.append("  " + "-" * (w0 + w1 + 24))
    last = f"teacher{summary.teachers:02d}{summary.username_suffix}"
    lines.append(f"  （teacher01{summary.username_suffix}–{last}：各校教师 one or two per school）")
    if summary.today_venues:
        lines.append(f"今天有场次 Slots today (door check-in): {'、'.join(summary.today_venues)}")
    lines.append(f"打开 Open {DEMO_URL} （kepu serve）")
    return "\n".join(lines)


async def run_demo(force: bool = False, if_empty: bool = False) -> int:
    """`kepu demo`: migrate, refuse a database that already has venues, load, print the logins.

    With ``if_empty`` (for `make run`, which loads the demo on every start) a database that already
    has venues is left alone and the exit status is 0, so what people changed is kept.
    """
    from kepu.cli import _migrate

    started = wallclock.monotonic()
    await _migrate()
    async with database_lifespan(pool_size=4):
        existing = await Venue.count()
        if existing and not force:
            if if_empty:
                print(f"kepu demo: 已有 {existing} 个场馆，不再加载 — the database has venues; kept as is.")
                return 0
            print(
                f"kepu demo: 数据库已有 {existing} 个场馆 — the database already has venues; "
                "use `kepu demo --force` to add the demo anyway.",
                file=sys.stderr,
            )
            return 1
        summary = await load_demo()
    print(format_summary(summary, wallclock.monotonic() - started))
    return 0


__all__ = ["DEMO_PASSWORD", "DemoLogin", "DemoSummary", "format_summary", "load_demo", "run_demo"]
