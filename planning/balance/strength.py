"""School strength: which schools are strong, middle or weak, as a county bureau judges them.

A bureau calls a school strong (优质学校) for its teachers, its results and its
completeness, not for its space per pupil: the county seat's main schools are
crowded precisely because families want them, while a 30-pupil village school
has floor area to spare (DOMAIN.md §7). A per-pupil ratio against the 优质均衡
standards therefore ranks schools upside down, and is not used here.

**Components** (1 for a county-average or a complete, full school; higher is better):

- ``backbone_share``, ``senior_share``, ``above_qualification_share``: the
  share of the school's teachers who are backbone teachers (骨干教师), hold a
  senior title (高级) or have more than the required qualification — shares
  *among its teachers*, so a school's size does not enter — divided by the same
  share among the county's teachers of the same level, capped at
  :data:`SHARE_CAP`. A school's share is first shrunk towards the county's as if
  it had :data:`PRIOR_TEACHERS` more, county-average, teachers (one backbone
  teacher among three says little).
- ``outcome``: the quality-monitoring score (``quality_score``, 质量监测成绩)
  divided by the pupil-weighted county mean, capped at :data:`OUTCOME_CAP`;
  left out when the column is absent or empty.
- ``demand``: pupils / seats, capped at :data:`DEMAND_CAP`: a strong school is
  full, often overfull, because families want it; a half-empty one is not.
- ``complete``: (grades taught / grades of the level) × (required subjects with
  a teacher / required subjects, :data:`geo.policy.REQUIRED_SUBJECTS`); 1 for a
  complete school. Grades are read from ``classes_<level>`` (one class per grade
  at least); a teaching point counts at most half the grades. A nine-year school
  takes the lower of its two parts.
- ``standards``: the share of the 7 优质均衡 standards (教督〔2017〕6号) the school
  meets, pupil-weighted over the parts of a nine-year school: resource conditions
  count only as *meets the standard or not*, at most 1, so spare floor area or a
  lavish sports ground never makes a school strong.

``strength`` is the weighted mean of the components a school has (default
weights :data:`DEFAULT_WEIGHTS`: staff 3, outcome 2, demand, completeness and
standards 1 each — teachers and results decide, conditions only check). A component no school has
(no teachers table, no score column) is left out for all.

**Classes.** ``strong`` when ``strength ≥ strong_at``, ``weak`` when below
``weak_below``, else ``middle`` — but a teaching point, a school under
``min_pupils`` pupils (乡村小规模学校, < 100, 国办发〔2018〕27号) or an
incomplete school is never strong (``middle`` at most; the reason is in
``not_strong_because``). The thresholds are relative: every component but
completeness and the standards is measured against the county's own average, so
``strong_at = 1.0`` reads "at least as good as the county's average school" (an
average weighted by teachers and pupils, hence set by the large schools) and
``weak_below = 0.85`` "15 % below it". Bureaus name their 优质学校 among their own
schools; an absolute bar (the national standards) would find no strong school
in a poor county — leaving its communities without leads — and every school
strong in a rich one. A fixed rank (the top quarter) was not chosen either: it
would call schools strong in a county whose schools are all alike.

**The bureau's judgement wins**: a ``strength_class`` column in the schools
layer (强/中/弱, strong/middle/weak) replaces the computed class where given
(``class_source`` says which).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from geo.errors import InputError, Problem
from geo.model import LEVELS, VALUE_ALIASES
from geo.policy import GRADES, QUALITY_STANDARDS, REQUIRED_SUBJECTS, SMALL_RURAL_SCHOOL_PUPILS
from planning.balance.indicators import QUALITY_INDICATORS, school_indicators

logger = logging.getLogger(__name__)

#: A staff share at this multiple of the county's counts no more (one school of backbone teachers is not 5× strong).
SHARE_CAP = 2.0
#: A school's staff shares are shrunk towards the county's as if it had this many more, county-average,
#: teachers: one backbone teacher among three says little about a school.
PRIOR_TEACHERS = 10
#: The outcome (score / county mean) is capped here.
OUTCOME_CAP = 1.5
#: Enrolment / seats counts up to this: an overfull school is wanted, but crowding is no merit beyond it.
DEMAND_CAP = 1.2
#: Default class thresholds on the index (1 = the county's average school).
DEFAULT_STRONG_AT = 1.0
DEFAULT_WEAK_BELOW = 0.85
#: Name of the outcome component in ``weights`` and in the output (``c_outcome``).
OUTCOME = "outcome"
#: Staff components: teachers column → component name.
STAFF = {"backbone": "backbone_share", "senior": "senior_share", "above_qualification": "above_qualification_share"}
#: Every component, in output order.
COMPONENTS: tuple[str, ...] = (*STAFF.values(), OUTCOME, "demand", "complete", "standards")
#: Default weights: teachers (3) and results (2) decide; completeness and the standards (1 each) check.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "backbone_share": 1.0,
    "senior_share": 1.0,
    "above_qualification_share": 1.0,
    OUTCOME: 2.0,
    "demand": 1.0,
    "complete": 1.0,
    "standards": 1.0,
}
#: Values of ``strength_class``.
CLASSES = ("strong", "middle", "weak")
# relative tolerance when comparing a value with its standard
_RTOL = 1e-9


class StrengthOptions(BaseModel):
    """How school strength is judged (``[balance.strength]``); the formula is in :mod:`planning.balance.strength`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: dict[str, float] = Field(
        default_factory=dict,
        description="component → weight (backbone_share, senior_share, above_qualification_share, outcome, complete, "
        "standards; default 1, 1, 1, 2, 1, 1)",
    )
    outcome_column: str | None = Field("quality_score", description="schools column with an outcome score, or none")
    strong_at: float = Field(DEFAULT_STRONG_AT, ge=0, description="strong when the index is at least this (1 = county average)")
    weak_below: float = Field(DEFAULT_WEAK_BELOW, ge=0, description="weak when the index is below this (1 = county average)")
    min_pupils: int = Field(
        SMALL_RURAL_SCHOOL_PUPILS, ge=0, description="schools with fewer pupils are never strong (乡村小规模学校 < 100)"
    )
    bureau_class_column: str | None = Field(
        "strength_class", description="schools column with the bureau's own class (强/中/弱), which wins; none to ignore"
    )

    @model_validator(mode="after")
    def _order(self) -> StrengthOptions:
        if self.weak_below > self.strong_at:
            msg = f"weak_below ({self.weak_below}) must be ≤ strong_at ({self.strong_at})"
            raise ValueError(msg)
        return self

    def compute(
        self,
        schools: pd.DataFrame,
        teachers: pd.DataFrame | None,
        *,
        standards: Mapping[str, Mapping[str, float]] = QUALITY_STANDARDS,
    ) -> pd.DataFrame:
        """The strength frame of these schools (:func:`strength_index` with these options)."""
        return strength_index(schools, teachers, options=self, standards=standards)


