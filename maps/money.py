"""Money in the report, the Word documents and the workbook's notes: a unit chosen per amount, never a non-zero sum
shown as zero.

Chinese: 亿元 from 1 亿 up, 万元 from 1 万 up, else 元; English: billion yuan, M yuan, else yuan. At least three
significant figures in the unit chosen (1,234.5 万元 → "1,235 万元", 12,000 元 → "1.20 万元"), so 1.2 M yuan reads
"120 万元", not "0.0 亿元". Tables keep whole yuan (exact figures to add up); sentences use these.
"""

from __future__ import annotations

import math

from maps.labels import Language

#: Units from the largest down: (yuan per unit, name), in Chinese and in English; smaller amounts are in whole yuan.
UNITS: dict[Language, tuple[tuple[float, str], ...]] = {"zh": ((1e8, "亿元"), (1e4, "万元")), "en": ((1e9, "billion yuan"), (1e6, "M yuan"))}


def _figure(v: float) -> str:
    """``v`` with three significant figures at least (whole numbers from 100 up)."""
    a = abs(v)
    places = 0 if a >= 100 or a == 0 else 1 if a >= 10 else 2
    return f"{v:,.{places}f}"


def yuan(amount: float, lang: Language) -> str:
    """``amount`` yuan as text with its unit, e.g. ``yuan(1_200_000, "zh") == "120 万元"``,
    ``yuan(1_200_000, "en") == "1.20 M yuan"``; ``"—"`` when not a number."""
    if not math.isfinite(amount):
        return "—"
    for scale, unit in UNITS[lang]:
        if abs(amount) >= scale:
            return f"{_figure(amount / scale)} {unit}"
    return f"{amount:,.0f} {'元' if lang == 'zh' else 'yuan'}"


def in_unit(amount: float, scale: float) -> str:
    """``amount`` yuan in a fixed unit of ``scale`` yuan (a table column such as 万元): whole units, with decimals
    where that would show a non-zero amount as 0 (``in_unit(3_000, 1e4) == "0.3"``)."""
    if not math.isfinite(amount):
        return ""
    v = amount / scale
    if v == 0 or abs(v) >= 10:
        return f"{v:,.0f}"
    places = max(1, -math.floor(math.log10(abs(v))))
    return f"{v:,.{places}f}"
