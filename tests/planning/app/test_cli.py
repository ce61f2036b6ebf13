"""The command line: clean messages and exit codes, flags generated from stage parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

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
    f.write_text('[inputs]\nschools = "schools.csv"\n[communities]\nfixed_groups = "groups.csv"\n', encoding="utf-8")
    assert cli.main(["validate", str(f)]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert "schools.csv, school_id S2, column 'level': unknown value '大学'" in err  # an input layer problem ...
    assert "groups.csv, row 2, column 'role': unknown value 'boss'" in err  # ... and a table file problem, at once
    (tmp_path / "schools.csv").write_text(schools + "S1,一小,小学,城区,900,0,110.1,37.1\nS2,二小,小学,乡村,300,0,110.2,37.2\n", encoding="utf-8")
    (tmp_path / "groups.csv").write_text("学校代码,集团编号,角色\nS1,G1,lead\nS2,G1,member\n", encoding="utf-8")
    assert cli.main(["validate", str(f)]) == cli.EXIT_OK
    assert f"groups {tmp_path / 'groups.csv'}: 2 rows" in capsys.readouterr().out
