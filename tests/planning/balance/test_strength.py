"""Strength: staff shares, outcome, demand, completeness, standards met; gates and the bureau's own class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.errors import InputError
from planning.balance.strength import StrengthOptions, strength_index

FULL_PRIMARY = ["chinese", "chinese", "math", "math", "english", "science", "morality", "pe", "music", "art"]


def schools() -> pd.DataFrame:
    """A: complete urban primary, 200 pupils in 180 seats; B: rural primary of 60 pupils, 3 classes."""
    return pd.DataFrame(
        {
            "school_id": ["B", "A"],
            "level": ["primary", "primary"],
            "area_type": ["rural", "urban"],
            "enrolled_primary": [60, 200],
            "enrolled_junior": [0, 0],
            "capacity_primary": [120, 180],
            "capacity_junior": [0, 0],
            "classes_primary": [3, 6],
            "classes_junior": [0, 0],
        }
    )


def teachers() -> pd.DataFrame:
    """A: 10 teachers of every subject, 4 backbone, 2 senior, all above qualification; B: 5, none backbone or senior, 3 above."""
    rows = [("A", s, k < 4, "senior" if k < 2 else "intermediate", True) for k, s in enumerate(FULL_PRIMARY)]
    rows += [("B", s, False, "junior", k < 3) for k, s in enumerate(["chinese", "math", "english", "pe", "art"])]
    return pd.DataFrame(rows, columns=["school_id", "subject", "backbone", "title", "above_qualification"])


def test_hand_computed_components_and_classes() -> None:
    out = strength_index(schools(), teachers())
    assert list(out.index) == ["A", "B"]
    # county primary rates: backbone 4/15, senior 2/15, above 13/15; shares shrunk by 10 county-average teachers
    a, b = out.loc["A"], out.loc["B"]
    assert a["c_backbone_share"] == pytest.approx((4 + 10 * 4 / 15) / 20 / (4 / 15))  # 1.25
    assert a["c_senior_share"] == pytest.approx(1.25)
    assert a["c_above_qualification_share"] == pytest.approx((10 + 10 * 13 / 15) / 20 / (13 / 15))
    assert b["c_backbone_share"] == pytest.approx(2 / 3) and b["c_senior_share"] == pytest.approx(2 / 3)
    assert a["c_demand"] == pytest.approx(200 / 180) and b["c_demand"] == pytest.approx(0.5)
    # B: 3 of 6 grades, 5 of 8 required subjects
    assert a["c_complete"] == 1.0 and b["c_complete"] == pytest.approx(0.5 * 5 / 8)
    # standards without facility columns: the 3 teacher standards; B has no backbone teacher (2 of 3)
    assert a["c_standards"] == 1.0 and b["c_standards"] == pytest.approx(2 / 3)
    assert np.isnan(a["c_outcome"])
    expect_a = (1.25 + 1.25 + (10 + 10 * 13 / 15) / 20 / (13 / 15) + 200 / 180 + 1 + 1) / 6
    assert a["strength"] == pytest.approx(expect_a)
    assert a["strength_class"] == "strong" and b["strength_class"] == "weak"
    assert a["not_strong_because"] == "" and a["class_source"] == "computed" and bool(a["complete"])


def test_small_or_incomplete_school_or_teaching_point_is_never_strong() -> None:
    out = strength_index(schools(), teachers(), options=StrengthOptions(strong_at=0.5, weak_below=0.1))
    b = out.loc["B"]
    assert b["computed_class"] == "middle" and b["strength"] > 0.5
    assert b["not_strong_because"] == (
        "60 pupils < 100; incomplete: no science, morality, music teacher; not every primary grade taught"
    )
    tp = schools().assign(teaching_point=[False, True])
    out = strength_index(tp, teachers(), options=StrengthOptions(strong_at=0.5, weak_below=0.1))
    assert out.loc["A", "strength_class"] == "middle"
    assert out.loc["A", "not_strong_because"].startswith("teaching point; incomplete: not every primary grade taught")


def test_spare_floor_area_never_makes_a_school_strong() -> None:
    lavish = schools().assign(
        floor_area_m2=[60 * 50.0, 200 * 1.0], sports_area_m2=[60 * 90.0, 200 * 2.0],
        equipment_yuan=[60 * 9000.0, 200 * 500.0], multimedia_rooms=[10, 1],
    )  # fmt: skip
    out = strength_index(lavish, teachers())
    # B meets every facility standard many times over: the component counts each as met (1), no more
    assert out.loc["B", "c_standards"] == pytest.approx(6 / 7)
    assert out.loc["A", "c_standards"] == pytest.approx(3 / 7)
    assert out.loc["B", "strength_class"] == "weak" and out.loc["A", "strength_class"] == "strong"


def test_outcome_against_county_mean() -> None:
    s = schools().assign(quality_score=[60.0, 90.0])
    out = strength_index(s, teachers())
    mean = (60 * 60 + 90 * 200) / 260
    assert out.loc["A", "c_outcome"] == pytest.approx(90 / mean)
    assert out.loc["B", "c_outcome"] == pytest.approx(60 / mean)
    only = strength_index(s, teachers(), options=StrengthOptions(weights=dict.fromkeys(
        ["backbone_share", "senior_share", "above_qualification_share", "demand", "complete", "standards"], 0.0)))
    assert only.loc["B", "strength"] == pytest.approx(60 / mean)


@pytest.mark.parametrize(("given", "expect"), [("弱", "weak"), ("strong", "strong"), ("中", "middle"), (None, "strong")])
def test_the_bureau_class_wins(given: str | None, expect: str) -> None:
    s = schools().assign(strength_class=["强", given])
    out = strength_index(s, teachers())
    assert out.loc["A", "strength_class"] == expect and out.loc["A", "computed_class"] == "strong"
    assert out.loc["A", "class_source"] == ("computed" if given is None else "bureau")
    assert out.loc["B", "strength_class"] == "strong" and out.loc["B", "computed_class"] == "weak"
    ignored = strength_index(s, teachers(), options=StrengthOptions(bureau_class_column=None))
    assert ignored.loc["B", "strength_class"] == "weak"


def test_without_teachers_completeness_by_grades_only() -> None:
    out = strength_index(schools(), None)
    assert out["c_backbone_share"].isna().all() and out["c_standards"].isna().all()
    assert out.loc["B", "c_complete"] == 0.5 and out.loc["A", "c_complete"] == 1.0
    assert out.loc["A", "strength"] == pytest.approx((200 / 180 + 1) / 2)


def test_bad_options_and_values_are_reported_together() -> None:
    bad = StrengthOptions.model_construct(
        weights={"speed": 1, "backbone_share": -1}, strong_at=0.5, weak_below=0.9, outcome_column="quality_score",
        min_pupils=100, bureau_class_column="strength_class",
    )  # fmt: skip
    s = schools().assign(quality_score=["high", 70.0], strength_class=["superb", None])
    with pytest.raises(InputError) as info:
        strength_index(s, teachers(), options=bad)
    text = str(info.value)
    assert "weights.speed" in text and "unknown component" in text and "weight must be ≥ 0" in text
    assert "weak_below (0.9) must be ≤ strong_at (0.5)" in text
    assert "B, column 'quality_score': outcome score is not a number" in text
    assert "B, column 'strength_class': unknown strength class 'superb'" in text


def test_demo_county_seat_main_schools_are_strong_and_small_ones_never() -> None:
    from geo.demo import build_demo

    demo = build_demo()
    s = demo.inputs.schools
    out = strength_index(s, demo.inputs.teachers)
    name = pd.Series(s["name"].to_numpy(), index=s["school_id"].astype(str)).reindex(out.index)
    strong = set(name[out["strength_class"] == "strong"])
    assert {"清涧县第一小学", "清涧县第二小学", "清涧县第一中学"} <= strong
    assert not (out.loc[out["strength_class"] == "strong", "pupils"] < 100).any()
    assert not out.loc[out["teaching_point"], "strength_class"].eq("strong").any()
    rural = out["area_type"] == "rural"
    assert set(out.loc[rural, "strength_class"]) <= {"middle", "weak"}
