"""Eligibility rules of the rotation (教师〔2014〕4号 and local variants)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.errors import InputError
from planning.rotation import EligibilityRules, rotation_eligibility


def teacher(tid: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "teacher_id": tid, "school_id": "S1", "subject": "math", "backbone": False, "above_qualification": True,
        "title": "intermediate", "years_at_school": 8, "age": 40, "sex": "F",
    }
    row.update(kw)
    return row


def table(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def reason_of(out: pd.DataFrame, tid: str) -> str:
    return str(out.set_index("teacher_id").loc[tid, "reason"])


def test_years_at_school_rule_and_threshold() -> None:
    out = rotation_eligibility(table(teacher("a", years_at_school=5), teacher("b", years_at_school=6)))
    assert out["teacher_id"].tolist() == ["a", "b"]
    assert out["eligible"].tolist() == [False, True]
    assert reason_of(out, "a") == "5 years at this school (needs 6)"
    assert reason_of(out, "b") == ""
    out3 = rotation_eligibility(table(teacher("a", years_at_school=5)), rules=EligibilityRules(min_years_at_school=3))
    assert out3["eligible"].tolist() == [True]


def test_age_caps_off_by_default_and_by_sex_when_on() -> None:
    t = table(teacher("m51", sex="M", age=51), teacher("m50", sex="M", age=50), teacher("f46", sex="F", age=46),
              teacher("f45", sex="F", age=45))
    rules_off = EligibilityRules(years_to_retirement=0)
    assert rotation_eligibility(t, rules=rules_off)["eligible"].all()
    on = rotation_eligibility(t, rules=EligibilityRules(age_caps=True, years_to_retirement=0)).set_index("teacher_id")
    assert on["eligible"].to_dict() == {"f45": True, "f46": False, "m50": True, "m51": False}
    assert on.loc["m51", "reason"] == "age 51 above the cap of 50 for men"
    assert on.loc["f46", "reason"] == "age 46 above the cap of 45 for women"


def test_years_to_retirement_excludes_fewer_than_n_years_left() -> None:
    # men retire at 60, women at 55; fewer than 5 years left → excluded
    t = table(teacher("m56", sex="M", age=56), teacher("m55", sex="M", age=55), teacher("f51", sex="F", age=51),
              teacher("f50", sex="F", age=50))
    out = rotation_eligibility(t).set_index("teacher_id")
    assert out["eligible"].to_dict() == {"f50": True, "f51": False, "m55": True, "m56": False}
    assert out.loc["m56", "reason"] == "4 years to retirement at 60 (fewer than 5)"
    off = rotation_eligibility(t, rules=EligibilityRules(years_to_retirement=0))
    assert off["eligible"].all()


def test_exemptions_with_reason_and_all_reasons_listed() -> None:
    t = table(teacher("x", exempt_reason="孕期"), teacher("y", exempt_reason=None), teacher("z", exempt_reason="  "),
              teacher("w", years_at_school=2, exempt_reason="病休"))
    out = rotation_eligibility(t).set_index("teacher_id")
    assert out["eligible"].to_dict() == {"w": False, "x": False, "y": True, "z": True}
    assert out.loc["x", "reason"] == "exempt: 孕期"
    assert out.loc["w", "reason"] == "2 years at this school (needs 6); exempt: 病休"
    ignored = rotation_eligibility(t, rules=EligibilityRules(honour_exemptions=False)).set_index("teacher_id")
    assert bool(ignored.loc["x", "eligible"])


def test_bad_values_are_all_reported_at_once() -> None:
    t = table(teacher("a", age=-3), teacher("a", sex="X"), teacher("b", years_at_school="many", subject="cooking"))
    with pytest.raises(InputError, match="teacher_id is not unique") as err:
        rotation_eligibility(t)
    text = str(err.value)
    for what in ("column 'age'", "sex must be M or F", "column 'years_at_school'", "subject 'cooking'"):
        assert what in text


def test_missing_columns_are_named() -> None:
    with pytest.raises(InputError, match="column 'years_at_school': required column is missing"):
        rotation_eligibility(table(teacher("a")).drop(columns=["years_at_school", "age"]))


@settings(max_examples=40, deadline=None)
@given(
    years=st.one_of(st.integers(-5, 40), st.floats(allow_nan=True), st.text(max_size=3)),
    age=st.one_of(st.integers(-5, 90), st.none(), st.text(max_size=3)),
    sex=st.sampled_from(["M", "F", "m", "", "女"]),
)
def test_malformed_rows_raise_input_error_never_a_traceback(years: object, age: object, sex: str) -> None:
    t = table(teacher("a", years_at_school=years, age=age, sex=sex))
    try:
        out = rotation_eligibility(t)
    except InputError as err:
        assert "teachers" in str(err)
    else:
        assert out["eligible"].dtype == bool and len(out) == 1


def test_absurd_years_are_reported_not_overflowed() -> None:
    import pandas as pd
    import pytest

    from geo.errors import InputError
    from planning.rotation import rotation_eligibility

    t = pd.DataFrame(
        {"teacher_id": ["T1"], "school_id": ["S1"], "subject": ["math"], "backbone": [False],
         "above_qualification": [True], "title": ["junior"], "years_at_school": [9.223372036854776e18],
         "age": [40], "sex": ["M"]}
    )
    with pytest.raises(InputError, match=r"T1, column 'years_at_school': must be at most 120"):
        rotation_eligibility(t)
