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
