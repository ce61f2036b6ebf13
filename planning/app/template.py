"""``schoolplan template``: an Excel workbook a bureau fills in, and a scenario that reads it.

The workbook has one sheet per input layer a bureau keeps in Excel — 学校 (schools), 居住区
(blocks: 小区, 村, 社区) and 教师 (teachers) — with the Chinese headers the loader accepts
(:data:`geo.model.LAYERS`), required columns marked, a comment on every header saying what it holds,
drop-down lists (Excel data validation) for coded columns, one example row, and two instruction
sheets: 说明 (how to fill it in and run it) and 道路说明 (where roads come from). Sheets whose name
holds 说明 are never read as a layer (:func:`geo.io.choose_sheet`).

The scenario (``scenario.toml``) names the workbook for the three layers, declares GCJ-02 coordinates
(as copied from Amap or Tencent) and enables every stage, so that

    schoolplan template --out 我的县
    schoolplan validate 我的县/scenario.toml

loads the example as written, and ``schoolplan run`` plans the county once its rows are filled in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from geo.model import LAYERS, SUBJECT_ALIASES, VALUE_ALIASES, Column, LayerSpec
from planning.app.writer import workbook_bytes

#: File names the template writes.
WORKBOOK: Final = "schoolplan-inputs.xlsx"
SCENARIO: Final = "scenario.toml"
#: Rows a drop-down list covers below the header (a county has at most a few thousand units or teachers).
LIST_ROWS: Final = 5000
#: Schools a school-name drop-down offers (rows 2.. of the 学校 sheet).
SCHOOL_ROWS: Final = 2000

#: Sheet of each layer, in the workbook's order.
SHEETS: Final[Mapping[str, str]] = {"schools": "学校", "blocks": "居住区", "teachers": "教师"}

#: The header written for a column when it is not the column's first Chinese alias.
_HEADERS: Final[Mapping[tuple[str, str], str]] = {
    ("blocks", "block_id"): "小区代码",
    ("blocks", "name"): "小区名称",
    ("teachers", "school_id"): "所在学校",
    ("teachers", "subject"): "任教学科",
}
#: Columns left out of the template: filled by the loader from another column.
_LEFT_OUT: Final = {("teachers", "backbone_level")}

_YES_NO: Final = ("是", "否")
#: Drop-down values where the first Chinese alias per value is not the list a bureau uses.
_LISTS: Final[Mapping[tuple[str, str], tuple[str, ...]]] = {
    ("teachers", "title"): ("未定级", "三级教师", "二级教师", "一级教师", "高级教师", "正高级教师"),
    ("teachers", "backbone"): ("否", "校级骨干", "县级骨干", "市级骨干", "省级骨干"),
    ("schools", "area_type"): ("城区", "镇区", "乡村"),
    ("blocks", "area_type"): ("城区", "镇区", "乡村"),
}
#: Columns whose drop-down lists the school names of the 学校 sheet (a code may be typed instead).
_SCHOOL_REFERENCES: Final = {("teachers", "school_id"), ("blocks", "current_primary"), ("blocks", "current_junior")}

#: The example row of each sheet, by canonical column (coordinates GCJ-02, in 清涧县's county seat).
EXAMPLE: Final[Mapping[str, Mapping[str, Any]]] = {
    "schools": {
        "school_id": "6108300001", "name": "示例小学", "level": "小学", "area_type": "城区",
        "lon": 110.126512, "lat": 37.093742, "capacity_primary": 900, "classes_primary": 20,
        "enrolled_primary": 850, "boarding": "否", "teaching_point": "否", "special": "否", "township": "宽州镇",
        "floor_area_m2": 4200, "sports_area_m2": 6800, "equipment_yuan": 1800000, "multimedia_rooms": 20,
        "computers": 120, "books": 30000,
    },
    "blocks": {
        "block_id": "B0001", "name": "示例小区", "students_primary": 120, "students_junior": 0,
        "lon": 110.130083, "lat": 37.095214, "current_primary": "示例小学", "area_type": "城区", "township": "宽州镇",
        "left_behind": 5, "migrant": 10, "disabled": 0, "low_income": 3,
    },
    "teachers": {
        "teacher_id": "T00001", "name": "张三", "school_id": "示例小学", "subject": "数学", "backbone": "县级骨干",
        "above_qualification": "是", "title": "一级教师", "years_at_school": 8, "age": 38, "sex": "女", "level": "小学",
    },
}


@dataclass(frozen=True)
class TemplateColumn:
    """One column of a template sheet: canonical name, the header written, whether required, what it holds."""

    name: str
    header: str
    required: bool
    note: str
    choices: tuple[str, ...] = ()
    school_list: bool = False


def _chinese(column: Column) -> str | None:
    return next((a for a in column.aliases if not a.isascii()), None)


def _choices(layer: str, column: Column) -> tuple[str, ...]:
    """Drop-down values of a coded column (Chinese values the loader accepts), empty for free text."""
    if (layer, column.name) in _LISTS:
        return _LISTS[layer, column.name]
    if column.kind == "bool":
        return _YES_NO
    if column.kind != "enum":
        return ()
    aliases = SUBJECT_ALIASES if column.name == "subject" else VALUE_ALIASES.get(column.name, {})
    first: dict[str, str] = {}
    for zh, canon in aliases.items():
        first.setdefault(canon, zh)
    return tuple(first.get(c, c) for c in column.choices)


def template_columns(layer: str) -> list[TemplateColumn]:
    """The columns of a layer's sheet, in order: id and name, required columns, coordinates, the rest."""
    spec: LayerSpec = LAYERS[layer]
    cols: dict[str, TemplateColumn] = {}
    for c in spec.columns:
        if (layer, c.name) in _LEFT_OUT:
            continue
        header = _HEADERS.get((layer, c.name)) or _chinese(c) or c.name
        choices = _choices(layer, c)
        note = c.description + ("；可选：" + "、".join(choices) if choices and len(choices) <= 12 else "")
        cols[c.name] = TemplateColumn(c.name, header, c.required, note, choices, (layer, c.name) in _SCHOOL_REFERENCES)
    first = [n for n in (spec.id_column, "name") if n in cols]
    required = [n for n, c in cols.items() if c.required and n not in first]
    coords = []
    if spec.geometry in ("point", "point_or_polygon"):
        coords = [
            TemplateColumn("lon", "经度", True, "longitude, degrees (GCJ-02 as Amap shows it, or the CRS the scenario declares)"),
            TemplateColumn("lat", "纬度", True, "latitude, degrees (GCJ-02 as Amap shows it, or the CRS the scenario declares)"),
        ]
    rest = [n for n in cols if n not in first and n not in required]
    return [*(cols[n] for n in (*first, *required)), *coords, *(cols[n] for n in rest)]


