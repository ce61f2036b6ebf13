"""The rotation's settings: one frozen options object, validated where it is made."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from geo.errors import InputError
from geo.policy import ROTATION_MIN_SHARE, ROTATION_MIN_YEARS_AT_SCHOOL
from geo.travel import TravelMatrix
from planning.rotation import EligibilityRules, RotationOptions, SolveLimits, from_frames, rotation_eligibility


@pytest.mark.parametrize(
    ("key", "value"),
    [("min_share", 1.5), ("max_share", -0.1), ("backbone_share", 2.0), ("max_destinations", 0), ("staffing_tolerance", -1),
     ("quota_scope", "province"), ("staffing", "swap"), ("max_commute_s", 0), ("min_years_at_school", -1), ("relative_gap", 2.0)],
)
def test_options_reject_values_out_of_range(key: str, value: object) -> None:
    with pytest.raises(ValidationError, match=key):
        RotationOptions(**{key: value})


def test_options_are_frozen_and_reject_unknown_keys() -> None:
    opts = RotationOptions()
    with pytest.raises(ValidationError, match="frozen"):
        opts.min_share = 0.5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="staffing_targets"):
        RotationOptions(staffing_targets=pd.DataFrame())  # a table, passed to from_frames on its own
    with pytest.raises(ValidationError, match="eligibility"):
        RotationOptions(eligibility=EligibilityRules())  # the rules are flat fields of the options


def test_options_defaults_are_the_policy_numbers_and_the_options_are_eligibility_rules() -> None:
    opts = RotationOptions(min_years_at_school=3)
    assert RotationOptions().min_share == ROTATION_MIN_SHARE
    assert EligibilityRules().min_years_at_school == ROTATION_MIN_YEARS_AT_SCHOOL
    assert isinstance(opts, EligibilityRules)
    teachers = pd.DataFrame([{"teacher_id": "a", "school_id": "S1", "subject": "math", "backbone": False,
                              "above_qualification": True, "years_at_school": 4, "age": 40, "sex": "F"}])
    assert rotation_eligibility(teachers, rules=opts)["eligible"].tolist() == [True]
    assert rotation_eligibility(teachers)["eligible"].tolist() == [False]


def test_solve_limits_reject_values_out_of_range() -> None:
    with pytest.raises(ValidationError, match="workers"):
        SolveLimits(workers=0)
    with pytest.raises(ValidationError, match="time_limit_s"):
        SolveLimits(time_limit_s=0)


def test_staffing_targets_without_a_target_column_are_named() -> None:
    schools = pd.DataFrame({"school_id": ["A", "B"], "name": ["县一小", "乡小"], "level": "primary", "area_type": ["urban", "rural"],
                            "enrolled_primary": [800, 200], "enrolled_junior": 0})
    teachers = pd.DataFrame([{"teacher_id": f"T{i}", "school_id": s, "subject": "math", "backbone": False, "above_qualification": True,
                              "years_at_school": 8, "age": 40, "sex": "F"} for i, s in enumerate("AAB")])
    travel = TravelMatrix(origin_ids=np.array(["A", "B"]), dest_ids=np.array(["A", "B"]), origin=np.array([0, 1], dtype=np.int32),
                          dest=np.array([1, 0], dtype=np.int32), time_s=np.array([900, 900], dtype=np.int32),
                          dist_m=np.array([9000, 9000], dtype=np.int32), mode="drive")
    targets = pd.DataFrame({"school_id": ["A"], "subject": ["math"]})
    with pytest.raises(InputError, match="staffing_targets, column 'target': required column is missing"):
        from_frames(schools, teachers, school_travel=travel, staffing_targets=targets, options=RotationOptions(staffing="tolerance"))
