"""Shortfalls, ``--strict`` and partial results through a whole run: console, files, manifest, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
import shapely
from pydantic import BaseModel, ConfigDict

from geo.errors import InfeasibleError, Shortfall, SolverError
from geo.model import Inputs
from planning.app import cli
from planning.app import session as session_mod
from planning.app import stages as registry
from planning.app.session import ScenarioData, Session
from planning.app.stage import Context, Renderer, RunResult, Stage, StageOutput, StageParams

CRS = pyproj.CRS.from_epsg(32649)
SCHOOLS = gpd.GeoDataFrame(
    {"school_id": ["s1", "s2"], "name": ["一小", "二小"], "level": ["primary", "primary"]},
    geometry=[shapely.Point(0, 0), shapely.Point(1000, 0)],
    crs=CRS,
)
INPUTS = Inputs(schools=SCHOOLS, blocks=None, teachers=None, roads=None, boundary=None, metric_crs=CRS)

#: Seven quotas the toy "second" stage cannot meet: school k is short by k teachers.
SHORT = tuple(Shortfall(f"县{k}小 rotation quota", k, "teachers", f"needs {k + 2}, {2} eligible") for k in range(1, 8))


def _first(ctx: Context, params: StageParams) -> StageOutput:
    return StageOutput(files={"first.csv": pd.DataFrame({"x": [1, 2]})}, summary="first made 2 rows")


def _second(ctx: Context, params: StageParams) -> StageOutput:
    if params.strict:
        raise InfeasibleError("7 rotation quota(s) cannot be met", list(SHORT), hint="lower min_share")
    return StageOutput(files={"second.json": {"moved": 3}}, summary="second moved 3 teachers", shortfalls=SHORT)


def _third(ctx: Context, params: StageParams) -> StageOutput:
    return StageOutput(files={"third.json": {"done": True}})


def _solver_fails(ctx: Context, params: StageParams) -> StageOutput:
    raise SolverError("primary: MODEL_INVALID")


class ToyReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _render(run: RunResult, params: ToyReport) -> dict:
    failed = "none" if run.failed is None else f"{run.failed.stage}: {run.failed.message}"
    return {"report.html": f"<p>ran {', '.join(run.outputs)}; failed {failed}</p>"}


def _registry(second=_second) -> dict[str, Stage]:
    return {
        "first": Stage("first", StageParams, _first, files=("first.csv",)),
        "second": Stage("second", StageParams, second, files=("second.json",)),
        "third": Stage("third", StageParams, _third, files=("third.json",)),
    }


@pytest.fixture
def scenario_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(registry, "STAGES", _registry())
    monkeypatch.setattr(session_mod, "renderers", lambda: {"report": Renderer("report", ToyReport, _render)})
    monkeypatch.setattr(session_mod, "load_scenario_data", lambda scenario: ScenarioData(inputs=INPUTS))
    f = tmp_path / "s.toml"
    f.write_text('[inputs]\nschools = "s.gpkg"\n[first]\n[second]\n[third]\n', encoding="utf-8")
    return f


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_shortfalls_exit_0_printed_written_and_in_the_manifest(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", str(scenario_file), "--out", str(out)]) == cli.EXIT_OK
    stdout = capsys.readouterr().out
    # after the stage's summary: the count, the first five with their numbers, how many more, and where
    block = stdout[stdout.index("second moved 3 teachers") :]
    assert "7 target(s) not met (all in second/shortfalls.csv)" in block
    assert "县1小 rotation quota: short by 1 teachers (needs 3, 2 eligible)" in block
    assert "县5小 rotation quota: short by 5 teachers" in block
    assert "县6小" not in block and "… and 2 more" in block
    table = pd.read_csv(out / "second/shortfalls.csv", encoding="utf-8-sig")
    assert list(table.columns) == ["where", "short_by", "unit", "detail", "kind", "figures"]
    assert table["short_by"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert not (out / "first/shortfalls.csv").exists()  # a stage without shortfalls writes none
    manifest = _manifest(out)
    assert "second/shortfalls.csv" in manifest["outputs"]
    assert manifest["stages"] == {"first": "finished", "second": "finished", "third": "finished"}
    assert manifest["failed"] is None


def test_quiet_still_counts_the_shortfalls(scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", str(scenario_file), "--out", str(tmp_path / "out"), "--quiet"]) == cli.EXIT_OK
    stdout = capsys.readouterr().out
    assert "7 target(s) not met (all in second/shortfalls.csv)" in stdout
    assert "县1小" not in stdout and "second moved" not in stdout


def test_strict_stops_with_exit_3_and_writes_the_finished_stages(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", str(scenario_file), "--out", str(out), "--strict"]) == cli.EXIT_INFEASIBLE
    err = capsys.readouterr().err
    assert "No feasible plan in stage second" in err and "7 rotation quota(s) cannot be met" in err
    assert "县7小 rotation quota: short by 7 teachers" in err and "Hint: lower min_share" in err
    assert "Not run after it: third" in err
    # the finished stage, the failed stage's shortfalls, the report and the manifest are written; nothing of the rest
    assert pd.read_csv(out / "first/first.csv")["x"].tolist() == [1, 2]
    assert len(pd.read_csv(out / "second/shortfalls.csv", encoding="utf-8-sig")) == 7
    assert not (out / "second/second.json").exists() and not (out / "third").exists()
    report = (out / "report.html").read_text(encoding="utf-8")
    assert report == "<p>ran first; failed second: 7 rotation quota(s) cannot be met</p>"
    manifest = _manifest(out)
    assert manifest["stages"] == {"first": "finished", "second": "failed", "third": "not run"}
    assert manifest["failed"]["stage"] == "second" and manifest["failed"]["kind"] == "infeasible"
    assert manifest["failed"]["shortfalls"][0] == "县1小 rotation quota: short by 1 teachers (needs 3, 2 eligible)"
    assert manifest["failed"]["not_run"] == ["third"]
    assert all(stage["strict"] for stage in manifest["parameters"]["stages"].values())
    assert sorted(manifest["outputs"]) == ["first/first.csv", "report.html", "second/shortfalls.csv"]
    assert {"first", "second"} <= set(manifest["timings_s"]) and "third" not in manifest["timings_s"]


def test_strict_in_the_scenario_file_does_the_same(scenario_file: Path, tmp_path: Path) -> None:
    scenario_file.write_text('[inputs]\nschools = "s.gpkg"\n[first]\n[second]\nstrict = true\n[third]\n', encoding="utf-8")
    assert cli.main(["run", str(scenario_file), "--out", str(tmp_path / "out"), "--quiet"]) == cli.EXIT_INFEASIBLE
    assert _manifest(tmp_path / "out")["stages"]["second"] == "failed"


def test_solver_failure_exits_4_with_partial_outputs(
    scenario_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(registry, "STAGES", _registry(second=_solver_fails))
    out = tmp_path / "out"
    assert cli.main(["run", str(scenario_file), "--out", str(out)]) == cli.EXIT_SOLVER
    assert "Solver failed in stage second" in capsys.readouterr().err
    assert (out / "first/first.csv").is_file() and (out / "report.html").is_file()
    assert not (out / "second").exists()
    manifest = _manifest(out)
    assert manifest["failed"]["kind"] == "solver" and manifest["failed"]["message"] == "primary: MODEL_INVALID"


def test_session_run_all_raises_and_records_the_failure(scenario_file: Path) -> None:
    session = Session.from_file(scenario_file)
    session.run("first")
    assert session.failed is None
    strict = Session(session.scenario.strict())
    with pytest.raises(InfeasibleError, match="7 rotation quota"):
        strict.run_all()
    assert strict.failed is not None and strict.failed.stage == "second" and strict.failed.not_run == ("third",)
    assert list(strict.outputs) == ["first"]
    assert strict.result().failed is strict.failed


def test_demo_strict_writes_strict_into_every_stage_table() -> None:
    data = cli.demo_scenario_dict(1, 5.0, 1, strict=True)
    stages = {k: v for k, v in data.items() if isinstance(v, dict) and "enabled" in v}
    assert stages and all(v["strict"] is True for v in stages.values())
    assert not any("strict" in v for v in cli.demo_scenario_dict(1, 5.0, 1).values() if isinstance(v, dict))
    parser = cli.build_parser()
    assert parser.parse_args(["demo", "--strict"]).strict is True
    assert parser.parse_args(["run", "s.toml"]).strict is False