def _instructions() -> list[tuple[str, str]]:
    """Rows of the 说明 sheet: (item, explanation)."""
    return [
        ("用途", "schoolplan 的输入模板：学校、居住区（小区、村、社区）和教师各占一张工作表。填好后运行：schoolplan run scenario.toml"),
        ("填写方法", "第 1 行是表头，请勿改名（也接受英文表头，见 README）；蓝色表头为必填列；把鼠标停在表头上可看到说明。"),
        ("示例行", "每张表第 2 行是一行示例，可直接运行 schoolplan validate scenario.toml 检查；填写本县数据时请删除或覆盖示例行。"),
        ("下拉列表", "学段、城乡类型、学科、职称、骨干教师、性别和是/否列有下拉列表；也接受其他常用写法（如 九年制、道法、中级）。"),
        ("学校代码与名称", "“现对口小学”“现对口初中”和教师的“所在学校”可以填学校代码，也可以填学校名称（名称在全县唯一时）。"),
        ("坐标", "经度、纬度以度为单位。scenario.toml 中 crs = \"gcj02\" 表示坐标取自高德或腾讯地图；"
                "取自百度地图请改为 \"bd09\"，GPS 或天地图坐标改为 \"wgs84\" 或 \"cgcs2000\"。"),
        ("骨干教师", "填 县级骨干、市级骨干、省级骨干（计为骨干教师）或 校级骨干、否；也可填 是/否。级别另存于 backbone_level 列。"),
        ("职称", "未定级、三级教师、二级教师计为初级，一级教师为中级，高级教师、正高级教师为高级。"),
        ("学科", "综合实践、心理健康、劳动、书法教师可以填写；学校没有这些学科的专任教师不算缺科。"),
        ("时间单位", "方案中的时间一律以分钟计（如 --max-travel-min、--max-commute-min）。"),
        ("道路", "道路不在本工作簿中，见“道路说明”。"),
        ("出错时", "程序会列出所有问题：文件、工作表中的行号（与 Excel 行号一致）、表头和原因，并以代码 2 退出，不会修改输入文件。"),
    ]


def _road_notes() -> list[tuple[str, str]]:
    """Rows of the 道路说明 sheet."""
    return [
        ("道路从哪里来", "道路是线图层，不能放在 Excel 中：请使用 GeoPackage (.gpkg)、Shapefile (.shp) 或 OpenStreetMap 的 .osm.pbf 文件。"),
        ("在方案中启用", "在 scenario.toml 的 [inputs] 中加一行 roads = \"roads.gpkg\"（或 \"county.osm.pbf\"）。"),
        ("没有道路时", "不提供道路时，出行时间按直线距离乘以绕行系数估算，报告中会说明。"),
        ("道路字段", "可选字段：道路等级（highway）、限速（speed_kmh，公里/小时）、单行（是/否）、道路名称。"),
        ("行政区边界", "县界或乡镇界同样是面图层：在 [inputs] 中加 boundary = \"boundary.gpkg\"。"),
    ]


