"""The built-in demo county (geo.demo): determinism, contract, plausibility."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from scipy import sparse
from scipy.sparse import csgraph
from shapely.strtree import STRtree

from geo.boundaries import county_outline
from geo.demo import DEMO_SEED, DemoCounty, build_demo, county_people, generate_county, is_city_district, required_subjects
from geo.errors import InputError
from geo.model import BLOCKS, BOUNDARY, ROADS, SCHOOLS, TEACHERS, LayerSpec
from geo.policy import QUALITY_CV_MAX

HIGHWAYS = {"trunk", "primary", "secondary", "tertiary", "unclassified", "residential", "track"}


@pytest.fixture(scope="module")
def demo() -> DemoCounty:
    return build_demo()


@pytest.fixture(scope="module")
def small() -> DemoCounty:
    return build_demo(scale=0.2, seed=7)


def frames(d: DemoCounty) -> dict[str, pd.DataFrame]:
    i = d.inputs
    return {"schools": i.schools, "blocks": i.blocks, "teachers": i.teachers, "roads": i.roads, "boundary": i.boundary}


# --- determinism ---------------------------------------------------------------------


def test_same_seed_gives_identical_frames(small: DemoCounty) -> None:
    again = build_demo(scale=0.2, seed=7)
    a, b = frames(small), frames(again)
    for name in ("schools", "blocks", "roads", "boundary"):
        assert_geodataframe_equal(a[name], b[name], check_less_precise=False)
    pd.testing.assert_frame_equal(a["teachers"], b["teachers"])
    assert dict(small.stats) == dict(again.stats)


def test_different_seed_differs(small: DemoCounty) -> None:
    other = build_demo(scale=0.2, seed=8)
    assert not small.inputs.blocks.geometry.equals(other.inputs.blocks.geometry)
    assert small.inputs.schools["name"].tolist() != other.inputs.schools["name"].tolist()


def test_default_seed_is_the_published_one() -> None:
    assert DEMO_SEED == 20260901


# --- the data contract ------------------------------------------------------------------


def check_columns(df: pd.DataFrame, spec: LayerSpec, required_too: tuple[str, ...] = ()) -> None:
    for col in spec.columns:
        if col.required or col.name in required_too:
            assert col.name in df.columns, f"{spec.name}.{col.name} missing"
        if col.name not in df.columns:
            continue
        s = df[col.name]
        if col.kind in ("id", "str"):
            assert pd.api.types.is_string_dtype(s), f"{spec.name}.{col.name} is {s.dtype}"
        elif col.kind == "int":
            assert s.dtype == np.int64 and (s >= 0).all(), f"{spec.name}.{col.name}"
        elif col.kind == "float":
            assert s.dtype == np.float64 and (s.dropna() >= 0).all(), f"{spec.name}.{col.name}"
        elif col.kind == "bool":
            assert s.dtype == bool, f"{spec.name}.{col.name} is {s.dtype}"
        elif col.kind == "enum":
            assert set(s.dropna().unique()) <= set(col.choices), f"{spec.name}.{col.name}"
        if col.kind == "id":
            assert s.is_unique and s.notna().all()


def test_every_layer_has_the_canonical_columns_and_dtypes(demo: DemoCounty) -> None:
    i = demo.inputs
    optional = ("exempt_reason", "strength_class", "backbone_level")  # backbone_level: only when the input names levels
    everything = tuple(c.name for spec in (SCHOOLS, BLOCKS, TEACHERS) for c in spec.columns if c.name not in optional)
    check_columns(i.schools, SCHOOLS, everything)
    check_columns(i.blocks, BLOCKS, everything)
    check_columns(i.teachers, TEACHERS, everything)
    check_columns(i.roads, ROADS, ("highway", "speed_kmh", "oneway", "name"))
    check_columns(i.boundary, BOUNDARY, ("name", "township"))
    for gdf in (i.schools, i.blocks, i.roads, i.boundary):
        assert gdf.crs == i.metric_crs and gdf.crs.to_epsg() == 32649  # UTM 49N for 清涧县
    assert set(i.schools.geom_type) == {"Point"}
    assert set(i.blocks.geom_type) == {"Polygon"} and i.blocks.is_valid.all()
    assert set(i.roads.geom_type) == {"LineString"}
    assert i.schools["school_id"].is_monotonic_increasing and i.blocks["block_id"].is_monotonic_increasing
    assert demo.code == "610830" and demo.name == "清涧县"


def test_references_point_to_schools_of_the_right_level(demo: DemoCounty) -> None:
    i = demo.inputs
    assert set(i.teachers["school_id"]) == set(i.schools["school_id"])
    for level in ("primary", "junior"):
        teaching = set(i.schools_of(level)["school_id"])
        assert set(i.blocks[f"current_{level}"]) <= teaching


# --- geography -------------------------------------------------------------------------


def test_blocks_tile_the_real_outline(demo: DemoCounty) -> None:
    i = demo.inputs
    outline = gpd.GeoSeries([county_outline("610830")], crs=4326).to_crs(i.metric_crs).iloc[0]
    assert i.blocks.within(outline.buffer(1.0)).all()
    assert i.schools.within(outline).all()
    assert abs(i.blocks.area.sum() - outline.area) / outline.area < 1e-3
    # a tiling: neighbours share borders, cells do not overlap
    tree = STRtree(i.blocks.geometry.values)
    a, _ = tree.query(i.blocks.geometry.values, predicate="overlaps")
    assert len(a) == 0
    a, _ = tree.query(i.blocks.geometry.values, predicate="touches")
    touching = np.bincount(a, minlength=len(i.blocks))
    assert (touching >= 1).all()


def test_settlement_hierarchy(demo: DemoCounty) -> None:
    b = demo.inputs.blocks
    st = demo.stats
    assert st["townships"] == 9
    assert set(demo.inputs.boundary["township"].dropna()) == {
        "宽州镇", "石咀驿镇", "折家坪镇", "玉家河镇", "高杰村镇", "李家塔镇", "店则沟镇", "解家沟镇", "下廿里铺镇"}
    assert 500 <= st["blocks_rural"] <= 800  # 640 administrative villages
    assert st["blocks_urban"] >= 100
    assert b.loc[b.area_type == "urban", "township"].eq("宽州镇").all()
    # urban compounds are small, village cells large
    med = b.groupby("area_type").apply(lambda g: g.area.median(), include_groups=False)
    assert med["urban"] * 10 < med["rural"]
    assert b["name"].str.endswith(("小区", "社区", "花园", "家园", "苑", "新村", "村")).all()


def test_population_and_children_in_proportion(demo: DemoCounty) -> None:
    st = demo.stats
    assert 180_000 <= st["population"] <= 220_000
    assert 0.05 <= st["students_primary"] / st["population"] <= 0.07
    assert 0.025 <= st["students_junior"] / st["population"] <= 0.035
    b = demo.inputs.blocks
    seat = b[b.area_type == "urban"]
    assert seat["population"].sum() / b["population"].sum() > 0.4  # drained to the county seat
    kids = b["students_primary"] + b["students_junior"]
    share = lambda col, area: b.loc[b.area_type == area, col].sum() / kids[b.area_type == area].sum()  # noqa: E731
    assert share("left_behind", "rural") > 0.25 > share("left_behind", "urban")
    assert share("migrant", "urban") > 0.08 > share("migrant", "rural")
    assert ((b.left_behind + b.migrant) <= kids).all() and (b.disabled <= kids).all() and (b.low_income <= kids).all()


def road_graph(roads: gpd.GeoDataFrame) -> tuple[int, np.ndarray]:
    start = shapely.get_coordinates(shapely.get_point(roads.geometry.values, 0))
    end = shapely.get_coordinates(shapely.get_point(roads.geometry.values, -1))
    _, inv = np.unique(np.vstack([start, end]), axis=0, return_inverse=True)
    m = len(roads)
    g = sparse.coo_matrix((np.ones(m), (inv[:m], inv[m:])), shape=(inv.max() + 1,) * 2)
    return csgraph.connected_components(g, directed=False)


def test_road_network_is_connected_noded_and_hierarchical(demo: DemoCounty) -> None:
    r = demo.inputs.roads
    ncomp, _ = road_graph(r)
    assert ncomp == 1
    # noded: lines meet only at shared end vertices, never cross
    tree = STRtree(r.geometry.values)
    a, _ = tree.query(r.geometry.values, predicate="crosses")
    assert len(a) == 0
    assert set(r["highway"]) == HIGHWAYS
    assert (r["speed_kmh"] > 0).all()
    assert 0 < r["oneway"].sum() < 0.05 * len(r)
    assert r.loc[r["oneway"], "highway"].eq("residential").all()
    assert r.loc[r.highway == "trunk", "name"].eq("G210国道").all()
    # the trunk runs through the county seat; every township seat is on a county road
    b = demo.inputs.blocks
    seat = b[b.area_type == "urban"].union_all()
    assert r[r.highway == "trunk"].intersects(seat).any()
    main = r[r.highway.isin(["trunk", "primary", "secondary"])].union_all()
    for pt in demo.inputs.schools.loc[demo.inputs.schools.area_type == "town"].geometry:
        assert main.distance(pt) < 500
    # every village centre is a road node
    nodes = shapely.multipoints(shapely.get_coordinates(r.geometry.values))
    rural = b[b.area_type == "rural"]
    assert shapely.distance(nodes, rural.representative_point()).max() < rural.area.max() ** 0.5 * 2


# --- schools -------------------------------------------------------------------------------


def test_enrolment_matches_todays_zones(demo: DemoCounty) -> None:
    i = demo.inputs
    for level in ("primary", "junior"):
        zone_sum = i.blocks.groupby(f"current_{level}")[f"students_{level}"].sum()
        enrolled = i.schools.set_index("school_id")[f"enrolled_{level}"]
        expected = zone_sum.reindex(enrolled.index, fill_value=0)
        pd.testing.assert_series_equal(enrolled, expected, check_names=False, check_dtype=False)


def test_capacity_exceeds_demand_but_the_seat_is_tight(demo: DemoCounty) -> None:
    s, b = demo.inputs.schools, demo.inputs.blocks
    for level in ("primary", "junior"):
        cap, demand = s[f"capacity_{level}"].sum(), b[f"students_{level}"].sum()
        assert cap >= 1.08 * demand
        urban = s[s.area_type == "urban"]
        ratio = urban[f"capacity_{level}"].sum() / urban[f"enrolled_{level}"].sum()
        assert 1.0 <= ratio <= 1.10
        # 大班额: some strong urban schools are over-full under today's zones
        assert (urban[f"enrolled_{level}"] > urban[f"capacity_{level}"]).any()
        teaches = s[(s.level == level) | (s.level == "nine_year")]
        assert (teaches[f"capacity_{level}"] > 0).all()
        others = s[~s.index.isin(teaches.index)]
        assert (others[f"capacity_{level}"] == 0).all() and (others[f"enrolled_{level}"] == 0).all()


def test_school_kinds(demo: DemoCounty) -> None:
    s = demo.inputs.schools
    st = demo.stats
    assert st["schools_nine_year"] >= 1
    assert s.loc[s.area_type == "town", "boarding"].all() and not s.loc[s.area_type != "town", "boarding"].any()
    tp = s[s.teaching_point]
    assert len(tp) >= 10 and (tp.enrolled_primary <= 60).all() and tp.name.str.endswith("教学点").all()
    assert (tp.area_type == "rural").all() and (tp.capacity_junior == 0).all()
    assert s["name"].is_unique
    assert s.loc[s.area_type == "urban", "name"].str.startswith("清涧县").all()
    assert (s.enrolled_primary + s.enrolled_junior <= 2500).all()


def weighted_cv(x: np.ndarray, p: np.ndarray) -> float:
    """Official enrolment-weighted CV (DOMAIN.md §2), written out independently."""
    xbar = (x * p).sum() / p.sum()
    return math.sqrt(((p / p.sum()) * (x - xbar) ** 2).sum()) / xbar


def test_county_fails_some_quality_balance_cvs(demo: DemoCounty) -> None:
    """Sports ground and backbone teachers per pupil vary too much, as in a real poor county."""
    s, t = demo.inputs.schools, demo.inputs.teachers
    level = "primary"
    part = s[((s.level == level) | (s.level == "nine_year")) & ~(s.teaching_point & (s.enrolled_primary < 50))]
    pupils = part[f"enrolled_{level}"].to_numpy(float)
    total = (part.enrolled_primary + part.enrolled_junior).to_numpy(float)
    sports = part.sports_area_m2.to_numpy() * pupils / total  # nine-year facilities split by pupils
    backbone = (t[t.backbone & (t.level == level)].groupby("school_id").size()
                .reindex(part.school_id, fill_value=0).to_numpy(float))
    keep = pupils > 0
    cvs = {
        "sports_area_per_pupil": weighted_cv(sports[keep] / pupils[keep], pupils[keep]),
        "backbone_per_100": weighted_cv(100 * backbone[keep] / pupils[keep], pupils[keep]),
    }
    assert max(cvs.values()) > QUALITY_CV_MAX[level], cvs
    assert cvs["sports_area_per_pupil"] > QUALITY_CV_MAX[level]


# --- teachers ----------------------------------------------------------------------------


def test_every_school_has_every_subject_it_needs(demo: DemoCounty) -> None:
    s, t = demo.inputs.schools, demo.inputs.teachers
    have = t.groupby(["school_id", "level"])["subject"].agg(set)
    for row in s.itertuples(index=False):
        for level in ("primary", "junior"):
            classes = getattr(row, f"classes_{level}")
            if classes == 0:
                assert (row.school_id, level) not in have.index
                continue
            need = set(required_subjects(level, classes=classes, teaching_point=row.teaching_point))
            assert need <= have[(row.school_id, level)], (row.name, level)
    full = s[(s.level == "junior")].school_id
    assert all(len(have[(sid, "junior")]) == 13 for sid in full)


def test_required_subjects() -> None:
    assert required_subjects("primary", classes=1, teaching_point=True) == ("chinese", "math")
    assert "pe" in required_subjects("primary", classes=4)
    assert len(required_subjects("primary", classes=12)) == 9
    assert {"physics", "chemistry", "biology", "history", "geography"} <= set(required_subjects("junior", classes=3))


def test_teacher_attributes_are_plausible(demo: DemoCounty) -> None:
    t, s = demo.inputs.teachers, demo.inputs.schools
    assert t["age"].between(22, 59).all()
    assert (t["years_at_school"] <= t["age"] - 22).all()
    assert 0.30 <= (t["years_at_school"] >= 6).mean() <= 0.45
    area = t["school_id"].map(s.set_index("school_id")["area_type"])
    bb = t.groupby(area)["backbone"].mean()
    assert bb["urban"] > 2 * bb["rural"]
    nine = s.loc[s.level == "nine_year", "school_id"]
    assert set(t.loc[t.school_id.isin(nine), "level"]) == {"primary", "junior"}
    lon0, lat0, lon1, lat1 = county_outline("610830").bounds
    assert t["home_lon"].between(lon0, lon1).all() and t["home_lat"].between(lat0, lat1).all()
    # most teachers live in the county seat or their township seat
    seat = demo.inputs.blocks[demo.inputs.blocks.area_type == "urban"].to_crs(4326).union_all().buffer(0.01)
    homes = shapely.points(t["home_lon"].to_numpy(), t["home_lat"].to_numpy())
    assert shapely.contains(seat, homes).mean() > 0.5
    assert 800 <= len(t) <= 2000


# --- scale, other counties, bad input -------------------------------------------------------


def test_scale_grows_blocks_schools_and_teachers(small: DemoCounty, demo: DemoCounty) -> None:
    for key in ("blocks", "schools", "teachers", "students_primary"):
        assert small.stats[key] < demo.stats[key]
    assert 3 * small.stats["blocks"] < demo.stats["blocks"]


def test_another_county_from_the_package() -> None:
    d = build_demo("子洲县", scale=0.2)
    assert (d.code, d.name) == ("610831", "子洲县")
    outline = gpd.GeoSeries([county_outline("610831")], crs=4326).to_crs(d.inputs.metric_crs).iloc[0]
    assert d.inputs.blocks.within(outline.buffer(1.0)).all()
    assert d.inputs.boundary["township"].dropna().iloc[0] == "城关镇"
    assert road_graph(d.inputs.roads)[0] == 1


def test_generate_county_is_pure_and_takes_any_outline() -> None:
    square = shapely.box(110.0, 37.0, 110.25, 37.2)  # ≈ 22 × 22 km
    d = generate_county(square, code="000001", name="测试县", scale=0.5, seed=1)
    assert d.stats["townships"] >= 5
    assert d.inputs.blocks.within(d.inputs.boundary.geometry.iloc[0].buffer(1.0)).all()


@pytest.mark.parametrize("scale", [0, -1, float("nan"), 1e6])
def test_bad_scale_is_an_input_error(scale: float) -> None:
    with pytest.raises(InputError, match=r"scale must be a number in \(0, 500\]"):
        build_demo(scale=scale)


def test_unknown_county_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"unknown county '清涧乡'.*清涧县 \(610830"):
        build_demo("清涧乡")


@pytest.mark.parametrize(
    ("code", "district"),
    [("530102", True), ("110101", True), ("500101", True), ("610116", True), ("632801", False), ("532301", False),
     ("469002", False), ("429004", False), ("610830", False), ("360781", False), ("500229", False)],
)
def test_only_districts_under_a_city_are_city_districts(code: str, district: bool) -> None:
    # 01–20 number districts under a city (third and fourth digits 01–20, 51–70); under a prefecture or an
    # autonomous prefecture (21–50) or a province itself (90) they number county-level cities
    assert is_city_district(code) is district


@pytest.mark.parametrize(
    ("code", "area_km2", "low", "high"),
    [
        ("610830", 1_889.7, 190_000, 210_000),  # 清涧县 itself: 200,000 as calibrated
        ("621022", 9_236.0, 250_000, 600_000),  # 环县: ≈ 30万 residents, 37万 registered
        ("150223", 18_000.0, 60_000, 300_000),  # 达茂旗, a pastoral banner: ≈ 10万
        ("530102", 383.0, 300_000, 1_200_000),  # 五华区, a city district of 昆明: ≈ 110万
        ("540102", 525.0, 100_000, 400_000),  # 城关区 of 拉萨: ≈ 28万
        ("632801", 119_200.0, 100_000, 600_000),  # 格尔木市, a county-level city of 海西州 (not a district): ≈ 22万
        ("469002", 1_710.0, 100_000, 600_000),  # 琼海市, governed by 海南 itself: ≈ 53万
        ("532301", 4_433.0, 150_000, 800_000),  # 楚雄市, of 楚雄州: ≈ 69万
    ],
)
def test_generated_people_stay_plausible_on_large_sparse_and_urban_outlines(code: str, area_km2: float, low: int, high: int) -> None:
    # the first generator scaled people with the outline's area at 清涧县's density: 达茂旗 had 1.86 million people and
    # 162,000 pupils, 环县 98万, 五华区 4万; public figures (2020 census, county profiles) are in the comments
    assert low <= county_people(code, area_km2) <= high


@pytest.fixture(scope="module")
def golmud() -> DemoCounty:
    """格尔木市 (119,200 km², most of it desert and high plateau) at a tenth of its people."""
    return build_demo("632801", scale=0.1)


def test_villages_of_a_mostly_empty_outline_lie_within_reach_of_a_seat(golmud: DemoCounty) -> None:
    # spread over the whole outline, 格尔木市's villages lay a median 55 km from a boarding school, and their Voronoi
    # cells reached so far into the desert that their travel origins (a point inside each cell) lay up to 65 km
    # from any township seat: 732 of its 1,575 units were beyond every school's reach
    blocks = golmud.inputs.blocks
    xy = shapely.get_coordinates(shapely.point_on_surface(blocks.geometry.values))
    seats = xy[(blocks["area_type"] != "rural").to_numpy()]
    far = np.hypot(*(xy[:, None, :] - seats[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    assert far.max() <= 30_000  # VILLAGE_REACH_M and the lattice's margin, from the seat's or a township's edge
    covered = blocks.geometry.union_all().area / golmud.inputs.boundary.geometry.iloc[0].area
    assert covered < 0.5  # the empty land is in no block


def test_the_seat_of_a_mostly_empty_outline_has_boarding_schools(golmud: DemoCounty, demo: DemoCounty) -> None:
    # its villages have no other township's boarding school within reach (the nearest 100 km away)
    def seat_boarding(d: DemoCounty) -> int:
        s = d.inputs.schools
        return int((s["boarding"] & (s["area_type"] == "urban")).sum())

    assert seat_boarding(golmud) >= 1
    assert seat_boarding(demo) == 0  # 清涧县's townships lie close together: its seat's schools are day schools
