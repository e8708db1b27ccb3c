"""QR rendering tests: decode the generated images with an independent reader (zxing-cpp)."""

from __future__ import annotations

import datetime
import io
import re
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from bookings.qr import qr_png, qr_svg
from bookings.tickets import PassClaims, generate_signing_key, issue_pass

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def token() -> str:
    claims = PassClaims(booking_id=987_654, venue_id=12, day=datetime.date(2025, 7, 15))
    return issue_pass(claims, generate_signing_key(1))


def decode_one(image: Image.Image) -> zxingcpp.Barcode:
    barcodes = zxingcpp.read_barcodes(image)
    assert len(barcodes) == 1
    assert barcodes[0].format == zxingcpp.BarcodeFormat.QRCode
    return barcodes[0]


def qr_version(barcode: zxingcpp.Barcode) -> int:
    extra = barcode.extra
    assert isinstance(extra, dict)
    return int(extra["Version"])


def test_png_decodes_to_exact_token(token: str) -> None:
    png = qr_png(token)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    barcode = decode_one(Image.open(io.BytesIO(png)))
    assert barcode.text == token
    assert barcode.ec_level == "M"
    # 128 characters fit version 6-M only in alphanumeric mode; byte mode would need version 8.
    assert qr_version(barcode) == 6


def test_lower_case_text_falls_back_to_byte_mode(token: str) -> None:
    barcode = decode_one(Image.open(io.BytesIO(qr_png(token.lower()))))
    assert barcode.text == token.lower()
    assert qr_version(barcode) == 8


def test_png_geometry_follows_box_size_and_border(token: str) -> None:
    modules = 17 + 4 * 6  # version 6
    image = Image.open(io.BytesIO(qr_png(token, box_size=5, border=6)))
    assert image.size == ((modules + 2 * 6) * 5,) * 2
    assert decode_one(image).text == token
    # The quiet zone really is blank.
    assert image.convert("L").crop((0, 0, image.width, 6 * 5)).getextrema() == (255, 255)


@pytest.mark.parametrize(
    "text", ["https://kepu.example/b/42?c=abcd-efgh", "厦门科技馆 · 团体参观", "KP1.A", "x" * 300]
)
def test_other_texts_round_trip(text: str) -> None:
    assert decode_one(Image.open(io.BytesIO(qr_png(text)))).text == text


def test_empty_text_is_rejected() -> None:
    with pytest.raises(ValueError):
        qr_png("")
    with pytest.raises(ValueError):
        qr_svg("")


def rasterize_path_svg(svg: str, scale: int = 8) -> Image.Image:
    """Draw qrcode's path SVG (unit squares "Mx,yH..V..H..z" on a viewBox grid) so zxing can read it."""
    root = ET.fromstring(svg)
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    image = Image.new("L", (int(width * scale), int(height * scale)), 255)
    draw = ImageDraw.Draw(image)
    paths = root.findall(f"{SVG_NS}path")
    assert len(paths) == 1
    squares = re.findall(r"M([\d.]+),([\d.]+)H([\d.]+)V([\d.]+)H[\d.]+z", paths[0].attrib["d"])
    assert squares
    for x0, y0, x1, y1 in squares:
        box = [float(x0) * scale, float(y0) * scale, float(x1) * scale - 1, float(y1) * scale - 1]
        draw.rectangle(box, fill=0)
    return image


def test_svg_is_valid_xml_and_decodes(token: str) -> None:
    svg = qr_svg(token)
    assert not svg.startswith("<?xml"), "inline SVG must not carry an XML declaration"
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert root.attrib["viewBox"] == "0 0 49 49"  # 41 modules + 2 * 4 quiet zone
    assert decode_one(rasterize_path_svg(svg)).text == token
