"""Who may rotate this year (教师〔2014〕4号 and local rules), and why the others may not.

:class:`EligibilityRules` holds every rule (national defaults from :mod:`geo.policy`, local
variants as settings); :func:`rotation_eligibility` applies them to a teachers table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from geo.errors import InputError, Problem, missing_columns
from geo.model import TEACHERS
from geo.policy import (
    RETIREMENT_AGE_FEMALE,
    RETIREMENT_AGE_MALE,
    ROTATION_EXCLUDE_YEARS_TO_RETIREMENT,
    ROTATION_MAX_AGE_FEMALE,
    ROTATION_MAX_AGE_MALE,
    ROTATION_MIN_YEARS_AT_SCHOOL,
)


class EligibilityRules(BaseModel):
    """Who may rotate (教师〔2014〕4号 and local rules); every rule can be changed.

    Attributes
    ----------
    min_years_at_school
        Years at the current school needed (Anhui, Gansu, Beijing: 6).
    age_caps
        Apply the age caps by sex (Gansu); off by default.
    max_age_male, max_age_female
        Age caps when ``age_caps`` is on (Gansu: men ≤ 50, women ≤ 45).
    years_to_retirement
        Teachers with fewer than this many years left before retirement are
        not rotated (Beijing: 5, "距退休不足5年"); 0 turns the rule off.
    retirement_age_male, retirement_age_female
        Statutory retirement ages.
    honour_exemptions
        A non-empty ``exempt_reason`` makes a teacher ineligible.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_years_at_school: int = Field(ROTATION_MIN_YEARS_AT_SCHOOL, ge=0, le=60, description="years at the current school needed to rotate")
    age_caps: bool = Field(False, description="apply the age caps by sex (Gansu)")
    max_age_male: int = Field(ROTATION_MAX_AGE_MALE, ge=18, le=80, description="oldest man who rotates, with age caps on")
    max_age_female: int = Field(ROTATION_MAX_AGE_FEMALE, ge=18, le=80, description="oldest woman who rotates, with age caps on")
    years_to_retirement: int = Field(
        ROTATION_EXCLUDE_YEARS_TO_RETIREMENT, ge=0, le=40, description="teachers closer than this to retirement stay; 0: off"
    )
    retirement_age_male: int = Field(RETIREMENT_AGE_MALE, ge=40, le=80, description="statutory retirement age of men")
    retirement_age_female: int = Field(RETIREMENT_AGE_FEMALE, ge=40, le=80, description="statutory retirement age of women")
    honour_exemptions: bool = Field(True, description="a non-empty exempt_reason makes a teacher ineligible")


#: The national rules with no local variant.
DEFAULT_RULES = EligibilityRules()

_TEACHER_REQUIRED = ("teacher_id", "school_id", "subject", "backbone", "above_qualification", "years_at_school", "age", "sex")


#: Upper bound for ages and years at a school: anything larger is a data error.
_MAX_YEARS = 120


def _year_problems(teachers: pd.DataFrame, ids: pd.Series) -> list[Problem]:
    """``years_at_school`` and ``age``: whole numbers from 0 to :data:`_MAX_YEARS`."""
    problems: list[Problem] = []
    for col in ("years_at_school", "age"):
        vals = pd.to_numeric(teachers[col], errors="coerce")
        bad = vals.isna() | (vals < 0) | (vals != np.floor(vals.fillna(0)))
        problems += [Problem("teachers", "must be a whole number ≥ 0", row=tid, column=col) for tid in ids[bad.to_numpy()]]
        # a career is never longer than this: larger values are data errors (and would overflow)
        too_big = ~bad & (vals > _MAX_YEARS)
        problems += [Problem("teachers", f"must be at most {_MAX_YEARS} (years)", row=tid, column=col) for tid in ids[too_big.to_numpy()]]
    return problems


