"""Benchmark of the rotation model on generated counties.

Targets (issue 6): 5,000 teachers × 300 schools within 0.5% of the bound in
≤ 15 s, and 20,000 × 1,000 within 1% in ≤ 60 s on 2 cores, model building
included. The peer, measured in the same run on the same model, is a plain
CP-SAT solve (no LP bound, no hint) given the same wall-clock budget.

Run::

    .venv/bin/python benchmarks/bench_rotation.py            # both sizes
    .venv/bin/python benchmarks/bench_rotation.py --quick    # smoke run (600 × 40)
    .venv/bin/python benchmarks/bench_rotation.py --quick --prove 120   # and the gap to HiGHS's proven optimum
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from geo.travel import STRAIGHT_LINE_SPEED_KMH, straight_line_matrix
from planning.rotation import RotationOptions, SolveLimits, from_arrays, from_frames, rotation_eligibility
from planning.rotation.build import build_problem
from planning.rotation.model import OBJ_SCALE, build_rotation_model

SUBJECTS = ("chinese", "math", "english", "science", "pe", "music", "art", "morality", "it")
SUBJECT_P = np.array([0.26, 0.24, 0.12, 0.08, 0.08, 0.06, 0.06, 0.06, 0.04])


@dataclass(frozen=True)
class Case:
    name: str
    teachers: int
    schools: int
    budget_s: float
    target_gap: float


CASES = (Case("5,000 × 300", 5_000, 300, 15.0, 0.005), Case("20,000 × 1,000", 20_000, 1_000, 60.0, 0.01))
QUICK = (Case("600 × 40 (quick)", 600, 40, 10.0, 0.005),)


def generate_county(n_teachers: int, n_schools: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A county: urban core of large strong schools, town and rural schools around it."""
    rng = np.random.default_rng(seed)
    side_m = 2_500.0 * math.sqrt(n_schools)  # ~ 43 km for 300 schools, 79 km for 1,000
    r = side_m / 2 * np.sqrt(rng.random(n_schools))
    ang = rng.random(n_schools) * 2 * np.pi
    xy = np.c_[r * np.cos(ang), r * np.sin(ang)]
    dist = np.hypot(xy[:, 0], xy[:, 1]) / (side_m / 2)
    area = np.where(dist < 0.25, "urban", np.where(dist < 0.45, "town", "rural"))
    pupils = np.where(area == "urban", rng.integers(800, 2000, n_schools), rng.integers(60, 700, n_schools))
    share = pupils / pupils.sum()
    per_school = np.maximum(3, np.floor(share * n_teachers)).astype(int)
    per_school[np.argmax(per_school)] += n_teachers - per_school.sum()
    ids = np.array([f"S{i:04d}" for i in range(n_schools)])
    schools = pd.DataFrame(
        {
            "school_id": ids,
            "name": [f"学校{i:04d}" for i in range(n_schools)],
            "level": "primary",
            "area_type": area,
            "enrolled_primary": pupils,
            "enrolled_junior": 0,
            "x": xy[:, 0],
            "y": xy[:, 1],
        }
    )
    school_of = np.repeat(np.arange(n_schools), per_school)
    n = len(school_of)
    urban = area[school_of] == "urban"
    teachers = pd.DataFrame(
        {
            "teacher_id": [f"T{i:06d}" for i in range(n)],
            "school_id": ids[school_of],
            "subject": rng.choice(SUBJECTS, size=n, p=SUBJECT_P / SUBJECT_P.sum()),
            "backbone": rng.random(n) < np.where(urban, 0.18, 0.05),
            "above_qualification": rng.random(n) < np.where(urban, 0.85, 0.55),
            "title": "intermediate",
            "years_at_school": rng.integers(0, 20, n),
            "age": rng.integers(24, 60, n),
            "sex": rng.choice(["M", "F"], size=n),
        }
    )
    return schools, teachers


