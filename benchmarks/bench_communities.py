"""Benchmark: balance evaluation, one-to-one pairing and "1+N" communities.

Run ``.venv/bin/python benchmarks/bench_communities.py`` (``--quick`` for a smoke
run). Targets on 2 cores (issue 5): pairing 1,000 weak × 1,000 strong ≤ 0.5 s;
communities for 300 schools ≤ 10 s within 1% of the bound; balance for 2,000
schools and 50,000 teachers ≤ 2 s. Each figure is printed next to a peer
measured in the same run:

- pairing: SciPy's ``linear_sum_assignment`` on the same costs with each strong
  school replicated k times (same optimum expected);
- communities: greedy nearest-lead assignment with room (travel only), the
  usual hand method, and CP-SAT's own bound;
- balance: an independent straight numpy/pandas computation of the 7 优质均衡
  CVs for single-level schools (same CVs expected to 1e-9).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from geo.travel import straight_line_matrix
from planning import balance, communities


def _county(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    ids = np.array([f"S{i:04d}" for i in range(n)])
    level = rng.choice(["primary", "junior", "nine_year"], n, p=[0.6, 0.25, 0.15])
    pupils = rng.integers(40, 2000, n)
    ep = np.where(level == "junior", 0, pupils)
    ej = np.where(level == "primary", 0, np.where(level == "nine_year", pupils // 2, pupils))
    total = ep + ej
    richness = rng.lognormal(0, 0.35, n)
    schools = pd.DataFrame(
        {
            "school_id": ids,
            "level": level,
            "area_type": rng.choice(["urban", "town", "rural"], n, p=[0.2, 0.3, 0.5]),
            "enrolled_primary": ep,
            "enrolled_junior": ej,
            "teaching_point": (total < 60) & (level == "primary"),
            "floor_area_m2": total * 5.0 * richness,
            "sports_area_m2": total * 8.0 * richness,
            "equipment_yuan": total * 2200.0 * richness,
            "multimedia_rooms": np.maximum(1, np.rint(total * 0.024 * richness)).astype(int),
            "computers": np.rint(total * 0.1 * richness).astype(int),
            "books": np.rint(total * 25 * richness).astype(int),
        }
    )
    return schools, richness


def _teachers(schools: pd.DataFrame, n_teachers: int, rng: np.random.Generator) -> pd.DataFrame:
    w = (schools["enrolled_primary"] + schools["enrolled_junior"]).to_numpy(float)
    sid = rng.choice(schools["school_id"].to_numpy(), n_teachers, p=w / w.sum())
    return pd.DataFrame(
        {
            "teacher_id": [f"T{i:06d}" for i in range(n_teachers)],
            "school_id": sid,
            "subject": rng.choice(["chinese", "math", "english", "pe", "music", "art", "science"], n_teachers),
            "backbone": rng.random(n_teachers) < 0.12,
            "above_qualification": rng.random(n_teachers) < 0.7,
            "title": rng.choice(["junior", "intermediate", "senior"], n_teachers),
        }
    )


def _reference_quality_cvs(schools: pd.DataFrame, teachers: pd.DataFrame, level: str) -> dict[str, float]:
    """7 优质均衡 CVs of single-level schools of ``level``, computed directly."""
    s = schools[(schools["level"] == level) & ~(schools["teaching_point"] & (schools[f"enrolled_{level}"] < 50))]
    p = s[f"enrolled_{level}"].to_numpy(float)
    t = teachers[teachers["school_id"].isin(s["school_id"])]
    by = t.groupby("school_id").agg(
        aq=("above_qualification", "sum"),
        bb=("backbone", "sum"),
        pa=("subject", lambda x: x.isin(["pe", "music", "art"]).sum()),
    ).reindex(s["school_id"]).fillna(0)
    raw = {
        "above_qualification_per_100": by["aq"].to_numpy() * 100,
        "backbone_per_100": by["bb"].to_numpy() * 100,
        "pe_art_per_100": by["pa"].to_numpy() * 100,
        "floor_area_per_pupil": s["floor_area_m2"].to_numpy(),
        "sports_area_per_pupil": s["sports_area_m2"].to_numpy(),
        "equipment_per_pupil": s["equipment_yuan"].to_numpy(),
        "multimedia_per_100": s["multimedia_rooms"].to_numpy() * 100.0,
    }
    out = {}
    for name, total in raw.items():
        x = total / p
        mean = total.sum() / p.sum()
        out[name] = float(np.sqrt(np.sum(p / p.sum() * (x - mean) ** 2)) / mean)
    return out


def bench_balance(n_schools: int, n_teachers: int, rng: np.random.Generator) -> None:
    full, _ = _county(n_schools, rng)
    full_teachers = _teachers(full, n_teachers, rng)
    t0 = time.perf_counter()
    balance.from_frames(full, full_teachers)
    print(f"balance   {n_schools:>6} schools (nine-year split), {n_teachers:>6} teachers: {time.perf_counter() - t0:6.3f} s (target ≤ 2 s)")
    schools = full[full["level"] != "nine_year"].reset_index(drop=True)  # the peer does not split nine-year schools
    teachers = _teachers(schools, n_teachers, rng)
    t0 = time.perf_counter()
    report = balance.from_frames(schools, teachers)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = {lv: _reference_quality_cvs(schools, teachers, lv) for lv in ("primary", "junior")}
    peer = time.perf_counter() - t0
    ind = report.indicators[report.indicators["kind"] == "quality"].set_index(["level", "indicator"])["cv"]
    diff = max(abs(ind[(lv, k)] - v) for lv, d in ref.items() for k, v in d.items())
    print(
        f"balance   {len(schools):>6} schools, {n_teachers:>6} teachers: {ours:6.3f} s (target ≤ 2 s; "
        f"direct 7-CV computation {peer:.3f} s, ratio {ours / peer:.2f}; max CV difference {diff:.1e})"
    )


def bench_pairing(n_weak: int, n_strong: int, k: int, rng: np.random.Generator) -> None:
    xy_w = rng.uniform(0, 60_000, (n_weak, 2))
    xy_s = rng.uniform(0, 60_000, (n_strong, 2))
    cost = np.rint(np.hypot(xy_w[:, None, 0] - xy_s[None, :, 0], xy_w[:, None, 1] - xy_s[None, :, 1]) * 1.3 / (30 / 3.6))
    t0 = time.perf_counter()
    sol = communities.pairs_from_arrays(cost, k=k, max_travel_s=np.inf)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    rep = np.repeat(cost, k, axis=1)
    r, c = linear_sum_assignment(rep)
    peer = time.perf_counter() - t0
    peer_obj = int(rep[r, c].sum())
    print(
        f"pairing   {n_weak:>6} weak × {n_strong} strong (k = {k}): {ours:6.3f} s (target ≤ 0.5 s; "
        f"SciPy linear_sum_assignment {peer:.3f} s, ratio {ours / peer:.2f}); objective {sol.objective} vs {peer_obj}"
    )


def _greedy(plan_groups: pd.DataFrame, travel: np.ndarray, ids: np.ndarray, max_members: int) -> tuple[int, int]:
    """Each member, in id order, to its nearest lead with room in reach: the hand method.

    Returns total travel and the number of schools it could not place.
    """
    pos = {s: i for i, s in enumerate(ids)}
    total = unplaced = 0
    for _lv, g in plan_groups.groupby("level"):
        leads = [pos[s] for s in g.loc[g["role"] == "lead", "school_id"]]
        room = dict.fromkeys(leads, max_members)
        for s in sorted(g.loc[g["role"] == "member", "school_id"]):
            i = pos[s]
            options = sorted((travel[j, i], j) for j in leads if room[j] > 0 and np.isfinite(travel[j, i]))
            if options:
                total += int(options[0][0])
                room[options[0][1]] -= 1
            else:
                unplaced += 1
    return total, unplaced


def bench_communities(n: int, rng: np.random.Generator, time_limit_s: float) -> None:
    schools, _ = _county(n, rng)
    ids = schools["school_id"].to_numpy()
    xy = rng.uniform(0, 25_000, (n, 2))  # a 25 km × 25 km county
    s = np.clip(rng.normal(1.0, 0.2, n) + np.where(schools["area_type"] == "urban", 0.15, 0), 0.3, 1.5)
    strength = pd.DataFrame(
        {"strength": s, "strength_class": np.where(s >= 1.1, "strong", np.where(s < 0.9, "weak", "middle"))},
        index=pd.Index(ids, name="school_id"),
    )
    travel = straight_line_matrix(ids, xy, ids, xy, speed_kmh=30, cutoff_s=3600, mode="drive")
    t0 = time.perf_counter()
    plan = communities.from_frames(
        schools, strength, travel, options=communities.CommunityOptions(pair_k=0), limits=communities.SolveLimits(time_limit_s=time_limit_s)
    )
    ours = time.perf_counter() - t0
    greedy, greedy_left = _greedy(plan.groups, travel.dense(), ids, 4)
    ours_travel = sum(m["total_travel_s"] for m in plan.metrics.values())
    gaps = ", ".join(
        f"{lv} gap {m['gap']:.2%} ({m['status']}, objective {m['objective']:.0f}, bound {m['bound']:.0f})" for lv, m in plan.metrics.items()
    )
    print(
        f"communities {n:>4} schools: {ours:6.3f} s (target ≤ 10 s within 1% of the bound); {gaps}; "
        f"travel {ours_travel / 60:.0f} min vs greedy nearest-lead {greedy / 60:.0f} min (ratio {ours_travel / max(greedy, 1):.3f}; "
        f"greedy leaves {greedy_left} school(s) without a group), "
        f"strength spread {max(m['strength_spread'] for m in plan.metrics.values()):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--seed", type=int, default=20260901)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    if args.quick:
        bench_balance(300, 7_500, rng)
        bench_pairing(200, 200, 1, rng)
        bench_communities(80, rng, 5.0)
    else:
        bench_balance(2_000, 50_000, rng)
        bench_pairing(1_000, 1_000, 1, rng)
        bench_pairing(1_000, 400, 3, rng)
        bench_communities(300, rng, 10.0)


if __name__ == "__main__":
    main()
