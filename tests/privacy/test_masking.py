"""The pure side of name lists: masking (张*明), checking names, reading TXT/CSV/XLSX files."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.masking import MASK, MAX_BYTES, NameFileError, clean_name, mask, read_names, valid_name


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三明", "张*明"),
        ("张三", "张*"),
        ("张", "*"),
        ("欧阳娜娜", "欧**娜"),
        ("Alice", "A***e"),
        ("Li Na", "L***a"),
        ("阿依古丽·买买提", "阿******提"),
    ],
)
def test_mask_examples(name: str, masked: str) -> None:
    assert mask(name) == masked


NOT_IN_NAMES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
names = st.text(alphabet=st.characters(blacklist_categories=NOT_IN_NAMES), min_size=1, max_size=40)


@given(names)
def test_mask_hides_the_middle_and_keeps_the_length(name: str) -> None:
    out = mask(name)
    assert len(out) == len(name)
    if len(name) >= 3:
        assert out[0] == name[0] and out[-1] == name[-1]
        assert set(out[1:-1]) == {MASK}
    elif len(name) == 2:
        assert out == name[0] + MASK
    else:
        assert out == MASK
    # Whatever stands in the middle of the name never shows (unless it is also the first or last
    # character, which are shown anyway).
    shown = {out[0], out[-1]} if len(name) >= 3 else {out[0]}
    for ch in name[1:-1]:
        assert ch not in out or ch in shown or ch == MASK


@given(names)
def test_no_name_of_three_or_more_characters_survives_masking(name: str) -> None:
    if len(name) >= 3 and set(name[1:-1]) != {MASK}:
        assert mask(name) != name
        assert name not in mask(name)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("张三", True),
        ("x" * 40, True),
        ("x" * 41, False),
        ("", False),
        ("张\x07三", False),
        ("张\u200b三", False),
    ],
)
def test_valid_name(raw: str, ok: bool) -> None:
    assert valid_name(raw) is ok


def test_clean_name_trims_and_collapses_spaces() -> None:
    assert clean_name("  Li   Na \t") == "Li Na"


def test_plain_text_csv_and_header() -> None:
    assert read_names("a.txt", "张三明\n\n李四\r\n".encode(), 5) == ["张三明", "李四"]
    assert read_names("a.csv", "姓名,年级\n张三明,三\n李四,三\n".encode("utf-8-sig"), 5) == ["张三明", "李四"]


def test_xlsx_first_column() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in (["姓名", "班级"], ["张三明", "3"], [None, None], ["李四", "3"]):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    assert read_names("list.xlsx", buf.getvalue(), 5) == ["张三明", "李四"]


@pytest.mark.parametrize(
    ("filename", "data", "code"),
    [
        ("a.txt", b"", "empty"),
        ("a.txt", b"\n\n  \n", "empty"),
        ("a.txt", "张三\n".encode("gbk"), "not_utf8"),
        ("a.txt", b"ab\x00cd", "bad_file"),
        ("a.xlsx", "张三".encode(), "bad_file"),
        ("a.xlsx", b"PK\x03\x04not really a zip", "bad_file"),
        ("a.txt", b"x" * (MAX_BYTES + 1), "too_big"),
        ("a.txt", "张三\n李\x07四\n".encode(), "bad_name"),
        ("a.txt", ("x" * 41).encode(), "bad_name"),
        ("a.txt", b"a\nb\nc\nd\n", "too_many"),
    ],
)
def test_refusals(filename: str, data: bytes, code: str) -> None:
    with pytest.raises(NameFileError) as caught:
        read_names(filename, data, 3)
    assert caught.value.code == code
    # A refusal never carries the names it was given.
    assert "张" not in str(caught.value) and "李" not in str(caught.value)


def test_bad_name_says_which_line() -> None:
    with pytest.raises(NameFileError) as caught:
        read_names("a.txt", "张三\n\n李\x07四\n".encode(), 5)
    assert caught.value.line == 3


def test_many_blank_lines_do_not_hide_names() -> None:
    data = ("\n" * 500 + "张三\n" + "\n" * 500 + "李四\n").encode()
    assert read_names("a.txt", data, 2) == ["张三", "李四"]
