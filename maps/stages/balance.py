"""The balance stage in the report: indicators against their thresholds, the schools' strength, and how
teacher rotation changes the coefficients of variation. On the map, its strength classes colour the
schools (the schools layer of :mod:`maps.stages.inputs` reads :data:`SCHOOLS_BALANCE`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from maps import charts
from maps.common import KeyPoints, ReportParams, StageRenderer, school_names, stage_frame, stage_mapping, stage_path, stage_sheets
from maps.i18n import display_table, indicator_name
from maps.labels import Language, t
from maps.layers import as_ids
from maps.stages import rotation
from maps.tables import bullets, flatten, heading, is_num, missing_note, table_html, text
from planning.app.stage import RunResult
from planning.balance.indicators import ALL_INDICATORS
from planning.balance.indicators import QUALITY_INDICATORS as QUALITY

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
    "indicator": ("指标", "Indicator"),
    "schools": ("各校指标与办学强弱", "Each school's indicators and strength"),
    "passes": ("达标", "within the standard"),
    "fails": ("未达标", "above the standard"),
    "kp_basic": (
        "{level}基本均衡：综合差异系数 {cv}（标准 ≤ {lim}），{verdict}。",
        "{level} 基本均衡: composite CV {cv} (standard ≤ {lim}), {verdict}.",
    ),
    "kp_quality": (
        "{level}优质均衡：{total} 项指标中 {n} 项差异系数达标",
        "{level} 优质均衡: {n} of {total} indicators have a CV within the standard",
    ),
    "kp_failing": ("，未达标：{list}。", "; not yet: {list}."),
    "kp_schools": (
        "{total} 所参评学校中 {n} 所达到优质均衡学校要求（7 项指标至少 6 项达标、其余 1 项不低于标准的 85%）。",
        "{n} of {total} schools evaluated meet the 优质均衡 school requirement (6 of 7 standards, the 7th at ≥ 85%).",
    ),
}


def _t(key: str, lang: Language, **fmt: object) -> str:
    return text(_TEXT, key, lang, **fmt)


def _cv_change(run: RunResult, lang: Language) -> pd.DataFrame | None:
    """Coefficients of variation before and after rotation (from the rotation stage's metrics), official names."""
    metrics = stage_mapping(run, rotation.STAGE, rotation.METRICS)
    if metrics is None:
        return None
    before, after = metrics.get("cv_before"), metrics.get("cv_after")
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return None
    b, a = flatten(before), flatten(after)
    order = [f"{lv}.{k}" for lv in ("primary", "junior") for k in (*ALL_INDICATORS, "basic_composite")]
    keys = [k for k in order if k in b and k in a and is_num(b[k]) and is_num(a[k])]
    return pd.DataFrame({
        _t("indicator", lang): [_level_label(k, lang) for k in keys],
        _t("before", lang): [round(float(b[k]), 3) for k in keys], _t("after", lang): [round(float(a[k]), 3) for k in keys],
    })


def _level_label(key: str, lang: Language) -> str:
    """``primary.books_per_pupil`` → ``小学 · 生均图书册数``."""
    head, _, rest = key.partition(".")
    return f"{t(head, lang)} · {indicator_name(rest, lang)}" if rest and head in ("primary", "junior") else indicator_name(key, lang)


def _passes(bal: pd.DataFrame) -> pd.Series:
    return bal["passes"].astype(str).str.lower().isin(["true", "1"]) if "passes" in bal.columns else pd.Series(False, index=bal.index)


def key_points(run: RunResult, params: ReportParams) -> KeyPoints:
    """Per level: the 基本均衡 composite CV against its standard, the 优质均衡 indicators within theirs, schools meeting 6 of 7."""
    lang = params.language
    bal = stage_frame(run, STAGE, BALANCE)
    if bal is None or bal.empty or not {"level", "indicator", "cv"} <= set(bal.columns):
        return KeyPoints()
    points = []
    ok = _passes(bal)
    kind = as_ids(bal["kind"]) if "kind" in bal.columns else pd.Series("", index=bal.index)
    for lv in (lv for lv in ("primary", "junior") if (bal["level"].astype(str) == lv).any()):
        rows = bal["level"].astype(str) == lv
        comp = bal[rows & (as_ids(bal["indicator"]) == "basic_composite")]
        if not comp.empty:
            cv, lim = float(comp["cv"].iloc[0]), comp["threshold"].iloc[0] if "threshold" in comp.columns else None
            verdict = _t("passes" if bool(ok[comp.index[0]]) else "fails", lang)
            points.append(_t("kp_basic", lang, level=t(lv, lang), cv=f"{cv:.3f}", lim=f"{float(lim):.2f}" if is_num(lim) else "–", verdict=verdict))
        quality = bal[rows & (kind == "quality")]
        if not quality.empty:
            failing = [indicator_name(k, lang) for k in as_ids(quality.loc[~ok[quality.index], "indicator"])]
            text_ = _t("kp_quality", lang, level=t(lv, lang), n=len(quality) - len(failing), total=len(quality))
            if failing:
                text_ += _t("kp_failing", lang, list=("、" if lang == "zh" else "; ").join(failing))
            points.append(text_)
    sb = stage_frame(run, STAGE, SCHOOLS_BALANCE)
    if sb is not None and "meets_quality" in sb.columns:
        evaluated = sb[~sb["excluded"].astype(str).str.lower().isin(["true", "1"])] if "excluded" in sb.columns else sb
        met = int(evaluated["meets_quality"].astype(str).str.lower().isin(["true", "1"]).sum())
        points.append(_t("kp_schools", lang, n=met, total=len(evaluated)))
    return KeyPoints(tuple(points))


def _indicators(bal: pd.DataFrame, lang: Language) -> str:
    """The indicators table (failing rows flagged) and a chart of CV against threshold per level."""
    parts = [missing_note(bal, ("level", "indicator", "cv", "threshold", "passes"), lang)]
    passes = _passes(bal) if "passes" in bal.columns else None
    kind = as_ids(bal["kind"]) if "kind" in bal.columns else pd.Series("", index=bal.index)
    bad = None if passes is None else (~passes & ((kind == "quality") | (as_ids(bal.get("indicator", kind)) == "basic_composite"))).to_list()
    shown = bal.copy()
    if "indicator" in shown.columns:
        shown["indicator"] = [indicator_name(k, lang) for k in as_ids(shown["indicator"])]
    if "passes" in shown.columns:  # 基本均衡 indicators have no standard of their own: only the composite passes or fails
        shown["passes"] = [
            "" if not is_num(lim) or pd.isna(lim) else _t("passes" if p else "fails", lang)
            for p, lim in zip(passes if passes is not None else [], shown.get("threshold", [None] * len(shown)), strict=False)
        ]
    shown = display_table(shown, lang, columns=("level", "kind", "indicator", "county_value", "cv", "threshold", "passes", "n_schools"))
    parts.append(table_html(shown, lang=lang, file=stage_path(STAGE, BALANCE), bad_rows=bad))
    if {"indicator", "cv"} <= set(bal.columns):
        quality = bal[kind == "quality"] if (kind == "quality").any() else bal
        groups = quality.groupby(quality["level"].astype(str), sort=False) if "level" in quality.columns else [("", quality)]
        for lv, rows in groups:
            lim = pd.to_numeric(rows["threshold"], errors="coerce").astype("float64").to_list() if "threshold" in rows.columns else None
            parts.append("<figure>" + charts.bar_chart(
                [indicator_name(k, lang) for k in as_ids(rows["indicator"])],
                pd.to_numeric(rows["cv"], errors="coerce").astype("float64").to_list(),
                title=text(_TEXT, "cv_chart", lang, level=t(lv, lang) if lv else ""), limits=lim,
            ) + "</figure>")
    return "".join(parts)


#: Columns of the schools table in the report (the workbook has them all).
_SCHOOL_COLUMNS = ("school_id", "name", "level", "pupils", *QUALITY, "standards_met", "meets_quality", "strength_class")


def section(run: RunResult, params: ReportParams) -> str:
    """What the indicators say, indicators vs thresholds, each school's indicators, CV before and after rotation."""
    lang = params.language
    parts = [heading(STAGE, HEADING, lang), bullets(key_points(run, params).points)]
    bal = stage_frame(run, STAGE, BALANCE)
    if bal is not None and not bal.empty:
        parts.append(_indicators(bal, lang))
    sb = stage_frame(run, STAGE, SCHOOLS_BALANCE)
    if sb is not None and not sb.empty:
        names = school_names(run)
        sb = sb.copy()
        if "school_id" in sb.columns and "name" not in sb.columns:
            sb.insert(1, "name", as_ids(sb["school_id"]).map(names).fillna(""))
        parts.append(f"<h3>{_t('schools', lang)}</h3>")
        parts.append(table_html(display_table(sb, lang, columns=_SCHOOL_COLUMNS), lang=lang, file=stage_path(STAGE, SCHOOLS_BALANCE)))
    change = _cv_change(run, lang)
    if change is not None and not change.empty:
        cols = list(change.columns)
        parts.append(f"<h3>{_t('before_after', lang)}</h3>" + table_html(change, lang=lang))
        parts.append("<figure>" + charts.paired_bar_chart(
            change[cols[0]].to_list(), change[cols[1]].to_list(), change[cols[2]].to_list(),
            title=_t("before_after", lang), names=(_t("before", lang), _t("after", lang)),
        ) + "</figure>")
    return "".join(parts) if len(parts) > 2 else ""


def tables(run: RunResult, params: ReportParams) -> dict[str, pd.DataFrame]:
    """Indicators and schools' indicators and strength (sheet name → table, display headers)."""
    lang = params.language
    zh = lang == "zh"
    sheets = stage_sheets(run, STAGE, ((BALANCE, "均衡指标", "balance"), (SCHOOLS_BALANCE, "学校均衡", "schools balance")), zh=zh)
    out = {}
    for name, frame in sheets.items():
        named = frame.copy()
        if "indicator" in named.columns:
            named["indicator"] = [indicator_name(k, lang) for k in as_ids(named["indicator"])]
        out[name] = display_table(named, lang)
    return out


RENDERER = StageRenderer(
    stage=STAGE,
    heading=HEADING,
    map_layers=("schools",),
    section=section,
    tables=tables,
    key_points=key_points,
)
