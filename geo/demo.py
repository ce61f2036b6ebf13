"""The built-in demo county: a synthetic but plausible county inside a real outline.

:func:`build_demo` reads the real outline (default 清涧县, 610830) through
:mod:`geo.boundaries`; :func:`generate_county` is the pure generator that takes
the outline geometry and a seed. Everything inside the outline is generated,
deterministically (same seed → identical frames) and vectorized:

- **Settlements.** A county seat (for 清涧县 named 宽州镇, the real seat town)
  with an urban street grid elongated along a valley direction and dense
  compounds (小区/社区) in the grid cells; township seats spread through the
  county by randomized farthest-point sampling (for 清涧县 the 9 real town names
  are used, their *positions* are generated); hundreds of villages on a
  jittered lattice whose density follows a smooth random field, within 20 km
  of a seat (``VILLAGE_REACH_M``; a vast outline such as 格尔木市's is mostly
  left empty).
- **Blocks.** Voronoi cells of every compound and village centre, clipped to the
  outline (or, where villages keep within reach of the seats, to its settled
  part), so that they tile the county and neighbouring blocks share borders.
  School-age children in proportion to the population (calibration below),
  with the county seat holding most of the people (population has drained to
  it), left-behind children concentrated in villages and migrant children in
  the seat.
- **Schools.** Strong, over-full urban primary and junior schools (大班额) in the
  seat, one or more nine-year schools at its edge (boarding where the outline is
  mostly empty and no township is near), a boarding central primary
  school and a junior (or nine-year) boarding school in each township seat,
  village primary schools and teaching points (教学点) of tens of pupils.
  Today's zones (``current_*``) are the nearest school of the level (straight
  line) with 6% history noise; ``enrolled_*`` is exactly the sum of the zone's
  children. Seats exceed demand overall, but the seat's schools are tight so an
  optimal zoning differs from nearest-school zoning. Facilities follow urban–
  rural inequality (cramped urban sports grounds, half-empty rural schools with
  old equipment), so the county fails some 优质均衡 CVs as a poor county does.
- **Teachers.** Staffing by subject proportional to classes and weekly periods,
  every subject a school teaches covered (:func:`required_subjects`), backbone
  teachers concentrated in the seat, aging rural staff with young 特岗 recruits.
- **Roads.** A noded, connected network built on the Delaunay graph of all
  settlement nodes (edges kept inside the outline): a trunk road through the
  seat, a provincial road, county roads linking township seats (minimum
  spanning tree of the road distances plus a few loops), township and village
  roads connecting every village (minimum spanning tree), tracks to some end
  villages, and the seat's street grid with a few one-way streets.

Sizes: see :func:`build_demo` for what ``scale`` grows. Calibration for 清涧县
(sources in ``data/boundaries/README.md``): area 1,881 km²
(outline 1,890 km²), about 200,000 people (registered 21.00万 in 2021), 640
administrative villages (2010), 9 towns. School-age shares, the urban share,
class counts and facility figures are assumptions stated there.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import Delaunay, cKDTree
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from geo.boundaries import county_outline, resolve_county
from geo.crs import utm_crs_for
from geo.errors import InputError, Problem
from geo.model import Inputs
from geo.policy import CLASS_SIZE_JUNIOR, CLASS_SIZE_PRIMARY, CLASS_SIZE_RURAL_INCOMPLETE_PRIMARY, NATIONAL_BIRTHS_M

__all__ = [
    "AGE_COLUMNS",
    "DEMO_BASE_YEAR",
    "DEMO_SEED",
    "DemoCounty",
    "build_demo",
    "generate_county",
    "required_subjects",
    "resolve_county",
]

log = logging.getLogger(__name__)

DEMO_SEED: int = 20260901

# --- Children by age and the county's births (for the projection stage) --------------------------
#: Year the demo's children counts describe (the projection's base year).
DEMO_BASE_YEAR: Final = 2024
#: Last year of the demo's births series (history to 2024, then the mid scenario).
DEMO_BIRTHS_TO: Final = 2035
#: Yearly change of births after 2024, mid scenario (assumption): about −1 % a year, between the 2023–2024
#: rebound and the UN World Population Prospects 2024 medium variant's slow fall for China.
FUTURE_BIRTHS_GROWTH: Final = -0.01
#: A county's births fall faster than China's by this much a year per unit of its rural share of children
#: (assumption: young adults leave the villages, so village births fall first).
RURAL_BIRTH_DRIFT: Final = 0.03
#: Children aged 0–5 per primary-age child of a unit relative to the county, by area type (assumption: young
#: families live in the county seat and the towns — the rural-to-town shift of the youngest cohorts).
YOUNG_TILT: Final = MappingProxyType({"urban": 1.15, "town": 1.05, "rural": 0.80})
#: Survival of a birth cohort to its first school-year date and of children a year after (the projection's defaults).
SURVIVAL_INFANT: Final = 0.995
SURVIVAL_CHILD: Final = 0.9995
#: Columns of the blocks layer with children by single year of age 0–14 (the demo writes them).
AGE_COLUMNS: Final = tuple(f"age_{a}" for a in range(15))
QINGJIAN_CODE: Final = "610830"
# --- Candidate sites for new schools (for the layout stage) -----------------------------------------
#: Where a planner would reserve land for new schools (assumption, 义务教育学校布局专项规划 practice): the county
#: seat's new districts at the two ends of its main axis, where rural migrants settle (a nine-year school at one end,
#: a primary school at the other), and the edge of the township seats with the most children (a boarding nine-year
#: school each). Sizes: a seat nine-year school of 30 primary + 15 junior classes (≤ 2,500 pupils), a seat primary
#: school of 24 classes, a township nine-year school of 18 + 9. Whether one is built is the layout model's decision.
CANDIDATE_TOWNS: Final = 2
CANDIDATE_CLASSES: Final = MappingProxyType({"seat_nine_year": (30, 15), "seat_primary": (24, 0), "town_nine_year": (18, 9)})
#: The 9 towns of 清涧县 (public gazetteer lists, 2015 onwards); the seat first.
QINGJIAN_TOWNSHIPS: Final = (
    "宽州镇", "石咀驿镇", "折家坪镇", "玉家河镇", "高杰村镇", "李家塔镇", "店则沟镇", "解家沟镇", "下廿里铺镇",
)
MAX_SCALE: Final = 500.0
#: Above scale 1, blocks grow as ``scale``, people (pupils, teachers) as ``scale**0.6``, townships
#: and village schools as ``scale**0.4`` (scale 100: ≈ 86,000 blocks, ≈ 700 schools, ≈ 19,000 teachers).
PEOPLE_EXPONENT: Final = 0.6
SCHOOL_EXPONENT: Final = 0.4

# --- calibration (see data/boundaries/README.md for sources and assumptions) ---------
POPULATION_PER_KM2: Final = 200_000 / 1881  # 清涧县 ≈ 200,000 people on 1,881 km²
VILLAGES_PER_KM2: Final = 640 / 1881  # 640 administrative villages (2010)
TOWNSHIP_KM2: Final = 1881 / 9  # one township per ≈ 209 km² (9 towns)
#: Beyond this outline area, people and villages grow as the square root of the area, not in proportion:
#: the largest counties are the emptiest (环县, 9,236 km²: ≈ 30万 people, not the 98万 of 清涧县's density).
SETTLED_AREA_KM2: Final = 2_000.0
#: Villages lie within this distance of the county seat or a township seat; beyond it an outline is left
#: unsettled (desert, high plateau, forest) — **assumed** (25 km/h roads with a 1.3 detour: about an hour by
#: bus to the township's boarding school). Spread over the whole outline, 格尔木市's (119,200 km²) villages
#: lay a median 55 km from a boarding school, and 732 of its 1,575 units were beyond every school's reach;
#: 清涧县's (1,881 km², nine townships) all lie within it, so its demo is unchanged.
VILLAGE_REACH_M: Final = 20_000.0
#: People per km² relative to 清涧县 in the pastoral and high-plateau provinces (GB/T 2260 code prefix), as a
#: factor: 内蒙古 (15) ≈ 21/km², 西藏 (54) ≈ 3, 青海 (63) ≈ 8, 新疆 (65) ≈ 16 (2020 census, province means) against
#: 陕西 ≈ 191 — here damped (a county keeps a seat and townships of some size) — **assumed**.
SPARSE_PROVINCES: Final = MappingProxyType({"15": 0.35, "54": 0.2, "63": 0.25, "65": 0.4})
#: A city district (市辖区: the code's last two digits 01–20 under a city, :func:`is_city_district`) is mostly
#: city: at least this many people per km² of its outline, between the two bounds (e.g. 五华区, 383 km²: ≈ 57万)
#: — **assumed**.
DISTRICT_PEOPLE_PER_KM2: Final = 1_500.0
DISTRICT_PEOPLE: Final = (150_000.0, 1_200_000.0)
SHARE_SEAT, SHARE_TOWN = 0.45, 0.15  # assumed: seat 45%, township seats 15%, villages 40%
#: Children per resident by area (assumed; national 2020 census ≈ 7.2% aged 6–11, 3.6% aged 12–14,
#: lower in villages drained of young families, higher in the seat where families move for school).
PRIMARY_RATE: Final = MappingProxyType({"urban": 0.066, "town": 0.060, "rural": 0.050})
JUNIOR_RATE: Final = MappingProxyType({"urban": 0.034, "town": 0.030, "rural": 0.022})
LEFT_BEHIND_RATE: Final = MappingProxyType({"urban": 0.03, "town": 0.15, "rural": 0.38})
MIGRANT_RATE: Final = MappingProxyType({"urban": 0.12, "town": 0.04, "rural": 0.0})
LOW_INCOME_RATE: Final = MappingProxyType({"urban": 0.06, "town": 0.10, "rural": 0.16})
DISABLED_RATE: Final = 0.008
URBAN_COMPOUNDS: Final = 160  # compounds (小区/社区) in the seat at scale 1
URBAN_STREET_SPACING_M: Final = 230.0  # street grid spacing at scale 1
URBAN_ASPECT: Final = 1.8  # the seat stretches along its valley
TOWN_COMPOUNDS: Final = (4, 8)  # compounds per township seat at scale 1 (range)
TOWN_SPACING_M: Final = 220.0
PUPILS_PER_URBAN_PRIMARY: Final = 1450  # one seat primary school per ~1450 pupils
PUPILS_PER_URBAN_JUNIOR: Final = 1500
VILLAGE_SCHOOL_SHARE: Final = 0.045  # village primary schools per village
TEACHING_POINT_SHARE: Final = 0.065  # teaching points per village
TEACHING_POINT_MAX_PUPILS: Final = 60  # above this a teaching point is generated as a village school
HISTORY_NOISE: Final = 0.06  # share of blocks zoned to their 2nd-nearest school
SEAT_CAPACITY_MARGIN: Final = 1.04  # seat schools' seats / seat demand: tight

#: Weekly periods per class (义务教育课程方案 2022, averaged over grades) and
#: periods a teacher carries per week, by area type (assumed).
PRIMARY_PERIODS: Final = MappingProxyType(
    {"chinese": 7.0, "math": 4.5, "english": 1.4, "science": 1.5, "pe": 3.5, "music": 2.0, "art": 2.0,
     "morality": 2.0, "it": 0.7}
)
JUNIOR_PERIODS: Final = MappingProxyType(
    {"chinese": 5.0, "math": 5.0, "english": 4.0, "physics": 1.7, "chemistry": 1.0, "biology": 1.3,
     "history": 2.0, "geography": 1.3, "morality": 2.0, "pe": 3.0, "music": 1.0, "art": 1.0, "it": 1.0}
)
TEACHER_LOAD: Final = MappingProxyType({"urban": 16.0, "town": 13.0, "rural": 12.0})
TEACHING_POINT_SUBJECTS: Final = ("chinese", "math")
INCOMPLETE_PRIMARY_SUBJECTS: Final = ("chinese", "math", "english", "pe", "art")
SPEED_KMH: Final = MappingProxyType(
    {"trunk": 60.0, "primary": 50.0, "secondary": 40.0, "tertiary": 30.0, "unclassified": 25.0,
     "residential": 20.0, "track": 15.0}
)
_RANK: Final = ("track", "residential", "unclassified", "tertiary", "secondary", "primary", "trunk")

_SURNAMES = tuple(dict.fromkeys(
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚"
    "卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤惠折霍拓艾党呼"
))
_VILLAGE_SUFFIXES = ("沟", "塔", "坪", "峁", "畔", "岔", "渠", "坬", "圪崂", "湾", "河", "山", "硷", "墕", "庄", "砭", "寨", "洼")
_VILLAGE_PREFIXES = ("", "", "", "", "前", "后", "上", "下", "东", "西", "新")
_WORDS = (
    "秀延", "宽州", "枣园", "东关", "西关", "南关", "北关", "河滨", "阳光", "幸福", "和谐", "锦绣", "丽景", "康乐",
    "文庙", "书院", "笔架", "无定", "凤凰", "金城", "府前", "建设", "人民", "解放", "文化", "育才", "朝阳", "向阳",
    "兴华", "长青", "翠屏", "紫荆", "怡园", "御景", "城南", "城北", "滨河", "盛世", "华府", "嘉园", "新华", "团结",
    "胜利", "红旗", "友谊", "光明", "永安", "太平", "兴隆", "安居", "福源", "泰和", "春晖", "瑞景", "龙泉", "石门",
)
_COMPOUND_SUFFIXES = ("小区", "社区", "花园", "家园", "苑", "新村")
_TOWN_SYLLABLES = (
    "石", "河", "川", "坪", "沟", "塔", "家", "庄", "寨", "口", "桥", "湾", "集", "店", "堡", "岭", "峪", "原",
    "杨", "柳", "槐", "枣", "黄", "青", "白", "红", "安", "平", "永", "兴", "新", "高", "马", "龙", "凤", "金",
)
_EXEMPT_REASONS = ("患重病", "孕期或哺乳期", "照顾重病家属")
#: Common surnames of northern Shaanxi and given-name characters, for generated teacher names (姓名).
_TEACHER_SURNAMES = "王李张刘杨高贺白惠郝薛冯马霍折师曹乔徐呼"
_GIVEN = {"M": "伟强军平建国华明东海峰斌涛志勇", "F": "芳丽娟霞艳红梅静敏玲英燕琴慧萍"}
#: Salt of the generator that draws names, so adding them left every other draw as it was.
_NAME_SALT = 7
_CN_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class DemoCounty:
    """A generated county.

    Attributes
    ----------
    inputs
        Every layer, in the metric CRS (local UTM zone of the county centroid).
    code
        6-digit administrative code, e.g. ``"610830"``.
    name
        County name, e.g. ``"清涧县"``.
    stats
        Sizes: ``population``, ``area_km2``, ``townships``, ``blocks`` (and by
        area type), ``schools`` (by level and kind), ``teachers``,
        ``students_primary``/``students_junior``, ``capacity_*``, ``road_edges``,
        ``road_km``.
    births
        The county's births by year (history to :data:`DEMO_BASE_YEAR`, then the mid scenario; see
        :func:`county_births`), for the projection stage.
    candidate_sites
        Candidate sites for new schools (``site_id, name, level, lon, lat, max_classes_primary,
        max_classes_junior, boarding``; see :data:`CANDIDATE_CLASSES`), for the layout stage.
    """

    inputs: Inputs
    code: str
    name: str
    stats: Mapping[str, int | float]
    births: Mapping[int, float] = field(default_factory=lambda: MappingProxyType({}))
    candidate_sites: pd.DataFrame | None = None


def required_subjects(level: str, *, classes: int, teaching_point: bool = False) -> tuple[str, ...]:
    """Subjects a school part must have a teacher for, as the demo staffs it.

    Parameters
    ----------
    level
        ``primary`` or ``junior`` (the part of the school).
    classes
        Classes of that level.
    teaching_point
        Whether the school is a teaching point (教学点).

    Returns
    -------
    tuple of str
        Teaching points (multi-grade classes, 包班): Chinese and maths.
        Incomplete primary schools (< 6 classes): Chinese, maths, English, PE,
        art. Full primary schools: the 9 primary subjects; junior: the 13
        junior subjects.
    """
    if level == "junior":
        return tuple(JUNIOR_PERIODS)
    if teaching_point:
        return TEACHING_POINT_SUBJECTS
    if classes < 6:
        return INCOMPLETE_PRIMARY_SUBJECTS
    return tuple(PRIMARY_PERIODS)


def build_demo(county: str = QINGJIAN_CODE, *, scale: float = 1.0, seed: int = DEMO_SEED) -> DemoCounty:
    """Build the demo county inside a real county outline.

    Parameters
    ----------
    county
        County code or name (see :func:`geo.boundaries.resolve_county`);
        default 清涧县 (610830).
    scale
        Size factor (1 ≈ the real county; benchmarks use 50–100). Below 1 it
        multiplies everything; above 1 blocks grow as ``scale``, people (so
        pupils and teachers) as ``scale**0.6`` and townships and village schools
        as ``scale**0.4``: scale 100 gives ≈ 86,000 blocks, ≈ 640 schools and
        ≈ 17,000 teachers.
    seed
        Random seed; the same seed gives identical frames.

    Returns
    -------
    DemoCounty

    Raises
    ------
    InputError
        Unknown county (close matches listed) or a scale out of range.

    Example
    -------
    >>> demo = build_demo()                      # doctest: +SKIP
    >>> demo.stats["blocks"] > 500                # doctest: +SKIP
    True
    """
    code, name = resolve_county(county)
    outline = county_outline(code)
    towns = QINGJIAN_TOWNSHIPS if code == QINGJIAN_CODE else None
    trunk = "G210国道" if code == QINGJIAN_CODE else None
    return generate_county(outline, code=code, name=name, scale=scale, seed=seed, township_names=towns,
                           trunk_name=trunk)


def generate_county(
    outline: BaseGeometry,
    *,
    code: str,
    name: str,
    scale: float = 1.0,
    seed: int = DEMO_SEED,
    township_names: Sequence[str] | None = None,
    trunk_name: str | None = None,
) -> DemoCounty:
    """Generate a synthetic county inside ``outline`` (pure: no I/O).

    Parameters
    ----------
    outline
        County (Multi)Polygon in EPSG:4326 lon/lat.
    code, name
        County code and name, used in ids and school names.
    scale
        Size factor, as in :func:`build_demo`.
    seed
        Random seed.
    township_names
        Township names, the seat town first; generated when not given (and for
        the extra townships of a scale above 1).
    trunk_name
        Name of the trunk road through the seat (generated when not given).

    Returns
    -------
    DemoCounty

    Raises
    ------
    InputError
        If ``scale`` is not in (0, 500] or the outline is empty or not a polygon.
    """
    problems = []
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and 0 < scale <= MAX_SCALE):
        problems.append(Problem("demo", f"scale must be a number in (0, {MAX_SCALE:g}], got {scale!r}", column="scale"))
    if outline is None or outline.is_empty or outline.geom_type not in ("Polygon", "MultiPolygon"):
        problems.append(Problem("boundary", "the county outline must be a non-empty (Multi)Polygon", row=code))
    if problems:
        raise InputError(problems)
    g = _Generator(outline, code=code, name=name, scale=float(scale), seed=seed,
                   township_names=township_names, trunk_name=trunk_name)
    return g.run()


# ----------------------------------------------------------------------------- ages and births


def _cohort_survival(age: int) -> float:
    return SURVIVAL_INFANT * SURVIVAL_CHILD ** max(age - 1, 0) if age > 0 else SURVIVAL_INFANT


def county_births(primary_children: float, rural_share: float) -> dict[int, float]:
    """The demo county's births, 2010–:data:`DEMO_BIRTHS_TO` (the real county's series is not available offline).

    China's births (:data:`geo.policy.NATIONAL_BIRTHS_M`, 17.86 M in 2016, 9.02 M in 2023), falling
    :data:`RURAL_BIRTH_DRIFT` × ``rural_share`` a year faster from 2016, after 2024 changing
    :data:`FUTURE_BIRTHS_GROWTH` a year (mid scenario), scaled so that the cohorts of primary age
    (6–11) in :data:`DEMO_BASE_YEAR`, survived, are the county's ``primary_children``.
    """
    last = max(NATIONAL_BIRTHS_M)
    raw = {y: NATIONAL_BIRTHS_M[min(y, last)] * (1 + FUTURE_BIRTHS_GROWTH) ** max(y - last, 0)
           * (1 - RURAL_BIRTH_DRIFT * rural_share) ** (y - 2016) for y in range(min(NATIONAL_BIRTHS_M), DEMO_BIRTHS_TO + 1)}
    cohorts = sum(raw[DEMO_BASE_YEAR - a] * _cohort_survival(a) for a in range(6, 12))
    scale = primary_children / cohorts if cohorts > 0 else 0.0
    return {y: round(v * scale, 1) for y, v in raw.items()}


def _split(total: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(n, k)`` whole children: each row's ``total`` split by ``weights``, rows summing exactly.

    Systematic rounding of the cumulative shares with an offset that differs row by row (golden-ratio
    sequence), so that no column is favoured over many rows, without random draws.
    """
    exact = total[:, None].astype(float) * (weights / weights.sum())[None, :]
    offset = (np.arange(len(total)) * 0.6180339887498949) % 1.0
    cum = np.floor(np.cumsum(exact, axis=1) + offset[:, None] + 1e-9).astype(np.int64)
    out = np.diff(np.concatenate([np.floor(offset[:, None] + 1e-9).astype(np.int64), cum], axis=1), axis=1)
    out[:, -1] += total.astype(np.int64) - out.sum(axis=1)
    return out


