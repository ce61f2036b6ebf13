"""Display texts of maps and report, in Chinese (default) and English."""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]

#: key → (Chinese, English).
TEXT: dict[str, tuple[str, str]] = {
    # layers
    "boundary": ("县界与乡镇界", "County and township boundaries"),
    "roads": ("道路", "Roads"),
    "zones": ("{level}片区", "{level} zones"),
    "blocks": ("{level}居住区（按学校着色）", "{level} residential units (by school)"),
    "unserved": ("{level}未覆盖居住区", "{level} unserved units"),
    "multischool": ("{level}多校划片", "{level} multi-school zones"),
    "schools": ("学校（按办学强弱着色）", "Schools (by strength)"),
    "groups": ("学校共同体", "School communities"),
    "rotation": ("教师交流轮岗", "Teacher rotation"),
    "isochrones": ("{level}到校通行时间", "{level} travel time to school"),
    "primary": ("小学", "Primary"),
    "junior": ("初中", "Junior"),
    "nine_year": ("九年一贯制", "Nine-year"),
    "urban": ("城区", "urban"),
    "town": ("镇区", "town"),
    "rural": ("乡村", "rural"),
    # tooltips and legends
    "school": ("学校", "School"),
    "students": ("学生", "Students"),
    "capacity": ("学位", "Seats"),
    "utilization": ("学位使用率", "Utilization"),
    "over_capacity": ("超出学位（红色粗边）", "Over capacity (thick red outline)"),
    "zone_colour": ("填充色区分学校片区", "Fill colour tells zones apart"),
    "enrolled": ("在校生", "Enrolled"),
    "strength": ("办学强弱", "Strength"),
    "strong": ("强校", "strong"),
    "middle": ("中等", "middle"),
    "weak": ("薄弱校", "weak"),
    "unknown": ("未评估", "not assessed"),
    "marker_size": ("圆点大小表示在校生数", "Marker size shows enrolment"),
    "travel": ("到校时间", "Travel"),
    "minutes": ("分钟", "min"),
    "blocks_legend": ("颜色与所属学校片区相同", "Same colour as the school's zone"),
    "unserved_legend": ("没有可达学校或未分配的居住区", "Units with no reachable school or not assigned"),
    "multizone": ("多校划片片区", "Multi-school zone"),
    "expected_intake": ("预计招生", "Expected intake"),
    "group": ("共同体", "Community"),
    "lead": ("牵头校", "lead"),
    "member": ("成员校", "member"),
    "groups_legend": ("线段连接牵头校与成员校，颜色区分共同体", "Lines join lead and member schools; colour tells groups apart"),
    "teachers": ("教师", "Teachers"),
    "backbone": ("骨干教师", "Backbone teachers"),
    "subjects": ("学科", "Subjects"),
    "rotation_legend": ("弧线由派出校指向接收校（箭头），线宽表示人数", "Arcs run from sending to receiving school (arrow); width shows teachers"),
    "from": ("派出", "From"),
    "to": ("接收", "To"),
    "legend": ("图例", "Legend"),
    "county": ("县界", "County"),
    "township": ("乡镇界", "Township"),
    "major_roads": ("主干道路", "Major roads"),
    "roads_legend": ("线宽表示道路等级", "Width shows road class"),
    "map_title": ("学校布局规划图", "School planning map"),
    "within": ("≤ {m} 分钟", "≤ {m} min"),
    "beyond": ("> {m} 分钟", "> {m} min"),
    "id": ("编号", "ID"),
    "level": ("学段", "Level"),
    "area_type": ("城乡", "Area"),
}


def t(key: str, language: Language, **fmt: object) -> str:
    """The text for ``key`` in ``language`` (the key itself when unknown)."""
    pair = TEXT.get(key)
    if pair is None:
        return key
    text = pair[0] if language == "zh" else pair[1]
    return text.format(**fmt) if fmt else text