def strength_index(
    schools: pd.DataFrame,
    teachers: pd.DataFrame | None,
    *,
    options: StrengthOptions | None = None,
    standards: Mapping[str, Mapping[str, float]] = QUALITY_STANDARDS,
) -> pd.DataFrame:
    """Strength index and class of every school (formula and rationale in the module docstring).

    Parameters
    ----------
    schools
        Schools layer with canonical columns (``school_id, level,
        enrolled_primary, enrolled_junior``; ``area_type``, ``teaching_point``,
        ``classes_<level>``, the facility columns, the outcome and the bureau's
        ``strength_class`` where given).
    teachers
        Teachers table (``school_id, subject, backbone, above_qualification,
        title``, optional ``level``), or ``None`` (staff components left out,
        completeness by grades only).
    options
        Weights, outcome column, thresholds, ``min_pupils`` and the bureau's
        class column (default :class:`StrengthOptions`).
    standards
        优质均衡 standards, level → indicator → value (a scenario's
        :attr:`planning.balance.BalanceOptions.quality_standards`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``school_id`` (sorted): ``level``, ``area_type`` (when
        given), ``pupils``, ``teaching_point``, ``complete``, ``strength``,
        ``strength_class`` (``strong`` | ``middle`` | ``weak``), ``computed_class``,
        ``class_source`` (``bureau`` | ``computed``), ``not_strong_because``
        (why a school may not be strong, ``""`` if it may) and the components
        ``c_<component>`` (NaN where not used).

    Raises
    ------
    InputError
        Unknown or negative weights, thresholds in the wrong order, a
        non-numeric outcome column, or bad schools/teachers input.
    """
    opts = options or StrengthOptions()
    w, outcome = _check(schools, opts)
    ids = schools["school_id"].astype(str).to_numpy()
    pupils = (schools["enrolled_primary"].to_numpy(np.float64) + schools["enrolled_junior"].to_numpy(np.float64)).astype(np.int64)
    out = pd.DataFrame({"level": schools["level"].astype(str).to_numpy(), "pupils": pupils}, index=pd.Index(ids, name="school_id"))
    if "area_type" in schools.columns:
        out["area_type"] = schools["area_type"].astype(str).to_numpy()
    tp = schools["teaching_point"].fillna(False).astype(bool).to_numpy() if "teaching_point" in schools else np.zeros(len(ids), bool)
    out["teaching_point"] = tp
    out = out.sort_index()

    comp = pd.DataFrame(index=out.index)
    staff = _staff_components(schools, teachers)
    for name in STAFF.values():
        comp[f"c_{name}"] = staff[name].reindex(out.index).to_numpy()
    comp[f"c_{OUTCOME}"] = np.nan
    if outcome is not None:
        score = pd.Series(outcome.to_numpy(np.float64), index=ids).reindex(out.index)
        comp[f"c_{OUTCOME}"] = _outcome_component(out["pupils"].to_numpy(np.float64), score.to_numpy(), opts.outcome_column)
    seats = sum(
        (pd.to_numeric(schools[c], errors="coerce").fillna(0).to_numpy(np.float64) if c in schools else np.zeros(len(ids)))
        for c in ("capacity_primary", "capacity_junior")
    )
    use = np.where(seats > 0, pupils / np.where(seats > 0, seats, 1.0), np.nan)
    comp["c_demand"] = pd.Series(np.minimum(use, DEMAND_CAP), index=ids).reindex(out.index).to_numpy()
    complete, missing = _completeness(schools, teachers)
    comp["c_complete"] = complete.reindex(out.index).to_numpy()
    comp["c_standards"] = _standards_met(schools, teachers, standards).reindex(out.index).to_numpy()

    strength = _combine(comp[[f"c_{c}" for c in COMPONENTS]].to_numpy(np.float64), w)
    out["complete"] = comp["c_complete"].to_numpy() >= 1 - _RTOL
    out["strength"] = strength
    gate = _gate(out, missing.reindex(out.index).fillna("").to_numpy(), opts.min_pupils)
    computed = np.where(strength >= opts.strong_at, "strong", np.where(strength < opts.weak_below, "weak", "middle"))
    computed = np.where((computed == "strong") & (gate != ""), "middle", computed)
    bureau = _bureau_class(schools, opts.bureau_class_column).reindex(out.index).to_numpy()
    given = pd.notna(bureau)
    out["strength_class"] = pd.array(np.where(given, bureau, computed).astype(str), dtype="str")
    out["computed_class"] = pd.array(computed.astype(str), dtype="str")
    out["class_source"] = pd.array(np.where(given, "bureau", "computed"), dtype="str")
    out["not_strong_because"] = pd.array(gate, dtype="str")
    front = ["level", *(["area_type"] if "area_type" in out.columns else []), "pupils", "teaching_point", "complete"]
    rest = ["strength", "strength_class", "computed_class", "class_source", "not_strong_because"]
    return pd.concat([out[[*front, *rest]], comp], axis=1)


