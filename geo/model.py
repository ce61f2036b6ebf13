"""The input data model: layers, canonical columns, accepted Chinese aliases.

This is the contract loaders, models and users rely on. After loading
(:mod:`geo.io`) every layer has its canonical column names, ids as strings,
counts as ``int64``, booleans as ``bool`` and geometries in one projected metric
CRS (:attr:`Inputs.metric_crs`). Only :mod:`maps` reprojects to EPSG:4326.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, TypedDict

import geopandas as gpd
import pandas as pd
import pyproj

from geo.policy import (
    MAX_PLAUSIBLE_SCHOOL_CLASSES,
    MAX_PLAUSIBLE_SCHOOL_PUPILS,
    MAX_PLAUSIBLE_SCHOOL_TEACHERS,
    MAX_PLAUSIBLE_UNIT_CHILDREN,
    MAX_PLAUSIBLE_YEARS_AT_SCHOOL,
    TEACHER_AGE_MAX,
    TEACHER_AGE_MIN,
)

LevelName = Literal["primary", "junior"]
LEVELS: tuple[LevelName, ...] = ("primary", "junior")
#: Values of :class:`AreaType`, for parameters that name area types.
AreaName = Literal["urban", "town", "rural"]
#: Strength classes of a school (the bureau's ``strength_class`` or the computed one).
StrengthName = Literal["strong", "middle", "weak"]


class SchoolLevel(str, Enum):  # noqa: UP042 - StrEnum would change str() and f-strings of the members
    """What a school teaches: 小学, 初中 or 九年一贯制."""

    PRIMARY = "primary"
    JUNIOR = "junior"
    NINE_YEAR = "nine_year"


class AreaType(str, Enum):  # noqa: UP042 - StrEnum would change str() and f-strings of the members
    """Where a school or block lies: 城区, 镇区 or 乡村."""

    URBAN = "urban"
    TOWN = "town"
    RURAL = "rural"


class Title(str, Enum):  # noqa: UP042 - StrEnum would change str() and f-strings of the members
    """Professional title band of a teacher (初级/中级/高级).

    The official titles (人社部发〔2015〕79号) fall into the bands: 三级教师 and 二级教师 are 初级
    (``junior``), 一级教师 中级 (``intermediate``), 高级教师 and 正高级教师 高级 (``senior``); a teacher
    not yet rated (未定级, new teachers) counts as ``junior`` — below the 中级 that the balance indicator
    "teachers with intermediate or higher title" counts.
    """

    JUNIOR = "junior"
    INTERMEDIATE = "intermediate"
    SENIOR = "senior"


class Subject(str, Enum):  # noqa: UP042 - StrEnum would change str() and f-strings of the members
    """Canonical subject names."""

    CHINESE = "chinese"
    MATH = "math"
    ENGLISH = "english"
    SCIENCE = "science"
    PE = "pe"
    MUSIC = "music"
    ART = "art"
    MORALITY = "morality"
    IT = "it"
    PHYSICS = "physics"
    CHEMISTRY = "chemistry"
    BIOLOGY = "biology"
    HISTORY = "history"
    GEOGRAPHY = "geography"
    PRACTICE = "practice"
    PSYCHOLOGY = "psychology"
    LABOUR = "labour"
    CALLIGRAPHY = "calligraphy"
    OTHER = "other"


#: Chinese subject names accepted on input.
SUBJECT_ALIASES: Mapping[str, str] = {
    "语文": "chinese",
    "数学": "math",
    "英语": "english",
    "科学": "science",
    "体育": "pe",
    "体育与健康": "pe",
    "音乐": "music",
    "美术": "art",
    "道德与法治": "morality",
    "道法": "morality",
    "思想品德": "morality",
    "品德与社会": "morality",
    "信息技术": "it",
    "信息科技": "it",
    "物理": "physics",
    "化学": "chemistry",
    "生物": "biology",
    "历史": "history",
    "地理": "geography",
    "综合实践": "practice",
    "综合实践活动": "practice",
    "心理健康": "psychology",
    "心理健康教育": "psychology",
    "劳动": "labour",
    "劳动教育": "labour",
    "书法": "calligraphy",
    "其他": "other",
}

#: Backbone levels (骨干教师 of the school, county, city, province or nation). Only county level or
#: above counts as a backbone teacher in the balance indicators and the rotation quota (教督〔2017〕6号).
BACKBONE_LEVELS: tuple[str, ...] = ("school", "county", "city", "province", "national")
#: Levels that make a teacher a backbone teacher (``backbone`` true).
BACKBONE_COUNTED: frozenset[str] = frozenset({"county", "city", "province", "national"})
#: Values of the ``backbone`` column that name a level (县级骨干 ...): the teacher is a backbone teacher
#: when the level is county or above, and the level is kept in ``backbone_level``.
BACKBONE_VALUE_LEVELS: Mapping[str, str] = {
    "校级骨干": "school",
    "校级": "school",
    "县级骨干": "county",
    "县级": "county",
    "区级骨干": "county",
    "区级": "county",
    "县区级骨干": "county",
    "市级骨干": "city",
    "市级": "city",
    "省级骨干": "province",
    "省级": "province",
    "国家级骨干": "national",
    "国家级": "national",
}

#: Chinese values accepted for enumerated columns.
VALUE_ALIASES: Mapping[str, Mapping[str, str]] = {
    "level": {"小学": "primary", "初中": "junior", "九年一贯制": "nine_year", "九年制": "nine_year"},
    "area_type": {"城区": "urban", "城市": "urban", "镇区": "town", "县镇": "town", "乡村": "rural", "农村": "rural"},
    "title": {
        "未定级": "junior",
        "三级教师": "junior",
        "二级教师": "junior",
        "一级教师": "intermediate",
        "高级教师": "senior",
        "正高级教师": "senior",
        "初级": "junior",
        "中级": "intermediate",
        "高级": "senior",
        "副高级": "senior",
        "正高级": "senior",
        # titles before the 2015 reform: 小学高级 was 中级, 中学一级 中级, 中学高级 高级
        "小学二级教师": "junior",
        "小学一级教师": "junior",
        "小学高级教师": "intermediate",
        "中学二级教师": "junior",
        "中学一级教师": "intermediate",
        "中学高级教师": "senior",
    },
    "sex": {"男": "M", "女": "F", "m": "M", "f": "F"},
    "strength_class": {"强": "strong", "中": "middle", "弱": "weak", "优质": "strong", "一般": "middle", "薄弱": "weak"},
    "backbone_level": {**BACKBONE_VALUE_LEVELS, "无": "none", "否": "none", "非骨干": "none"},
}

ColumnKind = Literal["id", "str", "int", "float", "bool", "enum"]


@dataclass(frozen=True)
class Column:
    """One canonical column of a layer.

    Parameters
    ----------
    name
        Canonical name.
    kind
        ``id`` (unique string key), ``str``, ``int`` (non-negative count),
        ``float`` (non-negative amount), ``bool`` or ``enum``.
    required
        Whether loading fails without it.
    aliases
        Other headers accepted for it (usual Chinese headers).
    choices
        Valid values of an ``enum`` column.
    description
        What it holds, for the README table and messages.
    limits
        ``(lowest, highest)`` plausible value of a number column (bounds in
        :mod:`geo.policy`); a value outside is an input error.
    why_limits
        Why, in a few words, for the message (``"teachers are 18–70 years old"``).
    """

    name: str
    kind: ColumnKind
    required: bool = False
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    description: str = ""
    limits: tuple[float, float] | None = None
    why_limits: str = ""


@dataclass(frozen=True)
class LayerSpec:
    """Columns of one input layer and its geometry type.

    ``passthrough`` names columns schoolplan itself writes into such a layer (the demo's inputs,
    the OpenStreetMap reader, a stage's output fed back in) that the planner does not read: they
    are kept without a remark, while any other unknown column is reported (a warning suggesting
    the closest known header, or a note listing the user's own columns).

    ``sheets`` are the names of an Excel sheet that holds the layer, besides :attr:`name`
    (``学校`` for schools): one workbook may hold several layers, one sheet each.
    """

    name: str
    columns: tuple[Column, ...]
    geometry: Literal["point", "point_or_polygon", "line", "polygon", "none"]
    id_column: str | None = None
    passthrough: tuple[str, ...] = ()
    sheets: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def aliases(self) -> dict[str, str]:
        """Map every accepted header (lower-cased) to its canonical name."""
        out: dict[str, str] = {}
        for c in self.columns:
            out[c.name.lower()] = c.name
            for a in c.aliases:
                out[a.lower()] = c.name
        return out


_LEVELS = tuple(v.value for v in SchoolLevel)
_AREAS = tuple(v.value for v in AreaType)
_TITLES = tuple(v.value for v in Title)
_SUBJECTS = tuple(v.value for v in Subject)


class _Plausible(TypedDict):
    """The plausible range of a number column and why, as :class:`Column` keywords."""

    limits: tuple[float, float]
    why_limits: str


# plausible magnitudes (geo.policy): a value outside is an input error, not a count
_PUPILS: _Plausible = {"limits": (0, MAX_PLAUSIBLE_SCHOOL_PUPILS), "why_limits": "no school has more pupils or seats at one level"}
_CLASSES: _Plausible = {"limits": (0, MAX_PLAUSIBLE_SCHOOL_CLASSES), "why_limits": "no school has more classes of one level"}
_CHILDREN: _Plausible = {"limits": (0, MAX_PLAUSIBLE_UNIT_CHILDREN), "why_limits": "no residential unit has more children of one level"}
_AGE: _Plausible = {"limits": (TEACHER_AGE_MIN, TEACHER_AGE_MAX), "why_limits": f"teachers are {TEACHER_AGE_MIN}–{TEACHER_AGE_MAX} years old"}
_YEARS: _Plausible = {"limits": (0, MAX_PLAUSIBLE_YEARS_AT_SCHOOL), "why_limits": "longer than a whole teaching career"}
_TARGET: _Plausible = {"limits": (0, MAX_PLAUSIBLE_SCHOOL_TEACHERS), "why_limits": "no school has more teachers"}

SCHOOLS = LayerSpec(
    name="schools",
    geometry="point",
    id_column="school_id",
    sheets=("学校", "学校信息", "学校名单"),
    columns=(
        Column("school_id", "id", True, ("学校代码", "学校标识码", "学校编号", "id"), description="unique school code"),
        Column("name", "str", True, ("学校名称", "名称", "校名"), description="school name"),
        Column("level", "enum", True, ("学段", "办学类型", "学校类型"), _LEVELS, "primary, junior or nine_year"),
        Column("area_type", "enum", True, ("城乡类型", "城乡分类", "区域类型"), _AREAS, "urban, town or rural"),
        Column("capacity_primary", "int", False, ("小学学位数", "小学容量"), description="primary seats", **_PUPILS),
        Column("capacity_junior", "int", False, ("初中学位数", "初中容量"), description="junior seats", **_PUPILS),
        Column("classes_primary", "int", False, ("小学班级数",), description="primary classes (× 45 seats if no capacity)", **_CLASSES),
        Column("classes_junior", "int", False, ("初中班级数",), description="junior classes (× 50 seats if no capacity)", **_CLASSES),
        Column("enrolled_primary", "int", False, ("小学在校生数", "小学学生数"), description="primary pupils enrolled", **_PUPILS),
        Column("enrolled_junior", "int", False, ("初中在校生数", "初中学生数"), description="junior pupils enrolled", **_PUPILS),
        Column("boarding", "bool", False, ("寄宿制", "是否寄宿"), description="boarding school"),
        Column("teaching_point", "bool", False, ("教学点", "是否教学点"), description="teaching point (教学点)"),
        Column("special", "bool", False, ("特殊教育学校", "特教学校"), description="special-education school (left out of balance)"),
        Column("township", "str", False, ("乡镇", "所属乡镇", "街道"), description="township or street the school belongs to"),
        Column("floor_area_m2", "float", False, ("教学及辅助用房面积", "校舍面积"), description="teaching and auxiliary rooms, m²"),
        Column("sports_area_m2", "float", False, ("体育运动场馆面积", "运动场面积"), description="sports ground, m²"),
        Column(
            "site_area_m2", "float", False, ("校园占地面积", "占地面积", "用地面积"),
            description="school site, m² (caps the sports ground the improve stage may add)",
        ),
        Column("equipment_yuan", "float", False, ("教学仪器设备值", "仪器设备值"), description="teaching equipment value, yuan"),
        Column("multimedia_rooms", "int", False, ("网络多媒体教室数", "多媒体教室"), description="networked multimedia classrooms"),
        Column("computers", "int", False, ("计算机台数", "计算机数"), description="computers"),
        Column("books", "int", False, ("图书册数", "藏书"), description="library books"),
        Column("quality_score", "float", False, ("质量监测成绩", "监测成绩"), description="quality-monitoring score (optional)"),
        Column(
            "strength_class", "enum", False, ("强弱类别", "办学水平", "学校强弱"), ("strong", "middle", "weak"),
            "the bureau's own judgement (强/中/弱); overrides the computed strength class",
        ),
    ),
)

BLOCKS = LayerSpec(
    name="blocks",
    geometry="point_or_polygon",
    id_column="block_id",
    sheets=("居住区", "小区", "小区村", "村", "社区", "村社区"),
    # the demo's residents per unit and its children by single year of age (age_0 .. age_14), which the
    # projection stage reads when every one is there
    passthrough=("population", *(f"age_{a}" for a in range(15))),
    columns=(
        Column("block_id", "id", True, ("小区代码", "村代码", "编号", "id"), description="unique residential unit code"),
        Column("name", "str", False, ("名称", "小区名称", "村名"), description="小区, 村 or 社区 name"),
        Column("students_primary", "int", True, ("小学适龄人数", "小学学生数", "小学生数"), description="primary-age children", **_CHILDREN),
        Column("students_junior", "int", True, ("初中适龄人数", "初中学生数", "初中生数"), description="junior-age children", **_CHILDREN),
        Column(
            "current_primary", "str", False, ("现对口小学", "对口小学"),
            description="today's primary school: its school_id, or its name when unique",
        ),
        Column(
            "current_junior", "str", False, ("现对口初中", "对口初中"),
            description="today's junior school: its school_id, or its name when unique",
        ),
        Column("area_type", "enum", False, ("城乡类型",), _AREAS, "urban, town or rural"),
        Column("township", "str", False, ("乡镇", "所属乡镇", "街道"), description="township or street"),
        Column("left_behind", "int", False, ("留守儿童",), description="left-behind children", **_CHILDREN),
        Column("migrant", "int", False, ("随迁子女",), description="migrant children", **_CHILDREN),
        Column("disabled", "int", False, ("残疾儿童",), description="disabled children", **_CHILDREN),
        Column("low_income", "int", False, ("困难家庭", "脱贫户"), description="children of low-income households", **_CHILDREN),
    ),
)

TEACHERS = LayerSpec(
    name="teachers",
    geometry="none",
    id_column="teacher_id",
    sheets=("教师", "教师信息", "教师名单"),
    columns=(
        Column("teacher_id", "id", True, ("教师编号", "工号", "id"), description="unique teacher id"),
        Column(
            "school_id", "str", True, ("学校代码", "学校编号", "所在学校", "学校名称", "学校"),
            description="school the teacher is at: its code, or its name when no other school has that name",
        ),
        Column("subject", "enum", True, ("学科", "任教学科"), _SUBJECTS, "subject taught"),
        Column(
            "backbone", "bool", True, ("骨干教师", "是否骨干"),
            description="county-level or above backbone teacher (yes/no, or the level: 县级骨干, 市级骨干, 省级骨干, 校级骨干)",
        ),
        Column(
            "backbone_level", "enum", False, ("骨干级别", "骨干教师级别", "骨干层级"), (*BACKBONE_LEVELS, "none"),
            "backbone level; filled from a level given as backbone (县级骨干 → county)",
        ),
        Column("above_qualification", "bool", True, ("学历达标以上", "高于规定学历"), description="above the required qualification"),
        Column(
            "title", "enum", True, ("职称", "专业技术职务"), _TITLES,
            "junior, intermediate or senior (or the title: 未定级, 三级/二级教师 → junior, 一级教师 → intermediate, "
            "高级/正高级教师 → senior)",
        ),
        Column("years_at_school", "int", True, ("本校任教年限", "在校年限"), description="years at the current school", **_YEARS),
        Column("age", "int", True, ("年龄",), description="age in years", **_AGE),
        Column("sex", "enum", True, ("性别",), ("M", "F"), "M or F"),
        Column("level", "enum", False, ("任教学段",), ("primary", "junior"), "level taught (nine-year schools)"),
        Column("home_lon", "float", False, ("住址经度",), description="home longitude"),
        Column("home_lat", "float", False, ("住址纬度",), description="home latitude"),
        Column("exempt_reason", "str", False, ("免于交流原因",), description="why exempt from rotation, if so"),
        Column("name", "str", False, ("姓名", "教师姓名"), description="teacher's name (姓名), carried into moves.csv"),
    ),
)

ROADS = LayerSpec(
    name="roads",
    geometry="line",
    sheets=("道路",),
    passthrough=("osm_id",),  # the OpenStreetMap reader's way id
    columns=(
        Column("highway", "str", False, ("道路等级", "等级"), description="OSM-style road class"),
        Column("speed_kmh", "float", False, ("限速", "速度"), description="driving speed, km/h"),
        Column("oneway", "bool", False, ("单行",), description="one-way for vehicles"),
        Column("name", "str", False, ("名称", "道路名称"), description="road name"),
    ),
)

BOUNDARY = LayerSpec(
    name="boundary",
    geometry="polygon",
    sheets=("边界", "行政区"),
    passthrough=("kind",),  # the demo's county / township outlines
    columns=(
        Column("name", "str", False, ("名称",), description="county or township name"),
        Column("township", "str", False, ("乡镇",), description="township name, for township boundaries"),
    ),
)

LAYERS: Mapping[str, LayerSpec] = {s.name: s for s in (SCHOOLS, BLOCKS, TEACHERS, ROADS, BOUNDARY)}


@dataclass(frozen=True)
class Inputs:
    """Validated inputs of a scenario, every geometry in :attr:`metric_crs`.

    Attributes
    ----------
    schools
        Points, canonical columns, ``capacity_primary``/``capacity_junior`` and
        ``enrolled_*`` filled (0 where a school has no such level), ids unique.
    blocks
        Points or polygons with ``students_primary``/``students_junior``.
    teachers
        Table of teachers (no geometry), or ``None``.
    roads
        Lines with ``highway``/``speed_kmh``/``oneway`` where known, or ``None``.
    boundary
        County outline (and township polygons, column ``township``), or ``None``.
    metric_crs
        Projected CRS in metres all geometries are in (local UTM zone).
    sources
        Layer name to the file it came from (``"generated"`` for the demo).
    notes
        The warnings raised while loading (assumptions made, oddities kept), in
        order, for the run manifest and the report.
    """

    schools: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    teachers: pd.DataFrame | None
    roads: gpd.GeoDataFrame | None
    boundary: gpd.GeoDataFrame | None
    metric_crs: pyproj.CRS
    sources: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def schools_of(self, level: LevelName) -> gpd.GeoDataFrame:
        """Schools that teach ``level`` (nine-year schools take part in both)."""
        lv = self.schools["level"]
        return self.schools[(lv == level) | (lv == SchoolLevel.NINE_YEAR.value)]


# --- table files named in a scenario ---------------------------------------------------------------
# Plain tables a stage parameter may name (``[communities] fixed_groups``, ``[rotation] groups`` and
# ``staffing_targets``); read and validated with the inputs by :func:`geo.io.load_table`.

GROUPS = LayerSpec(
    name="groups",
    geometry="none",
    sheets=("集团", "共同体", "学校集团"),
    # the other columns of the communities stage's groups.csv, when last year's plan is fed back
    passthrough=("lead_id", "travel_s", "strength", "strength_class", "area_type", "fixed"),
    columns=(
        Column("school_id", "str", True, ("学校代码", "学校编号"), description="school in the group"),
        Column("group_id", "str", True, ("集团编号", "集团", "共同体", "共同体编号", "group"), description="group (集团, 共同体) it belongs to"),
        Column("role", "enum", True, ("角色",), ("lead", "member"), "lead or member"),
        Column("level", "enum", False, ("学段",), (*LEVELS, "all"), "level of the group; all when groups mix levels"),
    ),
)

STAFFING_TARGETS = LayerSpec(
    name="staffing_targets",
    geometry="none",
    sheets=("编制", "核定编制"),
    columns=(
        Column("school_id", "str", True, ("学校代码", "学校编号"), description="school"),
        Column("subject", "enum", True, ("学科", "任教学科"), _SUBJECTS, "subject"),
        Column(
            "target", "int", True, ("编制数", "核定编制", "目标人数"), description="teachers of the subject the county sets (县管校聘)",
            **_TARGET,
        ),
    ),
)

TABLE_LAYERS: Mapping[str, LayerSpec] = {s.name: s for s in (GROUPS, STAFFING_TARGETS)}
