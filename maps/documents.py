"""Word documents in the form a bureau circulates (公文): a title, sections numbered 一、二、…, tables and
figures, one document per stage for its own readers:

- ``documents/zoning.docx`` — 划片招生方案 (published to parents): per level, each school with its level,
  seats, children zoned to it and the 小区/村 of its zone; the changes against today's zones (unit, old
  school → new school, children); the print map of each level.
- ``documents/rotation.docx`` — 交流轮岗名单 (internal): each move with the teacher's name (姓名, else
  the id), school, subject, title, destination and reason; the print map.
- ``documents/communities.docx`` — 共同体名单: each group with its lead and members, the one-to-one
  pairs; the print map.
- ``documents/layout.docx`` — 布局调整方案: the projected children and the plan in brief, each merged
  school's children (receiving school, longest trip, boarders, bus riders: for the hearing), new schools
  and extensions, targets not met, the merge rules.
- ``documents/improve.docx`` — 达标提升方案: the plan in brief, cost by measure and by year, each
  school's measures, each 优质均衡 CV before and after.

Pure: returns bytes, writes nothing. The zip entries carry a fixed date and the document properties a
fixed creation time, so the same run gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import time
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from geo.model import SUBJECT_ALIASES
from geo.text import visible
from maps.common import ReportParams, school_names, stage_frame, stage_layer, stage_mapping
from maps.labels import Language
from maps.layers import as_ids, level_name
from maps.money import in_unit, yuan
from maps.printmaps import PrintMap, print_files, print_maps
from maps.shortfalls import render as render_shortfall
from maps.stages import zones as zones_stage
from planning.app.stage import RunResult

logger = logging.getLogger(__name__)

#: Creation and modification time written into every document (a fixed time keeps the bytes stable).
FIXED_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
#: Fonts of 公文 (GB/T 9704): title 宋体 bold 22 pt (二号), level-1 headings 黑体, level-2 楷体, body 仿宋 16 pt (三号);
#: tables 宋体 10.5 pt (五号) so that long lists of units fit.
TITLE_FONT, H1_FONT, BODY_FONT, TABLE_FONT = "宋体", "黑体", "仿宋", "宋体"
TITLE_PT, BODY_PT, TABLE_PT = 22, 16, 10.5
#: Width of a figure on an A4 portrait page with 公文 margins (21 − 2.8 − 2.6 cm).
FIGURE_CM = 15.6
_NUMERALS = "一二三四五六七八九十"
_FOLDER = "documents"

_TEXT: Mapping[str, tuple[str, str]] = {
    "zoning_title": ("{name}义务教育学校划片招生方案", "{name}: school catchment zones"),
    "rotation_title": ("{name}教师交流轮岗名单", "{name}: teacher rotation roster"),
    "communities_title": ("{name}学校共同体名单", "{name}: school communities"),
    "summary": ("基本情况", "Summary"),
    "zones_of": ("{level}划片范围", "{level} catchment zones"),
    "changes": ("划片调整情况", "Changes against today's zones"),
    "figure": ("示意图", "Map"),
    "zoning_summary": (
        "本方案为{levels}共 {schools} 所学校划定招生片区，覆盖居住区（小区、村）{units} 个、适龄儿童 {children} 人。"
        "与现行划片相比，{changed}。",
        "This plan zones {schools} schools ({levels}) over {units} residential units with {children} children. "
        "Against today's zones: {changed}.",
    ),
    "zones_intro": ("{level}共 {n} 所学校招生，各校学位数与划片范围如下表。", "{n} schools admit {level} pupils; seats and zones below."),
    "changed_level": ("{level}调整居住区 {n} 个、涉及学生 {moved} 人", "{level} {n} units, {moved} pupils"),
    "no_current": ("输入数据未给出现行对口学校，无法列出调整情况。", "The inputs give no current school per unit, so no changes can be listed."),
    "no_changes": ("{level}划片与现行一致，无调整。", "No {level} unit changes school."),
    "changes_intro": ("{level}调整居住区 {n} 个，涉及学生 {moved} 人：", "{level}: {n} units, {moved} pupils change school:"),
    "unassigned": ("未安排", "not assigned"),
    "rotation_summary": (
        "本年度安排 {movers} 名教师交流轮岗（其中骨干教师 {backbone} 名），{back} 名教师跟岗交流，"
        "涉及派出学校 {senders} 所、接收学校 {receivers} 所。",
        "{movers} teachers rotate this year ({backbone} backbone teachers) and {back} exchange teachers go the other way, "
        "between {senders} sending and {receivers} receiving schools.",
    ),
    "roster": ("交流轮岗名单", "Roster"),
    "rotation_kind": ("交流轮岗", "rotation"),
    "exchange_kind": ("跟岗交流", "exchange"),
    "communities_summary": (
        "共组建学校共同体 {groups} 个，由 {leads} 所学校牵头、{members} 所成员学校参加；另结对帮扶 {pairs} 对。",
        "{groups} communities led by {leads} schools with {members} member schools; {pairs} one-to-one pairs.",
    ),
    "groups": ("共同体名单", "Communities"),
    "pairs": ("结对帮扶名单", "One-to-one pairs"),
    "group_name": ("{lead}共同体", "{lead} community"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}

_COLUMNS: Mapping[str, tuple[str, str]] = {
    "no": ("序号", "No."),
    "school": ("学校名称", "School"),
    "level": ("学段", "Level"),
    "seats": ("学位数", "Seats"),
    "children": ("划入学生数", "Pupils zoned"),
    "units": ("划片范围（小区、村）", "Zone (residential units)"),
    "unit": ("居住区", "Residential unit"),
    "township": ("乡镇", "Township"),
    "old": ("原对口学校", "Old school"),
    "new": ("调整后学校", "New school"),
    "moved": ("涉及学生数", "Pupils"),
    "name": ("姓名", "Name"),
    "from": ("原学校", "School"),
    "subject": ("任教学科", "Subject"),
    "title": ("职称", "Title"),
    "backbone": ("骨干教师", "Backbone"),
    "to": ("交流去向", "Destination"),
    "kind": ("交流类型", "Kind"),
    "reason": ("交流原因", "Reason"),
    "group": ("共同体", "Community"),
    "lead": ("牵头学校", "Lead school"),
    "members": ("成员学校", "Member schools"),
    "n_members": ("成员数", "Members"),
    "weak": ("受援学校", "Supported school"),
    "strong": ("帮扶学校", "Supporting school"),
    "minutes": ("车程（分钟）", "Drive (min)"),
}


def _t(key: str, lang: Language, **fmt: object) -> str:
    zh, en = _TEXT[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


def _cols(keys: Sequence[str], lang: Language) -> list[str]:
    return [_COLUMNS[k][0 if lang == "zh" else 1] for k in keys]


def _first_alias(aliases: Mapping[str, str]) -> dict[str, str]:
    """canonical value → the first Chinese name accepted for it."""
    out: dict[str, str] = {}
    for zh, canonical in aliases.items():
        out.setdefault(canonical, zh)
    return out


#: Canonical subject and title → the Chinese word a roster prints.
SUBJECT_ZH: Mapping[str, str] = _first_alias(SUBJECT_ALIASES)
#: Titles print as their band (初级/中级/高级): the canonical value keeps only the band, and the
#: first Chinese alias of ``junior`` (未定级) would mislabel every 二级教师.
TITLE_ZH: Mapping[str, str] = {"junior": "初级", "intermediate": "中级", "senior": "高级"}


# --------------------------------------------------------------------------- document building blocks


def _add(paragraph: Paragraph, text: str) -> Run:
    """A run of ``text`` without control characters (not allowed in XML) or bidi overrides (they scramble a printed name)."""
    return paragraph.add_run(visible(text))


def _fonts(run: Run, name: str, size: float, *, bold: bool = False) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    rpr = run._element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), name)


class _Doc:
    """A 公文-style document being built: numbered sections, tables with repeated headers, figures."""

    def __init__(self, title: str, lang: Language) -> None:
        self.doc: DocumentObject = Document()
        self.lang = lang
        self.sections = 0
        self.figures = 0
        sec = self.doc.sections[0]
        sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
        sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = Cm(3.7), Cm(3.5), Cm(2.8), Cm(2.6)
        props = self.doc.core_properties
        props.title, props.author, props.last_modified_by = visible(title), "schoolplan", "schoolplan"
        props.created = props.modified = FIXED_TIME
        props.revision = 1
        normal = self.doc.styles["Normal"]  # the table font: table cells (thousands of runs) need no run formatting
        normal.font.name, normal.font.size = TABLE_FONT, Pt(TABLE_PT)
        normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), TABLE_FONT)
        p = self.doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _fonts(_add(p, title), TITLE_FONT, TITLE_PT, bold=True)

    def heading(self, text: str) -> None:
        """A level-1 heading numbered 一、二、… (黑体)."""
        number = _NUMERALS[self.sections] if self.sections < len(_NUMERALS) else str(self.sections + 1)
        self.sections += 1
        p = self.doc.add_paragraph()
        _fonts(_add(p, f"{number}、{text}" if self.lang == "zh" else f"{self.sections}. {text}"), H1_FONT, BODY_PT)

    def para(self, text: str) -> None:
        """A body paragraph (仿宋, first line indented two characters)."""
        p = self.doc.add_paragraph()
        p.paragraph_format.first_line_indent = Pt(2 * BODY_PT)
        _fonts(_add(p, text), BODY_FONT, BODY_PT)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], *, widths_cm: Sequence[float] | None = None) -> Table:
        """A bordered table whose header row repeats on every page."""
        table = self.doc.add_table(rows=1 + len(rows), cols=len(header))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for r, (tr, values) in enumerate(zip(table._tbl.tr_lst, [header, *rows], strict=True)):
            cells = [_Cell(tc, table) for tc in tr.tc_lst]  # Row.cells walks the whole table: quadratic
            for c, value in enumerate(values):
                cell_run = cells[c].paragraphs[0].add_run("" if value is None else visible(str(value)))
                if r == 0:
                    cell_run.bold = True
                    if widths_cm is not None:
                        cells[c].width = Cm(widths_cm[c])
        if widths_cm is not None:
            for column, width in zip(table.columns, widths_cm, strict=True):
                column.width = Cm(width)
        tr_pr = table._tbl.tr_lst[0].get_or_add_trPr()
        repeat = OxmlElement("w:tblHeader")
        repeat.set(qn("w:val"), "true")
        tr_pr.append(repeat)
        self.doc.add_paragraph()
        return table

    def figure(self, png: bytes, caption: str) -> None:
        """A picture across the text width with a numbered caption below (图1 …)."""
        self.figures += 1
        self.doc.add_picture(io.BytesIO(png), width=Cm(FIGURE_CM))
        self.doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        p = self.doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        label = f"图{self.figures} {caption}" if self.lang == "zh" else f"Figure {self.figures}. {caption}"
        _fonts(_add(p, label), TABLE_FONT, TABLE_PT)

    def bytes(self) -> bytes:
        """The .docx with fixed zip dates (byte-identical for the same content)."""
        buf = io.BytesIO()
        self.doc.save(buf)
        return _fixed_zip(buf.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            # pictures are compressed already: stored as they are (deflating them again costs a second per document)
            fixed.compress_type = zipfile.ZIP_STORED if info.filename.endswith(".png") else zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def _num(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return ""
    return f"{v:,.0f}" if math.isfinite(v) else ""


def _figure_of(maps: Sequence[PrintMap], key: str) -> PrintMap | None:
    return next((m for m in maps if m.key == key), None)


# --------------------------------------------------------------------------- 划片招生方案


def _zone_rows(run: RunResult, level: str, lang: Language) -> tuple[list[list[Any]], pd.DataFrame] | None:
    """Rows of the zones table of ``level`` and the level's assignment joined to block names."""
    zones = stage_layer(run, zones_stage.STAGE, zones_stage.ZONES.format(level=level))
    assignment = stage_frame(run, zones_stage.STAGE, zones_stage.ASSIGNMENT.format(level=level))
    if zones is None or assignment is None:
        return None
    names = school_names(run)
    blocks = run.inputs.blocks
    block_name = dict(zip(as_ids(blocks["block_id"]), as_ids(blocks["name"]), strict=True)) if blocks is not None and "name" in blocks else {}
    a = assignment.assign(block_id=as_ids(assignment["block_id"]), school_id=as_ids(assignment["school_id"].fillna("")))
    a = a.assign(unit=[block_name.get(b) or b for b in a["block_id"]])
    schools = run.inputs.schools
    school_level = dict(zip(as_ids(schools["school_id"]), schools["level"].astype(str), strict=True)) if schools is not None else {}
    rows = []
    z = zones.assign(school_id=as_ids(zones["school_id"])).sort_values("school_id", kind="stable")
    for k, (sid, seats, students) in enumerate(zip(z["school_id"], z["capacity_seats"], z["students"], strict=True), start=1):
        units = a.loc[a["school_id"] == sid].sort_values("block_id", kind="stable")["unit"].tolist()
        sep = "、" if lang == "zh" else ", "
        rows.append([k, names.get(sid, sid), level_name(school_level.get(sid, level), lang), _num(seats), _num(students), sep.join(units)])
    return rows, a