def run_case(case: Case, seed: int, workers: int) -> None:
    schools, teachers = generate_county(case.teachers, case.schools, seed)
    opts = RotationOptions(relax_quotas=True, relative_gap=case.target_gap / 5)
    t0 = time.perf_counter()
    ids = schools["school_id"].to_numpy()
    xy = schools[["x", "y"]].to_numpy()
    tm = straight_line_matrix(ids, xy, ids, xy, speed_kmh=STRAIGHT_LINE_SPEED_KMH["drive"], cutoff_s=opts.max_commute_s)
    t_travel = time.perf_counter() - t0
    plan = from_frames(
        schools, teachers, options=opts, school_travel=tm,
        limits=SolveLimits(time_limit_s=case.budget_s, workers=workers, seed=seed),
    )
    ours_s = time.perf_counter() - t0
    m = plan.metrics
    # peer: the same model, plain CP-SAT (no LP hint or bound row), the same wall-clock budget
    tb = time.perf_counter()
    built = build_problem(schools, teachers, rotation_eligibility(teachers, rules=opts), school_travel=tm,
                          home_travel=None, strength=None, groups=None, staffing_targets=None, options=opts)
    build_s = time.perf_counter() - tb + t_travel
    try:
        peer = from_arrays(
            built.prob, options=opts, warm_start=False,
            limits=SolveLimits(time_limit_s=1e9, workers=workers, seed=seed, wall_limit_s=max(case.budget_s - build_s, 1.0)),
        )
        peer_text = f"objective {peer.objective:,.1f}, gap to the LP bound {(peer.objective - m['lp_bound']) / peer.objective:.3%}"
        peer_gap = (peer.objective - plan.bound) / peer.objective
    except Exception as err:
        peer_text, peer_gap = f"no plan ({type(err).__name__}: {str(err).splitlines()[0]})", math.inf
    ok = ours_s <= case.budget_s and plan.gap <= case.target_gap
    print(f"\n== {case.name}: {m['teachers']:,} teachers, {case.schools} schools, workers={workers}")
    print(f"   units {m['units']:,}, candidate moves {m['candidate_moves']:,}; eligible at sending {m['eligible_at_sending_schools']:,}")
    print(f"   movers out {m['movers_out']:,} (share {m['rotation_share']:.1%}), backbone {m['backbone_share_of_movers']:.1%}, "
          f"exchange (跟岗) {m['movers_exchange']:,}; quotas met {m['quotas_met']}/{m['quotas']}")
    print(f"   ours: {ours_s:.1f} s total (solve {m['solve_s']:.1f} s), objective {plan.objective:,.1f}, "
          f"bound {plan.bound:,.1f}, gap {plan.gap:.4%} (target ≤ {case.target_gap:.1%} in ≤ {case.budget_s:.0f} s) "
          f"-> {'PASS' if ok else 'FAIL'}")
    print(f"   peer (plain CP-SAT, {case.budget_s:.0f} s budget): {peer_text}; gap to our bound "
          f"{peer_gap:.3%}; ours/peer gap ratio {plan.gap / peer_gap if peer_gap and math.isfinite(peer_gap) else float('nan'):.3f}")


def prove(case: Case, seed: int, time_limit_s: float) -> None:
    """The same model solved by HiGHS (through SciPy) to a proven optimum, and our plan's gap to it."""
    schools, teachers = generate_county(case.teachers, case.schools, seed)
    opts = RotationOptions(relax_quotas=True, relative_gap=case.target_gap / 5)
    ids = schools["school_id"].to_numpy()
    xy = schools[["x", "y"]].to_numpy()
    tm = straight_line_matrix(ids, xy, ids, xy, speed_kmh=STRAIGHT_LINE_SPEED_KMH["drive"], cutoff_s=opts.max_commute_s)
    built = build_problem(schools, teachers, rotation_eligibility(teachers, rules=opts), school_travel=tm,
                          home_travel=None, strength=None, groups=None, staffing_targets=None, options=opts)
    m = build_rotation_model(replace(built.prob, relax_quotas=True))
    t0 = time.perf_counter()
    res = milp(m.cost, constraints=LinearConstraint(m.a, m.row_lo, m.row_hi), integrality=np.ones(len(m.cost)),
               bounds=Bounds(m.lb, m.ub), options={"time_limit": time_limit_s, "mip_rel_gap": 0.0})
    took = time.perf_counter() - t0
    plan = from_frames(schools, teachers, options=opts, school_travel=tm, limits=SolveLimits(time_limit_s=case.budget_s, workers=1, seed=seed))
    if res.x is None:
        print(f"   HiGHS: no solution in {took:.0f} s ({res.message})")
        return
    best = (float(res.fun) + m.offset) / OBJ_SCALE
    bound = (float(res.mip_dual_bound) + m.offset) / OBJ_SCALE
    proven = "proven optimum" if res.status == 0 else f"best {best:,.1f}, bound {bound:,.1f} (not proven)"
    print(f"   HiGHS {took:.1f} s: {proven} {best:,.1f}; ours {plan.objective:,.1f}: "
          f"{(plan.objective - bound) / plan.objective:.3%} above the {'optimum' if res.status == 0 else 'bound'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--prove", type=float, default=0.0, metavar="S",
                    help="also solve each instance with HiGHS for up to S seconds and report the gap to its optimum")
    args = ap.parse_args()
    for case in QUICK if args.quick else CASES:
        run_case(case, args.seed, args.workers)
        if args.prove > 0:
            prove(case, args.seed, args.prove)


if __name__ == "__main__":
    main()
