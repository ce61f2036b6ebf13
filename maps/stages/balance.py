"""The balance stage in the report: indicators against their thresholds, the schools' strength, and how
teacher rotation changes the coefficients of variation. On the map, its strength classes colour the
schools (the schools layer of :mod:`maps.stages.inputs` reads :data:`SCHOOLS_BALANCE`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from maps import charts
from maps.common import ReportParams, StageRenderer, school_names, stage_frame, stage_mapping, stage_path, stage_sheets
from maps.labels import Language, t
from maps.layers import as_ids
from maps.stages import rotation
from maps.tables import flatten, heading, is_num, missing_note, table_html, text
from planning.app.stage import RunResult

STAGE = "balance"
#: Files of the balance stage read here, relative to its output folder.
BALANCE = "balance.csv"
SCHOOLS_BALANCE = "schools_balance.csv"

HEADING = ("均衡发展指标", "Balance indicators")

#: Report texts.
_TEXT: Mapping[str, tuple[str, str]] = {
    "cv_chart": ("{level}差异系数与标准（竖线 = 标准，红色 = 未达标）", "{level} coefficient of variation vs threshold (tick; red = fails)"),
    "before_after": ("交流轮岗前后差异系数", "CV before and after rotation"),
    "before": ("交流前", "Before"),
    "after": ("交流后", "After"),
}


def _t(key: str, lang: Language) -> str:
    return text(_TEXT, key, lang)


def _cv_change(run: RunResult) -> pd.DataFrame | None:
    """Coefficients of variation before and after rotation (from the rotation stage's metrics)."""
    metrics = stage_mapping(run, rotation.STAGE, rotation.METRICS)
    if metrics is None:
        return None
    before, after = metrics.get("cv_before"), metrics.get("cv_after")
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return None
    b, a = flatten(before), flatten(after)
    keys = [k for k in b if k in a and is_num(b[k]) and is_num(a[k])]
    return pd.DataFrame({"indicator": keys, "before": [b[k] for k in keys], "after": [a[k] for k in keys]})


def _level_label(key: str, lang: Language) -> str:
    """``primary.books_per_pupil`` → ``小学 · books_per_pupil``."""
    head, _, rest = key.partition(".")
    return f"{t(head, lang)} · {rest}" if rest and head in ("primary", "junior") else key


def _indicators(bal: pd.DataFrame, lang: Language) -> str:
    """The indicators table (failing rows flagged) and a chart of CV against threshold per level."""
    parts = [missing_note(bal, ("level", "indicator", "cv", "threshold", "passes"), lang)]
    passes = bal["passes"].astype(str).str.lower().isin(["true", "1"]) if "passes" in bal.columns else None
    bad = None if passes is None else (~passes).to_list()
    parts.append(table_html(bal, lang=lang, file=stage_path(STAGE, BALANCE), bad_rows=bad))
    if {"indicator", "cv"} <= set(bal.columns):
        groups = bal.groupby(bal["level"].astype(str), sort=True) if "level" in bal.columns else [("", bal)]
        for lv, rows in groups:
            lim = pd.to_numeric(rows["threshold"], errors="coerce").astype("float64").to_list() if "threshold" in rows.columns else None
            parts.append("<figure>" + charts.bar_chart(
                as_ids(rows["indicator"]).to_list(), pd.to_numeric(rows["cv"], errors="coerce").astype("float64").to_list(),
                title=text(_TEXT, "cv_chart", lang, level=t(lv, lang) if lv else ""), limits=lim,
            ) + "</figure>")
    return "".join(parts)


def section(run: RunResult, params: ReportParams) -> str:
    """Indicators vs thresholds, schools' strength, CV before and after rotation."""
    lang = params.language
    parts = [heading(STAGE, HEADING, lang)]
    bal = stage_frame(run, STAGE, BALANCE)
    if bal is not None and not bal.empty:
        parts.append(_indicators(bal, lang))
    sb = stage_frame(run, STAGE, SCHOOLS_BALANCE)
    if sb is not None and not sb.empty:
        names = school_names(run)
        sb = sb.copy()
        if "school_id" in sb.columns and "name" not in sb.columns:
            sb.insert(1, "name", as_ids(sb["school_id"]).map(names).fillna(""))
        parts.append(table_html(sb, lang=lang, file=stage_path(STAGE, SCHOOLS_BALANCE)))
    change = _cv_change(run)
    if change is not None and not change.empty:
        change["indicator"] = [_level_label(k, lang) for k in change["indicator"]]
        parts.append(f"<h3>{_t('before_after', lang)}</h3>" + table_html(change, lang=lang))
        parts.append("<figure>" + charts.paired_bar_chart(
            change["indicator"].to_list(), change["before"].to_list(), change["after"].to_list(),
            title=_t("before_after", lang), names=(_t("before", lang), _t("after", lang)),
        ) + "</figure>")
    return "".join(parts) if len(parts) > 1 else ""


def tables(run: RunResult, params: ReportParams) -> dict[str, pd.DataFrame]:
    """Indicators and schools' strength (sheet name → table)."""
    zh = params.language == "zh"
    return stage_sheets(run, STAGE, ((BALANCE, "均衡指标", "balance"), (SCHOOLS_BALANCE, "学校均衡", "schools balance")), zh=zh)


RENDERER = StageRenderer(
    stage=STAGE,
    heading=HEADING,
    map_layers=("schools",),
    section=section,
    tables=tables,
)
