"""Display texts of the maps, in Chinese (default) and English.

The texts of the base map (boundaries, roads, schools, legend) are here; each stage renderer
(:mod:`maps.stages`) declares its own, merged into :data:`TEXT` when the registry is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Language = Literal["zh", "en"]

#: key → (Chinese, English); the stage renderers' labels are merged in at import.
TEXT: dict[str, tuple[str, str]] = {
    # layers
    "boundary": ("县界与乡镇界", "County and township boundaries"),
    "roads": ("道路", "Roads"),
    "schools": ("学校（按办学强弱着色）", "Schools (by strength)"),
    "primary": ("小学", "Primary"),
    "junior": ("初中", "Junior"),
    "nine_year": ("九年一贯制", "Nine-year"),
    "urban": ("城区", "urban"),
    "town": ("镇区", "town"),
    "rural": ("乡村", "rural"),
    # tooltips and legends
    "capacity": ("学位", "Seats"),
    "enrolled": ("在校生", "Enrolled"),
    "strength": ("办学强弱", "Strength"),
    "strong": ("强校", "strong"),
    "middle": ("中等", "middle"),
    "weak": ("薄弱校", "weak"),
    "unknown": ("未评估", "not assessed"),
    "marker_size": ("圆点大小表示在校生数", "Marker size shows enrolment"),
    "group": ("共同体", "Community"),
    "lead": ("牵头校", "lead"),
    "member": ("成员校", "member"),
    "legend": ("图例", "Legend"),
    "county": ("县界", "County"),
    "township": ("乡镇界", "Township"),
    "major_roads": ("主干道路", "Major roads"),
    "roads_legend": ("线宽表示道路等级", "Width shows road class"),
    "map_title": ("学校布局规划图", "School planning map"),
    "id": ("编号", "ID"),
    "level": ("学段", "Level"),
    "area_type": ("城乡", "Area"),
    "layers": ("图层", "Layers"),
    "students": ("学生", "Students"),
    "current_zones": ("{level}现行片区（对照）", "{level} zones today (for comparison)"),
    "current_zone": ("现行片区", "Zone today"),
    "current_zones_legend": ("虚线为现行片区边界（填充色同方案）", "Dashed: borders today (fill as in the plan)"),
}


def merge_texts(table: dict[str, tuple[str, str]], entries: Mapping[str, tuple[str, str]], *, owner: str, table_name: str) -> None:
    """Add ``entries`` to ``table``; a key may come twice only with the same texts.

    Raises
    ------
    ValueError
        If ``owner`` gives a key of ``table_name`` texts other than those it already has.
    """
    clash = sorted(k for k, v in entries.items() if k in table and table[k] != tuple(v))
    if clash:
        msg = f"{owner} redefines {table_name} {', '.join(clash)}: give them another key"
        raise ValueError(msg)
    for k, v in entries.items():
        table[k] = (v[0], v[1])


def add_labels(entries: Mapping[str, tuple[str, str]], *, owner: str) -> None:
    """Merge a stage renderer's map labels into :data:`TEXT` (done once, when :mod:`maps.stages` is imported)."""
    merge_texts(TEXT, entries, owner=owner, table_name="labels")


def t(key: str, language: Language, **fmt: object) -> str:
    """The text for ``key`` in ``language`` (the key itself when unknown)."""
    pair = TEXT.get(key)
    if pair is None:
        return key
    text = pair[0] if language == "zh" else pair[1]
    return text.format(**fmt) if fmt else text
