"""Issue 14 through ``schoolplan zones``: every unit out of reach (case 1), schools on one point (case 2), empty levels."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from planning.app import cli

SCHOOL_HEADER = "school_id,name,level,area_type,capacity_primary,capacity_junior,lon,lat\n"
BLOCK_HEADER = "block_id,students_primary,students_junior,lon,lat\n"
#: One nine-year school; the only block 0.6° of longitude east: 53 km away.
FAR = (
    SCHOOL_HEADER + "S1,一校,九年一贯制,城区,900,600,110.10,37.10\n",
    BLOCK_HEADER + "B1,120,60,110.70,37.10\n",
)
#: A road 100 km off, far from the school and the block.
ROADS = (
    '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {'
    '"highway": "primary"}, "geometry": {"type": "LineString", "coordinates": [[111.5, 38.0], [111.6, 38.0]]}}]}'
)


def _scenario(folder: Path, schools: str, blocks: str) -> list[str]:
    (folder / "schools.csv").write_text(schools, encoding="utf-8")
    (folder / "blocks.csv").write_text(blocks, encoding="utf-8")
    return ["zones", "--schools", str(folder / "schools.csv"), "--blocks", str(folder / "blocks.csv"), "--crs", "wgs84"]


@pytest.mark.parametrize(
    "extra", [[], ["--method", "nearest"], ["--no-contiguity"], ["--roads"]], ids=["optimal", "nearest", "loose", "roads"]
)
def test_issue14_case1_every_unit_out_of_reach_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    if extra == ["--roads"]:
        (tmp_path / "roads.geojson").write_text(ROADS, encoding="utf-8")
        extra = ["--roads", str(tmp_path / "roads.geojson")]
    out = tmp_path / "out"
    code = cli.main([*_scenario(tmp_path, *FAR), "--out", str(out), "--time-limit", "5", *extra])
    captured = capsys.readouterr()
    assert code == cli.EXIT_OK, captured.err
    assert "Traceback" not in captured.err
    # a plan with every unit unserved, each one a shortfall with its reason
    assert "primary unit B1: short by 120 students (no school within 30 min" in captured.out
    assert "junior unit B1: short by 60 students" in captured.out
    shortfalls = pd.read_csv(out / "shortfalls.csv", encoding="utf-8-sig")
    assert shortfalls["where"].tolist() == ["primary unit B1", "junior unit B1"]
    assert shortfalls["short_by"].tolist() == [120, 60]
    assignment = pd.read_csv(out / "primary/assignment.csv", encoding="utf-8-sig", dtype={"school_id": str})
    assert assignment["block_id"].tolist() == ["B1"] and assignment["school_id"].isna().all()
    assert assignment["reason"].iloc[0].startswith("no school within 30 min")
    metrics = json.loads((out / "primary/metrics.json").read_text(encoding="utf-8"))
    assert metrics["plan"]["unserved_blocks"] == 1


def test_issue14_case1_every_unit_out_of_reach_strict_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main([*_scenario(tmp_path, *FAR), "--out", str(tmp_path / "out"), "--strict"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_INFEASIBLE
    assert "Traceback" not in err
    assert "primary unit B1: short by 120 students" in err and "junior unit B1: short by 60 students" in err


#: Three junior schools at one coordinate; three blocks in a row east of them, 20 pupils each.
COLOCATED = (
    SCHOOL_HEADER + "".join(f"J{k},{k}中,初中,城区,0,50,110.100,37.100\n" for k in (1, 2, 3)),
    BLOCK_HEADER + "".join(f"B{i},0,20,{110.100 + 0.004 * i:.3f},37.100\n" for i in (1, 2, 3)),
)


def test_issue14_case2_schools_on_one_point_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = cli.main([*_scenario(tmp_path, *COLOCATED), "--level", "junior", "--out", str(out), "--time-limit", "5"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_OK, captured.err
    assert "Traceback" not in captured.err
    assignment = pd.read_csv(out / "junior/assignment.csv", encoding="utf-8-sig")
    assert assignment["school_id"].notna().all()
    load = assignment.groupby("school_id")["students"].sum()
    assert load.sum() == 60 and (load <= 50).all()
    metrics = json.loads((out / "junior/metrics.json").read_text(encoding="utf-8"))
    assert metrics["plan"]["contiguous"] is True


def test_zones_level_without_schools(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schools = SCHOOL_HEADER + "S1,一小,小学,城区,900,0,110.10,37.10\n"
    # junior pupils but no junior school: an input error saying what to do
    args = _scenario(tmp_path, schools, BLOCK_HEADER + "B1,120,60,110.101,37.101\n")
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "no junior school has seats, but the blocks hold 60 junior pupils" in err and "--level primary" in err
    assert "Traceback" not in err
    # no junior pupils either: the level is left out, the primary plan made
    args = _scenario(tmp_path, schools, BLOCK_HEADER + "B1,120,0,110.101,37.101\n")
    assert cli.main([*args, "--out", str(tmp_path / "b")]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "junior: not planned (no junior school has seats and no block has junior pupils)" in out
    assert (tmp_path / "b/primary/assignment.csv").exists() and not (tmp_path / "b/junior").exists()
