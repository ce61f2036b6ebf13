"""The communities renderer's map layer: lines from lead schools to members."""

from __future__ import annotations

from collections.abc import Callable

import folium
from branca.element import Figure

from maps.stages import communities
from planning.app.stage import RunResult


def _map() -> folium.Map:
    figure = Figure()
    m = folium.Map(location=[37.0, 110.0], tiles=None)
    figure.add_child(m)
    return m


def _script(m: folium.Map) -> str:
    return m.get_root().render()


def test_add_groups_links_lead_to_members(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    names = {"P1": "城关一小", "P3": "西镇小学", "P4": "南关小学"}
    m = communities.add_groups(_map(), run.inputs.schools, run.outputs["communities"].files["groups.csv"], school_names=names)
    page = _script(m)
    assert page.count('"type":"LineString"') == 2
    assert "牵头校: 城关一小<br>成员校: 西镇小学、南关小学" in page


def test_report_lists_the_shortfalls(make_run: Callable[..., RunResult]) -> None:
    from dataclasses import replace

    from geo.errors import Shortfall
    from maps.common import ReportParams

    run = make_run()
    short = Shortfall("primary: 远山小学 (R3)", 1, "place in a group", "no lead within 60 min; nearest lead beyond the cap: U1, 72 min away")
    outputs = {**run.outputs, "communities": replace(run.outputs["communities"], shortfalls=(short,))}
    html = communities.section(replace(run, outputs=outputs), ReportParams(language="zh"))
    assert "以下目标未能完全满足" in html and "远山小学 (R3)" in html and "nearest lead beyond the cap: U1, 72 min away" in html
    assert "以下目标未能完全满足" not in communities.section(run, ReportParams(language="zh"))
    assert list(communities.tables(replace(run, outputs=outputs), ReportParams(language="en"))["community shortfalls"]["Where"]) == [short.where]
