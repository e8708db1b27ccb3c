"""Pure helpers of name lists: read an uploaded file into names, check each name, and mask it (张*明).

Nothing here logs, and no error carries a name: a refusal says which line, never what it held.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

MASK = "*"
MAX_NAME_CHARS = 40
MAX_BYTES = 512 * 1024  # a class list of a few hundred names is a few kB, even as XLSX
# A first line that only labels the column (a spreadsheet's header row) is not a name.
HEADERS = frozenset({"姓名", "名字", "学生姓名", "学生", "name", "names", "student", "students", "full name"})


class NameFileError(ValueError):
    """A file or a name that cannot be taken; `code` says why, `line` where (1-based), never what."""

    def __init__(self, code: str, line: int = 0) -> None:
        super().__init__(code)
        self.code = code
        self.line = line


def mask(name: str) -> str:
    """The name with everything but its first and last character hidden: 张三明 → 张*明, 张三 → 张*,
    欧阳娜娜 → 欧**娜, Alice → A***e. As long as the name, so a reader can still tell names apart by
    length and initial at the door, but never reads one."""
    n = len(name)
    if n <= 1:
        return MASK * n
    if n == 2:
        return name[0] + MASK
    return name[0] + MASK * (n - 2) + name[-1]


def clean_name(raw: str) -> str:
    """The name as kept: NFC, inner runs of spaces made one, outer spaces dropped (may be empty)."""
    return " ".join(unicodedata.normalize("NFC", raw).split())


def valid_name(name: str) -> bool:
    """1–40 characters, no control or format characters (nor unassigned or private-use ones)."""
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        return False
    return not any(unicodedata.category(ch).startswith("C") for ch in name)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _xlsx_first_column(data: bytes) -> Iterator[str]:
    try:
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # zip, XML and openpyxl's own InvalidFileException
        raise NameFileError("bad_file") from exc
    try:
        for row in wb.worksheets[0].iter_rows(values_only=True):
            yield _cell(row[0] if row else None)
    except NameFileError:
        raise
    except Exception as exc:
        raise NameFileError("bad_file") from exc
    finally:
        wb.close()


def _text_lines(data: bytes, *, is_csv: bool) -> Iterator[str]:
    if b"\x00" in data:
        raise NameFileError("bad_file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NameFileError("not_utf8") from exc
    if not is_csv:
        yield from text.splitlines()
        return
    try:
        for row in csv.reader(io.StringIO(text)):
            yield row[0] if row else ""
    except csv.Error as exc:
        raise NameFileError("bad_file") from exc


def read_names(filename: str, data: bytes, limit: int) -> list[str]:
    """The names in an uploaded file: XLSX or CSV (first column), or plain text (one name a line).

    Empty lines and a header line are skipped. Raises NameFileError: empty, too_big, bad_file,
    not_utf8, bad_name (with the line), too_many (more than `limit` names).
    """
    if not data:
        raise NameFileError("empty")
    if len(data) > MAX_BYTES:
        raise NameFileError("too_big")
    lower = filename.lower()
    cells: Iterable[str]
    if data[:4] == b"PK\x03\x04" or lower.endswith((".xlsx", ".xlsm")):
        if data[:4] != b"PK\x03\x04":
            raise NameFileError("bad_file")
        cells = _xlsx_first_column(data)
    else:
        cells = _text_lines(data, is_csv=lower.endswith(".csv"))
    return names_from_lines(cells, limit)


def names_from_lines(lines: Iterable[str], limit: int) -> list[str]:
    """Check and clean lines (from a file or a text box) into names; see read_names for the errors."""
    names: list[str] = []
    for number, raw in enumerate(lines, start=1):
        name = clean_name(raw)
        if not name:
            continue
        if not names and name.lower() in HEADERS:
            continue
        if not valid_name(name):
            raise NameFileError("bad_name", number)
        names.append(name)
        if len(names) > limit:
            raise NameFileError("too_many")
    if not names:
        raise NameFileError("empty")
    return names
