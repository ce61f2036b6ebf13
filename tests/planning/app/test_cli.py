"""The command line: clean messages and exit codes, flags generated from stage parameters."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Literal

import geopandas as gpd
import pytest
from pydantic import Field
from shapely.geometry import Point

from geo.errors import InfeasibleError, Shortfall
from planning.app import cli
from planning.app import stages as registry
from planning.app.session import ScenarioData
from planning.app.stage import Command, Stage, StageOutput, StageParams


class ToyParams(StageParams):
    levels: list[Literal["primary", "junior"]] = Field(default_factory=lambda: ["primary", "junior"])
    contiguity: bool = True
    max_moved: int | None = None
    method: Literal["nearest", "optimal"] = "optimal"
    weights: dict[str, float] = Field(default_factory=dict)


def _fail(ctx, params):
    raise InfeasibleError("demand exceeds capacity", [Shortfall("东关小学 zone", 120)], hint="allow overflow")


TOY_COMMAND = Command("zones", "toy zones", aliases={"--level": "levels"})
TOY = Stage("zones", ToyParams, lambda ctx, p: StageOutput(files={}), needs=("schools", "blocks"), description="toy zones", command=TOY_COMMAND)


@pytest.fixture
def toy_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "STAGES", {"zones": TOY})


def test_flags_generated_from_parameters(toy_registry: None) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(
        ["zones", "--schools", "s.gpkg", "--blocks", "b.gpkg", "--out", "o", "--no-contiguity", "--max-moved", "30",
         "--method", "nearest", "--level", "junior"]
    )
    assert args.param__contiguity is False
    assert args.param__max_moved == 30
    assert args.param__method == "nearest"
    assert args.alias__levels == "junior"
    assert not hasattr(args, "param__weights")  # mappings are set in scenario files only
    with pytest.raises(SystemExit):
        parser.parse_args(["zones", "--schools", "s.gpkg", "--out", "o"])  # --blocks is required


def test_stage_help_lists_parameters(toy_registry: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["zones", "--help"])
    out = capsys.readouterr().out
    for text in ("--contiguity", "--no-contiguity", "--max-moved", "--level", "(default: optimal)", "--crs"):
        assert text in out


def test_bad_scenario_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.toml"
    f.write_text('seed = "x"\nfoo = 1\n', encoding="utf-8")
    assert cli.main(["validate", str(f)]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "'seed'" in err and "'foo'" in err and "'inputs'" in err


def test_infeasible_exits_3_with_explanation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(registry, "STAGES", {"zones": Stage("zones", ToyParams, _fail, needs=("schools",), command=TOY_COMMAND)})
    monkeypatch.setattr("planning.app.session.load_scenario_data", lambda scenario: ScenarioData(inputs=None))
    code = cli.main(["zones", "--schools", "s.gpkg", "--out", str(tmp_path)])
    assert code == cli.EXIT_INFEASIBLE
    err = capsys.readouterr().err
    assert "demand exceeds capacity" in err and "东关小学 zone: short by 120 seats" in err and "allow overflow" in err


def test_bad_solver_flag_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[inputs]\nschools = "s.gpkg"\n', encoding="utf-8")
    assert cli.main(["run", str(f), "--time-limit", "0", "--out", str(tmp_path / "o")]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "command line, column 'solver.time_limit_s'" in err and "greater than 0" in err


def test_validate_checks_table_files_with_the_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schools = "school_id,name,level,area_type,capacity_primary,capacity_junior,lon,lat\n"
    (tmp_path / "schools.csv").write_text(schools + "S1,一小,小学,城区,900,0,110.1,37.1\nS2,二小,大学,乡村,300,0,110.2,37.2\n", encoding="utf-8")
    (tmp_path / "groups.csv").write_text("学校代码,集团编号,角色\nS1,G1,lead\nS2,G1,boss\n", encoding="utf-8")
    f = tmp_path / "s.toml"
    f.write_text('[inputs]\nschools = "schools.csv"\ncrs = "wgs84"\n[communities]\nfixed_groups = "groups.csv"\n', encoding="utf-8")
    assert cli.main(["validate", str(f)]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "schools.csv, school_id S2, column 'level': unknown value '大学'" in err  # an input layer problem ...
    assert "groups.csv, row 2, column 'role': unknown value 'boss'" in err  # ... and a table file problem, at once
    (tmp_path / "schools.csv").write_text(schools + "S1,一小,小学,城区,900,0,110.1,37.1\nS2,二小,小学,乡村,300,0,110.2,37.2\n", encoding="utf-8")
    (tmp_path / "groups.csv").write_text("学校代码,集团编号,角色\nS1,G1,lead\nS2,G1,member\n", encoding="utf-8")
    assert cli.main(["validate", str(f)]) == cli.EXIT_OK
    assert f"groups {tmp_path / 'groups.csv'}: 2 rows" in capsys.readouterr().out


# --- issue 14: unreadable and mis-encoded files, undeclared and implausible CRSs ------------------------

SCHOOLS_CSV = (
    "school_id,name,level,area_type,capacity_primary,capacity_junior,lon,lat\n"
    "S1,一小,小学,城区,900,0,110.1,37.1\nS2,二中,初中,城区,0,800,110.11,37.1\n"
)
BLOCKS_CSV = "block_id,students_primary,students_junior,lon,lat\nB1,120,60,110.102,37.101\n"


def _layers(tmp_path: Path) -> tuple[Path, Path]:
    schools, blocks = tmp_path / "schools.csv", tmp_path / "blocks.csv"
    schools.write_text(SCHOOLS_CSV, encoding="utf-8")
    blocks.write_text(BLOCKS_CSV, encoding="utf-8")
    return schools, blocks


def test_issue14_case5_unreadable_csv_exits_2_naming_the_file(
    toy_registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    schools, blocks = _layers(tmp_path)
    real = Path.read_bytes

    def denied(self: Path) -> bytes:  # chmod 000 as a user who is not root
        if self.name == "schools.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    code = cli.main(["zones", "--schools", str(schools), "--blocks", str(blocks), "--crs", "wgs84", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_INPUT and "Traceback" not in err
    assert f"{schools}: cannot read the file: Permission denied" in err


def test_issue14_case6_gbk_scenario_runs_with_a_note(toy_registry: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _layers(tmp_path)
    f = tmp_path / "方案.toml"
    f.write_bytes('name = "清涧县"\n[inputs]\nschools = "schools.csv"\nblocks = "blocks.csv"\ncrs = "wgs84"\n[zones]\n'.encode("gbk"))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code = cli.main(["run", str(f), "--out", str(tmp_path / "o"), "--no-report", "--quiet"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_OK and "Traceback" not in err
    assert "方案.toml: read as GBK/GB18030 text; TOML files are UTF-8" in err
    assert json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))["parameters"]["name"] == "清涧县"


def test_issue14_case14_csv_without_crs_warns_on_console_in_manifest_and_report(
    toy_registry: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _layers(tmp_path)
    f = tmp_path / "s.toml"
    f.write_text('[inputs]\nschools = "schools.csv"\nblocks = "blocks.csv"\n[zones]\n', encoding="utf-8")
    out = tmp_path / "o"
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code = cli.main(["run", str(f), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_OK
    named = f"schools ({tmp_path / 'schools.csv'}) and blocks ({tmp_path / 'blocks.csv'})"
    assert f"Warning: no coordinate system (CRS) declared for {named}: the coordinates are read as WGS84" in err
    assert 'declare crs = "gcj02"' in err and '(crs = "bd09")' in err and "[inputs]" not in err.replace("scenario's inputs", "")
    notes = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["input_warnings"]
    assert len(notes) == 1 and named in notes[0] and 'crs = "gcj02"' in notes[0]
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "输入数据提示" in report and "no coordinate system (CRS) declared for schools" in report


def test_issue14_case14_metric_crs_on_degrees_exits_2_before_computing(
    toy_registry: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schools, blocks = _layers(tmp_path)
    out = tmp_path / "o"
    code = cli.main(["zones", "--schools", str(schools), "--blocks", str(blocks), "--crs", "EPSG:3857", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_INPUT and not out.exists()
    assert (
        f"{schools}, column 'crs': x between 110.1 and 110.11, y between 37.1 and 37.1 look like longitude/latitude degrees, "
        "but EPSG:3857 (WGS 84 / Pseudo-Mercator) is in metres"
    ) in err
    assert cli.main(["zones", "--schools", str(schools), "--blocks", str(blocks), "--crs", "EPSG:4978", "--out", str(out)]) == cli.EXIT_INPUT
    assert "EPSG:4978 (WGS 84) is an earth-centred (geocentric X, Y, Z) coordinate system" in capsys.readouterr().err


def test_issue14_case17_crs_flag_fixes_a_geopackage_without_crs(
    toy_registry: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, blocks = _layers(tmp_path)
    gpkg = tmp_path / "schools.gpkg"
    frame = gpd.GeoDataFrame(
        {"school_id": ["S1"], "name": ["一小"], "level": ["primary"], "area_type": ["urban"], "capacity_primary": [900]},
        geometry=[Point(110.1, 37.1)],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio warns that the file will have no CRS: that is the point
        frame.to_file(gpkg)
    args = ["zones", "--schools", str(gpkg), "--blocks", str(blocks), "--out", str(tmp_path / "o")]
    assert cli.main(args) == cli.EXIT_INPUT
    assert f"{gpkg}: no coordinate system (CRS)" in capsys.readouterr().err
    assert cli.main([*args, "--crs", "wgs84"]) == cli.EXIT_OK
    assert cli.main([*args, "--layer-crs", "schools=wgs84", "--layer-crs", "blocks=gcj02"]) == cli.EXIT_OK
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["inputs"]["layer_crs"] == {"schools": "wgs84", "blocks": "gcj02"}


def test_layer_crs_flag_must_name_a_layer_and_a_crs(toy_registry: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schools, blocks = _layers(tmp_path)
    args = ["zones", "--schools", str(schools), "--blocks", str(blocks), "--out", str(tmp_path / "o")]
    assert cli.main([*args, "--layer-crs", "gcj02", "--layer-crs", "blocks="]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "command line, column '--layer-crs': 'gcj02': expected LAYER=CRS" in err and "'blocks=': expected LAYER=CRS" in err
    assert cli.main([*args, "--layer-crs", "pupils=gcj02"]) == cli.EXIT_INPUT
    assert "layer_crs: unknown layer 'pupils'" in capsys.readouterr().err
