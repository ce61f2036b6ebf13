"""Text made safe to show (geo.text), and loading removes control characters with a warning (issue 14, case 3)."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point

from geo.text import BIDI_CONTROLS, control_codes, csv_text, html_text, looks_like_formula, visible, without_controls
from geo.validate import InputWarning, validate_inputs


def test_visible_drops_controls_and_bidi_but_keeps_line_breaks() -> None:
    assert visible("一\x00小\x07\x0b\x1b\x7f\x85") == "一小"
    assert visible("a\tb\nc\rd") == "a\tb\nc\rd"
    assert visible("".join(sorted(BIDI_CONTROLS)) + "城关") == "城关"
    assert without_controls("九年\u202e制\x00") == "九年\u202e制"  # right-to-left marks may be part of a name
    assert control_codes("三\x00小\x07\x00\u202e") == ["U+0000", "U+0007"]


def test_html_text_escapes_markup_and_quotes() -> None:
    assert html_text("</title><script>alert('x')</script>") == "&lt;/title&gt;&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert html_text('a"b&\u202ec') == "a&quot;b&amp;c"
    assert html_text(3.5) == "3.5"


@pytest.mark.parametrize(
    ("text", "formula"),
    [
        ("=1+1", True), ('=HYPERLINK("http://evil.example","x")', True), ("+1+2", True), ("-2+3", True),
        ("@SUM(A1)", True), ("\t=1", True), ("\rx", True), ("-", True), ("--", True),
        ("-5", False), ("+3.25", False), ("-1e-3", False), (".5", False), ("城关一小", False), ("a=b", False), ("", False),
    ],
)
def test_formula_like_texts(text: str, formula: bool) -> None:
    assert looks_like_formula(text) is formula
    assert csv_text(text) == ("'" + text if formula else text)


def test_issue14_case3_loading_removes_control_characters_with_a_warning() -> None:
    schools = gpd.GeoDataFrame(
        {"school_id": ["S\x001", "S2"], "name": ["一小\x07", "三\x00小"], "level": ["primary"] * 2,
         "area_type": ["urban"] * 2, "capacity_primary": [900, 300]},
        geometry=[Point(110.10, 37.10), Point(110.11, 37.10)], crs=4326,
    )
    with pytest.warns(InputWarning) as caught:
        out = validate_inputs(schools).schools
    messages = [str(w.message) for w in caught]
    assert "schools, column 'school_id': invisible control characters (U+0000) removed in 1 rows (school_id S1)" in messages
    assert "schools, column 'name': invisible control characters (U+0007, U+0000) removed in 2 rows (school_id S1, school_id S2)" in messages
    assert out["school_id"].tolist() == ["S1", "S2"]
    assert out["name"].tolist() == ["一小", "三小"]
