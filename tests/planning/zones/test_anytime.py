"""The anytime phase: it closes gaps the fast path leaves, proves honest bounds, stays deterministic and on time."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from geo.travel import TravelMatrix
from planning.zones import Reach, SolveLimits, ZoneOptions, from_arrays

NO_CAP = Reach(max_travel_s=None)

# 7 blocks, 3 schools of 13 seats for 37 students: the chains' plan costs 5,500; the optimum 5,400
TOY_TIME = [[10, 200, 70], [240, 270, 130], [280, 230, 100], [260, 120, 30], [180, 250, 200], [120, 270, 140], [120, 50, 70]]
TOY_DEMAND = [7, 8, 3, 6, 8, 2, 3]
TOY_SEATS = [13, 13, 13]


def matrix(rows: list[list[int]]) -> TravelMatrix:
    t = np.asarray(rows)
    n, m = t.shape
    return TravelMatrix(
        origin_ids=np.array([f"b{i}" for i in range(n)]),
        dest_ids=np.array([f"s{j}" for j in range(m)]),
        origin=np.repeat(np.arange(n), m).astype(np.int32),
        dest=np.tile(np.arange(m), n).astype(np.int32),
        time_s=t.ravel().astype(np.int32),
        dist_m=t.ravel().astype(np.int32),
        mode="walk",
    )


def enumerate_optimum(rows: list[list[int]], demand: list[int], seats: list[int]) -> int:
    """Cheapest plan fitting the seats, by trying every assignment."""
    t, d, cap = np.asarray(rows), np.asarray(demand), np.asarray(seats)
    n, m = t.shape
    best = None
    for a in itertools.product(range(m), repeat=n):
        x = np.asarray(a)
        if (np.bincount(x, weights=d, minlength=m) <= cap).all():
            cost = int((t[np.arange(n), x] * d).sum())
            best = cost if best is None else min(best, cost)
    assert best is not None
    return best


def test_anytime_closes_the_gap_the_fast_path_leaves() -> None:
    optimum = enumerate_optimum(TOY_TIME, TOY_DEMAND, TOY_SEATS)
    assert optimum == 5400
    first = from_arrays(matrix(TOY_TIME), TOY_DEMAND, TOY_SEATS, reach=NO_CAP, options=ZoneOptions(anytime=False))
    assert first.objective_s == 5500 and first.status == "FEASIBLE"
    plan = from_arrays(matrix(TOY_TIME), TOY_DEMAND, TOY_SEATS, reach=NO_CAP)
    assert plan.objective_s == optimum and plan.bound_s == optimum and plan.status == "OPTIMAL"
    assert plan.details["first_plan_objective_s"] == 5500


def _random_instance(seed: int, n: int = 60, m: int = 6, slack: float = 1.02) -> tuple[TravelMatrix, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    bxy, sxy = rng.uniform(0, 3000, (n, 2)), rng.uniform(0, 3000, (m, 2))
    t = np.rint(np.linalg.norm(bxy[:, None] - sxy[None], axis=2)).astype(int) + 1
    demand = rng.integers(1, 30, n)
    seats = np.full(m, int(np.ceil(demand.sum() * slack / m)))
    return matrix(t.tolist()), demand, seats


def _highs(tm: TravelMatrix, demand: np.ndarray, seats: np.ndarray) -> float:
    """The optimum by HiGHS (an independent MIP solver)."""
    n, m = tm.shape
    k = len(tm.origin)
    a_eq = sp.csr_array((np.ones(k), (tm.origin, np.arange(k))), shape=(n, k))
    a_cap = sp.csr_array((demand[tm.origin].astype(float), (tm.dest, np.arange(k))), shape=(m, k))
    res = milp(
        c=demand[tm.origin] * tm.time_s.astype(float),
        integrality=np.ones(k),
        bounds=Bounds(0, 1),
        constraints=[LinearConstraint(a_eq, 1, 1), LinearConstraint(a_cap, -np.inf, seats.astype(float))],
        options={"mip_rel_gap": 0.0},
    )
    assert res.status == 0
    return float(res.fun)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_bound_never_above_the_optimum(seed: int) -> None:
    tm, demand, seats = _random_instance(seed)
    optimum = _highs(tm, demand, seats)
    plan = from_arrays(tm, demand, seats, reach=NO_CAP, limits=SolveLimits(time_limit_s=5, seed=0))
    assert plan.bound_s <= optimum + 1e-6
    assert plan.objective_s >= optimum - 1e-6
    assert plan.gap <= 0.0005 or plan.details["windows"] > 0


def test_same_inputs_and_seed_give_the_same_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    from planning.zones import options as options_module

    # one work unit against 30 wall seconds: the deterministic budget stops it even on a loaded machine
    monkeypatch.setattr(options_module, "WORK_PER_SECOND", 1 / 30)
    tm, demand, seats = _random_instance(7, n=200, m=10, slack=1.01)
    limits = SolveLimits(time_limit_s=30, seed=3)
    a = from_arrays(tm, demand, seats, reach=NO_CAP, limits=limits)
    b = from_arrays(tm, demand, seats, reach=NO_CAP, limits=limits)
    assert a.block_school.tolist() == b.block_school.tolist()
    assert (a.objective_s, a.bound_s) == (b.objective_s, b.bound_s)
    assert a.wall_stops == 0  # the deterministic budget, not the clock, stopped it
    assert "wall_cap" not in a.details  # so metrics.json is the same on any machine


def test_a_longer_limit_is_never_worse() -> None:
    tm, demand, seats = _random_instance(11, n=300, m=12, slack=1.01)
    short = from_arrays(tm, demand, seats, reach=NO_CAP, limits=SolveLimits(time_limit_s=0.5, seed=0))
    long = from_arrays(tm, demand, seats, reach=NO_CAP, limits=SolveLimits(time_limit_s=3, seed=0))
    assert long.objective_s <= short.objective_s
    assert long.gap <= short.gap


def test_the_time_limit_is_a_wall_clock_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from planning.zones import options as options_module
    from planning.zones import plan as plan_module

    # a deterministic budget far beyond what the wall clock allows: the wall clock must stop it
    monkeypatch.setattr(options_module, "WORK_PER_SECOND", 1000.0)
    tm, demand, seats = _random_instance(5, n=1500, m=40, slack=1.01)
    t0 = time.perf_counter()
    plan = from_arrays(tm, demand, seats, reach=NO_CAP, limits=SolveLimits(time_limit_s=3, seed=0))
    elapsed = time.perf_counter() - t0
    assert elapsed <= 3 + plan_module.WALL_MARGIN_S
    assert plan.wall_stops >= 1 or plan.gap <= 0.0005
    # metrics.json (the plan's details) says when the clock stopped it: the plan may differ run to run
    assert ("wall_cap" in plan.details) == (plan.wall_stops > 0)


def _chain(n: int) -> sp.csr_array:
    i = np.arange(n - 1)
    a = sp.coo_array((np.ones(n - 1), (i, i + 1)), shape=(n, n))
    return sp.csr_array(a + a.T)


def test_a_piece_no_bordering_school_can_take_says_so() -> None:
    from planning.zones import BlockGraph

    # b0 (A's own) - b1 - b2 (B's own) - b3: b3 borders only B's zone, but B is 50 minutes away,
    # beyond the 30-minute limit, so b3 must go to A, apart from A's zone: no whole plan exists
    tm = matrix([[60, 900], [300, 300], [900, 60], [900, 3000]])
    graph = BlockGraph(_chain(4), np.array([0, 2]))
    plan = from_arrays(tm, [5, 5, 5, 5], [20, 20], reach=Reach(max_travel_s=1800), graph=graph)
    assert plan.contiguous is False
    assert plan.enclaves == (("s0", ("b3",)),)
    (why,) = plan.enclave_reasons
    assert "s1" in why and "beyond its travel limit" in why and "no plan of whole zones exists" in why


def test_a_piece_that_could_join_a_full_zone_names_the_seats() -> None:
    from planning.zones.contiguity import why_detached
    from planning.zones.instance import prepare

    tm = matrix([[60, 900], [300, 300], [900, 60], [900, 100]])
    p = prepare(tm, [5, 5, 5, 5], [20, 10], reach=NO_CAP, current=None, stability_weight_s=0)
    from planning.zones import BlockGraph

    graph = BlockGraph(_chain(4), np.array([0, 2]))
    why = why_detached(p, np.array([0, 1, 1, 0]), 0, np.array([3]), graph)
    assert "5 students do not fit" in why and "at most 0" in why


def test_a_cap_the_own_blocks_break_is_infeasible_not_a_solver_failure() -> None:
    from geo.errors import InfeasibleError
    from planning.zones import BlockGraph

    # b0 is school s0's own block but goes to s1 today: whole zones put its 10 students at s0,
    # more than max_moved = 5. That is infeasible (exit 3), not a solver failure (exit 4).
    tm = matrix([[10, 20], [30, 10], [20, 20]])
    graph = BlockGraph(_chain(3), np.array([0, 1]))
    with pytest.raises(InfeasibleError, match="own block belongs to its zone, which moves 10 students") as err:
        from_arrays(
            tm, [10, 4, 3], [20, 20], reach=NO_CAP, current=np.array([1, 1, 1]), graph=graph,
            options=ZoneOptions(max_moved=5),
        )
    assert "b0 (school s0)" in str(err.value)


def test_a_chain_window_follows_the_seat_prices_down_to_free_seats() -> None:
    from planning.zones.anytime import _chain_window

    # schools 0-1-2-3 in a line, 0 also competes with 4 (more blocks shared with 4 than with 1)
    edges = [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (0, 4, 5.0)]
    rows = [a for a, _, _ in edges] + [b for _, b, _ in edges]
    cols = [b for _, b, _ in edges] + [a for a, _, _ in edges]
    comp = sp.csr_array((np.r_[[w for *_, w in edges] * 2], (rows, cols)), shape=(5, 5))
    prices = np.array([90.0, 40.0, 20.0, 0.0, 60.0])  # 3 has free seats
    assert _chain_window(comp, prices, 0, 4).tolist() == [0, 1, 2, 3]  # not 4, the most competing
    assert _chain_window(comp, prices, 0, 9).tolist() == [0, 1, 2, 3]  # nothing competes with 3 beyond: the chain ends


def test_a_plan_above_hard_seats_is_not_reported_optimal() -> None:
    # two blocks of 10 near s0 (15 seats), s1 (5 seats) far: divisible blocks fit (bound 650), whole
    # ones do not. The best whole plan puts both at s0, 5 above its seats, travel 200: below the
    # bound of plans that fit, so it must be scored with its overflow, not called optimal at gap 0.
    plan = from_arrays(matrix([[10, 100], [10, 100]]), [10, 10], [15, 5], reach=NO_CAP, limits=SolveLimits(time_limit_s=2))
    assert "capacity_fallback" in plan.details and plan.overflow["over_by"].sum() == 5
    assert plan.travel_total_s == 200
    assert plan.objective_s == 200 + 5 * ZoneOptions().overflow_penalty
    assert plan.bound_s <= plan.objective_s and plan.status == "FEASIBLE" and plan.gap > 0.5


def test_a_regret_window_starts_where_the_worst_placed_block_belongs() -> None:
    from planning.zones.anytime import _worst_block_target
    from planning.zones.instance import prepare

    # blocks 0-2 at school 0; at the seat prices (school 0 dear, 1 and 2 cheap) block 2 is the worst placed
    # (reduced cost 8 x (50 + 100 - 40) = 880 against block 1's 4 x (10 + 100 - 60) = 200) and is cheapest at 2
    rows = [[10, 80, 90], [10, 60, 95], [50, 300, 40], [70, 5, 60]]
    p = prepare(matrix(rows), [5, 4, 8, 3], [17, 10, 10], reach=NO_CAP, current=None, stability_weight_s=0)
    school = np.array([0, 0, 0, 1])
    prices = np.array([100.0, 0.0, 0.0])
    assert _worst_block_target(p, school, prices, 0) == 2
    assert _worst_block_target(p, school, prices, 1) == -1  # block 3 is at its cheapest school: no regret
    assert _worst_block_target(p, school, prices, 2) == -1  # an empty zone


def test_a_proof_stopped_before_it_found_a_plan_still_raises_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from ortools.sat.python import cp_model

    from planning.zones import anytime
    from planning.zones.instance import prepare
    from planning.zones.repair import Repair, WorkBudget

    class Stopped(cp_model.CpSolver):  # type: ignore[misc]
        """CP-SAT as if stopped before its first plan: the real search's bound, status UNKNOWN."""

        def solve(self, *args: object, **kwargs: object) -> cp_model.CpSolverStatus:
            super().solve(*args, **kwargs)
            return cp_model.UNKNOWN

    monkeypatch.setattr(anytime.cp_model, "CpSolver", Stopped)
    p = prepare(matrix(TOY_TIME), TOY_DEMAND, TOY_SEATS, reach=NO_CAP, current=None, stability_weight_s=0)
    first = np.array([1, 2, 0, 1, 0, 2, 2])  # fits the seats (loads 8, 13, 13), costs 5,930
    r = Repair(p, None, {}, None, None, 0, WorkBudget(10.0))
    st = anytime._State(first.copy(), anytime.plan_cost(p, first, None), 0.0)
    status, _ = anytime._prove(r, st, np.zeros(3), 0, None)
    assert status == "UNKNOWN"
    assert st.bound == 5400 and st.source == "cp-sat"  # the optimum (enumerated above), proven by the search
    assert (st.school == first).all()  # no plan is read from a search that reports none