def _changes(run: RunResult, level: str, a: pd.DataFrame, lang: Language) -> list[list[Any]] | None:
    """Changed units of ``level``: (no, unit, township, old school, new school, pupils); ``None`` without today's zones."""
    blocks = run.inputs.blocks
    column = f"current_{level}"
    if blocks is None or column not in blocks or blocks[column].isna().all():
        return None
    current = dict(zip(as_ids(blocks["block_id"]), blocks[column], strict=True))
    town = dict(zip(as_ids(blocks["block_id"]), blocks["township"], strict=True)) if "township" in blocks else {}
    names = school_names(run)
    rows: list[list[Any]] = []
    for b, unit, sid, students in zip(a["block_id"], a["unit"], a["school_id"], a["students"], strict=True):
        old = current.get(b)
        if old is None or pd.isna(old) or str(old) == sid:
            continue
        new = names.get(sid, sid) if sid else _t("unassigned", lang)
        tw = town.get(b)
        rows.append([len(rows) + 1, unit, "" if tw is None or pd.isna(tw) else str(tw), names.get(str(old), str(old)), new, _num(students)])
    return rows


def _moved(rows: Sequence[Sequence[Any]]) -> int:
    """Pupils in the change rows (last column, formatted with thousands separators)."""
    return sum(int(str(r[-1]).replace(",", "") or 0) for r in rows)


