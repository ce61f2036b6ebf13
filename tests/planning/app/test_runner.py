"""The runner: stages in order, files under their stage folder, manifest, renderers, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
import shapely
from pydantic import BaseModel, ConfigDict

from geo.model import Inputs
from planning.app import session as session_mod
from planning.app import stages as registry
from planning.app.runner import run_scenario
from planning.app.scenario import scenario_from_dict
from planning.app.stage import Context, Renderer, RunResult, Stage, StageOutput, StageParams

CRS = pyproj.CRS.from_epsg(32649)
SCHOOLS = gpd.GeoDataFrame(
    {"school_id": ["s1", "s2"], "name": ["一小", "二小"], "level": ["primary", "primary"]},
    geometry=[shapely.Point(0, 0), shapely.Point(1000, 0)],
    crs=CRS,
)
INPUTS = Inputs(schools=SCHOOLS, blocks=None, teachers=None, roads=None, boundary=None, metric_crs=CRS)


class CountParams(StageParams):
    factor: int = 1


def _count(ctx: Context, params: CountParams) -> StageOutput:
    n = len(ctx.inputs.schools) * params.factor
    rng_value = int(ctx.rng(1).integers(0, 1_000_000))
    table = pd.DataFrame({"school_id": ctx.inputs.schools["school_id"], "n": n})
    return StageOutput(files={"count.csv": table, "metrics.json": {"n": n, "draw": rng_value}}, result=n, summary=f"{n} counted")


def _double(ctx: Context, params: StageParams) -> StageOutput:
    earlier = ctx.result(int)
    return StageOutput(files={"double.json": {"value": None if earlier is None else 2 * earlier}})


class ReportParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    language: str = "zh"


def _render(run: RunResult, params: ReportParams) -> dict:
    return {"report.html": f"<p>{params.language}: {', '.join(run.outputs)}</p>"}


STAGES = {
    "count": Stage("count", CountParams, _count, result_type=int, files=("count.csv", "metrics.json")),
    "double": Stage("double", StageParams, _double, files=("double.json",)),
}


@pytest.fixture(autouse=True)
def toy_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "STAGES", STAGES)
    monkeypatch.setattr(session_mod, "renderers", lambda: {"report": Renderer("report", ReportParams, _render)})


def _scenario(**extra: object):
    return scenario_from_dict({"seed": 5, "inputs": {"schools": "s.gpkg"}, "count": {"factor": 3}, "double": {}, **extra})


def test_stages_run_in_order_and_write_under_their_folder(tmp_path: Path) -> None:
    summary = run_scenario(_scenario(), tmp_path, inputs=INPUTS)
    rel = sorted(p.relative_to(tmp_path).as_posix() for p in summary.written)
    assert rel == ["count/count.csv", "count/metrics.json", "double/double.json", "manifest.json", "report.html"]
    assert json.loads((tmp_path / "double/double.json").read_text()) == {"value": 12}
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == "<p>zh: count, double</p>"
    assert summary.summaries == {"count": "6 counted"}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["parameters"]["stages"]["count"] == {"enabled": True, "factor": 3, "strict": False}
    assert set(manifest["outputs"]) == {"count/count.csv", "count/metrics.json", "double/double.json", "report.html"}
    assert set(manifest["timings_s"]) >= {"count", "double", "render:report"}
    assert manifest["versions"]["ortools"]


def test_flat_output_and_no_render(tmp_path: Path) -> None:
    summary = run_scenario(_scenario(), tmp_path, inputs=INPUTS, flat=True, render=False)
    rel = sorted(p.relative_to(tmp_path).as_posix() for p in summary.written)
    assert rel == ["count.csv", "double.json", "manifest.json", "metrics.json"]


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    run_scenario(_scenario(), tmp_path / "a", inputs=INPUTS)
    run_scenario(_scenario(), tmp_path / "b", inputs=INPUTS)
    run_scenario(_scenario(seed=6), tmp_path / "c", inputs=INPUTS)
    a, b, c = ((tmp_path / d / "count/metrics.json").read_bytes() for d in "abc")
    assert a == b
    assert a != c


def test_report_settings_validated(tmp_path: Path) -> None:
    from geo.errors import InputError

    with pytest.raises(InputError, match=r"'report.colour': unknown key"):
        run_scenario(_scenario(report={"colour": "red"}), tmp_path, inputs=INPUTS)
