"""The report renderer: settings, outputs, offline, determinism, size."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

import geo.crs
from geo.errors import InputError
from maps.assets import external_references
from maps.render import RENDERER, ReportParams, build_map, render_run
from planning.app.stage import RunResult
from planning.app.writer import excel_bytes, write_files

ZH_LAYERS = [
    "小学片区", "小学多校划片", "道路", "县界与乡镇界", "小学居住区（按学校着色）",
    "小学未覆盖居住区", "学校共同体", "教师交流轮岗", "学校（按办学强弱着色）",
]


def _overlays(page: str) -> list[str]:
    block = re.search(r"overlays :  \{(.*?)\},\n", page, re.S)
    assert block is not None
    return [json.loads(f'"{name}"') for name in re.findall(r'"([^"]+)" :', block.group(1))]


def test_renderer_contract() -> None:
    assert RENDERER.name == "report"
    assert RENDERER.params is ReportParams
    assert RENDERER.render is render_run


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"langauge": "en"}, "Extra inputs are not permitted"),
        ({"language": "fr"}, "'zh' or 'en'"),
        ({"tiles": "google"}, "'none', 'osm', 'amap' or 'tianditu'"),
        ({"tiles": "tianditu"}, "needs tianditu_key"),
        ({"simplify_m": -1}, "greater than or equal to 0"),
        ({"isochrone_minutes": [10, 10]}, "distinct positive"),
    ],
)
def test_bad_settings_are_rejected(settings: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ReportParams.model_validate(settings)


def test_params_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        ReportParams().language = "en"  # type: ignore[misc]


def test_render_run_files(make_run: Callable[..., RunResult], render_pages: Callable[..., dict[str, Any]]) -> None:
    files = render_run(make_run(), ReportParams(map_per_stage=True))
    pages = render_pages(make_run(), ReportParams(map_per_stage=True))  # the shortcut of the page-only tests: the same pages
    assert {f: p for f, p in files.items() if f.endswith(".html")} == {f: p for f, p in pages.items() if f.endswith(".html")}
    assert sorted(f for f in files if not f.startswith(("print/", "documents/"))) == [  # those: tests/maps/test_documents.py
        "map.html", "maps/balance.html", "maps/communities.html", "maps/rotation.html", "maps/zones.html",
        "report.html", "report.xlsx",
    ]
    assert isinstance(files["report.xlsx"], dict)
    assert _overlays(files["maps/rotation.html"]) == ["道路", "县界与乡镇界", "教师交流轮岗", "学校（按办学强弱着色）"]


def test_map_is_offline_and_lists_layers(make_run: Callable[..., RunResult]) -> None:
    page = build_map(make_run(), ReportParams())
    assert external_references(page) == []
    assert _overlays(page) == ZH_LAYERS
    assert "<title>测试县 · 学校布局规划图</title>" in page
    assert re.search(r"[0-9a-f]{32}", page) is None  # no random ids left


def test_map_in_english(make_run: Callable[..., RunResult]) -> None:
    page = build_map(make_run(), ReportParams(language="en"))
    assert _overlays(page)[0] == "Primary zones"
    assert "Legend" in page


def test_same_run_gives_identical_bytes(make_run: Callable[..., RunResult]) -> None:
    params = ReportParams(map_per_stage=True, isochrones=True)
    first, second = render_run(make_run(), params), render_run(make_run(), params)
    for name in ("map.html", "maps/zones.html", "report.html"):
        assert first[name] == second[name], name
    assert excel_bytes(first["report.xlsx"]) == excel_bytes(second["report.xlsx"])


@pytest.mark.parametrize("stages", [(), ("zones",), ("balance",), ("communities", "rotation")])
def test_any_subset_of_stages_renders(stages: tuple[str, ...], make_run: Callable[..., RunResult]) -> None:
    files = render_run(make_run(stages=stages), ReportParams(map_per_stage=True))
    assert sorted(k for k in files if k.startswith("maps/")) == sorted(f"maps/{s}.html" for s in stages)
    overlays = _overlays(files["map.html"])
    assert overlays[-1] == "学校（按办学强弱着色）"
    assert ("小学片区" in overlays) == ("zones" in stages)
    assert ("教师交流轮岗" in overlays) == ("rotation" in stages)


def test_osm_tiles_are_an_option(make_run: Callable[..., RunResult]) -> None:
    page = build_map(make_run(), ReportParams(tiles="osm"))
    assert "tile.openstreetmap.org" in page
    assert "tile.openstreetmap.org" not in build_map(make_run(), ReportParams())


def test_tianditu_tiles_carry_the_key(make_run: Callable[..., RunResult]) -> None:
    page = build_map(make_run(), ReportParams(tiles="tianditu", tianditu_key="abc123"))
    assert "tianditu.gov.cn/vec_w" in page and "tk=abc123" in page


def _first_school_lon(page: str) -> float:
    match = re.search(r'"coordinates":\[([0-9.]+),[0-9.]+\]},"properties":\{"f"', page)
    assert match is not None
    return float(match.group(1))


def test_amap_tiles_shift_geometries_to_gcj02(monkeypatch: pytest.MonkeyPatch, make_run: Callable[..., RunResult]) -> None:
    def fake_gcj(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return lon + 0.005, lat + 0.001

    monkeypatch.setattr(geo.crs, "wgs84_to_gcj02", fake_gcj, raising=False)
    plain = build_map(make_run(), ReportParams())
    shifted = build_map(make_run(), ReportParams(tiles="amap"))
    assert "autonavi.com" in shifted
    assert _first_school_lon(shifted) == pytest.approx(_first_school_lon(plain) + 0.005, abs=1e-9)


def test_amap_without_gcj02_transform_says_so(monkeypatch: pytest.MonkeyPatch, make_run: Callable[..., RunResult]) -> None:
    monkeypatch.delattr(geo.crs, "wgs84_to_gcj02", raising=False)
    with pytest.raises(InputError, match="wgs84_to_gcj02"):
        build_map(make_run(), ReportParams(tiles="amap"))


def test_10000_block_map_stays_under_5_mb(make_run: Callable[..., RunResult]) -> None:
    run = make_run(100, 100)
    t0 = time.perf_counter()
    page = build_map(run, ReportParams())
    seconds = time.perf_counter() - t0
    size_mb = len(page.encode("utf-8")) / 1e6
    assert len(run.inputs.blocks) == 10_000
    assert page.count('"type":"Point"') >= 10_000
    assert size_mb < 5.0, f"{size_mb:.2f} MB"
    assert seconds < 20, f"{seconds:.1f} s"


def test_written_report_links_resolve(tmp_path: Path, make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    files: dict = dict(render_run(run, ReportParams(map_per_stage=True)))
    for stage, output in run.outputs.items():
        files.update({f"{stage}/{rel}": payload for rel, payload in output.files.items()})
    write_files(tmp_path, files)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    links = list(re.findall(r'href="([^"#]+)"', page))
    assert len(links) >= 20
    missing = [h for h in links if not (tmp_path / h).is_file()]
    assert missing == []


def test_zones_without_crs_use_the_metric_crs(caplog: pytest.LogCaptureFixture, make_run: Callable[..., RunResult]) -> None:
    run = make_run(stages=("zones",))
    files = run.outputs["zones"].files
    files["primary/zones.gpkg"] = files["primary/zones.gpkg"].set_crs(None, allow_override=True)  # type: ignore[index]
    page = build_map(run, ReportParams())
    assert "小学片区" in json.dumps(_overlays(page), ensure_ascii=False)
    assert "has no CRS" in caplog.text


def test_junior_zones_drawn_hidden_beside_primary(make_run: Callable[..., RunResult], render_pages: Callable[..., dict[str, Any]]) -> None:
    run = make_run(stages=("zones",))
    files = run.outputs["zones"].files
    for rel in list(files):
        files[rel.replace("primary/", "junior/")] = files[rel]  # type: ignore[index]
    files["feeder.csv"] = pd.DataFrame({"primary_school": ["P1"], "junior_school": ["J1"]})  # type: ignore[index]
    page = build_map(run, ReportParams())
    overlays = _overlays(page)
    assert overlays[:2] == ["小学片区", "初中片区"]
    assert "初中未覆盖居住区" in overlays
    assert '<div class="sp-sec" data-layer="初中片区" style="display:none">' in page  # off at start
    assert '<div class="sp-sec" data-layer="小学片区">' in page
    report = render_pages(run, ReportParams())["report.html"]
    assert "<h3>初中</h3>" in report and "小升初对口直升" in report
