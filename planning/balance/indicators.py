"""Balance evaluation: 基本均衡 (2012) and 优质均衡 (教督〔2017〕6号), as inspectors compute it.

For one level (primary or junior) and one indicator X, with Pᵢ pupils at school
i and P = ΣPᵢ over the schools that count, the official coefficient of
variation is enrolment-weighted::

    X̄  = (county total of the resource) / P          (= Σ PᵢXᵢ / P)
    CV = sqrt( Σ (Pᵢ / P) · (Xᵢ − X̄)² ) / X̄

An unweighted CV over schools is *not* what inspectors use.

Which schools count:

- Nine-year schools (九年一贯制) are split into a primary part and a junior
  part. Facilities are split by pupil share; teachers by their ``level``
  column when it is given, else by pupil share.
- 优质均衡 leaves out teaching points (教学点) with fewer than 50 pupils;
  基本均衡 leaves out every teaching point. Special schools (an optional
  boolean ``special`` column) are left out of both. A part without pupils
  cannot be evaluated and is left out too.
- An indicator whose input is missing (no teachers table, no ``books``
  column ...) is *not computable*: its values are NaN and it is listed in
  :attr:`BalanceReport.not_computable`, never silently zero.

The 8 基本均衡 indicators are per pupil or per 100 pupils; a CV does not
depend on that scale (teacher–pupil ratio is reported as teachers per 100
pupils).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from geo.errors import InputError, Problem, missing_columns
from geo.model import LEVELS, SchoolLevel
from geo.policy import QUALITY_EXCLUDE_TEACHING_POINT_BELOW, QUALITY_MIN_STANDARDS_MET, QUALITY_SEVENTH_MIN_SHARE
from planning.balance.options import BalanceOptions
from planning.balance.validate import validate_schools

logger = logging.getLogger(__name__)

#: The 7 优质均衡 resource indicators (教督〔2017〕6号), canonical names.
QUALITY_INDICATORS: tuple[str, ...] = (
    "above_qualification_per_100",
    "backbone_per_100",
    "pe_art_per_100",
    "floor_area_per_pupil",
    "sports_area_per_pupil",
    "equipment_per_pupil",
    "multimedia_per_100",
)

#: The 8 基本均衡 indicators (2012): floor area, sports ground, equipment per pupil;
#: computers per 100 pupils; books per pupil; teacher–pupil ratio (teachers per 100
#: pupils); teachers above the required qualification and teachers with an
#: intermediate or higher title, per 100 pupils.
BASIC_INDICATORS: tuple[str, ...] = (
    "floor_area_per_pupil",
    "sports_area_per_pupil",
    "equipment_per_pupil",
    "computers_per_100",
    "books_per_pupil",
    "teachers_per_100",
    "above_qualification_per_100",
    "intermediate_title_per_100",
)

#: Every indicator, each once, in report order.
ALL_INDICATORS: tuple[str, ...] = tuple(dict.fromkeys(QUALITY_INDICATORS + BASIC_INDICATORS))

#: Subjects counted as PE and art teachers (体育、艺术 (音乐、美术)).
PE_ART_SUBJECTS: frozenset[str] = frozenset({"pe", "music", "art"})

#: Titles counted as intermediate or higher (中级及以上).
INTERMEDIATE_OR_HIGHER: frozenset[str] = frozenset({"intermediate", "senior"})

# indicator → (source, scale): the source is a schools column (facility, split by
# pupil share in nine-year schools) or a teacher count; value = source × scale / pupils.
_FACILITY_SOURCES: Mapping[str, tuple[str, float]] = {
    "floor_area_per_pupil": ("floor_area_m2", 1.0),
    "sports_area_per_pupil": ("sports_area_m2", 1.0),
    "equipment_per_pupil": ("equipment_yuan", 1.0),
    "multimedia_per_100": ("multimedia_rooms", 100.0),
    "computers_per_100": ("computers", 100.0),
    "books_per_pupil": ("books", 1.0),
}
_TEACHER_SOURCES: Mapping[str, tuple[str, float]] = {
    "above_qualification_per_100": ("n_above_qualification", 100.0),
    "backbone_per_100": ("n_backbone", 100.0),
    "pe_art_per_100": ("n_pe_art", 100.0),
    "teachers_per_100": ("n_teachers", 100.0),
    "intermediate_title_per_100": ("n_intermediate_title", 100.0),
}
_TEACHER_COUNTS: tuple[str, ...] = (
    "n_teachers",
    "n_above_qualification",
    "n_backbone",
    "n_pe_art",
    "n_intermediate_title",
)
# relative tolerance when comparing a value with its standard (4.2 computed as 42 × 100 / 1000).
_STANDARD_RTOL = 1e-9


def weighted_cv(values: ArrayLike, pupils: ArrayLike, *, county_mean: float | None = None) -> float:
    """Enrolment-weighted coefficient of variation, the official 差异系数.

    Parameters
    ----------
    values
        Indicator value Xᵢ of each school (per pupil or per 100 pupils).
    pupils
        Pupils Pᵢ of each school (the weights).
    county_mean
        X̄ = county total of the resource / county pupils. ``None`` computes it as
        Σ PᵢXᵢ / Σ Pᵢ, which is the same number when every school is included.

    Returns
    -------
    float
        ``sqrt(Σ (Pᵢ/P)(Xᵢ − X̄)²) / X̄``; NaN when X̄ is 0 (no resource anywhere:
        the CV is undefined).

    Raises
    ------
    InputError
        Lengths differ, a value is NaN or infinite, a weight is negative, or
        there are no pupils at all.

    Examples
    --------
    >>> round(weighted_cv([1.0, 3.0], [3, 1]), 12)  # X̄ = 1.5, var = 0.75
    0.577350269189
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    p = np.asarray(pupils, dtype=np.float64).ravel()
    problems = []
    if x.shape != p.shape:
        problems.append(Problem("weighted_cv", f"{len(x)} values but {len(p)} pupil counts"))
    else:
        if not np.isfinite(x).all():
            problems.append(Problem("weighted_cv", "values must be finite (drop schools without a value first)"))
        if not np.isfinite(p).all() or (p < 0).any():
            problems.append(Problem("weighted_cv", "pupil counts must be finite and ≥ 0"))
        elif p.sum() <= 0:
            problems.append(Problem("weighted_cv", "no pupils: the CV is undefined"))
    if problems:
        raise InputError(problems)
    total = p.sum()
    mean = float(np.dot(p, x) / total) if county_mean is None else float(county_mean)
    if mean == 0:
        return float("nan")
    var = float(np.dot(p / total, (x - mean) ** 2))
    return float(np.sqrt(var) / mean)


