"""Property tests (issue 8, "Bad input and abuse"): whatever arrives, the parsers answer with a value or
a sentence, never an exception, and no page form answers 5xx.

- the pass token parser (bookings/tickets.py): every genuine pass verifies, any altered or foreign text
  does not, and nothing raises; typed codes normalise to one canonical code;
- the import parsers (registry/imports.py CSV/XLSX, accounts/schools.py CSV): any bytes and any table
  give rows or problems;
- page forms (core/forms.py parse_form, and every POST page route with a valid session and CSRF token,
  every GET page route with a random query): random fields and values never give a 5xx; nor do ids
  too large for the database in any page address.

The RRULE input has its own properties in tests/timetable/test_recurrence.py.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import re
import string
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from litestar.routes import HTTPRoute

from accounts import schools
from bookings import tickets
from core.errors import DomainError
from core.forms import parse_form
from registry import imports
from tests.helpers import PASSWORD, World
from tests.pages.browser_session import CSRF_RE

FAST = settings(max_examples=100, derandomize=True, database=None, deadline=None)

# --- passes ---------------------------------------------------------------------------------------

KEYS = {kid: tickets.generate_signing_key(kid) for kid in (1, 2)}
PUBLIC = {kid: key.public_key for kid, key in KEYS.items()}

claims = st.builds(
    tickets.PassClaims,
    booking_id=st.integers(1, 2**31 - 1),
    venue_id=st.integers(1, 2**31 - 1),
    day=st.dates(datetime.date(2000, 1, 1), datetime.date(2150, 1, 1)),
)


@FAST
@given(claims, st.sampled_from([1, 2]))
def test_a_genuine_pass_verifies_in_any_case_and_padding(c: tickets.PassClaims, kid: int) -> None:
    token = tickets.issue_pass(c, KEYS[kid])
    assert tickets.verify_pass(token, PUBLIC) == c
    assert tickets.verify_pass(f"  {token.lower()}\n", PUBLIC) == c
    assert tickets.pass_kid(token) == kid
    assert tickets.verify_pass(token, {3 - kid: PUBLIC[3 - kid]}) is None, "another key's pass"


@FAST
@given(claims, st.data())
def test_any_altered_character_invalidates_the_pass(c: tickets.PassClaims, data: st.DataObject) -> None:
    token = tickets.issue_pass(c, KEYS[1])
    i = data.draw(st.integers(len(tickets.PASS_PREFIX), len(token) - 1))
    replacement = data.draw(st.sampled_from(string.ascii_uppercase + "234567"))
    assume(replacement != token[i])
    altered = token[:i] + replacement + token[i + 1 :]
    assert tickets.verify_pass(altered, PUBLIC) is None
    assert tickets.verify_pass(token[:-1], PUBLIC) is None
    assert tickets.verify_pass(token + "A", PUBLIC) is None


@FAST
@given(
    st.one_of(
        st.text(max_size=120),
        st.text(alphabet=string.ascii_uppercase + "234567=", max_size=140).map(lambda s: "KP1." + s),
        st.binary(max_size=90).map(lambda b: "KP1." + __import__("base64").b32encode(b).decode()),
    )
)
def test_any_text_is_a_pass_or_none_never_an_exception(text: str) -> None:
    claims_ = tickets.verify_pass(text, PUBLIC)
    kid = tickets.pass_kid(text)
    assert claims_ is None or kid in PUBLIC
    assert kid is None or 0 <= kid < 2**16


@FAST
@given(st.text(alphabet=tickets.CODE_ALPHABET, min_size=8, max_size=8), st.data())
def test_a_code_as_people_type_it_normalises_to_itself(code: str, data: st.DataObject) -> None:
    typed = tickets.format_code(code)
    if data.draw(st.booleans()):
        typed = typed.upper()
    if data.draw(st.booleans()):  # full-width, as a Chinese IME may produce
        typed = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in typed)
    separator = data.draw(st.sampled_from(["-", "\u2014", "\u2013", " ", "", "\uff0d"]))
    typed = typed.replace("-", separator).replace("\uff0d", separator)
    assert tickets.normalize_code(f" {typed} ") == code


@FAST
@given(st.text(max_size=40))
def test_any_text_normalises_to_a_valid_code_or_none(text: str) -> None:
    code = tickets.normalize_code(text)
    assert code is None or (len(code) == tickets.CODE_LENGTH and set(code) <= set(tickets.CODE_ALPHABET))
    if code is not None:
        assert tickets.normalize_code(code) == code


# --- import parsers -------------------------------------------------------------------------------

REGISTRY_HEADERS = [names[0] for names in imports.HEADERS.values()] + ["名称", "类型", "区", "认定日期"]
CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["科技馆", "博物馆", "思明区", "湖里", "国家级", "2024-05-20", "2024年5月20日", ""]),
    st.from_regex(r"-?\d{1,25}[-/.]\d{1,25}[-/.]\d{1,25}", fullmatch=True),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(),
    st.datetimes(),
    st.none(),
)


@FAST
@given(
    st.lists(st.sampled_from(REGISTRY_HEADERS), min_size=0, max_size=8),
    st.lists(st.lists(CELL, max_size=10), max_size=6),
)
def test_any_base_table_gives_rows_or_problems(header: list[str], body: list[list[Any]]) -> None:
    clean, problems, data_rows = imports.check_rows([list(header), *body])
    assert clean or problems or data_rows == 0
    assert all(p["problem"] and p["row"] >= 1 for p in problems)
    assert len(clean) <= data_rows <= len(body)


@FAST
@given(
    st.text(alphabet=string.printable + '科技馆思明区名称类型,"\n', max_size=300),
    st.sampled_from(["a.csv", "b.xlsx"]),
)
def test_any_upload_is_a_table_or_a_sentence(text: str, filename: str) -> None:
    for data in (text.encode(), text.encode("gbk", errors="replace"), b"PK\x03\x04" + text.encode()):
        try:
            table = imports.read_table(filename, data)
        except DomainError as exc:
            assert exc.message()
            continue
        imports.check_rows(table)


def _xlsx(rows: list[list[Any]]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@settings(max_examples=25, derandomize=True, database=None, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20),
                st.integers(-(10**15), 10**15),
                st.dates(),
                st.none(),
            ),
            max_size=6,
        ),
        max_size=5,
    )
)
def test_any_workbook_gives_rows_or_problems(body: list[list[Any]]) -> None:
    table = imports.read_table("bases.xlsx", _xlsx([["名称", "类型", "区", "认定日期", "有效期至"], *body]))
    clean, problems, _ = imports.check_rows(table)
    assert clean or problems


SCHOOL_CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["厦门实验小学", "思明区", "思明", "湖里区", "小学", "初中", "完全中学", "", " "]),
)


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


@FAST
@given(
    st.lists(st.sampled_from(["name", "district", "stage", "学校名称", "区", "学段", "x", ""]), max_size=5),
    st.lists(st.lists(SCHOOL_CELL, max_size=5), max_size=6),
)
def test_any_school_table_gives_rows_or_problems(header: list[str], body: list[list[str]]) -> None:
    check = schools.check_csv(_csv([header, *body]))
    assert check.rows or check.problems
    assert all(p.message for p in check.problems)
    assert {r.district for r in check.rows} <= set(schools.DISTRICTS)


# --- forms ----------------------------------------------------------------------------------------


def _form_structs() -> list[type[msgspec.Struct]]:
    """Every msgspec Struct of kepu's packages with a name that says it is a form or an update."""
    found: dict[str, type[msgspec.Struct]] = {}
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in PACKAGES:
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, msgspec.Struct)
                and value.__module__ == name
                and value.__name__.endswith(("Form", "Update", "Create"))
            ):
                found[f"{name}.{value.__name__}"] = value
    return [found[k] for k in sorted(found)]


