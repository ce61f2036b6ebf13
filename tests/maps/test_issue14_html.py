"""Issue 14, case 8: text reaches every HTML page escaped, with bidirectional controls removed.

A scenario ``name`` or ``[report] title`` of ``</title><script>...`` used to land raw in ``map.html`` and
``maps/<stage>.html`` (branca puts the page title into ``<title>`` as it is); ``report.html`` escaped it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from geo.text import BIDI_CONTROLS
from maps.charts import bar_chart, paired_bar_chart
from maps.render import ReportParams
from planning.app.stage import RunResult

SCRIPT = "</title><script>alert('name')</script>"
#: A right-to-left override in the middle of a name: "abc<RLO>fed" would show as "abcdef".
SPOOF = "城关\u202e一小\u2066"


def _pages(files: dict) -> dict[str, str]:
    return {name: payload for name, payload in files.items() if name.endswith(".html")}


def _hostile_run(make_run: Callable[..., RunResult], name: str) -> RunResult:
    run = make_run(name=name)
    run.inputs.schools["name"] = [SPOOF, "<b>二小</b>", "西镇小学\x07", "南关小学"]
    return run


def test_issue14_case8_scenario_name_is_escaped_in_every_page(
    make_run: Callable[..., RunResult], render_pages: Callable[..., dict[str, Any]]
) -> None:
    files = render_pages(_hostile_run(make_run, SCRIPT), ReportParams(map_per_stage=True))
    pages = _pages(files)
    assert {"map.html", "report.html", "maps/zones.html"} <= set(pages)
    for name, page in pages.items():
        assert "<script>alert" not in page, name
        assert "&lt;/title&gt;&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in page, name
        titles = re.findall(r"<title>(.*?)</title>", page)
        assert titles and "&lt;script&gt;" in titles[0], name


def test_issue14_case8_report_title_is_escaped_in_every_page(make_run: Callable[..., RunResult], render_pages: Callable[..., dict[str, Any]]) -> None:
    files = render_pages(make_run(), ReportParams(map_per_stage=True, title=f"{SCRIPT}\u202e"))
    for name, page in _pages(files).items():
        assert "<script>alert" not in page, name
        assert "\u202e" not in page, name


def test_issue14_case8_names_lose_bidi_and_control_characters_in_every_page(
    make_run: Callable[..., RunResult], render_pages: Callable[..., dict[str, Any]]
) -> None:
    files = render_pages(_hostile_run(make_run, f"测试县{SPOOF}"), ReportParams(map_per_stage=True))
    for name, page in _pages(files).items():
        shown = set(page) & BIDI_CONTROLS
        assert not shown, f"{name}: {sorted(f'U+{ord(c):04X}' for c in shown)}"
        assert "\x07" not in page, name
        assert "<b>二小</b>" not in page, name  # a name is text, never markup
    assert "城关一小" in files["map.html"]  # the name itself stays, in the tooltips
    assert "测试县城关一小" in files["report.html"]


def test_issue14_case8_chart_texts_are_escaped() -> None:
    svg = bar_chart(["<i>一小</i>\u202e"], [1.0], title="<script>x</script>", limit_label="a&b")
    svg += paired_bar_chart(["<i>二小</i>"], [1.0], [2.0], title="t\u2067", names=("<b>", "\u200fafter"))
    assert "<script>" not in svg and "<i>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and "a&amp;b" in svg
    assert not set(svg) & BIDI_CONTROLS
