"""Accreditation for the demo's venues: levels, batches, validity, contacts, one base under
rectification with its history, so the registry and the scorecards have something to show."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from registry.tables import Accreditation, StatusChange

LEVEL_CYCLE = ("national", "provincial", "municipal", "municipal")
CONTACTS = ("陈老师", "林老师", "黄老师", "张老师", "李老师", "王老师")


async def add_demo_accreditation(venue_ids: list[int], auditor_id: int, registered: datetime) -> None:
    """One accreditation per venue; the third venue was put under rectification last spring."""
    since = registered.date()
    for i, venue_id in enumerate(venue_ids):
        accredited = date(since.year - 1 - i % 3, 5, 20)
        status = "rectification" if i == 2 else "active"
        await Accreditation.insert(
            Accreditation(
                venue=venue_id,
                level=LEVEL_CYCLE[i % len(LEVEL_CYCLE)],
                batch=f"{accredited.year}年第{'一二'[i % 2]}批",
                accredited_on=accredited,
                valid_until=date(accredited.year + 3, 5, 19),
                status=status,
                contact_name=CONTACTS[i % len(CONTACTS)],
                contact_phone=f"0592-55{i:05d}",
                created_at=registered,
                updated_at=registered,
            )
        )
        await StatusChange.insert(
            StatusChange(
                venue=venue_id,
                from_status="",
                to_status="active",
                reason="认定 / accredited",
                changed_by=auditor_id,
                changed_at=registered,
            )
        )
        if status == "rectification":
            await StatusChange.insert(
                StatusChange(
                    venue=venue_id,
                    from_status="active",
                    to_status="rectification",
                    reason="年度考核开放天数不足，限期整改 / too few open days last year",
                    changed_by=auditor_id,
                    changed_at=registered + timedelta(days=30),
                )
            )