def _check(schools: pd.DataFrame, opts: StrengthOptions) -> tuple[dict[str, float], pd.Series | None]:
    """(component → weight, outcome scores or ``None``), every problem collected before raising."""
    problems: list[Problem] = []
    w = dict(DEFAULT_WEIGHTS)
    for key, val in opts.weights.items():
        if key not in COMPONENTS:
            problems.append(Problem("strength", f"unknown component; valid: {', '.join(COMPONENTS)}", column=f"weights.{key}"))
        elif not np.isfinite(val) or val < 0:
            problems.append(Problem("strength", f"weight must be ≥ 0, got {val}", column=f"weights.{key}"))
        else:
            w[key] = float(val)
    if not opts.weak_below <= opts.strong_at:
        problems.append(Problem("strength", f"weak_below ({opts.weak_below}) must be ≤ strong_at ({opts.strong_at})"))
    outcome = None
    column = opts.outcome_column
    if column is not None and column in schools.columns:
        outcome = pd.to_numeric(schools[column], errors="coerce")
        bad = outcome.isna() & schools[column].notna()
        problems += [
            Problem("schools", "outcome score is not a number", row=sid, column=column)
            for sid in schools["school_id"].astype(str)[bad.to_numpy()]
        ]
        if outcome.notna().sum() == 0:
            outcome = None
    bc = opts.bureau_class_column
    if bc is not None and bc in schools.columns:
        vals = schools[bc]
        ok = [*CLASSES, *VALUE_ALIASES["strength_class"], "", "nan", "none", "<na>"]
        bad_cls = vals.notna() & ~vals.astype(str).str.strip().str.lower().isin(ok)
        problems += [
            Problem("schools", f"unknown strength class {v!r}; valid: {', '.join(CLASSES)} (or 强, 中, 弱)", row=sid, column=bc)
            for sid, v in zip(schools["school_id"].astype(str)[bad_cls.to_numpy()], vals[bad_cls])
        ]
    if problems:
        raise InputError(problems)
    return w, outcome


