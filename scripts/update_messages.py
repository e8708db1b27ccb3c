"""Extract every translatable string (Python and templates) and update the zh_CN and en catalogues.

English catalogue entries are the message ids themselves (the ids are English), so `en` is always
complete; zh_CN entries that are new show up untranslated and fail tests/test_i18n.py until filled.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "src" / "kepu" / "locale"
POT = LOCALE / "messages.pot"


def main() -> int:
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run(
        [
            str(pybabel),
            "extract",
            "-F",
            "babel.cfg",
            "-o",
            str(POT),
            "--no-location",
            "--sort-output",
            "--project",
            "kepu",
            "--copyright-holder",
            "kepu contributors",
            "src",
            "templates",
        ],
        check=True,
        cwd=ROOT,
    )
    subprocess.run(
        [
            str(pybabel),
            "update",
            "-i",
            str(POT),
            "-d",
            str(LOCALE),
            "--no-fuzzy-matching",
            "--ignore-obsolete",
        ],
        check=True,
        cwd=ROOT,
    )
    en = LOCALE / "en" / "LC_MESSAGES" / "messages.po"
    with en.open("rb") as f:
        catalog = read_po(f, locale="en")
    for message in catalog:
        if message.id and not message.string:
            message.string = message.id
    with en.open("wb") as f:
        write_po(f, catalog, omit_header=False, sort_output=True, width=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
