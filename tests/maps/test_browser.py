"""The map and the report in headless Chromium, with the network blocked.

Uses Debian's ``chromium`` (``bash tests/install_browser.sh``) driven by the
``playwright`` package; never downloads a browser. Every request that is not
``file://`` or ``data:`` is aborted and recorded: an offline page makes none.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from maps.render import ReportParams
from planning.app.stage import RunResult

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
VIEWPORT = {"width": 1200, "height": 800}


@dataclass
class Opened:
    """A page opened with the network blocked, and what it tried."""

    page: object
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian Chromium, or a skip saying why not."""
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium not installed: run `bash tests/install_browser.sh` (Debian's chromium package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        pytest.skip(f"playwright not installed: {err}")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=exe, args=ARGS)
        except Exception as err:
            pytest.skip(f"chromium at {exe} cannot start: {err}")
        yield b
        b.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, make_run: Callable[..., RunResult], render_pages: Callable[..., dict[str, Any]]) -> Path:
    """map.html and report.html of a 20 × 12 block run with every stage."""
    out = tmp_path_factory.mktemp("browser")
    files = render_pages(make_run(20, 12), ReportParams())
    for name in ("map.html", "report.html"):
        (out / name).write_text(files[name], encoding="utf-8")
    return out


def _open(browser: object, path: Path) -> Opened:
    page = browser.new_page(viewport=VIEWPORT)  # type: ignore[attr-defined]
    opened = Opened(page)

    def route(r: object) -> None:
        url = r.request.url  # type: ignore[attr-defined]
        if url.startswith(("file:", "data:")):
            r.continue_()  # type: ignore[attr-defined]
        else:
            opened.requests.append(url)
            r.abort()  # type: ignore[attr-defined]

    page.route("**/*", route)
    page.on("console", lambda msg: opened.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: opened.errors.append(str(exc)))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    return opened


def county_box(page: object, run: RunResult) -> tuple[float, float, float, float]:
    """The county's bounding box on the page, in CSS pixels (left, top, right, bottom), from the inputs' boundary."""
    west, south, east, north = (float(v) for v in run.inputs.boundary.to_crs(4326).total_bounds)
    return tuple(page.evaluate(  # type: ignore[attr-defined,no-any-return]
        """([s, w, n, e]) => {
          const el = document.querySelector('.folium-map'), map = window[el.id], c = el.getBoundingClientRect();
          const a = map.latLngToContainerPoint([n, w]), b = map.latLngToContainerPoint([s, e]);
          return [c.left + a.x, c.top + a.y, c.left + b.x, c.top + b.y];
        }""",
        [south, west, north, east],
    ))


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64)


def test_map_loads_offline_and_draws(browser: object, pages: Path) -> None:
    opened = _open(browser, pages / "map.html")
    page = opened.page
    assert opened.requests == []
    assert opened.errors == []
    shot = page.screenshot()  # type: ignore[attr-defined]
    Path("/tmp/schoolplan_map_browser.png").write_bytes(shot)
    pixels = _pixels(shot)
    assert pixels.std() > 20, "screenshot is blank"
    assert page.evaluate("typeof L !== 'undefined' && L.version") == "1.9.3"  # type: ignore[attr-defined]
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()  # type: ignore[attr-defined]
    assert [x.strip() for x in labels] == [
        "小学片区", "小学多校划片", "道路", "县界与乡镇界", "小学居住区（按学校着色）",
        "小学未覆盖居住区", "学校共同体", "教师交流轮岗", "学校（按办学强弱着色）",
    ]
    assert page.locator(".sp-legend").is_visible()  # type: ignore[attr-defined]


def test_toggling_a_layer_changes_the_picture(browser: object, pages: Path) -> None:
    opened = _open(browser, pages / "map.html")
    page = opened.page
    before = _pixels(page.screenshot())  # type: ignore[attr-defined]
    legend_zones = page.locator('.sp-sec[data-layer="小学片区"]')  # type: ignore[attr-defined]
    assert legend_zones.is_visible()
    page.get_by_label("小学片区").uncheck()  # type: ignore[attr-defined]
    page.wait_for_timeout(200)  # type: ignore[attr-defined]
    after_shot = page.screenshot()  # type: ignore[attr-defined]
    Path("/tmp/schoolplan_map_browser_zones_off.png").write_bytes(after_shot)
    changed = np.abs(_pixels(after_shot) - before).sum(axis=2) > 30
    assert changed.mean() > 0.05, "hiding the zones barely changed the picture"
    assert not legend_zones.is_visible()  # its legend section follows the layer
    page.get_by_label("小学居住区（按学校着色）").check()  # type: ignore[attr-defined]
    page.wait_for_timeout(200)  # type: ignore[attr-defined]
    blocks_shot = page.screenshot()  # type: ignore[attr-defined]
    Path("/tmp/schoolplan_map_browser_blocks_on.png").write_bytes(blocks_shot)
    assert (np.abs(_pixels(blocks_shot) - _pixels(after_shot)).sum(axis=2) > 30).mean() > 0.002
    assert opened.errors == [] and opened.requests == []