# --------------------------------------------------------------------------- per school


def _bool_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """Boolean column ``name`` (missing → all False; NaN → False)."""
    if name not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[name].fillna(False).astype(bool)


def _teacher_counts(teachers: pd.DataFrame, parts: pd.DataFrame) -> pd.DataFrame:
    """Teacher counts per (school_id, level) part; nine-year teachers split by level or pupil share."""
    problems = missing_columns(teachers.columns, ("school_id", "subject", "backbone", "above_qualification", "title"), "teachers")
    if problems:
        raise InputError(problems)
    t = pd.DataFrame(
        {
            "school_id": teachers["school_id"].astype(str).to_numpy(),
            "n_teachers": 1.0,
            "n_above_qualification": teachers["above_qualification"].fillna(False).astype(bool).to_numpy(float),
            "n_backbone": teachers["backbone"].fillna(False).astype(bool).to_numpy(float),
            "n_pe_art": teachers["subject"].isin(PE_ART_SUBJECTS).to_numpy(float),
            "n_intermediate_title": teachers["title"].isin(INTERMEDIATE_OR_HIGHER).to_numpy(float),
            "t_level": (
                teachers["level"].astype(object).where(teachers["level"].notna(), None).to_numpy()
                if "level" in teachers.columns
                else np.full(len(teachers), None, dtype=object)
            ),
        }
    )
    school_level = parts.drop_duplicates("school_id").set_index("school_id")["school_level"]
    unknown = sorted(set(t["school_id"]) - set(school_level.index))
    if unknown:
        raise InputError(
            [Problem("teachers", "school_id not found in the schools layer", row=sid, column="school_id") for sid in unknown]
        )
    t["school_level"] = t["school_id"].map(school_level).to_numpy()
    single = t["school_level"] != SchoolLevel.NINE_YEAR.value
    known = ~single & t["t_level"].isin(LEVELS)
    rows = [
        t[single].assign(level=t.loc[single, "school_level"], weight=1.0),
        t[known].assign(level=t.loc[known, "t_level"], weight=1.0),
    ]
    split = t[~single & ~known]
    if len(split):
        share = parts.set_index(["school_id", "level"])["share"]
        for lv in LEVELS:
            w = share.reindex(pd.MultiIndex.from_arrays([split["school_id"], np.full(len(split), lv)])).to_numpy()
            rows.append(split.assign(level=lv, weight=np.nan_to_num(w, nan=0.0)))
    allt = pd.concat(rows, ignore_index=True)
    counts = allt[list(_TEACHER_COUNTS)].mul(allt["weight"], axis=0)
    counts["school_id"] = allt["school_id"].to_numpy()
    counts["level"] = allt["level"].astype(str).to_numpy()
    return counts.groupby(["school_id", "level"], sort=True)[list(_TEACHER_COUNTS)].sum()


