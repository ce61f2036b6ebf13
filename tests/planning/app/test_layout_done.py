"""Issue 17's "an infeasible case explained", through the CLI: a county whose layout cannot meet the limits is planned
with its shortfalls listed (exit 0) or, strict, stops with every shortfall named (exit 3); and what the report says of
the births and the costs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from maps.common import ReportParams
from maps.stages import layout as layout_renderer
from maps.stages import projection as projection_renderer
from planning.app import cli
from planning.app.stage import RunResult
from planning.app.stages import layout as layout_stage
from planning.app.stages import projection as projection_stage
from planning.app.stages.layout import LayoutParams
from planning.app.stages.projection import ProjectionParams
from tests.planning.app.test_stage_projection_layout import context

#: One primary school of at most 44 classes (1,980 places) for 2,540 primary children; a village 0.5° east (~44 km, no
#: roads: straight line × 1.3) with no school within any limit.
SCHOOLS = (
    "school_id,name,level,area_type,classes_primary,classes_junior,enrolled_primary,enrolled_junior,boarding,lon,lat\n"
    "S1,城关小学,primary,urban,40,0,1800,0,false,110.100,37.100\n"
    "S2,城关中学,junior,urban,0,20,0,900,true,110.105,37.100\n"
)
BLOCKS = (
    "block_id,students_primary,students_junior,area_type,lon,lat\n"
    "B1,1500,500,urban,110.101,37.101\nB2,1000,300,urban,110.099,37.099\nB3,40,20,rural,110.600,37.100\n"
)


@pytest.fixture
def county(tmp_path: Path) -> list[str]:
    (tmp_path / "schools.csv").write_text(SCHOOLS, encoding="utf-8")
    (tmp_path / "blocks.csv").write_text(BLOCKS, encoding="utf-8")
    return ["--schools", str(tmp_path / "schools.csv"), "--blocks", str(tmp_path / "blocks.csv"), "--crs", "wgs84",
            "--time-limit", "1", "--workers", "1"]  # fmt: skip


def test_a_layout_short_of_places_is_planned_and_its_shortfall_listed_exit_0(
    county: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    assert cli.main(["layout", *county, "--out", str(out)]) == cli.EXIT_OK
    stdout = capsys.readouterr().out
    assert "1 target(s) not met (all in shortfalls.csv)" in stdout
    assert "county, primary: short by 560 places (2,540 children, at most 1,980 places; schools planned above the class" in stdout
    short = pd.read_csv(out / "shortfalls.csv", encoding="utf-8-sig")
    assert short["where"].tolist() == ["county, primary"] and short["short_by"].tolist() == [560]
    # the remote village is planned beyond the limits, counted, with its trip; no "longest trip 0 min" for boarders
    # who are all beyond the limits
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["beyond_limits_children"] == {"grades 1-3": 20, "grades 4-6": 20, "grades 7-9": 20}
    assert "60 have no school within the limits" in stdout and f"(longest trip {metrics['longest_beyond_limits_min']:.0f} min)" in stdout
    assert metrics["boarders"] == 20 and "longest trip 0 min" not in stdout
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["failed"] is None


def test_strict_stops_with_exit_3_naming_every_shortfall(county: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert cli.main(["layout", *county, "--out", str(out), "--strict", "--quiet"]) == cli.EXIT_INFEASIBLE
    err = capsys.readouterr().err
    assert "No feasible plan in stage layout" in err and "no layout can serve every child within the policy limits" in err
    assert "unit B3, grades 1-3: short by 20 children (no school within the day limit (nearest school for them" in err
    assert "unit B3, grades 7-9: short by 20 children (no school within the day and boarding limits" in err
    assert "county, primary: short by 520 places (2,500 children, at most 1,980 places)" in err
    assert "Hint: add a candidate site" in err and "Traceback" not in err
    assert len(pd.read_csv(out / "shortfalls.csv", encoding="utf-8-sig")) == 4
    assert not (out / "decisions.csv").exists()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["failed"]["stage"] == "layout" and manifest["failed"]["kind"] == "infeasible"


def test_strict_run_of_both_stages_keeps_the_projection_and_explains_the_layout(
    county: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[inputs]\nschools = "schools.csv"\nblocks = "blocks.csv"\ncrs = "wgs84"\n[solver]\ntime_limit_s = 1\nworkers = 1\n'
                 "[projection]\nhorizon_years = 3\n[layout]\nstrict = true\n", encoding="utf-8")  # fmt: skip
    out = tmp_path / "o"
    assert cli.main(["run", str(f), "--out", str(out), "--quiet"]) == cli.EXIT_INFEASIBLE
    assert "No feasible plan in stage layout" in capsys.readouterr().err
    years = pd.read_csv(out / "projection" / "county.csv", encoding="utf-8-sig")["year"].tolist()
    assert years == [2024, 2025, 2026, 2027] and (out / "layout" / "shortfalls.csv").is_file()
    assert not (out / "layout" / "decisions.csv").exists() and (out / "report.html").is_file()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stages"]["projection"] == "finished" and manifest["stages"]["layout"] == "failed"


def test_report_names_boarding_costs_for_what_they_hold_and_the_demo_births_trend() -> None:
    # the boarding cost is the allowance and the care (house parent, dormitory place): not "living allowances" alone
    pp = ProjectionParams(horizon_years=4, births={2010 + k: 1000.0 * 0.98**k for k in range(20)}, births_basis="assumption")
    ctx = context(projection=pp, layout=LayoutParams())
    ctx.outputs["projection"] = projection_stage.STAGE.run(ctx, pp)
    ctx.outputs["layout"] = layout_stage.STAGE.run(ctx, LayoutParams())
    demo = dataclasses.replace(ctx.scenario, name="demo 清涧县 (610830)")
    r = RunResult(scenario=demo, inputs=ctx.inputs, outputs=ctx.outputs)
    zh, en = (layout_renderer.section(r, ReportParams(language=lang)) for lang in ("zh", "en"))
    assert "寄宿（生活补助、生活管理与宿舍）" in zh and "寄宿生活补助" not in zh and "boarding (allowances, care and dormitory)" in en
    # the demo's births: the trend the series really has over the projected years (−2 % a year here), not a fixed figure
    zh, en = (projection_renderer.section(r, ReportParams(language=lang)) for lang in ("zh", "en"))
    assert "2024–2028 年平均每年 -2.0%" in zh and "-2.0% a year on average 2024–2028" in en


def test_layout_document_tells_the_hearing_of_the_children_beyond_the_limits() -> None:
    import io

    import geopandas as gpd
    import shapely
    from docx import Document

    from maps.documents import documents

    # a unit hundreds of km away: its children go to the nearest schools, beyond every limit (exit 0)
    ctx = context(layout=LayoutParams())
    far = ctx.inputs.blocks.iloc[[3]].assign(block_id="far", geometry=shapely.points([(1_400_000, 4_000_000)]))
    blocks = gpd.GeoDataFrame(pd.concat([ctx.inputs.blocks, far], ignore_index=True), crs=ctx.inputs.blocks.crs)
    ctx.inputs = dataclasses.replace(ctx.inputs, blocks=blocks)
    ctx.outputs["layout"] = layout_stage.STAGE.run(ctx, LayoutParams())
    m = ctx.outputs["layout"].metrics
    n = sum(m["beyond_limits_children"].values())
    r = RunResult(scenario=ctx.scenario, inputs=ctx.inputs, outputs=ctx.outputs)
    zh = "\n".join(p.text for p in Document(io.BytesIO(documents(r, ReportParams(language="zh"), maps=())["documents/layout.docx"])).paragraphs)
    assert n > 0 and f"另有 {n:,} 名儿童在政策时限内（一至三年级走读 30 分钟，四至九年级寄宿 60 分钟）无校可上" in zh
    assert f"最远单程 {m['longest_beyond_limits_min']:.0f} 分钟" in zh
    en = Document(io.BytesIO(documents(r, ReportParams(language="en"), maps=())["documents/layout.docx"]))
    assert f"A further {n:,} children have no school within the policy limits" in "\n".join(p.text for p in en.paragraphs)


def test_every_layout_and_projection_setting_says_what_it_is_in_the_cli_help() -> None:
    # `schoolplan layout --help` printed "day max s (default: 1800)": the flags' help comes from the fields' descriptions
    for params in (LayoutParams, ProjectionParams):
        bare = [name for name, field in params.model_fields.items() if not field.description and name != "enabled"]  # no flag
        assert bare == [], f"{params.__name__}: {bare}"
