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

import numpy as np
import pytest

from maps.render import ReportParams, render_run
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
def pages(tmp_path_factory: pytest.TempPathFactory, make_run: Callable[..., RunResult]) -> Path:
    """map.html and report.html of a 20 × 12 block run with every stage."""
    out = tmp_path_factory.mktemp("browser")
    files = render_run(make_run(20, 12), ReportParams())
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


def test_tooltip_shows_on_hover(browser: object, pages: Path) -> None:
    opened = _open(browser, pages / "map.html")
    page = opened.page
    box = page.locator("#" + page.evaluate("document.querySelector('.folium-map').id")).bounding_box()  # type: ignore[attr-defined]
    page.get_by_label("学校（按办学强弱着色）").uncheck()  # type: ignore[attr-defined]
    page.get_by_label("教师交流轮岗").uncheck()  # type: ignore[attr-defined]
    page.get_by_label("学校共同体").uncheck()  # type: ignore[attr-defined]
    # centre of the upper-left quadrant: zone of school P2
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)  # type: ignore[attr-defined]
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
def test_demo_county_map_opens_offline(browser: object, tmp_path: Path, make_run: Callable[..., RunResult]) -> None:
    demo_module = pytest.importorskip("geo.demo", reason="the demo county generator (geo.demo) is not available")
    demo = demo_module.build_demo()
    run = RunResult(scenario=make_run(stages=()).scenario, inputs=demo.inputs, outputs={})
    path = tmp_path / "map.html"
    path.write_text(render_run(run, ReportParams())["map.html"], encoding="utf-8")
    opened = _open(browser, path)
    assert opened.requests == [] and opened.errors == []
    shot = opened.page.screenshot()  # type: ignore[attr-defined]
    Path("/tmp/schoolplan_demo_map_browser.png").write_bytes(shot)
    assert _pixels(shot).std() > 20, "screenshot is blank"
    labels = opened.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()  # type: ignore[attr-defined]
    assert [x.strip() for x in labels] == ["道路", "县界与乡镇界", "学校（按办学强弱着色）"]
