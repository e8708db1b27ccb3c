"""The science association's registry pages: bases with their accreditation and status history,
threshold profiles, and the base import with its check report and progress bar."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from accounts.schemas import UserView
from core.errors import DomainError
from core.guards import requires_role
from core.i18n import gettext
from core.web import flash, form_data
from evaluation.scorecard import METRICS
from registry import imports, services
from registry.tables import LEVELS, STATUSES
from venues.labels import DISTRICT_LABELS, KIND_LABELS

AUDITOR = [requires_role("auditor")]


def _labels() -> dict[str, Any]:
    return {
        "LEVEL_LABELS": services.LEVEL_LABELS,
        "STATUS_LABELS": services.STATUS_LABELS,
        "LEVELS": LEVELS,
        "STATUSES": STATUSES,
        "METRICS": METRICS,
        "FIELD_LABELS": imports.FIELD_LABELS,
    }


@get("/audit/bases", guards=AUDITOR, include_in_schema=False)
async def base_list(
    district: Annotated[str | None, QueryParameter(name="district", max_length=8)] = None,
    kind: Annotated[str | None, QueryParameter(name="kind", max_length=32)] = None,
    level: Annotated[str | None, QueryParameter(name="level", max_length=16)] = None,
    status: Annotated[str | None, QueryParameter(name="status", max_length=16)] = None,
) -> Template:
    chosen = {
        "district": district if district in DISTRICT_LABELS else "",
        "kind": kind if kind in KIND_LABELS else "",
        "level": level if level in LEVELS else "",
        "status": status if status in STATUSES else "",
    }
    bases = await services.list_bases(**{k: v or None for k, v in chosen.items()})
    return Template("registry/list.html", context={"bases": bases, "chosen": chosen, **_labels()})


async def _base_page(
    venue_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_values: dict[str, Any] | None = None,
    status_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    base = await services.get_base(venue_id)
    acc = base["accreditation"] or {}
    current = {
        "level": acc.get("level", "municipal"),
        "batch": acc.get("batch", ""),
        "accredited_on": str(acc.get("accredited_on") or "")[:10],
        "valid_until": str(acc.get("valid_until") or "")[:10],
        "contact_name": acc.get("contact_name", ""),
        "contact_phone": acc.get("contact_phone", ""),
        "profile": str(acc.get("profile") or ""),
    }
    return Template(
        "registry/base.html",
        context={
            **base,
            "values": values if values is not None else current,
            "errors": errors or {},
            "status_values": status_values or {},
            "status_errors": status_errors or {},
            "profiles": await services.list_profiles(),
            **_labels(),
        },
        status_code=status_code,
    )


@get("/audit/bases/{venue_id:int}", guards=AUDITOR, include_in_schema=False)
async def base_page(venue_id: FromPath[int]) -> Template:
    return await _base_page(venue_id)


@post("/audit/bases/{venue_id:int}", guards=AUDITOR, include_in_schema=False)
async def base_save(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    values, errors = services.parse_accreditation_form(data)
    if values is not None:
        try:
            await services.save_accreditation(actor, venue_id, values)
        except services.RegistryError as exc:
            errors = {"profile": exc.message()}
    if errors:
        return await _base_page(venue_id, values=data, errors=errors, status_code=400)
    flash(request, gettext("Accreditation saved."))
    return Redirect(f"/audit/bases/{venue_id}", status_code=303)


@post("/audit/bases/{venue_id:int}/status", guards=AUDITOR, include_in_schema=False)
async def base_status(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], venue_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    to_status = str(data.get("status") or "")
    try:
        await services.change_status(actor, venue_id, to_status, str(data.get("reason") or "")[:500])
    except services.RegistryError as exc:
        field = "reason" if exc.code == "reason_required" else "status"
        code = 409 if exc.code == "same_status" else 400
        return await _base_page(
            venue_id, status_values=data, status_errors={field: exc.message()}, status_code=code
        )
    flash(request, gettext("Status changed; the change and its reason are kept in the history."))
    return Redirect(f"/audit/bases/{venue_id}", status_code=303)


# ---- threshold profiles ----------------------------------------------------------------------------


@get("/audit/profiles", guards=AUDITOR, include_in_schema=False)
async def profile_list() -> Template:
    return Template(
        "registry/profiles.html", context={"profiles": await services.list_profiles(), **_labels()}
    )


async def _profile_page(
    profile_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    code: int = 200,
) -> Template:
    profile = await services.get_profile(profile_id)
    if values is None:
        cfg = profile["config"]
        values = {}
        for metric in METRICS:
            spec = (cfg.get("metrics") or {}).get(metric) or {}
            values[f"t_{metric}"] = spec.get("threshold", 0)
            values[f"w_{metric}"] = spec.get("weight", 0)
        for band, v in (cfg.get("bands") or {}).items():
            values[f"band_{band}"] = v
    return Template(
        "registry/profile.html",
        context={"profile": profile, "values": values, "errors": errors or {}, **_labels()},
        status_code=code,
    )


@get("/audit/profiles/{profile_id:int}", guards=AUDITOR, include_in_schema=False)
async def profile_page(profile_id: FromPath[int]) -> Template:
    try:
        return await _profile_page(profile_id)
    except services.RegistryError as exc:
        return Template("registry/missing.html", context={"message": exc.message()}, status_code=404)


@post("/audit/profiles/{profile_id:int}", guards=AUDITOR, include_in_schema=False)
async def profile_save(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], profile_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    config, errors = services.parse_profile_form(data)
    try:
        if config is None:
            return await _profile_page(profile_id, values=data, errors=errors, code=400)
        await services.save_profile(actor, profile_id, config)
    except services.RegistryError as exc:
        return Template("registry/missing.html", context={"message": exc.message()}, status_code=404)
    flash(request, gettext("Threshold profile saved; scorecards use it at once."))
    return Redirect("/audit/profiles", status_code=303)


# ---- import ----------------------------------------------------------------------------------------


@get("/audit/bases/import", guards=AUDITOR, include_in_schema=False)
async def import_form() -> Template:
    return Template("registry/import.html", context={"error": "", "HEADERS": imports.HEADERS, **_labels()})


@post(
    "/audit/bases/import",
    guards=AUDITOR,
    include_in_schema=False,
    request_max_body_size=imports.MAX_BYTES + 65536,
    opt={"upload_limit_bytes": imports.MAX_BYTES},
)
async def import_upload(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView]
) -> Template | Redirect:
    form = await request.form()
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise imports.ImportError_("empty")
        data = await upload.read(imports.MAX_BYTES + 1)
        job_id = await imports.check_file(actor, upload.filename, data)
    except DomainError as exc:
        status = exc.messages[exc.code][0]
        return Template(
            "registry/import.html",
            context={"error": exc.message(), "HEADERS": imports.HEADERS, **_labels()},
            status_code=status,
        )
    return Redirect(f"/audit/bases/import/{job_id}", status_code=303)


@get("/audit/bases/import/{job_id:int}", guards=AUDITOR, include_in_schema=False)
async def import_job(job_id: FromPath[int]) -> Template:
    try:
        job = await imports.get_job(job_id)
    except DomainError as exc:
        return Template("registry/missing.html", context={"message": exc.message()}, status_code=404)
    return Template(
        "registry/import_job.html",
        context={"job": job, "progress": imports.progress(job), "error": "", **_labels()},
    )


@post("/audit/bases/import/{job_id:int}/start", guards=AUDITOR, include_in_schema=False)
async def import_start(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], job_id: FromPath[int]
) -> Template | Redirect:
    data = await form_data(request)
    try:
        await imports.start(actor, job_id, clean_only=data.get("mode") == "clean")
    except DomainError as exc:
        try:
            job = await imports.get_job(job_id)
        except DomainError:
            return Template("registry/missing.html", context={"message": exc.message()}, status_code=404)
        return Template(
            "registry/import_job.html",
            context={"job": job, "progress": imports.progress(job), "error": exc.message(), **_labels()},
            status_code=exc.messages[exc.code][0],
        )
    return Redirect(f"/audit/bases/import/{job_id}", status_code=303)


@post("/audit/bases/import/{job_id:int}/step", guards=AUDITOR, include_in_schema=False)
async def import_step(
    request: Request[Any, Any, Any], actor: NamedDependency[UserView], job_id: FromPath[int]
) -> Response[Any] | Redirect:
    """One chunk: the page's script calls this until done and moves the progress bar; without a
    script, the "continue" button does the same one chunk per click."""
    try:
        progress = await imports.step(actor, job_id)
    except DomainError as exc:
        return Response({"detail": exc.message()}, status_code=exc.messages[exc.code][0])
    if "application/json" in request.headers.get("accept", ""):
        return Response(progress, status_code=200)
    if progress["state"] == "done":
        flash(
            request,
            gettext("Import finished: %(created)s new, %(updated)s updated, %(unchanged)s unchanged.")
            % {k: progress[k] for k in ("created", "updated", "unchanged")},
        )
    return Redirect(f"/audit/bases/import/{job_id}", status_code=303)


PAGES = [
    base_list,
    base_page,
    base_save,
    base_status,
    profile_list,
    profile_page,
    profile_save,
    import_form,
    import_upload,
    import_job,
    import_start,
    import_step,
]
