"""Property-based tests: malformed layers give a clean InputError (or success), never another exception."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import GeometryCollection, LineString, MultiPoint, Point, Polygon

from geo.crs import gcj02_to_wgs84, wgs84_to_gcj02
from geo.errors import InputError
from geo.io import load_inputs
from geo.model import BLOCKS, SCHOOLS, TEACHERS, Inputs, LayerSpec
from geo.validate import InputWarning, validate_inputs

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LON0, LAT0 = 110.1, 37.1

junk = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=6),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["S1", "S2", "小学", "primary", "nine_year", "是", "否", "1.5", "-3", " 12 ", "1,200", "语文", "M", "高级"]),
)

coordinate = st.one_of(
    st.floats(min_value=LON0 - 0.05, max_value=LON0 + 0.05),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([LAT0, 0.0, -200.0, 1e300]),
)


@st.composite
def geometries(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["point", "point", "point", "none", "empty", "line", "bowtie", "square", "collection", "multipoint"]))
    x = draw(coordinate)
    y = draw(st.one_of(st.floats(min_value=LAT0 - 0.05, max_value=LAT0 + 0.05), coordinate))
    if kind == "none":
        return None
    if kind == "empty":
        return Point()
    if kind in ("line", "bowtie", "square") and not (np.isfinite(x) and np.isfinite(y) and abs(x) < 1e6 and abs(y) < 1e6):
        x, y = LON0, LAT0  # GEOS cannot even build these with infinite coordinates
    if kind == "line":
        return LineString([(x, y), (x + 0.01, y)])
    if kind == "bowtie":
        return Polygon([(x, y), (x + 0.01, y + 0.01), (x + 0.01, y), (x, y + 0.01)])
    if kind == "square":
        return Polygon([(x, y), (x + 0.01, y), (x + 0.01, y + 0.01), (x, y + 0.01)])
    if kind == "collection":
        return GeometryCollection([Point(x, y)])
    if kind == "multipoint":
        return MultiPoint([(x, y), (x + 0.001, y)])
    return Point(x, y)


@st.composite
def layers(draw: st.DrawFn, spec: LayerSpec, *, spatial: bool) -> pd.DataFrame:
    names = [c.name for c in spec.columns]
    keep = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    # usually keep the required columns so that value checks are reached
    if draw(st.booleans()):
        keep = sorted(set(keep) | {c.name for c in spec.columns if c.required}, key=names.index)
    if draw(st.booleans()):
        keep.append(draw(st.sampled_from(["备注", "extra", " 学段 ", "ID"])))
    n = draw(st.integers(min_value=0, max_value=5))
    data = {col: draw(st.lists(junk, min_size=n, max_size=n)) for col in keep}
    frame = pd.DataFrame(data, index=range(n))
    if not spatial:
        return frame
    geoms = draw(st.lists(geometries(), min_size=n, max_size=n))
    crs = draw(st.sampled_from([4326, 4326, 4490, 32649, None]))
    if crs == 32649:
        geoms = [None if g is None else Point(400_000 + 10 * i, 4_100_000) for i, g in enumerate(geoms)]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index), crs=crs)


def clean(call: Callable[[], Inputs]) -> Inputs | None:
    """Run ``call``: it returns or raises InputError; only InputWarning may be emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except InputError as err:
            assert err.problems, "an InputError must name at least one problem"
            assert all(p.layer and p.message for p in err.problems)
            result = None
    others = [w for w in caught if not issubclass(w.category, InputWarning)]
    assert not others, [str(w.message) for w in others]
    return result


@SETTINGS
@given(schools=layers(SCHOOLS, spatial=True))
def test_malformed_schools_never_crash(schools: pd.DataFrame) -> None:
    result = clean(lambda: validate_inputs(schools))
    if result is not None:
        assert result.schools["school_id"].is_unique
        assert result.schools["capacity_primary"].dtype == np.int64
        assert (result.schools["capacity_primary"] >= 0).all()


@SETTINGS
@given(blocks=layers(BLOCKS, spatial=True), teachers=st.one_of(st.none(), layers(TEACHERS, spatial=False)))
def test_malformed_blocks_and_teachers_never_crash(blocks: pd.DataFrame, teachers: pd.DataFrame | None) -> None:
    schools = gpd.GeoDataFrame(
        {"school_id": ["S1", "S2"], "name": ["a", "b"], "level": ["primary", "junior"], "area_type": ["urban", "rural"],
         "capacity_primary": [100, 0], "capacity_junior": [0, 100]},
        geometry=[Point(LON0, LAT0), Point(LON0 + 0.01, LAT0)],
        crs=4326,
    )
    result = clean(lambda: validate_inputs(schools, blocks, teachers))
    if result is not None:
        assert (result.blocks["students_primary"] >= 0).all()
        assert result.blocks.crs == result.metric_crs


@SETTINGS
@given(
    header=st.lists(st.sampled_from(["学校代码", "学校名称", "学段", "城乡类型", "小学学位数", "lon", "lat", "经度", "纬度", "x"]), max_size=8),
    rows=st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=6), max_size=8), max_size=4),
    encoding=st.sampled_from(["utf-8", "gbk", "utf-8-sig"]),
    crs=st.sampled_from(["wgs84", "gcj02", "bd09", "EPSG:4547"]),
)
def test_malformed_csv_files_never_crash(header: list[str], rows: list[list[str]], encoding: str, crs: str) -> None:
    text = "\n".join(",".join(r) for r in [header, *rows])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "schools.csv"
        try:
            path.write_bytes(text.encode(encoding))
        except UnicodeEncodeError:
            path.write_bytes(text.encode("utf-8"))
        clean(lambda: load_inputs({"schools": path}, crs=crs))


@SETTINGS
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".gpkg", ".geojson", ".xlsx", ".csv", ".shp"]))
def test_garbage_files_never_crash(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"schools{suffix}"
        path.write_bytes(data)
        clean(lambda: load_inputs({"schools": path}))


@settings(max_examples=60, deadline=None)
@given(lon=st.floats(min_value=73.5, max_value=134.9), lat=st.floats(min_value=18.2, max_value=53.5))
def test_gcj02_roundtrip_anywhere_in_china(lon: float, lat: float) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    # 1e-7° is about 1 cm
    assert abs(back[0] - lon) < 1e-7 and abs(back[1] - lat) < 1e-7
