"""Building blocks of ``report.html``: escaped tables, figure lists, figure names and display formats.

Every report section (:mod:`maps.stages`) is made of these. No script and no external resource.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.text import html_text
from maps.i18n import is_percent_header, value_name
from maps.labels import Language, merge_texts

#: Rows shown per table in the HTML (the Excel workbook and CSV files hold all).
MAX_HTML_ROWS = 200
#: Tables longer than this start folded.
FOLD_ROWS = 15

#: Display names of figures the stages report (key → (Chinese, English)); others show their key.
#: Names shared by several stages are here; each stage renderer adds its own (``figure_names``).
FIGURE_NAMES: dict[str, tuple[str, str]] = {
    "status": ("求解状态", "Solver status"),
    "objective": ("目标值", "Objective"),
    "bound": ("下界", "Bound"),
    "gap": ("最优间隙", "Gap"),
    "lp_bound": ("线性松弛下界", "LP bound"),
    "solve_s": ("求解用时", "Solve time"),
    "solve_time_s": ("求解用时", "Solve time"),
    "plan": ("优化方案", "Plan"),
    "method": ("方法", "Method"),
    "level": ("学段", "Level"),
    "primary": ("小学", "Primary"),
    "junior": ("初中", "Junior"),
    "pair_gap": ("结对模型最优间隙", "Pairing gap"),
    "candidate_moves": ("候选交流安排数", "Candidate moves"),
    "units": ("模型单元数", "Model units"),
}

#: Keys ending in ``_s`` that are computing time (shown in seconds, not minutes).
_WALL_CLOCK = ("solve_s", "solve_time_s", "wall_s", "time_limit_s")

#: Metrics whose sub-keys are data values (road classes), shown as they are.
_VERBATIM_CHILDREN = frozenset({"edges_by_class", "speed_table_kmh"})

#: Texts of these building blocks (key → (Chinese, English)), also used by sections.
TEXT: Mapping[str, tuple[str, str]] = {
    "figure": ("指标", "Figure"),
    "minutes": ("分钟", "min"),
    "truncated": ("仅显示前 {n} 行（共 {total} 行），完整表格见 {file}", "First {n} of {total} rows; full table in {file}"),
    "missing_cols": ("表格缺少列：{cols}", "Table lacks columns: {cols}"),
    "show_rows": ("展开表格（{n} 行）", "Show table ({n} rows)"),
    "flagged": ("{n} 行需关注", "{n} flagged"),
}


def add_figure_names(names: Mapping[str, tuple[str, str]], *, owner: str) -> None:
    """Merge a stage renderer's figure names into :data:`FIGURE_NAMES` (at import).

    Raises
    ------
    ValueError
        If a key is already named differently.
    """
    merge_texts(FIGURE_NAMES, names, owner=owner, table_name="figure names")


def pick(pair: tuple[str, str], lang: Language) -> str:
    """The Chinese or English text of a ``(zh, en)`` pair."""
    return pair[0] if lang == "zh" else pair[1]


def text(table: Mapping[str, tuple[str, str]], key: str, lang: Language, **fmt: Any) -> str:
    """The text for ``key`` of a report text table, formatted with ``fmt``."""
    t = pick(table[key], lang)
    return t.format(**fmt) if fmt else t


def _t(key: str, lang: Language, **fmt: Any) -> str:
    return text(TEXT, key, lang, **fmt)


def esc(v: Any) -> str:
    """A value escaped for HTML text and attributes, control and bidirectional characters dropped (:func:`geo.text.html_text`)."""
    return html_text(v)


def heading(anchor: str, title: tuple[str, str], lang: Language) -> str:
    """A section's ``<h2>`` with the anchor the navigation links to."""
    return f"<h2 id=\"{anchor}\">{pick(title, lang)}</h2>"


def figure_name(key: str, lang: Language) -> str:
    """Display name of a metric key; each part of a nested key (``a.b``) translated when known."""
    names = []
    parts = key.split(".")
    for i, part in enumerate(parts):
        # Children of data-keyed tables are data (road class "primary" is not 小学).
        pair = None if i and parts[i - 1] in _VERBATIM_CHILDREN else FIGURE_NAMES.get(part)
        names.append(part if pair is None else (pair[0] if lang == "zh" else pair[1]))
    return " · ".join(names)


def fmt_value(key: str, v: Any, lang: Language = "zh") -> str:
    """A figure for display: seconds also in minutes, shares in %, big numbers grouped."""
    if v is None:
        return "–"
    if isinstance(v, (bool, np.bool_)):
        return "✓" if v else "✗"
    if isinstance(v, (int, np.integer)):
        return _fmt_float(key, float(v), lang) if _is_travel_time(key) else f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return _fmt_float(key, float(v), lang)
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def _is_travel_time(key: str) -> bool:
    """A key in seconds of travel (shown in minutes), not computing time."""
    last = key.rsplit(".", 1)[-1]
    return last.endswith("_s") and last not in _WALL_CLOCK


