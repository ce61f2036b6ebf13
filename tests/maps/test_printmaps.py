"""Print maps: PNG and PDF per stage, A4/A3, Chinese text in the bundled font, deterministic bytes."""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib as mpl
import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from PIL import Image

from maps.common import ReportParams
from maps.printmaps import CJK_FAMILY, PNG_DPI, _labels, _nice_length, cjk_font, print_files, print_maps
from planning.app.stage import RunResult


@pytest.fixture(name="maps", scope="module")
def maps_fixture(make_run: Callable[..., RunResult]) -> list:
    return print_maps(make_run(), ReportParams())


def test_one_map_per_stage_in_report_order(maps: list) -> None:
    assert [m.key for m in maps] == ["zones-primary", "balance", "communities", "rotation"]
    assert maps[0].title == "测试县 · 小学划片范围示意图"
    files = print_files(maps)
    assert sorted(files) == sorted(f"print/{m.key}.{ext}" for m in maps for ext in ("png", "pdf"))


@pytest.mark.parametrize(("paper", "mm"), [("A4", (297, 210)), ("A3", (420, 297))])
def test_png_is_landscape_paper_at_print_resolution(make_run: Callable[..., RunResult], paper: str, mm: tuple[int, int]) -> None:
    [m] = print_maps(make_run(stages=("communities",)), ReportParams(), paper=paper)  # type: ignore[arg-type]
    with Image.open(io.BytesIO(m.png)) as img:
        w, h = img.size
    assert abs(w - mm[0] / 25.4 * PNG_DPI) <= 1 and abs(h - mm[1] / 25.4 * PNG_DPI) <= 1
    assert m.pdf.startswith(b"%PDF")


def test_same_run_gives_identical_bytes(make_run: Callable[..., RunResult], maps: list) -> None:
    again = print_maps(make_run(), ReportParams())
    for a, b in zip(maps, again, strict=True):
        assert a.png == b.png, a.key
        assert a.pdf == b.pdf, a.key
    assert b"/CreationDate" not in maps[0].pdf


def test_chinese_is_set_in_the_bundled_font(maps: list) -> None:
    family = cjk_font()
    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    assert path.endswith("NotoSansCJK-Regular.ttc")
    entry = next(e for e in font_manager.fontManager.ttflist if e.fname == path and e.name == CJK_FAMILY)
    font = FT2Font(path, face_index=entry.index)
    assert all(font.get_char_index(ord(ch)) for ch in "测试县小学划片范围示意图图例北比例尺")
    assert b"NotoSansCJK" in maps[0].pdf  # the PDF carries the font's glyphs, not a system font's


def test_missing_glyphs_would_fail_the_test(make_run: Callable[..., RunResult]) -> None:
    """pytest turns warnings into errors, so a glyph missing from the font fails the render above; show that it would."""
    with mpl.rc_context({"font.family": ["DejaVu Sans"]}), pytest.warns(UserWarning, match="missing from font"):
        fig = Figure()
        fig.text(0.1, 0.1, "划片")
        fig.savefig(io.BytesIO(), format="png")


def test_stages_without_output_get_no_map(make_run: Callable[..., RunResult]) -> None:
    assert [m.key for m in print_maps(make_run(stages=("rotation",)), ReportParams())] == ["rotation"]
    assert print_maps(make_run(stages=()), ReportParams()) == []


def test_english_titles(make_run: Callable[..., RunResult]) -> None:
    [m] = print_maps(make_run(stages=("zones",)), ReportParams(language="en", title="Plan 2026"))
    assert m.title == "Plan 2026 · Primary catchment zones"


@pytest.mark.parametrize(("span_m", "bar_m"), [(10_000, 2000), (37_000, 5000), (900, 100), (2_400, 200)])
def test_scale_bar_length_is_round(span_m: float, bar_m: float) -> None:
    assert _nice_length(span_m) == bar_m


def _placed(points: list[tuple[float, float, str]], *, size_in: float) -> int:
    with mpl.rc_context({"font.family": [cjk_font()]}):
        fig = Figure(figsize=(size_in, size_in))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        return _labels(ax, points)


def test_overlapping_labels_try_four_spots_then_are_left_out() -> None:
    same = [(50.0, 50.0, f"城关第{k}小学") for k in range(6)]
    assert _placed(same, size_in=4) == 4  # upper right, upper left, lower right, lower left; the rest left out
    assert _placed([(20.0, 20.0, "西镇小学"), (80.0, 80.0, "东镇小学")], size_in=4) == 2


def test_labels_never_run_off_the_map() -> None:
    assert _placed([(50.0, 50.0, "清涧县第一小学附属幼儿园分部")], size_in=0.5) == 0
