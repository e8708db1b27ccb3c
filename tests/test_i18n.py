"""Catalogues: every string a person reads is extracted, translated into Chinese, and complete in English."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from core import i18n

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "src" / "kepu" / "locale"
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def _catalog(lang: str):  # type: ignore[no-untyped-def]
    with (LOCALE / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def test_template_is_current(tmp_path: Path) -> None:
    """A string added to the code without `make messages` fails here, so nothing ships untranslated."""
    pot = tmp_path / "fresh.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-o",
            str(pot),
            "--no-location",
            "src",
            "templates",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    with pot.open("rb") as f:
        fresh = {m.id for m in read_po(f) if m.id}
    with (LOCALE / "messages.pot").open("rb") as f:
        committed = {m.id for m in read_po(f) if m.id}
    assert fresh - committed == set(), "run `make messages`: new strings are missing from the catalogue"


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_catalogue_complete_and_placeholders_kept(lang: str) -> None:
    with (LOCALE / "messages.pot").open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    catalog = _catalog(lang)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    assert wanted - set(translated) == set()
    for msgid, text in translated.items():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        texts = text if isinstance(text, tuple) else (text,)
        assert set(PLACEHOLDER.findall(ids[0])) == set(PLACEHOLDER.findall(texts[0])), msgid


def test_chinese_is_the_default_and_english_is_available() -> None:
    i18n.translations.cache_clear()
    with i18n.language("zh_CN"):
        assert i18n.gettext("Sign in") == "登录"
    with i18n.language("en"):
        assert i18n.gettext("Sign in") == "Sign in"
    assert i18n.DEFAULT_LANGUAGE == "zh_CN"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
        ("zh", "zh_CN"),
        ("zh-Hans-CN", "zh_CN"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR", None),
        ("", None),
        ("en;q=0.2, zh-TW;q=0.8", "zh_CN"),
        (";;;q=abc", None),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert i18n.negotiate(header) == expected