def _style_header(ws: Any, columns: Sequence[TemplateColumn]) -> None:
    from openpyxl.comments import Comment  # noqa: PLC0415
    from openpyxl.styles import Font, PatternFill  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    required_fill = PatternFill("solid", fgColor="BDD7EE")
    for i, col in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = Font(bold=True)
        if col.required:
            cell.fill = required_fill
        comment = Comment(("必填。" if col.required else "选填。") + col.note, "schoolplan")
        comment.width, comment.height = 300, 120
        cell.comment = comment
        ws.column_dimensions[get_column_letter(i)].width = max(10, 2 * len(col.header) + 4)
    ws.freeze_panes = "A2"


def _add_lists(ws: Any, columns: Sequence[TemplateColumn]) -> None:
    """Drop-down lists: the coded values, or the school names of the 学校 sheet (codes may be typed too)."""
    from openpyxl.utils import get_column_letter  # noqa: PLC0415
    from openpyxl.worksheet.datavalidation import DataValidation  # noqa: PLC0415

    for i, col in enumerate(columns, start=1):
        letter = get_column_letter(i)
        if col.school_list:
            dv = DataValidation(type="list", formula1=f"'{SHEETS['schools']}'!$B$2:$B${SCHOOL_ROWS + 1}", allow_blank=True)
            dv.showErrorMessage = False  # a school code is as good as a name
        elif col.choices:
            dv = DataValidation(type="list", formula1='"' + ",".join(col.choices) + '"', allow_blank=True)
            dv.errorStyle = "warning"
            dv.error = "不在下拉列表中：请核对（也接受其他常用写法，见“说明”）"
            dv.showErrorMessage = True
        else:
            continue
        dv.add(f"{letter}2:{letter}{LIST_ROWS + 1}")
        ws.add_data_validation(dv)


def _notes_sheet(wb: Any, title: str, rows: Sequence[tuple[str, str]]) -> None:
    from openpyxl.styles import Alignment, Font  # noqa: PLC0415

    ws = wb.create_sheet(title)
    ws.append(["项目", "说明"])
    for row in rows:
        ws.append(list(row))
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 110
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in ws.iter_rows(min_row=2):
        row[1].alignment = Alignment(wrap_text=True, vertical="top")


def template_workbook(rows: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> bytes:
    """The template workbook as ``.xlsx`` bytes.

    Parameters
    ----------
    rows
        Layer → rows to write under the headers, each a mapping canonical column → value
        (``lon``/``lat`` for coordinates); a layer not given gets the example row
        (:data:`EXAMPLE`). Tests fill it with a county's data this way.

    Returns
    -------
    bytes
        The workbook: 说明, 学校, 居住区, 教师 and 道路说明.
    """
    from openpyxl import Workbook  # noqa: PLC0415

    wb = Workbook()
    wb.remove(wb.active)
    _notes_sheet(wb, "说明", _instructions())
    for layer, title in SHEETS.items():
        ws = wb.create_sheet(title)
        columns = template_columns(layer)
        ws.append([c.header for c in columns])
        for record in (rows or {}).get(layer, [EXAMPLE[layer]]):
            ws.append([_cell(record.get(c.name)) for c in columns])
        _style_header(ws, columns)
        _add_lists(ws, columns)
    _notes_sheet(wb, "道路说明", _road_notes())
    return workbook_bytes(wb)


def _cell(value: Any) -> Any:
    """A value as a cell takes it: ``None`` for missing, numbers as numbers, the rest as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return value if isinstance(value, int | float) else str(value)


def template_scenario(workbook: str = WORKBOOK) -> str:
    """The scenario file that reads the template: three layers from ``workbook``, GCJ-02, every stage."""
    return f"""# schoolplan 方案文件（由 schoolplan template 生成）。运行：schoolplan run scenario.toml
name = "本县义务教育资源规划"
seed = 20260901

[inputs]
schools = "{workbook}"    # 工作表“学校”
blocks = "{workbook}"     # 工作表“居住区”
teachers = "{workbook}"   # 工作表“教师”
# roads = "roads.gpkg"      # 道路（GeoPackage、Shapefile 或 .osm.pbf），见工作表“道路说明”
# boundary = "boundary.gpkg"
crs = "gcj02"             # 坐标取自高德/腾讯地图；百度地图为 "bd09"，GPS/天地图为 "wgs84"/"cgcs2000"

[solver]
time_limit_s = 30         # 每个优化模型的求解时间上限，秒

[zones]                   # 划片招生
[balance]                 # 均衡指标
[communities]             # 城乡学校共同体
[rotation]                # 教师交流轮岗
quota_scope = "county"

[report]
language = "zh"
"""


def template_files() -> dict[str, Any]:
    """File name → payload of ``schoolplan template``: the workbook and the scenario."""
    return {WORKBOOK: template_workbook(), SCENARIO: template_scenario()}


__all__ = ["EXAMPLE", "SCENARIO", "SHEETS", "WORKBOOK", "template_columns", "template_files", "template_scenario", "template_workbook"]