def block_ages(primary: np.ndarray, junior: np.ndarray, area: np.ndarray, births: Mapping[int, float]) -> np.ndarray:
    """``(n, 15)`` children by single year of age per unit, consistent with its primary (6–11) and junior (12–14) counts.

    Ages 6–14 split each unit's counts by the county's cohorts (births of the year of birth, survived);
    ages 0–5 are the county's cohorts placed on the units by their primary-age children times
    :data:`YOUNG_TILT` of their area type, rounded per unit.
    """
    cohort = np.array([births[DEMO_BASE_YEAR - a] * _cohort_survival(a) for a in range(15)])
    out = np.zeros((len(primary), 15), dtype=np.int64)
    out[:, 6:12] = _split(primary, cohort[6:12])
    out[:, 12:15] = _split(junior, cohort[12:15])
    weight = primary * np.array([YOUNG_TILT.get(str(a), 1.0) for a in area])
    if weight.sum() > 0:
        young = np.rint(weight * cohort[:6].sum() / weight.sum()).astype(np.int64)
        out[:, :6] = _split(young, cohort[:6])
    return out


# ----------------------------------------------------------------------------- helpers


def settled_km2(code: str, area_km2: float) -> float:
    """The area that sets a generated county's people and villages (see :data:`SETTLED_AREA_KM2`).

    In proportion up to :data:`SETTLED_AREA_KM2`, then as the square root, times the province's
    :data:`SPARSE_PROVINCES` factor.
    """
    settled = area_km2 if area_km2 <= SETTLED_AREA_KM2 else SETTLED_AREA_KM2 * math.sqrt(area_km2 / SETTLED_AREA_KM2)
    return settled * SPARSE_PROVINCES.get(str(code)[:2], 1.0)