PACKAGES = {"accounts", "venues", "bookings", "evaluation", "registry", "timetable", "messaging", "kepu"}
VALUE = st.one_of(
    st.text(max_size=40),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "1",
            "2147483648",
            "9223372036854775808",
            "1e9",
            "NaN",
            "on",
            "true",
            "null",
            "2030-05-20",
            "2030-02-30",
            "2030-05-20T10:00",
            "2030-05-20 10:00:00+08:00",
            "10:00",
            "25:61",
            "思明区",
            "science_museum",
            "x" * 300,
            "\x00",
            "FREQ=WEEKLY;BYDAY=MO",
        ]
    ),
)


def _form_data(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(
        st.one_of(st.sampled_from(fields), st.text(max_size=10)) if fields else st.text(max_size=10),
        st.one_of(VALUE, st.lists(VALUE, max_size=3)),
        max_size=8,
    )


def test_there_are_forms_to_parse() -> None:
    import kepu.pages  # noqa: F401  (imports every page module and its forms)

    assert len(_form_structs()) >= 5, [s.__name__ for s in _form_structs()]


@pytest.mark.parametrize("struct", _form_structs() or [None], ids=lambda s: getattr(s, "__name__", "none"))
def test_parse_form_gives_a_struct_or_a_sentence_per_field(struct: type[msgspec.Struct] | None) -> None:
    if struct is None:
        pytest.skip("no forms found")
    fields = list(struct.__struct_fields__)

    @settings(max_examples=60, derandomize=True, database=None, deadline=None)
    @given(_form_data(fields))
    def check(data: dict[str, Any]) -> None:
        parsed, errors = parse_form(struct, data, blank_as_none=tuple(fields))
        assert (parsed is None) != (not errors)
        assert all(isinstance(m, str) and m for m in errors.values())

    check()


# --- every POST page, with a valid session and CSRF token -----------------------------------------

SKIP_PAGES = {"/logout", "/account/delete"}  # they end the session the other examples need
FIELD_NAMES = sorted(
    {f for s in _form_structs() for f in s.__struct_fields__}
    | {"next", "username", "password", "token", "code", "reason", "confirm", "action", "names", "file"}
)


def _post_routes(app: Any, method: str = "POST") -> list[tuple[str, str]]:
    routes = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(("/api", "/schema", "/static")):
            continue
        for handler in route.route_handlers:
            if method in handler.http_methods and route.path not in SKIP_PAGES:
                routes.append((route.path, handler.handler_name))
    return sorted(set(routes))


PATH_PARAM = re.compile(r"\{(\w+):(\w+)\}")


def _path_value(kind: str) -> st.SearchStrategy[str]:
    if kind == "int":
        return st.sampled_from([1, 2, 3, 0, 2**31, 2**63 + 5]).map(str)
    if kind == "date":
        return st.one_of(
            st.dates(datetime.date(2020, 1, 1), datetime.date(2035, 1, 1)).map(str), st.just("2030-02-30")
        )
    return st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=40)


