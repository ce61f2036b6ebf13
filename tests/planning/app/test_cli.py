"""The command line: clean messages and exit codes, flags generated from stage parameters."""

from __future__ import annotations

import json
import logging
import re
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
from planning.app.cli import OncePerRun
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
    with pytest.raises(SystemExit) as exc:  # the parser checks it, with the bounds of the scenario's [solver]
        cli.main(["run", str(f), "--time-limit", "0", "--out", str(tmp_path / "o")])
    assert exc.value.code == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "argument --time-limit: must be greater than 0, got 0" in err


def test_validate_checks_table_files_with_the_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schools = "school_id,name,level,area_type,capacity_primary,capacity_junior,lon,lat\n"
    (tmp_path / "schools.csv").write_text(schools + "S1,一小,小学,城区,900,0,110.1,37.1\nS2,二小,大学,乡村,300,0,110.2,37.2\n", encoding="utf-8")
    (tmp_path / "groups.csv").write_text("学校代码,集团编号,角色\nS1,G1,lead\nS2,G1,boss\n", encoding="utf-8")
    f = tmp_path / "s.toml"
    f.write_text('[inputs]\nschools = "schools.csv"\ncrs = "wgs84"\n[communities]\nfixed_groups = "groups.csv"\n', encoding="utf-8")
    assert cli.main(["validate", str(f)]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "schools.csv, row 3 (school_id S2), column 'level': unknown value '大学'" in err  # an input layer problem ...
    assert "groups.csv, row 3, column '角色' (role): unknown value 'boss'" in err  # ... and a table file problem, at once
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
    assert re.search(
        re.escape(f"{schools}, column 'crs': x between ") + r"110\.\d+ and 110\.\d+, y between 37\.\d+ and 37\.\d+ "
        + re.escape("look like longitude/latitude degrees, but EPSG:3857 (WGS 84 / Pseudo-Mercator) is in metres"), err)
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


# --------------------------------------------------------------------------- issue 14: inputs and parameters

SCHOOLS_CSV = (
    "学校代码,学校名称,学段,城乡类型,小学学位数,初中学位数,enrolled_primary,enrolled_junior,经度,纬度\n"
    "S1,城关小学,小学,城区,900,,850,,110.10,37.10\n"
    "S2,城关中学,初中,城区,,1000,,900,110.11,37.10\n"
    "S3,下廿里铺九年制学校,九年一贯制,乡村,270,150,200,100,110.20,37.15\n"
)
BLOCKS_CSV = "block_id,students_primary,students_junior,经度,纬度\nB1,120,60,110.102,37.101\nB2,40,20,110.19,37.14\n"
TEACHERS_CSV = (
    "教师编号,学校代码,任教学科,骨干教师,学历达标以上,职称,本校任教年限,年龄,性别\n"
    "T1,S1,语文,是,是,高级,8,45,女\n"
    "T2,S3,数学,否,是,中级,3,200,男\n"
)


@pytest.mark.filterwarnings("default::geo.validate.InputWarning")
def test_issue14_case15_a_misspelt_header_is_a_warning_and_own_columns_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schools = tmp_path / "schools.csv"
    schools.write_text(SCHOOLS_CSV.replace("enrolled_primary,", "enroled_primary,").replace("纬度\n", "纬度,备注\n"), encoding="utf-8")
    assert cli.main(["balance", "--schools", str(schools), "--out", str(tmp_path / "o"), "--quiet"]) == cli.EXIT_OK
    err = capsys.readouterr().err
    assert (
        f"Warning: {schools}, column 'enroled_primary': not a known column, so it is not read and the layer has no "
        "'enrolled_primary'; did you mean 'enrolled_primary' (primary pupils enrolled; accepted headers: "
        "enrolled_primary, 小学在校生数, 小学学生数)?"
    ) in err
    assert f"Note: {schools}: 1 column not used by the planner, kept as it is: 备注" in err


def test_issue14_case16_enumerated_parameters_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["rotate", "--schools", "s.csv", "--teachers", "t.csv", "--out", str(tmp_path), "--sending-area-types", "moon"])
    assert exc.value.code == cli.EXIT_INPUT
    assert "argument --sending-area-types: invalid choice: 'moon' (choose from 'urban', 'town', 'rural')" in capsys.readouterr().err
    # the same in a scenario file, and the choices are listed by --help
    f = tmp_path / "s.toml"
    f.write_text('[inputs]\nschools = "s.csv"\n[rotation]\nreceiving_strength = ["weak", "poor"]\n', encoding="utf-8")
    assert cli.main(["validate", str(f)]) == cli.EXIT_INPUT
    assert "column 'rotation.receiving_strength.1': Input should be 'strong', 'middle' or 'weak'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["rotate", "--help"])
    assert "--sending-area-types {urban,town,rural}" in capsys.readouterr().out