def _changed_summary(changes: Mapping[str, list[list[Any]] | None], lang: Language) -> str:
    if any(rows is None for rows in changes.values()):
        return "现行对口学校未给出" if lang == "zh" else "today's schools are not given"
    parts = [_t("changed_level", lang, level=level_name(lv, lang), n=len(rows), moved=f"{_moved(rows):,}")
             for lv, rows in changes.items() if rows is not None]
    return ("；" if lang == "zh" else "; ").join(parts)


def zoning_document(run: RunResult, params: ReportParams, maps: Sequence[PrintMap]) -> bytes | None:
    """划片招生方案: per level the schools, seats and zones, then the changes, with the print maps."""
    lang: Language = params.language
    levels = zones_stage.levels(run)
    per_level = {lv: r for lv in levels if (r := _zone_rows(run, lv, lang)) is not None}
    if not per_level:
        return None
    name = params.title or run.scenario.name
    doc = _Doc(_t("zoning_title", lang, name=name), lang)
    changes = {lv: _changes(run, lv, a, lang) for lv, (_, a) in per_level.items()}
    children = sum(int(a["students"].sum()) for _, a in per_level.values())
    units = len(set().union(*(set(a["block_id"]) for _, a in per_level.values())))
    doc.heading(_t("summary", lang))
    doc.para(_t("zoning_summary", lang, levels="、".join(level_name(lv, lang) for lv in per_level),
                schools=sum(len(r) for r, _ in per_level.values()),
                units=f"{units:,}", children=f"{children:,}", changed=_changed_summary(changes, lang)))
    for lv, (rows, _) in per_level.items():
        level = level_name(lv, lang)
        doc.heading(_t("zones_of", lang, level=level))
        doc.para(_t("zones_intro", lang, level=level, n=len(rows)))
        doc.table(_cols(("no", "school", "level", "seats", "children", "units"), lang), rows, widths_cm=(1.0, 3.2, 1.6, 1.4, 1.6, 6.8))
        fig = _figure_of(maps, f"zones-{lv}")
        if fig is not None:
            doc.figure(fig.png, fig.title)
    doc.heading(_t("changes", lang))
    for lv, rows in changes.items():
        level = level_name(lv, lang)
        if rows is None:
            doc.para(_t("no_current", lang))
            break
        if not rows:
            doc.para(_t("no_changes", lang, level=level))
            continue
        doc.para(_t("changes_intro", lang, level=level, n=len(rows), moved=f"{_moved(rows):,}"))
        doc.table(_cols(("no", "unit", "township", "old", "new", "moved"), lang), rows, widths_cm=(1.0, 3.4, 2.0, 3.4, 3.4, 2.0))
    return doc.bytes()


