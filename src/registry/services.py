"""Accreditation of bases, status changes with their reasons, and threshold profiles."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, ClassVar

import auditlog
from accounts.schemas import UserView
from core import clock
from core.db import write_transaction
from core.errors import DomainError, Forbidden, NotFound
from core.i18n import N_, gettext
from evaluation.scorecard import DEFAULT_BANDS, METRICS
from registry.defaults import ensure_profiles
from registry.tables import LEVELS, STATUSES, Accreditation, StatusChange, ThresholdProfile
from venues.tables import Venue

LEVEL_LABELS = {
    "national": N_("National"),
    "provincial": N_("Provincial"),
    "municipal": N_("Municipal"),
}
STATUS_LABELS = {
    "active": N_("Active"),
    "rectification": N_("Under rectification"),
    "revoked": N_("Revoked"),
}
MAX_THRESHOLD = 1_000_000


class RegistryError(DomainError):
    messages: ClassVar[dict[str, tuple[int, str]]] = {
        "reason_required": (422, N_("Give the reason for this change; it is kept in the history.")),
        "same_status": (409, N_("The base already has this status.")),
        "bad_status": (422, N_("Choose a status from the list.")),
        "profile": (404, N_("There is no such threshold profile.")),
    }


def _require_auditor(actor: UserView) -> None:
    if not actor.is_auditor:
        raise Forbidden("role")


async def list_bases(
    *,
    district: str | None = None,
    kind: str | None = None,
    level: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Every registered venue with its accreditation (a venue never accredited shows no level/status)."""
    rows = await Venue.raw(
        """
        SELECT v.id AS id, v.name AS name, v.kind AS kind, v.district AS district, v.address AS address,
               a.level AS level, a.status AS status, a.batch AS batch, a.valid_until AS valid_until,
               p.name AS profile_name
        FROM venues_venue v
        LEFT JOIN registry_accreditation a ON a.venue = v.id
        LEFT JOIN registry_profile p ON p.id = a.profile
        ORDER BY v.district, v.name, v.id
        """
    )
    out = []
    for r in rows:
        if district and r["district"] != district:
            continue
        if kind and r["kind"] != kind:
            continue
        if level and (r["level"] or "") != level:
            continue
        if status and (r["status"] or "") != status:
            continue
        vu = r["valid_until"]
        out.append({**r, "valid_until": date.fromisoformat(str(vu)[:10]) if vu else None})
    return out


async def get_base(venue_id: int) -> dict[str, Any]:
    venue = await Venue.objects().get(Venue.id == venue_id)
    if venue is None:
        raise NotFound("venue")
    acc = await Accreditation.select().where(Accreditation.venue == venue_id).first()
    history = (
        await StatusChange.select(
            *StatusChange.all_columns(),
            StatusChange.changed_by.display_name.as_alias("by_name"),
        )
        .where(StatusChange.venue == venue_id)
        .order_by(StatusChange.id, ascending=False)
    )
    for h in history:
        h["changed_at"] = clock.as_aware(h["changed_at"])
    return {"venue": venue, "accreditation": acc, "history": history}


async def save_accreditation(actor: UserView, venue_id: int, values: dict[str, Any]) -> None:
    """Create or edit a base's accreditation (not its status, which changes only with a reason)."""
    _require_auditor(actor)
    now = clock.now()
    async with write_transaction():
        if not await Venue.exists().where(Venue.id == venue_id):
            raise NotFound("venue")
        if values.get("profile") is not None and not await ThresholdProfile.exists().where(
            ThresholdProfile.id == values["profile"]
        ):
            raise RegistryError("profile")
        current = (
            await Accreditation.select(Accreditation.id, *(getattr(Accreditation, k) for k in values))
            .where(Accreditation.venue == venue_id)
            .first()
        )
        if current is None:
            await Accreditation.insert(
                Accreditation(venue=venue_id, status="active", created_at=now, updated_at=now, **values)
            )
            await StatusChange.insert(
                StatusChange(
                    venue=venue_id,
                    from_status="",
                    to_status="active",
                    reason="认定 / accredited",
                    changed_by=actor.id,
                    changed_at=now,
                )
            )
            after = {**values, "status": "active"}
            await auditlog.record(
                actor, "accreditation.create", "accreditation", venue_id, after=after, venue_id=venue_id
            )
        else:
            await Accreditation.update(
                {**{getattr(Accreditation, k): v for k, v in values.items()}, Accreditation.updated_at: now}
            ).where(Accreditation.venue == venue_id)
            before = {k: current[k] for k in values}
            await auditlog.record(
                actor, "accreditation.update", "accreditation", venue_id, before, values, venue_id=venue_id
            )


async def change_status(actor: UserView, venue_id: int, to_status: str, reason: str) -> None:
    """A new status with its reason; the change is kept for ever in StatusChange."""
    _require_auditor(actor)
    reason = (reason or "").strip()
    if to_status not in STATUSES:
        raise RegistryError("bad_status")
    if not reason:
        raise RegistryError("reason_required")
    now = clock.now()
    async with write_transaction():
        acc = await Accreditation.select(Accreditation.status).where(Accreditation.venue == venue_id).first()
        if acc is None:
            if not await Venue.exists().where(Venue.id == venue_id):
                raise NotFound("venue")
            await Accreditation.insert(
                Accreditation(venue=venue_id, status=to_status, created_at=now, updated_at=now)
            )
            previous = ""
        else:
            previous = acc["status"]
            if previous == to_status:
                raise RegistryError("same_status")
            await Accreditation.update(
                {Accreditation.status: to_status, Accreditation.updated_at: now}
            ).where(Accreditation.venue == venue_id)
        await StatusChange.insert(
            StatusChange(
                venue=venue_id,
                from_status=previous,
                to_status=to_status,
                reason=reason[:500],
                changed_by=actor.id,
                changed_at=now,
            )
        )
        await auditlog.record(
            actor,
            "status.change",
            "accreditation",
            venue_id,
            before={"status": previous},
            after={"status": to_status},
            venue_id=venue_id,
            reason=reason[:500],
        )


