"""The rotation renderer's map layer: flows between schools, arcs and arrowheads."""

from __future__ import annotations

import re
from collections.abc import Callable

import folium
import numpy as np
import pandas as pd
from branca.element import Figure

from maps.stages import rotation
from planning.app.stage import RunResult


def _map() -> folium.Map:
    figure = Figure()
    m = folium.Map(location=[37.0, 110.0], tiles=None)
    figure.add_child(m)
    return m


def _script(m: folium.Map) -> str:
    return m.get_root().render()


def test_rotation_flows_aggregates_pairs() -> None:
    moves = pd.DataFrame({
        "teacher_id": ["T1", "T2", "T3", "T4"],
        "from_school": ["A", "A", "A", "B"],
        "to_school": ["C", "C", "C", "A"],
        "subject": ["math", "math", "pe", "chinese"],
        "backbone": [True, False, "True", False],
    })
    flows = rotation.rotation_flows(moves)
    assert flows.to_dict("records") == [
        {"from_school": "A", "to_school": "C", "teachers": 3, "backbone": 2, "subjects": "math×2, pe"},
        {"from_school": "B", "to_school": "A", "teachers": 1, "backbone": 0, "subjects": "chinese"},
    ]


def test_rotation_flows_without_columns_is_empty() -> None:
    assert rotation.rotation_flows(pd.DataFrame({"teacher_id": ["T1"]})).empty


def test_add_rotation_width_grows_with_teachers(make_run: Callable[..., RunResult]) -> None:
    run = make_run()
    m = rotation.add_rotation(_map(), run.inputs.schools, run.outputs["rotation"].files["moves.csv"])
    page = _script(m)
    widths = sorted(float(w) for w in re.findall(r'"w":([0-9.]+)', page))
    assert widths == [1, 1, 1, 3.5, 3.5, 4.3]  # 3 arrowheads; arcs 1.5 + 2√n for n = 1, 1, 2
    assert page.count('"type":"Polygon"') == 3
    assert "骨干教师 1" in page and "chinese, math" in page


def test_arc_bends_right_of_travel() -> None:
    forward = rotation._arc((0.0, 0.0), (1.0, 0.0))
    back = rotation._arc((1.0, 0.0), (0.0, 0.0))
    assert forward.coords[0] == (0.0, 0.0) and forward.coords[-1] == (1.0, 0.0)
    assert min(y for _, y in forward.coords) < 0 < max(y for _, y in back.coords)


def test_arrowhead_points_to_the_receiving_school() -> None:
    a, b = (110.0, 37.0), (110.1, 37.0)
    head = rotation._arrowhead(a, b)
    tip = head.exterior.coords[0]
    base = np.mean(head.exterior.coords[1:3], axis=0)
    assert tip[0] > base[0]  # points east, towards b
    assert 110.05 < tip[0] < 110.1
    assert rotation._arrowhead(b, a).exterior.coords[0][0] < 110.05  # the return trip points west


def test_cv_table_says_plainly_what_got_worse() -> None:
    from maps.stages.rotation import cv_table

    metrics = {
        "cv_before": {"primary": {"backbone_per_100": 1.154, "above_qualification_per_100": 0.713, "basic_composite": 0.624},
                      "junior": {"backbone_per_100": 0.626}},
        "cv_after": {"primary": {"backbone_per_100": 1.189, "above_qualification_per_100": 0.700, "basic_composite": 0.624},
                     "junior": {"backbone_per_100": 0.600}},
    }
    zh, worse_zh = cv_table(metrics, "zh")
    assert list(zh.columns) == ["学段", "指标", "交流前", "交流后", "变化", "结论"]
    assert zh["结论"].tolist() == ["变差", "改善", "不变", "改善"]
    assert worse_zh == ["小学 每百名学生拥有县级及以上骨干教师数 1.154 → 1.189"]
    en, worse_en = cv_table(metrics, "en")
    assert en["Verdict"].tolist() == ["worse", "better", "unchanged", "better"] and len(worse_en) == 1
    assert cv_table({}, "en")[0].empty