# --------------------------------------------------------------------------- 交流轮岗名单


def _teacher_info(run: RunResult) -> dict[str, dict[str, Any]]:
    teachers = run.inputs.teachers
    if teachers is None or teachers.empty:
        return {}
    frame = teachers.assign(teacher_id=as_ids(teachers["teacher_id"]))
    keep = [c for c in ("title", "name", "subject") if c in frame]
    return frame.set_index("teacher_id")[keep].to_dict(orient="index")


def rotation_document(run: RunResult, params: ReportParams, maps: Sequence[PrintMap]) -> bytes | None:
    """交流轮岗名单: every move with name, school, subject, title, destination, kind and reason, and the map."""
    from maps.stages import rotation as rstage  # noqa: PLC0415

    moves = stage_frame(run, rstage.STAGE, rstage.MOVES)
    if moves is None:
        return None
    lang: Language = params.language
    names, info = school_names(run), _teacher_info(run)
    zh = lang == "zh"
    rows = []
    for k, m in enumerate(moves.to_dict(orient="records"), start=1):
        tid = str(m["teacher_id"])
        t = info.get(tid, {})
        person = m.get("name") if isinstance(m.get("name"), str) and m.get("name") else t.get("name")
        subject = str(m.get("subject") or t.get("subject") or "")
        title = str(t.get("title") or "")
        kind = "exchange_kind" if m.get("direction") == "exchange" else "rotation_kind"
        backbone = _t("yes", lang) if bool(m.get("backbone")) else _t("no", lang)
        rows.append([k, person if isinstance(person, str) and person else tid, names.get(str(m["from_school"]), str(m["from_school"])),
                     SUBJECT_ZH.get(subject, subject) if zh else subject, TITLE_ZH.get(title, title) if zh else title, backbone,
                     names.get(str(m["to_school"]), str(m["to_school"])), _t(kind, lang), str(m.get("reason") or "")])
    direction = moves["direction"].astype(str) if "direction" in moves else pd.Series("rotation", index=moves.index)
    out = moves[(direction != "exchange").to_numpy()]
    doc = _Doc(_t("rotation_title", lang, name=params.title or run.scenario.name), lang)
    doc.heading(_t("summary", lang))
    backbone = int(out["backbone"].astype(bool).sum()) if "backbone" in out else 0
    doc.para(_t("rotation_summary", lang, movers=len(out), backbone=backbone, back=len(moves) - len(out),
                senders=out["from_school"].nunique(), receivers=out["to_school"].nunique()))
    doc.heading(_t("roster", lang))
    doc.table(_cols(("no", "name", "from", "subject", "title", "backbone", "to", "kind", "reason"), lang), rows,
              widths_cm=(0.9, 1.5, 2.2, 1.2, 1.1, 1.0, 2.2, 1.4, 4.1))
    fig = _figure_of(maps, "rotation")
    if fig is not None:
        doc.heading(_t("figure", lang))
        doc.figure(fig.png, fig.title)
    return doc.bytes()


# --------------------------------------------------------------------------- 共同体名单


