"""Validation of the schools layer shared by the models that read enrolments (balance, rotation)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from geo.errors import InputError, Problem, missing_columns
from geo.model import SchoolLevel

#: Columns every school model needs.
SCHOOL_COLUMNS: tuple[str, ...] = ("school_id", "level", "enrolled_primary", "enrolled_junior")
_ENROLMENT = ("enrolled_primary", "enrolled_junior")


def validate_schools(schools: pd.DataFrame, *, extra_columns: Sequence[str] = (), numeric: Sequence[str] = ()) -> None:
    """Check a schools layer, collecting every problem before raising.

    Parameters
    ----------
    schools
        Schools layer with canonical columns.
    extra_columns
        Columns a caller needs besides :data:`SCHOOL_COLUMNS` (always required).
    numeric
        Optional columns that, where present, must be numbers ≥ 0 (blank allowed).
        Enrolments are always checked and must not be blank.

    Raises
    ------
    InputError
        Missing columns (alone, before anything else), then duplicate ids, unknown
        levels and values that are not numbers ≥ 0, each named by school and column.
    """
    problems = missing_columns(schools.columns, dict.fromkeys((*SCHOOL_COLUMNS, *extra_columns)), "schools")
    if problems:
        raise InputError(problems)
    ids = schools["school_id"].astype(str)
    problems += [
        Problem("schools", "school_id is not unique", row=sid, column="school_id") for sid in sorted(set(ids[ids.duplicated()]))
    ]
    valid = {v.value for v in SchoolLevel}
    problems += [
        Problem("schools", f"level {lv!r} is not one of {sorted(valid)}", row=sid, column="level")
        for sid, lv in zip(ids, schools["level"])
        if lv not in valid
    ]
    for col in (*_ENROLMENT, *numeric):
        if col not in schools.columns:
            continue
        vals = pd.to_numeric(schools[col], errors="coerce")
        bad = vals < 0
        if col in _ENROLMENT:
            bad |= vals.isna()
        problems += [Problem("schools", "must be a number ≥ 0", row=sid, column=col) for sid in ids[bad.to_numpy()]]
    if problems:
        raise InputError(problems)
