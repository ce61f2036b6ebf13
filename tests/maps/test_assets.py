"""Offline assets: Leaflet inlined, CDN links removed, ids deterministic."""

from __future__ import annotations

import folium
import pytest
from branca.element import Figure

from maps.assets import external_references, fix_ids, leaflet_css, leaflet_js, make_offline


def test_leaflet_js_is_1_9_3_without_source_map() -> None:
    js = leaflet_js()
    assert 'version="1.9.3"' in js
    assert "sourceMappingURL" not in js
    assert "</script" not in js


def test_leaflet_css_images_inlined() -> None:
    css = leaflet_css()
    assert "url(images/" not in css
    assert css.count("data:image/png;base64,") == 3


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<script src="https://cdn.x/a.js"></script>', ["https://cdn.x/a.js"]),
        ("<link rel='stylesheet' href='http://cdn.x/a.css'/>", ["http://cdn.x/a.css"]),
        ('<img src="//tiles.x/1.png">', ["//tiles.x/1.png"]),
        ("<style>@import 'https://fonts.x/f.css';</style>", ["https://fonts.x/f.css"]),
        ("<style>.a { background: url(https://x/y.png) }</style>", ["https://x/y.png"]),
        ('<a href="https://leafletjs.com">Leaflet</a>', []),
        ('<img src="data:image/png;base64,AAAA"><a href="zones/a.csv">a</a>', []),
        ('<script src="local.js"></script>', []),
    ],
)
def test_external_references(html: str, expected: list[str]) -> None:
    assert external_references(html) == expected


def _plain_map() -> folium.Map:
    figure = Figure()
    m = folium.Map(location=[37.0, 110.0], zoom_start=9, tiles=None)
    figure.add_child(m)
    folium.FeatureGroup(name="a").add_to(m)
    folium.LayerControl().add_to(m)
    return m


def test_plain_folium_map_fetches_from_cdns() -> None:
    # the problem this module solves: folium's page is blank without internet
    refs = external_references(_plain_map().get_root().render())
    assert any("leaflet" in r for r in refs)
    assert len(refs) >= 5


def test_make_offline_removes_every_external_reference() -> None:
    m = make_offline(_plain_map())
    page = m.get_root().render()
    assert external_references(page) == []
    assert "jquery" not in page.lower()
    assert 'version="1.9.3"' in page


def test_fix_ids_makes_renders_identical() -> None:
    first, second = _plain_map(), _plain_map()
    assert first.get_name() != second.get_name()  # uuid4 ids
    fix_ids(first.get_root())
    fix_ids(second.get_root())
    assert first.get_root().render() == second.get_root().render()
    assert "map_000001" in first.get_root().render()
