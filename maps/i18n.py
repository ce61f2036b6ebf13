"""The words of the planning documents: official indicator names, table headers and coded values, in
Chinese and English.

One dictionary serves ``report.html`` and ``report.xlsx``: a table of a stage's output goes through
:func:`display_table`, which puts school names beside their codes, turns coded values (``primary``,
``lead``, ``math``) into words, shows travel times in minutes and gives every column a header a planner
reads (生均教学及辅助用房面积, 学校名称 …) instead of the field name the files use.

Indicator names follow the documents that define them: 《县域义务教育优质均衡发展督导评估办法》
(教督〔2017〕6号) for the seven 优质均衡 indicators and 《县域义务教育均衡发展督导评估暂行办法》 (2012) for
the eight 基本均衡 ones (DOMAIN.md §2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd

from maps.labels import Language

#: Balance indicator key (``planning.balance.indicators``) → official name (Chinese, English).
INDICATORS: Mapping[str, tuple[str, str]] = {
    "above_qualification_per_100": ("每百名学生拥有高于规定学历教师数", "Teachers above the required qualification per 100 pupils"),
    "backbone_per_100": ("每百名学生拥有县级及以上骨干教师数", "County-level or higher backbone teachers per 100 pupils"),
    "pe_art_per_100": ("每百名学生拥有体育、艺术（美术、音乐）专任教师数", "PE and art (music, fine art) teachers per 100 pupils"),
    "floor_area_per_pupil": ("生均教学及辅助用房面积", "Teaching and auxiliary floor area per pupil"),
    "sports_area_per_pupil": ("生均体育运动场馆面积", "Sports ground area per pupil"),
    "equipment_per_pupil": ("生均教学仪器设备值", "Teaching equipment value per pupil"),
    "multimedia_per_100": ("每百名学生拥有网络多媒体教室数", "Networked multimedia classrooms per 100 pupils"),
    "computers_per_100": ("每百名学生拥有计算机台数", "Computers per 100 pupils"),
    "books_per_pupil": ("生均图书册数", "Books per pupil"),
    "teachers_per_100": ("师生比（每百名学生拥有教师数）", "Teacher–pupil ratio (teachers per 100 pupils)"),
    "intermediate_title_per_100": (
        "每百名学生拥有中级及以上专业技术职务教师数", "Teachers with an intermediate or higher title per 100 pupils",
    ),
    "basic_composite": ("基本均衡综合差异系数（8 项指标差异系数平均值）", "基本均衡 composite CV (mean of the 8 indicators' CVs)"),
}

#: Coded values shown as words (level, area, role, strength, direction, subject, travel mode, road class).
VALUES: Mapping[str, tuple[str, str]] = {
    "primary": ("小学", "primary"), "junior": ("初中", "junior"), "nine_year": ("九年一贯制", "nine-year"),
    "urban": ("城区", "urban"), "town": ("镇区", "town"), "rural": ("乡村", "rural"),
    "lead": ("牵头校", "lead"), "member": ("成员校", "member"),
    "strong": ("强校", "strong"), "middle": ("中等", "middle"), "weak": ("薄弱校", "weak"),
    "sending": ("派出校", "sending"), "receiving": ("接收校", "receiving"), "neutral": ("不参与", "not involved"),
    "rotation": ("交流轮岗", "rotation"), "exchange": ("跟岗交流", "exchange (跟岗)"),
    "quality": ("优质均衡", "优质均衡 (quality)"), "basic": ("基本均衡", "基本均衡 (basic)"),
    "computed": ("按指标计算", "computed"), "input": ("教育局认定", "bureau's judgement"),
    "walk": ("步行", "walking"), "bike": ("骑行", "cycling"), "drive": ("驾车", "driving"), "bus": ("校车", "school bus"),
    "chinese": ("语文", "Chinese"), "math": ("数学", "maths"), "english": ("英语", "English"), "science": ("科学", "science"),
    "pe": ("体育", "PE"), "music": ("音乐", "music"), "art": ("美术", "art"), "morality": ("道德与法治", "morality and law"),
    "it": ("信息技术", "IT"), "physics": ("物理", "physics"), "chemistry": ("化学", "chemistry"), "biology": ("生物", "biology"),
    "history": ("历史", "history"), "geography": ("地理", "geography"), "other": ("其他", "other"),
    "optimal": ("优化", "optimization"), "nearest": ("就近分配", "nearest school"),
    "OPTIMAL": ("最优（已证明）", "OPTIMAL (proven)"), "FEASIBLE": ("可行（未证明最优，见最优间隙）", "FEASIBLE (see the gap)"),
    "BASELINE": ("基准", "baseline"),
    "county": ("全县", "county"), "school": ("各校", "per school"), "group": ("共同体", "community"),
}

#: OSM road classes (``highway``) in words; the appendix shows only the classes in the data.
ROAD_CLASSES: Mapping[str, tuple[str, str]] = {
    "motorway": ("高速公路", "motorway"), "motorway_link": ("高速公路匝道", "motorway link"),
    "trunk": ("国道/快速路", "trunk road"), "trunk_link": ("国道连接线", "trunk link"),
    "primary": ("省道/主干路", "primary road"), "primary_link": ("省道连接线", "primary link"),
    "secondary": ("县道/次干路", "secondary road"), "secondary_link": ("县道连接线", "secondary link"),
    "tertiary": ("乡道/支路", "tertiary road"), "tertiary_link": ("乡道连接线", "tertiary link"),
    "unclassified": ("村道", "village road"), "residential": ("街巷/小区道路", "residential street"),
    "living_street": ("生活街道", "living street"), "service": ("辅路/内部道路", "service road"),
    "track": ("机耕路/土路", "track"), "path": ("小路", "path"), "footway": ("人行道", "footway"),
    "pedestrian": ("步行街", "pedestrian street"), "steps": ("台阶", "steps"), "cycleway": ("自行车道", "cycleway"),
    "road": ("道路（未分级）", "road (unclassified)"), "bridleway": ("马道", "bridleway"),
}

#: Column name → header (Chinese, English). Columns ending in ``_s`` are shown in minutes (:func:`display_table`).
COLUMNS: Mapping[str, tuple[str, str]] = {
    "school_id": ("学校代码", "School code"), "name": ("名称", "Name"), "school_name": ("学校名称", "School"),
    "level": ("学段", "Level"), "area_type": ("城乡类型", "Area"), "township": ("乡镇", "Township"),
    "students": ("学生数", "Pupils"), "capacity_seats": ("学位数", "Seats"), "utilization": ("学位使用率", "Seat use"),
    "block_id": ("居住区代码", "Unit code"), "block_name": ("居住区名称", "Residential unit"),
    "travel_s": ("到校时间（分钟）", "Travel (min)"), "travel_m": ("到校距离（米）", "Travel distance (m)"),
    "boarders": ("寄宿生", "Boarders"), "young_boarders": ("其中1–3年级寄宿生", "of them grades 1–3"),
    "allowance_yuan": ("生活补助（元/年）", "Living allowance (yuan/year)"), "reason": ("说明", "Note"),
    "multizone_id": ("多校划片片区", "Multi-school zone"), "expected_intake": ("预计招生", "Expected intake"),
    "strong": ("优质学校", "Strong school"), "schools": ("学校数", "Schools"), "strong_schools": ("优质学校数", "Strong schools"),
    "extra_travel_s": ("增加的到校时间（分钟）", "Extra travel (min)"),
    "primary_school_id": ("小学代码", "Primary code"), "primary_school_name": ("小学", "Primary school"),
    "junior_school_id": ("初中代码", "Junior code"), "junior_school_name": ("对口初中", "Junior school"),
    "graduates": ("毕业生数", "Graduates"), "travel_mode": ("出行方式", "Travel mode"),
    "indicator": ("指标", "Indicator"), "county_value": ("全县值", "County value"), "cv": ("差异系数", "CV"),
    "threshold": ("标准（≤）", "Threshold (≤)"), "passes": ("是否达标", "Meets"), "kind": ("评估类别", "Evaluation"),
    "n_schools": ("参评学校数", "Schools evaluated"), "n_missing": ("缺少数据的学校", "Schools lacking data"), "note": ("备注", "Note"),
    "pupils": ("学生数", "Pupils"), "share": ("本学段学生占比", "Share of pupils at level"), "teaching_point": ("教学点", "Teaching point"),
    "excluded": ("不参评（优质均衡）", "Left out (quality)"), "excluded_basic": ("不参评（基本均衡）", "Left out (basic)"),
    "exclusion_reason": ("不参评原因", "Why left out"),
    "floor_area_m2": ("教学及辅助用房面积（m²）", "Floor area (m²)"), "sports_area_m2": ("体育运动场馆面积（m²）", "Sports ground (m²)"),
    "equipment_yuan": ("教学仪器设备值（元）", "Equipment (yuan)"), "multimedia_rooms": ("网络多媒体教室数", "Multimedia rooms"),
    "computers": ("计算机台数", "Computers"), "books": ("图书册数", "Books"), "n_teachers": ("教师数", "Teachers"),
    "n_above_qualification": ("高于规定学历教师数", "Above-qualification teachers"), "n_backbone": ("骨干教师数", "Backbone teachers"),
    "n_pe_art": ("体育艺术教师数", "PE and art teachers"), "n_intermediate_title": ("中级及以上职称教师数", "Intermediate-title teachers"),
    "standards_met": ("达到标准的指标项数", "Standards met"), "seventh_share": ("未达标项达到标准的比例", "Seventh indicator's share"),
    "meets_quality": ("达到优质均衡学校要求", "Meets the school requirement"), "strength": ("办学水平指数", "Strength index"),
    "strength_class": ("办学强弱", "Strength"), "class_source": ("强弱判定来源", "Strength from"),
    "not_strong_because": ("未列为强校的原因", "Why not strong"),
    "group_id": ("共同体编号", "Community"), "role": ("角色", "Role"), "lead_id": ("牵头校代码", "Lead code"),
    "lead_name": ("牵头校", "Lead school"), "fixed": ("教育局指定", "Set by the bureau"),
    "members": ("成员校数", "Members"), "rural_members": ("乡村成员校数", "Rural members"), "weak_members": ("薄弱成员校数", "Weak members"),
    "total_travel_s": ("牵头校到各成员校车程合计（分钟）", "Lead-to-member drives, total (min)"),
    "max_travel_s": ("牵头校到成员校最长车程（分钟）", "Longest lead-to-member drive (min)"),
    "mean_strength": ("平均办学水平指数", "Mean strength"), "strength_deviation": ("与全县平均的差", "Deviation from county mean"),
    "min_strength": ("最低办学水平指数", "Lowest strength"), "max_strength": ("最高办学水平指数", "Highest strength"),
    "weak_id": ("受援校代码", "Weak school code"), "weak_name": ("受援校", "Weak school"),
    "strong_id": ("帮扶校代码", "Strong school code"), "strong_name": ("帮扶校", "Strong school"),
    "time_s": ("车程（分钟）", "Drive (min)"), "weak_strength": ("受援校办学水平指数", "Weak school's strength"),
    "strong_strength": ("帮扶校办学水平指数", "Strong school's strength"), "plan": ("方案", "Plan"),
    "teacher_id": ("教师编号", "Teacher ID"), "teacher_name": ("姓名", "Name"), "subject": ("任教学科", "Subject"),
    "backbone": ("骨干教师", "Backbone"), "direction": ("交流方式", "Kind"), "commute_s": ("通勤时间（分钟）", "Commute (min)"),
    "from_school": ("派出学校代码", "From (code)"), "from_school_name": ("派出学校", "From"),
    "to_school": ("接收学校代码", "To (code)"), "to_school_name": ("接收学校", "To"),
    "eligible": ("符合交流条件", "Eligible"), "quota_movers": ("交流指标（人）", "Quota (teachers)"),
    "quota_backbone": ("骨干教师交流指标（人）", "Backbone quota"), "out": ("派出人数", "Sent"), "backbone_out": ("派出骨干教师", "Backbone sent"),
    "in": ("接收人数", "Received"), "backbone_in": ("接收骨干教师", "Backbone received"),
    "short_movers": ("交流人数缺口", "Movers short"), "short_backbone": ("骨干教师缺口", "Backbone short"),
    "quota_met": ("完成交流指标", "Quota met"), "where": ("位置", "Where"), "short_by": ("缺口", "Short by"),
    "unit": ("单位", "Unit"), "detail": ("说明", "Detail"), "stage": ("环节", "Stage"),
}

#: Suffixes of per-indicator columns (``floor_area_per_pupil_met``) → header template.
_INDICATOR_SUFFIXES: Mapping[str, tuple[str, str]] = {
    "_share": ("{name}（达到标准的比例）", "{name} (share of standard)"),
    "_met": ("{name}是否达标", "{name} met"),
    "_before": ("{name}（交流前）", "{name} (before)"),
    "_after": ("{name}（交流后）", "{name} (after)"),
}
_IN_OUT = re.compile(r"^(out|in)_([a-z]+)$")

#: Columns holding a school code: column → the name column put beside it.
SCHOOL_CODE_COLUMNS: Mapping[str, str] = {
    "school_id": "school_name", "from_school": "from_school_name", "to_school": "to_school_name", "lead_id": "lead_name",
    "weak_id": "weak_name", "strong_id": "strong_name", "primary_school_id": "primary_school_name",
    "junior_school_id": "junior_school_name",
}
#: Columns whose values are codes shown as words (:data:`VALUES`).
CODED_COLUMNS = frozenset({
    "level", "area_type", "role", "strength_class", "direction", "subject", "travel_mode", "kind", "class_source", "plan",
})
#: Columns ending in ``_s`` that are not travel times.
_NOT_MINUTES = frozenset({"solve_s", "solve_time_s", "wall_s", "time_limit_s"})


#: Columns holding shares (0–1), shown as percentages in the HTML.
PERCENT_COLUMNS = frozenset({"utilization", "share", "seventh_share"})


def word(pair: tuple[str, str], lang: Language) -> str:
    """The Chinese or English of a ``(zh, en)`` pair."""
    return pair[0] if lang == "zh" else pair[1]


def indicator_name(key: str, lang: Language) -> str:
    """Official name of a balance indicator (the key itself when unknown)."""
    pair = INDICATORS.get(key)
    return key if pair is None else word(pair, lang)


def value_name(value: Any, lang: Language) -> Any:
    """A coded value in words (``primary`` → 小学); other values unchanged."""
    pair = VALUES.get(value) if isinstance(value, str) else None
    return value if pair is None else word(pair, lang)


def road_class_name(key: str, lang: Language) -> str:
    """An OSM road class in words (``unclassified`` → 村道)."""
    pair = ROAD_CLASSES.get(key)
    return key if pair is None else word(pair, lang)


def subject_counts(text: str, lang: Language) -> str:
    """``"math×2, chinese"`` with the subjects in words (``数学×2、语文``)."""
    parts = []
    for item in (p.strip() for p in text.split(",") if p.strip()):
        subject, times, count = item.partition("×")
        parts.append(f"{value_name(subject, lang)}{times}{count}")
    return ("、" if lang == "zh" else ", ").join(parts)


def column_header(col: str, lang: Language) -> str:
    """A planner's header for a column of the stages' tables (the column itself when unknown)."""
    if col in COLUMNS:
        return word(COLUMNS[col], lang)
    if col in INDICATORS:
        return word(INDICATORS[col], lang)
    for suffix, template in _INDICATOR_SUFFIXES.items():
        base = col.removesuffix(suffix)
        if base != col and base in INDICATORS:
            return word(template, lang).format(name=word(INDICATORS[base], lang))
    m = _IN_OUT.match(col)
    if m and m.group(2) in VALUES:
        verb = ("派出", "sent") if m.group(1) == "out" else ("接收", "received")
        return f"{word(verb, lang)}·{value_name(m.group(2), lang)}" if lang == "zh" else f"{value_name(m.group(2), lang)} {verb[1]}"
    return col


def is_percent_header(header: str) -> bool:
    """Whether a display header (or column) holds a share shown as a percentage."""
    return header in _PERCENT_HEADERS


def _is_minutes(col: str) -> bool:
    return col.endswith("_s") and col not in _NOT_MINUTES


def display_table(
    frame: pd.DataFrame,
    lang: Language,
    *,
    names: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A stage's table as a planner reads it: names beside codes, words for codes, minutes, headers.

    Parameters
    ----------
    frame
        A table the stages wrote (a GeoDataFrame loses its geometry).
    lang
        ``zh`` or ``en``.
    names
        school_id → school name; each school-code column gets a name column beside it (a ``name`` column
        already there is kept instead).
    columns
        The columns to keep, in order (those absent are skipped); default all.

    Returns
    -------
    pandas.DataFrame
        A new table with display headers; the input is not modified.
    """
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    out = frame.reset_index(drop=True).copy()
    if columns is not None:
        out = out[[c for c in columns if c in out.columns]]
    names = names or {}
    for code, name_col in SCHOOL_CODE_COLUMNS.items():
        if code in out.columns and not (code == "school_id" and "name" in out.columns):
            ids = out[code].astype("string").fillna("")
            out.insert(out.columns.get_loc(code) + 1, name_col, [names.get(s, "") for s in ids])
    if "name" in out.columns and "school_id" in out.columns:
        out = out.rename(columns={"name": "school_name"})
    for col in out.columns:
        if col in CODED_COLUMNS:
            out[col] = [value_name(v, lang) for v in out[col]]
        elif _is_minutes(str(col)) and pd.api.types.is_numeric_dtype(out[col]):
            out[col] = (pd.to_numeric(out[col], errors="coerce") / 60).round(1)
    return out.rename(columns={c: column_header(str(c), lang) for c in out.columns})


_PERCENT_HEADERS = frozenset(
    set(PERCENT_COLUMNS)
    | {column_header(c, lang) for c in PERCENT_COLUMNS for lang in ("zh", "en")}
    | {column_header(f"{k}_share", lang) for k in INDICATORS for lang in ("zh", "en")}
)
