"""Balance evaluation: official weighted CV, exclusions, nine-year split, per-school rule."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from geo.errors import InputError
from geo.policy import BASIC_CV_MEAN_MAX, QUALITY_CV_MAX, QUALITY_STANDARDS
from planning.balance import BalanceOptions
from planning.balance.indicators import (
    BASIC_INDICATORS,
    QUALITY_INDICATORS,
    compare_balance,
    evaluate_balance,
    school_indicators,
    weighted_cv,
)


def county() -> pd.DataFrame:
    """Primary schools A, B, C, nine-year E and a 20-pupil teaching point D.

    Floor area per pupil (primary): A 600/100 = 6, B 1200/300 = 4, C 1800/600 = 3,
    E 2000 m² split by pupils 200/400 → 1000/200 = 5; D 400/20 = 20 (left out).
    """
    return pd.DataFrame(
        {
            "school_id": ["A", "B", "C", "D", "E"],
            "level": ["primary", "primary", "primary", "primary", "nine_year"],
            "enrolled_primary": [100, 300, 600, 20, 200],
            "enrolled_junior": [0, 0, 0, 0, 200],
            "teaching_point": [False, False, False, True, False],
            "floor_area_m2": [600.0, 1200.0, 1800.0, 400.0, 2000.0],
            "sports_area_m2": [900.0, 2400.0, 3000.0, 200.0, 4000.0],
            "equipment_yuan": [2e5, 5e5, 9e5, 1e4, 8e5],
            "multimedia_rooms": [3, 6, 9, 0, 10],
            "computers": [10, 20, 40, 1, 30],
            "books": [3000, 6000, 9000, 500, 8000],
        }
    )


def teachers() -> pd.DataFrame:
    rows = [
        # school, subject, backbone, above_qualification, title, level
        ("A", "pe", True, True, "senior", None),
        ("A", "math", False, True, "junior", None),
        ("B", "math", True, True, "intermediate", None),
        ("B", "chinese", False, False, "junior", None),
        ("C", "music", False, True, "junior", None),
        ("E", "math", True, True, "senior", "junior"),
        ("E", "art", False, True, "junior", None),
        ("E", "math", False, False, "junior", "primary"),
    ]
    df = pd.DataFrame(rows, columns=["school_id", "subject", "backbone", "above_qualification", "title", "level"])
    df.insert(0, "teacher_id", [f"t{i}" for i in range(len(df))])
    return df


def test_weighted_cv_hand_computed_and_differs_from_unweighted() -> None:
    # values 6, 4, 3, 5 with pupils 100, 300, 600, 200 (P = 1200):
    # X̄ = 4600 / 1200 = 23/6; Σ (p/P)(x − X̄)² = (100·169 + 300·1 + 600·25 + 200·49) / (1200·36) = 35/36
    # CV = sqrt(35/36) / (23/6) = sqrt(35) / 23
    cv = weighted_cv([6.0, 4.0, 3.0, 5.0], [100, 300, 600, 200])
    assert cv == pytest.approx(math.sqrt(35) / 23, abs=1e-9)
    # the (wrong) unweighted CV: mean 4.5, variance 1.25 → sqrt(1.25) / 4.5
    unweighted = math.sqrt(1.25) / 4.5
    assert abs(cv - unweighted) > 1e-3


def test_weighted_cv_uses_given_county_mean() -> None:
    # X̄ = 2 given: Σ ½(x − 2)² over x = 1, 3 = 1 → CV = 1 / 2
    assert weighted_cv([1.0, 3.0], [1, 1], county_mean=2.0) == pytest.approx(0.5, abs=1e-12)


def test_weighted_cv_zero_mean_is_nan() -> None:
    assert math.isnan(weighted_cv([0.0, 0.0], [10, 20]))


@pytest.mark.parametrize(
    ("values", "pupils", "match"),
    [([1.0, 2.0], [1], "2 values but 1 pupil"), ([np.nan, 1.0], [1, 1], "finite"), ([1.0], [-1], "≥ 0"), ([1.0], [0], "no pupils")],
)
def test_weighted_cv_rejects_bad_input(values: list[float], pupils: list[int], match: str) -> None:
    with pytest.raises(InputError, match=match):
        weighted_cv(values, pupils)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.1, 1e4, allow_nan=False), min_size=1, max_size=12),
    st.integers(1, 2000),
    st.floats(0.01, 100),
)
def test_weighted_cv_equal_pupils_is_population_cv_and_scale_free(values: list[float], n: int, scale: float) -> None:
    x = np.array(values)
    expected = np.std(x) / np.mean(x)
    assert weighted_cv(x, np.full(len(x), n)) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert weighted_cv(x * scale, np.full(len(x), n)) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_county_cv_excludes_teaching_point_and_splits_nine_year() -> None:
    report = evaluate_balance(county(), teachers())
    ind = report.indicators.set_index(["level", "indicator", "kind"])
    row = ind.loc[("primary", "floor_area_per_pupil", "quality")]
    assert row["county_value"] == pytest.approx(23 / 6, abs=1e-9)  # (600+1200+1800+1000) / 1200
    assert row["cv"] == pytest.approx(math.sqrt(35) / 23, abs=1e-9)
    assert row["threshold"] == 0.50 and bool(row["passes"]) is True
    assert row["n_schools"] == 4
    junior = ind.loc[("junior", "floor_area_per_pupil", "quality")]
    assert junior["county_value"] == pytest.approx(1000 / 200, abs=1e-12) and junior["cv"] == pytest.approx(0.0)
    assert junior["threshold"] == 0.45


def test_exclusion_flags_and_reasons() -> None:
    big_tp = county()
    big_tp.loc[3, "enrolled_primary"] = 60  # a teaching point of 60 pupils counts for 优质 but not 基本
    parts = school_indicators(big_tp, None).set_index(["school_id", "level"])
    assert not parts.loc[("D", "primary"), "excluded"] and parts.loc[("D", "primary"), "excluded_basic"]
    assert "基本均衡 only" in parts.loc[("D", "primary"), "exclusion_reason"]
    small = school_indicators(county(), None).set_index(["school_id", "level"])
    assert small.loc[("D", "primary"), "excluded"] and small.loc[("D", "primary"), "excluded_basic"]
    assert "< 50 pupils" in small.loc[("D", "primary"), "exclusion_reason"]
    assert not small.loc[("A", "primary"), "excluded"] and small.loc[("A", "primary"), "exclusion_reason"] == ""


def test_teaching_point_of_60_changes_quality_cv_not_basic() -> None:
    big_tp = county()
    big_tp.loc[3, "enrolled_primary"] = 60
    base = evaluate_balance(county(), None).indicators.set_index(["level", "indicator", "kind"])
    more = evaluate_balance(big_tp, None).indicators.set_index(["level", "indicator", "kind"])
    key_q = ("primary", "floor_area_per_pupil", "quality")
    key_b = ("primary", "floor_area_per_pupil", "basic")
    assert more.loc[key_q, "n_schools"] == 5 and more.loc[key_q, "cv"] != pytest.approx(base.loc[key_q, "cv"])
    assert more.loc[key_b, "cv"] == pytest.approx(base.loc[key_b, "cv"], abs=1e-12)


def test_nine_year_teachers_split_by_level_column_else_pupil_share() -> None:
    parts = school_indicators(county(), teachers()).set_index(["school_id", "level"])
    # E: math (junior) → junior; math (primary) → primary; art (no level) → ½ / ½ (200 and 200 pupils)
    assert parts.loc[("E", "junior"), "n_teachers"] == pytest.approx(1.5)
    assert parts.loc[("E", "primary"), "n_teachers"] == pytest.approx(1.5)
    assert parts.loc[("E", "junior"), "n_pe_art"] == pytest.approx(0.5)
    assert parts.loc[("E", "junior"), "backbone_per_100"] == pytest.approx(100 * 1 / 200)
    # above-qualification teachers per 100 pupils at E primary: (0.5 art) / 200 × 100
    assert parts.loc[("E", "primary"), "above_qualification_per_100"] == pytest.approx(0.25)
    # facilities split by pupil share
    assert parts.loc[("E", "primary"), "floor_area_m2"] == pytest.approx(1000.0)
    # intermediate-or-higher titles: B has one intermediate of 2
    assert parts.loc[("B", "primary"), "intermediate_title_per_100"] == pytest.approx(100 / 300)


def _one_school(equipment_yuan: float, multimedia_rooms: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """100 primary pupils; every standard met except possibly equipment (standard 2000 yuan/pupil)."""
    schools = pd.DataFrame(
        {
            "school_id": ["S"],
            "level": ["primary"],
            "enrolled_primary": [100],
            "enrolled_junior": [0],
            "floor_area_m2": [450.0],  # 4.5 = standard
            "sports_area_m2": [750.0],  # 7.5 = standard
            "equipment_yuan": [equipment_yuan],
            "multimedia_rooms": [multimedia_rooms],  # 3 per 100 ≥ 2.3
            "computers": [10],
            "books": [2000],
        }
    )
    t = pd.DataFrame(
        {
            "teacher_id": [f"t{i}" for i in range(5)],
            "school_id": ["S"] * 5,
            "subject": ["pe", "math", "math", "chinese", "english"],  # 1 PE per 100 ≥ 0.9
            "backbone": [True, False, False, False, False],  # 1 per 100 = standard
            "above_qualification": [True] * 5,  # 5 per 100 ≥ 4.2
            "title": ["junior"] * 5,
        }
    )
    return schools, t


@pytest.mark.parametrize(
    ("equipment", "rooms", "met", "meets"),
    [
        (200_000.0, 3, 7, True),  # all 7 met
        (170_000.0, 3, 6, True),  # 1700 yuan = 85% of 2000: the seventh just counts
        (169_900.0, 3, 6, False),  # 84.95%: fails
        (170_000.0, 2, 5, False),  # two standards missed (multimedia 2.0 < 2.3)
    ],
)
def test_per_school_six_of_seven_rule(equipment: float, rooms: int, met: int, meets: bool) -> None:
    schools, t = _one_school(equipment, rooms)
    row = evaluate_balance(schools, t).schools.iloc[0]
    assert row["standards_met"] == met
    assert bool(row["meets_quality"]) is meets
    assert row["equipment_per_pupil_share"] == pytest.approx(equipment / 100 / 2000)


def test_not_computable_without_teachers_is_nan_and_listed() -> None:
    report = evaluate_balance(county(), None)
    assert set(report.not_computable) == {
        "above_qualification_per_100",
        "backbone_per_100",
        "pe_art_per_100",
        "teachers_per_100",
        "intermediate_title_per_100",
    }
    ind = report.indicators.set_index(["level", "indicator", "kind"])
    assert math.isnan(ind.loc[("primary", "backbone_per_100", "quality"), "cv"])
    assert bool(ind.loc[("primary", "backbone_per_100", "quality"), "passes"]) is False
    assert "not computable" in ind.loc[("primary", "backbone_per_100", "quality"), "note"]
    assert math.isnan(report.basic_composite["primary"]) and report.basic_passes["primary"] is False
    assert report.schools["meets_quality"].isna().all()


def test_basic_composite_is_mean_of_eight_cvs() -> None:
    report = evaluate_balance(county(), teachers())
    ind = report.indicators
    for lv in ("primary", "junior"):
        basic = ind[(ind["level"] == lv) & (ind["kind"] == "basic") & (ind["indicator"] != "basic_composite")]
        assert list(basic["indicator"]) == list(BASIC_INDICATORS)
        comp = ind[(ind["level"] == lv) & (ind["indicator"] == "basic_composite")].iloc[0]
        assert comp["cv"] == pytest.approx(basic["cv"].mean(), abs=1e-12)
        assert comp["cv"] == pytest.approx(report.basic_composite[lv], abs=1e-12)
        assert comp["threshold"] == {"primary": 0.65, "junior": 0.55}[lv]
    q = ind[(ind["level"] == "primary") & (ind["kind"] == "quality")]
    assert list(q["indicator"]) == list(QUALITY_INDICATORS)


def test_compare_balance_reports_change() -> None:
    before = evaluate_balance(county(), teachers())
    more = county()
    more.loc[2, "floor_area_m2"] = 3600.0  # C to 6 m² per pupil: more balanced
    after = evaluate_balance(more, teachers())
    cmp = compare_balance(before, after).set_index(["level", "indicator", "kind"])
    row = cmp.loc[("primary", "floor_area_per_pupil", "quality")]
    assert row["change"] == pytest.approx(row["cv_after"] - row["cv_before"]) and row["change"] < 0
    assert cmp.loc[("primary", "books_per_pupil", "basic"), "change"] == pytest.approx(0.0)


def test_bad_schools_and_teachers_listed_together() -> None:
    bad = county().drop(columns="enrolled_junior")
    with pytest.raises(InputError, match=r"enrolled_junior.*required column is missing"):
        evaluate_balance(bad, None)
    dup = county()
    dup.loc[1, "school_id"] = "A"
    dup.loc[2, "level"] = "high"
    with pytest.raises(InputError, match=r"2 problems(?s:.*)A, column 'school_id'(?s:.*)level 'high'"):
        evaluate_balance(dup, None)
    t = teachers()
    t.loc[0, "school_id"] = "Z"
    with pytest.raises(InputError, match="teachers, Z, column 'school_id': school_id not found"):
        evaluate_balance(county(), t)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["primary", "junior", "nine_year", "高中", ""]),
            st.one_of(st.integers(-5, 3000), st.just(np.nan)),
            st.one_of(st.floats(-10, 1e5), st.just(np.nan), st.none()),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_malformed_schools_raise_input_error_or_evaluate(rows: list[tuple[str, float, float | None]]) -> None:
    df = pd.DataFrame(
        {
            "school_id": [f"s{i}" for i in range(len(rows))],
            "level": [r[0] for r in rows],
            "enrolled_primary": [r[1] for r in rows],
            "enrolled_junior": [r[1] for r in rows],
            "floor_area_m2": [r[2] for r in rows],
        }
    )
    try:
        report = evaluate_balance(df, None)
    except InputError as err:
        assert err.problems and all(p.layer == "schools" for p in err.problems)
    else:
        assert set(report.indicators["level"]) <= {"primary", "junior"}


# ----------------------------------------------------------------------------- options (policy overrides)


def test_default_options_are_the_policy_numbers_and_give_the_same_report() -> None:
    opts = BalanceOptions()
    assert opts.quality_cv_max == dict(QUALITY_CV_MAX) and opts.basic_cv_mean_max == dict(BASIC_CV_MEAN_MAX)
    assert opts.quality_standards == {lv: dict(std) for lv, std in QUALITY_STANDARDS.items()}
    a = evaluate_balance(county(), teachers())
    b = evaluate_balance(county(), teachers(), options=opts)
    pd.testing.assert_frame_equal(a.indicators, b.indicators)
    pd.testing.assert_frame_equal(a.schools, b.schools)
    assert a.quality_passes == b.quality_passes and a.basic_passes == b.basic_passes


def test_quality_cv_max_override_changes_passes_and_keeps_the_other_level() -> None:
    # primary floor area CV = sqrt(35) / 23 ≈ 0.257: passes at 0.50, fails at 0.20
    opts = BalanceOptions(quality_cv_max={"primary": 0.2})
    assert opts.quality_cv_max == {"primary": 0.2, "junior": 0.45}
    ind = evaluate_balance(county(), teachers(), options=opts).indicators.set_index(["level", "indicator", "kind"])
    row = ind.loc[("primary", "floor_area_per_pupil", "quality")]
    assert row["threshold"] == 0.2 and bool(row["passes"]) is False
    assert ind.loc[("junior", "floor_area_per_pupil", "quality"), "threshold"] == 0.45


def test_basic_cv_mean_max_override_changes_the_composite_verdict() -> None:
    base = evaluate_balance(county(), teachers())
    comp = base.basic_composite["primary"]
    assert base.basic_passes["primary"] is True  # ≤ 0.65
    strict = evaluate_balance(county(), teachers(), options=BalanceOptions(basic_cv_mean_max={"primary": comp / 2}))
    assert strict.basic_passes["primary"] is False and strict.basic_passes["junior"] == base.basic_passes["junior"]
    ind = strict.indicators
    row = ind[(ind["level"] == "primary") & (ind["indicator"] == "basic_composite")].iloc[0]
    assert row["threshold"] == pytest.approx(comp / 2) and bool(row["passes"]) is False


def test_quality_standard_override_changes_meets_quality() -> None:
    # 1700 yuan per pupil: 85% of the national 2000 (meets); 1700 / 2100 ≈ 81% of a provincial 2100 (fails)
    schools, t = _one_school(170_000.0)
    assert bool(evaluate_balance(schools, t).schools.iloc[0]["meets_quality"]) is True
    opts = BalanceOptions(quality_standards={"primary": {"equipment_per_pupil": 2100.0}})
    assert opts.quality_standards["primary"]["floor_area_per_pupil"] == 4.5  # the others keep their default
    row = evaluate_balance(schools, t, options=opts).schools.iloc[0]
    assert row["equipment_per_pupil_share"] == pytest.approx(1700 / 2100)
    assert row["standards_met"] == 6 and bool(row["meets_quality"]) is False


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quality_cv_max": {"high": 0.5}}, r"unknown level 'high'; valid: primary, junior"),
        ({"basic_cv_mean_max": {"primary": 0.0}}, "greater than 0"),
        ({"quality_cv_max": {"junior": float("inf")}}, "finite"),
        ({"quality_standards": {"primary": {"speed": 1.0}}}, r"unknown primary indicator 'speed'; valid: above_qualification_per_100"),
        ({"quality_standards": {"senior": {}}}, "unknown level 'senior'"),
        ({"quality_standards": {"junior": {"backbone_per_100": -1.0}}}, "greater than 0"),
        ({"quality_cv_max": 0.5}, "valid dictionary"),
    ],
)
def test_options_reject_unknown_names_and_non_positive_values(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        BalanceOptions(**kwargs)  # type: ignore[arg-type]
