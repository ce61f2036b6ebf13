"""Issue 14, cases 3 and 9: the writer keeps spreadsheet texts as text, numbers as numbers, and drops control characters."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd

from planning.app.writer import csv_bytes, excel_bytes


def _sheet_xml(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/")}


# --------------------------------------------------------------------------- the writer alone

TABLE = pd.DataFrame({
    "name": pd.array(["=1+1", "-2+3", "@SUM(A1)", "\tx", "#N/A", "城关一小", None], dtype="str"),
    "id": ["-5", "+3.2", "=A", "b", "c", "d", "e"],
    "level": pd.Categorical(["=x", "primary", "primary", "junior", "junior", "primary", "junior"]),
    "delta": [-1, -2, 0, 3, -4, 5, -6],
    "share": [-0.5, 0.25, float("nan"), -1e-3, 0.0, 1.0, -2.5],
})


def test_issue14_case9_excel_cells_are_text_numbers_stay_numbers(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    path.write_bytes(excel_bytes({"t": TABLE.rename(columns={"id": "=id"})}))
    xml = _sheet_xml(path)["xl/worksheets/sheet1.xml"]
    assert "<f>" not in xml and 't="e"' not in xml  # no formula, no error cell ("#N/A" is a name)
    ws = openpyxl.load_workbook(path)["t"]
    header = [c.value for c in ws[1]]
    assert header == ["name", "=id", "level", "delta", "share"]
    assert ws["B1"].quotePrefix
    column = {c.value: c for c in ws["A"][1:]}
    for text in ("=1+1", "-2+3", "@SUM(A1)", "\tx"):
        assert column[text].data_type == "s" and column[text].quotePrefix, text
    assert column["#N/A"].data_type == "s" and not column["#N/A"].quotePrefix
    assert not column["城关一小"].quotePrefix
    assert [c.value for c in ws["B"][1:3]] == ["-5", "+3.2"]  # texts that are numbers stay texts, unflagged
    assert not ws["B2"].quotePrefix
    assert [c.value for c in ws["D"][1:]] == [-1, -2, 0, 3, -4, 5, -6]
    assert ws["E2"].value == -0.5 and ws["E2"].data_type == "n"


def test_issue14_case9_csv_quotes_formula_like_texts_only() -> None:
    data = csv_bytes(TABLE)
    assert data == csv_bytes(TABLE)  # deterministic
    lines = data.decode("utf-8-sig").split("\n")
    assert lines[0] == "name,id,level,delta,share"
    assert lines[1] == "'=1+1,-5,'=x,-1,-0.5"
    assert lines[2] == "'-2+3,+3.2,primary,-2,0.25"
    assert lines[3] == "'@SUM(A1),'=A,primary,0,"
    assert lines[4] == "'\tx,b,junior,3,-0.001"
    assert lines[5] == "#N/A,c,junior,-4,0.0"
    assert lines[7] == ",e,junior,-6,-2.5"  # missing stays empty
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert back["delta"].tolist() == TABLE["delta"].tolist()
    assert TABLE["name"].iloc[0] == "=1+1"  # the table given is not changed


def test_issue14_case3_excel_drops_control_characters() -> None:
    table = pd.DataFrame({"name": ["一小\x0b", "二\x00小\x07", "九年\u202e制", "a\tb\nc"]})
    wb = openpyxl.load_workbook(io.BytesIO(excel_bytes({"t": table})))
    assert [c.value for c in wb["t"]["A"][1:]] == ["一小", "二小", "九年制", "a\tb\nc"]
