"""The rotation model: quotas, staffing, direction, infeasibility, reasons, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.errors import InfeasibleError
from geo.travel import TravelMatrix
from planning.rotation import (
    EligibilityRules,
    RotationOptions,
    RotationProblem,
    SolveLimits,
    apply_moves,
    from_arrays,
    from_frames,
)
from planning.rotation.problem import OBJ_SCALE

# ---------------------------------------------------------------- inline county helpers


def _opts(**kw: object) -> RotationOptions:
    """Options of the tests of quotas, staffing and reasons: the rules before the never-worse rule and
    the loss cap (tests of those are in test_rotation_never_worse.py), quotas that raise when unmet."""
    return RotationOptions(**{"never_worse": False, "max_loss_share": 1.0, "relax_quotas": False, **kw})  # type: ignore[arg-type]


def schools_table(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """(school_id, name, area_type, pupils) → primary schools."""
    return pd.DataFrame(
        {
            "school_id": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "level": "primary",
            "area_type": [r[2] for r in rows],
            "enrolled_primary": [r[3] for r in rows],
            "enrolled_junior": 0,
        }
    )


def staff(school: str, subject: str, n: int, *, backbone: int = 0, qualified: int | None = None, years: int = 8,
          prefix: str = "") -> list[dict[str, object]]:
    qualified = n if qualified is None else qualified
    return [
        {"teacher_id": f"{prefix or school}-{subject}-{i:02d}", "school_id": school, "subject": subject, "backbone": i < backbone,
         "above_qualification": i < qualified, "title": "intermediate", "years_at_school": years, "age": 40, "sex": "F"}
        for i in range(n)
    ]


def travel(minutes: dict[tuple[str, str], float], ids: list[str]) -> TravelMatrix:
    """Symmetric school × school matrix from the listed pairs (others unreachable)."""
    pairs = {**minutes, **{(b, a): v for (a, b), v in minutes.items()}}
    pos = {s: i for i, s in enumerate(ids)}
    keys = sorted(pairs, key=lambda k: (pos[k[0]], pos[k[1]]))
    return TravelMatrix(
        origin_ids=np.array(ids), dest_ids=np.array(ids),
        origin=np.array([pos[a] for a, _ in keys], dtype=np.int32),
        dest=np.array([pos[b] for _, b in keys], dtype=np.int32),
        time_s=np.array([round(pairs[k] * 60) for k in keys], dtype=np.int32),
        dist_m=np.array([round(pairs[k] * 500) for k in keys], dtype=np.int32),
        mode="drive",
    )


def exchange_ok(teachers: pd.DataFrame, moves: pd.DataFrame) -> bool:
    before = teachers.groupby(["school_id", "subject"]).size()
    after = apply_moves(teachers, moves).groupby(["school_id", "subject"]).size()
    return bool(before.sort_index().equals(after.sort_index()))


# ---------------------------------------------------------------- core with a hand-computed optimum


def core_problem(quota: int) -> RotationProblem:
    # S0 sends (2 backbone math teachers), S1 receives (2 non-backbone math teachers); 100 pupils each.
    # Fair share of backbone: 1 each. Units: u0 = S0 backbone math ×2, u1 = S1 math ×2; each move costs 10 points.
    return RotationProblem(
        n_schools=2, n_subjects=1,
        pupils=np.array([100, 100]), indicator_count=np.array([[2, 0], [0, 0]]),
        staff_now=np.array([[2], [2]]), staff_lo=np.array([[2], [2]]), staff_hi=np.array([[2], [2]]),
        quota_group=np.array([0, -1]), quota_movers=np.array([quota]), backbone_percent=20,
        unit_school=np.array([0, 1]), unit_subject=np.array([0, 0]), unit_count=np.array([2, 2]),
        unit_backbone=np.array([True, False]), unit_qualified=np.array([False, False]),
        arc_unit=np.array([0, 1]), arc_dest=np.array([1, 0]), arc_cost=np.array([10 * OBJ_SCALE, 10 * OBJ_SCALE]),
        dev_weight=np.array([7, 0]),
    )


def test_core_toy_optimum_is_one_exchange() -> None:
    sol = from_arrays(core_problem(quota=1), limits=SolveLimits(time_limit_s=5, workers=1))
    # one backbone out, one back: both schools at their fair share (deviation 0); 2 moves × 10 points
    assert sol.flow.tolist() == [1, 1]
    assert sol.objective == pytest.approx(20.0)
    assert sol.status == "OPTIMAL" and sol.gap == 0.0
    assert sol.bound == pytest.approx(20.0)


def test_core_quota_forces_extra_moves_at_their_cost() -> None:
    sol = from_arrays(core_problem(quota=2), limits=SolveLimits(time_limit_s=5, workers=1))
    # both must go: S0 ends 1 teacher below its share, S1 1 above: 2 × 100 hundredths × 7 + 4 moves × 1000
    assert sol.flow.tolist() == [2, 2]
    assert sol.objective == pytest.approx((2 * 100 * 7 + 4 * 10 * OBJ_SCALE) / OBJ_SCALE)


def test_core_infeasible_quota_raises() -> None:
    with pytest.raises(InfeasibleError, match="cannot all be met"):
        from_arrays(core_problem(quota=3), limits=SolveLimits(time_limit_s=5, workers=1))


# ---------------------------------------------------------------- quotas


def small_county(bb_at_a: int = 2) -> tuple[pd.DataFrame, pd.DataFrame, TravelMatrix]:
    schools = schools_table([("A", "县一小", "urban", 1000), ("B", "李家塔小学", "rural", 200), ("C", "王村小学", "rural", 150)])
    rows = (staff("A", "math", 5, backbone=bb_at_a) + staff("A", "chinese", 5)
            + staff("B", "math", 2) + staff("B", "chinese", 2) + staff("C", "math", 2) + staff("C", "chinese", 1))
    return schools, pd.DataFrame(rows), travel({("A", "B"): 20, ("A", "C"): 35, ("B", "C"): 30}, ["A", "B", "C"])


def test_per_school_quotas_met_with_backbone_and_exchange() -> None:
    schools, teachers, tm = small_county()
    plan = from_frames(schools, teachers, school_travel=tm, options=_opts(), limits=SolveLimits(time_limit_s=10, workers=1))
    a = plan.schools.set_index("school_id").loc["A"]
    assert a["quota_movers"] == 1 and a["quota_backbone"] == 1  # ⌈10% × 10⌉, ⌈20% × 1⌉
    assert a["out"] >= 1 and a["backbone_out"] >= np.ceil(0.2 * a["out"])
    assert bool(a["quota_met"])
    assert exchange_ok(teachers, plan.moves)
    out = plan.moves[plan.moves["direction"] == "rotation"]
    assert set(out["from_school"]) == {"A"} and set(out["to_school"]) <= {"B", "C"}
    assert plan.metrics["quotas_met"] == plan.metrics["quotas"] == 1
    assert plan.bound <= plan.objective + 1e-9 and plan.gap <= 1e-3


def test_backbone_share_forces_a_backbone_mover_the_gap_alone_would_not_send() -> None:
    # A is short of backbone teachers per pupil (1 per 1000) and B already above (1 per 100):
    # moving A's backbone teacher widens the gap, so only the backbone quota makes it move.
    schools = schools_table([("A", "县一小", "urban", 1000), ("B", "李家塔小学", "rural", 100)])
    teachers = pd.DataFrame(staff("A", "math", 10, backbone=1) + staff("B", "math", 3, backbone=1))
    tm = travel({("A", "B"): 20}, ["A", "B"])
    free = from_frames(schools, teachers, school_travel=tm, options=_opts(backbone_share=0.0),
                       limits=SolveLimits(time_limit_s=10, workers=1))
    assert not free.moves.loc[free.moves["direction"] == "rotation", "backbone"].any()
    plan = from_frames(schools, teachers, school_travel=tm, options=_opts(backbone_share=0.3),
                       limits=SolveLimits(time_limit_s=10, workers=1))
    out = plan.moves[plan.moves["direction"] == "rotation"]
    assert out["backbone"].tolist() == [True]
    assert out["reason"].iloc[0].startswith("rotation; backbone quota of 县一小 (1 of 1)")


def test_county_wide_quota_takes_movers_where_cheapest() -> None:
    schools = schools_table([("A", "城一小", "urban", 500), ("D", "城二小", "urban", 500), ("B", "乡小", "rural", 500)])
    teachers = pd.DataFrame(staff("A", "math", 10, backbone=5) + staff("D", "math", 10, backbone=5) + staff("B", "math", 10, backbone=5))
    tm = travel({("A", "B"): 10, ("D", "B"): 50, ("A", "D"): 5}, ["A", "B", "D"])
    opts = {"gap_weight": 0.0}  # only commute and moves count: the choice is where to take the quota
    per_school = from_frames(schools, teachers, school_travel=tm, options=_opts(**opts),
                             limits=SolveLimits(time_limit_s=10, workers=1))
    by = per_school.moves[per_school.moves["direction"] == "rotation"].groupby("from_school").size().to_dict()
    assert by == {"A": 1, "D": 1}
    county = from_frames(schools, teachers, school_travel=tm, options=_opts(quota_scope="county", **opts),
                         limits=SolveLimits(time_limit_s=10, workers=1))
    out = county.moves[county.moves["direction"] == "rotation"]
    assert out["from_school"].tolist() == ["A", "A"]  # ⌈10% × 20⌉ = 2, both from the nearer school
    assert out["backbone"].sum() >= 1  # ⌈20% × 2⌉
    assert county.metrics["quotas"] == 1 and county.metrics["quotas_met"] == 1
    assert county.schools["quota_met"].isna().all()  # met county-wide, not per school


# ---------------------------------------------------------------- staffing


def random_county(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, TravelMatrix]:
    rng = np.random.default_rng(seed)
    ids = [f"S{i}" for i in range(6)]
    area = ["urban", "urban", "rural", "rural", "rural", "town"]
    schools = schools_table([(s, f"学校{s}", a, int(rng.integers(100, 900))) for s, a in zip(ids, area)])
    rows = []
    for s in ids:
        for subj in ("math", "chinese", "english", "pe"):
            n = int(rng.integers(1, 5))
            rows += staff(s, subj, n, backbone=int(rng.integers(0, n + 1)), qualified=int(rng.integers(0, n + 1)),
                          years=int(rng.integers(4, 12)))
    pairs = {(a, b): float(rng.integers(10, 70)) for i, a in enumerate(ids) for b in ids[i + 1:]}
    return schools, pd.DataFrame(rows), travel(pairs, ids)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exchange_keeps_every_school_and_subject_whole(seed: int) -> None:
    schools, teachers, tm = random_county(seed)
    plan = from_frames(schools, teachers, school_travel=tm, options=_opts(relax_quotas=True),
                       limits=SolveLimits(time_limit_s=10, workers=1))
    assert exchange_ok(teachers, plan.moves)
    assert (plan.moves["commute_s"] <= 3600).all()
    elig = plan.eligibility.set_index("teacher_id")["eligible"]
    assert elig.loc[plan.moves["teacher_id"]].all()
    assert plan.bound <= plan.objective + 1e-9 and plan.gap <= 1e-3


def test_tolerance_mode_keeps_counts_near_target_and_the_only_teacher() -> None:
    schools = schools_table([("A", "县一小", "urban", 800), ("B", "李家塔小学", "rural", 200)])
    teachers = pd.DataFrame(staff("A", "math", 6, backbone=3) + staff("A", "pe", 1) + staff("A", "chinese", 3)
                            + staff("B", "math", 2) + staff("B", "pe", 1, years=1) + staff("B", "chinese", 2, years=1))
    tm = travel({("A", "B"): 15}, ["A", "B"])
    opts = _opts(staffing="tolerance", staffing_tolerance=2, min_share=0.3, return_moves=False)
    plan = from_frames(schools, teachers, school_travel=tm, options=opts, limits=SolveLimits(time_limit_s=10, workers=1))
    before = teachers.groupby(["school_id", "subject"]).size()
    after = apply_moves(teachers, plan.moves).groupby(["school_id", "subject"]).size().reindex(before.index, fill_value=0)
    assert ((after - before).abs() <= 2).all()
    assert after.loc[("A", "pe")] == 1  # its only PE teacher stays
    assert len(plan.moves) == 3  # ⌈30% × 10⌉ one way, no returns
    assert not plan.moves["subject"].eq("pe").any()


def test_tolerance_mode_follows_county_targets() -> None:
    schools = schools_table([("A", "县一小", "urban", 800), ("B", "李家塔小学", "rural", 200)])
    teachers = pd.DataFrame(staff("A", "math", 6) + staff("B", "math", 1))
    tm = travel({("A", "B"): 15}, ["A", "B"])
    targets = pd.DataFrame({"school_id": ["A", "B"], "subject": ["math", "math"], "target": [4, 3]})

    def opts(share: float) -> RotationOptions:
        return _opts(staffing="tolerance", staffing_tolerance=0, return_moves=False, min_share=share, backbone_share=0.0)

    limits = SolveLimits(time_limit_s=10, workers=1)
    plan = from_frames(schools, teachers, school_travel=tm, staffing_targets=targets, options=opts(0.3), limits=limits)
    after = apply_moves(teachers, plan.moves).groupby("school_id").size().to_dict()
    assert after == {"A": 4, "B": 3}  # ⌈30% × 6⌉ = 2 moves reach both targets exactly
    # a third mover would put B above its county target (tolerance 0)
    with pytest.raises(InfeasibleError, match="县一小: short by 1 movers"):
        from_frames(schools, teachers, school_travel=tm, staffing_targets=targets, options=opts(0.5), limits=limits)


# ---------------------------------------------------------------- direction and distance


def test_no_receiving_school_within_commute_cap_is_explained() -> None:
    schools = schools_table([("A", "县一小", "urban", 800), ("B", "远山小学", "rural", 200)])
    teachers = pd.DataFrame(staff("A", "math", 10, backbone=2) + staff("B", "math", 3))
    tm = travel({("A", "B"): 75}, ["A", "B"])
    with pytest.raises(InfeasibleError, match="no receiving school within 60 min") as err:
        from_frames(schools, teachers, school_travel=tm, options=_opts(), limits=SolveLimits(time_limit_s=5, workers=1))
    assert err.value.shortfalls[0].where == "县一小" and err.value.shortfalls[0].short_by == 1
    plan = from_frames(schools, teachers, school_travel=tm, options=_opts(max_commute_s=90 * 60),
                       limits=SolveLimits(time_limit_s=5, workers=1))
    assert plan.metrics["quotas_met"] == 1


def test_same_community_preferred_when_groups_given() -> None:
    schools = schools_table([("A", "县一小", "urban", 800), ("B", "甲村小学", "rural", 200), ("C", "乙村小学", "rural", 200)])
    teachers = pd.DataFrame(staff("A", "math", 10, backbone=2) + staff("B", "math", 3) + staff("C", "math", 3))
    tm = travel({("A", "B"): 20, ("A", "C"): 25, ("B", "C"): 10}, ["A", "B", "C"])
    groups = pd.DataFrame({"school_id": ["A", "C", "B"], "group_id": ["G1", "G1", "G2"], "role": ["lead", "member", "member"]})
    plain = from_frames(schools, teachers, school_travel=tm, options=_opts(), limits=SolveLimits(time_limit_s=5, workers=1))
    grouped = from_frames(schools, teachers, school_travel=tm, options=_opts(), groups=groups, limits=SolveLimits(time_limit_s=5, workers=1))
    assert set(plain.moves["to_school"]) - {"A"} == {"B"}  # nearest without communities
    assert set(grouped.moves["to_school"]) - {"A"} == {"C"}  # within 县一小's community
    assert grouped.moves["same_community"].all() and "within the same community" in grouped.moves["reason"].iloc[0]


# ---------------------------------------------------------------- infeasibility and relaxation


def test_no_eligible_backbone_teacher_is_explained() -> None:
    schools, teachers, tm = small_county(bb_at_a=1)
    teachers.loc[teachers["backbone"], "exempt_reason"] = "病休"
    with pytest.raises(InfeasibleError, match="no eligible backbone teacher") as err:
        from_frames(schools, teachers, school_travel=tm, options=_opts(), limits=SolveLimits(time_limit_s=5, workers=1))
    (short,) = err.value.shortfalls
    assert (short.where, short.short_by, short.unit) == ("县一小", 1, "backbone movers")
    assert "relax_quotas" in str(err.value)


def test_relaxed_quotas_report_the_shortfall() -> None:
    schools, teachers, tm = small_county(bb_at_a=1)
    teachers.loc[teachers["backbone"], "exempt_reason"] = "病休"
    plan = from_frames(schools, teachers, school_travel=tm, options=_opts(relax_quotas=True),
                       limits=SolveLimits(time_limit_s=5, workers=1))
    assert [(s.where, s.short_by, s.unit) for s in plan.shortfalls] == [("县一小", 1, "backbone movers")]
    a = plan.schools.set_index("school_id").loc["A"]
    assert not bool(a["quota_met"]) and a["short_backbone"] == 1 and a["out"] >= 1
    assert plan.metrics["quotas_met"] == 0 and plan.metrics["quota_shortfall_backbone"] == 1


def test_staffing_balance_infeasibility_found_by_the_relaxed_model() -> None:
    # A's only eligible teacher teaches PE and no PE teacher can come back: the exchange precheck says so.
    schools = schools_table([("A", "县一小", "urban", 800), ("B", "李家塔小学", "rural", 200)])
    teachers = pd.DataFrame(staff("A", "pe", 1) + staff("A", "math", 5, years=2) + staff("B", "math", 2)
                            + staff("B", "pe", 1, years=2))
    tm = travel({("A", "B"): 15}, ["A", "B"])
    with pytest.raises(InfeasibleError, match="can send back a teacher of pe"):
        from_frames(schools, teachers, school_travel=tm, options=_opts(backbone_share=0.0),
                    limits=SolveLimits(time_limit_s=5, workers=1))
    # tolerance mode: the precheck passes but the PE post must stay filled → the solve explains
    opts = _opts(backbone_share=0.0, staffing="tolerance", staffing_tolerance=1)
    with pytest.raises(InfeasibleError, match="short by 1 movers"):
        from_frames(schools, teachers, school_travel=tm, options=opts, limits=SolveLimits(time_limit_s=5, workers=1))


# ---------------------------------------------------------------- reasons and determinism


def test_every_move_has_a_plain_reason() -> None:
    schools, teachers, tm = small_county()
    plan = from_frames(schools, teachers, school_travel=tm, options=_opts(), limits=SolveLimits(time_limit_s=5, workers=1))
    assert plan.moves["reason"].str.len().gt(0).all()
    out = plan.moves[plan.moves["direction"] == "rotation"]
    first = out[out["backbone"]]["reason"].iloc[0]
    assert first.startswith("rotation; backbone quota of 县一小 (1 of 1); raises backbone teachers per 100 pupils at")
    back = plan.moves[plan.moves["direction"] == "exchange"]["reason"]
    assert len(back) and back.str.startswith("exchange (跟岗); a math teacher of ").all()
    assert back.str.contains("goes to learn at 县一小").all() and not back.str.contains("return").any()
    zh = from_frames(schools, teachers, school_travel=tm, options=_opts(language="zh"), limits=SolveLimits(time_limit_s=5, workers=1))
    zh_back = zh.moves[zh.moves["direction"] == "exchange"]["reason"]
    assert zh_back.str.startswith("跟岗交流；").all() and zh_back.str.contains("数学教师到县一小跟岗学习").all()
    assert zh.moves.loc[zh.moves["direction"] == "rotation", "reason"].str.startswith("交流轮岗；").all()


def test_same_seed_gives_byte_identical_moves() -> None:
    schools, teachers, tm = random_county(7)
    opts = _opts(relax_quotas=True)
    runs = [
        from_frames(schools, teachers.sample(frac=1.0, random_state=k), school_travel=tm, options=opts,
                    limits=SolveLimits(time_limit_s=5, workers=2, seed=11)).moves.to_csv(index=False)
        for k in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0].splitlines()) > 1


def test_home_commute_overrides_school_to_school() -> None:
    schools = schools_table([("A", "县一小", "urban", 800), ("B", "甲村小学", "rural", 200), ("C", "乙村小学", "rural", 200)])
    teachers = pd.DataFrame(staff("A", "math", 10, backbone=10) + staff("B", "math", 3) + staff("C", "math", 3))
    tm = travel({("A", "B"): 10, ("A", "C"): 40, ("B", "C"): 30}, ["A", "B", "C"])
    # teacher A-math-09 lives next to C: from home, C is 5 min and B 70 min (beyond the cap)
    home = TravelMatrix(origin_ids=np.array(["A-math-09"]), dest_ids=np.array(["A", "B", "C"]),
                        origin=np.array([0, 0], dtype=np.int32), dest=np.array([0, 2], dtype=np.int32),
                        time_s=np.array([2400, 300], dtype=np.int32), dist_m=np.array([20000, 2000], dtype=np.int32),
                        mode="drive")
    # one-way moves (tolerance 1): via B 10 + 20 points, from home via C 5 + 20 points
    opts = _opts(**EligibilityRules().model_dump(), gap_weight=0.0, staffing="tolerance", return_moves=False)
    plan = from_frames(schools, teachers, school_travel=tm, home_travel=home, options=opts,
                       limits=SolveLimits(time_limit_s=5, workers=1))
    out = plan.moves[plan.moves["direction"] == "rotation"]
    assert out[["teacher_id", "to_school", "commute_s"]].values.tolist() == [["A-math-09", "C", 300]]


@pytest.mark.parametrize("seed", [4, 5])
def test_lp_bound_is_valid_and_the_plan_is_near_the_true_optimum(seed: int) -> None:
    # independent check: plain CP-SAT on the full model, proven optimal, versus the LP route
    from planning.rotation import rotation_eligibility
    from planning.rotation.build import build_problem

    schools, teachers, tm = random_county(seed)
    opts = _opts(relax_quotas=True)
    built = build_problem(schools, teachers, rotation_eligibility(teachers), school_travel=tm, home_travel=None, strength=None,
                          groups=None, staffing_targets=None, options=opts)
    exact = from_arrays(built.prob, warm_start=False, options=_opts(relative_gap=0.0),
                        limits=SolveLimits(time_limit_s=60, workers=1))
    assert exact.status == "OPTIMAL"
    ours = from_arrays(built.prob, options=_opts(relative_gap=1e-3), limits=SolveLimits(time_limit_s=10, workers=1))
    assert ours.lp_bound <= exact.objective + 1e-6  # the convex-hull cuts never cut off an integer plan
    assert ours.bound <= exact.objective + 1e-6
    assert exact.objective - 1e-6 <= ours.objective <= exact.objective * (1 + 1e-3) + 1e-6
