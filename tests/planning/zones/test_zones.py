"""Single-school zones: toy instances whose optimum is worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from geo.errors import InfeasibleError
from geo.travel import TravelMatrix
from planning.zones import BlockGraph, Reach, SolveLimits, ZoneOptions, from_arrays, nearest_from_arrays


def matrix(times: list[list[float]], blocks: list[str] | None = None, schools: list[str] | None = None) -> TravelMatrix:
    """Travel matrix from a dense table of seconds (nan = unreachable); metres = seconds."""
    t = np.asarray(times, dtype=float)
    o, d = np.nonzero(~np.isnan(t))
    return TravelMatrix(
        origin_ids=np.array(blocks or [f"b{i}" for i in range(t.shape[0])]),
        dest_ids=np.array(schools or ["A", "B", "C"][: t.shape[1]]),
        origin=o.astype(np.int32),
        dest=d.astype(np.int32),
        time_s=t[o, d].astype(np.int32),
        dist_m=t[o, d].astype(np.int32),
        mode="test",
    )


# b1 and b3 keep A; moving b2 to B costs least (regret 100 s per student vs 250 and 400):
# optimum = 10·100 + 10·300 + 10·150 = 5500; the nearest plan puts 30 students into A's 20 seats.
TOY = matrix([[100, 500], [200, 300], [150, 400]], blocks=["b1", "b2", "b3"])
#: Every pair counts, however far.
NO_CAP = Reach(max_travel_s=None)


def test_optimal_toy_matches_hand_optimum() -> None:
    plan = from_arrays(TOY, [10, 10, 10], [20, 20], reach=NO_CAP)
    assert plan.objective_s == 5500
    assert plan.bound_s == 5500
    assert plan.gap == 0 and plan.status == "OPTIMAL"
    assert plan.assignment["school_id"].tolist() == ["A", "B", "A"]
    assert plan.assignment["travel_s"].tolist() == [100, 300, 150]
    assert plan.school_load["students"].tolist() == [20, 10]
    assert plan.overflow.empty


def test_nearest_baseline_reports_its_overflow() -> None:
    plan = nearest_from_arrays(TOY, [10, 10, 10], [20, 20], reach=NO_CAP)
    assert plan.assignment["school_id"].tolist() == ["A", "A", "A"]
    assert plan.travel_total_s == 4500
    assert plan.overflow.to_dict("records") == [
        {"school_id": "A", "capacity_seats": 20, "students": 30, "over_by": 10}
    ]


def test_split_block_repaired_with_honest_gap() -> None:
    # Relaxation: b0 → A (6), b1 split 3/3 → 3·10 + 3·20 = 90. Integer optimum: b1 → B, 6·20 = 120.
    tm = matrix([[0, 100], [10, 20]])
    plan = from_arrays(tm, [6, 6], [9, 9], reach=NO_CAP, options=ZoneOptions(anytime=False))
    assert plan.bound_s == 90
    assert plan.objective_s == 120
    assert plan.gap == pytest.approx(30 / 120)
    assert plan.assignment["school_id"].tolist() == ["A", "B"]
    assert plan.details["split_blocks"] == 1
    # the anytime phase proves the integer optimum: the knapsack bound beats the relaxation's
    # (A's 9 seats take one block of 6, not 6 + 3), before CP-SAT's proof is needed
    proven = from_arrays(tm, [6, 6], [9, 9], reach=NO_CAP)
    assert (proven.objective_s, proven.bound_s, proven.gap, proven.status) == (120, 120, 0.0, "OPTIMAL")
    assert proven.details["bound_source"] == "knapsack"


def test_short_capacity_plans_with_overflow_and_says_why() -> None:
    # 30 students, 20 seats: capacity is hard, so the solve falls back to the least overflow (10 students)
    plan = from_arrays(TOY, [10, 10, 10], [10, 10], reach=NO_CAP)
    assert plan.overflow["over_by"].sum() == 10
    assert "too few seats" in str(plan.details["capacity_fallback"])
    assert "at least 10 find no seat within reach, at 1 school (20 seats in all)" in str(plan.details["capacity_fallback"])
    assert (plan.assignment["school_id"] != "").all()


def test_seats_beyond_reach_are_not_called_short_in_all() -> None:
    # 30 seats for 20 students, but the 20 seats at C (in empty b2) are beyond everyone's reach (nan): 10 students stay above A and B
    tm = matrix([[100, 200, np.nan], [150, 100, np.nan]], schools=["A", "B", "C"])
    tm = TravelMatrix(origin_ids=np.array(["b0", "b1", "b2"]), dest_ids=tm.dest_ids, origin=np.append(tm.origin, 2),
                      dest=np.append(tm.dest, 2), time_s=np.append(tm.time_s, 50), dist_m=np.append(tm.dist_m, 50), mode="test")
    plan = from_arrays(tm, [10, 10, 0], [5, 5, 20], reach=NO_CAP)
    why = str(plan.details["capacity_fallback"])
    assert "the schools 20 students can reach have too few seats for them: at least 10 find no seat within reach" in why
    assert "(30 seats in all: the others are beyond their reach)" in why


def test_overflow_allowed_reports_overfilled_school() -> None:
    plan = from_arrays(
        TOY, [10, 10, 10], [10, 10], reach=NO_CAP, options=ZoneOptions(allow_overflow=True, overflow_penalty=1000)
    )
    # 10 students must overflow somewhere: cheapest is b2 at B (300) with A and B full otherwise.
    assert plan.overflow["over_by"].sum() == 10
    assert plan.objective_s == plan.travel_total_s + 10 * 1000


def test_indivisible_blocks_that_cannot_fit_overflow_by_the_least() -> None:
    tm = matrix([[10, 20], [10, 20]])
    plan = from_arrays(tm, [6, 6], [7, 7 - 2], reach=NO_CAP)
    # 12 students fill 12 seats only if a block splits: the best whole-block plan overfills B by 1
    assert plan.overflow[["school_id", "over_by"]].values.tolist() == [["B", 1]]
    assert "indivisible" in str(plan.details["capacity_fallback"])


def test_unreachable_block_is_unserved_with_reason() -> None:
    tm = matrix([[100, np.nan], [np.nan, 5000]])
    plan = from_arrays(tm, [5, 5], [10, 10], reach=Reach(max_travel_s=1800))
    row = plan.assignment.set_index("block_id").loc["b1"]
    assert row["school_id"] == ""
    assert "needs boarding or a school bus" in row["reason"]
    assert pd.isna(row["travel_s"])
    assert plan.unserved["block_id"].tolist() == ["b1"]


def test_township_restriction_is_honoured() -> None:
    tm = matrix([[10, 20], [10, 20]])
    townships = np.array(["east", "west"], dtype=object)
    plan = from_arrays(
        tm, [5, 5], [10, 10], reach=Reach(max_travel_s=None, block_township=townships, school_township=townships)
    )
    assert plan.assignment["school_id"].tolist() == ["A", "B"]


def test_stability_cap_honoured() -> None:
    # Both blocks are at B today; A is closer. Unconstrained: both move (10 students).
    # With max_moved = 5 the best single move is b1 (saves 50 s per student vs 40): 5·50 + 5·10 = 300.
    tm = matrix([[10, 50], [10, 60]])
    current = np.array([1, 1])
    free = from_arrays(tm, [5, 5], [10, 10], reach=NO_CAP, current=current, options=ZoneOptions(stability_weight=0))
    assert free.moved_students == 10 and free.objective_s == 100
    capped = from_arrays(
        tm, [5, 5], [10, 10], reach=NO_CAP, current=current, options=ZoneOptions(max_moved=5, stability_weight=0)
    )
    assert capped.moved_students == 5
    assert capped.objective_s == 300
    assert capped.assignment["school_id"].tolist() == ["B", "A"]
    assert capped.bound_s <= 300
    with pytest.raises(InfeasibleError, match="must change school"):
        from_arrays(tm, [5, 5], [10, 0], reach=NO_CAP, current=np.array([0, 1]), options=ZoneOptions(max_moved=0))


def test_stability_weight_keeps_current_school() -> None:
    tm = matrix([[10, 50], [10, 60]])
    plan = from_arrays(
        tm, [5, 5], [10, 10], reach=NO_CAP, current=np.array([1, 1]), options=ZoneOptions(stability_weight=45)
    )
    # moving b0 saves 40 < 45, moving b1 saves 50 > 45
    assert plan.assignment["school_id"].tolist() == ["B", "A"]
    assert plan.objective_s == 5 * 50 + 5 * (10 + 45)
    assert plan.travel_total_s == 300


def chain(n: int) -> sp.csr_array:
    a = np.arange(n - 1)
    m = sp.coo_array((np.ones(2 * (n - 1), bool), (np.r_[a, a + 1], np.r_[a + 1, a])), shape=(n, n))
    return m.tocsr()


def test_contiguity_removes_the_tempting_enclave() -> None:
    # b0 - b1 - b2 - b3 in a row; A stands in b0, B in b3. Travel alone would give
    # A = {b0, b2} and B = {b1, b3} (cost 2000), two broken zones. The best connected
    # plan is A = {b0, b1}, B = {b2, b3}: 10·200 + 10·200 = 4000.
    tm = matrix([[0, 300], [200, 100], [100, 200], [300, 0]])
    loose = from_arrays(tm, [10] * 4, [20, 20], reach=NO_CAP)
    assert loose.assignment["school_id"].tolist() == ["A", "B", "A", "B"]
    plan = from_arrays(tm, [10] * 4, [20, 20], reach=NO_CAP, graph=BlockGraph(chain(4), np.array([0, 3])))
    assert plan.assignment["school_id"].tolist() == ["A", "A", "B", "B"]
    assert plan.objective_s == 4000
    assert plan.contiguous is True and plan.enclaves == ()
    assert plan.bound_s == 2000


def test_deterministic() -> None:
    rng = np.random.default_rng(3)
    times = rng.integers(60, 1800, size=(40, 3)).astype(float)
    tm = matrix(times.tolist())
    demand = rng.integers(1, 30, 40)
    cap = [int(demand.sum() * 0.4)] * 3
    a = from_arrays(tm, demand, cap, reach=NO_CAP, limits=SolveLimits(seed=7))
    b = from_arrays(tm, demand, cap, reach=NO_CAP, limits=SolveLimits(seed=7))
    pd.testing.assert_frame_equal(a.assignment, b.assignment)
    assert a.objective_s == b.objective_s
    assert a.objective_s >= a.bound_s
    assert (a.school_load["students"] <= a.school_load["capacity_seats"]).all()


def _mend(
    tm: TravelMatrix, demand: list[int], seats: list[int], plan: list[int], adj: sp.csr_array, roots: list[int]
) -> tuple[list[int], dict[str, float | int | str]]:
    """The contiguity pass alone on a given plan (the path taken when the rounding had to scatter zones)."""
    from planning.zones.contiguity import make_contiguous
    from planning.zones.instance import prepare
    from planning.zones.repair import Repair, WorkBudget

    p = prepare(tm, demand, seats, reach=NO_CAP, current=None, stability_weight_s=0)
    graph = BlockGraph(adj, np.asarray(roots, np.int64))
    details: dict[str, float | int | str] = {}
    repair = Repair(p, np.zeros(len(p.origin), np.int64), dict(enumerate(roots)), None, None, 0, WorkBudget(10.0))
    school, _, left = make_contiguous(repair, np.asarray(plan, np.int64), graph, [], details)
    assert left == []
    return school.tolist(), details


def test_thin_zones_are_handed_over_whole_before_the_rounding() -> None:
    # The tempting-enclave row with 30 seats a school: the relaxation's A = {b0, b2},
    # B = {b1, b3} fits but is broken; each piece joins the zone it borders before
    # the rounding, so the contiguity pass has nothing left to do.
    tm = matrix([[0, 300], [200, 100], [100, 200], [300, 0]])
    graph = BlockGraph(chain(4), np.array([0, 3]))
    plan = from_arrays(tm, [10] * 4, [30, 30], reach=NO_CAP, graph=graph, options=ZoneOptions(anytime=False))
    assert plan.block_school.tolist() == [0, 0, 1, 1]
    assert plan.contiguous is True and plan.details["contiguity_rounds"] == 0
    assert plan.objective_s == 4000 and plan.bound_s == 2000
    # the anytime phase finds a whole-zone optimum by hand: A = {b0, b1, b2} (30 seats), B = {b3},
    # or its mirror A = {b0}, B = {b1, b2, b3}, the same 3000
    best = from_arrays(tm, [10] * 4, [30, 30], reach=NO_CAP, graph=graph)
    assert best.block_school.tolist() in ([0, 0, 0, 1], [0, 1, 1, 1])
    assert best.contiguous is True and best.objective_s == 3000 and best.bound_s == 2000


def test_contiguity_pass_attaches_pieces_greedily(monkeypatch: pytest.MonkeyPatch) -> None:
    from planning.zones import contiguity

    monkeypatch.setattr(contiguity, "GREEDY_ATTACH_ABOVE", 0)
    # Given A = {b0, b2}, B = {b1, b3}: greedy hands b1 to A and b2 to B, whole and within 30 seats.
    tm = matrix([[0, 300], [200, 100], [100, 200], [300, 0]])
    school, details = _mend(tm, [10] * 4, [30, 30], [0, 1, 0, 1], chain(4), [0, 3])
    assert school == [0, 0, 1, 1]
    assert details["greedy_attached"] == 2


def test_zone_cut_by_an_unserved_block_is_whole() -> None:
    # b0 - b1 - b2 in a row, A stands in b0. b1 is beyond every school's reach
    # (unserved) and b2 can only reach A: A = {b0, b2} with the unserved b1 between
    # is one zone with a gap no school serves, not a detached piece.
    nan = float("nan")
    tm = matrix([[0], [nan], [900]])
    plan = from_arrays(tm, [10, 10, 10], [40], reach=NO_CAP, graph=BlockGraph(chain(3), np.array([0])))
    assert plan.assignment["school_id"].tolist() == ["A", "", "A"]
    assert plan.contiguous is True and plan.enclaves == ()
    assert plan.block_school.tolist() == [0, -1, 0]
    assert plan.details["contiguity_rounds"] == 0


def test_zero_student_block_takes_the_zone_that_keeps_it_whole() -> None:
    # b0 - b1 - b2 - b3 - b4 in a row; A in b0, B in b4. b2 has no students and is
    # nearest to B, but b3 is A's (150 < 200): left with B, b2 would be a piece of B
    # cut off by b3 and split A in two. It carries A across at no cost, so the plan
    # is whole and as cheap as the bound.
    tm = matrix([[0, 400], [100, 300], [200, 100], [150, 200], [400, 0]])
    loose = from_arrays(tm, [10, 10, 0, 10, 10], [50, 50], reach=NO_CAP)
    assert loose.block_school.tolist() == [0, 0, 1, 0, 1]
    plan = from_arrays(tm, [10, 10, 0, 10, 10], [50, 50], reach=NO_CAP, graph=BlockGraph(chain(5), np.array([0, 4])))
    assert plan.block_school.tolist() == [0, 0, 0, 0, 1]
    assert plan.contiguous is True
    assert plan.objective_s == plan.bound_s == loose.objective_s == 10 * (0 + 100 + 150 + 0)


def test_full_zone_makes_room_for_a_detached_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    from planning.zones import contiguity

    monkeypatch.setattr(contiguity, "GREEDY_ATTACH_ABOVE", 0)  # take the chain-of-moves path
    # Edges 0-1, 1-2, 2-3, 3-4, 2-4, 4-5; A in b0, B in b5; 10 students a block, 30 seats
    # a school. Travel alone: A = {b0, b1, b3}, B = {b2, b4, b5} (600), but b3 touches
    # only B. B is full, so it hands b2 to A and takes b3: A = {b0, b1, b2} (800).
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (2, 4), (4, 5)]
    a = np.array(edges).T
    adj = sp.coo_array((np.ones(12, bool), (np.r_[a[0], a[1]], np.r_[a[1], a[0]])), shape=(6, 6)).tocsr()
    tm = matrix([[0, 50], [10, 40], [30, 20], [20, 30], [40, 10], [50, 0]])
    loose = from_arrays(tm, [10] * 6, [30, 30], reach=NO_CAP)
    assert loose.block_school.tolist() == [0, 0, 1, 0, 1, 1]
    # the rounding: b3 joins B before it, then B's excess goes to A by a move keeping both whole
    plan = from_arrays(tm, [10] * 6, [30, 30], reach=NO_CAP, graph=BlockGraph(adj, np.array([0, 5])))
    assert plan.block_school.tolist() == [0, 0, 0, 1, 1, 1]
    assert plan.contiguous is True and plan.details["contiguity_rounds"] == 0
    assert plan.objective_s == 800 and plan.bound_s == 600
    assert (plan.school_load["students"] <= 30).all()
    # the contiguity pass alone, from the relaxation's broken plan: the same, by one swap
    school, details = _mend(tm, [10] * 6, [30, 30], [0, 0, 1, 0, 1, 1], adj, [0, 5])
    assert school == [0, 0, 0, 1, 1, 1]
    assert details["swapped_pieces"] == 1


def test_seats_come_first_when_no_move_keeps_zones_whole() -> None:
    # Edges 0–1, 1–2, 1–3; A in b0, B in b3 (no students); 10 students in b0–b2, seats 20
    # and 40. The relaxation: A = {b0, b1}, B = {b2, b3} (400), B broken; b2 joins A before
    # the rounding, and A is over. Only b1 borders B, and it alone joins b2 to A: no move
    # keeps both zones whole. The chains then move any block to fit the seats (b2, the
    # cheapest) and the contiguity pass mends the zones: A = {b0}, B = {b1, b2, b3} (550).
    edges = np.array([(0, 1), (1, 2), (1, 3)]).T
    adj = sp.csr_array((np.ones(6, bool), (np.r_[edges[0], edges[1]], np.r_[edges[1], edges[0]])), shape=(4, 4))
    tm = matrix([[0, 90], [10, 25], [20, 30], [90, 0]])
    plan = from_arrays(tm, [10, 10, 10, 0], [20, 40], reach=NO_CAP, graph=BlockGraph(adj, np.array([0, 3])))
    assert plan.block_school.tolist() == [0, 1, 1, 1]
    # mended by a hand-over polished by a window (chain and polish) or by a window around the piece
    mended = int(plan.details["contiguity_rounds"]) + int(plan.details.get("polished_pieces", 0))
    assert plan.contiguous is True and mended >= 1
    assert "restarted_after_chain_rounds" in plan.details  # from the relaxation's partition
    assert plan.objective_s == 550 and plan.bound_s == 400


def test_stability_cap_holds_when_contiguity_would_move_students() -> None:
    # The tempting enclave again, with today's broken zones as the current plan and no
    # student allowed to move: making the zones whole would move 20, so the rounding starts
    # again from the relaxation's partition, the cap wins and the plan reports the pieces.
    tm = matrix([[0, 300], [200, 100], [100, 200], [300, 0]])
    current = np.array([0, 1, 0, 1])
    plan = from_arrays(
        tm, [10] * 4, [30, 30], reach=NO_CAP, current=current, graph=BlockGraph(chain(4), np.array([0, 3])),
        options=ZoneOptions(max_moved=0), limits=SolveLimits(time_limit_s=5),
    )
    assert plan.moved_students == 0
    assert plan.block_school.tolist() == [0, 1, 0, 1]
    assert "restarted_after_chain_rounds" in plan.details
    assert plan.contiguous is False and len(plan.enclaves) == 2


def test_overflow_gives_whole_blocks_room_where_the_relaxation_overflows() -> None:
    # Seats 12 + 6 for 4 blocks of 5 students, overflow allowed. The relaxation overflows A
    # by 2 and splits a2 (4 at A, 1 at B), filling every seat it opens. Rounded, a2 has
    # nowhere to go without overflow: it stays at A (3 over, 3·7200 + 20 = 21,620, the
    # hand optimum; a2 at B would put B 4 over) instead of chains passing blocks round.
    tm = matrix([[1, 50], [1, 50], [1, 50], [50, 1]])
    opts = ZoneOptions(allow_overflow=True, anytime=False)
    plan = from_arrays(tm, [5, 5, 5, 5], [12, 6], reach=NO_CAP, options=opts)
    assert plan.block_school.tolist() == [0, 0, 0, 1]
    assert plan.objective_s == 3 * 7200 + 20 and plan.bound_s == 2 * 7200 + 19 + 50
    # the anytime phase proves it optimal
    proven = from_arrays(tm, [5, 5, 5, 5], [12, 6], reach=NO_CAP, options=ZoneOptions(allow_overflow=True))
    assert proven.objective_s == proven.bound_s == 3 * 7200 + 20
    assert plan.details["overflow_shifts"] == 0  # the penalized rounding (planning.zones.fallback) left it there
    assert plan.overflow["over_by"].tolist() == [3]