def _bureau_class(schools: pd.DataFrame, column: str | None) -> pd.Series:
    """The bureau's class per school id (NaN where not given)."""
    ids = schools["school_id"].astype(str).to_numpy()
    if column is None or column not in schools.columns:
        return pd.Series(np.nan, index=ids, dtype=object)
    text = schools[column].astype(object).where(schools[column].notna(), None)
    alias = VALUE_ALIASES["strength_class"]
    cls = [alias.get(str(v).strip(), str(v).strip().lower()) if v is not None else "" for v in text]
    return pd.Series([c if c in CLASSES else np.nan for c in cls], index=ids, dtype=object)


def _teacher_levels(schools: pd.DataFrame, teachers: pd.DataFrame) -> NDArray[np.object_]:
    """Level each teacher teaches: the school's when it has one level, else the ``level`` column, else ``""``."""
    level_of = dict(zip(schools["school_id"].astype(str), schools["level"].astype(str)))
    own = teachers["school_id"].astype(str).map(level_of).fillna("").to_numpy(dtype=object)
    given = teachers["level"].astype(object).where(teachers["level"].notna(), "").to_numpy() if "level" in teachers else ""
    return np.where(np.isin(own, LEVELS), own, np.where(np.isin(given, LEVELS), given, ""))


def _staff_components(schools: pd.DataFrame, teachers: pd.DataFrame | None) -> pd.DataFrame:
    """Backbone, senior-title and above-qualification shares among each school's teachers / the county's, capped.

    The county's share is taken per level (a junior teacher is compared with junior teachers); a school's
    share is shrunk towards it by :data:`PRIOR_TEACHERS` county-average teachers, so that one backbone
    teacher among three does not make a village school twice as strong as the county.
    """
    ids = schools["school_id"].astype(str).to_numpy()
    out = pd.DataFrame(np.nan, index=pd.Index(ids), columns=list(STAFF.values()))
    if teachers is None or len(teachers) == 0:
        return out
    t = pd.DataFrame(
        {
            "school_id": teachers["school_id"].astype(str).to_numpy(),
            "level": _teacher_levels(schools, teachers),
            "backbone": teachers["backbone"].fillna(False).astype(bool).to_numpy(float),
            "senior": (teachers["title"].astype(str) == "senior").to_numpy(float),
            "above_qualification": teachers["above_qualification"].fillna(False).astype(bool).to_numpy(float),
        }
    )
    for col, name in STAFF.items():
        county = float(t[col].mean())
        if county <= 0:
            logger.info("no teacher in the county is %s: component %s left out", col, name)
            continue
        by_level = t[t["level"] != ""].groupby("level")[col].mean()
        rate = t["level"].map(by_level).fillna(county).to_numpy(np.float64)  # expected share of each teacher
        g = pd.DataFrame({"sid": t["school_id"], "k": t[col], "r": rate}).groupby("sid").agg(k=("k", "sum"), r=("r", "mean"), n=("k", "size"))
        r = g["r"].where(g["r"] > 0, county)
        share = (g["k"] + PRIOR_TEACHERS * r) / (g["n"] + PRIOR_TEACHERS)
        out[name] = np.minimum(share / r, SHARE_CAP).reindex(out.index).to_numpy()
    return out


