"""Input problems as the console shows them, in English or Chinese (``--lang``, ``[report] language``).

:class:`~geo.errors.Problem` keeps its parts apart — the file (and sheet), the row as the user's
spreadsheet numbers it, the user's own header, the message — so that a Chinese line can be built
from the same parts: ``teachers.xlsx（工作表 教师）第 91 行（teacher_id T0090），“任教学科”列：无法识别的值 '数学课'``.
The messages of loading and validation (:mod:`geo.validate`, :mod:`geo.io`) are translated by
pattern; a message without a pattern keeps its English words inside the Chinese frame.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, Literal

from geo.errors import Problem

Language = Literal["zh", "en"]

_SHEET: Final = re.compile(r"^(?P<file>.*) \(sheet (?P<sheet>.*)\)$")
_ROW: Final = re.compile(r"^row (?P<n>\d+)(?: \((?P<id>.*)\))?$")

#: English message patterns of loading and validation → their Chinese wording (``{name}`` groups kept).
_PATTERNS: Final[Sequence[tuple[str, str]]] = (
    (r"unknown value (?P<v>.*); valid values: (?P<valid>.*)", "无法识别的值 {v}；可填：{valid}"),
    (r"missing value; valid values: (?P<valid>.*)", "缺少值；可填：{valid}"),
    (r"missing value \(true/false\)", "缺少值（填 是/否）"),
    (r"missing value", "缺少值"),
    (r"empty id", "编号为空"),
    (r"empty value", "值为空"),
    (r"not a yes/no value: (?P<v>.*) \(use .*, (?P<levels>县级骨干.*)\)", "无法识别的值 {v}（请填 {levels} 或 是/否）"),
    (r"not a yes/no value: (?P<v>.*) \(use .*\)", "不是“是/否”：{v}（请填 是/否、1/0、true/false）"),
    (r"not a number: (?P<v>.*)", "不是数字：{v}"),
    (r"not a whole number: (?P<v>.*)", "不是整数：{v}"),
    (r"not a finite number: (?P<v>.*)", "不是有效数字：{v}"),
    (r"negative value (?P<v>.*); must be ≥ 0", "负数 {v}；不能小于 0"),
    (r"implausibly large: (?P<v>[^(]*?)(?: \(more than (?P<hi>[^:]*?)(?:: (?P<why>.*))?\))?", "数值过大：{v}（超过 {hi}）"),
    (r"implausibly small: (?P<v>[^(]*?)(?: \(less than (?P<lo>[^:]*?)(?:: (?P<why>.*))?\))?", "数值过小：{v}（小于 {lo}）"),
    (r"unknown school id (?P<v>.*) \(not (?:a code or name )?in schools\)", "找不到学校 {v}（既不是学校代码，也不是学校名称）"),
    (r"school name (?P<v>.*) is shared by schools (?P<ids>.*): give the school code", "学校名称 {v} 不唯一（学校代码 {ids}）：请填写学校代码"),
    (r"school (?P<v>.*) does not teach (?P<lv>primary|junior) \(level (?P<level>.*)\)", "学校 {v} 没有{lv_zh}学段（学段 {level}）"),
    (r"duplicate ids: (?P<ids>.*); ids must be unique", "编号重复：{ids}；编号必须唯一"),
    (r"required column is missing", "缺少必填列"),
    (r"file not found", "找不到文件"),
    (r"the file is empty", "文件是空的"),
    (r"the layer is empty \(no rows\)", "没有数据行"),
    (r"empty or missing geometry", "缺少坐标或几何图形"),
    (r"coordinates are not finite numbers", "坐标不是有效数字"),
    (r"only one of home_lon/home_lat is given", "住址经度、纬度只填了一个"),
    (r"two headers mean the same column", "两个表头表示同一列"),
    (r"no sheet holds the (?P<layer>\w+) layer \(sheets: (?P<sheets>.*)\); name its sheet (?P<name>.*)",
     "工作簿中没有{layer_zh}工作表（现有工作表：{sheets}）；请将其命名为 {name}"),
    (r"several sheets may hold the (?P<layer>\w+) layer \((?P<sheets>.*)\); rename all but one",
     "多个工作表都可能是{layer_zh}（{sheets}）；请只保留一个这样命名"),
    (r"\.\.\. and (?P<n>\d+) more rows with the same kind of problem", "……另有 {n} 行有同样的问题"),
)
_COMPILED: Final = tuple((re.compile(p + r"$"), zh) for p, zh in _PATTERNS)
_LEVEL_ZH: Final = {"primary": "小学", "junior": "初中"}
_ID_ZH: Final = {"teacher_id": "教师编号", "school_id": "学校代码", "block_id": "小区代码"}
_LAYER_ZH: Final = {"schools": "学校", "blocks": "居住区", "teachers": "教师", "roads": "道路", "boundary": "边界"}


def message_zh(message: str) -> str:
    """A validation message in Chinese, by pattern; the English text when no pattern fits."""
    for pattern, zh in _COMPILED:
        m = pattern.match(message)
        if m is None:
            continue
        groups = {k: v or "" for k, v in m.groupdict().items()}
        groups["lv_zh"] = _LEVEL_ZH.get(groups.get("lv", ""), groups.get("lv", ""))
        groups["layer_zh"] = _LAYER_ZH.get(groups.get("layer", ""), groups.get("layer", ""))
        chinese = re.search(r"\(or (.*)\)$", groups.get("valid", ""))
        if chinese:  # the Chinese values the loader accepts, for a Chinese reader
            groups["valid"] = chinese.group(1).replace(", ", "、")
        return zh.format(**groups).replace("（超过 ）", "").replace("（小于 ）", "")
    return message


#: Notes and warnings of loading → Chinese (``{where}`` is the file, sheet and column, translated).
_NOTES: Final = (
    (re.compile(r"(?P<file>.*): the (?P<layer>\w+) layer is read from sheet '(?P<sheet>[^']*)'(?P<guess> \(no sheet is named .*\))?$"),
     "{file}：{layer_zh}数据读自工作表“{sheet}”{guess_zh}"),
    (re.compile(r"(?P<where>.*): (?P<n>\d+) row\(s\) name their school instead of giving its code; .*$"),
     "{where}：{n} 行填写的是学校名称，已换成该名称唯一对应的学校代码"),
)
_WHERE_SHEET: Final = re.compile(r" \(sheet (?P<sheet>[^)]*)\)")
_WHERE_COLUMN: Final = re.compile(r", column '(?P<header>[^']*)'(?: \([^)]*\))?")


def warning_zh(text: str) -> str:
    """A note or warning of loading in Chinese, by pattern; the English text when no pattern fits."""
    for pattern, zh in _NOTES:
        m = pattern.match(text)
        if m is None:
            continue
        groups = {k: v or "" for k, v in m.groupdict().items()}
        where = _WHERE_SHEET.sub(lambda w: f"（工作表 {w['sheet']}）", groups.get("where", ""))
        groups["where"] = _WHERE_COLUMN.sub(lambda w: f"，“{w['header']}”列", where)
        groups["layer_zh"] = _LAYER_ZH.get(groups.get("layer", ""), groups.get("layer", ""))
        groups["guess_zh"] = "（没有以该图层命名的工作表，请核对）" if groups.get("guess") else ""
        return zh.format(**groups)
    return text


def _id_zh(text: str) -> str:
    """``teacher_id T0090`` → ``教师编号 T0090``."""
    name, _, value = text.partition(" ")
    return f"{_ID_ZH[name]} {value}" if name in _ID_ZH and value else text


def _where_zh(p: Problem) -> str:
    m = _SHEET.match(p.layer)
    where = f"{m['file']}（工作表 {m['sheet']}）" if m else p.layer
    if isinstance(p.row, int):
        where += f"，第 {p.row} 行"
    elif isinstance(p.row, str):
        r = _ROW.match(p.row)
        where += (f"，第 {r['n']} 行" + (f"（{_id_zh(r['id'])}）" if r["id"] else "")) if r else f"，{_id_zh(p.row)}"
    if p.column is not None:
        where += f"，“{p.header or p.column}”列"
    return where


def problem_text(p: Problem, language: Language) -> str:
    """One problem as the console shows it: as :class:`Problem` prints it, or in Chinese."""
    if language != "zh":
        return str(p)
    return f"{_where_zh(p)}：{message_zh(p.message)}"


def heading(n: int, language: Language) -> str:
    """The line above the problems."""
    if language == "zh":
        return f"输入数据有 {n} 个问题："
    return f"{n} problem(s) in the input:"


def scenario_language(path: str | Path | None) -> Language | None:
    """The ``[report] language`` a scenario file sets, if it can be read and sets one (else ``None``)."""
    if path is None:
        return None
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    decoders: tuple[Callable[[bytes], str], ...] = (lambda b: b.decode("utf-8-sig"), lambda b: b.decode("gb18030"))
    for decode in decoders:
        try:
            data = tomllib.loads(decode(raw))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        report = data.get("report")
        language = report.get("language") if isinstance(report, dict) else None
        return language if language in ("zh", "en") else None
    return None


__all__ = ["Language", "heading", "message_zh", "problem_text", "scenario_language", "warning_zh"]