def _fmt_float(key: str, x: float, lang: Language) -> str:
    if not math.isfinite(x):
        return "–"
    last = key.rsplit(".", 1)[-1]
    if last in _WALL_CLOCK:
        return f"{x:.1f} s"
    if last.endswith("_s"):
        return f"{x / 60:,.1f} {_t('minutes', lang)}"
    if "share" in last or "utilization" in key or last.endswith("gap") or last == "moved_share" or is_percent_header(key):
        return f"{100 * x:.1f}%"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def flatten(obj: Any, prefix: str = "", *, max_items: int | None = None) -> dict[str, Any]:
    """Nested dicts to ``{"a.b": value}``, keys sorted.

    A mapping with more than ``max_items`` entries (a per-school table such as
    ``utilization``) is left out: it belongs in a table, not a list of figures.
    """
    out: dict[str, Any] = {}
    if isinstance(obj, Mapping):
        if max_items is not None and prefix and len(obj) > max_items:
            return out
        for k in sorted(obj, key=str):
            out.update(flatten(obj[k], f"{prefix}{k}.", max_items=max_items))
        return out
    out[prefix[:-1]] = obj
    return out


def _missing_value(v: Any) -> bool:
    """``None``, NaN, ``pd.NA`` or ``NaT``."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and math.isnan(v)


def is_num(v: Any) -> bool:
    """A number, not a boolean."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def table_html(
    frame: pd.DataFrame,
    *,
    lang: Language,
    file: str = "",
    bad_rows: Sequence[bool] | None = None,
    max_rows: int = MAX_HTML_ROWS,
) -> str:
    """An HTML table (escaped; numbers right-aligned), at most ``max_rows`` rows."""
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    total = len(frame)
    shown = frame.head(max_rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    rows = []
    for k, row in enumerate(shown.itertuples(index=False)):
        cls = ' class="bad"' if bad_rows is not None and k < len(bad_rows) and bad_rows[k] else ""
        cells = []
        for col, v in zip(shown.columns, row, strict=True):
            if is_num(v):
                cells.append(f'<td class="num">{esc(fmt_value(str(col), v, lang))}</td>')
            else:
                cells.append(f"<td>{esc('' if _missing_value(v) else fmt_value(str(col), v, lang))}</td>")
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    note = ""
    if total > max_rows:
        note = f'<p class="note">{esc(_t("truncated", lang, n=max_rows, total=total, file=file))}</p>'
    table = f'<div class="tw"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>{note}'
    if total > FOLD_ROWS:  # long tables start folded (no script: <details>)
        flagged = sum(1 for b in (bad_rows or [])[: len(shown)] if b)
        extra = f" · {_t('flagged', lang, n=flagged)}" if flagged else ""
        return f"<details><summary>{esc(_t('show_rows', lang, n=total))}{esc(extra)}</summary>{table}</details>"
    return table


def figures_table(figures: Mapping[str, Any], lang: Language) -> str:
    """Figures (flattened keys → values) as a two-column table; lists of records as nested tables."""
    if not figures:
        return ""
    rows = []
    for k, v in figures.items():
        if isinstance(v, (list, tuple)) and v and all(isinstance(x, Mapping) for x in v):
            cell = table_html(pd.DataFrame(list(v)), lang=lang, max_rows=50)  # e.g. shortfalls
            rows.append(f"<tr><td>{esc(figure_name(k, lang))}</td><td>{cell}</td></tr>")
        else:
            shown = value_name(v, lang) if isinstance(v, str) else fmt_value(k, v, lang)
            rows.append(f"<tr><td>{esc(figure_name(k, lang))}</td><td class=\"num\">{esc(shown)}</td></tr>")
    body = "".join(rows)
    return f"<table><thead><tr><th>{_t('figure', lang)}</th><th></th></tr></thead><tbody>{body}</tbody></table>"


def missing_note(frame: pd.DataFrame, cols: Iterable[str], lang: Language) -> str:
    """A note naming the expected columns ``frame`` lacks (``""`` when it has them all)."""
    lacking = [c for c in cols if c not in frame.columns]
    if not lacking:
        return ""
    return f'<p class="note">{esc(_t("missing_cols", lang, cols=", ".join(lacking)))}</p>'


def without_geometry(frame: pd.DataFrame) -> pd.DataFrame:
    """A plain table: a GeoDataFrame without its geometry column."""
    return pd.DataFrame(frame.drop(columns=frame.geometry.name)) if isinstance(frame, gpd.GeoDataFrame) else frame


def bullets(points: Sequence[str], warnings: Sequence[str] = ()) -> str:
    """Plain sentences as a list, the warnings (a plan making something worse) marked and last."""
    items = [f"<li>{esc(p)}</li>" for p in points] + [f'<li class="warn">⚠ {esc(w)}</li>' for w in warnings]
    return f'<ul class="points">{"".join(items)}</ul>' if items else ""