def parse_accreditation_form(data: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The edit form's fields, checked; errors are sentences keyed by field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    level = str(data.get("level") or "").strip()
    if level not in LEVELS:
        errors["level"] = gettext("Choose a level from the list.")
    values["level"] = level
    values["batch"] = str(data.get("batch") or "").strip()[:100]
    for field in ("accredited_on", "valid_until"):
        raw = str(data.get(field) or "").strip()
        if not raw:
            values[field] = None
            continue
        try:
            values[field] = date.fromisoformat(raw)
        except ValueError:
            errors[field] = gettext("Enter a date like 2026-05-20.")
    if (
        not errors
        and values["accredited_on"]
        and values["valid_until"]
        and values["valid_until"] < values["accredited_on"]
    ):
        errors["valid_until"] = gettext("The end of validity must not be before the accreditation date.")
    values["contact_name"] = str(data.get("contact_name") or "").strip()[:100]
    phone = str(data.get("contact_phone") or "").strip()
    if phone and not all(ch.isdigit() or ch in "-+ ()" for ch in phone):
        errors["contact_phone"] = gettext("A phone number has digits, spaces and - + ( ) only.")
    values["contact_phone"] = phone[:32]
    raw_profile = str(data.get("profile") or "").strip()
    if raw_profile:
        try:
            values["profile"] = int(raw_profile)
        except ValueError:
            errors["profile"] = gettext("Choose a profile from the list.")
    else:
        values["profile"] = None
    return (None if errors else values), errors


# ---- threshold profiles ----------------------------------------------------------------------------


async def list_profiles() -> list[dict[str, Any]]:
    await ensure_profiles()
    rows = await ThresholdProfile.select().order_by(ThresholdProfile.id)
    return [{**r, "config": json.loads(r["config"] or "{}")} for r in rows]


async def get_profile(profile_id: int) -> dict[str, Any]:
    row = await ThresholdProfile.select().where(ThresholdProfile.id == profile_id).first()
    if row is None:
        raise RegistryError("profile")
    return {**row, "config": json.loads(row["config"] or "{}")}


def parse_profile_form(data: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Thresholds and weights per metric (`t_<code>`, `w_<code>`) and the three grade bands."""
    errors: dict[str, str] = {}
    metrics: dict[str, dict[str, float]] = {}

    def number(key: str, high: float) -> float | None:
        raw = str(data.get(key) or "").strip()
        try:
            value = float(raw)
        except ValueError:
            errors[key] = gettext("Enter a number.")
            return None
        if not (0 <= value <= high):
            errors[key] = gettext("Enter a number from 0 to %(high)s.") % {"high": f"{high:g}"}
            return None
        return int(value) if value.is_integer() else value

    for code, (_label, _direction, unit) in METRICS.items():
        t = number(f"t_{code}", 100 if unit == "%" else MAX_THRESHOLD)
        w = number(f"w_{code}", 100)
        if t is not None and w is not None:
            metrics[code] = {"threshold": t, "weight": w}
    bands: dict[str, float] = {}
    for code in ("excellent", "good", "pass"):
        b = number(f"band_{code}", 100)
        if b is not None:
            bands[code] = b
    if len(bands) == 3 and not (bands["excellent"] > bands["good"] > bands["pass"]):
        errors["band_excellent"] = gettext("Bands must fall: excellent above good above pass.")
    if not errors and sum(m["weight"] for m in metrics.values()) <= 0:
        errors["w_open_days"] = gettext("Give at least one metric a weight above 0.")
    if errors:
        return None, errors
    return {"metrics": metrics, "bands": bands or dict(DEFAULT_BANDS)}, {}


async def save_profile(actor: UserView, profile_id: int, config: dict[str, Any]) -> None:
    _require_auditor(actor)
    async with write_transaction():
        old = (
            await ThresholdProfile.select(ThresholdProfile.config)
            .where(ThresholdProfile.id == profile_id)
            .first()
        )
        if old is None:
            raise RegistryError("profile")
        await ThresholdProfile.update(
            {
                ThresholdProfile.config: json.dumps(config, ensure_ascii=False),
                ThresholdProfile.updated_at: clock.now(),
                ThresholdProfile.updated_by: actor.id,
            }
        ).where(ThresholdProfile.id == profile_id)
        before, after = _flat_config(json.loads(old["config"] or "{}")), _flat_config(config)
        await auditlog.record(actor, "profile.update", "profile", profile_id, before, after)


def _flat_config(config: dict[str, Any]) -> dict[str, Any]:
    """A profile's settings as flat fields ("visitors.threshold": 5000): the log keeps only those changed."""
    out: dict[str, Any] = {}
    for code, metric in (config.get("metrics") or {}).items():
        for key, value in (metric or {}).items():
            out[f"{code}.{key}"] = value
    for band, value in (config.get("bands") or {}).items():
        out[f"bands.{band}"] = value
    return out