def _outcome_component(pupils: NDArray[np.float64], score: NDArray[np.float64], column: str | None) -> NDArray[np.float64] | float:
    """Outcome score / pupil-weighted county mean, capped; NaN (left out) without a positive mean."""
    have = np.isfinite(score) & (pupils > 0)
    p = pupils[have]
    mean = float(np.dot(p, score[have]) / p.sum()) if p.sum() > 0 else float("nan")
    if np.isfinite(mean) and mean > 0:
        return np.minimum(score / mean, OUTCOME_CAP)
    logger.info("outcome column %r has no positive pupil-weighted mean; left out", column)
    return np.nan


def _completeness(schools: pd.DataFrame, teachers: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """(grades × subjects completeness per school id, what is missing as text)."""
    ids = schools["school_id"].astype(str).to_numpy()
    tp = schools["teaching_point"].fillna(False).astype(bool).to_numpy() if "teaching_point" in schools else np.zeros(len(ids), bool)
    staffed = _subjects_staffed(schools, teachers)
    nine = schools["level"].astype(str).to_numpy() == "nine_year"
    value = np.ones(len(ids))
    missing: list[list[str]] = [[] for _ in ids]
    for lv in LEVELS:
        teaches = schools["level"].astype(str).isin([lv, "nine_year"]).to_numpy() & (schools[f"enrolled_{lv}"].to_numpy() > 0)
        col = f"classes_{lv}"
        classes = pd.to_numeric(schools[col], errors="coerce").to_numpy(np.float64) if col in schools else np.full(len(ids), np.nan)
        grades = np.where(np.isfinite(classes), np.minimum(classes, GRADES[lv]) / GRADES[lv], 1.0)
        grades = np.where(tp, np.minimum(grades, 0.5), grades)
        need = REQUIRED_SUBJECTS[lv]
        for k in np.nonzero(teaches)[0]:
            frac = 1.0
            if staffed is not None:
                have = staffed.get((ids[k], lv), set())
                lacking = [s for s in need if s not in have]
                frac = 1 - len(lacking) / len(need)
                if lacking:
                    missing[k].append(f"no {', '.join(lacking)} teacher" + (f" ({lv})" if nine[k] else ""))
            if grades[k] < 1:
                missing[k].append(f"not every {lv} grade taught")
            value[k] = min(value[k], grades[k] * frac)
    return pd.Series(value, index=ids), pd.Series(["; ".join(m) for m in missing], index=ids)


def _subjects_staffed(schools: pd.DataFrame, teachers: pd.DataFrame | None) -> dict[tuple[str, str], set[str]] | None:
    """(school id, level) → subjects with a teacher; ``None`` without a teachers table."""
    if teachers is None:
        return None
    level_of = dict(zip(schools["school_id"].astype(str), schools["level"].astype(str)))
    t_level = teachers["level"].astype(object).where(teachers["level"].notna(), None) if "level" in teachers else None
    out: dict[tuple[str, str], set[str]] = {}
    for k, (sid, subject) in enumerate(zip(teachers["school_id"].astype(str), teachers["subject"].astype(str))):
        own = level_of.get(sid, "")
        lvs = [own] if own in LEVELS else ([t_level.iloc[k]] if t_level is not None and t_level.iloc[k] in LEVELS else list(LEVELS))
        for lv in lvs:
            out.setdefault((sid, lv), set()).add(subject)
    return out


def _standards_met(
    schools: pd.DataFrame, teachers: pd.DataFrame | None, standards: Mapping[str, Mapping[str, float]]
) -> pd.Series:
    """Share of the 优质均衡 standards each school meets (computable ones), pupil-weighted over its parts."""
    parts = school_indicators(schools, teachers)
    parts = parts[parts["pupils"] > 0]
    vals = parts[list(QUALITY_INDICATORS)].to_numpy(np.float64)
    std = np.array([[standards[lv][n] for n in QUALITY_INDICATORS] for lv in parts["level"]]).reshape(vals.shape)
    known = np.isfinite(vals)
    met = (vals >= std * (1 - _RTOL)) & known
    n_known = known.sum(axis=1)
    share = np.where(n_known > 0, met.sum(axis=1) / np.maximum(n_known, 1), np.nan)
    p = parts["pupils"].to_numpy(np.float64)
    frame = pd.DataFrame({"sid": parts["school_id"].to_numpy(), "num": np.nan_to_num(share) * p, "den": np.where(n_known > 0, p, 0.0)})
    g = frame.groupby("sid")[["num", "den"]].sum()
    return (g["num"] / g["den"].where(g["den"] > 0)).reindex(schools["school_id"].astype(str).to_numpy())


def _gate(out: pd.DataFrame, missing: NDArray[np.object_], min_pupils: int) -> NDArray[np.object_]:
    """Why each school may not be strong (``""`` when it may)."""
    reasons = []
    for tp, pupils, complete, miss in zip(out["teaching_point"], out["pupils"], out["complete"], missing):
        why = []
        if tp:
            why.append("teaching point")
        if pupils < min_pupils:
            why.append(f"{pupils} pupils < {min_pupils}")
        if not complete:
            why.append("incomplete" + (f": {miss}" if miss else ""))
        reasons.append("; ".join(why))
    return np.array(reasons, dtype=object)


def _combine(comp_vals: NDArray[np.float64], w: Mapping[str, float]) -> NDArray[np.float64]:
    """Weighted mean of each school's components (columns in :data:`COMPONENTS` order); NaN components skipped."""
    used = np.array([w[n] for n in COMPONENTS]) * np.isfinite(comp_vals).any(axis=0)
    dropped = [n for n, u, ww in zip(COMPONENTS, used, (w[n] for n in COMPONENTS)) if u == 0 and ww > 0]
    if dropped:
        logger.info("strength components not computable, left out: %s", ", ".join(dropped))
    wmat = np.where(np.isfinite(comp_vals), used[None, :], 0.0)
    wsum = wmat.sum(axis=1)
    return np.where(wsum > 0, (np.nan_to_num(comp_vals) * wmat).sum(axis=1) / np.where(wsum > 0, wsum, 1), np.nan)