def communities_document(run: RunResult, params: ReportParams, maps: Sequence[PrintMap]) -> bytes | None:
    """共同体名单: each group (level, lead, members), the one-to-one pairs, and the map."""
    from maps.stages import communities as cstage  # noqa: PLC0415

    groups = stage_frame(run, cstage.STAGE, cstage.GROUPS)
    pairs = stage_frame(run, cstage.STAGE, cstage.PAIRS)
    if groups is None and pairs is None:
        return None
    lang: Language = params.language
    names = school_names(run)
    sep = "、" if lang == "zh" else ", "
    group_rows: list[list[Any]] = []
    if groups is not None and not groups.empty:
        g = groups.assign(group_id=as_ids(groups["group_id"]), school_id=as_ids(groups["school_id"]), lead_id=as_ids(groups["lead_id"]))
        for _gid, part in g.groupby("group_id", sort=True):
            lead = str(part["lead_id"].iloc[0])
            members = [names.get(s, s) for s in sorted(part["school_id"]) if s != lead]
            level = level_name(str(part["level"].iloc[0]), lang) if "level" in part else ""
            group_rows.append([len(group_rows) + 1, _t("group_name", lang, lead=names.get(lead, lead)), level,
                               names.get(lead, lead), sep.join(members), len(members)])
    pair_rows: list[list[Any]] = []
    if pairs is not None and not pairs.empty and {"weak_id", "strong_id"} <= set(pairs.columns):
        by = [c for c in ("level", "weak_id") if c in pairs]
        for p in pairs.sort_values(by, kind="stable").to_dict(orient="records"):
            minutes = _num(float(p["time_s"]) / 60) if "time_s" in p else ""
            pair_rows.append([len(pair_rows) + 1, level_name(str(p.get("level", "")), lang), names.get(str(p["weak_id"]), str(p["weak_id"])),
                              names.get(str(p["strong_id"]), str(p["strong_id"])), minutes])
    doc = _Doc(_t("communities_title", lang, name=params.title or run.scenario.name), lang)
    doc.heading(_t("summary", lang))
    doc.para(_t("communities_summary", lang, groups=len(group_rows), leads=len(group_rows),
                members=sum(int(r[5]) for r in group_rows), pairs=len(pair_rows)))
    if group_rows:
        doc.heading(_t("groups", lang))
        doc.table(_cols(("no", "group", "level", "lead", "members", "n_members"), lang), group_rows, widths_cm=(1.0, 3.6, 1.4, 3.2, 5.4, 1.0))
    if pair_rows:
        doc.heading(_t("pairs", lang))
        doc.table(_cols(("no", "level", "weak", "strong", "minutes"), lang), pair_rows, widths_cm=(1.0, 1.6, 4.6, 4.6, 2.0))
    fig = _figure_of(maps, "communities")
    if fig is not None:
        doc.heading(_t("figure", lang))
        doc.figure(fig.png, fig.title)
    return doc.bytes()


_IMPROVE_TEXT: Mapping[str, tuple[str, str]] = {
    "title": ("{name}义务教育优质均衡发展达标提升方案", "{name}: achievement plan for 优质均衡"),
    "summary": (
        "按照县域义务教育优质均衡发展督导评估办法（教督〔2017〕6号），本方案以最低投入使{levels}各项指标差异系数全部达标、"
        "每所学校 7 项指标至少 6 项达标且其余 1 项不低于 85%。共需投入 {cost} 万元（按现行单价测算，最低投入不少于 {bound} 万元），"
        "分 {years} 年实施。",
        "Following 教督〔2017〕6号, this plan brings {levels} to every CV within its threshold and every school to 6 of 7 "
        "standards (the 7th at ≥ 85%) at the least cost: {cost} 10k yuan (no plan costs less than {bound} 10k yuan), over {years} year(s).",
    ),
    "summary_short": (
        "按照县域义务教育优质均衡发展督导评估办法（教督〔2017〕6号），本方案在现有场地、编制和预算条件下尽可能提升{levels}各项指标："
        "共需投入 {cost} 万元，分 {years} 年实施；仍有 {n} 项目标未能达到，逐项列于“未达标事项及所需条件”，需另行解决。",
        "Following 教督〔2017〕6号, this plan raises {levels} as far as the sites, posts and budget allow: {cost} 10k yuan over "
        "{years} year(s); {n} target(s) stay short, each listed under “Targets not met and what they would take”.",
    ),
    "budget": ("预算上限 {budget} 万元；全部达标需 {full} 万元，尚需追加 {extra} 万元。",
               "Budget ceiling {budget} 10k yuan; meeting every target costs {full} 10k yuan: {extra} 10k yuan more."),
    "short": ("未达标事项及所需条件", "Targets not met and what they would take"),
    "short_where": ("事项", "Where"),
    "short_by": ("缺口", "Short by"),
    "short_detail": ("原因及所需条件", "Why, and what it would take"),
    "by_resource": ("分类投入", "Cost by measure"),
    "by_school": ("各校提升措施", "Measures school by school"),
    "cv": ("差异系数实施前后对照", "CVs before and after"),
    "by_year": ("分年度投入", "Cost by year"),
    "year": ("第 {y} 年", "Year {y}"),
}