def is_city_district(code: str) -> bool:
    """Whether a GB/T 2260 code is a city district (市辖区).

    Districts are numbered 01–20 under a city: a prefecture-level city or a municipality, whose third and
    fourth digits are 01–20 or 51–70. Under a prefecture, an autonomous prefecture or a league (21–50) and
    among the county-level units a province governs itself (90), 01–20 number county-level cities: 格尔木市
    (632801, 119,000 km², ≈ 22万 people) was generated as a district of 120万 people, 14,000 of its pupils
    beyond any school.
    """
    code = str(code)
    if len(code) != 6 or not code.isdigit():
        return False
    parent, unit = int(code[2:4]), int(code[4:])
    return (1 <= parent <= 20 or 51 <= parent <= 70) and 1 <= unit <= 20


def county_people(code: str, area_km2: float) -> float:
    """People of a generated county at scale 1: 清涧县's density over the settled area; a city district
    (:func:`is_city_district`) at least :data:`DISTRICT_PEOPLE_PER_KM2` (times the province's sparse factor)
    of its whole area, within :data:`DISTRICT_PEOPLE`."""
    people = POPULATION_PER_KM2 * settled_km2(code, area_km2)
    code = str(code)
    if is_city_district(code):
        lo, hi = DISTRICT_PEOPLE
        density = DISTRICT_PEOPLE_PER_KM2 * SPARSE_PROVINCES.get(code[:2], 1.0)
        people = max(people, min(max(density * area_km2, lo), hi))
    return people