def test_tooltip_shows_on_hover(browser: object, pages: Path, make_run: Callable[..., RunResult]) -> None:
    opened = _open(browser, pages / "map.html")
    page = opened.page
    page.get_by_label("学校（按办学强弱着色）").uncheck()  # type: ignore[attr-defined]  # its labels are tooltips too
    x0, y0, x1, y1 = county_box(page, make_run(20, 12))
    # centre of the county's upper-left quadrant: zone of school P2
    page.mouse.move(x0 + (x1 - x0) * 0.25, y0 + (y1 - y0) * 0.25)  # type: ignore[attr-defined]
    page.wait_for_timeout(200)  # type: ignore[attr-defined]
    tip = page.locator(".leaflet-tooltip")  # type: ignore[attr-defined]
    assert tip.count() == 1
    assert "学位使用率" in tip.inner_text()


def test_report_loads_offline(browser: object, pages: Path) -> None:
    opened = _open(browser, pages / "report.html")
    page = opened.page
    assert opened.requests == []
    assert opened.errors == []
    shot = page.screenshot(full_page=True)  # type: ignore[attr-defined]
    Path("/tmp/schoolplan_report_browser.png").write_bytes(shot)
    assert _pixels(shot).std() > 20, "screenshot is blank"
    assert page.locator("svg").count() == 4  # type: ignore[attr-defined]
    assert page.locator("h2").count() == 9  # key points, summary, targets not met, 4 stages, appendix, files  # type: ignore[attr-defined]
    assert page.title().endswith("方案说明")  # type: ignore[attr-defined]


@pytest.mark.slow
def test_demo_county_map_opens_offline(
    browser: object, tmp_path: Path, make_run: Callable[..., RunResult], render_pages: Callable[..., dict[str, Any]]
) -> None:
    demo_module = pytest.importorskip("geo.demo", reason="the demo county generator (geo.demo) is not available")
    demo = demo_module.build_demo()
    run = RunResult(scenario=make_run(stages=()).scenario, inputs=demo.inputs, outputs={})
    path = tmp_path / "map.html"
    path.write_text(render_pages(run, ReportParams())["map.html"], encoding="utf-8")
    opened = _open(browser, path)
    assert opened.requests == [] and opened.errors == []
    shot = opened.page.screenshot()  # type: ignore[attr-defined]
    Path("/tmp/schoolplan_demo_map_browser.png").write_bytes(shot)
    assert _pixels(shot).std() > 20, "screenshot is blank"
    labels = opened.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()  # type: ignore[attr-defined]
    assert [x.strip() for x in labels] == ["道路", "县界与乡镇界", "学校（按办学强弱着色）"]


# --------------------------------------------------------------------------- the map for a meeting


def meeting_run(make_run: Callable[..., RunResult], nx: int = 20, ny: int = 12) -> RunResult:
    """A run with every layer the combined map can list: today's zones (left/right halves) and both rotation directions."""
    run = make_run(nx, ny)
    blocks = run.inputs.blocks
    left = blocks.geometry.centroid.x < blocks.geometry.centroid.x.median()
    blocks["current_primary"] = np.where(left, "P1", "P3")
    moves = run.outputs["rotation"].files["moves.csv"]
    moves["direction"] = ["rotation", "rotation", "rotation", "exchange"]  # type: ignore[index]
    return run


@pytest.fixture(scope="module")
def meeting(
    tmp_path_factory: pytest.TempPathFactory, make_run: Callable[..., RunResult], render_pages: Callable[..., dict[str, Any]]
) -> dict[str, tuple[Path, RunResult]]:
    """map.html of the meeting run, of a wide and of a tall county."""
    out = tmp_path_factory.mktemp("meeting")
    pages = {}
    for name, (nx, ny) in {"meeting": (20, 12), "wide": (60, 8), "tall": (8, 50)}.items():
        run = meeting_run(make_run, nx, ny)
        path = out / f"{name}.html"
        path.write_text(render_pages(run, ReportParams())["map.html"], encoding="utf-8")
        pages[name] = (path, run)
    return pages


def _layer_states(page: object) -> dict[str, bool]:
    labels = page.locator(".leaflet-control-layers-overlays label")  # type: ignore[attr-defined]
    return {label.inner_text().strip(): label.locator("input").is_checked() for label in labels.all()}


def test_meeting_map_opens_on_zones_and_schools(browser: object, meeting: dict[str, tuple[Path, RunResult]]) -> None:
    opened = _open(browser, meeting["meeting"][0])
    page = opened.page
    assert opened.errors == [] and opened.requests == []
    states = _layer_states(page)
    assert states == {
        "小学片区": True, "小学现行片区（对照）": False, "小学多校划片": False, "道路": False, "县界与乡镇界": True,
        "小学居住区（按学校着色）": False, "小学未覆盖居住区": True, "学校共同体": False, "教师交流轮岗": False,
        "学校（按办学强弱着色）": True,
    }
    # the legend follows: a section for each layer that is on, none for those that are off
    sections = page.locator(".sp-legend .sp-sec")  # type: ignore[attr-defined]
    visible = [s.get_attribute("data-layer") for s in sections.all() if s.is_visible()]
    assert visible == [name for name, on in states.items() if on]
    assert page.locator(".sp-title").inner_text() == "测试县 · 学校布局规划图"  # type: ignore[attr-defined]