def improve_document(run: RunResult, params: ReportParams, maps: Sequence[PrintMap]) -> bytes | None:
    """达标提升方案: the plan in brief, cost by measure and by year, each school's measures, CVs before and after."""
    from maps.stages import improve as istage  # noqa: PLC0415

    measures = stage_frame(run, istage.STAGE, istage.MEASURES)
    metrics = stage_mapping(run, istage.STAGE, istage.METRICS)
    if measures is None or metrics is None:
        return None
    lang: Language = params.language

    def tx(key: str, **fmt: object) -> str:
        zh, en = _IMPROVE_TEXT[key]
        return (zh if lang == "zh" else en).format(**fmt)

    passes = metrics.get("passes") if isinstance(metrics.get("passes"), Mapping) else {}
    levels = ("、" if lang == "zh" else ", ").join(level_name(str(lv), lang) for lv in passes)  # type: ignore[union-attr]
    years = sorted({int(y) for y in measures["year"]}) if not measures.empty else []
    doc = _Doc(tx("title", name=params.title or run.scenario.name), lang)
    doc.heading(_t("summary", lang))
    shorts = [x for x in metrics.get("shortfalls") or [] if isinstance(x, Mapping)]  # type: ignore[union-attr]
    key = "summary_short" if shorts else "summary"
    doc.para(tx(key, levels=levels, cost=istage.wan(metrics.get("total_cost_yuan")), bound=istage.wan(metrics.get("bound_yuan")),
                years=len(years), n=len(shorts)))
    budget = metrics.get("budget")
    if isinstance(budget, Mapping):
        doc.para(tx("budget", budget=istage.wan(budget.get("budget_yuan")), full=istage.wan(budget.get("full_cost_yuan")),
                    extra=istage.wan(budget.get("extra_needed_yuan"))))
    if not measures.empty:
        per = measures.assign(resource=as_ids(measures["resource"])).groupby("resource", sort=False)[["quantity", "cost_yuan"]].sum()
        rows = [[n + 1, istage.resource_name(r, lang), istage.quantity_text(r, float(q), lang), istage.wan(c)]
                for n, (r, q, c) in enumerate(zip(per.index, per["quantity"], per["cost_yuan"]))]
        doc.heading(tx("by_resource"))
        header = [_cols(("no",), lang)[0], istage.label("measure", lang), istage.label("quantity", lang), istage.label("cost", lang)]
        doc.table(header, rows, widths_cm=(1.0, 6.0, 4.0, 3.0))
        by_year = measures.groupby("year")["cost_yuan"].sum()
        doc.heading(tx("by_year"))
        doc.table([istage.label("years", lang), istage.label("cost", lang)], [[tx("year", y=int(y)), istage.wan(c)] for y, c in by_year.items()],
                  widths_cm=(4.0, 4.0))
        table = istage.measures_by_school(measures, lang)
        doc.heading(tx("by_school"))
        doc.table([_cols(("no",), lang)[0], *table.columns], [[n + 1, *row] for n, row in enumerate(table.itertuples(index=False))],
                  widths_cm=(1.0, 3.6, 7.4, 2.0, 1.6))
    cv = istage.cv_frame(metrics, lang)
    if not cv.empty:
        doc.heading(tx("cv"))
        # three decimals throughout: 0.49989 shown as "0.5" would read as exactly at the threshold
        rows = [[lv, ind, f"{th:.2f}", *(f"{v:.3f}" if isinstance(v, float) else "–" for v in (b, a))]
                for lv, ind, th, b, a in cv.itertuples(index=False)]
        doc.table(list(cv.columns), rows, widths_cm=(1.4, 7.6, 1.6, 1.8, 1.8))
    unmet = istage.unmet_rows(metrics, lang)
    if unmet:  # worded in the document's language, from the plan's records
        doc.heading(tx("short"))
        doc.table([_cols(("no",), lang)[0], tx("short_where"), tx("short_detail")], [[n + 1, w, d] for n, (w, d) in enumerate(unmet)],
                  widths_cm=(1.0, 4.2, 9.6))
    elif shorts:
        doc.heading(tx("short"))
        rows = [[n + 1, str(x.get("where", "")), f"{x.get('short_by', '')} {x.get('unit', '')}", str(x.get("detail", ""))]
                for n, x in enumerate(shorts)]
        doc.table([_cols(("no",), lang)[0], tx("short_where"), tx("short_by"), tx("short_detail")], rows, widths_cm=(1.0, 3.6, 2.6, 7.6))
    return doc.bytes()


