"""A small server-side SVG chart renderer: accessible (<svg role="img"> with <title> and <desc>; the
pages put the same figures in a table beside it), readable in Chinese (Noto CJK), printable."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

FONT = "'Noto Sans CJK SC','Noto Sans SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
BAR = "#1f6f8b"
MET = "#2e7d32"
MISSED = "#c62828"
_ids = itertools.count(1)


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:,.1f}"


def _open(width: int, height: int, title: str, desc: str) -> tuple[str, str]:
    n = next(_ids)
    tid, did = f"chart-t{n}", f"chart-d{n}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="{tid} {did}" '
        f'font-family="{FONT}">'  # a presentation attribute: style= is blocked by the CSP
        f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>'
    )
    return head, "</svg>"


def column_chart(title: str, labels: Sequence[str], values: Sequence[float], *, desc: str = "") -> Markup:
    """Vertical bars, one per label (e.g. twelve months), with the value above each bar."""
    width, height, left, bottom, top = 420, 220, 8, 30, 22
    n = max(1, len(values))
    peak = max([*values, 0]) or 1
    plot_w, plot_h = width - left - 8, height - bottom - top
    step = plot_w / n
    bar_w = step * 0.7
    desc = desc or "; ".join(f"{lab} {_fmt(v)}" for lab, v in zip(labels, values, strict=False))
    head, tail = _open(width, height, title, desc)
    parts = [head]
    base_y = height - bottom
    parts.append(f'<line x1="{left}" y1="{base_y}" x2="{width - 8}" y2="{base_y}" stroke="#555" />')
    for i, (lab, v) in enumerate(zip(labels, values, strict=False)):
        h = plot_h * (v / peak)
        x = left + i * step + (step - bar_w) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{base_y - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{BAR}" />'
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{base_y - h - 4:.1f}" font-size="12" text-anchor="middle" '
            f'fill="#222">{escape(_fmt(v))}</text>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{base_y + 18}" font-size="13" text-anchor="middle" '
            f'fill="#222">{escape(lab)}</text>'
        )
    parts.append(tail)
    return Markup("".join(parts))


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], *, desc: str = "") -> Markup:
    """Horizontal bars with the label at the left and the value at the bar's end."""
    row_h, left, right = 30, 96, 60
    width = 420
    height = max(1, len(values)) * row_h + 16
    peak = max([*values, 0]) or 1
    desc = desc or "; ".join(f"{lab} {_fmt(v)}" for lab, v in zip(labels, values, strict=False))
    head, tail = _open(width, height, title, desc)
    parts = [head]
    for i, (lab, v) in enumerate(zip(labels, values, strict=False)):
        y = 8 + i * row_h
        w = (width - left - right) * (v / peak)
        parts.append(
            f'<text x="{left - 8}" y="{y + 19}" font-size="14" text-anchor="end" fill="#222">'
            f"{escape(lab)}</text>"
        )
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row_h - 10}" fill="{BAR}" />')
        parts.append(
            f'<text x="{left + w + 6:.1f}" y="{y + 19}" font-size="13" fill="#222">{escape(_fmt(v))}</text>'
        )
    parts.append(tail)
    return Markup("".join(parts))


def threshold_chart(
    title: str, rows: Sequence[tuple[str, float | None, float, bool | None, str]], *, desc: str = ""
) -> Markup:
    """A base's figures against its thresholds: each bar is the share of the threshold reached (a "max"
    metric inverted), the line at 100% is the threshold; green met, red missed, grey not assessed.
    rows: (label, value, threshold, met, value text)."""
    row_h, left, right = 44, 6, 96
    width = 420
    height = max(1, len(rows)) * row_h + 26
    plot_w = width - left - right
    scale = 1.5  # bars run to 150% of the threshold
    head, tail = _open(width, height, title, desc or "; ".join(f"{r[0]} {r[4]}" for r in rows))
    parts = [head]
    x100 = left + plot_w / scale
    for i, (lab, value, threshold, met, text) in enumerate(rows):
        y = 4 + i * row_h  # the label on its own line, the bar below it: long names never clip
        share = 0.0 if value is None or threshold <= 0 else min(scale, value / threshold)
        colour = "#9e9e9e" if met is None else (MET if met else MISSED)
        w = plot_w * share / scale
        parts.append(f'<text x="{left}" y="{y + 14}" font-size="14" fill="#222">{escape(lab)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 20}" width="{w:.1f}" height="16" fill="{colour}" />')
        parts.append(
            f'<text x="{left + w + 6:.1f}" y="{y + 33}" font-size="13" fill="#222">{escape(text)}</text>'
        )
    parts.append(
        f'<line x1="{x100:.1f}" y1="4" x2="{x100:.1f}" y2="{height - 20}" '
        'stroke="#222" stroke-dasharray="4 3" />'
    )
    parts.append(
        f'<text x="{x100:.1f}" y="{height - 6}" font-size="12" text-anchor="middle" fill="#222">100%</text>'
    )
    parts.append(tail)
    return Markup("".join(parts))
