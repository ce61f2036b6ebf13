"""What a stage sees: earlier results by type, the travel cache, table files, the run's one strength index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.errors import InputError
from geo.model import Inputs
from planning.app.scenario import scenario_from_dict
from planning.app.session import Session
from planning.app.stage import Context, RunResult, StageOutput
from planning.app.stages.balance import strength

CRS = "EPSG:32649"
# an urban core of two schools and three rural schools 6-15 km away; with the default index
# U1 has strength 0.864, U2 0.842 and the rural schools 0.59-0.71 (no school is strong by default)
SCHOOLS = gpd.GeoDataFrame(
    {
        "school_id": ["U1", "U2", "R1", "R2", "R3"],
        "name": ["县一小", "县二小", "李家塔小学", "王村小学", "远山小学"],
        "level": "primary",
        "area_type": ["urban", "urban", "rural", "rural", "rural"],
        "enrolled_primary": [1200, 900, 240, 180, 150],
        "enrolled_junior": 0,
        "capacity_primary": [1350, 1000, 300, 270, 180],
        "capacity_junior": 0,
    },
    geometry=shapely.points([(500_000, 4_000_000), (501_500, 4_000_500), (506_000, 4_001_000), (500_000, 4_008_000), (512_000, 3_994_000)]),
    crs=CRS,
)
SUBJECTS = ("chinese", "math", "english", "science", "morality", "pe", "music", "art")  # every required primary subject
TEACHERS = pd.DataFrame(
    [
        {
            "teacher_id": f"{sid}-{i:02d}", "school_id": sid, "subject": SUBJECTS[i % 8],
            "backbone": i < bb, "above_qualification": (i % 4 != 3) if sid.startswith("U") else (i % 2 == 0),
            "title": "intermediate", "years_at_school": 3 + (i * 5) % 11, "age": 30 + i % 25, "sex": "MF"[i % 2],
        }
        for sid, (n, bb) in {"U1": (24, 6), "U2": (18, 4), "R1": (8, 0), "R2": (6, 0), "R3": (5, 0)}.items()
        for i in range(n)
    ]
)  # fmt: skip
INPUTS = Inputs(schools=SCHOOLS, blocks=SCHOOLS.iloc[:0], teachers=TEACHERS, roads=None, boundary=None, metric_crs=SCHOOLS.crs)
COMMUNITIES = {"min_members": 1, "max_members": 3}
# only strong schools send, so the sending schools show which schools rotation took as strong
ROTATION = {"sending_area_types": [], "quota_scope": "county", "relax_quotas": True}


def scenario(**tables: Any) -> Any:
    base = {"seed": 1, "inputs": {"schools": "s.csv", "teachers": "t.csv"}, "solver": {"time_limit_s": 5, "workers": 1}}
    return scenario_from_dict({**base, **tables})


def partners(session: Session) -> set[str]:
    """The strong partners of the one-to-one pairing (结对帮扶): the schools communities took as strong."""
    return set(session.outputs["communities"].files["pairs.csv"]["strong_id"])


def sending(session: Session) -> set[str]:
    schools = session.outputs["rotation"].files["schools_rotation.csv"]
    return set(schools.loc[schools["role"] == "sending", "school_id"])


# --------------------------------------------------------------------------- results by type


def test_earlier_results_are_looked_up_by_type() -> None:
    ctx = Context(scenario=scenario(), inputs=INPUTS)
    assert ctx.result(float) is None
    ctx.outputs["first"] = StageOutput(files={}, result=1.5)
    ctx.outputs["second"] = StageOutput(files={}, result="text")
    assert ctx.result(float) == 1.5 and ctx.result(str) == "text" and ctx.result(bytes) is None
    run = RunResult(scenario=ctx.scenario, inputs=INPUTS, outputs=ctx.outputs)
    assert run.result(str) == "text" and run.result(bytes) is None


def test_a_stage_output_must_match_its_declaration() -> None:
    from planning.app.stages import STAGES

    zones = STAGES["zones"]
    assert zones.declares("primary/assignment.csv") and zones.declares("feeder.csv")
    assert not zones.declares("nine_year/assignment.csv") and not zones.declares("primary/feeder.csv")
    with pytest.raises(TypeError, match=r"does not declare: extra\.csv"):
        zones.check(StageOutput(files={"feeder.csv": 1, "extra.csv": 2}))
    with pytest.raises(TypeError, match="returned a str, not its result type ZonesResult"):
        zones.check(StageOutput(files={}, result="plan"))


# --------------------------------------------------------------------------- travel cache


def test_travel_cache_is_keyed_on_the_ids_not_their_number() -> None:
    steps: list[str] = []
    ctx = Context(scenario=scenario(), inputs=INPUTS, step=steps.append)
    urban, rural = SCHOOLS.iloc[[0, 1]], SCHOOLS.iloc[[2, 3]]
    kw: dict[str, Any] = {"origin_id": "school_id", "dest_id": "school_id", "mode": "drive"}
    a = ctx.travel(urban, SCHOOLS, **kw)
    b = ctx.travel(rural, SCHOOLS, **kw)  # as many origins, other ids: not the cached matrix
    assert list(a.origin_ids) == ["U1", "U2"] and list(b.origin_ids) == ["R1", "R2"]
    assert ctx.travel(urban, SCHOOLS, **kw) is a  # the same ids again: cached
    assert ctx.travel(urban, SCHOOLS, **kw, cutoff_s=600) is not a  # another cutoff: computed
    assert ctx.travel(urban, SCHOOLS.iloc[::-1], **kw) is not a  # destinations in another order
    assert len(steps) == 4


# --------------------------------------------------------------------------- one strength index


@pytest.mark.parametrize(("strong_at", "strong"), [(0.84, {"U1", "U2"}), (0.85, {"U1"})])
def test_balance_strength_settings_reach_communities_and_rotation(strong_at: float, strong: set[str]) -> None:
    settings = {"strength": {"strong_at": strong_at, "weak_below": 0.75}}
    session = Session(scenario(balance=settings, communities=COMMUNITIES, rotation=ROTATION), inputs=INPUTS)
    session.run_all()
    assert partners(session) == sending(session) == strong


def test_without_the_balance_stage_run_its_settings_still_rule_and_strength_is_computed_once() -> None:
    settings = {"strength": {"strong_at": 0.85, "weak_below": 0.75}}
    session = Session(scenario(balance=settings, communities=COMMUNITIES, rotation=ROTATION), inputs=INPUTS)
    session.run("communities")
    session.run("rotation")
    assert "balance" not in session.outputs
    assert partners(session) == sending(session) == {"U1"}
    assert strength(session.context) is strength(session.context)


def test_communities_strength_serves_every_stage_when_balance_is_not_enabled() -> None:
    communities = {**COMMUNITIES, "strength": {"strong_at": 0.85, "weak_below": 0.75}}
    session = Session(scenario(communities=communities, rotation=ROTATION), inputs=INPUTS)
    session.run_all()
    assert partners(session) == sending(session) == {"U1"}


def test_communities_strength_beside_balance_is_not_used_and_says_so() -> None:
    communities = {**COMMUNITIES, "strength": {"strong_at": 0.85, "weak_below": 0.75}}
    session = Session(scenario(balance={"strength": {"strong_at": 0.84, "weak_below": 0.75}}, communities=communities), inputs=INPUTS)
    session.run("balance")
    with pytest.warns(UserWarning, match=r"\[communities.strength\] is not used"):
        session.run("communities")
    assert partners(session) == {"U1", "U2"}


# --------------------------------------------------------------------------- table files


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_table_files_are_validated_with_the_inputs_every_problem_at_once(tmp_path: Path) -> None:
    write(tmp_path / "groups.csv", "学校代码,集团编号,角色\nU1,G1,lead\nX9,G1,member\nR1,G1,boss\n")
    write(tmp_path / "targets.csv", "学校代码,学科,编制数\nU1,语文,-1\nU2,数学,two\n")
    data = {"communities": {"fixed_groups": "groups.csv"}, "rotation": {"staffing_targets": "targets.csv"}}
    with pytest.raises(InputError) as info:
        Session(scenario_from_dict({"inputs": {"schools": "s.csv", "teachers": "t.csv"}, **data}, base_dir=tmp_path), inputs=INPUTS)
    text = str(info.value)
    groups, targets = tmp_path / "groups.csv", tmp_path / "targets.csv"
    # rows as the user sees them in the file (the header is row 1), columns by the user's headers
    assert f"{groups}, row 3, column '学校代码' (school_id): unknown school id 'X9' (not in schools)" in text
    assert f"{groups}, row 4, column '角色' (role): unknown value 'boss'; valid values: lead, member" in text
    assert f"{targets}, row 2, column '编制数' (target): negative value" in text
    assert f"{targets}, row 3, column '编制数' (target): not a number: 'two'" in text
    assert len(info.value.problems) == 4


def test_table_file_missing_column_and_missing_file(tmp_path: Path) -> None:
    write(tmp_path / "groups.csv", "school_id,group\nU1,G1\n")
    data = {"communities": {"fixed_groups": "groups.csv"}, "rotation": {"staffing_targets": "none.csv"}}
    with pytest.raises(InputError) as info:
        Session(scenario_from_dict({"inputs": {"schools": "s.csv", "teachers": "t.csv"}, **data}, base_dir=tmp_path), inputs=INPUTS)
    text = str(info.value)
    assert "groups.csv, column 'role': missing required column 'role'" in text
    assert "none.csv: file not found" in text


def test_stage_gets_the_validated_table(tmp_path: Path) -> None:
    write(tmp_path / "targets.csv", "学校代码,学科,编制数\nU1,语文,4\n")
    s = scenario_from_dict({"inputs": {"schools": "s.csv", "teachers": "t.csv"}, "rotation": {"staffing_targets": "targets.csv"}}, base_dir=tmp_path)
    session = Session(s, inputs=INPUTS)
    table = session.context.table(s.stages["rotation"], "staffing_targets")
    assert table is not None and table.to_dict("records") == [{"school_id": "U1", "subject": "chinese", "target": 4}]
    assert session.context.table(s.stages["rotation"], "groups") is None


def test_a_communities_groups_file_is_a_valid_groups_table(tmp_path: Path) -> None:
    # what the communities stage writes (levels mixed: level "all", more columns) can be kept or given to rotation
    session = Session(scenario(communities={**COMMUNITIES, "levels": "mixed", "strength": {"strong_at": 0.85, "weak_below": 0.75}}), inputs=INPUTS)
    session.run("communities")
    session.write(tmp_path, render=False)
    s = scenario_from_dict({"inputs": {"schools": "s.csv", "teachers": "t.csv"}, "rotation": {"groups": "communities/groups.csv"}}, base_dir=tmp_path)
    table = Session(s, inputs=INPUTS).context.table(s.stages["rotation"], "groups")
    assert table is not None and set(table["level"]) == {"all"} and "lead_id" in table.columns


def test_a_table_file_named_in_an_override_is_checked_before_the_stage_runs(tmp_path: Path) -> None:
    write(tmp_path / "targets.csv", "学校代码,学科,编制数\nU9,语文,4\nU1,语文,x\n")
    session = Session(scenario(), inputs=INPUTS)
    with pytest.raises(InputError) as info:
        session.run("rotation", staffing_targets=tmp_path / "targets.csv")
    assert [(p.row, p.column) for p in info.value.problems] == [(3, "target"), (2, "school_id")]  # rows of the file, header = 1
    assert "rotation" not in session.outputs