def _value_problems(teachers: pd.DataFrame, ids: pd.Series) -> list[Problem]:
    """``sex``, ``subject`` and the two true/false columns."""
    bad_sex = ~teachers["sex"].isin(["M", "F"])
    problems = [Problem("teachers", "sex must be M or F", row=tid, column="sex") for tid in ids[bad_sex.to_numpy()]]
    subjects = set(TEACHERS.column("subject").choices)
    problems += [
        Problem("teachers", f"subject {subj!r} is not one of {sorted(subjects)}", row=tid, column="subject")
        for tid, subj in zip(ids, teachers["subject"])
        if subj not in subjects
    ]
    for col in ("backbone", "above_qualification"):
        ok = teachers[col].map(lambda v: isinstance(v, (bool, np.bool_)) or v in (0, 1))
        problems += [Problem("teachers", "must be true or false", row=tid, column=col) for tid in ids[~ok.to_numpy(dtype=bool)]]
    return problems


def validate_teachers(teachers: pd.DataFrame, school_ids: set[str] | None = None) -> None:
    """Raise :class:`InputError` listing every problem of the teachers table."""
    problems = missing_columns(teachers.columns, _TEACHER_REQUIRED, "teachers")
    if problems:
        raise InputError(problems)
    ids = teachers["teacher_id"].astype(str)
    problems += [Problem("teachers", "teacher_id is not unique", row=tid, column="teacher_id") for tid in sorted(set(ids[ids.duplicated()]))]
    problems += _year_problems(teachers, ids)
    problems += _value_problems(teachers, ids)
    if school_ids is not None:
        problems += [
            Problem("teachers", f"school_id {sid!r} not found in the schools layer", row=tid, column="school_id")
            for tid, sid in zip(ids, teachers["school_id"].astype(str))
            if sid not in school_ids
        ]
    if problems:
        raise InputError(problems)


def rotation_eligibility(teachers: pd.DataFrame, *, rules: EligibilityRules = DEFAULT_RULES) -> pd.DataFrame:
    """Which teachers may rotate this year, with the reason for each who may not.

    Parameters
    ----------
    teachers
        Teachers table with ``teacher_id, school_id, years_at_school, age, sex``
        and optional ``exempt_reason``.
    rules
        The rules to apply (a :class:`~planning.rotation.RotationOptions` is one).

    Returns
    -------
    pandas.DataFrame
        ``teacher_id, school_id, eligible, reason`` sorted by ``teacher_id``;
        ``reason`` is empty for eligible teachers, else every rule that fails,
        joined by "; ".

    Raises
    ------
    InputError
        Missing columns or invalid values (all listed at once).
    """
    validate_teachers(teachers)
    tid = teachers["teacher_id"].astype(str).to_numpy()
    years = pd.to_numeric(teachers["years_at_school"]).to_numpy(np.int64)
    age = pd.to_numeric(teachers["age"]).to_numpy(np.int64)
    male = (teachers["sex"] == "M").to_numpy()
    reasons: list[list[str]] = [[] for _ in range(len(tid))]
    for i in np.flatnonzero(years < rules.min_years_at_school):
        reasons[i].append(f"{years[i]} years at this school (needs {rules.min_years_at_school})")
    if rules.age_caps:
        cap = np.where(male, rules.max_age_male, rules.max_age_female)
        for i in np.flatnonzero(age > cap):
            reasons[i].append(f"age {age[i]} above the cap of {cap[i]} for {'men' if male[i] else 'women'}")
    if rules.years_to_retirement > 0:
        retire = np.where(male, rules.retirement_age_male, rules.retirement_age_female)
        for i in np.flatnonzero(retire - age < rules.years_to_retirement):
            reasons[i].append(
                f"{max(int(retire[i] - age[i]), 0)} years to retirement at {retire[i]} "
                f"(fewer than {rules.years_to_retirement})"
            )
    if rules.honour_exemptions and "exempt_reason" in teachers.columns:
        ex = teachers["exempt_reason"].astype(object).where(teachers["exempt_reason"].notna(), "").astype(str).str.strip()
        for i in np.flatnonzero(ex.to_numpy() != ""):
            reasons[i].append(f"exempt: {ex.iloc[i]}")
    out = pd.DataFrame(
        {
            "teacher_id": pd.array(tid, dtype="str"),
            "school_id": pd.array(teachers["school_id"].astype(str).to_numpy(), dtype="str"),
            "eligible": np.array([not r for r in reasons], dtype=bool),
            "reason": pd.array(["; ".join(r) for r in reasons], dtype="str"),
        }
    )
    return out.sort_values("teacher_id", ignore_index=True)