def test_issue14_case16_a_minimum_above_its_maximum_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["rotate", "--schools", "s.csv", "--teachers", "t.csv", "--out", str(tmp_path), "--min-share", "0.5", "--max-share", "0.1"])
    assert code == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "command line, column 'rotation'" in err and "min_share (0.5) must be ≤ max_share (0.1)" in err
    assert "Traceback" not in err


def test_issue14_case16_implausible_magnitudes_exit_2_at_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "schools.csv").write_text(SCHOOLS_CSV.replace("S1,城关小学,小学,城区,900", "S1,城关小学,小学,城区,100000000000"), encoding="utf-8")
    (tmp_path / "blocks.csv").write_text(BLOCKS_CSV.replace("B1,120", "B1,100000000"), encoding="utf-8")
    (tmp_path / "teachers.csv").write_text(TEACHERS_CSV, encoding="utf-8")
    out = tmp_path / "o"
    assert cli.main(["zones", "--schools", str(tmp_path / "schools.csv"), "--blocks", str(tmp_path / "blocks.csv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'schools.csv'}, row 2 (school_id S1), column '小学学位数' (capacity_primary): implausibly large: '100000000000'" in err
    assert f"{tmp_path / 'blocks.csv'}, row 2 (block_id B1), column 'students_primary': implausibly large: '100000000'" in err
    code = cli.main(["rotate", "--schools", str(tmp_path / "schools.csv"), "--teachers", str(tmp_path / "teachers.csv"), "--out", str(out)])
    assert code == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert (
        f"{tmp_path / 'teachers.csv'}, row 3 (teacher_id T2), column '年龄' (age): implausibly large: '200' "
        "(more than 70: teachers are 18–70 years old)"
    ) in err


# --- issue 15: times in minutes, help that explains every flag --------------------------------------


def test_help_explains_flags_without_internal_names(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("zones", "communities", "rotate", "run"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        out = capsys.readouterr().out
        assert "one value of" not in out and "ALIAS__" not in out and "(default: None)" not in out
        assert "--max-commute-s" not in out and "seconds of travel" not in out  # every travel time in minutes
    with pytest.raises(SystemExit):
        cli.main(["zones", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--level {primary,junior} short for --levels with one value" in out
    assert "--max-travel-min X longest one-way trip to school of a day pupil, in minutes" in out
    with pytest.raises(SystemExit):
        cli.main(["rotate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--max-commute-min X longest commute to the new school, minutes" in out and "(default: 60)" in out
    with pytest.raises(SystemExit):
        cli.main(["communities", "--help"])
    assert "--groups FILE the same as --fixed-groups" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    assert "out/<file name of the scenario without .toml>" in " ".join(capsys.readouterr().out.split())


def test_minutes_on_the_command_line_and_seconds_still_read_from_a_scenario() -> None:
    from planning.app.stages.rotation import RotationParams
    from planning.app.stages.zones import ZonesParams

    parser = cli.build_parser()
    args = parser.parse_args(["zones", "--schools", "s", "--blocks", "b", "--out", "o", "--max-travel-min", "20"])
    zones = ZonesParams.model_validate(cli._stage_params(args, registry.STAGES["zones"]))
    assert zones.travel_limit_s("primary") == zones.travel_limit_s("junior") == 1200
    # a per-level cap in seconds (scenario files) wins for its level
    assert ZonesParams(max_travel_min=20, max_travel_s={"junior": 2700}).travel_limit_s("junior") == 2700
    args = parser.parse_args(["rotate", "--schools", "s", "--teachers", "t", "--out", "o", "--max-commute-min", "45"])
    assert RotationParams.model_validate(cli._stage_params(args, registry.STAGES["rotation"])).max_commute_s == 2700
    # the key of earlier scenarios, in seconds, still works
    assert RotationParams.model_validate({"max_commute_s": 1800}).max_commute_min == 30
    with pytest.raises(ValueError, match="not both"):
        RotationParams.model_validate({"max_commute_s": 1800, "max_commute_min": 30})


def test_a_repeated_warning_is_printed_once_per_run() -> None:
    # each travel matrix of a run warns of the blocks far from a road: the same line once, not nine times
    once = OncePerRun()

    def record(level: int, msg: str, *args: object, name: str = "geo.travel") -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, msg, args, None)

    far = "%d origin(s) lie more than %.0f m from a road: %s"
    assert once.filter(record(logging.WARNING, far, 9, 2000.0, "T0189"))
    assert not once.filter(record(logging.WARNING, far, 9, 2000.0, "T0189"))
    assert once.filter(record(logging.WARNING, far, 28, 2000.0, "V0268"))  # another message
    assert once.filter(record(logging.WARNING, far, 9, 2000.0, "T0189", name="planning.zones"))  # another logger
    assert once.filter(record(logging.INFO, "step")) and once.filter(record(logging.INFO, "step"))  # below WARNING: always
