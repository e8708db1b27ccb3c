"""QR code rendering for visit passes, as PNG bytes or inline SVG markup."""

from __future__ import annotations

import io
from functools import lru_cache

import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage

__all__ = ["qr_png", "qr_svg"]

# M (~15% recovery) survives scuffed phone screens and printouts without growing a pass token much.
_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M


def _build(text: str, *, box_size: int, border: int) -> qrcode.QRCode:
    if not text:
        raise ValueError("cannot encode an empty string as a QR code")
    code = qrcode.QRCode(error_correction=_ERROR_CORRECTION, box_size=box_size, border=border)
    # qrcode picks the densest mode per segment, so an upper-case base32 token goes alphanumeric.
    code.add_data(text)
    code.make(fit=True)
    return code


# qrcode computes the matrix in pure Python (~20 ms for a pass); a pass's image never changes, so a
# process keeps the most recent ones (a few KB each) instead of drawing them again on every view.
@lru_cache(maxsize=2048)
def qr_png(text: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """PNG image of a QR code that decodes to exactly ``text``.

    ``border`` is in modules; scanners need at least 4 of quiet zone on busy backgrounds.
    """
    image = _build(text, box_size=box_size, border=border).make_image(image_factory=PilImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


@lru_cache(maxsize=2048)
def qr_svg(text: str) -> str:
    """Standalone ``<svg>`` element (no XML declaration) for inline display in an HTML page."""
    image = _build(text, box_size=10, border=4).make_image(image_factory=SvgPathImage)
    svg: str = image.to_string(encoding="unicode")
    return svg