def _cn_number(n: int) -> str:
    """Chinese numeral for 1 ≤ n < 10000 (as in 第十二中学)."""
    if n < 10:
        return _CN_DIGITS[n]
    if n < 20:
        return "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    out, zero = "", False
    for unit, size in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        d = (n // size) % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _CN_DIGITS[d] + unit
    return out


def _inside(poly: BaseGeometry, xy: np.ndarray) -> np.ndarray:
    return shapely.contains_xy(poly, xy[:, 0], xy[:, 1]) if len(xy) else np.zeros(0, dtype=bool)


def _compass(v: np.ndarray) -> str:
    """东, 西, 南 or 北: the main direction of the vector ``v`` (x east, y north)."""
    if abs(v[0]) >= abs(v[1]):
        return "东" if v[0] >= 0 else "西"
    return "北" if v[1] >= 0 else "南"


def _rot(theta: float) -> tuple[np.ndarray, np.ndarray]:
    return np.array([math.cos(theta), math.sin(theta)]), np.array([-math.sin(theta), math.cos(theta)])


def _sample_names(rng: np.random.Generator, pool: list[str], n: int) -> list[str]:
    if n <= len(pool):
        return [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]
    return [pool[i] for i in rng.integers(0, len(pool), size=n)]


def _village_pool() -> list[str]:
    return [p + s + "家" + x for p in dict.fromkeys(_VILLAGE_PREFIXES) for s in _SURNAMES for x in _VILLAGE_SUFFIXES]


def _compound_pool() -> list[str]:
    return [w + s for w in _WORDS for s in _COMPOUND_SUFFIXES]


def _town_names(rng: np.random.Generator, n: int, given: Sequence[str] | None) -> list[str]:
    names = list(given or ["城关镇"])[:n]
    seen = set(names)
    while len(names) < n:
        a, b = rng.integers(0, len(_TOWN_SYLLABLES), size=2)
        cand = _TOWN_SYLLABLES[a] + _TOWN_SYLLABLES[b] + ("镇" if rng.random() < 0.7 else "乡")
        if cand not in seen and a != b:
            seen.add(cand)
            names.append(cand)
    return names


def _id_width(n: int) -> int:
    return max(4, len(str(n)))


def _school(kind: str, level: str, area: str, *, town: int, pos: np.ndarray, name: str, host: int) -> dict[str, Any]:
    """One generated school: its kind, level, area type, township, position, name and host block."""
    return {"kind": kind, "level": level, "area_type": area, "town": town, "x": float(pos[0]), "y": float(pos[1]),
            "name": name, "host": host}  # fmt: skip


def _spread(xy: np.ndarray, candidates: list[int], limit: int, *, min_sep: float) -> list[int]:
    """Up to ``limit`` of ``candidates`` (in order), each at least ``min_sep`` from those taken before."""
    picked: list[int] = []
    cell: dict[tuple[int, int], list[int]] = {}
    for b in candidates:
        if len(picked) >= limit:
            break
        cx, cy = int(xy[b, 0] // min_sep), int(xy[b, 1] // min_sep)
        near = [q for dx in (-1, 0, 1) for dy in (-1, 0, 1) for q in cell.get((cx + dx, cy + dy), ())]
        if near and np.min(np.hypot(*(xy[near] - xy[b]).T)) < min_sep:
            continue
        picked.append(b)
        cell.setdefault((cx, cy), []).append(b)
    return picked


def _path_to(pred: np.ndarray, target: int) -> list[int]:
    """Nodes of the path from the root of a shortest-path tree to ``target``."""
    out = [target]
    while pred[out[-1]] >= 0:
        out.append(int(pred[out[-1]]))
    return out[::-1]


@dataclass
class _RoadGraph:
    """Candidate road edges between settlement nodes, and the class and name each is given so far."""

    nodes: np.ndarray  # (n, 2): the seat's street grid, then township compounds, then villages
    n_grid: int
    is_grid: np.ndarray
    edges: np.ndarray  # (m, 2) candidate edges (node pairs)
    length: np.ndarray  # their lengths (m)
    weights: sparse.csr_matrix  # symmetric road-distance graph of the candidates
    eid: dict[tuple[int, int], int]  # (low node, high node) → candidate edge
    rank: np.ndarray  # index into _RANK; -1 = not a road (yet)
    names: np.ndarray  # road names (object; None = unnamed)

    def mark(self, path: list[int], cls: str, name: str | None) -> None:
        """Raise the edges along ``path`` to class ``cls`` (named ``name``) where they rank lower."""
        r = _RANK.index(cls)
        for a, b in itertools.pairwise(path):
            k = self.eid[(min(a, b), max(a, b))]
            if r > self.rank[k]:
                self.rank[k] = r
                self.names[k] = name


def _join_pieces(
    nodes: np.ndarray, cand_e: np.ndarray, cand_len: np.ndarray, rest_e: np.ndarray, rest_len: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate edges joined into one piece (multi-part counties, narrow necks) by the fewest, shortest leftovers.

    A spanning tree in which the candidate edges are (nearly) free picks the leftover edges to add.
    """
    n = len(nodes)
    g = sparse.coo_matrix((np.ones(len(cand_e)), (cand_e[:, 0], cand_e[:, 1])), shape=(n, n))
    if csgraph.connected_components(g, directed=False)[0] <= 1:
        return cand_e, cand_len
    all_e = np.vstack([cand_e, rest_e])
    all_w = np.concatenate([np.full(len(cand_e), 1e-6), 1e6 + rest_len])
    t = csgraph.minimum_spanning_tree(
        sparse.coo_matrix((all_w, (all_e[:, 0], all_e[:, 1])), shape=(n, n)).tocsr()).tocoo()
    link = t.data >= 1e6
    extra = np.sort(np.column_stack([t.row[link], t.col[link]]), axis=1)
    cand_e = np.vstack([cand_e, extra])
    cand_len = np.concatenate([cand_len, np.hypot(*(nodes[extra[:, 0]] - nodes[extra[:, 1]]).T)])
    return cand_e, cand_len


# ----------------------------------------------------------------------------- generator


def _teacher_names(rng: np.random.Generator, sex: np.ndarray) -> np.ndarray:
    """A surname and one or two given-name characters per teacher, by sex (generated, not real people)."""
    n = len(sex)
    surname = np.array(list(_TEACHER_SURNAMES))[rng.integers(0, len(_TEACHER_SURNAMES), n)]
    two = rng.random(n) < 0.6
    out = np.empty(n, dtype=object)
    for i in range(n):
        chars = _GIVEN["F" if sex[i] == "F" else "M"]
        given = "".join(chars[j] for j in rng.integers(0, len(chars), 2 if two[i] else 1))
        out[i] = surname[i] + given
    return out


class _Generator:
    """One generation run; methods fill arrays step by step from one rng."""

    def __init__(self, outline: BaseGeometry, *, code: str, name: str, scale: float, seed: int,
                 township_names: Sequence[str] | None, trunk_name: str | None) -> None:
        self.code, self.name, self.scale, self.seed = code, name, scale, seed
        self.rng = np.random.default_rng(seed)
        c = outline.centroid
        self.crs = utm_crs_for(c.x, c.y)
        self.to_metric = pyproj.Transformer.from_crs(4326, self.crs, always_xy=True)
        self.to_wgs = pyproj.Transformer.from_crs(self.crs, 4326, always_xy=True)
        poly = shapely.transform(outline, lambda xy: np.column_stack(self.to_metric.transform(xy[:, 0], xy[:, 1])))
        self.poly = shapely.make_valid(poly) if not poly.is_valid else poly
        shapely.prepare(self.poly)
        self.area_km2 = self.poly.area / 1e6
        self.settled_m2 = self.area_km2 * 1e6  # where villages lie (:meth:`_village_lattice`)
        self.land: BaseGeometry = self.poly  # what the blocks cover: the outline, or its settled part
        self.given_towns = township_names
        self.trunk_name = trunk_name
        self.births: dict[int, float] = {}  # the county's births, set with the blocks frame (county_births)
        # blocks grow with the scale; people (so pupils and teachers) and schools more slowly, so
        # that scale 100 gives tens of thousands of blocks, hundreds of schools and tens of
        # thousands of teachers, as the benchmarks need
        self.people_factor = scale if scale <= 1 else scale**PEOPLE_EXPONENT
        self.school_factor = scale if scale <= 1 else scale**SCHOOL_EXPONENT

    # ---------------------------------------------------------------- settlements

    def _candidates(self, n: int) -> np.ndarray:
        minx, miny, maxx, maxy = self.poly.bounds
        out = np.empty((0, 2))
        while len(out) < n:
            xy = np.column_stack([self.rng.uniform(minx, maxx, 4 * n), self.rng.uniform(miny, maxy, 4 * n)])
            out = np.vstack([out, xy[_inside(self.poly, xy)]])
        return out[:n]

    def place_seats(self) -> None:
        base = len(self.given_towns) if self.given_towns else int(np.clip(round(self.area_km2 / TOWNSHIP_KM2), 5, 14))
        n = max(base, round(base * self.school_factor)) if self.scale > 1 else base
        cand = self._candidates(6000)
        depth = shapely.distance(self.poly.boundary, shapely.points(cand))
        deep = np.flatnonzero(depth >= 0.35 * depth.max())
        seat = cand[self.rng.choice(deep)]
        ok = cand[depth >= min(1500.0, 0.2 * depth.max())]
        _, a, _ = self._seat_axes()
        ok = ok[np.hypot(*(ok - seat).T) > a + 2 * TOWN_SPACING_M * 4]  # townships lie outside the seat
        chosen = [seat]
        dmin = np.hypot(*(ok - seat).T)
        for _ in range(n - 1):
            score = dmin * self.rng.uniform(0.75, 1.0, len(ok))
            p = ok[int(np.argmax(score))]
            chosen.append(p)
            dmin = np.minimum(dmin, np.hypot(*(ok - p).T))
        self.town_xy = np.array(chosen)
        self.town_names = _town_names(self.rng, n, self.given_towns)
        self.theta = float(self.rng.uniform(0, math.pi))

    def _seat_axes(self) -> tuple[float, float, float]:
        """Street spacing and semi-axes of the seat's urban ellipse, metres."""
        d = URBAN_STREET_SPACING_M / self.scale**0.25
        area = max(12, round(URBAN_COMPOUNDS * self.scale)) * d * d
        a = math.sqrt(area * URBAN_ASPECT / math.pi)
        return d, a, a / URBAN_ASPECT

    def build_seat(self) -> None:
        d, a, b = self._seat_axes()
        u, v = _rot(self.theta)
        imax, jmax = int(a / d) + 2, int(b / d) + 2
        mesh_i, mesh_j = np.meshgrid(np.arange(-imax, imax + 1), np.arange(-jmax, jmax + 1), indexing="ij")
        ii, jj = mesh_i.ravel(), mesh_j.ravel()
        inside_e = (ii * d / (a + d)) ** 2 + (jj * d / (b + d)) ** 2 <= 1.0
        xy = self.town_xy[0] + np.outer(ii * d, u) + np.outer(jj * d, v)
        keep = inside_e & _inside(self.poly, xy)
        # keep the grid nodes connected to the centre only (a concave outline may cut it)
        ii, jj, xy = ii[keep], jj[keep], xy[keep]
        key = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(ii, jj))}
        e = [(key[(i, j)], key[(i + 1, j)]) for (i, j) in key if (i + 1, j) in key]
        e += [(key[(i, j)], key[(i, j + 1)]) for (i, j) in key if (i, j + 1) in key]
        e_arr = np.array(e, dtype=np.int64).reshape(-1, 2)
        g = sparse.coo_matrix((np.ones(len(e_arr)), (e_arr[:, 0], e_arr[:, 1])), shape=(len(xy), len(xy)))
        _, lab = csgraph.connected_components(g, directed=False)
        centre = key.get((0, 0), int(np.argmin(np.abs(ii) + np.abs(jj))))
        main = lab == lab[centre]
        remap = np.cumsum(main) - 1
        self.grid_xy = xy[main] + self.rng.normal(0, 0.01 * d, (int(main.sum()), 2))
        self.grid_ij = np.column_stack([ii[main], jj[main]])
        m = main[e_arr[:, 0]] & main[e_arr[:, 1]]
        self.grid_edges = remap[e_arr[m]]
        self.grid_centre = int(remap[centre])
        # compounds in the cells whose four corners are streets
        gk = {(int(i), int(j)) for i, j in self.grid_ij}
        cells = [(i, j) for (i, j) in sorted(gk) if {(i + 1, j), (i, j + 1), (i + 1, j + 1)} <= gk]
        cij = np.array(cells, dtype=float).reshape(-1, 2) + 0.5
        cxy = self.town_xy[0] + np.outer(cij[:, 0] * d, u) + np.outer(cij[:, 1] * d, v)
        cxy += self.rng.uniform(-0.18 * d, 0.18 * d, cxy.shape)
        self.urban_xy = cxy[_inside(self.poly, cxy)]
        self.seat_d = d

    def build_towns(self) -> None:
        sp = TOWN_SPACING_M / self.scale ** 0.25
        k = np.arange(-6, 7)
        ii, jj = np.meshgrid(k, k, indexing="ij")
        offs = np.column_stack([ii.ravel(), jj.ravel()]) * sp
        offs = offs[np.argsort(np.hypot(*offs.T), kind="stable")]
        xs, owner = [], []
        lo, hi = TOWN_COMPOUNDS
        for t in range(1, len(self.town_xy)):
            n = int(self.rng.integers(lo, hi + 1) * max(self.scale, 1.0) ** (1 - SCHOOL_EXPONENT))
            n = min(n, len(offs))
            pts = self.town_xy[t] + offs[:n] + self.rng.uniform(-0.15 * sp, 0.15 * sp, (n, 2))
            pts[0] = self.town_xy[t]
            pts = pts[_inside(self.poly, pts)]
            xs.append(pts)
            owner.append(np.full(len(pts), t))
        self.townc_xy = np.vstack(xs) if xs else np.empty((0, 2))
        self.townc_town = np.concatenate(owner) if owner else np.empty(0, dtype=np.int64)

    def _village_lattice(self, n: int) -> tuple[np.ndarray, float]:
        """Sites for ``n`` villages: a triangular lattice over the outline within :data:`VILLAGE_REACH_M` of a
        seat, and its spacing (over the settled part only where the reach leaves some of the outline out)."""
        lat, s = self._lattice(self.poly, self.settled_m2, n)
        near = cKDTree(self.town_xy).query(lat)[0] <= VILLAGE_REACH_M
        if not near.all():
            seats = shapely.points(self.town_xy)
            settled = self.poly.intersection(shapely.union_all(shapely.buffer(seats, VILLAGE_REACH_M)))
            self.settled_m2 = settled.area
            lat, s = self._lattice(settled, self.settled_m2, n)
            # the blocks cover the settled part (with a margin for the jitter): a village's Voronoi cell
            # reaching into the empty land beyond put its travel origin there, tens of km from the village
            self.land = self.poly.intersection(shapely.union_all(shapely.buffer(seats, VILLAGE_REACH_M + s)))
            shapely.prepare(self.land)
        return lat, s

    @staticmethod
    def _lattice(poly: BaseGeometry, area_m2: float, n: int) -> tuple[np.ndarray, float]:
        """The points of a triangular lattice of about ``n`` points over ``area_m2`` that lie in ``poly``, and its spacing."""
        s = math.sqrt(2.0 * area_m2 / (math.sqrt(3.0) * n)) * 0.9
        minx, miny, maxx, maxy = poly.bounds
        rows = np.arange(miny, maxy + s, s * math.sqrt(3.0) / 2.0)
        cols = np.arange(minx, maxx + s, s)
        xx, yy = np.meshgrid(cols, rows)
        xx = xx + (np.arange(len(rows))[:, None] % 2) * s / 2.0
        lat = np.column_stack([xx.ravel(), yy.ravel()])
        return lat[_inside(poly, lat)], s

    def build_villages(self) -> None:
        n = max(20, round(settled_km2(self.code, self.area_km2) * VILLAGES_PER_KM2 * self.scale))
        lat, s = self._village_lattice(n)
        minx, miny, maxx, maxy = self.poly.bounds
        jit = lat + self.rng.uniform(-0.35 * s, 0.35 * s, lat.shape)
        ok = _inside(self.poly, jit)
        pts = np.where(ok[:, None], jit, lat)
        built = np.vstack([self.grid_xy, self.urban_xy, self.townc_xy])
        dist, _ = cKDTree(built).query(pts)
        pts = pts[dist >= 0.6 * s]
        # density follows a smooth random field (valleys, ridges)
        k = 12
        centres = np.column_stack([self.rng.uniform(minx, maxx, k), self.rng.uniform(miny, maxy, k)])
        amp = self.rng.normal(0, 1, k)
        sig = 0.15 * max(maxx - minx, maxy - miny)
        d2 = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        field = (amp[None, :] * np.exp(-d2 / (2 * sig * sig))).sum(1)
        w = np.exp(0.9 * field)
        n = min(n, len(pts))
        pick = np.sort(self.rng.choice(len(pts), size=n, replace=False, p=w / w.sum()))
        self.village_xy = pts[pick]

    # ---------------------------------------------------------------- blocks

    def build_blocks(self) -> None:
        rng = self.rng
        n_u, n_t, n_v = len(self.urban_xy), len(self.townc_xy), len(self.village_xy)
        xy = np.vstack([self.urban_xy, self.townc_xy, self.village_xy])
        area = np.array(["urban"] * n_u + ["town"] * n_t + ["rural"] * n_v, dtype=object)
        _, near_town = cKDTree(self.town_xy).query(xy)
        town = near_town.copy()
        town[:n_u] = 0
        town[n_u:n_u + n_t] = self.townc_town
        pop_total = county_people(self.code, self.area_km2) * self.people_factor
        pop_f = np.empty(len(xy))
        for sl, part, sigma in ((slice(0, n_u), SHARE_SEAT, 0.35), (slice(n_u, n_u + n_t), SHARE_TOWN, 0.4),
                                (slice(n_u + n_t, None), 1 - SHARE_SEAT - SHARE_TOWN, 0.7)):
            w = rng.lognormal(0.0, sigma, len(pop_f[sl]))
            pop_f[sl] = pop_total * part * w / w.sum() if len(w) else 0
        pop = np.maximum(np.round(pop_f), 5).astype(np.int64)
        rate_p = np.array([PRIMARY_RATE[a] for a in area])
        rate_j = np.array([JUNIOR_RATE[a] for a in area])
        sp = rng.binomial(pop, rate_p)
        sj = rng.binomial(pop, rate_j)
        kids = sp + sj

        def share(rates: Mapping[str, float]) -> np.ndarray:
            return rng.binomial(kids, np.array([rates[a] for a in area]))

        left, migr, low = share(LEFT_BEHIND_RATE), share(MIGRANT_RATE), share(LOW_INCOME_RATE)
        migr = np.minimum(migr, kids - left)
        dis = rng.binomial(kids, DISABLED_RATE)
        # Voronoi cells of the centres, clipped to the outline, one polygon each
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=self.poly, ordered=True))
        if len(cells) != len(xy):  # pragma: no cover - GEOS returns one cell per distinct point
            raise RuntimeError("Voronoi cells do not match the block centres")
        clip = ~shapely.contains(self.land, cells)  # prepared outline: only border cells are cut
        cells[clip] = shapely.intersection(cells[clip], self.land)
        parts, idx = shapely.get_parts(cells, return_index=True)
        poly_part = shapely.get_type_id(parts) == 3
        has = poly_part & shapely.contains_xy(parts, xy[idx, 0], xy[idx, 1])
        first = np.full(len(xy), -1)
        hit = np.flatnonzero(has)[::-1]
        first[idx[hit]] = hit
        areas = np.where(poly_part, shapely.area(parts), -1.0)
        biggest = pd.Series(areas).groupby(idx).idxmax().to_numpy()
        first = np.where(first >= 0, first, biggest)
        geoms = parts[first]
        names = self._block_names(n_u, n_t, n_v, town)
        width = _id_width(len(xy))
        prefix = np.array(["U"] * n_u + ["T"] * n_t + ["V"] * n_v, dtype=object)
        ids = [f"{self.code}{p}{i:0{width}d}" for i, p in enumerate(prefix, start=1)]
        self.blk = pd.DataFrame(
            {"block_id": ids, "name": names, "students_primary": sp.astype(np.int64),
             "students_junior": sj.astype(np.int64), "area_type": area, "town": town, "population": pop,
             "left_behind": left.astype(np.int64), "migrant": migr.astype(np.int64), "disabled": dis.astype(np.int64),
             "low_income": low.astype(np.int64), "x": xy[:, 0], "y": xy[:, 1]}
        )
        self.blk_geom = geoms

    def _block_names(self, n_u: int, n_t: int, n_v: int, town: np.ndarray) -> list[str]:
        urban = _sample_names(self.rng, _compound_pool(), n_u)
        town_names = []
        counter: dict[int, int] = {}
        for t in self.townc_town:
            counter[int(t)] = counter.get(int(t), 0) + 1
            k = counter[int(t)]
            base = self.town_names[int(t)][:-1]
            town_names.append(f"{base}{'街道社区' if k == 1 else _cn_number(k - 1) + '组小区'}")
        villages = [v + "村" for v in _sample_names(self.rng, _village_pool(), n_v)]
        return urban + town_names + villages

    # ---------------------------------------------------------------- schools

    def _kmeans_sites(self, xy: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
        """Indices of ``k`` distinct points of ``xy`` near weighted k-means centres."""
        k = min(k, len(xy))
        init = self.rng.choice(len(xy), size=k, replace=False, p=(w + 1) / (w + 1).sum())
        c = xy[init].copy()
        for _ in range(12):
            _, lab = cKDTree(c).query(xy)
            wsum = np.bincount(lab, weights=w + 1e-9, minlength=k)
            cx = np.bincount(lab, weights=(w + 1e-9) * xy[:, 0], minlength=k)
            cy = np.bincount(lab, weights=(w + 1e-9) * xy[:, 1], minlength=k)
            moved = wsum > 0
            c[moved] = np.column_stack([cx[moved] / wsum[moved], cy[moved] / wsum[moved]])
        _, order = cKDTree(xy).query(c, k=min(k, len(xy)))
        order = np.atleast_2d(order)
        sites, used = [], set()
        for row in order:
            for j in np.atleast_1d(row):
                if int(j) not in used:
                    used.add(int(j))
                    sites.append(int(j))
                    break
        return np.array(sites, dtype=np.int64)

    def build_schools(self) -> None:
        xy = self.blk[["x", "y"]].to_numpy()
        recs: list[dict[str, Any]] = []
        self._seat_schools(recs, xy)
        self._town_schools(recs, xy)
        self._village_schools(recs, xy)
        sch = pd.DataFrame(recs)
        sch["x"] = np.where(_inside(self.poly, sch[["x", "y"]].to_numpy()), sch["x"], xy[sch["host"], 0])
        sch["y"] = np.where(_inside(self.poly, sch[["x", "y"]].to_numpy()), sch["y"], xy[sch["host"], 1])
        w = _id_width(len(sch))
        sch["school_id"] = [f"{self.code}{i:0{w}d}" for i in range(1, len(sch) + 1)]
        self.sch = sch

    def _seat_schools(self, recs: list[dict[str, Any]], xy: np.ndarray) -> None:
        """The seat's primary, junior and nine-year schools, at weighted k-means sites among its compounds."""
        rng, blk = self.rng, self.blk
        urb = np.flatnonzero(blk["area_type"].to_numpy() == "urban")
        sp_u = int(blk["students_primary"].to_numpy()[urb].sum())
        sj_u = int(blk["students_junior"].to_numpy()[urb].sum())
        n_p = max(2, round(sp_u / PUPILS_PER_URBAN_PRIMARY))
        n_9 = max(1, round(n_p / 4))
        n_j = max(1, round(sj_u / PUPILS_PER_URBAN_JUNIOR) - n_9 // 2)
        seat = self.town_xy[0]
        w_p = blk["students_primary"].to_numpy()[urb].astype(float)
        prim_sites = urb[self._kmeans_sites(xy[urb], w_p, n_p + n_9)]
        dist_c = np.hypot(*(xy[prim_sites] - seat).T)
        prim_sites = prim_sites[np.argsort(dist_c, kind="stable")]
        nine_sites, prim_sites = prim_sites[len(prim_sites) - n_9:], prim_sites[: len(prim_sites) - n_9]
        w_j = blk["students_junior"].to_numpy()[urb].astype(float)
        jun_sites = urb[self._kmeans_sites(xy[urb], w_j, n_j)]
        jun_sites = jun_sites[np.argsort(np.hypot(*(xy[jun_sites] - seat).T), kind="stable")]

        def off() -> np.ndarray:  # schools sit inside their compound
            return rng.normal(0, 0.12 * self.seat_d, 2)

        for k, b in enumerate(prim_sites, start=1):
            kind = "urban_strong" if k <= max(1, (len(prim_sites) + 1) // 2) else "urban"
            recs.append(_school(kind, "primary", "urban", town=0, pos=xy[b] + off(), name=f"{self.name}第{_cn_number(k)}小学", host=int(b)))
        for k, b in enumerate(jun_sites, start=1):
            kind = "urban_strong" if k <= max(1, (len(jun_sites) + 1) // 2) else "urban"
            recs.append(_school(kind, "junior", "urban", town=0, pos=xy[b] + off(), name=f"{self.name}第{_cn_number(k)}中学", host=int(b)))
        for k, b in enumerate(nine_sites, start=1):
            name = f"{self.name}实验学校" if k == 1 else f"{self.name}第{_cn_number(k - 1)}九年制学校"
            recs.append(_school("urban", "nine_year", "urban", town=0, pos=xy[b] + off(), name=name, host=int(b)))

    def _town_schools(self, recs: list[dict[str, Any]], xy: np.ndarray) -> None:
        """Township seats: a central primary and a junior school, or one nine-year school."""
        rng, blk = self.rng, self.blk
        is_town = np.flatnonzero(blk["area_type"].to_numpy() == "town")
        tws, pos = np.unique(blk["town"].to_numpy()[is_town], return_index=True)
        town_first = {int(t): int(is_town[p]) for t, p in zip(tws, pos)}
        for t in range(1, len(self.town_xy)):
            if t not in town_first:
                continue
            b = town_first[t]
            tn = self.town_names[t]
            if rng.random() < 0.55:
                recs.append(_school("town", "primary", "town", town=t, pos=xy[b] + rng.normal(0, 60, 2), name=f"{tn}中心小学", host=b))
                recs.append(_school("town", "junior", "town", town=t, pos=xy[b] + rng.normal(0, 120, 2), name=f"{tn}初级中学", host=b))
            else:
                recs.append(_school("town", "nine_year", "town", town=t, pos=xy[b] + rng.normal(0, 60, 2), name=f"{tn}九年制学校", host=b))

    def _village_schools(self, recs: list[dict[str, Any]], xy: np.ndarray) -> None:
        """Village primary schools and teaching points, far from other schools and from each other."""
        rng, blk = self.rng, self.blk
        vil = np.flatnonzero(blk["area_type"].to_numpy() == "rural")
        base_vil = len(vil) / self.scale
        n_vs = max(1, round(VILLAGE_SCHOOL_SHARE * base_vil * self.school_factor))
        n_tp = max(1, round(TEACHING_POINT_SHARE * base_vil * self.school_factor))
        sch_xy = np.array([[r["x"], r["y"]] for r in recs])
        dist, _ = cKDTree(sch_xy).query(xy[vil])
        vs = math.sqrt(self.settled_m2 / max(n_vs + n_tp, 1)) / 3.0  # ≈ village spacing at scale 1 (settled part)
        weight = (blk["students_primary"].to_numpy()[vil] + 1.0) * dist * rng.uniform(0.5, 1.0, len(vil))
        order = vil[np.argsort(-weight, kind="stable")]
        far = dist[np.searchsorted(vil, order)] >= 1.8 * vs
        picked = _spread(xy, order[far].tolist(), n_vs + n_tp, min_sep=2.2 * vs)
        block_name, block_town = blk["name"].to_numpy(), blk["town"].to_numpy()
        for k, b in enumerate(picked):
            vname = block_name[b].removesuffix("村")
            t = int(block_town[b])
            if k < n_vs:
                recs.append(_school("village", "primary", "rural", town=t, pos=xy[b] + rng.normal(0, 40, 2), name=f"{vname}小学", host=b))
            else:
                recs.append(_school("teaching_point", "primary", "rural", town=t, pos=xy[b] + rng.normal(0, 40, 2), name=f"{vname}教学点", host=b))

    def assign_current(self) -> None:
        rng, blk, sch = self.rng, self.blk, self.sch
        xy = blk[["x", "y"]].to_numpy()
        urban_blk = blk["area_type"].to_numpy() == "urban"
        hosts = np.zeros(len(blk), dtype=bool)
        hosts[sch["host"].to_numpy()] = True
        for level in ("primary", "junior"):
            teaches = sch["level"].isin([level, "nine_year"]).to_numpy()
            cand = np.flatnonzero(teaches)
            urban_c = cand[sch["area_type"].to_numpy()[cand] == "urban"]
            pick = np.empty(len(blk), dtype=np.int64)
            for mask, pool in ((urban_blk, urban_c), (~urban_blk, cand)):
                if not mask.any():
                    continue
                k = min(2, len(pool))
                _, nn = cKDTree(sch[["x", "y"]].to_numpy()[pool]).query(xy[mask], k=k)
                nn = nn.reshape(int(mask.sum()), k)
                noisy = (rng.random(int(mask.sum())) < HISTORY_NOISE) & (k > 1) & ~hosts[mask]
                choice = np.where(noisy, nn[:, -1], nn[:, 0])
                pick[mask] = pool[choice]
            # every school keeps its host block
            host_b = sch["host"].to_numpy()[cand]
            pick[host_b] = cand
            blk[f"current_{level}"] = sch["school_id"].to_numpy()[pick]
            sch[f"enrolled_{level}"] = np.bincount(pick, weights=blk[f"students_{level}"].to_numpy(),
                                                   minlength=len(sch)).astype(np.int64)
            sch.loc[~teaches, f"enrolled_{level}"] = 0

    def size_schools(self) -> None:
        rng, sch = self.rng, self.sch
        n = len(sch)
        # a "teaching point" that drew more than its share of pupils is a small village school
        big = (sch["kind"] == "teaching_point") & (sch["enrolled_primary"] > TEACHING_POINT_MAX_PUPILS)
        sch.loc[big, "kind"] = "village"
        sch.loc[big, "name"] = sch.loc[big, "name"].str.replace("教学点", "小学")
        kind, lv = sch["kind"].to_numpy(), sch["level"].to_numpy()
        for level, size in (("primary", CLASS_SIZE_PRIMARY), ("junior", CLASS_SIZE_JUNIOR)):
            enr = sch[f"enrolled_{level}"].to_numpy().astype(float)
            teaches = (lv == level) | (lv == "nine_year")
            cls = np.zeros(n, dtype=np.int64)
            seat_size = np.full(n, size)
            strong = teaches & (kind == "urban_strong")
            cls[strong] = np.clip(np.ceil(enr[strong] / (size * rng.uniform(1.10, 1.25, strong.sum()))), 12, 40)
            other_u = teaches & (kind == "urban")
            lo = 6 if level == "primary" else 3
            cls[other_u] = np.clip(np.ceil(enr[other_u] * rng.uniform(0.95, 1.10, other_u.sum()) / size), lo, 45)
            # the seat is tight: its total seats ≈ SEAT_CAPACITY_MARGIN × its pupils
            urban = strong | other_u
            need = math.ceil(SEAT_CAPACITY_MARGIN * enr[urban].sum() / size) - int(cls[urban].sum())
            oi = np.flatnonzero(other_u)
            if need > 0 and len(oi):
                share = cls[oi] / cls[oi].sum()
                add = np.floor(need * share).astype(np.int64)
                add[: need - int(add.sum())] += 1
                cls[oi] += add
            town = teaches & (kind == "town")
            lo_t = 6 if level == "primary" else 3
            cls[town] = np.maximum(lo_t, np.ceil(enr[town] * rng.uniform(1.3, 1.9, town.sum()) / size))
            if level == "primary":
                vil = kind == "village"
                full = vil & (enr >= 50)
                part = vil & ~full
                cls[full] = 6
                cls[part] = np.clip(np.ceil(enr[part] * rng.uniform(1.3, 2.0, part.sum()) / 30), 3, 5)
                seat_size = np.where(part, CLASS_SIZE_RURAL_INCOMPLETE_PRIMARY, seat_size)
                tp = kind == "teaching_point"
                cls[tp] = np.maximum(1, np.ceil(enr[tp] * rng.uniform(1.2, 1.6, tp.sum()) / 30))
                seat_size = np.where(tp, CLASS_SIZE_RURAL_INCOMPLETE_PRIMARY, seat_size)
            cap = cls * seat_size
            # county-wide seats exceed demand by a margin (township schools take the slack)
            demand = self.blk[f"students_{level}"].sum()
            ti = np.flatnonzero(town)
            while cap.sum() < 1.08 * demand and len(ti):
                cls[ti] += 1
                cap = cls * seat_size
            sch[f"classes_{level}"] = cls.astype(np.int64)
            sch[f"capacity_{level}"] = cap.astype(np.int64)
        # where the outline is mostly unsettled (villages only within reach of a seat), the seat's villages have no
        # other township's boarding school within reach (格尔木市: the nearest 100 km away): the seat's nine-year
        # schools at its edge board too
        seat_boards = (kind == "urban") & (sch["level"].to_numpy() == "nine_year") & (self.land is not self.poly)
        sch["boarding"] = (kind == "town") | seat_boards
        sch["teaching_point"] = kind == "teaching_point"
        # Special-education schools (特殊教育学校) are not generated: they take no part in zoning.
        sch["special"] = np.zeros(len(sch), dtype=bool)

    def facilities(self) -> None:
        rng, sch = self.rng, self.sch
        n = len(sch)
        kind = sch["kind"].to_numpy()
        seats = (sch["capacity_primary"] + sch["capacity_junior"]).to_numpy().astype(float)
        pupils = (sch["enrolled_primary"] + sch["enrolled_junior"]).to_numpy().astype(float)
        classes = (sch["classes_primary"] + sch["classes_junior"]).to_numpy()
        jun_share = np.where(seats > 0, sch["capacity_junior"].to_numpy() / np.maximum(seats, 1), 0)
        junior_bonus = 1.0 + 0.3 * jun_share  # junior standards are higher (5.8 vs 4.5 m² ...)

        def u(lo: float, hi: float) -> np.ndarray:
            return rng.uniform(lo, hi, n)

        table = {  # per seat: floor m², sports m², equipment yuan, books
            "urban_strong": (u(3.6, 4.4), u(2.2, 3.6), u(2200, 3000), u(22, 32)),
            "urban": (u(4.4, 5.6), u(4.0, 6.5), u(1900, 2700), u(20, 30)),
            "town": (u(4.8, 6.5), u(7.0, 11.0), u(1300, 2200), u(18, 28)),
            "village": (u(3.5, 5.5), u(5.0, 12.0), u(400, 1100), u(10, 22)),
            "teaching_point": (u(3.0, 5.0), u(3.0, 10.0), u(300, 900), u(8, 20)),
        }
        floor, sports, equip, books = (np.zeros(n) for _ in range(4))
        for k, (f, s, e, b) in table.items():
            m = kind == k
            floor[m], sports[m], equip[m], books[m] = f[m], s[m], e[m], b[m]
        sch["floor_area_m2"] = np.round(seats * floor * junior_bonus, 1)
        sch["sports_area_m2"] = np.round(seats * sports * junior_bonus, 1)
        # the site (校园占地面积): about 40 m² a seat (50 for junior: rural sites are large), never less than twice the
        # sports ground; no random draw, so the rest of the county stays as it was
        sch["site_area_m2"] = np.round(np.maximum(seats * (40.0 + 10.0 * jun_share), 2.0 * sch["sports_area_m2"].to_numpy()), -1)
        sch["equipment_yuan"] = np.round(seats * equip * junior_bonus, -2)
        mm = np.select(
            [kind == "urban_strong", kind == "urban", kind == "town", kind == "village"],
            [classes + rng.integers(0, 3, n), classes + rng.integers(0, 2, n),
             np.round(classes * u(0.6, 0.95)), np.maximum(1, np.round(classes * u(0.2, 0.6)))],
            rng.integers(0, 2, n),
        )
        sch["multimedia_rooms"] = mm.astype(np.int64)
        comp = np.select(
            [np.isin(kind, ["urban_strong", "urban"]), kind == "town", kind == "village"],
            [np.round(pupils * u(0.07, 0.11)) + 40, np.round(seats * u(0.05, 0.09)) + 10, rng.integers(4, 30, n)],
            rng.integers(0, 6, n),
        )
        sch["computers"] = comp.astype(np.int64)
        sch["books"] = np.round(seats * books).astype(np.int64)
        score = np.select(
            [kind == "urban_strong", kind == "urban", kind == "town"],
            [rng.normal(82, 4, n), rng.normal(75, 5, n), rng.normal(69, 5, n)], rng.normal(63, 6, n))
        sch["quality_score"] = np.round(np.clip(score, 40, 100), 1)

    # ---------------------------------------------------------------- teachers

    def teachers(self) -> None:
        rng, sch = self.rng, self.sch
        si, level, subject = self._teacher_posts()
        n = len(si)
        area = sch["area_type"].to_numpy()[si]
        traits = self._teacher_traits(level, area, sch["kind"].to_numpy()[si])
        lon, lat = self._teacher_homes(si, area)
        ex = rng.random(n)
        reasons = np.array(_EXEMPT_REASONS, dtype=object)[rng.integers(0, 3, n)]
        exempt = np.where(ex < 0.03, reasons, np.full(n, None, dtype=object))
        order = np.lexsort((subject, level, si))
        w = _id_width(n)
        self.tch = pd.DataFrame(
            {
                "teacher_id": [f"T{self.code}{i:0{w}d}" for i in range(1, n + 1)],
                "school_id": sch["school_id"].to_numpy()[si[order]],
                "subject": subject[order],
                "backbone": traits["backbone"][order],
                "above_qualification": traits["above"][order],
                "title": traits["title"][order],
                "years_at_school": traits["years"][order],
                "age": traits["age"][order],
                "sex": traits["sex"][order],
                "level": level[order],
                "home_lon": np.round(np.asarray(lon)[order], 6),
                "home_lat": np.round(np.asarray(lat)[order], 6),
                "exempt_reason": pd.array(exempt[order], dtype="str"),
                "name": _teacher_names(np.random.default_rng([self.seed, _NAME_SALT]), traits["sex"][order]),
            }
        )

    def _teacher_posts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(school, level, subject)`` of every post: staffing by classes and weekly periods, every subject covered."""
        rows_s, rows_l, rows_sub = [], [], []
        for i, r in enumerate(self.sch.itertuples(index=False)):
            load = TEACHER_LOAD[r.area_type]
            for level, periods in (("primary", PRIMARY_PERIODS), ("junior", JUNIOR_PERIODS)):
                c = int(getattr(r, f"classes_{level}"))
                if c == 0:
                    continue
                subs = required_subjects(level, classes=c, teaching_point=bool(r.teaching_point))
                for s in subs:
                    if r.teaching_point:
                        k = 1 if c < 3 or s != "chinese" else 2
                    elif len(subs) < len(periods):  # incomplete school: generalists
                        k = max(1, round(c * periods[s] / (load + 4)))
                    else:
                        k = max(1, round(c * periods[s] / load))
                    rows_s.append(np.full(k, i))
                    rows_l.append([level] * k)
                    rows_sub.append([s] * k)
        return np.concatenate(rows_s), np.concatenate(rows_l), np.concatenate(rows_sub)

    def _teacher_traits(self, level: np.ndarray, area: np.ndarray, kind: np.ndarray) -> dict[str, np.ndarray]:
        """Age, sex, years at the school, title, backbone and qualification of each post's teacher."""
        rng = self.rng
        n = len(level)
        urban = area == "urban"
        rural = area == "rural"
        # age: urban staff middle-aged; rural staff old with young 特岗 recruits
        age_u = rng.normal(40, 8, n)
        mix = rng.random(n)
        age_r = np.where(mix < 0.35, rng.uniform(23, 31, n), np.where(mix < 0.55, rng.normal(40, 5, n),
                                                                         rng.uniform(46, 59.9, n)))
        age = np.clip(np.where(urban, age_u, np.where(area == "town", (age_u + age_r) / 2, age_r)), 22, 59)
        age = np.floor(age).astype(np.int64)
        p_f = np.where(level == "primary", np.where(urban, 0.75, 0.58), np.where(urban, 0.58, 0.45))
        sex = np.where(rng.random(n) < p_f, "F", "M")
        mean_years = np.where(urban, 7.5, np.where(area == "town", 6.0, 5.0))
        years = np.minimum(np.floor(rng.exponential(mean_years)), age - 22).astype(np.int64)
        years = np.maximum(years, 0)
        uu = rng.random(n)
        p_senior = np.where(urban, 0.28, 0.14) * (age >= 38)
        p_mid = np.where(age >= 28, 0.55, 0.1)
        title = np.where(uu < p_senior, "senior", np.where(uu < p_senior + p_mid, "intermediate", "junior"))
        p_bb = np.select([kind == "urban_strong", urban, area == "town"], [0.20, 0.10, 0.05], 0.01)
        p_bb = p_bb * ((age >= 30) & (age <= 55))
        backbone = rng.random(n) < p_bb
        p_q = np.where(level == "primary", np.where(urban, 0.97, np.where(rural, 0.78, 0.9)),
                       np.where(urban, 0.88, np.where(rural, 0.55, 0.72)))
        above = rng.random(n) < p_q
        return {"age": age, "sex": sex, "years": years, "title": title, "backbone": backbone, "above": above}

    def _teacher_homes(self, si: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """WGS84 ``(lon, lat)`` of each teacher's home: most in the seat or their township seat."""
        rng, sch = self.rng, self.sch
        n = len(si)
        urban = area == "urban"
        hr = rng.random(n)
        sch_xy = sch[["x", "y"]].to_numpy()[si]
        town_xy = self.town_xy[sch["town"].to_numpy()[si]]
        seat_pts = self.urban_xy[rng.integers(0, len(self.urban_xy), n)]
        p_seat = np.where(urban, 0.96, np.where(area == "town", 0.55, 0.45))
        p_town = np.where(urban, 0.04, np.where(area == "town", 0.42, 0.35))
        home = np.where((hr < p_seat)[:, None], seat_pts,
                        np.where((hr < p_seat + p_town)[:, None], town_xy, sch_xy))
        home = home + rng.normal(0, 150, home.shape)
        inside = _inside(self.poly, home)
        home = np.where(inside[:, None], home, sch_xy)
        lon, lat = self.to_wgs.transform(home[:, 0], home[:, 1])
        return lon, lat

    # ---------------------------------------------------------------- roads

    def roads(self) -> None:
        rg = self._road_graph()
        seat, tnodes, pred, dist = self._town_searches(rg)
        self._main_roads(rg, seat, tnodes, pred, dist)
        self._village_roads(rg, seat)
        self._seat_streets(rg)
        self.rd = self._road_frame(rg)

    def _road_graph(self) -> _RoadGraph:
        """Candidate edges: the street grid and the Delaunay edges of all settlement nodes inside the outline."""
        grid = self.grid_xy
        n_g = len(grid)
        nodes = np.vstack([grid, self.townc_xy, self.village_xy])
        n = len(nodes)
        is_grid = np.zeros(n, dtype=bool)
        is_grid[:n_g] = True
        tri = Delaunay(nodes)
        s = tri.simplices
        e = np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
        e = np.sort(e, axis=1).astype(np.int64)
        code = np.unique(e[:, 0] * n + e[:, 1])
        e = np.column_stack([code // n, code % n])
        gg = is_grid[e[:, 0]] & is_grid[e[:, 1]]
        e = e[~gg]  # the street grid is added as is
        length = np.hypot(*(nodes[e[:, 0]] - nodes[e[:, 1]]).T)
        lines = shapely.linestrings(np.stack([nodes[e[:, 0]], nodes[e[:, 1]]], axis=1))
        vs = math.sqrt(self.area_km2 * 1e6 / max(len(self.village_xy), 1))
        ok = (length <= 3.5 * vs)
        ok[ok] = shapely.contains(self.poly, lines[ok])
        ge = self.grid_edges
        grid_lines = shapely.linestrings(np.stack([nodes[ge[:, 0]], nodes[ge[:, 1]]], axis=1))
        oi = np.flatnonzero(ok)
        _, hit = STRtree(lines[oi]).query(grid_lines, predicate="crosses")
        ok[oi[np.unique(hit)]] = False
        cand_e = np.vstack([ge, e[ok]])
        cand_len = np.concatenate([np.hypot(*(nodes[ge[:, 0]] - nodes[ge[:, 1]]).T), length[ok]])
        cand_e, cand_len = _join_pieces(nodes, cand_e, cand_len, e[~ok], length[~ok])
        m = len(cand_e)
        w = sparse.coo_matrix((np.concatenate([cand_len, cand_len]),
                               (np.concatenate([cand_e[:, 0], cand_e[:, 1]]),
                                np.concatenate([cand_e[:, 1], cand_e[:, 0]]))), shape=(n, n)).tocsr()
        eid = {(int(a), int(b)): k for k, (a, b) in enumerate(np.sort(cand_e, axis=1))}
        return _RoadGraph(nodes=nodes, n_grid=n_g, is_grid=is_grid, edges=cand_e, length=cand_len, weights=w, eid=eid,
                          rank=np.full(m, -1), names=np.full(m, None, dtype=object))  # fmt: skip

    def _town_searches(self, rg: _RoadGraph) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """``(seat, town_nodes, pred, dist)``: road searches from the seat (everywhere) and each township seat.

        A township seat's search is bounded: county roads only join neighbours.
        """
        n, n_g = len(rg.nodes), rg.n_grid
        # town seat nodes: the seat's grid centre, then each township seat compound
        tn = np.full(len(self.town_xy), -1)
        tn[0] = self.grid_centre
        first: dict[int, int] = {}
        for k, t in enumerate(self.townc_town):
            first.setdefault(int(t), n_g + k)
        for t, k in first.items():
            tn[t] = k
        tnodes = tn[tn >= 0]
        # road distances from the seat (everywhere) and between nearby township seats (a bounded
        # search each: county roads only join neighbours)
        _, pred0 = csgraph.dijkstra(rg.weights, directed=False, indices=[seat_node := int(tn[0])], return_predecessors=True)
        txy = rg.nodes[tnodes]
        kq = min(4, len(tnodes))
        d_nb, _ = cKDTree(txy).query(txy, k=kq)
        reach = 3.0 * np.atleast_2d(d_nb.reshape(len(tnodes), -1))[:, -1] + 1.0
        dist = np.full((len(tnodes), n), np.inf)
        pred = np.full((len(tnodes), n), -9999, dtype=np.int32)
        for i, src in enumerate(tnodes.tolist()):
            d_i, p_i = csgraph.dijkstra(rg.weights, directed=False, indices=src, return_predecessors=True, limit=reach[i])
            dist[i], pred[i] = d_i, p_i
        pred[0] = pred0[0]
        return seat_node, tnodes, pred, dist

    def _main_roads(self, rg: _RoadGraph, seat: int, tnodes: np.ndarray, pred: np.ndarray, dist: np.ndarray) -> None:
        """The trunk road through the seat, a provincial road, and county roads between township seats."""
        rng, nodes = self.rng, rg.nodes
        u, v = _rot(self.theta)
        p = nodes - nodes[seat]
        along, across = p @ u, np.abs(p @ v)
        a_end = int(np.argmax(along - 0.5 * across))
        b_end = int(np.argmax(-along - 0.5 * across))
        trunk = self.trunk_name or f"G{int(rng.integers(1, 4))}{int(rng.integers(0, 10))}{int(rng.integers(0, 10))}国道"
        for end in (a_end, b_end):
            rg.mark(_path_to(pred[0], end), "trunk", trunk)
        # provincial road: to the township seat farthest across the valley
        if len(tnodes) > 1:
            across_t = np.abs((nodes[tnodes[1:]] - nodes[seat]) @ v)
            far = int(tnodes[1:][np.argmax(across_t)])
            rg.mark(_path_to(pred[0], far), "primary", f"S{int(rng.integers(200, 300))}省道")
        # county roads: minimum spanning tree of road distances between township seats + 2nd neighbours
        dt = dist[:, tnodes]
        dt = np.minimum(dt, dt.T)
        mst = csgraph.minimum_spanning_tree(sparse.csr_matrix(np.triu(np.where(np.isfinite(dt), dt + 1e-3, 0), 1))).tocoo()
        pairs = {(min(a, b), max(a, b)) for a, b in zip(mst.row.tolist(), mst.col.tolist())}
        for i in range(len(tnodes)):
            nb = np.argsort(dt[i], kind="stable")[1:3]
            for j in nb:
                if rng.random() < 0.5 and np.isfinite(dt[i, j]):
                    pairs.add((min(i, int(j)), max(i, int(j))))
        for k, (i, j) in enumerate(sorted(pairs)):
            a_, b_ = (i, j) if np.isfinite(dist[i, tnodes[j]]) else (j, i)
            rg.mark(_path_to(pred[a_], int(tnodes[b_])), "secondary", f"X{300 + k:03d}县道")

    def _village_roads(self, rg: _RoadGraph, seat: int) -> None:
        """Every village on the network (a spanning tree with the main roads nearly free), a few loops, the grid."""
        rng = self.rng
        n, m, n_g, n_tc = len(rg.nodes), len(rg.edges), rg.n_grid, len(self.townc_xy)
        cand_e, cand_len, rank, is_grid = rg.edges, rg.length, rg.rank, rg.is_grid
        main = rank >= 0
        wt = np.where(main, 1e-3, cand_len)
        tree = csgraph.minimum_spanning_tree(
            sparse.coo_matrix((wt, (cand_e[:, 0], cand_e[:, 1])), shape=(n, n)).tocsr()).tocoo()
        in_tree = np.zeros(m, dtype=bool)
        for a, b in zip(tree.row.tolist(), tree.col.tolist()):
            in_tree[rg.eid[(min(a, b), max(a, b))]] = True
        order, tpred = csgraph.breadth_first_order(
            sparse.coo_matrix((np.ones(int(in_tree.sum())), (cand_e[in_tree, 0], cand_e[in_tree, 1])),
                              shape=(n, n)).tocsr(), seat, directed=False)
        below = np.ones(n, dtype=np.int64)
        for node in order[::-1]:
            pr = tpred[node]
            if pr >= 0:
                below[pr] += below[node]
        child = np.where(tpred >= 0)[0]
        for node in child.tolist():
            k = rg.eid[(min(node, int(tpred[node])), max(node, int(tpred[node])))]
            if rank[k] >= 0:
                continue
            both_town = (not is_grid[node]) and node < n_g + n_tc and tpred[node] >= n_g and tpred[node] < n_g + n_tc
            if both_town:
                rank[k] = _RANK.index("residential")
            elif below[node] >= 6:
                rank[k] = _RANK.index("tertiary")
            elif below[node] == 1 and rng.random() < 0.35:
                rank[k] = _RANK.index("track")
            else:
                rank[k] = _RANK.index("unclassified")
        # a few loops among villages, the street grid complete
        loops = (rank < 0) & (~is_grid[cand_e[:, 0]] | ~is_grid[cand_e[:, 1]])
        loops &= cand_len <= np.median(cand_len)
        loops &= rng.random(m) < 0.12
        rank[loops] = _RANK.index("unclassified")
        grid_e = is_grid[cand_e[:, 0]] & is_grid[cand_e[:, 1]]
        rank[grid_e & (rank < 0)] = _RANK.index("residential")

    def _seat_streets(self, rg: _RoadGraph) -> None:
        """The seat's main streets (the grid row and column through its centre) and its street names."""
        cand_e, rank = rg.edges, rg.rank
        grid_e = rg.is_grid[cand_e[:, 0]] & rg.is_grid[cand_e[:, 1]]
        # main streets of the seat: the grid row and column through its centre
        gi = np.zeros((len(rg.nodes), 2), dtype=np.int64)
        gi[:rg.n_grid] = self.grid_ij
        ci, cj = self.grid_ij[self.grid_centre]
        row = grid_e & (gi[cand_e[:, 0], 1] == cj) & (gi[cand_e[:, 1], 1] == cj)
        col = grid_e & (gi[cand_e[:, 0], 0] == ci) & (gi[cand_e[:, 1], 0] == ci)
        for msk, main_name in ((row, "宽州大道" if self.code == QINGJIAN_CODE else "人民大道"), (col, "中心街")):
            up = msk & (rank < _RANK.index("secondary"))
            rank[up] = _RANK.index("secondary")
            rg.names[up] = main_name
        # street names of the grid by row (路) and column (街)
        res_grid = grid_e & (rg.names == None)  # noqa: E711 - object array comparison
        horiz = gi[cand_e[:, 0], 1] == gi[cand_e[:, 1], 1]
        key = np.where(horiz, gi[cand_e[:, 0], 1], gi[cand_e[:, 0], 0])
        words = np.array(_WORDS, dtype=object)
        street = np.where(horiz, words[(key * 7 + 3) % len(words)] + "路", words[(key * 11 + 5) % len(words)] + "街")
        rg.names = np.where(res_grid, street, rg.names)

    def _road_frame(self, rg: _RoadGraph) -> gpd.GeoDataFrame:
        """The roads layer: every classed edge with its speed, one-way flag, name and (gently bent) line."""
        rng, nodes = self.rng, rg.nodes
        keep = rg.rank >= 0
        ce, cls_idx, nm = rg.edges[keep], rg.rank[keep], rg.names[keep]
        hw = np.array(_RANK, dtype=object)[cls_idx]
        speed = np.array([SPEED_KMH[h] for h in hw])
        in_grid = rg.is_grid[ce[:, 0]] & rg.is_grid[ce[:, 1]]
        speed = np.where(in_grid & (speed > 30), np.minimum(speed, 40.0), speed)
        oneway = in_grid & (hw == "residential") & (rng.random(len(ce)) < 0.04)
        a, b = nodes[ce[:, 0]], nodes[ce[:, 1]]
        mid = (a + b) / 2.0
        d = b - a
        perp = np.column_stack([-d[:, 1], d[:, 0]])
        wig = mid + perp * rng.normal(0, 0.06, (len(ce), 1)) * (~in_grid)[:, None]
        curvy = shapely.linestrings(np.stack([a, wig, b], axis=1))
        straight = shapely.linestrings(np.stack([a, b], axis=1))
        geom = np.where(shapely.contains(self.poly, curvy) | ~shapely.contains(self.poly, straight), curvy, straight)
        geom = np.where(in_grid, straight, geom)
        # straight Delaunay edges never cross; a bent one that crosses a neighbour is straightened
        bent = np.flatnonzero(geom != straight)
        for _ in range(10):
            hit, _ = STRtree(geom).query(geom[bent], predicate="crosses")
            if len(hit) == 0:
                break
            geom[bent[hit]] = straight[bent[hit]]
            bent = np.setdiff1d(bent, bent[hit])
        rd = gpd.GeoDataFrame(
            {"highway": hw.astype(str), "speed_kmh": speed.astype(np.float64), "oneway": oneway.astype(bool),
             "name": pd.array(nm, dtype="str")},
            geometry=geom, crs=self.crs,
        )
        order_r = np.lexsort((ce[:, 1], ce[:, 0]))
        return rd.iloc[order_r].reset_index(drop=True)

    # ---------------------------------------------------------------- assembly

    def run(self) -> DemoCounty:
        self.place_seats()
        self.build_seat()
        self.build_towns()
        self.build_villages()
        self.build_blocks()
        self.build_schools()
        self.assign_current()
        self.size_schools()
        self.facilities()
        self.teachers()
        self.roads()
        return self.assemble()

    def assemble(self) -> DemoCounty:
        town_name = np.array(self.town_names, dtype=object)
        blocks = self._blocks_frame(town_name)
        schools = self._schools_frame(town_name)
        boundary, has = self._boundary_frame()
        blocks = blocks.sort_values("block_id", kind="stable").reset_index(drop=True)
        schools = schools.sort_values("school_id", kind="stable").reset_index(drop=True)
        teachers = self.tch.sort_values("teacher_id", kind="stable").reset_index(drop=True)
        inputs = Inputs(
            schools=schools, blocks=blocks, teachers=teachers, roads=self.rd, boundary=boundary,
            metric_crs=pyproj.CRS(self.crs),
            sources=dict.fromkeys(("schools", "blocks", "teachers", "roads", "boundary"), "generated"),
        )
        stats = self._stats(townships=len(has), blocks=len(blocks), schools=len(schools), teachers=len(teachers))
        log.info("demo county %s (%s): %s", self.name, self.code, stats)
        return DemoCounty(inputs=inputs, code=self.code, name=self.name, stats=MappingProxyType(stats),
                          births=MappingProxyType(self.births), candidate_sites=self.candidate_sites())

    def _site(self, xy: np.ndarray, kind: str, name: str, k: int) -> dict[str, Any]:
        lon, lat = self.to_wgs.transform(float(xy[0]), float(xy[1]))
        pri, jun = CANDIDATE_CLASSES[kind]
        level = "primary" if jun == 0 else "nine_year"
        return {"site_id": f"{self.code}N{k}", "name": name, "level": level, "lon": round(lon, 6), "lat": round(lat, 6),
                "max_classes_primary": pri, "max_classes_junior": jun, "boarding": kind.startswith("town")}

    def candidate_sites(self) -> pd.DataFrame:
        """Candidate sites for new schools where a planner would put them (:data:`CANDIDATE_CLASSES`); no random draw."""
        seat = self.town_xy[0]
        u, _ = _rot(self.theta)
        along = (self.urban_xy - seat) @ u
        rows = []
        if len(self.urban_xy) >= 2:
            for k, (at, kind, what) in enumerate(((int(np.argmax(along)), "seat_nine_year", "九年制学校"),
                                                  (int(np.argmin(along)), "seat_primary", "小学")), start=1):
                xy = self.urban_xy[at]
                rows.append(self._site(xy, kind, f"{self.name}城{_compass(xy - seat)}新区{what}（选址）", k))
        is_town = self.blk["area_type"].to_numpy() == "town"
        kids = (self.blk["students_primary"] + self.blk["students_junior"]).to_numpy()[is_town]
        towns = pd.Series(kids).groupby(self.blk["town"].to_numpy()[is_town]).sum().sort_values(ascending=False, kind="stable")
        for t in towns.index[:CANDIDATE_TOWNS]:
            pts = self.townc_xy[self.townc_town == t]
            centre = self.town_xy[int(t)]
            xy = pts[int(np.argmax(np.hypot(*(pts - centre).T)))]
            rows.append(self._site(xy, "town_nine_year", f"{self.town_names[int(t)]}{_compass(xy - centre)}片九年制寄宿学校（选址）", len(rows) + 1))
        return pd.DataFrame(rows, columns=["site_id", "name", "level", "lon", "lat", "max_classes_primary", "max_classes_junior", "boarding"])

    def _blocks_frame(self, town_name: np.ndarray) -> gpd.GeoDataFrame:
        blk = self.blk
        sp, sj = blk["students_primary"].to_numpy(np.int64), blk["students_junior"].to_numpy(np.int64)
        area = blk["area_type"].to_numpy()
        self.births = county_births(float(sp.sum()), float(sp[area == "rural"].sum() / max(sp.sum(), 1)))
        ages = block_ages(sp, sj, area, self.births)
        frame = gpd.GeoDataFrame(
            {
                "block_id": pd.array(blk["block_id"], dtype="str"),
                "name": pd.array(blk["name"], dtype="str"),
                "students_primary": blk["students_primary"].astype(np.int64),
                "students_junior": blk["students_junior"].astype(np.int64),
                "current_primary": pd.array(blk["current_primary"], dtype="str"),
                "current_junior": pd.array(blk["current_junior"], dtype="str"),
                "area_type": pd.array(blk["area_type"], dtype="str"),
                "township": pd.array(town_name[blk["town"].to_numpy()], dtype="str"),
                "left_behind": blk["left_behind"].astype(np.int64),
                "migrant": blk["migrant"].astype(np.int64),
                "disabled": blk["disabled"].astype(np.int64),
                "low_income": blk["low_income"].astype(np.int64),
                "population": blk["population"].astype(np.int64),
            },
            geometry=self.blk_geom, crs=self.crs,
        )
        for a, col in enumerate(AGE_COLUMNS):
            frame.insert(len(frame.columns) - 1, col, ages[:, a])
        return frame

    def _schools_frame(self, town_name: np.ndarray) -> gpd.GeoDataFrame:
        sch = self.sch
        return gpd.GeoDataFrame(
            {
                "school_id": pd.array(sch["school_id"], dtype="str"),
                "name": pd.array(sch["name"], dtype="str"),
                "level": pd.array(sch["level"], dtype="str"),
                "area_type": pd.array(sch["area_type"], dtype="str"),
                "capacity_primary": sch["capacity_primary"].astype(np.int64),
                "capacity_junior": sch["capacity_junior"].astype(np.int64),
                "classes_primary": sch["classes_primary"].astype(np.int64),
                "classes_junior": sch["classes_junior"].astype(np.int64),
                "enrolled_primary": sch["enrolled_primary"].astype(np.int64),
                "enrolled_junior": sch["enrolled_junior"].astype(np.int64),
                "boarding": sch["boarding"].astype(bool),
                "teaching_point": sch["teaching_point"].astype(bool),
                "special": sch["special"].astype(bool),
                "township": pd.array(town_name[sch["town"].to_numpy()], dtype="str"),
                "floor_area_m2": sch["floor_area_m2"].astype(np.float64),
                "sports_area_m2": sch["sports_area_m2"].astype(np.float64),
                "site_area_m2": sch["site_area_m2"].astype(np.float64),
                "equipment_yuan": sch["equipment_yuan"].astype(np.float64),
                "multimedia_rooms": sch["multimedia_rooms"].astype(np.int64),
                "computers": sch["computers"].astype(np.int64),
                "books": sch["books"].astype(np.int64),
                "quality_score": sch["quality_score"].astype(np.float64),
            },
            geometry=shapely.points(sch[["x", "y"]].to_numpy()), crs=self.crs,
        )

    def _boundary_frame(self) -> tuple[gpd.GeoDataFrame, list[int]]:
        """The county outline and each township's polygon (the union of its blocks); and the townships that have blocks."""
        # township polygons: union of their blocks (a coverage, so coverage union is exact and fast)
        tw = self.blk["town"].to_numpy()
        polys = [shapely.coverage_union_all(self.blk_geom[tw == t]) for t in range(len(self.town_names))]
        has = [t for t in range(len(self.town_names)) if (tw == t).any()]
        boundary = gpd.GeoDataFrame(
            {
                "name": pd.array([self.name] + [self.town_names[t] for t in has], dtype="str"),
                "township": pd.array([None] + [self.town_names[t] for t in has], dtype="str"),
                "kind": pd.array(["county"] + ["township"] * len(has), dtype="str"),
            },
            geometry=[self.poly] + [polys[t] for t in has], crs=self.crs,
        )
        return boundary, has

    def _stats(self, *, townships: int, blocks: int, schools: int, teachers: int) -> dict[str, int | float]:
        blk, sch = self.blk, self.sch
        kind = sch["kind"].to_numpy()
        return {
            "population": int(blk["population"].sum()),
            "area_km2": round(self.area_km2, 1),
            "townships": townships,
            "blocks": blocks,
            "blocks_urban": int((blk["area_type"] == "urban").sum()),
            "blocks_town": int((blk["area_type"] == "town").sum()),
            "blocks_rural": int((blk["area_type"] == "rural").sum()),
            "schools": schools,
            "schools_primary": int((sch["level"] == "primary").sum()),
            "schools_junior": int((sch["level"] == "junior").sum()),
            "schools_nine_year": int((sch["level"] == "nine_year").sum()),
            "boarding_schools": int(sch["boarding"].sum()),
            "village_schools": int((kind == "village").sum()),
            "teaching_points": int((kind == "teaching_point").sum()),
            "teachers": teachers,
            "students_primary": int(blk["students_primary"].sum()),
            "students_junior": int(blk["students_junior"].sum()),
            "capacity_primary": int(sch["capacity_primary"].sum()),
            "capacity_junior": int(sch["capacity_junior"].sum()),
            "road_edges": len(self.rd),
            "road_km": round(float(self.rd.length.sum()) / 1000.0, 1),
        }
