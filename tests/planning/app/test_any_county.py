"""Any county: ``schoolplan demo`` end to end on real outlines of every kind and several scales.

With default settings every stage must return a plan (exit 0) on any county: a policy target that
cannot be met is listed in ``<stage>/shortfalls.csv`` instead of stopping the run. Each case
generates the demo county inside a real outline (``schoolplan demo --list-counties``), runs every
stage with a short solver time limit and checks that the outputs hang together.

Every outline runs at a reduced scale (counties 0.5, city districts 0.5 of their city population), except a
few outlines of different kinds that run at full and larger scales instead (``SCALES``); the demo county at
scale 1 also runs, with its report, in ``tests/maps/test_planning_document.py``. At scale 1 a county
costs 2–3 times its half-scale run (榕江县: 38 s of CPU against 13 s) and the suite has a 10-minute budget.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from planning.app import cli

#: Solver time limit per model, seconds: short for the suite, yet enough for a plan (at 2 s CP-SAT
#: still returned UNKNOWN on 河南蒙古族自治县's feeder map, at 3 s it solves it).
TIME_LIMIT_S = 3

#: At most this share of a level's pupils may be left without a school in reach (shortfall ``zones.unserved``): at
#: most 0.64 % on these outlines (达茂旗's junior pupils), none on most.
UNSERVED_SHARE_MAX = 0.01

#: (code, name, kind) of the outlines tried; names only make the test ids readable. Two more pastoral
#: banners (150727 新巴尔虎右旗, 150825 乌拉特后旗) also give a plan but take 65–100 s each: left out
#: to keep the suite within its time budget; 达茂旗 and 河南县 stand for the grasslands.
COUNTIES = (
    ("530102", "五华区", "urban district"),
    ("650102", "天山区", "urban district"),
    ("540102", "城关区", "urban district (plateau)"),
    ("110101", "东城区", "urban district (capital)"),
    ("510104", "锦江区", "urban district"),
    ("430105", "开福区", "urban district"),
    ("350203", "思明区", "coastal district"),
    ("370202", "市南区", "coastal district"),
    ("330206", "北仑区", "coastal district"),
    ("440305", "南山区", "coastal district"),
    ("460202", "海棠区", "coastal district (island)"),
    ("610830", "清涧县", "loess-hill county"),
    ("610831", "子洲县", "loess-hill county"),
    ("621022", "环县", "loess-hill county"),
    ("141124", "临县", "loess-hill county"),
    ("522632", "榕江县", "mountain county"),
    ("513226", "金川县", "mountain county"),
    ("150223", "达茂旗", "pastoral banner"),
    ("130321", "青龙满族自治县", "autonomous county"),
    ("533325", "兰坪白族普米族自治县", "autonomous county (mountain)"),
    ("632324", "河南蒙古族自治县", "autonomous county (pastoral)"),
    ("622927", "积石山保安族东乡族撒拉族自治县", "autonomous county"),
)
NAMES = {code: name for code, name, _ in COUNTIES}

#: Other scales on a few outlines of different kinds: a city district, a pastoral banner and the loess-hill
#: demo county at full scale and above.
SCALES = (("530102", 1.0), ("150223", 1.0), ("610830", 1.5), ("650102", 1.5), ("610830", 3.0))

#: The scale every outline runs at. City districts hold city populations (15万–120万, ``geo.demo.county_people``),
#: counties a few hundred thousand people; at half scale a county keeps dozens of schools over its townships (河南县 42,
#: 达茂旗 61) and a district ten or more (市南区 10), which is what the plausibility checks are about, at a third to a half
#: of the full run's time.
COUNTY_SCALE = 0.5
DISTRICT_SCALE = 0.5
#: Outlines that run at another scale (``SCALES``) do not run at half scale too: each outline runs once at
#: least, and the suite keeps to its 10-minute budget (CI took 650 s with the four half-scale runs, which cost
#: 80 s of test time on two loaded cores).
CASES = [
    pytest.param(code, DISTRICT_SCALE if "district" in kind else COUNTY_SCALE,
                 id=f"{code}-{name}-x{DISTRICT_SCALE if 'district' in kind else COUNTY_SCALE:g}")
    for code, name, kind in COUNTIES
    if code not in {c for c, _ in SCALES}
] + [
    pytest.param(code, scale, id=f"{code}-{NAMES[code]}-x{scale:g}") for code, scale in SCALES
]


def _read(out: Path, rel: str) -> pd.DataFrame:
    return pd.read_csv(out / rel, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def _ids(path: Path, column: str) -> set[str]:
    return set(pyogrio.read_dataframe(path, columns=[column], read_geometry=False)[column].astype(str))


def _check_outputs(out: Path) -> None:
    """Every stage finished and wrote its files; shortfalls are listed with their numbers; ids hang together."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["failed"] is None
    assert set(manifest["stages"].values()) == {"finished"}
    assert {"zones", "balance", "communities", "rotation"} <= set(manifest["stages"])
    outputs = manifest["outputs"]
    for stage in manifest["stages"]:
        assert any(rel.startswith(f"{stage}/") for rel in outputs), f"stage {stage} wrote no file"
    assert all((out / rel).is_file() for rel in outputs)
    for rel in outputs:
        if rel.endswith("/shortfalls.csv"):
            table = _read(out, rel)
            assert len(table) > 0 and (table["where"] != "").all(), rel
            assert (pd.to_numeric(table["short_by"]) > 0).all(), f"{rel}: a shortfall of nothing"
    schools = _ids(out / "inputs/schools.gpkg", "school_id")
    blocks = _ids(out / "inputs/blocks.gpkg", "block_id")
    for level in ("primary", "junior"):
        rel = f"zones/{level}/assignment.csv"
        if rel in outputs:
            table = _read(out, rel)
            assert table["block_id"].is_unique
            assert set(table["block_id"]) <= blocks
            assert set(table["school_id"]) - {""} <= schools
    zones = manifest["stage_metrics"]["zones"]
    for level in ("primary", "junior"):
        z = zones[level]
        students = sum(z["students_by_mode"].values()) + z["unserved_students"]
        # a county has a school in reach of nearly every child: the generator used to spread villages over
        # the empty land of vast outlines (达茂旗: 2.2 % of pupils beyond every school; 格尔木市: 20 %)
        assert z["unserved_students"] <= UNSERVED_SHARE_MAX * students, f"{level}: {z['unserved_students']} of {students} unserved"
    groups = _read(out, "communities/groups.csv")
    assert (groups.groupby("group_id")["role"].apply(lambda r: (r == "lead").sum()) == 1).all(), "one lead per group"
    assert set(groups["school_id"]) <= schools
    moves = _read(out, "rotation/moves.csv")
    assert (moves["from_school"] != moves["to_school"]).all()
    assert set(moves["from_school"]) | set(moves["to_school"]) <= schools


@pytest.mark.slow
@pytest.mark.parametrize(("county", "scale"), CASES)
def test_demo_plans_any_county(county: str, scale: float, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["demo", "--county", county, "--scale", str(scale), "--out", str(out), "--no-report", "--quiet",
            "--time-limit", str(TIME_LIMIT_S), "--workers", "1"]  # fmt: skip
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == cli.EXIT_OK, f"exit {code} on {county} × {scale:g}:\n{err}"
    _check_outputs(out)
