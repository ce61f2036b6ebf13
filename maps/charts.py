"""Inline SVG charts for the report (hand-built: no script, no CDN, deterministic bytes)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from geo.text import html_text

BAR_COLOUR = "#4e79a7"
BAD_COLOUR = "#e15759"
SECOND_COLOUR = "#f28e2b"
_FONT = 'font-family="Microsoft YaHei, PingFang SC, Noto Sans CJK SC, sans-serif" font-size="12"'


def _fmt(v: float, unit: str) -> str:
    if not math.isfinite(v):
        return "–"
    if unit == "%":
        return f"{100 * v:.0f}%"
    text = f"{v:.2f}" if abs(v) < 1 else f"{v:.1f}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{text}{unit}"


def short_label(text: str, *, width: int = 32) -> str:
    """``text`` cut to ``width`` display units (a CJK character counts 2), with an ellipsis."""
    used = 0
    out: list[str] = []
    for ch in text:
        w = 2 if ord(ch) > 0x2E7F else 1
        if used + w > width:
            return "".join(out).rstrip() + "…"
        used += w
        out.append(ch)
    return text


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    limits: Sequence[float] | None = None,
    limit_label: str = "",
    unit: str = "",
    higher_is_bad: bool = True,
) -> str:
    """Horizontal bars, one per label, with an optional limit tick per bar.

    A bar beyond its limit (above when ``higher_is_bad``, else below) is drawn in red.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    n = len(labels)
    if n == 0:
        return ""
    vals = [float(v) if v is not None and math.isfinite(float(v)) else float("nan") for v in values]
    lims = [float(x) if x is not None else float("nan") for x in (limits or [float("nan")] * n)]
    top = max([v for v in vals + lims if math.isfinite(v)] + [1e-9]) * 1.1
    label_w, bar_w, row_h = 210, 360, 22
    width, height = label_w + bar_w + 80, 34 + n * row_h + (18 if limit_label else 0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" {_FONT}>',
        f'<title>{html_text(title)}</title><text x="4" y="16" font-weight="bold">{html_text(title)}</text>',
    ]
    for k, (lab, v, lim) in enumerate(zip(labels, vals, lims, strict=True)):
        y = 28 + k * row_h
        bad = math.isfinite(lim) and math.isfinite(v) and ((v > lim) if higher_is_bad else (v < lim))
        w = 0.0 if not math.isfinite(v) else max(v, 0.0) / top * bar_w
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{html_text(short_label(lab))}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 7}" fill="{BAD_COLOUR if bad else BAR_COLOUR}"/>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{html_text(_fmt(v, unit))}</text>')
        if math.isfinite(lim):
            lx = label_w + lim / top * bar_w
            parts.append(f'<line x1="{lx:.1f}" x2="{lx:.1f}" y1="{y}" y2="{y + row_h - 1}" stroke="#222" stroke-width="2"/>')
    if limit_label:
        y = 28 + n * row_h + 10
        parts.append(f'<line x1="{label_w}" x2="{label_w}" y1="{y - 6}" y2="{y + 6}" stroke="#222" stroke-width="2"/>')
        parts.append(f'<text x="{label_w + 6}" y="{y + 4}">{html_text(limit_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def paired_bar_chart(
    labels: Sequence[str],
    first: Sequence[float],
    second: Sequence[float],
    *,
    title: str,
    names: tuple[str, str],
    unit: str = "",
) -> str:
    """Two bars per label (e.g. before/after, optimal/nearest) with a small key."""
    n = len(labels)
    if n == 0:
        return ""
    a = [float(v) if v is not None else float("nan") for v in first]
    b = [float(v) if v is not None else float("nan") for v in second]
    top = max([v for v in a + b if math.isfinite(v)] + [1e-9]) * 1.1
    label_w, bar_w, row_h = 210, 340, 34
    width, height = label_w + bar_w + 90, 48 + n * row_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" {_FONT}>',
        f'<title>{html_text(title)}</title><text x="4" y="16" font-weight="bold">{html_text(title)}</text>',
        f'<rect x="{label_w}" y="24" width="12" height="10" fill="{BAR_COLOUR}"/><text x="{label_w + 16}" y="33">{html_text(names[0])}</text>',
        f'<rect x="{label_w + 140}" y="24" width="12" height="10" fill="{SECOND_COLOUR}"/>'
        f'<text x="{label_w + 156}" y="33">{html_text(names[1])}</text>',
    ]
    for k, lab in enumerate(labels):
        y = 42 + k * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 18}" text-anchor="end">{html_text(short_label(lab))}</text>')
        for j, (v, colour) in enumerate(((a[k], BAR_COLOUR), (b[k], SECOND_COLOUR))):
            w = 0.0 if not math.isfinite(v) else max(v, 0.0) / top * bar_w
            yy = y + 2 + j * 14
            parts.append(f'<rect x="{label_w}" y="{yy}" width="{w:.1f}" height="12" fill="{colour}"/>')
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{yy + 10}" font-size="11">{html_text(_fmt(v, unit))}</text>')
    parts.append("</svg>")
    return "".join(parts)