def test_rotation_layer_shows_both_directions(browser: object, meeting: dict[str, tuple[Path, RunResult]]) -> None:
    page = _open(browser, meeting["meeting"][0]).page
    page.get_by_label("教师交流轮岗").check()  # type: ignore[attr-defined]
    section = page.locator('.sp-sec[data-layer="教师交流轮岗"]')  # type: ignore[attr-defined]
    assert section.is_visible()
    text = section.inner_text()
    assert "派出交流" in text and "跟岗交流" in text
    strokes = {s.get_attribute("stroke") for s in section.locator("svg line").all()}
    assert strokes == {"#d95f02", "#5e3c99"}


def test_school_names_show_from_their_zoom(browser: object, meeting: dict[str, tuple[Path, RunResult]]) -> None:
    page = _open(browser, meeting["meeting"][0]).page
    labels = page.locator(".leaflet-tooltip.sp-label")  # type: ignore[attr-defined]
    assert sorted(labels.all_inner_texts()) == sorted(["城关一小", "城关二小", "西镇小学", "南关小学"])
    # four schools 2.4 km apart: named from zoom 12.5, and the county is fitted closer than that
    assert page.evaluate("window[document.querySelector('.folium-map').id].getZoom()") >= 12.5  # type: ignore[attr-defined]
    assert all(label.is_visible() for label in labels.all())
    page.evaluate("window[document.querySelector('.folium-map').id].setZoom(11, {animate: false})")  # type: ignore[attr-defined]
    page.wait_for_timeout(100)  # type: ignore[attr-defined]
    assert not any(label.is_visible() for label in labels.all())
    page.evaluate("window[document.querySelector('.folium-map').id].setZoom(13, {animate: false})")  # type: ignore[attr-defined]
    page.wait_for_timeout(100)  # type: ignore[attr-defined]
    assert all(label.is_visible() for label in labels.all())
    page.get_by_label("学校（按办学强弱着色）").uncheck()  # type: ignore[attr-defined]
    page.wait_for_timeout(300)  # type: ignore[attr-defined]  # Leaflet fades a tooltip out for 200 ms
    assert labels.count() == 0  # the labels belong to the schools layer


def _boxes(page: object) -> dict[str, tuple[float, float, float, float]]:
    """Screen boxes of the title, legend, layer list, zoom buttons and scale bar."""
    out = {}
    for name, sel in {"title": ".sp-title", "legend": ".sp-legend", "layers": ".leaflet-control-layers",
                      "zoom": ".leaflet-control-zoom", "scale": ".leaflet-control-scale"}.items():
        b = page.locator(sel).bounding_box()  # type: ignore[attr-defined]
        out[name] = (b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"])
    return out


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 0.5 and min(a[3], b[3]) - max(a[1], b[1]) > 0.5


@pytest.mark.parametrize("shape", ["meeting", "wide", "tall"])
@pytest.mark.parametrize("size", [(1000, 700), (1400, 900), (520, 380)])
def test_boxes_never_cover_the_county(
    browser: object, meeting: dict[str, tuple[Path, RunResult]], shape: str, size: tuple[int, int]
) -> None:
    path, run = meeting[shape]
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})  # type: ignore[attr-defined]
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(200)
    x0, y0, x1, y1 = county_box(page, run)
    assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1], "the county is not all in view"
    folded = page.locator(".leaflet-control-layers.sp-folded").count() == 1
    boxes = _boxes(page)
    for name, box in boxes.items():
        assert not _overlap(box, (x0, y0, x1, y1)), f"{name} box {box} covers the county {(x0, y0, x1, y1)} at {size}"
    assert not _overlap(boxes["title"], boxes["layers"]), "the title runs under the layer list"
    # the county keeps at least half the window's width or height, folding the boxes if it must
    fill = max((x1 - x0) / size[0], (y1 - y0) / size[1])
    assert fill > 0.5, fill
    if size != (520, 380):
        assert not folded, "the boxes fold only when the window is small"
    Path(f"/tmp/schoolplan_meeting_map_{shape}_{size[0]}x{size[1]}.png").write_bytes(page.screenshot())
    page.close()


def test_folded_layer_list_unfolds_on_click(browser: object, meeting: dict[str, tuple[Path, RunResult]]) -> None:
    page = _open(browser, meeting["meeting"][0]).page
    head = page.locator(".sp-layers-head")  # type: ignore[attr-defined]
    assert head.inner_text().startswith("图层")
    overlays = page.locator(".leaflet-control-layers-list")  # type: ignore[attr-defined]
    assert overlays.is_visible()
    head.click()
    assert not overlays.is_visible()
    head.click()
    assert overlays.is_visible()