class Browser:
    """A page client per role, on its own event loop (hypothesis drives sync functions)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.lifespan = app.state.kepu_lifespan(app)
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.csrf: dict[str, str] = {}

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def start(self) -> None:
        await self.lifespan.__aenter__()
        base = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver")
        world = await World(base).build()
        slot = await world.slot(capacity=60)
        booking = await world.book(slot["id"], 10, 1)
        assert booking.status_code == 201, booking.text
        await base.aclose()
        for role, username in (
            ("anonymous", None),
            ("teacher", "teacher_a"),
            ("staff", "staff_a"),
            ("auditor", "auditor"),
        ):
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app),
                base_url="http://testserver",
                follow_redirects=False,
            )
            page = await client.get("/login")
            m = CSRF_RE.search(page.text)
            assert m, page.text[:300]
            if username:
                r = await client.post(
                    "/login",
                    data={"username": username, "password": PASSWORD, "next": "/", "_csrf_token": m[1]},
                )
                assert r.status_code == 303, r.text[:300]
                m = CSRF_RE.search((await client.get("/account/password")).text) or m
            self.clients[role] = client
            self.csrf[role] = m[1]

    async def stop(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        await self.lifespan.__aexit__(None, None, None)


@pytest.fixture
def browser(app: Any, database_url: str) -> Iterator[Browser]:
    b = Browser(app)
    try:
        b.run(b.start())
        yield b
    finally:
        b.run(b.stop())
        b.loop.close()


def _fuzz_route(browser: Browser, path: str, method: str = "POST") -> None:
    """Send random fields (a POST body, or a GET query) to one page route as a random role; hypothesis
    shrinks any 5xx it finds."""
    params = PATH_PARAM.findall(path)

    @settings(
        max_examples=12,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        st.sampled_from(sorted(browser.clients)),
        st.tuples(*(_path_value(kind) for _, kind in params)),
        _form_data(FIELD_NAMES),
    )
    def post(role: str, values: tuple[str, ...], data: dict[str, Any]) -> None:
        url = path
        for (name, kind), value in zip(params, values, strict=True):
            url = url.replace(f"{{{name}:{kind}}}", httpx.URL(path="/" + value).raw_path.decode()[1:])
        body = {k: v for k, v in data.items() if k != "_csrf_token"}
        client = browser.clients[role]
        if method == "GET":
            r = browser.run(client.get(url, params=body))
        else:
            body["_csrf_token"] = browser.csrf[role]
            r = browser.run(client.post(url, data=body))
        assert r.status_code < 500, f"{role} {method} {url} {body!r} → {r.status_code}"

    post()


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_random_fields_on_every_page_never_give_a_5xx(browser: Browser, method: str) -> None:
    routes = _post_routes(browser.app, method)
    assert len(routes) > 20, routes
    failures: list[str] = []
    for path, handler in routes:
        try:
            _fuzz_route(browser, path, method)
        except AssertionError as exc:
            failures.append(f"{handler}: {exc}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_huge_ids_in_every_page_address_are_4xx(browser: Browser, method: str) -> None:
    """An id beyond the database's integers (2**31 on PostgreSQL, 2**63 on SQLite) names nothing."""
    bad = []
    for path, handler in _post_routes(browser.app, method):
        params = PATH_PARAM.findall(path)
        if not any(kind == "int" for _, kind in params):
            continue
        for huge in (2**31, 2**63 + 5):
            url = path
            for name, kind in params:
                url = url.replace(f"{{{name}:{kind}}}", str(huge) if kind == "int" else "2030-05-20")
            for role in ("auditor", "staff", "teacher"):
                client = browser.clients[role]
                r = browser.run(
                    client.post(url, data={"_csrf_token": browser.csrf[role]})
                    if method == "POST"
                    else client.get(url)
                )
                if r.status_code >= 500:
                    bad.append(f"{handler}: {role} {method} {url} → {r.status_code}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("exc", "too_large"),
    [
        (OverflowError("Python int too large to convert to SQLite INTEGER"), True),
        (OverflowError("Python int too large to convert to C long"), True),
        (
            __import__("asyncpg").exceptions.DataError(
                "invalid input for query argument $1: 9223372036854775813 (value out of int32 range)"
            ),
            True,
        ),
        (OverflowError("math range error"), False),
        (ValueError("invalid literal for int()"), False),
    ],
    ids=repr,
)
def test_numbers_too_large_for_the_database_are_told_apart_from_bugs(exc: Exception, too_large: bool) -> None:
    from kepu.errors import _is_number_out_of_range

    assert _is_number_out_of_range(exc) is too_large
