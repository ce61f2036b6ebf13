"""Strength index: standardized against the 优质均衡 standards, optional outcome, classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.errors import InputError
from planning.balance.strength import RATIO_CAP, StrengthOptions, strength_index


def schools() -> pd.DataFrame:
    """Two primary schools of 100 pupils; X exactly at every facility standard, Y at half."""
    return pd.DataFrame(
        {
            "school_id": ["Y", "X"],
            "level": ["primary", "primary"],
            "area_type": ["rural", "urban"],
            "enrolled_primary": [100, 100],
            "enrolled_junior": [0, 0],
            # standards per pupil: floor 4.5, sports 7.5, equipment 2000; multimedia 2.3 per 100
            "floor_area_m2": [225.0, 450.0],
            "sports_area_m2": [375.0, 750.0],
            "equipment_yuan": [100_000.0, 200_000.0],
            "multimedia_rooms": [1, 23],  # 1.0 per 100 (share 1/2.3); 23 per 100 → capped
            "quality_score": [60.0, 90.0],
        }
    )


def test_resources_against_standards_without_outcome() -> None:
    out = strength_index(schools(), None, options=StrengthOptions(outcome_column=None))
    assert list(out.index) == ["X", "Y"]  # sorted by id
    # X: (1 + 1 + 1 + cap) / 4; Y: (0.5 + 0.5 + 0.5 + 1/2.3) / 4
    assert out.loc["X", "strength"] == pytest.approx((3 + RATIO_CAP) / 4, abs=1e-12)
    assert out.loc["Y", "strength"] == pytest.approx((1.5 + 1 / 2.3) / 4, abs=1e-12)
    assert out.loc["X", "strength_class"] == "strong" and out.loc["Y", "strength_class"] == "weak"
    assert np.isnan(out.loc["X", "c_backbone_per_100"]) and np.isnan(out.loc["X", "c_outcome"])
    assert out.loc["Y", "area_type"] == "rural" and out.loc["Y", "pupils"] == 100


def test_outcome_weighs_as_much_as_resources_by_default() -> None:
    out = strength_index(schools(), None)
    # county mean score (100 pupils each) = 75 → X 90/75 = 1.2, Y 60/75 = 0.8; resources 4 → outcome weight 4
    assert out.loc["X", "c_outcome"] == pytest.approx(1.2)
    res_x = (3 + RATIO_CAP) / 4
    assert out.loc["X", "strength"] == pytest.approx((res_x + 1.2) / 2, abs=1e-12)
    only_outcome = strength_index(
        schools(),
        None,
        options=StrengthOptions(
            weights={"floor_area_per_pupil": 0, "sports_area_per_pupil": 0, "equipment_per_pupil": 0, "multimedia_per_100": 0}
        ),
    )
    assert only_outcome.loc["Y", "strength"] == pytest.approx(0.8, abs=1e-12)


def test_thresholds_set_classes() -> None:
    out = strength_index(schools(), None, options=StrengthOptions(outcome_column=None, strong_at=2.0, weak_below=0.1))
    assert set(out["strength_class"]) == {"middle"}


def test_bad_weights_and_thresholds_listed() -> None:
    with pytest.raises(InputError, match=r"(?s)weights\.speed.*unknown component.*weights\.backbone_per_100.*≥ 0.*weak_below"):
        # options built without validation (as a caller outside pydantic could): the model checks again
        bad = StrengthOptions.model_construct(weights={"speed": 1, "backbone_per_100": -1}, strong_at=0.5, weak_below=0.9)
        strength_index(schools(), None, options=bad)


def test_non_numeric_outcome_is_reported() -> None:
    s = schools()
    s["quality_score"] = s["quality_score"].astype(object)
    s.loc[0, "quality_score"] = "good"
    with pytest.raises(InputError, match="Y, column 'quality_score': outcome score is not a number"):
        strength_index(s, None)