_LAYOUT_TEXT: Mapping[str, tuple[str, str]] = {
    "title": ("{name}义务教育学校布局调整方案", "{name}: school layout plan"),
    "trend": ("预计小学适龄儿童由 {y0} 年的 {p0:,} 人变为 {y1} 年的 {p1:,} 人，初中由 {j0:,} 人变为 {j1:,} 人。",
              "Primary-age children are projected to go from {p0:,} in {y0} to {p1:,} in {y1}, junior from {j0:,} to {j1:,}."),
    "plan": ("按{year}的适龄儿童规划：{list}；撤并 {closed} 所，占现有学校的 {share:.0%}（上限 {cap:.0%}）。规划期 {h} 年总费用 {total}，"
             "其中新建、扩建校舍 {built}；寄宿 {b:,} 人，乘校车 {bus:,} 人。",
             "Planned for the children of {year}: {list}; {closed} schools merge or close, {share:.0%} of today's (at most {cap:.0%}). "
             "Cost over {h} years {total}, of which construction {built}; {b:,} children board, {bus:,} ride a school bus."),
    "beyond": ("另有 {n:,} 名儿童在政策时限内（一至三年级走读 {day:.0f} 分钟，四至九年级寄宿 {board:.0f} 分钟）无校可上，安排到最近的学校，"
               "最远单程 {far:.0f} 分钟。",
               "A further {n:,} children have no school within the policy limits (grades 1–3 by day {day:.0f} min, grades 4–9 boarding "
               "{board:.0f} min) and go to the nearest, at most {far:.0f} min one way."),
    "year": (" {y} 年", "{y}"),
    "today": ("现状", "today"),
    "moves": ("撤并学校学生安置", "Where the children of merged schools go"),
    "moves_intro": ("下表列出每所撤并学校的学生去向、最远单程时间、寄宿和乘校车人数，供征求家长意见和听证使用。",
                    "For each merged school: where its children go, the longest one-way trip, how many board and ride a school bus — "
                    "for the parents' consultation and the hearing."),
    "none_moved": ("本方案不撤并学校。", "No school merges in this plan."),
    "why": ("撤并理由", "Why each school merges or closes"),
    "building": ("新建和扩建", "New schools and extensions"),
    "short": ("未达到政策目标的情况", "Targets not met"),
    "rules": ("撤并规则", "Merge rules"),
}
_LAYOUT_COLUMNS: Mapping[str, tuple[str, str]] = {
    "school": ("撤并学校", "Merged school"), "into": ("接收学校", "Receiving school"), "children": ("学生数", "Children"),
    "units": ("居住区数", "Units"), "far_min": ("最远单程（分钟）", "Longest trip (min)"), "boarders": ("寄宿", "Board"),
    "bus": ("乘校车", "School bus"), "name": ("学校", "School"), "decision": ("决定", "Decision"),
    "primary": ("小学班数（现→规划）", "Primary classes (now → planned)"), "junior": ("初中班数（现→规划）", "Junior classes (now → planned)"),
    "cost": ("建设费用（万元）", "Construction (10,000 yuan)"), "where": ("范围", "Where"), "short_by": ("缺口", "Short by"),
    "detail": ("说明", "Detail"),
}  # fmt: skip


def _layout_summary(run: RunResult, metrics: Mapping[str, Any], lang: Language) -> list[str]:
    """The paragraphs of the layout document's summary: the projected children and the plan in brief."""
    from maps.stages import layout as lstage  # noqa: PLC0415

    tx = lambda key, **fmt: (_LAYOUT_TEXT[key][0] if lang == "zh" else _LAYOUT_TEXT[key][1]).format(**fmt)  # noqa: E731
    out = []
    county = stage_frame(run, "projection", "county.csv")
    if county is not None and len(county):
        a, b = county.iloc[0], county.iloc[-1]
        out.append(tx("trend", y0=int(a["year"]), y1=int(b["year"]), p0=int(a["primary"]), p1=int(b["primary"]), j0=int(a["junior"]),
                      j1=int(b["junior"])))
    pick = 0 if lang == "zh" else 1
    listed = ("、" if lang == "zh" else ", ").join(f"{lstage._DECISION.get(str(k), (str(k), str(k)))[pick]} {v}"
                                                  for k, v in dict(metrics.get("decisions", {})).items())
    counts = dict(metrics.get("decisions", {}))
    params = lstage.run_options(run)  # the run's own limits and costs, defaults where it has none
    year = tx("year", y=metrics["year"]) if metrics.get("year") else tx("today")
    costs = dict(metrics.get("costs_yuan", {}))
    out.append(tx("plan", year=year, list=listed, closed=int(counts.get("merge", 0)) + int(counts.get("close", 0)),
                  share=float(metrics.get("closed_share", 0)), cap=float(getattr(params, "max_close_share", 0.25)),
                  h=int(getattr(params, "horizon_years", 10)), total=yuan(float(metrics.get("objective_yuan", 0)), lang),
                  built=yuan(float(costs.get("construction", 0)), lang), b=int(metrics.get("boarders", 0)),
                  bus=int(metrics.get("bus_riders", 0))))
    beyond = sum(int(v) for v in dict(metrics.get("beyond_limits_children", {})).values())
    if beyond:  # the hearing should hear of the children the plan cannot bring within the limits
        out.append(tx("beyond", n=beyond, day=float(getattr(params, "day_max_s", 1800)) / 60,
                      board=float(getattr(params, "boarding_max_s", 3600)) / 60, far=float(metrics.get("longest_beyond_limits_min", 0))))
    return out