def school_indicators(schools: pd.DataFrame, teachers: pd.DataFrame | None) -> pd.DataFrame:
    """Balance indicators of every school part (school × level).

    Parameters
    ----------
    schools
        Schools layer with canonical columns (``school_id``, ``level``,
        ``enrolled_primary``, ``enrolled_junior``; facility columns
        ``floor_area_m2, sports_area_m2, equipment_yuan, multimedia_rooms,
        computers, books`` where known; ``teaching_point`` and ``special`` optional).
    teachers
        Teachers table (``school_id, subject, backbone, above_qualification,
        title`` and optional ``level``), or ``None`` (teacher indicators are then
        not computable).

    Returns
    -------
    pandas.DataFrame
        One row per (school_id, level) a school teaches, sorted by both:
        ``school_id, level, pupils, share`` (the part's share of the school's
        pupils), ``teaching_point, excluded`` (left out of 优质均衡),
        ``excluded_basic`` (left out of 基本均衡), ``exclusion_reason``, the
        resource amounts behind the indicators (facilities split by ``share``,
        teacher counts ``n_*``) and one column per indicator of
        :data:`ALL_INDICATORS` (NaN where not computable).

    Raises
    ------
    InputError
        Missing or invalid columns, duplicate ids, teachers at unknown schools.
    """
    validate_schools(schools, numeric=[src for src, _ in _FACILITY_SOURCES.values()])
    s = pd.DataFrame(
        {
            "school_id": schools["school_id"].astype(str).to_numpy(),
            "school_level": schools["level"].astype(str).to_numpy(),
            "enrolled_primary": schools["enrolled_primary"].to_numpy(np.float64),
            "enrolled_junior": schools["enrolled_junior"].to_numpy(np.float64),
            "teaching_point": _bool_column(schools, "teaching_point").to_numpy(),
            "special": _bool_column(schools, "special").to_numpy(),
        }
    )
    for src, _ in _FACILITY_SOURCES.values():
        s[src] = pd.to_numeric(schools[src], errors="coerce").to_numpy(np.float64) if src in schools else np.nan
    total = s["enrolled_primary"] + s["enrolled_junior"]
    parts = []
    for lv in LEVELS:
        sel = (s["school_level"] == lv) | (s["school_level"] == SchoolLevel.NINE_YEAR.value)
        part = s[sel].copy()
        part["level"] = lv
        part["pupils"] = part[f"enrolled_{lv}"]
        nine = part["school_level"] == SchoolLevel.NINE_YEAR.value
        tot = total[sel]
        # a nine-year school without pupils splits its resources evenly
        part["share"] = np.where(nine, np.where(tot > 0, part["pupils"] / tot.where(tot > 0, 1.0), 0.5), 1.0)
        part["school_pupils"] = tot
        parts.append(part)
    out = pd.concat(parts, ignore_index=True).sort_values(["school_id", "level"], ignore_index=True)
    for src, _ in _FACILITY_SOURCES.values():
        out[src] = out[src] * out["share"]

    if teachers is not None:
        counts = _teacher_counts(teachers, out)
        idx = pd.MultiIndex.from_arrays([out["school_id"], out["level"]])
        for col in _TEACHER_COUNTS:
            out[col] = counts[col].reindex(idx).fillna(0.0).to_numpy()
    else:
        for col in _TEACHER_COUNTS:
            out[col] = np.nan

    pupils = out["pupils"].to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, (src, scale) in {**_FACILITY_SOURCES, **_TEACHER_SOURCES}.items():
            out[name] = np.where(pupils > 0, out[src].to_numpy(np.float64) * scale / np.where(pupils > 0, pupils, 1), np.nan)

    no_pupils = out["pupils"] <= 0
    tp = out["teaching_point"]
    small_tp = tp & (out["school_pupils"] < QUALITY_EXCLUDE_TEACHING_POINT_BELOW)
    out["excluded"] = no_pupils | out["special"] | small_tp
    out["excluded_basic"] = no_pupils | out["special"] | tp
    reason = np.full(len(out), "", dtype=object)
    reason = np.where(tp & ~small_tp, "teaching point (left out of 基本均衡 only)", reason)
    reason = np.where(
        small_tp, f"teaching point with < {QUALITY_EXCLUDE_TEACHING_POINT_BELOW} pupils (left out of both)", reason
    )
    reason = np.where(out["special"], "special school", reason)
    reason = np.where(no_pupils, "no pupils at this level", reason)
    out["exclusion_reason"] = pd.array(reason, dtype="str")
    cols = [
        "school_id",
        "level",
        "school_level",
        "pupils",
        "share",
        "teaching_point",
        "excluded",
        "excluded_basic",
        "exclusion_reason",
        *(src for src, _ in _FACILITY_SOURCES.values()),
        *_TEACHER_COUNTS,
        *ALL_INDICATORS,
    ]
    out["pupils"] = out["pupils"].astype(np.int64)
    return out[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- county report


@dataclass(frozen=True)
class BalanceReport:
    """Balance of a county, per level.

    Attributes
    ----------
    indicators
        One row per (level, indicator, kind): ``level, indicator, kind``
        (``quality`` | ``basic``), ``county_value`` (county total / county
        pupils, in the indicator's unit), ``cv`` (official weighted CV),
        ``threshold`` and ``passes`` (优质均衡: each CV ≤ 0.50 / 0.45 by default;
        基本均衡: only the ``basic_composite`` row, the mean of the 8 CVs, has
        a threshold, 0.65 / 0.55 by default; see :class:`BalanceOptions`),
        ``n_schools`` counted, ``n_missing``
        (counted schools without a value) and a ``note``.
    schools
        One row per school part (as :func:`school_indicators`) plus, for each
        优质均衡 indicator, ``<indicator>_share`` (value / its standard in
        :attr:`BalanceOptions.quality_standards`) and
        ``<indicator>_met``; ``standards_met`` (of 7), ``seventh_share``
        (lowest share among the standards not met, 1 when all are met) and
        ``meets_quality`` (≥ 6 of 7 met and the 7th at ≥ 85%; NA when an
        indicator is not computable).
    basic_composite
        Level → mean of the 8 基本均衡 CVs (NaN when one is not computable).
    basic_passes
        Level → composite within its threshold.
    quality_passes
        Level → every 优质均衡 CV within its threshold and every counted school
        meets the per-school rule.
    not_computable
        Indicators that could not be computed for lack of input, each once.
    """

    indicators: pd.DataFrame
    schools: pd.DataFrame
    basic_composite: Mapping[str, float] = field(default_factory=dict)
    basic_passes: Mapping[str, bool] = field(default_factory=dict)
    quality_passes: Mapping[str, bool] = field(default_factory=dict)
    not_computable: tuple[str, ...] = ()


def _indicator_row(parts: pd.DataFrame, level: str, name: str, kind: str, cv_max: float) -> dict[str, object]:
    """County row of one indicator; ``cv_max`` is a quality indicator's CV threshold (NaN for a basic one)."""
    counted = parts[~parts["excluded" if kind == "quality" else "excluded_basic"]]
    vals = counted[name].to_numpy(np.float64)
    have = np.isfinite(vals)
    cv = float("nan")
    row: dict[str, object] = {
        "level": level,
        "indicator": name,
        "kind": kind,
        "county_value": np.nan,
        "cv": np.nan,
        "threshold": cv_max,
        "passes": pd.NA,
        "n_schools": len(counted),
        "n_missing": int((~have).sum()),
        "note": "",
    }
    if len(counted) == 0:
        row["note"] = "no schools counted"
    elif not have.any():
        row["note"] = "not computable: input missing"
    else:
        p = counted["pupils"].to_numpy(np.float64)[have]
        x = vals[have]
        mean = float(np.dot(p, x) / p.sum())
        row["county_value"] = mean
        cv = weighted_cv(x, p, county_mean=mean)
        row["cv"] = cv
        if mean == 0:
            row["note"] = "county value is 0: CV undefined"
        elif not have.all():
            row["note"] = f"{int((~have).sum())} school(s) without a value left out"
    if kind == "quality":
        row["passes"] = bool(np.isfinite(cv) and cv <= cv_max) if row["note"] != "no schools counted" else pd.NA
    return row


def _school_standards(parts: pd.DataFrame, standards: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Each part against the 优质均衡 ``standards`` (level → indicator → value): shares, met, ``meets_quality``."""
    out = parts.copy()
    met_cols, share_cols = [], []
    for name in QUALITY_INDICATORS:
        std = out["level"].map({lv: standards[lv][name] for lv in LEVELS}).to_numpy(np.float64)
        share = out[name].to_numpy(np.float64) / std
        out[f"{name}_share"] = share
        met = pd.array(np.where(np.isfinite(share), share >= 1 - _STANDARD_RTOL, False), dtype="boolean")
        met[~np.isfinite(share)] = pd.NA
        out[f"{name}_met"] = met
        met_cols.append(f"{name}_met")
        share_cols.append(f"{name}_share")
    shares = out[share_cols].to_numpy(np.float64)
    computable = np.isfinite(shares).all(axis=1)
    n_met = (shares >= 1 - _STANDARD_RTOL).sum(axis=1)
    unmet = np.where(shares >= 1 - _STANDARD_RTOL, np.inf, shares)
    seventh = np.where(np.isfinite(unmet.min(axis=1)), unmet.min(axis=1), 1.0)
    seventh = np.where(np.isnan(shares).any(axis=1), np.nan, seventh)
    # "≥ 6 of 7 met and the 7th at ≥ 85%": every standard not met is at ≥ 85% of it
    ok = (n_met >= QUALITY_MIN_STANDARDS_MET) & (seventh >= QUALITY_SEVENTH_MIN_SHARE - _STANDARD_RTOL)
    out["standards_met"] = n_met.astype(np.int64)
    out["seventh_share"] = seventh
    meets = pd.array(ok, dtype="boolean")
    meets[~computable] = pd.NA
    out["meets_quality"] = meets
    return out


def evaluate_balance(
    schools: pd.DataFrame, teachers: pd.DataFrame | None, *, options: BalanceOptions | None = None
) -> BalanceReport:
    """Evaluate 基本均衡 and 优质均衡 for every level the county has.

    Parameters
    ----------
    schools
        Schools layer (canonical columns; see :func:`school_indicators`).
    teachers
        Teachers table, or ``None`` (teacher indicators not computable).
    options
        CV thresholds and per-school standards (default: the national ones of :mod:`geo.policy`).

    Returns
    -------
    BalanceReport

    Raises
    ------
    InputError
        As :func:`school_indicators`.
    """
    opts = options or BalanceOptions()
    parts = school_indicators(schools, teachers)
    rows: list[dict[str, object]] = []
    composite: dict[str, float] = {}
    basic_ok: dict[str, bool] = {}
    quality_ok: dict[str, bool] = {}
    missing: set[str] = set()
    standards = _school_standards(parts, opts.quality_standards)
    for lv in LEVELS:
        sub = parts[parts["level"] == lv]
        if sub.empty:
            continue
        q_rows = [_indicator_row(sub, lv, name, "quality", opts.quality_cv_max[lv]) for name in QUALITY_INDICATORS]
        b_rows = [_indicator_row(sub, lv, name, "basic", np.nan) for name in BASIC_INDICATORS]
        for r in q_rows + b_rows:
            if str(r["note"]).startswith("not computable"):
                missing.add(str(r["indicator"]))
        cvs = np.array([r["cv"] for r in b_rows], dtype=np.float64)
        mean_cv = float(cvs.mean()) if np.isfinite(cvs).all() else float("nan")
        composite[lv] = mean_cv
        basic_ok[lv] = bool(np.isfinite(mean_cv) and mean_cv <= opts.basic_cv_mean_max[lv])
        b_rows.append(
            {
                "level": lv,
                "indicator": "basic_composite",
                "kind": "basic",
                "county_value": np.nan,
                "cv": mean_cv,
                "threshold": opts.basic_cv_mean_max[lv],
                "passes": basic_ok[lv],
                "n_schools": int((~sub["excluded_basic"]).sum()),
                "n_missing": int((~np.isfinite(cvs)).sum()),
                "note": "mean of the 8 基本均衡 CVs" + ("" if np.isfinite(mean_cv) else "; not computable"),
            }
        )
        counted = standards[(standards["level"] == lv) & ~standards["excluded"]]
        schools_ok = bool(counted["meets_quality"].fillna(False).all())
        quality_ok[lv] = all(r["passes"] is True for r in q_rows) and schools_ok
        rows += q_rows + b_rows
    indicators = pd.DataFrame(
        rows,
        columns=["level", "indicator", "kind", "county_value", "cv", "threshold", "passes", "n_schools", "n_missing", "note"],
    )
    indicators["passes"] = indicators["passes"].astype("boolean")
    indicators["note"] = indicators["note"].astype("str")
    if missing:
        logger.info("indicators not computable for lack of input: %s", ", ".join(sorted(missing)))
    return BalanceReport(
        indicators=indicators,
        schools=standards.reset_index(drop=True),
        basic_composite=composite,
        basic_passes=basic_ok,
        quality_passes=quality_ok,
        not_computable=tuple(i for i in ALL_INDICATORS if i in missing),
    )


def compare_balance(before: BalanceReport, after: BalanceReport) -> pd.DataFrame:
    """CVs before and after a change (e.g. teacher rotation), indicator by indicator.

    Parameters
    ----------
    before, after
        Reports of the same county before and after.

    Returns
    -------
    pandas.DataFrame
        ``level, indicator, kind, cv_before, cv_after, change`` (after − before;
        negative is more balanced), ``passes_before, passes_after``; rows of
        either report, sorted as in ``before``.
    """
    keys = ["level", "indicator", "kind"]
    b = before.indicators[[*keys, "cv", "passes"]].rename(columns={"cv": "cv_before", "passes": "passes_before"})
    a = after.indicators[[*keys, "cv", "passes"]].rename(columns={"cv": "cv_after", "passes": "passes_after"})
    out = b.merge(a, on=keys, how="outer", sort=False)
    out["change"] = out["cv_after"] - out["cv_before"]
    return out[[*keys, "cv_before", "cv_after", "change", "passes_before", "passes_after"]].reset_index(drop=True)
