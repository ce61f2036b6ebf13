"""Word documents (划片招生方案, 交流轮岗名单, 共同体名单), read back with python-docx."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Callable

import pandas as pd
import pytest
from docx import Document
from docx.document import Document as DocumentObject
from docx.table import Table

from maps.common import ReportParams
from maps.documents import SUBJECT_ZH, TITLE_ZH, documents, print_documents
from maps.printmaps import print_maps
from planning.app.stage import RunResult, StageOutput

NAMES = {"P1": "城关一小", "P2": "城关二小", "P3": "西镇小学", "P4": "南关小学"}


@pytest.fixture(name="docs", scope="module")
def docs_fixture(make_run: Callable[..., RunResult]) -> dict[str, bytes]:
    run = make_run()
    return documents(run, ReportParams(), maps=print_maps(run, ReportParams()))


def _read(data: bytes) -> DocumentObject:
    return Document(io.BytesIO(data))


def _rows(table: Table) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in table.rows]


def _text(doc: DocumentObject) -> str:
    return "\n".join(p.text for p in doc.paragraphs)


def test_one_document_per_stage(docs: dict[str, bytes]) -> None:
    assert sorted(docs) == ["documents/communities.docx", "documents/rotation.docx", "documents/zoning.docx"]


def test_zoning_lists_each_school_with_seats_and_its_units(make_run: Callable[..., RunResult], docs: dict[str, bytes]) -> None:
    run = make_run()
    doc = _read(docs["documents/zoning.docx"])
    text = _text(doc)
    assert doc.paragraphs[0].text == "测试县义务教育学校划片招生方案"
    assert "一、基本情况" in text and "二、小学划片范围" in text and "三、划片调整情况" in text
    header, *rows = _rows(doc.tables[0])
    assert header == ["序号", "学校名称", "学段", "学位数", "划入学生数", "划片范围（小区、村）"]
    # expected from the fixture's own tables: each zone's units by block id, seats from the schools
    assignment = run.outputs["zones"].files["primary/assignment.csv"]
    blocks = run.inputs.blocks.set_index("block_id")["name"]
    seats = run.inputs.schools.set_index("school_id")["capacity_primary"]
    by_school = {row[1]: row for row in rows}
    assert set(by_school) == set(NAMES.values())
    for sid, name in NAMES.items():
        units = [blocks[b] for b in sorted(assignment.loc[assignment["school_id"] == sid, "block_id"])]
        assert by_school[name][2] == "小学"
        assert by_school[name][3] == f"{seats[sid]:,}"
        assert by_school[name][5] == "、".join(units)
    assert "输入数据未给出现行对口学校" in text  # the fixture's blocks have no current school


def test_zoning_change_list_names_old_and_new_school(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    blocks = run.inputs.blocks.assign(current_primary="P1")  # today everyone goes to 城关一小
    run = dataclasses.replace(run, inputs=dataclasses.replace(run.inputs, blocks=blocks))
    doc = _read(documents(run, ReportParams(), maps=[])["documents/zoning.docx"])
    assignment = run.outputs["zones"].files["primary/assignment.csv"]
    changed = assignment[assignment["school_id"] != "P1"]
    header, *rows = _rows(doc.tables[-1])
    assert header == ["序号", "居住区", "乡镇", "原对口学校", "调整后学校", "涉及学生数"]
    assert len(rows) == len(changed)
    assert {r[3] for r in rows} == {"城关一小"}
    assert {r[4] for r in rows} == {"城关二小", "西镇小学", "南关小学", "未安排"}  # the last block is unserved
    assert sum(int(r[5]) for r in rows) == int(changed["students"].sum())
    assert f"小学调整居住区 {len(changed)} 个、涉及学生 {int(changed['students'].sum()):,} 人" in _text(doc)


def test_rotation_roster_has_name_subject_title_destination_reason(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    moves = run.outputs["rotation"].files["moves.csv"].assign(name=["张伟", "李娜", None, "王芳"], direction=["rotation"] * 3 + ["exchange"])
    teachers = pd.DataFrame({"teacher_id": ["T1", "T2", "T3", "T4"], "title": ["senior", "junior", "intermediate", "junior"]})
    outputs = {**run.outputs, "rotation": StageOutput(files={**run.outputs["rotation"].files, "moves.csv": moves})}
    run = dataclasses.replace(run, outputs=outputs, inputs=dataclasses.replace(run.inputs, teachers=teachers))
    doc = _read(documents(run, ReportParams(), maps=[])["documents/rotation.docx"])
    header, *rows = _rows(doc.tables[0])
    assert header == ["序号", "姓名", "原学校", "任教学科", "职称", "骨干教师", "交流去向", "交流类型", "交流原因"]
    assert rows[0] == ["1", "张伟", "城关一小", "数学", "高级", "是", "西镇小学", "交流轮岗", "quota"]
    assert rows[2][1] == "T3"  # no name: the teacher's id
    assert rows[3][3:5] == ["体育", "初级"] and rows[3][7] == "跟岗交流"
    assert "本年度安排 3 名教师交流轮岗（其中骨干教师 2 名），1 名教师跟岗交流" in _text(doc)


def test_communities_list_lead_and_members(docs: dict[str, bytes]) -> None:
    doc = _read(docs["documents/communities.docx"])
    header, *rows = _rows(doc.tables[0])
    assert header == ["序号", "共同体", "学段", "牵头学校", "成员学校", "成员数"]
    assert rows == [["1", "城关一小共同体", "小学", "城关一小", "西镇小学、南关小学", "2"]]


def test_documents_carry_the_print_maps_as_figures(docs: dict[str, bytes]) -> None:
    for name, figures in (("zoning", 1), ("rotation", 1), ("communities", 1)):
        doc = _read(docs[f"documents/{name}.docx"])
        assert len(doc.inline_shapes) == figures, name
        assert any(p.text.startswith("图1 测试县 · ") for p in doc.paragraphs), name


def test_documents_are_byte_identical_with_fixed_dates(make_run: Callable[..., RunResult]) -> None:
    first = print_documents(make_run(), ReportParams())
    second = print_documents(make_run(), ReportParams())
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name
    with zipfile.ZipFile(io.BytesIO(first["documents/zoning.docx"])) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert _read(first["documents/zoning.docx"]).core_properties.created.year == 2000


def test_english_documents(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    docs = documents(run, ReportParams(language="en"), maps=[])
    doc = _read(docs["documents/rotation.docx"])
    assert doc.paragraphs[0].text == "测试县: teacher rotation roster"
    assert _rows(doc.tables[0])[0][:3] == ["No.", "Name", "School"]


def test_documents_can_be_switched_off_and_follow_the_stages(make_run: Callable[..., RunResult]) -> None:
    assert print_documents(make_run(), ReportParams(documents=False)) == {}
    only = documents(make_run(stages=("communities",)), ReportParams(), maps=[])
    assert list(only) == ["documents/communities.docx"]


def test_chinese_words_for_canonical_values() -> None:
    assert SUBJECT_ZH["math"] == "数学" and SUBJECT_ZH["pe"] == "体育" and SUBJECT_ZH["morality"] == "道德与法治"
    assert (TITLE_ZH["junior"], TITLE_ZH["intermediate"], TITLE_ZH["senior"]) == ("初级", "中级", "高级")


def test_control_and_bidi_characters_are_dropped_from_documents_and_maps(make_run: Callable[..., RunResult]) -> None:
    run = make_run(name="测试县\x07")
    schools = run.inputs.schools.assign(name=["城关\x0b一小", "城关二小", "西镇\u202e小学", "南关小学"])
    run = dataclasses.replace(run, inputs=dataclasses.replace(run.inputs, schools=schools))
    files = print_documents(run, ReportParams())  # a missing glyph would warn (an error here), bad XML would raise
    doc = _read(files["documents/communities.docx"])
    assert doc.paragraphs[0].text == "测试县学校共同体名单"
    assert _rows(doc.tables[0])[1][3:5] == ["城关一小", "西镇小学、南关小学"]
