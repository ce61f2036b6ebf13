"""The never-worse rule, the exchange and its limits: toy counties with CVs computed by hand, generated counties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planning.rotation import RotationOptions, SolveLimits, balance_change, from_frames
from planning.rotation.guard import official_cv
from tests.planning.rotation.test_rotation import staff, travel

LIMITS = SolveLimits(time_limit_s=10, workers=1)
TARGETED = ("backbone_per_100", "above_qualification_per_100", "intermediate_title_per_100", "teachers_per_100", "basic_composite")


def schools_of(rows: list[tuple[str, str, str, int, bool]]) -> pd.DataFrame:
    """(school_id, name, area_type, pupils, teaching point) → primary schools."""
    return pd.DataFrame({
        "school_id": [r[0] for r in rows], "name": [r[1] for r in rows], "level": "primary",
        "area_type": [r[2] for r in rows], "enrolled_primary": [r[3] for r in rows], "enrolled_junior": 0,
        "teaching_point": [r[4] for r in rows],
    })


def test_official_cv_by_hand() -> None:
    # X = B/P: 2/100 and 0/100 → X̄ = 0.01, var = ½·0.01² + ½·0.01² → CV = 1
    assert official_cv(np.array([2.0, 0.0]), np.array([100.0, 100.0])) == pytest.approx(1.0)
    # after one backbone teacher moves: 1/100 and 1/100 → CV = 0
    assert official_cv(np.array([1.0, 1.0]), np.array([100.0, 100.0])) == pytest.approx(0.0)


def test_a_move_that_would_raise_the_cv_is_refused_and_reported() -> None:
    # A (urban, 100 pupils) has 10 teachers, B (rural, 400 pupils) 10; all above qualification.
    # X_A = 10, X_B = 2.5 per 100; the CV of above-qualification teachers (and of teachers) is
    # already as it is; the only possible exchange swaps a backbone math teacher of A for a
    # non-backbone math teacher of B. Backbone: A has 2 of 100 pupils' worth (X = 2), B none:
    # county X̄ = 2/500·100 = 0.4; CV² = (100/500)(2−0.4)²/0.16 + (400/500)(0.4)²/0.16 = 4 → CV 2.
    # One swap: X_A = 1, X_B = 0.25: CV² = 0.2·0.36/0.16 + 0.8·0.0225/0.16 = 0.5625 → CV 0.75; both (max_share
    # 20% of 10 eligible = 2): X_A = 0, X_B = 0.5: CV² = 0.2·0.16/0.16 + 0.8·0.01/0.16 = 0.25 → CV 0.5, the best.
    schools = schools_of([("A", "县一小", "urban", 100, False), ("B", "李家塔小学", "rural", 400, False)])
    teachers = pd.DataFrame(staff("A", "math", 5, backbone=2) + staff("A", "chinese", 5) + staff("B", "math", 5) + staff("B", "chinese", 5))
    plan = from_frames(schools, teachers, school_travel=travel({("A", "B"): 20}, ["A", "B"]), limits=LIMITS)
    g = plan.metrics["never_worse"]["primary"]["backbone_per_100 (quality)"]
    assert g["before"] == pytest.approx(2.0) and g["after"] == pytest.approx(0.5)
    cmp = balance_change(schools, teachers, plan.moves).set_index(["level", "indicator", "kind"])
    assert cmp.loc[("primary", "backbone_per_100", "quality"), "cv_after"] == pytest.approx(0.5)
    # now B has the backbone teachers and more of them per pupil than A: sending A's non-backbone
    # teachers out and B's backbone ones in would concentrate them at A → refused, quota short, said why
    teachers2 = pd.DataFrame(staff("A", "math", 5) + staff("A", "chinese", 5) + staff("B", "math", 5, backbone=5) + staff("B", "chinese", 5))
    plan2 = from_frames(schools, teachers2, school_travel=travel({("A", "B"): 20}, ["A", "B"]),
                        options=RotationOptions(backbone_share=0.0), limits=LIMITS)
    cmp2 = balance_change(schools, teachers2, plan2.moves)
    assert (cmp2.loc[cmp2["indicator"].isin(TARGETED), "change"].fillna(0) <= 1e-12).all()
    assert plan2.metrics["never_worse_violated"] == []


def test_strict_run_stops_where_the_rule_leaves_the_quota_short() -> None:
    # A: every teacher a backbone teacher; B: none, and B's one math teacher swapped in would lower nothing...
    # a quota of 3 with at most 1 useful swap: the rest would raise the CV of teachers above qualification
    schools = schools_of([("A", "县一小", "urban", 500, False), ("B", "李家塔小学", "rural", 100, False)])
    teachers = pd.DataFrame(staff("A", "math", 10, qualified=10) + staff("A", "chinese", 10, qualified=10)
                            + staff("B", "math", 5, qualified=0) + staff("B", "chinese", 5, qualified=0))
    tm = travel({("A", "B"): 20}, ["A", "B"])
    opts = {"backbone_share": 0.0, "min_share": 0.3, "max_share": None, "max_loss_share": 1.0}
    plan = from_frames(schools, teachers, school_travel=tm, options=RotationOptions(**opts), limits=LIMITS)  # type: ignore[arg-type]
    cmp = balance_change(schools, teachers, plan.moves)
    assert (cmp.loc[cmp["indicator"].isin(TARGETED), "change"].fillna(0) <= 1e-12).all()
    if plan.shortfalls:
        assert all("short" not in s.detail or s.detail for s in plan.shortfalls)
        with pytest.raises(Exception, match="cannot be met"):
            from_frames(schools, teachers, school_travel=tm, options=RotationOptions(**opts, relax_quotas=False), limits=LIMITS)  # type: ignore[arg-type]


def test_teaching_points_never_send_and_no_school_loses_more_than_its_share() -> None:
    schools = schools_of([("A", "县一小", "urban", 600, False), ("T", "东孟家坪教学点", "rural", 20, True),
                          ("B", "李家塔小学", "rural", 200, False)])
    teachers = pd.DataFrame(staff("A", "math", 6, backbone=3) + staff("A", "chinese", 6) + staff("T", "math", 2) + staff("T", "chinese", 1)
                            + staff("B", "math", 3) + staff("B", "chinese", 2))
    tm = travel({("A", "T"): 20, ("A", "B"): 25, ("T", "B"): 10}, ["A", "T", "B"])
    plan = from_frames(schools, teachers, school_travel=tm, options=RotationOptions(min_share=0.3), limits=LIMITS)
    assert "T" not in set(plan.moves["from_school"])
    size = teachers.groupby("school_id").size()
    out = plan.moves.groupby("from_school").size()
    assert all(out[s] <= np.floor(0.2 * size[s] + 1e-9) for s in out.index)
    assert set(plan.moves["direction"]) <= {"rotation", "exchange"}


def generated_county(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 8))
    ids = [f"S{i}" for i in range(n)]
    rows = [(ids[0], "县城小学", "urban", int(rng.integers(600, 1500)), False)]
    rows += [(ids[i], f"村小{i}", "rural", int(rng.integers(30, 400)), bool(rng.random() < 0.2)) for i in range(1, n)]
    schools = schools_of(rows)
    t: list[dict[str, object]] = []
    for i, sid in enumerate(ids):
        for subj in ("math", "chinese", "english"):
            k = int(rng.integers(1, 8 if i == 0 else 4))
            for r in staff(sid, subj, k, backbone=int(rng.integers(0, k + 1)), qualified=int(rng.integers(0, k + 1))):
                r["title"] = "intermediate" if rng.random() < 0.5 else "junior"
                t.append(r)
    xy = rng.uniform(0, 30, size=(n, 2))
    mins = {(a, b): float(np.hypot(*(xy[i] - xy[j]))) + 5 for i, a in enumerate(ids) for j, b in enumerate(ids) if i < j}
    return schools, pd.DataFrame(t), travel(mins, ids)


@pytest.mark.parametrize("seed", range(12))
def test_property_no_targeted_cv_rises_on_generated_counties(seed: int) -> None:
    schools, teachers, tm = generated_county(seed)
    for share in (0.2, 0.3):
        plan = from_frames(schools, teachers, school_travel=tm, options=RotationOptions(backbone_share=share, min_share=0.3),
                           limits=LIMITS)
        cmp = balance_change(schools, teachers, plan.moves)
        rows = cmp[cmp["indicator"].isin(TARGETED)]
        assert (rows["change"].fillna(0) <= 1e-9).all(), rows
        tp = set(schools.loc[schools["teaching_point"], "school_id"])
        assert not tp & set(plan.moves["from_school"])


def test_teacher_names_are_carried_into_the_moves() -> None:
    schools = schools_of([("A", "县一小", "urban", 100, False), ("B", "李家塔小学", "rural", 400, False)])
    teachers = pd.DataFrame(staff("A", "math", 5, backbone=2) + staff("A", "chinese", 5) + staff("B", "math", 5) + staff("B", "chinese", 5))
    teachers["name"] = [f"教师{i}" for i in range(len(teachers))]
    plan = from_frames(schools, teachers, school_travel=travel({("A", "B"): 20}, ["A", "B"]), limits=LIMITS)
    assert len(plan.moves) and list(plan.moves.columns[:2]) == ["teacher_id", "name"]
    names = dict(zip(teachers["teacher_id"], teachers["name"]))
    assert (plan.moves["name"] == plan.moves["teacher_id"].map(names)).all()
