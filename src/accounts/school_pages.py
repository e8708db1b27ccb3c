"""The schools registry for auditors: search it, import a CSV file checked row by row first."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from accounts import schools
from accounts.labels import STAGE_LABELS, STAGE_NAMES_ZH
from accounts.tables import DISTRICTS
from core.guards import requires_role
from core.i18n import gettext
from core.web import flash

LIST_LIMIT = 200


def _stage_label(code: str) -> str:
    return gettext(STAGE_LABELS[code]) if code in STAGE_LABELS else "—"


async def _page(
    *,
    q: str = "",
    district: str = "",
    check: schools.ImportCheck | None = None,
    pending: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    district = district if district in DISTRICTS else ""
    q = q.strip()[:50]
    listing, total = await schools.search_schools(q=q, district=district, limit=LIST_LIMIT)
    return Template(
        "accounts/schools.html",
        context={
            "schools": listing,
            "total": total,
            "limit": LIST_LIMIT,
            "q": q,
            "district": district,
            "check": check,
            "pending": pending,
            "errors": errors or {},
            "stage_label": _stage_label,
            "stage_names": "、".join(STAGE_NAMES_ZH),
            "max_mb": schools.MAX_UPLOAD_BYTES // (1024 * 1024),
        },
        status_code=status_code,
    )


@get("/audit/schools", guards=[requires_role("auditor")], include_in_schema=False)
async def schools_page(
    q: Annotated[str | None, QueryParameter(name="q", max_length=100)] = None,
    district: Annotated[str | None, QueryParameter(name="district", max_length=8)] = None,
) -> Template:
    return await _page(q=q or "", district=district or "")


def _flash_result(request: Request[Any, Any, Any], result: schools.ImportResult) -> None:
    flash(
        request,
        gettext(
            "Import done: {created} schools added, {updated} updated, {unchanged} already in the registry."
        ).format(created=result.created, updated=result.updated, unchanged=result.unchanged),
    )


@post("/audit/schools/import", guards=[requires_role("auditor")], include_in_schema=False, status_code=303)
async def schools_import(request: Request[Any, Any, Any]) -> Template | Redirect:
    # The body is read whole by the framework (its own limit is 10 MB); the file's limit is checked here.
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _page(errors={"file": gettext("Choose a CSV file to import.")}, status_code=400)
    data = await upload.read(schools.MAX_UPLOAD_BYTES + 1)
    await upload.close()
    check = schools.check_csv(data)
    partial = form.get("partial") in ("on", "1", "yes")
    if check.clean or (partial and check.rows and not check.file_problem):
        result = await schools.import_rows(check.rows, actor=request.scope["user"])
        _flash_result(request, result)
        return Redirect("/audit/schools", status_code=303)
    pending = ""
    if check.rows and not check.file_problem:
        pending = await schools.keep_pending(request.scope["user"].id, check.rows)
    return await _page(check=check, pending=pending, status_code=400)


@post(
    "/audit/schools/import/clean", guards=[requires_role("auditor")], include_in_schema=False, status_code=303
)
async def schools_import_clean(request: Request[Any, Any, Any]) -> Template | Redirect:
    form = await request.form()
    key = form.get("pending")
    rows = await schools.take_pending(request.scope["user"].id, key if isinstance(key, str) else "")
    if rows is None:
        return await _page(
            errors={
                "file": gettext(
                    "That check is over 30 minutes old or was already imported; upload the file again."
                )
            },
            status_code=400,
        )
    _flash_result(request, await schools.import_rows(rows, actor=request.scope["user"]))
    return Redirect("/audit/schools", status_code=303)


SCHOOL_PAGES = [schools_page, schools_import, schools_import_clean]