def layout_document(run: RunResult, params: ReportParams, maps: Sequence[PrintMap]) -> bytes | None:
    """布局调整方案: the projected children and the plan in brief, each merged school's children (where, how far, boarding,
    bus: the hearing's evidence), new schools and extensions, targets not met, the merge rules."""
    from maps.stages import layout as lstage  # noqa: PLC0415

    dec, asg = stage_frame(run, lstage.STAGE, lstage.DECISIONS), stage_frame(run, lstage.STAGE, lstage.ASSIGNMENT)
    metrics = stage_mapping(run, lstage.STAGE, lstage.METRICS)
    if dec is None or asg is None or metrics is None:
        return None
    lang: Language = params.language
    pick = 0 if lang == "zh" else 1
    tx = lambda key, **fmt: _LAYOUT_TEXT[key][pick].format(**fmt)  # noqa: E731
    cols = lambda keys: [_cols(("no",), lang)[0], *(_LAYOUT_COLUMNS[k][pick] for k in keys)]  # noqa: E731
    names = school_names(run)
    doc = _Doc(tx("title", name=params.title or run.scenario.name), lang)
    doc.heading(_t("summary", lang))
    for text in _layout_summary(run, metrics, lang):
        doc.para(text)
    doc.heading(tx("moves"))
    moved = lstage.moved_children(dec, asg, names)
    doc.para(tx("moves_intro") if len(moved) else tx("none_moved"))
    if len(moved):
        rows = [[n + 1, r.school, r.into, _num(r.children), r.units, f"{r.far_min:.0f}", _num(r.boarders), _num(r.bus)]
                for n, r in enumerate(moved.itertuples())]
        doc.table(cols(("school", "into", "children", "units", "far_min", "boarders", "bus")), rows,
                  widths_cm=(1.0, 3.6, 3.6, 1.5, 1.5, 1.8, 1.2, 1.4))
    closing = dec[dec["decision"].isin(["merge", "close"])]
    if len(closing) and "reason" in closing.columns:  # each with its reason from the plan's figures (decisions.csv)
        doc.heading(tx("why"))
        rows = [[n + 1, names.get(str(r.school_id), str(r.name)), lstage._DECISION.get(str(r.decision), (r.decision, r.decision))[pick],
                 lstage.reason_text(str(r.reason), lang) if isinstance(r.reason, str) else ""] for n, r in enumerate(closing.itertuples())]
        doc.table(cols(("name", "decision", "detail")), rows, widths_cm=(1.0, 3.6, 1.4, 9.0))
    built = dec[dec["decision"].isin(["new", "expand"])]
    if len(built):
        doc.heading(tx("building"))
        rows = [[n + 1, names.get(str(r.school_id), str(r.name)), lstage._DECISION.get(str(r.decision), (r.decision, r.decision))[pick],
                 f"{r.classes_primary_before}→{r.classes_primary_after}", f"{r.classes_junior_before}→{r.classes_junior_after}",
                 in_unit(float(r.construction_yuan), 1e4)] for n, r in enumerate(built.itertuples())]
        doc.table(cols(("name", "decision", "primary", "junior", "cost")), rows, widths_cm=(1.0, 5.0, 1.6, 2.4, 2.4, 2.2))
    out = run.outputs.get(lstage.STAGE)
    if out is not None and out.shortfalls:
        doc.heading(tx("short"))
        said = [render_shortfall(x, lang) for x in out.shortfalls]
        rows = [[n + 1, where, f"{x.short_by:,} {unit}" if lang == "en" else f"{x.short_by:,}{unit}", detail]
                for n, (x, (where, unit, detail)) in enumerate(zip(out.shortfalls, said))]
        doc.table(cols(("where", "short_by", "detail")), rows, widths_cm=(1.0, 4.0, 2.6, 7.2))
    options = lstage.run_options(run)
    doc.heading(tx("rules"))
    doc.para(lstage.rules_text(options, lang))
    doc.para(lstage.hearing_text(options, lang))
    return doc.bytes()


def documents(run: RunResult, params: ReportParams, *, maps: Sequence[PrintMap]) -> dict[str, bytes]:
    """``documents/zoning.docx``, ``rotation.docx``, ``communities.docx``, ``improve.docx`` and ``layout.docx`` of the stages that ran.

    Parameters
    ----------
    run
        What the run made.
    params
        Report settings (language, title).
    maps
        The print maps (:func:`maps.printmaps.print_maps`), placed as figures.

    Returns
    -------
    dict
        Relative path → .docx bytes.
    """
    files: dict[str, bytes] = {}
    makers = (("zoning", zoning_document), ("rotation", rotation_document), ("communities", communities_document), ("improve", improve_document),
              ("layout", layout_document))
    for name, make in makers:
        data = make(run, params, maps)
        if data is not None:
            files[f"{_FOLDER}/{name}.docx"] = data
    return files


def print_documents(run: RunResult, params: ReportParams) -> dict[str, bytes]:
    """The print maps and the Word documents (none when ``params.documents`` is off): path → bytes."""
    if not params.documents:
        return {}
    t0 = time.perf_counter()
    maps = print_maps(run, params, paper=params.paper)
    t1 = time.perf_counter()
    files = {**print_files(maps), **documents(run, params, maps=maps)}
    logger.info("print maps in %.1f s, documents in %.1f s", t1 - t0, time.perf_counter() - t1)
    return files
