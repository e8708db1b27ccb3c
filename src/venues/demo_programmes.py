"""The demo's programmes and rooms: one programme per kind of visit a venue offers (its slots' titles),
with grade bands, curriculum tags, a few rule overrides and a generated photo, and a room per venue."""

from __future__ import annotations

import io
import random
from collections import defaultdict
from datetime import datetime
from typing import Any

from PIL import Image, ImageDraw

from core.db import write_transaction
from venues.programmes import reencode_image
from venues.tables import Programme, ProgrammeFile, Room, Slot, Venue

# (words in the title, curriculum tag)
TAGS = (
    (("海洋", "潮间带", "浮游", "海水"), "生物·海洋"),
    (("白鹭", "红树林", "湿地", "生物多样性"), "生物·生态"),
    (("植物", "雨林", "凤凰木", "多肉", "本草"), "生物·植物"),
    (("机器人", "编程", "无人机"), "信息科技·编程"),
    (("3D打印", "模型", "仪器", "船"), "工程·设计"),
    (("天文", "仪象台", "航天"), "地理·天文"),
    (("力学", "飞", "空气", "驾驶舱"), "物理·力学"),
    (("电", "磁"), "物理·电磁"),
    (("水质", "碳", "垃圾", "空气质量", "密度", "盐"), "化学·环境"),
    (("安全", "防", "急救", "溺水"), "安全教育"),
    (("精神", "嘉庚", "苏颂", "华侨", "教育兴邦"), "科学史·人物"),
    (("营养", "饮食"), "健康生活"),
)
BANDS_BY_KIND = {
    "laboratory": "junior,senior",
    "community_site": "preschool,primary_low,primary_high",
    "scientist_spirit_base": "primary_high,junior,senior",
}
ROOM_BY_KIND = {
    "science_museum": "多功能厅",
    "museum": "展厅",
    "education_base": "科普教室",
    "community_site": "活动室",
    "laboratory": "开放实验室",
    "scientist_spirit_base": "报告厅",
}
# Programmes with rules of their own (the rest take their venue's).
OVERRIDES: dict[str, dict[str, Any]] = {
    "VR航天体验": {"group_max": 30},
    "显微镜下的浮游生物": {"group_max": 25, "approval_mode": "request"},
    "植物标本制作": {"students_per_adult": 10},
    "模拟驾驶舱体验": {"group_max": 30, "min_lead_days": 7},
}
DIRECTIONS = {
    "science_museum": "地铁1号线、BRT至体育中心站，步行约5分钟；大巴可在馆前广场下客，停车场在东侧。",
    "museum": "公交至华侨博物院站下车即到；大巴请在思明南路临时停靠点下客。",
}


def _tags(title: str) -> str:
    return ",".join(tag for words, tag in TAGS if any(w in title for w in words))


def _bands(kind: str, title: str) -> str:
    if kind in BANDS_BY_KIND:
        return BANDS_BY_KIND[kind]
    if any(w in title for w in ("机器人", "编程", "无人机", "3D打印", "VR")):
        return "primary_high,junior"
    return "primary_low,primary_high,junior"


def _photo(rng: random.Random) -> bytes:
    """A simple generated picture (sea, sun, hills) so the catalogue shows thumbnails."""
    image = Image.new("RGB", (960, 640), (20 + rng.randint(0, 40), 110 + rng.randint(0, 60), 170))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 420, 960, 640), fill=(12, 90 + rng.randint(0, 40), 120))
    draw.ellipse((680, 60, 840, 220), fill=(255, 214, 90))
    for _ in range(3):
        x = rng.randint(0, 800)
        draw.polygon([(x, 430), (x + 160, 250 + rng.randint(0, 80)), (x + 320, 430)], fill=(40, 120, 70))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def add_demo_programmes(venue_ids: list[int], kinds: list[str], created_by: int, now: datetime) -> int:
    """Programmes and rooms for the demo venues, and every slot tied to them; the number of programmes."""
    rng = random.Random(20260301)
    made = 0
    async with write_transaction():
        for venue_id, kind in zip(venue_ids, kinds, strict=True):
            slots = await Slot.select(Slot.id, Slot.title, Slot.capacity).where(Slot.venue == venue_id)
            by_title: dict[str, list[int]] = defaultdict(list)
            for s in slots:
                by_title[str(s["title"]).split(" · ")[-1]].append(int(s["id"]))
            biggest = max((int(s["capacity"]) for s in slots), default=60)
            room = await Room.insert(
                Room(venue=venue_id, name=ROOM_BY_KIND.get(kind, "教室"), capacity=biggest, created_at=now)
            ).returning(Room.id)
            await Slot.update({Slot.room: room[0]["id"]}).where(Slot.venue == venue_id)
            for title, ids in sorted(by_title.items()):
                rows = await Programme.insert(
                    Programme(
                        venue=venue_id,
                        title=title,
                        description=f"{title}：场馆老师带领学生观察、动手、讨论，结合课堂所学完成一份学习单。",
                        grade_bands=_bands(kind, title),
                        tags=_tags(title),
                        duration_minutes=90,
                        created_at=now,
                        updated_at=now,
                        **OVERRIDES.get(title, {}),
                    )
                ).returning(Programme.id)
                programme_id = int(rows[0]["id"])
                made += 1
                await Slot.update({Slot.programme: programme_id}).where(Slot.id.is_in(ids))
                if made <= 6:  # a few photos are enough to show the thumbnails
                    data, thumb = reencode_image(_photo(rng))
                    await ProgrammeFile.insert(
                        ProgrammeFile(
                            programme=programme_id,
                            kind="photo",
                            filename=f"{title}.jpg",
                            content_type="image/jpeg",
                            size=len(data),
                            data=data,
                            thumbnail=thumb,
                            created_by=created_by,
                            created_at=now,
                        )
                    )
            if kind in DIRECTIONS:
                await Venue.update(
                    {Venue.directions: DIRECTIONS[kind], Venue.contact_phone: "0592-5551234"}
                ).where(Venue.id == venue_id)
    return made
